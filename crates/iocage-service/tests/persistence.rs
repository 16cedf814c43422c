//! The simulated host keeps its state across restarts, and refuses (without
//! touching it) a state file it cannot read.

mod support;

use std::fs;
use std::path::Path;
use std::sync::Arc;

use iocage_service::{IocageService, SimBackend, SimError};
use serde_json::json;
use support::ok;

fn open(dir: &Path) -> IocageService {
    IocageService::new(Arc::new(SimBackend::open(dir).expect("state opens")))
}

fn state_file(dir: &Path) -> std::path::PathBuf {
    SimBackend::open(dir)
        .unwrap()
        .state_file()
        .expect("persistent")
        .to_owned()
}

#[tokio::test]
async fn state_survives_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("simhost");
    let listed = {
        let service = open(&dir);
        ok(
            &service,
            json!({"action": "createjail", "props": "tag=keep release=10.2-RELEASE"}),
        )
        .await;
        ok(&service, json!({"action": "startjail", "jail": "keep"})).await;
        ok(&service, json!({"action": "cleanreleases"})).await;
        ok(&service, json!({"action": "listjails"})).await
    };
    assert_eq!(listed["listjails"].as_object().unwrap().len(), 1);

    let service = open(&dir);
    assert_eq!(ok(&service, json!({"action": "listjails"})).await, listed);
    assert_eq!(
        listed["listjails"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()["state"],
        "up"
    );
    let releases = ok(&service, json!({"action": "listreleases"})).await;
    assert_eq!(releases["listreleases"]["local"], json!([]));
    // JIDs keep counting after a restart; cleaned releases stay cleaned.
    ok(&service, json!({"action": "stopjail", "jail": "keep"})).await;
    ok(&service, json!({"action": "startjail", "jail": "keep"})).await;
    let listed = ok(&service, json!({"action": "listjails"})).await;
    assert_eq!(
        listed["listjails"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()["jid"],
        "2"
    );
    let (code, _) = support::call(
        &service,
        json!({"action": "createjail", "props": "release=10.2-RELEASE"}),
    )
    .await
    .unwrap_err();
    assert_eq!(code, 404);

    // Only the state file is left: no temporary file.
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let text = fs::read_to_string(dir.join(&names[0])).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(saved["version"], 1);
}

#[test]
fn a_corrupt_state_file_is_reported_and_left_alone() {
    let root = tempfile::tempdir().unwrap();
    let file = state_file(root.path());
    let garbage = b"{\"version\": 1, \"jails\": [tru";
    fs::write(&file, garbage).unwrap();
    let error = SimBackend::open(root.path()).expect_err("corrupt file refused");
    assert!(matches!(error, SimError::Corrupt { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(message.contains("left untouched"), "{message}");
    assert_eq!(fs::read(&file).unwrap(), garbage);
}

#[test]
fn a_state_file_of_another_version_is_reported_and_left_alone() {
    let root = tempfile::tempdir().unwrap();
    let file = state_file(root.path());
    let future = br#"{"version": 99, "hosts": {}}"#;
    fs::write(&file, future).unwrap();
    let message = SimBackend::open(root.path()).unwrap_err().to_string();
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(message.contains("version 99"), "{message}");
    assert_eq!(fs::read(&file).unwrap(), future);

    fs::write(&file, b"[]").unwrap();
    let message = SimBackend::open(root.path()).unwrap_err().to_string();
    assert!(message.contains("no format version"), "{message}");
    assert_eq!(fs::read(&file).unwrap(), b"[]");
}

#[test]
fn an_unusable_state_dir_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let blocker = root.path().join("not-a-dir");
    fs::write(&blocker, b"").unwrap();
    let message = SimBackend::open(&blocker.join("simhost"))
        .unwrap_err()
        .to_string();
    assert!(message.contains("not-a-dir"), "{message}");
}
