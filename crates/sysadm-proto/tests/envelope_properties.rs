//! Properties of whole envelopes (issue 9): a request with any id, class and
//! iocage args survives encoding and decoding; replies decode to what was
//! sent; and cut or arbitrary text never makes decoding panic.
//! (`properties.rs` covers the `args` of iocage requests on their own.)

use proptest::prelude::*;
use serde_json::{Number, Value, json};
use sysadm_proto::{
    ErrorArgs, ErrorCode, ErrorResponse, IocageRequest, JailSettingsQuery, Request, RequestId,
    Response, ServerMessage,
};

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9._@:= -]{0,16}", any::<String>()]
}

/// Ids as clients send them: strings, integers of either sign, and
/// decimals of up to 15 significant digits.
fn request_id() -> impl Strategy<Value = RequestId> {
    prop_oneof![
        text().prop_map(RequestId::Text),
        any::<i64>().prop_map(|n| RequestId::Number(Number::from(n))),
        any::<u64>().prop_map(|n| RequestId::Number(Number::from(n))),
        (any::<i32>(), 1..6i32)
            .prop_filter_map("a decimal", |(units, places)| {
                Number::from_f64(f64::from(units) / 10f64.powi(places))
            })
            .prop_map(RequestId::Number),
    ]
}

/// A property name. `prop: "all"` is the documented spelling of the All
/// query, so it is left out of Property and Recursive queries.
fn prop() -> impl Strategy<Value = String> {
    text().prop_filter("'all' names every property", |prop| prop != "all")
}

fn iocage_request() -> impl Strategy<Value = IocageRequest> {
    use IocageRequest as R;
    prop_oneof![
        proptest::option::of(text()).prop_map(|pool| R::ActivatePool { pool }),
        text().prop_map(|jail| R::StartJail { jail }),
        text().prop_map(|jail| R::DestroyJail { jail }),
        (text(), text()).prop_map(|(jail, props)| R::CloneJail { jail, props }),
        (text(), any::<bool>()).prop_map(|(props, empty)| R::CreateJail { props, empty }),
        (text(), text(), text()).prop_map(|(jail, user, command)| R::ExecJail {
            jail,
            user,
            command
        }),
        (text(), prop()).prop_map(
            |(jail, prop)| R::GetJailSettings(JailSettingsQuery::Property { jail, prop })
        ),
        prop().prop_map(|prop| R::GetJailSettings(JailSettingsQuery::Recursive { prop })),
        Just(R::ListJails),
        Just(R::CleanAll),
    ]
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(text(), inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    proptest::sample::select(ErrorCode::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_request_envelope_round_trips_with_any_id(
        namespace in text(),
        name in text(),
        id in proptest::option::of(request_id()),
        iocage in iocage_request(),
    ) {
        let request = Request { namespace, name, id, args: iocage.to_args() };
        let text = serde_json::to_string(&request).unwrap();
        let decoded = Request::from_json(&text).unwrap();
        prop_assert_eq!(&decoded, &request);
        prop_assert_eq!(Request::from_value(serde_json::to_value(&request).unwrap()).unwrap(), request.clone());
        // The reply carries the id back, `""` when there was none.
        prop_assert_eq!(decoded.reply_id(), request.id.clone().unwrap_or_default());
        prop_assert_eq!(RequestId::lenient(&serde_json::from_str(&text).unwrap()), decoded.reply_id());
        // And the args decode to the request that made them.
        prop_assert_eq!(IocageRequest::from_args(&decoded.args), Ok(iocage));
    }

    /// A numeric id comes back as the same number, to the last digit (the
    /// workspace enables serde_json's `float_roundtrip` for this). Spellings
    /// are not kept: `1.50` comes back as `1.5`, and integers past u64 as floats.
    #[test]
    fn a_full_precision_decimal_id_round_trips(
        id in any::<f64>().prop_filter_map("JSON has no NaN or infinity", Number::from_f64),
    ) {
        let request = Request {
            namespace: "sysadm".into(),
            name: "iocage".into(),
            id: Some(RequestId::Number(id)),
            args: json!({"action": "listjails"}),
        };
        let text = serde_json::to_string(&request).unwrap();
        prop_assert_eq!(Request::from_json(&text).unwrap(), request);
    }

    #[test]
    fn every_strict_prefix_of_an_envelope_is_invalid_json(
        id in request_id(),
        iocage in iocage_request(),
        cut in any::<prop::sample::Index>(),
    ) {
        let request = Request {
            namespace: "sysadm".into(),
            name: "iocage".into(),
            id: Some(id),
            args: iocage.to_args(),
        };
        let text = serde_json::to_string(&request).unwrap();
        let boundaries: Vec<usize> = (0..text.len()).filter(|&at| text.is_char_boundary(at)).collect();
        let at = boundaries[cut.index(boundaries.len())];
        let error = Request::from_json(&text[..at]).unwrap_err();
        prop_assert!(error.to_string().starts_with("invalid JSON"), "{}", error);
    }

    #[test]
    fn replies_decode_to_what_was_sent(
        namespace in text(),
        id in request_id(),
        args in json_value(),
        code in error_code(),
        details in text(),
    ) {
        let response = Response::new(namespace.clone(), id.clone(), args);
        let decoded = ServerMessage::from_value(serde_json::to_value(&response).unwrap()).unwrap();
        prop_assert_eq!(decoded, ServerMessage::Response(response));

        let error = ErrorResponse::new(namespace, id, ErrorArgs::new(code, details));
        let value = serde_json::to_value(&error).unwrap();
        prop_assert_eq!(&value["args"]["code"], &json!(code.code()));
        let decoded = ServerMessage::from_value(value).unwrap();
        prop_assert_eq!(decoded, ServerMessage::Error(error));
    }

    #[test]
    fn decoding_never_panics_on_any_text_or_value(text in any::<String>(), value in json_value()) {
        let _ = Request::from_json(&text);
        let _ = ServerMessage::from_value(value.clone());
        // An envelope of any shape: the id is read leniently for the error reply.
        let envelope = json!({"namespace": value, "name": value, "id": value, "args": value});
        let _ = Request::from_value(envelope.clone());
        let id = RequestId::lenient(&envelope);
        match &value {
            Value::String(text) => prop_assert_eq!(id, RequestId::Text(text.clone())),
            Value::Number(number) => prop_assert_eq!(id, RequestId::Number(number.clone())),
            _ => prop_assert_eq!(id, RequestId::default()),
        }
        if let Ok(request) = Request::from_value(envelope) {
            let _ = IocageRequest::from_args(&request.args);
        }
    }
}
