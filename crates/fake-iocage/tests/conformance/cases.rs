//! The scenario table of the conformance suite: the documented requests
//! (fixtures/api), the errors and the races, each a case run on a fresh
//! host of every target. A case asserts what a true answer is on that
//! target; where the flavours rightly differ (legacy UUIDs and tags, Python
//! names, property values, step lines), it says so beside the assertion.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};

use crate::Ctx;
use crate::support::{call, created, fails, is_date_tag, is_uuid, ok};

/// A case: its name and its body.
pub(crate) type Case = (
    &'static str,
    fn(Ctx) -> Pin<Box<dyn Future<Output = ()> + Send>>,
);

/// Every case, in the order a report lists them.
pub(crate) const CASES: &[Case] = &[
    ("pools", |c| Box::pin(pools(c))),
    ("create_and_read", |c| Box::pin(create_and_read(c))),
    ("start_exec_stop", |c| Box::pin(start_exec_stop(c))),
    ("clone_and_destroy", |c| Box::pin(clone_and_destroy(c))),
    ("releases_plugins_defaults", |c| {
        Box::pin(releases_plugins_defaults(c))
    }),
    ("clean_and_deactivate", |c| {
        Box::pin(clean_and_deactivate(c))
    }),
    ("activate_another_pool", |c| {
        Box::pin(activate_another_pool(c))
    }),
    ("empty_jail", |c| Box::pin(empty_jail(c))),
    ("default_names", |c| Box::pin(default_names(c))),
    ("refusals", |c| Box::pin(refusals(c))),
    ("templates", |c| Box::pin(templates(c))),
    ("one_word_command_is_no_shell_line", |c| {
        Box::pin(one_word_command(c))
    }),
    ("existing_tag_is_409", |c| Box::pin(existing_tag(c))),
    ("uuid_like_tag_is_400", |c| Box::pin(uuid_like_tag(c))),
    ("race_creates_of_one_tag", |c| Box::pin(race_creates(c))),
    ("race_starts_of_one_jail", |c| Box::pin(race_starts(c))),
    ("offline_listreleases_keeps_local", |c| {
        Box::pin(offline_releases(c))
    }),
];

/// Creates jail `test` from 10.2-RELEASE; its id (UUID, or the Python name).
async fn make_test(c: &Ctx) -> String {
    let reply = ok(
        &c.s,
        json!({"action": "createjail", "props": "tag=test release=10.2-RELEASE"}),
    )
    .await;
    let (id, tag) = created(&reply["createjail"]["success"]["Successfully created"]);
    assert_eq!(tag, "test", "{reply}");
    id
}

async fn pools(c: Ctx) {
    assert_eq!(
        ok(&c.s, json!({"action": "activatepool", "pool": "tank"})).await,
        json!({"activatepool": {"success": "pool tank activated."}})
    );
    assert_eq!(
        ok(&c.s, json!({"action": "activatepool"})).await,
        json!({"activatepool": {"currently active": {"pool": " tank"}}})
    );
    let (code, details) = fails(&c.s, json!({"action": "activatepool", "pool": "nosuch"})).await;
    assert_eq!(code, 404, "{details}");
    assert!(details.contains("nosuch"), "{details}");
}

async fn create_and_read(c: Ctx) {
    let id = make_test(&c).await;
    if c.python() {
        // Python has no tags: the tag names the jail.
        assert_eq!(id, "test");
    } else {
        assert!(is_uuid(&id), "{id}");
    }
    assert_eq!(
        ok(
            &c.s,
            json!({"action": "createjail", "props": "tag=test2 release=10.2-RELEASE"})
        )
        .await["createjail"]["props"],
        "tag=test2 release=10.2-RELEASE"
    );
    let listed = ok(&c.s, json!({"action": "listjails"})).await;
    let row = &listed["listjails"][&id];
    assert_eq!(
        listed["listjails"].as_object().unwrap().len(),
        2,
        "{listed}"
    );
    assert_eq!(row["tag"], "test", "{listed}");
    assert_eq!(row["state"], "down", "{listed}");
    assert_eq!(row["jid"], "-", "{listed}");
    if !c.legacy_release() {
        // 1.7.x lists no TYPE column (lib/ioc-info@6189eac:116).
        let kind = if c.python() { "jail" } else { "basejail" };
        assert_eq!(
            *row,
            json!({"boot": "off", "ip4": "-", "jid": "-", "state": "down", "tag": "test", "type": kind})
        );
    }

    let vnet = if c.python() { "0" } else { "off" };
    assert_eq!(
        ok(
            &c.s,
            json!({"action": "getjailsettings", "jail": "test", "prop": "vnet"})
        )
        .await,
        json!({"getjailsettings": {"test": {"vnet": vnet}}})
    );
    let all = ok(
        &c.s,
        json!({"action": "getjailsettings", "jail": "test", "prop": "all"}),
    )
    .await;
    let props = all["getjailsettings"]["test"]
        .as_object()
        .expect("one jail");
    assert_eq!(props["release"], "10.2-RELEASE");
    if c.python() {
        assert_eq!(props["host_hostuuid"], "test");
        assert_eq!(props["state"], "down");
        assert!(!props.contains_key("tag"), "Python has no tags");
        // The tag is the name; a legacy-only property is refused.
        assert_eq!(
            ok(
                &c.s,
                json!({"action": "getjailsettings", "jail": "test", "prop": "tag"})
            )
            .await,
            json!({"getjailsettings": {"test": {"tag": "test"}}})
        );
        let (code, details) = fails(
            &c.s,
            json!({"action": "getjailsettings", "jail": "test", "prop": "origin"}),
        )
        .await;
        assert_eq!(code, 400, "{details}");
        assert!(
            details.contains("origin is not a valid property"),
            "{details}"
        );
    } else {
        assert_eq!(props["tag"], "test");
        assert_eq!(props["host_hostuuid"], id.as_str());
        assert_eq!(props["memoryuse"], "8G:log");
        let keys: BTreeSet<&str> = props.keys().map(String::as_str).collect();
        if c.legacy_release() {
            // 1.7.x's own set: `template="no"`, a `hostname`, no
            // `istemplate` (lib/ioc-globals@6189eac:24,104).
            assert_eq!(props["template"], "no");
            assert_eq!(props["hostname"], id.as_str());
            assert!(!keys.contains("istemplate"), "{keys:?}");
        } else {
            assert_eq!(props["template"], "-");
            let legacy: BTreeSet<&str> = iocage_service::properties::all().collect();
            assert_eq!(keys, legacy, "every legacy property, and only those");
        }
    }
    assert_eq!(
        ok(&c.s, json!({"action": "getjailsettings", "jail": "test"})).await,
        all,
        "the jail alone means all"
    );
    let recursive = ok(
        &c.s,
        json!({"action": "getjailsettings", "switches": "-r", "prop": "vnet"}),
    )
    .await;
    assert_eq!(
        recursive["getjailsettings"][&id],
        json!({"TAG": "test", "vnet": vnet}),
        "{recursive}"
    );
    assert_eq!(
        ok(
            &c.s,
            json!({"action": "getjailsettings", "jail": "test", "prop": "state"})
        )
        .await,
        json!({"getjailsettings": {"test": {"state": "down"}}})
    );

    let df = ok(&c.s, json!({"action": "df"})).await;
    let expected = if c.python() {
        json!({"ava": "845G", "crt": "1.86x", "qta": "none", "res": "none", "tag": "test", "use": "463M"})
    } else {
        json!({"ava": "83.4G", "crt": "2.30x", "qta": "none", "res": "none", "tag": "test", "use": "1.69M"})
    };
    assert_eq!(df["df"][&id], expected, "{df}");
}

/// The lines of starting jail `test` (`id`).
fn started(c: &Ctx, id: &str) -> Value {
    if c.python() {
        json!({
            "* Starting test": "",
            "+ Started OK": "",
            "+ Using devfs_ruleset: 1000 (iocage generated default)": "",
            "+ Starting services OK": "",
            "+ Executing poststart OK": ""
        })
    } else {
        json!({
            format!("* Starting {id} (test)"): "",
            "+ Started (shared IP mode) OK": "",
            "+ Starting services OK": ""
        })
    }
}

async fn start_exec_stop(c: Ctx) {
    let id = make_test(&c).await;
    assert_eq!(
        ok(&c.s, json!({"action": "startjail", "jail": "test"})).await,
        json!({"startjail": {"test": started(&c, &id)}})
    );
    // The documented notice, whatever the version printed.
    assert_eq!(
        ok(&c.s, json!({"action": "startjail", "jail": "test"})).await,
        json!({"startjail": {"test": {"INFO": format!(" {id} (test) is already up")}}})
    );
    let listed = ok(&c.s, json!({"action": "listjails"})).await;
    assert_eq!(listed["listjails"][&id]["state"], "up", "{listed}");
    assert_eq!(listed["listjails"][&id]["jid"], "1", "{listed}");

    for (command, output) in [
        ("echo hi", "hi"),
        // Words a shell would have interpreted reach the command as words.
        ("echo 'a;b' $HOME", "a;b $HOME"),
        ("uname -r", "10.2-RELEASE"),
    ] {
        assert_eq!(
            ok(
                &c.s,
                json!({"action": "execjail", "jail": "test", "user": "root", "command": command})
            )
            .await,
            json!({"execjail": {"success": {output: ""}}}),
            "{command}"
        );
    }
    assert_eq!(
        ok(
            &c.s,
            json!({"action": "execjail", "jail": "test", "user": "www", "command": "id"})
        )
        .await,
        json!({"execjail": {"success": {"uid=80(www) gid=80(www) groups=80(www)": ""}}})
    );
    let (code, details) = fails(
        &c.s,
        json!({"action": "execjail", "jail": "test", "command": "rm -rf /"}),
    )
    .await;
    assert_eq!(code, 502, "{details}");
    assert!(
        details.contains("jexec: execvp: rm: No such file or directory"),
        "{details}"
    );
    let (code, details) = fails(
        &c.s,
        json!({"action": "execjail", "jail": "test", "command": "false"}),
    )
    .await;
    assert_eq!(code, 502, "{details}");
    assert!(details.contains("status 1"), "{details}");

    if c.python() {
        let (code, details) = fails(&c.s, json!({"action": "capjail", "jail": "test"})).await;
        assert_eq!(code, 501, "{details}");
        assert!(details.contains("iocage cap"), "{details}");
    } else {
        assert_eq!(
            ok(&c.s, json!({"action": "capjail", "jail": "test"})).await,
            json!({"capjail": {"success": "jail test capped."}})
        );
    }

    // A running jail is not destroyed (legacy `destroy -f` would stop it).
    let (code, details) = fails(&c.s, json!({"action": "destroyjail", "jail": "test"})).await;
    assert_eq!(code, 409, "{details}");

    let stopped = if c.python() {
        json!({
            "* Stopping test": "",
            "+ Executing prestop OK": "",
            "+ Stopping services OK": "",
            "+ Removing devfs_ruleset: 1000 OK": "",
            "+ Removing jail process OK": "",
            "+ Executing poststop OK": ""
        })
    } else {
        json!({
            format!("* Stopping {id} (test)"): "",
            "+ Running pre-stop OK": "",
            "+ Stopping services OK": "",
            "+ Removing jail process OK": "",
            "+ Running post-stop OK": ""
        })
    };
    assert_eq!(
        ok(&c.s, json!({"action": "stopjail", "jail": "test"})).await,
        json!({"stopjail": {"test": stopped}})
    );
    // Again, by a unique prefix of the UUID (legacy) or name (Python).
    let short = if c.python() { "tes" } else { &id[..8] };
    assert_eq!(
        ok(&c.s, json!({"action": "stopjail", "jail": short})).await,
        json!({"stopjail": {short: {"INFO": format!(" {id} (test) is already down")}}})
    );
    let (code, details) = fails(
        &c.s,
        json!({"action": "execjail", "jail": "test", "command": "hostname"}),
    )
    .await;
    assert_eq!(code, 409, "{details}");
    assert!(details.contains("not running"), "{details}");
}

async fn clone_and_destroy(c: Ctx) {
    let id = make_test(&c).await;
    let reply = ok(
        &c.s,
        json!({"action": "clonejail", "jail": "test", "props": "tag=newtest"}),
    )
    .await;
    let (clone, clone_tag) = created(&reply["clonejail"]["success"]["Successfully created"]);
    assert_eq!(clone_tag, "newtest");
    if c.python() {
        assert_eq!(clone, "newtest");
    } else {
        assert!(is_uuid(&clone), "{clone}");
    }
    assert_eq!(
        reply,
        json!({"clonejail": {
            "jail": "test",
            "props": "tag=newtest",
            "success": {"Successfully created": format!(" {clone} (newtest)")}
        }})
    );
    let reply = ok(&c.s, json!({"action": "clonejail", "jail": "test"})).await;
    let (bare, bare_tag) = created(&reply["clonejail"]["success"]["Successfully created"]);
    assert_eq!(reply["clonejail"]["props"], "");
    if c.python() {
        assert!(is_uuid(&bare), "{bare}");
        assert_eq!(bare_tag, bare, "a Python jail's name is its tag");
    } else {
        assert!(is_date_tag(&bare_tag), "{bare_tag}");
        let listed = ok(&c.s, json!({"action": "listjails"})).await;
        if !c.legacy_release() {
            assert_eq!(listed["listjails"][&clone]["type"], "clonejail", "{listed}");
        }
        assert_eq!(
            ok(
                &c.s,
                json!({"action": "getjailsettings", "jail": "newtest", "prop": "origin"})
            )
            .await,
            json!({"getjailsettings": {"newtest": {"origin": format!("tank/iocage/jails/{id}@{clone}")}}})
        );
    }

    // The original has dependent clones: refused, and nothing is destroyed.
    let (code, details) = fails(&c.s, json!({"action": "destroyjail", "jail": "test"})).await;
    assert_eq!(code, 409, "{details}");
    assert!(details.contains("dependent"), "{details}");
    let listed = ok(&c.s, json!({"action": "listjails"})).await;
    assert_eq!(
        listed["listjails"].as_object().unwrap().len(),
        3,
        "{listed}"
    );

    assert_eq!(
        ok(&c.s, json!({"action": "destroyjail", "jail": "newtest"})).await,
        json!({"destroyjail": {"success": {"Destroying": format!(" {clone}")}}})
    );
    ok(&c.s, json!({"action": "destroyjail", "jail": bare})).await;
    assert_eq!(
        ok(&c.s, json!({"action": "destroyjail", "jail": "test"})).await,
        json!({"destroyjail": {"success": {"Destroying": format!(" {id}")}}})
    );
    assert_eq!(
        ok(&c.s, json!({"action": "listjails"})).await,
        json!({"listjails": {}})
    );
}

async fn releases_plugins_defaults(c: Ctx) {
    let releases = ok(&c.s, json!({"action": "listreleases"})).await;
    assert_eq!(
        releases["listreleases"]["local"],
        json!(["10.2-RELEASE", "10.3-RELEASE"]),
        "{releases}"
    );
    let remote = &releases["listreleases"]["remote"];
    if c.legacy() {
        // Legacy iocage has no remote list.
        assert_eq!(*remote, json!([]));
    } else if c.versioned_python() {
        // Python 1.x prints bare names, never "(EOL)" (iocage_cli/list.py@c3198327:91-92).
        assert_eq!(
            *remote,
            json!([
                "9.3-RELEASE",
                "10.1-RELEASE",
                "10.2-RELEASE",
                "10.3-RELEASE",
                "11.0-RELEASE"
            ])
        );
    } else {
        assert_eq!(
            *remote,
            json!([
                "9.3-RELEASE (EOL)",
                "10.1-RELEASE (EOL)",
                "10.2-RELEASE (EOL)",
                "10.3-RELEASE",
                "11.0-RELEASE"
            ])
        );
    }

    if c.legacy() {
        let (code, details) = fails(&c.s, json!({"action": "listplugins"})).await;
        assert_eq!(code, 501, "{details}");
        assert!(details.contains("plugin index"), "{details}");
    } else {
        let plugins = ok(&c.s, json!({"action": "listplugins"})).await;
        let index = plugins["listplugins"]["remote"].as_object().unwrap();
        assert_eq!(index.len(), if c.python() { 3 } else { 18 });
        assert_eq!(
            index["transmission"],
            json!({"description": "Fast and lightweight daemon BitTorrent client", "id": "transmission", "name": "Transmission"})
        );
        if c.python() {
            // Keyed by the package, as documented, not by the display name.
            assert_eq!(index["plexmediaserver"]["name"], "Plex Media Server");
            // A description wrapped over several table lines comes back whole.
            assert_eq!(
                index["bitwarden"]["description"],
                "Bitwarden is an open source password management solution for individuals, teams, and business organizations."
            );
        }
    }

    let defaults = ok(&c.s, json!({"action": "getdefaultsettings"})).await;
    let defaults = defaults["getdefaultsettings"]["defaults"]
        .as_object()
        .unwrap();
    if c.python() {
        assert_eq!(defaults["CONFIG_VERSION"], "29");
        assert_eq!(defaults["interfaces"], "vnet0:bridge0");
    } else {
        // `__print_defaults` prints every non-empty CONF_* property: 109 in
        // L16, 102 in 1.7.x (lib/ioc-info@6189eac:15-37, ioc-globals@6189eac).
        assert_eq!(defaults.len(), if c.legacy_release() { 102 } else { 109 });
        assert_eq!(defaults["memoryuse"], "8G:log");
        assert_eq!(defaults["tag"], "2016-01-29@14:19:49");
        assert_eq!(defaults["interfaces"], "vnet0:bridge0,vnet1:bridge1");
    }
}

async fn clean_and_deactivate(c: Ctx) {
    make_test(&c).await;
    for (action, message) in [
        ("cleanjails", "All jails have been cleaned."),
        ("cleanreleases", "All RELEASEs have been cleaned."),
        ("cleantemplates", "All templates have been cleaned."),
        ("cleanall", "All iocage datasets have been cleaned."),
    ] {
        if c.legacy_release() && action == "cleantemplates" {
            // 1.7.x `__clean` knows only -a, -r and -j (lib/ioc-zfs@6189eac:30-110).
            let (code, details) = fails(&c.s, json!({"action": action})).await;
            assert_eq!(code, 501, "{details}");
            assert!(details.contains("clean -t"), "{details}");
            continue;
        }
        assert_eq!(
            ok(&c.s, json!({"action": action})).await,
            json!({action: {"success": message}})
        );
    }
    // No prompting command ran without its `-f` (stdin is closed: a
    // prompt would answer "no"). 1.7.x `clean` has no `-f`: its prompt is
    // answered `y` on stdin (lib/ioc-zfs@6189eac:30-110).
    for line in c.log() {
        let words: Vec<&str> = line.split(' ').collect();
        if words[0] == "destroy" || (words[0] == "clean" && !c.legacy_release()) {
            assert!(
                words
                    .iter()
                    .any(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('f')),
                "{line}"
            );
        }
    }
    // The cleaning really happened.
    let releases = ok(&c.s, json!({"action": "listreleases"})).await;
    assert_eq!(releases["listreleases"]["local"], json!([]), "{releases}");
    assert_eq!(
        ok(&c.s, json!({"action": "listjails"})).await,
        json!({"listjails": {}})
    );

    if c.python() {
        let (code, details) =
            fails(&c.s, json!({"action": "deactivatepool", "pool": "tank"})).await;
        assert_eq!(code, 501, "{details}");
        assert!(details.contains("deactivate"), "{details}");
        return;
    }
    assert_eq!(
        ok(&c.s, json!({"action": "deactivatepool", "pool": "tank"})).await,
        json!({"deactivatepool": {"success": "pool tank deactivated."}})
    );
    if c.sim() {
        let (code, details) = call(&c.s, json!({"action": "activatepool"}))
            .await
            .unwrap_err();
        assert_eq!(code, 404, "{details}");
    } else {
        // Legacy sets up another pool by itself on the next command
        // (`__find_mypool`, lib/ioc-info@3ffbc87:352-366).
        assert_eq!(
            ok(&c.s, json!({"action": "activatepool"})).await,
            json!({"activatepool": {"currently active": {"pool": " tank1"}}})
        );
    }
}

async fn activate_another_pool(c: Ctx) {
    make_test(&c).await;
    assert_eq!(
        ok(&c.s, json!({"action": "activatepool", "pool": "tank1"})).await,
        json!({"activatepool": {"success": "pool tank1 activated."}})
    );
    // The host is usable afterwards, on the new pool alone.
    assert_eq!(
        ok(&c.s, json!({"action": "activatepool"})).await,
        json!({"activatepool": {"currently active": {"pool": " tank1"}}})
    );
    ok(&c.s, json!({"action": "listjails"})).await;
}

async fn empty_jail(c: Ctx) {
    let reply = ok(
        &c.s,
        json!({"action": "createjail", "props": "tag=bare", "switches": "-e"}),
    )
    .await;
    let id = reply["createjail"]["success"]["uuid"]
        .as_str()
        .expect("the documented uuid")
        .to_owned();
    assert_eq!(
        reply,
        json!({"createjail": {"props": "tag=bare", "success": {"uuid": &id}, "switches": "-e"}})
    );
    let listed = ok(&c.s, json!({"action": "listjails"})).await;
    if c.python() {
        assert_eq!(id, "bare");
        assert_eq!(listed["listjails"]["bare"]["type"], "jail", "{listed}");
    } else {
        assert!(is_uuid(&id), "{id}");
        assert_eq!(listed["listjails"][&id]["tag"], "bare", "{listed}");
        if !c.legacy_release() {
            assert_eq!(listed["listjails"][&id]["type"], "emptyjail", "{listed}");
        }
    }
}

async fn default_names(c: Ctx) {
    if c.python() {
        // Python needs the release; the backend says so rather than guessing.
        let (code, details) = fails(&c.s, json!({"action": "createjail", "props": "tag=x"})).await;
        assert_eq!(code, 400, "{details}");
        assert!(details.contains("release=RELEASE"), "{details}");
        let reply = ok(
            &c.s,
            json!({"action": "createjail", "props": "release=10.3-RELEASE"}),
        )
        .await;
        let (name, tag) = created(&reply["createjail"]["success"]["Successfully created"]);
        assert!(is_uuid(&name), "{name}");
        assert_eq!(tag, name);
        return;
    }
    // Every iocage run within one second (legacy's own default tag would
    // be the same for all of them).
    let s = c.frozen_clock();
    let reply = ok(
        &s,
        json!({"action": "createjail", "props": "release=10.3-RELEASE"}),
    )
    .await;
    let (uuid, tag) = created(&reply["createjail"]["success"]["Successfully created"]);
    assert!(is_date_tag(&tag), "{tag}");
    let mut made = vec![(uuid, tag)];
    // More at once, mostly within one second of sysadmd's clock too: each
    // gets its own tag (the date, or the date with `_2`, `_3`, ...).
    let replies = futures_util::future::join_all((0..4).map(|_| {
        let s = s.clone();
        async move { ok(&s, json!({"action": "createjail", "props": ""})).await }
    }))
    .await;
    for reply in &replies {
        let (uuid, tag) = created(&reply["createjail"]["success"]["Successfully created"]);
        let date = tag.split_once('_').map_or(tag.as_str(), |(date, n)| {
            assert!(n.parse::<u32>().is_ok_and(|n| n >= 2), "{tag}");
            date
        });
        assert!(is_date_tag(date), "{tag}");
        made.push((uuid, tag));
    }
    let tags: BTreeSet<&str> = made.iter().map(|(_, tag)| tag.as_str()).collect();
    assert_eq!(tags.len(), made.len(), "one tag each: {made:?}");
    // And each answer is true afterwards: no jail's tag was replaced.
    let listed = ok(&s, json!({"action": "listjails"})).await;
    let jails = listed["listjails"].as_object().unwrap();
    assert_eq!(jails.len(), made.len(), "{listed}");
    for (uuid, tag) in &made {
        assert_eq!(jails[uuid]["tag"], *tag, "{listed}");
    }
}

/// `args` fails with `code` and details containing `needle`.
async fn refused(c: &Ctx, args: Value, code: u16, needle: &str) {
    let (got, details) = fails(&c.s, args.clone()).await;
    assert_eq!(got, code, "{args}: {details}");
    assert!(details.contains(needle), "{args}: {details}");
}

async fn refusals(c: Ctx) {
    ok(
        &c.s,
        json!({"action": "createjail", "props": "tag=www ip4_addr=em0|10.0.0.5/24 release=10.2-RELEASE"}),
    )
    .await;
    refused(
        &c,
        json!({"action": "createjail", "props": "tag=x release=9.1-RELEASE"}),
        404,
        "9.1-RELEASE",
    )
    .await;
    refused(
        &c,
        json!({"action": "startjail", "jail": "nosuchjail"}),
        404,
        "not found",
    )
    .await;
    refused(
        &c,
        json!({"action": "getjailsettings", "jail": "nosuchjail", "prop": "vnet"}),
        404,
        "not found",
    )
    .await;
    refused(
        &c,
        json!({"action": "execjail", "jail": "www", "command": "hostname"}),
        409,
        "not running",
    )
    .await;
    ok(&c.s, json!({"action": "startjail", "jail": "www"})).await;
    if !c.python() {
        let listed = ok(&c.s, json!({"action": "listjails"})).await;
        let (_, www) = listed["listjails"]
            .as_object()
            .unwrap()
            .iter()
            .next()
            .unwrap();
        assert_eq!(www["ip4"], "10.0.0.5", "{listed}");
    }
    refused(
        &c,
        json!({"action": "destroyjail", "jail": "www"}),
        409,
        "running",
    )
    .await;
    refused(
        &c,
        json!({"action": "execjail", "jail": "www", "user": "mallory", "command": "id"}),
        502,
        "no such user",
    )
    .await;
    assert_eq!(
        ok(
            &c.s,
            json!({"action": "execjail", "jail": "www", "command": "echo 'a;b'   \"c  d\""})
        )
        .await,
        json!({"execjail": {"success": {"a;b c  d": ""}}})
    );
    // Nothing was made or lost by the refusals.
    let listed = ok(&c.s, json!({"action": "listjails"})).await;
    assert_eq!(
        listed["listjails"].as_object().unwrap().len(),
        1,
        "{listed}"
    );
}

async fn templates(c: Ctx) {
    make_test(&c).await;
    ok(
        &c.s,
        json!({"action": "clonejail", "jail": "test", "props": "tag=tpl istemplate=yes"}),
    )
    .await;
    let listed = ok(&c.s, json!({"action": "listjails"})).await;
    assert_eq!(
        listed["listjails"].as_object().unwrap().len(),
        1,
        "templates are not jails: {listed}"
    );
    // Python says `Please convert back to a jail before trying to start
    // tpl` (iocage_lib/iocage.py@c3198327:346-348).
    let said = if c.python() {
        "convert back to a jail"
    } else {
        "template"
    };
    refused(&c, json!({"action": "startjail", "jail": "tpl"}), 409, said).await;
    if c.legacy_release() {
        // No `clean -t` in 1.7.x (lib/ioc-zfs@6189eac:30-110): the
        // template is destroyed by name instead.
        refused(&c, json!({"action": "cleantemplates"}), 501, "clean -t").await;
        ok(&c.s, json!({"action": "destroyjail", "jail": "tpl"})).await;
    } else {
        ok(&c.s, json!({"action": "cleantemplates"})).await;
    }
    refused(
        &c,
        json!({"action": "startjail", "jail": "tpl"}),
        404,
        "not found",
    )
    .await;
    let listed = ok(&c.s, json!({"action": "listjails"})).await;
    assert_eq!(
        listed["listjails"].as_object().unwrap().len(),
        1,
        "{listed}"
    );
}

async fn one_word_command(c: Ctx) {
    make_test(&c).await;
    ok(&c.s, json!({"action": "startjail", "jail": "test"})).await;
    // One quoted word is one program name, never a shell line: no program
    // of that name exists, and neither `echo` ran.
    let (code, details) = fails(
        &c.s,
        json!({"action": "execjail", "jail": "test", "command": "'echo a; echo b'"}),
    )
    .await;
    assert_eq!(code, 502, "{details}");
    assert!(details.contains("No such file or directory"), "{details}");
    assert!(!details.contains("\na\n"), "{details}");
}

async fn existing_tag(c: Ctx) {
    let id = make_test(&c).await;
    ok(&c.s, json!({"action": "startjail", "jail": "test"})).await;
    for args in [
        json!({"action": "createjail", "props": "tag=test release=10.2-RELEASE"}),
        json!({"action": "clonejail", "jail": "test", "props": "tag=test"}),
    ] {
        let (code, details) = fails(&c.s, args.clone()).await;
        assert_eq!(code, 409, "{args}: {details}");
    }
    // The running jail kept its name, and nothing was added.
    let listed = ok(&c.s, json!({"action": "listjails"})).await;
    let jails = listed["listjails"].as_object().unwrap();
    assert_eq!(jails.len(), 1, "{listed}");
    assert_eq!(jails[&id]["tag"], "test", "{listed}");
    assert_eq!(jails[&id]["state"], "up", "{listed}");
}

async fn uuid_like_tag(c: Ctx) {
    let id = make_test(&c).await;
    let uuid = if c.python() {
        "0c3d8a66-4a5e-4b8f-9f0e-2f6f1f3c9a11".to_owned()
    } else {
        id
    };
    for tag in [uuid.clone(), uuid[..13].to_owned()] {
        let (code, details) = fails(
            &c.s,
            json!({"action": "createjail", "props": format!("tag={tag} release=10.2-RELEASE")}),
        )
        .await;
        assert_eq!(code, 400, "{tag}: {details}");
        assert!(details.contains("UUID"), "{details}");
    }
    let listed = ok(&c.s, json!({"action": "listjails"})).await;
    assert_eq!(
        listed["listjails"].as_object().unwrap().len(),
        1,
        "{listed}"
    );
}

async fn race_creates(c: Ctx) {
    let attempts = 6;
    let replies = futures_util::future::join_all((0..attempts).map(|_| {
        let s = c.s.clone();
        async move {
            call(
                &s,
                json!({"action": "createjail", "props": "tag=race release=10.2-RELEASE"}),
            )
            .await
        }
    }))
    .await;
    let mut made = Vec::new();
    for reply in replies {
        match reply {
            Ok(response) => {
                let value = serde_json::to_value(response).unwrap();
                made.push(created(&value["createjail"]["success"]["Successfully created"]).0);
            }
            Err((code, details)) => assert_eq!(code, 409, "{details}"),
        }
    }
    assert_eq!(made.len(), 1, "exactly one create succeeds: {made:?}");
    // And that answer is true afterwards.
    let listed = ok(&c.s, json!({"action": "listjails"})).await;
    let jails = listed["listjails"].as_object().unwrap();
    assert_eq!(jails.len(), 1, "{listed}");
    assert_eq!(jails[&made[0]]["tag"], "race", "{listed}");
}

async fn race_starts(c: Ctx) {
    let id = make_test(&c).await;
    let replies = futures_util::future::join_all((0..5).map(|_| {
        let s = c.s.clone();
        async move { ok(&s, json!({"action": "startjail", "jail": "test"})).await }
    }))
    .await;
    let starting = format!(
        "* Starting {}",
        if c.python() {
            "test".to_owned()
        } else {
            format!("{id} (test)")
        }
    );
    let already = json!({"startjail": {"test": {"INFO": format!(" {id} (test) is already up")}}});
    let mut began = 0;
    for reply in &replies {
        if reply["startjail"]["test"].get(&starting).is_some() {
            began += 1;
        } else {
            assert_eq!(*reply, already);
        }
    }
    assert_eq!(began, 1, "{replies:?}");
    let listed = ok(&c.s, json!({"action": "listjails"})).await;
    assert_eq!(listed["listjails"][&id]["state"], "up", "{listed}");
}

async fn offline_releases(c: Ctx) {
    let s = c.offline();
    let releases = ok(&s, json!({"action": "listreleases"})).await;
    assert_eq!(
        releases["listreleases"]["local"],
        json!(["10.2-RELEASE", "10.3-RELEASE"]),
        "{releases}"
    );
}
