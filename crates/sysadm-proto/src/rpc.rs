//! The `rpc` class: authentication, identification, capability queries and
//! the job list, in the reference server's message shapes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::args::Args;
use crate::error::ArgsError;
use crate::keys::KeysRequest;

/// The namespace of the `rpc` class.
pub const RPC_NAMESPACE: &str = "rpc";

/// A decoded `rpc` request. The name comes from the envelope's `name`.
///
/// `Debug` never shows a password or a token.
#[derive(Clone, PartialEq, Eq)]
pub enum RpcRequest {
    /// `rpc/auth`: `{"username": "u", "password": "p"}`.
    Auth {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// `rpc/auth_token`: `{"token": "..."}`.
    AuthToken {
        /// A token from an earlier `auth`.
        token: String,
    },
    /// `rpc/auth_key`: `{"key": "..."}`, an API key from `sysadmd key create` or `rpc/keys`.
    AuthKey {
        /// The key's secret.
        key: String,
    },
    /// `rpc/keys`: create, list or revoke API keys (admins only).
    Keys(KeysRequest),
    /// `rpc/auth_clear`: end the session.
    AuthClear,
    /// `rpc/identify`: works without authentication.
    Identify,
    /// `rpc/query`: the classes the user may call.
    Query,
    /// `rpc/dispatcher` with `{"action": "list"}`: jobs in progress.
    DispatcherList,
    /// `rpc/dispatcher` with `{"action": "history", "since": N}`: the jobs
    /// that finished after event `N` (0 when absent), with their outcomes.
    DispatcherHistory {
        /// The seq of the last event the client has seen.
        since: u64,
    },
    /// `rpc/capabilities`: the server, its backend, what it supports, its limits.
    Capabilities,
}

impl std::fmt::Debug for RpcRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RpcRequest::Auth { username, .. } => f
                .debug_struct("Auth")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            RpcRequest::AuthToken { .. } => f
                .debug_struct("AuthToken")
                .field("token", &"<redacted>")
                .finish(),
            RpcRequest::AuthKey { .. } => f
                .debug_struct("AuthKey")
                .field("key", &"<redacted>")
                .finish(),
            RpcRequest::Keys(request) => f.debug_tuple("Keys").field(request).finish(),
            RpcRequest::AuthClear => f.write_str("AuthClear"),
            RpcRequest::Identify => f.write_str("Identify"),
            RpcRequest::Query => f.write_str("Query"),
            RpcRequest::DispatcherList => f.write_str("DispatcherList"),
            RpcRequest::Capabilities => f.write_str("Capabilities"),
            RpcRequest::DispatcherHistory { since } => f
                .debug_struct("DispatcherHistory")
                .field("since", since)
                .finish(),
        }
    }
}

/// The `rpc` request names sysadmd answers.
pub const RPC_NAMES: [&str; 9] = [
    "auth",
    "auth_token",
    "auth_key",
    "auth_clear",
    "identify",
    "query",
    "dispatcher",
    "keys",
    "capabilities",
];

impl RpcRequest {
    /// Decodes an `rpc` request from its envelope `name` and `args`.
    /// `None` means the name is not an `rpc` request (a 404).
    pub fn decode(name: &str, args: &Value) -> Option<Result<RpcRequest, ArgsError>> {
        Some(match name {
            "auth" => Args::new("auth", args).and_then(|args| {
                Ok(RpcRequest::Auth {
                    username: args.required_str("username")?.to_owned(),
                    password: args.required_str("password")?.to_owned(),
                })
            }),
            "auth_token" => Args::new("auth_token", args).and_then(|args| {
                Ok(RpcRequest::AuthToken {
                    token: args.required_str("token")?.to_owned(),
                })
            }),
            "auth_key" => Args::new("auth_key", args).and_then(|args| {
                Ok(RpcRequest::AuthKey {
                    key: args.required_str("key")?.to_owned(),
                })
            }),
            "keys" => KeysRequest::decode(args).map(RpcRequest::Keys),
            "auth_clear" => Ok(RpcRequest::AuthClear),
            "identify" => Ok(RpcRequest::Identify),
            "query" => Ok(RpcRequest::Query),
            "capabilities" => Ok(RpcRequest::Capabilities),
            "dispatcher" => Args::new("dispatcher", args).and_then(|args| {
                match args.required_str("action")? {
                    "list" => Ok(RpcRequest::DispatcherList),
                    "history" => Ok(RpcRequest::DispatcherHistory {
                        since: match args.get("since") {
                            None | Some(Value::Null) => 0,
                            Some(Value::Number(number)) if number.as_u64().is_some() => {
                                number.as_u64().unwrap_or_default()
                            }
                            Some(other) => {
                                return Err(ArgsError::WrongType {
                                    action: "dispatcher",
                                    argument: "since",
                                    expected: "the seq of an event (an integer, 0 or more)",
                                    found: crate::envelope::json_type(other),
                                });
                            }
                        },
                    }),
                    other => Err(ArgsError::InvalidValue {
                        action: "dispatcher",
                        argument: "action",
                        value: other.to_owned(),
                        accepted: "the dispatcher actions are 'list' (jobs running) and \
                                   'history' (jobs finished, with \"since\": N)"
                            .to_owned(),
                    }),
                }
            }),
            _ => return None,
        })
    }

    /// The envelope `name` of this request.
    pub fn name(&self) -> &'static str {
        match self {
            RpcRequest::Auth { .. } => "auth",
            RpcRequest::AuthToken { .. } => "auth_token",
            RpcRequest::AuthKey { .. } => "auth_key",
            RpcRequest::Keys(_) => "keys",
            RpcRequest::AuthClear => "auth_clear",
            RpcRequest::Identify => "identify",
            RpcRequest::Query => "query",
            RpcRequest::DispatcherList | RpcRequest::DispatcherHistory { .. } => "dispatcher",
            RpcRequest::Capabilities => "capabilities",
        }
    }

    /// The `args` a client sends for this request.
    pub fn to_args(&self) -> Value {
        match self {
            RpcRequest::Auth { username, password } => {
                serde_json::json!({"username": username, "password": password})
            }
            RpcRequest::AuthToken { token } => serde_json::json!({"token": token}),
            RpcRequest::AuthKey { key } => serde_json::json!({"key": key}),
            RpcRequest::Keys(request) => request.to_args(),
            RpcRequest::DispatcherList => serde_json::json!({"action": "list"}),
            RpcRequest::DispatcherHistory { since } => {
                serde_json::json!({"action": "history", "since": since})
            }
            RpcRequest::AuthClear
            | RpcRequest::Identify
            | RpcRequest::Query
            | RpcRequest::Capabilities => Value::Object(serde_json::Map::new()),
        }
    }

    /// Whether the request is answered without authentication.
    pub fn is_public(&self) -> bool {
        matches!(
            self,
            RpcRequest::Auth { .. }
                | RpcRequest::AuthToken { .. }
                | RpcRequest::AuthKey { .. }
                | RpcRequest::Identify
        )
    }
}

/// The reply to `auth` and `auth_token`: `["<token>", <seconds>]`.
///
/// `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthReply(pub String, pub u64);

impl std::fmt::Debug for AuthReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AuthReply")
            .field(&"<redacted>")
            .field(&self.1)
            .finish()
    }
}

/// The reply to `auth_clear`.
pub const AUTH_CLEARED: &str = "cleared";

/// The reply to `identify`: `{"type": "server", "hostname": "<host>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifyReply {
    /// Always `server`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The host's name.
    pub hostname: String,
}

impl IdentifyReply {
    /// The reply for a server on `hostname`.
    pub fn server(hostname: impl Into<String>) -> Self {
        IdentifyReply {
            kind: "server".to_owned(),
            hostname: hostname.into(),
        }
    }
}

/// What a user may do with a class, as `query` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Access {
    /// Every action.
    #[serde(rename = "read/write")]
    ReadWrite,
    /// Read-only actions.
    #[serde(rename = "read")]
    Read,
}

/// The reply to `query`: `{"sysadm/iocage": "read/write", "rpc/dispatcher": "read"}`.
pub type QueryReply = BTreeMap<String, Access>;
