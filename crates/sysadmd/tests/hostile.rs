//! Hostile clients (issue 16): each attack that once took the host's
//! management away, run against a real server on loopback, bounded in count
//! and time, with a pass/fail check that the legitimate client is still served.
//! The latencies and memory under the same attacks are measured by
//! `cargo xtask bench`, not asserted here.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use serde_json::json;
use support::{ADMIN_PASSWORD, TestServer, WsClient, basic, iocage, rest_call};
use sysadmd::TlsChoice;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;

/// The resident memory of this process (server and clients), in bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// A client frame (masked, as clients must send them).
fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, byte)| byte ^ mask[i % 4]),
    );
    frame
}

/// Sends a WebSocket upgrade and reads the 101 reply.
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0; 1];
        stream.read_exact(&mut byte).await.expect("upgrade reply");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
}

/// Sends pings as fast as it can and never reads, up to `max_pings`. Returns
/// how many were sent before the server closed the connection (`None` if it
/// never did).
async fn ping_flood<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    max_pings: usize,
) -> Option<usize> {
    upgrade(&mut stream).await;
    let ping = masked_frame(0x9, &[0x55; 125]);
    let batch: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 100)
        .collect();
    let mut sent = 0;
    while sent < max_pings {
        match tokio::time::timeout(Duration::from_secs(10), stream.write_all(&batch)).await {
            Ok(Ok(())) => sent += 100,
            Ok(Err(_)) => return Some(sent),
            // The server stopped reading and the buffers are full: it has
            // either closed (the next write fails) or is stuck.
            Err(_) => return None,
        }
    }
    None
}

/// A TCP connection to `server` from the loopback address `source`.
async fn connect_from(source: std::net::IpAddr, server: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((source, 0).into()).unwrap();
    socket.connect(server).await.expect("connect")
}

/// A test server, with its self-signed certificate if `tls`.
async fn start_server(tls: bool) -> TestServer {
    TestServer::start_with(
        |config| {
            if tls {
                config.tls = TlsChoice::SelfSigned;
            }
        },
        None,
    )
    .await
}

fn tls_connector(server: &TestServer) -> TlsConnector {
    support::tls_connector(&server.state.path().join("tls/cert.pem"))
}

/// A ping flood before login, plaintext and TLS: the server closes the
/// flooder long before its pings (or the pongs owed) add up, and memory stays flat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_is_closed_and_memory_stays_bounded() {
    for tls in [false, true] {
        let server = start_server(tls).await;
        let before = rss_bytes();
        let flooder: std::net::IpAddr = [127, 0, 0, 9].into();
        let tcp = connect_from(flooder, server.addr).await;
        // 200,000 pings of 125 bytes: 25 MB of pongs owed if each were queued.
        let sent = if tls {
            let name = ServerName::try_from("localhost").unwrap();
            let stream = tls_connector(&server).connect(name, tcp).await.unwrap();
            ping_flood(stream, 200_000).await
        } else {
            ping_flood(tcp, 200_000).await
        };
        let grown = rss_bytes().saturating_sub(before);
        let sent = sent.unwrap_or_else(|| panic!("tls {tls}: the flooder was never closed"));
        assert!(sent < 200_000, "tls {tls}: {sent} pings");
        assert!(grown < 64 << 20, "tls {tls}: memory grew by {grown} bytes");
        // The flooder's address may not come straight back: a new
        // connection from it is reset before a byte is read (the reset may
        // even beat the connect's own completion)...
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((flooder, 0).into()).unwrap();
        match socket.connect(server.addr).await {
            Err(error) => assert_eq!(
                error.kind(),
                std::io::ErrorKind::ConnectionReset,
                "tls {tls}: {error}"
            ),
            Ok(mut again) => {
                again
                    .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .ok();
                let mut byte = [0u8; 1];
                let read =
                    tokio::time::timeout(Duration::from_secs(5), again.read(&mut byte)).await;
                assert!(
                    matches!(read, Ok(Ok(0) | Err(_))),
                    "tls {tls}: the flooder's address was served again at once: {read:?}"
                );
            }
        }
        // ...while the server serves others.
        if !tls {
            let (status, _) = server
                .rest("PUT", "/sysadm/iocage", r#"{"action": "listjails"}"#)
                .await;
            assert_eq!(status, 200);
        }
        server.stop().await;
    }
}

/// Pings are no activity: a logged-in client that only pings is closed at
/// the idle timeout like one that sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_do_not_keep_a_connection_from_its_idle_timeout() {
    let server =
        TestServer::start_with(|config| config.limits.ws_idle_timeout_secs = 2, None).await;
    let mut client = server.ws().await;
    let pinger = async {
        loop {
            if client
                .socket
                .send(Message::Ping(vec![1].into()))
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    // Pinging ends when the server closes (within the idle timeout and the
    // close handshake); 30 s bounds a server that never does.
    tokio::time::timeout(Duration::from_secs(30), pinger)
        .await
        .expect("the pinging client is closed at its idle timeout");
    server.stop().await;
}

/// A client that sends requests and never reads its replies is first no
/// longer read, then closed; a well-behaved client meanwhile is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_closed() {
    let server =
        TestServer::start_with(|config| config.limits.ws_write_timeout_secs = 2, None).await;
    let mut hog = WsClient::connect_slow_reader(server.addr).await;
    // Far more replies than every buffer between us holds.
    const REQUESTS: usize = 20_000;
    let mut sent = 0;
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        for n in 0..REQUESTS {
            let request = iocage(&format!("r{n}"), json!({"action": "getdefaultsettings"}));
            if hog
                .socket
                .send(Message::text(request.to_string()))
                .await
                .is_err()
            {
                break;
            }
            sent += 1;
        }
    })
    .await;
    let (status, _) = server
        .rest("PUT", "/sysadm/iocage", r#"{"action": "listjails"}"#)
        .await;
    assert_eq!(status, 200, "others are served meanwhile");
    // Not reading for longer than the write timeout (2 s) gets it dropped:
    // reading what was queued then ends, long before every request was answered.
    tokio::time::sleep(Duration::from_secs(4)).await;
    hog.widen_receive_buffer();
    let mut replies = 0;
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(Ok(message)) = hog.socket.next().await {
            replies += usize::from(message.is_text());
        }
    })
    .await;
    assert!(ended.is_ok(), "a client that never read was not closed");
    assert!(
        replies < sent,
        "all {sent} requests were answered: the server kept reading"
    );
    server.stop().await;
}

/// Failed logins with a real (default) hash cost do not hold up a client
/// whose credentials are cached: hashing runs on blocking threads. The server
/// runs on one async worker, so a hash on the worker would stall everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn failing_logins_do_not_stall_requests_that_need_no_hash() {
    let server = TestServer::start_with(
        |config| {
            config.auth.max_failures = 0;
            config.auth.user_max_failures = 0;
            config.auth.password_checks_per_sec = 0;
        },
        None,
    )
    .await;
    let addr = server.addr;
    let admin = basic("admin", ADMIN_PASSWORD);
    let listjails = r#"{"action": "listjails"}"#;
    // The first call hashes; later ones use the cached credential.
    let (status, _) = rest_call(addr, "PUT", "/sysadm/iocage", listjails, Some(&admin)).await;
    assert_eq!(status, 200);

    const GUESSERS: usize = 24;
    let done = Arc::new(AtomicUsize::new(0));
    let mut guessers = Vec::new();
    for n in 0..GUESSERS {
        let done = done.clone();
        guessers.push(tokio::spawn(async move {
            let wrong = basic(&format!("guesser{n}"), "wrong");
            let (status, _) =
                rest_call(addr, "PUT", "/sysadm/iocage", listjails, Some(&wrong)).await;
            done.fetch_add(1, Ordering::SeqCst);
            status
        }));
    }
    // Let every guess reach the server before the legitimate request.
    tokio::task::yield_now().await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let before = done.load(Ordering::SeqCst);
    let (status, reply) = rest_call(addr, "PUT", "/sysadm/iocage", listjails, Some(&admin)).await;
    let finished_meanwhile = done.load(Ordering::SeqCst);
    assert_eq!(status, 200, "{reply}");
    assert!(reply["args"]["listjails"].is_object(), "{reply}");
    // Two hashes run at once; the cached request went past the queue of guesses.
    assert!(
        finished_meanwhile < GUESSERS / 2,
        "the cached request waited for {finished_meanwhile} of {GUESSERS} failing logins \
         ({before} had finished before it was sent)"
    );
    for guesser in guessers {
        assert_eq!(guesser.await.unwrap(), 401);
    }
    server.stop().await;
}

/// Raises the open-file limit: the churn test holds both ends of a few
/// thousand sockets in this process.
fn raise_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

/// One churning attacker: opens a WebSocket upgrade from `source` that never
/// logs in (after a TLS handshake, with `tls`), waits until the server drops
/// it, and opens another, until `stop`.
async fn churn(
    server: std::net::SocketAddr,
    source: std::net::IpAddr,
    tls: Option<TlsConnector>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> usize {
    let mut opened = 0;
    while !stop.load(Ordering::Relaxed) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((source, 0).into()).unwrap();
        let Ok(stream) = socket.connect(server).await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        opened += 1;
        match &tls {
            None => hold_unauthenticated(stream, &stop).await,
            Some(connector) => {
                let name = ServerName::try_from("localhost").unwrap();
                let handshake = connector.connect(name, stream);
                if let Ok(Ok(stream)) =
                    tokio::time::timeout(Duration::from_secs(30), handshake).await
                {
                    hold_unauthenticated(stream, &stop).await;
                }
            }
        }
    }
    opened
}

/// Sends a WebSocket upgrade and holds the connection without logging in,
/// until the server closes it (evicted, refused or its deadline) or `stop`.
async fn hold_unauthenticated<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    stop: &std::sync::atomic::AtomicBool,
) {
    let _ = stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await;
    let mut sink = [0; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while !stop.load(Ordering::Relaxed) {
            let read = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut sink));
            if let Ok(Ok(0) | Err(_)) = read.await {
                break;
            }
        }
    })
    .await;
}

/// 1,100 WebSocket upgrades that never log in, from 20 addresses, reopened as
/// they close: a logged-in WebSocket and new REST connections of a client on
/// another address are all answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_churn_does_not_keep_authenticated_clients_out() {
    slot_churn(false).await;
}

/// The same over TLS: the attackers complete TLS handshakes (the costly
/// part) before their upgrades, and so do the legitimate client's connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_churn_over_tls_does_not_keep_authenticated_clients_out() {
    slot_churn(true).await;
}

type TlsWebSocket = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// A legitimate client of the slot churn scenario, over TLS or not.
enum Legitimate {
    Plain(Box<WsClient>),
    Tls(TlsConnector, Box<TlsWebSocket>),
}

impl Legitimate {
    async fn connect(server: &TestServer, tls: bool) -> Legitimate {
        if !tls {
            return Legitimate::Plain(Box::new(server.ws().await));
        }
        let connector = tls_connector(server);
        let stream = Self::tls_stream(&connector, server.addr).await;
        let (mut socket, _) = tokio_tungstenite::client_async("wss://localhost/", stream)
            .await
            .expect("WebSocket over TLS connects");
        let login = json!({"namespace": "rpc", "name": "auth", "id": "login",
                           "args": {"username": "admin", "password": ADMIN_PASSWORD}});
        let reply = Self::tls_call(&mut socket, login).await;
        assert_eq!(reply["name"], "response", "login failed: {reply}");
        Legitimate::Tls(connector, Box::new(socket))
    }

    async fn tls_stream(
        connector: &TlsConnector,
        addr: std::net::SocketAddr,
    ) -> tokio_rustls::client::TlsStream<TcpStream> {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::try_from("localhost").unwrap();
        connector.connect(name, tcp).await.expect("TLS handshake")
    }

    async fn tls_call(socket: &mut TlsWebSocket, request: serde_json::Value) -> serde_json::Value {
        let id = request["id"].clone();
        socket
            .send(Message::text(request.to_string()))
            .await
            .expect("send");
        while let Some(message) = socket.next().await {
            if let Message::Text(text) = message.expect("receive") {
                let reply: serde_json::Value = serde_json::from_str(&text).expect("JSON reply");
                if reply["id"] == id {
                    return reply;
                }
            }
        }
        panic!("the connection closed before the reply to {id}");
    }

    /// `listjails` on the logged-in WebSocket.
    async fn ws_listjails(&mut self, id: &str) -> serde_json::Value {
        let request = iocage(id, json!({"action": "listjails"}));
        match self {
            Legitimate::Plain(client) => client.call(request).await,
            Legitimate::Tls(_, socket) => Self::tls_call(socket, request).await,
        }
    }

    /// `listjails` over REST on a new connection; the status and body.
    async fn rest_listjails(&self, addr: std::net::SocketAddr) -> (u16, String) {
        let admin = basic("admin", ADMIN_PASSWORD);
        let listjails = r#"{"action": "listjails"}"#;
        match self {
            Legitimate::Plain(_) => {
                let (status, reply) =
                    rest_call(addr, "PUT", "/sysadm/iocage", listjails, Some(&admin)).await;
                (status.as_u16(), reply.to_string())
            }
            Legitimate::Tls(connector, _) => {
                let mut stream = Self::tls_stream(connector, addr).await;
                let request = format!(
                    "PUT /sysadm/iocage HTTP/1.1\r\nHost: localhost\r\nAuthorization: {admin}\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{listjails}",
                    listjails.len()
                );
                stream.write_all(request.as_bytes()).await.expect("send");
                let mut reply = Vec::new();
                let _ = stream.read_to_end(&mut reply).await;
                let reply = String::from_utf8_lossy(&reply).into_owned();
                let status = reply
                    .split(' ')
                    .nth(1)
                    .and_then(|code| code.parse().ok())
                    .unwrap_or(0);
                (status, reply)
            }
        }
    }
}

async fn slot_churn(tls: bool) {
    raise_file_limit();
    let server = start_server(tls).await;
    let addr = server.addr;
    let mut legitimate = Legitimate::connect(&server, tls).await;
    let (status, reply) = legitimate.rest_listjails(addr).await;
    assert_eq!(status, 200, "{reply}");
    let attacker_tls = tls.then(|| tls_connector(&server));

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attackers: Vec<_> = (0..1100u32)
        .map(|n| {
            let source = std::net::IpAddr::from([127, 0, 1, 2 + (n % 20) as u8]);
            tokio::spawn(churn(addr, source, attacker_tls.clone(), stop.clone()))
        })
        .collect();
    // Let the attack fill the unauthenticated budget.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut failures = Vec::new();
    for round in 0..10 {
        // A new connection each time, from 127.0.0.1.
        let rest =
            tokio::time::timeout(Duration::from_secs(10), legitimate.rest_listjails(addr)).await;
        match rest {
            Ok((200, _)) => {}
            Ok((status, reply)) => failures.push(format!("REST {round}: {status} {reply}")),
            Err(_) => failures.push(format!("REST {round}: no answer in 10 s")),
        }
        let id = format!("during-{round}");
        let reply =
            tokio::time::timeout(Duration::from_secs(10), legitimate.ws_listjails(&id)).await;
        match reply {
            Ok(reply) if reply["args"]["listjails"].is_object() => {}
            Ok(reply) => failures.push(format!("WS {round}: {reply}")),
            Err(_) => failures.push(format!("WS {round}: no answer in 10 s")),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut opened = 0;
    for attacker in attackers {
        opened += attacker.await.unwrap();
    }
    assert!(failures.is_empty(), "tls {tls}: {failures:#?}");
    // The attack really churned: more connections than the 1,024 slots.
    assert!(
        opened > 1100,
        "tls {tls}: the attackers opened only {opened} connections"
    );
    server.stop().await;
}

/// A `Write` into a shared buffer, for capturing the server's log.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Full disk: when the audit log cannot be written, a change is refused
/// before it runs (503) on both transports, reads go on, and the server
/// logs the outage once, not per request.
#[tokio::test]
async fn an_unwritable_audit_log_refuses_changes_before_they_run() {
    let log = LogBuffer::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // The test's runtime has one thread: every server task logs here.
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = TestServer::start_with(
        // Every write to /dev/full fails with ENOSPC, as on a full disk.
        |config| config.audit_log = "/dev/full".into(),
        None,
    )
    .await;
    let jails = |reply: &serde_json::Value| {
        reply["args"]["listjails"]
            .as_object()
            .map(|jails| jails.len())
    };
    let (_, before) = server
        .rest("PUT", "/sysadm/iocage", r#"{"action": "listjails"}"#)
        .await;
    let create = json!({"action": "createjail", "props": "tag=unrecorded release=10.2-RELEASE"});
    for _ in 0..3 {
        let (status, reply) = server
            .rest("PUT", "/sysadm/iocage", &create.to_string())
            .await;
        assert_eq!(status, 503, "{reply}");
        let details = reply["args"]["details"].as_str().unwrap();
        assert!(details.starts_with("audit log unavailable"), "{details}");
        assert!(!details.contains("/dev/full"), "{details}");
    }
    let mut client = server.ws().await;
    let reply = client.call(iocage("c", create.clone())).await;
    assert_eq!(reply["args"]["code"], 503, "{reply}");
    let (status, after) = server
        .rest("PUT", "/sysadm/iocage", r#"{"action": "listjails"}"#)
        .await;
    assert_eq!(status, 200, "reads go on");
    assert_eq!(
        jails(&after),
        jails(&before),
        "nothing was created: {after}"
    );
    server.stop().await;
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text.matches("AUDIT LOG WRITE FAILED").count(),
        1,
        "the outage is logged once:\n{text}"
    );
}

/// Full disk for the simulated host's state: the reply says what failed,
/// never where the server keeps its files.
#[tokio::test]
async fn a_failed_save_names_no_server_path() {
    let server = TestServer::start().await;
    let simhost = server.state.path().join("simhost");
    std::fs::remove_dir_all(&simhost).unwrap();
    // A file where the directory was: saving the state fails (also as root).
    std::fs::write(&simhost, "").unwrap();
    let create = json!({"action": "createjail", "props": "tag=x release=10.2-RELEASE"});
    let (status, reply) = server
        .rest("PUT", "/sysadm/iocage", &create.to_string())
        .await;
    assert_eq!(status, 502, "{reply}");
    let text = reply.to_string();
    let state = server.state.path().to_str().unwrap();
    assert!(
        !text.contains(state),
        "the reply names the state directory: {text}"
    );
    assert!(!text.contains("/simhost"), "{text}");
    assert!(
        text.contains("could not save the simulated host's state"),
        "{text}"
    );
    server.stop().await;
}
