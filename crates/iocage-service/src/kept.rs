//! Serialized answers to reads of a backend that reports no
//! [`generation`](crate::Backend::generation) (the real iocage), kept for a
//! short window so that a read need not wait for an iocage run (issue 19).
//!
//! The generation reply cache ([`crate::cache`]) is exact: the simulated
//! host changes only when the service changes it. A real host also changes by
//! itself (iocage run by hand, a jail that stops), so an answer kept here is
//! only ever *recent*, never exact. Each is kept with the instant its backend
//! read started and the number of changes the service had finished then, and
//! answers an identical read (same `args`, same `messages` shape) only:
//!
//! - while no change by the service has finished since its read started, so a
//!   client that got a change's answer never reads a listing from before it;
//! - while it is younger than `ttl` (fresh), or younger than `ttl + stale`
//!   (stale: answered at once while one background read replaces it, see
//!   [`Lookup::Stale`]).
//!
//! Bounded in bytes, as the reply cache is: past [`MAX_BYTES`] the answers
//! past their window go, and if that is not enough, all of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use crate::cache::MAX_BYTES;

/// The kept answers, and how long they may answer.
#[derive(Debug)]
pub(crate) struct KeptReads {
    ttl: Duration,
    stale: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The most finished changes any kept answer was read under: answers
    /// read under fewer can never answer again.
    changes_done: u64,
    bytes: usize,
    answers: HashMap<String, Kept>,
}

#[derive(Debug)]
struct Kept {
    reply: Arc<RawValue>,
    /// When its backend read started.
    started: Instant,
    /// Changes finished when its backend read started.
    changes_done: u64,
    /// A background read to replace it runs.
    refreshing: bool,
}

/// What a read finds kept for it.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Nothing that may answer: read the backend.
    Miss,
    /// An answer within `ttl`, this old.
    Fresh(Arc<RawValue>, Duration),
    /// An answer past `ttl` but within `ttl + stale`, this old, that started
    /// at `started`. `refresh`: this caller is the one to start the
    /// background read that replaces it (no other runs for the key).
    Stale {
        reply: Arc<RawValue>,
        age: Duration,
        started: Instant,
        refresh: bool,
    },
}

impl KeptReads {
    /// Answers kept for `ttl`, and served stale for `stale` more.
    pub(crate) fn new(ttl: Duration, stale: Duration) -> KeptReads {
        KeptReads {
            ttl,
            stale,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether anything is ever kept (both windows zero: no).
    pub(crate) fn enabled(&self) -> bool {
        !self.window().is_zero()
    }

    fn window(&self) -> Duration {
        self.ttl.saturating_add(self.stale)
    }

    /// What may answer a read of `key` now that `changes_done` changes
    /// have finished.
    pub(crate) fn lookup(&self, key: &str, changes_done: u64) -> Lookup {
        let mut state = self.state.lock().expect("kept reads");
        let Some(kept) = state.answers.get_mut(key) else {
            return Lookup::Miss;
        };
        let age = kept.started.elapsed();
        if kept.changes_done != changes_done || age >= self.window() {
            // A change finished after its read started, or it is too old:
            // it never answers again.
            let size = key.len() + kept.reply.get().len();
            state.answers.remove(key);
            state.bytes -= size;
            return Lookup::Miss;
        }
        if age < self.ttl {
            return Lookup::Fresh(kept.reply.clone(), age);
        }
        let refresh = !kept.refreshing;
        kept.refreshing = true;
        Lookup::Stale {
            reply: kept.reply.clone(),
            age,
            started: kept.started,
            refresh,
        }
    }

    /// Keeps `reply` for `key`, read by a backend read that started at
    /// `started` when `changes_done` changes had finished; `now_done` are
    /// those finished now. Not kept when a change finished meanwhile (it
    /// could lack that change), nor over a newer answer for the key.
    pub(crate) fn put(
        &self,
        key: String,
        reply: Arc<RawValue>,
        started: Instant,
        changes_done: u64,
        now_done: u64,
    ) {
        let size = key.len() + reply.get().len();
        if changes_done != now_done || size > MAX_BYTES || started.elapsed() >= self.window() {
            return;
        }
        let window = self.window();
        let mut state = self.state.lock().expect("kept reads");
        if changes_done < state.changes_done {
            return;
        }
        if changes_done > state.changes_done {
            state.answers.clear();
            state.bytes = 0;
            state.changes_done = changes_done;
        }
        if let Some(old) = state.answers.get(&key) {
            if old.started > started {
                return;
            }
            let old_size = key.len() + old.reply.get().len();
            state.answers.remove(&key);
            state.bytes -= old_size;
        }
        if state.bytes + size > MAX_BYTES {
            let mut bytes = 0;
            state.answers.retain(|key, kept| {
                let keep = kept.started.elapsed() < window;
                if keep {
                    bytes += key.len() + kept.reply.get().len();
                }
                keep
            });
            state.bytes = bytes;
            if state.bytes + size > MAX_BYTES {
                state.answers.clear();
                state.bytes = 0;
            }
        }
        state.bytes += size;
        state.answers.insert(
            key,
            Kept {
                reply,
                started,
                changes_done,
                refreshing: false,
            },
        );
    }

    /// The background read that was to replace the answer of `key` read at
    /// `started` failed: that answer is not renewed (it stops answering once
    /// past its window), and the next stale read may try again.
    pub(crate) fn refresh_failed(&self, key: &str, started: Instant) {
        let mut state = self.state.lock().expect("kept reads");
        if let Some(kept) = state.answers.get_mut(key)
            && kept.started == started
        {
            kept.refreshing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Arc<RawValue> {
        Arc::from(RawValue::from_string(text.to_owned()).unwrap())
    }

    fn text(lookup: &Lookup) -> Option<&str> {
        match lookup {
            Lookup::Miss => None,
            Lookup::Fresh(reply, _) | Lookup::Stale { reply, .. } => Some(reply.get()),
        }
    }

    /// The byte count kept agrees with the entries, and stays in budget.
    fn assert_counted(kept: &KeptReads) {
        let state = kept.state.lock().unwrap();
        let counted: usize = state
            .answers
            .iter()
            .map(|(key, kept)| key.len() + kept.reply.get().len())
            .sum();
        assert_eq!(state.bytes, counted);
        assert!(state.bytes <= MAX_BYTES, "{} bytes", state.bytes);
    }

    #[test]
    fn an_answer_serves_only_under_the_changes_it_was_read_under() {
        let kept = KeptReads::new(Duration::from_secs(60), Duration::ZERO);
        let now = Instant::now();
        kept.put("k".into(), reply("[1]"), now, 3, 3);
        assert!(matches!(kept.lookup("k", 3), Lookup::Fresh(..)));
        assert_eq!(text(&kept.lookup("k", 3)), Some("[1]"));
        assert!(matches!(kept.lookup("other", 3), Lookup::Miss));
        // A change finished: never again, even under the old count.
        assert!(matches!(kept.lookup("k", 4), Lookup::Miss));
        assert!(matches!(kept.lookup("k", 3), Lookup::Miss));
        // A read a change finished during is not kept.
        kept.put("k".into(), reply("[2]"), Instant::now(), 4, 5);
        assert!(matches!(kept.lookup("k", 5), Lookup::Miss));
        assert!(matches!(kept.lookup("k", 4), Lookup::Miss));
        // An older read does not displace a newer one.
        let newer = Instant::now();
        kept.put("k".into(), reply("[3]"), newer, 5, 5);
        kept.put("k".into(), reply("[0]"), now, 5, 5);
        assert_eq!(text(&kept.lookup("k", 5)), Some("[3]"));
        assert_counted(&kept);
    }

    #[test]
    fn a_stale_answer_starts_one_refresh_at_a_time() {
        let kept = KeptReads::new(Duration::ZERO, Duration::from_secs(60));
        let started = Instant::now();
        kept.put("k".into(), reply("[1]"), started, 0, 0);
        let first = kept.lookup("k", 0);
        assert!(
            matches!(first, Lookup::Stale { refresh: true, .. }),
            "{first:?}"
        );
        let second = kept.lookup("k", 0);
        assert!(
            matches!(second, Lookup::Stale { refresh: false, .. }),
            "{second:?}"
        );
        // A failed refresh lets the next stale read try again.
        kept.refresh_failed("k", started);
        let third = kept.lookup("k", 0);
        assert!(
            matches!(third, Lookup::Stale { refresh: true, .. }),
            "{third:?}"
        );
    }

    #[test]
    fn answers_past_their_window_answer_nothing() {
        let kept = KeptReads::new(Duration::from_millis(1), Duration::from_millis(1));
        let old = Instant::now() - Duration::from_millis(5);
        kept.put("k".into(), reply("[1]"), Instant::now(), 0, 0);
        std::thread::sleep(Duration::from_millis(3));
        assert!(matches!(kept.lookup("k", 0), Lookup::Miss));
        kept.put("k".into(), reply("[1]"), old, 0, 0);
        assert!(matches!(kept.lookup("k", 0), Lookup::Miss));
        assert!(!KeptReads::new(Duration::ZERO, Duration::ZERO).enabled());
        assert_counted(&kept);
    }

    #[test]
    fn the_kept_answers_stay_under_their_byte_budget() {
        let kept = KeptReads::new(Duration::from_secs(60), Duration::ZERO);
        let big = format!("\"{}\"", "x".repeat(MAX_BYTES / 3));
        for index in 0..10 {
            kept.put(format!("k{index}"), reply(&big), Instant::now(), 0, 0);
            assert_counted(&kept);
        }
        kept.put("k9".into(), reply(&big), Instant::now(), 0, 0);
        assert_counted(&kept);
        assert!(matches!(kept.lookup("k9", 0), Lookup::Fresh(..)));
        let huge = format!("\"{}\"", "x".repeat(MAX_BYTES));
        kept.put("huge".into(), reply(&huge), Instant::now(), 0, 0);
        assert!(matches!(kept.lookup("huge", 0), Lookup::Miss));
        assert_counted(&kept);
    }
}
