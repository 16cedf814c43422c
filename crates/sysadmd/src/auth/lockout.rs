//! Limits on password guessing: bounded, thread-safe tables of failure counts
//! (per address, IPv6 per /64, and per user name), the addresses each user
//! logged in from, and a server-wide budget of password checks per second.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The failures of one address.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
    /// While blocked: when the next guarded attempt may start (user names only).
    next_attempt: Option<Instant>,
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

/// Failure counts per key: a network ([`network`]) or a user name's hash.
#[derive(Debug)]
pub(crate) struct Lockout<K = IpAddr> {
    max_failures: u32,
    window: Duration,
    block: Duration,
    capacity: usize,
    table: Mutex<HashMap<K, Failures>>,
}

/// The key failures of `peer` count under: an IPv4 address itself, an IPv6
/// address its /64 (one site's share; rotating within it changes nothing).
pub(crate) fn network(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

impl<K: Hash + Eq + Clone> Lockout<K> {
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
    pub(crate) fn blocked_for(&self, peer: &K) -> Option<Duration> {
        let until = self.lock().get(peer)?.blocked_until?;
        until
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    }

    /// Counts a failure of `peer`. Returns the block's duration when this
    /// failure started one.
    pub(crate) fn record_failure(&self, peer: &K) -> Option<Duration> {
        if self.max_failures == 0 {
            return None;
        }
        let now = Instant::now();
        let mut table = self.lock();
        if table.len() >= self.capacity && !table.contains_key(peer) {
            self.make_room(&mut table, now);
        }
        let entry = table.entry(peer.clone()).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: None,
            next_attempt: None,
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
                next_attempt: None,
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
    pub(crate) fn reset(&self, peer: &K) {
        let now = Instant::now();
        let mut table = self.lock();
        // A success never lifts a block in force.
        if table
            .get(peer)
            .is_some_and(|entry| entry.blocked_until.is_none_or(|until| until <= now))
        {
            table.remove(peer);
        }
    }

    /// The failures counted for `key` in the current window.
    pub(crate) fn failures(&self, key: &K) -> u32 {
        let now = Instant::now();
        self.lock()
            .get(key)
            .filter(|entry| !entry.is_stale(now, self.window))
            .map_or(0, |entry| entry.count)
    }

    /// For a key whose block is a guard rather than a refusal (a user name):
    /// `Ok` when `key` is not blocked, or when it is and no guarded attempt
    /// started within the last `interval`; else how long until one may.
    pub(crate) fn take_guarded_attempt(&self, key: &K, interval: Duration) -> Result<(), Duration> {
        let now = Instant::now();
        let mut table = self.lock();
        let Some(entry) = table.get_mut(key) else {
            return Ok(());
        };
        if entry.blocked_until.is_none_or(|until| until <= now) {
            return Ok(());
        }
        match entry.next_attempt {
            Some(next) if next > now => Err(next - now),
            _ => {
                entry.next_attempt = Some(now + interval);
                Ok(())
            }
        }
    }

    /// Lifts the blocks of `keys` and forgets their failures (`sysadmd
    /// unblock`); `None` lifts every block. Returns how many were lifted.
    pub(crate) fn lift(&self, keys: Option<&[K]>) -> usize {
        let now = Instant::now();
        let mut table = self.lock();
        let blocked = |entry: &Failures| entry.blocked_until.is_some_and(|until| until > now);
        match keys {
            None => {
                let lifted = table.values().filter(|entry| blocked(entry)).count();
                table.clear();
                lifted
            }
            Some(keys) => keys
                .iter()
                .filter_map(|key| table.remove(key))
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
    fn make_room(&self, table: &mut HashMap<K, Failures>, now: Instant) {
        table.retain(|_, entry| !entry.is_stale(now, self.window));
        if table.len() < self.capacity {
            return;
        }
        let mut order: Vec<(bool, Instant, K)> = table
            .iter()
            .map(|(peer, entry)| (entry.blocked_until.is_some(), entry.last, peer.clone()))
            .collect();
        let evict = (self.capacity / 10).max(1).min(order.len());
        order.select_nth_unstable_by(evict - 1, |a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (_, _, peer) in &order[..evict] {
            table.remove(peer);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Failures>> {
        // A panic elsewhere cannot leave the counts inconsistent: keep using them.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The networks each user logged in from successfully, remembered for a
/// while: a login from one of them skips the guard of a user under attack and
/// the server-wide budget, so the owner is never locked out by strangers.
#[derive(Debug)]
pub(crate) struct KnownNetworks {
    lifetime: Duration,
    capacity: usize,
    table: Mutex<HashMap<(String, IpAddr), Instant>>,
}

impl KnownNetworks {
    pub(crate) fn new(lifetime: Duration, capacity: usize) -> Self {
        KnownNetworks {
            lifetime,
            capacity: capacity.max(1),
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `user` logged in from `network` within the lifetime.
    pub(crate) fn contains(&self, user: &str, network: IpAddr) -> bool {
        let table = lock(&self.table);
        table
            .get(&(user.to_owned(), network))
            .is_some_and(|when| when.elapsed() < self.lifetime)
    }

    /// Remembers a successful login; the oldest tenth goes when full.
    pub(crate) fn remember(&self, user: &str, network: IpAddr) {
        let now = Instant::now();
        let mut table = lock(&self.table);
        if table.len() >= self.capacity && !table.contains_key(&(user.to_owned(), network)) {
            table.retain(|_, when| now.duration_since(*when) < self.lifetime);
            if table.len() >= self.capacity {
                let mut order: Vec<(Instant, (String, IpAddr))> = table
                    .iter()
                    .map(|(key, when)| (*when, key.clone()))
                    .collect();
                let evict = (self.capacity / 10).max(1).min(order.len());
                order.select_nth_unstable_by(evict - 1, |a, b| a.0.cmp(&b.0));
                for (_, key) in &order[..evict] {
                    table.remove(key);
                }
            }
        }
        table.insert((user.to_owned(), network), now);
    }
}

/// A server-wide budget of password checks: `rate` a second, up to `rate`
/// at once (a token bucket). A check beyond it is refused, not queued.
#[derive(Debug)]
pub(crate) struct Budget {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl Budget {
    /// `rate` checks a second; 0 means no limit.
    pub(crate) fn new(rate: u32) -> Self {
        Budget {
            rate: f64::from(rate),
            state: Mutex::new((f64::from(rate), Instant::now())),
        }
    }

    /// Takes one check, or says how long until one is available.
    pub(crate) fn take(&self) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut state = lock(&self.state);
        let (tokens, last) = *state;
        let tokens = (tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.rate);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            Ok(())
        } else {
            *state = (tokens, now);
            Err(Duration::from_secs_f64((1.0 - tokens) / self.rate))
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section leaves its data consistent: keep using it after a panic elsewhere.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_per_64_and_ipv4_per_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network(a), network(b));
        assert_eq!(network(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(network(a), network(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(network(v4), v4);
        assert_eq!(network("::ffff:192.0.2.7".parse().unwrap()), v4);
    }

    #[test]
    fn a_guarded_key_allows_one_attempt_per_interval() {
        let lockout: Lockout<String> =
            Lockout::new(2, Duration::from_secs(60), Duration::from_secs(60), 10);
        let user = "admin".to_owned();
        let interval = Duration::from_secs(3600);
        assert!(lockout.take_guarded_attempt(&user, interval).is_ok());
        lockout.record_failure(&user);
        assert!(lockout.take_guarded_attempt(&user, interval).is_ok());
        assert!(lockout.record_failure(&user).is_some(), "the guard starts");
        assert!(lockout.take_guarded_attempt(&user, interval).is_ok());
        let wait = lockout.take_guarded_attempt(&user, interval).unwrap_err();
        assert!(wait > Duration::from_secs(3000), "{wait:?}");
    }

    #[test]
    fn the_budget_refuses_past_its_rate() {
        let budget = Budget::new(3);
        for _ in 0..3 {
            assert!(budget.take().is_ok());
        }
        assert!(budget.take().is_err());
        let unlimited = Budget::new(0);
        assert!((0..1000).all(|_| unlimited.take().is_ok()));
    }

    #[test]
    fn known_networks_stay_bounded() {
        let known = KnownNetworks::new(Duration::from_secs(60), 10);
        for n in 0..100u8 {
            known.remember("admin", IpAddr::from([10, 0, 0, n]));
        }
        assert!(lock(&known.table).len() <= 10);
        assert!(known.contains("admin", IpAddr::from([10, 0, 0, 99])));
        assert!(!known.contains("eve", IpAddr::from([10, 0, 0, 99])));
    }
}
