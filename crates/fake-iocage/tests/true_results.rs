//! Answers that tell what really happened on the host (issue 17, step D),
//! through a real `fake-iocage` process.

mod support;

use iocage_service::Flavour;
use serde_json::json;
use support::{Fake, fails, ok};

#[tokio::test]
async fn a_one_word_command_never_reaches_a_shell() {
    for flavour in [Flavour::Legacy, Flavour::Python] {
        let fake = Fake::new(flavour);
        let s = fake.service();
        ok(
            &s,
            json!({"action": "createjail", "props": "tag=web release=10.2-RELEASE"}),
        )
        .await;
        ok(&s, json!({"action": "startjail", "jail": "web"})).await;
        // One word holding a space and a `;`: run as that program name, not
        // as `echo hi` followed by `id`.
        let reply = s
            .handle(
                sysadm_proto::IocageRequest::from_args(
                    &json!({"action": "execjail", "jail": "web", "command": "'echo hi; id'"}),
                )
                .unwrap(),
                &support::caller(),
            )
            .await;
        let shown = format!("{reply:?}");
        assert!(!shown.contains("uid=0"), "{flavour}: {shown}");
        let exec = fake
            .log()
            .into_iter()
            .find(|line| line.starts_with("exec "))
            .unwrap();
        assert!(
            exec.ends_with("/usr/bin/env 'echo hi; id'"),
            "{flavour}: {exec}"
        );
        // Two words or more go as they are, and still work.
        assert_eq!(
            ok(
                &s,
                json!({"action": "execjail", "jail": "web", "command": "echo hi"})
            )
            .await,
            json!({"execjail": {"success": {"hi": ""}}})
        );
        assert_eq!(
            ok(
                &s,
                json!({"action": "execjail", "jail": "web", "command": "hostname"})
            )
            .await["execjail"]["success"]
                .as_object()
                .map(|lines| lines.len()),
            Some(1),
            "{flavour}"
        );
    }
}

#[tokio::test]
async fn a_tag_that_reads_as_a_uuid_is_refused_and_never_stands_for_another_jail() {
    let fake = Fake::new(Flavour::Legacy);
    let s = fake.service();
    let reply = ok(
        &s,
        json!({"action": "createjail", "props": "tag=web release=10.2-RELEASE"}),
    )
    .await;
    let (uuid, _) = support::created(&reply["createjail"]["success"]["Successfully created"]);
    // Through the API such a tag is a 400 and makes no jail.
    let before = fake.log().len();
    let (code, details) = fails(
        &s,
        json!({"action": "createjail", "props": format!("tag={} release=10.2-RELEASE", &uuid[..13])}),
    )
    .await;
    assert_eq!(code, 400, "{details}");
    assert!(details.contains("must not read as a UUID"), "{details}");
    assert_eq!(fake.log().len(), before, "iocage was not run");

    // A jail tagged so by iocage itself: naming it is ambiguous, and
    // destroying by that name destroys neither jail.
    let made = std::process::Command::new(support::FAKE)
        .args([
            "create",
            &format!("tag={}", &uuid[..13]),
            "release=10.2-RELEASE",
        ])
        .env("FAKE_IOCAGE_STATE", fake.state_path())
        .env("FAKE_IOCAGE_FLAVOUR", "legacy")
        .output()
        .unwrap();
    assert_eq!(made.status.code(), Some(0), "{made:?}");
    let (code, details) = fails(&s, json!({"action": "destroyjail", "jail": &uuid[..13]})).await;
    assert_eq!(code, 400, "{details}");
    assert!(details.contains("ambiguous"), "{details}");
    let listed = ok(&s, json!({"action": "listjails"})).await;
    assert_eq!(
        listed["listjails"].as_object().unwrap().len(),
        2,
        "{listed}"
    );
}

#[tokio::test]
async fn plugins_are_keyed_by_their_package() {
    let fake = Fake::new(Flavour::Python);
    let s = fake.service();
    let plugins = ok(&s, json!({"action": "listplugins"})).await;
    assert_eq!(
        plugins["listplugins"]["remote"]["plexmediaserver"],
        json!({"description": "Plex Media Server", "id": "plexmediaserver", "name": "Plex Media Server"})
    );
}
