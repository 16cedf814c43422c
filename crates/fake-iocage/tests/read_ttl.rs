//! Reads that do not wait (issue 19 item 2), through the real sysadmd on the
//! CLI backend over the fake iocage, runs counted in the fake's argv log:
//! with `[limits] iocage_read_ttl_ms`, a repeated read runs no iocage and
//! says how old its answer is (REST `Age` and `Sysadmd-Age-Ms`, WebSocket
//! `age_ms`); a change sysadmd made is seen at once, one made by running
//! iocage directly once the window has passed; with `iocage_read_stale_ms`,
//! a read past the window is answered at once while one refresh runs (held
//! with `FAKE_IOCAGE_GATE`).

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::sysadmd::{LoggedHost, Socket, call, logged_in, rest};

/// A fake host whose runs are logged; with `gated`, every `list` prints
/// its first line and then waits while the file `gate` (in the host's
/// directory) does not exist. The gate starts open.
fn host(flavour: &'static str, gated: bool) -> LoggedHost {
    let host = LoggedHost::with_env(flavour, |dir| {
        if gated {
            format!(
                "FAKE_IOCAGE_GATE='{}' FAKE_IOCAGE_GATE_ON=list ",
                dir.join("gate").display()
            )
        } else {
            String::new()
        }
    });
    open_gate(&host);
    host
}

fn open_gate(host: &LoggedHost) {
    std::fs::write(host.dir.path().join("gate"), "").unwrap();
}

fn close_gate(host: &LoggedHost) {
    std::fs::remove_file(host.dir.path().join("gate")).unwrap();
}

/// How many `iocage list` runs (of any kind) so far.
fn list_runs(host: &LoggedHost) -> usize {
    host.runs()
        .iter()
        .filter(|run| run.split_whitespace().next() == Some("list"))
        .count()
}

/// A jail created by running iocage by hand, behind sysadmd's back.
fn create_by_hand(host: &LoggedHost, tag: &str) {
    let tag_prop = format!("tag={tag}");
    host.by_hand(
        &["create", &tag_prop, "release=10.2-RELEASE"],
        &["create", "-r", "10.2-RELEASE", "-n", tag],
    );
}

/// sysadmd over `host`, with these read windows.
async fn serve(
    host: &LoggedHost,
    state: &Path,
    ttl: Duration,
    stale: Duration,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    support::sysadmd::serve(host, state, |config| {
        config.limits.iocage_read_ttl_ms = ttl.as_millis() as u64;
        config.limits.iocage_read_stale_ms = stale.as_millis() as u64;
    })
    .await
}

/// A `listjails` over WebSocket: the whole reply envelope.
async fn listjails(socket: &mut Socket) -> Value {
    let reply = call(
        socket,
        "r",
        "sysadm",
        "iocage",
        json!({"action": "listjails"}),
    )
    .await;
    assert_eq!(reply["name"], "response", "{reply}");
    reply
}

fn tags(reply: &Value) -> Vec<String> {
    let mut tags: Vec<String> = reply["args"]["listjails"]
        .as_object()
        .unwrap_or_else(|| panic!("no listing: {reply}"))
        .values()
        .map(|jail| jail["tag"].as_str().unwrap().to_owned())
        .collect();
    tags.sort();
    tags
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(known, _)| known == name)
        .map(|(_, value)| value.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_read_runs_no_iocage_and_says_its_age_on_both_transports() {
    const TTL: Duration = Duration::from_millis(1500);
    for flavour in ["legacy", "python"] {
        let host = host(flavour, false);
        let state = tempfile::tempdir().unwrap();
        let (addr, stop) = serve(&host, state.path(), TTL, Duration::ZERO).await;
        let mut socket = logged_in(addr).await;

        // Read for this request: no age. Then kept: no run, and its age.
        let before = list_runs(&host);
        let first = listjails(&mut socket).await;
        assert!(first.get("age_ms").is_none(), "{flavour}: {first}");
        let second = listjails(&mut socket).await;
        assert_eq!(
            list_runs(&host),
            before + 1,
            "{flavour}: one run for two reads"
        );
        assert!(second["age_ms"].is_u64(), "{flavour}: {second}");
        assert_eq!(second["args"], first["args"], "{flavour}");
        let (status, headers, body) = rest(addr, &json!({"action": "listjails"})).await;
        assert_eq!(status, 200, "{flavour}: {body}");
        assert_eq!(
            list_runs(&host),
            before + 1,
            "{flavour}: REST shares it too"
        );
        assert_eq!(body["args"], first["args"], "{flavour}");
        let age_ms: u64 = header(&headers, "sysadmd-age-ms")
            .unwrap_or_else(|| panic!("{flavour}: no Sysadmd-Age-Ms: {headers:?}"))
            .parse()
            .unwrap();
        let age: u64 = header(&headers, "age").expect("Age").parse().unwrap();
        assert_eq!(age, age_ms / 1000, "{flavour}: whole seconds");

        // A change sysadmd made is seen by the next read at once.
        let created = call(
            &mut socket,
            "c",
            "sysadm",
            "iocage",
            json!({"action": "createjail", "props": "tag=mine release=10.2-RELEASE"}),
        )
        .await;
        assert_eq!(created["name"], "response", "{flavour}: {created}");
        let after_change = listjails(&mut socket).await;
        assert_eq!(tags(&after_change), ["mine"], "{flavour}: {after_change}");
        assert!(
            after_change.get("age_ms").is_none(),
            "{flavour}: {after_change}"
        );
        // That fresh answer is kept in turn.
        let (_, headers, _) = rest(addr, &json!({"action": "listjails"})).await;
        assert!(header(&headers, "age").is_some(), "{flavour}: {headers:?}");

        // Made by running iocage directly: not seen within the window...
        create_by_hand(&host, "outside");
        let within = listjails(&mut socket).await;
        assert_eq!(tags(&within), ["mine"], "{flavour}: {within}");
        assert!(within["age_ms"].is_u64(), "{flavour}: {within}");
        // ...and seen once it has passed.
        tokio::time::sleep(TTL + Duration::from_millis(200)).await;
        let lists = list_runs(&host);
        let after = listjails(&mut socket).await;
        assert_eq!(tags(&after), ["mine", "outside"], "{flavour}: {after}");
        assert!(after.get("age_ms").is_none(), "{flavour}: {after}");
        assert_eq!(list_runs(&host), lists + 1, "{flavour}");
        let (_, headers, _) = rest(addr, &json!({"action": "listjails"})).await;
        assert!(header(&headers, "age").is_some(), "{flavour}: {headers:?}");
        let _ = stop.send(());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_read_ttl_every_read_runs_iocage_and_has_no_age() {
    let host = host("legacy", false);
    let state = tempfile::tempdir().unwrap();
    let (addr, stop) = serve(&host, state.path(), Duration::ZERO, Duration::ZERO).await;
    let mut socket = logged_in(addr).await;
    let before = list_runs(&host);
    for _ in 0..2 {
        let reply = listjails(&mut socket).await;
        assert!(reply.get("age_ms").is_none(), "{reply}");
        let (status, headers, _) = rest(addr, &json!({"action": "listjails"})).await;
        assert_eq!(status, 200);
        assert!(header(&headers, "age").is_none(), "{headers:?}");
        assert!(header(&headers, "sysadmd-age-ms").is_none(), "{headers:?}");
    }
    assert_eq!(list_runs(&host), before + 4);
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_ttl_a_stale_answer_is_given_at_once_while_one_refresh_runs() {
    // Longer than the refresh is held, so that its answer is fresh when seen.
    const TTL: Duration = Duration::from_secs(2);
    let host = host("legacy", true);
    let state = tempfile::tempdir().unwrap();
    let (addr, stop) = serve(&host, state.path(), TTL, Duration::from_secs(60)).await;
    let mut socket = logged_in(addr).await;
    let first = listjails(&mut socket).await;
    assert!(tags(&first).is_empty(), "{first}");
    create_by_hand(&host, "outside");
    tokio::time::sleep(TTL + Duration::from_millis(200)).await;

    // Every `list` now hangs after its first line: the stale reads answer
    // anyway, and only one refresh runs (and waits).
    close_gate(&host);
    let lists = list_runs(&host);
    for _ in 0..3 {
        let stale = listjails(&mut socket).await;
        assert!(tags(&stale).is_empty(), "the old answer: {stale}");
        let age = stale["age_ms"]
            .as_u64()
            .unwrap_or_else(|| panic!("{stale}"));
        assert!(age >= TTL.as_millis() as u64, "{stale}");
    }
    let (status, headers, body) = rest(addr, &json!({"action": "listjails"})).await;
    assert_eq!(status, 200, "{body}");
    assert!(header(&headers, "sysadmd-age-ms").is_some(), "{headers:?}");
    // The refresh's run is logged when it starts.
    for _ in 0..500 {
        if list_runs(&host) > lists {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(list_runs(&host), lists + 1, "exactly one refresh");

    // Once it finishes, its answer replaces the old one, with no new run.
    open_gate(&host);
    let mut refreshed = None;
    for _ in 0..500 {
        let reply = listjails(&mut socket).await;
        if tags(&reply) == ["outside"] {
            refreshed = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refreshed = refreshed.expect("the refreshed answer within 10 s");
    assert!(refreshed["age_ms"].is_u64(), "{refreshed}");
    assert_eq!(list_runs(&host), lists + 1, "no run beyond the refresh");
    let _ = stop.send(());
}
