//! Every state-changing iocage action runs as a job: it gets an id, emits
//! `dispatcher` events when it starts and ends, is listed while it runs, and
//! leaves one audit record when it ends (written before the reply is sent).
//! A change is refused before it runs (503, "audit log unavailable") when its
//! start cannot be recorded, so nothing happens unrecorded (a full disk, say);
//! the outage is logged once, not per request.
//!
//! While a job runs, what it reports through `iocage_service::progress`
//! (the simulated host's steps, each iocage run and line on a real host)
//! becomes `dispatcher` events with `state: running` and `progress`, and
//! the job's entry in the job list shows the latest. They are coalesced:
//! at most one per [`PROGRESS_INTERVAL`] per job, the latest report winning,
//! and the one pending when the job ends is sent before its `finished`
//! event. They are live events: they get a `seq` but are not kept for
//! replay or history (see `eventlog.rs`).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use anyhow::Context;
use iocage_service::{Caller, ServiceError};
use serde_json::json;
use sysadm_proto::{
    DispatcherEvent, ErrorCode, EventKind, EventMessage, IocageRequest, IocageResponse, JobOutcome,
    JobProgress, JobState,
};

use crate::events::EventHub;

/// The least time between two progress events of one job.
pub(crate) const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The latest progress a job reported and not yet sent: written by the
/// reporters (which must never wait), taken by the job's forwarder.
#[derive(Debug, Default)]
struct PendingProgress {
    latest: Mutex<Option<iocage_service::progress::Progress>>,
    wake: tokio::sync::Notify,
}

/// The append-only audit log: one JSON object per line.
///
/// Log rotation (newsyslog, logrotate) renames the file and may create a new
/// one. Before each record the log checks that its path still names the file
/// it has open, and reopens the path when it does not, so records go to the
/// new file without a signal; a record written just before the rename is in
/// the renamed file, never lost. [`Audit::reopen`] does the same on demand (SIGHUP).
#[derive(Debug)]
pub struct Audit {
    path: PathBuf,
    file: Mutex<File>,
    /// Set while writes fail, so the outage is logged once.
    failing: AtomicBool,
}

/// What a change is refused with when its start cannot be recorded.
pub(crate) const AUDIT_UNAVAILABLE: &str =
    "audit log unavailable: the change was not made, because it could not be recorded";

/// Opens `path` for appending, creating it private (0600 whatever the umask).
fn open_append(path: &Path) -> anyhow::Result<File> {
    let existed = path.exists();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot open audit log {}", path.display()))?;
    if !existed {
        crate::modes::make_private(&file, path)?;
    }
    Ok(file)
}

/// Whether `path` still names the file `file` has open.
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

impl Audit {
    /// Opens (or creates, mode 0600) the audit log for appending.
    pub fn open(path: &Path) -> anyhow::Result<Audit> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            crate::modes::create_private_dir(dir)?;
        }
        let file = open_append(path)?;
        Ok(Audit {
            path: path.to_owned(),
            file: Mutex::new(file),
            failing: AtomicBool::new(false),
        })
    }

    /// Appends one record. A failure is logged (once per outage); use
    /// [`Audit::try_record`] where the caller must know.
    pub fn record(&self, record: &serde_json::Value) {
        let _ = self.try_record(record);
    }

    /// Appends one record; `Err` when it could not be written. Half a line
    /// written before the failure is cut off again, so the log stays one JSON
    /// object per line.
    pub(crate) fn try_record(&self, record: &serde_json::Value) -> std::io::Result<()> {
        let mut line = record.to_string();
        line.push('\n');
        let mut file = self.file.lock().expect("audit lock");
        if !still_at(&file, &self.path) {
            match open_append(&self.path) {
                Ok(reopened) => *file = reopened,
                Err(error) => tracing::error!(
                    error = format!("{error:#}"),
                    "cannot reopen the audit log after it was moved; writing to the moved file"
                ),
            }
        }
        let length = file.metadata().map(|metadata| metadata.len()).ok();
        match file.write_all(line.as_bytes()) {
            Ok(()) => {
                if self.failing.swap(false, Ordering::SeqCst) {
                    tracing::warn!(path = %self.path.display(), "the audit log can be written again; changes are accepted");
                }
                Ok(())
            }
            Err(error) => {
                if let Some(length) = length.filter(|&length| length > 0) {
                    let _ = file.set_len(length);
                }
                if self.failing.swap(true, Ordering::SeqCst) {
                    tracing::debug!(%error, "audit log still unwritable");
                } else {
                    tracing::error!(path = %self.path.display(), %error,
                        "AUDIT LOG WRITE FAILED: changes are refused until it can be written; logged once");
                }
                Err(error)
            }
        }
    }

    /// Opens the path again (after a rotation), keeping the open file if that fails.
    pub fn reopen(&self) -> anyhow::Result<()> {
        let reopened = open_append(&self.path)?;
        *self.file.lock().expect("audit lock") = reopened;
        Ok(())
    }

    /// `Ok` when records can be written: the last write did not fail and
    /// the file (or, when it was rotated away, its directory) is writable.
    pub(crate) fn health(&self) -> Result<(), String> {
        let unwritable = |why: String| {
            Err(format!(
                "audit log {} unwritable: {why}",
                self.path.display()
            ))
        };
        if self.failing.load(Ordering::SeqCst) {
            return unwritable("the last write failed".into());
        }
        let probe = if self.path.exists() {
            rustix::fs::access(&self.path, rustix::fs::Access::WRITE_OK)
        } else {
            let dir = self.path.parent().unwrap_or(Path::new("."));
            rustix::fs::access(dir, rustix::fs::Access::WRITE_OK)
        };
        match probe {
            Ok(()) => Ok(()),
            Err(error) => unwritable(std::io::Error::from(error).to_string()),
        }
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Running jobs, their events and their audit records.
#[derive(Debug)]
pub struct Jobs {
    next_id: AtomicU64,
    running: Mutex<BTreeMap<u64, DispatcherEvent>>,
    events: EventHub,
    audit: Audit,
}

impl Jobs {
    /// Jobs that publish to `events` and record to `audit`.
    pub fn new(events: EventHub, audit: Audit) -> Jobs {
        // Job ids continue after those of the kept events (a restart).
        let first = events.highest_job() + 1;
        Jobs {
            next_id: AtomicU64::new(first),
            running: Mutex::new(BTreeMap::new()),
            events,
            audit,
        }
    }

    pub(crate) fn events(&self) -> &EventHub {
        &self.events
    }

    pub(crate) fn audit(&self) -> &Audit {
        &self.audit
    }

    /// The jobs in progress, oldest first.
    pub(crate) fn running(&self) -> Vec<DispatcherEvent> {
        self.running
            .lock()
            .expect("jobs lock")
            .values()
            .cloned()
            .collect()
    }

    /// Runs `work` as a job for `caller`.
    pub(crate) async fn run(
        &self,
        caller: &Caller,
        request: &IocageRequest,
        work: impl Future<Output = Result<IocageResponse, ServiceError>>,
    ) -> Result<IocageResponse, ServiceError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let started_at = SystemTime::now();
        let clock = Instant::now();
        // Recorded before anything happens: if it cannot be, nothing does.
        let start = json!({
            "kind": "job_started",
            "job": format!("job-{id}"),
            "user": caller.user,
            "peer": caller.peer.map(|peer| peer.to_string()),
            "action": request.action().as_str(),
            "target": target(request),
            "started": rfc3339(started_at),
        });
        if self.audit.try_record(&start).is_err() {
            return Err(ServiceError::new(ErrorCode::Unavailable, AUDIT_UNAVAILABLE));
        }
        let mut event = DispatcherEvent {
            process_id: format!("job-{id}"),
            state: JobState::Running,
            action: request.action().as_str().to_owned(),
            target: target(request),
            user: caller.user.clone(),
            started: rfc3339(started_at),
            finished: None,
            duration_ms: None,
            outcome: None,
            progress: None,
        };
        {
            // Insert and publish under the same lock, so the list and the events agree.
            let mut running = self.running.lock().expect("jobs lock");
            running.insert(id, event.clone());
            self.events.publish(
                EventKind::Dispatcher,
                &EventMessage::new("dispatcher", &event),
            );
        }

        let pending = std::sync::Arc::new(PendingProgress::default());
        let sink = {
            let pending = pending.clone();
            iocage_service::progress::Sink::new(move |progress| {
                *pending.latest.lock().expect("progress lock") = Some(progress);
                pending.wake.notify_one();
            })
        };
        let forward = async {
            loop {
                pending.wake.notified().await;
                let latest = pending.latest.lock().expect("progress lock").take();
                if let Some(progress) = latest {
                    self.progress(id, progress);
                    tokio::time::sleep(PROGRESS_INTERVAL).await;
                }
            }
        };
        let result = tokio::select! {
            biased;
            result = iocage_service::progress::scope(sink, work) => result,
            () = forward => unreachable!("the progress forwarder never ends"),
        };
        // The last report, if it is not sent yet, goes before `finished`.
        let latest = pending.latest.lock().expect("progress lock").take();
        if let Some(progress) = latest {
            self.progress(id, progress);
        }

        let outcome = match &result {
            Ok(_) => JobOutcome {
                success: true,
                code: None,
                details: None,
            },
            Err(error) => JobOutcome {
                success: false,
                code: Some(error.code().code()),
                details: Some(error.details().to_owned()),
            },
        };
        event.state = JobState::Finished;
        event.finished = Some(rfc3339(SystemTime::now()));
        event.duration_ms = Some(u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX));
        event.outcome = Some(outcome);
        self.audit.record(&json!({
            "kind": "job",
            "job": event.process_id,
            "user": caller.user,
            "peer": caller.peer.map(|peer| peer.to_string()),
            "action": event.action,
            "target": event.target,
            "started": event.started,
            "finished": event.finished,
            "duration_ms": event.duration_ms,
            "outcome": event.outcome,
        }));
        {
            let mut running = self.running.lock().expect("jobs lock");
            running.remove(&id);
            self.events.publish(
                EventKind::Dispatcher,
                &EventMessage::new("dispatcher", &event),
            );
        }
        result
    }
}

impl Jobs {
    /// Sends a running job's progress as a live event and shows it in the job list.
    fn progress(&self, id: u64, progress: iocage_service::progress::Progress) {
        let mut running = self.running.lock().expect("jobs lock");
        let Some(event) = running.get_mut(&id) else {
            return;
        };
        event.progress = Some(JobProgress {
            step: progress.step,
            done: progress.done,
            of: progress.of,
            line: progress.line,
        });
        self.events.publish_live(
            EventKind::Dispatcher,
            &EventMessage::new("dispatcher", &*event),
        );
    }
}

/// The jail or pool a request acts on.
fn target(request: &IocageRequest) -> Option<String> {
    match request {
        IocageRequest::ActivatePool { pool } => pool.clone(),
        IocageRequest::DeactivatePool { pool } => Some(pool.clone()),
        IocageRequest::CreateJail { props, .. } => Some(props.clone()),
        other => other.jail().map(str::to_owned),
    }
}

/// A time as RFC 3339 UTC, to the millisecond.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}
