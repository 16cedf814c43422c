//! Bad input never reaches a backend: a table of hostile and mistaken
//! requests, each of which must get a 400 whose message names the argument
//! and repeats the input safely, while a recording backend sees no call.

mod support;

use std::time::Duration;

use iocage_service::IocageService;
use serde_json::{Value, json};
use support::{Recorder, call};

/// `(args, words the details must contain)`.
fn table() -> Vec<(Value, Vec<&'static str>)> {
    let long = "a".repeat(10_000);
    let long_value = format!("tag=www notes={long}");
    let exec = |command: &str| json!({"action": "execjail", "jail": "test", "command": command});
    let start = |jail: &str| json!({"action": "startjail", "jail": jail});
    let create = |props: &str| json!({"action": "createjail", "props": props});
    let get = |prop: &str| json!({"action": "getjailsettings", "jail": "test", "prop": prop});
    vec![
        // Jail names.
        (start("test;id"), vec!["jail", "'test;id'", "';'"]),
        (start("a|b"), vec!["jail", "'|'"]),
        (start("a&b"), vec!["jail", "'&'"]),
        (start("$(id)"), vec!["jail", "'$'"]),
        (start("`id`"), vec!["jail", "'`'"]),
        (start("a>b"), vec!["jail", "'>'"]),
        (start("a<b"), vec!["jail", "'<'"]),
        (start("../etc"), vec!["jail", "'..'"]),
        (start("a/b"), vec!["jail", "'/'"]),
        (start("te st"), vec!["jail", "a space"]),
        (start("test\n"), vec!["jail", "\\n"]),
        (start("te\0st"), vec!["jail", "\\u{0}"]),
        (start(""), vec!["jail", "empty"]),
        (start(&long), vec!["jail", "10000 characters"]),
        (start("t\u{0435}st"), vec!["jail", "U+0435", "\\u{435}"]),
        (start("-f"), vec!["jail", "switch"]),
        (
            json!({"action": "destroyjail", "jail": "*"}),
            vec!["destroyjail", "jail"],
        ),
        (
            json!({"action": "capjail", "jail": "a\tb"}),
            vec!["capjail", "jail"],
        ),
        // Properties read.
        (
            get("nosuchprop"),
            vec!["property", "'nosuchprop'", "not an iocage property"],
        ),
        (get("vnet;id"), vec!["property", "lowercase"]),
        (get(""), vec!["property"]),
        (
            json!({"action": "getjailsettings", "switches": "-r", "prop": "../x"}),
            vec!["property"],
        ),
        // Switches (refused by the decoder, before the service).
        (
            json!({"action": "getjailsettings", "jail": "test", "switches": "-rf", "prop": "vnet"}),
            vec!["switches", "-r"],
        ),
        (
            json!({"action": "createjail", "props": "tag=a", "switches": "-e -r"}),
            vec!["switches", "-e"],
        ),
        // Props.
        (create("tag=default"), vec!["tag", "reserved"]),
        (create("tag=a;b"), vec!["tag", "';'"]),
        (create("tag=\u{0430}dmin"), vec!["tag", "U+0430"]),
        (create("tag=../x"), vec!["tag", "'..'"]),
        (
            create("istemplate=yes"),
            vec!["istemplate", "after creation"],
        ),
        (create("template=base"), vec!["template", "clone"]),
        (create("used=10G"), vec!["used", "cannot be set"]),
        (
            create("mountpoint=/etc"),
            vec!["mountpoint", "cannot be set"],
        ),
        (create("bogus=1"), vec!["property", "'bogus'"]),
        (create("state=up"), vec!["'state' can be read but not set"]),
        (create("tag"), vec!["key=value"]),
        (create("tag=a tag=b"), vec!["more than once"]),
        (create("notes='unbalanced"), vec!["props", "unbalanced"]),
        (
            create("release=10.2-RELEASE;id"),
            vec!["release", "10.2-RELEASE"],
        ),
        (create("release=../../etc"), vec!["release"]),
        (create("release=latest"), vec!["release"]),
        (create("count=5"), vec!["count"]),
        (
            create(&long_value),
            vec!["notes", "10000 characters", "1024"],
        ),
        (create("notes=\"a\nb\""), vec!["notes", "control"]),
        (create("tag=a\0b"), vec!["NUL"]),
        (
            json!({"action": "clonejail", "jail": "test", "props": "origin=x"}),
            vec!["clonejail", "origin"],
        ),
        // Pools.
        (
            json!({"action": "activatepool", "pool": "mirror"}),
            vec!["pool", "'mirror'"],
        ),
        (
            json!({"action": "activatepool", "pool": "raidz2"}),
            vec!["pool"],
        ),
        (
            json!({"action": "activatepool", "pool": "c0t0d0"}),
            vec!["pool"],
        ),
        (
            json!({"action": "activatepool", "pool": "1tank"}),
            vec!["pool", "letter"],
        ),
        (
            json!({"action": "activatepool", "pool": "tank;id"}),
            vec!["pool"],
        ),
        (
            json!({"action": "deactivatepool", "pool": "tank/iocage"}),
            vec!["pool"],
        ),
        (
            json!({"action": "deactivatepool", "pool": ""}),
            vec!["pool"],
        ),
        // Users.
        (
            json!({"action": "execjail", "jail": "test", "user": "root;id", "command": "id"}),
            vec!["user", "'root;id'"],
        ),
        (
            json!({"action": "execjail", "jail": "test", "user": "Root", "command": "id"}),
            vec!["user", "lowercase"],
        ),
        (
            json!({"action": "execjail", "jail": "test", "user": "", "command": "id"}),
            vec!["user"],
        ),
        (
            json!({"action": "execjail", "jail": "test", "user": "a".repeat(33), "command": "id"}),
            vec!["user", "32"],
        ),
        // Commands.
        (exec("ls; id"), vec!["command", "';'", "never a shell"]),
        (exec("ls | sh"), vec!["command", "'|'"]),
        (exec("sleep 1 &"), vec!["command", "'&'"]),
        (exec("echo $(id)"), vec!["command", "'$('"]),
        (exec("echo \"$(id)\""), vec!["command", "'$('"]),
        (exec("echo `id`"), vec!["command", "'`'"]),
        (exec("cat < /etc/master.passwd"), vec!["command", "'<'"]),
        (exec("echo hi > /etc/rc.conf"), vec!["command", "'>'"]),
        (exec("echo hi\nid"), vec!["command", "\\n"]),
        (exec("echo \0"), vec!["command", "\\u{0}"]),
        (exec("echo 'unbalanced"), vec!["command", "unbalanced"]),
        (exec("echo \"unbalanced"), vec!["command", "unbalanced"]),
        (exec(""), vec!["command", "program"]),
        (exec("   "), vec!["command", "program"]),
        (
            exec(&"x".repeat(70_000)),
            vec!["command", "64 KiB", "70000 characters"],
        ),
        // Shape errors, also before any backend call.
        (json!({"action": "startjail"}), vec!["jail"]),
        (
            json!({"action": "startjail", "jail": 5}),
            vec!["jail", "string"],
        ),
        (json!({"action": "rmjail"}), vec!["unknown action"]),
    ]
}

#[tokio::test]
async fn bad_input_gets_400_and_never_reaches_the_backend() {
    let backend = Recorder::new(Duration::ZERO);
    let service = IocageService::new(backend.clone());
    let cases = table();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for (args, needles) in cases {
        let shown = {
            let text = args.to_string();
            text.chars().take(120).collect::<String>()
        };
        let (code, details) = call(&service, args.clone())
            .await
            .expect_err(&format!("{shown} must be refused"));
        assert_eq!(code, 400, "{shown}: {details}");
        for needle in needles {
            assert!(
                details.contains(needle),
                "{shown}: details {details:?} should mention {needle:?}"
            );
        }
        // The input is repeated safely: no raw control characters, no huge values.
        assert!(
            !details.chars().any(|c| c.is_control()),
            "{shown}: {details:?}"
        );
        assert!(details.len() < 1_000, "{shown}: {} bytes", details.len());
        assert_eq!(
            backend.calls(),
            Vec::<String>::new(),
            "{shown}: backend called"
        );
    }
}

#[tokio::test]
async fn good_input_of_the_same_kinds_is_accepted() {
    let backend = Recorder::new(Duration::ZERO);
    let service = IocageService::new(backend.clone());
    let created = call(
        &service,
        json!({"action": "createjail",
               "props": "tag=web-01.example:80@x release=10.3-RELEASE notes=\"a web server\" ip4_addr='em0|10.0.0.5/24'"}),
    )
    .await
    .expect("valid props");
    let text = serde_json::to_value(created).unwrap();
    assert!(text.to_string().contains("(web-01.example:80@x)"), "{text}");
    let reply = call(
        &service,
        json!({"action": "getjailsettings", "jail": "web-01.example:80@x", "prop": "notes"}),
    )
    .await
    .expect("tag with colons and @");
    assert_eq!(
        serde_json::to_value(reply).unwrap(),
        json!({"getjailsettings": {"web-01.example:80@x": {"notes": "a web server"}}})
    );
    assert!(backend.count("create") == 1);
}
