//! Identical reads in flight share one iocage run: many concurrent
//! requests through `IocageService` start as many `iocage` processes as one
//! request does, counted in the fake's argv log.

mod support;

use iocage_service::Flavour;
use serde_json::json;
use support::{Fake, ok};

/// Runs the futures as concurrent tasks; their outputs in order.
async fn join_all<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_identical_reads_start_one_process() {
    for flavour in [Flavour::Legacy, Flavour::Python] {
        let fake = Fake::new(flavour);
        ok(
            &fake.service(),
            json!({"action": "createjail", "props": "tag=www release=10.2-RELEASE"}),
        )
        .await;
        // Slow iocage, so the requests overlap; the flavour is given, so no
        // `--version` runs.
        let runner = fake
            .runner()
            .env("FAKE_IOCAGE_FAULT", "slow")
            .env("FAKE_IOCAGE_DELAY_MS", "400");
        let s = fake.service_with(runner, Some(flavour));
        for action in ["df", "getdefaultsettings", "listjails"] {
            let before = fake.log().len();
            let one = ok(&s, json!({"action": action})).await;
            let per_request = fake.log().len() - before;
            assert!(per_request >= 1, "{flavour} {action}");

            let before = fake.log().len();
            let requests: Vec<_> = (0..20)
                .map(|_| {
                    let s = s.clone();
                    async move { ok(&s, json!({"action": action})).await }
                })
                .collect();
            let replies = join_all(requests).await;
            let log = fake.log();
            assert_eq!(
                log.len() - before,
                per_request,
                "{flavour} {action}: 20 requests ran {:#?}",
                &log[before..]
            );
            assert!(
                replies.iter().all(|reply| *reply == one),
                "{flavour} {action}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn different_reads_are_not_merged() {
    let fake = Fake::new(Flavour::Legacy);
    let runner = fake
        .runner()
        .env("FAKE_IOCAGE_FAULT", "slow")
        .env("FAKE_IOCAGE_DELAY_MS", "300");
    let s = fake.service_with(runner, Some(Flavour::Legacy));
    let (df, defaults) = tokio::join!(
        ok(&s, json!({"action": "df"})),
        ok(&s, json!({"action": "getdefaultsettings"})),
    );
    assert_eq!(df, json!({"df": {}}));
    assert!(defaults["getdefaultsettings"]["defaults"].is_object());
    let mut log = fake.log();
    log.sort();
    assert_eq!(log, ["defaults", "df"]);
}
