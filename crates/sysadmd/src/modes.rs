//! File modes, as sshd's StrictModes: the state directory and every file in
//! it that grants access (users, TLS key) must be owned by the server's user
//! (or root) and writable by no one else, or the server refuses to start (and
//! a running server refuses to reload them). An unprivileged local user once
//! replaced `users.toml` in a world-writable state directory and the running
//! server accepted the planted admin within a second.
//!
//! What sysadmd creates is private whatever the umask: directories 0700,
//! files 0600 (the mode is set explicitly after creation, as a umask can only
//! take bits away, and an odd one could leave a directory unusable).

use std::fs::Permissions;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Checks that `path` (followed if a link) is owned by this process's user
/// or root and not writable by group or others. `what` names it in the error.
pub(crate) fn check_private(path: &Path, what: &str) -> Result<()> {
    let metadata = std::fs::metadata(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    let me = rustix::process::geteuid().as_raw();
    let owner = metadata.uid();
    if owner != me && owner != 0 {
        bail!(
            "refusing the {what} {}: it is owned by uid {owner}, not by the server's user (uid {me}) or root; \
             anyone who can write it can grant themselves access (chown it to uid {me})",
            path.display()
        );
    }
    let mode = metadata.mode() & 0o7777;
    if mode & 0o022 != 0 {
        bail!(
            "refusing the {what} {}: its mode {mode:04o} lets group or others write it, and so grant \
             themselves access (chmod go-w {})",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// Creates `dir` and its missing parents, mode 0700 whatever the umask.
/// An existing directory is left as it is (the checks above judge it).
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    std::fs::set_permissions(dir, Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private", dir.display()))
}

/// Sets a file sysadmd created to mode 0600, whatever the umask was.
pub(crate) fn make_private(file: &std::fs::File, path: &Path) -> Result<()> {
    file.set_permissions(Permissions::from_mode(0o600))
        .with_context(|| format!("cannot make {} private", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn group_or_world_writable_is_refused_read_only_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("users.toml");
        std::fs::write(&file, "").unwrap();
        for (bits, ok) in [
            (0o600, true),
            (0o644, true),
            (0o640, true),
            (0o660, false),
            (0o602, false),
            (0o666, false),
        ] {
            std::fs::set_permissions(&file, Permissions::from_mode(bits)).unwrap();
            let result = check_private(&file, "users file");
            assert_eq!(result.is_ok(), ok, "{bits:o}: {result:?}");
            if let Err(error) = result {
                let text = error.to_string();
                assert!(text.contains(&format!("{bits:04o}")), "{text}");
                assert!(text.contains("chmod go-w"), "{text}");
            }
        }
        std::fs::set_permissions(dir.path(), Permissions::from_mode(0o777)).unwrap();
        assert!(check_private(dir.path(), "state directory").is_err());
    }

    #[test]
    fn created_directories_are_0700_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o277));
        let created = create_private_dir(&deep);
        rustix::process::umask(old);
        created.unwrap();
        assert_eq!(mode(&deep), 0o700);
    }
}
