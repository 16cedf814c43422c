//! The authentication core as the server uses it: logins, tokens, HTTP
//! Basic and Bearer headers, the credential cache, lockout, and users changed
//! under a running `Auth`.

use std::collections::HashSet;
use std::io::Cursor;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use sysadmd::auth::{
    Auth, AuthAudit, AuthConfig, AuthError, HashParams, Role, UserCommand, run_user_command_with,
};

const ADMIN_PASSWORD: &str = "correct horse battery staple";

fn config() -> AuthConfig {
    AuthConfig {
        hash_params: HashParams::fast_for_tests(),
        users_reload_interval: Duration::ZERO,
        ..AuthConfig::default()
    }
}

fn open(dir: &Path, config: AuthConfig) -> Auth {
    let (auth, first) =
        Auth::open_with_admin_password(dir, config, Some(ADMIN_PASSWORD.to_owned())).unwrap();
    assert!(first.is_some(), "a fresh state directory is a first start");
    auth
}

fn user_command(dir: &Path, command: UserCommand, stdin: &str) -> anyhow::Result<String> {
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

fn add_user(dir: &Path, name: &str, role: Role, password: &str) {
    let add = UserCommand::Add {
        name: name.to_owned(),
        role,
        password_stdin: true,
        allow_weak: true,
    };
    user_command(dir, add, &format!("{password}\n")).unwrap();
}

fn set_password(dir: &Path, name: &str, password: &str) {
    let passwd = UserCommand::Passwd {
        name: name.to_owned(),
        password_stdin: true,
        allow_weak: true,
    };
    user_command(dir, passwd, &format!("{password}\n")).unwrap();
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

// ---- logins and tokens ----

#[test]
fn login_issues_a_random_hex_token_with_the_configured_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    let peer = ip("192.0.2.1");
    let first = auth.login(peer, "admin", ADMIN_PASSWORD).unwrap();
    let second = auth.login(peer, "admin", ADMIN_PASSWORD).unwrap();
    assert_eq!(first.principal.user, "admin");
    assert_eq!(first.principal.role, Role::Admin);
    assert_eq!(first.lifetime_secs, 900);
    assert_eq!(auth.token_lifetime(), Duration::from_secs(900));
    assert_eq!(first.token.len(), 64);
    assert!(
        first
            .token
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_ne!(first.token, second.token);
    assert_eq!(auth.touch(&first.token).unwrap().user, "admin");
    assert_eq!(auth.token_count(), 2);
}

#[test]
fn session_debug_never_shows_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    let session = auth
        .login(ip("192.0.2.1"), "admin", ADMIN_PASSWORD)
        .unwrap();
    let shown = format!("{session:?}");
    assert!(!shown.contains(&session.token), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_error() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    let peer = ip("192.0.2.1");
    let wrong = auth.login(peer, "admin", "nope").unwrap_err();
    let unknown = auth.login(peer, "mallory", "nope").unwrap_err();
    assert_eq!(wrong, AuthError::BadCredentials);
    assert_eq!(unknown, AuthError::BadCredentials);
    assert_eq!(wrong.details(), unknown.details());
    assert_eq!(wrong.code().code(), 401);
    // An empty password is refused before any user is looked up, so its
    // error says nothing about the user either.
    assert_eq!(
        auth.login(peer, "admin", "").unwrap_err(),
        AuthError::EmptyPassword
    );
    assert_eq!(
        auth.login(peer, "", "").unwrap_err(),
        AuthError::EmptyPassword
    );
}

#[test]
fn unknown_user_takes_about_as_long_as_a_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    // A cost high enough that hashing dominates the time of a login.
    let params = HashParams {
        memory_kib: 4096,
        iterations: 2,
        lanes: 1,
    };
    let config = AuthConfig {
        hash_params: params,
        max_failures: 0,
        ..config()
    };
    let auth = open(dir.path(), config);
    let peer = ip("192.0.2.1");
    let time = |user: &str| {
        let start = Instant::now();
        assert_eq!(
            auth.login(peer, user, "wrong").unwrap_err(),
            AuthError::BadCredentials
        );
        start.elapsed()
    };
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..9 {
        known.push(time("admin"));
        unknown.push(time("nobody"));
    }
    let (known, unknown) = (median(known), median(unknown));
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(
        (0.33..3.0).contains(&ratio),
        "unknown user {unknown:?} vs wrong password {known:?}"
    );
}

#[test]
fn tokens_match_exactly_never_by_prefix_suffix_or_case() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    let session = auth
        .login(ip("192.0.2.1"), "admin", ADMIN_PASSWORD)
        .unwrap();
    let token = session.token.as_str();
    let near_misses = [
        String::new(),
        " ".to_owned(),
        token[..63].to_owned(),
        token[1..].to_owned(),
        token[..32].to_owned(),
        format!("{token}0"),
        format!("0{token}"),
        format!(" {token}"),
        token.to_uppercase(),
    ];
    for candidate in &near_misses {
        assert_eq!(
            auth.touch(candidate).unwrap_err(),
            AuthError::Expired,
            "{candidate:?}"
        );
    }
    // The near misses did not harm the real token.
    assert_eq!(auth.touch(token).unwrap().user, "admin");
}

#[test]
fn resume_returns_the_same_token_and_counts_failures() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    let peer = ip("192.0.2.7");
    let session = auth.login(peer, "admin", ADMIN_PASSWORD).unwrap();
    let resumed = auth.resume(ip("198.51.100.1"), &session.token).unwrap();
    assert_eq!(resumed.token, session.token);
    assert_eq!(resumed.lifetime_secs, 900);
    assert_eq!(resumed.principal, session.principal);
    assert_eq!(auth.resume(peer, "").unwrap_err(), AuthError::Expired);
    assert_eq!(
        auth.resume(peer, &session.token[1..]).unwrap_err(),
        AuthError::Expired
    );
}

#[test]
fn clear_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    let peer = ip("192.0.2.1");
    let session = auth.login(peer, "admin", ADMIN_PASSWORD).unwrap();
    let other = auth.login(peer, "admin", ADMIN_PASSWORD).unwrap();
    auth.clear(&session.token);
    auth.clear("not a token");
    assert_eq!(auth.touch(&session.token).unwrap_err(), AuthError::Expired);
    assert_eq!(
        auth.resume(peer, &session.token).unwrap_err(),
        AuthError::Expired
    );
    assert!(
        auth.touch(&other.token).is_ok(),
        "clearing one token leaves the others"
    );
}

#[test]
fn tokens_expire_and_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthConfig {
        token_lifetime: Duration::from_millis(300),
        ..config()
    };
    let auth = open(dir.path(), config);
    let session = auth
        .login(ip("192.0.2.1"), "admin", ADMIN_PASSWORD)
        .unwrap();
    assert_eq!(session.lifetime_secs, 0);
    assert_eq!(auth.token_count(), 1);
    std::thread::sleep(Duration::from_millis(450));
    assert_eq!(auth.touch(&session.token).unwrap_err(), AuthError::Expired);
    assert_eq!(
        auth.token_count(),
        0,
        "an expired token is removed when met"
    );
}

#[test]
fn each_use_extends_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthConfig {
        token_lifetime: Duration::from_millis(1500),
        ..config()
    };
    let auth = open(dir.path(), config);
    let session = auth
        .login(ip("192.0.2.1"), "admin", ADMIN_PASSWORD)
        .unwrap();
    let start = Instant::now();
    // Used every 250 ms for 3 s: twice the lifetime, yet still valid.
    while start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(250));
        assert!(
            auth.touch(&session.token).is_ok(),
            "after {:?}",
            start.elapsed()
        );
    }
    std::thread::sleep(Duration::from_millis(1800));
    assert_eq!(auth.touch(&session.token).unwrap_err(), AuthError::Expired);
}

#[test]
fn roles_map_to_query_access() {
    use sysadm_proto::Access;
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    add_user(dir.path(), "victor", Role::Viewer, "viewer-pw");
    let viewer = auth.login(ip("192.0.2.1"), "victor", "viewer-pw").unwrap();
    assert_eq!(viewer.principal.role, Role::Viewer);
    assert_eq!(Role::Viewer.access(), Access::Read);
    assert_eq!(Role::Admin.access(), Access::ReadWrite);
}

#[test]
fn concurrent_logins_from_many_threads() {
    let dir = tempfile::tempdir().unwrap();
    // 200 failures for one user from 200 addresses: here about threads, not guessing limits.
    let config = AuthConfig {
        user_max_failures: 0,
        password_checks_per_sec: 0,
        ..config()
    };
    let auth = Arc::new(open(dir.path(), config));
    let threads: Vec<_> = (0..8u8)
        .map(|thread| {
            let auth = Arc::clone(&auth);
            std::thread::spawn(move || {
                let mut tokens = Vec::new();
                for round in 0..25u8 {
                    let peer = IpAddr::from([10, 0, thread, round]);
                    // One failure per address: never enough to block.
                    assert_eq!(
                        auth.login(peer, "admin", "wrong").unwrap_err(),
                        AuthError::BadCredentials
                    );
                    let session = auth.login(peer, "admin", ADMIN_PASSWORD).unwrap();
                    assert!(auth.touch(&session.token).is_ok());
                    tokens.push(session.token);
                }
                tokens
            })
        })
        .collect();
    let tokens: HashSet<String> = threads
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    assert_eq!(tokens.len(), 200, "every token is distinct");
    assert_eq!(auth.token_count(), 200);
    assert!(tokens.iter().all(|token| auth.touch(token).is_ok()));
    assert_eq!(
        auth.tracked_addresses(),
        0,
        "each success reset its address"
    );
}

#[test]
fn auth_is_send_and_sync() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Auth>();
}

// ---- HTTP headers ----

#[test]
fn basic_header_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthConfig {
        max_failures: 0,
        ..config()
    };
    let auth = open(dir.path(), config);
    let peer = ip("192.0.2.1");
    let good = basic("admin", ADMIN_PASSWORD);
    assert_eq!(
        auth.authorize_header(peer, Some(&good)).unwrap().user,
        "admin"
    );
    // The scheme is case-insensitive, surrounding space is ignored, padding is optional.
    let lower = good.replacen("Basic", "basic", 1);
    assert!(auth.authorize_header(peer, Some(&lower)).is_ok());
    assert!(
        auth.authorize_header(peer, Some(&format!("  {good}  ")))
            .is_ok()
    );
    let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD
        .encode("admin:correct horse battery staple");
    assert!(
        auth.authorize_header(peer, Some(&format!("Basic {unpadded}")))
            .is_ok()
    );
    // A password may contain ':'; the user name ends at the first one.
    add_user(dir.path(), "colon", Role::Viewer, "a:b:c");
    assert_eq!(
        auth.authorize_header(peer, Some(&basic("colon", "a:b:c")))
            .unwrap()
            .role,
        Role::Viewer
    );

    let malformed = |header: &str| match auth.authorize_header(peer, Some(header)) {
        Err(AuthError::Malformed(details)) => details,
        other => panic!("{header:?}: {other:?}"),
    };
    assert!(malformed("Basic !!!not-base64!!!").contains("base64"));
    let no_colon = base64::engine::general_purpose::STANDARD.encode("adminpassword");
    assert!(malformed(&format!("Basic {no_colon}")).contains("user:password"));
    let not_utf8 = base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, b':', b'x']);
    malformed(&format!("Basic {not_utf8}"));
    malformed("Basic");
    assert!(malformed("Digest username=admin").contains("Basic or Bearer"));
    assert!(malformed("Token abc").contains("'Token'"));

    assert_eq!(
        auth.authorize_header(peer, None).unwrap_err(),
        AuthError::MissingCredentials
    );
    assert_eq!(
        auth.authorize_header(peer, Some("")).unwrap_err(),
        AuthError::MissingCredentials
    );
    assert_eq!(
        auth.authorize_header(peer, Some("   ")).unwrap_err(),
        AuthError::MissingCredentials
    );
    assert_eq!(
        auth.authorize_header(peer, Some(&basic("admin", "wrong")))
            .unwrap_err(),
        AuthError::BadCredentials
    );
    assert_eq!(
        auth.authorize_header(peer, Some(&basic("nobody", ADMIN_PASSWORD)))
            .unwrap_err(),
        AuthError::BadCredentials
    );
    assert_eq!(AuthError::MissingCredentials.code().code(), 401);
}

#[test]
fn bearer_header_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthConfig {
        max_failures: 0,
        ..config()
    };
    let auth = open(dir.path(), config);
    let peer = ip("192.0.2.1");
    let session = auth.login(peer, "admin", ADMIN_PASSWORD).unwrap();
    let token = &session.token;
    assert_eq!(
        auth.authorize_header(peer, Some(&format!("Bearer {token}")))
            .unwrap()
            .user,
        "admin"
    );
    assert!(
        auth.authorize_header(peer, Some(&format!("bearer  {token} ")))
            .is_ok()
    );
    for bad in [
        "Bearer",
        "Bearer ",
        &format!("Bearer {}", &token[1..]),
        &format!("Bearer {token}x"),
    ] {
        assert_eq!(
            auth.authorize_header(peer, Some(bad)).unwrap_err(),
            AuthError::Expired,
            "{bad:?}"
        );
    }
    // A token is not a password, nor the other way round.
    assert_eq!(
        auth.authorize_header(peer, Some(&format!("Bearer {ADMIN_PASSWORD}")))
            .unwrap_err(),
        AuthError::Expired
    );
    assert_eq!(
        auth.authorize_header(peer, Some(&basic("admin", token)))
            .unwrap_err(),
        AuthError::BadCredentials
    );
}

#[test]
fn cached_basic_credentials_skip_the_password_hash() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthConfig {
        hash_params: HashParams {
            memory_kib: 8192,
            iterations: 3,
            lanes: 1,
        },
        ..config()
    };
    let auth = open(dir.path(), config);
    let peer = ip("192.0.2.1");
    let header = basic("admin", ADMIN_PASSWORD);
    let start = Instant::now();
    auth.authorize_header(peer, Some(&header)).unwrap();
    let first = start.elapsed();
    let start = Instant::now();
    for _ in 0..50 {
        auth.authorize_header(peer, Some(&header)).unwrap();
    }
    let cached = start.elapsed();
    assert!(
        cached < first * 5,
        "50 cached checks took {cached:?}, one verification {first:?}"
    );
}

#[tokio::test]
async fn an_offloaded_cached_basic_credential_never_outlives_a_block_or_a_password_change() {
    let dir = tempfile::tempdir().unwrap();
    let auth = Arc::new(open(dir.path(), config()));
    add_user(dir.path(), "olivia", Role::Viewer, "old-pw");
    let peer = ip("192.0.2.1");
    let header = basic("olivia", "old-pw");
    for round in ["hashed", "cached"] {
        let principal = auth
            .authorize_header_offloaded(peer, Some(&header))
            .await
            .unwrap_or_else(|error| panic!("{round}: {error:?}"));
        assert_eq!(principal.user, "olivia", "{round}");
        assert_eq!(principal.role, Role::Viewer, "{round}");
    }
    // A blocked address is refused even with a cached credential.
    let blocked = ip("192.0.2.66");
    auth.authorize_header_offloaded(blocked, Some(&header))
        .await
        .unwrap();
    for _ in 0..5 {
        let _ = auth.login(blocked, "admin", "wrong");
    }
    assert!(matches!(
        auth.authorize_header_offloaded(blocked, Some(&header))
            .await
            .unwrap_err(),
        AuthError::Blocked { .. }
    ));
    // A new password voids the cached credential of the old one.
    set_password(dir.path(), "olivia", "new-pw");
    assert_eq!(
        auth.authorize_header_offloaded(peer, Some(&header))
            .await
            .unwrap_err(),
        AuthError::BadCredentials
    );
    // What is not a decodable Basic credential is answered as before.
    assert!(matches!(
        auth.authorize_header_offloaded(peer, Some("Basic %%%"))
            .await
            .unwrap_err(),
        AuthError::Malformed(_)
    ));
}

// ---- users changed under a running server ----

#[test]
fn passwd_voids_cached_credentials_and_tokens_of_that_user_only() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    add_user(dir.path(), "olivia", Role::Admin, "old-pw");
    let peer = ip("192.0.2.1");
    let old_header = basic("olivia", "old-pw");
    assert!(auth.authorize_header(peer, Some(&old_header)).is_ok());
    let olivia = auth.login(peer, "olivia", "old-pw").unwrap();
    let admin = auth.login(peer, "admin", ADMIN_PASSWORD).unwrap();

    set_password(dir.path(), "olivia", "new-pw");

    assert_eq!(
        auth.authorize_header(peer, Some(&old_header)).unwrap_err(),
        AuthError::BadCredentials
    );
    assert_eq!(auth.touch(&olivia.token).unwrap_err(), AuthError::Expired);
    assert!(
        auth.authorize_header(peer, Some(&basic("olivia", "new-pw")))
            .is_ok()
    );
    assert!(
        auth.touch(&admin.token).is_ok(),
        "other users keep their sessions"
    );
}

#[test]
fn remove_voids_cached_credentials_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    add_user(dir.path(), "rita", Role::Viewer, "rita-pw");
    let peer = ip("192.0.2.1");
    let header = basic("rita", "rita-pw");
    assert!(auth.authorize_header(peer, Some(&header)).is_ok());
    let session = auth.login(peer, "rita", "rita-pw").unwrap();
    let bearer = format!("Bearer {}", session.token);
    assert!(auth.authorize_header(peer, Some(&bearer)).is_ok());

    user_command(
        dir.path(),
        UserCommand::Remove {
            name: "rita".to_owned(),
        },
        "",
    )
    .unwrap();

    assert_eq!(
        auth.authorize_header(peer, Some(&header)).unwrap_err(),
        AuthError::BadCredentials
    );
    assert_eq!(
        auth.authorize_header(peer, Some(&bearer)).unwrap_err(),
        AuthError::Expired
    );
    assert_eq!(
        auth.resume(peer, &session.token).unwrap_err(),
        AuthError::Expired
    );
    assert_eq!(
        auth.login(peer, "rita", "rita-pw").unwrap_err(),
        AuthError::BadCredentials
    );
}

#[test]
fn a_running_server_sees_new_users_within_the_reload_interval() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthConfig {
        users_reload_interval: Duration::from_secs(1),
        ..config()
    };
    let auth = open(dir.path(), config);
    add_user(dir.path(), "nina", Role::Viewer, "nina-pw");
    std::thread::sleep(Duration::from_millis(1100));
    let session = auth.login(ip("192.0.2.1"), "nina", "nina-pw").unwrap();
    assert_eq!(session.principal.role, Role::Viewer);
}

#[test]
fn a_broken_users_file_keeps_the_users_read_before() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    std::fs::write(dir.path().join("users.toml"), "this is [not toml").unwrap();
    let session = auth
        .login(ip("192.0.2.1"), "admin", ADMIN_PASSWORD)
        .unwrap();
    assert_eq!(session.principal.user, "admin");
}

// ---- lockout ----

fn lockout_config(block: Duration) -> AuthConfig {
    AuthConfig {
        block_duration: block,
        ..config()
    }
}

#[test]
fn the_fifth_failure_blocks_and_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    let peer = ip("192.0.2.66");
    for attempt in 1..=4 {
        assert_eq!(
            auth.login(peer, "admin", "wrong").unwrap_err(),
            AuthError::BadCredentials,
            "attempt {attempt}"
        );
        assert!(!auth.is_blocked(peer), "blocked after {attempt} failures");
    }
    match auth.login(peer, "admin", "wrong").unwrap_err() {
        AuthError::Blocked { retry_after } => assert_eq!(retry_after, Duration::from_secs(3600)),
        other => panic!("the fifth failure answered {other:?}"),
    }
    assert!(auth.is_blocked(peer));
    // Now even the right password, a token or a header is refused, with 429.
    let blocked = auth.login(peer, "admin", ADMIN_PASSWORD).unwrap_err();
    assert!(
        matches!(blocked, AuthError::Blocked { retry_after } if retry_after > Duration::from_secs(3500))
    );
    assert_eq!(blocked.code().code(), 429);
    assert!(blocked.details().contains("try again"));
    let session = auth
        .login(ip("192.0.2.67"), "admin", ADMIN_PASSWORD)
        .unwrap();
    assert!(matches!(
        auth.resume(peer, &session.token),
        Err(AuthError::Blocked { .. })
    ));
    assert!(matches!(
        auth.authorize_header(peer, Some(&basic("admin", ADMIN_PASSWORD))),
        Err(AuthError::Blocked { .. })
    ));
    // Other addresses are not affected; an IPv4 address seen over IPv6 is the same address.
    assert!(!auth.is_blocked(ip("192.0.2.67")));
    assert!(auth.is_blocked(ip("::ffff:192.0.2.66")));
}

#[test]
fn the_block_ends_after_its_duration() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), lockout_config(Duration::from_millis(400)));
    let peer = ip("2001:db8::1");
    for _ in 0..5 {
        let _ = auth.login(peer, "admin", "wrong");
    }
    assert!(auth.is_blocked(peer));
    std::thread::sleep(Duration::from_millis(550));
    assert!(!auth.is_blocked(peer));
    assert!(auth.login(peer, "admin", ADMIN_PASSWORD).is_ok());
    // The count started again: four failures do not block.
    for _ in 0..4 {
        assert_eq!(
            auth.login(peer, "admin", "wrong").unwrap_err(),
            AuthError::BadCredentials
        );
    }
    assert!(!auth.is_blocked(peer));
}

#[test]
fn a_success_resets_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    let peer = ip("192.0.2.5");
    for _ in 0..4 {
        let _ = auth.login(peer, "admin", "wrong");
    }
    assert!(auth.login(peer, "admin", ADMIN_PASSWORD).is_ok());
    for _ in 0..4 {
        assert_eq!(
            auth.login(peer, "admin", "wrong").unwrap_err(),
            AuthError::BadCredentials
        );
    }
    assert!(!auth.is_blocked(peer));
    assert!(matches!(
        auth.login(peer, "admin", "wrong"),
        Err(AuthError::Blocked { .. })
    ));
}

#[test]
fn failures_further_apart_than_the_window_do_not_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthConfig {
        failure_window: Duration::from_millis(150),
        ..config()
    };
    let auth = open(dir.path(), config);
    let peer = ip("192.0.2.9");
    for _ in 0..6 {
        assert_eq!(
            auth.login(peer, "admin", "wrong").unwrap_err(),
            AuthError::BadCredentials
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(!auth.is_blocked(peer));
}

#[test]
fn failed_tokens_and_headers_count_towards_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    let peer = ip("192.0.2.10");
    assert_eq!(auth.resume(peer, "").unwrap_err(), AuthError::Expired);
    assert_eq!(
        auth.resume(peer, "deadbeef").unwrap_err(),
        AuthError::Expired
    );
    assert_eq!(
        auth.authorize_header(peer, Some("Bearer nope"))
            .unwrap_err(),
        AuthError::Expired
    );
    assert!(matches!(
        auth.authorize_header(peer, Some("Basic %%%")),
        Err(AuthError::Malformed(_))
    ));
    assert!(!auth.is_blocked(peer));
    assert!(matches!(
        auth.authorize_header(peer, Some(&basic("admin", "wrong"))),
        Err(AuthError::Blocked { .. })
    ));
    assert!(auth.is_blocked(peer));
}

#[test]
fn missing_headers_and_unknown_schemes_do_not_count() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    let peer = ip("192.0.2.11");
    for _ in 0..10 {
        assert_eq!(
            auth.authorize_header(peer, None).unwrap_err(),
            AuthError::MissingCredentials
        );
        assert!(matches!(
            auth.authorize_header(peer, Some("Negotiate x")),
            Err(AuthError::Malformed(_))
        ));
    }
    assert!(!auth.is_blocked(peer));
    assert_eq!(auth.tracked_addresses(), 0);
}

#[test]
fn max_failures_zero_never_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthConfig {
        max_failures: 0,
        ..config()
    };
    let auth = open(dir.path(), config);
    let peer = ip("192.0.2.12");
    for _ in 0..10 {
        assert_eq!(
            auth.login(peer, "admin", "wrong").unwrap_err(),
            AuthError::BadCredentials
        );
    }
    assert!(auth.login(peer, "admin", ADMIN_PASSWORD).is_ok());
}

#[test]
fn the_failure_table_stays_bounded_and_keeps_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthConfig {
        max_tracked_addresses: 20,
        ..config()
    };
    let auth = open(dir.path(), config);
    let attacker = ip("192.0.2.13");
    for _ in 0..5 {
        let _ = auth.authorize_header(attacker, Some("Basic %"));
    }
    assert!(auth.is_blocked(attacker));
    // A flood of failures from other addresses neither grows the table
    // without bound nor lifts the block.
    for n in 0..500u16 {
        let peer = IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 1, n]);
        let _ = auth.authorize_header(peer, Some("Basic %"));
        assert!(auth.tracked_addresses() <= 20);
    }
    assert!(auth.is_blocked(attacker));
}

#[test]
fn failures_and_blocks_reach_the_audit_hook_aggregated() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    auth.set_audit_hook(move |event| sink.lock().unwrap().push(event));
    let peer = ip("192.0.2.14");
    let _ = auth.login(peer, "admin", "wrong");
    let _ = auth.resume(peer, "bad token");
    assert!(auth.login(peer, "admin", ADMIN_PASSWORD).is_ok());
    for _ in 0..5 {
        let _ = auth.login(peer, "eve", "guess");
    }
    // One line for the first failure of the address in a window; the others
    // are counted in the next line, and the block carries the count.
    let events = events.lock().unwrap();
    assert_eq!(
        *events,
        [
            AuthAudit::Failed {
                peer,
                user: Some("admin".to_owned()),
                suppressed: 0,
            },
            AuthAudit::Failed {
                peer,
                user: Some("eve".to_owned()),
                suppressed: 1,
            },
            AuthAudit::Blocked { peer, failures: 5 },
        ]
    );
}

#[test]
fn a_users_file_fixed_after_a_broken_version_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    let path = dir.path().join("users.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(auth.login(ip("192.0.2.1"), "admin", ADMIN_PASSWORD).is_ok());
    std::fs::write(&path, "this is [not toml").unwrap();
    assert!(auth.login(ip("192.0.2.1"), "admin", ADMIN_PASSWORD).is_ok());
    std::fs::write(&path, good).unwrap();
    add_user(dir.path(), "fiona", Role::Viewer, "fiona-pw");
    assert!(auth.login(ip("192.0.2.1"), "fiona", "fiona-pw").is_ok());
}

// ---- guessing across addresses (issue 16, item 3) ----

#[test]
fn ipv6_failures_count_per_64() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(dir.path(), config());
    for n in 1..=5u16 {
        let peer = IpAddr::from([0x2001, 0xdb8, 7, 7, n, n, n, n]);
        let _ = auth.login(peer, "admin", "wrong");
    }
    let same_64 = IpAddr::from([0x2001, 0xdb8, 7, 7, 0xffff, 1, 2, 3]);
    let other_64 = IpAddr::from([0x2001, 0xdb8, 7, 8, 1, 1, 1, 1]);
    assert!(
        auth.is_blocked(same_64),
        "five addresses of one /64 block it"
    );
    assert!(matches!(
        auth.login(same_64, "admin", ADMIN_PASSWORD),
        Err(AuthError::Blocked { .. })
    ));
    assert!(!auth.is_blocked(other_64));
    assert!(auth.login(other_64, "admin", ADMIN_PASSWORD).is_ok());
}

#[test]
fn rotating_addresses_get_few_guesses_and_the_owner_still_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthConfig {
        password_checks_per_sec: 0,
        ..config()
    };
    let auth = open(dir.path(), config);
    let home = ip("192.0.2.100");
    assert!(auth.login(home, "admin", ADMIN_PASSWORD).is_ok());
    // 2,000 guesses, each from a new address (as the reported attack did).
    let mut checked = 0;
    let mut refused = 0;
    for n in 0..2000u32 {
        let peer = IpAddr::from((0x0a00_0000 + n).to_be_bytes());
        match auth.login(peer, "admin", &format!("guess-{n}")) {
            Err(AuthError::BadCredentials) => checked += 1,
            Err(AuthError::Busy { retry_after, .. }) => {
                assert!(retry_after <= Duration::from_secs(1), "{retry_after:?}");
                refused += 1;
            }
            other => panic!("guess {n}: {other:?}"),
        }
    }
    // 20 failures guard the user; then one try a second from strangers (the
    // loop takes well under a few seconds even on a slow machine).
    assert!(checked >= 20, "{checked}");
    assert!(checked < 100, "{checked} guesses were checked");
    assert_eq!(checked + refused, 2000);
    // The owner, from where they logged in before, is not held up at all.
    assert!(auth.login(home, "admin", ADMIN_PASSWORD).is_ok());
    // From an address that never failed: at most a second's wait, not an hour.
    let new_place = ip("198.51.100.200");
    let session = match auth.login(new_place, "admin", ADMIN_PASSWORD) {
        Ok(session) => session,
        Err(AuthError::Busy { retry_after, .. }) => {
            std::thread::sleep(retry_after);
            auth.login(new_place, "admin", ADMIN_PASSWORD).unwrap()
        }
        Err(other) => panic!("{other:?}"),
    };
    assert_eq!(session.principal.user, "admin");
    // Other users are not guarded by admin's attack.
    add_user(dir.path(), "olga", Role::Viewer, "olga-pw");
    assert!(auth.login(ip("203.0.113.5"), "olga", "olga-pw").is_ok());
}

#[test]
fn the_server_checks_at_most_its_budget_of_passwords_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthConfig {
        password_checks_per_sec: 5,
        ..config()
    };
    let auth = open(dir.path(), config);
    let home = ip("192.0.2.100");
    assert!(auth.login(home, "admin", ADMIN_PASSWORD).is_ok());
    let mut checked = 0;
    for n in 0..200u32 {
        // A different user name each time: the per-user guard does not apply.
        let peer = IpAddr::from((0x0a00_0000 + n).to_be_bytes());
        match auth.login(peer, &format!("user{n}"), "guess") {
            Err(AuthError::BadCredentials) => checked += 1,
            Err(AuthError::Busy { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    // 5 at once (the owner's first login took one), then 5 a second: 200
    // attempts in a moment get about 5 checks.
    assert!((4..=15).contains(&checked), "{checked}");
    // A known network is outside the budget.
    assert!(auth.login(home, "admin", ADMIN_PASSWORD).is_ok());
}

#[test]
fn a_rotating_guesser_leaves_few_audit_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthConfig {
        password_checks_per_sec: 0,
        user_max_failures: 0,
        ..config()
    };
    let auth = open(dir.path(), config);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    auth.set_audit_hook(move |event| sink.lock().unwrap().push(event));
    for n in 0..500u32 {
        let peer = IpAddr::from((0x0a00_0000 + n).to_be_bytes());
        let _ = auth.login(peer, "admin", "guess");
    }
    let events = events.lock().unwrap();
    let lines = events.len();
    // At most 10 failure lines a second, each counting those left out.
    assert!(
        (10..100).contains(&lines),
        "{lines} audit lines for 500 failures"
    );
    let accounted: u64 = events
        .iter()
        .map(|event| match event {
            AuthAudit::Failed { suppressed, .. } => suppressed + 1,
            other => panic!("{other:?}"),
        })
        .sum();
    assert!(accounted <= 500, "{accounted}");
    assert_eq!(
        events[0],
        AuthAudit::Failed {
            peer: IpAddr::from([10, 0, 0, 0]),
            user: Some("admin".to_owned()),
            suppressed: 0
        }
    );
}
