//! What the CLI backend says about itself and what its dry runs report,
//! computed from iocage's listings (issue 20), in both flavours.

mod support;

use iocage_service::{BackendKind, CliBackend, Flavour, IocageService, Runner};
use serde_json::json;
use support::{Fake, caller, ok};
use sysadm_proto::{Action, IocageRequest, JailRef};

#[tokio::test]
async fn the_cli_backend_describes_its_flavour_and_the_501s_known_in_advance() {
    for (flavour, name, missing) in [
        (Flavour::Legacy, "legacy", vec![Action::ListPlugins]),
        (
            Flavour::Python,
            "python",
            vec![Action::CapJail, Action::DeactivatePool],
        ),
    ] {
        let fake = Fake::new(flavour);
        let service = fake.service();
        let description = service.describe().await;
        assert_eq!(description.kind, BackendKind::Iocage);
        assert_eq!(description.flavour.as_deref(), Some(name));
        assert!(description.version.is_some(), "{description:?}");
        let actions: Vec<Action> = description
            .not_supported
            .iter()
            .map(|(action, _)| *action)
            .collect();
        assert_eq!(actions, missing, "{name}");
        // Each is what the action really answers: its 501 text.
        ok(
            &service,
            json!({"action": "createjail", "props": "tag=capped release=10.2-RELEASE"}),
        )
        .await;
        for (action, why) in &description.not_supported {
            let args = match action {
                Action::CapJail => json!({"action": "capjail", "jail": "capped"}),
                Action::DeactivatePool => json!({"action": "deactivatepool", "pool": "tank"}),
                _ => json!({"action": action.as_str()}),
            };
            let error = support::call(&service, args).await.unwrap_err();
            assert_eq!(error, (501, why.clone()), "{name} {action}");
        }
        assert_eq!(service.health().await, Ok(()));
    }
    let missing = IocageService::new(std::sync::Arc::new(CliBackend::new(
        Runner::new("/nonexistent/iocage"),
        None,
    )));
    let health = missing.health().await.unwrap_err();
    assert_eq!(
        health,
        "iocage is unavailable: /nonexistent/iocage is not a file"
    );
}

#[tokio::test]
async fn dry_runs_on_the_cli_backend_list_what_iocage_lists_and_run_nothing_destructive() {
    for flavour in [Flavour::Legacy, Flavour::Python] {
        let fake = Fake::new(flavour);
        let service = fake.service();
        for tag in ["web", "db"] {
            ok(
                &service,
                json!({"action": "createjail", "props": format!("tag={tag} release=10.2-RELEASE")}),
            )
            .await;
        }
        let listed = ok(&service, json!({"action": "listjails"})).await;
        let mut jails: Vec<JailRef> = listed["listjails"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(uuid, jail)| JailRef {
                uuid: uuid.clone(),
                tag: jail["tag"].as_str().unwrap().to_owned(),
            })
            .collect();
        jails.sort();
        let web = jails.iter().find(|jail| jail.tag == "web").unwrap().clone();
        let before = fake.log().len();

        let preview = service
            .preview(
                &IocageRequest::DestroyJail { jail: "web".into() },
                &caller(),
            )
            .await
            .unwrap();
        assert_eq!(preview.jails, vec![web.clone()], "{flavour:?}");
        assert_eq!(
            preview.datasets,
            vec![format!("tank/iocage/jails/{}", web.uuid)]
        );
        let preview = service
            .preview(&IocageRequest::CleanAll, &caller())
            .await
            .unwrap();
        assert_eq!(preview.jails, jails, "{flavour:?}");
        assert_eq!(preview.datasets, vec!["tank/iocage".to_owned()]);
        assert!(!preview.releases.is_empty(), "{preview:?}");

        // Only listings ran: no destroy, no clean.
        let ran = &fake.log()[before..];
        assert!(
            ran.iter()
                .all(|argv| !argv.contains("destroy") && !argv.contains("clean")),
            "{ran:?}"
        );
        let after = ok(&service, json!({"action": "listjails"})).await;
        assert_eq!(after, listed, "{flavour:?}");
    }
}

/// One HTTP/1.1 request on a fresh connection, `Connection: close`; the whole response as text.
async fn http(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_string(&mut text),
    )
    .await
    .expect("a response within 30 s")
    .unwrap();
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sysadmd_on_iocage_reports_its_capabilities_and_counts_iocage_runs() {
    let host = tempfile::tempdir().unwrap();
    let program = host.path().join("iocage");
    std::os::unix::fs::symlink(support::FAKE, &program).unwrap();
    let state = tempfile::tempdir().unwrap();
    let args = sysadmd::ServeArgs {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        state_dir: Some(state.path().to_owned()),
        plaintext: true,
        backend: Some(sysadmd::BackendChoice::Cli),
        iocage: Some(program.clone()),
        ..sysadmd::ServeArgs::default()
    };
    let config = sysadmd::Config::resolve(&args).unwrap();
    let options = sysadmd::StartOptions {
        admin_password: Some("automation".to_owned()),
        ..sysadmd::StartOptions::default()
    };
    let started = sysadmd::start(&config, options)
        .await
        .expect("sysadmd starts");
    let addr = started.server.local_addrs()[0];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(started.server.run(async {
        let _ = stopped.await;
    }));
    let put = |path: &str, body: &str, auth: &str| {
        format!(
            "PUT {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{auth}content-type: application/json\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let login = http(
        addr,
        &put(
            "/rpc/auth",
            r#"{"username":"admin","password":"automation"}"#,
            "",
        ),
    )
    .await;
    let body = &login[login.find("\r\n\r\n").unwrap() + 4..];
    let token: serde_json::Value = serde_json::from_str(body).unwrap();
    let auth = format!(
        "authorization: Bearer {}\r\n",
        token["args"][0].as_str().unwrap()
    );

    let caps = http(addr, &put("/rpc/capabilities", "{}", &auth)).await;
    let caps: serde_json::Value =
        serde_json::from_str(&caps[caps.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(caps["args"]["backend"]["kind"], "iocage", "{caps}");
    assert_eq!(caps["args"]["backend"]["flavour"], "legacy", "{caps}");
    assert!(
        caps["args"]["not_supported"]["listplugins"]
            .as_str()
            .unwrap()
            .contains("plugin index"),
        "{caps}"
    );
    assert_eq!(caps["args"]["health"], "ok");
    let listed = http(
        addr,
        &put("/sysadm/iocage", r#"{"action":"listjails"}"#, &auth),
    )
    .await;
    assert!(listed.starts_with("HTTP/1.1 200"), "{listed}");

    let metrics = http(
        addr,
        &format!("GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{auth}\r\n"),
    )
    .await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    // One `list` for listjails (templates are not listed); `--version`
    // once, at the start.
    assert!(
        metrics.contains("sysadmd_iocage_runs_total{command=\"list\",exit=\"ok\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sysadmd_iocage_runs_total{command=\"--version\",exit=\"ok\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sysadmd_iocage_run_duration_seconds_count{command=\"list\"} 1\n"),
        "{metrics}"
    );
    let _ = stop.send(());
    server.await.unwrap();
}
