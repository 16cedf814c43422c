//! The real `sysadmd` binary as a child process, for the tests that must
//! run it whole (its banner, signals, and clients this project did not write).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// The admin password every daemon started here gets.
pub const PASSWORD: &str = "binary-test-password";

/// A running `sysadmd`; killed when dropped, if still running.
pub struct Daemon {
    pub child: Child,
    /// The bound addresses, from the banner.
    pub addrs: Vec<SocketAddr>,
    /// The banner, up to its last line.
    pub banner: Vec<String>,
    /// The state directory (with `tls/cert.pem` when serving TLS).
    pub state: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `sysadmd` command with `args`, the state directory and the admin
/// password, on the simulated host.
pub fn sysadmd(args: &[&str], state: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sysadmd"));
    command
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .env("SYSADMD_ADMIN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        // No iocage on this PATH, so auto picks the simulated host.
        .env("PATH", "/nonexistent")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Starts the daemon with `args` (and a configuration file holding
/// `config_text`, if given) and reads its banner up to the last line.
pub fn spawn_daemon(args: &[&str], config_text: Option<&str>) -> Daemon {
    let state = tempfile::tempdir().unwrap();
    let mut command = sysadmd(args, state.path());
    if let Some(text) = config_text {
        let path = state.path().join("sysadmd.toml");
        std::fs::write(&path, text).unwrap();
        command.arg("--config").arg(path);
    }
    let mut child = command.spawn().expect("sysadmd runs");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("audit log:");
        banner.push(line);
        if done {
            break;
        }
    }
    // Keep draining stdout so the daemon never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let addrs = banner
        .iter()
        .filter_map(|line| {
            line.strip_prefix("listening on http://")
                .or_else(|| line.strip_prefix("listening on https://"))
        })
        .map(|rest| rest.split('/').next().unwrap().parse().unwrap())
        .collect();
    Daemon {
        child,
        addrs,
        banner,
        state,
    }
}

/// Starts the daemon with `args` on an existing state directory (to start
/// it again after a kill); the child and its first address.
pub fn spawn_on(state: &std::path::Path, args: &[&str]) -> (Child, SocketAddr) {
    let mut child = sysadmd(args, state).spawn().expect("sysadmd runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("listening on http://") {
            addr = Some(rest.split('/').next().unwrap().parse().unwrap());
        }
        if line.starts_with("audit log:") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr.expect("an address in the banner"))
}
