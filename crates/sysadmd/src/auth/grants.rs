//! Session tokens and cached Basic credentials: both are grants stored under
//! the SHA-256 of the secret, never the secret itself, in a table that stays
//! bounded in memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

use super::hash::sha256;

/// How often expired grants are swept out, at most.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// What a secret grants: a user, under the password hash they had when the
/// secret was issued, until a time.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    /// The user.
    pub(crate) user: String,
    /// The user's password hash when the grant was made: a different hash
    /// now means the password changed, and the grant is void.
    pub(crate) password_hash: String,
    /// When the grant ends unless extended.
    pub(crate) expires: Instant,
}

#[derive(Debug)]
struct Entry {
    key: [u8; 32],
    grant: Grant,
}

#[derive(Debug)]
struct Table {
    entries: HashMap<[u8; 32], Entry>,
    swept: Instant,
}

/// Grants by the SHA-256 of their secret.
#[derive(Debug)]
pub(crate) struct Grants {
    capacity: usize,
    table: Mutex<Table>,
}

impl Grants {
    /// An empty table holding at most `capacity` grants.
    pub(crate) fn new(capacity: usize) -> Self {
        Grants {
            capacity: capacity.max(1),
            table: Mutex::new(Table {
                entries: HashMap::new(),
                swept: Instant::now(),
            }),
        }
    }

    /// Stores a grant for `secret`.
    pub(crate) fn insert(&self, secret: &[u8], grant: Grant) {
        let key = sha256(secret);
        let now = Instant::now();
        let mut table = self.lock();
        Self::sweep_if_due(&mut table, now);
        if table.entries.len() >= self.capacity {
            Self::sweep(&mut table, now);
        }
        if table.entries.len() >= self.capacity {
            Self::evict_soonest(&mut table, self.capacity);
        }
        table.entries.insert(key, Entry { key, grant });
    }

    /// The live grant for `secret`. With `extend`, its lifetime starts again
    /// from now. An expired grant is removed.
    pub(crate) fn get(&self, secret: &[u8], extend: Option<Duration>) -> Option<Grant> {
        let key = sha256(secret);
        let now = Instant::now();
        let mut table = self.lock();
        Self::sweep_if_due(&mut table, now);
        let entry = table.entries.get_mut(&key)?;
        // The map found the entry by its key; compare the stored hash in
        // constant time anyway, so the answer never depends on a short-cut
        // comparison of secret-derived bytes.
        if !bool::from(entry.key.ct_eq(&key)) {
            return None;
        }
        if entry.grant.expires <= now {
            table.entries.remove(&key);
            return None;
        }
        if let Some(lifetime) = extend {
            entry.grant.expires = now + lifetime;
        }
        Some(entry.grant.clone())
    }

    /// Forgets the grant for `secret`.
    pub(crate) fn remove(&self, secret: &[u8]) {
        self.lock().entries.remove(&sha256(secret));
    }

    /// Forgets every grant `void` says is void.
    pub(crate) fn remove_where(&self, void: impl Fn(&Grant) -> bool) {
        self.lock().entries.retain(|_, entry| !void(&entry.grant));
    }

    /// How many grants are stored (expired ones included until swept).
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }

    fn sweep_if_due(table: &mut Table, now: Instant) {
        if now.duration_since(table.swept) >= SWEEP_INTERVAL {
            Self::sweep(table, now);
        }
    }

    fn sweep(table: &mut Table, now: Instant) {
        table.entries.retain(|_, entry| entry.grant.expires > now);
        table.swept = now;
    }

    /// The table is full of live grants: drop the tenth closest to expiring.
    fn evict_soonest(table: &mut Table, capacity: usize) {
        let mut order: Vec<(Instant, [u8; 32])> = table
            .entries
            .values()
            .map(|entry| (entry.grant.expires, entry.key))
            .collect();
        let evict = (capacity / 10).max(1).min(order.len());
        order.select_nth_unstable(evict - 1);
        for (_, key) in &order[..evict] {
            table.entries.remove(key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // Grants stay consistent even if a holder panicked: keep using them.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
