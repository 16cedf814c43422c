//! The users file and its commands (`sysadmd user add|passwd|remove|list`),
//! and the first start that creates the `admin` user.

use std::io::Cursor;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use clap::Parser;
use sysadmd::auth::{
    Auth, AuthConfig, AuthError, HashParams, Role, UserCommand, run_user_command_with,
};

fn config() -> AuthConfig {
    AuthConfig {
        hash_params: HashParams::fast_for_tests(),
        users_reload_interval: Duration::ZERO,
        ..AuthConfig::default()
    }
}

const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Runs a user command with `stdin` as standard input; returns standard output.
fn run(dir: &Path, command: UserCommand, stdin: &str) -> anyhow::Result<String> {
    let mut out = Vec::new();
    run_user_command_with(
        dir,
        command,
        &mut Cursor::new(stdin.as_bytes().to_vec()),
        &mut out,
        HashParams::fast_for_tests(),
    )?;
    Ok(String::from_utf8(out).unwrap())
}

fn add(name: &str, role: Role) -> UserCommand {
    UserCommand::Add {
        name: name.to_owned(),
        role,
        password_stdin: true,
        allow_weak: true,
    }
}

fn passwd(name: &str) -> UserCommand {
    UserCommand::Passwd {
        name: name.to_owned(),
        password_stdin: true,
        allow_weak: true,
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn error_of(result: anyhow::Result<String>) -> String {
    format!("{:#}", result.unwrap_err())
}

/// The file names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---- user commands ----

#[test]
fn add_writes_an_owner_only_file_with_argon2id_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), add("alice", Role::Admin), "s3cret-pw\n").unwrap();
    assert_eq!(out, "added user 'alice' (admin)\n");
    let path = dir.path().join("users.toml");
    assert_eq!(mode(&path), 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("$argon2id$"), "{text}");
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert_eq!(
        listing(dir.path()),
        ["users.toml"],
        "no temporary file is left behind"
    );

    run(dir.path(), add("bob", Role::Viewer), "bob-pw\n").unwrap();
    assert_eq!(mode(&path), 0o600, "a rewrite keeps the mode");
    let (auth, first) = Auth::open_with_admin_password(dir.path(), config(), None).unwrap();
    assert!(first.is_none(), "a users file exists: no first-start admin");
    assert_eq!(
        auth.login(PEER, "alice", "s3cret-pw")
            .unwrap()
            .principal
            .role,
        Role::Admin
    );
    assert_eq!(
        auth.login(PEER, "bob", "bob-pw").unwrap().principal.role,
        Role::Viewer
    );
    assert_eq!(
        auth.login(PEER, "admin", "").unwrap_err(),
        AuthError::EmptyPassword
    );
}

#[test]
fn a_rewrite_restores_the_mode_of_a_loosened_file() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), add("alice", Role::Admin), "pw\n").unwrap();
    let path = dir.path().join("users.toml");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    run(dir.path(), passwd("alice"), "pw2\n").unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn list_prints_names_and_roles_never_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), UserCommand::List, "").unwrap();
    assert!(out.starts_with("no users file at "), "{out}");
    run(dir.path(), add("zoe", Role::Viewer), "pw\n").unwrap();
    run(dir.path(), add("adam", Role::Admin), "pw\n").unwrap();
    let out = run(dir.path(), UserCommand::List, "").unwrap();
    assert_eq!(out, "adam\tadmin\nzoe\tviewer\n");
}

#[test]
fn user_names_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let long_ok = format!("a{}", "b".repeat(31));
    for good in ["a", "_svc", "a.b-c_1", "x9", long_ok.as_str()] {
        run(dir.path(), add(good, Role::Viewer), "pw\n")
            .unwrap_or_else(|error| panic!("{good}: {error:#}"));
    }
    let too_long = "a".repeat(33);
    for bad in [
        "",
        "Bob",
        "1abc",
        "-a",
        ".a",
        "a b",
        "a;b",
        "a:b",
        "é",
        "a/b",
        too_long.as_str(),
    ] {
        let error = error_of(run(dir.path(), add(bad, Role::Viewer), "pw\n"));
        assert!(error.starts_with("invalid user name '"), "{bad:?}: {error}");
        assert!(!error.contains('\n'), "one line: {error}");
    }
    let out = run(dir.path(), UserCommand::List, "").unwrap();
    assert_eq!(out.lines().count(), 5);
}

#[test]
fn add_refuses_an_existing_user() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), add("alice", Role::Admin), "pw\n").unwrap();
    let error = error_of(run(dir.path(), add("alice", Role::Viewer), "other\n"));
    assert!(error.contains("user 'alice' exists already"), "{error}");
    assert!(error.contains("sysadmd user passwd alice"), "{error}");
}

#[test]
fn empty_or_missing_passwords_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let error = error_of(run(dir.path(), add("alice", Role::Admin), "\n"));
    assert!(error.contains("empty password refused"), "{error}");
    let error = error_of(run(dir.path(), add("alice", Role::Admin), ""));
    assert!(error.contains("no password on standard input"), "{error}");
    assert!(
        !dir.path().join("users.toml").exists(),
        "nothing was written"
    );
    run(dir.path(), add("alice", Role::Admin), "pw\n").unwrap();
    let error = error_of(run(dir.path(), passwd("alice"), "\r\n"));
    assert!(error.contains("empty password refused"), "{error}");
}

#[test]
fn password_stdin_reads_only_the_first_line() {
    let dir = tempfile::tempdir().unwrap();
    run(
        dir.path(),
        add("alice", Role::Admin),
        "first line \r\nsecond line\n",
    )
    .unwrap();
    run(dir.path(), add("bob", Role::Admin), "no newline").unwrap();
    let (auth, _) = Auth::open_with_admin_password(dir.path(), config(), None).unwrap();
    // Only the line ending is removed: other spaces belong to the password.
    assert!(auth.login(PEER, "alice", "first line ").is_ok());
    assert!(auth.login(PEER, "alice", "first line").is_err());
    assert!(auth.login(PEER, "bob", "no newline").is_ok());
}

#[test]
fn passwd_changes_the_password_and_keeps_the_role() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), add("vera", Role::Viewer), "old\n").unwrap();
    let out = run(dir.path(), passwd("vera"), "new\n").unwrap();
    assert!(out.contains("changed the password of 'vera'"), "{out}");
    let (auth, _) = Auth::open_with_admin_password(dir.path(), config(), None).unwrap();
    assert_eq!(
        auth.login(PEER, "vera", "old").unwrap_err(),
        AuthError::BadCredentials
    );
    assert_eq!(
        auth.login(PEER, "vera", "new").unwrap().principal.role,
        Role::Viewer
    );
}

#[test]
fn passwd_and_remove_of_unknown_users_fail() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), add("alice", Role::Admin), "pw\n").unwrap();
    let error = error_of(run(dir.path(), passwd("nobody"), "pw\n"));
    assert!(error.starts_with("no user 'nobody' in "), "{error}");
    let error = error_of(run(
        dir.path(),
        UserCommand::Remove {
            name: "nobody".into(),
        },
        "",
    ));
    assert!(error.starts_with("no user 'nobody' in "), "{error}");
}

#[test]
fn remove_deletes_the_user_and_warns_when_no_admin_is_left() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), add("alice", Role::Admin), "pw\n").unwrap();
    run(dir.path(), add("bob", Role::Viewer), "pw\n").unwrap();
    let out = run(dir.path(), UserCommand::Remove { name: "bob".into() }, "").unwrap();
    assert_eq!(out, "removed user 'bob'; their sessions have ended\n");
    let out = run(
        dir.path(),
        UserCommand::Remove {
            name: "alice".into(),
        },
        "",
    )
    .unwrap();
    assert!(out.contains("no admin is left"), "{out}");
    assert_eq!(run(dir.path(), UserCommand::List, "").unwrap(), "");
    assert_eq!(mode(&dir.path().join("users.toml")), 0o600);
}

#[test]
fn add_creates_a_missing_state_directory_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state/nested");
    run(&state, add("alice", Role::Admin), "pw\n").unwrap();
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("users.toml")), 0o600);
}

#[test]
fn the_command_line_never_takes_a_password() {
    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: UserCommand,
    }
    let parse =
        |args: &[&str]| Cli::try_parse_from(std::iter::once("user").chain(args.iter().copied()));
    match parse(&["add", "bob", "--role", "viewer", "--password-stdin"])
        .unwrap()
        .command
    {
        UserCommand::Add {
            name,
            role,
            password_stdin,
            allow_weak: false,
        } => {
            assert_eq!(
                (name.as_str(), role, password_stdin),
                ("bob", Role::Viewer, true)
            );
        }
        other => panic!("{other:?}"),
    }
    match parse(&["add", "carol"]).unwrap().command {
        UserCommand::Add {
            role,
            password_stdin,
            ..
        } => assert_eq!((role, password_stdin), (Role::Admin, false)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse(&["passwd", "bob", "--password-stdin"])
            .unwrap()
            .command,
        UserCommand::Passwd {
            password_stdin: true,
            ..
        }
    ));
    assert!(matches!(
        parse(&["remove", "bob"]).unwrap().command,
        UserCommand::Remove { .. }
    ));
    assert!(matches!(
        parse(&["list"]).unwrap().command,
        UserCommand::List
    ));
    assert!(parse(&["add", "bob", "--password", "x"]).is_err());
    assert!(parse(&["add", "bob", "secret"]).is_err());
    assert!(parse(&["add", "bob", "--role", "root"]).is_err());
}

#[test]
fn the_binary_adds_a_user_from_standard_input() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sysadmd"))
        .args(["user", "--state-dir"])
        .arg(dir.path())
        .args(["add", "bin-user", "--role", "viewer", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from-stdin-pw\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "added user 'bin-user' (viewer)\n"
    );
    assert_eq!(mode(&dir.path().join("users.toml")), 0o600);
    let (auth, _) = Auth::open_with_admin_password(dir.path(), config(), None).unwrap();
    assert!(auth.login(PEER, "bin-user", "from-stdin-pw").is_ok());
}

// ---- first start ----

#[test]
fn first_start_with_a_given_password() {
    let dir = tempfile::tempdir().unwrap();
    let (auth, first) =
        Auth::open_with_admin_password(dir.path(), config(), Some("from-env".to_owned())).unwrap();
    let first = first.unwrap();
    assert_eq!(first.user, "admin");
    assert_eq!(first.password_file, None);
    assert_eq!(first.generated_password, None);
    assert_eq!(listing(dir.path()), ["users.toml"]);
    assert_eq!(mode(&dir.path().join("users.toml")), 0o600);
    let session = auth.login(PEER, "admin", "from-env").unwrap();
    assert_eq!(session.principal.role, Role::Admin);
}

#[test]
fn first_start_without_a_password_generates_one() {
    let dir = tempfile::tempdir().unwrap();
    let (auth, first) = Auth::open_with_admin_password(dir.path(), config(), None).unwrap();
    let first = first.unwrap();
    let password = first.generated_password.clone().unwrap();
    assert_eq!(password.len(), 24);
    assert!(
        password
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{password}"
    );
    let file = first.password_file.clone().unwrap();
    assert_eq!(file, dir.path().join("admin-password.txt"));
    assert_eq!(mode(&file), 0o600);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{password}\n")
    );
    assert_eq!(mode(&dir.path().join("users.toml")), 0o600);
    assert!(
        !format!("{first:?}").contains(&password),
        "Debug hides the password"
    );
    assert!(auth.login(PEER, "admin", &password).is_ok());

    // The next start finds the users and creates nothing.
    std::fs::remove_file(&file).unwrap();
    let (auth, again) = Auth::open_with_admin_password(dir.path(), config(), None).unwrap();
    assert!(again.is_none());
    assert!(!file.exists());
    assert!(auth.login(PEER, "admin", &password).is_ok());
}

#[test]
fn first_start_with_an_empty_password_generates_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_, first) =
        Auth::open_with_admin_password(dir.path(), config(), Some(String::new())).unwrap();
    assert!(first.unwrap().generated_password.is_some());
}

#[test]
fn generated_passwords_differ() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let (_, a) = Auth::open_with_admin_password(one.path(), config(), None).unwrap();
    let (_, b) = Auth::open_with_admin_password(two.path(), config(), None).unwrap();
    assert_ne!(a.unwrap().generated_password, b.unwrap().generated_password);
}

#[test]
fn first_start_creates_the_state_directory_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("var/db/sysadmd");
    let (_, first) = Auth::open_with_admin_password(&state, config(), Some("pw".into())).unwrap();
    assert!(first.is_some());
    assert_eq!(mode(&state), 0o700);
}

#[test]
fn a_broken_users_file_stops_the_start_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.toml");
    for text in [
        "not toml [",
        "[users.alice]\nrole = \"root\"\nhash = \"x\"\n",
        "[users.alice]\nrol = \"admin\"\nhash = \"x\"\n",
    ] {
        std::fs::write(&path, text).unwrap();
        let error = Auth::open_with_admin_password(dir.path(), config(), None).unwrap_err();
        let error = format!("{error:#}");
        assert!(error.contains(&path.display().to_string()), "{error}");
    }
}

#[test]
fn an_empty_users_file_is_no_first_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.toml"), "").unwrap();
    let (auth, first) =
        Auth::open_with_admin_password(dir.path(), config(), Some("pw".into())).unwrap();
    assert!(first.is_none());
    assert_eq!(
        auth.login(PEER, "admin", "pw").unwrap_err(),
        AuthError::BadCredentials
    );
}

#[test]
fn passwords_shorter_than_the_minimum_need_allow_weak() {
    let dir = tempfile::tempdir().unwrap();
    let strict = |name: &str| UserCommand::Add {
        name: name.to_owned(),
        role: Role::Admin,
        password_stdin: true,
        allow_weak: false,
    };
    let error = error_of(run(dir.path(), strict("alice"), "eleven-char\n"));
    assert!(
        error.contains("password of 11 characters refused: give at least 12"),
        "{error}"
    );
    assert!(error.contains("--allow-weak"), "{error}");
    assert!(
        !dir.path().join("users.toml").exists(),
        "nothing was written"
    );
    // Characters, not bytes: twelve of them pass however many bytes they take.
    run(dir.path(), strict("alice"), "ééééééééééé\u{e9}\n").unwrap();
    run(dir.path(), add("bob", Role::Viewer), "pw\n").unwrap();
    let error = error_of(run(
        dir.path(),
        UserCommand::Passwd {
            name: "bob".to_owned(),
            password_stdin: true,
            allow_weak: false,
        },
        "short\n",
    ));
    assert!(error.contains("refused"), "{error}");
    assert_eq!(sysadmd::auth::MIN_PASSWORD_CHARS, 12);
}
