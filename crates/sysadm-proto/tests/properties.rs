//! Properties of the wire format over generated input: what a client encodes
//! decodes back to the same request, no input makes decoding panic, and a
//! created jail's text gives back its UUID and tag.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use sysadm_proto::{
    Action, Created, CreatedJail, IocageRequest, IocageResponse, JailSettingsQuery, Request,
    ServerMessage,
};

/// Any string, biased towards the characters jail names and props use.
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9._@:= -]{0,24}", any::<String>(),]
}

/// A property name other than `all`, which is not a property but the
/// documented way of asking for every property (see `all_is_not_a_property`).
fn prop_name() -> impl Strategy<Value = String> {
    text().prop_filter("'all' names every property", |prop| prop != "all")
}

fn request() -> impl Strategy<Value = IocageRequest> {
    use IocageRequest as R;
    prop_oneof![
        proptest::option::of(text()).prop_map(|pool| R::ActivatePool { pool }),
        text().prop_map(|jail| R::CapJail { jail }),
        Just(R::CleanAll),
        Just(R::CleanJails),
        Just(R::CleanReleases),
        Just(R::CleanTemplates),
        (text(), text()).prop_map(|(jail, props)| R::CloneJail { jail, props }),
        (text(), any::<bool>()).prop_map(|(props, empty)| R::CreateJail { props, empty }),
        text().prop_map(|pool| R::DeactivatePool { pool }),
        text().prop_map(|jail| R::DestroyJail { jail }),
        Just(R::Df),
        (text(), text(), text()).prop_map(|(jail, user, command)| R::ExecJail {
            jail,
            user,
            command
        }),
        Just(R::GetDefaultSettings),
        (text(), prop_name()).prop_map(|(jail, prop)| R::GetJailSettings(
            JailSettingsQuery::Property { jail, prop }
        )),
        text().prop_map(|jail| R::GetJailSettings(JailSettingsQuery::All { jail })),
        prop_name().prop_map(|prop| R::GetJailSettings(JailSettingsQuery::Recursive { prop })),
        Just(R::ListJails),
        Just(R::ListPlugins),
        Just(R::ListReleases),
        text().prop_map(|jail| R::StartJail { jail }),
        text().prop_map(|jail| R::StopJail { jail }),
    ]
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|number| json!(number)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(text(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// An args object that looks like a request: a real (or nearly real) action
/// and the argument names the actions read, with values of any type.
fn args_like() -> impl Strategy<Value = Value> {
    let action = prop_oneof![
        proptest::sample::select(Action::ALL.map(Action::as_str).to_vec()).prop_map(Value::from),
        json_value(),
    ];
    let key = proptest::sample::select(vec![
        "jail", "prop", "props", "switches", "pool", "user", "command",
    ]);
    let switches =
        proptest::sample::select(vec!["-r", "-e", "", " -r ", "-x"]).prop_map(Value::from);
    let value = prop_oneof![json_value(), switches, Just(json!("all"))];
    (action, proptest::collection::btree_map(key, value, 0..5)).prop_map(|(action, arguments)| {
        let mut object: Map<String, Value> = arguments
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
        object.insert("action".into(), action);
        Value::Object(object)
    })
}

proptest! {
    #[test]
    fn a_request_decodes_from_the_args_it_encodes_to(request in request()) {
        let args = request.to_args();
        prop_assert_eq!(IocageRequest::from_args(&args), Ok(request.clone()));
        // Serializing the request gives the same args.
        prop_assert_eq!(serde_json::to_value(&request).unwrap(), args);
    }

    #[test]
    fn decoding_any_args_never_panics_and_is_stable(args in prop_oneof![json_value(), args_like()]) {
        if let Ok(request) = IocageRequest::from_args(&args) {
            // Whatever decodes re-encodes to args that decode the same way.
            prop_assert_eq!(IocageRequest::from_args(&request.to_args()), Ok(request));
        }
        let _ = serde_json::from_value::<IocageResponse>(args.clone());
        let _ = ServerMessage::from_value(args.clone());
        if let Ok(envelope) = Request::from_value(json!({
            "namespace": "sysadm", "name": "iocage", "id": 1, "args": args
        })) {
            prop_assert_eq!(envelope.args, args);
        }
    }

    #[test]
    fn decoding_any_envelope_never_panics(value in json_value(), text in any::<String>()) {
        let _ = Request::from_value(value.clone());
        let _ = Request::from_json(&value.to_string());
        let _ = Request::from_json(&text);
    }

    #[test]
    fn a_created_jail_gives_back_its_uuid_and_tag(
        uuid in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        tag in prop_oneof![
            "[a-zA-Z0-9._@: ()-]{0,24}",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}@[0-9]{2}:[0-9]{2}:[0-9]{2}",
            any::<String>(),
        ],
    ) {
        let created = CreatedJail::new(&uuid, &tag);
        prop_assert_eq!(created.uuid(), uuid.as_str());
        prop_assert_eq!(created.tag(), Some(tag.as_str()));
        prop_assert_eq!(created.as_str(), format!(" {uuid} ({tag})"));

        // And through the wire.
        let wire = serde_json::to_value(Created::new(&uuid, &tag)).unwrap();
        prop_assert_eq!(&wire, &json!({"Successfully created": format!(" {uuid} ({tag})")}));
        let back: Created = serde_json::from_value(wire).unwrap();
        prop_assert_eq!(back.jail.uuid(), uuid.as_str());
        prop_assert_eq!(back.jail.tag(), Some(tag.as_str()));
    }
}

#[test]
fn all_is_not_a_property() {
    // `prop: "all"` asks for every property, so a `Property` query for "all"
    // is sent as, and decodes to, the `All` query.
    let query = IocageRequest::GetJailSettings(JailSettingsQuery::Property {
        jail: "test".into(),
        prop: "all".into(),
    });
    assert_eq!(
        IocageRequest::from_args(&query.to_args()),
        Ok(IocageRequest::GetJailSettings(JailSettingsQuery::All {
            jail: "test".into()
        }))
    );
}

proptest! {
    /// The borrowed `listjails` row the computed read path writes gives the
    /// very bytes of the owned one, for any strings (escaping included) and
    /// any JID, the largest too.
    #[test]
    fn borrowed_jail_summary_serializes_as_the_owned_one(
        boot in text(), ip4 in text(), state in text(), tag in text(), jail_type in text(),
        jid in proptest::option::of(prop_oneof![any::<u32>(), Just(0u32), Just(u32::MAX)]),
    ) {
        let borrowed = sysadm_proto::JailSummaryRef {
            boot: &boot, ip4: &ip4, jid, state: &state, tag: &tag, jail_type: &jail_type,
        };
        let owned = borrowed.to_summary();
        prop_assert_eq!(&owned.jid, &jid.map_or_else(|| "-".to_owned(), |jid| jid.to_string()));
        prop_assert_eq!(
            serde_json::to_string(&borrowed).unwrap(),
            serde_json::to_string(&owned).unwrap()
        );
    }
}
