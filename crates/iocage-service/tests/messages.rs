//! The messages iocage printed around its output, kept for the request:
//! shown only to callers that ask for them, also when reads with and
//! without them share one backend call or one cached reply.

mod support;

use std::time::Duration;

use iocage_service::{Level, Message};
use serde_json::{Value, json};
use support::{Recorder, caller, ok};
use sysadm_proto::IocageRequest;

fn warning() -> Message {
    Message {
        level: Level::Warning,
        text: "No default gateway found for ipv6.".into(),
    }
}

fn listjails() -> IocageRequest {
    IocageRequest::from_args(&json!({"action": "listjails"})).unwrap()
}

fn parsed(reply: &serde_json::value::RawValue) -> Value {
    serde_json::from_str(reply.get()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reads_with_and_without_messages_share_a_call_and_keep_their_shapes() {
    let backend = Recorder::new(Duration::from_millis(2));
    let service = iocage_service::IocageService::new(backend.clone());
    ok(
        &service,
        json!({"action": "createjail", "props": "tag=www release=10.2-RELEASE"}),
    )
    .await;
    backend.print_on_reads(warning());
    // Reads answer late, so the four below are in flight together.
    backend.set_read_tail(Duration::from_millis(200));
    backend.reset();
    let caller = caller();
    let (plain, with, plain2, with2) = tokio::join!(
        service.handle_json(listjails(), &caller),
        service.handle_json_with_messages(listjails(), &caller),
        service.handle_json(listjails(), &caller),
        service.handle_json_with_messages(listjails(), &caller),
    );
    assert_eq!(backend.count("list_jails"), 1, "{:?}", backend.calls());
    let expected = json!([{"level": "warning", "text": "No default gateway found for ipv6."}]);
    for plain in [plain.unwrap(), plain2.unwrap()] {
        let plain = parsed(&plain);
        assert_eq!(plain.as_object().unwrap().len(), 1, "{plain}");
        assert!(plain["listjails"].is_object(), "{plain}");
    }
    for with in [with.unwrap(), with2.unwrap()] {
        let with = parsed(&with);
        assert_eq!(with["messages"], expected, "{with}");
        assert!(with["listjails"].is_object(), "{with}");
    }
    // Answered again from the reply cache, no backend call: each its own shape.
    let plain = parsed(&service.handle_json(listjails(), &caller).await.unwrap());
    let with = parsed(
        &service
            .handle_json_with_messages(listjails(), &caller)
            .await
            .unwrap(),
    );
    assert_eq!(backend.count("list_jails"), 1, "{:?}", backend.calls());
    assert!(plain.get("messages").is_none(), "{plain}");
    assert_eq!(with["messages"], expected, "{with}");
}

#[tokio::test]
async fn a_change_carries_what_iocage_printed_and_a_quiet_host_prints_nothing() {
    let backend = Recorder::new(Duration::ZERO);
    let service = iocage_service::IocageService::new(backend.clone());
    let create = |tag: &str| {
        IocageRequest::from_args(
            &json!({"action": "createjail", "props": format!("tag={tag} release=10.2-RELEASE")}),
        )
        .unwrap()
    };
    let (reply, printed) = service
        .handle_with_messages(create("quiet"), &caller())
        .await;
    reply.unwrap();
    assert_eq!(printed, []);
    backend.print_on_reads(warning());
    let (reply, printed) = service
        .handle_with_messages(create("loud"), &caller())
        .await;
    reply.unwrap();
    assert!(
        !printed.is_empty() && printed.iter().all(|m| *m == warning()),
        "{printed:?}"
    );
}
