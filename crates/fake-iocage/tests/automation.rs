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
