//! The real `sysadmd` binary: it prints where it listens, serves, stops
//! cleanly on SIGTERM, and refuses bad configuration with one clear line.

mod support;

use std::process::{Child, Command};
use std::time::Duration;

use hyper::StatusCode;
use support::daemon::{Daemon, spawn_daemon, sysadmd};
use support::{basic, rest_call};

const PASSWORD: &str = support::daemon::PASSWORD;

/// Starts the daemon on two port-0 addresses and reads its banner up to the last line.
fn spawn() -> Daemon {
    spawn_with_config(None)
}

/// Like [`spawn`], with a configuration file.
fn spawn_with_config(config_text: Option<&str>) -> Daemon {
    spawn_daemon(
        &[
            "--plaintext",
            "--listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
        ],
        config_text,
    )
}

fn terminate(child: &Child) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
}

fn wait_with_limit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sysadmd did not exit in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn serves_on_every_address_and_stops_cleanly_on_sigterm() {
    let mut daemon = spawn();
    assert_eq!(daemon.addrs.len(), 2, "banner: {:#?}", daemon.banner);
    assert!(
        daemon.banner[0].contains("simulated iocage host (no iocage program on PATH)"),
        "the banner says which backend and why: {:#?}",
        daemon.banner
    );
    let auth = basic("admin", PASSWORD);
    for addr in &daemon.addrs {
        let (status, reply) = rest_call(
            *addr,
            "PUT",
            "/sysadm/iocage",
            r#"{"action": "listjails"}"#,
            Some(&auth),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert!(reply["args"]["listjails"].is_object());
    }

    // Requests in flight while SIGTERM arrives still get whole answers.
    let addr = daemon.addrs[0];
    let mut requests = Vec::new();
    for _ in 0..20 {
        let auth = auth.clone();
        requests.push(tokio::spawn(async move {
            rest_call(
                addr,
                "PUT",
                "/sysadm/iocage",
                r#"{"action": "df"}"#,
                Some(&auth),
            )
            .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    terminate(&daemon.child);
    for request in requests {
        // Either answered in full, or (sent after the listener closed) never accepted:
        // a request that was accepted is never cut off. rest_call panics on a torn reply.
        if let Ok((status, reply)) = request.await {
            assert_eq!(status, StatusCode::OK, "{reply}");
        }
    }
    let status = wait_with_limit(&mut daemon.child, Duration::from_secs(20));
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn sigterm_lets_a_slow_request_in_flight_finish_and_exits_zero() {
    // Every simulated operation takes 1.5 s, like jail creation on a real host.
    let mut daemon = spawn_with_config(Some("[sim]\nlatency_ms = 1500\n"));
    let addr = daemon.addrs[0];
    let mut watcher = support::WsClient::connect(addr).await;
    let login = watcher
        .call(
            serde_json::json!({"namespace": "rpc", "name": "auth", "id": "login",
                                 "args": {"username": "admin", "password": PASSWORD}}),
        )
        .await;
    assert_eq!(login["name"], "response", "{login}");
    watcher
        .call(support::subscribe("s", serde_json::json!("dispatcher")))
        .await;

    let auth = basic("admin", PASSWORD);
    let request = tokio::spawn(async move {
        rest_call(
            addr,
            "PUT",
            "/sysadm/iocage",
            r#"{"action": "createjail", "props": "tag=late"}"#,
            Some(&auth),
        )
        .await
    });
    // The job has started (its running event), and will take 1.5 s more.
    let event = support::next_event(&mut watcher).await;
    assert_eq!(event["args"]["state"], "running", "{event}");
    assert_eq!(event["args"]["action"], "createjail", "{event}");
    terminate(&daemon.child);

    let (status, reply) = request.await.expect("request task");
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(
        reply["args"]["createjail"]["success"]["Successfully created"]
            .as_str()
            .is_some_and(|text| text.ends_with("(late)")),
        "{reply}"
    );
    // The WebSocket is closed with a close frame that says why.
    let (code, reason) = watcher.close_reason().await.expect("a close frame");
    assert_eq!(code, 1001, "{reason}");
    let status = wait_with_limit(&mut daemon.child, Duration::from_secs(20));
    assert!(status.success(), "exit status {status}");
}

fn start_failure(args: &[&str], config_text: Option<&str>) -> String {
    let state = tempfile::tempdir().unwrap();
    let mut command = sysadmd(args, state.path());
    if let Some(text) = config_text {
        let path = state.path().join("sysadmd.toml");
        std::fs::write(&path, text).unwrap();
        command.arg("--config").arg(path);
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(1), "start-up must fail");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {stderr:?}");
    lines[0].to_owned()
}

#[test]
fn bad_configuration_stops_start_up_with_one_clear_line() {
    let line = start_failure(
        &["--plaintext"],
        Some("listen = [\"127.0.0.1:0\"]\nlisten_backlog = 5\n"),
    );
    assert!(line.contains("unknown field `listen_backlog`"), "{line}");

    let line = start_failure(&[], Some("[limits]\nmax_body_bytes = \"big\"\n"));
    assert!(line.contains("sysadmd.toml"), "{line}");

    let line = start_failure(
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ],
        None,
    );
    assert!(
        line.contains("cannot read TLS certificate /nonexistent/cert.pem"),
        "{line}"
    );

    let line = start_failure(&["--plaintext", "--listen", "192.0.2.1:12150"], None);
    assert!(
        line.contains("refusing plaintext on non-loopback address 192.0.2.1:12150"),
        "{line}"
    );

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let line = start_failure(&["--plaintext", "--listen", &addr], None);
    assert!(line.contains(&format!("cannot listen on {addr}")), "{line}");
}

#[test]
fn help_explains_each_option() {
    let output = Command::new(env!("CARGO_BIN_EXE_sysadmd"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--config",
        "--listen",
        "--state-dir",
        "--backend",
        "--iocage",
        "--tls-cert",
        "--tls-key",
        "--plaintext",
    ] {
        assert!(help.contains(option), "--help mentions {option}:\n{help}");
    }
}
