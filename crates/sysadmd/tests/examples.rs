//! Every request example of the two API documents, sent as documented over
//! REST and over WebSocket to a server on the simulated host, in an order
//! that gives each one the state it needs; each reply is compared with the
//! documented response (see `compare` for what "the same" means).

mod support;

use std::path::PathBuf;

use serde_json::{Map, Value};
use support::{TestServer, WsClient};

/// The documented sections in an order where each finds what it needs.
/// `test` is created, used, destroyed, and created again for the clones.
/// `true` marks a section whose documented reply may be the "already up" /
/// "already down" one: when it is, the request is sent once before (its
/// reply not compared) so that the host is in that state.
const ORDER: &[(&str, bool)] = &[
    ("activate-a-pool-1", false),
    ("activate-a-pool-2", false),
    ("default-settings", false),
    ("create-a-jail-1", false),
    ("list-jails", false),
    ("jail-settings-1", false),
    ("jail-settings-2", false),
    ("jail-settings-3", false),
    ("list-resource-usage", false),
    ("start-a-jail", true),
    ("run-command", false),
    ("cap-a-jail", false),
    ("stop-a-jail", true),
    ("destroy-a-jail", false),
    ("create-a-jail-1", false),
    ("clone-a-jail-1", false),
    ("clone-a-jail-2", false),
    ("create-a-jail-2", false),
    ("list-releases", false),
    ("list-plugins", false),
    ("clean-jails", false),
    ("clean-templates", false),
    ("clean-releases", false),
    ("clean-all", false),
    ("deactivate-a-pool", false),
];

/// Documented values that describe the document author's host, not the API:
/// under these paths a reply must have the documented structure and types,
/// with any text. Every entry says why.
const HOST_VALUES: &[(&str, &str, &str)] = &[
    (
        "list-jails",
        ".args.listjails.<uuid>.tag",
        "the documents list a jail tagged `testjail` although every other example uses `test`",
    ),
    (
        "jail-settings-3",
        ".args.getjailsettings.test.ftpfiles",
        "the documented host had cleared it",
    ),
    (
        "jail-settings-3",
        ".args.getjailsettings.test.ftphost",
        "the documented host had cleared it",
    ),
    (
        "jail-settings-3",
        ".args.getjailsettings.test.last_started",
        "the documented jail had been started before",
    ),
    (
        "activate-a-pool-2",
        ".args.activatepool.currently active.pool",
        "the 2017 document activates `tank1`, then shows `tank` active",
    ),
    (
        "list-releases",
        ".args.listreleases.local",
        "the releases a host has fetched",
    ),
    (
        "list-releases",
        ".args.listreleases.remote",
        "the releases the FreeBSD mirror offers",
    ),
];

fn document_dir(document: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/api")
        .join(document)
}

fn load(document: &str, file: &str) -> Option<Value> {
    let path = document_dir(document).join(file);
    let text = std::fs::read_to_string(&path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display())))
}

/// One documented example: the request as sent and the reply as documented.
struct Example {
    section: &'static str,
    name: String,
    /// Send the request once before the compared one.
    repeat: bool,
    request: Value,
    response: Value,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transport {
    Rest,
    WebSocket,
}

/// The examples of one document for one transport, in [`ORDER`]. A section
/// documented with one response for both transports (`<section>.response.json`)
/// gives REST its `args` in a REST body.
fn examples(document: &str, transport: Transport) -> Vec<Example> {
    let files: Vec<String> = std::fs::read_dir(document_dir(document))
        .expect("fixtures/api exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let present = |section: &str| {
        files
            .iter()
            .any(|file| file.starts_with(&format!("{section}.")))
    };
    // Every documented section is in ORDER: none is silently skipped.
    for file in &files {
        let section = file.split('.').next().unwrap();
        assert!(
            ORDER.iter().any(|(known, _)| *known == section),
            "{document}/{file} is not in ORDER"
        );
    }
    ORDER
        .iter()
        .filter(|(section, _)| present(section))
        .map(|&(section, may_repeat)| {
            let (request, response) = match transport {
                Transport::Rest => (
                    load(document, &format!("{section}.rest-request.json")),
                    load(document, &format!("{section}.rest-response.json")).or_else(|| {
                        load(document, &format!("{section}.response.json"))
                            .map(|shared| serde_json::json!({"args": shared["args"].clone()}))
                    }),
                ),
                Transport::WebSocket => (
                    load(document, &format!("{section}.websocket-request.json")),
                    load(document, &format!("{section}.websocket-response.json"))
                        .or_else(|| load(document, &format!("{section}.response.json"))),
                ),
            };
            let response = response
                .unwrap_or_else(|| panic!("{document}/{section}: no {transport:?} response"));
            let reports_same_state = may_repeat && response.to_string().contains("\"INFO\"");
            Example {
                section,
                name: format!("{document}/{section} over {transport:?}"),
                repeat: reports_same_state,
                request: request
                    .unwrap_or_else(|| panic!("{document}/{section}: no {transport:?} request")),
                response,
            }
        })
        .collect()
}

/// Replaces what the host chooses (UUIDs, date tags, sizes) by placeholders.
fn normalize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < text.len() {
        if let Some(len) = placeholder_at(&bytes[index..]) {
            out.push_str(len.1);
            index += len.0;
        } else {
            let ch = text[index..].chars().next().unwrap();
            out.push(ch);
            index += ch.len_utf8();
        }
    }
    out
}

/// A UUID (`8-4-4-4-12` hex) or a date tag (`YYYY-MM-DD@HH:MM:SS`, or its
/// part before the first colon) at the start of `bytes`.
fn placeholder_at(bytes: &[u8]) -> Option<(usize, &'static str)> {
    let fits = |pattern: &str| {
        bytes.len() >= pattern.len()
            && pattern.bytes().zip(bytes).all(|(p, b)| match p {
                b'x' => b.is_ascii_hexdigit(),
                b'9' => b.is_ascii_digit(),
                other => other == *b,
            })
    };
    if fits("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx") {
        Some((36, "<uuid>"))
    } else if fits("9999-99-99@99:99:99") {
        Some((19, "<date>"))
    } else if fits("9999-99-99@99") {
        // A date tag the reference server cut at its first colon.
        Some((13, "<date>"))
    } else {
        None
    }
}

/// Compares a reply with the documented one and lists every difference.
///
/// - UUIDs and date tags are the host's choice: compared as placeholders, in
///   keys and in values.
/// - An object keyed by jails (every documented key a UUID) may list other
///   jails than the document's host had: each entry must have the shape of
///   the documented entries.
/// - Any other object must have exactly the documented keys, and strings the
///   documented text, except under `host_paths` (strings of any text).
/// - The reference server cut values at their first colon (see
///   `reference/iocage-output.md`, "The `:` split truncates values"); sysadmd
///   does not, so a documented value equal to the reply's text up to its
///   first colon is the same value.
struct Comparison<'a> {
    host_paths: Vec<&'a str>,
    differences: Vec<String>,
}

impl Comparison<'_> {
    fn compare(&mut self, path: &str, documented: &Value, actual: &Value) {
        match (documented, actual) {
            (Value::Object(documented), Value::Object(actual)) => {
                self.compare_objects(path, documented, actual)
            }
            (Value::Array(documented), Value::Array(actual)) => {
                if documented.is_empty() != actual.is_empty() {
                    self.differ(path, documented, actual);
                }
                if let Some(first) = documented.first() {
                    for (index, item) in actual.iter().enumerate() {
                        let item_path = format!("{path}[{index}]");
                        match documented.get(index) {
                            Some(same) if !self.is_host_value(path) => {
                                self.compare(&item_path, same, item)
                            }
                            _ => self.compare(&format!("{path}[]"), first, item),
                        }
                    }
                }
            }
            (Value::String(documented), Value::String(actual)) => {
                let cut_at_colon = actual
                    .split_once(':')
                    .is_some_and(|(head, _)| normalize_text(head) == normalize_text(documented));
                let (documented, actual) = (normalize_text(documented), normalize_text(actual));
                if !(documented == actual || cut_at_colon || self.is_host_value(path)) {
                    self.differ(path, &documented, &actual);
                }
            }
            (documented, actual) if documented == actual => {}
            (documented, actual) => self.differ(path, documented, actual),
        }
    }

    fn is_host_value(&self, path: &str) -> bool {
        self.host_paths.iter().any(|host| path.starts_with(host))
    }

    fn differ(
        &mut self,
        path: &str,
        documented: &dyn std::fmt::Debug,
        actual: &dyn std::fmt::Debug,
    ) {
        self.differences
            .push(format!("{path}: documented {documented:?}, got {actual:?}"));
    }

    fn compare_objects(
        &mut self,
        path: &str,
        documented: &Map<String, Value>,
        actual: &Map<String, Value>,
    ) {
        let keyed_by_jail =
            !documented.is_empty() && documented.keys().all(|key| normalize_text(key) == "<uuid>");
        if keyed_by_jail {
            let shape = documented.values().next().unwrap();
            if actual.is_empty() {
                self.differences
                    .push(format!("{path}: documented jails, got none"));
            }
            for (key, value) in actual {
                if normalize_text(key) != "<uuid>" {
                    self.differences
                        .push(format!("{path}: {key:?} is not a UUID"));
                }
                self.compare(&format!("{path}.<uuid>"), shape, value);
            }
            return;
        }
        let normalized = |map: &Map<String, Value>| -> Map<String, Value> {
            map.iter()
                .map(|(key, value)| (normalize_text(key), value.clone()))
                .collect()
        };
        let (documented, actual) = (normalized(documented), normalized(actual));
        for key in documented.keys().filter(|key| !actual.contains_key(*key)) {
            self.differences
                .push(format!("{path}: documented key {key:?} is missing"));
        }
        for key in actual.keys().filter(|key| !documented.contains_key(*key)) {
            self.differences
                .push(format!("{path}: key {key:?} is not documented"));
        }
        for (key, value) in &documented {
            if let Some(other) = actual.get(key) {
                self.compare(&format!("{path}.{key}"), value, other);
            }
        }
    }
}

/// The differences between a documented reply and an actual one.
fn differences(section: &str, documented: &Value, actual: &Value) -> Vec<String> {
    let host_paths = HOST_VALUES
        .iter()
        .filter(|(known, _, _)| *known == section)
        .map(|(_, path, _)| *path)
        .collect();
    let mut comparison = Comparison {
        host_paths,
        differences: Vec::new(),
    };
    comparison.compare("", documented, actual);
    comparison.differences
}

async fn run_document(document: &str, transport: Transport) {
    let server = TestServer::start().await;
    let mut ws: Option<WsClient> = None;
    if transport == Transport::WebSocket {
        ws = Some(server.ws().await);
    }
    let mut failures = Vec::new();
    for example in examples(document, transport) {
        if example.repeat {
            send(&server, &mut ws, &example.request).await;
        }
        let (status, reply) = send(&server, &mut ws, &example.request).await;
        if status != 200 {
            failures.push(format!("{}: HTTP {status}: {reply}", example.name));
            continue;
        }
        let differences = differences(example.section, &example.response, &reply);
        if !differences.is_empty() {
            failures.push(format!(
                "{}:\n    {}",
                example.name,
                differences.join("\n    ")
            ));
        }
    }
    server.stop().await;
    assert!(
        failures.is_empty(),
        "{} example(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Sends a request over REST (`ws` is `None`) or WebSocket; the HTTP status
/// (200 over WebSocket) and the reply.
async fn send(server: &TestServer, ws: &mut Option<WsClient>, request: &Value) -> (u16, Value) {
    match ws {
        None => {
            let (status, reply) = server
                .rest("PUT", "/sysadm/iocage", &request.to_string())
                .await;
            (status.as_u16(), reply)
        }
        Some(ws) => (200, ws.call(request.clone()).await),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_2016_example_over_rest() {
    run_document("2016-08", Transport::Rest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_2016_example_over_websocket() {
    run_document("2016-08", Transport::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_2017_example_over_rest() {
    run_document("2017-05", Transport::Rest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_2017_example_over_websocket() {
    run_document("2017-05", Transport::WebSocket).await;
}

#[test]
fn the_comparison_catches_differences() {
    let documented = serde_json::json!({"args": {"df": {"9b8e1033-d065-11e5-8209-d05099728dbf": {"tag": "x", "ava": "1G:log"}}}});
    let same = serde_json::json!({"args": {"df": {"611c89ae-c43c-11e5-9602-54ee75595566": {"tag": "x", "ava": "1G:log"}}}});
    assert_eq!(differences("any", &documented, &same), Vec::<String>::new());
    for wrong in [
        serde_json::json!({"args": {"df": {}}}),
        serde_json::json!({"args": {"df": {"test": {"tag": "x", "ava": "1G:log"}}}}),
        serde_json::json!({"args": {"df": {"611c89ae-c43c-11e5-9602-54ee75595566": {"tag": "x"}}}}),
        serde_json::json!({"args": {"df": {"611c89ae-c43c-11e5-9602-54ee75595566": {"tag": 1, "ava": "1G:log"}}}}),
        serde_json::json!({"args": {"df": {"611c89ae-c43c-11e5-9602-54ee75595566": {"tag": "y", "ava": "1G:log"}}}}),
        serde_json::json!({"args": {"df": {"611c89ae-c43c-11e5-9602-54ee75595566": {"tag": "x", "ava": "1G"}}}}),
        serde_json::json!({"args": {"listjails": {}}}),
    ] {
        assert!(
            !differences("any", &documented, &wrong).is_empty(),
            "{wrong} passed"
        );
    }
    // Only the listed sections' host values may differ, and only in text.
    let documented =
        serde_json::json!({"args": {"listreleases": {"local": ["a"], "remote": ["b"]}}});
    let host =
        serde_json::json!({"args": {"listreleases": {"local": ["c", "d"], "remote": ["e"]}}});
    assert!(differences("list-releases", &documented, &host).is_empty());
    assert!(!differences("list-plugins", &documented, &host).is_empty());
    let typed = serde_json::json!({"args": {"listreleases": {"local": [1], "remote": ["e"]}}});
    assert!(!differences("list-releases", &documented, &typed).is_empty());
    // A value the reference cut at a colon is the same value, not the reverse.
    let cut = serde_json::json!({"memoryuse": "8G"});
    let whole = serde_json::json!({"memoryuse": "8G:log"});
    assert!(differences("any", &cut, &whole).is_empty());
    assert!(!differences("any", &whole, &cut).is_empty());
    assert_eq!(
        differences(
            "any",
            &serde_json::json!({"success": "pool tank activated."}),
            &serde_json::json!({"success": "pool tank1 activated."}),
        )
        .len(),
        1,
        "messages are compared word for word"
    );
}
