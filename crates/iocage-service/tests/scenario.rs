//! The documented scenario, end to end through `IocageService` on the
//! simulated host: every action, with each response compared to the shape the
//! API documents show (UUIDs and date tags as the host produced them).

mod support;

use std::sync::Arc;

use iocage_service::{IocageService, SimBackend};
use serde_json::{Value, json};
use support::{call, ok};

fn service() -> IocageService {
    IocageService::new(Arc::new(SimBackend::in_memory()))
}

/// The UUID and tag out of `" <uuid> (<tag>)"`.
fn created(text: &Value) -> (String, String) {
    let text = text.as_str().expect("a string");
    let text = text
        .strip_prefix(' ')
        .expect("the documented leading space");
    let (uuid, tag) = text.split_once(' ').expect("uuid and tag");
    let tag = tag.strip_prefix('(').and_then(|t| t.strip_suffix(')'));
    (uuid.to_owned(), tag.expect("tag in parentheses").to_owned())
}

fn is_uuid(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok() && text.len() == 36
}

/// `YYYY-MM-DD@HH:MM:SS`, iocage's default tag.
fn is_date_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    tag.len() == 19
        && tag.chars().enumerate().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == '@',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        })
        && bytes[0] == b'2'
}

#[tokio::test]
async fn documented_scenario() {
    let s = service();

    // Pools.
    assert_eq!(
        ok(&s, json!({"action": "activatepool", "pool": "tank"})).await,
        json!({"activatepool": {"success": "pool tank activated."}})
    );
    assert_eq!(
        ok(&s, json!({"action": "activatepool"})).await,
        json!({"activatepool": {"currently active": {"pool": " tank"}}})
    );

    // Create, as documented.
    let reply = ok(
        &s,
        json!({"action": "createjail", "props": "tag=test release=10.2-RELEASE"}),
    )
    .await;
    let (uuid, tag) = created(&reply["createjail"]["success"]["Successfully created"]);
    assert!(is_uuid(&uuid), "{uuid}");
    assert_eq!(tag, "test");
    assert_eq!(
        reply,
        json!({"createjail": {
            "props": "tag=test release=10.2-RELEASE",
            "success": {"Successfully created": format!(" {uuid} (test)")},
            "switches": ""
        }})
    );

    // List.
    assert_eq!(
        ok(&s, json!({"action": "listjails"})).await,
        json!({"listjails": {&uuid: {
            "boot": "off", "ip4": "-", "jid": "-", "state": "down", "tag": "test", "type": "basejail"
        }}})
    );

    // getjailsettings, all four modes.
    assert_eq!(
        ok(
            &s,
            json!({"action": "getjailsettings", "jail": "test", "prop": "vnet"})
        )
        .await,
        json!({"getjailsettings": {"test": {"vnet": "off"}}})
    );
    let all = ok(
        &s,
        json!({"action": "getjailsettings", "jail": "test", "prop": "all"}),
    )
    .await;
    let props = all["getjailsettings"]["test"]
        .as_object()
        .expect("one jail");
    assert_eq!(props.len(), 115, "every legacy property");
    assert_eq!(props["tag"], "test");
    assert_eq!(props["release"], "10.2-RELEASE");
    assert_eq!(props["host_hostuuid"], uuid.as_str());
    assert_eq!(props["memoryuse"], "8G:log");
    assert_eq!(props["template"], "-");
    assert_eq!(props["origin"], "-");
    assert_eq!(
        ok(&s, json!({"action": "getjailsettings", "jail": "test"})).await,
        all,
        "the jail alone means all"
    );
    assert_eq!(
        ok(
            &s,
            json!({"action": "getjailsettings", "switches": "-r", "prop": "vnet"})
        )
        .await,
        json!({"getjailsettings": {&uuid: {"TAG": "test", "vnet": "off"}}})
    );
    assert_eq!(
        ok(
            &s,
            json!({"action": "getjailsettings", "jail": "test", "prop": "state"})
        )
        .await,
        json!({"getjailsettings": {"test": {"state": "down"}}})
    );

    // df.
    assert_eq!(
        ok(&s, json!({"action": "df"})).await,
        json!({"df": {&uuid: {
            "ava": "83.4G", "crt": "2.30x", "qta": "none", "res": "none", "tag": "test", "use": "1.69M"
        }}})
    );

    // Start twice.
    assert_eq!(
        ok(&s, json!({"action": "startjail", "jail": "test"})).await,
        json!({"startjail": {"test": {
            format!("* Starting {uuid} (test)"): "",
            "+ Started (shared IP mode) OK": "",
            "+ Starting services OK": ""
        }}})
    );
    assert_eq!(
        ok(&s, json!({"action": "startjail", "jail": "test"})).await,
        json!({"startjail": {"test": {"INFO": format!(" {uuid} (test) is already up")}}})
    );
    let listed = ok(&s, json!({"action": "listjails"})).await;
    assert_eq!(listed["listjails"][&uuid]["state"], "up");
    assert_eq!(listed["listjails"][&uuid]["jid"], "1");

    // Exec.
    assert_eq!(
        ok(
            &s,
            json!({"action": "execjail", "jail": "test", "user": "root", "command": "echo hi"})
        )
        .await,
        json!({"execjail": {"success": {"hi": ""}}})
    );
    assert_eq!(
        ok(
            &s,
            json!({"action": "execjail", "jail": "test", "command": "uname -r"})
        )
        .await,
        json!({"execjail": {"success": {"10.2-RELEASE": ""}}})
    );

    // Cap.
    assert_eq!(
        ok(&s, json!({"action": "capjail", "jail": "test"})).await,
        json!({"capjail": {"success": "jail test capped."}})
    );

    // Stop twice, naming the jail by a short UUID the second time.
    assert_eq!(
        ok(&s, json!({"action": "stopjail", "jail": "test"})).await,
        json!({"stopjail": {"test": {
            format!("* Stopping {uuid} (test)"): "",
            "+ Running pre-stop OK": "",
            "+ Stopping services OK": "",
            "+ Removing jail process OK": "",
            "+ Running post-stop OK": ""
        }}})
    );
    let short = &uuid[..8];
    assert_eq!(
        ok(&s, json!({"action": "stopjail", "jail": short})).await,
        json!({"stopjail": {short: {"INFO": format!(" {uuid} (test) is already down")}}})
    );

    // Clone with and without props.
    let reply = ok(
        &s,
        json!({"action": "clonejail", "jail": "test", "props": "tag=newtest"}),
    )
    .await;
    let (clone, clone_tag) = created(&reply["clonejail"]["success"]["Successfully created"]);
    assert_eq!(clone_tag, "newtest");
    assert_eq!(
        reply,
        json!({"clonejail": {
            "jail": "test",
            "props": "tag=newtest",
            "success": {"Successfully created": format!(" {clone} (newtest)")}
        }})
    );
    let reply = ok(&s, json!({"action": "clonejail", "jail": "test"})).await;
    let (bare, bare_tag) = created(&reply["clonejail"]["success"]["Successfully created"]);
    assert!(is_date_tag(&bare_tag), "{bare_tag}");
    assert_eq!(reply["clonejail"]["props"], "");
    assert_eq!(reply["clonejail"]["jail"], "test");
    let listed = ok(&s, json!({"action": "listjails"})).await;
    assert_eq!(listed["listjails"][&clone]["type"], "clonejail");
    assert_eq!(
        ok(
            &s,
            json!({"action": "getjailsettings", "jail": "newtest", "prop": "origin"})
        )
        .await,
        json!({"getjailsettings": {"newtest": {"origin": format!("tank/iocage/jails/{uuid}@{clone}")}}})
    );

    // The original has dependent clones: iocage refuses.
    let (code, details) = call(&s, json!({"action": "destroyjail", "jail": "test"}))
        .await
        .unwrap_err();
    assert_eq!(code, 409);
    assert!(details.contains("dependent clone"), "{details}");

    // Destroy, by tag, by UUID.
    assert_eq!(
        ok(&s, json!({"action": "destroyjail", "jail": "newtest"})).await,
        json!({"destroyjail": {"success": {"Destroying": format!(" {clone}")}}})
    );
    ok(&s, json!({"action": "destroyjail", "jail": bare})).await;
    assert_eq!(
        ok(&s, json!({"action": "destroyjail", "jail": "test"})).await,
        json!({"destroyjail": {"success": {"Destroying": format!(" {uuid}")}}})
    );
    assert_eq!(
        ok(&s, json!({"action": "listjails"})).await,
        json!({"listjails": {}})
    );

    // Releases, plugins, defaults: the documented data.
    let releases = ok(&s, json!({"action": "listreleases"})).await;
    assert_eq!(
        releases["listreleases"]["local"],
        json!(["10.2-RELEASE", "10.3-RELEASE"])
    );
    assert_eq!(
        releases["listreleases"]["remote"],
        json!([
            "9.3-RELEASE (EOL)",
            "10.1-RELEASE (EOL)",
            "10.2-RELEASE (EOL)",
            "10.3-RELEASE",
            "11.0-RELEASE"
        ])
    );
    let plugins = ok(&s, json!({"action": "listplugins"})).await;
    let index = plugins["listplugins"]["remote"].as_object().unwrap();
    assert_eq!(index.len(), 18);
    assert_eq!(
        index["transmission"],
        json!({"description": "Fast and lightweight daemon BitTorrent client", "id": "transmission", "name": "Transmission"})
    );
    let defaults = ok(&s, json!({"action": "getdefaultsettings"})).await;
    let defaults = defaults["getdefaultsettings"]["defaults"]
        .as_object()
        .unwrap();
    assert_eq!(defaults.len(), 109);
    assert_eq!(defaults["memoryuse"], "8G:log");
    assert_eq!(defaults["tag"], "2016-01-29@14:19:49");
    assert_eq!(defaults["interfaces"], "vnet0:bridge0,vnet1:bridge1");

    // The four clean actions, with the documented messages.
    for (action, message) in [
        ("cleanjails", "All jails have been cleaned."),
        ("cleanreleases", "All RELEASEs have been cleaned."),
        ("cleantemplates", "All templates have been cleaned."),
        ("cleanall", "All iocage datasets have been cleaned."),
    ] {
        assert_eq!(
            ok(&s, json!({"action": action})).await,
            json!({action: {"success": message}})
        );
    }
    let releases = ok(&s, json!({"action": "listreleases"})).await;
    assert_eq!(releases["listreleases"]["local"], json!([]));

    // Deactivate.
    assert_eq!(
        ok(&s, json!({"action": "deactivatepool", "pool": "tank"})).await,
        json!({"deactivatepool": {"success": "pool tank deactivated."}})
    );
    let (code, details) = call(&s, json!({"action": "activatepool"}))
        .await
        .unwrap_err();
    assert_eq!(code, 404, "{details}");
}

#[tokio::test]
async fn empty_jail_is_named_by_uuid_only() {
    let s = service();
    let reply = ok(
        &s,
        json!({"action": "createjail", "props": "tag=bare", "switches": "-e"}),
    )
    .await;
    let uuid = reply["createjail"]["success"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(is_uuid(&uuid));
    assert_eq!(
        reply,
        json!({"createjail": {"props": "tag=bare", "success": {"uuid": &uuid}, "switches": "-e"}})
    );
    let listed = ok(&s, json!({"action": "listjails"})).await;
    assert_eq!(listed["listjails"][&uuid]["type"], "emptyjail");
}

#[tokio::test]
async fn default_tag_is_the_creation_time() {
    let s = service();
    let reply = ok(
        &s,
        json!({"action": "createjail", "props": "release=10.3-RELEASE"}),
    )
    .await;
    let (_, tag) = created(&reply["createjail"]["success"]["Successfully created"]);
    assert!(is_date_tag(&tag), "{tag}");
    // Two in the same second still get distinct tags.
    let again = ok(&s, json!({"action": "createjail", "props": ""})).await;
    let (_, second) = created(&again["createjail"]["success"]["Successfully created"]);
    assert_ne!(tag, second);
}

#[tokio::test]
async fn the_host_refuses_like_iocage() {
    let s = service();
    let check = |args: Value, code: u16, needle: &'static str| {
        let s = s.clone();
        async move {
            let (got, details) = call(&s, args.clone()).await.expect_err("must fail");
            assert_eq!(got, code, "{args}: {details}");
            assert!(details.contains(needle), "{args}: {details}");
        }
    };
    ok(
        &s,
        json!({"action": "createjail", "props": "tag=www ip4_addr=em0|10.0.0.5/24"}),
    )
    .await;
    check(
        json!({"action": "createjail", "props": "tag=www"}),
        409,
        "a jail tagged www already exists",
    )
    .await;
    check(
        json!({"action": "createjail", "props": "tag=x release=9.1-RELEASE"}),
        404,
        "9.1-RELEASE",
    )
    .await;
    check(
        json!({"action": "startjail", "jail": "nosuchjail"}),
        404,
        "not found",
    )
    .await;
    check(
        json!({"action": "activatepool", "pool": "nosuch"}),
        404,
        "no such pool",
    )
    .await;
    check(
        json!({"action": "execjail", "jail": "www", "command": "hostname"}),
        409,
        "not running",
    )
    .await;
    ok(&s, json!({"action": "startjail", "jail": "www"})).await;
    let listed = ok(&s, json!({"action": "listjails"})).await;
    let (_, www) = listed["listjails"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(www["ip4"], "10.0.0.5");
    check(
        json!({"action": "destroyjail", "jail": "www"}),
        409,
        "running",
    )
    .await;
    check(
        json!({"action": "execjail", "jail": "www", "command": "rm -rf /"}),
        502,
        "jexec: execvp: rm: No such file or directory",
    )
    .await;
    check(
        json!({"action": "execjail", "jail": "www", "command": "false"}),
        502,
        "status 1",
    )
    .await;
    check(
        json!({"action": "execjail", "jail": "www", "user": "mallory", "command": "id"}),
        502,
        "no such user",
    )
    .await;
    assert_eq!(
        ok(
            &s,
            json!({"action": "execjail", "jail": "www", "user": "www", "command": "id"})
        )
        .await,
        json!({"execjail": {"success": {"uid=80(www) gid=80(www) groups=80(www)": ""}}})
    );
    assert_eq!(
        ok(
            &s,
            json!({"action": "execjail", "jail": "www", "command": "echo 'a;b'   \"c  d\""})
        )
        .await,
        json!({"execjail": {"success": {"a;b c  d": ""}}})
    );
    // Templates: a clone made a template is listed by `list -t` only and cannot start.
    ok(
        &s,
        json!({"action": "clonejail", "jail": "www", "props": "tag=tpl istemplate=yes"}),
    )
    .await;
    let listed = ok(&s, json!({"action": "listjails"})).await;
    assert_eq!(listed["listjails"].as_object().unwrap().len(), 1);
    check(
        json!({"action": "startjail", "jail": "tpl"}),
        409,
        "template",
    )
    .await;
    ok(&s, json!({"action": "cleantemplates"})).await;
    check(
        json!({"action": "startjail", "jail": "tpl"}),
        404,
        "not found",
    )
    .await;
}
