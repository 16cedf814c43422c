//! Idempotency keys: a state-changing request with `idempotency_key` (or
//! the `Idempotency-Key` REST header) runs once per user and key within
//! `[idempotency] keep_secs`; a retry with the same request gets the first
//! result without running anything, and waits while the first still runs;
//! the same key with another request is a 409 naming the key.
//!
//! Keys and results are kept in `idempotency.jsonl` in the state directory:
//! a `start` line (flushed to the disk) before the change runs, a `finish`
//! line with the result as soon as the backend answers, before the audit
//! record, the events and the reply. A key whose `start` has no `finish`
//! after a restart (the server died while the change ran) is answered with
//! a 409 that says its outcome is unknown: it is never run a second time.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use iocage_service::{Caller, ServiceError};
use serde::{Deserialize, Serialize};
use sysadm_proto::{ErrorCode, IocageRequest};
use tokio::sync::watch;

use crate::app::{ApiError, App, Reply};
use crate::auth::Principal;
use crate::eventlog::now_ms;

/// The file in the state directory.
pub(crate) const IDEMPOTENCY_FILE: &str = "idempotency.jsonl";

/// Keys remembered at most; more new keys are refused (503) until some expire.
const MAX_KEYS: usize = 100_000;

/// The `[idempotency]` table of the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdempotencySettings {
    /// How long a key and its result are kept, in seconds.
    pub keep_secs: u64,
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        IdempotencySettings {
            keep_secs: 24 * 3600,
        }
    }
}

/// A recorded result: the reply's `args` as JSON, or an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Ok(String),
    Error { code: u16, details: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct Line {
    op: String,
    user: String,
    key: String,
    at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<Outcome>,
}

#[derive(Debug)]
enum State {
    Running(
        watch::Receiver<Option<Outcome>>,
        watch::Sender<Option<Outcome>>,
    ),
    Done(Outcome),
    /// Started before a restart and never finished.
    Interrupted,
}

#[derive(Debug)]
struct Entry {
    request: String,
    at_ms: u64,
    state: State,
}

/// The keys, in memory and on disk.
#[derive(Debug)]
pub(crate) struct Keys {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    window: Duration,
    entries: HashMap<(String, String), Entry>,
    file: Option<(PathBuf, File, usize)>,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            inner: Mutex::new(Inner {
                window: Duration::from_secs(IdempotencySettings::default().keep_secs),
                entries: HashMap::new(),
                file: None,
            }),
        }
    }
}

/// What to do with a request that carries a key.
enum Begin {
    Run(watch::Sender<Option<Outcome>>),
    Wait(watch::Receiver<Option<Outcome>>),
    Done(Outcome),
}

impl Keys {
    /// Reads (or creates, mode 0600) the keys file at `path`, and keeps
    /// keys for `settings.keep_secs` from now on.
    pub(crate) fn load(&self, path: &Path, settings: &IdempotencySettings) -> anyhow::Result<()> {
        let mut lines = 0;
        {
            let mut inner = self.inner.lock().expect("keys lock");
            inner.window = Duration::from_secs(settings.keep_secs);
            if let Ok(file) = File::open(path) {
                for line in BufReader::new(file).lines() {
                    let line = line.with_context(|| format!("cannot read {}", path.display()))?;
                    // A torn last line (a crash while writing) is skipped.
                    let Ok(line) = serde_json::from_str::<Line>(&line) else {
                        continue;
                    };
                    lines += 1;
                    let id = (line.user, line.key);
                    match (line.op.as_str(), line.request, line.outcome) {
                        ("start", Some(request), _) => {
                            inner.entries.insert(
                                id,
                                Entry {
                                    request,
                                    at_ms: line.at_ms,
                                    state: State::Interrupted,
                                },
                            );
                        }
                        ("finish", _, Some(outcome)) => {
                            if let Some(entry) = inner.entries.get_mut(&id) {
                                entry.state = State::Done(outcome);
                            }
                        }
                        _ => {}
                    }
                }
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            inner.file = Some((path.to_owned(), file, lines));
            expire(&mut inner);
        }
        Ok(())
    }
}

/// Forgets keys older than the window; compacts the file when half of it is forgotten.
fn expire(inner: &mut Inner) {
    {
        let cutoff =
            now_ms().saturating_sub(u64::try_from(inner.window.as_millis()).unwrap_or(u64::MAX));
        inner
            .entries
            .retain(|_, entry| entry.at_ms > cutoff || matches!(entry.state, State::Running(..)));
        let live = inner.entries.len();
        if inner
            .file
            .as_ref()
            .is_some_and(|(_, _, lines)| *lines >= 2 * live + 64)
            && let Err(error) = compact(inner)
        {
            tracing::error!(
                error = format!("{error:#}"),
                "cannot compact the idempotency keys"
            );
        }
    }
}

impl Keys {
    fn write(inner: &mut Inner, line: &Line) -> std::io::Result<()> {
        let Some((_, file, lines)) = &mut inner.file else {
            return Ok(());
        };
        let mut text = serde_json::to_string(line).expect("lines serialize");
        text.push('\n');
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        *lines += 1;
        Ok(())
    }

    fn begin(&self, user: &str, key: &str, request: &str) -> Result<Begin, ApiError> {
        let mut inner = self.inner.lock().expect("keys lock");
        expire(&mut inner);
        let id = (user.to_owned(), key.to_owned());
        let window = inner.window.as_secs();
        if let Some(entry) = inner.entries.get(&id) {
            if entry.request != request {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!(
                        "idempotency key {} was used for another request ({}) in the last {window} s; \
                         send a new key with a new request",
                        sysadm_proto::shown(key),
                        entry.request
                    ),
                ));
            }
            return match &entry.state {
                State::Done(outcome) => Ok(Begin::Done(outcome.clone())),
                State::Running(receiver, _) => Ok(Begin::Wait(receiver.clone())),
                State::Interrupted => Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!(
                        "idempotency key {}: the first request ({request}) was interrupted by a \
                         restart of the server before its result was recorded, so whether it took \
                         effect is unknown; it is not run again: check the host (listjails), then \
                         send the request with a new key",
                        sysadm_proto::shown(key)
                    ),
                )),
            };
        }
        if inner.entries.len() >= MAX_KEYS {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                format!(
                    "{MAX_KEYS} idempotency keys are kept already; try again when some are older \
                     than {window} s, or send the request without a key"
                ),
            ));
        }
        let at_ms = now_ms();
        let start = Line {
            op: "start".into(),
            user: user.to_owned(),
            key: key.to_owned(),
            at_ms,
            request: Some(request.to_owned()),
            outcome: None,
        };
        // Recorded before the change runs: if it cannot be, nothing runs.
        if let Err(error) = Self::write(&mut inner, &start) {
            tracing::error!(%error, "cannot record an idempotency key");
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "the idempotency key could not be recorded, so the request was not run",
            ));
        }
        let (sender, receiver) = watch::channel(None);
        inner.entries.insert(
            id,
            Entry {
                request: request.to_owned(),
                at_ms,
                state: State::Running(receiver, sender.clone()),
            },
        );
        Ok(Begin::Run(sender))
    }

    /// Records the result of a running key (once; later calls change nothing).
    fn finish(&self, user: &str, key: &str, outcome: &Outcome) {
        let mut inner = self.inner.lock().expect("keys lock");
        let id = (user.to_owned(), key.to_owned());
        let Some(entry) = inner.entries.get_mut(&id) else {
            return;
        };
        let State::Running(_, sender) = &entry.state else {
            return;
        };
        let sender = sender.clone();
        entry.state = State::Done(outcome.clone());
        let line = Line {
            op: "finish".into(),
            user: user.to_owned(),
            key: key.to_owned(),
            at_ms: now_ms(),
            request: None,
            outcome: Some(outcome.clone()),
        };
        if let Err(error) = Self::write(&mut inner, &line) {
            tracing::error!(%error, "cannot record the result of an idempotency key");
        }
        let _ = sender.send(Some(outcome.clone()));
    }
}

/// Rewrites the file with the live entries only.
fn compact(inner: &mut Inner) -> anyhow::Result<()> {
    let Some((path, _, _)) = &inner.file else {
        return Ok(());
    };
    let path = path.clone();
    let temporary = path.with_extension("jsonl.tmp");
    let mut text = String::new();
    let mut lines = 0;
    for ((user, key), entry) in &inner.entries {
        let mut push = |line: Line| {
            text.push_str(&serde_json::to_string(&line).expect("lines serialize"));
            text.push('\n');
            lines += 1;
        };
        push(Line {
            op: "start".into(),
            user: user.clone(),
            key: key.clone(),
            at_ms: entry.at_ms,
            request: Some(entry.request.clone()),
            outcome: None,
        });
        if let State::Done(outcome) = &entry.state {
            push(Line {
                op: "finish".into(),
                user: user.clone(),
                key: key.clone(),
                at_ms: entry.at_ms,
                request: None,
                outcome: Some(outcome.clone()),
            });
        }
    }
    let mut out = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    out.write_all(text.as_bytes())?;
    out.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|dir| dir.sync_all())?;
    }
    let file = OpenOptions::new().append(true).open(&path)?;
    inner.file = Some((path, file, lines));
    Ok(())
}

fn outcome_of(result: &Result<sysadm_proto::IocageResponse, ServiceError>) -> Outcome {
    match result {
        Ok(response) => Outcome::Ok(serde_json::to_string(response).expect("responses serialize")),
        Err(error) => Outcome::Error {
            code: error.code().code(),
            details: error.details().to_owned(),
        },
    }
}

fn reply_of(outcome: Outcome) -> Result<Reply, ApiError> {
    match outcome {
        Outcome::Ok(json) => Ok(Arc::from(
            serde_json::value::RawValue::from_string(json).map_err(|error| {
                tracing::error!(%error, "a recorded result is not JSON");
                ApiError::new(ErrorCode::Internal, "a recorded result is unreadable")
            })?,
        )),
        Outcome::Error { code, details } => Err(ApiError::new(
            ErrorCode::from_code(code).unwrap_or(ErrorCode::Internal),
            details,
        )),
    }
}

impl App {
    /// Runs a change with an idempotency key: once per user and key, the
    /// first result for every retry of the same request.
    pub(crate) async fn idempotent_change(
        self: &Arc<Self>,
        principal: &Principal,
        caller: Caller,
        request: IocageRequest,
        key: &str,
    ) -> Result<Reply, ApiError> {
        let canonical = request.to_args().to_string();
        let sender = match self.keys.begin(&principal.user, key, &canonical)? {
            Begin::Done(outcome) => return reply_of(outcome),
            Begin::Wait(mut receiver) => {
                // As long as a change may take, and a little more.
                let deadline = Duration::from_secs(self.limits.iocage_timeout_secs + 30);
                let waited =
                    tokio::time::timeout(deadline, receiver.wait_for(Option::is_some)).await;
                return match waited {
                    Ok(Ok(outcome)) => reply_of(outcome.clone().expect("waited for Some")),
                    _ => Err(ApiError::new(
                        ErrorCode::Timeout,
                        format!(
                            "the first request with idempotency key {} is still running; retry later",
                            sysadm_proto::shown(key)
                        ),
                    )),
                };
            }
            Begin::Run(sender) => sender,
        };
        let app = self.clone();
        let user = principal.user.clone();
        let key = key.to_owned();
        let job = self.lanes.spawn_job(&self.tracker, async move {
            let work = async {
                let result = app.service.handle(request.clone(), &caller).await;
                // Recorded as soon as the backend answers, before anything else.
                app.keys.finish(&user, &key, &outcome_of(&result));
                result
            };
            let result = app.jobs.run(&caller, &request, work).await;
            // A job refused before it ran (the audit log) is finished here.
            app.keys.finish(&user, &key, &outcome_of(&result));
            drop(sender);
            result
        });
        let result = job.await.map_err(|error| {
            tracing::error!(%error, "job task failed");
            ApiError::new(ErrorCode::Internal, "job task failed")
        })?;
        Ok(crate::app::to_value(&result?))
    }
}
