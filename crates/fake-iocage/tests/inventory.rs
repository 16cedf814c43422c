//! Naming a jail costs no iocage run while the service's inventory of jails
//! is fresh (issue 19): counted in the fake's argv log, through the CLI
//! backend, for both flavours.

mod support;

use std::sync::Arc;
use std::time::Duration;

use iocage_service::{CliBackend, Flavour, IocageService, ServiceOptions};
use serde_json::json;
use support::{Fake, created, fails, ok};

/// A service over `fake` whose listings are trusted for `ttl`.
fn service(fake: &Fake, flavour: Flavour, ttl: Duration) -> IocageService {
    let backend = CliBackend::new(fake.runner(), Some(flavour));
    IocageService::with_options(
        Arc::new(backend),
        ServiceOptions {
            inventory_ttl: ttl,
            ..ServiceOptions::default()
        },
    )
}

/// The argv lines the fake logged from `from` on, as `iocage` words.
fn runs_since(fake: &Fake, from: usize) -> Vec<String> {
    fake.log()[from..].to_vec()
}

/// The command word of each logged run.
fn commands(runs: &[String]) -> Vec<String> {
    runs.iter()
        .map(|run| run.split_whitespace().next().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn a_jail_change_runs_only_its_own_command_while_the_inventory_is_fresh() {
    for flavour in [Flavour::Legacy, Flavour::Python] {
        let fake = Fake::new(flavour);
        let s = service(&fake, flavour, Duration::from_secs(60));
        // The first create lists (legacy: to check its tag is free), and a
        // listjails fills the jails part of the inventory (Python leaves the
        // tag check to iocage, so its create lists nothing).
        ok(
            &s,
            json!({"action": "createjail", "props": "tag=seed release=10.2-RELEASE"}),
        )
        .await;
        ok(&s, json!({"action": "listjails"})).await;
        let before = fake.log().len();
        // Created by the service: known at once, with no listing.
        let reply = ok(
            &s,
            json!({"action": "createjail", "props": "tag=web1 release=10.2-RELEASE"}),
        )
        .await;
        let (uuid, _) = created(&reply["createjail"]["success"]["Successfully created"]);
        ok(&s, json!({"action": "startjail", "jail": "web1"})).await;
        // By UUID prefix where jails have UUIDs (Python names them by tag).
        let name = uuid.get(..8).filter(|_| uuid.len() == 36).unwrap_or(&uuid);
        ok(&s, json!({"action": "stopjail", "jail": name})).await;
        let runs = runs_since(&fake, before);
        let words = commands(&runs);
        assert!(
            !words.iter().any(|word| word == "list"),
            "{flavour:?}: a listing ran: {runs:#?}"
        );
        assert_eq!(
            words.iter().filter(|word| *word == "start").count(),
            1,
            "{flavour:?}: {runs:#?}"
        );
        // A jail the service destroyed is gone from it at once: 404, after
        // one more listing (a name is looked up afresh before a 404).
        ok(&s, json!({"action": "destroyjail", "jail": "web1"})).await;
        let before = fake.log().len();
        let (code, details) = fails(&s, json!({"action": "startjail", "jail": "web1"})).await;
        assert_eq!(code, 404, "{flavour:?}: {details}");
        let words = commands(&runs_since(&fake, before));
        assert!(
            words.iter().all(|word| word == "list"),
            "{flavour:?}: {words:?}"
        );
        assert!(!words.is_empty(), "{flavour:?}: no listing before the 404");
    }
}

#[tokio::test]
async fn a_jail_made_behind_the_services_back_is_found_before_a_404() {
    for flavour in [Flavour::Legacy, Flavour::Python] {
        let fake = Fake::new(flavour);
        let s = service(&fake, flavour, Duration::from_secs(60));
        ok(&s, json!({"action": "listjails"})).await;
        // Another service over the same host (iocage run by hand, in effect).
        let other = fake.service_with(fake.runner(), Some(flavour));
        ok(
            &other,
            json!({"action": "createjail", "props": "tag=byhand release=10.2-RELEASE"}),
        )
        .await;
        let reply = ok(&s, json!({"action": "startjail", "jail": "byhand"})).await;
        assert!(
            reply["startjail"]["byhand"].is_object(),
            "{flavour:?}: {reply}"
        );
    }
}

#[tokio::test]
async fn with_no_freshness_window_every_change_lists_as_before() {
    let flavour = Flavour::Legacy;
    let fake = Fake::new(flavour);
    let s = service(&fake, flavour, Duration::ZERO);
    ok(
        &s,
        json!({"action": "createjail", "props": "tag=web1 release=10.2-RELEASE"}),
    )
    .await;
    let before = fake.log().len();
    ok(&s, json!({"action": "startjail", "jail": "web1"})).await;
    let words = commands(&runs_since(&fake, before));
    // Resolved before and after the jail's lock, each with a listing.
    assert!(
        words.iter().filter(|word| *word == "list").count() >= 2,
        "{words:?}"
    );
}
