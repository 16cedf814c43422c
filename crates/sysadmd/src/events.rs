//! Event fan-out to WebSocket subscribers.
//!
//! Each event gets its `seq`, is kept in the event log (`eventlog.rs`), is
//! serialized once and is offered to every subscriber, all under one lock,
//! so all subscribers see events in the same order. Each subscriber has
//! a bounded queue: one that falls behind is disconnected (its `too_slow`
//! token fires), never silently skipped, and memory stays bounded.
//!
//! A subscription with `since` takes the kept events after it under the
//! same lock as it starts receiving live ones, so there is no gap between
//! the two; the connection's forwarder sends the replay first and skips any
//! event whose `seq` it already sent, so there is no duplicate.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sysadm_proto::{EventKind, EventMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::eventlog::{EventLog, EventSettings};

/// Delivers events to subscribed connections.
#[derive(Debug, Clone, Default)]
pub struct EventHub {
    inner: Arc<Hub>,
}

#[derive(Debug, Default)]
struct Hub {
    next_id: AtomicU64,
    subscribers: Mutex<State>,
    /// Subscribers disconnected as too slow.
    dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    slots: HashMap<u64, Slot>,
    log: EventLog,
}

/// An event on its way to one connection: its `seq` (none for the
/// connection's own notices, such as `resync_required`) and its text.
pub(crate) type Delivery = (Option<u64>, Arc<str>);

#[derive(Debug)]
struct Slot {
    kinds: BTreeSet<EventKind>,
    queue: mpsc::Sender<Delivery>,
    replay: mpsc::Sender<Vec<Delivery>>,
    too_slow: CancellationToken,
}

/// `event` as sent, with its `seq`.
fn numbered<A: serde::Serialize>(event: &EventMessage<A>, seq: u64) -> String {
    let numbered = EventMessage {
        args: &event.args,
        id: event.id.clone(),
        name: event.name.clone(),
        namespace: event.namespace.clone(),
        seq: Some(seq),
    };
    serde_json::to_string(&numbered).expect("events serialize")
}

/// Why a resumed subscription could not be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResumeError {
    /// The connection's previous replay is still being sent.
    Busy,
}

/// One connection's registration; unregisters itself when dropped.
#[derive(Debug)]
pub(crate) struct Subscriber {
    id: u64,
    hub: Arc<Hub>,
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.hub.state().slots.remove(&self.id);
    }
}

impl Hub {
    fn state(&self) -> MutexGuard<'_, State> {
        self.subscribers.lock().expect("subscribers lock")
    }
}

/// What a connection reads events from.
#[derive(Debug)]
pub(crate) struct Inbox {
    pub(crate) events: mpsc::Receiver<Delivery>,
    /// Kept events to send before the live ones, for `since`.
    pub(crate) replay: mpsc::Receiver<Vec<Delivery>>,
    /// Fires when the queue overflowed and the connection must be closed.
    pub(crate) too_slow: CancellationToken,
}

impl EventHub {
    /// A hub whose events are kept in `path` (the state directory's
    /// `events.jsonl`), so that `seq` continues and subscribers can resume
    /// across restarts.
    pub fn persistent(path: &Path, settings: EventSettings) -> anyhow::Result<EventHub> {
        Ok(EventHub {
            inner: Arc::new(Hub {
                subscribers: Mutex::new(State {
                    slots: HashMap::new(),
                    log: EventLog::open(path, settings)?,
                }),
                ..Hub::default()
            }),
        })
    }

    /// A hub that keeps events in memory only (`seq` starts at 1 each time).
    pub fn in_memory(settings: EventSettings) -> EventHub {
        EventHub {
            inner: Arc::new(Hub {
                subscribers: Mutex::new(State {
                    slots: HashMap::new(),
                    log: EventLog::in_memory(settings),
                }),
                ..Hub::default()
            }),
        }
    }

    /// Registers a connection with a queue of `capacity` events. It receives
    /// nothing until it subscribes.
    pub(crate) fn register(&self, capacity: usize) -> (Subscriber, Inbox) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue, events) = mpsc::channel(capacity.max(1));
        let (replay_sender, replay) = mpsc::channel(1);
        let too_slow = CancellationToken::new();
        self.inner.state().slots.insert(
            id,
            Slot {
                kinds: BTreeSet::new(),
                queue,
                replay: replay_sender,
                too_slow: too_slow.clone(),
            },
        );
        (
            Subscriber {
                id,
                hub: self.inner.clone(),
            },
            Inbox {
                events,
                replay,
                too_slow,
            },
        )
    }

    /// Subscribes to `kinds` and queues every kept event of them after
    /// `since` for replay, atomically with the start of live delivery. When
    /// events after `since` are no longer kept (or `since` is from the
    /// future), a `resync_required` notice comes first.
    pub(crate) fn resume(
        &self,
        subscriber: &Subscriber,
        kinds: &[EventKind],
        since: u64,
    ) -> Result<Vec<EventKind>, ResumeError> {
        let mut state = self.inner.state();
        let State { slots, log } = &mut *state;
        let Some(slot) = slots.get_mut(&subscriber.id) else {
            return Ok(Vec::new());
        };
        let mut replay: Vec<Delivery> = Vec::new();
        let next = log.next_seq();
        if log.lost(since) {
            let notice = EventMessage::new(
                "resync_required",
                serde_json::json!({
                    "since": since,
                    "oldest": log.oldest(),
                    "next": next,
                    "reason": if since >= next {
                        "this server has sent no event with that seq yet: fetch the state anew"
                    } else {
                        "events after that seq are no longer kept: fetch the state anew \
                         (rpc/dispatcher history lists the jobs kept)"
                    },
                }),
            );
            let text = serde_json::to_string(&notice).expect("events serialize");
            replay.push((None, text.into()));
        }
        replay.extend(
            log.after(since, kinds)
                .into_iter()
                .map(|record| (Some(record.seq), record.text)),
        );
        if !replay.is_empty() && slot.replay.try_send(replay).is_err() {
            return Err(ResumeError::Busy);
        }
        slot.kinds.extend(kinds.iter().copied());
        Ok(slot.kinds.iter().copied().collect())
    }

    /// The highest job number (`job-N`) among the kept events, so that job
    /// ids are not reused after a restart.
    pub(crate) fn highest_job(&self) -> u64 {
        let records = self.inner.state().log.after(0, &[EventKind::Dispatcher]);
        records
            .iter()
            .filter_map(|record| {
                let event: serde_json::Value = serde_json::from_str(&record.text).ok()?;
                event["args"]["process_id"]
                    .as_str()?
                    .strip_prefix("job-")?
                    .parse()
                    .ok()
            })
            .max()
            .unwrap_or(0)
    }

    /// The kept `dispatcher` events after `since` whose job finished, as
    /// their `args` with the event's `seq` added.
    pub(crate) fn finished_jobs(&self, since: u64) -> Vec<serde_json::Value> {
        let records = self
            .inner
            .state()
            .log
            .after(since, &[EventKind::Dispatcher]);
        records
            .into_iter()
            .filter_map(|record| {
                let mut event: serde_json::Value = serde_json::from_str(&record.text).ok()?;
                let mut args = event.get_mut("args")?.take();
                if args.get("state")? != "finished" {
                    return None;
                }
                args.as_object_mut()?
                    .insert("seq".into(), record.seq.into());
                Some(args)
            })
            .collect()
    }

    /// Adds event types; returns what the connection now receives.
    pub(crate) fn subscribe(&self, subscriber: &Subscriber, kinds: &[EventKind]) -> Vec<EventKind> {
        self.update(subscriber, |set| set.extend(kinds.iter().copied()))
    }

    /// Removes event types; returns what the connection now receives.
    pub(crate) fn unsubscribe(
        &self,
        subscriber: &Subscriber,
        kinds: &[EventKind],
    ) -> Vec<EventKind> {
        self.update(subscriber, |set| {
            for kind in kinds {
                set.remove(kind);
            }
        })
    }

    fn update(
        &self,
        subscriber: &Subscriber,
        change: impl FnOnce(&mut BTreeSet<EventKind>),
    ) -> Vec<EventKind> {
        let mut state = self.inner.state();
        match state.slots.get_mut(&subscriber.id) {
            Some(slot) => {
                change(&mut slot.kinds);
                slot.kinds.iter().copied().collect()
            }
            None => Vec::new(),
        }
    }

    /// Sends an event to every subscriber of `kind`, and keeps it for
    /// resuming subscribers. A subscriber whose queue is full is removed and
    /// told to disconnect.
    pub fn publish<A: serde::Serialize>(&self, kind: EventKind, event: &EventMessage<A>) {
        let mut state = self.inner.state();
        let State { slots, log } = &mut *state;
        let record = log.append(kind, |seq| numbered(event, seq));
        self.deliver(slots, kind, (Some(record.seq), record.text));
    }

    /// Sends a live event (a job's progress) to every subscriber of `kind`:
    /// it gets the next `seq` but is not kept, so it is never replayed.
    pub(crate) fn publish_live<A: serde::Serialize>(
        &self,
        kind: EventKind,
        event: &EventMessage<A>,
    ) {
        let mut state = self.inner.state();
        let State { slots, log } = &mut *state;
        let seq = log.take_live(kind);
        self.deliver(slots, kind, (Some(seq), numbered(event, seq).into()));
    }

    fn deliver(&self, slots: &mut HashMap<u64, Slot>, kind: EventKind, delivery: Delivery) {
        slots.retain(|id, slot| {
            if !slot.kinds.contains(&kind) {
                return true;
            }
            match slot.queue.try_send(delivery.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(
                        subscriber = id,
                        "event subscriber too slow; disconnecting it"
                    );
                    slot.too_slow.cancel();
                    self.inner.dropped.fetch_add(1, Ordering::Relaxed);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    /// The seq of the last event (0 before the first), kept or live, and the subscribers
    /// dropped as too slow, for metrics.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let last = self.inner.state().log.next_seq().saturating_sub(1);
        (last, self.inner.dropped.load(Ordering::Relaxed))
    }

    /// How many connections are registered (for tests and metrics).
    pub fn subscriber_count(&self) -> usize {
        self.inner.state().slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u64) -> EventMessage<u64> {
        EventMessage::new("dispatcher", n)
    }

    #[tokio::test]
    async fn a_full_queue_disconnects_only_that_subscriber() {
        let hub = EventHub::default();
        let (slow, slow_inbox) = hub.register(2);
        let (steady, mut steady_inbox) = hub.register(2);
        let (idle, idle_inbox) = hub.register(2);
        hub.subscribe(&slow, &[EventKind::Dispatcher]);
        hub.subscribe(&steady, &[EventKind::Dispatcher]);
        for n in 0..5 {
            hub.publish(EventKind::Dispatcher, &event(n));
            let (_, received) = steady_inbox.events.recv().await.expect("steady receives");
            assert!(received.contains(&format!("\"args\":{n}")), "{received}");
        }
        assert!(
            slow_inbox.too_slow.is_cancelled(),
            "the slow subscriber is told to go"
        );
        assert!(!steady_inbox.too_slow.is_cancelled());
        assert!(
            !idle_inbox.too_slow.is_cancelled(),
            "not subscribed, never full"
        );
        // The slow one got the events that fitted, in order, and nothing after.
        let mut slow_events = slow_inbox.events;
        assert!(slow_events.recv().await.unwrap().1.contains("\"args\":0"));
        assert!(slow_events.recv().await.unwrap().1.contains("\"args\":1"));
        assert!(slow_events.recv().await.is_none(), "removed from the hub");
        drop((slow, idle));
        assert_eq!(hub.subscriber_count(), 1);
    }

    #[test]
    fn subscriptions_are_reported_sorted_and_unsubscribe_removes() {
        let hub = EventHub::default();
        let (subscriber, _inbox) = hub.register(1);
        assert_eq!(
            hub.subscribe(&subscriber, &[EventKind::Dispatcher, EventKind::Dispatcher]),
            vec![EventKind::Dispatcher]
        );
        assert_eq!(
            hub.unsubscribe(&subscriber, &[EventKind::Dispatcher]),
            vec![]
        );
    }
}
