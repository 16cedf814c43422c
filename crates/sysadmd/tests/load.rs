//! Many requests at once: pipelined on one WebSocket (replies matched by id,
//! fast ones not held up by slow ones) and many connections at once.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use iocage_service::SimBackend;
use serde_json::{Value, json};
use support::slow_df::SlowDf;
use support::{TestServer, WsClient, iocage};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

/// Request `index` of the pipeline: every tenth is a slow `df`.
fn pipelined_action(index: usize) -> &'static str {
    match index % 10 {
        0 => "df",
        n if n % 2 == 0 => "listjails",
        _ => "getdefaultsettings",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_pipelined_requests_each_get_their_own_reply_and_slow_ones_do_not_block() {
    let backend = SlowDf {
        inner: SimBackend::in_memory(),
        delay: Duration::from_secs(2),
    };
    let server = TestServer::start_with(|_| {}, Some(Arc::new(backend))).await;
    let mut client = server.ws().await;
    for index in 0..100 {
        let action = pipelined_action(index);
        client
            .send(iocage(&format!("r{index}"), json!({"action": action})))
            .await;
    }
    let mut order = Vec::new();
    for _ in 0..100 {
        let reply = client.recv().await.expect("a reply");
        assert_eq!(reply["name"], "response", "{reply}");
        let id = reply["id"].as_str().expect("the request's id");
        let index: usize = id
            .strip_prefix('r')
            .and_then(|n| n.parse().ok())
            .expect("rN");
        let action = pipelined_action(index);
        assert!(
            reply["args"][action].is_object(),
            "reply {id} answers {action}: {reply}"
        );
        order.push(index);
    }
    let distinct: BTreeSet<usize> = order.iter().copied().collect();
    assert_eq!(
        distinct,
        (0..100).collect(),
        "every request answered exactly once"
    );
    // The 90 fast requests were all answered before the first slow one finished,
    // although slow ones were sent first and between them.
    let first_slow = order.iter().position(|index| index % 10 == 0).unwrap();
    assert_eq!(first_slow, 90, "reply order: {order:?}");
    server.stop().await;
}

/// One REST request on an already open HTTP/1.1 connection.
async fn rest_on(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    token: &str,
    body: &str,
) -> (u16, Value) {
    let request = hyper::Request::builder()
        .method("PUT")
        .uri("/sysadm/iocage")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = sender.send_request(request).await.expect("a response");
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).expect("JSON body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_connections_at_once_mixing_rest_and_websocket_are_all_answered() {
    const CONNECTIONS: usize = 200;
    // 200 connections from 127.0.0.1 at once, before any authenticated.
    let server = TestServer::start_with(
        |config| config.limits.max_unauthenticated_per_address = 256,
        None,
    )
    .await;
    let mut first = server.ws().await;
    let login = first
        .call(json!({"namespace": "rpc", "name": "auth", "id": "again",
                     "args": {"username": "admin", "password": support::ADMIN_PASSWORD}}))
        .await;
    let token = login["args"][0].as_str().expect("a token").to_owned();

    // Every connection is open and logged in before any of them sends its request.
    let barrier = Arc::new(Barrier::new(CONNECTIONS));
    let addr = server.addr;
    let mut tasks = Vec::new();
    for index in 0..CONNECTIONS {
        let barrier = barrier.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let tag = format!("c{index}");
            let body = json!({"action": "getjailsettings", "jail": "nosuchjail", "prop": "all"});
            if index % 2 == 0 {
                let stream = TcpStream::connect(addr).await.expect("connect");
                let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await.unwrap();
                tokio::spawn(connection);
                barrier.wait().await;
                let (status, reply) = rest_on(&mut sender, &token, r#"{"action": "listjails"}"#).await;
                assert_eq!(status, 200, "{reply}");
                assert!(reply["args"]["listjails"].is_object(), "{reply}");
                // Keep-alive: a second request on the same connection.
                let (status, reply) = rest_on(&mut sender, &token, &body.to_string()).await;
                assert_eq!(status, 404, "{reply}");
            } else {
                let mut client = WsClient::connect(addr).await;
                let resumed = client
                    .call(json!({"namespace": "rpc", "name": "auth_token", "id": "t", "args": {"token": token}}))
                    .await;
                assert_eq!(resumed["name"], "response", "{resumed}");
                barrier.wait().await;
                let reply = client.call(iocage(&tag, json!({"action": "listjails"}))).await;
                assert!(reply["args"]["listjails"].is_object(), "{reply}");
                let reply = client.call(iocage(&tag, body)).await;
                assert_eq!(reply["args"]["code"], 404, "{reply}");
            }
            index
        }));
    }
    let mut answered = BTreeSet::new();
    for task in tasks {
        answered.insert(task.await.expect("every connection answered"));
    }
    assert_eq!(answered.len(), CONNECTIONS);
    server.stop().await;
}
