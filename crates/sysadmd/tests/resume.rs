//! Resumable events (issue 20): every event has a `seq`; `events/subscribe`
//! with `since` replays the kept events then goes live with no gap and no
//! duplicate; `resync_required` when too old; `rpc/dispatcher` history; and
//! all of it across a restart and a kill -9 of the real binary.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;

use hyper::StatusCode;
use serde_json::{Value, json};
use support::daemon::{PASSWORD, spawn_on};
use support::{TestServer, WsClient, basic, iocage, rest_call};

fn resume(since: u64) -> Value {
    json!({"namespace": "events", "name": "subscribe", "id": "resume",
           "args": {"types": ["dispatcher"], "since": since}})
}

/// Sends a resuming subscription; the reply, and the events read until
/// `until` of them have arrived (whatever their order with the reply).
async fn resume_and_read(client: &mut WsClient, since: u64, until: usize) -> (Value, Vec<Value>) {
    client.send(resume(since)).await;
    let mut reply = None;
    let mut events = Vec::new();
    while reply.is_none() || events.len() < until {
        let message = client.recv().await.expect("a message");
        if message["id"] == "resume" {
            reply = Some(message);
        } else if message["namespace"] == "events" {
            events.push(message);
        }
    }
    (reply.unwrap(), events)
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .filter(|event| event["name"] == "dispatcher")
        .map(|event| event["seq"].as_u64().expect("every event has a seq"))
        .collect()
}

async fn create(server: &TestServer, tag: &str) {
    let body = json!({"action": "createjail", "props": format!("tag={tag}")});
    let (status, reply) = server
        .rest("PUT", "/sysadm/iocage", &body.to_string())
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

#[tokio::test]
async fn a_resumed_subscription_replays_then_goes_live_without_gap_or_duplicate() {
    let server = TestServer::start().await;
    for n in 0..3 {
        create(&server, &format!("before{n}")).await; // events 1..=6
    }
    // Changes keep coming while the subscriber resumes.
    let writer = {
        let addr = server.addr;
        tokio::spawn(async move {
            let auth = basic("admin", support::ADMIN_PASSWORD);
            for n in 0..10 {
                let body = json!({"action": "createjail", "props": format!("tag=during{n}")});
                let (status, _) = rest_call(
                    addr,
                    "PUT",
                    "/sysadm/iocage",
                    &body.to_string(),
                    Some(&auth),
                )
                .await;
                assert_eq!(status, StatusCode::OK);
            }
        })
    };
    let mut client = server.ws().await;
    // 6 before + 20 during, minus the 2 already seen.
    let (reply, events) = resume_and_read(&mut client, 2, 24).await;
    assert_eq!(
        reply["args"],
        json!({"subscribed": ["dispatcher"]}),
        "{reply}"
    );
    writer.await.unwrap();
    assert_eq!(seqs(&events), (3..=26).collect::<Vec<_>>());
    assert_eq!(events[0]["args"]["state"], "running");
    assert_eq!(events[1]["args"]["state"], "finished");

    // Resuming again on the same connection never repeats what it sent.
    let (_, replayed) = {
        client.send(resume(20)).await;
        create(&server, "after").await;
        let mut events = Vec::new();
        let mut reply = None;
        while reply.is_none() || events.len() < 2 {
            let message = client.recv().await.unwrap();
            if message["id"] == "resume" {
                reply = Some(message);
            } else {
                events.push(message);
            }
        }
        (reply, events)
    };
    assert_eq!(seqs(&replayed), [27, 28]);

    // The plain list form still works, and its events carry seq too.
    let mut plain = server.ws().await;
    let reply = plain
        .call(
            json!({"namespace": "events", "name": "subscribe", "id": "p", "args": ["dispatcher"]}),
        )
        .await;
    assert_eq!(reply["name"], "response", "{reply}");
    create(&server, "plain").await;
    let event = support::next_event(&mut plain).await;
    assert_eq!(event["seq"], 29, "{event}");
    server.stop().await;
}

#[tokio::test]
async fn too_old_a_since_gets_resync_required_first_and_history_lists_finished_jobs() {
    let server = TestServer::start_with(
        |config| {
            config.events.keep = 4;
            config.events.keep_secs = 0;
        },
        None,
    )
    .await;
    for n in 0..5 {
        create(&server, &format!("j{n}")).await; // events 1..=10; 7..=10 kept
    }
    let fail = json!({"action": "startjail", "jail": "nosuchjail"});
    let (status, _) = server
        .rest("PUT", "/sysadm/iocage", &fail.to_string())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND); // events 11, 12
    let mut client = server.ws().await;
    let (_, events) = resume_and_read(&mut client, 1, 5).await;
    assert_eq!(events[0]["name"], "resync_required", "{:?}", events[0]);
    assert_eq!(events[0]["args"]["since"], 1);
    assert_eq!(events[0]["args"]["oldest"], 9);
    assert_eq!(seqs(&events[1..]), [9, 10, 11, 12]);
    // From the future, too.
    let mut other = server.ws().await;
    let (_, events) = resume_and_read(&mut other, 500, 1).await;
    assert_eq!(events[0]["name"], "resync_required");

    // History, over REST: the finished jobs kept after 9, with outcomes.
    let (status, reply) = server
        .rest(
            "PUT",
            "/rpc/dispatcher",
            r#"{"action": "history", "since": 9}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let jobs = reply["args"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "{reply}");
    assert_eq!(jobs[0]["seq"], 10);
    assert_eq!(jobs[0]["action"], "createjail");
    assert_eq!(jobs[0]["outcome"], json!({"success": true}));
    assert_eq!(jobs[1]["seq"], 12);
    assert_eq!(jobs[1]["outcome"]["success"], false);
    assert_eq!(jobs[1]["outcome"]["code"], 404);
    // And over WebSocket; a bad since is a 400 naming it.
    let reply = client
        .call(json!({"namespace": "rpc", "name": "dispatcher", "id": "h",
                     "args": {"action": "history", "since": "x"}}))
        .await;
    assert_eq!(reply["args"]["code"], 400, "{reply}");
    assert!(
        reply["args"]["details"].as_str().unwrap().contains("since"),
        "{reply}"
    );
    server.stop().await;
}

/// The real binary on `state`, and its address.
fn spawn(state: &Path) -> (Child, SocketAddr) {
    spawn_on(state, &["--plaintext", "--listen", "127.0.0.1:0"])
}

async fn ws_login(addr: SocketAddr) -> WsClient {
    let mut client = WsClient::connect(addr).await;
    let reply = client
        .call(json!({"namespace": "rpc", "name": "auth", "id": "login",
                     "args": {"username": "admin", "password": PASSWORD}}))
        .await;
    assert_eq!(reply["name"], "response", "{reply}");
    client
}

#[tokio::test]
async fn seq_and_kept_events_survive_a_restart_and_a_kill_9() {
    let state = tempfile::tempdir().unwrap();
    let auth = basic("admin", PASSWORD);
    let (mut first, addr) = spawn(state.path());
    for n in 0..3 {
        let body = json!({"action": "createjail", "props": format!("tag=a{n}")});
        let (status, _) = rest_call(
            addr,
            "PUT",
            "/sysadm/iocage",
            &body.to_string(),
            Some(&auth),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    // SIGKILL: no chance to flush anything at exit.
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, addr) = spawn(state.path());
    let mut client = ws_login(addr).await;
    let (_, events) = resume_and_read(&mut client, 0, 6).await;
    assert_eq!(seqs(&events), (1..=6).collect::<Vec<_>>());
    // Events and the reply may come in either order.
    client
        .send(iocage(
            "c",
            json!({"action": "createjail", "props": "tag=b"}),
        ))
        .await;
    let mut live = Vec::new();
    let mut replied = false;
    while !replied || live.len() < 2 {
        let message = client.recv().await.unwrap();
        if message["id"] == "c" {
            assert_eq!(message["name"], "response", "{message}");
            replied = true;
        } else {
            live.push(message);
        }
    }
    assert_eq!(seqs(&live), [7, 8], "seq continues, never reused: {live:?}");
    assert_eq!(
        live[0]["args"]["process_id"], "job-4",
        "job ids continue too"
    );
    // A clean stop (SIGTERM), then a third run: still there, still counting.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(second.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    second.wait().unwrap();
    let (mut third, addr) = spawn(state.path());
    let mut client = ws_login(addr).await;
    let (_, events) = resume_and_read(&mut client, 6, 2).await;
    assert_eq!(seqs(&events), [7, 8]);
    let (status, reply) = rest_call(
        addr,
        "PUT",
        "/rpc/dispatcher",
        r#"{"action": "history"}"#,
        Some(&auth),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["args"].as_array().unwrap().len(), 4, "{reply}");
    third.kill().unwrap();
    third.wait().unwrap();
}
