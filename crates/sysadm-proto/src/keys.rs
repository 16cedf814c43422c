//! API keys: long-lived credentials for scripts, `rpc/auth_key` to log in
//! with one over WebSocket and `rpc/keys` (admins) to create, list and
//! revoke them.
//!
//! ```
//! use serde_json::json;
//! use sysadm_proto::{KeyRole, KeySpec, KeysRequest, RpcRequest};
//!
//! let args = json!({"action": "create", "name": "ci", "role": "viewer", "jails": ["web*"]});
//! let request = RpcRequest::decode("keys", &args).unwrap().unwrap();
//! assert_eq!(request, RpcRequest::Keys(KeysRequest::Create(KeySpec {
//!     name: "ci".into(), role: KeyRole::Viewer, jails: vec!["web*".into()],
//!     actions: vec![], expires_secs: None,
//! })));
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::args::Args;
use crate::envelope::json_type;
use crate::error::ArgsError;
use crate::request::Action;

/// What a key may do, as a user's role: every action, or only reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// Every action.
    Admin,
    /// Read-only actions.
    Viewer,
}

impl KeyRole {
    /// The role's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Admin => "admin",
            KeyRole::Viewer => "viewer",
        }
    }
}

/// A key to create (`rpc/keys` with `"action": "create"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// The key's name, unique on the server.
    pub name: String,
    /// The key's role.
    pub role: KeyRole,
    /// Glob patterns on a jail's tag or UUID; empty: every jail.
    pub jails: Vec<String>,
    /// The iocage actions the key may run (wire names); empty: every action its role allows.
    pub actions: Vec<String>,
    /// Seconds from creation until the key stops working; `None`: never.
    pub expires_secs: Option<u64>,
}

/// An `rpc/keys` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysRequest {
    /// Create a key; the reply holds its secret, once.
    Create(KeySpec),
    /// List the keys (never their secrets).
    List,
    /// Revoke a key: sessions using it end at once.
    Revoke {
        /// The key's name.
        name: String,
    },
}

/// The `action`s of `rpc/keys`.
pub const KEYS_ACTIONS: [&str; 3] = ["create", "list", "revoke"];

impl KeysRequest {
    pub(crate) fn decode(args: &Value) -> Result<KeysRequest, ArgsError> {
        let args = Args::new("keys", args)?;
        match args.required_str("action")? {
            "list" => Ok(KeysRequest::List),
            "revoke" => Ok(KeysRequest::Revoke {
                name: args.required_str("name")?.to_owned(),
            }),
            "create" => {
                args.refuse_unknown(&[
                    "action",
                    "name",
                    "role",
                    "jails",
                    "actions",
                    "expires_secs",
                ])?;
                let role = match args.required_str("role")? {
                    "admin" => KeyRole::Admin,
                    "viewer" => KeyRole::Viewer,
                    other => {
                        return Err(ArgsError::InvalidValue {
                            action: "keys",
                            argument: "role",
                            value: other.to_owned(),
                            accepted: "'admin' or 'viewer'".to_owned(),
                        });
                    }
                };
                let actions = string_list(&args, "actions")?;
                if let Some(bad) = actions
                    .iter()
                    .find(|name| Action::from_name(name).is_none())
                {
                    return Err(ArgsError::InvalidValue {
                        action: "keys",
                        argument: "actions",
                        value: bad.clone(),
                        accepted: format!("iocage actions: {}", Action::valid_names()),
                    });
                }
                let expires_secs = match args.value("expires_secs") {
                    None | Some(Value::Null) => None,
                    Some(Value::Number(n)) if n.as_u64().is_some_and(|secs| secs > 0) => n.as_u64(),
                    Some(other) => {
                        return Err(ArgsError::InvalidValue {
                            action: "keys",
                            argument: "expires_secs",
                            value: other.to_string(),
                            accepted: "a positive whole number of seconds, or null for a key that never expires".to_owned(),
                        });
                    }
                };
                Ok(KeysRequest::Create(KeySpec {
                    name: args.required_str("name")?.to_owned(),
                    role,
                    jails: string_list(&args, "jails")?,
                    actions,
                    expires_secs,
                }))
            }
            other => Err(ArgsError::InvalidValue {
                action: "keys",
                argument: "action",
                value: other.to_owned(),
                accepted: format!("one of {}", KEYS_ACTIONS.join(", ")),
            }),
        }
    }

    /// The `args` a client sends for this request.
    pub fn to_args(&self) -> Value {
        match self {
            KeysRequest::List => serde_json::json!({"action": "list"}),
            KeysRequest::Revoke { name } => serde_json::json!({"action": "revoke", "name": name}),
            KeysRequest::Create(spec) => serde_json::json!({
                "action": "create",
                "name": spec.name,
                "role": spec.role,
                "jails": spec.jails,
                "actions": spec.actions,
                "expires_secs": spec.expires_secs,
            }),
        }
    }

    /// Whether the request changes the keys.
    pub fn changes_keys(&self) -> bool {
        !matches!(self, KeysRequest::List)
    }
}

/// A list of strings that may be absent (empty).
fn string_list(args: &Args<'_>, argument: &'static str) -> Result<Vec<String>, ArgsError> {
    let wrong = |found| ArgsError::WrongType {
        action: "keys",
        argument,
        expected: "an array of strings",
        found,
    };
    match args.value(argument) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                other => Err(wrong(json_type(other))),
            })
            .collect(),
        Some(other) => Err(wrong(json_type(other))),
    }
}

/// A key as `rpc/keys list` shows it, and as `rpc/auth_key` answers: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// The key's name.
    pub name: String,
    /// Its role.
    pub role: KeyRole,
    /// Glob patterns on a jail's tag or UUID; empty: every jail.
    pub jails: Vec<String>,
    /// The iocage actions it may run; empty: every action its role allows.
    pub actions: Vec<String>,
    /// When it was created, in seconds since the Unix epoch.
    pub created: u64,
    /// When it stops working, in seconds since the Unix epoch; `null`: never.
    pub expires: Option<u64>,
    /// Who created it (a user, `key:NAME`, or `sysadmd key create`).
    pub created_by: String,
}

/// The reply to `rpc/keys create`: the key's secret, shown this once, and what it may do.
///
/// `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCreated {
    /// The secret to send as `Authorization: Bearer <key>` or with `rpc/auth_key`.
    pub key: String,
    /// The key.
    #[serde(flatten)]
    pub info: KeyInfo,
}

impl std::fmt::Debug for KeyCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCreated")
            .field("key", &"<redacted>")
            .field("info", &self.info)
            .finish()
    }
}

/// The reply to `rpc/keys list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    /// Every key, by name.
    pub keys: Vec<KeyInfo>,
}

/// The reply to `rpc/keys revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRevoked {
    /// The key revoked.
    pub revoked: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RpcRequest;
    use serde_json::json;

    fn decode(args: Value) -> Result<RpcRequest, ArgsError> {
        RpcRequest::decode("keys", &args).expect("keys is an rpc name")
    }

    #[test]
    fn every_keys_request_round_trips_through_its_args() {
        let requests = [
            KeysRequest::List,
            KeysRequest::Revoke { name: "ci".into() },
            KeysRequest::Create(KeySpec {
                name: "ci".into(),
                role: KeyRole::Admin,
                jails: vec!["web*".into(), "db1".into()],
                actions: vec!["startjail".into(), "stopjail".into()],
                expires_secs: Some(86_400),
            }),
        ];
        for request in requests {
            assert_eq!(
                decode(request.to_args()),
                Ok(RpcRequest::Keys(request.clone()))
            );
        }
    }

    #[test]
    fn bad_key_requests_name_what_is_accepted() {
        let error = decode(json!({"action": "create", "name": "x", "role": "root"})).unwrap_err();
        assert!(error.to_string().contains("'admin' or 'viewer'"), "{error}");
        let error = decode(
            json!({"action": "create", "name": "x", "role": "admin", "actions": ["startjial"]}),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("startjial") && error.to_string().contains("startjail"),
            "{error}"
        );
        let error =
            decode(json!({"action": "create", "name": "x", "role": "admin", "jails": "web*"}))
                .unwrap_err();
        assert!(error.to_string().contains("an array of strings"), "{error}");
        let error =
            decode(json!({"action": "create", "name": "x", "role": "admin", "expires_secs": -1}))
                .unwrap_err();
        assert!(
            error.to_string().contains("positive whole number"),
            "{error}"
        );
        let error = decode(json!({"action": "rotate"})).unwrap_err();
        assert!(
            error.to_string().contains("create, list, revoke"),
            "{error}"
        );
    }

    #[test]
    fn a_created_key_serializes_flat_and_debug_hides_the_secret() {
        let created = KeyCreated {
            key: "sysadm_secret".into(),
            info: KeyInfo {
                name: "ci".into(),
                role: KeyRole::Viewer,
                jails: vec![],
                actions: vec![],
                created: 1,
                expires: None,
                created_by: "admin".into(),
            },
        };
        let value = serde_json::to_value(&created).unwrap();
        assert_eq!(value["key"], "sysadm_secret");
        assert_eq!(value["name"], "ci");
        assert_eq!(value["role"], "viewer");
        assert!(!format!("{created:?}").contains("sysadm_secret"));
    }
}
