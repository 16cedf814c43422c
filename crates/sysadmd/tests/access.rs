//! Authentication and access through the running server: the `rpc` session
//! messages, Basic and Bearer on REST, the viewer role, lockout on both
//! transports, and the time limit for logging in.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{ADMIN_PASSWORD, TestServer, WsClient, basic, iocage, rest_call};
use sysadmd::auth::Role;

const VIEWER_PASSWORD: &str = "viewer password";

fn rpc(name: &str, args: Value) -> Value {
    json!({"namespace": "rpc", "name": name, "id": name, "args": args})
}

/// Adds the viewer `victor` with the `sysadmd user add` command and waits
/// until the running server has read the users file again (the server must
/// allow some failed logins meanwhile).
async fn add_viewer(server: &TestServer) {
    support::add_user(server, "victor", Role::Viewer, VIEWER_PASSWORD).await;
}

async fn listjails_rest(server: &TestServer, authorization: &str) -> (u16, Value) {
    let (status, reply) = rest_call(
        server.addr,
        "PUT",
        "/sysadm/iocage",
        r#"{"action": "listjails"}"#,
        Some(authorization),
    )
    .await;
    (status.as_u16(), reply)
}

#[tokio::test]
async fn the_websocket_session_identify_auth_query_token_and_clear() {
    let server = TestServer::start().await;
    let mut client = WsClient::connect(server.addr).await;

    let reply = client.call(rpc("identify", json!({}))).await;
    assert_eq!(
        reply["args"]["type"], "server",
        "identify needs no login: {reply}"
    );
    let reply = client
        .call(iocage("early", json!({"action": "listjails"})))
        .await;
    assert_eq!(reply["args"]["code"], 401, "{reply}");

    let reply = client
        .call(rpc(
            "auth",
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        ))
        .await;
    let token = reply["args"][0].as_str().expect("a token").to_owned();
    assert_eq!(token.len(), 64, "32 random bytes in hex: {token}");
    assert_eq!(reply["args"][1], 900, "the default lifetime: {reply}");
    let reply = client.call(rpc("query", json!({}))).await;
    assert_eq!(
        reply["args"],
        json!({"sysadm/iocage": "read/write", "rpc/dispatcher": "read",
               "rpc/capabilities": "read", "rpc/keys": "read/write"})
    );
    let reply = client
        .call(iocage("now", json!({"action": "listjails"})))
        .await;
    assert!(reply["args"]["listjails"].is_object(), "{reply}");

    // Another connection resumes with the token; neither a prefix, nor a
    // suffix, nor the empty string does.
    let mut other = WsClient::connect(server.addr).await;
    for wrong in ["", &token[..63], &token[1..], &token.to_uppercase()] {
        let reply = other.call(rpc("auth_token", json!({"token": wrong}))).await;
        assert_eq!(reply["args"]["code"], 401, "token {wrong:?}: {reply}");
    }
    let reply = other.call(rpc("auth_token", json!({"token": token}))).await;
    assert_eq!(reply["args"][0], token.as_str(), "{reply}");

    // The token also works as a REST Bearer token, until the session is cleared.
    let bearer = format!("Bearer {token}");
    assert_eq!(listjails_rest(&server, &bearer).await.0, 200);
    let reply = client.call(rpc("auth_clear", json!({}))).await;
    assert_eq!(reply["args"], "cleared", "{reply}");
    let (status, reply) = listjails_rest(&server, &bearer).await;
    assert_eq!(status, 401, "{reply}");
    for connection in [&mut client, &mut other] {
        let reply = connection
            .call(iocage("after", json!({"action": "listjails"})))
            .await;
        assert_eq!(reply["args"]["code"], 401, "{reply}");
    }
    server.stop().await;
}

#[tokio::test]
async fn rest_takes_basic_and_bearer_and_refuses_everything_else() {
    // More failures than the lockout allows happen here: it is tested below.
    let server = TestServer::start_with(|config| config.auth.max_failures = 100, None).await;
    assert_eq!(
        listjails_rest(&server, &basic("admin", ADMIN_PASSWORD))
            .await
            .0,
        200
    );
    let cases = [
        basic("admin", "wrong password"),
        basic("nobody", ADMIN_PASSWORD),
        "Bearer ".to_owned(),
        format!("Bearer {}", "0".repeat(64)),
        "Digest username=admin".to_owned(),
    ];
    for authorization in &cases {
        let (status, reply) = listjails_rest(&server, authorization).await;
        assert_eq!(status, 401, "{authorization}: {reply}");
        assert!(reply["args"]["details"].is_string(), "{reply}");
    }
    // Wrong password and unknown user are indistinguishable.
    let (_, wrong_password) = listjails_rest(&server, &cases[0]).await;
    let (_, unknown_user) = listjails_rest(&server, &cases[1]).await;
    assert_eq!(wrong_password, unknown_user);
    server.stop().await;
}

#[tokio::test]
async fn a_viewer_reads_but_may_not_change_anything_on_either_transport() {
    // Waiting for the server to see the new user counts failed logins.
    let server = TestServer::start_with(|config| config.auth.max_failures = 100, None).await;
    add_viewer(&server).await;
    let viewer = basic("victor", VIEWER_PASSWORD);

    let (status, reply) = rest_call(server.addr, "PUT", "/rpc/query", "{}", Some(&viewer)).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["args"],
        json!({"sysadm/iocage": "read", "rpc/dispatcher": "read", "rpc/capabilities": "read"})
    );
    for read in [
        json!({"action": "listjails"}),
        json!({"action": "df"}),
        json!({"action": "getdefaultsettings"}),
        json!({"action": "activatepool"}),
    ] {
        let (status, reply) = rest_call(
            server.addr,
            "PUT",
            "/sysadm/iocage",
            &read.to_string(),
            Some(&viewer),
        )
        .await;
        assert_eq!(status, 200, "{read}: {reply}");
    }
    let changes = [
        json!({"action": "createjail", "props": "tag=sneaky"}),
        json!({"action": "activatepool", "pool": "tank1"}),
        json!({"action": "cleanall"}),
    ];
    for change in &changes {
        let (status, reply) = rest_call(
            server.addr,
            "PUT",
            "/sysadm/iocage",
            &change.to_string(),
            Some(&viewer),
        )
        .await;
        assert_eq!(status, 403, "{change}: {reply}");
        assert!(
            reply["args"]["details"]
                .as_str()
                .unwrap()
                .contains("viewer"),
            "{reply}"
        );
    }

    let mut client = WsClient::connect(server.addr).await;
    let reply = client
        .call(rpc(
            "auth",
            json!({"username": "victor", "password": VIEWER_PASSWORD}),
        ))
        .await;
    assert_eq!(reply["name"], "response", "{reply}");
    let reply = client.call(iocage("c", changes[0].clone())).await;
    assert_eq!(reply["args"]["code"], 403, "{reply}");
    let reply = client
        .call(json!({"namespace": "events", "name": "subscribe", "id": "s", "args": "dispatcher"}))
        .await;
    assert_eq!(reply["name"], "response", "a viewer may watch: {reply}");

    // Nothing changed.
    let (_, reply) = listjails_rest(&server, &basic("admin", ADMIN_PASSWORD)).await;
    assert_eq!(reply["args"]["listjails"], json!({}), "{reply}");
    let (_, reply) = rest_call(
        server.addr,
        "PUT",
        "/sysadm/iocage",
        r#"{"action": "activatepool"}"#,
        Some(&viewer),
    )
    .await;
    assert_eq!(
        reply["args"]["activatepool"]["currently active"]["pool"], " tank",
        "{reply}"
    );
    server.stop().await;
}

#[tokio::test]
async fn five_failed_logins_block_the_address_on_both_transports_until_the_block_ends() {
    let server = TestServer::start_with(|config| config.auth.block_secs = 2, None).await;
    let good = basic("admin", ADMIN_PASSWORD);
    let bad = basic("admin", "guess");
    for attempt in 1..=4 {
        let (status, reply) = listjails_rest(&server, &bad).await;
        assert_eq!(status, 401, "failure {attempt}: {reply}");
    }
    // Four failures do not block: the right password still works, and resets the count.
    assert_eq!(listjails_rest(&server, &good).await.0, 200);
    for attempt in 1..=4 {
        assert_eq!(
            listjails_rest(&server, &bad).await.0,
            401,
            "failure {attempt} after the reset"
        );
    }
    // The fifth failure in a row blocks, WebSocket logins included.
    let mut failing = WsClient::connect(server.addr).await;
    let reply = failing
        .call(rpc(
            "auth",
            json!({"username": "admin", "password": "guess"}),
        ))
        .await;
    assert_eq!(
        reply["args"]["code"], 429,
        "the fifth failure blocks: {reply}"
    );
    let (code, reason) = failing.close_reason().await.expect("a close frame");
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("blocked"), "{reason}");

    let (status, reply) = listjails_rest(&server, &good).await;
    assert_eq!(status, 429, "even the right password: {reply}");
    assert!(
        reply["args"]["details"]
            .as_str()
            .unwrap()
            .contains("try again in"),
        "{reply}"
    );
    let mut late = WsClient::connect(server.addr).await;
    let reply = late
        .call(rpc(
            "auth",
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        ))
        .await;
    assert_eq!(reply["args"]["code"], 429, "{reply}");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        listjails_rest(&server, &good).await.0,
        200,
        "the block has ended"
    );
    let log = std::fs::read_to_string(&server.config.audit_log).unwrap();
    assert!(
        log.lines().any(|line| line.contains("\"address_blocked\"")),
        "lockouts are audited: {log}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_websocket_that_does_not_log_in_in_time_is_closed() {
    let server =
        TestServer::start_with(|config| config.limits.ws_auth_timeout_secs = 1, None).await;
    let mut client = WsClient::connect(server.addr).await;
    let reply = client.call(rpc("identify", json!({}))).await;
    assert_eq!(reply["name"], "response", "{reply}");
    let (code, reason) = client.close_reason().await.expect("a close frame");
    assert_eq!(code, 1008);
    assert_eq!(reason, "not authenticated in time");
    // A client that logs in in time stays.
    let mut patient = server.ws().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let reply = patient
        .call(iocage("still", json!({"action": "listjails"})))
        .await;
    assert!(reply["args"]["listjails"].is_object(), "{reply}");
    // After a logout the deadline runs afresh: a long-lived connection that
    // logs out and in again (the reference clients do) is not closed for
    // the time it was logged in, and one that stays logged out is.
    let reply = patient.call(rpc("auth_clear", json!({}))).await;
    assert_eq!(reply["args"], "cleared", "{reply}");
    let reply = patient
        .call(json!({"namespace": "rpc", "name": "auth", "id": "again",
                     "args": {"username": "admin", "password": ADMIN_PASSWORD}}))
        .await;
    assert_eq!(reply["name"], "response", "{reply}");
    let reply = patient.call(rpc("auth_clear", json!({}))).await;
    assert_eq!(reply["args"], "cleared", "{reply}");
    let (code, reason) = patient.close_reason().await.expect("a close frame");
    assert_eq!((code, reason.as_str()), (1008, "not authenticated in time"));
    server.stop().await;
}
