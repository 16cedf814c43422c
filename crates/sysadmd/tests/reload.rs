//! Reloading a running server (SIGHUP): a new certificate for new
//! connections while open ones stay, users read at once, settings that need a
//! restart named, a broken file changing nothing; and an audit log that
//! survives rotation (newsyslog renames it) without losing a line.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use serde_json::{Value, json};
use support::{ADMIN_PASSWORD, TestServer, basic, iocage, rest_call};
use sysadmd::{Config, ServeArgs, StartOptions};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;

/// Writes a new self-signed certificate and key for `localhost`.
fn write_certificate(cert: &Path, key: &Path) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(cert, certified.cert.pem()).unwrap();
    std::fs::write(key, certified.signing_key.serialize_pem()).unwrap();
}

fn connector(cert_pem: &std::path::Path) -> TlsConnector {
    support::tls_connector(cert_pem)
}

/// Whether a client trusting only `cert_pem` completes a handshake with `addr`.
async fn trusts(addr: std::net::SocketAddr, cert_pem: &Path) -> bool {
    let tcp = TcpStream::connect(addr).await.unwrap();
    connector(cert_pem)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .is_ok()
}

#[tokio::test]
async fn reload_serves_a_new_certificate_keeps_open_connections_and_names_restart_settings() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    write_certificate(&cert, &key);
    let first_cert = dir.join("first-cert.pem");
    std::fs::copy(&cert, &first_cert).unwrap();
    let file = dir.join("sysadmd.toml");
    let text = format!(
        "listen = [\"127.0.0.1:0\"]\ntls_cert = {cert:?}\ntls_key = {key:?}\n",
        cert = cert.to_str().unwrap(),
        key = key.to_str().unwrap()
    );
    std::fs::write(&file, &text).unwrap();
    let args = ServeArgs {
        config: Some(file.clone()),
        state_dir: Some(dir.join("state")),
        ..ServeArgs::default()
    };
    let config = Config::resolve(&args).unwrap();
    let options = StartOptions {
        admin_password: Some(ADMIN_PASSWORD.to_owned()),
        ..StartOptions::default()
    };
    let started = sysadmd::start(&config, options).await.unwrap();
    let reloader = started.reloader(args.clone());
    let addr = started.server.local_addrs()[0];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(started.server.run(async {
        let _ = stopped.await;
    }));

    // A WebSocket opened (and logged in) under the first certificate.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = connector(&first_cert)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut socket, _) =
        tokio_tungstenite::client_async(format!("wss://localhost:{}/", addr.port()), tls)
            .await
            .unwrap();
    let call = |request: Value| Message::text(request.to_string());
    socket
        .send(call(
            json!({"namespace": "rpc", "name": "auth", "id": "login",
            "args": {"username": "admin", "password": ADMIN_PASSWORD}}),
        ))
        .await
        .unwrap();
    let _login = socket.next().await.unwrap().unwrap();

    // A user added to users.toml can log in right after the reload.
    let state_dir = dir.join("state");
    let mut input = std::io::Cursor::new(b"reloaded-user-password\n".to_vec());
    sysadmd::auth::run_user_command_with(
        &state_dir,
        sysadmd::auth::UserCommand::Add {
            name: "newcomer".to_owned(),
            role: sysadmd::auth::Role::Viewer,
            password_stdin: true,
            allow_weak: false,
        },
        &mut input,
        &mut Vec::new(),
        sysadmd::auth::HashParams::fast_for_tests(),
    )
    .unwrap();

    write_certificate(&cert, &key);
    let reloaded = reloader.reload().unwrap();
    assert!(reloaded.tls);
    assert!(
        reloaded.need_restart.is_empty(),
        "{:?}",
        reloaded.need_restart
    );
    assert!(
        trusts(addr, &cert).await,
        "new connections get the new certificate"
    );
    assert!(
        !trusts(addr, &first_cert).await,
        "and no longer the old one"
    );

    socket
        .send(call(
            json!({"namespace": "rpc", "name": "auth", "id": "newcomer",
            "args": {"username": "newcomer", "password": "reloaded-user-password"}}),
        ))
        .await
        .unwrap();
    let reply = loop {
        if let Message::Text(text) = socket.next().await.unwrap().unwrap() {
            break serde_json::from_str::<Value>(text.as_str()).unwrap();
        }
    };
    assert_eq!(reply["name"], "response", "the new user logs in: {reply}");

    // The connection opened before the reload is still served.
    socket
        .send(call(iocage("after", json!({"action": "listjails"}))))
        .await
        .unwrap();
    let reply = loop {
        if let Message::Text(text) = socket.next().await.unwrap().unwrap() {
            break serde_json::from_str::<Value>(text.as_str()).unwrap();
        }
    };
    assert_eq!(reply["id"], "after");
    assert_eq!(reply["name"], "response", "{reply}");

    // Settings that cannot change live are named.
    std::fs::write(&file, format!("{text}[limits]\nmax_connections = 7\n")).unwrap();
    let reloaded = reloader.reload().unwrap();
    assert_eq!(reloaded.need_restart, vec!["limits"]);

    // A broken file changes nothing: the error says why, the server keeps serving.
    std::fs::write(&file, "listen = [\n").unwrap();
    let error = format!("{:#}", reloader.reload().unwrap_err());
    assert!(error.contains("sysadmd.toml"), "{error}");
    assert!(trusts(addr, &cert).await);
    std::fs::write(&file, format!("{text}tls_cert_typo = 1\n")).unwrap();
    assert!(reloader.reload().is_err(), "an unknown key is an error too");

    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test]
async fn an_audit_log_renamed_by_rotation_loses_no_line() {
    let server = TestServer::start().await;
    let log = server.state.path().join("audit.jsonl");
    let rotated = server.state.path().join("audit.jsonl.0");
    let admin = basic("admin", ADMIN_PASSWORD);
    let changes = 40;
    let addr = server.addr;
    let writer = tokio::spawn(async move {
        for n in 0..changes {
            let body = json!({"action": "createjail", "props": format!("tag=rot{n} release=10.2-RELEASE")});
            let (status, reply) = rest_call(
                addr,
                "PUT",
                "/sysadm/iocage",
                &body.to_string(),
                Some(&admin),
            )
            .await;
            assert_eq!(status, 200, "{reply}");
        }
    });
    let count = |path: &Path| {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|line| {
                line.contains("\"kind\":\"job\"") && line.contains("\"action\":\"createjail\"")
            })
            .count()
    };
    // Rotate while the changes are being made, as newsyslog would.
    while count(&log) < 5 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    std::fs::rename(&log, &rotated).unwrap();
    writer.await.unwrap();
    let (old, new) = (count(&rotated), count(&log));
    assert!(
        old >= 5 && new >= 1,
        "both files have records: {old} + {new}"
    );
    assert_eq!(
        old + new,
        changes,
        "every acknowledged change is recorded once"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o600,
        "the new file is private too"
    );
    server.stop().await;
}

#[test]
fn sighup_to_the_binary_reloads_and_says_so_in_one_line() {
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("sysadmd.toml");
    std::fs::write(&file, "listen = [\"127.0.0.1:0\"]\nplaintext = true\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sysadmd"))
        .arg("--config")
        .arg(&file)
        .arg("--state-dir")
        .arg(state.path())
        .env("SYSADMD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("PATH", "/nonexistent")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().starts_with("audit log:") {
            break;
        }
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    let signal = |signal| rustix::process::kill_process(pid, signal).unwrap();
    // A changed listen address needs a restart: the reload names it.
    std::fs::write(&file, "listen = [\"127.0.0.1:1\"]\nplaintext = true\n").unwrap();
    signal(rustix::process::Signal::HUP);
    std::thread::sleep(Duration::from_millis(500));
    // A broken file: the reload fails, the server goes on.
    std::fs::write(&file, "plaintext = \"yes\"\n").unwrap();
    signal(rustix::process::Signal::HUP);
    std::thread::sleep(Duration::from_millis(500));
    signal(rustix::process::Signal::TERM);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "still running until SIGTERM: {output:?}"
    );
    let log = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = log.lines().filter(|line| line.contains("SIGHUP")).collect();
    assert_eq!(lines.len(), 2, "one line per reload: {log}");
    assert!(
        lines[0].contains("take effect only after a restart") && lines[0].contains("listen"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("reload (SIGHUP) failed; the running configuration is unchanged"),
        "{}",
        lines[1]
    );
}
