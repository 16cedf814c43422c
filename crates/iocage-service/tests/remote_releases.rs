//! `listreleases` on Python iocage when `list -R` (network, no time limit
//! of its own: iocage_lib/ioc_fetch.py@c3198327:112,395) fails or hangs: the
//! local list is still answered, within the remote time limit, and the reply
//! says why the remote part is missing. Driven through `CliBackend` and a
//! stand-in script whose `list -r` is Python's table.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iocage_cli::{Flavour, Runner};
use iocage_service::{CliBackend, IocageService};
use serde_json::json;
use support::ok;

/// A Python iocage whose `list -R` does `remote` (shell code).
fn service(dir: &std::path::Path, remote: &str) -> IocageService {
    let table = iocage_cli::render::releases(&["13.2-RELEASE".to_owned()], Flavour::Python);
    let script = format!(
        "#!/bin/sh\ncase \"$1 $2\" in\n\"list -r\") cat <<'EOF'\n{table}EOF\n;;\n\"list -R\") {remote} ;;\nesac\n"
    );
    let program = dir.join("iocage");
    std::fs::write(&program, script).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let backend = CliBackend::new(Runner::new(program), Some(Flavour::Python))
        .with_remote_timeout(Duration::from_millis(300));
    IocageService::new(Arc::new(backend))
}

#[tokio::test]
async fn a_hanging_remote_list_is_cut_short_and_the_local_list_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), "sleep 30");
    let started = Instant::now();
    let reply = ok(&s, json!({"action": "listreleases"})).await;
    assert!(started.elapsed() < Duration::from_secs(10), "{reply}");
    let releases = &reply["listreleases"];
    assert_eq!(releases["local"], json!(["13.2-RELEASE"]), "{reply}");
    assert_eq!(releases["remote"], json!([]), "{reply}");
    let why = releases["remote_missing"].as_str().unwrap();
    assert!(why.contains("did not finish"), "{why}");
}

#[tokio::test]
async fn a_failing_remote_list_keeps_the_local_list_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(
        dir.path(),
        "echo 'requests.exceptions.ConnectionError: download.freebsd.org' >&2; exit 1",
    );
    let reply = ok(&s, json!({"action": "listreleases"})).await;
    let releases = &reply["listreleases"];
    assert_eq!(releases["local"], json!(["13.2-RELEASE"]), "{reply}");
    assert_eq!(releases["remote"], json!([]), "{reply}");
    let why = releases["remote_missing"].as_str().unwrap();
    assert!(why.contains("ConnectionError"), "{why}");
}

#[tokio::test]
async fn a_working_remote_list_keeps_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), "echo 14.1-RELEASE");
    let reply = ok(&s, json!({"action": "listreleases"})).await;
    assert_eq!(
        reply,
        json!({"listreleases": {"local": ["13.2-RELEASE"], "remote": ["14.1-RELEASE"]}})
    );
}
