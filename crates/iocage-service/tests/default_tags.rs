//! Untagged creates and clones on a backend whose iocage would give every
//! jail made in one second the same default tag (legacy's `date "+%F@%T"`):
//! the service picks the first of `D`, `D_2`, `D_3`, ... that no jail has,
//! under the tag's lock, and passes it as `tag=`.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use iocage_service::IocageService;
use serde_json::{Value, json};
use support::{Recorder, call, ok};

const DATE: &str = "2016-02-09@23:47:04";

/// The tag in a create or clone reply's `" <uuid> (<tag>)"`.
fn tag_of(reply: &Value, action: &str) -> String {
    let text = reply[action]["success"]["Successfully created"]
        .as_str()
        .unwrap_or_else(|| panic!("{reply}"));
    let (_, tag) = text.trim().split_once(' ').expect("uuid and tag");
    tag.trim_start_matches('(').trim_end_matches(')').to_owned()
}

fn service() -> (IocageService, std::sync::Arc<Recorder>) {
    let backend = Recorder::new(Duration::from_millis(2));
    backend.set_default_tag(DATE);
    (IocageService::new(backend.clone()), backend)
}

async fn listed_tags(service: &IocageService) -> BTreeSet<String> {
    let listed = ok(service, json!({"action": "listjails"})).await;
    listed["listjails"]
        .as_object()
        .unwrap()
        .values()
        .map(|jail| jail["tag"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn untagged_creates_in_one_second_get_the_date_then_numbered_tags() {
    let (service, _) = service();
    let create = json!({"action": "createjail", "props": "release=10.2-RELEASE"});
    let first = ok(&service, create.clone()).await;
    assert_eq!(tag_of(&first, "createjail"), DATE);
    // The reply echoes the props the client sent, not the tag added.
    assert_eq!(first["createjail"]["props"], "release=10.2-RELEASE");
    let second = ok(&service, create.clone()).await;
    assert_eq!(tag_of(&second, "createjail"), format!("{DATE}_2"));
    // A tag taken by name is skipped.
    ok(
        &service,
        json!({"action": "createjail", "props": format!("tag={DATE}_3")}),
    )
    .await;
    let fourth = ok(&service, create.clone()).await;
    assert_eq!(tag_of(&fourth, "createjail"), format!("{DATE}_4"));
    // Clones too.
    let clone = ok(&service, json!({"action": "clonejail", "jail": DATE})).await;
    assert_eq!(tag_of(&clone, "clonejail"), format!("{DATE}_5"));
    // An explicit tag that exists is still a 409, never renumbered.
    let (code, details) = call(
        &service,
        json!({"action": "createjail", "props": format!("tag={DATE}")}),
    )
    .await
    .unwrap_err();
    assert_eq!(code, 409, "{details}");
    let expected: BTreeSet<String> = std::iter::once(DATE.to_owned())
        .chain((2..=5).map(|n| format!("{DATE}_{n}")))
        .collect();
    assert_eq!(listed_tags(&service).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_untagged_and_tagged_creates_never_share_a_tag() {
    let (service, _) = service();
    // Untagged creates racing creates that name the tags they would pick.
    let requests: Vec<Value> = (0..6)
        .map(|_| json!({"action": "createjail", "props": ""}))
        .chain((2..4).map(|n| json!({"action": "createjail", "props": format!("tag={DATE}_{n}")})))
        .collect();
    let replies = futures_util::future::join_all(requests.into_iter().map(|args| {
        let service = service.clone();
        async move { call(&service, args).await }
    }))
    .await;
    let mut tags = Vec::new();
    for (at, reply) in replies.into_iter().enumerate() {
        match reply {
            Ok(reply) => tags.push(tag_of(&serde_json::to_value(reply).unwrap(), "createjail")),
            // A named tag an untagged create took first; the untagged never fail.
            Err((code, details)) => assert!(at >= 6 && code == 409, "{at}: {code} {details}"),
        }
    }
    assert!(tags.len() >= 6, "{tags:?}");
    let unique: BTreeSet<String> = tags.iter().cloned().collect();
    assert_eq!(unique.len(), tags.len(), "{tags:?}");
    assert_eq!(listed_tags(&service).await, unique);
}

#[tokio::test]
async fn a_backend_whose_default_is_unique_gets_no_tag() {
    // The simulated host (and Python iocage) name untagged jails themselves.
    let backend = Recorder::new(Duration::ZERO);
    let service = IocageService::new(backend);
    let reply = ok(&service, json!({"action": "createjail", "props": ""})).await;
    let tag = tag_of(&reply, "createjail");
    assert_ne!(tag, DATE);
    assert_eq!(
        tag.len(),
        DATE.len(),
        "the simulated host's own date tag: {tag}"
    );
}
