//! Lockout of addresses that keep failing: a bounded, thread-safe table of
//! failure counts per exact address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The failures of one address.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

impl Failures {
    /// Whether the entry no longer matters: no block in force and the last
    /// failure too old to count towards one.
    fn is_stale(&self, now: Instant, window: Duration) -> bool {
        match self.blocked_until {
            Some(until) => until <= now,
            None => now.duration_since(self.last) > window,
        }
    }
}

/// Failure counts per address.
#[derive(Debug)]
pub(crate) struct Lockout {
    max_failures: u32,
    window: Duration,
    block: Duration,
    capacity: usize,
    table: Mutex<HashMap<IpAddr, Failures>>,
}

impl Lockout {
    /// `max_failures` failures, each within `window` of the previous, block an
    /// address for `block`; 0 failures disables blocking. At most `capacity`
    /// addresses are remembered.
    pub(crate) fn new(
        max_failures: u32,
        window: Duration,
        block: Duration,
        capacity: usize,
    ) -> Self {
        Lockout {
            max_failures,
            window,
            block,
            capacity: capacity.max(1),
            table: Mutex::new(HashMap::new()),
        }
    }

    /// How long `peer` stays blocked, `None` if it is not blocked.
    pub(crate) fn blocked_for(&self, peer: IpAddr) -> Option<Duration> {
        let until = self.lock().get(&peer)?.blocked_until?;
        until
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    }

    /// Counts a failure of `peer`. Returns the block's duration when this
    /// failure started one.
    pub(crate) fn record_failure(&self, peer: IpAddr) -> Option<Duration> {
        if self.max_failures == 0 {
            return None;
        }
        let now = Instant::now();
        let mut table = self.lock();
        if table.len() >= self.capacity && !table.contains_key(&peer) {
            self.make_room(&mut table, now);
        }
        let entry = table.entry(peer).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: None,
        });
        if entry.blocked_until.is_some_and(|until| until > now) {
            // Already blocked (a request that passed the check just before the
            // block began): the block is not extended.
            return None;
        }
        if entry.is_stale(now, self.window) {
            *entry = Failures {
                count: 0,
                last: now,
                blocked_until: None,
            };
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        if entry.count >= self.max_failures {
            entry.blocked_until = Some(now + self.block);
            return Some(self.block);
        }
        None
    }

    /// Forgets the failures of `peer` (after a success).
    pub(crate) fn reset(&self, peer: IpAddr) {
        let now = Instant::now();
        let mut table = self.lock();
        // A success never lifts a block in force.
        if table
            .get(&peer)
            .is_some_and(|entry| entry.blocked_until.is_none_or(|until| until <= now))
        {
            table.remove(&peer);
        }
    }

    /// Lifts the blocks of `peers` and forgets their failures (`sysadmd
    /// unblock`); `None` lifts every block. Returns how many were lifted.
    pub(crate) fn lift(&self, peers: Option<&[IpAddr]>) -> usize {
        let now = Instant::now();
        let mut table = self.lock();
        let blocked = |entry: &Failures| entry.blocked_until.is_some_and(|until| until > now);
        match peers {
            None => {
                let lifted = table.values().filter(|entry| blocked(entry)).count();
                table.clear();
                lifted
            }
            Some(peers) => peers
                .iter()
                .filter_map(|peer| table.remove(peer))
                .filter(blocked)
                .count(),
        }
    }

    /// How many addresses are remembered.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Drops stale entries; if the table is still full, drops the oldest
    /// tenth, unblocked addresses first (so a flood of new addresses cannot
    /// lift a block). Dropping a batch keeps the cost per insert low.
    fn make_room(&self, table: &mut HashMap<IpAddr, Failures>, now: Instant) {
        table.retain(|_, entry| !entry.is_stale(now, self.window));
        if table.len() < self.capacity {
            return;
        }
        let mut order: Vec<(bool, Instant, IpAddr)> = table
            .iter()
            .map(|(peer, entry)| (entry.blocked_until.is_some(), entry.last, *peer))
            .collect();
        let evict = (self.capacity / 10).max(1).min(order.len());
        order.select_nth_unstable(evict - 1);
        for (_, _, peer) in &order[..evict] {
            table.remove(peer);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        // A panic elsewhere cannot leave the counts inconsistent: keep using them.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
