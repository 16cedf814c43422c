//! Jobs and events: every change runs as a job, subscribers see `running`
//! then `finished` in order, a slow subscriber is disconnected while others
//! keep receiving, and every job leaves an audit record.

mod support;

use serde_json::{Value, json};
use support::{TestServer, WsClient, iocage, next_dispatcher_event, next_event, subscribe};

async fn create_jail(client: &mut WsClient, tag: &str) {
    let reply = client
        .call(iocage(
            "create",
            json!({"action": "createjail", "props": format!("tag={tag} release=10.2-RELEASE")}),
        ))
        .await;
    assert_eq!(reply["name"], "response", "{reply}");
}

#[tokio::test]
async fn subscribers_see_running_then_finished_and_unsubscribe_stops_them() {
    let server = TestServer::start().await;
    let mut watcher = server.ws().await;
    let reply = watcher.call(subscribe("s1", json!("dispatcher"))).await;
    assert_eq!(
        reply["args"],
        json!({"subscribed": ["dispatcher"]}),
        "{reply}"
    );

    let mut actor = server.ws().await;
    create_jail(&mut actor, "evented").await;
    let reply = actor
        .call(iocage(
            "start",
            json!({"action": "startjail", "jail": "evented"}),
        ))
        .await;
    assert_eq!(reply["name"], "response", "{reply}");

    let mut seen = Vec::new();
    for _ in 0..4 {
        let event = next_event(&mut watcher).await;
        assert_eq!(event["id"], "", "{event}");
        seen.push((
            event["args"]["action"].as_str().unwrap().to_owned(),
            event["args"]["state"].as_str().unwrap().to_owned(),
        ));
        if event["args"]["state"] == "finished" {
            assert_eq!(event["args"]["outcome"]["success"], true, "{event}");
            assert_eq!(event["args"]["user"], "admin");
            assert!(event["args"]["duration_ms"].is_u64(), "{event}");
        }
    }
    let expected = [
        ("createjail", "running"),
        ("createjail", "finished"),
        ("startjail", "running"),
        ("startjail", "finished"),
    ]
    .map(|(action, state)| (action.to_owned(), state.to_owned()));
    assert_eq!(seen, expected);

    let reply = watcher
        .call(json!({"namespace": "events", "name": "unsubscribe", "id": "u1", "args": ["dispatcher"]}))
        .await;
    assert_eq!(reply["args"], json!({"subscribed": []}), "{reply}");
    let reply = actor
        .call(iocage(
            "stop",
            json!({"action": "stopjail", "jail": "evented"}),
        ))
        .await;
    assert_eq!(reply["name"], "response");
    // A request after the stop proves no event was queued in between.
    let reply = watcher
        .call(iocage("list", json!({"action": "listjails"})))
        .await;
    assert_eq!(
        reply["name"], "response",
        "no event arrived before the reply: {reply}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_reference_types_are_accepted_and_unknown_names_skipped_and_reported() {
    let server = TestServer::start().await;
    let mut client = server.ws().await;
    // The API guide's own template.
    let reply = client
        .call(subscribe(
            "guide",
            json!(["dispatcher", "life-preserver", "system-state"]),
        ))
        .await;
    assert_eq!(
        reply["args"],
        json!({"subscribed": ["dispatcher", "life-preserver", "system-state"],
               "never_sent": ["life-preserver", "system-state"]}),
        "{reply}"
    );
    let reply = client
        .call(
            json!({"namespace": "events", "name": "unsubscribe", "id": "u",
                     "args": ["system-state", "no-such-type"]}),
        )
        .await;
    assert_eq!(reply["name"], "response", "{reply}");
    assert_eq!(
        reply["args"],
        json!({"subscribed": ["dispatcher", "life-preserver"], "unknown": ["no-such-type"],
               "never_sent": ["life-preserver"]}),
        "{reply}"
    );
    // Only unknown names: nothing changes, and the message does not fail.
    let reply = client.call(subscribe("only", json!(["foo"]))).await;
    assert_eq!(reply["name"], "response", "{reply}");
    assert_eq!(reply["args"]["unknown"], json!(["foo"]), "{reply}");
    // Still subscribed to dispatcher: a change arrives as an event.
    client
        .send(iocage(
            "c",
            json!({"action": "createjail", "props": "tag=ev"}),
        ))
        .await;
    let event = next_event(&mut client).await;
    assert_eq!(event["args"]["action"], "createjail", "{event}");
    while client.recv().await.expect("the reply")["id"] != "c" {}
    // An empty list names nothing: a 400 that lists the types.
    let reply = client.call(subscribe("empty", json!([]))).await;
    assert_eq!(reply["args"]["code"], 400, "{reply}");
    let details = reply["args"]["details"].as_str().unwrap();
    assert!(
        details.contains("dispatcher, life-preserver, system-state"),
        "{details}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_subscriber_that_does_not_read_is_disconnected_while_others_keep_receiving() {
    let server = TestServer::start_with(|config| config.limits.event_queue = 4, None).await;
    // The slow subscriber asks for megabytes of replies and reads none of them,
    // more than any socket buffer holds, so its connection backs up.
    let mut slow = WsClient::connect_slow_reader(server.addr).await;
    slow.call(subscribe("s", json!("dispatcher"))).await;
    for index in 0..1500 {
        slow.send(iocage(
            &format!("flood{index}"),
            json!({"action": "getdefaultsettings"}),
        ))
        .await;
    }
    let mut steady = server.ws().await;
    steady.call(subscribe("s", json!("dispatcher"))).await;

    let mut actor = server.ws().await;
    for index in 0..10 {
        create_jail(&mut actor, &format!("many{index}")).await;
        for state in ["running", "finished"] {
            let event = next_event(&mut steady).await;
            assert_eq!(event["args"]["action"], "createjail");
            assert_eq!(event["args"]["state"], state);
        }
    }
    // The slow one finds what was already on its way, then a close that says why.
    slow.widen_receive_buffer();
    let (code, reason) = slow.close_reason().await.expect("a close frame");
    assert_eq!(code, 1008);
    assert!(reason.contains("too slow"), "{reason}");
    server.stop().await;
}

#[tokio::test]
async fn every_job_leaves_an_audit_record_success_and_failure() {
    let server = TestServer::start().await;
    let mut client = server.ws().await;
    create_jail(&mut client, "audited").await;
    let reply = client
        .call(iocage(
            "d",
            json!({"action": "destroyjail", "jail": "no-such-jail"}),
        ))
        .await;
    assert_eq!(reply["args"]["code"], 404, "{reply}");
    let log = std::fs::read_to_string(&server.config.audit_log).expect("audit log exists");
    let records: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let jobs: Vec<&Value> = records
        .iter()
        .filter(|record| record["kind"] == "job")
        .collect();
    assert_eq!(jobs.len(), 2, "{log}");
    assert_eq!(jobs[0]["action"], "createjail");
    assert_eq!(jobs[0]["user"], "admin");
    assert_eq!(jobs[0]["outcome"]["success"], true);
    assert!(jobs[0]["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(jobs[1]["action"], "destroyjail");
    assert_eq!(jobs[1]["target"], "no-such-jail");
    assert_eq!(jobs[1]["outcome"]["success"], false);
    assert_eq!(jobs[1]["outcome"]["code"], 404);
    server.stop().await;
}

#[tokio::test]
async fn events_need_a_websocket() {
    let server = TestServer::start().await;
    let (status, reply) = server
        .rest("PUT", "/events/subscribe", "[\"dispatcher\"]")
        .await;
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply["args"]["details"]
            .as_str()
            .unwrap()
            .contains("over WebSocket only")
    );
    server.stop().await;
}

#[tokio::test]
async fn the_job_list_shows_work_in_progress_to_a_client_that_connects_later() {
    let backend =
        iocage_service::SimBackend::in_memory().with_delay(std::time::Duration::from_millis(1500));
    let server = TestServer::start_with(|_| {}, Some(std::sync::Arc::new(backend))).await;
    let mut watcher = server.ws().await;
    watcher.call(subscribe("s", json!("dispatcher"))).await;
    let mut actor = server.ws().await;
    actor
        .send(iocage(
            "slow",
            json!({"action": "createjail", "props": "tag=slowpoke"}),
        ))
        .await;
    let running = next_event(&mut watcher).await;
    assert_eq!(running["args"]["state"], "running");

    // A client that was not subscribed catches up with a request.
    let mut late = server.ws().await;
    let list = late
        .call(json!({"namespace": "rpc", "name": "dispatcher", "id": "jobs", "args": {"action": "list"}}))
        .await;
    let jobs = list["args"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {list}"));
    assert_eq!(jobs.len(), 1, "{list}");
    assert_eq!(jobs[0]["process_id"], running["args"]["process_id"]);
    assert_eq!(jobs[0]["action"], "createjail");
    assert_eq!(jobs[0]["user"], "admin");
    assert_eq!(jobs[0]["state"], "running");

    let reply = actor.recv().await.expect("the create reply");
    assert_eq!(reply["id"], "slow", "{reply}");
    assert_eq!(next_event(&mut watcher).await["args"]["state"], "finished");
    let list = late
        .call(json!({"namespace": "rpc", "name": "dispatcher", "id": "jobs", "args": {"action": "list"}}))
        .await;
    assert_eq!(list["args"], json!([]), "nothing left running: {list}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_simulated_change_reports_its_steps_before_it_finishes_on_both_transports() {
    let backend =
        iocage_service::SimBackend::in_memory().with_delay(std::time::Duration::from_millis(900));
    let server = TestServer::start_with(|_| {}, Some(std::sync::Arc::new(backend))).await;
    let mut watcher = server.ws().await;
    watcher.call(subscribe("s", json!("dispatcher"))).await;
    let mut actor = server.ws().await;
    actor
        .send(iocage(
            "slow",
            json!({"action": "createjail", "props": "tag=stepper"}),
        ))
        .await;
    let started = next_dispatcher_event(&mut watcher).await;
    assert_eq!(started["args"]["state"], "running");
    assert!(started["args"].get("progress").is_none(), "{started}");
    let first = next_dispatcher_event(&mut watcher).await;
    assert_eq!(first["args"]["state"], "running", "{first}");
    assert_eq!(
        first["args"]["progress"],
        json!({"step": "checking the release", "done": 0, "of": 3}),
        "{first}"
    );
    assert_eq!(first["args"]["process_id"], started["args"]["process_id"]);
    assert!(first["seq"].as_u64() > started["seq"].as_u64(), "{first}");

    // Over REST, the job list shows the latest step while the job runs.
    let (status, list) = server
        .rest("PUT", "/rpc/dispatcher", r#"{"action": "list"}"#)
        .await;
    assert_eq!(status, hyper::StatusCode::OK, "{list}");
    let progress = &list["args"][0]["progress"];
    assert_eq!(progress["of"], 3, "{list}");
    assert!(progress["done"].as_u64().unwrap() <= 2, "{list}");

    let mut done = vec![0];
    let finished = loop {
        let event = next_dispatcher_event(&mut watcher).await;
        if event["args"]["state"] == "finished" {
            break event;
        }
        assert_eq!(event["args"]["progress"]["of"], 3, "{event}");
        done.push(event["args"]["progress"]["done"].as_u64().unwrap());
    };
    assert!(finished["args"].get("progress").is_none(), "{finished}");
    assert!(done.windows(2).all(|pair| pair[0] < pair[1]), "{done:?}");
    assert_eq!(
        done.last(),
        Some(&2),
        "the last step is always sent: {done:?}"
    );
    let reply = actor.recv().await.expect("the create reply");
    assert_eq!(reply["id"], "slow", "{reply}");

    // Progress is live only: a resumed subscription and the history have
    // the job's start and end, not its steps.
    let mut late = server.ws().await;
    late.send(subscribe("r", json!({"types": ["dispatcher"], "since": 0})))
        .await;
    let replayed_start = next_dispatcher_event(&mut late).await;
    let replayed_end = next_dispatcher_event(&mut late).await;
    assert_eq!(replayed_start["seq"], started["seq"]);
    assert_eq!(replayed_end["seq"], finished["seq"], "{replayed_end}");
    server.stop().await;
}
