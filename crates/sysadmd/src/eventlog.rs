//! The events kept for resuming subscribers: every event gets a `seq`
//! (increasing, never reused, also across restarts), and the last ones are
//! kept in memory and, for a server with a state directory, in
//! `events.jsonl` there.
//!
//! The file is append-only, one JSON object a line (`{"seq", "time_ms",
//! "kind", "event"}`), written before the event is delivered and, with
//! `[events] fsync` (the default), flushed to the disk first. After a crash
//! (kill -9, power loss) a torn last line is cut off when the file is read
//! again. When at least as many lines are dropped as kept, the file is
//! rewritten with the kept events only (a temporary file, fsync, rename), so
//! it stays bounded.
//!
//! An event is kept while it is among the last `keep` or younger than
//! `keep_secs`, and never more than `10 × keep` events.
//!
//! A live event (a job's progress) takes its `seq` from the same counter
//! but is not kept: it is never replayed and never in the history. Only its
//! `seq` goes to the file, as a short line marked `"live": true` (written,
//! not flushed on its own: a later flush takes it along), so that `seq`
//! still never repeats after a restart.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::Deserialize;
use serde_json::value::RawValue;
use sysadm_proto::EventKind;

/// The event log's file in the state directory.
pub(crate) const EVENTS_FILE: &str = "events.jsonl";

/// How many events are kept, and how they are written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventSettings {
    /// Events kept for `events/subscribe` with `since`, at least.
    pub keep: usize,
    /// Events younger than this are kept too, in seconds (at most 10 × `keep` events).
    pub keep_secs: u64,
    /// Flush each event to the disk before it is delivered.
    pub fsync: bool,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            keep: 10_000,
            keep_secs: 24 * 3600,
            fsync: true,
        }
    }
}

/// One kept event.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) seq: u64,
    time_ms: u64,
    pub(crate) kind: EventKind,
    /// The event as sent, with its `seq`.
    pub(crate) text: Arc<str>,
}

#[derive(Deserialize)]
struct Line<'a> {
    seq: u64,
    time_ms: u64,
    kind: EventKind,
    #[serde(borrow)]
    event: &'a RawValue,
    /// A live event's `seq` only: not kept.
    #[serde(default)]
    live: bool,
}

/// The kept events and the next `seq`.
#[derive(Debug)]
pub(crate) struct EventLog {
    settings: EventSettings,
    kept: VecDeque<Record>,
    next_seq: u64,
    /// The highest `seq` of a kept event that is kept no longer (at start,
    /// the one before the first kept): a subscriber resuming from before it
    /// has missed events.
    horizon: u64,
    file: Option<Disk>,
}

#[derive(Debug)]
struct Disk {
    path: PathBuf,
    file: File,
    /// Lines in the file, kept or not.
    lines: usize,
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog::in_memory(EventSettings::default())
    }
}

impl EventLog {
    /// A log that lives in memory only: `seq` starts at 1 each time.
    pub(crate) fn in_memory(settings: EventSettings) -> EventLog {
        EventLog {
            settings,
            kept: VecDeque::new(),
            next_seq: 1,
            horizon: 0,
            file: None,
        }
    }

    /// Opens (or creates, mode 0600) the log at `path`, reading the events
    /// kept in it; a torn last line (a crash while writing) is cut off.
    pub(crate) fn open(path: &Path, settings: EventSettings) -> anyhow::Result<EventLog> {
        let mut log = EventLog::in_memory(settings);
        let mut lines = 0;
        let mut good_bytes = 0u64;
        if let Ok(file) = File::open(path) {
            let mut reader = BufReader::new(file);
            let mut line = String::new();
            loop {
                line.clear();
                let read = reader
                    .read_line(&mut line)
                    .with_context(|| format!("cannot read event log {}", path.display()))?;
                if read == 0 {
                    break;
                }
                let Some(text) = line.strip_suffix('\n') else {
                    break; // torn: no newline
                };
                let Ok(parsed) = serde_json::from_str::<Line<'_>>(text) else {
                    break; // torn or damaged: what follows cannot be trusted
                };
                if parsed.seq < log.next_seq {
                    break;
                }
                log.next_seq = parsed.seq + 1;
                if !parsed.live {
                    log.kept.push_back(Record {
                        seq: parsed.seq,
                        time_ms: parsed.time_ms,
                        kind: parsed.kind,
                        text: parsed.event.get().into(),
                    });
                }
                lines += 1;
                good_bytes += read as u64;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot open event log {}", path.display()))?;
        if file.metadata().map(|meta| meta.len()).unwrap_or(0) > good_bytes {
            tracing::warn!(path = %path.display(), "event log ended in a torn or damaged line; cut off");
            file.set_len(good_bytes)
                .with_context(|| format!("cannot repair event log {}", path.display()))?;
        }
        log.horizon = log.oldest().map_or(0, |oldest| oldest - 1);
        log.file = Some(Disk {
            path: path.to_owned(),
            file,
            lines,
        });
        log.trim();
        Ok(log)
    }

    /// The `seq` the next event gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The oldest kept `seq`, if any is kept.
    pub(crate) fn oldest(&self) -> Option<u64> {
        self.kept.front().map(|record| record.seq)
    }

    /// Whether a subscriber that last saw `since` has missed kept events
    /// that are gone (or names a `seq` not reached yet).
    pub(crate) fn lost(&self, since: u64) -> bool {
        since < self.horizon || since >= self.next_seq
    }

    /// Takes the next `seq` for a live event, which is not kept; only the
    /// number is written (see the module docs).
    pub(crate) fn take_live(&mut self, kind: EventKind) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(disk) = &mut self.file {
            let line = live_line(seq, kind);
            match disk.file.write_all(line.as_bytes()) {
                Ok(()) => disk.lines += 1,
                Err(error) => {
                    tracing::error!(path = %disk.path.display(), %error, seq, "cannot write the event log")
                }
            }
        }
        let compact = self
            .file
            .as_ref()
            .is_some_and(|disk| disk.lines >= 2 * self.kept.len() + 64);
        if compact && let Err(error) = self.compact() {
            tracing::error!(error = format!("{error:#}"), "cannot compact the event log");
        }
        seq
    }

    /// Takes the next `seq` for an event whose text `render` makes, keeps and
    /// (with a file) writes it. A write failure is logged: events are still
    /// delivered live, and the log resumes with the next.
    pub(crate) fn append(&mut self, kind: EventKind, render: impl FnOnce(u64) -> String) -> Record {
        let seq = self.next_seq;
        self.next_seq += 1;
        let text: Arc<str> = render(seq).into();
        let record = Record {
            seq,
            time_ms: now_ms(),
            kind,
            text,
        };
        if let Some(disk) = &mut self.file {
            let line = format!(
                "{{\"seq\":{},\"time_ms\":{},\"kind\":\"{}\",\"event\":{}}}\n",
                record.seq,
                record.time_ms,
                kind.as_str(),
                record.text
            );
            let written = disk.file.write_all(line.as_bytes()).and_then(|()| {
                if self.settings.fsync {
                    disk.file.sync_data()
                } else {
                    Ok(())
                }
            });
            match written {
                Ok(()) => disk.lines += 1,
                Err(error) => {
                    tracing::error!(path = %disk.path.display(), %error, seq, "cannot write the event log")
                }
            }
        }
        self.kept.push_back(record.clone());
        self.trim();
        record
    }

    /// The kept events after `since`, of `kinds`.
    pub(crate) fn after(&self, since: u64, kinds: &[EventKind]) -> Vec<Record> {
        let start = self.kept.partition_point(|record| record.seq <= since);
        self.kept
            .range(start..)
            .filter(|record| kinds.contains(&record.kind))
            .cloned()
            .collect()
    }

    /// Drops what is no longer kept, and compacts the file when half of it is dropped.
    fn trim(&mut self) {
        let keep = self.settings.keep.max(1);
        let cutoff = now_ms().saturating_sub(self.settings.keep_secs.saturating_mul(1000));
        while self.kept.len() > keep
            && (self.kept.len() > keep.saturating_mul(10)
                || self
                    .kept
                    .front()
                    .is_some_and(|record| record.time_ms <= cutoff))
        {
            if let Some(gone) = self.kept.pop_front() {
                self.horizon = gone.seq;
            }
        }
        let compact = self
            .file
            .as_ref()
            .is_some_and(|disk| disk.lines >= 2 * self.kept.len() + 64);
        if compact && let Err(error) = self.compact() {
            tracing::error!(error = format!("{error:#}"), "cannot compact the event log");
        }
    }

    fn compact(&mut self) -> anyhow::Result<()> {
        let Some(disk) = &mut self.file else {
            return Ok(());
        };
        let temporary = disk.path.with_extension("jsonl.tmp");
        let mut out = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("cannot create {}", temporary.display()))?;
        let mut text = String::new();
        for record in &self.kept {
            text.push_str(&format!(
                "{{\"seq\":{},\"time_ms\":{},\"kind\":\"{}\",\"event\":{}}}\n",
                record.seq,
                record.time_ms,
                record.kind.as_str(),
                record.text
            ));
        }
        // The last seq given out, when it was a live event's, so it is not reused.
        let last = self.next_seq - 1;
        if last > 0 && self.kept.back().is_none_or(|record| record.seq < last) {
            text.push_str(&live_line(last, EventKind::Dispatcher));
        }
        out.write_all(text.as_bytes())?;
        out.sync_all()?;
        std::fs::rename(&temporary, &disk.path)
            .with_context(|| format!("cannot replace {}", disk.path.display()))?;
        if let Some(dir) = disk.path.parent() {
            File::open(dir).and_then(|dir| dir.sync_all())?;
        }
        disk.file = OpenOptions::new().append(true).open(&disk.path)?;
        disk.lines = text.lines().count();
        Ok(())
    }
}

/// The line that keeps a live event's `seq` in the file.
fn live_line(seq: u64, kind: EventKind) -> String {
    format!(
        "{{\"seq\":{seq},\"time_ms\":{},\"kind\":\"{}\",\"live\":true,\"event\":null}}\n",
        now_ms(),
        kind.as_str()
    )
}

/// How long ago an event's `time_ms` was, for tests.
#[cfg(test)]
fn age(record: &Record) -> std::time::Duration {
    std::time::Duration::from_millis(now_ms().saturating_sub(record.time_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(keep: usize) -> EventSettings {
        EventSettings {
            keep,
            keep_secs: 0,
            fsync: false,
        }
    }

    fn event(seq: u64) -> String {
        format!("{{\"args\":{{\"n\":{seq}}},\"seq\":{seq}}}")
    }

    #[test]
    fn seq_continues_after_a_restart_and_a_torn_line_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EVENTS_FILE);
        {
            let mut log = EventLog::open(&path, settings(100)).unwrap();
            for _ in 0..5 {
                log.append(EventKind::Dispatcher, event);
            }
        }
        // A crash in the middle of a write.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"seq\":6,\"time_ms\":1,\"ki").unwrap();
        let mut log = EventLog::open(&path, settings(100)).unwrap();
        assert_eq!(log.next_seq(), 6);
        let record = log.append(EventKind::Dispatcher, event);
        assert_eq!(record.seq, 6);
        let log = EventLog::open(&path, settings(100)).unwrap();
        let seqs: Vec<u64> = log
            .after(0, &[EventKind::Dispatcher])
            .iter()
            .map(|record| record.seq)
            .collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
        assert_eq!(&*log.after(5, &[EventKind::Dispatcher])[0].text, &event(6));
        assert!(
            age(&log.after(5, &[EventKind::Dispatcher])[0]) < std::time::Duration::from_secs(60)
        );
    }

    #[test]
    fn live_seqs_are_never_reused_nor_kept_nor_taken_for_lost_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EVENTS_FILE);
        {
            let mut log = EventLog::open(&path, settings(3)).unwrap();
            log.append(EventKind::Dispatcher, event);
            assert_eq!(log.take_live(EventKind::Dispatcher), 2);
            assert_eq!(log.take_live(EventKind::Dispatcher), 3);
            assert_eq!(log.append(EventKind::Dispatcher, event).seq, 4);
            assert_eq!(log.take_live(EventKind::Dispatcher), 5);
            let seqs: Vec<u64> = log
                .after(0, &[EventKind::Dispatcher])
                .iter()
                .map(|record| record.seq)
                .collect();
            assert_eq!(seqs, [1, 4], "live events are not kept");
            assert!(!log.lost(0) && !log.lost(3) && !log.lost(5));
            assert!(log.lost(6), "not reached yet");
        }
        // A restart after a live event: its seq is not given out again.
        let mut log = EventLog::open(&path, settings(3)).unwrap();
        assert_eq!(log.next_seq(), 6);
        assert_eq!(log.after(0, &[EventKind::Dispatcher]).len(), 2);
        // Compaction keeps the last live seq too.
        for _ in 0..200 {
            log.take_live(EventKind::Dispatcher);
        }
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines < 2 * 3 + 64 + 1, "compacted: {lines} lines");
        let next = log.next_seq();
        drop(log);
        let mut log = EventLog::open(&path, settings(3)).unwrap();
        assert_eq!(log.next_seq(), next);
        // Kept events pushed out make a resume from before them lost, and
        // only from before them.
        for _ in 0..3 {
            log.append(EventKind::Dispatcher, event);
        }
        assert!(log.lost(3), "event 4 is gone");
        assert!(!log.lost(4) && !log.lost(next - 1));
    }

    #[test]
    fn old_events_go_and_the_file_is_compacted_but_seq_never_goes_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EVENTS_FILE);
        let mut log = EventLog::open(&path, settings(10)).unwrap();
        for _ in 0..1000 {
            log.append(EventKind::Dispatcher, event);
        }
        assert_eq!(log.oldest(), Some(991));
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines < 2 * 10 + 64 + 1, "compacted: {lines} lines");
        drop(log);
        let mut log = EventLog::open(&path, settings(10)).unwrap();
        assert_eq!(log.oldest(), Some(991));
        assert_eq!(log.append(EventKind::Dispatcher, event).seq, 1001);
    }
}
