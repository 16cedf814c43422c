//! API keys: long-lived credentials for scripts and CI, in `keys.toml` in the
//! state directory (mode 0600, replaced atomically, checked like the users
//! file). A key is `sysadm_` and 64 hex digits (256 random bits); only its
//! SHA-256 is stored (a key has the entropy a password lacks, so a plain hash
//! is enough). A key has a role and, optionally, a scope: glob patterns on
//! the jails' tags or UUIDs, and a list of actions.
//!
//! ```toml
//! [keys.ci]
//! role = "admin"
//! hash = "5e88..."
//! jails = ["web*"]
//! actions = ["startjail", "stopjail"]
//! created = 1764680000
//! expires = 1767272000
//! created_by = "admin"
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use sysadm_proto::{Action, KeyCreated, KeyInfo, KeyRole, KeySpec};

use super::Role;
use super::users::{DirLock, check_name, write_private};

/// The keys file's name in the state directory.
pub const KEYS_FILE: &str = "keys.toml";
/// How every API key starts, so a Bearer credential is told from a session token.
pub const KEY_PREFIX: &str = "sysadm_";
/// Most jail patterns, and most actions, one key may list.
const MAX_SCOPE_ITEMS: usize = 64;
/// Longest jail pattern accepted.
const MAX_PATTERN_CHARS: usize = 128;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    keys: BTreeMap<String, KeyEntry>,
}

/// One key as stored: never the secret, only its SHA-256 in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyEntry {
    pub(crate) role: Role,
    pub(crate) hash: String,
    #[serde(default)]
    pub(crate) jails: Vec<String>,
    #[serde(default)]
    pub(crate) actions: Vec<String>,
    pub(crate) created: u64,
    #[serde(default)]
    pub(crate) expires: Option<u64>,
    pub(crate) created_by: String,
}

/// Keys by name.
pub(crate) type KeyMap = BTreeMap<String, KeyEntry>;

impl KeyEntry {
    pub(crate) fn info(&self, name: &str) -> KeyInfo {
        KeyInfo {
            name: name.to_owned(),
            role: match self.role {
                Role::Admin => KeyRole::Admin,
                Role::Viewer => KeyRole::Viewer,
            },
            jails: self.jails.clone(),
            actions: self.actions.clone(),
            created: self.created,
            expires: self.expires,
            created_by: self.created_by.clone(),
        }
    }

    pub(crate) fn expired(&self, now: u64) -> bool {
        self.expires.is_some_and(|expires| now >= expires)
    }

    /// Whether `secret` is this key's, compared in constant time.
    pub(crate) fn matches(&self, secret_hash: &str) -> bool {
        bool::from(self.hash.as_bytes().ct_eq(secret_hash.as_bytes()))
    }
}

/// What a key session may do beyond its role, compiled once per login.
#[derive(Debug, Clone)]
pub struct KeyScope {
    /// The key's name.
    pub name: String,
    /// The stored hash, so that a key revoked and created again under the same
    /// name does not keep the old key's sessions alive.
    pub(crate) hash: String,
    /// The jail patterns as given; empty: every jail.
    pub patterns: Vec<String>,
    jails: Option<GlobSet>,
    /// The actions allowed; empty: every action the role allows.
    pub actions: Vec<String>,
}

impl PartialEq for KeyScope {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.hash == other.hash
            && self.patterns == other.patterns
            && self.actions == other.actions
    }
}

impl Eq for KeyScope {}

impl KeyScope {
    pub(crate) fn of(name: &str, entry: &KeyEntry) -> KeyScope {
        KeyScope {
            name: name.to_owned(),
            hash: entry.hash.clone(),
            patterns: entry.jails.clone(),
            // The patterns were checked when the key was made; one that no
            // longer compiles (a hand-edited file) matches nothing.
            jails: (!entry.jails.is_empty())
                .then(|| compile(&entry.jails).unwrap_or_else(|_| GlobSet::empty())),
            actions: entry.actions.clone(),
        }
    }

    /// Whether the key is limited to some jails.
    pub fn limits_jails(&self) -> bool {
        self.jails.is_some()
    }

    /// Whether the key may touch a jail with this tag or UUID.
    pub fn allows_jail(&self, names: &[&str]) -> bool {
        self.jails
            .as_ref()
            .is_none_or(|set| names.iter().any(|name| set.is_match(name)))
    }

    /// Whether the key may run `action`.
    pub fn allows_action(&self, action: Action) -> bool {
        self.actions.is_empty() || self.actions.iter().any(|name| name == action.as_str())
    }

    /// What the key allows, for a 403.
    pub fn describe(&self) -> String {
        let jails = if self.patterns.is_empty() {
            "every jail".to_owned()
        } else {
            format!("jails matching {}", self.patterns.join(", "))
        };
        let actions = if self.actions.is_empty() {
            "every action of its role".to_owned()
        } else {
            format!("only {}", self.actions.join(", "))
        };
        format!("key '{}' allows {jails}, {actions}", self.name)
    }
}

fn compile(patterns: &[String]) -> Result<GlobSet> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        builder.add(
            Glob::new(pattern)
                .with_context(|| format!("invalid jail pattern '{}'", pattern.escape_debug()))?,
        );
    }
    Ok(builder.build()?)
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// SHA-256 of a key's secret in hex: what the file stores.
pub(crate) fn secret_hash(secret: &str) -> String {
    use std::fmt::Write;
    super::hash::sha256(secret.as_bytes()).iter().fold(
        String::with_capacity(64),
        |mut text, byte| {
            let _ = write!(text, "{byte:02x}");
            text
        },
    )
}

/// Reads and parses the keys file; a missing file holds no keys.
pub(crate) fn read_keys(path: &Path) -> Result<KeyMap> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(KeyMap::new()),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read keys file {}", path.display()));
        }
    };
    let file: KeysFile = toml::from_str(&text).map_err(|error| {
        anyhow::anyhow!("keys file {}: {}", path.display(), error.message().trim())
    })?;
    Ok(file.keys)
}

fn write_keys(path: &Path, keys: &KeyMap) -> Result<()> {
    let text =
        toml::to_string(&KeysFile { keys: keys.clone() }).context("cannot serialize the keys")?;
    let header =
        "# sysadmd API keys (hashes only): manage them with `sysadmd key create|list|revoke`.\n";
    write_private(path, format!("{header}{text}").as_bytes())
}

/// Checks a key request; the error says what is accepted and nothing changes.
fn check_spec(spec: &KeySpec) -> Result<()> {
    check_name(&spec.name).map_err(|error| {
        anyhow::anyhow!("{}", error.to_string().replace("user name", "key name"))
    })?;
    if spec.jails.len() > MAX_SCOPE_ITEMS || spec.actions.len() > MAX_SCOPE_ITEMS {
        bail!(
            "a key may list at most {MAX_SCOPE_ITEMS} jail patterns and {MAX_SCOPE_ITEMS} actions"
        );
    }
    if let Some(long) = spec
        .jails
        .iter()
        .find(|p| p.chars().count() > MAX_PATTERN_CHARS || p.is_empty())
    {
        bail!(
            "invalid jail pattern '{}': give 1 to {MAX_PATTERN_CHARS} characters, a glob on a tag or UUID such as 'web*'",
            long.escape_debug()
        );
    }
    compile(&spec.jails).map_err(|error| {
        anyhow::anyhow!("{error:#}: use a glob on a tag or UUID, such as 'web*' or 'db[12]'")
    })?;
    for action in &spec.actions {
        let Some(parsed) = Action::from_name(action) else {
            bail!(
                "unknown action '{}': give iocage actions ({})",
                action.escape_debug(),
                Action::valid_names()
            );
        };
        if spec.role == KeyRole::Viewer && parsed.changes_host() {
            bail!(
                "a viewer key can never run '{action}' (it changes the host): give --role admin, or only read actions"
            );
        }
    }
    Ok(())
}

/// Creates a key in `state_dir`'s keys file and returns its secret (shown once).
pub(crate) fn create(state_dir: &Path, spec: &KeySpec, created_by: &str) -> Result<KeyCreated> {
    check_spec(spec)?;
    let path = state_dir.join(KEYS_FILE);
    let _lock = DirLock::acquire(state_dir)?;
    let mut keys = read_keys(&path)?;
    if keys.contains_key(&spec.name) {
        bail!(
            "key '{}' exists already: revoke it first (`sysadmd key revoke {}`), or choose another name",
            spec.name,
            spec.name
        );
    }
    let secret = format!("{KEY_PREFIX}{}", super::hash::new_token());
    let created = now_secs();
    let entry = KeyEntry {
        role: match spec.role {
            KeyRole::Admin => Role::Admin,
            KeyRole::Viewer => Role::Viewer,
        },
        hash: secret_hash(&secret),
        jails: spec.jails.clone(),
        actions: spec.actions.clone(),
        created,
        expires: spec.expires_secs.map(|secs| created.saturating_add(secs)),
        created_by: created_by.to_owned(),
    };
    let info = entry.info(&spec.name);
    keys.insert(spec.name.clone(), entry);
    write_keys(&path, &keys)?;
    Ok(KeyCreated { key: secret, info })
}

/// Revokes a key; returns an error naming the keys there are if it is unknown.
pub(crate) fn revoke(state_dir: &Path, name: &str) -> Result<()> {
    let path = state_dir.join(KEYS_FILE);
    let _lock = DirLock::acquire(state_dir)?;
    let mut keys = read_keys(&path)?;
    if keys.remove(name).is_none() {
        let names: Vec<&str> = keys.keys().map(String::as_str).collect();
        bail!(
            "no key '{}'; the keys are: {}",
            name.escape_debug(),
            if names.is_empty() {
                "(none)".to_owned()
            } else {
                names.join(", ")
            }
        );
    }
    write_keys(&path, &keys)
}

/// Every key, by name (never the secrets).
pub(crate) fn list(state_dir: &Path) -> Result<Vec<KeyInfo>> {
    let keys = read_keys(&state_dir.join(KEYS_FILE))?;
    Ok(keys.iter().map(|(name, entry)| entry.info(name)).collect())
}

/// `sysadmd key ...`: API keys for scripts. A running server sees a change
/// within a second; a revoked key's sessions end at once.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeyCommand {
    /// Create a key and print it, once (only its hash is kept).
    Create {
        /// The key's name: 1 to 32 of lowercase letters, digits, '_', '.', '-',
        /// starting with a letter or '_'.
        name: String,
        /// What the key may do: admin (everything) or viewer (read-only).
        #[arg(long, value_enum)]
        role: Role,
        /// Limit the key to jails whose tag or UUID matches one of these glob patterns.
        #[arg(long = "jails", value_name = "PATTERN", num_args = 1..)]
        jails: Vec<String>,
        /// Limit the key to these iocage actions (e.g. listjails startjail stopjail).
        #[arg(long = "actions", value_name = "ACTION", num_args = 1..)]
        actions: Vec<String>,
        /// The key stops working after this long (e.g. 30d, 12h); never by default.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires: Option<Duration>,
    },
    /// List the keys, their roles and scopes (never the keys themselves).
    List,
    /// Revoke a key; sessions using it end at once.
    Revoke {
        /// The key's name.
        name: String,
    },
}

/// Runs a key command on the keys file of `state_dir`, printing to `out`.
pub fn run_key_command(state_dir: &Path, command: KeyCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        KeyCommand::Create {
            name,
            role,
            jails,
            actions,
            expires,
        } => {
            super::create_private_dir(state_dir)?;
            let spec = KeySpec {
                name,
                role: match role {
                    Role::Admin => KeyRole::Admin,
                    Role::Viewer => KeyRole::Viewer,
                },
                jails,
                actions,
                expires_secs: expires.map(|duration| duration.as_secs().max(1)),
            };
            let created = create(state_dir, &spec, "sysadmd key create")?;
            writeln!(out, "{}", created.key)?;
            eprintln!(
                "created key '{}' ({}); it is shown only this once: send it as 'Authorization: Bearer <key>' or with rpc/auth_key",
                spec.name,
                spec.role.as_str()
            );
        }
        KeyCommand::List => {
            let now = now_secs();
            for info in list(state_dir)? {
                let expires = match info.expires {
                    None => "never".to_owned(),
                    Some(at) if at <= now => "expired".to_owned(),
                    Some(at) => format!(
                        "in {}",
                        humantime::format_duration(Duration::from_secs(at - now))
                    ),
                };
                let or_all = |items: &[String]| {
                    if items.is_empty() {
                        "*".to_owned()
                    } else {
                        items.join(",")
                    }
                };
                writeln!(
                    out,
                    "{}\t{}\tjails={}\tactions={}\texpires={expires}",
                    info.name,
                    info.role.as_str(),
                    or_all(&info.jails),
                    or_all(&info.actions),
                )?;
            }
        }
        KeyCommand::Revoke { name } => {
            revoke(state_dir, &name)?;
            writeln!(out, "revoked key '{name}'; its sessions have ended")?;
        }
    }
    Ok(())
}
