//! The users file: `users.toml` in the state directory, readable by its
//! owner only, always replaced atomically (temporary file, fsync, rename), so
//! a running server never reads half a file.
//!
//! ```toml
//! [users.admin]
//! role = "admin"
//! hash = "$argon2id$v=19$m=7168,t=5,p=1$..."
//! ```

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::Role;

/// The users file's name in the state directory.
pub const USERS_FILE: &str = "users.toml";

/// What the file holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    users: BTreeMap<String, UserEntry>,
}

/// One user: their role and argon2id hash (a PHC string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserEntry {
    pub(crate) role: Role,
    pub(crate) hash: String,
}

/// Users by name.
pub(crate) type UserMap = BTreeMap<String, UserEntry>;

/// Identifies one version of the users file. Every atomic rewrite creates a
/// new inode, so a change is seen even when the length stays the same (a new
/// password hash) and the clock's granularity is coarse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// The stamp of the file at `path`, `None` when it cannot be read.
pub(crate) fn stamp(path: &Path) -> Option<Stamp> {
    let metadata = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: metadata.dev(),
        ino: metadata.ino(),
        len: metadata.len(),
        mtime: (metadata.mtime(), metadata.mtime_nsec()),
        ctime: (metadata.ctime(), metadata.ctime_nsec()),
    })
}

/// Reads and parses the users file.
pub(crate) fn read_users(path: &Path) -> Result<UserMap> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read users file {}", path.display()))?;
    let file: UsersFile = toml::from_str(&text).map_err(|error| {
        anyhow::anyhow!("users file {}: {}", path.display(), error.message().trim())
    })?;
    Ok(file.users)
}

/// Replaces the users file atomically, mode 0600.
pub(crate) fn write_users(path: &Path, users: &UserMap) -> Result<()> {
    let text = toml::to_string(&UsersFile {
        users: users.clone(),
    })
    .context("cannot serialize the users")?;
    let header = "# sysadmd users: manage them with `sysadmd user add|passwd|remove|list`.\n";
    write_private(path, format!("{header}{text}").as_bytes())
}

/// Writes a file readable by its owner only, atomically: a temporary file in
/// the same directory, fsync, rename, fsync of the directory.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent(path);
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("cannot create {}", temporary.display()))?;
        // The mode above applies only to a new file: a stale temporary file keeps its own.
        file.set_permissions(Permissions::from_mode(0o600))
            .and_then(|()| file.write_all(bytes))
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, path)
            .with_context(|| format!("cannot replace {}", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result?;
    // Make the rename itself durable. Some systems cannot fsync a directory: not fatal.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// An exclusive lock on the state directory, so that two `sysadmd user`
/// commands (or one and a first start) never lose each other's change.
/// Released when dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    _dir: File,
}

impl DirLock {
    /// Waits for the lock on `dir`.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock> {
        let file = File::open(dir)
            .with_context(|| format!("cannot open the state directory {}", dir.display()))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .with_context(|| format!("cannot lock the state directory {}", dir.display()))?;
        Ok(DirLock { _dir: file })
    }
}

/// Checks a user name: `[a-z_][a-z0-9_.-]{0,31}`.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|byte| byte.is_ascii_lowercase() || byte == b'_');
    let rest_ok = bytes.all(|byte| {
        byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'_' | b'.' | b'-')
    });
    if first_ok && rest_ok && name.len() <= 32 {
        return Ok(());
    }
    bail!(
        "invalid user name '{}': use 1 to 32 of lowercase letters, digits, '_', '.', '-', \
         starting with a letter or '_'",
        name.escape_debug()
    )
}
