//! sysadmd itself pointed at an iocage program (the fake, linked as
//! `iocage`, the way an administrator points it at `/usr/local/bin/iocage`):
//! start-up asks the program for its flavour and says so, and requests over
//! WebSocket run iocage processes.

use std::net::SocketAddr;
use std::path::Path;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sysadmd::{BackendChoice, Config, ServeArgs, StartOptions};
use tokio_tungstenite::tungstenite::Message;

const FAKE: &str = env!("CARGO_BIN_EXE_fake-iocage");
const PASSWORD: &str = "through sysadmd";

fn config(state: &Path, backend: BackendChoice, iocage: &Path) -> Config {
    let args = ServeArgs {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        state_dir: Some(state.to_owned()),
        plaintext: true,
        backend: Some(backend),
        iocage: Some(iocage.to_owned()),
        ..ServeArgs::default()
    };
    Config::resolve(&args).expect("configuration")
}

fn options() -> StartOptions {
    StartOptions {
        backend: None,
        admin_password: Some(PASSWORD.to_owned()),
        ..StartOptions::default()
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn call(socket: &mut Socket, id: &str, namespace: &str, name: &str, args: Value) -> Value {
    let request = json!({"namespace": namespace, "name": name, "id": id, "args": args});
    socket
        .send(Message::text(request.to_string()))
        .await
        .expect("send");
    loop {
        let message = socket.next().await.expect("a reply").expect("a frame");
        if let Message::Text(text) = message {
            let reply: Value = serde_json::from_str(text.as_str()).expect("JSON");
            if reply["id"] == id {
                return reply;
            }
        }
    }
}

async fn iocage(socket: &mut Socket, args: Value) -> Value {
    let reply = call(socket, "r", "sysadm", "iocage", args.clone()).await;
    assert_eq!(reply["name"], "response", "{args}: {reply}");
    reply["args"].clone()
}

#[tokio::test]
async fn an_iocage_version_that_is_not_driven_stops_the_start_with_one_line() {
    use std::os::unix::fs::PermissionsExt;
    let host = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    for (version, shown) in [
        (
            "iocage 1.7.3 (2015/08/13)",
            "legacy iocage 1.7.3 is not supported (",
        ),
        (
            "Version\t0.9.10 2017/12/22",
            "Python iocage 0.9.10 2017/12/22 is not supported (",
        ),
    ] {
        // What those versions print for `--version` (iocage@v1.7.3:33,
        // iocage/main.py@67cf40f2:66).
        let program = host.path().join("iocage");
        std::fs::write(&program, format!("#!/bin/sh\nprintf '{version}\\n'\n")).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let error = match sysadmd::start(
            &config(state.path(), BackendChoice::Cli, &program),
            options(),
        )
        .await
        {
            Ok(_) => panic!("{version}: sysadmd started"),
            Err(error) => error.to_string(),
        };
        assert!(!error.contains('\n'), "{error}");
        assert!(
            error.starts_with(&format!("{}: {shown}", program.display())),
            "{error}"
        );
        assert!(error.ends_with(iocage_cli::SUPPORTED_VERSIONS), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sysadmd_finds_the_iocage_program_and_serves_through_it() {
    let host = tempfile::tempdir().unwrap();
    let program = host.path().join("iocage");
    std::os::unix::fs::symlink(FAKE, &program).unwrap();
    let state = tempfile::tempdir().unwrap();

    let started = sysadmd::start(
        &config(state.path(), BackendChoice::Auto, &program),
        options(),
    )
    .await
    .expect("sysadmd starts");
    let expected = format!(
        "serving iocage at {} (found iocage), the legacy flavour (detected: iocage DEVELOP (2016-02-10))",
        program.display()
    );
    assert!(
        started.banner[0].ends_with(&expected),
        "{:?}",
        started.banner
    );
    let addr: SocketAddr = started.server.local_addrs()[0];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(started.server.run(async {
        let _ = stopped.await;
    }));

    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap();
    let login = call(
        &mut socket,
        "login",
        "rpc",
        "auth",
        json!({"username": "admin", "password": PASSWORD}),
    )
    .await;
    assert_eq!(login["name"], "response", "{login}");

    assert_eq!(
        iocage(&mut socket, json!({"action": "activatepool"})).await,
        json!({"activatepool": {"currently active": {"pool": " tank"}}})
    );
    let created = iocage(
        &mut socket,
        json!({"action": "createjail", "props": "tag=test release=10.2-RELEASE"}),
    )
    .await;
    let text = created["createjail"]["success"]["Successfully created"]
        .as_str()
        .unwrap();
    assert!(text.ends_with(" (test)"), "{created}");
    let uuid = text.trim().split(' ').next().unwrap().to_owned();
    let listed = iocage(&mut socket, json!({"action": "listjails"})).await;
    assert_eq!(listed["listjails"][&uuid]["tag"], "test", "{listed}");
    assert_eq!(listed["listjails"][&uuid]["state"], "down", "{listed}");
    let started = iocage(&mut socket, json!({"action": "startjail", "jail": "test"})).await;
    assert!(
        started["startjail"]["test"]
            .as_object()
            .unwrap()
            .contains_key(&format!("* Starting {uuid} (test)")),
        "{started}"
    );
    assert_eq!(
        iocage(
            &mut socket,
            json!({"action": "execjail", "jail": "test", "command": "echo hi"})
        )
        .await,
        json!({"execjail": {"success": {"hi": ""}}})
    );
    iocage(&mut socket, json!({"action": "stopjail", "jail": "test"})).await;
    assert_eq!(
        iocage(
            &mut socket,
            json!({"action": "destroyjail", "jail": "test"})
        )
        .await,
        json!({"destroyjail": {"success": {"Destroying": format!(" {uuid}")}}})
    );
    // The work happened in the program's host, not in a simulation.
    let host_state = std::fs::read_to_string(host.path().join("fake-iocage-state.json")).unwrap();
    assert!(
        !host_state.contains(&uuid),
        "destroyed in the iocage host's state"
    );
    assert!(
        !state.path().join("simhost").exists(),
        "no simulated host was made"
    );

    let _ = stop.send(());
    server.await.unwrap();
}

#[tokio::test]
async fn a_program_that_is_not_iocage_stops_the_start_with_one_clear_error() {
    let state = tempfile::tempdir().unwrap();
    let error = sysadmd::start(
        &config(state.path(), BackendChoice::Cli, Path::new("/bin/false")),
        options(),
    )
    .await
    .expect_err("the start fails");
    let text = format!("{error:#}");
    assert!(
        text.contains("/bin/false does not answer like iocage"),
        "{text}"
    );

    let error = sysadmd::start(
        &config(
            state.path(),
            BackendChoice::Cli,
            Path::new("/nonexistent/iocage"),
        ),
        options(),
    )
    .await
    .expect_err("the start fails");
    let text = format!("{error:#}");
    assert!(text.contains("/nonexistent/iocage"), "{text}");
}
