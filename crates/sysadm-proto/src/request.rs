//! The `sysadm/iocage` actions as typed requests.
//!
//! Decoding checks the shape of the arguments only (presence, JSON types and
//! the documented switches). What the strings may contain (jail names,
//! properties, pool names) is checked by `iocage-service`, which knows iocage.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::args::Args;
use crate::envelope::json_type;
use crate::error::ArgsError;

/// The namespace of the iocage class.
pub const IOCAGE_NAMESPACE: &str = "sysadm";
/// The name of the iocage class.
pub const IOCAGE_NAME: &str = "iocage";

/// Every action of the iocage class, as named on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// `activatepool`: activate a pool, or show the active one.
    ActivatePool,
    /// `capjail`: re-apply resource limits to a running jail.
    CapJail,
    /// `cleanall`: destroy every iocage dataset.
    CleanAll,
    /// `cleanjails`: destroy every jail.
    CleanJails,
    /// `cleanreleases`: destroy every fetched release.
    CleanReleases,
    /// `cleantemplates`: destroy every template.
    CleanTemplates,
    /// `clonejail`: clone a jail.
    CloneJail,
    /// `createjail`: create a jail.
    CreateJail,
    /// `deactivatepool`: deactivate a pool.
    DeactivatePool,
    /// `destroyjail`: destroy a stopped jail.
    DestroyJail,
    /// `df`: disk usage of every jail.
    Df,
    /// `execjail`: run a command in a jail.
    ExecJail,
    /// `getdefaultsettings`: the default properties.
    GetDefaultSettings,
    /// `getjailsettings`: properties of a jail (four modes).
    GetJailSettings,
    /// `listjails`: every jail.
    ListJails,
    /// `listplugins`: the remote plugin index.
    ListPlugins,
    /// `listreleases`: local and remote releases.
    ListReleases,
    /// `startjail`: start a jail.
    StartJail,
    /// `stopjail`: stop a jail.
    StopJail,
}

impl Action {
    /// All 19 actions, in alphabetical order.
    pub const ALL: [Action; 19] = [
        Action::ActivatePool,
        Action::CapJail,
        Action::CleanAll,
        Action::CleanJails,
        Action::CleanReleases,
        Action::CleanTemplates,
        Action::CloneJail,
        Action::CreateJail,
        Action::DeactivatePool,
        Action::DestroyJail,
        Action::Df,
        Action::ExecJail,
        Action::GetDefaultSettings,
        Action::GetJailSettings,
        Action::ListJails,
        Action::ListPlugins,
        Action::ListReleases,
        Action::StartJail,
        Action::StopJail,
    ];

    /// The action's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ActivatePool => "activatepool",
            Action::CapJail => "capjail",
            Action::CleanAll => "cleanall",
            Action::CleanJails => "cleanjails",
            Action::CleanReleases => "cleanreleases",
            Action::CleanTemplates => "cleantemplates",
            Action::CloneJail => "clonejail",
            Action::CreateJail => "createjail",
            Action::DeactivatePool => "deactivatepool",
            Action::DestroyJail => "destroyjail",
            Action::Df => "df",
            Action::ExecJail => "execjail",
            Action::GetDefaultSettings => "getdefaultsettings",
            Action::GetJailSettings => "getjailsettings",
            Action::ListJails => "listjails",
            Action::ListPlugins => "listplugins",
            Action::ListReleases => "listreleases",
            Action::StartJail => "startjail",
            Action::StopJail => "stopjail",
        }
    }

    /// The action with this wire name.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == name)
    }

    /// The valid action names, comma-separated, for error messages.
    pub fn valid_names() -> String {
        Action::ALL.map(Action::as_str).join(", ")
    }

    /// The only arguments an action that destroys data accepts (`destroyjail`
    /// and the four `clean` actions); `None` for the others, which ignore
    /// unknown arguments because old clients send them. A misspelt safety
    /// option (`"dry_rn": true`) must never be ignored while data is destroyed.
    pub fn destructive_arguments(self) -> Option<&'static [&'static str]> {
        match self {
            Action::DestroyJail => Some(&["action", "jail", "switches"]),
            Action::CleanAll
            | Action::CleanJails
            | Action::CleanReleases
            | Action::CleanTemplates => Some(&["action", "switches"]),
            _ => None,
        }
    }

    /// Whether the action changes the host. `activatepool` changes it only
    /// when it names a pool: see [`IocageRequest::changes_host`].
    pub fn changes_host(self) -> bool {
        !matches!(
            self,
            Action::Df
                | Action::GetDefaultSettings
                | Action::GetJailSettings
                | Action::ListJails
                | Action::ListPlugins
                | Action::ListReleases
        )
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `getjailsettings` asks for: its four documented modes in three
/// shapes ("all" and "the jail alone" produce the same output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JailSettingsQuery {
    /// One property of one jail: `{"jail": "test", "prop": "vnet"}`.
    Property {
        /// The jail as the client named it (UUID, short UUID or tag).
        jail: String,
        /// The property.
        prop: String,
    },
    /// Every property of one jail: `{"jail": "test", "prop": "all"}` or `{"jail": "test"}`.
    All {
        /// The jail as the client named it.
        jail: String,
    },
    /// One property of every jail: `{"switches": "-r", "prop": "vnet"}`.
    Recursive {
        /// The property.
        prop: String,
    },
}

/// A decoded `sysadm/iocage` request.
///
/// ```
/// use serde_json::json;
/// use sysadm_proto::{IocageRequest, JailSettingsQuery};
/// let request = IocageRequest::from_args(&json!({
///     "action": "getjailsettings", "jail": "test", "prop": "vnet"
/// })).unwrap();
/// assert_eq!(request, IocageRequest::GetJailSettings(JailSettingsQuery::Property {
///     jail: "test".into(), prop: "vnet".into(),
/// }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IocageRequest {
    /// Activate `pool`, or report the active pool when `pool` is `None`.
    ActivatePool {
        /// The pool to activate.
        pool: Option<String>,
    },
    /// Re-apply resource limits.
    CapJail {
        /// The jail.
        jail: String,
    },
    /// Destroy every iocage dataset.
    CleanAll,
    /// Destroy every jail.
    CleanJails,
    /// Destroy every fetched release.
    CleanReleases,
    /// Destroy every template.
    CleanTemplates,
    /// Clone `jail`, with properties that should differ.
    CloneJail {
        /// The jail to clone.
        jail: String,
        /// `key=value` words, echoed in the response; empty when absent.
        props: String,
    },
    /// Create a jail.
    CreateJail {
        /// `key=value` words, echoed in the response; empty when absent.
        props: String,
        /// The `-e` switch: create an empty jail.
        empty: bool,
    },
    /// Deactivate `pool`.
    DeactivatePool {
        /// The pool.
        pool: String,
    },
    /// Destroy a stopped jail.
    DestroyJail {
        /// The jail.
        jail: String,
    },
    /// Disk usage of every jail.
    Df,
    /// Run `command` as `user` in `jail`.
    ExecJail {
        /// The jail.
        jail: String,
        /// The user inside the jail; `root` when the client sends none.
        user: String,
        /// The command line, split with POSIX shell quoting rules (never run by a shell).
        command: String,
    },
    /// The default properties.
    GetDefaultSettings,
    /// Properties of jails.
    GetJailSettings(JailSettingsQuery),
    /// Every jail.
    ListJails,
    /// The remote plugin index.
    ListPlugins,
    /// Local and remote releases.
    ListReleases,
    /// Start a jail.
    StartJail {
        /// The jail.
        jail: String,
    },
    /// Stop a jail.
    StopJail {
        /// The jail.
        jail: String,
    },
}

/// The user `execjail` runs as when the request names none.
pub const DEFAULT_EXEC_USER: &str = "root";

impl IocageRequest {
    /// Decodes the `args` of a `sysadm/iocage` request. Unknown extra keys
    /// are ignored, because old clients send them, except on the actions that
    /// destroy data ([`Action::destructive_arguments`]). A `switches` value
    /// an action does not document is refused.
    pub fn from_args(args: &Value) -> Result<IocageRequest, ArgsError> {
        Self::from_args_accepting(args, &[])
    }

    /// [`IocageRequest::from_args`], with `extra` keys also accepted by the
    /// actions that destroy data (the call options of `ops.rs`).
    pub(crate) fn from_args_accepting(
        args: &Value,
        extra: &[&'static str],
    ) -> Result<IocageRequest, ArgsError> {
        let object = match args {
            Value::Object(object) => object,
            other => {
                return Err(ArgsError::NotAnObject {
                    found: json_type(other),
                });
            }
        };
        let name = match object.get("action") {
            None | Some(Value::Null) => {
                return Err(match crate::args::near_key(object, "action") {
                    Some(sent) => ArgsError::MisspeltAction {
                        sent: sent.to_owned(),
                        valid: Action::valid_names(),
                    },
                    None => ArgsError::MissingAction {
                        valid: Action::valid_names(),
                    },
                });
            }
            Some(Value::String(name)) => name,
            Some(other) => {
                return Err(ArgsError::WrongType {
                    action: "iocage",
                    argument: "action",
                    expected: "a string",
                    found: json_type(other),
                });
            }
        };
        let action = Action::from_name(name).ok_or_else(|| ArgsError::UnknownAction {
            action: name.clone(),
            valid: Action::valid_names(),
        })?;
        Self::decode(action, &Args::new(action.as_str(), args)?, extra)
    }

    fn decode(
        action: Action,
        args: &Args<'_>,
        extra: &[&'static str],
    ) -> Result<IocageRequest, ArgsError> {
        if let Some(accepted) = action.destructive_arguments() {
            let accepted: Vec<&'static str> = accepted.iter().chain(extra).copied().collect();
            args.refuse_unknown(&accepted)?;
        }
        if !matches!(action, Action::CreateJail | Action::GetJailSettings) {
            no_switches(action, args)?;
        }
        let jail = || args.required_str("jail").map(str::to_owned);
        Ok(match action {
            Action::ActivatePool => IocageRequest::ActivatePool {
                pool: args.optional_str("pool")?.map(str::to_owned),
            },
            Action::CapJail => IocageRequest::CapJail { jail: jail()? },
            Action::CleanAll => IocageRequest::CleanAll,
            Action::CleanJails => IocageRequest::CleanJails,
            Action::CleanReleases => IocageRequest::CleanReleases,
            Action::CleanTemplates => IocageRequest::CleanTemplates,
            Action::CloneJail => IocageRequest::CloneJail {
                jail: jail()?,
                props: args.string_or_empty("props")?,
            },
            Action::CreateJail => IocageRequest::CreateJail {
                props: args.string_or_empty("props")?,
                empty: switch(action, args, "-e")?,
            },
            Action::DeactivatePool => IocageRequest::DeactivatePool {
                pool: args.required_str("pool")?.to_owned(),
            },
            Action::DestroyJail => IocageRequest::DestroyJail { jail: jail()? },
            Action::Df => IocageRequest::Df,
            Action::ExecJail => IocageRequest::ExecJail {
                jail: jail()?,
                user: args
                    .optional_str("user")?
                    .unwrap_or(DEFAULT_EXEC_USER)
                    .to_owned(),
                command: args.required_str("command")?.to_owned(),
            },
            Action::GetDefaultSettings => IocageRequest::GetDefaultSettings,
            Action::GetJailSettings => IocageRequest::GetJailSettings(settings_query(args)?),
            Action::ListJails => IocageRequest::ListJails,
            Action::ListPlugins => IocageRequest::ListPlugins,
            Action::ListReleases => IocageRequest::ListReleases,
            Action::StartJail => IocageRequest::StartJail { jail: jail()? },
            Action::StopJail => IocageRequest::StopJail { jail: jail()? },
        })
    }

    /// The request's action.
    pub fn action(&self) -> Action {
        match self {
            IocageRequest::ActivatePool { .. } => Action::ActivatePool,
            IocageRequest::CapJail { .. } => Action::CapJail,
            IocageRequest::CleanAll => Action::CleanAll,
            IocageRequest::CleanJails => Action::CleanJails,
            IocageRequest::CleanReleases => Action::CleanReleases,
            IocageRequest::CleanTemplates => Action::CleanTemplates,
            IocageRequest::CloneJail { .. } => Action::CloneJail,
            IocageRequest::CreateJail { .. } => Action::CreateJail,
            IocageRequest::DeactivatePool { .. } => Action::DeactivatePool,
            IocageRequest::DestroyJail { .. } => Action::DestroyJail,
            IocageRequest::Df => Action::Df,
            IocageRequest::ExecJail { .. } => Action::ExecJail,
            IocageRequest::GetDefaultSettings => Action::GetDefaultSettings,
            IocageRequest::GetJailSettings(_) => Action::GetJailSettings,
            IocageRequest::ListJails => Action::ListJails,
            IocageRequest::ListPlugins => Action::ListPlugins,
            IocageRequest::ListReleases => Action::ListReleases,
            IocageRequest::StartJail { .. } => Action::StartJail,
            IocageRequest::StopJail { .. } => Action::StopJail,
        }
    }

    /// Whether this request changes the host (what a read-only role may not do).
    /// `activatepool` without a pool only reports the active pool.
    pub fn changes_host(&self) -> bool {
        match self {
            IocageRequest::ActivatePool { pool } => pool.is_some(),
            other => other.action().changes_host(),
        }
    }

    /// The jail this request targets, if it targets one.
    pub fn jail(&self) -> Option<&str> {
        match self {
            IocageRequest::CapJail { jail }
            | IocageRequest::CloneJail { jail, .. }
            | IocageRequest::DestroyJail { jail }
            | IocageRequest::ExecJail { jail, .. }
            | IocageRequest::StartJail { jail }
            | IocageRequest::StopJail { jail }
            | IocageRequest::GetJailSettings(
                JailSettingsQuery::Property { jail, .. } | JailSettingsQuery::All { jail },
            ) => Some(jail),
            _ => None,
        }
    }

    /// The `args` object a client sends for this request.
    pub fn to_args(&self) -> Value {
        let mut args = Map::new();
        args.insert("action".into(), self.action().as_str().into());
        let mut put = |key: &str, value: &str| {
            args.insert(key.into(), value.into());
        };
        match self {
            IocageRequest::ActivatePool { pool: Some(pool) } => put("pool", pool),
            IocageRequest::DeactivatePool { pool } => put("pool", pool),
            IocageRequest::CapJail { jail }
            | IocageRequest::DestroyJail { jail }
            | IocageRequest::StartJail { jail }
            | IocageRequest::StopJail { jail } => put("jail", jail),
            IocageRequest::CloneJail { jail, props } => {
                put("jail", jail);
                if !props.is_empty() {
                    put("props", props);
                }
            }
            IocageRequest::CreateJail { props, empty } => {
                put("props", props);
                if *empty {
                    put("switches", "-e");
                }
            }
            IocageRequest::ExecJail {
                jail,
                user,
                command,
            } => {
                put("jail", jail);
                put("user", user);
                put("command", command);
            }
            IocageRequest::GetJailSettings(query) => match query {
                JailSettingsQuery::Property { jail, prop } => {
                    put("jail", jail);
                    put("prop", prop);
                }
                JailSettingsQuery::All { jail } => {
                    put("jail", jail);
                    put("prop", "all");
                }
                JailSettingsQuery::Recursive { prop } => {
                    put("switches", "-r");
                    put("prop", prop);
                }
            },
            IocageRequest::ActivatePool { pool: None }
            | IocageRequest::CleanAll
            | IocageRequest::CleanJails
            | IocageRequest::CleanReleases
            | IocageRequest::CleanTemplates
            | IocageRequest::Df
            | IocageRequest::GetDefaultSettings
            | IocageRequest::ListJails
            | IocageRequest::ListPlugins
            | IocageRequest::ListReleases => {}
        }
        Value::Object(args)
    }
}

impl Serialize for IocageRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_args().serialize(serializer)
    }
}

/// Reads `switches`, which may be absent, empty, or exactly `allowed`.
fn switch(action: Action, args: &Args<'_>, allowed: &'static str) -> Result<bool, ArgsError> {
    match args.optional_str("switches")?.map(str::trim) {
        None | Some("") => Ok(false),
        Some(given) if given == allowed => Ok(true),
        Some(other) => Err(ArgsError::InvalidValue {
            action: action.as_str(),
            argument: "switches",
            value: other.to_owned(),
            accepted: format!("the only switch {} accepts is '{allowed}'", action.as_str()),
        }),
    }
}

/// Refuses a `switches` value on an action that documents none: `cleanall`
/// with `"-j"` must not clean everything while dropping the switch. Absent,
/// `null` and empty are accepted, as old clients send them.
fn no_switches(action: Action, args: &Args<'_>) -> Result<(), ArgsError> {
    match args.optional_str("switches")?.map(str::trim) {
        None | Some("") => Ok(()),
        Some(other) => Err(ArgsError::InvalidValue {
            action: action.as_str(),
            argument: "switches",
            value: other.to_owned(),
            accepted: format!(
                "{} accepts no switches (only createjail takes '-e' and getjailsettings '-r'); send none or ''",
                action.as_str()
            ),
        }),
    }
}

fn settings_query(args: &Args<'_>) -> Result<JailSettingsQuery, ArgsError> {
    const ACTION: &str = "getjailsettings";
    let recursive = switch(Action::GetJailSettings, args, "-r")?;
    let jail = args.optional_str("jail")?;
    let prop = args.optional_str("prop")?;
    if recursive {
        if jail.is_some() {
            return Err(ArgsError::Conflict {
                action: ACTION,
                reason: "'jail' cannot be combined with switches '-r', which reads 'prop' of every jail",
            });
        }
        let prop = prop.ok_or_else(|| args.missing("prop"))?;
        if prop == "all" {
            return Err(ArgsError::InvalidValue {
                action: ACTION,
                argument: "prop",
                value: prop.to_owned(),
                accepted: "switches '-r' reads one property of every jail; name the property"
                    .to_owned(),
            });
        }
        return Ok(JailSettingsQuery::Recursive {
            prop: prop.to_owned(),
        });
    }
    let jail = jail.ok_or_else(|| args.missing("jail"))?.to_owned();
    Ok(match prop {
        None | Some("all") => JailSettingsQuery::All { jail },
        Some(prop) => JailSettingsQuery::Property {
            jail,
            prop: prop.to_owned(),
        },
    })
}
