//! `sysadmd unblock`: how an admin lifts login blocks in a running server
//! without a restart. The command writes the request to `unblock` in the
//! state directory (0600, replaced atomically); the server looks for that
//! file at most once a second, when a request is checked against the blocks,
//! applies it, and removes it. No process id or signal is needed, and only
//! who can write the state directory can ask.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result};

use super::users::{DirLock, write_private};

/// The request file's name in the state directory.
pub const UNBLOCK_FILE: &str = "unblock";

/// What to lift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unblock {
    /// Every block and every failure counted.
    All,
    /// The blocks of these addresses.
    Addrs(Vec<IpAddr>),
}

/// Adds a request to the state directory's unblock file (merging with one
/// the server has not applied yet).
pub(crate) fn request(state_dir: &Path, what: &Unblock) -> Result<()> {
    super::create_private_dir(state_dir)?;
    let _lock = DirLock::acquire(state_dir)?;
    let path = state_dir.join(UNBLOCK_FILE);
    let mut text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    match what {
        Unblock::All => text.push_str("all\n"),
        Unblock::Addrs(addrs) => {
            for addr in addrs {
                let _ = writeln!(text, "{addr}");
            }
        }
    }
    write_private(&path, text.as_bytes())
}

/// Takes the pending request, if there is one: reads and removes the file.
/// Lines that are neither `all` nor an address are skipped and reported.
pub(crate) fn take(state_dir: &Path) -> Option<Unblock> {
    let path = state_dir.join(UNBLOCK_FILE);
    let text = std::fs::read_to_string(&path).ok()?;
    if let Err(error) = std::fs::remove_file(&path) {
        tracing::warn!(path = %path.display(), %error, "cannot remove the unblock request");
    }
    let mut addrs = Vec::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        if line == "all" {
            return Some(Unblock::All);
        }
        match line.parse::<IpAddr>() {
            Ok(addr) => addrs.push(addr),
            Err(_) => {
                tracing::warn!(line = %line.escape_debug(), "unblock request: not an address; skipped")
            }
        }
    }
    Some(Unblock::Addrs(addrs))
}
