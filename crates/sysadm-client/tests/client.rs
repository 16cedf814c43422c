//! The client crate against the real `sysadmd` binary: every iocage action
//! through the typed calls, raw calls, many requests in flight, events,
//! fingerprint pinning, REST one-shot calls, reconnection after a restart,
//! API keys (scopes, restarts, revokes) and fleets.

mod support;

use std::time::Duration;

use support::{Daemon, PASSWORD};
use sysadm_client::proto::{
    ActivatePoolResult, EventKind, JailSettings, JailSettingsQuery, JobState, StatusOutcome,
};
use sysadm_client::{Client, Credentials, Error, Event, Options, Trust};

fn admin() -> Credentials {
    Credentials::Password {
        user: "admin".into(),
        password: PASSWORD.into(),
    }
}

fn quick() -> Options {
    Options {
        request_timeout: Duration::from_secs(30),
        ..Options::default()
    }
}

async fn connect(daemon: &Daemon) -> Client {
    Client::connect(&daemon.url(), admin(), quick())
        .await
        .expect("client connects and logs in")
}

#[tokio::test]
async fn every_iocage_action_through_the_typed_calls() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::plaintext(dir.path());
    let client = connect(&daemon).await;

    assert!(client.list_jails().await.unwrap().jails.is_empty());
    let created = client
        .create_jail("tag=web1 release=10.2-RELEASE", false)
        .await
        .unwrap();
    assert_eq!(created.props, "tag=web1 release=10.2-RELEASE");
    let jails = client.list_jails().await.unwrap();
    let (uuid, web1) = jails.jails.iter().next().expect("one jail");
    assert_eq!(web1.tag, "web1");
    assert_eq!(web1.state, "down");

    let started = client.start_jail("web1").await.unwrap();
    assert!(
        matches!(&started.outcome, StatusOutcome::Lines(lines) if !lines.is_empty()),
        "{started:?}"
    );
    assert_eq!(client.list_jails().await.unwrap().jails[uuid].state, "up");
    let exec = client.exec_jail("web1", "root", "uname -a").await.unwrap();
    assert!(!exec.lines.is_empty(), "{exec:?}");
    client.cap_jail("web1").await.unwrap();
    let settings = client
        .jail_settings(JailSettingsQuery::Property {
            jail: "web1".into(),
            prop: "tag".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        settings,
        JailSettings::Property {
            jail: "web1".into(),
            prop: "tag".into(),
            value: "web1".into()
        }
    );
    let all = client
        .jail_settings(JailSettingsQuery::All {
            jail: "web1".into(),
        })
        .await
        .unwrap();
    assert!(matches!(all, JailSettings::All { ref props, .. } if props["tag"] == "web1"));
    let recursive = client
        .jail_settings(JailSettingsQuery::Recursive { prop: "tag".into() })
        .await
        .unwrap();
    assert!(matches!(recursive, JailSettings::Recursive { ref jails, .. } if jails.len() == 1));
    client.stop_jail("web1").await.unwrap();
    assert_eq!(client.list_jails().await.unwrap().jails[uuid].state, "down");

    let cloned = client.clone_jail("web1", "tag=web2").await.unwrap();
    assert_eq!(cloned.jail, "web1");
    assert_eq!(client.list_jails().await.unwrap().jails.len(), 2);
    let destroyed = client.destroy_jail("web2").await.unwrap();
    assert!(!destroyed.success.uuid.is_empty());

    assert!(client.df().await.unwrap().jails.contains_key(uuid));
    assert!(!client.default_settings().await.unwrap().defaults.is_empty());
    client.list_plugins().await.unwrap();
    assert!(
        client
            .list_releases()
            .await
            .unwrap()
            .local
            .contains(&"10.2-RELEASE".to_owned())
    );
    assert!(matches!(
        client.activate_pool(None).await.unwrap(),
        ActivatePoolResult::Current { .. }
    ));
    client.activate_pool(Some("tank1")).await.unwrap();
    client.deactivate_pool("tank1").await.unwrap();
    client.activate_pool(Some("tank")).await.unwrap();
    client.clean_templates().await.unwrap();
    client.clean_jails().await.unwrap();
    assert!(client.list_jails().await.unwrap().jails.is_empty());
    client.clean_releases().await.unwrap();
    client.clean_all().await.unwrap();

    // The server's error body arrives whole, details included.
    let error = client.start_jail("nosuchjail").await.unwrap_err();
    assert_eq!(error.code().map(|code| code.code()), Some(404), "{error}");
    assert!(error.details().unwrap().contains("nosuchjail"), "{error}");
}

#[tokio::test]
async fn raw_calls_and_many_requests_in_flight_on_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::plaintext(dir.path());
    let client = connect(&daemon).await;
    let raw = client
        .call(
            "sysadm",
            "iocage",
            serde_json::json!({"action": "listreleases"}),
        )
        .await
        .unwrap();
    assert!(raw["listreleases"]["local"].is_array(), "{raw}");
    let identify = client.identify().await.unwrap();
    assert_eq!(identify.kind, "server");

    let calls: Vec<_> = (0..100)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move {
                if n % 2 == 0 {
                    client.list_releases().await.map(|_| ())
                } else {
                    client.default_settings().await.map(|_| ())
                }
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(client.connections(), 1);

    let error = client
        .call("sysadm", "iocage", serde_json::json!({"action": "nosuch"}))
        .await
        .unwrap_err();
    assert_eq!(error.code().map(|code| code.code()), Some(400));
}

#[tokio::test]
async fn events_stream_the_jobs_of_other_clients() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::plaintext(dir.path());
    let watcher = connect(&daemon).await;
    let actor = connect(&daemon).await;
    let mut events = watcher.events(&[EventKind::Dispatcher]).await.unwrap();
    actor.create_jail("tag=evt", false).await.unwrap();
    let mut states = Vec::new();
    while states.len() < 2 {
        let event = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("an event in time")
            .expect("stream open")
            .unwrap();
        let Event::Dispatcher(job) = event else {
            panic!("unexpected {event:?}")
        };
        assert_eq!(job.action, "createjail");
        states.push(job.state);
    }
    assert_eq!(states, [JobState::Running, JobState::Finished]);
}

#[tokio::test]
async fn a_pinned_fingerprint_is_required_and_a_wrong_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::tls(dir.path());
    let printed = daemon
        .fingerprint
        .clone()
        .expect("TLS banner has a fingerprint");
    let pinned = Options {
        trust: Trust::Fingerprint(printed.parse().unwrap()),
        ..quick()
    };
    let client = Client::connect(&daemon.url(), admin(), pinned.clone())
        .await
        .unwrap();
    client.list_jails().await.unwrap();

    let probed = sysadm_client::Endpoint::parse(&daemon.url())
        .unwrap()
        .probe_fingerprint(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(probed.to_string(), printed);

    let wrong = Options {
        trust: Trust::Fingerprint(format!("{}00", "00:".repeat(31)).parse().unwrap()),
        ..quick()
    };
    let error = Client::connect(&daemon.url(), admin(), wrong)
        .await
        .unwrap_err();
    match &error {
        Error::FingerprintMismatch { found, .. } => assert_eq!(found, &printed),
        other => panic!("expected a fingerprint mismatch, got {other:?}"),
    }
    assert!(error.to_string().contains("refusing"), "{error}");

    // The self-signed certificate is not signed by any system root.
    let error = Client::connect(&daemon.url(), admin(), quick())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Tls(_)), "{error:?}");

    // REST one-shot calls use the same trust.
    let value = sysadm_client::rest::call(
        &daemon.url(),
        &admin(),
        &pinned,
        "sysadm",
        "iocage",
        serde_json::json!({"action": "listjails"}),
    )
    .await
    .unwrap();
    assert_eq!(value, serde_json::json!({"listjails": {}}));
    let bad_password = Credentials::Password {
        user: "admin".into(),
        password: "wrong".into(),
    };
    let error = sysadm_client::rest::call(
        &daemon.url(),
        &bad_password,
        &pinned,
        "sysadm",
        "iocage",
        serde_json::json!({"action": "listjails"}),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code().map(|code| code.code()), Some(401), "{error}");
}

#[tokio::test]
async fn the_client_reconnects_and_logs_in_again_after_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::plaintext(dir.path());
    let client = connect(&daemon).await;
    let mut events = client.events(&[]).await.unwrap();
    client.create_jail("tag=before", false).await.unwrap();
    // Drain the two events of that job.
    for _ in 0..2 {
        events.next().await.unwrap().unwrap();
    }
    daemon.restart();
    // A call sent before the client noticed the loss fails with
    // Disconnected (it may or may not have run); the next waits for the
    // reconnect and succeeds.
    let mut tries = 0;
    let jails = loop {
        tries += 1;
        match client.list_jails().await {
            Err(Error::Disconnected) if tries < 3 => continue,
            other => break other.unwrap(),
        }
    };
    assert_eq!(jails.jails.values().next().unwrap().tag, "before");
    assert_eq!(client.connections(), 2);
    // The subscription was renewed on the new connection.
    client.create_jail("tag=after", false).await.unwrap();
    let Some(Ok(Event::Dispatcher(job))) = events.next().await else {
        panic!("no event after the reconnect")
    };
    assert_eq!(job.action, "createjail");
    assert_eq!(job.state, JobState::Running);
}

#[tokio::test]
async fn refused_credentials_fail_the_connect_with_the_servers_details() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::plaintext(dir.path());
    let error = Client::connect(
        &daemon.url(),
        Credentials::Password {
            user: "admin".into(),
            password: "wrong".into(),
        },
        quick(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code().map(|code| code.code()), Some(401), "{error}");
    assert!(
        error
            .details()
            .unwrap()
            .contains("invalid user name or password")
    );
}

#[tokio::test]
async fn a_minted_key_logs_in_survives_a_restart_and_a_revoke_ends_its_session() {
    use sysadm_client::proto::{KeyRole, KeySpec};
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::plaintext(dir.path());
    let admin = connect(&daemon).await;
    let created = admin
        .create_key(KeySpec {
            name: "web-only".into(),
            role: KeyRole::Admin,
            jails: vec!["web*".into()],
            actions: vec![],
            expires_secs: None,
        })
        .await
        .unwrap();
    admin.create_jail("tag=web1", false).await.unwrap();
    admin.create_jail("tag=db1", false).await.unwrap();

    let keyed = Client::connect(
        &daemon.url(),
        Credentials::Key(created.key.clone()),
        quick(),
    )
    .await
    .unwrap();
    keyed.start_jail("web1").await.unwrap();
    let refused = keyed.start_jail("db1").await.unwrap_err();
    assert_eq!(
        refused.code().map(|code| code.code()),
        Some(403),
        "{refused}"
    );
    assert!(refused.details().unwrap().contains("web*"), "{refused}");
    // REST with the same key, as Bearer.
    let value = sysadm_client::rest::call(
        &daemon.url(),
        &Credentials::Key(created.key.clone()),
        &quick(),
        "sysadm",
        "iocage",
        serde_json::json!({"action": "listjails"}),
    )
    .await
    .unwrap();
    assert_eq!(value["listjails"].as_object().unwrap().len(), 2);

    // Keys outlive the server's tokens: the client logs in again with it after a restart.
    drop(admin);
    daemon.restart();
    let mut tries = 0;
    let _stopped = loop {
        tries += 1;
        match keyed.stop_jail("web1").await {
            Err(Error::Disconnected) if tries < 3 => continue,
            other => break other.unwrap(),
        }
    };
    assert_eq!(keyed.connections(), 2);

    // Revoked: the live session ends (401 on its next request, within the reload interval).
    let admin = connect(&daemon).await;
    admin.revoke_key("web-only").await.unwrap();
    let error = keyed.list_jails().await.unwrap_err();
    assert_eq!(error.code().map(|code| code.code()), Some(401), "{error}");
    assert!(admin.list_keys().await.unwrap().keys.is_empty());
}

#[tokio::test]
async fn a_fleet_runs_one_call_on_every_server_and_reports_each_under_its_name() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let one = Daemon::plaintext(dirs[0].path());
    let mut two = Daemon::plaintext(dirs[1].path());
    let mut fleet = sysadm_client::Fleet::new();
    fleet.add("one", connect(&one).await);
    let second = Client::connect(
        &two.url(),
        admin(),
        Options {
            reconnect: false,
            ..quick()
        },
    )
    .await
    .unwrap();
    fleet.add("two", second.clone());
    second.create_jail("tag=only-on-two", false).await.unwrap();
    let results = fleet
        .run(|client| async move { client.list_jails().await })
        .await;
    let names: Vec<&str> = results.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["one", "two"]);
    assert!(results[0].1.as_ref().unwrap().jails.is_empty());
    assert_eq!(results[1].1.as_ref().unwrap().jails.len(), 1);
    // One server gone: its error, the other's result.
    two.kill();
    let results = fleet
        .run(|client| async move { client.list_jails().await })
        .await;
    assert!(results[0].1.is_ok());
    assert!(results[1].1.is_err(), "{:?}", results[1]);
}

/// A TCP proxy to a daemon whose links the test can cut: while cut it
/// closes every new connection at once, so a client behind it stays away.
struct Proxy {
    addr: std::net::SocketAddr,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let (open, links) = (open.clone(), links.clone());
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !open.load(Ordering::SeqCst) {
                        continue;
                    }
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            }
        });
        Proxy {
            addr,
            open,
            links,
            accept,
        }
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn mend(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The next dispatcher event's (target, state), within 30 s.
async fn next_job(events: &mut sysadm_client::EventStream) -> (String, JobState) {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("an event in time")
            .expect("stream open")
            .unwrap();
        if let Event::Dispatcher(job) = event {
            return (job.target.unwrap_or_default(), job.state);
        }
    }
}

#[tokio::test]
async fn events_sent_while_the_client_was_away_arrive_after_the_reconnect_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::plaintext(dir.path());
    let proxy = Proxy::start(daemon.addr).await;
    let watcher = Client::connect(&format!("ws://{}/", proxy.addr), admin(), quick())
        .await
        .expect("the watcher connects through the proxy");
    let actor = connect(&daemon).await;
    let mut events = watcher.events(&[EventKind::Dispatcher]).await.unwrap();
    actor.create_jail("tag=seen", false).await.unwrap();
    assert_eq!(
        next_job(&mut events).await,
        ("tag=seen".into(), JobState::Running)
    );
    assert_eq!(
        next_job(&mut events).await,
        ("tag=seen".into(), JobState::Finished)
    );

    // The watcher's link drops, and stays down while a job runs.
    proxy.cut();
    actor.create_jail("tag=missed", false).await.unwrap();
    proxy.mend();
    // Resumed after the last event it had: the missed job's two events,
    // then the live ones, none twice.
    assert_eq!(
        next_job(&mut events).await,
        ("tag=missed".into(), JobState::Running)
    );
    assert_eq!(
        next_job(&mut events).await,
        ("tag=missed".into(), JobState::Finished)
    );
    actor.create_jail("tag=after", false).await.unwrap();
    assert_eq!(
        next_job(&mut events).await,
        ("tag=after".into(), JobState::Running)
    );
    assert_eq!(
        next_job(&mut events).await,
        ("tag=after".into(), JobState::Finished)
    );
    assert!(watcher.connections() >= 2, "the watcher reconnected");
}
