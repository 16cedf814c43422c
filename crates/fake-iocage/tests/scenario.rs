//! The documented scenario (as `iocage-service`'s `tests/scenario.rs` runs
//! it on the simulated host), end to end through `IocageService`, the CLI
//! backend and a real `fake-iocage` process, once per iocage flavour. Where
//! a flavour lacks a command the answer must be 501.

mod support;

use std::collections::BTreeSet;

use iocage_service::Flavour;
use serde_json::json;
use support::{Fake, created, fails, is_date_tag, is_uuid, ok};

#[tokio::test]
async fn documented_scenario_on_legacy_iocage() {
    let fake = Fake::new(Flavour::Legacy);
    let s = fake.service();

    // Pools.
    assert_eq!(
        ok(&s, json!({"action": "activatepool", "pool": "tank"})).await,
        json!({"activatepool": {"success": "pool tank activated."}})
    );
    assert_eq!(
        ok(&s, json!({"action": "activatepool"})).await,
        json!({"activatepool": {"currently active": {"pool": " tank"}}})
    );

    // Create.
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

    // getjailsettings, all modes.
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
    let keys: BTreeSet<&str> = props.keys().map(String::as_str).collect();
    let legacy: BTreeSet<&str> = iocage_service::properties::all().collect();
    assert_eq!(keys, legacy, "every legacy property, and only those");
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

    // Start twice: the same lines the simulated host reports.
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

    // Exec, with words that a shell would have interpreted.
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
            json!({"action": "execjail", "jail": "test", "command": "echo 'a;b' $HOME"})
        )
        .await,
        json!({"execjail": {"success": {"a;b $HOME": ""}}})
    );
    assert_eq!(
        ok(
            &s,
            json!({"action": "execjail", "jail": "test", "command": "uname -r"})
        )
        .await,
        json!({"execjail": {"success": {"10.2-RELEASE": ""}}})
    );
    let (code, details) = fails(
        &s,
        json!({"action": "execjail", "jail": "test", "command": "rm -rf /"}),
    )
    .await;
    assert_eq!(code, 502);
    assert!(
        details.contains("jexec: execvp: rm: No such file or directory"),
        "{details}"
    );

    // Cap.
    assert_eq!(
        ok(&s, json!({"action": "capjail", "jail": "test"})).await,
        json!({"capjail": {"success": "jail test capped."}})
    );

    // A running jail is not destroyed (iocage's `destroy -f` would stop it).
    let (code, details) = fails(&s, json!({"action": "destroyjail", "jail": "test"})).await;
    assert_eq!(code, 409, "{details}");

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
    assert!(is_uuid(&clone), "{clone}");
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
    let (code, details) = fails(&s, json!({"action": "destroyjail", "jail": "test"})).await;
    assert_eq!(code, 409);
    assert!(details.contains("dependent clone"), "{details}");

    // Destroy, by tag and by UUID.
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

    // Releases: legacy lists local ones only; it has no plugin index.
    assert_eq!(
        ok(&s, json!({"action": "listreleases"})).await,
        json!({"listreleases": {"local": ["10.2-RELEASE", "10.3-RELEASE"], "remote": []}})
    );
    let (code, details) = fails(&s, json!({"action": "listplugins"})).await;
    assert_eq!(code, 501, "{details}");
    assert!(details.contains("plugin index"), "{details}");

    // Defaults.
    let defaults = ok(&s, json!({"action": "getdefaultsettings"})).await;
    let defaults = defaults["getdefaultsettings"]["defaults"]
        .as_object()
        .unwrap();
    assert_eq!(defaults.len(), 109);
    assert_eq!(defaults["memoryuse"], "8G:log");
    assert_eq!(defaults["tag"], "2016-01-29@14:19:49");
    assert_eq!(defaults["interfaces"], "vnet0:bridge0,vnet1:bridge1");

    // The four clean actions.
    clean_all_four(&s).await;
    assert_eq!(
        ok(&s, json!({"action": "listreleases"})).await["listreleases"]["local"],
        json!([])
    );

    // Deactivate. Legacy then sets up another pool by itself on the next
    // command, as L16's `__find_mypool` does.
    assert_eq!(
        ok(&s, json!({"action": "deactivatepool", "pool": "tank"})).await,
        json!({"deactivatepool": {"success": "pool tank deactivated."}})
    );
    assert_eq!(
        ok(&s, json!({"action": "activatepool"})).await,
        json!({"activatepool": {"currently active": {"pool": " tank1"}}})
    );
    let (code, details) = fails(&s, json!({"action": "activatepool", "pool": "nosuch"})).await;
    assert_eq!(code, 404, "{details}");
    assert!(details.contains("no such pool"), "{details}");

    // What iocage was asked, word for word: no prompt-free flag forgotten.
    let log = fake.log();
    assert_eq!(
        log.iter().filter(|line| *line == "--version").count(),
        1,
        "{log:#?}"
    );
    let uuid = uuid.as_str();
    for expected in [
        &["activate", "tank"][..],
        &["create", "tag=test", "release=10.2-RELEASE"],
        &["get", "all", uuid],
        &["exec", "-U", "root", uuid, "echo", "a;b", "$HOME"],
        &["destroy", "-f", uuid],
        &["clone", uuid, "tag=newtest"],
        &["clean", "-fa"],
        &["deactivate", "tank"],
    ] {
        let expected = shell_words::join(expected);
        assert!(log.contains(&expected), "{expected} not in {log:#?}");
    }
}

async fn clean_all_four(s: &iocage_service::IocageService) {
    for (action, message) in [
        ("cleanjails", "All jails have been cleaned."),
        ("cleanreleases", "All RELEASEs have been cleaned."),
        ("cleantemplates", "All templates have been cleaned."),
        ("cleanall", "All iocage datasets have been cleaned."),
    ] {
        assert_eq!(
            ok(s, json!({"action": action})).await,
            json!({action: {"success": message}})
        );
    }
}

#[tokio::test]
async fn documented_scenario_on_python_iocage() {
    let fake = Fake::new(Flavour::Python);
    let s = fake.service();

    // Pools.
    assert_eq!(
        ok(&s, json!({"action": "activatepool", "pool": "tank"})).await,
        json!({"activatepool": {"success": "pool tank activated."}})
    );
    assert_eq!(
        ok(&s, json!({"action": "activatepool"})).await,
        json!({"activatepool": {"currently active": {"pool": " tank"}}})
    );

    // Create: Python has no tags, the tag names the jail.
    let reply = ok(
        &s,
        json!({"action": "createjail", "props": "tag=test release=10.2-RELEASE"}),
    )
    .await;
    assert_eq!(
        reply,
        json!({"createjail": {
            "props": "tag=test release=10.2-RELEASE",
            "success": {"Successfully created": " test (test)"},
            "switches": ""
        }})
    );
    // Python needs the release; the backend says so rather than guessing.
    let (code, details) = fails(&s, json!({"action": "createjail", "props": "tag=x"})).await;
    assert_eq!(code, 400);
    assert!(details.contains("release=RELEASE"), "{details}");

    // List.
    assert_eq!(
        ok(&s, json!({"action": "listjails"})).await,
        json!({"listjails": {"test": {
            "boot": "off", "ip4": "-", "jid": "-", "state": "down", "tag": "test", "type": "jail"
        }}})
    );

    // getjailsettings, all modes.
    assert_eq!(
        ok(
            &s,
            json!({"action": "getjailsettings", "jail": "test", "prop": "vnet"})
        )
        .await,
        json!({"getjailsettings": {"test": {"vnet": "0"}}})
    );
    let all = ok(
        &s,
        json!({"action": "getjailsettings", "jail": "test", "prop": "all"}),
    )
    .await;
    let props = all["getjailsettings"]["test"]
        .as_object()
        .expect("one jail");
    assert_eq!(props["release"], "10.2-RELEASE");
    assert_eq!(props["host_hostuuid"], "test");
    assert_eq!(props["state"], "down");
    assert_eq!(props["resolver"], "/etc/resolv.conf");
    assert!(!props.contains_key("tag"), "Python has no tags");
    assert_eq!(
        ok(
            &s,
            json!({"action": "getjailsettings", "switches": "-r", "prop": "vnet"})
        )
        .await,
        json!({"getjailsettings": {"test": {"TAG": "test", "vnet": "0"}}})
    );
    assert_eq!(
        ok(
            &s,
            json!({"action": "getjailsettings", "jail": "test", "prop": "state"})
        )
        .await,
        json!({"getjailsettings": {"test": {"state": "down"}}})
    );
    assert_eq!(
        ok(
            &s,
            json!({"action": "getjailsettings", "jail": "test", "prop": "tag"})
        )
        .await,
        json!({"getjailsettings": {"test": {"tag": "test"}}})
    );
    // A legacy-only property: Python refuses it.
    let (code, details) = fails(
        &s,
        json!({"action": "getjailsettings", "jail": "test", "prop": "origin"}),
    )
    .await;
    assert_eq!(code, 400);
    assert!(
        details.contains("origin is not a valid property"),
        "{details}"
    );

    // df.
    assert_eq!(
        ok(&s, json!({"action": "df"})).await,
        json!({"df": {"test": {
            "ava": "845G", "crt": "1.86x", "qta": "none", "res": "none", "tag": "test", "use": "463M"
        }}})
    );

    // Start twice.
    assert_eq!(
        ok(&s, json!({"action": "startjail", "jail": "test"})).await,
        json!({"startjail": {"test": {
            "* Starting test": "",
            "+ Started OK": "",
            "+ Using devfs_ruleset: 1000 (iocage generated default)": "",
            "+ Starting services OK": "",
            "+ Executing poststart OK": ""
        }}})
    );
    assert_eq!(
        ok(&s, json!({"action": "startjail", "jail": "test"})).await,
        json!({"startjail": {"test": {"INFO": " test (test) is already up"}}})
    );
    let listed = ok(&s, json!({"action": "listjails"})).await;
    assert_eq!(listed["listjails"]["test"]["state"], "up");
    assert_eq!(listed["listjails"]["test"]["jid"], "1");

    // Exec: option-like words of the command stay the command's.
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
    assert_eq!(
        ok(
            &s,
            json!({"action": "execjail", "jail": "test", "user": "www", "command": "id"})
        )
        .await,
        json!({"execjail": {"success": {"uid=80(www) gid=80(www) groups=80(www)": ""}}})
    );
    let (code, details) = fails(
        &s,
        json!({"action": "execjail", "jail": "test", "command": "false"}),
    )
    .await;
    assert_eq!(code, 502);
    assert!(details.contains("status 1"), "{details}");

    // Cap: Python has none.
    let (code, details) = fails(&s, json!({"action": "capjail", "jail": "test"})).await;
    assert_eq!(code, 501, "{details}");
    assert!(details.contains("iocage cap"), "{details}");

    // Stop twice, by a name prefix the second time.
    assert_eq!(
        ok(&s, json!({"action": "stopjail", "jail": "test"})).await,
        json!({"stopjail": {"test": {
            "* Stopping test": "",
            "+ Executing prestop OK": "",
            "+ Stopping services OK": "",
            "+ Removing devfs_ruleset: 1000 OK": "",
            "+ Removing jail process OK": "",
            "+ Executing poststop OK": ""
        }}})
    );
    assert_eq!(
        ok(&s, json!({"action": "stopjail", "jail": "tes"})).await,
        json!({"stopjail": {"tes": {"INFO": " test (test) is already down"}}})
    );
    let (code, details) = fails(
        &s,
        json!({"action": "execjail", "jail": "test", "command": "hostname"}),
    )
    .await;
    assert_eq!(code, 409);
    assert!(details.contains("is not running"), "{details}");

    // Clone with and without props.
    let reply = ok(
        &s,
        json!({"action": "clonejail", "jail": "test", "props": "tag=newtest"}),
    )
    .await;
    assert_eq!(
        reply,
        json!({"clonejail": {
            "jail": "test",
            "props": "tag=newtest",
            "success": {"Successfully created": " newtest (newtest)"}
        }})
    );
    let reply = ok(&s, json!({"action": "clonejail", "jail": "test"})).await;
    let (bare, bare_tag) = created(&reply["clonejail"]["success"]["Successfully created"]);
    assert!(is_uuid(&bare), "{bare}");
    assert_eq!(bare_tag, bare, "a Python jail's name is its tag");
    let (code, details) = fails(
        &s,
        json!({"action": "clonejail", "jail": "test", "props": "tag=newtest"}),
    )
    .await;
    assert_eq!(code, 409);
    assert!(details.contains("already exists"), "{details}");

    // The original has dependent clones: iocage refuses.
    let (code, details) = fails(&s, json!({"action": "destroyjail", "jail": "test"})).await;
    assert_eq!(code, 409);
    assert!(details.contains("dependent jails"), "{details}");

    // Destroy.
    assert_eq!(
        ok(&s, json!({"action": "destroyjail", "jail": "newtest"})).await,
        json!({"destroyjail": {"success": {"Destroying": " newtest"}}})
    );
    ok(&s, json!({"action": "destroyjail", "jail": bare})).await;
    ok(&s, json!({"action": "destroyjail", "jail": "test"})).await;
    assert_eq!(
        ok(&s, json!({"action": "listjails"})).await,
        json!({"listjails": {}})
    );

    // Releases and plugins.
    assert_eq!(
        ok(&s, json!({"action": "listreleases"})).await,
        json!({"listreleases": {
            "local": ["10.2-RELEASE", "10.3-RELEASE"],
            "remote": [
                "9.3-RELEASE (EOL)",
                "10.1-RELEASE (EOL)",
                "10.2-RELEASE (EOL)",
                "10.3-RELEASE",
                "11.0-RELEASE"
            ]
        }})
    );
    let plugins = ok(&s, json!({"action": "listplugins"})).await;
    let index = plugins["listplugins"]["remote"].as_object().unwrap();
    assert_eq!(index.len(), 3);
    assert_eq!(
        index["transmission"],
        json!({"description": "Fast and lightweight daemon BitTorrent client", "id": "transmission", "name": "Transmission"})
    );
    // A description wrapped over several table lines comes back whole.
    assert_eq!(
        index["bitwarden"]["description"],
        "Bitwarden is an open source password management solution for individuals, teams, and business organizations."
    );

    // Defaults: `get all default`.
    let defaults = ok(&s, json!({"action": "getdefaultsettings"})).await;
    let defaults = defaults["getdefaultsettings"]["defaults"]
        .as_object()
        .unwrap();
    assert_eq!(defaults["CONFIG_VERSION"], "29");
    assert_eq!(defaults["interfaces"], "vnet0:bridge0");

    // The four clean actions.
    clean_all_four(&s).await;
    assert_eq!(
        ok(&s, json!({"action": "listreleases"})).await["listreleases"]["local"],
        json!([])
    );

    // Deactivate: Python has none.
    let (code, details) = fails(&s, json!({"action": "deactivatepool", "pool": "tank"})).await;
    assert_eq!(code, 501, "{details}");
    assert!(details.contains("deactivate"), "{details}");
    assert_eq!(
        ok(&s, json!({"action": "activatepool"})).await,
        json!({"activatepool": {"currently active": {"pool": " tank"}}})
    );
    let (code, details) = fails(&s, json!({"action": "activatepool", "pool": "nosuch"})).await;
    assert_eq!(code, 404, "{details}");

    let log = fake.log();
    for expected in [
        "create -r 10.2-RELEASE -n test",
        "list -l",
        "list -l -t",
        "get -p",
        "exec -U root -- test echo hi",
        // Without -f, which would skip the dependents check (the prompt is
        // answered on stdin).
        "destroy test",
        "clone test -n newtest",
        "clean -f -a",
        "get all default",
    ] {
        assert!(
            log.iter().any(|line| line == expected),
            "{expected} not in {log:#?}"
        );
    }
    assert!(
        !log.iter()
            .any(|line| line.starts_with("cap") || line.starts_with("deactivate")),
        "commands Python lacks are never run: {log:#?}"
    );
}

#[tokio::test]
async fn empty_jails_are_named_by_uuid_or_name() {
    for flavour in [Flavour::Legacy, Flavour::Python] {
        let fake = Fake::new(flavour);
        let s = fake.service();
        let reply = ok(
            &s,
            json!({"action": "createjail", "props": "tag=bare", "switches": "-e"}),
        )
        .await;
        let uuid = reply["createjail"]["success"]["uuid"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            reply,
            json!({"createjail": {"props": "tag=bare", "success": {"uuid": &uuid}, "switches": "-e"}})
        );
        let listed = ok(&s, json!({"action": "listjails"})).await;
        match flavour {
            Flavour::Legacy => {
                assert!(is_uuid(&uuid), "{uuid}");
                assert_eq!(listed["listjails"][&uuid]["type"], "emptyjail");
                assert_eq!(listed["listjails"][&uuid]["tag"], "bare");
            }
            Flavour::Python => {
                assert_eq!(uuid, "bare");
                assert_eq!(listed["listjails"]["bare"]["type"], "jail");
            }
        }
        assert!(
            fake.log().iter().any(|line| line.starts_with("create -e")),
            "{:?}",
            fake.log()
        );
    }
}

#[tokio::test]
async fn templates_are_listed_apart_and_refuse_to_start() {
    let fake = Fake::new(Flavour::Legacy);
    let s = fake.service();
    ok(&s, json!({"action": "createjail", "props": "tag=www"})).await;
    ok(
        &s,
        json!({"action": "clonejail", "jail": "www", "props": "tag=tpl istemplate=yes"}),
    )
    .await;
    let listed = ok(&s, json!({"action": "listjails"})).await;
    let jails = listed["listjails"].as_object().unwrap();
    assert_eq!(
        jails.len(),
        1,
        "templates come from `list -t` only: {jails:?}"
    );
    let (code, details) = fails(&s, json!({"action": "startjail", "jail": "tpl"})).await;
    assert_eq!(code, 409, "{details}");
    assert!(details.contains("template"), "{details}");
    ok(&s, json!({"action": "cleantemplates"})).await;
    let (code, _) = fails(&s, json!({"action": "startjail", "jail": "tpl"})).await;
    assert_eq!(code, 404);
}
