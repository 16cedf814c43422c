//! Idempotency keys (issue 20): a retry with the same key and request gets
//! the first result and runs nothing, also while the first still runs and
//! after a restart; another request with the key is a 409; and a server
//! killed (kill -9) while the reply was on its way neither runs the retry
//! again nor loses its result.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use hyper::StatusCode;
use serde_json::{Value, json};
use support::daemon::{PASSWORD, spawn_on};
use support::{ADMIN_PASSWORD, TestServer, basic, http_call, iocage, rest_call};
use tokio::io::AsyncWriteExt;

async fn count_tag(addr: SocketAddr, auth: &str, tag: &str) -> usize {
    let (status, reply) = rest_call(
        addr,
        "PUT",
        "/sysadm/iocage",
        r#"{"action":"listjails"}"#,
        Some(auth),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply["args"]["listjails"]
        .as_object()
        .unwrap()
        .values()
        .filter(|jail| jail["tag"] == tag)
        .count()
}

async fn put_with_key(
    addr: SocketAddr,
    auth: &str,
    key: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let (status, _, bytes) = http_call(
        addr,
        "PUT",
        "/sysadm/iocage",
        &[
            ("content-type", "application/json"),
            ("authorization", auth),
            ("idempotency-key", key),
        ],
        &body.to_string(),
    )
    .await;
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn a_retry_gets_the_first_result_and_another_request_with_the_key_is_refused() {
    let server = TestServer::start().await;
    let auth = basic("admin", ADMIN_PASSWORD);
    let create = json!({"action": "createjail", "props": "tag=once"});
    let (status, first) = put_with_key(server.addr, &auth, "key-1", &create).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    // The same over WebSocket, the key in args: the first result, nothing run.
    let mut client = server.ws().await;
    let mut args = create.clone();
    args["idempotency_key"] = json!("key-1");
    let again = client.call(iocage("again", args)).await;
    assert_eq!(again["args"], first["args"], "the first result");
    assert_eq!(count_tag(server.addr, &auth, "once").await, 1);
    let history = server
        .rest("PUT", "/rpc/dispatcher", r#"{"action":"history"}"#)
        .await
        .1;
    assert_eq!(history["args"].as_array().unwrap().len(), 1, "one job ran");

    // Another request with the key: 409 naming it.
    let other = json!({"action": "createjail", "props": "tag=twice"});
    let (status, reply) = put_with_key(server.addr, &auth, "key-1", &other).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    let details = reply["args"]["details"].as_str().unwrap();
    assert!(
        details.starts_with("idempotency key 'key-1' was used for another request"),
        "{details}"
    );
    assert_eq!(count_tag(server.addr, &auth, "twice").await, 0);

    // A failure is a result too: the retry gets the same error, not a second try.
    let start = json!({"action": "startjail", "jail": "nosuch"});
    let (status, failed) = put_with_key(server.addr, &auth, "key-2", &start).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, again) = put_with_key(server.addr, &auth, "key-2", &start).await;
    assert_eq!((status, &again), (StatusCode::NOT_FOUND, &failed));

    // A bad key, or header and body disagreeing: 400, nothing runs.
    let (status, reply) = put_with_key(server.addr, &auth, "bad key", &create).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    let mut both = other.clone();
    both["idempotency_key"] = json!("key-3");
    let (status, reply) = put_with_key(server.addr, &auth, "key-4", &both).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(count_tag(server.addr, &auth, "twice").await, 0);
    server.stop().await;
}

#[tokio::test]
async fn a_retry_while_the_first_runs_waits_for_it() {
    let server = TestServer::start_with(|config| config.sim.latency_ms = 600, None).await;
    let auth = basic("admin", ADMIN_PASSWORD);
    let create = json!({"action": "createjail", "props": "tag=slow"});
    let first = put_with_key(server.addr, &auth, "k", &create);
    let second = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        put_with_key(server.addr, &auth, "k", &create).await
    };
    let ((status1, reply1), (status2, reply2)) = tokio::join!(first, second);
    assert_eq!((status1, status2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(reply1, reply2);
    assert_eq!(count_tag(server.addr, &auth, "slow").await, 1);
    server.stop().await;
}

/// Sends a request with a key and goes away before the reply.
async fn send_and_leave(addr: SocketAddr, key: &str, body: &Value) {
    let body = body.to_string();
    let request = format!(
        "PUT /sysadm/iocage HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\nidempotency-key: {key}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        basic("admin", PASSWORD),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(stream);
}

#[tokio::test]
async fn after_a_kill_9_a_retry_neither_runs_twice_nor_loses_the_result() {
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("sysadmd.toml");
    // Every simulated operation takes 1 s: the change is slow enough to be caught.
    std::fs::write(&config, "[sim]\nlatency_ms = 1000\n").unwrap();
    let config = config.to_str().unwrap().to_owned();
    let args = [
        "--plaintext",
        "--listen",
        "127.0.0.1:0",
        "--config",
        &config,
    ];
    let auth = basic("admin", PASSWORD);

    // 1. The change is made, its reply never reaches the client, the server dies.
    let (mut server, addr) = spawn_on(state.path(), &args);
    let create = json!({"action": "createjail", "props": "tag=survivor"});
    send_and_leave(addr, "first", &create).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while count_tag(addr, &auth, "survivor").await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the change never happened"
        );
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();

    let (mut server, addr) = spawn_on(state.path(), &args);
    let (status, reply) = put_with_key(addr, &auth, "first", &create).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the first result, not lost: {reply}"
    );
    let created = reply["args"]["createjail"]["success"]["Successfully created"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(created.ends_with(" (survivor)"), "{created}");
    assert_eq!(count_tag(addr, &auth, "survivor").await, 1, "not run twice");

    // 2. The server dies while the change runs: the retry says the outcome is
    // unknown and runs nothing.
    let other = json!({"action": "createjail", "props": "tag=orphan"});
    send_and_leave(addr, "second", &other).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let (mut server, addr) = spawn_on(state.path(), &args);
    let (status, reply) = put_with_key(addr, &auth, "second", &other).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    let details = reply["args"]["details"].as_str().unwrap();
    assert!(details.contains("interrupted by a restart"), "{details}");
    assert!(details.contains("it is not run again"), "{details}");
    assert_eq!(
        count_tag(addr, &auth, "orphan").await,
        0,
        "killed before the change"
    );
    // The first key still answers after a second restart.
    let (status, again) = put_with_key(addr, &auth, "first", &create).await;
    assert_eq!(
        (status, &again),
        (StatusCode::OK, &reply_of_first(&created))
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

fn reply_of_first(created: &str) -> Value {
    json!({"args": {"createjail": {"props": "tag=survivor", "switches": "",
                                   "success": {"Successfully created": created}}}})
}
