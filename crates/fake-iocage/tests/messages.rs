//! What iocage printed around its output reaches the client that asks for
//! it (`"messages": true`), over WebSocket and REST, through sysadmd on the
//! real CLI backend; a client that does not ask gets the documented shape.
//!
//! The line comes from the fake's model of Python iocage: after `clean`,
//! the next command's IOCCheck recreates the destroyed dataset and says
//! `Creating tank/iocage/templates` before its table
//! (iocage_lib/ioc_check.py@6f6f4eb:80-113).

mod support;

use std::net::SocketAddr;

use serde_json::{Value, json};
use support::FAKE;
use support::sysadmd::{Socket, config, iocage, logged_in, options};
use sysadmd::BackendChoice;

const CREATING: &str = "Creating tank/iocage/templates";

/// `PUT /sysadm/iocage` with Basic credentials; the status and the body's
/// `args`.
async fn rest(addr: SocketAddr, body: &Value) -> (u16, Value) {
    let (status, _, body) = support::sysadmd::rest(addr, body).await;
    (status, body["args"].clone())
}

async fn clean_templates(socket: &mut Socket) {
    let cleaned = iocage(socket, json!({"action": "cleantemplates"})).await;
    assert!(cleaned["cleantemplates"].is_object(), "{cleaned}");
}

fn texts(reply: &Value) -> Vec<String> {
    reply["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages: {reply}"))
        .iter()
        .map(|message| message["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iocage_messages_reach_a_client_that_asks_on_both_transports_and_only_then() {
    let host = tempfile::tempdir().unwrap();
    let program = host.path().join("iocage");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\nFAKE_IOCAGE_VERSION=1.13 FAKE_IOCAGE_STATE='{}' exec '{}' \"$@\"\n",
            host.path().join("state.json").display(),
            FAKE
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let state = tempfile::tempdir().unwrap();
    let started = sysadmd::start(
        &config(state.path(), BackendChoice::Cli, &program),
        options(),
    )
    .await
    .expect("sysadmd starts");
    let addr: SocketAddr = started.server.local_addrs()[0];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(started.server.run(async {
        let _ = stopped.await;
    }));
    let mut socket = logged_in(addr).await;

    // WebSocket, asked for: the documented key, and the line beside it.
    clean_templates(&mut socket).await;
    let listed = iocage(
        &mut socket,
        json!({"action": "listjails", "messages": true}),
    )
    .await;
    assert!(listed["listjails"].is_object(), "{listed}");
    assert_eq!(texts(&listed), [CREATING], "{listed}");
    assert_eq!(listed["messages"][0]["level"], "info", "{listed}");

    // REST, asked for.
    clean_templates(&mut socket).await;
    let (status, listed) = rest(addr, &json!({"action": "listjails", "messages": true})).await;
    assert_eq!(status, 200, "{listed}");
    assert!(listed["listjails"].is_object(), "{listed}");
    assert_eq!(texts(&listed), [CREATING], "{listed}");

    // Not asked for: the documented shape, on both transports, though
    // iocage printed the line again.
    clean_templates(&mut socket).await;
    let listed = iocage(&mut socket, json!({"action": "listjails"})).await;
    assert_eq!(listed.as_object().unwrap().len(), 1, "{listed}");
    assert!(listed["listjails"].is_object(), "{listed}");
    clean_templates(&mut socket).await;
    let (status, listed) = rest(addr, &json!({"action": "listjails"})).await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_object().unwrap().len(), 1, "{listed}");

    // A change carries what its own run printed: the clean runs first,
    // so the create's run is the one that recreates the dataset.
    clean_templates(&mut socket).await;
    let created = iocage(
        &mut socket,
        json!({"action": "createjail", "props": "tag=told release=10.2-RELEASE", "messages": true}),
    )
    .await;
    assert!(created["createjail"].is_object(), "{created}");
    assert!(
        texts(&created).iter().any(|text| text == CREATING),
        "{created}"
    );

    // Nothing to give with a dry run: refused, naming the option.
    let (status, refused) = rest(
        addr,
        &json!({"action": "cleantemplates", "dry_run": true, "messages": true}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("messages"), "{refused}");

    let _ = stop.send(());
    server.await.unwrap();
}
