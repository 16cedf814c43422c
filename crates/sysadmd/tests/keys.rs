//! API keys through the real binary: `sysadmd key create|list|revoke`,
//! `Authorization: Bearer <key>` over REST, `rpc/auth_key` over WebSocket,
//! scopes enforced (allowed and refused, naming what the key allows), the
//! key named in the audit log, a revoke ending a live session, `rpc/keys`.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use serde_json::{Value, json};
use support::daemon::{Daemon, PASSWORD, spawn_daemon, sysadmd};
use support::{WsClient, basic, iocage, rest_call};

fn spawn() -> Daemon {
    spawn_daemon(&["--plaintext", "--listen", "127.0.0.1:0"], None)
}

/// `sysadmd key ARGS` on the daemon's state directory: (success, stdout, stderr).
fn key_command(daemon: &Daemon, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["key"];
    all.extend_from_slice(args);
    let output = sysadmd(&all, daemon.state.path()).output().unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn create_key(daemon: &Daemon, args: &[&str]) -> String {
    let mut all = vec!["create"];
    all.extend_from_slice(args);
    let (ok, out, err) = key_command(daemon, &all);
    assert!(ok, "key create failed: {err}");
    let key = out.trim().to_owned();
    assert!(key.starts_with("sysadm_") && key.len() == 71, "{key}");
    key
}

async fn call(daemon: &Daemon, authorization: &str, args: Value) -> (StatusCode, Value) {
    rest_call(
        daemon.addrs[0],
        "PUT",
        "/sysadm/iocage",
        &args.to_string(),
        Some(authorization),
    )
    .await
}

async fn admin(daemon: &Daemon, args: Value) -> Value {
    let (status, body) = call(daemon, &basic("admin", PASSWORD), args).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn details(body: &Value) -> String {
    body["args"]["details"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn audit_text(daemon: &Daemon) -> String {
    let path = daemon
        .banner
        .iter()
        .find_map(|line| line.strip_prefix("audit log: "))
        .unwrap();
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test]
async fn a_scoped_key_may_do_what_its_scope_allows_and_nothing_else() {
    let daemon = spawn();
    for tag in ["web1", "db1"] {
        admin(
            &daemon,
            json!({"action": "createjail", "props": format!("tag={tag} release=10.2-RELEASE")}),
        )
        .await;
    }
    let key = create_key(
        &daemon,
        &[
            "ops",
            "--role",
            "admin",
            "--jails",
            "web*",
            "--actions",
            "listjails",
            "startjail",
            "stopjail",
        ],
    );
    let bearer = format!("Bearer {key}");

    let (status, body) = call(
        &daemon,
        &bearer,
        json!({"action": "startjail", "jail": "web1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(&daemon, &bearer, json!({"action": "listjails"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // rpc/query does not offer it rpc/keys, which a limited key may not use.
    let (status, body) = rest_call(daemon.addrs[0], "PUT", "/rpc/query", "{}", Some(&bearer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["args"].get("rpc/keys").is_none(), "{body}");
    assert_eq!(body["args"]["sysadm/iocage"], "read/write", "{body}");

    // Another jail: refused, naming what the key allows.
    let (status, body) = call(
        &daemon,
        &bearer,
        json!({"action": "startjail", "jail": "db1"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let text = details(&body);
    assert!(
        text.contains("key 'ops'") && text.contains("web*") && text.contains("db1"),
        "{text}"
    );
    // The same jail by UUID: judged by the jail, not by the spelling.
    let jails = admin(&daemon, json!({"action": "listjails"})).await;
    let db1 = jails["args"]["listjails"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, jail)| jail["tag"] == "db1")
        .map(|(uuid, _)| uuid.clone())
        .unwrap();
    let (status, _) = call(&daemon, &bearer, json!({"action": "stopjail", "jail": db1})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An action outside the list, on an allowed jail.
    let (status, body) = call(
        &daemon,
        &bearer,
        json!({"action": "execjail", "jail": "web1", "command": "id"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        details(&body).contains("only listjails, startjail, stopjail"),
        "{body}"
    );

    // A jail-limited key never changes the whole host, nor creates outside its patterns.
    let wide = create_key(&daemon, &["wide", "--role", "admin", "--jails", "web*"]);
    let wide = format!("Bearer {wide}");
    let (status, body) = call(&daemon, &wide, json!({"action": "cleanjails"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = call(
        &daemon,
        &wide,
        json!({"action": "createjail", "props": "tag=db2 release=10.2-RELEASE"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call(
        &daemon,
        &wide,
        json!({"action": "createjail", "props": "tag=web2 release=10.2-RELEASE"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A viewer key reads and never changes.
    let viewer = format!(
        "Bearer {}",
        create_key(&daemon, &["look", "--role", "viewer"])
    );
    assert_eq!(
        call(&daemon, &viewer, json!({"action": "df"})).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &daemon,
            &viewer,
            json!({"action": "stopjail", "jail": "web1"})
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // Nothing refused reached the host: db1 is still down.
    let jails = admin(&daemon, json!({"action": "listjails"})).await;
    assert_eq!(jails["args"]["listjails"][&db1]["state"], "down");
    // Every audit line of a key's job names the key.
    let audit = audit_text(&daemon);
    let key_lines: Vec<&str> = audit
        .lines()
        .filter(|line| line.contains("\"key:ops\""))
        .collect();
    assert!(
        key_lines.iter().any(|line| line.contains("startjail")),
        "{audit}"
    );
    assert!(
        audit
            .lines()
            .any(|line| line.contains("\"key:wide\"") && line.contains("createjail")),
        "{audit}"
    );

    // A wrong key is 401.
    let (status, _) = call(
        &daemon,
        &format!("Bearer sysadm_{}", "0".repeat(64)),
        json!({"action": "df"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoking_a_key_ends_its_live_websocket_session() {
    let daemon = spawn();
    let key = create_key(&daemon, &["ci", "--role", "viewer"]);
    let mut ws = WsClient::connect(daemon.addrs[0]).await;
    let login = ws
        .call(json!({"namespace": "rpc", "name": "auth_key", "id": "1", "args": {"key": key}}))
        .await;
    assert_eq!(login["name"], "response", "{login}");
    assert_eq!(login["args"]["name"], "ci");
    assert_eq!(login["args"]["role"], "viewer");
    let reply = ws.call(iocage("2", json!({"action": "listjails"}))).await;
    assert_eq!(reply["name"], "response", "{reply}");
    let subscribed = ws
        .call(support::subscribe("sub", json!(["dispatcher"])))
        .await;
    assert_eq!(subscribed["name"], "response", "{subscribed}");
    // Subscribed: another client's job reaches this session.
    admin(
        &daemon,
        json!({"action": "createjail", "props": "tag=seen"}),
    )
    .await;
    let event = support::next_event(&mut ws).await;
    assert_eq!(event["args"]["action"], "createjail", "{event}");
    support::next_event(&mut ws).await;

    let (ok, out, err) = key_command(&daemon, &["revoke", "ci"]);
    assert!(ok, "{err}");
    assert!(out.contains("revoked key 'ci'"), "{out}");
    // After the reload interval, the session hears nothing more: events of
    // jobs that run now are not delivered.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    admin(
        &daemon,
        json!({"action": "createjail", "props": "tag=unseen"}),
    )
    .await;
    let heard = tokio::time::timeout(Duration::from_millis(700), ws.recv()).await;
    assert!(
        heard.is_err(),
        "a revoked key's session still hears: {heard:?}"
    );
    // The running server sees the change within its reload interval (a second).
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let reply = ws.call(iocage("3", json!({"action": "listjails"}))).await;
        if reply["name"] == "error" {
            break reply;
        }
        assert!(
            Instant::now() < deadline,
            "the revoked key still works: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(refused["args"]["code"], 401, "{refused}");
    // The session is over: the next request is refused as unauthenticated.
    let again = ws.call(iocage("4", json!({"action": "listjails"}))).await;
    assert_eq!(again["args"]["code"], 401, "{again}");
    // And the key no longer logs in.
    let login = ws
        .call(json!({"namespace": "rpc", "name": "auth_key", "id": "5", "args": {"key": key}}))
        .await;
    assert_eq!(login["name"], "error", "{login}");
}

#[tokio::test]
async fn admins_create_list_and_revoke_keys_over_rpc_keys() {
    let daemon = spawn();
    let mut ws = WsClient::connect(daemon.addrs[0]).await;
    let login = ws
        .call(json!({"namespace": "rpc", "name": "auth", "id": "1",
                     "args": {"username": "admin", "password": PASSWORD}}))
        .await;
    assert_eq!(login["name"], "response", "{login}");
    let created = ws
        .call(json!({"namespace": "rpc", "name": "keys", "id": "2",
                     "args": {"action": "create", "name": "minted", "role": "viewer",
                              "expires_secs": 3600}}))
        .await;
    assert_eq!(created["name"], "response", "{created}");
    let key = created["args"]["key"].as_str().unwrap().to_owned();
    assert_eq!(created["args"]["created_by"], "admin");
    assert!(
        created["args"]["expires"].as_u64().unwrap() > created["args"]["created"].as_u64().unwrap()
    );

    // Stored hashed, private.
    let file = daemon.state.path().join("keys.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(&key) && text.contains("[keys.minted]"),
        "{text}"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The key works at once, through REST.
    let (status, body) = call(
        &daemon,
        &format!("Bearer {key}"),
        json!({"action": "listjails"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let duplicate = ws
        .call(json!({"namespace": "rpc", "name": "keys", "id": "3",
                     "args": {"action": "create", "name": "minted", "role": "viewer"}}))
        .await;
    assert_eq!(duplicate["args"]["code"], 409, "{duplicate}");
    let bad = ws
        .call(json!({"namespace": "rpc", "name": "keys", "id": "4",
                     "args": {"action": "create", "name": "x", "role": "viewer", "actions": ["stopjail"]}}))
        .await;
    assert_eq!(bad["args"]["code"], 400, "{bad}");
    assert!(
        bad["args"]["details"]
            .as_str()
            .unwrap()
            .contains("viewer key can never run 'stopjail'"),
        "{bad}"
    );

    let list = ws
        .call(json!({"namespace": "rpc", "name": "keys", "id": "5", "args": {"action": "list"}}))
        .await;
    let keys = list["args"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{list}");
    assert_eq!(keys[0]["name"], "minted");
    assert!(!list.to_string().contains(&key));

    // A viewer key may not manage keys.
    let mut as_key = WsClient::connect(daemon.addrs[0]).await;
    as_key
        .call(json!({"namespace": "rpc", "name": "auth_key", "id": "1", "args": {"key": key}}))
        .await;
    let refused = as_key
        .call(json!({"namespace": "rpc", "name": "keys", "id": "2", "args": {"action": "list"}}))
        .await;
    assert_eq!(refused["args"]["code"], 403, "{refused}");

    let revoked = ws
        .call(json!({"namespace": "rpc", "name": "keys", "id": "6",
                     "args": {"action": "revoke", "name": "minted"}}))
        .await;
    assert_eq!(revoked["args"]["revoked"], "minted", "{revoked}");
    let (status, _) = call(
        &daemon,
        &format!("Bearer {key}"),
        json!({"action": "listjails"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (ok, out, _) = key_command(&daemon, &["list"]);
    assert!(ok && out.is_empty(), "{out}");
}

#[test]
fn bad_key_commands_say_what_is_accepted_and_change_nothing() {
    let state = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["key"];
        all.extend_from_slice(args);
        let output = sysadmd(&all, state.path()).output().unwrap();
        (
            output.status.success(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let (ok, err) = run(&[
        "create",
        "ci",
        "--role",
        "viewer",
        "--actions",
        "destroyjail",
    ]);
    assert!(
        !ok && err.contains("viewer key can never run 'destroyjail'"),
        "{err}"
    );
    let (ok, err) = run(&["create", "ci", "--role", "admin", "--actions", "destroy"]);
    assert!(
        !ok && err.contains("unknown action 'destroy'") && err.contains("destroyjail"),
        "{err}"
    );
    let (ok, err) = run(&["create", "ci", "--role", "admin", "--jails", "web[1"]);
    assert!(!ok && err.contains("invalid jail pattern"), "{err}");
    let (ok, err) = run(&["create", "Bad Name", "--role", "admin"]);
    assert!(!ok && err.contains("invalid key name"), "{err}");
    let (ok, err) = run(&["create", "ci", "--role", "admin", "--expires", "soon"]);
    assert!(!ok && err.contains("--expires"), "{err}");
    let (ok, err) = run(&["revoke", "ci"]);
    assert!(!ok && err.contains("no key 'ci'"), "{err}");
    assert!(!state.path().join("keys.toml").exists());

    // A key that expired is refused; list says so.
    let (ok, _) = run(&["create", "brief", "--role", "viewer", "--expires", "1s"]);
    assert!(ok);
    std::thread::sleep(Duration::from_millis(1100));
    let output = sysadmd(&["key", "list"], state.path()).output().unwrap();
    let out = String::from_utf8(output.stdout).unwrap();
    assert!(
        out.starts_with("brief\tviewer\tjails=*\tactions=*\texpires=expired"),
        "{out}"
    );
}

#[test]
fn a_keys_file_others_can_write_is_refused_at_start() {
    let state = tempfile::tempdir().unwrap();
    let output = sysadmd(&["key", "create", "ci", "--role", "admin"], state.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let file = state.path().join("keys.toml");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let output = sysadmd(&["--plaintext", "--listen", "127.0.0.1:0"], state.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(
        err.contains("keys file") && err.contains("chmod go-w"),
        "{err}"
    );
}
