//! Automation-grade operations (issue 20): `rpc/capabilities`, `GET
//! /healthz`, dry runs of destruction and `[safety] confirm_destroy`, on
//! both transports.

mod support;

use hyper::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, WsClient, http_call, iocage};

async fn create(server: &TestServer, tag: &str) -> String {
    let body = json!({"action": "createjail", "props": format!("tag={tag} release=10.2-RELEASE")});
    let (status, reply) = server
        .rest("PUT", "/sysadm/iocage", &body.to_string())
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let jails = server
        .rest("PUT", "/sysadm/iocage", r#"{"action": "listjails"}"#)
        .await
        .1;
    jails["args"]["listjails"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, jail)| jail["tag"] == tag)
        .map(|(uuid, _)| uuid.clone())
        .expect("the new jail is listed")
}

async fn tags(server: &TestServer) -> Vec<String> {
    let (_, reply) = server
        .rest("PUT", "/sysadm/iocage", r#"{"action": "listjails"}"#)
        .await;
    let mut tags: Vec<String> = reply["args"]["listjails"]
        .as_object()
        .unwrap()
        .values()
        .map(|jail| jail["tag"].as_str().unwrap().to_owned())
        .collect();
    tags.sort();
    tags
}

async fn ws_iocage(client: &mut WsClient, args: Value) -> Value {
    client.call(iocage("a", args)).await
}

#[tokio::test]
async fn capabilities_name_the_server_backend_actions_and_limits_on_both_transports() {
    let server = TestServer::start().await;
    let (status, rest) = server.rest("PUT", "/rpc/capabilities", "{}").await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    let caps = &rest["args"];
    assert_eq!(caps["server"]["name"], "sysadmd");
    assert_eq!(caps["server"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(caps["backend"]["kind"], "simulated");
    assert_eq!(caps["health"], "ok");
    assert_eq!(caps["supported"].as_array().unwrap().len(), 19, "{caps}");
    assert_eq!(caps["not_supported"], json!({}));
    assert_eq!(caps["limits"]["max_body_bytes"], 1024 * 1024);
    assert_eq!(caps["limits"]["confirm_within_secs"], 60);
    assert!(
        caps["features"]
            .as_array()
            .unwrap()
            .contains(&json!("dry_run")),
        "{caps}"
    );

    let mut client = server.ws().await;
    let reply = client
        .call(json!({"namespace": "rpc", "name": "capabilities", "id": "c", "args": {}}))
        .await;
    assert_eq!(reply["name"], "response", "{reply}");
    assert_eq!(reply["args"], rest["args"], "the same on both transports");

    // Not without a login.
    let (status, _) = support::rest_call(server.addr, "PUT", "/rpc/capabilities", "{}", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn healthz_answers_without_login_and_names_an_unwritable_audit_log() {
    // /dev/full opens but every write fails (ENOSPC), also for root.
    let server = TestServer::start_with(
        |config| config.audit_log = std::path::PathBuf::from("/dev/full"),
        None,
    )
    .await;
    let (status, _, body) = http_call(server.addr, "GET", "/healthz", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"ok\n");

    let body = json!({"action": "createjail", "props": "tag=never"});
    let (status, reply) = server
        .rest("PUT", "/sysadm/iocage", &body.to_string())
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{reply}");

    let (status, headers, body) = http_call(server.addr, "GET", "/healthz", &[], "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    let text = String::from_utf8_lossy(&body);
    assert_eq!(
        text, "audit log /dev/full unwritable: the last write failed\n",
        "{text}"
    );
    let (_, caps) = server.rest("PUT", "/rpc/capabilities", "{}").await;
    assert_eq!(caps["args"]["health"], text.trim_end());
    server.stop().await;
}

#[tokio::test]
async fn a_dry_run_says_what_would_be_destroyed_and_changes_nothing() {
    let server = TestServer::start().await;
    let web = create(&server, "web").await;
    let db = create(&server, "db").await;

    let body = json!({"action": "destroyjail", "jail": "web", "dry_run": true});
    let (status, reply) = server
        .rest("PUT", "/sysadm/iocage", &body.to_string())
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let preview = &reply["args"]["destroyjail"];
    assert_eq!(preview["dry_run"], true);
    assert_eq!(
        preview["would_destroy"],
        json!({"jails": [{"uuid": web, "tag": "web"}], "templates": [], "releases": [],
               "datasets": [format!("tank/iocage/jails/{web}")]})
    );
    assert_eq!(preview["confirm_within_secs"], 60);
    assert_eq!(preview["confirm"].as_str().unwrap().len(), 32);

    let mut client = server.ws().await;
    let reply = ws_iocage(&mut client, json!({"action": "cleanall", "dry_run": true})).await;
    assert_eq!(reply["name"], "response", "{reply}");
    let mut jails = vec![
        json!({"uuid": web, "tag": "web"}),
        json!({"uuid": db, "tag": "db"}),
    ];
    jails.sort_by_key(|jail| jail["uuid"].as_str().unwrap().to_owned());
    assert_eq!(
        reply["args"]["cleanall"]["would_destroy"],
        json!({"jails": jails, "templates": [], "releases": ["10.2-RELEASE", "10.3-RELEASE"],
               "datasets": ["tank/iocage"]})
    );
    let reply = ws_iocage(
        &mut client,
        json!({"action": "cleanreleases", "dry_run": true}),
    )
    .await;
    assert_eq!(
        reply["args"]["cleanreleases"]["would_destroy"]["datasets"],
        json!(["tank/iocage/releases"])
    );

    // Nothing changed; a running jail previews as the destroy would end: 409.
    assert_eq!(tags(&server).await, ["db", "web"]);
    let reply = ws_iocage(&mut client, json!({"action": "startjail", "jail": "db"})).await;
    assert_eq!(reply["name"], "response", "{reply}");
    let reply = ws_iocage(
        &mut client,
        json!({"action": "destroyjail", "jail": "db", "dry_run": true}),
    )
    .await;
    assert_eq!(reply["args"]["code"], 409, "{reply}");
    // dry_run on an action that destroys nothing is refused, not ignored.
    let reply = ws_iocage(
        &mut client,
        json!({"action": "stopjail", "jail": "db", "dry_run": true}),
    )
    .await;
    assert_eq!(reply["args"]["code"], 400, "{reply}");
    let details = reply["args"]["details"].as_str().unwrap();
    assert!(details.contains("stopjail: invalid dry_run"), "{details}");
    let reply = ws_iocage(&mut client, json!({"action": "listjails"})).await;
    assert_eq!(reply["args"]["listjails"][&db]["state"], "up", "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn confirm_destroy_needs_the_token_of_a_dry_run_of_the_same_request() {
    let server = TestServer::start_with(|config| config.safety.confirm_destroy = true, None).await;
    create(&server, "one").await;
    create(&server, "two").await;
    let put = |body: Value| {
        let server = &server;
        async move {
            server
                .rest("PUT", "/sysadm/iocage", &body.to_string())
                .await
        }
    };

    // The documented request alone: 409 with the instruction, nothing destroyed.
    let (status, reply) = put(json!({"action": "cleanjails"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    let details = reply["args"]["details"].as_str().unwrap();
    assert!(
        details.starts_with("cleanjails needs confirmation on this server"),
        "{details}"
    );
    assert!(details.contains("\"dry_run\": true"), "{details}");
    assert!(details.contains("\"confirm\""), "{details}");
    assert_eq!(tags(&server).await, ["one", "two"]);

    // A token of another request does not confirm this one.
    let (_, reply) = put(json!({"action": "destroyjail", "jail": "one", "dry_run": true})).await;
    let other_token = reply["args"]["destroyjail"]["confirm"].clone();
    let (status, _) = put(json!({"action": "cleanjails", "confirm": other_token})).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The host changes after the dry run: the token no longer confirms.
    let (_, reply) = put(json!({"action": "cleanjails", "dry_run": true})).await;
    let stale = reply["args"]["cleanjails"]["confirm"].clone();
    create(&server, "three").await;
    let (status, reply) = put(json!({"action": "cleanjails", "confirm": stale})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert!(
        reply["args"]["details"]
            .as_str()
            .unwrap()
            .contains("the host changed"),
        "{reply}"
    );
    assert_eq!(tags(&server).await, ["one", "three", "two"]);

    // Dry run, then the same request with its token, over WebSocket: done; once only.
    let mut client = server.ws().await;
    let reply = ws_iocage(
        &mut client,
        json!({"action": "cleanjails", "dry_run": true}),
    )
    .await;
    let token = reply["args"]["cleanjails"]["confirm"].clone();
    assert_eq!(
        reply["args"]["cleanjails"]["would_destroy"]["jails"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let reply = ws_iocage(
        &mut client,
        json!({"action": "cleanjails", "confirm": token}),
    )
    .await;
    assert_eq!(
        reply["args"],
        json!({"cleanjails": {"success": "All jails have been cleaned."}}),
        "{reply}"
    );
    assert!(tags(&server).await.is_empty());
    let reply = ws_iocage(
        &mut client,
        json!({"action": "cleanjails", "confirm": token}),
    )
    .await;
    assert_eq!(reply["args"]["code"], 409, "a token confirms once: {reply}");
    server.stop().await;
}
