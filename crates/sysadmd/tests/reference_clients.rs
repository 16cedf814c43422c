//! What the TrueOS sysadm server's own clients do, and sysadmd must accept
//! (issue 15): requests pipelined right after a login or a subscription,
//! the reference's event types, an empty password that is no guess, whole
//! envelopes as REST bodies and top-level WebSocket arguments, any case in
//! class names, HEAD, HTTP/1.0 and plain HTTP on a TLS port, and CORS.
//! The same clients, run for real (node `ws`, python `websockets`), are in
//! `interop.rs`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use hyper::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use support::{
    ADMIN_PASSWORD, TestServer, WsClient, basic, http_call as http, iocage, rest_call, subscribe,
};
use sysadmd::TlsChoice;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn rpc(id: &str, name: &str, args: Value) -> Value {
    json!({"namespace": "rpc", "name": name, "id": id, "args": args})
}

fn login(id: &str) -> Value {
    rpc(
        id,
        "auth",
        json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
}

/// Reads until the replies to every id in `ids` arrived (events too are
/// kept), and returns them by id, failing after 20 s with what did arrive.
async fn replies(client: &mut WsClient, ids: &[&str]) -> (Vec<Value>, Vec<Value>) {
    let mut got: Vec<Option<Value>> = vec![None; ids.len()];
    let mut events = Vec::new();
    let outcome = tokio::time::timeout(Duration::from_secs(20), async {
        while got.iter().any(Option::is_none) {
            let message = client.recv().await.expect("no close");
            match ids.iter().position(|id| message["id"] == *id) {
                Some(index)
                    if message["namespace"] != "events" || message["name"] == "response" =>
                {
                    got[index] = Some(message);
                }
                _ if message["namespace"] == "events" => events.push(message),
                _ => panic!("an unexpected message: {message}"),
            }
        }
    })
    .await;
    assert!(
        outcome.is_ok(),
        "replies missing after 20 s: got {got:?}, events {events:?}"
    );
    (got.into_iter().map(Option::unwrap).collect(), events)
}

// ---- 1. per-connection order ----

#[tokio::test]
async fn a_request_pipelined_right_after_a_login_never_races_it() {
    let server = TestServer::start().await;
    let mut client = server.ws().await;
    for round in 0..200 {
        // Log out, log in and ask, in one burst: the request must see the new
        // login, not the old one nor none.
        client.send(rpc("clear", "auth_clear", json!({}))).await;
        client.send(login("login")).await;
        client
            .send(iocage("ask", json!({"action": "listjails"})))
            .await;
        let (got, _) = replies(&mut client, &["clear", "login", "ask"]).await;
        assert_eq!(got[0]["args"], "cleared", "round {round}: {}", got[0]);
        assert_eq!(got[1]["name"], "response", "round {round}: {}", got[1]);
        assert!(
            got[2]["args"]["listjails"].is_object(),
            "round {round}: the request raced the login: {}",
            got[2]
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_change_pipelined_after_login_and_subscribe_is_always_seen_as_an_event() {
    let server = TestServer::start().await;
    let mut client = server.ws().await;
    let created = client
        .call(iocage(
            "create",
            json!({"action": "createjail", "props": "tag=order"}),
        ))
        .await;
    assert_eq!(created["name"], "response", "{created}");
    for round in 0..200 {
        let action = if round % 2 == 0 {
            "startjail"
        } else {
            "stopjail"
        };
        // Unsubscribed and logged out at the start of the burst: only if the
        // login and the subscription complete first can the change succeed
        // and its `running` event arrive.
        client
            .send(
                json!({"namespace": "events", "name": "unsubscribe", "id": "unsub",
                         "args": "dispatcher"}),
            )
            .await;
        client.send(rpc("clear", "auth_clear", json!({}))).await;
        client.send(login("login")).await;
        client.send(subscribe("sub", json!(["dispatcher"]))).await;
        client
            .send(iocage("change", json!({"action": action, "jail": "order"})))
            .await;
        let (got, mut events) =
            replies(&mut client, &["unsub", "clear", "login", "sub", "change"]).await;
        assert_eq!(
            got[3]["args"]["subscribed"],
            json!(["dispatcher"]),
            "round {round}: {}",
            got[3]
        );
        assert!(
            got[4]["args"][action].is_object(),
            "round {round}: {}",
            got[4]
        );
        let is_running = |event: &Value| {
            event["name"] == "dispatcher"
                && event["args"]["state"] == "running"
                && event["args"]["action"] == action
        };
        let seen = tokio::time::timeout(Duration::from_secs(20), async {
            while !events.iter().any(is_running) {
                events.push(client.recv().await.expect("no close"));
            }
        })
        .await;
        assert!(
            seen.is_ok(),
            "round {round}: the running event of {action} was missed; got {events:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn requests_after_a_login_still_run_concurrently() {
    // Every simulated operation takes 300 ms: a request sent after a slow
    // one is answered first only if the two run at the same time. (No timing
    // is asserted: the order of the replies shows it.)
    let server = TestServer::start_with(|config| config.sim.latency_ms = 300, None).await;
    let mut client = server.ws().await;
    client
        .send(iocage(
            "slow",
            json!({"action": "createjail", "props": "tag=c"}),
        ))
        .await;
    client.send(rpc("quick", "identify", json!({}))).await;
    let mut order = Vec::new();
    while order.len() < 2 {
        let message = client.recv().await.expect("no close");
        order.push(message["id"].as_str().unwrap_or_default().to_owned());
    }
    let quick = order.iter().position(|id| id == "quick").unwrap();
    let slow = order.iter().position(|id| id == "slow").unwrap();
    assert!(
        quick < slow,
        "identify, sent after a slow change, must not wait for it: {order:?}"
    );
    server.stop().await;
}

// ---- 3. an empty password is refused but no guess ----

#[tokio::test]
async fn empty_passwords_are_refused_without_ever_blocking_the_address() {
    let server = TestServer::start().await;
    let mut client = WsClient::connect(server.addr).await;
    for attempt in 0..12 {
        let reply = client
            .call(rpc(
                "empty",
                "auth",
                json!({"username": "admin", "password": ""}),
            ))
            .await;
        assert_eq!(reply["args"]["code"], 401, "attempt {attempt}: {reply}");
        assert!(
            reply["args"]["details"]
                .as_str()
                .unwrap()
                .contains("empty password"),
            "{reply}"
        );
        let (status, reply) = rest_call(
            server.addr,
            "PUT",
            "/sysadm/iocage",
            r#"{"action": "df"}"#,
            Some(&basic("admin", "")),
        )
        .await;
        assert_eq!(status, 401, "attempt {attempt}: {reply}");
    }
    // 24 empty passwords later, the right one works on both transports.
    let reply = client.call(login("login")).await;
    assert_eq!(reply["name"], "response", "{reply}");
    let (status, reply) = server
        .rest("PUT", "/sysadm/iocage", r#"{"action": "df"}"#)
        .await;
    assert_eq!(status, 200, "{reply}");
    // A wrong password that is not empty still counts: five block.
    for _ in 0..5 {
        rest_call(
            server.addr,
            "PUT",
            "/sysadm/iocage",
            "{}",
            Some(&basic("admin", "wrong")),
        )
        .await;
    }
    let (status, reply) = server
        .rest("PUT", "/sysadm/iocage", r#"{"action": "df"}"#)
        .await;
    assert_eq!(status, 429, "{reply}");
    server.stop().await;
}

// ---- 4. envelopes ----

#[tokio::test]
async fn a_rest_body_may_be_a_whole_envelope_with_or_without_args() {
    let server = TestServer::start().await;
    for body in [
        json!({"namespace": "sysadm", "name": "iocage", "id": "x", "args": {"action": "listjails"}}),
        json!({"namespace": "sysadm", "name": "iocage", "id": "x", "action": "listjails"}),
        json!({"namespace": "SysAdm", "name": "IOCAGE", "args": {"action": "listjails"}}),
        json!({"args": {"action": "listjails"}}),
        json!({"action": "listjails"}),
    ] {
        let (status, reply) = server
            .rest("PUT", "/sysadm/iocage", &body.to_string())
            .await;
        assert_eq!(status, 200, "{body}: {reply}");
        assert!(reply["args"]["listjails"].is_object(), "{body}: {reply}");
    }
    let (status, reply) = server
        .rest(
            "PUT",
            "/sysadm/iocage",
            r#"{"namespace": "rpc", "name": "query", "args": {}}"#,
        )
        .await;
    assert_eq!(status, 400, "{reply}");
    let details = reply["args"]["details"].as_str().unwrap();
    assert!(
        details.contains("namespace 'rpc' is not the path's 'sysadm'"),
        "{details}"
    );
    let (status, reply) = server
        .rest(
            "PUT",
            "/events/subscribe",
            r#"{"namespace": "events", "args": "dispatcher"}"#,
        )
        .await;
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply["args"]["details"]
            .as_str()
            .unwrap()
            .contains("over WebSocket only"),
        "the envelope's args were read: {reply}"
    );
    server.stop().await;
}

#[tokio::test]
async fn websocket_arguments_may_stand_at_the_top_level_and_class_names_take_any_case() {
    let server = TestServer::start().await;
    let mut client = WsClient::connect(server.addr).await;
    let reply = client
        .call(json!({"namespace": "RPC", "name": "Auth", "id": "login",
                     "username": "admin", "password": ADMIN_PASSWORD}))
        .await;
    assert_eq!(reply["name"], "response", "{reply}");
    assert_eq!(reply["namespace"], "RPC", "the namespace is echoed as sent");
    let reply = client
        .call(json!({"namespace": "Sysadm", "name": "IOCAGE", "id": "top", "action": "listjails"}))
        .await;
    assert!(reply["args"]["listjails"].is_object(), "{reply}");
    let reply = client
        .call(json!({"namespace": "Events", "name": "Subscribe", "id": "s", "args": "dispatcher"}))
        .await;
    assert_eq!(
        reply["args"]["subscribed"],
        json!(["dispatcher"]),
        "{reply}"
    );
    let (status, reply) = server
        .rest("PUT", "/SYSADM/IocAge", r#"{"action": "listjails"}"#)
        .await;
    assert_eq!(status, 200, "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn rpc_query_lists_every_class_served_on_both_transports() {
    let server = TestServer::start().await;
    let expected = json!({"sysadm/iocage": "read/write", "rpc/dispatcher": "read",
                          "rpc/capabilities": "read", "rpc/keys": "read/write"});
    let mut client = server.ws().await;
    let reply = client.call(rpc("q", "query", json!({}))).await;
    assert_eq!(reply["args"], expected, "{reply}");
    let (status, reply) = server.rest("PUT", "/rpc/query", "{}").await;
    assert_eq!(status, 200);
    assert_eq!(reply["args"], expected, "{reply}");
    // And each class listed answers.
    let (status, reply) = server
        .rest("PUT", "/rpc/dispatcher", r#"{"action": "list"}"#)
        .await;
    assert_eq!(status, 200, "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let server = TestServer::start().await;
    let auth = basic("admin", ADMIN_PASSWORD);
    let headers = [("authorization", auth.as_str())];
    for path in ["/rpc/identify", "/rpc/query"] {
        let (get_status, get_headers, get_body) =
            http(server.addr, "GET", path, &headers, "").await;
        let (status, head_headers, body) = http(server.addr, "HEAD", path, &headers, "").await;
        assert_eq!(status, get_status, "{path}");
        assert_eq!(status, 200, "{path}");
        assert!(body.is_empty(), "{path}: HEAD sent a body");
        assert!(!get_body.is_empty());
        assert_eq!(
            head_headers["content-length"], get_headers["content-length"],
            "{path}"
        );
        assert_eq!(head_headers["content-type"], "application/json");
    }
    let (status, _, body) = http(server.addr, "HEAD", "/sysadm/iocage", &[], "").await;
    assert_eq!(status, 401, "HEAD is authenticated like GET");
    assert!(body.is_empty());
    server.stop().await;
}

// ---- 5. TLS ----

fn tls_client(cert: &std::path::Path, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert).expect("certificate file") {
        roots.add(cert.expect("certificate")).expect("trusted");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_server() -> TestServer {
    TestServer::start_with(|config| config.tls = TlsChoice::SelfSigned, None).await
}

#[tokio::test]
async fn a_client_offering_only_http_1_0_is_served() {
    let server = tls_server().await;
    let connector = tls_client(&server.state.path().join("tls/cert.pem"), &[b"http/1.0"]);
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .expect("the handshake accepts ALPN http/1.0");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.0"[..]));
    tls.write_all(b"GET /rpc/identify HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.0 200 OK\r\n"), "{response}");
    assert!(response.contains(r#""type":"server""#), "{response}");
    server.stop().await;
}

#[tokio::test]
async fn plain_http_on_a_tls_port_gets_a_readable_400() {
    let server = tls_server().await;
    for request in [
        &b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\r\n"[..],
        &b"PUT /sysadm/iocage HTTP/1.1\r\nHost: localhost\r\nContent-Length: 22\r\n\r\n{\"action\":\"listjails\"}"[..],
    ] {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(request).await.unwrap();
        let mut response = String::new();
        tokio::time::timeout(Duration::from_secs(10), tcp.read_to_string(&mut response))
            .await
            .expect("answered and closed")
            .expect("no reset");
        assert!(
            response.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{response}"
        );
        assert!(
            response.contains("content-type: text/plain")
                || response.contains("Content-Type: text/plain"),
            "{response}"
        );
        assert!(
            response.ends_with("this port speaks TLS; use https:// or wss://\r\n"),
            "{response}"
        );
    }
    // TLS clients are unaffected.
    let connector = tls_client(&server.state.path().join("tls/cert.pem"), &[b"http/1.1"]);
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.expect("TLS still works");
    server.stop().await;
}

// ---- 6. CORS ----

const ORIGIN: &str = "https://admin.example.org";

#[tokio::test]
async fn an_allowed_origin_gets_preflight_and_response_headers_and_no_other_does() {
    let server = TestServer::start_with(
        |config| config.http.allowed_origins = vec![ORIGIN.to_owned()],
        None,
    )
    .await;
    let preflight = [
        ("origin", ORIGIN),
        ("access-control-request-method", "PUT"),
        (
            "access-control-request-headers",
            "authorization, content-type",
        ),
    ];
    let (status, headers, _) = http(server.addr, "OPTIONS", "/sysadm/iocage", &preflight, "").await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(headers["vary"], "Origin");
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    for method in ["GET", "HEAD", "POST", "PUT"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );

    let auth = basic("admin", ADMIN_PASSWORD);
    let request = [("origin", ORIGIN), ("authorization", auth.as_str())];
    let (status, headers, body) = http(
        server.addr,
        "PUT",
        "/sysadm/iocage",
        &request,
        r#"{"action": "listjails"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(headers["vary"], "Origin");
    // Errors carry them too, so the page can read the error body.
    let (status, headers, _) = http(
        server.addr,
        "PUT",
        "/sysadm/iocage",
        &[("origin", ORIGIN)],
        "{}",
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);

    for other in [
        "https://evil.example",
        "https://admin.example.org.evil.example",
        "null",
    ] {
        let preflight = [("origin", other), ("access-control-request-method", "PUT")];
        let (_, headers, _) = http(server.addr, "OPTIONS", "/sysadm/iocage", &preflight, "").await;
        assert_no_cors(&headers, other);
        let request = [("origin", other), ("authorization", auth.as_str())];
        let (status, headers, _) = http(
            server.addr,
            "PUT",
            "/sysadm/iocage",
            &request,
            r#"{"action": "listjails"}"#,
        )
        .await;
        assert_eq!(status, 200);
        assert_no_cors(&headers, other);
    }
    server.stop().await;
}

fn assert_no_cors(headers: &HeaderMap, origin: &str) {
    let cors: Vec<_> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "origin {origin} got {cors:?}");
}

#[tokio::test]
async fn without_allowed_origins_no_cors_headers_are_sent() {
    let server = TestServer::start().await;
    let preflight = [("origin", ORIGIN), ("access-control-request-method", "PUT")];
    let (status, headers, _) = http(server.addr, "OPTIONS", "/sysadm/iocage", &preflight, "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_no_cors(&headers, ORIGIN);
    assert!(!headers.contains_key("vary"));
    server.stop().await;
}

#[test]
fn allowed_origins_must_be_origins() {
    let state = tempfile::tempdir().unwrap();
    for (text, expected) in [
        ("*", "no http:// or https:// scheme"),
        ("admin.example.org", "no http:// or https:// scheme"),
        ("https://admin.example.org/", "is not an origin"),
        ("https://*.example.org", "is not an origin"),
        ("https://", "is not an origin"),
    ] {
        let path = state.path().join("sysadmd.toml");
        std::fs::write(&path, format!("[http]\nallowed_origins = [{text:?}]\n")).unwrap();
        let args = sysadmd::ServeArgs {
            config: Some(path),
            state_dir: Some(state.path().to_owned()),
            ..Default::default()
        };
        let error = sysadmd::Config::resolve(&args).unwrap_err().to_string();
        assert!(error.contains(expected), "{text}: {error}");
    }
    let path = state.path().join("good.toml");
    std::fs::write(
        &path,
        "[http]\nallowed_origins = [\"https://admin.example.org\", \"http://localhost:8080\", \"http://[::1]:3000\"]\n",
    )
    .unwrap();
    let args = sysadmd::ServeArgs {
        config: Some(path),
        state_dir: Some(state.path().to_owned()),
        ..Default::default()
    };
    let config = sysadmd::Config::resolve(&args).unwrap();
    assert_eq!(config.http.allowed_origins.len(), 3);
}
