//! Lines iocage prints around its output are no failure: through a real
//! `fake-iocage`, the Python IOCCheck that recreates datasets after a
//! `clean` (and says `Creating tank/iocage/...` before the next command's
//! table) does not turn the next read into a 502.

mod support;

use iocage_service::Flavour;
use serde_json::json;
use support::{Fake, ok};

#[tokio::test]
async fn listjails_right_after_cleantemplates_is_answered() {
    let fake = Fake::new(Flavour::Python);
    let s = fake.service();
    ok(
        &s,
        json!({"action": "createjail", "props": "tag=web release=10.2-RELEASE"}),
    )
    .await;
    ok(&s, json!({"action": "cleantemplates"})).await;
    // The fake prints the notice before the next command's table, as
    // Python iocage does.
    let raw = std::process::Command::new(env!("CARGO_BIN_EXE_fake-iocage"))
        .args(["list", "-l"])
        .env("FAKE_IOCAGE_STATE", fake.state_path())
        .env("FAKE_IOCAGE_FLAVOUR", "python")
        .output()
        .unwrap();
    assert_eq!(raw.status.code(), Some(0));
    let stdout = String::from_utf8(raw.stdout).unwrap();
    assert!(
        stdout.starts_with("Creating tank/iocage/templates\n+---"),
        "{stdout}"
    );

    ok(&s, json!({"action": "cleantemplates"})).await;
    let listed = ok(&s, json!({"action": "listjails"})).await;
    assert_eq!(listed["listjails"]["web"]["tag"], "web", "{listed}");
}
