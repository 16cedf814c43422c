//! The FreeBSD rc.d script (`packaging/freebsd/rc.d/sysadmd`): shellcheck
//! passes, the port's copy matches it, and on Linux, against stand-ins for
//! rc.subr(8) and daemon(8) (`tests/rc/`), it starts, reports, reloads and
//! stops the real sysadmd, and daemon restarts it after a crash.
//!
//! Needs `shellcheck` (Debian's package; `.ci/run` installs it): the test
//! fails, never skips, without it.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rc_script() -> String {
    std::fs::read_to_string(repo().join("packaging/freebsd/rc.d/sysadmd")).unwrap()
}

#[test]
fn the_rc_script_passes_shellcheck_as_posix_sh() {
    let output = Command::new("shellcheck")
        .args(["-s", "sh"])
        .arg(repo().join("packaging/freebsd/rc.d/sysadmd"))
        .output()
        .expect(
            "shellcheck is needed for this test (apt-get install shellcheck); .ci/run installs it",
        );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn the_ports_rc_script_is_the_same_script_with_prefix_placeholders() {
    let port =
        std::fs::read_to_string(repo().join("packaging/freebsd/port/files/sysadmd.in")).unwrap();
    assert_eq!(
        port,
        rc_script().replace("/usr/local", "%%PREFIX%%"),
        "regenerate with: sed 's#/usr/local#%%PREFIX%%#g' packaging/freebsd/rc.d/sysadmd > packaging/freebsd/port/files/sysadmd.in"
    );
    for line in [
        "# PROVIDE: sysadmd",
        "# REQUIRE: LOGIN NETWORKING iocage",
        "# KEYWORD: shutdown",
    ] {
        assert!(rc_script().lines().any(|l| l == line), "{line}");
    }
}

/// A scratch FreeBSD: the rc script with its paths moved into `root`, the
/// stand-ins, an rc.conf and a configuration file.
struct Host {
    root: tempfile::TempDir,
    script: PathBuf,
    addr: SocketAddr,
}

impl Host {
    fn new(enable: &str) -> Host {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        for sub in ["run", "etc", "state"] {
            std::fs::create_dir(dir.join(sub)).unwrap();
        }
        let stand_ins = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rc");
        let script = rc_script()
            .replace(
                ". /etc/rc.subr",
                &format!(". {}", stand_ins.join("rc.subr").display()),
            )
            .replace(
                "/usr/sbin/daemon",
                stand_ins.join("daemon").to_str().unwrap(),
            )
            .replace("/usr/local/sbin/sysadmd", env!("CARGO_BIN_EXE_sysadmd"))
            .replace("/usr/local/etc/sysadmd", dir.join("etc").to_str().unwrap())
            .replace("/var/run", dir.join("run").to_str().unwrap());
        let script_path = dir.join("sysadmd.rc");
        std::fs::write(&script_path, script).unwrap();
        // A free port: bound and let go (the daemon needs a known address).
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        std::fs::write(
            dir.join("etc/sysadmd.toml"),
            format!(
                "listen = [\"{addr}\"]\nplaintext = true\nstate_dir = {:?}\n",
                dir.join("state").to_str().unwrap()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("rc.conf"),
            format!(
                "sysadmd_enable=\"{enable}\"\n\
                 sysadmd_log=\"stderr\"\n\
                 sysadmd_env=\"PATH=/nonexistent RUST_LOG=info SYSADMD_ADMIN_PASSWORD=rc-script-password\"\n"
            ),
        )
        .unwrap();
        Host {
            root,
            script: script_path,
            addr,
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    fn service(&self, command: &str) -> Output {
        Command::new("sh")
            .arg(&self.script)
            .arg(command)
            .env("RC_CONF", self.path("rc.conf"))
            .env("DAEMON_SYSLOG", self.path("syslog"))
            .output()
            .unwrap()
    }

    fn syslog(&self) -> String {
        std::fs::read_to_string(self.path("syslog")).unwrap_or_default()
    }

    fn pid(&self, file: &str) -> Option<i32> {
        std::fs::read_to_string(self.path(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Waits until `ready` holds, or fails naming `what`.
    fn wait_for(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready() {
            assert!(
                Instant::now() < deadline,
                "{what}; syslog:\n{}",
                self.syslog()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn serving(&self) -> bool {
        TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok()
    }
}

impl Drop for Host {
    /// A failed test must not leave the daemon running.
    fn drop(&mut self) {
        for file in ["run/sysadmd.pid", "run/sysadmd.child.pid"] {
            if let Some(pid) = self.pid(file).and_then(rustix::process::Pid::from_raw) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
        }
    }
}

fn alive(pid: i32) -> bool {
    rustix::process::test_kill_process(rustix::process::Pid::from_raw(pid).unwrap()).is_ok()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn start_status_reload_crash_and_stop_through_rc() {
    let host = Host::new("YES");
    let status = host.service("status");
    assert_eq!(status.status.code(), Some(1), "{}", text(&status));
    assert!(text(&status).contains("sysadmd is not running."));

    let start = host.service("start");
    assert!(start.status.success(), "{}", text(&start));
    // The banner's last line comes once sysadmd serves and handles SIGHUP.
    host.wait_for("sysadmd starts", || host.syslog().contains("audit log:"));
    assert!(host.serving());
    let status = host.service("status");
    assert!(status.status.success(), "{}", text(&status));
    let supervisor = host
        .pid("run/sysadmd.pid")
        .expect("the supervisor's pid file");
    assert!(text(&status).contains(&format!("sysadmd is running as pid {supervisor}.")));
    assert!(
        host.service("start").status.code() != Some(0),
        "a second start is refused"
    );

    // reload: SIGHUP to sysadmd itself, not to daemon.
    let child = host
        .pid("run/sysadmd.child.pid")
        .expect("sysadmd's pid file");
    let reload = host.service("reload");
    assert!(reload.status.success(), "{}", text(&reload));
    host.wait_for("the reload is logged", || {
        host.syslog().contains("configuration reloaded (SIGHUP)")
    });
    assert!(alive(child), "a reload keeps the same process");

    // A crash: daemon(8) starts sysadmd again after 5 s.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let crashed = Instant::now();
    host.wait_for("daemon restarts sysadmd", || {
        host.pid("run/sysadmd.child.pid")
            .is_some_and(|pid| pid != child && alive(pid))
            && host.syslog().matches("audit log:").count() == 2
    });
    assert!(
        crashed.elapsed() >= Duration::from_secs(4),
        "-R 5: daemon waits before the restart"
    );
    assert!(host.serving());

    let stop = host.service("stop");
    assert!(stop.status.success(), "{}", text(&stop));
    let restarted = host.pid("run/sysadmd.child.pid");
    assert!(!alive(supervisor), "stop waits for the supervisor to end");
    if let Some(pid) = restarted {
        assert!(!alive(pid), "and for sysadmd");
    }
    assert!(!host.serving());
    assert!(
        host.syslog().contains("sysadmd stopped"),
        "SIGTERM, not kill -9: sysadmd shut down cleanly:\n{}",
        host.syslog()
    );
}

#[test]
fn a_disabled_service_or_a_missing_configuration_does_not_start() {
    let host = Host::new("NO");
    let start = host.service("start");
    assert!(!start.status.success());
    assert!(
        text(&start).contains("Set sysadmd_enable to YES"),
        "{}",
        text(&start)
    );
    std::fs::remove_file(host.path("etc/sysadmd.toml")).unwrap();
    let start = host.service("onestart");
    assert!(!start.status.success());
    assert!(
        text(&start).contains("sysadmd.toml is missing: copy"),
        "{}",
        text(&start)
    );
    assert!(!host.serving());
}
