//! The `events` class: subscriptions, and the `dispatcher` events that report
//! every state-changing job.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::json_type;
use crate::error::ArgsError;

/// Event types a connection can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// Jobs starting and finishing.
    Dispatcher,
}

impl EventKind {
    /// Every event type sysadmd emits.
    pub const ALL: [EventKind; 1] = [EventKind::Dispatcher];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Dispatcher => "dispatcher",
        }
    }

    fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// `events/subscribe` or `events/unsubscribe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsRequest {
    /// Start receiving these events.
    Subscribe(Vec<EventKind>),
    /// Stop receiving these events.
    Unsubscribe(Vec<EventKind>),
}

impl EventsRequest {
    /// Decodes from the envelope `name` and `args` (a string or an array of
    /// strings). `None` means the name is not an events request (a 404).
    pub fn decode(name: &str, args: &Value) -> Option<Result<EventsRequest, ArgsError>> {
        let action: &'static str = match name {
            "subscribe" => "subscribe",
            "unsubscribe" => "unsubscribe",
            _ => return None,
        };
        let kinds = kinds(action, args);
        Some(kinds.map(|kinds| match action {
            "subscribe" => EventsRequest::Subscribe(kinds),
            _ => EventsRequest::Unsubscribe(kinds),
        }))
    }
}

fn kinds(action: &'static str, args: &Value) -> Result<Vec<EventKind>, ArgsError> {
    let names: Vec<&Value> = match args {
        Value::Array(items) => items.iter().collect(),
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
                expected: "an event type or an array of them",
                found: json_type(other),
            });
        }
    };
    let known = || EventKind::ALL.map(EventKind::as_str).join(", ");
    names
        .into_iter()
        .map(|name| match name {
            Value::String(text) => {
                EventKind::from_name(text).ok_or_else(|| ArgsError::InvalidValue {
                    action,
                    argument: "event type",
                    value: text.clone(),
                    accepted: format!("known event types: {}", known()),
                })
            }
            other => Err(ArgsError::WrongType {
                action,
                argument: "args",
                expected: "an array of event type strings",
                found: json_type(other),
            }),
        })
        .collect()
}

/// The reply to subscribe and unsubscribe: what the connection now receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionReply {
    /// The event types this connection is subscribed to, sorted.
    pub subscribed: Vec<EventKind>,
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

/// The `args` of a `dispatcher` event, and an entry of the job list.
///
/// Events never carry secrets: no passwords, tokens or command output.
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
}
