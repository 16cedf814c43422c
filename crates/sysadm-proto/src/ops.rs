//! What sysadmd offers beyond the 2016-2017 API documents, for automation:
//! per-call options (`dry_run`, `confirm`, `idempotency_key`, `messages`), previews of
//! destruction, and `rpc/capabilities`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::args::Args;
use crate::envelope::json_type;
use crate::error::ArgsError;
use crate::request::{Action, IocageRequest};

/// The keys of `args` that are options of the call, not of the action.
pub const OPTION_KEYS: [&str; 4] = ["dry_run", "confirm", "idempotency_key", "messages"];

/// The longest idempotency key accepted, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

/// Options a `sysadm/iocage` call may carry besides the action's arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallOptions {
    /// `"dry_run": true`: report what would be destroyed, change nothing.
    pub dry_run: bool,
    /// The `confirm` token of an earlier dry run of the same request.
    pub confirm: Option<String>,
    /// A client's key that makes a retry return the first result.
    pub idempotency_key: Option<String>,
    /// `"messages": true`: the reply carries what iocage printed around its
    /// output (warnings, first-run lines) as `"messages"` beside the
    /// documented keys.
    pub messages: bool,
}

impl IocageRequest {
    /// Decodes a request and its [`CallOptions`]. `dry_run` and `confirm` are
    /// accepted only by the actions that destroy data (elsewhere they are a
    /// 400: a `dry_run` that is ignored would run the change); an
    /// `idempotency_key` by every action.
    pub fn from_args_with_options(args: &Value) -> Result<(IocageRequest, CallOptions), ArgsError> {
        let request = IocageRequest::from_args_accepting(args, &OPTION_KEYS)?;
        let action = request.action();
        let args = Args::new(action.as_str(), args)?;
        let flag = |argument: &'static str| match args.get(argument) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(false),
            Some(Value::Bool(true)) => Ok(true),
            Some(other) => Err(ArgsError::WrongType {
                action: action.as_str(),
                argument,
                expected: "true or false",
                found: json_type(other),
            }),
        };
        let dry_run = flag("dry_run")?;
        let messages = flag("messages")?;
        let confirm = args.optional_str("confirm")?.map(str::to_owned);
        if action.destructive_arguments().is_none() {
            for (argument, given) in [("dry_run", dry_run), ("confirm", confirm.is_some())] {
                if given {
                    return Err(ArgsError::InvalidValue {
                        action: action.as_str(),
                        argument,
                        value: args.get(argument).map(Value::to_string).unwrap_or_default(),
                        accepted: format!(
                            "only the actions that destroy data ({}) take {argument}; send {} without it",
                            destructive_names(),
                            action.as_str()
                        ),
                    });
                }
            }
        }
        let idempotency_key = args.optional_str("idempotency_key")?;
        if let Some(key) = idempotency_key {
            check_idempotency_key(key).map_err(|accepted| ArgsError::InvalidValue {
                action: action.as_str(),
                argument: "idempotency_key",
                value: key.to_owned(),
                accepted,
            })?;
        }
        // A dry run runs no command, and a replay returns a stored reply:
        // neither has iocage's messages to give, and an empty list would say
        // iocage printed nothing.
        for (other, given) in [
            ("dry_run", dry_run),
            ("idempotency_key", idempotency_key.is_some()),
        ] {
            if messages && given {
                return Err(ArgsError::InvalidValue {
                    action: action.as_str(),
                    argument: "messages",
                    value: "true".to_owned(),
                    accepted: format!(
                        "messages is not available with {other} (no iocage run's messages to give); \
                         send one or the other"
                    ),
                });
            }
        }
        Ok((
            request,
            CallOptions {
                dry_run,
                confirm,
                idempotency_key: idempotency_key.map(str::to_owned),
                messages,
            },
        ))
    }
}

/// Whether `key` may be an idempotency key; else what is accepted.
pub fn check_idempotency_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "an idempotency key is 1 to {MAX_IDEMPOTENCY_KEY} characters of A-Z, a-z, 0-9, '-', '_', '.' and ':' (a UUID, say)"
        ))
    }
}

/// The destructive actions' names, comma-separated.
fn destructive_names() -> String {
    Action::ALL
        .into_iter()
        .filter(|action| action.destructive_arguments().is_some())
        .map(Action::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A jail or template named by UUID and tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JailRef {
    /// Its UUID.
    pub uuid: String,
    /// Its tag (Python iocage: its name).
    pub tag: String,
}

/// Everything a destructive request would destroy, as the backend knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WouldDestroy {
    /// Jails (not templates).
    pub jails: Vec<JailRef>,
    /// Templates.
    pub templates: Vec<JailRef>,
    /// Fetched releases.
    pub releases: Vec<String>,
    /// ZFS datasets, each destroyed with everything under it.
    pub datasets: Vec<String>,
}

/// The reply to a dry run: `{"<action>": {"dry_run": true, "would_destroy":
/// {...}, "confirm": "<token>", "confirm_within_secs": 60}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRunReply {
    /// The action previewed.
    pub action: Action,
    /// What the action would destroy now.
    pub would_destroy: WouldDestroy,
    /// The token that confirms the same request.
    pub confirm: String,
    /// How long the token is good for.
    pub confirm_within_secs: u64,
}

#[derive(Serialize, Deserialize)]
struct DryRunBody {
    dry_run: bool,
    would_destroy: WouldDestroy,
    confirm: String,
    confirm_within_secs: u64,
}

impl Serialize for DryRunReply {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let body = DryRunBody {
            dry_run: true,
            would_destroy: self.would_destroy.clone(),
            confirm: self.confirm.clone(),
            confirm_within_secs: self.confirm_within_secs,
        };
        BTreeMap::from([(self.action.as_str(), body)]).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DryRunReply {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let map = BTreeMap::<String, DryRunBody>::deserialize(deserializer)?;
        let mut entries = map.into_iter();
        let (Some((name, body)), None) = (entries.next(), entries.next()) else {
            return Err(D::Error::custom(
                "a dry run reply has exactly one action key",
            ));
        };
        let action = Action::from_name(&name)
            .ok_or_else(|| D::Error::custom(format!("unknown action '{name}'")))?;
        Ok(DryRunReply {
            action,
            would_destroy: body.would_destroy,
            confirm: body.confirm,
            confirm_within_secs: body.confirm_within_secs,
        })
    }
}

/// The server, in `rpc/capabilities`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// `sysadmd`.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The host's name.
    pub hostname: String,
}

/// The backend, in `rpc/capabilities`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// `simulated`, `iocage`, or `custom` (one a program embedding sysadmd supplied).
    pub kind: String,
    /// `legacy` or `python`, for iocage, when known.
    pub flavour: Option<String>,
    /// iocage's version, when it was asked.
    pub version: Option<String>,
}

/// The reply to `rpc/capabilities`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapabilitiesReply {
    /// The server.
    pub server: ServerInfo,
    /// The backend serving iocage actions.
    pub backend: BackendInfo,
    /// `ok`, or why the server cannot serve changes now (as `GET /healthz`).
    pub health: String,
    /// The actions the backend carries out, by wire name.
    pub supported: Vec<String>,
    /// The actions answered with 501 whatever their arguments, with why.
    pub not_supported: BTreeMap<String, String>,
    /// Options and features beyond the API documents.
    pub features: Vec<String>,
    /// The limits in force (the `[limits]` table and the others that bound clients).
    pub limits: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn destructive_actions_take_dry_run_and_confirm_others_refuse_them() {
        let (request, options) = IocageRequest::from_args_with_options(
            &json!({"action": "cleanjails", "dry_run": true}),
        )
        .unwrap();
        assert_eq!(request, IocageRequest::CleanJails);
        assert!(options.dry_run);
        let (request, options) = IocageRequest::from_args_with_options(
            &json!({"action": "destroyjail", "jail": "www", "confirm": "abc"}),
        )
        .unwrap();
        assert_eq!(request, IocageRequest::DestroyJail { jail: "www".into() });
        assert_eq!(options.confirm.as_deref(), Some("abc"));
        assert!(!options.dry_run);
        let error = IocageRequest::from_args_with_options(
            &json!({"action": "startjail", "jail": "www", "dry_run": true}),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("startjail: invalid dry_run"), "{error}");
        assert!(error.contains("cleanall, cleanjails"), "{error}");
        let error =
            IocageRequest::from_args_with_options(&json!({"action": "cleanall", "dry_run": "yes"}))
                .unwrap_err()
                .to_string();
        assert_eq!(
            error,
            "cleanall: argument 'dry_run' must be true or false, not a string"
        );
        // Still refused by the plain decoder: a caller that ignores options must not destroy.
        assert!(IocageRequest::from_args(&json!({"action": "cleanall", "dry_run": true})).is_err());
    }

    #[test]
    fn every_action_takes_messages_but_not_with_a_dry_run_or_a_replay() {
        for args in [
            json!({"action": "listjails", "messages": true}),
            json!({"action": "cleanall", "messages": true}),
        ] {
            let (_, options) = IocageRequest::from_args_with_options(&args).unwrap();
            assert!(options.messages, "{args}");
        }
        let (_, options) =
            IocageRequest::from_args_with_options(&json!({"action": "df", "messages": null}))
                .unwrap();
        assert!(!options.messages);
        let wrong =
            IocageRequest::from_args_with_options(&json!({"action": "df", "messages": "yes"}))
                .unwrap_err();
        assert!(wrong.to_string().contains("true or false"), "{wrong}");
        for args in [
            json!({"action": "cleanjails", "dry_run": true, "messages": true}),
            json!({"action": "startjail", "jail": "www", "idempotency_key": "k1", "messages": true}),
        ] {
            let refused = IocageRequest::from_args_with_options(&args).unwrap_err();
            assert!(
                refused.to_string().contains("messages is not available"),
                "{refused}"
            );
        }
    }

    #[test]
    fn idempotency_keys_are_short_plain_words() {
        let (_, options) = IocageRequest::from_args_with_options(
            &json!({"action": "startjail", "jail": "www", "idempotency_key": "a-1:b_2.c"}),
        )
        .unwrap();
        assert_eq!(options.idempotency_key.as_deref(), Some("a-1:b_2.c"));
        for bad in ["", "has space", &"k".repeat(MAX_IDEMPOTENCY_KEY + 1)] {
            let error = IocageRequest::from_args_with_options(
                &json!({"action": "cleanall", "idempotency_key": bad}),
            )
            .unwrap_err()
            .to_string();
            assert!(error.contains("an idempotency key is 1 to 128"), "{error}");
        }
    }

    #[test]
    fn a_dry_run_reply_is_keyed_by_its_action_and_round_trips() {
        let reply = DryRunReply {
            action: Action::CleanReleases,
            would_destroy: WouldDestroy {
                releases: vec!["10.3-RELEASE".into()],
                datasets: vec!["tank/iocage/releases".into()],
                ..WouldDestroy::default()
            },
            confirm: "t".into(),
            confirm_within_secs: 60,
        };
        let value = serde_json::to_value(&reply).unwrap();
        assert_eq!(
            value,
            json!({"cleanreleases": {"dry_run": true, "confirm": "t", "confirm_within_secs": 60,
                "would_destroy": {"jails": [], "templates": [], "releases": ["10.3-RELEASE"],
                                  "datasets": ["tank/iocage/releases"]}}})
        );
        assert_eq!(serde_json::from_value::<DryRunReply>(value).unwrap(), reply);
    }
}
