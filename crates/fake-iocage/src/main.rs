//! `fake-iocage`: test support, not a product. A stand-in for FreeBSD's
//! `iocage` program, so that the CLI backend can be tested through a real
//! child process on any machine.
//!
//! It implements iocage's command line in both flavours over a JSON state
//! file and prints what the real program prints (through `iocage-cli`'s
//! renderers): the same stdout/stderr split, exit statuses and spinner bytes.
//!
//! Environment:
//! * `FAKE_IOCAGE_STATE`: the state file (created with a fresh host on first
//!   change); without it, `fake-iocage-state.json` beside the path the
//!   program was run by (e.g. a link named `iocage` in a temporary directory).
//! * `FAKE_IOCAGE_FLAVOUR`: `legacy` (default) or `python`.
//! * `FAKE_IOCAGE_VERSION`: behave as that iocage release (`develop`,
//!   `1.7.4`...`1.7.6`, `0.9.x`, `1.0`...`1.13`; see `version.rs` for the
//!   groups and the sources each follows). Unset, the fake keeps its
//!   historical model of the flavour.
//! * `FAKE_IOCAGE_NETWORK`: `offline` makes Python's network commands
//!   (`list -R`, `list -PR`) fail as they do without a route, `blackhole`
//!   makes them hang until killed (requests without a timeout). Unset, the
//!   fake's download server answers.
//! * `FAKE_IOCAGE_CLOCK`: seconds since the epoch; every invocation then
//!   takes that as the time (date tags, `last_started`), as commands run
//!   within one second do.
//! * `FAKE_IOCAGE_LOG`: if set, every invocation appends its argv there, one
//!   line (shell-quoted); `FAKE_IOCAGE_PIDS` likewise gets its process id.
//! * `FAKE_IOCAGE_FAULT`: `hang` (sleeps until killed, with a child process
//!   of its own), `slow` (waits `FAKE_IOCAGE_DELAY_MS`, default 500, then
//!   works), `crash` (aborts), `garbage` (prints non-iocage text, or
//!   `FAKE_IOCAGE_GARBAGE`, exit 0), `error` (prints an error line,
//!   `FAKE_IOCAGE_ERROR` or a default, exit 1). `FAKE_IOCAGE_FAULT_ON=CMD`
//!   limits the fault to one iocage command (`list`, `get`, ...).
//! * `FAKE_IOCAGE_GATE=PATH` (test support for progress reporting): stdout
//!   is printed a line at a time, flushed, and after the first line the
//!   fake waits until `PATH` exists (at most 60 s) before printing the rest
//!   and exiting, so a test can see a line arrive while iocage still runs.
//!   `FAKE_IOCAGE_GATE_ON=CMD` limits it to one command. With
//!   `FAKE_IOCAGE_LINE_DELAY_MS`, every line after the first waits that long.

mod host;
mod legacy;
mod legacy17;
mod python;
mod version;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use iocage_cli::{Flavour, Level, Message};

use crate::host::Host;

/// What one invocation prints, and its exit status.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub(crate) out: String,
    pub(crate) err: String,
    pub(crate) code: u8,
}

impl Reply {
    /// Success, printing `out`.
    pub(crate) fn out(out: impl Into<String>) -> Reply {
        Reply {
            out: out.into(),
            ..Reply::default()
        }
    }

    /// `err` on stderr and exit status `code`.
    pub(crate) fn err(err: impl Into<String>, code: u8) -> Reply {
        Reply {
            err: err.into(),
            code,
            ..Reply::default()
        }
    }

    /// An error line as `flavour` prints it (legacy `  ERROR: ...`, Python
    /// the bare text), exit status 1.
    pub(crate) fn error(text: impl Into<String>, flavour: Flavour) -> Reply {
        Reply::err(message(Level::Error, text, flavour), 1)
    }

    /// This reply after `first`'s output (for preambles).
    pub(crate) fn after(mut self, first: Reply) -> Reply {
        self.out.insert_str(0, &first.out);
        self.err.insert_str(0, &first.err);
        self
    }
}

/// One message line as `flavour` prints it, newline included.
pub(crate) fn message(level: Level, text: impl Into<String>, flavour: Flavour) -> String {
    iocage_cli::render::messages(
        &[Message {
            level,
            text: text.into(),
        }],
        flavour,
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    record("FAKE_IOCAGE_LOG", &shell_words::join(&args));
    record("FAKE_IOCAGE_PIDS", &std::process::id().to_string());
    let chosen = version::from_env(
        std::env::var("FAKE_IOCAGE_VERSION").ok().as_deref(),
        std::env::var("FAKE_IOCAGE_FLAVOUR").ok().as_deref(),
    );
    let flavour = match chosen {
        Ok(chosen) => {
            let flavour = chosen.model.flavour();
            version::set(chosen);
            flavour
        }
        Err(error) => {
            eprintln!("fake-iocage: {error}");
            return ExitCode::from(64);
        }
    };
    if let Some(code) = fault(&args, flavour) {
        return code;
    }
    let reply = match respond(&args, flavour) {
        Ok(reply) => reply,
        Err(error) => {
            eprintln!("fake-iocage: {error}");
            return ExitCode::from(70);
        }
    };
    let mut stdout = std::io::stdout();
    match gate(&args) {
        Some(gate) => trickle(&reply.out, &gate),
        None => {
            let _ = stdout.write_all(reply.out.as_bytes());
        }
    }
    let _ = stdout.flush();
    let mut stderr = std::io::stderr();
    let _ = stderr.write_all(reply.err.as_bytes());
    let _ = stderr.flush();
    ExitCode::from(reply.code)
}

/// `FAKE_IOCAGE_GATE`, when it applies to this command.
fn gate(args: &[String]) -> Option<PathBuf> {
    let gate = std::env::var_os("FAKE_IOCAGE_GATE")?;
    if let Ok(only) = std::env::var("FAKE_IOCAGE_GATE_ON")
        && args.first() != Some(&only)
    {
        return None;
    }
    Some(PathBuf::from(gate))
}

/// Prints `out` a line at a time: the first, then a wait for `gate` to
/// exist (bounded), then the rest, each after `FAKE_IOCAGE_LINE_DELAY_MS`.
fn trickle(out: &str, gate: &Path) {
    let delay = std::env::var("FAKE_IOCAGE_LINE_DELAY_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map(Duration::from_millis);
    let mut stdout = std::io::stdout();
    for (index, line) in out.split_inclusive('\n').enumerate() {
        if index > 0
            && let Some(delay) = delay
        {
            std::thread::sleep(delay);
        }
        let _ = stdout.write_all(line.as_bytes());
        let _ = stdout.flush();
        if index == 0 {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while !gate.exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Appends `line` to the file named by `variable`, if set. One write with
/// `O_APPEND`, so lines of concurrent invocations never interleave.
fn record(variable: &str, line: &str) {
    let Some(path) = std::env::var_os(variable) else {
        return;
    };
    let opened = OpenOptions::new().create(true).append(true).open(&path);
    if let Ok(mut file) = opened {
        let _ = file.write_all(format!("{line}\n").as_bytes());
    }
}

/// Applies `FAKE_IOCAGE_FAULT`; `Some` ends the invocation with that status.
fn fault(args: &[String], flavour: Flavour) -> Option<ExitCode> {
    let fault = std::env::var("FAKE_IOCAGE_FAULT").ok()?;
    if let Ok(only) = std::env::var("FAKE_IOCAGE_FAULT_ON")
        && args.first() != Some(&only)
    {
        return None;
    }
    match fault.as_str() {
        "hang" => hang(),
        "slow" => {
            let millis = std::env::var("FAKE_IOCAGE_DELAY_MS")
                .ok()
                .and_then(|ms| ms.parse().ok())
                .unwrap_or(500);
            std::thread::sleep(Duration::from_millis(millis));
            None
        }
        "crash" => std::process::abort(),
        "garbage" => {
            let text = std::env::var("FAKE_IOCAGE_GARBAGE").unwrap_or_else(|_| garbage());
            print!("{text}");
            Some(ExitCode::SUCCESS)
        }
        "error" => {
            let text = std::env::var("FAKE_IOCAGE_ERROR")
                .unwrap_or_else(|_| "fake-iocage: injected failure".to_owned());
            eprint!("{}", message(Level::Error, text, flavour));
            Some(ExitCode::from(1))
        }
        other => {
            eprintln!(
                "fake-iocage: FAKE_IOCAGE_FAULT={other:?}: use hang, slow, crash, garbage or error"
            );
            Some(ExitCode::from(64))
        }
    }
}

/// Sleeps until killed, with one child doing the same (in this process's
/// group), so a test can check that a timeout stops the whole group.
fn hang() -> ! {
    if std::env::var_os("FAKE_IOCAGE_HANG_CHILD").is_none()
        && let Ok(me) = std::env::current_exe()
    {
        let _child = std::process::Command::new(me)
            .args(std::env::args_os().skip(1))
            .env("FAKE_IOCAGE_HANG_CHILD", "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// A few lines that no iocage command prints, different on every run.
fn garbage() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let noise = u64::from(nanos) ^ (u64::from(std::process::id()) << 17);
    format!(
        "%%% {noise:x} %%%\n~~ this is not iocage output ({:x}) ~~\n#!?@ {:x}\n",
        noise.rotate_left(13),
        noise.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    )
}

/// Without `FAKE_IOCAGE_STATE`: `fake-iocage-state.json` in the directory
/// of the path the program was run by (a link named `iocage` in a test's
/// directory), for callers that cannot set the environment of their child.
fn state_beside_program() -> Option<PathBuf> {
    let program = PathBuf::from(std::env::args_os().next()?);
    let dir = program.parent().filter(|dir| !dir.as_os_str().is_empty())?;
    Some(dir.join("fake-iocage-state.json"))
}

fn respond(args: &[String], flavour: Flavour) -> Result<Reply, String> {
    if args.first().map(String::as_str) == Some("--version") {
        return Ok(Reply::out(version::current().banner.clone()));
    }
    if version::model() == version::Model::Python09 {
        return Err(format!(
            "Python iocage 0.9.x is modelled for --version only ({})",
            version::current().banner.trim_end()
        ));
    }
    if flavour == Flavour::Python
        && let Some(reply) = python::before_lock(args)
    {
        return Ok(reply);
    }
    let state = std::env::var_os("FAKE_IOCAGE_STATE")
        .map(PathBuf::from)
        .or_else(state_beside_program)
        .ok_or("FAKE_IOCAGE_STATE is not set: name the JSON state file")?;
    // One invocation at a time changes the state: iocage itself relies on
    // ZFS for this; the fake holds a lock file for its whole run.
    let lock = File::create(state.with_extension("lock"))
        .map_err(|error| format!("{}: {error}", state.display()))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|error| format!("locking {}: {error}", state.display()))?;
    let mut host = load(&state)?;
    let before = host.clone();
    let reply = match flavour {
        Flavour::Legacy => legacy::run(&mut host, args),
        Flavour::Python => python::run(&mut host, args),
    };
    if host != before {
        save(&state, &host)?;
    }
    Ok(reply)
}

fn load(path: &Path) -> Result<Host, String> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|error| format!("{}: not a fake-iocage state: {error}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Host::fresh()),
        Err(error) => Err(format!("{}: {error}", path.display())),
    }
}

/// Writes the state atomically (temporary file, then rename).
fn save(path: &Path, host: &Host) -> Result<(), String> {
    let bytes = serde_json::to_vec_pretty(host).map_err(|error| error.to_string())?;
    let temporary = path.with_extension("tmp");
    fs::write(&temporary, bytes)
        .and_then(|()| fs::rename(&temporary, path))
        .map_err(|error| format!("{}: {error}", path.display()))
}

/// Reads a yes/no answer from stdin, as iocage's prompts do; the runner
/// closes stdin, so this is always "no" there.
pub(crate) fn confirmed() -> bool {
    let mut answer = String::new();
    let _ = std::io::stdin().read_to_string(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}
