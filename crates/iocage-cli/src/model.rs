//! The structures iocage's output describes, shared by the parsers and the
//! renderers. Values are kept as iocage printed them (`on`, `-`, `none`), so a
//! renderer can print them back byte for byte; only JIDs become numbers.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which iocage printed the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavour {
    /// The legacy shell iocage (1.x, 2016) the sysadm API was written against.
    Legacy,
    /// The Python iocage (0.9 and later; see [`IocageVersion`](crate::IocageVersion) for which are driven).
    Python,
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavour::Legacy => "legacy",
            Flavour::Python => "python",
        })
    }
}

/// One column of a jail table, in the order the header shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    /// `JID`.
    Jid,
    /// `UUID` (legacy) or `NAME` (Python).
    Name,
    /// `BOOT`.
    Boot,
    /// `STATE`.
    State,
    /// `TAG` (legacy only).
    Tag,
    /// `TYPE`.
    Type,
    /// `RELEASE`.
    Release,
    /// `IP4`.
    Ip4,
    /// `IP6` (Python long).
    Ip6,
    /// `TEMPLATE` (Python long).
    Template,
    /// `BASEJAIL` (Python long).
    Basejail,
    /// `PORTAL` (Python `list -P`).
    Portal,
    /// `DOC_URL` (Python `list -P`).
    DocUrl,
}

impl Column {
    /// The header text of this column in `flavour`'s tables.
    pub fn header(self, flavour: Flavour) -> &'static str {
        match self {
            Column::Jid => "JID",
            Column::Name => match flavour {
                Flavour::Legacy => "UUID",
                Flavour::Python => "NAME",
            },
            Column::Boot => "BOOT",
            Column::State => "STATE",
            Column::Tag => "TAG",
            Column::Type => "TYPE",
            Column::Release => "RELEASE",
            Column::Ip4 => "IP4",
            Column::Ip6 => "IP6",
            Column::Template => "TEMPLATE",
            Column::Basejail => "BASEJAIL",
            Column::Portal => "PORTAL",
            Column::DocUrl => "DOC_URL",
        }
    }

    pub(crate) fn from_header(text: &str) -> Option<Column> {
        Some(match text {
            "JID" => Column::Jid,
            "UUID" | "NAME" => Column::Name,
            "BOOT" => Column::Boot,
            "STATE" => Column::State,
            "TAG" => Column::Tag,
            "TYPE" => Column::Type,
            "RELEASE" => Column::Release,
            // Legacy 1.7.5/1.7.6 name the column `IP` (lib/ioc-info@6189eac:116).
            "IP4" | "IP" => Column::Ip4,
            "IP6" => Column::Ip6,
            "TEMPLATE" => Column::Template,
            "BASEJAIL" => Column::Basejail,
            "PORTAL" => Column::Portal,
            "DOC_URL" => Column::DocUrl,
            _ => return None,
        })
    }
}

/// One row of `iocage list` (or `list -t`, `list -l`).
///
/// A field is `None` when the table has no such column; otherwise it holds the
/// text iocage printed (`-` included), except the JID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jail {
    /// The jail ID when it runs; `None` for `-` or Python's `None`.
    pub jid: Option<u32>,
    /// The UUID (legacy) or name (Python).
    pub name: String,
    /// `on`/`off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<String>,
    /// `up`, `down` or `CORRUPT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The legacy tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `basejail`, `jail`, `template`, ...
    #[serde(rename = "type")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jail_type: Option<String>,
    /// The release, e.g. `13.2-RELEASE-p4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// IPv4 addresses as printed (`-` when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip4: Option<String>,
    /// IPv6 addresses as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<String>,
    /// The template the jail was cloned from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// `yes`/`no`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basejail: Option<String>,
    /// A plugin's admin portal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<String>,
    /// A plugin's documentation URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_url: Option<String>,
}

impl Jail {
    pub(crate) fn field(&self, column: Column) -> Option<&str> {
        match column {
            Column::Jid => None,
            Column::Name => Some(&self.name),
            Column::Boot => self.boot.as_deref(),
            Column::State => self.state.as_deref(),
            Column::Tag => self.tag.as_deref(),
            Column::Type => self.jail_type.as_deref(),
            Column::Release => self.release.as_deref(),
            Column::Ip4 => self.ip4.as_deref(),
            Column::Ip6 => self.ip6.as_deref(),
            Column::Template => self.template.as_deref(),
            Column::Basejail => self.basejail.as_deref(),
            Column::Portal => self.portal.as_deref(),
            Column::DocUrl => self.doc_url.as_deref(),
        }
    }

    pub(crate) fn field_mut(&mut self, column: Column) -> Option<&mut Option<String>> {
        Some(match column {
            Column::Jid | Column::Name => return None,
            Column::Boot => &mut self.boot,
            Column::State => &mut self.state,
            Column::Tag => &mut self.tag,
            Column::Type => &mut self.jail_type,
            Column::Release => &mut self.release,
            Column::Ip4 => &mut self.ip4,
            Column::Ip6 => &mut self.ip6,
            Column::Template => &mut self.template,
            Column::Basejail => &mut self.basejail,
            Column::Portal => &mut self.portal,
            Column::DocUrl => &mut self.doc_url,
        })
    }
}

/// A running jail that iocage does not manage (legacy `list` only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignJail {
    /// Its jail ID.
    pub jid: u32,
    /// Its root path.
    pub path: String,
    /// Its IPv4 addresses as `jls` printed them.
    pub ip4: String,
    /// Its host name.
    pub hostname: String,
}

/// What `iocage list` prints: the columns shown, the jails, and (legacy) the
/// running jails iocage does not manage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailList {
    /// The columns, in header order.
    pub columns: Vec<Column>,
    /// The jails, in output order.
    pub jails: Vec<Jail>,
    /// Legacy's "non iocage jails currently active" section.
    pub foreign: Vec<ForeignJail>,
}

/// One line of `iocage list -R` (Python): a release on the download server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRelease {
    /// E.g. `11.0-RELEASE`.
    pub name: String,
    /// Whether iocage marked it `(EOL)`.
    pub eol: bool,
}

/// One plugin of `iocage list -PR` (Python).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plugin {
    /// `NAME`.
    pub name: String,
    /// `DESCRIPTION`.
    pub description: String,
    /// `PKG`.
    pub pkg: String,
    /// `ICON` (a URL).
    pub icon: String,
}

/// One row of `iocage df`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DfRow {
    /// UUID (legacy) or name (Python).
    pub name: String,
    /// Compression ratio (`CRT`).
    pub crt: String,
    /// Reservation (`RES`).
    pub res: String,
    /// Quota (`QTA`).
    pub qta: String,
    /// Space used (`USE`).
    pub used: String,
    /// Space available (`AVA`).
    pub ava: String,
    /// The legacy tag (the rest of the line); `None` for Python.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// One `key` and its value, from `get all` or `defaults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// The property name.
    pub key: String,
    /// Its value as printed.
    pub value: String,
}

/// Properties in the order iocage printed them. In JSON this is one object
/// whose keys keep that order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties(pub Vec<Property>);

impl Properties {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|property| property.key == key)
            .map(|property| property.value.as_str())
    }
}

impl Serialize for Properties {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for property in &self.0 {
            map.serialize_entry(&property.key, &property.value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Properties;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Properties, A::Error> {
                let mut out = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, String>()? {
                    out.push(Property { key, value });
                }
                Ok(Properties(out))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// What `iocage get -r PROP` prints: the property for every jail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecursiveGet {
    /// The property asked for.
    pub property: String,
    /// One row per jail.
    pub rows: Vec<RecursiveRow>,
}

/// One row of `get -r`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecursiveRow {
    /// UUID (legacy) or name (Python).
    pub name: String,
    /// The legacy tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The value.
    pub value: String,
}

/// How serious a [`Message`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// `ERROR:`.
    Error,
    /// `WARNING:`.
    Warning,
    /// `INFO:`.
    Info,
    /// `HINT:`.
    Hint,
    /// Python's NOTICE level (`Default configuration missing, creating one`).
    Notice,
    /// No prefix: Python prints none, legacy prints some lines bare.
    Plain,
}

/// A message line (`  ERROR: jail foo not found!`, `  INFO: ...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Its level, from the prefix.
    pub level: Level,
    /// The text after the prefix.
    pub text: String,
}

/// What a parser read: the value, and the lines around it that were not part
/// of it (warnings, banners, first-run `Creating pool/iocage/...` lines,
/// prompts), in the order iocage printed them. Such lines never shift a
/// column, drop a row or fail the parse; a line *inside* a table or block
/// that is not part of it is still an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parsed<T> {
    /// What the output describes.
    pub value: T,
    /// The lines before and after it, each with its level (`Plain` when
    /// nothing says which).
    pub messages: Vec<Message>,
}

impl<T> Parsed<T> {
    /// A value with no messages around it.
    pub fn new(value: T) -> Parsed<T> {
        Parsed {
            value,
            messages: Vec::new(),
        }
    }

    /// The same messages around another value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        Parsed {
            value: f(self.value),
            messages: self.messages,
        }
    }
}

/// The result of one start or stop step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// `OK`.
    Ok,
    /// `FAILED`.
    Failed,
}

/// Whether a start or stop found the jail already in the wanted state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `* Starting`.
    Start,
    /// `* Stopping`.
    Stop,
}

/// One line of `iocage start` / `iocage stop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum StartStopLine {
    /// `* Starting <name> (<tag>)` / `* Stopping <name>`.
    Begin {
        /// Start or stop.
        action: Action,
        /// The UUID or name.
        name: String,
        /// The legacy tag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
    },
    /// `  + <step>   OK`; an informational step (`  + Using devfs_ruleset: 5`)
    /// has no status.
    Step {
        /// The step text.
        step: String,
        /// `OK`, `FAILED`, or none.
        status: Option<StepStatus>,
    },
    /// Legacy `  ! Start  FAILED`.
    Failed {
        /// The step text.
        step: String,
    },
    /// Already up (start) or down (stop): legacy `  INFO: X (T) is already up`,
    /// Python `X is already running!` / `X is not running!`.
    Already {
        /// The UUID or name.
        name: String,
        /// The legacy tag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
        /// `true` when it is up, `false` when down.
        up: bool,
    },
    /// A prefixed message.
    Message(Message),
    /// Any other line (jail(8), rc scripts, etcupdate), kept verbatim.
    Output {
        /// The line.
        text: String,
    },
}

/// Everything `iocage start` or `iocage stop` printed, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartStopReport {
    /// The lines.
    pub lines: Vec<StartStopLine>,
}

impl StartStopReport {
    /// Whether any step failed.
    pub fn failed(&self) -> bool {
        self.lines.iter().any(|line| {
            matches!(
                line,
                StartStopLine::Failed { .. }
                    | StartStopLine::Step {
                        status: Some(StepStatus::Failed),
                        ..
                    }
            )
        })
    }

    /// Whether iocage found a jail already up (`Some(true)`) or down.
    pub fn already(&self) -> Option<bool> {
        self.lines.iter().find_map(|line| match line {
            StartStopLine::Already { up, .. } => Some(*up),
            _ => None,
        })
    }
}

/// How a jail came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Creation {
    /// `  Successfully created: UUID (TAG)` / `<name> successfully created!`.
    Created,
    /// Python `<name> successfully cloned!`.
    Cloned,
    /// Legacy `create -e`: a bare UUID line.
    Empty,
}

/// One line of `iocage create` / `iocage clone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CreateLine {
    /// A jail was made.
    Created {
        /// How.
        how: Creation,
        /// Its UUID or name.
        name: String,
        /// Its legacy tag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
    },
    /// A prefixed message.
    Message(Message),
    /// Any other line (fetch, pkg, start output), kept verbatim.
    Output {
        /// The line.
        text: String,
    },
}

/// Everything `iocage create` or `iocage clone` printed, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateReport {
    /// The lines.
    pub lines: Vec<CreateLine>,
}

impl CreateReport {
    /// The jails made, as `(name, tag)`.
    pub fn created(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.lines.iter().filter_map(|line| match line {
            CreateLine::Created { name, tag, .. } => Some((name.as_str(), tag.as_deref())),
            _ => None,
        })
    }
}

/// One line of `iocage destroy -f`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DestroyLine {
    /// `  Destroying: UUID` / `Destroying <name>`.
    Destroying {
        /// The UUID or name.
        name: String,
    },
    /// Legacy `  Destroying clone origin: pool/...@snap`.
    CloneOrigin {
        /// The snapshot.
        snapshot: String,
    },
    /// Python `Stopping <name>`.
    Stopping {
        /// The name.
        name: String,
    },
    /// A line of the legacy stop block printed first for a running jail.
    Stop {
        /// The line.
        line: StartStopLine,
    },
    /// A prefixed message.
    Message(Message),
}

/// Everything `iocage destroy -f` printed, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestroyReport {
    /// The lines.
    pub lines: Vec<DestroyLine>,
}

impl DestroyReport {
    /// The jails destroyed.
    pub fn destroyed(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|line| match line {
            DestroyLine::Destroying { name } => Some(name.as_str()),
            _ => None,
        })
    }
}

/// What `iocage activate POOL` printed: Python names the pool; legacy prints
/// nothing on success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    /// The pool named by `ZFS pool 'P' successfully activated.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
}
