//! What a newcomer meets in the first hour: options that mean the same in
//! every position, a first start that cannot lose the generated password,
//! `sysadmd paths`, the user in REST log lines, plain logs in a pipe,
//! `Retry-After` with `sysadmd unblock`, and the password minimum.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{TestServer, basic, raw_rest_call, rest_call};
use sysadmd::{Cli, Command as Sub};

const LONG_PASSWORD: &str = "a-long-enough-password";

fn sysadmd(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sysadmd"));
    command
        .args(args)
        .env_remove("SYSADMD_STATE_DIR")
        .env_remove("SYSADMD_CONFIG")
        .env_remove("SYSADMD_LISTEN")
        .env_remove("SYSADMD_ADMIN_PASSWORD")
        .env("PATH", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn run_with_stdin(mut command: Command, stdin: &str) -> Output {
    let mut child = command.spawn().expect("sysadmd runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn users_of(state: &Path) -> String {
    std::fs::read_to_string(state.join("users.toml")).unwrap_or_default()
}

#[test]
fn state_dir_means_the_same_before_and_after_the_subcommand() {
    let root = tempfile::tempdir().unwrap();
    let positions: [&[&str]; 3] = [
        &["--state-dir", "{}", "user", "add", "ci", "--password-stdin"],
        &["user", "--state-dir", "{}", "add", "ci", "--password-stdin"],
        &["user", "add", "ci", "--password-stdin", "--state-dir", "{}"],
    ];
    for (n, position) in positions.iter().enumerate() {
        let state = root.path().join(format!("state{n}"));
        let state_text = state.to_str().unwrap();
        let args: Vec<&str> = position
            .iter()
            .map(|arg| if *arg == "{}" { state_text } else { arg })
            .collect();
        // HOME points elsewhere: a user written to the default directory would land there.
        let home = root.path().join(format!("home{n}"));
        let mut command = sysadmd(&args);
        command.env("HOME", &home).env_remove("XDG_DATA_HOME");
        let output = run_with_stdin(command, &format!("{LONG_PASSWORD}\n"));
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert_eq!(text(&output.stdout), "added user 'ci' (admin)\n");
        assert!(users_of(&state).contains("[users.ci]"), "{args:?}");
        assert!(
            !home.exists(),
            "{args:?} wrote to the default state directory"
        );
    }
}

#[test]
fn the_user_commands_read_the_state_dir_from_the_config_file() {
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("from-config");
    let config = root.path().join("sysadmd.toml");
    std::fs::write(
        &config,
        format!("state_dir = {:?}\n", state.to_str().unwrap()),
    )
    .unwrap();
    for position in [
        ["--config", config.to_str().unwrap(), "user", "add", "ci"],
        ["user", "add", "ci", "--config", config.to_str().unwrap()],
    ] {
        let _ = std::fs::remove_dir_all(&state);
        let mut args = position.to_vec();
        args.push("--password-stdin");
        let output = run_with_stdin(sysadmd(&args), &format!("{LONG_PASSWORD}\n"));
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert!(users_of(&state).contains("[users.ci]"), "{args:?}");
    }
    // A configuration file that does not exist is an error, never ignored.
    let output = run_with_stdin(
        sysadmd(&[
            "user",
            "list",
            "--config",
            "/nonexistent/sysadmd.toml",
            "--state-dir",
            state.to_str().unwrap(),
        ]),
        "",
    );
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("cannot read configuration file /nonexistent/sysadmd.toml"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn server_options_given_to_a_command_that_does_not_serve_are_refused() {
    for args in [
        &["sysadmd", "user", "list", "--listen", "127.0.0.1:1"][..],
        &["sysadmd", "--plaintext", "user", "list"],
        &["sysadmd", "paths", "--backend", "sim"],
        &[
            "sysadmd",
            "unblock",
            "--all",
            "--iocage",
            "/usr/local/bin/iocage",
        ],
    ] {
        let error = Cli::try_parse_checked(args).unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::ArgumentConflict,
            "{args:?}"
        );
        let message = error.to_string();
        assert!(message.contains("is a server option"), "{message}");
        assert!(message.contains("--config and --state-dir"), "{message}");
    }
    // Environment variables are the ambient configuration: they do not make a command fail.
    assert!(Cli::try_parse_checked(["sysadmd", "user", "list", "--state-dir", "/x"]).is_ok());
}

#[test]
fn server_options_mean_the_same_before_and_after_serve() {
    for args in [
        &[
            "sysadmd",
            "--listen",
            "127.0.0.1:7",
            "--state-dir",
            "/x",
            "serve",
        ][..],
        &[
            "sysadmd",
            "serve",
            "--listen",
            "127.0.0.1:7",
            "--state-dir",
            "/x",
        ],
        &[
            "sysadmd",
            "--listen",
            "127.0.0.1:7",
            "serve",
            "--state-dir",
            "/x",
        ],
        &["sysadmd", "--listen", "127.0.0.1:7", "--state-dir", "/x"],
    ] {
        let cli = Cli::try_parse_checked(args).unwrap();
        assert!(matches!(cli.command, None | Some(Sub::Serve)), "{args:?}");
        assert_eq!(cli.serve.listen, vec!["127.0.0.1:7".parse().unwrap()]);
        assert_eq!(cli.serve.state_dir.as_deref(), Some(Path::new("/x")));
    }
}

#[test]
fn listen_takes_host_names_and_comma_separated_lists() {
    let state = tempfile::tempdir().unwrap();
    let args = sysadmd::ServeArgs {
        listen: vec!["localhost:12150".parse().unwrap()],
        state_dir: Some(state.path().to_owned()),
        ..Default::default()
    };
    let config = sysadmd::Config::resolve(&args).unwrap();
    assert!(!config.listen.is_empty());
    assert!(
        config
            .listen
            .iter()
            .all(|addr| addr.ip().is_loopback() && addr.port() == 12150),
        "{:?}",
        config.listen
    );
    let cli = Cli::try_parse_checked(["sysadmd", "--listen", "127.0.0.1:1,[::1]:2"]).unwrap();
    assert_eq!(cli.serve.listen.len(), 2);
    for bad in ["12150", "localhost", "localhost:http", ":12150", "a:b:c"] {
        let error = bad.parse::<sysadmd::ListenAddr>().unwrap_err().to_string();
        assert!(
            error.contains("use IP:PORT, [IPv6]:PORT or HOST:PORT"),
            "{bad}: {error}"
        );
    }
}

/// Runs the real daemon in `state` until its banner is complete; returns the
/// banner, or the whole output if it exited instead.
fn start_daemon(state: &Path, listen: &str) -> (Result<std::process::Child, Output>, Vec<String>) {
    let mut command = sysadmd(&[
        "--plaintext",
        "--listen",
        listen,
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    command.stdin(Stdio::null()).env("RUST_LOG", "warn");
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut banner = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.starts_with("audit log:");
        banner.push(line);
        if done {
            return (Ok(child), banner);
        }
    }
    let output = child.wait_with_output().unwrap();
    (Err(output), banner)
}

fn terminate(child: &std::process::Child) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
}

fn stop(mut child: std::process::Child) {
    terminate(&child);
    child.wait().unwrap();
}

#[test]
fn a_failed_first_start_creates_no_user_and_the_next_start_shows_the_password() {
    let state = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let (result, _) = start_daemon(state.path(), &busy_addr);
    let output = result.expect_err("the port is busy");
    assert!(
        text(&output.stderr).contains(&format!("cannot listen on {busy_addr}")),
        "{}",
        text(&output.stderr)
    );
    assert!(!state.path().join("users.toml").exists(), "no user yet");
    assert!(!state.path().join("admin-password.txt").exists());
    drop(busy);

    let (child, banner) = start_daemon(state.path(), "127.0.0.1:0");
    let child = child.expect("starts");
    let file = state.path().join("admin-password.txt");
    let password = std::fs::read_to_string(&file).unwrap();
    let password = password.trim_end();
    assert!(password.len() >= 12, "{password:?}");
    assert!(
        banner.iter().any(|line| line.starts_with(&format!(
            "created user 'admin' with a generated password, in {}",
            file.display()
        ))),
        "the banner names the password file: {banner:#?}"
    );
    assert!(
        !banner.iter().any(|line| line.contains(password)),
        "standard output is a pipe here (as under rc(8) and syslog): the password is not printed"
    );
    stop(child);

    // Every later start says where the first password is while the file exists.
    let (child, banner) = start_daemon(state.path(), "127.0.0.1:0");
    stop(child.expect("starts"));
    assert!(
        banner.iter().any(|line| line.contains(&format!(
            "the first password of 'admin' is in {}",
            file.display()
        ))),
        "{banner:#?}"
    );
    assert!(
        banner.iter().any(|line| line
            == &format!(
                "state directory: {} (`sysadmd paths` lists the files in it)",
                state.path().display()
            )),
        "{banner:#?}"
    );

    // Changing the password removes the file, and the banner stops naming it.
    let output = run_with_stdin(
        sysadmd(&[
            "user",
            "passwd",
            "admin",
            "--password-stdin",
            "--state-dir",
            state.path().to_str().unwrap(),
        ]),
        &format!("{LONG_PASSWORD}\n"),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("removed "),
        "{}",
        text(&output.stdout)
    );
    assert!(!file.exists());
    let (child, banner) = start_daemon(state.path(), "127.0.0.1:0");
    stop(child.expect("starts"));
    assert!(
        !banner
            .iter()
            .any(|line| line.contains("admin-password.txt")),
        "{banner:#?}"
    );
}

#[test]
fn paths_prints_one_path_for_scripts_or_all_with_names() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_str().unwrap();
    let output = run_with_stdin(sysadmd(&["paths", "state-dir", "--state-dir", dir]), "");
    assert!(output.status.success());
    assert_eq!(text(&output.stdout), format!("{dir}\n"));
    let output = run_with_stdin(sysadmd(&["--state-dir", dir, "paths", "tls-cert"]), "");
    assert_eq!(text(&output.stdout), format!("{dir}/tls/cert.pem\n"));
    let output = run_with_stdin(sysadmd(&["--state-dir", dir, "paths", "events"]), "");
    assert_eq!(text(&output.stdout), format!("{dir}/events.jsonl\n"));
    let output = run_with_stdin(sysadmd(&["--state-dir", dir, "paths", "idempotency"]), "");
    assert_eq!(text(&output.stdout), format!("{dir}/idempotency.jsonl\n"));
    let output = run_with_stdin(sysadmd(&["--state-dir", dir, "paths"]), "");
    let all = text(&output.stdout);
    for name in [
        "state-dir",
        "users",
        "keys",
        "admin-password",
        "tls-cert",
        "audit-log",
        "events",
        "idempotency",
        "simhost",
    ] {
        assert!(
            all.lines().any(|line| line.starts_with(name)),
            "{name} missing from:\n{all}"
        );
    }
}

#[test]
fn rest_log_lines_name_the_user_and_logs_in_a_pipe_have_no_colour() {
    let state = tempfile::tempdir().unwrap();
    let mut command = sysadmd(&[
        "--plaintext",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        state.path().to_str().unwrap(),
    ]);
    command
        .stdin(Stdio::null())
        .env("RUST_LOG", "info")
        .env("SYSADMD_ADMIN_PASSWORD", LONG_PASSWORD);
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut addr = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("listening on http://") {
            addr = rest.split('/').next().map(str::to_owned);
        }
        if line.starts_with("audit log:") {
            break;
        }
    }
    let addr = addr.expect("listening").parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, _) = runtime.block_on(rest_call(
        addr,
        "PUT",
        "/sysadm/iocage",
        r#"{"action":"listjails"}"#,
        Some(&basic("admin", LONG_PASSWORD)),
    ));
    assert_eq!(status, 200);
    terminate(&child);
    let output = child.wait_with_output().unwrap();
    let log = text(&output.stderr);
    let line = log
        .lines()
        .find(|line| line.contains("transport=\"rest\"") || line.contains("transport=rest"))
        .unwrap_or_else(|| panic!("a REST request line: {log}"));
    assert!(
        line.contains("user=\"admin\"") || line.contains("user=admin"),
        "{line}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "no escape codes in a pipe: {log:?}"
    );
}

#[tokio::test]
async fn a_blocked_client_gets_retry_after_and_an_admin_can_lift_the_block() {
    let server = TestServer::start_with(
        |config| {
            config.auth.max_failures = 2;
            config.auth.block_secs = 3600;
        },
        None,
    )
    .await;
    let wrong = basic("admin", "wrong");
    for _ in 0..2 {
        server_call(&server, &wrong).await;
    }
    let (status, headers, _) = server_call(&server, &wrong).await;
    assert_eq!(status, 429);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&retry), "Retry-After: {retry}");

    sysadmd::auth::request_unblock(server.state.path(), &["127.0.0.1".parse().unwrap()], false)
        .unwrap();
    // The server looks for the request at most once a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let right = basic("admin", support::ADMIN_PASSWORD);
    let (status, _, body) = server_call(&server, &right).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        !server.state.path().join("unblock").exists(),
        "the request is consumed"
    );
    let audit = std::fs::read_to_string(server.state.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"kind\":\"blocks_lifted\""), "{audit}");
    server.stop().await;
}

async fn server_call(
    server: &TestServer,
    authorization: &str,
) -> (hyper::StatusCode, hyper::HeaderMap, bytes::Bytes) {
    raw_rest_call(
        server.addr,
        "PUT",
        "/sysadm/iocage",
        r#"{"action":"listjails"}"#,
        Some(authorization),
    )
    .await
}

#[tokio::test]
async fn a_rest_request_without_a_body_says_how_the_api_is_called() {
    let server = TestServer::start().await;
    let (status, body) = rest_call(
        server.addr,
        "GET",
        "/sysadm/iocage",
        "",
        Some(&basic("admin", support::ADMIN_PASSWORD)),
    )
    .await;
    assert_eq!(status, 400);
    let details = body["args"]["details"].as_str().unwrap();
    assert!(details.contains("the request has no body"), "{details}");
    assert!(details.contains("PUT /sysadm/iocage"), "{details}");
    server.stop().await;
}
