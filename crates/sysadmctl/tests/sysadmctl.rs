//! `sysadmctl` as a child process against the real `sysadmd` binary (twice,
//! for many hosts): remote add with a pinned fingerprint and a minted key,
//! every action, `--json` parsed back, `--all`, errors, watch, restarts.

#[path = "../../sysadm-client/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::{Daemon, PASSWORD};

/// `sysadmctl ARGS` with its remotes under `config`, `stdin` as standard input.
fn ctl(config: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sysadmctl"))
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sysadmctl runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs and expects success; the JSON it printed (stdout is a pipe, so JSON).
fn json(config: &Path, args: &[&str]) -> Value {
    let output = ctl(config, args, "");
    assert!(
        output.status.success(),
        "sysadmctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "sysadmctl {args:?} printed no JSON ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn add(config: &Path, name: &str, daemon: &Daemon) -> Output {
    let fingerprint = daemon.fingerprint.clone().unwrap();
    ctl(
        config,
        &[
            "remote",
            "add",
            name,
            &daemon.url(),
            "--accept-fingerprint",
            &fingerprint,
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    )
}

#[test]
fn remote_add_pins_the_certificate_and_every_action_runs_through_the_stored_key() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let config = tempfile::tempdir().unwrap();
    let config = config.path();
    let mut a = Daemon::tls(dirs[0].path());

    // A wrong fingerprint is refused, and nothing is stored.
    let wrong = "00:".repeat(31) + "00";
    let output = ctl(
        config,
        &[
            "remote",
            "add",
            "a",
            &a.url(),
            "--accept-fingerprint",
            &wrong,
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("refusing to add it"),
        "{}",
        stderr(&output)
    );
    assert!(!config.join("sysadmctl/remotes.toml").exists());
    // Without a terminal to ask on, the fingerprint must be given: the error shows it.
    let output = ctl(
        config,
        &["remote", "add", "a", &a.url(), "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains(a.fingerprint.as_deref().unwrap()),
        "{}",
        stderr(&output)
    );
    // A wrong password: refused with the server's details.
    let output = ctl(
        config,
        &[
            "remote",
            "add",
            "a",
            &a.url(),
            "--accept-fingerprint",
            a.fingerprint.as_deref().unwrap(),
            "--password-stdin",
        ],
        "not-the-password\n",
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("invalid user name or password"),
        "{}",
        stderr(&output)
    );

    let output = add(config, "a", &a);
    assert!(output.status.success(), "{}", stderr(&output));
    let file = config.join("sysadmctl/remotes.toml");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("key = \"sysadm_")
    );
    // The key is on the server, minted through rpc/keys.
    let keys = a.command(&["key", "list"]);
    assert!(
        String::from_utf8_lossy(&keys.stdout).contains("sysadmctl."),
        "{keys:?}"
    );

    // Every action, on the default remote, each reply parsed back.
    let created = json(
        config,
        &["create", "--release", "10.2-RELEASE", "web1", "boot=off"],
    );
    assert_eq!(
        created["createjail"]["props"],
        "tag=web1 release=10.2-RELEASE boot=off"
    );
    let list = json(config, &["list"]);
    let (uuid, jail) = list["listjails"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(jail["tag"], "web1");
    assert!(json(config, &["start", "web1"])["startjail"]["web1"].is_object());
    assert_eq!(json(config, &["list"])["listjails"][uuid]["state"], "up");
    let exec = json(config, &["exec", "web1", "--", "echo", "it's", "a b"]);
    assert!(!exec["execjail"].is_null(), "{exec}");
    json(config, &["cap", "web1"]);
    assert_eq!(
        json(config, &["get", "web1", "tag"])["getjailsettings"]["web1"]["tag"],
        "web1"
    );
    assert!(json(config, &["get", "web1", "all"])["getjailsettings"].is_object());
    assert!(json(config, &["get", "--every-jail", "tag"])["getjailsettings"].is_object());
    json(config, &["stop", "web1"]);
    json(config, &["clone", "web1", "tag=web2"]);
    assert_eq!(
        json(config, &["list"])["listjails"]
            .as_object()
            .unwrap()
            .len(),
        2
    );
    json(config, &["destroy", "web2"]);
    assert!(json(config, &["df"])["df"].is_object());
    assert!(json(config, &["defaults"])["getdefaultsettings"].is_object());
    assert!(json(config, &["releases"])["listreleases"]["local"].is_array());
    json(config, &["plugins"]);
    json(config, &["activate"]);
    json(config, &["activate", "tank1"]);
    json(config, &["deactivate", "tank1"]);
    json(config, &["activate", "tank"]);
    // A raw call, its args from standard input.
    let output = ctl(
        config,
        &["call", "sysadm/iocage", "-"],
        r#"{"action": "listjails"}"#,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let raw: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(raw["listjails"][uuid]["tag"], "web1");

    // An error: non-zero, the server's details on stderr.
    let output = ctl(config, &["start", "nosuchjail"], "");
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("404") && stderr(&output).contains("nosuchjail"),
        "{}",
        stderr(&output)
    );
    let output = ctl(config, &["create", "web3", "not-a-property"], "");
    assert!(
        !output.status.success() && stderr(&output).contains("KEY=VALUE"),
        "{}",
        stderr(&output)
    );

    // The key survives a server restart: the next command just works.
    a.restart();
    assert_eq!(json(config, &["list"])["listjails"][uuid]["tag"], "web1");

    // Many hosts: a second server, every remote at once, each under its name.
    let mut b = Daemon::tls(dirs[1].path());
    let output = add(config, "b", &b);
    assert!(output.status.success(), "{}", stderr(&output));
    let all = json(config, &["--all", "list"]);
    assert_eq!(all["a"]["listjails"][uuid]["tag"], "web1");
    assert_eq!(all["b"]["listjails"].as_object().unwrap().len(), 0, "{all}");
    let both = json(
        config,
        &[
            "--remote",
            "b,a",
            "create",
            "--release",
            "10.2-RELEASE",
            "db1",
        ],
    );
    assert!(
        both["a"]["createjail"].is_object() && both["b"]["createjail"].is_object(),
        "{both}"
    );
    let remotes = json(config, &["remote", "list"]);
    assert_eq!(remotes.as_array().unwrap().len(), 2);
    assert_eq!(remotes[0]["default"], true);

    // One host down: its error under its name, the other's result, exit non-zero.
    b.kill();
    let output = ctl(config, &["--all", "list"], "");
    assert!(!output.status.success());
    let all: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(all["a"]["listjails"].is_object(), "{all}");
    assert!(all["b"]["error"]["message"].is_string(), "{all}");
    assert!(stderr(&output).contains("b: "), "{}", stderr(&output));

    // The cleaning actions, last.
    json(config, &["clean-templates"]);
    json(config, &["clean-jails"]);
    assert_eq!(
        json(config, &["list"])["listjails"]
            .as_object()
            .unwrap()
            .len(),
        0
    );
    json(config, &["clean-releases"]);
    json(config, &["clean-all"]);

    // Removing a remote revokes its key on the server.
    let output = ctl(config, &["remote", "remove", "a"], "");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("revoked its key"),
        "{output:?}"
    );
    let keys = a.command(&["key", "list"]);
    assert!(keys.stdout.is_empty(), "{keys:?}");
}

#[test]
fn watch_streams_the_jobs_another_command_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let config = config.path();
    let daemon = Daemon::plaintext(dir.path());
    let output = ctl(
        config,
        &[
            "remote",
            "add",
            "local",
            &daemon.url(),
            "--password-stdin",
            "--role",
            "viewer",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("plaintext"), "{}", stderr(&output));

    let mut watcher = Command::new(env!("CARGO_BIN_EXE_sysadmctl"))
        .args(["watch", "--count", "2"])
        .env("XDG_CONFIG_HOME", config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = BufReader::new(watcher.stderr.take().unwrap());
    let mut line = String::new();
    ready.read_line(&mut line).unwrap();
    assert!(line.contains("watching"), "{line}");

    // The viewer key cannot change anything; an admin remote on the same server can.
    let output = ctl(config, &["create", "web1"], "");
    assert!(
        !output.status.success() && stderr(&output).contains("403"),
        "{}",
        stderr(&output)
    );
    let output = ctl(
        config,
        &[
            "remote",
            "add",
            "local-admin",
            &daemon.url(),
            "--password-stdin",
            "--key-name",
            "ops",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    json(
        config,
        &[
            "--remote",
            "local-admin",
            "create",
            "--release",
            "10.2-RELEASE",
            "web1",
        ],
    );

    let output = watcher.wait_with_output().unwrap();
    assert!(output.status.success());
    let events: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events.iter().all(|event| event["action"] == "createjail"),
        "{events:?}"
    );
    assert!(
        events.iter().any(|event| event["user"] == "key:ops"),
        "{events:?}"
    );
}

/// `remote add` on a terminal (script(1) gives it one) shows the fingerprint
/// and asks, as ssh does: "n" adds nothing, "y" pins it.
#[test]
fn on_a_terminal_remote_add_shows_the_fingerprint_and_asks() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let daemon = Daemon::tls(dir.path());
    let fingerprint = daemon.fingerprint.clone().unwrap();
    let on_terminal = |answer: &str| {
        let command = format!(
            "{} remote add t {} --password-stdin",
            env!("CARGO_BIN_EXE_sysadmctl"),
            daemon.url()
        );
        let mut child = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("XDG_CONFIG_HOME", config.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script(1) runs (util-linux)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{answer}\n{PASSWORD}\n").as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let refused = on_terminal("n");
    assert!(
        refused.contains(&fingerprint) && refused.contains("Trust it? [y/N]"),
        "{refused}"
    );
    assert!(refused.contains("not trusted; nothing added"), "{refused}");
    assert!(!config.path().join("sysadmctl/remotes.toml").exists());
    let accepted = on_terminal("y");
    assert!(accepted.contains("added remote 't'"), "{accepted}");
    let remotes = json(config.path(), &["remote", "list"]);
    assert_eq!(remotes[0]["fingerprint"], fingerprint.as_str());
}
