//! Shared test harness: an in-process sysadmd on port 0 with a temporary
//! state directory, and small REST and WebSocket clients.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use iocage_service::Backend;
use serde_json::{Value, json};
use sysadmd::{Config, ServeArgs, StartOptions};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod daemon;
pub mod slow_df;

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// A running in-process server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: tempfile::TempDir,
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Plaintext, simulated host, admin password [`ADMIN_PASSWORD`].
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}, None).await
    }

    /// Like [`TestServer::start`], with the configuration adjusted and an optional backend.
    pub async fn start_with(
        adjust: impl FnOnce(&mut Config),
        backend: Option<Arc<dyn Backend>>,
    ) -> TestServer {
        let state = tempfile::tempdir().expect("temp dir");
        let args = ServeArgs {
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            state_dir: Some(state.path().to_owned()),
            plaintext: true,
            ..ServeArgs::default()
        };
        let mut config = Config::resolve(&args).expect("test configuration");
        adjust(&mut config);
        let options = StartOptions {
            backend,
            admin_password: Some(ADMIN_PASSWORD.to_owned()),
            ..StartOptions::default()
        };
        let started = sysadmd::start(&config, options)
            .await
            .expect("server starts");
        let addr = started.server.local_addrs()[0];
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(started.server.run(async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            state,
            config,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
    }

    /// A REST call with the admin's Basic credentials.
    pub async fn rest(&self, method: &str, path: &str, body: &str) -> (StatusCode, Value) {
        let auth = basic("admin", ADMIN_PASSWORD);
        rest_call(self.addr, method, path, body, Some(&auth)).await
    }

    /// A WebSocket connection, logged in as admin.
    pub async fn ws(&self) -> WsClient {
        let mut client = WsClient::connect(self.addr).await;
        let reply = client
            .call(json!({"namespace": "rpc", "name": "auth", "id": "login",
                         "args": {"username": "admin", "password": ADMIN_PASSWORD}}))
            .await;
        assert_eq!(reply["name"], "response", "login failed: {reply}");
        client
    }
}

/// A TLS client that trusts only the certificates in `cert_pem`.
pub fn tls_connector(cert_pem: &std::path::Path) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert_pem).expect("certificate file") {
        roots.add(cert.expect("certificate")).expect("trusted");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// `Basic base64(user:password)`.
pub fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// One HTTP/1.1 request on a fresh connection.
pub async fn rest_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    authorization: Option<&str>,
) -> (StatusCode, Value) {
    let (status, _, bytes) = raw_rest_call(addr, method, path, body, authorization).await;
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            panic!(
                "reply is not JSON ({error}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    (status, value)
}

/// One HTTP/1.1 request; the status, headers and raw body.
pub async fn raw_rest_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    authorization: Option<&str>,
) -> (StatusCode, hyper::HeaderMap, Bytes) {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend(authorization.map(|value| ("authorization", value)));
    http_call(addr, method, path, &headers, body).await
}

/// One HTTP/1.1 request with these headers (and `host`) on a fresh
/// connection; the status, headers and raw body.
pub async fn http_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, hyper::HeaderMap, Bytes) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, headers, bytes)
}

/// A WebSocket client speaking JSON envelopes.
pub struct WsClient {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    /// Connects without logging in.
    pub async fn connect(addr: SocketAddr) -> WsClient {
        let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .expect("WebSocket connects");
        WsClient { socket }
    }

    /// Connects with a tiny socket receive buffer and logs in, for clients that must fall behind.
    pub async fn connect_slow_reader(addr: SocketAddr) -> WsClient {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(1024).expect("buffer size");
        let stream = socket.connect(addr).await.expect("connect");
        let (socket, _) =
            tokio_tungstenite::client_async(format!("ws://{addr}/"), MaybeTlsStream::Plain(stream))
                .await
                .expect("WebSocket connects");
        let mut client = WsClient { socket };
        let reply = client
            .call(json!({"namespace": "rpc", "name": "auth", "id": "login",
                         "args": {"username": "admin", "password": ADMIN_PASSWORD}}))
            .await;
        assert_eq!(reply["name"], "response", "login failed: {reply}");
        client
    }

    /// Lets a slow reader catch up quickly: a tiny receive window makes
    /// draining megabytes take minutes (one small segment per delayed ACK).
    pub fn widen_receive_buffer(&self) {
        if let MaybeTlsStream::Plain(stream) = self.socket.get_ref() {
            socket2::SockRef::from(stream)
                .set_recv_buffer_size(1 << 20)
                .expect("buffer size");
        }
    }

    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.expect("send");
    }

    /// The next JSON message (skipping pings), or `None` when the server closed.
    pub async fn recv(&mut self) -> Option<Value> {
        loop {
            let next = tokio::time::timeout(std::time::Duration::from_secs(30), self.socket.next())
                .await
                .expect("a message within 30 s")?;
            match next {
                Ok(Message::Text(text)) => {
                    return Some(serde_json::from_str(text.as_str()).expect("JSON message"));
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Sends a request and waits for the reply with the same id (events in between are skipped).
    pub async fn call(&mut self, request: Value) -> Value {
        let id = request["id"].clone();
        self.send(request).await;
        loop {
            let reply = self.recv().await.expect("a reply before close");
            let is_event = reply["namespace"] == "events"
                && reply["name"] != "response"
                && reply["name"] != "error";
            if is_event {
                continue;
            }
            assert_eq!(reply["id"], id, "reply to another request: {reply}");
            return reply;
        }
    }

    /// The close frame's code and reason, reading until the server closes.
    pub async fn close_reason(&mut self) -> Option<(u16, String)> {
        loop {
            let next = tokio::time::timeout(std::time::Duration::from_secs(30), self.socket.next())
                .await
                .expect("close within 30 s")?;
            match next {
                Ok(Message::Close(Some(frame))) => {
                    return Some((frame.code.into(), frame.reason.as_str().to_owned()));
                }
                Ok(Message::Close(None)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }
}

/// A `sysadm/iocage` WebSocket request.
pub fn iocage(id: &str, args: Value) -> Value {
    json!({"namespace": "sysadm", "name": "iocage", "id": id, "args": args})
}

/// An `events/subscribe` request.
pub fn subscribe(id: &str, args: Value) -> Value {
    json!({"namespace": "events", "name": "subscribe", "id": id, "args": args})
}

/// Reads messages until the next `dispatcher` event.
pub async fn next_event(client: &mut WsClient) -> Value {
    loop {
        let event = next_dispatcher_event(client).await;
        // Progress events (a slow job's steps) are looked at by tests of their own.
        if event["args"].get("progress").is_none() {
            return event;
        }
    }
}

/// The next `dispatcher` event, progress events included.
pub async fn next_dispatcher_event(client: &mut WsClient) -> Value {
    loop {
        let message = client.recv().await.expect("an event before close");
        if message["namespace"] == "events" && message["name"] == "dispatcher" {
            return message;
        }
    }
}

/// Adds a user with `sysadmd user add` (the command's own code) and waits
/// until the running server has read the users file again (the server must
/// allow some failed logins meanwhile).
pub async fn add_user(server: &TestServer, name: &str, role: sysadmd::auth::Role, password: &str) {
    use sysadmd::auth::{HashParams, UserCommand, run_user_command_with};
    let add = UserCommand::Add {
        name: name.to_owned(),
        role,
        password_stdin: true,
        allow_weak: true,
    };
    let mut input = std::io::Cursor::new(format!("{password}\n"));
    run_user_command_with(
        server.state.path(),
        add,
        &mut input,
        &mut Vec::new(),
        HashParams::default(),
    )
    .expect("user add");
    let header = basic(name, password);
    for _ in 0..50 {
        let (status, reply) =
            rest_call(server.addr, "PUT", "/rpc/query", "{}", Some(&header)).await;
        if status == 200 {
            return;
        }
        assert_eq!(status, 401, "{reply}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the server never saw user {name}");
}
