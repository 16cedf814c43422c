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
