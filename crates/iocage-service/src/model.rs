//! The domain types backends return: what iocage reports about jails,
//! releases and plugins, independent of the wire format (sysadm-proto owns
//! that) and of how a backend obtains them.

/// Whether a jail runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JailState {
    /// Running (`up`).
    Up,
    /// Stopped (`down`).
    Down,
}

impl JailState {
    /// iocage's word for it: `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            JailState::Up => "up",
            JailState::Down => "down",
        }
    }
}

/// One jail (or template) as `iocage list` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JailInfo {
    /// The jail's UUID.
    pub uuid: String,
    /// Its tag.
    pub tag: String,
    /// The JID while it runs.
    pub jid: Option<u32>,
    /// Whether it starts at boot.
    pub boot: bool,
    /// Whether it runs.
    pub state: JailState,
    /// `basejail`, `clonejail`, `emptyjail`, `thickjail`, `template`, ...
    pub jail_type: String,
    /// Its IPv4 addresses while it runs, as iocage prints them.
    pub ip4: Option<String>,
    /// The release it runs, e.g. `10.2-RELEASE`.
    pub release: String,
    /// Whether it is a template.
    pub template: bool,
    /// The UUID of the jail it was cloned from.
    pub origin: Option<String>,
}

impl JailInfo {
    /// Whether it runs.
    pub fn is_up(&self) -> bool {
        self.state == JailState::Up
    }
}

/// One jail's disk usage (`iocage df`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DfEntry {
    /// The jail's UUID.
    pub uuid: String,
    /// Its tag.
    pub tag: String,
    /// Compression ratio, e.g. `2.30x`.
    pub compress_ratio: String,
    /// Reservation, e.g. `none`.
    pub reservation: String,
    /// Quota, e.g. `none`.
    pub quota: String,
    /// Used space, e.g. `1.69M`.
    pub used: String,
    /// Available space, e.g. `83.4G`.
    pub available: String,
}

/// One jail's value of a property (`iocage get -r PROP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyRow {
    /// The jail's UUID.
    pub uuid: String,
    /// Its tag.
    pub tag: String,
    /// The value.
    pub value: String,
}

/// What starting or stopping reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// It changed; iocage's status lines, trimmed.
    Changed(Vec<String>),
    /// It already was in that state; iocage's INFO text without the
    /// `INFO:` prefix, e.g. `<uuid> (test) is already up`.
    Already(String),
}

/// A jail that create or clone made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJail {
    /// Its UUID.
    pub uuid: String,
    /// Its tag.
    pub tag: String,
}

/// What a command run in a jail printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Its exit status.
    pub status: i32,
    /// Its output lines (stdout, then stderr).
    pub lines: Vec<String>,
}

/// What `clean` destroys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CleanTarget {
    /// Every iocage dataset.
    All,
    /// Every jail.
    Jails,
    /// Every fetched release.
    Releases,
    /// Every template.
    Templates,
}

/// Local and remote releases.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Releases {
    /// Fetched on this host.
    pub local: Vec<String>,
    /// Available to fetch, e.g. `10.2-RELEASE (EOL)`.
    pub remote: Vec<String>,
    /// Why the remote list is missing (the network failed or was too slow),
    /// if it is; `remote` is then empty.
    pub remote_missing: Option<String>,
}

/// One plugin of the remote index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// Its id, e.g. `jenkins-lts`.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// What it is.
    pub description: String,
}
