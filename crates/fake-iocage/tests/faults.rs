//! How the CLI backend reports an iocage that misbehaves, through a real
//! `fake-iocage` process with injected faults: a hang is a 504 that leaves
//! no process behind, garbage a 502 carrying the raw text, a crash a 502, a
//! missing program a 503, iocage's "not found" a 404.

mod support;

use std::time::{Duration, Instant};

use iocage_service::{Backend, BackendError, CliBackend, Flavour, Runner};
use serde_json::json;
use support::{Fake, fails, ok};

/// The process's state letter from `/proc/PID/stat`; `None` once it is gone.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    after.trim_start().chars().next()
}

#[tokio::test]
async fn a_hanging_iocage_times_out_and_leaves_no_process_behind() {
    let fake = Fake::new(Flavour::Legacy);
    let limit = Duration::from_secs(1);
    let grace = Duration::from_secs(1);
    let runner = fake
        .runner()
        .timeout(limit)
        .grace(grace)
        .env("FAKE_IOCAGE_FAULT", "hang");
    let s = fake.service_with(runner, Some(Flavour::Legacy));
    let started = Instant::now();
    let (code, details) = fails(&s, json!({"action": "df"})).await;
    assert_eq!(code, 504, "{details}");
    assert!(
        details.contains("iocage df did not finish within"),
        "{details}"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed < limit + grace + Duration::from_secs(10),
        "took {elapsed:?}"
    );

    let pids = fake.pids();
    assert_eq!(pids.len(), 2, "the fake and the child it started: {pids:?}");
    // The runner reaped its own child: not even a zombie is left.
    assert_eq!(process_state(pids[0]), None, "pid {}", pids[0]);
    // The grandchild died with its process group; whoever adopted it may
    // not have reaped it yet, so a zombie counts as dead.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match process_state(pids[1]) {
            None | Some('Z') => break,
            Some(state) if Instant::now() > deadline => {
                panic!("pid {} is still alive (state {state})", pids[1])
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::test]
async fn a_slow_iocage_within_the_limit_is_answered() {
    let fake = Fake::new(Flavour::Python);
    let runner = fake
        .runner()
        .timeout(Duration::from_secs(20))
        .env("FAKE_IOCAGE_FAULT", "slow")
        .env("FAKE_IOCAGE_DELAY_MS", "200");
    let s = fake.service_with(runner, None);
    assert_eq!(
        ok(&s, json!({"action": "listjails"})).await,
        json!({"listjails": {}})
    );
}

#[tokio::test]
async fn garbage_is_a_bad_gateway_carrying_the_raw_text() {
    for flavour in [Flavour::Legacy, Flavour::Python] {
        let fake = Fake::new(flavour);
        let runner = fake.runner().env("FAKE_IOCAGE_FAULT", "garbage").env(
            "FAKE_IOCAGE_GARBAGE",
            "<<marker 7f3a>>\nsegments of nonsense\n",
        );
        let s = fake.service_with(runner, Some(flavour));
        for action in ["listjails", "df", "getdefaultsettings"] {
            let (code, details) = fails(&s, json!({"action": action})).await;
            assert_eq!(code, 502, "{flavour} {action}: {details}");
            assert!(
                details.contains("<<marker 7f3a>>") && details.contains("segments of nonsense"),
                "{flavour} {action}: {details}"
            );
        }
    }
}

#[tokio::test]
async fn random_garbage_is_a_bad_gateway_too() {
    let fake = Fake::new(Flavour::Legacy);
    let runner = fake.runner().env("FAKE_IOCAGE_FAULT", "garbage");
    // Garbage on `--version` too: the flavour cannot be told.
    let s = fake.service_with(runner.clone(), None);
    let (code, details) = fails(&s, json!({"action": "df"})).await;
    assert_eq!(code, 502, "{details}");
    assert!(details.contains("cannot tell which iocage"), "{details}");
    assert!(details.contains("this is not iocage output"), "{details}");
    let s = fake.service_with(runner, Some(Flavour::Legacy));
    let (code, details) = fails(&s, json!({"action": "listjails"})).await;
    assert_eq!(code, 502, "{details}");
    assert!(details.contains("this is not iocage output"), "{details}");
}

#[tokio::test]
async fn garbage_from_a_command_that_prints_nothing_is_caught() {
    let fake = Fake::new(Flavour::Legacy);
    let runner = fake
        .runner()
        .env("FAKE_IOCAGE_FAULT", "garbage")
        .env("FAKE_IOCAGE_FAULT_ON", "clean")
        .env("FAKE_IOCAGE_GARBAGE", "rm: /: Permission denied?\n");
    let s = fake.service_with(runner, Some(Flavour::Legacy));
    let (code, details) = fails(&s, json!({"action": "cleanjails"})).await;
    assert_eq!(code, 502, "{details}");
    assert!(details.contains("Permission denied?"), "{details}");
}

#[tokio::test]
async fn a_crash_is_a_bad_gateway_naming_the_signal() {
    let fake = Fake::new(Flavour::Legacy);
    let runner = fake.runner().env("FAKE_IOCAGE_FAULT", "crash");
    let s = fake.service_with(runner, Some(Flavour::Legacy));
    let (code, details) = fails(&s, json!({"action": "df"})).await;
    assert_eq!(code, 502, "{details}");
    assert!(details.contains("killed by signal"), "{details}");
}

#[tokio::test]
async fn a_missing_iocage_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("iocage");
    for flavour in [None, Some(Flavour::Legacy), Some(Flavour::Python)] {
        let backend = CliBackend::new(Runner::new(&missing), flavour);
        let error = backend.df().await.unwrap_err();
        assert!(
            matches!(&error, BackendError::Unavailable(text) if text.contains("not installed")),
            "{flavour:?}: {error:?}"
        );
        assert_eq!(error.code().code(), 503);
    }
}

#[tokio::test]
async fn iocage_not_found_is_a_404() {
    for flavour in [Flavour::Legacy, Flavour::Python] {
        // Straight from iocage: `get PROP nosuch`.
        let fake = Fake::new(flavour);
        let backend = CliBackend::new(fake.runner(), Some(flavour));
        let error = backend.get_property("nosuch", "vnet").await.unwrap_err();
        assert!(
            matches!(&error, BackendError::NotFound(text) if text.contains("nosuch") && text.contains("not found")),
            "{flavour}: {error:?}"
        );
        let error = backend.start("nosuch").await.unwrap_err();
        assert_eq!(error.code().code(), 404, "{flavour}: {error:?}");

        // Through the service: the jail is listed, then iocage says it is
        // gone (an injected `ERROR:` line in the flavour's form).
        let s = fake.service();
        ok(
            &s,
            json!({"action": "createjail", "props": "tag=gone release=10.2-RELEASE"}),
        )
        .await;
        let runner = fake
            .runner()
            .env("FAKE_IOCAGE_FAULT", "error")
            .env("FAKE_IOCAGE_FAULT_ON", "get")
            .env("FAKE_IOCAGE_ERROR", "jail gone not found!");
        let s = fake.service_with(runner, Some(flavour));
        let (code, details) = fails(
            &s,
            json!({"action": "getjailsettings", "jail": "gone", "prop": "notes"}),
        )
        .await;
        assert_eq!(code, 404, "{flavour}: {details}");
        assert_eq!(details, "jail gone not found!");
    }
}

#[tokio::test]
async fn other_iocage_errors_are_a_bad_gateway_with_its_text() {
    let fake = Fake::new(Flavour::Legacy);
    let runner = fake.runner().env("FAKE_IOCAGE_FAULT", "error");
    let s = fake.service_with(runner, Some(Flavour::Legacy));
    let (code, details) = fails(&s, json!({"action": "df"})).await;
    assert_eq!(code, 502);
    assert_eq!(details, "fake-iocage: injected failure");
}

#[tokio::test]
async fn the_flavour_is_asked_once() {
    let fake = Fake::new(Flavour::Python);
    // Slow `--version`, so that the first requests all wait for it.
    let runner = fake
        .runner()
        .env("FAKE_IOCAGE_FAULT", "slow")
        .env("FAKE_IOCAGE_FAULT_ON", "--version")
        .env("FAKE_IOCAGE_DELAY_MS", "300");
    let s = fake.service_with(runner, None);
    let (a, b, c) = tokio::join!(
        ok(&s, json!({"action": "df"})),
        ok(&s, json!({"action": "listjails"})),
        ok(&s, json!({"action": "getdefaultsettings"})),
    );
    assert_eq!(a, json!({"df": {}}));
    assert_eq!(b, json!({"listjails": {}}));
    assert_eq!(c["getdefaultsettings"]["defaults"]["CONFIG_VERSION"], "29");
    ok(&s, json!({"action": "listreleases"})).await;
    let log = fake.log();
    assert_eq!(
        log.iter().filter(|line| *line == "--version").count(),
        1,
        "{log:#?}"
    );
}
