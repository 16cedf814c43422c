//! Reads that do not wait (issue 19 item 2): on a backend without a
//! generation (the real iocage, modelled by the simulated host with its
//! generation hidden), `ServiceOptions::read_ttl` lets a recent answer
//! answer identical reads with no backend call, invalidated by every change
//! the service finishes, and `read_stale` serves an older one at once while
//! one background read replaces it. Counted with the recording backend.

mod support;

use std::sync::Arc;
use std::time::Duration;

use iocage_service::{Backend, IocageService, JsonReply, ServiceOptions, SimBackend};
use serde_json::{Value, json};
use support::{Recorder, caller, ok};
use sysadm_proto::IocageRequest;

/// A recording backend without a generation, and a service over it.
fn service(read_ttl: Duration, read_stale: Duration) -> (IocageService, Arc<Recorder>) {
    let backend = Recorder::over(SimBackend::in_memory().without_generation(), Duration::ZERO);
    let options = ServiceOptions {
        read_ttl,
        read_stale,
        ..ServiceOptions::default()
    };
    (
        IocageService::with_options(backend.clone(), options),
        backend,
    )
}

async fn listjails(service: &IocageService) -> Result<JsonReply, (u16, String)> {
    let request = IocageRequest::from_args(&json!({"action": "listjails"})).unwrap();
    service
        .handle_json_with_age(request, &caller(), false)
        .await
        .map_err(|error| (error.code().code(), error.details().to_owned()))
}

fn tags(reply: &JsonReply) -> Vec<String> {
    let value: Value = serde_json::from_str(reply.args.get()).unwrap();
    let mut tags: Vec<String> = value["listjails"]
        .as_object()
        .unwrap()
        .values()
        .map(|jail| jail["tag"].as_str().unwrap().to_owned())
        .collect();
    tags.sort();
    tags
}

async fn create(service: &IocageService, tag: &str) {
    let props = format!("tag={tag} release=10.2-RELEASE");
    ok(service, json!({"action": "createjail", "props": props})).await;
}

/// A jail made behind the service's back, as iocage run by hand.
async fn by_hand(backend: &Recorder, tag: &str) {
    let props = [
        ("tag".to_owned(), tag.to_owned()),
        ("release".to_owned(), "10.2-RELEASE".to_owned()),
    ];
    backend.create(&props, false).await.unwrap();
}

/// The backend was asked for `count` listings so far.
fn assert_listings(backend: &Recorder, count: usize) {
    assert_eq!(backend.count("list_jails"), count, "{:?}", backend.calls());
}

/// Waits (bounded) until `backend` has been asked for `count` listings.
async fn listings_reach(backend: &Recorder, count: usize) {
    for _ in 0..1000 {
        if backend.count("list_jails") >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the backend was asked for {} listings, not {count}",
        backend.count("list_jails")
    );
}

#[tokio::test]
async fn within_the_ttl_a_read_is_answered_from_the_kept_answer_with_its_age() {
    let (service, backend) = service(Duration::from_secs(60), Duration::ZERO);
    create(&service, "one").await;
    backend.reset();
    let first = listjails(&service).await.unwrap();
    assert_eq!(first.age, None, "read for this request: no age");
    let second = listjails(&service).await.unwrap();
    assert_listings(&backend, 1);
    assert!(second.age.is_some(), "a kept answer says how old it is");
    assert_eq!(second.args.get(), first.args.get());
    // The other shape is kept apart (its own first read asks).
    let request = IocageRequest::from_args(&json!({"action": "listjails"})).unwrap();
    let plain = service
        .handle_json(request.clone(), &caller())
        .await
        .unwrap();
    assert_eq!(plain.get(), first.args.get());
    let with = service
        .handle_json_with_age(request, &caller(), true)
        .await
        .unwrap();
    assert_eq!(with.age, None);
    assert!(with.args.get().contains("\"messages\""), "{}", with.args);
    assert_listings(&backend, 2);
}

#[tokio::test]
async fn a_change_the_service_finished_is_seen_by_the_next_read() {
    let (service, backend) = service(Duration::from_secs(60), Duration::from_secs(60));
    create(&service, "one").await;
    listjails(&service).await.unwrap();
    create(&service, "two").await;
    // (The create's tag check lists too.)
    let before = backend.count("list_jails");
    let after = listjails(&service).await.unwrap();
    assert_eq!(after.age, None, "asked afresh after the change");
    assert_eq!(tags(&after), ["one", "two"]);
    assert_listings(&backend, before + 1);
}

#[tokio::test]
async fn a_read_that_started_before_a_change_finished_is_not_served_after_it() {
    let (service, backend) = service(Duration::from_secs(60), Duration::from_secs(60));
    backend.set_read_tail(Duration::from_millis(300));
    let early = {
        let service = service.clone();
        tokio::spawn(async move { listjails(&service).await })
    };
    // The early read has read the host; the change finishes while it is
    // still on its way.
    listings_reach(&backend, 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    backend.set_read_tail(Duration::ZERO);
    create(&service, "late").await;
    let before = backend.count("list_jails");
    let later = listjails(&service).await.unwrap();
    assert_eq!(tags(&later), ["late"]);
    let early = early.await.unwrap().unwrap();
    assert!(
        tags(&early).is_empty(),
        "the early read saw no jail: {early:?}"
    );
    // What the early read got was not kept over the later one.
    for _ in 0..3 {
        let again = listjails(&service).await.unwrap();
        assert_eq!(tags(&again), ["late"], "{again:?}");
        assert!(again.age.is_some());
    }
    assert_listings(&backend, before + 1);
}

#[tokio::test]
async fn past_the_ttl_a_read_asks_again_and_sees_changes_made_by_hand() {
    let (service, backend) = service(Duration::from_millis(200), Duration::ZERO);
    listjails(&service).await.unwrap();
    by_hand(&backend, "outside").await;
    let within = listjails(&service).await.unwrap();
    assert!(tags(&within).is_empty(), "within the window: {within:?}");
    assert!(within.age.is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = listjails(&service).await.unwrap();
    assert_eq!(after.age, None);
    assert_eq!(tags(&after), ["outside"]);
    assert_listings(&backend, 2);
}

#[tokio::test]
async fn a_stale_answer_is_given_at_once_while_exactly_one_refresh_runs() {
    let ttl = Duration::from_secs(1);
    let (service, backend) = service(ttl, Duration::from_secs(60));
    listjails(&service).await.unwrap();
    by_hand(&backend, "outside").await;
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    // Every listing from now on hangs until the gate opens: a stale read
    // that waited for its refresh would never answer.
    let gate = backend.hold_listings();
    let stale = listjails(&service).await.unwrap();
    assert!(tags(&stale).is_empty(), "the old answer: {stale:?}");
    assert!(stale.age.unwrap() >= ttl, "{stale:?}");
    listings_reach(&backend, 2).await;
    for _ in 0..5 {
        let again = listjails(&service).await.unwrap();
        assert!(tags(&again).is_empty(), "{again:?}");
        assert!(again.age.is_some());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        backend.count("list_jails"),
        2,
        "one refresh, however many stale reads: {:?}",
        backend.calls()
    );
    gate.add_permits(1);
    // The refresh's answer replaces the old one, with no backend call.
    let mut refreshed = None;
    for _ in 0..1000 {
        let reply = listjails(&service).await.unwrap();
        if !tags(&reply).is_empty() {
            refreshed = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let refreshed = refreshed.expect("the refreshed answer within 10 s");
    assert_eq!(tags(&refreshed), ["outside"]);
    assert!(refreshed.age.unwrap() < ttl, "{refreshed:?}");
    assert_listings(&backend, 2);
}

#[tokio::test]
async fn a_failed_refresh_does_not_extend_the_stale_answer() {
    let (ttl, stale) = (Duration::from_millis(100), Duration::from_millis(600));
    let (service, backend) = service(ttl, stale);
    let kept_at = std::time::Instant::now();
    listjails(&service).await.unwrap();
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    backend.fail_listings(true);
    let served = listjails(&service).await.unwrap();
    assert!(served.age.is_some(), "stale, answered at once: {served:?}");
    listings_reach(&backend, 2).await;
    // Past the whole window the old answer is gone: the read asks, and
    // its failure is the answer.
    let wait = (ttl + stale + Duration::from_millis(100)).saturating_sub(kept_at.elapsed());
    tokio::time::sleep(wait).await;
    let (code, details) = listjails(&service).await.unwrap_err();
    assert_eq!(code, 502, "{details}");
    assert!(backend.count("list_jails") >= 3, "{:?}", backend.calls());
    // An answer that failed is not kept either.
    backend.fail_listings(false);
    let fresh = listjails(&service).await.unwrap();
    assert_eq!(fresh.age, None);
}

#[tokio::test]
async fn with_no_ttl_every_read_asks_the_backend() {
    let (service, backend) = service(Duration::ZERO, Duration::ZERO);
    for _ in 0..3 {
        let reply = listjails(&service).await.unwrap();
        assert_eq!(reply.age, None);
    }
    assert_listings(&backend, 3);
}

#[tokio::test]
async fn a_backend_with_a_generation_ignores_the_read_ttl() {
    let backend = Recorder::new(Duration::ZERO);
    let options = ServiceOptions {
        read_ttl: Duration::from_secs(60),
        read_stale: Duration::from_secs(60),
        ..ServiceOptions::default()
    };
    let service = IocageService::with_options(backend.clone(), options);
    for _ in 0..3 {
        let reply = listjails(&service).await.unwrap();
        assert_eq!(reply.age, None, "the generation cache is exact: no age");
    }
    assert_listings(&backend, 1);
    // Made behind the service's back: the generation changes, and the next
    // read sees it at once.
    by_hand(&backend, "outside").await;
    let reply = listjails(&service).await.unwrap();
    assert_eq!(tags(&reply), ["outside"]);
}
