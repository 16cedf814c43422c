//! The remotes: `$XDG_CONFIG_HOME/sysadmctl/remotes.toml` (or
//! `~/.config/sysadmctl/remotes.toml`), mode 0600 in a 0700 directory, since
//! it holds an API key per remote.
//!
//! ```toml
//! default = "web"
//! [remotes.web]
//! url = "wss://jails.example:12150/"
//! fingerprint = "AB:CD:..."
//! key = "sysadm_..."
//! key_name = "sysadmctl.1764680000"
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The file's name in the configuration directory.
pub(crate) const REMOTES_FILE: &str = "remotes.toml";

/// One server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Remote {
    pub(crate) url: String,
    /// The pinned certificate fingerprint (`None` for `ws://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fingerprint: Option<String>,
    pub(crate) key: String,
    /// The key's name on the server, to revoke it by.
    pub(crate) key_name: String,
}

/// Every remote, and the default.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Remotes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) default: Option<String>,
    #[serde(default)]
    pub(crate) remotes: BTreeMap<String, Remote>,
}

/// Where the remotes live.
pub(crate) fn config_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir).join("sysadmctl"));
    }
    match std::env::var_os("HOME").filter(|home| !home.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("sysadmctl")),
        None => {
            bail!("neither XDG_CONFIG_HOME nor HOME is set: cannot tell where to keep the remotes")
        }
    }
}

impl Remotes {
    pub(crate) fn load(dir: &Path) -> Result<Remotes> {
        let path = dir.join(REMOTES_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Remotes::default());
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        toml::from_str(&text)
            .map_err(|error| anyhow::anyhow!("{}: {}", path.display(), error.message().trim()))
    }

    /// Writes the file atomically, 0600, in a 0700 directory.
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(REMOTES_FILE);
        let temporary = dir.join(format!(".{REMOTES_FILE}.{}.tmp", std::process::id()));
        let text = toml::to_string(self).context("cannot serialize the remotes")?;
        let header = "# sysadmctl remotes (API keys: keep this file private). Manage with `sysadmctl remote ...`.\n";
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("cannot create {}", temporary.display()))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .and_then(|()| file.write_all(format!("{header}{text}").as_bytes()))
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, &path)
            .with_context(|| format!("cannot replace {}", path.display()))
    }

    /// The remotes a command runs on: those named (comma-separated), every
    /// one with `all`, else the default (or the only one).
    pub(crate) fn select(&self, names: Option<&str>, all: bool) -> Result<Vec<(String, Remote)>> {
        if self.remotes.is_empty() {
            bail!("no remotes yet: add one with `sysadmctl remote add NAME wss://HOST:12150/`");
        }
        let names: Vec<String> = match (names, all) {
            (_, true) => self.remotes.keys().cloned().collect(),
            (Some(names), false) => names
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect(),
            (None, false) => match (&self.default, self.remotes.len()) {
                (Some(default), _) => vec![default.clone()],
                (None, 1) => self.remotes.keys().cloned().collect(),
                (None, _) => bail!(
                    "several remotes and no default: give --remote NAME[,NAME...], --all, or set one with `sysadmctl remote default NAME` (remotes: {})",
                    self.names()
                ),
            },
        };
        if names.is_empty() {
            bail!(
                "--remote needs at least one name (remotes: {})",
                self.names()
            );
        }
        names
            .into_iter()
            .map(|name| match self.remotes.get(&name) {
                Some(remote) => Ok((name, remote.clone())),
                None => bail!(
                    "no remote '{}' (remotes: {})",
                    name.escape_debug(),
                    self.names()
                ),
            })
            .collect()
    }

    pub(crate) fn names(&self) -> String {
        self.remotes.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Checks a remote name: letters, digits, '_', '.', '-', 1 to 64 of them (no ',': it separates names).
pub(crate) fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-'));
    if ok {
        return Ok(());
    }
    bail!(
        "invalid remote name '{}': use 1 to 64 letters, digits, '_', '.' or '-'",
        name.escape_debug()
    )
}
