//! `IocageService::handle_json`: reads of an unchanged simulated host are
//! answered from their serialized reply without a backend call, every change
//! is seen by the next read (also when changes and reads race), the bytes are
//! always those `handle` would give, and a backend without a generation (the
//! real iocage) is asked every time.

mod support;

use std::sync::Arc;
use std::time::Duration;

use iocage_service::{IocageService, SimBackend};
use serde_json::{Value, json};
use support::{Recorder, call, caller, ok};
use sysadm_proto::IocageRequest;

/// The reply of `handle_json`, as JSON.
async fn json_reply(service: &IocageService, args: &Value) -> Result<Value, (u16, String)> {
    let request = IocageRequest::from_args(args).map_err(|error| (400, error.to_string()))?;
    service
        .handle_json(request, &caller())
        .await
        .map(|raw| serde_json::from_str(raw.get()).expect("replies are JSON"))
        .map_err(|error| (error.code().code(), error.details().to_owned()))
}

/// The same read through `handle_json` and through `handle`: same answer.
async fn assert_same(service: &IocageService, args: &Value) {
    let cached = json_reply(service, args).await;
    let direct = call(service, args.clone())
        .await
        .map(|reply| serde_json::to_value(reply).unwrap());
    assert_eq!(cached, direct, "{args}");
}

fn created_uuid(reply: &Value) -> String {
    let text = reply["createjail"]["success"]["Successfully created"]
        .as_str()
        .unwrap_or_else(|| panic!("not a create reply: {reply}"));
    text.split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn repeated_reads_of_an_unchanged_host_call_the_backend_once() {
    let backend = Recorder::new(Duration::ZERO);
    let service = IocageService::new(backend.clone());
    ok(
        &service,
        json!({"action": "createjail", "props": "tag=web release=10.2-RELEASE"}),
    )
    .await;
    backend.reset();
    let reads = [
        (json!({"action": "listjails"}), "list_jails"),
        (json!({"action": "df"}), "df"),
        (json!({"action": "getdefaultsettings"}), "defaults"),
        (
            json!({"action": "getjailsettings", "jail": "web", "prop": "all"}),
            "get_all",
        ),
    ];
    for (args, operation) in &reads {
        let first = json_reply(&service, args).await.unwrap();
        for _ in 0..5 {
            assert_eq!(json_reply(&service, args).await.unwrap(), first, "{args}");
        }
        assert_eq!(backend.count(operation), 1, "{args}: {:?}", backend.calls());
    }
    // An argument spelled the same way is the same read; another is not.
    let other = json!({"action": "getjailsettings", "jail": "web", "prop": "ip4_addr"});
    json_reply(&service, &other).await.unwrap();
    assert_eq!(backend.count("get_property"), 1);
}

#[tokio::test]
async fn every_change_is_seen_by_the_next_read() {
    let backend = Recorder::new(Duration::ZERO);
    let service = IocageService::new(backend.clone());
    let reads = [
        json!({"action": "listjails"}),
        json!({"action": "df"}),
        json!({"action": "getjailsettings", "jail": "web", "prop": "state"}),
        json!({"action": "getjailsettings", "jail": "web", "prop": "all"}),
        json!({"action": "getjailsettings", "prop": "ip4_addr"}),
    ];
    let changes = [
        json!({"action": "createjail", "props": "tag=web release=10.2-RELEASE"}),
        json!({"action": "startjail", "jail": "web"}),
        json!({"action": "capjail", "jail": "web"}),
        json!({"action": "clonejail", "jail": "web", "props": "tag=copy"}),
        json!({"action": "stopjail", "jail": "web"}),
        json!({"action": "destroyjail", "jail": "copy"}),
        json!({"action": "deactivatepool", "pool": "tank"}),
        json!({"action": "activatepool", "pool": "tank"}),
        json!({"action": "destroyjail", "jail": "web"}),
    ];
    for change in &changes {
        // Read everything twice (the second from the cache), change, repeat.
        for args in &reads {
            assert_same(&service, args).await;
            assert_same(&service, args).await;
        }
        let _ = call(&service, change.clone()).await;
    }
    for args in &reads {
        assert_same(&service, args).await;
    }
    // And a created jail shows up in the very next listing.
    let before = json_reply(&service, &reads[0]).await.unwrap();
    let created = ok(
        &service,
        json!({"action": "createjail", "props": "tag=late release=10.2-RELEASE"}),
    )
    .await;
    let after = json_reply(&service, &reads[0]).await.unwrap();
    let uuid = created_uuid(&created);
    assert!(before.get("listjails").unwrap().get(&uuid).is_none());
    assert_eq!(after["listjails"][&uuid]["tag"], "late", "{after}");
    // Clean everything away; the reads follow.
    ok(&service, json!({"action": "cleanall"})).await;
    for args in &reads {
        assert_same(&service, args).await;
    }
    assert_eq!(
        json_reply(&service, &reads[0]).await.unwrap(),
        json!({"listjails": {}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_acknowledged_while_reads_race_is_in_every_later_read() {
    let backend = Recorder::new(Duration::ZERO);
    let service = IocageService::new(backend.clone());
    let listjails = json!({"action": "listjails"});
    // Readers that keep the cache busy while jails are created.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (service, stop, args) = (service.clone(), stop.clone(), listjails.clone());
            tokio::spawn(async move {
                let mut reads = 0u32;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    json_reply(&service, &args).await.unwrap();
                    reads += 1;
                    tokio::task::yield_now().await;
                }
                reads
            })
        })
        .collect();
    let creators: Vec<_> = (0..40)
        .map(|index| {
            let (service, args) = (service.clone(), listjails.clone());
            tokio::spawn(async move {
                let props = format!("tag=race{index} release=10.2-RELEASE");
                let created = ok(&service, json!({"action": "createjail", "props": props})).await;
                let uuid = created_uuid(&created);
                let listing = json_reply(&service, &args).await.unwrap();
                assert!(
                    listing["listjails"].get(&uuid).is_some(),
                    "race{index} ({uuid}) was acknowledged but is missing from the next listing"
                );
            })
        })
        .collect();
    for creator in creators {
        creator.await.expect("creator");
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut reads = 0;
    for reader in readers {
        reads += reader.await.expect("reader");
    }
    assert!(reads > 0, "the readers never ran");
    let listing = json_reply(&service, &listjails).await.unwrap();
    assert_eq!(listing["listjails"].as_object().unwrap().len(), 40);
}

#[tokio::test]
async fn a_backend_without_a_generation_is_asked_every_time() {
    let backend = Recorder::over(SimBackend::in_memory().without_generation(), Duration::ZERO);
    let service = IocageService::new(backend.clone());
    let args = json!({"action": "listjails"});
    for _ in 0..3 {
        json_reply(&service, &args).await.unwrap();
    }
    assert_eq!(backend.count("list_jails"), 3, "{:?}", backend.calls());
}

#[tokio::test]
async fn bad_requests_are_refused_the_same_way_and_reach_no_backend() {
    let backend = Recorder::new(Duration::ZERO);
    let service = IocageService::new(backend.clone());
    let bad = json!({"action": "getjailsettings", "jail": "web;reboot", "prop": "all"});
    for _ in 0..2 {
        let (code, details) = json_reply(&service, &bad).await.unwrap_err();
        assert_eq!(code, 400, "{details}");
    }
    assert!(backend.calls().is_empty(), "{:?}", backend.calls());
}

/// A slow read that read the host before a change must not answer a read
/// asked after the change was answered: not by coalescing (with or without
/// a generation), and not through the cache.
#[tokio::test]
async fn a_read_asked_after_a_change_never_joins_a_read_from_before_it() {
    for host in [
        SimBackend::in_memory(),
        SimBackend::in_memory().without_generation(),
    ] {
        let backend = Recorder::over(host, Duration::ZERO);
        let service = IocageService::new(backend.clone());
        backend.set_read_tail(Duration::from_millis(300));
        let listjails = json!({"action": "listjails"});
        let early = {
            let (service, args) = (service.clone(), listjails.clone());
            tokio::spawn(async move { json_reply(&service, &args).await })
        };
        // Let the early read take its snapshot, then change the host.
        tokio::time::sleep(Duration::from_millis(50)).await;
        backend.set_read_tail(Duration::ZERO);
        let created = ok(
            &service,
            json!({"action": "createjail", "props": "tag=late release=10.2-RELEASE"}),
        )
        .await;
        let uuid = created_uuid(&created);
        let later = json_reply(&service, &listjails).await.unwrap();
        assert_eq!(later["listjails"][&uuid]["tag"], "late", "{later}");
        let later = call(&service, listjails.clone()).await.unwrap();
        let later = serde_json::to_value(later).unwrap();
        assert_eq!(later["listjails"][&uuid]["tag"], "late", "{later}");
        // The early read did answer from before the change (so the test
        // shows something), and what it read was not kept for later reads.
        let early = early.await.unwrap().unwrap();
        assert!(early["listjails"].get(&uuid).is_none(), "{early}");
        let last = json_reply(&service, &listjails).await.unwrap();
        assert_eq!(last["listjails"][&uuid]["tag"], "late", "{last}");
    }
}
