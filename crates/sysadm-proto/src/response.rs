//! The result of every `sysadm/iocage` action, in its documented JSON shape.
//!
//! [`IocageResponse`] serializes as `{"<action>": <result>}`, exactly as the
//! API documents show it, and a Rust client can decode it back.
//!
//! Values are strings, as in the documents: iocage's own text (`"-"` for a
//! stopped jail's JID, `"off"`, `"8G:log"`). The reference server cut
//! `key:value` lines at every colon, so some documented values are
//! truncated (`"gitlocation": "https"`, `"last_started": "2016-02-10_20"`, and
//! the clone tag `(2016-02-09@23`). sysadmd splits at the first colon only,
//! and these types carry the whole value.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::request::Action;

/// The result of any iocage action, tagged by the action's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IocageResponse {
    /// `activatepool`.
    ActivatePool(ActivatePoolResult),
    /// `capjail`.
    CapJail(Success),
    /// `cleanall`.
    CleanAll(Success),
    /// `cleanjails`.
    CleanJails(Success),
    /// `cleanreleases`.
    CleanReleases(Success),
    /// `cleantemplates`.
    CleanTemplates(Success),
    /// `clonejail`.
    CloneJail(CloneJailResult),
    /// `createjail`.
    CreateJail(CreateJailResult),
    /// `deactivatepool`.
    DeactivatePool(Success),
    /// `destroyjail`.
    DestroyJail(DestroyJailResult),
    /// `df`.
    Df(DfTable),
    /// `execjail`.
    ExecJail(ExecJailResult),
    /// `getdefaultsettings`.
    GetDefaultSettings(DefaultSettings),
    /// `getjailsettings`.
    GetJailSettings(JailSettings),
    /// `listjails`.
    ListJails(JailList),
    /// `listplugins`.
    ListPlugins(PluginList),
    /// `listreleases`.
    ListReleases(ReleaseList),
    /// `startjail`.
    StartJail(JailStatus),
    /// `stopjail`.
    StopJail(JailStatus),
}

impl IocageResponse {
    /// The action this is the result of.
    pub fn action(&self) -> Action {
        match self {
            IocageResponse::ActivatePool(_) => Action::ActivatePool,
            IocageResponse::CapJail(_) => Action::CapJail,
            IocageResponse::CleanAll(_) => Action::CleanAll,
            IocageResponse::CleanJails(_) => Action::CleanJails,
            IocageResponse::CleanReleases(_) => Action::CleanReleases,
            IocageResponse::CleanTemplates(_) => Action::CleanTemplates,
            IocageResponse::CloneJail(_) => Action::CloneJail,
            IocageResponse::CreateJail(_) => Action::CreateJail,
            IocageResponse::DeactivatePool(_) => Action::DeactivatePool,
            IocageResponse::DestroyJail(_) => Action::DestroyJail,
            IocageResponse::Df(_) => Action::Df,
            IocageResponse::ExecJail(_) => Action::ExecJail,
            IocageResponse::GetDefaultSettings(_) => Action::GetDefaultSettings,
            IocageResponse::GetJailSettings(_) => Action::GetJailSettings,
            IocageResponse::ListJails(_) => Action::ListJails,
            IocageResponse::ListPlugins(_) => Action::ListPlugins,
            IocageResponse::ListReleases(_) => Action::ListReleases,
            IocageResponse::StartJail(_) => Action::StartJail,
            IocageResponse::StopJail(_) => Action::StopJail,
        }
    }
}

/// `{"success": "<message>"}`: cap, clean and deactivate results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Success {
    /// The message, for example `"All jails have been cleaned."`.
    pub success: String,
}

impl Success {
    /// A success message.
    pub fn new(message: impl Into<String>) -> Self {
        Success {
            success: message.into(),
        }
    }
}

/// The two documented results of `activatepool`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ActivatePoolResult {
    /// `{"success": "pool tank activated."}`
    Activated(Success),
    /// `{"currently active": {"pool": " tank"}}`
    Current {
        /// The active pool.
        #[serde(rename = "currently active")]
        current: ActivePool,
    },
}

/// `{"pool": " tank"}`. The documented value has a leading space (the
/// reference cut `pool: tank` at the colon); `name` holds the bare name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivePool {
    /// The pool's name, without the leading space.
    #[serde(rename = "pool", with = "leading_space")]
    pub name: String,
}

/// `{"jail": "test", "props": "tag=newtest", "success": {"Successfully created": " <uuid> (<tag>)"}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloneJailResult {
    /// The jail that was cloned, as the client named it.
    pub jail: String,
    /// The props as the client sent them (`""` when none).
    pub props: String,
    /// The new jail.
    pub success: Created,
}

/// `{"props": ..., "success": ..., "switches": ""|"-e"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateJailResult {
    /// The props as the client sent them.
    pub props: String,
    /// The new jail.
    pub success: CreateSuccess,
    /// The switches as sent: `""` or `"-e"`.
    pub switches: String,
}

/// The two documented forms of a created jail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CreateSuccess {
    /// `{"Successfully created": " <uuid> (<tag>)"}`
    Created(Created),
    /// `{"uuid": "<uuid>"}`, for an empty jail (`-e`), which iocage names by UUID only.
    Empty {
        /// The new jail's UUID.
        uuid: String,
    },
}

/// `{"Successfully created": " <uuid> (<tag>)"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// The new jail.
    #[serde(rename = "Successfully created")]
    pub jail: CreatedJail,
}

impl Created {
    /// The result for a new jail `uuid` tagged `tag`.
    pub fn new(uuid: &str, tag: &str) -> Self {
        Created {
            jail: CreatedJail::new(uuid, tag),
        }
    }
}

/// The text iocage printed after `Successfully created:`, for example
/// `" 3030c554-d05e-11e5-8209-d05099728dbf (test)"`, kept whole.
///
/// The reference server cut this line at its second colon, so one documented
/// example reads `" 89e78032-... (2016-02-09@23"`. Keeping the text whole
/// lets such a value round-trip unchanged; [`CreatedJail::tag`] reads the tag
/// with or without its closing parenthesis. sysadmd always sends the whole
/// tag, colons included: `" 89e78032-... (2016-02-09@23:47:04)"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CreatedJail {
    text: String,
}

impl CreatedJail {
    /// The documented form, `" <uuid> (<tag>)"`.
    pub fn new(uuid: &str, tag: &str) -> Self {
        CreatedJail {
            text: format!(" {uuid} ({tag})"),
        }
    }

    /// The whole text, leading space included.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The UUID: the first word.
    pub fn uuid(&self) -> &str {
        self.text.split_whitespace().next().unwrap_or("")
    }

    /// The tag between the parentheses (the closing one may be missing in
    /// values the reference server truncated).
    pub fn tag(&self) -> Option<&str> {
        let rest = self.text.trim_start();
        let (_, after_uuid) = rest.split_once(' ')?;
        let inner = after_uuid.strip_prefix('(')?;
        Some(inner.strip_suffix(')').unwrap_or(inner))
    }
}

/// `{"success": {"Destroying": " <uuid>"}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestroyJailResult {
    /// The destroyed jail.
    pub success: Destroyed,
}

impl DestroyJailResult {
    /// The result for destroyed jail `uuid`.
    pub fn new(uuid: impl Into<String>) -> Self {
        DestroyJailResult {
            success: Destroyed { uuid: uuid.into() },
        }
    }
}

/// `{"Destroying": " <uuid>"}`; `uuid` holds the UUID without the leading space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destroyed {
    /// The destroyed jail's UUID.
    #[serde(rename = "Destroying", with = "leading_space")]
    pub uuid: String,
}

/// `df`: disk usage by jail UUID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DfTable {
    /// One row per jail, keyed by UUID.
    pub jails: BTreeMap<String, DfRow>,
}

/// One jail's disk usage: `{"ava", "crt", "qta", "res", "tag", "use"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DfRow {
    /// Available space (`ava`), e.g. `83.4G`.
    #[serde(rename = "ava")]
    pub available: String,
    /// Compression ratio (`crt`), e.g. `2.30x`.
    #[serde(rename = "crt")]
    pub compress_ratio: String,
    /// Quota (`qta`), e.g. `none`.
    #[serde(rename = "qta")]
    pub quota: String,
    /// Reservation (`res`), e.g. `none`.
    #[serde(rename = "res")]
    pub reservation: String,
    /// The jail's tag.
    pub tag: String,
    /// Used space (`use`), e.g. `1.69M`.
    #[serde(rename = "use")]
    pub used: String,
}

/// `{"success": {"<output line>": "", ...}}`: the command's output, one key per line.
///
/// This is the documented shape: as JSON object keys, repeated lines appear
/// once and the order is not kept. [`ExecJailResult::lines`] keeps both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecJailResult {
    /// The output lines, in order.
    pub lines: Vec<String>,
}

impl Serialize for ExecJailResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            success: BTreeMap<&'a str, &'static str>,
        }
        Wire {
            success: self.lines.iter().map(|line| (line.as_str(), "")).collect(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ExecJailResult {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            success: BTreeMap<String, String>,
        }
        let wire = Wire::deserialize(deserializer)?;
        Ok(ExecJailResult {
            lines: wire.success.into_keys().collect(),
        })
    }
}

/// `{"defaults": {"<property>": "<value>", ...}}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultSettings {
    /// Every default property.
    pub defaults: BTreeMap<String, String>,
}

/// The `getjailsettings` results.
///
/// Shapes on the wire:
/// * `Property`: `{"test": {"vnet": "off"}}`
/// * `All`: `{"test": {"allow_chflags": "0", ...}}`
/// * `Recursive`: `{"<uuid>": {"TAG": "test", "vnet": "off"}, ...}`
///
/// Decoding tells them apart by content: every entry holding `TAG` and one
/// other key is `Recursive`; one jail with one property is `Property`; one
/// jail with more is `All`. An empty object decodes as an empty `Recursive`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JailSettings {
    /// One property of one jail.
    Property {
        /// The jail as the client named it.
        jail: String,
        /// The property.
        prop: String,
        /// Its value.
        value: String,
    },
    /// Every property of one jail.
    All {
        /// The jail as the client named it.
        jail: String,
        /// Every property.
        props: BTreeMap<String, String>,
    },
    /// One property of every jail.
    Recursive {
        /// The property.
        prop: String,
        /// By jail UUID.
        jails: BTreeMap<String, RecursiveRow>,
    },
}

/// One jail's row of a recursive `getjailsettings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecursiveRow {
    /// The jail's tag (`TAG` on the wire).
    pub tag: String,
    /// The property's value.
    pub value: String,
}

/// The key that carries the tag in recursive `getjailsettings` rows.
const TAG_KEY: &str = "TAG";

type Nested = BTreeMap<String, BTreeMap<String, String>>;

impl Serialize for JailSettings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let nested: Nested = match self {
            JailSettings::Property { jail, prop, value } => BTreeMap::from([(
                jail.clone(),
                BTreeMap::from([(prop.clone(), value.clone())]),
            )]),
            JailSettings::All { jail, props } => BTreeMap::from([(jail.clone(), props.clone())]),
            JailSettings::Recursive { prop, jails } => jails
                .iter()
                .map(|(uuid, row)| {
                    let mut entry = BTreeMap::new();
                    entry.insert(TAG_KEY.to_owned(), row.tag.clone());
                    entry.insert(prop.clone(), row.value.clone());
                    (uuid.clone(), entry)
                })
                .collect(),
        };
        nested.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JailSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let nested = Nested::deserialize(deserializer)?;
        let recursive_prop = |entry: &BTreeMap<String, String>| -> Option<String> {
            if entry.len() != 2 || !entry.contains_key(TAG_KEY) {
                return None;
            }
            entry.keys().find(|key| *key != TAG_KEY).cloned()
        };
        if nested.is_empty() {
            return Ok(JailSettings::Recursive {
                prop: String::new(),
                jails: BTreeMap::new(),
            });
        }
        let props: Vec<Option<String>> = nested.values().map(recursive_prop).collect();
        if let Some(Some(first)) = props.first()
            && props.iter().all(|prop| prop.as_ref() == Some(first))
        {
            let prop = first.clone();
            let jails = nested
                .into_iter()
                .map(|(uuid, mut entry)| {
                    let row = RecursiveRow {
                        tag: entry.remove(TAG_KEY).unwrap_or_default(),
                        value: entry.remove(&prop).unwrap_or_default(),
                    };
                    (uuid, row)
                })
                .collect();
            return Ok(JailSettings::Recursive { prop, jails });
        }
        if nested.len() != 1 {
            return Err(D::Error::custom(
                "getjailsettings: several jails without TAG entries is not a documented shape",
            ));
        }
        let (jail, mut props) = nested.into_iter().next().expect("one entry");
        if props.len() == 1 {
            let (prop, value) = props.pop_first().expect("one property");
            Ok(JailSettings::Property { jail, prop, value })
        } else {
            Ok(JailSettings::All { jail, props })
        }
    }
}

/// `listjails`: every jail by UUID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JailList {
    /// One entry per jail, keyed by UUID.
    pub jails: BTreeMap<String, JailSummary>,
}

/// One jail of `listjails`: `{"boot", "ip4", "jid", "state", "tag", "type"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailSummary {
    /// `on` or `off`.
    pub boot: String,
    /// The jail's IPv4 addresses, `-` when down or none.
    pub ip4: String,
    /// The JID as text, `-` when down.
    pub jid: String,
    /// `up` or `down`.
    pub state: String,
    /// The tag.
    pub tag: String,
    /// `basejail`, `thickjail`, `clonejail`, `emptyjail`, `template`, ...
    #[serde(rename = "type")]
    pub jail_type: String,
}

/// One jail of `listjails`, borrowed from the listing it is shaped from:
/// serializes exactly as [`JailSummary`], with no copy of its strings and
/// no text made for the JID. The computed read path writes these straight
/// to the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JailSummaryRef<'a> {
    /// `on` or `off`.
    pub boot: &'a str,
    /// The jail's IPv4 addresses, `-` when down or none.
    pub ip4: &'a str,
    /// The JID, written as text; `None` (down) is written `-`.
    #[serde(serialize_with = "jid_text")]
    pub jid: Option<u32>,
    /// `up` or `down`.
    pub state: &'a str,
    /// The tag.
    pub tag: &'a str,
    /// `basejail`, `thickjail`, `clonejail`, `emptyjail`, `template`, ...
    #[serde(rename = "type")]
    pub jail_type: &'a str,
}

impl JailSummaryRef<'_> {
    /// The owned [`JailSummary`] with the same JSON.
    pub fn to_summary(&self) -> JailSummary {
        JailSummary {
            boot: self.boot.to_owned(),
            ip4: self.ip4.to_owned(),
            jid: self
                .jid
                .map_or_else(|| "-".to_owned(), |jid| jid.to_string()),
            state: self.state.to_owned(),
            tag: self.tag.to_owned(),
            jail_type: self.jail_type.to_owned(),
        }
    }
}

/// A JID as the text `listjails` shows, `-` for none, formatted on the stack.
fn jid_text<S: Serializer>(jid: &Option<u32>, serializer: S) -> Result<S::Ok, S::Error> {
    let Some(jid) = jid else {
        return serializer.serialize_str("-");
    };
    // u32::MAX has 10 digits.
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    let mut rest = *jid;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    serializer.serialize_str(std::str::from_utf8(&digits[start..]).expect("ASCII digits"))
}

/// `{"remote": {"<id>": {"description", "id", "name"}, ...}}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginList {
    /// The remote plugin index, keyed by plugin id.
    pub remote: BTreeMap<String, Plugin>,
}

/// One plugin of the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plugin {
    /// What it is.
    pub description: String,
    /// Its id, e.g. `jenkins-lts`.
    pub id: String,
    /// Its display name, e.g. `Jenkins (LTS)`.
    pub name: String,
}

/// `{"local": [...], "remote": [...]}`, plus `"remote_missing": "why"` only
/// when the remote list could not be had (offline, timed out): `remote` is
/// then empty and `local` is still the host's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseList {
    /// Releases fetched on this host.
    pub local: Vec<String>,
    /// Releases that can be fetched, e.g. `"10.2-RELEASE (EOL)"`.
    pub remote: Vec<String>,
    /// Why `remote` is missing, if it is; absent from the JSON otherwise
    /// (the documented shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_missing: Option<String>,
}

/// The result of `startjail` or `stopjail`: `{"<jail>": {...}}`, keyed by the
/// jail as the client named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JailStatus {
    /// The jail as the client named it.
    pub jail: String,
    /// What iocage reported.
    pub outcome: StatusOutcome,
}

/// What starting or stopping a jail reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusOutcome {
    /// The status lines, each a key with an empty value:
    /// `{"* Starting <uuid> (test)": "", "+ Started (shared IP mode) OK": "", ...}`.
    Lines(Vec<String>),
    /// An informational result: `{"INFO": " <uuid> (test) is already up"}`.
    /// The text is held without the documented leading space.
    Info(String),
}

const INFO_KEY: &str = "INFO";

impl Serialize for JailStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let inner: BTreeMap<String, String> = match &self.outcome {
            StatusOutcome::Lines(lines) => lines
                .iter()
                .map(|line| (line.clone(), String::new()))
                .collect(),
            StatusOutcome::Info(text) => {
                BTreeMap::from([(INFO_KEY.to_owned(), format!(" {text}"))])
            }
        };
        BTreeMap::from([(self.jail.as_str(), inner)]).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JailStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut nested = Nested::deserialize(deserializer)?;
        if nested.len() != 1 {
            return Err(D::Error::custom(format!(
                "a start/stop result holds exactly one jail, not {}",
                nested.len()
            )));
        }
        let (jail, mut inner) = nested.pop_first().expect("one entry");
        let outcome = match inner.remove(INFO_KEY) {
            Some(text) if inner.is_empty() => {
                StatusOutcome::Info(text.strip_prefix(' ').unwrap_or(&text).to_owned())
            }
            Some(text) => {
                inner.insert(INFO_KEY.to_owned(), text);
                StatusOutcome::Lines(inner.into_keys().collect())
            }
            None => StatusOutcome::Lines(inner.into_keys().collect()),
        };
        Ok(JailStatus { jail, outcome })
    }
}

/// Values the reference server produced by cutting `key: value` at the
/// colon, so they start with one space: the type holds the bare value.
mod leading_space {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!(" {value}"))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<String, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(text.strip_prefix(' ').unwrap_or(&text).to_owned())
    }
}
