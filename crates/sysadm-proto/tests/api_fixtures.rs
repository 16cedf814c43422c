//! Checks the typed wire format against every JSON example of the two API
//! documents, as extracted into `fixtures/api/` by `cargo xtask fixtures`:
//! each request decodes to the request it documents, and each response
//! decodes and re-encodes to exactly the documented JSON.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use serde_json::Value;
use sysadm_proto::{
    Action, ActivatePoolResult, CreateSuccess, IocageRequest, IocageResponse, JailSettings,
    JailSettingsQuery, Request, RequestId, Response, RestBody, ServerMessage, StatusOutcome,
};

/// The documents, as folders of `fixtures/api/`.
const DOCUMENTS: [&str; 2] = ["2016-08", "2017-05"];
/// Each document holds 73 JSON files (the extractor asserts it too).
const FILES_PER_DOCUMENT: usize = 73;
/// Each documented example is a REST request, a WebSocket request and one
/// or two responses. 2016-08 has 22 examples and 29 responses; 2017-05 has
/// 23 and 27 (its first activatepool example shows one response only).
const EXAMPLES: usize = 22 + 23;
const RESPONSES: [(&str, usize); 2] = [("2016-08", 29), ("2017-05", 27)];

/// One extracted example: `<document>/<stem>.<role>.json`.
struct Fixture {
    document: &'static str,
    stem: String,
    role: String,
    value: Value,
}

impl Fixture {
    fn path(&self) -> String {
        format!("{}/{}.{}.json", self.document, self.stem, self.role)
    }
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/api")
}

/// Every fixture of both documents, checking that none is missing.
fn load_all() -> Vec<Fixture> {
    let mut fixtures = Vec::new();
    for document in DOCUMENTS {
        let dir = fixtures_dir().join(document);
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), FILES_PER_DOCUMENT, "files in {document}");
        for name in names {
            let text = fs::read_to_string(dir.join(&name)).unwrap();
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|error| panic!("{document}/{name}: {error}"));
            let base = name
                .strip_suffix(".json")
                .unwrap_or_else(|| panic!("{document}/{name} is not a .json file"));
            let (stem, role) = base
                .split_once('.')
                .unwrap_or_else(|| panic!("{document}/{name} has no role"));
            fixtures.push(Fixture {
                document,
                stem: stem.to_owned(),
                role: role.to_owned(),
                value,
            });
        }
    }
    assert_eq!(fixtures.len(), 146);
    let requests = fixtures.iter().filter(|fixture| is_request(&fixture.role));
    assert_eq!(requests.count(), 2 * EXAMPLES);
    fixtures
}

fn is_request(role: &str) -> bool {
    role.ends_with("request")
}

fn owned(text: &str) -> String {
    text.to_owned()
}

/// The request each example documents, by document and file stem. The REST
/// and the WebSocket request of one example must both decode to it.
fn expected_request(document: &str, stem: &str) -> Option<IocageRequest> {
    use IocageRequest as R;
    let jail = || owned("test");
    Some(match (document, stem) {
        ("2016-08", "default-settings") => R::GetDefaultSettings,
        ("2017-05", "list-releases") => R::ListReleases,
        ("2017-05", "list-plugins") => R::ListPlugins,
        (_, "list-jails") => R::ListJails,
        (_, "jail-settings-1") => R::GetJailSettings(JailSettingsQuery::Property {
            jail: jail(),
            prop: owned("vnet"),
        }),
        (_, "jail-settings-2") => R::GetJailSettings(JailSettingsQuery::Recursive {
            prop: owned("vnet"),
        }),
        (_, "jail-settings-3") => R::GetJailSettings(JailSettingsQuery::All { jail: jail() }),
        (_, "list-resource-usage") => R::Df,
        (_, "start-a-jail") => R::StartJail { jail: jail() },
        (_, "stop-a-jail") => R::StopJail { jail: jail() },
        (_, "cap-a-jail") => R::CapJail { jail: jail() },
        (_, "clone-a-jail-1") => R::CloneJail {
            jail: jail(),
            props: owned("tag=newtest"),
        },
        (_, "clone-a-jail-2") => R::CloneJail {
            jail: jail(),
            props: String::new(),
        },
        (_, "create-a-jail-1") => R::CreateJail {
            props: owned("tag=test release=10.2-RELEASE"),
            empty: false,
        },
        (_, "create-a-jail-2") => R::CreateJail {
            props: owned("tag=emptytest"),
            empty: true,
        },
        (_, "destroy-a-jail") => R::DestroyJail { jail: jail() },
        (_, "run-command") => R::ExecJail {
            jail: jail(),
            user: owned("root"),
            command: owned("echo hi"),
        },
        (_, "clean-jails") => R::CleanJails,
        (_, "clean-releases") => R::CleanReleases,
        (_, "clean-templates") => R::CleanTemplates,
        (_, "clean-all") => R::CleanAll,
        ("2016-08", "activate-a-pool-1") => R::ActivatePool {
            pool: Some(owned("tank")),
        },
        ("2017-05", "activate-a-pool-1") => R::ActivatePool {
            pool: Some(owned("tank1")),
        },
        (_, "activate-a-pool-2") => R::ActivatePool { pool: None },
        ("2016-08", "deactivate-a-pool") => R::DeactivatePool {
            pool: owned("tank"),
        },
        ("2017-05", "deactivate-a-pool") => R::DeactivatePool {
            pool: owned("tank1"),
        },
        _ => return None,
    })
}

#[test]
fn every_request_example_decodes_to_the_request_it_documents() {
    let mut checked: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for fixture in load_all()
        .iter()
        .filter(|fixture| is_request(&fixture.role))
    {
        let path = fixture.path();
        let expected = expected_request(fixture.document, &fixture.stem)
            .unwrap_or_else(|| panic!("{path}: no expected request in the table"));
        let decoded = match fixture.role.as_str() {
            "rest-request" => IocageRequest::from_args(&fixture.value),
            "websocket-request" => {
                let envelope = Request::from_value(fixture.value.clone())
                    .unwrap_or_else(|error| panic!("{path}: {error}"));
                assert_eq!(envelope.namespace, "sysadm", "{path}");
                assert_eq!(envelope.name, "iocage", "{path}");
                assert_eq!(envelope.reply_id(), RequestId::from("fooid"), "{path}");
                IocageRequest::from_args(&envelope.args)
            }
            other => panic!("{path}: unknown request role {other}"),
        };
        let decoded = decoded.unwrap_or_else(|error| panic!("{path}: {error}"));
        assert_eq!(decoded, expected, "{path}");
        checked
            .entry(format!("{}/{}", fixture.document, fixture.stem))
            .or_default()
            .push(fixture.role.clone());
    }
    assert_eq!(checked.len(), EXAMPLES);
    for (example, roles) in &checked {
        assert_eq!(
            roles,
            &["rest-request", "websocket-request"],
            "{example} needs exactly one REST and one WebSocket request"
        );
    }
}

#[test]
fn a_client_sends_exactly_the_documented_rest_bodies() {
    // `to_args` is what a Rust client sends; for every documented request it
    // is the documented body, key for key.
    let mut checked = 0;
    for fixture in load_all()
        .iter()
        .filter(|fixture| fixture.role == "rest-request")
    {
        let request = IocageRequest::from_args(&fixture.value).unwrap();
        assert_eq!(request.to_args(), fixture.value, "{}", fixture.path());
        checked += 1;
    }
    assert_eq!(checked, EXAMPLES);
}

/// What a response must decode to, as a predicate on the decoded value.
type Check = fn(&IocageResponse) -> bool;

/// The action and content each response example documents, by file stem and
/// role (both documents give the same responses, apart from the pool name).
fn expected_response(stem: &str, role: &str) -> Option<(Action, Check)> {
    use IocageResponse as R;
    let rest = role == "rest-response";
    Some(match (stem, role) {
        ("default-settings", _) => (Action::GetDefaultSettings, |r| {
            matches!(r, R::GetDefaultSettings(settings)
                if settings.defaults.len() == 109
                    && settings.defaults["gitlocation"] == "https://github.com"
                    && settings.defaults["tag"] == "2016-01-29@14:19:49")
        }),
        ("list-releases", _) => (Action::ListReleases, |r| {
            matches!(r, R::ListReleases(list)
                if list.local == [""] && list.remote.len() == 5
                    && list.remote[0] == "9.3-RELEASE (EOL)")
        }),
        ("list-plugins", _) => (Action::ListPlugins, |r| {
            matches!(r, R::ListPlugins(list)
                if list.remote.len() == 18
                    && list.remote["jenkins-lts"].name == "Jenkins (LTS)")
        }),
        ("list-jails", _) => (Action::ListJails, |r| {
            matches!(r, R::ListJails(list)
                if list.jails.len() == 1
                    && list.jails["611c89ae-c43c-11e5-9602-54ee75595566"].tag == "testjail"
                    && list.jails["611c89ae-c43c-11e5-9602-54ee75595566"].jail_type == "basejail")
        }),
        ("jail-settings-1", _) => (Action::GetJailSettings, |r| {
            matches!(r, R::GetJailSettings(JailSettings::Property { jail, prop, value })
                if jail == "test" && prop == "vnet" && value == "off")
        }),
        ("jail-settings-2", _) => (Action::GetJailSettings, |r| {
            matches!(r, R::GetJailSettings(JailSettings::Recursive { prop, jails })
                if prop == "vnet"
                    && jails.len() == 2
                    && jails["b67065a9-cfb9-11e5-8209-d05099728dbf"].tag == "2016-02-09@23:47:04")
        }),
        ("jail-settings-3", _) => (Action::GetJailSettings, |r| {
            // The reference server cut values at their first colon.
            matches!(r, R::GetJailSettings(JailSettings::All { jail, props })
                if jail == "test"
                    && props.len() > 100
                    && props["gitlocation"] == "https"
                    && props["last_started"] == "2016-02-10_20")
        }),
        ("list-resource-usage", _) => (Action::Df, |r| {
            matches!(r, R::Df(table)
                if table.jails.len() == 2
                    && table.jails["f39318ae-d064-11e5-8209-d05099728dbf"].tag == "test2"
                    && table.jails["f39318ae-d064-11e5-8209-d05099728dbf"].used == "1.69M")
        }),
        ("start-a-jail", _) if rest => (Action::StartJail, |r| {
            matches!(r, R::StartJail(status)
                if status.jail == "test"
                    && matches!(&status.outcome, StatusOutcome::Lines(lines) if lines.len() == 3))
        }),
        ("start-a-jail", _) => (Action::StartJail, |r| {
            matches!(r, R::StartJail(status)
                if status.outcome == StatusOutcome::Info(owned(
                    "0bf985de-ca0f-11e5-8d45-d05099728dbf (test) is already up")))
        }),
        ("stop-a-jail", _) if rest => (Action::StopJail, |r| {
            matches!(r, R::StopJail(status)
                if status.jail == "test"
                    && matches!(&status.outcome, StatusOutcome::Lines(lines) if lines.len() == 5))
        }),
        ("stop-a-jail", _) => (Action::StopJail, |r| {
            matches!(r, R::StopJail(status)
                if status.outcome == StatusOutcome::Info(owned(
                    "0bf985de-ca0f-11e5-8d45-d05099728dbf (test) is already down")))
        }),
        ("cap-a-jail", _) => (
            Action::CapJail,
            |r| matches!(r, R::CapJail(success) if success.success == "jail test capped."),
        ),
        ("clone-a-jail-1", _) => (Action::CloneJail, |r| {
            matches!(r, R::CloneJail(result)
                if result.jail == "test"
                    && result.props == "tag=newtest"
                    && result.success.jail.uuid() == "5e1fe97e-cfba-11e5-8209-d05099728dbf"
                    && result.success.jail.tag() == Some("newtest"))
        }),
        ("clone-a-jail-2", _) => (Action::CloneJail, |r| {
            // The documented tag lost everything after its first colon.
            matches!(r, R::CloneJail(result)
                if result.props.is_empty()
                    && result.success.jail.uuid() == "89e78032-cfba-11e5-8209-d05099728dbf"
                    && result.success.jail.tag() == Some("2016-02-09@23"))
        }),
        ("create-a-jail-1", _) => (Action::CreateJail, |r| {
            matches!(r, R::CreateJail(result)
                if result.switches.is_empty()
                    && result.props == "tag=test release=10.2-RELEASE"
                    && matches!(&result.success, CreateSuccess::Created(created)
                        if created.jail.tag() == Some("test")))
        }),
        ("create-a-jail-2", _) => (Action::CreateJail, |r| {
            matches!(r, R::CreateJail(result)
            if result.switches == "-e"
                && result.success == CreateSuccess::Empty {
                    uuid: owned("1325b8bc-d05e-11e5-8209-d05099728dbf"),
                })
        }),
        ("destroy-a-jail", _) => (Action::DestroyJail, |r| {
            matches!(r, R::DestroyJail(result)
                if result.success.uuid == "3030c554-d05e-11e5-8209-d05099728dbf")
        }),
        ("run-command", _) => (
            Action::ExecJail,
            |r| matches!(r, R::ExecJail(result) if result.lines == ["hi"]),
        ),
        ("clean-jails", _) => (
            Action::CleanJails,
            |r| matches!(r, R::CleanJails(success) if success.success == "All jails have been cleaned."),
        ),
        ("clean-releases", _) => (Action::CleanReleases, |r| {
            matches!(r, R::CleanReleases(success)
                if success.success == "All RELEASEs have been cleaned.")
        }),
        ("clean-templates", _) => (Action::CleanTemplates, |r| {
            matches!(r, R::CleanTemplates(success)
                if success.success == "All templates have been cleaned.")
        }),
        ("clean-all", _) => (Action::CleanAll, |r| {
            matches!(r, R::CleanAll(success)
                if success.success == "All iocage datasets have been cleaned.")
        }),
        ("activate-a-pool-1", _) => (Action::ActivatePool, |r| {
            matches!(r, R::ActivatePool(ActivatePoolResult::Activated(success))
                if success.success.starts_with("pool tank")
                    && success.success.ends_with(" activated."))
        }),
        ("activate-a-pool-2", _) => (Action::ActivatePool, |r| {
            matches!(r, R::ActivatePool(ActivatePoolResult::Current { current })
                if current.name == "tank")
        }),
        ("deactivate-a-pool", _) => (Action::DeactivatePool, |r| {
            matches!(r, R::DeactivatePool(success)
                if success.success.starts_with("pool tank")
                    && success.success.ends_with(" deactivated."))
        }),
        _ => return None,
    })
}

#[test]
fn every_response_example_decodes_and_reencodes_to_the_documented_json() {
    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    for fixture in load_all()
        .iter()
        .filter(|fixture| !is_request(&fixture.role))
    {
        let path = fixture.path();
        let (action, check) = expected_response(&fixture.stem, &fixture.role)
            .unwrap_or_else(|| panic!("{path}: no expected response in the table"));
        let (decoded, reencoded) = match fixture.role.as_str() {
            "rest-response" => {
                let body: RestBody<IocageResponse> = serde_json::from_value(fixture.value.clone())
                    .unwrap_or_else(|error| panic!("{path}: {error}"));
                let reencoded = serde_json::to_value(&body).unwrap();
                (body.args, reencoded)
            }
            "websocket-response" | "response" => {
                let envelope: Response<IocageResponse> =
                    serde_json::from_value(fixture.value.clone())
                        .unwrap_or_else(|error| panic!("{path}: {error}"));
                assert_eq!(envelope.id, RequestId::from("fooid"), "{path}");
                assert_eq!(envelope.name, "response", "{path}");
                assert_eq!(envelope.namespace, "sysadm", "{path}");
                assert!(
                    matches!(
                        ServerMessage::from_value(fixture.value.clone()),
                        Ok(ServerMessage::Response(_))
                    ),
                    "{path}: a client must see a successful reply"
                );
                let reencoded = serde_json::to_value(&envelope).unwrap();
                (envelope.args, reencoded)
            }
            other => panic!("{path}: unknown response role {other}"),
        };
        assert_eq!(decoded.action(), action, "{path}");
        assert!(check(&decoded), "{path}: decoded to {decoded:#?}");
        assert_eq!(
            reencoded, fixture.value,
            "{path}: re-encoding changed the JSON"
        );
        *checked.entry(fixture.document).or_default() += 1;
    }
    assert_eq!(checked, BTreeMap::from(RESPONSES));
}

#[test]
fn rest_and_websocket_responses_of_one_example_carry_the_same_result() {
    // Where a document shows both, the REST body is the WebSocket reply
    // without id, name and namespace (except start/stop, whose two examples
    // show different outcomes on purpose).
    let fixtures = load_all();
    let mut compared = 0;
    for rest in fixtures
        .iter()
        .filter(|fixture| fixture.role == "rest-response")
    {
        let websocket = fixtures
            .iter()
            .find(|fixture| {
                fixture.document == rest.document
                    && fixture.stem == rest.stem
                    && fixture.role == "websocket-response"
            })
            .unwrap_or_else(|| panic!("{}: no WebSocket response", rest.path()));
        if rest.stem == "start-a-jail" || rest.stem == "stop-a-jail" {
            assert_ne!(rest.value["args"], websocket.value["args"]);
        } else {
            assert_eq!(
                rest.value["args"],
                websocket.value["args"],
                "{}",
                rest.path()
            );
        }
        compared += 1;
    }
    // 2016-08: default settings, list jails, start, stop, 2 x activate, deactivate.
    // 2017-05: list jails, start, stop, the second activate.
    assert_eq!(compared, 7 + 4);
}

#[test]
fn fixtures_are_in_the_form_the_extractor_writes() {
    // Sorted keys, two-space indent, trailing newline: a hand edit in another
    // form would be undone by the next `cargo xtask fixtures`.
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(object) => {
                let mut entries: Vec<(&String, &Value)> = object.iter().collect();
                entries.sort_by_key(|(key, _)| *key);
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(key, value)| (key.clone(), sorted(value)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let fixtures = load_all();
    for fixture in &fixtures {
        let text = fs::read_to_string(fixtures_dir().join(fixture.path())).unwrap();
        let mut canonical = serde_json::to_string_pretty(&sorted(&fixture.value)).unwrap();
        canonical.push('\n');
        assert_eq!(text, canonical, "{}", fixture.path());
    }
    assert_eq!(fixtures.len(), 146);
}
