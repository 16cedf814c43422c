//! Helpers for tests that run the real `sysadmd` over an iocage program:
//! its configuration, a fake host whose runs are logged, a logged-in
//! WebSocket, one request at a time, and a REST request.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sysadmd::{BackendChoice, Config, ServeArgs, StartOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

pub const PASSWORD: &str = "through sysadmd";

/// A plaintext loopback server with its state in `state`, driving `iocage`.
pub fn config(state: &Path, backend: BackendChoice, iocage: &Path) -> Config {
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

pub fn options() -> StartOptions {
    StartOptions {
        backend: None,
        admin_password: Some(PASSWORD.to_owned()),
        ..StartOptions::default()
    }
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends one request and waits for the reply with its id.
pub async fn call(
    socket: &mut Socket,
    id: &str,
    namespace: &str,
    name: &str,
    args: Value,
) -> Value {
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

/// An iocage request that must succeed; its reply's `args`.
pub async fn iocage(socket: &mut Socket, args: Value) -> Value {
    let reply = call(socket, "r", "sysadm", "iocage", args.clone()).await;
    assert_eq!(reply["name"], "response", "{args}: {reply}");
    reply["args"].clone()
}

/// Connects to `addr` and logs in as the admin.
pub async fn logged_in(addr: std::net::SocketAddr) -> Socket {
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
    socket
}

/// The documented life of one jail over WebSocket: create `test`, list,
/// start, exec, stop, destroy, list again. Returns its id (the UUID, or
/// the Python name).
pub async fn jail_session(socket: &mut Socket) -> String {
    let created = iocage(
        socket,
        json!({"action": "createjail", "props": "tag=test release=10.2-RELEASE"}),
    )
    .await;
    let (id, tag) = super::created(&created["createjail"]["success"]["Successfully created"]);
    assert_eq!(tag, "test", "{created}");
    let listed = iocage(socket, json!({"action": "listjails"})).await;
    assert_eq!(listed["listjails"][&id]["tag"], "test", "{listed}");
    assert_eq!(listed["listjails"][&id]["state"], "down", "{listed}");
    let up = iocage(socket, json!({"action": "startjail", "jail": "test"})).await;
    let begun = up["startjail"]["test"]
        .as_object()
        .unwrap()
        .keys()
        .any(|line| line.starts_with("* Starting ") && line.contains(&id));
    assert!(begun, "{up}");
    assert_eq!(
        iocage(
            socket,
            json!({"action": "execjail", "jail": "test", "command": "echo hi"})
        )
        .await,
        json!({"execjail": {"success": {"hi": ""}}})
    );
    iocage(socket, json!({"action": "stopjail", "jail": "test"})).await;
    assert_eq!(
        iocage(socket, json!({"action": "destroyjail", "jail": "test"})).await,
        json!({"destroyjail": {"success": {"Destroying": format!(" {id}")}}})
    );
    let listed = iocage(socket, json!({"action": "listjails"})).await;
    assert_eq!(listed["listjails"], json!({}), "{listed}");
    id
}

/// A fake host of one flavour behind a program named `iocage` that logs
/// every run (`FAKE_IOCAGE_LOG`).
pub struct LoggedHost {
    pub dir: tempfile::TempDir,
    pub program: PathBuf,
    pub log: PathBuf,
    pub flavour: &'static str,
}

impl LoggedHost {
    pub fn new(flavour: &'static str) -> LoggedHost {
        LoggedHost::with_env(flavour, |_| String::new())
    }

    /// With more `NAME='value' ` assignments for the fake, made from the
    /// host's directory.
    pub fn with_env(flavour: &'static str, env: impl FnOnce(&Path) -> String) -> LoggedHost {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("iocage");
        let log = dir.path().join("argv.log");
        let script = format!(
            "#!/bin/sh\n{}FAKE_IOCAGE_STATE='{}' FAKE_IOCAGE_LOG='{}' FAKE_IOCAGE_FLAVOUR={flavour} exec '{}' \"$@\"\n",
            env(dir.path()),
            dir.path().join("state.json").display(),
            log.display(),
            super::FAKE
        );
        std::fs::write(&program, script).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        LoggedHost {
            dir,
            program,
            log,
            flavour,
        }
    }

    /// Every run so far, its argv as one line.
    pub fn runs(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// iocage run by hand, behind sysadmd's back: `legacy` or `python`
    /// by the host's flavour.
    pub fn by_hand(&self, legacy: &[&str], python: &[&str]) {
        let args = if self.flavour == "python" {
            python
        } else {
            legacy
        };
        let status = std::process::Command::new(&self.program)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{args:?}");
    }
}

/// sysadmd on the CLI backend over `host`, its configuration changed by
/// `adjust`: its address, and a sender that stops it.
pub async fn serve(
    host: &LoggedHost,
    state: &Path,
    adjust: impl FnOnce(&mut Config),
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let mut config = config(state, BackendChoice::Cli, &host.program);
    adjust(&mut config);
    let started = sysadmd::start(&config, options()).await.expect("starts");
    let addr = started.server.local_addrs()[0];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(started.server.run(async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// `PUT /sysadm/iocage` with the admin's Basic credentials: the status, the
/// headers (names in lower case) and the JSON body.
pub async fn rest(addr: SocketAddr, body: &Value) -> (u16, Vec<(String, String)>, Value) {
    let body = body.to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "PUT /sysadm/iocage HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Basic YWRtaW46dGhyb3VnaCBzeXNhZG1k\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let body = serde_json::from_str(body).expect("a JSON body");
    (status.parse().unwrap(), headers, body)
}
