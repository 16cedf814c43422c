//! The error paths of request decoding, as a table: every malformed envelope
//! or `args` must give the exact error, and its message must name what was
//! wrong and say what would be accepted, because clients see it verbatim.

use serde_json::{Value, json};
use sysadm_proto::{ArgsError, EnvelopeError, IocageRequest, Request};

/// The valid actions, as error messages list them.
const VALID: &str = "activatepool, capjail, cleanall, cleanjails, cleanreleases, \
    cleantemplates, clonejail, createjail, deactivatepool, destroyjail, df, execjail, \
    getdefaultsettings, getjailsettings, listjails, listplugins, listreleases, startjail, stopjail";

/// Checks that an envelope is refused with `expected` and `message`.
fn check_envelope(text: &str, expected: EnvelopeError, message: &str) {
    let error = Request::from_json(text).expect_err(text);
    assert_eq!(error, expected, "{text}");
    assert_eq!(error.to_string(), message, "{text}");
}

/// Checks that `args` are refused with `expected` and `message`, both
/// directly and inside a well-formed envelope.
fn check_args(args: Value, expected: ArgsError, message: &str) {
    let error = IocageRequest::from_args(&args).expect_err(&args.to_string());
    assert_eq!(error, expected, "{args}");
    assert_eq!(error.to_string(), message, "{args}");

    let envelope = json!({"namespace": "sysadm", "name": "iocage", "id": "x", "args": args});
    let request = Request::from_json(&envelope.to_string()).unwrap();
    assert_eq!(IocageRequest::from_args(&request.args), Err(expected));
}

#[test]
fn malformed_envelopes_are_refused_naming_the_field() {
    use EnvelopeError as E;
    let cases: [(&str, EnvelopeError, &str); 10] = [
        (
            "[1, 2]",
            E::NotAnObject { found: "an array" },
            "a request must be a JSON object with namespace, name, id and args, not an array",
        ),
        (
            r#""listjails""#,
            E::NotAnObject { found: "a string" },
            "a request must be a JSON object with namespace, name, id and args, not a string",
        ),
        (
            r#"{"name": "iocage", "id": "x", "args": {}}"#,
            E::MissingField { field: "namespace" },
            "missing required field 'namespace'",
        ),
        (
            r#"{"namespace": "sysadm", "id": "x", "args": {}}"#,
            E::MissingField { field: "name" },
            "missing required field 'name'",
        ),
        (
            r#"{"namespace": "sysadm", "name": null}"#,
            E::MissingField { field: "name" },
            "missing required field 'name'",
        ),
        (
            r#"{"namespace": 5, "name": "iocage"}"#,
            E::WrongFieldType {
                field: "namespace",
                expected: "a string",
                found: "a number",
            },
            "field 'namespace' must be a string, not a number",
        ),
        (
            r#"{"namespace": "sysadm", "name": ["iocage"]}"#,
            E::WrongFieldType {
                field: "name",
                expected: "a string",
                found: "an array",
            },
            "field 'name' must be a string, not an array",
        ),
        (
            r#"{"namespace": "sysadm", "name": "iocage", "id": true}"#,
            E::WrongFieldType {
                field: "id",
                expected: "a string or a number",
                found: "a boolean",
            },
            "field 'id' must be a string or a number, not a boolean",
        ),
        (
            r#"{"namespace": "sysadm", "name": "iocage", "id": {"a": 1}}"#,
            E::WrongFieldType {
                field: "id",
                expected: "a string or a number",
                found: "an object",
            },
            "field 'id' must be a string or a number, not an object",
        ),
        (
            "null",
            E::NotAnObject { found: "null" },
            "a request must be a JSON object with namespace, name, id and args, not null",
        ),
    ];
    for (text, expected, message) in cases {
        check_envelope(text, expected, message);
    }
}

#[test]
fn invalid_json_is_refused_with_the_parser_position() {
    for text in ["", "{", r#"{"namespace": "sysadm",}"#, "{'a': 1}"] {
        let error = Request::from_json(text).expect_err(text);
        let EnvelopeError::InvalidJson { reason } = &error else {
            panic!("{text}: expected InvalidJson, got {error:?}");
        };
        // serde_json names the line and column, which a client needs.
        assert!(reason.contains("line 1 column"), "{text}: {reason}");
        assert_eq!(error.to_string(), format!("invalid JSON: {reason}"));
    }
}

#[test]
fn malformed_args_are_refused_naming_the_argument_and_what_is_accepted() {
    use ArgsError as A;
    let missing = |action, argument| A::MissingArgument { action, argument };
    let wrong = |action, argument, expected, found| A::WrongType {
        action,
        argument,
        expected,
        found,
    };
    let cases: Vec<(Value, ArgsError, String)> = vec![
        // The args object itself.
        (
            json!(["listjails"]),
            A::NotAnObject { found: "an array" },
            "args must be a JSON object, not an array".into(),
        ),
        (
            json!("listjails"),
            A::NotAnObject { found: "a string" },
            "args must be a JSON object, not a string".into(),
        ),
        (
            Value::Null,
            A::NotAnObject { found: "null" },
            "args must be a JSON object, not null".into(),
        ),
        // The action.
        (
            json!({}),
            A::MissingAction { valid: VALID.into() },
            format!("missing required argument 'action'; valid actions: {VALID}"),
        ),
        (
            json!({"action": null, "jail": "test"}),
            A::MissingAction { valid: VALID.into() },
            format!("missing required argument 'action'; valid actions: {VALID}"),
        ),
        // A misspelt key is named (`acton`, `Action`), never only "missing".
        (
            json!({"acton": "listjails"}),
            A::MisspeltAction {
                sent: "acton".into(),
                valid: VALID.into(),
            },
            format!(
                "missing required argument 'action' (did you mean 'action' instead of 'acton'?); valid actions: {VALID}"
            ),
        ),
        (
            json!({"Action": "listjails", "jail": "x"}),
            A::MisspeltAction {
                sent: "Action".into(),
                valid: VALID.into(),
            },
            format!(
                "missing required argument 'action' (did you mean 'action' instead of 'Action'?); valid actions: {VALID}"
            ),
        ),
        (
            json!({"action": "startjail", "jial": "test"}),
            A::MisspeltArgument {
                action: "startjail",
                argument: "jail",
                sent: "jial".into(),
            },
            "startjail: missing required argument 'jail' (did you mean 'jail' instead of 'jial'?)".into(),
        ),
        (
            json!({"action": "execjail", "jail": "test", "comand": "id"}),
            A::MisspeltArgument {
                action: "execjail",
                argument: "command",
                sent: "comand".into(),
            },
            "execjail: missing required argument 'command' (did you mean 'command' instead of 'comand'?)".into(),
        ),
        (
            json!({"action": 7}),
            wrong("iocage", "action", "a string", "a number"),
            "iocage: argument 'action' must be a string, not a number".into(),
        ),
        (
            json!({"action": ["listjails"]}),
            wrong("iocage", "action", "a string", "an array"),
            "iocage: argument 'action' must be a string, not an array".into(),
        ),
        (
            json!({"action": "listjail"}),
            A::UnknownAction {
                action: "listjail".into(),
                valid: VALID.into(),
            },
            format!("unknown action 'listjail'; valid actions: {VALID}"),
        ),
        (
            json!({"action": "ListJails"}),
            A::UnknownAction {
                action: "ListJails".into(),
                valid: VALID.into(),
            },
            format!("unknown action 'ListJails'; valid actions: {VALID}"),
        ),
        // Each action's required arguments.
        (
            json!({"action": "startjail"}),
            missing("startjail", "jail"),
            "startjail: missing required argument 'jail'".into(),
        ),
        (
            json!({"action": "stopjail", "jail": null}),
            missing("stopjail", "jail"),
            "stopjail: missing required argument 'jail'".into(),
        ),
        (
            json!({"action": "capjail"}),
            missing("capjail", "jail"),
            "capjail: missing required argument 'jail'".into(),
        ),
        (
            json!({"action": "destroyjail"}),
            missing("destroyjail", "jail"),
            "destroyjail: missing required argument 'jail'".into(),
        ),
        (
            json!({"action": "clonejail", "props": "tag=x"}),
            missing("clonejail", "jail"),
            "clonejail: missing required argument 'jail'".into(),
        ),
        (
            json!({"action": "execjail", "command": "echo hi"}),
            missing("execjail", "jail"),
            "execjail: missing required argument 'jail'".into(),
        ),
        (
            json!({"action": "execjail", "jail": "test", "user": "root"}),
            missing("execjail", "command"),
            "execjail: missing required argument 'command'".into(),
        ),
        (
            json!({"action": "deactivatepool"}),
            missing("deactivatepool", "pool"),
            "deactivatepool: missing required argument 'pool'".into(),
        ),
        (
            json!({"action": "getjailsettings", "prop": "vnet"}),
            missing("getjailsettings", "jail"),
            "getjailsettings: missing required argument 'jail'".into(),
        ),
        // Wrong JSON types.
        (
            json!({"action": "stopjail", "jail": 1}),
            wrong("stopjail", "jail", "a string", "a number"),
            "stopjail: argument 'jail' must be a string, not a number".into(),
        ),
        (
            json!({"action": "destroyjail", "jail": ["test"]}),
            wrong("destroyjail", "jail", "a string", "an array"),
            "destroyjail: argument 'jail' must be a string, not an array".into(),
        ),
        (
            json!({"action": "clonejail", "jail": "test", "props": 5}),
            wrong("clonejail", "props", "a string", "a number"),
            "clonejail: argument 'props' must be a string, not a number".into(),
        ),
        (
            json!({"action": "createjail", "props": {"tag": "x"}}),
            wrong("createjail", "props", "a string", "an object"),
            "createjail: argument 'props' must be a string, not an object".into(),
        ),
        (
            json!({"action": "createjail", "props": "tag=x", "switches": true}),
            wrong("createjail", "switches", "a string", "a boolean"),
            "createjail: argument 'switches' must be a string, not a boolean".into(),
        ),
        (
            json!({"action": "activatepool", "pool": 1}),
            wrong("activatepool", "pool", "a string", "a number"),
            "activatepool: argument 'pool' must be a string, not a number".into(),
        ),
        (
            json!({"action": "execjail", "jail": "test", "command": "id", "user": 0}),
            wrong("execjail", "user", "a string", "a number"),
            "execjail: argument 'user' must be a string, not a number".into(),
        ),
        (
            json!({"action": "execjail", "jail": "test", "command": ["echo", "hi"]}),
            wrong("execjail", "command", "a string", "an array"),
            "execjail: argument 'command' must be a string, not an array".into(),
        ),
        (
            json!({"action": "getjailsettings", "jail": "test", "prop": 3}),
            wrong("getjailsettings", "prop", "a string", "a number"),
            "getjailsettings: argument 'prop' must be a string, not a number".into(),
        ),
        // Switches.
        (
            json!({"action": "createjail", "props": "tag=x", "switches": "-r"}),
            A::InvalidValue {
                action: "createjail",
                argument: "switches",
                value: "-r".into(),
                accepted: "the only switch createjail accepts is '-e'".into(),
            },
            "createjail: invalid switches '-r': the only switch createjail accepts is '-e'".into(),
        ),
        (
            json!({"action": "createjail", "props": "tag=x", "switches": "-e -f"}),
            A::InvalidValue {
                action: "createjail",
                argument: "switches",
                value: "-e -f".into(),
                accepted: "the only switch createjail accepts is '-e'".into(),
            },
            "createjail: invalid switches '-e -f': the only switch createjail accepts is '-e'"
                .into(),
        ),
        (
            json!({"action": "getjailsettings", "jail": "test", "switches": "-e"}),
            A::InvalidValue {
                action: "getjailsettings",
                argument: "switches",
                value: "-e".into(),
                accepted: "the only switch getjailsettings accepts is '-r'".into(),
            },
            "getjailsettings: invalid switches '-e': the only switch getjailsettings accepts is '-r'"
                .into(),
        ),
        // getjailsettings -r reads one property of every jail.
        (
            json!({"action": "getjailsettings", "switches": "-r", "prop": "vnet", "jail": "test"}),
            A::Conflict {
                action: "getjailsettings",
                reason: "'jail' cannot be combined with switches '-r', which reads 'prop' of every jail",
            },
            "getjailsettings: 'jail' cannot be combined with switches '-r', which reads 'prop' of every jail".into(),
        ),
        (
            json!({"action": "getjailsettings", "switches": "-r"}),
            missing("getjailsettings", "prop"),
            "getjailsettings: missing required argument 'prop'".into(),
        ),
        (
            json!({"action": "getjailsettings", "switches": "-r", "prop": "all"}),
            A::InvalidValue {
                action: "getjailsettings",
                argument: "prop",
                value: "all".into(),
                accepted: "switches '-r' reads one property of every jail; name the property"
                    .into(),
            },
            "getjailsettings: invalid prop 'all': switches '-r' reads one property of every jail; name the property".into(),
        ),
    ];
    assert!(cases.len() >= 25, "only {} cases", cases.len());
    for (args, expected, message) in cases {
        check_args(args, expected, &message);
    }
}

#[test]
fn every_action_is_named_in_the_unknown_action_message() {
    // The list in messages is the real list of actions, not a stale copy.
    let valid = sysadm_proto::Action::valid_names();
    assert_eq!(valid, VALID);
    for action in sysadm_proto::Action::ALL {
        assert!(valid.split(", ").any(|name| name == action.as_str()));
    }
}

#[test]
fn tolerated_variations_still_decode() {
    // Old clients send switches with spaces, null optional arguments and
    // extra keys; none of these is an error.
    let cases = [
        (
            json!({"action": "createjail", "props": "tag=x", "switches": " -e "}),
            IocageRequest::CreateJail {
                props: "tag=x".into(),
                empty: true,
            },
        ),
        (
            json!({"action": "createjail", "switches": ""}),
            IocageRequest::CreateJail {
                props: String::new(),
                empty: false,
            },
        ),
        (
            json!({"action": "activatepool", "pool": null}),
            IocageRequest::ActivatePool { pool: None },
        ),
        (
            json!({"action": "execjail", "jail": "test", "command": "id", "user": null}),
            IocageRequest::ExecJail {
                jail: "test".into(),
                user: "root".into(),
                command: "id".into(),
            },
        ),
        (
            json!({"action": "listjails", "extra": [1, 2]}),
            IocageRequest::ListJails,
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(IocageRequest::from_args(&args), Ok(expected), "{args}");
    }
}

#[test]
fn switches_an_action_does_not_document_are_refused_listing_what_is_accepted() {
    for action in ["cleanall", "cleanjails", "listjails", "df", "stopjail"] {
        let mut args = json!({"action": action, "switches": "-j"});
        if action == "stopjail" {
            args["jail"] = json!("www");
        }
        check_args(
            args,
            ArgsError::InvalidValue {
                action: sysadm_proto::Action::from_name(action).unwrap().as_str(),
                argument: "switches",
                value: "-j".into(),
                accepted: format!(
                    "{action} accepts no switches (only createjail takes '-e' and getjailsettings '-r'); send none or ''"
                ),
            },
            &format!(
                "{action}: invalid switches '-j': {action} accepts no switches (only createjail \
                 takes '-e' and getjailsettings '-r'); send none or ''"
            ),
        );
    }
    // Absent, null and empty switches are what old clients send: still accepted.
    for switches in [json!(null), json!(""), json!(" ")] {
        let args = json!({"action": "cleanall", "switches": switches});
        assert_eq!(
            IocageRequest::from_args(&args),
            Ok(IocageRequest::CleanAll),
            "{args}"
        );
    }
}

#[test]
fn destructive_actions_refuse_unknown_arguments_others_ignore_them() {
    for (args, accepted) in [
        (
            json!({"action": "cleanall", "dry_rn": true}),
            "action, switches",
        ),
        (
            json!({"action": "cleanjails", "force": "no"}),
            "action, switches",
        ),
        (
            json!({"action": "cleanreleases", "dry_rn": 1}),
            "action, switches",
        ),
        (
            json!({"action": "cleantemplates", "dry_rn": null}),
            "action, switches",
        ),
        (
            json!({"action": "destroyjail", "jail": "www", "dry_rn": true}),
            "action, jail, switches",
        ),
    ] {
        let action = args["action"].as_str().unwrap();
        let argument = args
            .as_object()
            .unwrap()
            .keys()
            .find(|key| !["action", "jail"].contains(&key.as_str()))
            .unwrap()
            .clone();
        let message = format!(
            "{action}: unknown argument '{argument}': {action} destroys data, so it refuses \
             arguments it does not know; it accepts {accepted}"
        );
        check_args(
            args.clone(),
            ArgsError::UnknownArgument {
                action: sysadm_proto::Action::from_name(action).unwrap().as_str(),
                argument,
                accepted: accepted.into(),
            },
            &message,
        );
    }
    // Old clients send extra keys with reads and other changes: still accepted.
    assert_eq!(
        IocageRequest::from_args(&json!({"action": "listjails", "dry_rn": true})),
        Ok(IocageRequest::ListJails)
    );
    assert_eq!(
        IocageRequest::from_args(&json!({"action": "stopjail", "jail": "www", "extra": 1})),
        Ok(IocageRequest::StopJail { jail: "www".into() })
    );
}

#[test]
fn an_envelope_with_a_duplicate_key_is_refused_naming_the_key() {
    for (text, key) in [
        (
            r#"{"namespace":"sysadm","name":"iocage","id":1,"args":{"action":"listjails","action":"cleanall"}}"#,
            "action",
        ),
        (
            r#"{"namespace":"sysadm","namespace":"rpc","name":"iocage","args":{}}"#,
            "namespace",
        ),
    ] {
        let error = Request::from_json(text).expect_err(text);
        let EnvelopeError::InvalidJson { reason } = &error else {
            panic!("{text}: {error:?}");
        };
        assert!(
            reason.starts_with(&format!("duplicate key '{key}'")),
            "{text}: {reason}"
        );
    }
}
