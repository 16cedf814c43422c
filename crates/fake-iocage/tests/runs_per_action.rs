//! The iocage runs each action costs through sysadmd (issue 19), counted in
//! the fake's argv log, per flavour, with a cold inventory (the freshness
//! window passed) and a warm one (a `listjails` just before, a client's
//! normal flow); and that a listing older than the window is never trusted
//! for a decision: changes made by running iocage directly are seen.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::sysadmd::{LoggedHost as Host, Socket, call, iocage, logged_in};

/// The freshness window of these tests.
const WINDOW: Duration = Duration::from_millis(400);

/// sysadmd over `host`, with the freshness window [`WINDOW`].
async fn serve(host: &Host, state: &Path) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    support::sysadmd::serve(host, state, |config| {
        config.limits.iocage_inventory_ttl_ms = WINDOW.as_millis() as u64;
    })
    .await
}

/// The command words of the runs one request cost, and its reply.
async fn counted(host: &Host, socket: &mut Socket, args: Value) -> (Vec<String>, Value) {
    let before = host.runs().len();
    let reply = call(socket, "r", "sysadm", "iocage", args).await;
    let words = host.runs()[before..]
        .iter()
        .map(|run| {
            let mut words = run.split_whitespace();
            match (words.next(), words.next()) {
                (Some("list"), Some("-t")) => "list -t".to_owned(),
                (Some(word), _) => word.to_owned(),
                (None, _) => String::new(),
            }
        })
        .collect();
    (words, reply)
}

async fn cold() {
    tokio::time::sleep(WINDOW + Duration::from_millis(100)).await;
}

fn sorted(mut words: Vec<String>) -> Vec<String> {
    words.sort();
    words
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_change_costs_its_command_and_at_most_one_listing() {
    for flavour in ["legacy", "python"] {
        let host = Host::new(flavour);
        let state = tempfile::tempdir().unwrap();
        let (addr, stop) = serve(&host, state.path()).await;
        let mut socket = logged_in(addr).await;
        let ok = |reply: &Value| reply["name"] == "response";

        // createjail, cold: legacy lists jails and templates (in parallel)
        // to check the tag; Python refuses a taken name itself.
        cold().await;
        let create = json!({"action": "createjail", "props": "tag=web1 release=10.2-RELEASE"});
        let (runs, reply) = counted(&host, &mut socket, create).await;
        assert!(ok(&reply), "{flavour}: {reply}");
        let expected: &[&str] = match flavour {
            "legacy" => &["create", "list", "list -t"],
            _ => &["create"],
        };
        assert_eq!(sorted(runs), expected, "{flavour}: cold createjail");

        // startjail, cold: one `list` settles a tag, then the command.
        cold().await;
        let (runs, reply) = counted(
            &host,
            &mut socket,
            json!({"action": "startjail", "jail": "web1"}),
        )
        .await;
        assert!(ok(&reply), "{flavour}: {reply}");
        assert_eq!(sorted(runs), ["list", "start"], "{flavour}: cold startjail");

        // Warm: a listjails (one run) and then the change alone.
        for (args, command) in [
            (json!({"action": "stopjail", "jail": "web1"}), "stop"),
            (json!({"action": "startjail", "jail": "web1"}), "start"),
            (
                json!({"action": "execjail", "jail": "web1", "command": "echo hi"}),
                "exec",
            ),
            (json!({"action": "stopjail", "jail": "web1"}), "stop"),
            (
                json!({"action": "clonejail", "jail": "web1", "props": "tag=web2"}),
                "clone",
            ),
        ] {
            cold().await;
            let (runs, _) = counted(&host, &mut socket, json!({"action": "listjails"})).await;
            assert_eq!(runs, ["list"], "{flavour}: listjails");
            let (runs, reply) = counted(&host, &mut socket, args.clone()).await;
            assert!(ok(&reply), "{flavour}: {args}: {reply}");
            let expected: Vec<&str> = match (flavour, command) {
                // The tag check needs the templates too.
                ("legacy", "clone") => vec!["clone", "list -t"],
                _ => vec![command],
            };
            assert_eq!(sorted(runs), expected, "{flavour}: warm {args}");
        }

        // destroyjail, cold: the listing made for this request shows the
        // jail stopped, so no state query.
        cold().await;
        let (runs, reply) = counted(
            &host,
            &mut socket,
            json!({"action": "destroyjail", "jail": "web2"}),
        )
        .await;
        assert!(ok(&reply), "{flavour}: {reply}");
        assert_eq!(sorted(runs), ["destroy", "list"], "{flavour}: cold destroy");

        // destroyjail, warm: the listing is older than the request, and the
        // jail may have been started by hand since; legacy develop (its
        // `destroy` answered `y`) and Python 1.2 refuse a running jail
        // themselves, so `destroy` is the check.
        cold().await;
        counted(&host, &mut socket, json!({"action": "listjails"})).await;
        let (runs, reply) = counted(
            &host,
            &mut socket,
            json!({"action": "destroyjail", "jail": "web1"}),
        )
        .await;
        assert!(ok(&reply), "{flavour}: {reply}");
        assert_eq!(sorted(runs), ["destroy"], "{flavour}: warm destroy");

        // An action the installed iocage lacks (Python has no `cap`) is a 501
        // known in advance: no run, not even to resolve the jail, cold.
        if flavour == "python" {
            cold().await;
            let (runs, reply) = counted(
                &host,
                &mut socket,
                json!({"action": "capjail", "jail": "no-such-jail"}),
            )
            .await;
            assert_eq!(reply["args"]["code"], 501, "{reply}");
            assert!(runs.is_empty(), "python capjail ran {runs:?}");
        }

        let _ = stop.send(());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_by_hand_are_seen_once_the_window_has_passed() {
    for flavour in ["legacy", "python"] {
        let host = Host::new(flavour);
        let state = tempfile::tempdir().unwrap();
        let (addr, stop) = serve(&host, state.path()).await;
        let mut socket = logged_in(addr).await;
        for tag in ["web1", "web2"] {
            let props = format!("tag={tag} release=10.2-RELEASE");
            iocage(&mut socket, json!({"action": "createjail", "props": props})).await;
        }
        iocage(&mut socket, json!({"action": "listjails"})).await;

        // Made by hand within the window: looked up again before a 404.
        host.by_hand(
            &["create", "tag=byhand", "release=10.2-RELEASE"],
            &["create", "-r", "10.2-RELEASE", "-n", "byhand"],
        );
        let reply = call(
            &mut socket,
            "r",
            "sysadm",
            "iocage",
            json!({"action": "startjail", "jail": "byhand"}),
        )
        .await;
        assert_eq!(reply["name"], "response", "{flavour}: {reply}");

        // Destroyed by hand: once the window passed, a 404.
        host.by_hand(&["destroy", "-f", "web2"], &["destroy", "-f", "web2"]);
        cold().await;
        let reply = call(
            &mut socket,
            "r",
            "sysadm",
            "iocage",
            json!({"action": "startjail", "jail": "web2"}),
        )
        .await;
        assert_eq!(reply["args"]["code"], 404, "{flavour}: {reply}");

        // A tag taken by hand: 409, and nothing made or renamed.
        host.by_hand(
            &["create", "tag=dup", "release=10.2-RELEASE"],
            &["create", "-r", "10.2-RELEASE", "-n", "dup"],
        );
        cold().await;
        let reply = call(
            &mut socket,
            "r",
            "sysadm",
            "iocage",
            json!({"action": "createjail", "props": "tag=dup release=10.2-RELEASE"}),
        )
        .await;
        assert_eq!(reply["args"]["code"], 409, "{flavour}: {reply}");
        let listed = iocage(&mut socket, json!({"action": "listjails"})).await;
        let dups = listed["listjails"]
            .as_object()
            .unwrap()
            .values()
            .filter(|jail| jail["tag"] == "dup")
            .count();
        assert_eq!(dups, 1, "{flavour}: {listed}");

        // Started by hand after the last listing: refused by iocage, warm
        // or cold.
        host.by_hand(&["start", "web1"], &["start", "web1"]);
        let reply = call(
            &mut socket,
            "r",
            "sysadm",
            "iocage",
            json!({"action": "destroyjail", "jail": "web1"}),
        )
        .await;
        assert_eq!(reply["args"]["code"], 409, "{flavour}: warm: {reply}");
        cold().await;
        let reply = call(
            &mut socket,
            "r",
            "sysadm",
            "iocage",
            json!({"action": "destroyjail", "jail": "web1"}),
        )
        .await;
        assert_eq!(reply["args"]["code"], 409, "{flavour}: cold: {reply}");
        assert!(
            reply
                .to_string()
                .contains("is running; stop it before destroying it"),
            "{flavour}: {reply}"
        );
        // Neither stopped nor destroyed.
        let listed = iocage(&mut socket, json!({"action": "listjails"})).await;
        let web1: Vec<&Value> = listed["listjails"]
            .as_object()
            .unwrap()
            .values()
            .filter(|jail| jail["tag"] == "web1")
            .collect();
        assert_eq!(web1.len(), 1, "{flavour}: {listed}");
        assert_eq!(web1[0]["state"], "up", "{flavour}: {listed}");

        let _ = stop.send(());
    }
}
