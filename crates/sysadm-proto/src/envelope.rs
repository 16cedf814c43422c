//! The envelope every message travels in, over WebSocket and over REST.
//!
//! WebSocket messages carry `namespace`, `name`, `id` and `args`; REST bodies
//! carry only `args` (the URI gives namespace and name, HTTP gives the status).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{EnvelopeError, ErrorArgs};

/// The `name` of every successful WebSocket reply.
pub const RESPONSE_NAME: &str = "response";
/// The `name` of every WebSocket error reply.
pub const ERROR_NAME: &str = "error";
/// The namespace of event messages and of subscription requests.
pub const EVENTS_NAMESPACE: &str = "events";

/// A request id, echoed back as the client sent it: a string or a number.
///
/// A request without an id is answered with the empty string, as the
/// reference server did.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// A string id, the common case (`"fooid"`).
    Text(String),
    /// A numeric id, kept exactly as written.
    Number(serde_json::Number),
}

impl Default for RequestId {
    fn default() -> Self {
        RequestId::Text(String::new())
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestId::Text(text) => f.write_str(text),
            RequestId::Number(number) => write!(f, "{number}"),
        }
    }
}

impl From<&str> for RequestId {
    fn from(text: &str) -> Self {
        RequestId::Text(text.to_owned())
    }
}

impl RequestId {
    /// Reads the id of a message that may be otherwise malformed, so that an
    /// error reply can still carry it. Anything that is not a string or a
    /// number gives the empty id.
    pub fn lenient(message: &Value) -> RequestId {
        match message.get("id") {
            Some(Value::String(text)) => RequestId::Text(text.clone()),
            Some(Value::Number(number)) => RequestId::Number(number.clone()),
            _ => RequestId::default(),
        }
    }
}

/// A request as a WebSocket client sends it.
///
/// ```
/// use sysadm_proto::Request;
/// let request = Request::from_json(
///     r#"{"namespace":"sysadm","name":"iocage","id":"fooid","args":{"action":"listjails"}}"#,
/// ).unwrap();
/// assert_eq!(request.name, "iocage");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The class namespace, `sysadm` for iocage, `rpc` for authentication.
    pub namespace: String,
    /// The class name, `iocage`.
    pub name: String,
    /// The id to echo; absent ids are answered with `""`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<RequestId>,
    /// The arguments: `args`, or, when the message has no `args`, its other
    /// members (the reference server accepted arguments at the top level);
    /// `Value::Null` when the client sent none.
    #[serde(default)]
    pub args: Value,
}

impl Request {
    /// Decodes a request from JSON text.
    pub fn from_json(text: &str) -> Result<Request, EnvelopeError> {
        let value =
            crate::parse_json(text.as_bytes()).map_err(|error| EnvelopeError::InvalidJson {
                reason: error.to_string(),
            })?;
        Request::from_value(value)
    }

    /// Decodes a request from a parsed JSON value, naming the first field
    /// that is missing or of the wrong type.
    pub fn from_value(value: Value) -> Result<Request, EnvelopeError> {
        let Value::Object(mut object) = value else {
            return Err(EnvelopeError::NotAnObject {
                found: json_type(&value),
            });
        };
        let namespace = take_string(&mut object, "namespace")?;
        let name = take_string(&mut object, "name")?;
        let id = match object.remove("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(RequestId::Text(text)),
            Some(Value::Number(number)) => Some(RequestId::Number(number)),
            Some(other) => {
                return Err(EnvelopeError::WrongFieldType {
                    field: "id",
                    expected: "a string or a number",
                    found: json_type(&other),
                });
            }
        };
        let args = args_or_rest(object);
        Ok(Request {
            namespace,
            name,
            id,
            args,
        })
    }

    /// The id to put in the reply: the request's, or `""`.
    pub fn reply_id(&self) -> RequestId {
        self.id.clone().unwrap_or_default()
    }
}

/// `args` if the envelope has it, else the envelope's other fields (the
/// reference server read arguments standing at the top level, beside
/// `namespace` and `name`), else `Value::Null`.
fn args_or_rest(mut object: serde_json::Map<String, Value>) -> Value {
    match object.remove("args") {
        Some(args) => args,
        None if object.is_empty() => Value::Null,
        None => Value::Object(object),
    }
}

/// A REST body read as the reference server read it: either the request's
/// `args`, or a whole envelope.
///
/// The rule: a body that is a JSON object with a `namespace`, `name` or
/// `args` member is an envelope. Its `args` are the arguments when present,
/// else its members other than `namespace`, `name` and `id` are (as the
/// reference server's `RestStructs.cpp` did). Any other body is the
/// arguments themselves. No iocage, `rpc` or `events` argument is called
/// `namespace`, `name` or `args`, so no plain body is mistaken for an envelope.
///
/// ```
/// use serde_json::json;
/// use sysadm_proto::RestRequest;
/// let body = json!({"namespace": "sysadm", "name": "iocage", "id": "x", "args": {"action": "listjails"}});
/// let request = RestRequest::from_body(body).unwrap();
/// assert_eq!(request.name.as_deref(), Some("iocage"));
/// assert_eq!(request.args, json!({"action": "listjails"}));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RestRequest {
    /// The envelope's namespace, if the body was an envelope that named one.
    pub namespace: Option<String>,
    /// The envelope's name, if the body was an envelope that named one.
    pub name: Option<String>,
    /// The arguments; `Value::Null` for an empty body.
    pub args: Value,
}

impl RestRequest {
    /// Reads a parsed REST body. An envelope's `namespace` and `name` must be
    /// strings and its `id` a string or a number (REST replies carry no id,
    /// so it is otherwise ignored).
    pub fn from_body(body: Value) -> Result<RestRequest, EnvelopeError> {
        let Value::Object(mut object) = body else {
            return Ok(RestRequest {
                namespace: None,
                name: None,
                args: body,
            });
        };
        if !["namespace", "name", "args"]
            .iter()
            .any(|field| object.contains_key(*field))
        {
            return Ok(RestRequest {
                namespace: None,
                name: None,
                args: Value::Object(object),
            });
        }
        let namespace = take_optional_string(&mut object, "namespace")?;
        let name = take_optional_string(&mut object, "name")?;
        match object.remove("id") {
            None | Some(Value::Null | Value::String(_) | Value::Number(_)) => {}
            Some(other) => {
                return Err(EnvelopeError::WrongFieldType {
                    field: "id",
                    expected: "a string or a number",
                    found: json_type(&other),
                });
            }
        }
        Ok(RestRequest {
            namespace,
            name,
            args: args_or_rest(object),
        })
    }
}

fn take_optional_string(
    object: &mut serde_json::Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, EnvelopeError> {
    match take_string(object, field) {
        Ok(text) => Ok(Some(text)),
        Err(EnvelopeError::MissingField { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

fn take_string(
    object: &mut serde_json::Map<String, Value>,
    field: &'static str,
) -> Result<String, EnvelopeError> {
    match object.remove(field) {
        Some(Value::String(text)) => Ok(text),
        None | Some(Value::Null) => Err(EnvelopeError::MissingField { field }),
        Some(other) => Err(EnvelopeError::WrongFieldType {
            field,
            expected: "a string",
            found: json_type(&other),
        }),
    }
}

/// A successful WebSocket reply: `{"args": ..., "id": ..., "name": "response", "namespace": ...}`,
/// with `"age_ms"` when the result is a kept answer of an earlier iocage read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response<A = Value> {
    /// The result.
    pub args: A,
    /// For a read answered from a kept answer (sysadmd's `[limits]
    /// iocage_read_ttl_ms`), the milliseconds since the iocage read it comes
    /// from started; absent when the result was read for this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_ms: Option<u64>,
    /// The request's id.
    pub id: RequestId,
    /// Always [`RESPONSE_NAME`].
    pub name: String,
    /// The request's namespace.
    pub namespace: String,
}

impl<A> Response<A> {
    /// A reply to a request in `namespace` with id `id`.
    pub fn new(namespace: impl Into<String>, id: RequestId, args: A) -> Self {
        Response {
            args,
            age_ms: None,
            id,
            name: RESPONSE_NAME.to_owned(),
            namespace: namespace.into(),
        }
    }

    /// This reply, saying that its result is a kept answer this old.
    pub fn with_age_ms(mut self, age_ms: Option<u64>) -> Self {
        self.age_ms = age_ms;
        self
    }
}

/// A WebSocket error reply: `{"args": {"code": 400, ...}, "id": ..., "name": "error", "namespace": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The code, message and details.
    pub args: ErrorArgs,
    /// The request's id (`""` when it could not be read).
    pub id: RequestId,
    /// Always [`ERROR_NAME`].
    pub name: String,
    /// The request's namespace, or `error` when it could not be read.
    pub namespace: String,
}

impl ErrorResponse {
    /// An error reply to a request in `namespace` with id `id`.
    pub fn new(namespace: impl Into<String>, id: RequestId, args: ErrorArgs) -> Self {
        ErrorResponse {
            args,
            id,
            name: ERROR_NAME.to_owned(),
            namespace: namespace.into(),
        }
    }
}

/// A REST body: `{"args": ...}`, for results and errors alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestBody<A = Value> {
    /// The result, or an [`ErrorArgs`].
    pub args: A,
}

/// An event pushed to subscribers: `{"args": ..., "id": "", "name": "<type>", "namespace": "events"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMessage<A = Value> {
    /// The event's content.
    pub args: A,
    /// Always the empty id.
    pub id: RequestId,
    /// The event type, for example `dispatcher`.
    pub name: String,
    /// Always [`EVENTS_NAMESPACE`].
    pub namespace: String,
    /// The event's number: per server, increasing, never reused (also across
    /// restarts). `events/subscribe` with `since` resumes after one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

impl<A> EventMessage<A> {
    /// An event of type `name`.
    pub fn new(name: impl Into<String>, args: A) -> Self {
        EventMessage {
            args,
            id: RequestId::default(),
            name: name.into(),
            namespace: EVENTS_NAMESPACE.to_owned(),
            seq: None,
        }
    }
}

/// Anything a server sends on a WebSocket, as a client decodes it.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// A successful reply.
    Response(Response),
    /// An error reply.
    Error(ErrorResponse),
    /// An event.
    Event(EventMessage),
}

impl ServerMessage {
    /// Classifies a server message by its `name` and `namespace`.
    pub fn from_value(value: Value) -> Result<ServerMessage, EnvelopeError> {
        let name = value.get("name").and_then(Value::as_str).unwrap_or("");
        let namespace = value.get("namespace").and_then(Value::as_str).unwrap_or("");
        let decoded = if name == ERROR_NAME {
            serde_json::from_value(value).map(ServerMessage::Error)
        } else if namespace == EVENTS_NAMESPACE && name != RESPONSE_NAME {
            serde_json::from_value(value).map(ServerMessage::Event)
        } else {
            serde_json::from_value(value).map(ServerMessage::Response)
        };
        decoded.map_err(|error| EnvelopeError::InvalidJson {
            reason: error.to_string(),
        })
    }
}

/// The JSON type of a value, for error messages.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{Request, RestRequest};

    #[test]
    fn websocket_arguments_may_stand_at_the_top_level() {
        let check = |message: Value, args: Value| {
            let request = Request::from_value(message.clone()).expect("a request");
            assert_eq!(request.args, args, "{message}");
        };
        check(
            json!({"namespace": "sysadm", "name": "iocage", "id": "a", "action": "listjails"}),
            json!({"action": "listjails"}),
        );
        // `args` wins when both are there, as in the reference server.
        check(
            json!({"namespace": "sysadm", "name": "iocage", "args": {"action": "df"}, "action": "x"}),
            json!({"action": "df"}),
        );
        check(json!({"namespace": "rpc", "name": "identify"}), Value::Null);
    }

    #[test]
    fn a_rest_body_may_be_a_whole_envelope() {
        let check = |body: Value, namespace: Option<&str>, name: Option<&str>, args: Value| {
            let request = RestRequest::from_body(body.clone()).expect("a body");
            assert_eq!(
                request,
                RestRequest {
                    namespace: namespace.map(str::to_owned),
                    name: name.map(str::to_owned),
                    args,
                },
                "{body}"
            );
        };
        check(
            json!({"action": "listjails"}),
            None,
            None,
            json!({"action": "listjails"}),
        );
        check(
            json!({"namespace": "sysadm", "name": "iocage", "id": "x", "args": {"action": "df"}}),
            Some("sysadm"),
            Some("iocage"),
            json!({"action": "df"}),
        );
        check(
            json!({"namespace": "sysadm", "name": "iocage", "id": 7, "action": "df"}),
            Some("sysadm"),
            Some("iocage"),
            json!({"action": "df"}),
        );
        check(
            json!({"args": ["dispatcher"]}),
            None,
            None,
            json!(["dispatcher"]),
        );
        check(json!(["dispatcher"]), None, None, json!(["dispatcher"]));
        check(Value::Null, None, None, Value::Null);
        // A plain body with an `id` member is still plain arguments.
        check(
            json!({"id": "x", "action": "df"}),
            None,
            None,
            json!({"id": "x", "action": "df"}),
        );
        for bad in [
            json!({"namespace": 1, "args": {}}),
            json!({"name": [], "args": {}}),
            json!({"args": {}, "id": {}}),
        ] {
            assert!(RestRequest::from_body(bad.clone()).is_err(), "{bad}");
        }
    }
}
