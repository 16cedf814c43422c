//! The service's concurrency rules, shown with many tasks at once against a
//! backend that records overlap: changes to one jail never overlap (whatever
//! name the client used), different jails proceed in parallel, clean and pool
//! changes overlap nothing, identical reads share one backend call, and a
//! host-wide change waiting behind a hung jail change holds up no read.

mod support;

use std::sync::Arc;
use std::time::Duration;

use iocage_service::IocageService;
use serde_json::{Value, json};
use support::{Recorder, call, ok};

const DELAY: Duration = Duration::from_millis(5);

/// A service over a recorder with jails `one` and `two`; returns one's UUID.
async fn setup() -> (IocageService, Arc<Recorder>, String, String) {
    let backend = Recorder::new(DELAY);
    let service = IocageService::new(backend.clone());
    let mut uuids = Vec::new();
    for tag in ["one", "two"] {
        let reply = ok(
            &service,
            json!({"action": "createjail", "props": format!("tag={tag} release=10.2-RELEASE")}),
        )
        .await;
        let text = reply["createjail"]["success"]["Successfully created"]
            .as_str()
            .unwrap();
        uuids.push(text.split_whitespace().next().unwrap().to_owned());
    }
    backend.reset();
    let two = uuids.pop().unwrap();
    let one = uuids.pop().unwrap();
    (service, backend, one, two)
}

async fn run_all(
    service: &IocageService,
    requests: Vec<Value>,
) -> Vec<Result<Value, (u16, String)>> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|args| {
            let service = service.clone();
            tokio::spawn(async move {
                call(&service, args)
                    .await
                    .map(|reply| serde_json::to_value(reply).unwrap())
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_to_one_jail_are_serialised_across_its_names() {
    let (service, backend, uuid, _) = setup().await;
    // The same jail by tag, full UUID and short UUID.
    let names = ["one".to_owned(), uuid.clone(), uuid[..8].to_owned()];
    let mut requests = Vec::new();
    for i in 0..60 {
        let jail = &names[i % names.len()];
        requests.push(match i % 4 {
            0 => json!({"action": "startjail", "jail": jail}),
            1 => json!({"action": "execjail", "jail": jail, "command": "hostname"}),
            2 => json!({"action": "capjail", "jail": jail}),
            _ => json!({"action": "stopjail", "jail": jail}),
        });
    }
    let results = run_all(&service, requests).await;
    // Exec may find the jail stopped (409); nothing else may fail.
    for result in &results {
        if let Err((code, details)) = result {
            assert_eq!(*code, 409, "{details}");
        }
    }
    let changes = ["start", "stop", "cap", "exec"]
        .iter()
        .map(|op| backend.count(op))
        .sum::<usize>();
    assert_eq!(changes, 60);
    assert_eq!(
        backend.max_per_jail(),
        1,
        "two changes to one jail overlapped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn different_jails_change_in_parallel() {
    let (service, backend, _, _) = setup().await;
    let requests = (0..40)
        .map(|i| json!({"action": "capjail", "jail": if i % 2 == 0 { "one" } else { "two" }}))
        .collect();
    for (i, result) in run_all(&service, requests).await.into_iter().enumerate() {
        let tag = if i % 2 == 0 { "one" } else { "two" };
        assert_eq!(
            result.unwrap(),
            json!({"capjail": {"success": format!("jail {tag} capped.")}})
        );
    }
    assert_eq!(backend.max_per_jail(), 1);
    assert!(backend.max_total() >= 2, "two jails never worked at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clean_and_pool_changes_overlap_nothing() {
    let (service, backend, uuid, _) = setup().await;
    let mut requests = Vec::new();
    for i in 0..80 {
        requests.push(match i % 8 {
            0 => json!({"action": "cleanreleases"}),
            1 => json!({"action": "activatepool", "pool": "tank"}),
            2 => json!({"action": "cleantemplates"}),
            3 => json!({"action": "listjails"}),
            4 => json!({"action": "df"}),
            5 => json!({"action": "startjail", "jail": "two"}),
            6 => json!({"action": "getjailsettings", "jail": &uuid, "prop": format!("allow_mount{}", if i % 3 == 0 { "" } else { "_zfs" })}),
            _ => json!({"action": "capjail", "jail": "one"}),
        });
    }
    for result in run_all(&service, requests).await {
        result.expect("every request succeeds");
    }
    assert_eq!(backend.count("clean"), 20);
    assert_eq!(backend.count("activate"), 10);
    assert_eq!(
        backend.overlaps(),
        0,
        "an exclusive operation overlapped another"
    );
    assert!(
        backend.max_total() >= 2,
        "reads and changes never ran together"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_reads_in_flight_share_one_backend_call() {
    let backend = Recorder::new(Duration::from_millis(100));
    let service = IocageService::new(backend.clone());
    let results = run_all(&service, vec![json!({"action": "listjails"}); 50]).await;
    assert_eq!(backend.count("list_jails"), 1, "{:?}", backend.calls());
    let first = results[0].clone().unwrap();
    assert!(
        results
            .iter()
            .all(|result| result.as_ref().unwrap() == &first)
    );

    // Different reads do not share; a read after the first finished is fresh.
    backend.reset();
    let mut mixed = vec![json!({"action": "listjails"}); 20];
    mixed.extend(vec![json!({"action": "df"}); 20]);
    mixed.extend(vec![json!({"action": "listreleases"}); 10]);
    run_all(&service, mixed).await;
    assert_eq!(backend.count("list_jails"), 1);
    assert_eq!(backend.count("df"), 1);
    assert_eq!(backend.count("releases"), 1);
    ok(&service, json!({"action": "listjails"})).await;
    assert_eq!(backend.count("list_jails"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_finishes_even_if_its_caller_gives_up() {
    let backend = Recorder::new(Duration::from_millis(50));
    let service = IocageService::new(backend.clone());
    let abandoned = {
        let service = service.clone();
        tokio::spawn(async move { call(&service, json!({"action": "df"})).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    abandoned.abort();
    // A later identical read still gets an answer: either it joins the
    // running one or starts afresh, never waits on a dead entry.
    let reply = tokio::time::timeout(
        Duration::from_secs(2),
        call(&service, json!({"action": "df"})),
    )
    .await
    .expect("no hang");
    assert!(reply.is_ok());
    assert_eq!(backend.count("df"), 1, "the abandoned read was joined");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_tag_make_one_jail() {
    let (service, backend, _, _) = setup().await;
    let requests =
        vec![json!({"action": "createjail", "props": "tag=same release=10.3-RELEASE"}); 20];
    let results = run_all(&service, requests).await;
    let created = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(created, 1);
    for result in results.iter().filter_map(|result| result.as_ref().err()) {
        assert_eq!(result.0, 409, "{}", result.1);
    }
    // The service refuses a tag that exists before iocage runs (legacy
    // iocage would rename the other jail's tag): one create reaches it.
    assert_eq!(backend.count("create"), 1);
    let listed = ok(&service, json!({"action": "listjails"})).await;
    assert_eq!(listed["listjails"].as_object().unwrap().len(), 3);
}

/// Issue 16, item 6: with a `startjail` hung in iocage and a `cleanjails`
/// waiting for the host, reads are still answered, while the clean is still
/// blocked; the clean runs once the start ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_never_queue_behind_a_waiting_host_wide_change() {
    let (service, backend, _, _) = setup().await;
    let gate = backend.hold_starts();
    let start = {
        let service = service.clone();
        tokio::spawn(
            async move { call(&service, json!({"action": "startjail", "jail": "one"})).await },
        )
    };
    // The start is running (hung) in the backend.
    for _ in 0..1000 {
        if backend.count("start") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(backend.count("start"), 1, "the start reached the backend");
    let clean = {
        let service = service.clone();
        tokio::spawn(async move { call(&service, json!({"action": "cleanjails"})).await })
    };
    // Let the clean reach its wait for the host.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for args in [
        json!({"action": "listjails"}),
        json!({"action": "df"}),
        json!({"action": "getdefaultsettings"}),
        json!({"action": "getjailsettings", "jail": "two", "prop": "all"}),
    ] {
        // The start is held for as long as this test wants: a read queued
        // behind the clean would never come back, so 10 s only turns that
        // hang into a failure.
        let reply = tokio::time::timeout(Duration::from_secs(10), call(&service, args.clone()))
            .await
            .unwrap_or_else(|_| panic!("{args} waited for the blocked clean"));
        reply.unwrap_or_else(|error| panic!("{args}: {error:?}"));
        assert!(!clean.is_finished(), "the clean is still waiting");
        assert_eq!(backend.count("clean"), 0);
    }
    gate.add_permits(1);
    start
        .await
        .unwrap()
        .expect("the start succeeds once iocage answers");
    clean
        .await
        .unwrap()
        .expect("the clean runs after the start");
    assert_eq!(backend.count("clean"), 1);
    assert_eq!(backend.overlaps(), 0, "the clean overlapped nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_panics_is_a_500_and_the_next_identical_read_runs_afresh() {
    let backend = Recorder::new(Duration::ZERO);
    let service = IocageService::new(backend.clone());
    backend.panic_on_reads(true);
    let (status, _) = call(&service, json!({"action": "df"})).await.unwrap_err();
    assert_eq!(status, 500);
    backend.panic_on_reads(false);
    // Not joined to the read that panicked: asked afresh, and answered.
    ok(&service, json!({"action": "df"})).await;
    assert_eq!(backend.count("df"), 2, "{:?}", backend.calls());
}
