//! TLS by default: a client that trusts the generated certificate speaks
//! https and wss; the certificate is reused across restarts; plaintext is
//! refused on a non-loopback address unless explicitly allowed.

mod support;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::{Value, json};
use support::{ADMIN_PASSWORD, TestServer, basic};
use sysadmd::{Config, ServeArgs, TlsChoice};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;

fn connector(cert_pem: &std::path::Path) -> TlsConnector {
    support::tls_connector(cert_pem)
}

async fn tls_server() -> TestServer {
    TestServer::start_with(|config| config.tls = TlsChoice::SelfSigned, None).await
}

#[tokio::test]
async fn https_and_wss_with_the_generated_certificate() {
    let server = tls_server().await;
    let cert = server.state.path().join("tls/cert.pem");
    let connector = connector(&cert);
    let name = ServerName::try_from("localhost").unwrap();

    // REST over https.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let tls = connector
        .connect(name.clone(), tcp)
        .await
        .expect("TLS handshake");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::builder()
        .method("PUT")
        .uri("/sysadm/iocage")
        .header("host", "localhost")
        .header("authorization", basic("admin", ADMIN_PASSWORD))
        .body(Full::new(Bytes::from_static(br#"{"action": "listjails"}"#)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert!(body["args"]["listjails"].is_object(), "{body}");

    // WebSocket over wss.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let (mut socket, _) =
        tokio_tungstenite::client_async(format!("wss://localhost:{}/", server.addr.port()), tls)
            .await
            .expect("wss upgrade");
    let request = json!({"namespace": "rpc", "name": "identify", "id": 7, "args": {}});
    socket
        .send(Message::text(request.to_string()))
        .await
        .unwrap();
    let reply = loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(text) => break serde_json::from_str::<Value>(text.as_str()).unwrap(),
            _ => continue,
        }
    };
    assert_eq!(reply["id"], 7, "numeric ids are echoed as numbers: {reply}");
    assert_eq!(reply["args"]["type"], "server");
    server.stop().await;
}

#[tokio::test]
async fn a_client_trusting_another_certificate_cannot_connect() {
    let server = tls_server().await;
    let other = tls_server().await;
    let connector = connector(&other.state.path().join("tls/cert.pem"));
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let result = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(
        result.is_err(),
        "the handshake must fail against an unknown certificate"
    );
    other.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn the_certificate_is_generated_once_and_reused() {
    let state = tempfile::tempdir().unwrap();
    let args = ServeArgs {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        state_dir: Some(state.path().to_owned()),
        ..ServeArgs::default()
    };
    let config = Config::resolve(&args).unwrap();
    assert_eq!(config.tls, TlsChoice::SelfSigned, "TLS is the default");
    let options = || sysadmd::StartOptions {
        admin_password: Some("x".into()),
        ..Default::default()
    };
    let first = sysadmd::start(&config, options()).await.unwrap();
    let fingerprint_line = |banner: &[String]| {
        banner
            .iter()
            .find(|line| line.contains("fingerprint"))
            .cloned()
            .expect("the banner names the fingerprint")
    };
    let first_line = fingerprint_line(&first.banner);
    assert!(first_line.contains("(generated now)"), "{first_line}");
    assert!(
        first
            .banner
            .iter()
            .any(|line| line.starts_with("listening on https://"))
    );
    drop(first);
    let second = sysadmd::start(&config, options()).await.unwrap();
    let second_line = fingerprint_line(&second.banner);
    assert!(!second_line.contains("(generated now)"), "{second_line}");
    let fingerprint = |line: &str| line.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(fingerprint(&first_line), fingerprint(&second_line));
}

#[test]
fn plaintext_on_a_public_address_needs_the_insecure_flag() {
    let state = tempfile::tempdir().unwrap();
    let mut args = ServeArgs {
        listen: vec!["0.0.0.0:12150".parse().unwrap()],
        state_dir: Some(state.path().to_owned()),
        plaintext: true,
        ..ServeArgs::default()
    };
    let error = Config::resolve(&args).unwrap_err().to_string();
    assert!(
        error.contains("refusing plaintext on non-loopback address 0.0.0.0:12150"),
        "{error}"
    );
    assert!(error.contains("--insecure-plaintext-on-network"), "{error}");
    args.insecure_plaintext_on_network = true;
    assert_eq!(Config::resolve(&args).unwrap().tls, TlsChoice::Plaintext);
    args.listen = vec![
        "127.0.0.1:12150".parse().unwrap(),
        "[::1]:12151".parse().unwrap(),
    ];
    args.insecure_plaintext_on_network = false;
    assert_eq!(
        Config::resolve(&args).unwrap().tls,
        TlsChoice::Plaintext,
        "loopback is fine"
    );
}
