//! `FAKE_IOCAGE_VERSION`, checked at the process: what each modelled
//! release prints, on which stream, with which exit status, for the
//! behaviours where releases differ (iocage-versions.md §2-§3, each cited
//! in the fake's source).

use std::path::Path;
use std::process::{Command, Output, Stdio};

const FAKE: &str = env!("CARGO_BIN_EXE_fake-iocage");

/// One run of the fake as `version` over the state in `dir`.
/// The fake at `version` on the host in `dir`.
fn fake(dir: &Path, version: &str, args: &[&str]) -> Command {
    let mut command = Command::new(FAKE);
    command
        .args(args)
        .env("FAKE_IOCAGE_STATE", dir.join("state.json"))
        .env("FAKE_IOCAGE_VERSION", version)
        .env_remove("FAKE_IOCAGE_FLAVOUR");
    command
}

fn run(dir: &Path, version: &str, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut command = fake(dir, version, args);
    command.stdin(Stdio::null());
    for (key, value) in extra {
        command.env(key, value);
    }
    command.output().expect("fake-iocage runs")
}

/// A fresh host at Python `version` with jail `web` (10.2-RELEASE).
fn python_host(version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        version,
        &["create", "-r", "10.2-RELEASE", "-n", "web"],
        &[],
    );
    assert!(out.status.success(), "{version}: {out:?}");
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_release_prints_its_version_line() {
    let dir = tempfile::tempdir().unwrap();
    for (version, line) in [
        ("develop", "iocage DEVELOP (2016-02-10)\n"),
        ("1.7.4", "iocage 1.7.4 (2016/02/17)\n"),
        ("1.7.6", "iocage 1.7.4 (2016/02/17)\n"),
        ("0.9.8.1", "Version\t0.9.8.1 05/23/2017\n"),
        ("1.0", "Version\t1.0 RELEASE 2018/12\n"),
        ("1.2", "Version\t1.2\n"),
        ("1.3", "Version\t1.2\n"),
        ("1.9", "Version\t1.9\n"),
        ("1.13", "Version\t1.13\n"),
    ] {
        let out = run(dir.path(), version, &["--version"], &[]);
        assert!(out.status.success(), "{version}");
        assert_eq!(text(&out.stdout), line, "{version}");
        // What sysadmd reads from it.
        let parsed = iocage_cli::parse_version(&text(&out.stdout)).expect("a version line");
        assert!(parsed.messages.is_empty(), "{version}");
    }
    let out = run(dir.path(), "0.9.10", &["list"], &[]);
    assert_eq!(out.status.code(), Some(70));
    assert!(text(&out.stderr).contains("--version only"));
    let out = run(dir.path(), "2.0", &["--version"], &[]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("1.7.4"),
        "names what is accepted"
    );
}

#[test]
fn legacy_1_7_creates_silently_lists_an_ip_column_and_cleans_nothing_with_fa() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let out = run(
        dir,
        "1.7.5",
        &["create", "tag=www", "ip4_addr=em0|10.0.0.5/24"],
        &[],
    );
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "", "1.7.x create prints nothing");
    let list = text(&run(dir, "1.7.5", &["list"], &[]).stdout);
    let mut lines = list.lines();
    assert_eq!(
        lines.next(),
        Some("JID   UUID                                  BOOT  STATE  TAG                   IP")
    );
    let row = lines.next().expect("one jail");
    assert!(row.ends_with("  off   down   www    10.0.0.5"), "{row:?}");
    let uuid = row.split_whitespace().nth(1).unwrap().to_owned();
    // 1.7.4 has no IP column.
    let list = text(&run(dir, "1.7.4", &["list"], &[]).stdout);
    assert!(list.starts_with("JID   UUID                                  BOOT  STATE  TAG\n"));
    // `clean -fa` matches no case of `__clean`: nothing happens, exit 0.
    let out = run(dir, "1.7.5", &["clean", "-fa"], &[]);
    assert!(out.status.success());
    assert_eq!(
        (text(&out.stdout), text(&out.stderr)),
        (String::new(), String::new())
    );
    assert!(text(&run(dir, "1.7.5", &["list"], &[]).stdout).contains(&uuid));
    // `clean -a` asks, and stdin is closed.
    let out = run(dir, "1.7.5", &["clean", "-a"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).ends_with("  Command not confirmed.  No action taken.\n"));
    // No `get state`, and the error is on stdout.
    let out = run(dir, "1.7.5", &["get", "state", "www"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "  ERROR: unsupported property: state !\n"
    );
    assert_eq!(text(&out.stderr), "");
    // No `get -r`: the property is taken for a jail name.
    let out = run(dir, "1.7.5", &["get", "-r", "vnet"], &[]);
    assert_eq!(text(&out.stdout), "  ERROR: jail vnet not found!\n");
    // "Already up" on stdout, exit 1.
    assert!(run(dir, "1.7.5", &["start", "www"], &[]).status.success());
    let out = run(dir, "1.7.5", &["start", "www"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), format!("* {uuid}: is already up\n"));
    // `destroy -f` refuses a running jail instead of stopping it.
    let out = run(dir, "1.7.5", &["destroy", "-f", &uuid], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("Jail is up and running"));
}

#[test]
fn legacy_1_7_shows_a_property_of_every_jail_and_fails_lookups_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    run(dir, "1.7.4", &["create", "tag=www"], &[]);
    let shown = text(&run(dir, "1.7.4", &["show", "vnet"], &[]).stdout);
    let parsed = iocage_cli::parse_get_recursive(&shown).expect("a UUID TAG prop table");
    assert_eq!(parsed.value.rows.len(), 1, "{shown}");
    assert_eq!(parsed.value.rows[0].tag.as_deref(), Some("www"));
    assert_eq!(parsed.value.rows[0].value, "off");
    for (args, said) in [
        (
            &["exec", "nosuch", "ls"][..],
            "  ERROR: nosuch not found.\n",
        ),
        (&["cap", "nosuch"], "  ERROR: nosuch not found\n"),
        (
            &["exec", "-x", "www", "ls"],
            "  ERROR: Invalid exec option: ?\n",
        ),
    ] {
        let out = run(dir, "1.7.4", args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(text(&out.stdout), said, "{args:?}");
        assert_eq!(text(&out.stderr), "", "{args:?}");
    }
}

#[test]
fn legacy_1_7_has_its_own_properties_and_ignores_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let out = run(
        dir,
        "1.7.6",
        &["create", "tag=www", "bogus=1", "bpf=yes"],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let all = text(&run(dir, "1.7.6", &["get", "all", "www"], &[]).stdout);
    let keys: Vec<&str> = all
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, _)| k)
        .collect();
    for present in ["hostname", "host_hostname", "type", "template", "tag"] {
        assert!(keys.contains(&present), "{present}: {all}");
    }
    for absent in [
        "bogus",
        "bpf",
        "istemplate",
        "pkglist",
        "count",
        "origin",
        "quota",
    ] {
        assert!(!keys.contains(&absent), "{absent}: {all}");
    }
    assert!(
        all.contains("\ntype:jail\n") && all.contains("\ntemplate:no\n"),
        "{all}"
    );
    // A template is `template=yes`.
    run(
        dir,
        "1.7.6",
        &["clone", "www", "tag=tpl", "template=yes"],
        &[],
    );
    let templates = text(&run(dir, "1.7.6", &["list", "-t"], &[]).stdout);
    assert_eq!(templates.lines().count(), 2, "{templates}");
    assert!(templates.contains(" tpl "), "{templates}");
}

#[test]
fn legacy_takes_an_existing_tag_from_its_jail() {
    for (version, on_stdout) in [("develop", false), ("1.7.6", true)] {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        run(dir, version, &["create", "tag=www"], &[]);
        let out = run(dir, version, &["create", "tag=www"], &[]);
        assert!(
            out.status.success(),
            "{version}: the second create succeeds"
        );
        let warning = if on_stdout { &out.stdout } else { &out.stderr };
        assert!(
            text(warning).contains("WARNING: Replacing tag www!"),
            "{version}: {out:?}"
        );
        let tags = text(&run(dir, version, &["list"], &[]).stdout);
        assert_eq!(tags.matches(" www").count(), 1, "{version}: {tags}");
    }
}

#[test]
fn legacy_activate_leaves_the_old_pool_marked() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    assert!(
        run(dir, "develop", &["activate", "tank1"], &[])
            .status
            .success()
    );
    let out = run(dir, "develop", &["list"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("more then one pool set for iocage use!"),
        "{out:?}"
    );
    assert!(
        run(dir, "develop", &["deactivate", "tank"], &[])
            .status
            .success()
    );
    assert!(run(dir, "develop", &["list"], &[]).status.success());
    let pool = text(&run(dir, "develop", &["activate"], &[]).stdout);
    assert_eq!(pool, "pool: tank1\n");
}

#[test]
fn python_remote_releases_have_no_eol_and_need_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let out = run(dir, "1.2", &["list", "-R"], &[]);
    assert!(out.status.success());
    assert!(!text(&out.stdout).contains("EOL"), "{out:?}");
    assert!(text(&out.stdout).contains("11.0-RELEASE\n"));
    let out = run(
        dir,
        "1.13",
        &["list", "-R"],
        &[("FAKE_IOCAGE_NETWORK", "offline")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .lines()
            .last()
            .unwrap()
            .starts_with("requests.exceptions.ConnectionError: "),
        "{out:?}"
    );
    // The local list does not need the network.
    let out = run(
        dir,
        "1.13",
        &["list", "-r"],
        &[("FAKE_IOCAGE_NETWORK", "offline")],
    );
    assert!(out.status.success());
}

#[test]
fn python_runs_a_one_word_command_through_sh_c() {
    let host = python_host("1.2");
    let dir = host.path();
    run(dir, "1.2", &["start", "web"], &[]);
    let out = run(
        dir,
        "1.2",
        &["exec", "--", "web", "echo a; echo 'b  c'"],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "a\nb  c\n");
    let out = run(dir, "1.2", &["exec", "--", "web", "false"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "Command: /bin/sh -c false failed!\n");
    // Two words are run as they are.
    let out = run(dir, "1.2", &["exec", "--", "web", "echo", "a; b"], &[]);
    assert_eq!(text(&out.stdout), "a; b\n");
}

#[test]
fn python_1_0_and_1_1_raise_exceptions_as_tracebacks() {
    let host = python_host("1.1");
    let dir = host.path();
    run(dir, "1.1", &["start", "web"], &[]);
    for version in ["1.0", "1.1"] {
        let out = run(dir, version, &["start", "web"], &[]);
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(
            err.starts_with("Traceback (most recent call last):\n"),
            "{err}"
        );
        assert!(
            err.ends_with("\nRuntimeError: web is already running!\n"),
            "{err}"
        );
    }
    // 1.2 logs it instead.
    let out = run(dir, "1.2", &["start", "web"], &[]);
    assert_eq!(text(&out.stderr), "web is already running!\n");
}

#[test]
fn python_up_to_1_2_prints_a_dash_for_a_down_jid_and_later_none() {
    for (version, cell) in [("1.1", "| -   |"), ("1.2", "| -   |"), ("1.3", "| None |")] {
        let host = python_host(version);
        let dir = host.path();
        let list = text(&run(dir, version, &["list", "-l"], &[]).stdout);
        let row = list.lines().nth(3).expect("one row");
        assert!(row.starts_with(cell), "{version}: {list}");
        // Every line of the table has the same width.
        let widths: std::collections::BTreeSet<usize> = list.lines().map(str::len).collect();
        assert_eq!(widths.len(), 1, "{version}: {list}");
        let parsed = iocage_cli::parse_list(&list).expect("parses");
        assert_eq!(parsed.value.jails[0].jid, None, "{version}");
    }
}

/// [`run`] with `answer` on stdin (a prompt's answer).
fn run_answering(dir: &Path, version: &str, args: &[&str], answer: &str) -> Output {
    use std::io::Write;
    let mut child = fake(dir, version, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fake-iocage runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn develop_destroy_answered_y_refuses_a_running_jail_and_destroy_f_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let out = run(dir, "develop", &["create", "tag=www"], &[]);
    assert!(out.status.success(), "{out:?}");
    let list = text(&run(dir, "develop", &["list"], &[]).stdout);
    let uuid = list
        .lines()
        .find(|line| line.contains("www"))
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap()
        .to_owned();
    assert!(run(dir, "develop", &["start", "www"], &[]).status.success());
    // lib/ioc-zfs@3ffbc87:697-708: the warning and prompt, then the refusal.
    let out = run_answering(dir, "develop", &["destroy", "www"], "y\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        text(&out.stdout),
        format!(
            " \n  WARNING: this will destroy jail {uuid}\n  Dataset: tank/iocage/jails/{uuid}\n \n  Are you sure ? y[N]: "
        )
    );
    assert_eq!(
        text(&out.stderr),
        "  ERROR: cannot destroy www - jail is running!\n"
    );
    assert!(text(&run(dir, "develop", &["list"], &[]).stdout).contains(&uuid));
    // Not answered: nothing happens, exit 0.
    let out = run(dir, "develop", &["destroy", "www"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).ends_with("  Command not confirmed.  No action taken.\n"));
    // `-f` stops it and destroys it.
    let out = run(dir, "develop", &["destroy", "-f", "www"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).contains(&format!("  Destroying: {uuid}")));
    assert!(!text(&run(dir, "develop", &["list"], &[]).stdout).contains(&uuid));
}

#[test]
fn python_destroy_of_a_running_jail_without_f_depends_on_the_release() {
    for (version, refuses) in [
        ("1.0", false),
        ("1.1", false),
        ("1.2", true),
        ("1.13", true),
    ] {
        let host = python_host(version);
        let dir = host.path();
        assert!(run(dir, version, &["start", "web"], &[]).status.success());
        let out = run_answering(dir, version, &["destroy", "web"], "y\n");
        let list = text(&run(dir, version, &["list", "-l"], &[]).stdout);
        if refuses {
            assert_eq!(out.status.code(), Some(1), "{version}: {out:?}");
            assert!(
                text(&out.stderr).contains(
                    "Jail web is still running, please stop the jail first or destroy it with -f"
                ),
                "{version}: {out:?}"
            );
            assert!(list.contains("| web "), "{version}: kept: {list}");
            assert!(list.contains(" up "), "{version}: still running: {list}");
            // `-f` stops it and destroys it.
            let out = run(dir, version, &["destroy", "-f", "web"], &[]);
            assert!(out.status.success(), "{version}: {out:?}");
        } else {
            assert!(out.status.success(), "{version}: {out:?}");
        }
        let list = text(&run(dir, version, &["list", "-l"], &[]).stdout);
        assert!(!list.contains("| web "), "{version}: gone: {list}");
    }
}

#[test]
fn python_destroy_f_of_a_jail_with_clones_depends_on_the_release() {
    for (version, destroys_clones) in [("1.0", false), ("1.1", true), ("1.2", true), ("1.13", true)]
    {
        let host = python_host(version);
        let dir = host.path();
        run(dir, version, &["clone", "web", "-n", "web2"], &[]);
        let out = run(dir, version, &["destroy", "-f", "web"], &[]);
        let list = text(&run(dir, version, &["list", "-l"], &[]).stdout);
        if destroys_clones {
            assert!(out.status.success(), "{version}: {out:?}");
            assert!(!list.contains("web"), "{version}: both went: {list}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{version}: {out:?}");
            assert!(text(&out.stderr).contains("dependent clones"), "{version}");
            assert!(list.contains("| web2 "), "{version}: {list}");
        }
    }
    // `get -r state` is answered by 1.x.
    let host = python_host("1.2");
    let out = run(host.path(), "1.2", &["get", "-r", "state"], &[]);
    assert!(
        text(&out.stdout).contains("| web  | down         |"),
        "{out:?}"
    );
}

#[test]
fn a_black_holed_network_hangs_python_list_r_until_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(FAKE)
        .args(["list", "-R"])
        .env("FAKE_IOCAGE_STATE", dir.path().join("state.json"))
        .env("FAKE_IOCAGE_VERSION", "1.2")
        .env("FAKE_IOCAGE_NETWORK", "blackhole")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    // Other commands on that host are not held up by it (within 10 s).
    let mut other = Command::new(FAKE)
        .args(["list", "-r"])
        .env("FAKE_IOCAGE_STATE", dir.path().join("state.json"))
        .env("FAKE_IOCAGE_VERSION", "1.2")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let other_status = loop {
        if let Some(status) = other.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            other.kill().unwrap();
            other.wait().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let still = child.try_wait().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(still.is_none(), "list -R returned: {still:?}");
    assert!(
        other_status.is_some_and(|status| status.success()),
        "list -r waited on the hung list -R: {other_status:?}"
    );
}
