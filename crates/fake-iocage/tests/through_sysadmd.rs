//! sysadmd itself pointed at an iocage program (the fake, linked as
//! `iocage`, the way an administrator points it at `/usr/local/bin/iocage`):
//! start-up asks the program for its flavour and says so, and requests over
//! WebSocket run iocage processes. (Each iocage release, and the start-up
//! refusal of those not driven, is run through sysadmd by `conformance`.)

mod support;

use std::net::SocketAddr;
use std::path::Path;

use serde_json::json;
use support::FAKE;
use support::sysadmd::{config, iocage, jail_session, logged_in, options};
use sysadmd::BackendChoice;

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

    let mut socket = logged_in(addr).await;

    assert_eq!(
        iocage(&mut socket, json!({"action": "activatepool"})).await,
        json!({"activatepool": {"currently active": {"pool": " tank"}}})
    );
    let uuid = jail_session(&mut socket).await;
    assert!(support::is_uuid(&uuid), "{uuid}");
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

/// The next `dispatcher` event on `socket`, within 30 s.
async fn next_dispatcher(socket: &mut support::sysadmd::Socket) -> serde_json::Value {
    use futures_util::StreamExt;
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(30), socket.next())
            .await
            .expect("an event within 30 s")
            .expect("open")
            .expect("a frame");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            let value: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
            if value["namespace"] == "events" && value["name"] == "dispatcher" {
                return value;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iocage_lines_reach_subscribers_while_iocage_still_runs() {
    use futures_util::SinkExt;
    let host = tempfile::tempdir().unwrap();
    let gate = host.path().join("gate");
    // The fake prints its first `create` line, then waits for the gate.
    let program = host.path().join("iocage");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\nFAKE_IOCAGE_GATE='{}' FAKE_IOCAGE_GATE_ON=create FAKE_IOCAGE_STATE='{}' exec '{}' \"$@\"\n",
            gate.display(),
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

    let mut watcher = logged_in(addr).await;
    let reply = support::sysadmd::call(
        &mut watcher,
        "s",
        "events",
        "subscribe",
        json!(["dispatcher"]),
    )
    .await;
    assert_eq!(reply["name"], "response", "{reply}");
    let mut actor = logged_in(addr).await;
    let request = json!({"namespace": "sysadm", "name": "iocage", "id": "c",
        "args": {"action": "createjail", "props": "tag=gated release=10.2-RELEASE"}});
    actor
        .send(tokio_tungstenite::tungstenite::Message::text(
            request.to_string(),
        ))
        .await
        .unwrap();

    let begun = next_dispatcher(&mut watcher).await;
    assert_eq!(begun["args"]["state"], "running");
    // Progress until the first line iocage printed, all while it waits.
    let mut steps = Vec::new();
    let line = loop {
        let event = next_dispatcher(&mut watcher).await;
        assert_eq!(
            event["args"]["state"], "running",
            "before the gate opens: {event}"
        );
        assert!(event["seq"].is_u64(), "{event}");
        let progress = event["args"]["progress"].clone();
        steps.push(progress["step"].as_str().unwrap().to_owned());
        if progress["line"].is_u64() {
            break progress;
        }
    };
    assert!(!gate.exists());
    // Runs are announced (`iocage list`, `iocage create`; within 100 ms the
    // newest report wins, so some may be coalesced away), then the line.
    assert!(steps[0].starts_with("iocage "), "{steps:?}");
    assert_eq!(line["line"], 1, "{line}");
    assert!(
        line["step"]
            .as_str()
            .unwrap()
            .starts_with("Successfully created: "),
        "create's own line, printed before the gate: {line}"
    );

    std::fs::write(&gate, "").unwrap();
    let finished = loop {
        let event = next_dispatcher(&mut watcher).await;
        if event["args"]["state"] == "finished" {
            break event;
        }
    };
    assert_eq!(finished["args"]["outcome"]["success"], true, "{finished}");
    assert_eq!(finished["args"]["process_id"], begun["args"]["process_id"]);
    let _ = stop.send(());
    server.await.unwrap();
}
