//! Issue 9's bad-input suite: hundreds of malformed, hostile and smuggled
//! requests over REST, WebSocket and raw TCP. Each must get the error the
//! protocol document names (or a closed connection where no reply can be
//! framed), never a 2xx or 5xx; a recording backend must see no call for any
//! of them; and the server must answer a well-formed request after each.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use iocage_service::{
    Backend, BackendResult, CleanTarget, DfEntry, ExecOutput, JailInfo, NewJail, PluginInfo,
    PropertyRow, Releases, SimBackend, StateChange,
};
use serde_json::{Value, json};
use support::{ADMIN_PASSWORD, TestServer, WsClient, basic, iocage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const LIMIT: usize = 1024 * 1024;

/// The simulated host, counting every call that reaches it.
#[derive(Debug)]
struct Recording {
    inner: SimBackend,
    calls: AtomicUsize,
}

impl Recording {
    fn hit(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Backend for Recording {
    async fn list_jails(&self) -> BackendResult<Vec<JailInfo>> {
        self.hit();
        self.inner.list_jails().await
    }
    async fn df(&self) -> BackendResult<Vec<DfEntry>> {
        self.hit();
        self.inner.df().await
    }
    async fn get_property(&self, uuid: &str, prop: &str) -> BackendResult<String> {
        self.hit();
        self.inner.get_property(uuid, prop).await
    }
    async fn get_all(&self, uuid: &str) -> BackendResult<Vec<(String, String)>> {
        self.hit();
        self.inner.get_all(uuid).await
    }
    async fn get_recursive(&self, prop: &str) -> BackendResult<Vec<PropertyRow>> {
        self.hit();
        self.inner.get_recursive(prop).await
    }
    async fn defaults(&self) -> BackendResult<Vec<(String, String)>> {
        self.hit();
        self.inner.defaults().await
    }
    async fn start(&self, uuid: &str) -> BackendResult<StateChange> {
        self.hit();
        self.inner.start(uuid).await
    }
    async fn stop(&self, uuid: &str) -> BackendResult<StateChange> {
        self.hit();
        self.inner.stop(uuid).await
    }
    async fn cap(&self, uuid: &str) -> BackendResult<()> {
        self.hit();
        self.inner.cap(uuid).await
    }
    async fn create(&self, props: &[(String, String)], empty: bool) -> BackendResult<NewJail> {
        self.hit();
        self.inner.create(props, empty).await
    }
    async fn clone_jail(&self, uuid: &str, props: &[(String, String)]) -> BackendResult<NewJail> {
        self.hit();
        self.inner.clone_jail(uuid, props).await
    }
    async fn destroy(&self, uuid: &str) -> BackendResult<()> {
        self.hit();
        self.inner.destroy(uuid).await
    }
    async fn exec(&self, uuid: &str, user: &str, argv: &[String]) -> BackendResult<ExecOutput> {
        self.hit();
        self.inner.exec(uuid, user, argv).await
    }
    async fn clean(&self, target: CleanTarget) -> BackendResult<()> {
        self.hit();
        self.inner.clean(target).await
    }
    async fn active_pool(&self) -> BackendResult<String> {
        self.hit();
        self.inner.active_pool().await
    }
    async fn activate(&self, pool: &str) -> BackendResult<()> {
        self.hit();
        self.inner.activate(pool).await
    }
    async fn deactivate(&self, pool: &str) -> BackendResult<()> {
        self.hit();
        self.inner.deactivate(pool).await
    }
    async fn releases(&self) -> BackendResult<Releases> {
        self.hit();
        self.inner.releases().await
    }
    async fn plugins(&self) -> BackendResult<Vec<PluginInfo>> {
        self.hit();
        self.inner.plugins().await
    }
}

/// Who sends a REST request.
#[derive(Debug, Clone)]
enum Auth {
    Admin,
    None,
    Header(String),
}

/// How a request body travels.
#[derive(Debug, Clone)]
enum Body {
    /// With a Content-Length.
    Sized(Vec<u8>),
    /// Chunked, so the server learns the size only by reading.
    Chunked(Vec<u8>),
}

/// How a case reaches the server.
#[derive(Debug, Clone)]
enum Via {
    Rest {
        method: &'static str,
        path: String,
        auth: Auth,
        body: Body,
    },
    /// A message on a logged-in WebSocket.
    Ws(Message),
    /// A message on a WebSocket that never logged in.
    WsAnonymous(Message),
    /// Bytes written on a fresh TCP connection.
    Tcp(Vec<u8>),
    /// Bytes written after a hand-made WebSocket upgrade and login;
    /// `half_close` then ends the client's side of the stream.
    WsFrames { bytes: Vec<u8>, half_close: bool },
}

#[derive(Debug, Clone)]
enum Expect {
    /// Exactly this error code, with details that contain every needle.
    Error { code: u16, details: Vec<String> },
    /// Some 4xx or a closed connection; never a 2xx or 5xx.
    Refused,
    /// Valid by the validation rules (the hostile text travels as literal
    /// data): the backend is called and the reply has this code.
    Accepted { code: u16 },
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    via: Via,
    expect: Expect,
}

/// What came back: every code seen (HTTP status, and the body's code when it
/// differs), the details, whether the server closed the connection.
#[derive(Debug, Default)]
struct Outcome {
    codes: Vec<u16>,
    details: Vec<String>,
    closed: bool,
    problems: Vec<String>,
    shown: String,
}

fn error(code: u16, details: &[&str]) -> Expect {
    Expect::Error {
        code,
        details: details.iter().map(|needle| (*needle).to_owned()).collect(),
    }
}

fn rest(body: Value) -> Via {
    rest_bytes(body.to_string().into_bytes())
}

fn rest_bytes(body: Vec<u8>) -> Via {
    Via::Rest {
        method: "PUT",
        path: "/sysadm/iocage".into(),
        auth: Auth::Admin,
        body: Body::Sized(body),
    }
}

fn ws(id: &str, args: Value) -> Via {
    Via::Ws(Message::text(iocage(id, args).to_string()))
}

fn case(name: impl Into<String>, via: Via, expect: Expect) -> Case {
    Case {
        name: name.into(),
        via,
        expect,
    }
}

/// The same `args` over REST and over WebSocket.
fn both(name: &str, args: Value, expect: Expect) -> [Case; 2] {
    [
        case(format!("{name} (REST)"), rest(args.clone()), expect.clone()),
        case(format!("{name} (WS)"), ws(name, args), expect),
    ]
}

/// Hostile strings: shell metacharacters, control characters, path
/// traversal, a Cyrillic look-alike and a long value.
fn injections() -> Vec<(&'static str, String)> {
    vec![
        ("semicolon", "; rm -rf /".into()),
        ("command substitution", "$(id)".into()),
        ("backticks", "`id`".into()),
        ("pipe", "a|b".into()),
        ("and-and", "a && b".into()),
        ("newline", "a\nb".into()),
        ("NUL", "a\0b".into()),
        ("traversal", "../..".into()),
        ("look-alike", "t\u{0435}st".into()),
        ("10,000 characters", "a".repeat(10_000)),
    ]
}

/// What the jail-name rules say about each injection.
fn name_reason(label: &str) -> &'static str {
    match label {
        "semicolon" => "';' is not allowed",
        "command substitution" => "'$' is not allowed",
        "backticks" => "'`' is not allowed",
        "pipe" => "'|' is not allowed",
        "and-and" => "a space is not allowed",
        "newline" => "control or space character",
        "NUL" => "control or space character",
        "traversal" => "'..' is not allowed",
        "look-alike" => "U+0435",
        "10,000 characters" => "10000 bytes long",
        other => panic!("no reason for {other}"),
    }
}

fn injection_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (label, bad) in injections() {
        let mut add = |what: String, args: Value, expect: Expect| {
            cases.extend(both(&format!("{what}: {label}"), args, expect));
        };
        // Every action that names a jail.
        let jail_actions: [(&str, Value); 7] = [
            ("startjail", json!({})),
            ("stopjail", json!({})),
            ("capjail", json!({})),
            ("destroyjail", json!({})),
            ("getjailsettings", json!({"prop": "vnet"})),
            ("clonejail", json!({"props": "tag=copy"})),
            ("execjail", json!({"user": "root", "command": "id"})),
        ];
        for (action, mut args) in jail_actions {
            args["action"] = json!(action);
            args["jail"] = json!(bad);
            let details = [&format!("{action}: invalid jail"), name_reason(label)];
            add(format!("{action} jail"), args, error(400, &details));
        }
        // The property read, for one jail and for every jail.
        add(
            "getjailsettings prop".into(),
            json!({"action": "getjailsettings", "jail": "test", "prop": bad}),
            error(400, &["getjailsettings: invalid property"]),
        );
        add(
            "getjailsettings -r prop".into(),
            json!({"action": "getjailsettings", "switches": "-r", "prop": bad}),
            error(400, &["getjailsettings: invalid property"]),
        );
        // Props: the hostile text as a tag (the rules for tags are those of names).
        for action in ["createjail", "clonejail"] {
            let mut args = json!({"action": action, "props": format!("tag={bad}")});
            if action == "clonejail" {
                args["jail"] = json!("test");
            }
            add(
                format!("{action} props"),
                args,
                error(400, &[&format!("{action}: invalid")]),
            );
        }
        // Switches: each action accepts exactly one.
        add(
            "createjail switches".into(),
            json!({"action": "createjail", "props": "tag=x", "switches": bad}),
            error(400, &["createjail: invalid switches", "accepts is '-e'"]),
        );
        add(
            "getjailsettings switches".into(),
            json!({"action": "getjailsettings", "switches": bad, "prop": "vnet"}),
            error(
                400,
                &["getjailsettings: invalid switches", "accepts is '-r'"],
            ),
        );
        // Pools.
        for action in ["activatepool", "deactivatepool"] {
            add(
                format!("{action} pool"),
                json!({"action": action, "pool": bad}),
                error(
                    400,
                    &[&format!("{action}: invalid pool"), "a ZFS pool name"],
                ),
            );
        }
        // The user inside the jail.
        add(
            "execjail user".into(),
            json!({"action": "execjail", "jail": "test", "user": bad, "command": "id"}),
            error(400, &["execjail: invalid user", "lowercase letters"]),
        );
        // The command: split into argv and never given to a shell. Shell
        // operators and control characters are refused; the rest is a
        // literal argument, which reaches the backend (here: a jail that
        // does not exist, so 404).
        let command = json!({"action": "execjail", "jail": "test", "command": bad});
        let refused = match label {
            "semicolon" => Some("';'"),
            "command substitution" => Some("'$('"),
            "backticks" => Some("'`'"),
            "pipe" => Some("'|'"),
            "and-and" => Some("'&'"),
            "newline" | "NUL" => Some("control or space character"),
            _ => None,
        };
        match refused {
            Some(reason) => add(
                "execjail command".into(),
                command,
                error(400, &["execjail: invalid command", reason]),
            ),
            None => add(
                "execjail command (literal argv)".into(),
                command,
                Expect::Accepted { code: 404 },
            ),
        }
    }
    // Quoted, the operators are literal text: accepted, never interpreted.
    cases.extend(both(
        "execjail command with quoted operators",
        json!({"action": "execjail", "jail": "test", "command": "echo '; rm -rf /' '$(id)' '`id`' 'a|b'"}),
        Expect::Accepted { code: 404 },
    ));
    cases
}

/// Every string argument of every action, given a number, a boolean, an
/// array and an object.
fn wrong_type_cases() -> Vec<Case> {
    let base: [(&str, Value); 13] = [
        ("activatepool", json!({"pool": "tank"})),
        ("capjail", json!({"jail": "test"})),
        ("clonejail", json!({"jail": "test", "props": "tag=b"})),
        ("createjail", json!({"props": "tag=a", "switches": "-e"})),
        ("deactivatepool", json!({"pool": "tank"})),
        ("destroyjail", json!({"jail": "test"})),
        (
            "execjail",
            json!({"jail": "test", "user": "root", "command": "id"}),
        ),
        ("getjailsettings", json!({"jail": "test", "prop": "vnet"})),
        ("getjailsettings", json!({"switches": "-r", "prop": "vnet"})),
        ("startjail", json!({"jail": "test"})),
        ("stopjail", json!({"jail": "test"})),
        ("listjails", json!({})),
        ("df", json!({})),
    ];
    let wrong: [(&str, Value); 4] = [
        ("a number", json!(7)),
        ("a boolean", json!(true)),
        ("an array", json!(["test"])),
        ("an object", json!({"jail": "test"})),
    ];
    let mut cases = Vec::new();
    for (action, args) in base {
        let keys: Vec<String> = args.as_object().unwrap().keys().cloned().collect();
        for key in keys {
            for (found, value) in &wrong {
                let mut args = args.clone();
                args["action"] = json!(action);
                args[&key] = value.clone();
                let details = format!("{action}: argument '{key}' must be a string, not {found}");
                cases.extend(both(
                    &format!("{action} {key} as {found}"),
                    args,
                    error(400, &[&details]),
                ));
            }
        }
    }
    for (found, value) in wrong {
        cases.extend(both(
            &format!("action as {found}"),
            json!({"action": value}),
            error(
                400,
                &[&format!("argument 'action' must be a string, not {found}")],
            ),
        ));
    }
    cases
}

fn deeply_nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// JSON, UTF-8, envelope and shape errors, huge values, methods, classes,
/// sizes and credentials.
fn shape_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (label, text) in [
        ("truncated object", "{\"action\": "),
        ("trailing comma", "{\"action\": \"listjails\",}"),
        ("single quotes", "{'action': 'listjails'}"),
        ("bare word", "listjails"),
        ("NaN", "NaN"),
        ("two documents", "{\"action\": \"listjails\"} {}"),
        ("unterminated string", "{\"action\": \"listjails}"),
        ("lone surrogate", "{\"action\": \"\\ud800\"}"),
    ] {
        cases.push(case(
            format!("invalid JSON: {label} (REST)"),
            rest_bytes(text.as_bytes().to_vec()),
            error(400, &["invalid JSON body"]),
        ));
        cases.push(case(
            format!("invalid JSON: {label} (WS)"),
            Via::Ws(Message::text(text)),
            error(400, &["invalid JSON"]),
        ));
    }
    let invalid_utf8 = b"{\"action\": \"list\xff\xfejails\"}".to_vec();
    cases.push(case(
        "invalid UTF-8 body (REST)",
        rest_bytes(invalid_utf8.clone()),
        error(400, &["invalid JSON body"]),
    ));
    cases.push(case(
        "invalid UTF-8 binary frame (WS)",
        Via::Ws(Message::binary(invalid_utf8)),
        error(400, &["binary frame is not UTF-8 JSON"]),
    ));
    cases.push(case(
        "binary frame of garbage JSON (WS)",
        Via::Ws(Message::binary(b"{\"namespace\": ".to_vec())),
        error(400, &["invalid JSON"]),
    ));
    cases.push(case(
        "binary frame carrying a bad jail name (WS)",
        Via::Ws(Message::binary(
            iocage("bin", json!({"action": "startjail", "jail": "$(id)"})).to_string(),
        )),
        error(400, &["startjail: invalid jail"]),
    ));
    // Nesting: 10,000 levels, as the whole body and inside args.
    let nested = deeply_nested(10_000);
    cases.push(case(
        "nested 10,000 deep (REST)",
        rest_bytes(nested.clone().into_bytes()),
        error(400, &["recursion limit exceeded"]),
    ));
    cases.push(case(
        "nested 10,000 deep in args (REST)",
        rest_bytes(format!("{{\"action\": \"listjails\", \"x\": {nested}}}").into_bytes()),
        error(400, &["recursion limit exceeded"]),
    ));
    cases.push(case(
        "nested 10,000 deep (WS)",
        Via::Ws(Message::text(nested.clone())),
        error(400, &["recursion limit exceeded"]),
    ));
    cases.push(case(
        "nested 10,000 deep in args (WS)",
        Via::Ws(Message::text(format!(
            "{{\"namespace\": \"sysadm\", \"name\": \"iocage\", \"id\": \"deep\", \"args\": {{\"action\": \"listjails\", \"x\": {nested}}}}}"
        ))),
        error(400, &["recursion limit exceeded"]),
    ));
    // Args and envelopes of the wrong shape.
    for (label, args) in [
        ("array", json!(["listjails"])),
        ("string", json!("listjails")),
        ("number", json!(1)),
    ] {
        cases.extend(both(
            &format!("args as {label}"),
            args,
            error(400, &["args must be a JSON object"]),
        ));
    }
    cases.extend(both(
        "missing action",
        json!({"jail": "test"}),
        error(400, &["missing required argument 'action'"]),
    ));
    cases.extend(both(
        "unknown action",
        json!({"action": "rm -rf /"}),
        error(400, &["unknown action 'rm -rf /'"]),
    ));
    cases.extend(both(
        "missing jail",
        json!({"action": "startjail"}),
        error(400, &["startjail: missing required argument 'jail'"]),
    ));
    cases.extend(both(
        "missing command",
        json!({"action": "execjail", "jail": "test"}),
        error(400, &["execjail: missing required argument 'command'"]),
    ));
    cases.extend(both(
        "jail with -r",
        json!({"action": "getjailsettings", "jail": "test", "switches": "-r", "prop": "vnet"}),
        error(400, &["'jail' cannot be combined with switches '-r'"]),
    ));
    for (label, envelope, needle) in [
        ("envelope as array", json!([1, 2]), "must be a JSON object"),
        (
            "namespace as number",
            json!({"namespace": 1, "name": "iocage", "id": "n", "args": {}}),
            "field 'namespace' must be",
        ),
        (
            "name missing",
            json!({"namespace": "sysadm", "id": "n", "args": {}}),
            "missing required field 'name'",
        ),
        (
            "id as object",
            json!({"namespace": "sysadm", "name": "iocage", "id": {"x": 1}, "args": {}}),
            "field 'id' must be a string or a number",
        ),
        (
            "id as boolean",
            json!({"namespace": "sysadm", "name": "iocage", "id": true, "args": {}}),
            "field 'id' must be a string or a number",
        ),
    ] {
        cases.push(case(
            format!("{label} (WS)"),
            Via::Ws(Message::text(envelope.to_string())),
            error(400, &[needle]),
        ));
    }
    // Huge values: just under the size limit, each argument gets its own 400.
    let under = LIMIT - 200;
    let huge = "a".repeat(under);
    for (label, args, needle) in [
        (
            "jail",
            json!({"action": "startjail", "jail": huge}),
            "startjail: invalid jail",
        ),
        (
            "prop",
            json!({"action": "getjailsettings", "jail": "test", "prop": huge}),
            "getjailsettings: invalid property",
        ),
        (
            "props",
            json!({"action": "createjail", "props": huge}),
            "at most 64 KiB",
        ),
        (
            "switches",
            json!({"action": "createjail", "switches": huge}),
            "createjail: invalid switches",
        ),
        (
            "pool",
            json!({"action": "activatepool", "pool": huge}),
            "activatepool: invalid pool",
        ),
        (
            "user",
            json!({"action": "execjail", "jail": "test", "user": huge, "command": "id"}),
            "execjail: invalid user",
        ),
        (
            "command",
            json!({"action": "execjail", "jail": "test", "command": huge}),
            "commands are at most 64 KiB",
        ),
    ] {
        cases.extend(both(
            &format!("just under 1 MiB: {label}"),
            args,
            error(400, &[needle]),
        ));
    }
    // Over the limit: 413, whatever the content.
    let over = json!({"action": "startjail", "jail": "a".repeat(LIMIT)}).to_string();
    cases.push(case(
        "over 1 MiB with Content-Length (REST)",
        rest_bytes(over.clone().into_bytes()),
        error(413, &["over the limit of 1048576 bytes"]),
    ));
    cases.push(case(
        "over 1 MiB chunked (REST)",
        Via::Rest {
            method: "POST",
            path: "/sysadm/iocage".into(),
            auth: Auth::Admin,
            body: Body::Chunked(over.clone().into_bytes()),
        },
        error(413, &["over the limit of 1048576 bytes"]),
    ));
    cases.push(case(
        "over 1 MiB unauthenticated (REST)",
        Via::Rest {
            method: "PUT",
            path: "/sysadm/iocage".into(),
            auth: Auth::None,
            body: Body::Sized(over.clone().into_bytes()),
        },
        error(413, &["over the limit"]),
    ));
    let over_ws = iocage(
        "big",
        json!({"action": "startjail", "jail": "a".repeat(LIMIT)}),
    );
    cases.push(case(
        "over 1 MiB text message (WS)",
        Via::Ws(Message::text(over_ws.to_string())),
        error(413, &["over the limit of 1048576 bytes"]),
    ));
    cases.push(case(
        "over 1 MiB binary message (WS)",
        Via::Ws(Message::binary(over_ws.to_string().into_bytes())),
        error(413, &["over the limit of 1048576 bytes"]),
    ));
    // Methods and classes.
    for method in ["DELETE", "PATCH", "BREW"] {
        cases.push(case(
            format!("method {method}"),
            Via::Rest {
                method,
                path: "/sysadm/iocage".into(),
                auth: Auth::Admin,
                body: Body::Sized(b"{\"action\": \"listjails\"}".to_vec()),
            },
            error(405, &[&format!("method {method} is not allowed")]),
        ));
    }
    for path in [
        "/nosuch/iocage",
        "/sysadm/nosuch",
        "/rpc/nosuch",
        "/events/nosuch",
    ] {
        let (namespace, name) = path[1..].split_once('/').unwrap();
        cases.push(case(
            format!("unknown class {path} (REST)"),
            Via::Rest {
                method: "PUT",
                path: path.into(),
                auth: Auth::Admin,
                body: Body::Sized(b"{\"action\": \"listjails\"}".to_vec()),
            },
            error(404, &[&format!("unknown class '{namespace}/{name}'")]),
        ));
        cases.push(case(
            format!("unknown class {path} (WS)"),
            Via::Ws(Message::text(
                json!({"namespace": namespace, "name": name, "id": "c", "args": {"action": "listjails"}})
                    .to_string(),
            )),
            error(404, &[&format!("unknown class '{namespace}/{name}'")]),
        ));
    }
    for path in ["/", "/sysadm", "/a/b/c", "/sysadm/iocage/../../etc"] {
        cases.push(case(
            format!("no class at {path}"),
            Via::Rest {
                method: "PUT",
                path: path.into(),
                auth: Auth::Admin,
                body: Body::Sized(b"{\"action\": \"listjails\"}".to_vec()),
            },
            error(404, &["REST paths are /<namespace>/<name>"]),
        ));
    }
    // Credentials.
    let listjails = b"{\"action\": \"listjails\"}".to_vec();
    for (label, auth, needle) in [
        ("no credentials", Auth::None, "authentication required"),
        (
            "wrong password",
            Auth::Header(basic("admin", "wrong")),
            "invalid user name or password",
        ),
        (
            "unknown user",
            Auth::Header(basic("$(id)", ADMIN_PASSWORD)),
            "invalid user name or password",
        ),
        (
            "Basic without base64",
            Auth::Header("Basic !!!".into()),
            "malformed Basic credentials",
        ),
        (
            "unknown scheme",
            Auth::Header("Digest x".into()),
            "unsupported authorization scheme",
        ),
        (
            "bad token",
            Auth::Header("Bearer abc".into()),
            "invalid or expired token",
        ),
        (
            "empty token",
            Auth::Header("Bearer ".into()),
            "invalid or expired token",
        ),
    ] {
        cases.push(case(
            format!("{label} (REST)"),
            Via::Rest {
                method: "PUT",
                path: "/sysadm/iocage".into(),
                auth,
                body: Body::Sized(listjails.clone()),
            },
            error(401, &[needle]),
        ));
    }
    for (label, args) in [
        ("listjails", json!({"action": "listjails"})),
        (
            "createjail",
            json!({"action": "createjail", "props": "tag=x"}),
        ),
        ("bad jail", json!({"action": "startjail", "jail": "$(id)"})),
    ] {
        cases.push(case(
            format!("not logged in: {label} (WS)"),
            Via::WsAnonymous(Message::text(iocage("anon", args).to_string())),
            error(401, &["not authenticated"]),
        ));
    }
    cases.push(case(
        "not logged in: bad token (WS)",
        Via::WsAnonymous(Message::text(
            json!({"namespace": "rpc", "name": "auth_token", "id": "t", "args": {"token": ""}})
                .to_string(),
        )),
        error(401, &["invalid or expired token"]),
    ));
    cases
}

const SMUGGLED: &str = "PUT /sysadm/iocage HTTP/1.1\r\nHost: x\r\nContent-Length: 23\r\n";

/// A complete authenticated listjails request, the payload a smuggler hides.
fn smuggled() -> String {
    format!(
        "{SMUGGLED}Authorization: {}\r\n\r\n{{\"action\": \"listjails\"}}",
        basic("admin", ADMIN_PASSWORD)
    )
}

fn tcp_cases() -> Vec<Case> {
    let hidden = smuggled();
    let body = "{\"action\": \"listjails\"}";
    let chunked = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
    let head = "PUT /sysadm/iocage HTTP/1.1\r\nHost: x\r\n";
    let mut cases = Vec::new();
    let mut add = |name: &str, bytes: String| {
        cases.push(case(
            format!("smuggling: {name}"),
            Via::Tcp(bytes.into_bytes()),
            Expect::Refused,
        ));
    };
    add(
        "Content-Length and Transfer-Encoding",
        format!("{head}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}{hidden}"),
    );
    add(
        "Transfer-Encoding then Content-Length",
        format!(
            "{head}Transfer-Encoding: chunked\r\nContent-Length: {}\r\n\r\n{chunked}{hidden}",
            chunked.len() + hidden.len()
        ),
    );
    add(
        "two different Content-Lengths",
        format!(
            "{head}Content-Length: 23\r\nContent-Length: {}\r\n\r\n{body}{hidden}",
            23 + hidden.len()
        ),
    );
    add(
        "comma-separated Content-Lengths",
        format!("{head}Content-Length: 23, 0\r\n\r\n{body}{hidden}"),
    );
    add(
        "negative Content-Length",
        format!("{head}Content-Length: -1\r\n\r\n{body}{hidden}"),
    );
    add(
        "Content-Length with a plus sign",
        format!("{head}Content-Length: +23\r\n\r\n{body}{hidden}"),
    );
    add(
        "Transfer-Encoding not ending in chunked",
        format!("{head}Transfer-Encoding: chunked, identity\r\n\r\n{chunked}{hidden}"),
    );
    add(
        "obfuscated Transfer-Encoding",
        format!("{head}Transfer-Encoding: xchunked\r\n\r\n{chunked}{hidden}"),
    );
    add(
        "Transfer-Encoding on HTTP/1.0",
        format!(
            "PUT /sysadm/iocage HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}{hidden}"
        ),
    );
    add(
        "chunk size not hex",
        format!("{head}Transfer-Encoding: chunked\r\n\r\nzz\r\n{body}\r\n0\r\n\r\n{hidden}"),
    );
    add(
        "chunk size overflowing 64 bits",
        format!(
            "{head}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{body}\r\n0\r\n\r\n{hidden}"
        ),
    );
    add(
        "negative chunk size",
        format!("{head}Transfer-Encoding: chunked\r\n\r\n-17\r\n{body}\r\n0\r\n\r\n{hidden}"),
    );
    add(
        "chunk longer than its size",
        format!("{head}Transfer-Encoding: chunked\r\n\r\n2\r\n{body}\r\n0\r\n\r\n{hidden}"),
    );
    add(
        "space before the header colon",
        format!("{head}Content-Length : 23\r\n\r\n{body}{hidden}"),
    );
    add(
        "bare LF line ends with obs-fold",
        format!("{head}Transfer-Encoding:\r\n chunked\r\n\r\n{chunked}{hidden}"),
    );
    add(
        "garbage request line",
        format!("\x16\x03\x01\x02\x00\x01\x00\x01\x7f\x03\x03\r\n\r\n{hidden}"),
    );
    add(
        "NUL in a header",
        format!("{head}X-Test: a\0b\r\nContent-Length: 23\r\n\r\n{body}{hidden}"),
    );
    cases
}

/// One client WebSocket frame: `first` is the FIN/RSV/opcode byte; the
/// payload is masked unless `mask` is `None`; `declared` overrides the length.
fn frame(first: u8, payload: &[u8], mask: Option<[u8; 4]>, declared: Option<u64>) -> Vec<u8> {
    let length = declared.unwrap_or(payload.len() as u64);
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let mut out = vec![first];
    if length < 126 {
        out.push(mask_bit | length as u8);
    } else if length <= u64::from(u16::MAX) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(length as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&length.to_be_bytes());
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(
                payload
                    .iter()
                    .enumerate()
                    .map(|(index, byte)| byte ^ key[index % 4]),
            );
        }
        None => out.extend_from_slice(payload),
    }
    out
}

const KEY: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

fn ws_frame_cases() -> Vec<Case> {
    // Each garbage frame carries a valid listjails request: if the server
    // took the frame, the backend would see a call.
    let request = iocage("hidden", json!({"action": "listjails"})).to_string();
    let payload = request.as_bytes();
    let mut cases = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>, half_close: bool| {
        cases.push(case(
            format!("WebSocket frame: {name}"),
            Via::WsFrames { bytes, half_close },
            Expect::Refused,
        ));
    };
    add("unmasked", frame(0x81, payload, None, None), false);
    add("RSV1 set", frame(0xC1, payload, Some(KEY), None), false);
    add(
        "reserved opcode 3",
        frame(0x83, payload, Some(KEY), None),
        false,
    );
    add(
        "reserved control opcode 11",
        frame(0x8B, payload, Some(KEY), None),
        false,
    );
    add(
        "continuation without a start",
        frame(0x80, payload, Some(KEY), None),
        false,
    );
    let mut interleaved = frame(0x01, payload, Some(KEY), None);
    interleaved.extend(frame(0x81, payload, Some(KEY), None));
    add("new message inside a fragmented one", interleaved, false);
    add(
        "ping over 125 bytes",
        frame(0x89, &[b'p'; 126], Some(KEY), None),
        false,
    );
    add(
        "fragmented ping",
        frame(0x09, b"ping", Some(KEY), None),
        false,
    );
    let mut not_utf8 = payload.to_vec();
    not_utf8[20] = 0xff;
    add(
        "text frame with invalid UTF-8",
        frame(0x81, &not_utf8, Some(KEY), None),
        false,
    );
    add(
        "length of 2^62 bytes",
        frame(0x81, payload, Some(KEY), Some(1 << 62)),
        false,
    );
    add(
        "close with a one-byte payload",
        frame(0x88, b"x", Some(KEY), None),
        false,
    );
    add("garbage bytes", vec![0xff; 64], false);
    add(
        "an HTTP request after the upgrade",
        smuggled().into_bytes(),
        false,
    );
    let mut truncated = frame(0x81, payload, Some(KEY), Some(payload.len() as u64 + 100));
    truncated.truncate(truncated.len() - 10);
    add("payload cut short, then EOF", truncated, true);
    add("header cut short, then EOF", vec![0x81], true);
    add(
        "extended length cut short, then EOF",
        vec![0x81, 0xFE, 0x01],
        true,
    );
    cases
}

/// Reads until the peer closes (EOF or reset) or `limit` passes.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return (received, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (received, true),
            Ok(Ok(count)) => received.extend_from_slice(&buffer[..count]),
        }
    }
}

/// The HTTP responses in `bytes`: status and body of each.
fn http_responses(mut bytes: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, String> {
    let mut responses = Vec::new();
    while !bytes.is_empty() {
        let end = bytes
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .ok_or_else(|| format!("unfinished head: {}", String::from_utf8_lossy(bytes)))?;
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let status = head
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| format!("not a status line: {head}"))?;
        let length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let rest = &bytes[end + 4..];
        let length = length.min(rest.len());
        responses.push((status, rest[..length].to_vec()));
        bytes = &rest[length..];
    }
    Ok(responses)
}

/// The frames a server sent: text payloads and whether a close frame came.
fn server_frames(mut bytes: &[u8]) -> (Vec<String>, Option<u16>) {
    let mut texts = Vec::new();
    let mut close = None;
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 0x0f;
        let (length, header) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 if bytes.len() >= 10 => (
                usize::try_from(u64::from_be_bytes(bytes[2..10].try_into().unwrap()))
                    .unwrap_or(usize::MAX),
                10,
            ),
            126 | 127 => break,
            short => (usize::from(short), 2),
        };
        if bytes.len() < header + length {
            break;
        }
        let payload = &bytes[header..header + length];
        match opcode {
            1 => texts.push(String::from_utf8_lossy(payload).into_owned()),
            8 if payload.len() >= 2 => close = Some(u16::from_be_bytes([payload[0], payload[1]])),
            8 => close = Some(1005),
            _ => {}
        }
        bytes = &bytes[header + length..];
    }
    (texts, close)
}

/// Reads one server frame's text (the reply to the login).
async fn read_text_frame(stream: &mut TcpStream) -> String {
    let mut head = [0; 2];
    stream.read_exact(&mut head).await.expect("frame head");
    let length = match head[1] & 0x7f {
        126 => {
            let mut extended = [0; 2];
            stream.read_exact(&mut extended).await.unwrap();
            usize::from(u16::from_be_bytes(extended))
        }
        127 => panic!("login reply is small"),
        short => usize::from(short),
    };
    let mut payload = vec![0; length];
    stream.read_exact(&mut payload).await.unwrap();
    String::from_utf8(payload).expect("text frame")
}

/// A hand-made WebSocket connection, logged in with `token`.
async fn raw_websocket(addr: SocketAddr, token: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0; 1];
        stream.read_exact(&mut byte).await.expect("upgrade reply");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let login =
        json!({"namespace": "rpc", "name": "auth_token", "id": "t", "args": {"token": token}});
    stream
        .write_all(&frame(0x81, login.to_string().as_bytes(), Some(KEY), None))
        .await
        .unwrap();
    let reply: Value = serde_json::from_str(&read_text_frame(&mut stream).await).unwrap();
    assert_eq!(reply["name"], "response", "token login: {reply}");
    stream
}

/// A REST request with any body, method and credentials.
async fn send_rest(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: &Auth,
    body: &Body,
) -> Outcome {
    let mut outcome = Outcome::default();
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let body: BoxBody<Bytes, Infallible> = match body {
        Body::Sized(bytes) => Full::new(Bytes::from(bytes.clone())).boxed(),
        Body::Chunked(bytes) => {
            let chunks: Vec<Result<Frame<Bytes>, Infallible>> = bytes
                .chunks(64 * 1024)
                .map(|chunk| Ok(Frame::data(Bytes::copy_from_slice(chunk))))
                .collect();
            StreamBody::new(futures_util::stream::iter(chunks)).boxed()
        }
    };
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/json");
    let header = match auth {
        Auth::Admin => Some(basic("admin", ADMIN_PASSWORD)),
        Auth::None => None,
        Auth::Header(header) => Some(header.clone()),
    };
    if let Some(header) = header {
        request = request.header("authorization", header);
    }
    let request = request.body(body).expect("request");
    let response = match sender.send_request(request).await {
        Ok(response) => response,
        Err(error) => {
            outcome.closed = true;
            outcome.shown = format!("connection failed: {error}");
            return outcome;
        }
    };
    let status = response.status().as_u16();
    let bytes = match response.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => {
            outcome.codes.push(status);
            outcome.closed = true;
            outcome.shown = format!("{status}, body cut: {error}");
            return outcome;
        }
    };
    record_json(&mut outcome, status, &bytes);
    outcome
}

/// Records a REST reply: its status, and its body's code when that differs.
fn record_json(outcome: &mut Outcome, status: u16, bytes: &[u8]) {
    outcome.codes.push(status);
    outcome.shown = format!("{status} {}", shorten(&String::from_utf8_lossy(bytes)));
    match serde_json::from_slice::<Value>(bytes) {
        Ok(body) => {
            if status >= 300 {
                let code = body["args"]["code"].as_u64().unwrap_or(0) as u16;
                if code != status {
                    outcome
                        .problems
                        .push(format!("body code {code} differs from status {status}"));
                }
                outcome
                    .details
                    .push(body["args"]["details"].as_str().unwrap_or("").to_owned());
            }
        }
        Err(_) => outcome.problems.push("reply body is not JSON".into()),
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 300 {
        format!("{}...", text.chars().take(300).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// Records one WebSocket reply (or the close) to `sent`.
fn record_ws(outcome: &mut Outcome, sent: &Message, reply: Option<Value>) {
    let Some(reply) = reply else {
        outcome.closed = true;
        outcome.shown = "closed without a reply".into();
        return;
    };
    outcome.shown = shorten(&reply.to_string());
    let code = if reply["name"] == "response" {
        200
    } else if reply["name"] == "error" {
        reply["args"]["code"].as_u64().unwrap_or(0) as u16
    } else {
        outcome.problems.push("neither response nor error".into());
        0
    };
    outcome.codes.push(code);
    outcome
        .details
        .push(reply["args"]["details"].as_str().unwrap_or("").to_owned());
    // The id is echoed whenever the server could read it.
    let payload: &[u8] = match sent {
        Message::Text(text) => text.as_bytes(),
        Message::Binary(bytes) => bytes,
        _ => &[],
    };
    let id = serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|value| value.get("id").cloned())
        .filter(|id| id.is_string() || id.is_number())
        .unwrap_or(json!(""));
    if code != 413 && reply["id"] != id {
        outcome.problems.push(format!(
            "reply id {} is not the request's {id}",
            reply["id"]
        ));
    }
}

/// The suite's connections: a logged-in WebSocket (re-opened after a
/// close) and the token to open more.
struct Clients {
    addr: SocketAddr,
    token: String,
    ws: Option<WsClient>,
}

impl Clients {
    async fn token_ws(&self) -> WsClient {
        let mut client = WsClient::connect(self.addr).await;
        let reply = client
            .call(json!({"namespace": "rpc", "name": "auth_token", "id": "t",
                         "args": {"token": self.token}}))
            .await;
        assert_eq!(reply["name"], "response", "token login: {reply}");
        client
    }

    async fn run(&mut self, via: &Via) -> Outcome {
        match via {
            Via::Rest {
                method,
                path,
                auth,
                body,
            } => send_rest(self.addr, method, path, auth, body).await,
            Via::Ws(message) => {
                let mut client = match self.ws.take() {
                    Some(client) => client,
                    None => self.token_ws().await,
                };
                let mut outcome = Outcome::default();
                client.send_raw(message.clone()).await;
                let reply = client.recv().await;
                record_ws(&mut outcome, message, reply);
                // A connection the server closes (413) is not reused.
                if !outcome.closed && !outcome.codes.contains(&413) {
                    self.ws = Some(client);
                }
                outcome
            }
            Via::WsAnonymous(message) => {
                let mut client = WsClient::connect(self.addr).await;
                let mut outcome = Outcome::default();
                client.send_raw(message.clone()).await;
                let reply = client.recv().await;
                record_ws(&mut outcome, message, reply);
                outcome
            }
            Via::Tcp(bytes) => {
                let mut stream = TcpStream::connect(self.addr).await.expect("connect");
                let mut outcome = Outcome::default();
                if stream.write_all(bytes).await.is_err() {
                    outcome.closed = true;
                }
                let (received, closed) =
                    read_until_closed(&mut stream, Duration::from_secs(10)).await;
                outcome.closed |= closed;
                if !closed {
                    outcome
                        .problems
                        .push("the connection stayed open for 10 s".into());
                }
                outcome.shown = shorten(&String::from_utf8_lossy(&received));
                match http_responses(&received) {
                    Ok(responses) => {
                        for (status, body) in responses {
                            outcome.codes.push(status);
                            if let Ok(body) = serde_json::from_slice::<Value>(&body) {
                                outcome.details.push(
                                    body["args"]["details"].as_str().unwrap_or("").to_owned(),
                                );
                            }
                        }
                    }
                    Err(problem) => outcome.problems.push(problem),
                }
                outcome
            }
            Via::WsFrames { bytes, half_close } => {
                let mut stream = raw_websocket(self.addr, &self.token).await;
                let mut outcome = Outcome::default();
                let _ = stream.write_all(bytes).await;
                if *half_close {
                    let _ = stream.shutdown().await;
                }
                let (received, closed) =
                    read_until_closed(&mut stream, Duration::from_secs(10)).await;
                outcome.closed = closed;
                if !closed {
                    outcome
                        .problems
                        .push("the connection stayed open for 10 s".into());
                }
                let (texts, close) = server_frames(&received);
                outcome.shown = format!("close {close:?}, messages {texts:?}");
                for text in texts {
                    match serde_json::from_str::<Value>(&text) {
                        Ok(reply) if reply["name"] == "error" => outcome
                            .codes
                            .push(reply["args"]["code"].as_u64().unwrap_or(0) as u16),
                        _ => outcome.codes.push(200),
                    }
                }
                outcome
            }
        }
    }
}

/// What is wrong with `outcome` for a case expecting `expect`.
fn check(
    expect: &Expect,
    outcome: &Outcome,
    calls_before: usize,
    calls_after: usize,
) -> Vec<String> {
    let mut problems = outcome.problems.clone();
    match expect {
        Expect::Error { code, details } => {
            if outcome.codes != [*code] {
                problems.push(format!("expected code {code}, got {:?}", outcome.codes));
            }
            let given = outcome.details.first().map_or("", String::as_str);
            for needle in details {
                if !given.contains(needle.as_str()) {
                    problems.push(format!("details do not mention {needle:?}"));
                }
            }
        }
        Expect::Refused => {
            if outcome.codes.is_empty() && !outcome.closed {
                problems.push("neither a reply nor a close".into());
            }
            if let Some(code) = outcome
                .codes
                .iter()
                .find(|code| !(400..500).contains(*code))
            {
                problems.push(format!("code {code} is not a 4xx"));
            }
        }
        Expect::Accepted { code } => {
            if outcome.codes != [*code] {
                problems.push(format!("expected code {code}, got {:?}", outcome.codes));
            }
            if calls_after == calls_before {
                problems.push("valid input did not reach the backend".into());
            }
        }
    }
    if !matches!(expect, Expect::Accepted { .. }) && calls_after != calls_before {
        problems.push(format!(
            "the backend saw {} call(s)",
            calls_after - calls_before
        ));
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_the_right_error_and_never_reach_the_backend() {
    let backend = Arc::new(Recording {
        inner: SimBackend::in_memory(),
        calls: AtomicUsize::new(0),
    });
    let server = TestServer::start_with(
        // Bad credentials are among the cases: they must not lock the suite out.
        |config| config.auth.max_failures = u32::MAX,
        Some(backend.clone()),
    )
    .await;
    let mut first = server.ws().await;
    let login = first
        .call(json!({"namespace": "rpc", "name": "auth", "id": "token",
                     "args": {"username": "admin", "password": ADMIN_PASSWORD}}))
        .await;
    let token = login["args"][0].as_str().expect("a token").to_owned();
    assert_eq!(backend.calls(), 0, "logging in calls no backend");
    let mut clients = Clients {
        addr: server.addr,
        token,
        ws: Some(first),
    };

    let groups = [
        ("injection", injection_cases()),
        ("wrong type", wrong_type_cases()),
        ("shape", shape_cases()),
        ("smuggling", tcp_cases()),
        ("WebSocket frame", ws_frame_cases()),
    ];
    let total: usize = groups.iter().map(|(_, cases)| cases.len()).sum();
    assert!(total >= 100, "only {total} cases");

    let mut failures = Vec::new();
    for (group, cases) in groups {
        for case in cases {
            let before = backend.calls();
            let outcome = clients.run(&case.via).await;
            // Work a request started may still be on its way to the backend.
            tokio::task::yield_now().await;
            let after = backend.calls();
            let problems = check(&case.expect, &outcome, before, after);
            // The server still answers a well-formed request.
            let (status, reply) = server
                .rest("PUT", "/sysadm/iocage", r#"{"action": "listjails"}"#)
                .await;
            let mut problems = problems;
            if status != 200 || !reply["args"]["listjails"].is_object() {
                problems.push(format!("a good request afterwards got {status}: {reply}"));
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "[{group}] {}: {}\n    reply: {}",
                    case.name,
                    problems.join("; "),
                    outcome.shown
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    server.stop().await;
}
