//! Runs the iocage program safely.
//!
//! * An argument vector, never a shell: no argument is ever interpreted.
//! * `LC_ALL=C` and no colour, so output is the format the parsers expect;
//!   standard input closed, so a prompt can never wait for an answer (or,
//!   where a version cannot skip a prompt, a fixed answer then end of file).
//! * Standard output and error read concurrently, each capped, so a child
//!   never blocks on a full pipe and a runaway child cannot exhaust memory.
//! * A time limit: on expiry the child's whole process group gets SIGTERM,
//!   then SIGKILL after a grace period, and the child is reaped, so no zombie
//!   or orphan is left behind.
//! * Progress: inside a [`progress::scope`](crate::progress::scope), each
//!   run is reported as it starts (`iocage create`), and each line it prints
//!   as it arrives, never waiting on the sink (see [`crate::progress`]).

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

/// Default time limit of one run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Default time between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// Default cap on each of stdout and stderr.
pub const DEFAULT_MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// Runs one program with a time limit and output caps.
#[derive(Debug, Clone)]
pub struct Runner {
    program: PathBuf,
    timeout: Duration,
    grace: Duration,
    max_output: usize,
    env: Vec<(OsString, OsString)>,
    observer: Option<RunObserver>,
    /// Whether the lines a run prints are reported as progress.
    lines_in_progress: bool,
}

/// Told of every run (for metrics): its first argument (the command), how
/// long it took, and how it ended: `ok`, `error` (a non-zero exit),
/// `signal`, `truncated`, `timeout`, `not_found` or `spawn_failed`.
#[derive(Clone)]
pub struct RunObserver(std::sync::Arc<ObserverFn>);

/// The function a [`RunObserver`] calls.
type ObserverFn = dyn Fn(&str, Duration, &str) + Send + Sync;

impl std::fmt::Debug for RunObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunObserver")
    }
}

/// How a finished child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

impl std::fmt::Display for ExitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitKind::Code(code) => write!(f, "exit status {code}"),
            ExitKind::Signal(signal) => write!(f, "killed by signal {signal}"),
        }
    }
}

/// What a finished run printed, and how it ended. A non-zero exit is not an
/// error here: iocage reports "already up" with exit status 1, for example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The command line, quoted for display.
    pub command: String,
    /// How it ended.
    pub exit: ExitKind,
    /// Standard output (lossily decoded; capped).
    pub stdout: String,
    /// Standard error (lossily decoded; capped).
    pub stderr: String,
    /// Whether either stream was cut at the cap.
    pub truncated: bool,
}

impl Output {
    /// Whether it exited with status 0.
    pub fn success(&self) -> bool {
        self.exit == ExitKind::Code(0)
    }
}

/// Why a run produced no [`Output`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The program does not exist (or is not executable): iocage is not installed.
    #[error("cannot run {command}: {program} not found")]
    NotFound {
        /// The quoted command line.
        command: String,
        /// The program path.
        program: String,
    },
    /// The program exists but could not be started.
    #[error("cannot run {command}: {source}")]
    Spawn {
        /// The quoted command line.
        command: String,
        /// Why.
        source: io::Error,
    },
    /// It did not finish within the time limit and was killed.
    #[error("{command} did not finish within {limit:?} and was killed; stderr: {stderr}")]
    TimedOut {
        /// The quoted command line.
        command: String,
        /// The limit.
        limit: Duration,
        /// What it had printed on stderr.
        stderr: String,
    },
    /// Reading its output or waiting for it failed.
    #[error("{command}: {source}")]
    Io {
        /// The quoted command line.
        command: String,
        /// Why.
        source: io::Error,
    },
}

impl Runner {
    /// A runner for `program` with the default limits.
    pub fn new(program: impl Into<PathBuf>) -> Runner {
        Runner {
            program: program.into(),
            timeout: DEFAULT_TIMEOUT,
            grace: DEFAULT_GRACE,
            max_output: DEFAULT_MAX_OUTPUT,
            env: Vec::new(),
            observer: None,
            lines_in_progress: true,
        }
    }

    /// Reports only that a run starts, never the lines it prints, as
    /// progress: for output that is not iocage's own (a command run in a
    /// jail), which only its requester may see.
    pub fn output_not_in_progress(mut self) -> Runner {
        self.lines_in_progress = false;
        self
    }

    /// Tells `observer` of every run: its command word, duration and how it
    /// ended (see [`RunObserver`]).
    pub fn observe(
        mut self,
        observer: impl Fn(&str, Duration, &str) + Send + Sync + 'static,
    ) -> Runner {
        self.observer = Some(RunObserver(std::sync::Arc::new(observer)));
        self
    }

    /// Sets the time limit of each run.
    pub fn timeout(mut self, timeout: Duration) -> Runner {
        self.timeout = timeout;
        self
    }

    /// Sets the time between SIGTERM and SIGKILL.
    pub fn grace(mut self, grace: Duration) -> Runner {
        self.grace = grace;
        self
    }

    /// Sets the cap on each output stream, in bytes.
    pub fn max_output(mut self, bytes: usize) -> Runner {
        self.max_output = bytes;
        self
    }

    /// Adds an environment variable for the child (on top of the inherited
    /// environment, `LC_ALL=C` and `IOCAGE_COLOR=FALSE`).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Runner {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The program this runner runs.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The time limit of each run.
    pub fn time_limit(&self) -> Duration {
        self.timeout
    }

    /// Runs the program with `args` and waits for it, within the time limit.
    pub async fn run<I, S>(&self, args: I) -> Result<Output, RunError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_with_input(args, None).await
    }

    /// Like [`Runner::run`], but with `input` on standard input (then end
    /// of file) instead of nothing: for a fixed answer to a prompt that a
    /// version of iocage cannot skip. `None` is standard input closed.
    pub async fn run_with_input<I, S>(
        &self,
        args: I,
        input: Option<&'static [u8]>,
    ) -> Result<Output, RunError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<OsString> = args
            .into_iter()
            .map(|arg| arg.as_ref().to_owned())
            .collect();
        let started = std::time::Instant::now();
        let out = self.run_args(&args, input).await;
        if let Some(RunObserver(observer)) = &self.observer {
            let class = match &out {
                Ok(out) if out.truncated => "truncated",
                Ok(out) => match out.exit {
                    ExitKind::Code(0) => "ok",
                    ExitKind::Code(_) => "error",
                    ExitKind::Signal(_) => "signal",
                },
                Err(RunError::TimedOut { .. }) => "timeout",
                Err(RunError::NotFound { .. }) => "not_found",
                Err(_) => "spawn_failed",
            };
            let command = args.first().map(|arg| arg.to_string_lossy());
            observer(command.as_deref().unwrap_or(""), started.elapsed(), class);
        }
        out
    }

    async fn run_args(
        &self,
        args: &[OsString],
        input: Option<&'static [u8]>,
    ) -> Result<Output, RunError> {
        let command = self.display(args);
        let mut child = Command::new(&self.program)
            .args(args)
            .env("LC_ALL", "C")
            .env("IOCAGE_COLOR", "FALSE")
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout can stop everything it started.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => RunError::NotFound {
                    command: command.clone(),
                    program: self.program.display().to_string(),
                },
                _ => RunError::Spawn {
                    command: command.clone(),
                    source,
                },
            })?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            // A short fixed answer; written by its own task so that a child
            // that never reads cannot block us, and dropped (EOF) after.
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = stdin.write_all(input).await;
            });
        }
        let sink = crate::progress::current();
        if let Some(sink) = &sink {
            let word = args.first().map(|arg| arg.to_string_lossy());
            sink.send(crate::progress::Progress {
                step: format!("iocage {}", word.as_deref().unwrap_or(""))
                    .trim_end()
                    .to_owned(),
                done: None,
                of: None,
                line: None,
            });
        }
        let lines = sink
            .filter(|_| self.lines_in_progress)
            .map(|sink| LineReport {
                sink,
                count: Arc::new(AtomicU64::new(0)),
            });
        let stdout = tokio::spawn(read_capped(
            child.stdout.take(),
            self.max_output,
            lines.clone(),
        ));
        let stderr = tokio::spawn(read_capped(child.stderr.take(), self.max_output, lines));
        let io_error = |source| RunError::Io {
            command: command.clone(),
            source,
        };
        let status = match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(status) => status.map_err(io_error)?,
            Err(_) => {
                self.kill_group(&mut child).await;
                let (stderr, _) = stderr.await.unwrap_or_default();
                stdout.abort();
                return Err(RunError::TimedOut {
                    command,
                    limit: self.timeout,
                    stderr: String::from_utf8_lossy(&stderr).into_owned(),
                });
            }
        };
        // The child is gone; its pipes may still be held open by something it
        // left behind in its group, so stop that too before reading to the end.
        if let Some(pid) = child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32))
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let (out, out_cut) = stdout.await.unwrap_or_default();
        let (err, err_cut) = stderr.await.unwrap_or_default();
        Ok(Output {
            command,
            exit: exit_kind(status),
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            truncated: out_cut || err_cut,
        })
    }

    /// SIGTERM to the group, SIGKILL after the grace period, then reap.
    async fn kill_group(&self, child: &mut Child) {
        let Some(pid) = child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32))
        else {
            return;
        };
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::TERM);
        if tokio::time::timeout(self.grace, child.wait())
            .await
            .is_err()
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            let _ = child.wait().await;
        } else {
            // The leader exited on SIGTERM; make sure nothing of its group survives.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }

    /// The command line, quoted as a POSIX shell would need it (for messages only).
    fn display(&self, args: &[OsString]) -> String {
        let words = std::iter::once(self.program.as_os_str())
            .chain(args.iter().map(OsString::as_os_str))
            .map(|word| word.to_string_lossy().into_owned());
        shell_words::join(words)
    }
}

/// Where a run's lines are reported: the sink, and the lines of both
/// streams counted together.
#[derive(Debug, Clone)]
struct LineReport {
    sink: crate::progress::Sink,
    count: Arc<AtomicU64>,
}

impl LineReport {
    fn send(&self, step: String) {
        let line = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        self.sink.send(crate::progress::Progress {
            step,
            done: None,
            of: None,
            line: Some(line),
        });
    }
}

/// Reads a stream to its end, keeping at most `cap` bytes, and reporting
/// each line as it arrives to `lines` (also past the cap) when given.
async fn read_capped<R: AsyncRead + Unpin>(
    stream: Option<R>,
    cap: usize,
    lines: Option<LineReport>,
) -> (Vec<u8>, bool) {
    let Some(mut stream) = stream else {
        return (Vec::new(), false);
    };
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut splitter = crate::progress::Lines::default();
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                if let Some(report) = &lines {
                    splitter.feed(&buffer[..read], |line| report.send(line));
                }
                let room = cap.saturating_sub(kept.len());
                if read > room {
                    truncated = true;
                }
                kept.extend_from_slice(&buffer[..read.min(room)]);
            }
        }
    }
    if let (Some(report), Some(line)) = (&lines, splitter.finish()) {
        report.send(line);
    }
    (kept, truncated)
}

fn exit_kind(status: std::process::ExitStatus) -> ExitKind {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitKind::Code(code),
        (None, Some(signal)) => ExitKind::Signal(signal),
        (None, None) => ExitKind::Code(-1),
    }
}
