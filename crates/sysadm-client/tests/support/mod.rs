//! Starts the real `sysadmd` binary for the client's end-to-end tests: built
//! once by cargo (it is another package's binary), on a port-0 loopback
//! address, with a temporary state directory that survives a restart.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub const PASSWORD: &str = "client-test-password";

/// The `sysadmd` binary, built by the same cargo that runs this test.
pub fn sysadmd_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(cargo)
            .args([
                "build",
                "-p",
                "sysadmd",
                "--bin",
                "sysadmd",
                "--message-format=json",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "cargo build -p sysadmd failed");
        let text = String::from_utf8(output.stdout).expect("cargo prints UTF-8");
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["target"]["name"] == "sysadmd")
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the sysadmd executable")
    })
}

/// A running `sysadmd`.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    /// The certificate's fingerprint as printed, when TLS is on.
    pub fingerprint: Option<String>,
    pub state: PathBuf,
    pub tls: bool,
}

impl Daemon {
    /// Plaintext on 127.0.0.1, a fresh state directory under `dir`.
    pub fn plaintext(dir: &Path) -> Daemon {
        Daemon::start(dir, false, "127.0.0.1:0")
    }

    /// TLS with the generated self-signed certificate.
    pub fn tls(dir: &Path) -> Daemon {
        Daemon::start(dir, true, "127.0.0.1:0")
    }

    pub fn start(state: &Path, tls: bool, listen: &str) -> Daemon {
        let mut command = Command::new(sysadmd_binary());
        command
            .arg("--listen")
            .arg(listen)
            .arg("--state-dir")
            .arg(state)
            .env("SYSADMD_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", "warn")
            // No iocage on this PATH: the simulated host.
            .env("PATH", "/nonexistent")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if !tls {
            command.arg("--plaintext");
        }
        let mut child = command.spawn().expect("sysadmd runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let done = line.starts_with("audit log:");
            banner.push(line);
            if done {
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        let scheme = if tls { "https://" } else { "http://" };
        let addr = banner
            .iter()
            .find_map(|line| line.strip_prefix(&format!("listening on {scheme}")))
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in the banner: {banner:#?}"))
            .parse()
            .unwrap();
        let fingerprint = banner
            .iter()
            .find_map(|line| line.split_once("SHA-256 fingerprint "))
            .map(|(_, fingerprint)| fingerprint.trim().to_owned());
        Daemon {
            child,
            addr,
            fingerprint,
            state: state.to_owned(),
            tls,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/", self.addr)
    }

    /// Stops with SIGKILL and starts again on the same address and state.
    pub fn restart(&mut self) {
        self.kill();
        let mut last = None;
        for _ in 0..100 {
            let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Daemon::start(&self.state, self.tls, &self.addr.to_string())
            }));
            match next {
                Ok(daemon) => {
                    *self = daemon;
                    return;
                }
                Err(error) => last = Some(error),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::panic::resume_unwind(last.unwrap());
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Runs `sysadmd ARGS --state-dir STATE` to completion (user and key commands).
    pub fn command(&self, args: &[&str]) -> std::process::Output {
        Command::new(sysadmd_binary())
            .args(args)
            .arg("--state-dir")
            .arg(&self.state)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .expect("sysadmd runs")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}
