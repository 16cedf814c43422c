//! StrictModes (issue 16, item 5): a state directory or users file that
//! others can write stops the start, a live reload of such a users file is
//! refused, and everything sysadmd creates is private whatever the umask.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use sysadmd::auth::{Auth, AuthConfig, AuthError, HashParams};
use sysadmd::{Config, ServeArgs, StartOptions};

const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn config_for(state: &Path) -> Config {
    let args = ServeArgs {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        state_dir: Some(state.to_owned()),
        ..ServeArgs::default()
    };
    Config::resolve(&args).unwrap()
}

async fn start_error(config: &Config) -> String {
    let options = StartOptions {
        backend: None,
        admin_password: Some("pw".to_owned()),
        ..StartOptions::default()
    };
    match sysadmd::start(config, options).await {
        Ok(_) => panic!("the server started"),
        Err(error) => format!("{error:#}"),
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[tokio::test]
async fn a_state_directory_others_can_write_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    chmod(&state, 0o777);
    let error = start_error(&config_for(&state)).await;
    assert!(error.contains("refusing the state directory"), "{error}");
    assert!(error.contains("0777"), "{error}");
    assert!(
        !state.join("users.toml").exists(),
        "nothing was created in it"
    );
}

#[tokio::test]
async fn a_users_file_or_tls_key_others_can_write_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path());
    // A first start creates the users file and the TLS key, privately.
    let options = StartOptions {
        backend: None,
        admin_password: Some("pw".to_owned()),
        ..StartOptions::default()
    };
    drop(sysadmd::start(&config, options).await.expect("first start"));
    let users = dir.path().join("users.toml");
    let key = dir.path().join("tls/key.pem");
    assert_eq!(mode(&users), 0o600);
    assert_eq!(mode(&key), 0o600);
    chmod(&users, 0o664);
    let error = start_error(&config).await;
    assert!(error.contains("refusing the users file"), "{error}");
    chmod(&users, 0o600);
    chmod(&key, 0o606);
    let error = start_error(&config).await;
    assert!(error.contains("refusing the TLS key"), "{error}");
}

#[test]
fn a_planted_users_file_is_not_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthConfig {
        hash_params: HashParams::fast_for_tests(),
        users_reload_interval: Duration::ZERO,
        ..AuthConfig::default()
    };
    let (auth, _) =
        Auth::open_with_admin_password(dir.path(), config, Some("real-pw".to_owned())).unwrap();
    assert!(auth.login(PEER, "admin", "real-pw").is_ok());
    // Someone else rewrites it world-writable with their own admin
    // (mallory, with a copy of admin's entry: the name shows whether the
    // file was read).
    let users = dir.path().join("users.toml");
    let text = std::fs::read_to_string(&users).unwrap();
    let body = text.split_once("[users.admin]").unwrap().1;
    let planted = format!("{text}\n[users.mallory]{body}");
    std::fs::write(&users, planted).unwrap();
    chmod(&users, 0o666);
    // The old users stay; the new file is refused (and logged).
    assert!(auth.login(PEER, "admin", "real-pw").is_ok());
    assert_eq!(
        auth.login(PEER, "mallory", "real-pw").unwrap_err(),
        AuthError::BadCredentials
    );
    // Made private again by its owner, it is read.
    chmod(&users, 0o600);
    std::fs::write(&users, std::fs::read_to_string(&users).unwrap() + "\n").unwrap();
    assert!(auth.login(PEER, "mallory", "real-pw").is_ok());
}

#[tokio::test]
async fn what_sysadmd_creates_is_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("deep/state");
    let mut config = config_for(&state);
    config.audit_log = dir.path().join("logs/audit.jsonl");
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0));
    let options = StartOptions {
        backend: None,
        admin_password: None,
        ..StartOptions::default()
    };
    let started = sysadmd::start(&config, options).await;
    rustix::process::umask(old);
    drop(started.expect("starts"));
    for dir in [
        state.clone(),
        state.join("tls"),
        state.join("simhost"),
        dir.path().join("logs"),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    for file in [
        state.join("users.toml"),
        state.join("admin-password.txt"),
        state.join("tls/key.pem"),
        state.join("tls/cert.pem"),
        dir.path().join("logs/audit.jsonl"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    for entry in std::fs::read_dir(state.join("simhost")).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}
