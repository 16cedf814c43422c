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
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use support::FAKE;
use support::sysadmd::{Socket, call, config, logged_in, options};
use sysadmd::BackendChoice;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Host {
    dir: tempfile::TempDir,
    program: PathBuf,
    log: PathBuf,
    flavour: &'static str,
}

impl Host {
    /// A fake host of `flavour` behind a program named `iocage` that logs
    /// every run; with `gated`, every `list` prints its first line and then
    /// waits while [`Host::gate`] does not exist.
    fn new(flavour: &'static str, gated: bool) -> Host {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("iocage");
        let log = dir.path().join("argv.log");
        let gate = if gated {
            format!(
                "FAKE_IOCAGE_GATE='{}' FAKE_IOCAGE_GATE_ON=list ",
                dir.path().join("gate").display()
            )
        } else {
            String::new()
        };
        let script = format!(
            "#!/bin/sh\n{gate}FAKE_IOCAGE_STATE='{}' FAKE_IOCAGE_LOG='{}' FAKE_IOCAGE_FLAVOUR={flavour} exec '{FAKE}' \"$@\"\n",
            dir.path().join("state.json").display(),
            log.display()
        );
        std::fs::write(&program, script).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let host = Host {
            dir,
            program,
            log,
            flavour,
        };
        host.open_gate();
        host
    }

    fn gate(&self) -> PathBuf {
        self.dir.path().join("gate")
    }

    fn open_gate(&self) {
        std::fs::write(self.gate(), "").unwrap();
    }

    fn close_gate(&self) {
        std::fs::remove_file(self.gate()).unwrap();
    }

    /// How many `iocage list` runs (of any kind) so far.
    fn lists(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|run| run.split_whitespace().next() == Some("list"))
            .count()
    }

    /// A jail created by running iocage by hand, behind sysadmd's back.
    fn create_by_hand(&self, tag: &str) {
        let release = "release=10.2-RELEASE".to_owned();
        let tag_prop = format!("tag={tag}");
        let args: Vec<&str> = if self.flavour == "python" {
            vec!["create", "-r", "10.2-RELEASE", "-n", tag]
        } else {
            vec!["create", &tag_prop, &release]
        };
        let status = std::process::Command::new(&self.program)
            .args(&args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{args:?}");
    }
}

/// sysadmd over `host`, with these read windows.
async fn serve(
    host: &Host,
    state: &Path,
    ttl: Duration,
    stale: Duration,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let mut config = config(state, BackendChoice::Cli, &host.program);
    config.limits.iocage_read_ttl_ms = ttl.as_millis() as u64;
    config.limits.iocage_read_stale_ms = stale.as_millis() as u64;
    let started = sysadmd::start(&config, options()).await.expect("starts");
    let addr = started.server.local_addrs()[0];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(started.server.run(async {
        let _ = stopped.await;
    }));
    (addr, stop)
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

/// `PUT /sysadm/iocage` with Basic credentials: the status, the headers
/// (names in lower case) and the body.
async fn rest(addr: SocketAddr, body: &Value) -> (u16, Vec<(String, String)>, Value) {
    let body = body.to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "PUT /sysadm/iocage HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Basic YWRtaW46dGhyb3VnaCBzeXNhZG1k\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (
        status,
        headers,
        serde_json::from_str(body).expect("a JSON body"),
    )
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
        let host = Host::new(flavour, false);
        let state = tempfile::tempdir().unwrap();
        let (addr, stop) = serve(&host, state.path(), TTL, Duration::ZERO).await;
        let mut socket = logged_in(addr).await;

        // Read for this request: no age. Then kept: no run, and its age.
        let before = host.lists();
        let first = listjails(&mut socket).await;
        assert!(first.get("age_ms").is_none(), "{flavour}: {first}");
        let second = listjails(&mut socket).await;
        assert_eq!(host.lists(), before + 1, "{flavour}: one run for two reads");
        assert!(second["age_ms"].is_u64(), "{flavour}: {second}");
        assert_eq!(second["args"], first["args"], "{flavour}");
        let (status, headers, body) = rest(addr, &json!({"action": "listjails"})).await;
        assert_eq!(status, 200, "{flavour}: {body}");
        assert_eq!(host.lists(), before + 1, "{flavour}: REST shares it too");
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
        host.create_by_hand("outside");
        let within = listjails(&mut socket).await;
        assert_eq!(tags(&within), ["mine"], "{flavour}: {within}");
        assert!(within["age_ms"].is_u64(), "{flavour}: {within}");
        // ...and seen once it has passed.
        tokio::time::sleep(TTL + Duration::from_millis(200)).await;
        let lists = host.lists();
        let after = listjails(&mut socket).await;
        assert_eq!(tags(&after), ["mine", "outside"], "{flavour}: {after}");
        assert!(after.get("age_ms").is_none(), "{flavour}: {after}");
        assert_eq!(host.lists(), lists + 1, "{flavour}");
        let (_, headers, _) = rest(addr, &json!({"action": "listjails"})).await;
        assert!(header(&headers, "age").is_some(), "{flavour}: {headers:?}");
        let _ = stop.send(());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_read_ttl_every_read_runs_iocage_and_has_no_age() {
    let host = Host::new("legacy", false);
    let state = tempfile::tempdir().unwrap();
    let (addr, stop) = serve(&host, state.path(), Duration::ZERO, Duration::ZERO).await;
    let mut socket = logged_in(addr).await;
    let before = host.lists();
    for _ in 0..2 {
        let reply = listjails(&mut socket).await;
        assert!(reply.get("age_ms").is_none(), "{reply}");
        let (status, headers, _) = rest(addr, &json!({"action": "listjails"})).await;
        assert_eq!(status, 200);
        assert!(header(&headers, "age").is_none(), "{headers:?}");
        assert!(header(&headers, "sysadmd-age-ms").is_none(), "{headers:?}");
    }
    assert_eq!(host.lists(), before + 4);
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_ttl_a_stale_answer_is_given_at_once_while_one_refresh_runs() {
    // Longer than the refresh is held, so that its answer is fresh when seen.
    const TTL: Duration = Duration::from_secs(2);
    let host = Host::new("legacy", true);
    let state = tempfile::tempdir().unwrap();
    let (addr, stop) = serve(&host, state.path(), TTL, Duration::from_secs(60)).await;
    let mut socket = logged_in(addr).await;
    let first = listjails(&mut socket).await;
    assert!(tags(&first).is_empty(), "{first}");
    host.create_by_hand("outside");
    tokio::time::sleep(TTL + Duration::from_millis(200)).await;

    // Every `list` now hangs after its first line: the stale reads answer
    // anyway, and only one refresh runs (and waits).
    host.close_gate();
    let lists = host.lists();
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
        if host.lists() > lists {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(host.lists(), lists + 1, "exactly one refresh");

    // Once it finishes, its answer replaces the old one, with no new run.
    host.open_gate();
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
    assert_eq!(host.lists(), lists + 1, "no run beyond the refresh");
    let _ = stop.send(());
}
