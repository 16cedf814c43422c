//! Event fan-out to WebSocket subscribers.
//!
//! Each event is serialized once and offered to every subscriber under one
//! lock, so all subscribers see events in the same order. Each subscriber has
//! a bounded queue: one that falls behind is disconnected (its `too_slow`
//! token fires), never silently skipped, and memory stays bounded.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sysadm_proto::{EventKind, EventMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Delivers events to subscribed connections.
#[derive(Debug, Clone, Default)]
pub struct EventHub {
    inner: Arc<Hub>,
}

#[derive(Debug, Default)]
struct Hub {
    next_id: AtomicU64,
    subscribers: Mutex<HashMap<u64, Slot>>,
}

#[derive(Debug)]
struct Slot {
    kinds: BTreeSet<EventKind>,
    queue: mpsc::Sender<Arc<str>>,
    too_slow: CancellationToken,
}

/// One connection's registration; unregisters itself when dropped.
#[derive(Debug)]
pub(crate) struct Subscriber {
    id: u64,
    hub: Arc<Hub>,
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.hub
            .subscribers
            .lock()
            .expect("subscribers lock")
            .remove(&self.id);
    }
}

/// What a connection reads events from.
#[derive(Debug)]
pub(crate) struct Inbox {
    pub(crate) events: mpsc::Receiver<Arc<str>>,
    /// Fires when the queue overflowed and the connection must be closed.
    pub(crate) too_slow: CancellationToken,
}

impl EventHub {
    /// Registers a connection with a queue of `capacity` events. It receives
    /// nothing until it subscribes.
    pub(crate) fn register(&self, capacity: usize) -> (Subscriber, Inbox) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue, events) = mpsc::channel(capacity.max(1));
        let too_slow = CancellationToken::new();
        self.inner
            .subscribers
            .lock()
            .expect("subscribers lock")
            .insert(
                id,
                Slot {
                    kinds: BTreeSet::new(),
                    queue,
                    too_slow: too_slow.clone(),
                },
            );
        (
            Subscriber {
                id,
                hub: self.inner.clone(),
            },
            Inbox { events, too_slow },
        )
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
        let mut subscribers = self.inner.subscribers.lock().expect("subscribers lock");
        match subscribers.get_mut(&subscriber.id) {
            Some(slot) => {
                change(&mut slot.kinds);
                slot.kinds.iter().copied().collect()
            }
            None => Vec::new(),
        }
    }

    /// Sends an event to every subscriber of `kind`. A subscriber whose queue
    /// is full is removed and told to disconnect.
    pub fn publish<A: serde::Serialize>(&self, kind: EventKind, event: &EventMessage<A>) {
        let text: Arc<str> = match serde_json::to_string(event) {
            Ok(text) => text.into(),
            Err(error) => {
                tracing::error!(%error, "event could not be serialized");
                return;
            }
        };
        let mut subscribers = self.inner.subscribers.lock().expect("subscribers lock");
        subscribers.retain(|id, slot| {
            if !slot.kinds.contains(&kind) {
                return true;
            }
            match slot.queue.try_send(text.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(
                        subscriber = id,
                        "event subscriber too slow; disconnecting it"
                    );
                    slot.too_slow.cancel();
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    /// How many connections are registered (for tests and metrics).
    pub fn subscriber_count(&self) -> usize {
        self.inner
            .subscribers
            .lock()
            .expect("subscribers lock")
            .len()
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
            let received = steady_inbox.events.recv().await.expect("steady receives");
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
        assert!(slow_events.recv().await.unwrap().contains("\"args\":0"));
        assert!(slow_events.recv().await.unwrap().contains("\"args\":1"));
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
