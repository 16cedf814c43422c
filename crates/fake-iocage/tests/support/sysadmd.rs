//! Helpers for tests that run the real `sysadmd` over an iocage program:
//! its configuration, a logged-in WebSocket, and one request at a time.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sysadmd::{BackendChoice, Config, ServeArgs, StartOptions};
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
