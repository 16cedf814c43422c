//! Issue 9's slow-client and load checks: hundreds of connections that
//! trickle their headers neither block other clients nor live past the
//! header time limit, and a thousand WebSocket connections at once each get
//! every reply, matched by id.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::{TestServer, WsClient, iocage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use tokio::time::Instant;

/// The two tests each hold thousands of sockets and keep both cores busy:
/// they take turns, so neither measures the other's load.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Raises the open-file limit to its hard maximum: the tests below hold a
/// few thousand sockets (both ends live in this process).
fn raise_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

/// Logs in once over WebSocket (password hashing is slow on purpose) and
/// returns the session token for the other connections.
async fn token(server: &TestServer) -> String {
    let mut client = server.ws().await;
    let reply = client
        .call(json!({"namespace": "rpc", "name": "auth", "id": "token",
                     "args": {"username": "admin", "password": support::ADMIN_PASSWORD}}))
        .await;
    reply["args"][0].as_str().expect("a token").to_owned()
}

async fn token_ws(addr: std::net::SocketAddr, token: &str) -> WsClient {
    let mut client = WsClient::connect(addr).await;
    let reply = client
        .call(
            json!({"namespace": "rpc", "name": "auth_token", "id": "t", "args": {"token": token}}),
        )
        .await;
    assert_eq!(reply["name"], "response", "token login: {reply}");
    client
}

/// A request head that never ends: sent a byte at a time, it would take
/// far longer than any header time limit.
const TRICKLE: &[u8] = b"PUT /sysadm/iocage HTTP/1.1\r\nHost: localhost\r\nX-Trickle: \
    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\
    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// Sends [`TRICKLE`] one byte every 200 ms until the server closes the
/// connection; returns how long the server kept it, or `None` if it was
/// still open after `limit` (or the whole head was sent).
async fn trickle(
    mut stream: TcpStream,
    started: Arc<Barrier>,
    limit: Duration,
) -> Option<Duration> {
    let begin = Instant::now();
    let deadline = begin + limit;
    let mut sent = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut buffer = [0; 1024];
    let mut first = true;
    loop {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return Some(begin.elapsed()),
                // A 408 or similar before the close is fine; keep reading.
                Ok(_) => continue,
            },
            _ = tick.tick() => {
                if sent == TRICKLE.len() {
                    return None;
                }
                if stream.write_all(&TRICKLE[sent..=sent]).await.is_err() {
                    return Some(begin.elapsed());
                }
                sent += 1;
                if first {
                    first = false;
                    started.wait().await;
                }
            }
            () = tokio::time::sleep_until(deadline) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_tricklers_do_not_block_others_and_are_dropped_at_the_header_limit() {
    const TRICKLERS: usize = 500;
    let _serial = SERIAL.lock().await;
    raise_file_limit();
    // Every client here is 127.0.0.1: raise its share of unauthenticated
    // connections, which this test is not about (tests/hostile.rs is).
    let server = TestServer::start_with(
        |config| {
            config.limits.header_timeout_secs = 2;
            config.limits.max_unauthenticated = 1024;
            config.limits.max_unauthenticated_per_address = 1024;
        },
        None,
    )
    .await;
    // Log in before the trickle starts: Basic credentials are then cached,
    // and the WebSocket below resumes with the token.
    let token = token(&server).await;
    let (status, reply) = server
        .rest("PUT", "/sysadm/iocage", r#"{"action": "listjails"}"#)
        .await;
    assert_eq!(status, 200, "{reply}");

    let started = Arc::new(Barrier::new(TRICKLERS + 1));
    let mut tricklers = Vec::with_capacity(TRICKLERS);
    for _ in 0..TRICKLERS {
        let stream = TcpStream::connect(server.addr).await.expect("connect");
        let started = started.clone();
        tricklers.push(tokio::spawn(trickle(
            stream,
            started,
            Duration::from_secs(15),
        )));
    }
    // Every trickler has sent its first byte.
    started.wait().await;

    // Others are served while the trickle goes on.
    let (status, reply) = server
        .rest(
            "PUT",
            "/sysadm/iocage",
            r#"{"action": "getdefaultsettings"}"#,
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply["args"]["getdefaultsettings"].is_object(), "{reply}");
    let mut client = token_ws(server.addr, &token).await;
    for index in 0..5 {
        let id = format!("during-{index}");
        let reply = client
            .call(iocage(&id, json!({"action": "listjails"})))
            .await;
        assert!(reply["args"]["listjails"].is_object(), "{reply}");
    }
    // They were served while the tricklers were connected, not after the
    // header limit had cleared them away.
    let still_trickling = tricklers.iter().filter(|task| !task.is_finished()).count();
    assert!(
        still_trickling > 0,
        "the other clients were served only after every trickler was gone"
    );

    // Each trickler is dropped: the head is never complete, so only the
    // header time limit (2 s) can end it; 15 s is a generous bound.
    let mut kept = Vec::new();
    for (index, task) in tricklers.into_iter().enumerate() {
        match task.await.expect("trickler task") {
            Some(elapsed) => kept.push(elapsed),
            None => panic!("trickler {index} was still connected after 15 s"),
        }
    }
    assert_eq!(kept.len(), TRICKLERS);

    // The WebSocket session outlives the trickle and still works.
    let reply = client
        .call(iocage("after", json!({"action": "getdefaultsettings"})))
        .await;
    assert!(reply["args"]["getdefaultsettings"].is_object(), "{reply}");
    server.stop().await;
}

/// Action of request `index` on a connection.
fn action(index: usize) -> &'static str {
    if index % 2 == 0 {
        "listjails"
    } else {
        "getdefaultsettings"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_websockets_with_twenty_requests_each_lose_no_reply() {
    const CONNECTIONS: usize = 1000;
    const REQUESTS: usize = 20;
    let _serial = SERIAL.lock().await;
    raise_file_limit();
    // A thousand connections from 127.0.0.1 open before they log in.
    let server = TestServer::start_with(
        |config| {
            config.limits.max_unauthenticated = 1024;
            config.limits.max_unauthenticated_per_address = 1024;
        },
        None,
    )
    .await;
    let token = token(&server).await;
    let addr = server.addr;

    // Every connection is open and logged in before any sends its requests.
    let barrier = Arc::new(Barrier::new(CONNECTIONS));
    let mut tasks = Vec::with_capacity(CONNECTIONS);
    for connection in 0..CONNECTIONS {
        let barrier = barrier.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = token_ws(addr, &token).await;
            barrier.wait().await;
            // Pipelined: all twenty go out before the first reply is read.
            for index in 0..REQUESTS {
                let id = format!("c{connection}-r{index}");
                client
                    .send(iocage(&id, json!({"action": action(index)})))
                    .await;
            }
            let mut errors = Vec::new();
            let mut answered = BTreeSet::new();
            for _ in 0..REQUESTS {
                let Some(reply) = client.recv().await else {
                    errors.push(format!(
                        "c{connection}: closed after {} replies",
                        answered.len()
                    ));
                    break;
                };
                let id = reply["id"].as_str().unwrap_or_default().to_owned();
                let index = id
                    .strip_prefix(&format!("c{connection}-r"))
                    .and_then(|index| index.parse::<usize>().ok());
                match index {
                    Some(index) if index < REQUESTS => {
                        let action = action(index);
                        if reply["name"] != "response" || !reply["args"][action].is_object() {
                            errors.push(format!("{id}: not a {action} reply: {reply}"));
                        }
                        if !answered.insert(index) {
                            errors.push(format!("{id}: answered twice"));
                        }
                    }
                    _ => errors.push(format!("c{connection}: reply to another request: {reply}")),
                }
            }
            if answered.len() != REQUESTS {
                errors.push(format!(
                    "c{connection}: {} of {REQUESTS} requests answered",
                    answered.len()
                ));
            }
            errors
        }));
    }
    let mut errors: Vec<String> = Vec::new();
    for task in tasks {
        errors.extend(task.await.expect("connection task"));
    }
    assert!(
        errors.is_empty(),
        "{} errors, first ones:\n{}",
        errors.len(),
        errors
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The server is still fine afterwards.
    let (status, reply): (_, Value) = server
        .rest("PUT", "/sysadm/iocage", r#"{"action": "listjails"}"#)
        .await;
    assert_eq!(status, 200, "{reply}");
    server.stop().await;
}
