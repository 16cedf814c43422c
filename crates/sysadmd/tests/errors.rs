//! The error table of the protocol document, over REST and over WebSocket:
//! each malformed request gets the right code and a useful message.

mod support;

use hyper::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, WsClient, iocage, raw_rest_call, rest_call};
use tokio_tungstenite::tungstenite::Message;

/// A malformed request in both transports' forms, and what must come back.
struct Case {
    what: &'static str,
    rest: Option<(&'static str, &'static str, String)>,
    ws: Option<String>,
    code: u16,
    details: &'static str,
}

fn cases() -> Vec<Case> {
    let envelope = |args: Value| iocage("e1", args).to_string();
    vec![
        Case {
            what: "invalid JSON",
            rest: Some(("PUT", "/sysadm/iocage", "{\"action\": ".into())),
            ws: Some("{\"namespace\": \"sysadm\", ".into()),
            code: 400,
            details: "invalid JSON",
        },
        Case {
            what: "args not an object",
            rest: Some(("PUT", "/sysadm/iocage", "[\"listjails\"]".into())),
            ws: Some(json!({"namespace": "sysadm", "name": "iocage", "id": "e1", "args": ["listjails"]}).to_string()),
            code: 400,
            details: "args must be a JSON object",
        },
        Case {
            what: "unknown namespace",
            rest: Some(("PUT", "/nosuch/iocage", "{\"action\": \"listjails\"}".into())),
            ws: Some(json!({"namespace": "nosuch", "name": "iocage", "id": "e1", "args": {"action": "listjails"}}).to_string()),
            code: 404,
            details: "unknown class 'nosuch/iocage'",
        },
        Case {
            what: "unknown action",
            rest: Some(("PUT", "/sysadm/iocage", "{\"action\": \"launchjail\"}".into())),
            ws: Some(envelope(json!({"action": "launchjail"}))),
            code: 400,
            details: "unknown action 'launchjail'; valid actions: activatepool, capjail",
        },
        Case {
            what: "missing action",
            rest: Some(("PUT", "/sysadm/iocage", "{}".into())),
            ws: Some(envelope(json!({}))),
            code: 400,
            details: "missing required argument 'action'",
        },
        Case {
            what: "missing argument",
            rest: Some(("PUT", "/sysadm/iocage", "{\"action\": \"getjailsettings\", \"prop\": \"vnet\"}".into())),
            ws: Some(envelope(json!({"action": "getjailsettings", "prop": "vnet"}))),
            code: 400,
            details: "getjailsettings: missing required argument 'jail'",
        },
        Case {
            what: "wrong argument type",
            rest: Some(("PUT", "/sysadm/iocage", "{\"action\": \"startjail\", \"jail\": 7}".into())),
            ws: Some(envelope(json!({"action": "startjail", "jail": 7}))),
            code: 400,
            details: "startjail: argument 'jail' must be a string, not a number",
        },
        Case {
            what: "switch not allowed",
            rest: Some(("PUT", "/sysadm/iocage", "{\"action\": \"createjail\", \"switches\": \"-r\"}".into())),
            ws: Some(envelope(json!({"action": "createjail", "switches": "-r"}))),
            code: 400,
            details: "the only switch createjail accepts is '-e'",
        },
        Case {
            what: "envelope without name",
            rest: None,
            ws: Some(json!({"namespace": "sysadm", "id": "e1", "args": {}}).to_string()),
            code: 400,
            details: "missing required field 'name'",
        },
        Case {
            what: "wrong method",
            rest: Some(("DELETE", "/sysadm/iocage", "{\"action\": \"listjails\"}".into())),
            ws: None,
            code: 405,
            details: "method DELETE is not allowed",
        },
        Case {
            what: "no class in the path",
            rest: Some(("PUT", "/sysadm", "{\"action\": \"listjails\"}".into())),
            ws: None,
            code: 404,
            details: "REST paths are /<namespace>/<name>",
        },
        Case {
            what: "oversize body",
            rest: Some(("PUT", "/sysadm/iocage", oversize())),
            ws: None,
            code: 413,
            details: "over the limit of 1048576 bytes",
        },
    ]
}

/// A valid JSON body just over 1 MiB.
fn oversize() -> String {
    json!({"action": "listjails", "padding": "x".repeat(1024 * 1024)}).to_string()
}

#[tokio::test]
async fn every_error_of_the_table_over_rest() {
    let server = TestServer::start().await;
    let mut checked = 0;
    for case in cases() {
        let Some((method, path, body)) = &case.rest else {
            continue;
        };
        let (status, reply) = server.rest(method, path, body).await;
        assert_eq!(status.as_u16(), case.code, "{}: {reply}", case.what);
        assert_eq!(reply["args"]["code"], case.code, "{}: {reply}", case.what);
        let details = reply["args"]["details"].as_str().unwrap_or_default();
        assert!(
            details.contains(case.details),
            "{}: details {details:?}",
            case.what
        );
        checked += 1;
    }
    assert_eq!(checked, 11);
    server.stop().await;
}

#[tokio::test]
async fn every_error_of_the_table_over_websocket() {
    let server = TestServer::start().await;
    let mut client = server.ws().await;
    let mut checked = 0;
    for case in cases() {
        let Some(text) = &case.ws else { continue };
        client.send_raw(Message::text(text.clone())).await;
        let reply = client.recv().await.expect("an error reply");
        assert_eq!(reply["name"], "error", "{}: {reply}", case.what);
        assert_eq!(reply["args"]["code"], case.code, "{}: {reply}", case.what);
        let details = reply["args"]["details"].as_str().unwrap_or_default();
        assert!(
            details.contains(case.details),
            "{}: details {details:?}",
            case.what
        );
        // The id is echoed whenever it could be read.
        let id = serde_json::from_str::<Value>(text)
            .ok()
            .map(|value| value["id"].clone());
        if let Some(Value::String(id)) = id {
            assert_eq!(reply["id"], id.as_str(), "{}", case.what);
        } else {
            assert_eq!(reply["id"], "", "{}", case.what);
        }
        checked += 1;
    }
    assert_eq!(checked, 9);
    // The connection is still usable after all of them.
    let reply = client
        .call(iocage("after", json!({"action": "listjails"})))
        .await;
    assert_eq!(reply["name"], "response", "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn oversize_websocket_message_gets_413_and_a_close() {
    let server = TestServer::start().await;
    let mut client = server.ws().await;
    client.send_raw(Message::text(oversize())).await;
    let reply = client
        .recv()
        .await
        .expect("an error reply before the close");
    assert_eq!(reply["args"]["code"], 413, "{reply}");
    let (code, _) = client.close_reason().await.expect("a close frame");
    assert_eq!(code, 1009, "close code 1009: message too big");
    server.stop().await;
}

#[tokio::test]
async fn requests_without_credentials_get_401_on_both_transports() {
    let server = TestServer::start().await;
    let (status, reply) = rest_call(
        server.addr,
        "PUT",
        "/sysadm/iocage",
        "{\"action\": \"listjails\"}",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{reply}");
    assert_eq!(reply["args"]["code"], 401);

    let mut client = WsClient::connect(server.addr).await;
    let reply = client
        .call(iocage("x", json!({"action": "listjails"})))
        .await;
    assert_eq!(reply["name"], "error");
    assert_eq!(reply["args"]["code"], 401, "{reply}");
    // identify needs no login.
    let reply = client
        .call(json!({"namespace": "rpc", "name": "identify", "id": "who", "args": {}}))
        .await;
    assert_eq!(reply["args"]["type"], "server", "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn options_lists_the_methods() {
    let server = TestServer::start().await;
    let (status, headers, body) =
        raw_rest_call(server.addr, "OPTIONS", "/sysadm/iocage", "", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["allow"], "GET, HEAD, POST, PUT, OPTIONS");
    assert!(body.is_empty());
    server.stop().await;
}
