//! The `events` class: subscriptions, and the `dispatcher` events that report
//! every state-changing job.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::json_type;
use crate::error::ArgsError;

/// Event types a connection can subscribe to: the reference server's three.
///
/// sysadmd emits only [`EventKind::Dispatcher`]; the other two are accepted
/// so that clients written for the reference server can subscribe as they
/// always did, and never fire here (see [`EventKind::is_emitted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// Jobs starting and finishing.
    Dispatcher,
    /// The reference server's Life Preserver (ZFS replication) events; never sent by sysadmd.
    LifePreserver,
    /// The reference server's system state (CPU, memory, ...) events; never sent by sysadmd.
    SystemState,
}

impl EventKind {
    /// Every event type a connection may subscribe to.
    pub const ALL: [EventKind; 3] = [
        EventKind::Dispatcher,
        EventKind::LifePreserver,
        EventKind::SystemState,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Dispatcher => "dispatcher",
            EventKind::LifePreserver => "life-preserver",
            EventKind::SystemState => "system-state",
        }
    }

    /// Whether sysadmd ever sends events of this type (only `dispatcher`).
    pub fn is_emitted(self) -> bool {
        self == EventKind::Dispatcher
    }

    fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// The event types named by one subscribe or unsubscribe request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventNames {
    /// The known types, in the order given.
    pub known: Vec<EventKind>,
    /// The names that are no event type, as given; they are skipped, as the
    /// reference server skipped them.
    pub unknown: Vec<String>,
    /// `events/subscribe {"types": [...], "since": N}`: first send every kept
    /// event after `N`, then the live ones.
    pub since: Option<u64>,
}

/// `events/subscribe` or `events/unsubscribe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsRequest {
    /// Start receiving these events.
    Subscribe(EventNames),
    /// Stop receiving these events.
    Unsubscribe(EventNames),
}

impl EventsRequest {
    /// Decodes from the envelope `name` and `args` (a string or an array of
    /// strings). `None` means the name is not an events request (a 404).
    ///
    /// Unknown event names are not an error (they are reported back in
    /// [`SubscriptionReply::unknown`]); no name at all, or a name that is not
    /// a string, is.
    pub fn decode(name: &str, args: &Value) -> Option<Result<EventsRequest, ArgsError>> {
        let action: &'static str = match name {
            "subscribe" => "subscribe",
            "unsubscribe" => "unsubscribe",
            _ => return None,
        };
        let names = names(action, args);
        Some(names.map(|names| match action {
            "subscribe" => EventsRequest::Subscribe(names),
            _ => EventsRequest::Unsubscribe(names),
        }))
    }

    /// The names the request gave.
    pub fn names(&self) -> &EventNames {
        match self {
            EventsRequest::Subscribe(names) | EventsRequest::Unsubscribe(names) => names,
        }
    }
}

fn names(action: &'static str, args: &Value) -> Result<EventNames, ArgsError> {
    // The object form: {"types": [...], "since": N}.
    if let Value::Object(object) = args {
        if let Some(key) = object
            .keys()
            .find(|key| !["types", "since"].contains(&key.as_str()))
        {
            return Err(ArgsError::UnknownArgument {
                action,
                argument: key.clone(),
                accepted: "types, since (or the plain list of event types)".to_owned(),
            });
        }
        let types = object.get("types").ok_or(ArgsError::MissingArgument {
            action,
            argument: "types",
        })?;
        if matches!(types, Value::Object(_)) {
            return Err(ArgsError::WrongType {
                action,
                argument: "types",
                expected: "an event type or a non-empty array of them",
                found: "an object",
            });
        }
        let mut names = names(action, types)?;
        names.since = match object.get("since") {
            None | Some(Value::Null) => None,
            Some(Value::Number(number)) if number.as_u64().is_some() => number.as_u64(),
            Some(other) => {
                return Err(ArgsError::WrongType {
                    action,
                    argument: "since",
                    expected: "the seq of the last event received (an integer, 0 or more)",
                    found: json_type(other),
                });
            }
        };
        if names.since.is_some() && action == "unsubscribe" {
            return Err(ArgsError::Conflict {
                action,
                reason: "'since' resumes a subscription; unsubscribe takes only the types",
            });
        }
        return Ok(names);
    }
    let expected = "an event type or a non-empty array of them";
    let items: Vec<&Value> = match args {
        Value::Array(items) if !items.is_empty() => items.iter().collect(),
        Value::Array(_) => {
            return Err(ArgsError::InvalidValue {
                action,
                argument: "args",
                value: "[]".to_owned(),
                accepted: format!("{expected}: {}", known_names()),
            });
        }
        single @ Value::String(_) => vec![single],
        Value::Null => {
            return Err(ArgsError::MissingArgument {
                action,
                argument: "args",
            });
        }
        other => {
            return Err(ArgsError::WrongType {
                action,
                argument: "args",
                expected,
                found: json_type(other),
            });
        }
    };
    let mut names = EventNames::default();
    for item in items {
        match item {
            Value::String(text) => match EventKind::from_name(text) {
                Some(kind) => names.known.push(kind),
                None => names.unknown.push(text.clone()),
            },
            other => {
                return Err(ArgsError::WrongType {
                    action,
                    argument: "args",
                    expected: "an array of event type strings",
                    found: json_type(other),
                });
            }
        }
    }
    Ok(names)
}

fn known_names() -> String {
    EventKind::ALL.map(EventKind::as_str).join(", ")
}

/// The reply to subscribe and unsubscribe: what the connection now receives,
/// and what of the request was skipped.
///
/// `{"subscribed": ["dispatcher", "life-preserver"], "unknown": ["foo"], "never_sent": ["life-preserver"]}`;
/// the last two are left out when empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionReply {
    /// The event types this connection is subscribed to, sorted.
    pub subscribed: Vec<EventKind>,
    /// Names in the request that are no event type, as given: skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
    /// Subscribed types this server never sends (the reference server's
    /// `life-preserver` and `system-state`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub never_sent: Vec<EventKind>,
}

impl SubscriptionReply {
    /// The reply for a connection now subscribed to `subscribed`, after a
    /// request that named `unknown` names.
    pub fn new(subscribed: Vec<EventKind>, unknown: Vec<String>) -> Self {
        let never_sent = subscribed
            .iter()
            .copied()
            .filter(|kind| !kind.is_emitted())
            .collect();
        SubscriptionReply {
            subscribed,
            unknown,
            never_sent,
        }
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Started, not finished.
    Running,
    /// Finished, successfully or not.
    Finished,
}

/// How a finished job ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOutcome {
    /// Whether it succeeded.
    pub success: bool,
    /// The error code, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// The error details, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// What a running job is doing, in a `dispatcher` event with
/// `state: running` (and in the job list): `{"step": "...", "done": 1, "of": 3}`.
///
/// On the simulated host a step of a known number; on a real host
/// `iocage create` when an iocage run starts, then each line it prints
/// (`line` counts them; a gap means lines were coalesced away), with
/// `done` and `of` absent because iocage does not say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    /// The step begun, or the line iocage printed.
    pub step: String,
    /// Steps finished before this one, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<u64>,
    /// How many steps there are, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<u64>,
    /// Which line of the iocage run's output this is, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

/// The `args` of a `dispatcher` event, and an entry of the job list.
///
/// Events never carry secrets: no passwords or tokens, and of command
/// output only iocage's own lines as progress, never what a command run in
/// a jail (`execjail`) prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatcherEvent {
    /// The job id.
    pub process_id: String,
    /// Running or finished.
    pub state: JobState,
    /// The iocage action, e.g. `startjail`.
    pub action: String,
    /// The jail or pool it acts on, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Who asked.
    pub user: String,
    /// When it started, RFC 3339 UTC.
    pub started: String,
    /// When it finished, RFC 3339 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// How long it took, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// How it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<JobOutcome>,
    /// What it is doing, while it runs and says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<JobProgress>,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{EventKind, EventNames, EventsRequest, SubscriptionReply};

    fn check(args: Value, known: &[EventKind], unknown: &[&str]) {
        let decoded = EventsRequest::decode("subscribe", &args).expect("an events request");
        let expected = EventNames {
            known: known.to_vec(),
            unknown: unknown.iter().map(|name| (*name).to_owned()).collect(),
            since: None,
        };
        assert_eq!(decoded, Ok(EventsRequest::Subscribe(expected)), "{args}");
    }

    #[test]
    fn the_reference_types_are_known_and_other_names_are_skipped() {
        use EventKind::*;
        check(
            json!(["dispatcher", "life-preserver", "system-state"]),
            &[Dispatcher, LifePreserver, SystemState],
            &[],
        );
        check(json!("life-preserver"), &[LifePreserver], &[]);
        check(json!(["foo", "dispatcher"]), &[Dispatcher], &["foo"]);
        check(json!(["Dispatcher"]), &[], &["Dispatcher"]);
    }

    #[test]
    fn no_name_or_a_name_that_is_not_a_string_is_refused() {
        for args in [
            json!([]),
            json!(null),
            json!({}),
            json!([1]),
            json!(3),
            json!({"types": "dispatcher", "since": -1}),
            json!({"types": "dispatcher", "since": "5"}),
            json!({"types": {"types": "dispatcher"}}),
            json!({"types": "dispatcher", "snce": 5}),
            json!({"types": "dispatcher", "since": 5}),
        ] {
            let decoded = EventsRequest::decode("unsubscribe", &args).expect("an events request");
            assert!(decoded.is_err(), "{args}: {decoded:?}");
        }
        let empty = EventsRequest::decode("subscribe", &json!([]))
            .unwrap()
            .unwrap_err();
        assert!(
            empty
                .to_string()
                .contains("dispatcher, life-preserver, system-state"),
            "{empty}"
        );
    }

    #[test]
    fn the_object_form_takes_types_and_since() {
        let decoded = EventsRequest::decode(
            "subscribe",
            &json!({"types": ["dispatcher", "foo"], "since": 41}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            decoded,
            EventsRequest::Subscribe(EventNames {
                known: vec![EventKind::Dispatcher],
                unknown: vec!["foo".into()],
                since: Some(41),
            })
        );
        let plain = EventsRequest::decode("subscribe", &json!({"types": "dispatcher"}))
            .unwrap()
            .unwrap();
        assert_eq!(plain.names().since, None);
        let unknown =
            EventsRequest::decode("subscribe", &json!({"types": "dispatcher", "snce": 5}))
                .unwrap()
                .unwrap_err()
                .to_string();
        assert!(unknown.contains("unknown argument 'snce'"), "{unknown}");
    }

    #[test]
    fn the_reply_says_what_was_skipped_and_what_never_fires() {
        let reply = SubscriptionReply::new(
            vec![EventKind::Dispatcher, EventKind::SystemState],
            vec!["foo".to_owned()],
        );
        assert_eq!(
            serde_json::to_value(&reply).unwrap(),
            json!({"subscribed": ["dispatcher", "system-state"], "unknown": ["foo"], "never_sent": ["system-state"]})
        );
        let plain = SubscriptionReply::new(vec![EventKind::Dispatcher], vec![]);
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            json!({"subscribed": ["dispatcher"]})
        );
    }
}
