//! `GET /metrics` (issue 20): Prometheus text for any authenticated user,
//! read back with an independent parser (the `prometheus-parse` crate).

mod support;

use hyper::StatusCode;
use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;
use support::{TestServer, basic, http_call, iocage, subscribe};

fn parse(body: &[u8]) -> Scrape {
    let text = String::from_utf8(body.to_vec()).expect("UTF-8");
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text")
}

fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|sample: &&Sample| {
            sample.metric == metric
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(key) == Some(*value))
        })
        .map(|sample| match &sample.value {
            Value::Counter(value) | Value::Gauge(value) | Value::Untyped(value) => *value,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |bucket| bucket.count),
            Value::Summary(_) => f64::NAN,
        })
}

#[tokio::test]
async fn metrics_count_requests_logins_jobs_and_events_for_a_viewer() {
    // Waiting for the server to see the new user counts failed logins.
    let server = TestServer::start_with(|config| config.auth.max_failures = 100, None).await;
    support::add_user(
        &server,
        "victor",
        sysadmd::auth::Role::Viewer,
        "viewer password",
    )
    .await;
    let viewer = basic("victor", "viewer password");

    // No credential, or a wrong one: 401, and the failure is counted.
    let (status, _, _) = http_call(server.addr, "GET", "/metrics", &[], "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let wrong = basic("victor", "not the password");
    let (status, _, _) = http_call(
        server.addr,
        "GET",
        "/metrics",
        &[("authorization", &wrong)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Some traffic on both transports.
    for _ in 0..3 {
        let (status, _) = server
            .rest("PUT", "/sysadm/iocage", r#"{"action": "listjails"}"#)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = server
        .rest(
            "PUT",
            "/sysadm/iocage",
            r#"{"action": "startjail", "jail": "none"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Made-up classes and actions are counted as "other": labels stay bounded.
    for made_up in ["/no/such", "/sysadm/nosuch"] {
        let (status, _) = server.rest("PUT", made_up, "{}").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = server
        .rest("PUT", "/sysadm/iocage", r#"{"action": "madeup1"}"#)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut client = server.ws().await;
    let reply = client.call(subscribe("s", json!("dispatcher"))).await;
    assert_eq!(reply["name"], "response");
    let reply = client
        .call(iocage(
            "c",
            json!({"action": "createjail", "props": "tag=m"}),
        ))
        .await;
    assert_eq!(reply["name"], "response", "{reply}");

    let (status, headers, body) = http_call(
        server.addr,
        "GET",
        "/metrics",
        &[("authorization", &viewer)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "a viewer may read metrics");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{headers:?}"
    );
    let scrape = parse(&body);
    let requests = |action: &str, transport: &str, status: &str| {
        value(
            &scrape,
            "sysadmd_requests_total",
            &[
                ("class", "sysadm/iocage"),
                ("action", action),
                ("transport", transport),
                ("status", status),
            ],
        )
    };
    assert_eq!(requests("listjails", "rest", "200"), Some(3.0));
    assert_eq!(requests("startjail", "rest", "404"), Some(1.0));
    assert_eq!(requests("createjail", "ws", "200"), Some(1.0));
    assert_eq!(requests("other", "rest", "400"), Some(1.0));
    let other = value(
        &scrape,
        "sysadmd_requests_total",
        &[("class", "other"), ("transport", "rest"), ("status", "404")],
    );
    assert_eq!(other, Some(2.0));
    assert!(
        !String::from_utf8_lossy(&body).contains("madeup1"),
        "client strings never become labels"
    );
    let latency = value(
        &scrape,
        "sysadmd_request_duration_seconds_count",
        &[("class", "sysadm/iocage"), ("transport", "rest")],
    )
    .or_else(|| {
        value(
            &scrape,
            "sysadmd_request_duration_seconds",
            &[("class", "sysadm/iocage"), ("transport", "rest")],
        )
    });
    assert_eq!(latency, Some(5.0), "{:?}", String::from_utf8_lossy(&body));
    let failed = value(&scrape, "sysadmd_failed_logins_total", &[]).unwrap();
    assert!(failed >= 1.0, "{failed}");
    assert_eq!(value(&scrape, "sysadmd_jobs_running", &[]), Some(0.0));
    // startjail (failed) and createjail: two jobs, four events.
    assert_eq!(value(&scrape, "sysadmd_events_seq", &[]), Some(4.0));
    assert_eq!(value(&scrape, "sysadmd_event_connections", &[]), Some(1.0));
    assert_eq!(
        value(&scrape, "sysadmd_event_subscribers_dropped", &[]),
        Some(0.0)
    );

    // Connections by transport and state: the logged-in WebSocket, then one
    // that has not logged in, then neither once both have gone.
    let connections = |scrape: &Scrape, transport: &str, state: &str| {
        value(
            scrape,
            "sysadmd_connections",
            &[("transport", transport), ("state", state)],
        )
    };
    assert_eq!(connections(&scrape, "ws", "authenticated"), Some(1.0));
    assert_eq!(connections(&scrape, "ws", "unauthenticated"), Some(0.0));
    assert!(connections(&scrape, "rest", "unauthenticated").unwrap() >= 0.0);
    let stranger = support::WsClient::connect(server.addr).await;
    let open_now = || async {
        let (_, _, body) = http_call(
            server.addr,
            "GET",
            "/metrics",
            &[("authorization", &viewer)],
            "",
        )
        .await;
        let scrape = parse(&body);
        (
            connections(&scrape, "ws", "authenticated"),
            connections(&scrape, "ws", "unauthenticated"),
        )
    };
    // Polled: the server counts a WebSocket once its upgrade completes, and
    // a closed one once it has seen the close.
    let wait_for = |expected: (f64, f64)| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let open = open_now().await;
            if open == (Some(expected.0), Some(expected.1)) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{open:?}, expected {expected:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    wait_for((1.0, 1.0)).await;
    drop((client, stranger));
    wait_for((0.0, 0.0)).await;
    server.stop().await;
}

#[test]
fn metrics_listen_serves_loopback_without_login_and_refuses_other_addresses() {
    let daemon = support::daemon::spawn_daemon(
        &["--plaintext", "--listen", "127.0.0.1:0"],
        Some("[metrics]\nlisten = [\"127.0.0.1:0\"]\n"),
    );
    let line = daemon
        .banner
        .iter()
        .find_map(|line| line.strip_prefix("metrics without authentication on http://"))
        .unwrap_or_else(|| panic!("no metrics line in {:?}", daemon.banner));
    let addr: std::net::SocketAddr = line.split('/').next().unwrap().parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (status, _, body) = http_call(addr, "GET", "/metrics", &[], "").await;
        assert_eq!(status, StatusCode::OK);
        let scrape = parse(&body);
        assert_eq!(value(&scrape, "sysadmd_jobs_running", &[]), Some(0.0));
        let (status, _, _) = http_call(addr, "GET", "/sysadm/iocage", &[], "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "only /metrics there");
    });

    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("sysadmd.toml");
    std::fs::write(&config, "[metrics]\nlisten = [\"0.0.0.0:9150\"]\n").unwrap();
    let output = support::daemon::sysadmd(
        &[
            "--plaintext",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ],
        state.path(),
    )
    .output()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("metrics.listen: '0.0.0.0:9150' is not a loopback IP:PORT"),
        "{stderr}"
    );
}
