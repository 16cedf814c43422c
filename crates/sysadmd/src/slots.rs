//! Connection slots for connections that have not authenticated: a budget of
//! their own, smaller than the connection limit, shared fairly between
//! source networks (an IPv4 address, an IPv6 /64).
//!
//! 1,100 WebSocket upgrades that never logged in once held every one of the
//! 1,024 connection slots, and legitimate requests timed out. Now a connection
//! is unauthenticated until a request on it authenticates (a REST request
//! with good credentials, a WebSocket login). Unauthenticated connections
//! are limited per network and in total, and when the total is reached a
//! newcomer from a network with fewer of them evicts the oldest of the
//! network holding the most: churn from a few networks cannot keep the others
//! out. They also get a shorter deadline to authenticate (see `server.rs`).
//!
//! Every connection is also counted, while it is open, in the
//! `sysadmd_connections{transport, state}` gauge: `rest` until it upgrades
//! to `ws`, `unauthenticated` until a request on it authenticates.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::network;

/// The unauthenticated connections, by network.
#[derive(Debug)]
pub(crate) struct Slots {
    max_total: usize,
    max_per_network: usize,
    inner: Mutex<Inner>,
    gauges: crate::metrics::ConnectionGauges,
    lanes: crate::lanes::Lanes,
}

#[derive(Debug, Default)]
struct Inner {
    total: usize,
    next_id: u64,
    /// Oldest first: (id, cancelled to evict it).
    by_network: HashMap<IpAddr, VecDeque<(u64, CancellationToken)>>,
    /// Networks refused until then, after one of their connections abused
    /// the server before authenticating (a ping flood).
    penalized: HashMap<IpAddr, Instant>,
    /// Networks a connection authenticated from, and when it last did: their
    /// new connections are served on the main lane (see `lanes.rs`).
    trusted: HashMap<IpAddr, Instant>,
}

/// How long a network stays trusted after a connection from it authenticated.
const TRUSTED_FOR: Duration = Duration::from_secs(3600);

/// Networks held in the trusted table at most; past it the longest unseen
/// are forgotten first (a forgotten network's connections start on the low
/// lane again, nothing more).
const MAX_TRUSTED: usize = 4096;

/// Networks held in the penalty table at most; past it the soonest to end
/// are forgotten first.
const MAX_PENALIZED: usize = 4096;

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its network already has its share of unauthenticated connections.
    PerNetwork,
    /// Every unauthenticated slot is taken by networks with no more than its own.
    Full,
    /// Its network flooded the server before authenticating, a short while ago.
    Penalized,
}

impl Slots {
    #[cfg(test)]
    pub(crate) fn new(max_total: usize, max_per_network: usize) -> Arc<Slots> {
        Slots::counted(
            max_total,
            max_per_network,
            crate::metrics::ConnectionGauges::default(),
            crate::lanes::Lanes::current(),
        )
    }

    /// Slots whose connections are counted in `gauges` and whose tasks run
    /// on `lanes`.
    pub(crate) fn counted(
        max_total: usize,
        max_per_network: usize,
        gauges: crate::metrics::ConnectionGauges,
        lanes: crate::lanes::Lanes,
    ) -> Arc<Slots> {
        Arc::new(Slots {
            max_total: max_total.max(1),
            max_per_network: max_per_network.max(1),
            inner: Mutex::new(Inner::default()),
            gauges,
            lanes,
        })
    }

    /// Admits a new connection from `peer` as unauthenticated, evicting the
    /// oldest unauthenticated connection of the busiest network if the
    /// budget is full and that network holds more than `peer`'s.
    pub(crate) fn admit(
        self: &Arc<Self>,
        peer: IpAddr,
        global: OwnedSemaphorePermit,
    ) -> Result<Arc<ConnectionSlot>, Refused> {
        let network = network(peer);
        let mut inner = self.lock();
        if let Some(until) = inner.penalized.get(&network) {
            if *until > Instant::now() {
                return Err(Refused::Penalized);
            }
            inner.penalized.remove(&network);
        }
        let own = inner.by_network.get(&network).map_or(0, VecDeque::len);
        if own >= self.max_per_network {
            return Err(Refused::PerNetwork);
        }
        if inner.total >= self.max_total {
            let busiest = inner
                .by_network
                .iter()
                .max_by_key(|(_, connections)| connections.len())
                .map(|(network, connections)| (*network, connections.len()));
            match busiest {
                Some((victim, count)) if count > own + 1 => {
                    let queue = inner.by_network.get_mut(&victim).expect("present");
                    if let Some((_, evict)) = queue.pop_front() {
                        evict.cancel();
                    }
                    if queue.is_empty() {
                        inner.by_network.remove(&victim);
                    }
                    inner.total -= 1;
                }
                _ => return Err(Refused::Full),
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let evicted = CancellationToken::new();
        inner
            .by_network
            .entry(network)
            .or_default()
            .push_back((id, evicted.clone()));
        inner.total += 1;
        let state = Counted::default();
        self.gauges.add(state.websocket, state.authenticated, 1);
        let trusted = inner
            .trusted
            .get(&network)
            .is_some_and(|since| since.elapsed() < TRUSTED_FOR);
        Ok(Arc::new(ConnectionSlot {
            _global: global,
            slots: Arc::clone(self),
            network,
            trusted,
            id,
            evicted,
            authenticated: CancellationToken::new(),
            counted: Mutex::new(state),
        }))
    }

    /// Refuses new connections from `network` for `duration`.
    fn penalize(&self, network: IpAddr, duration: Duration) {
        let mut inner = self.lock();
        let now = Instant::now();
        if inner.penalized.len() >= MAX_PENALIZED {
            inner.penalized.retain(|_, until| *until > now);
        }
        if inner.penalized.len() >= MAX_PENALIZED {
            let soonest = inner
                .penalized
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(network, _)| *network);
            if let Some(soonest) = soonest {
                inner.penalized.remove(&soonest);
            }
        }
        inner.penalized.insert(network, now + duration);
    }

    /// Notes that a connection from `network` authenticated.
    fn trust(&self, network: IpAddr) {
        let mut inner = self.lock();
        let now = Instant::now();
        if inner.trusted.len() >= MAX_TRUSTED && !inner.trusted.contains_key(&network) {
            inner
                .trusted
                .retain(|_, since| now.duration_since(*since) < TRUSTED_FOR);
            if inner.trusted.len() >= MAX_TRUSTED {
                let oldest = inner
                    .trusted
                    .iter()
                    .min_by_key(|(_, since)| **since)
                    .map(|(network, _)| *network);
                if let Some(oldest) = oldest {
                    inner.trusted.remove(&oldest);
                }
            }
        }
        inner.trusted.insert(network, now);
    }

    /// Unauthenticated connections now.
    #[cfg(test)]
    fn unauthenticated(&self) -> usize {
        self.lock().total
    }

    fn release(&self, network: IpAddr, id: u64) {
        let mut inner = self.lock();
        let Some(queue) = inner.by_network.get_mut(&network) else {
            return;
        };
        let Some(position) = queue.iter().position(|(other, _)| *other == id) else {
            return;
        };
        queue.remove(position);
        if queue.is_empty() {
            inner.by_network.remove(&network);
        }
        inner.total -= 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A connection's place: its slot in the connection limit, and while it has
/// not authenticated, in the unauthenticated budget. Held until the
/// connection (and a WebSocket it upgraded to) ends.
#[derive(Debug)]
pub(crate) struct ConnectionSlot {
    _global: OwnedSemaphorePermit,
    slots: Arc<Slots>,
    network: IpAddr,
    /// Its network authenticated within [`TRUSTED_FOR`] when it was accepted.
    trusted: bool,
    id: u64,
    evicted: CancellationToken,
    authenticated: CancellationToken,
    /// Where the connection is counted in the connections gauge.
    counted: Mutex<Counted>,
}

/// A connection's transport and state, as counted.
#[derive(Debug, Default, Clone, Copy)]
struct Counted {
    websocket: bool,
    authenticated: bool,
}

impl ConnectionSlot {
    /// A request on the connection authenticated: it leaves the
    /// unauthenticated budget for good. True when this moves the
    /// connection's tasks to the main lane (see `lanes.rs`): the caller is
    /// on the low lane until its next wake-up.
    pub(crate) fn authenticated(&self) -> bool {
        let moves = !self.authenticated.is_cancelled() && !self.trusted;
        if !self.authenticated.is_cancelled() {
            self.slots.trust(self.network);
            self.authenticated.cancel();
            self.slots.release(self.network, self.id);
        }
        self.recount(|counted| counted.authenticated = true);
        moves
    }

    /// Spawns a task of this connection on its lane (see `lanes.rs`): the
    /// main lane once it authenticated or when its network was trusted at
    /// accept, else the low lane until it authenticates.
    pub(crate) fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.slots
            .lanes
            .spawn(&self.authenticated, self.trusted, task)
    }

    /// The connection became a WebSocket.
    pub(crate) fn upgraded(&self) {
        self.recount(|counted| counted.websocket = true);
    }

    /// Moves the connection in the gauge from where it was counted.
    fn recount(&self, change: impl FnOnce(&mut Counted)) {
        let mut counted = self
            .counted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let before = *counted;
        change(&mut counted);
        if (before.websocket, before.authenticated) != (counted.websocket, counted.authenticated) {
            let gauges = &self.slots.gauges;
            gauges.add(before.websocket, before.authenticated, -1);
            gauges.add(counted.websocket, counted.authenticated, 1);
        }
    }

    #[cfg(test)]
    fn is_authenticated(&self) -> bool {
        self.authenticated.is_cancelled()
    }

    /// Completes when the connection, still unauthenticated, was evicted to
    /// make room for another network's; never once it authenticated.
    pub(crate) async fn evicted(&self) {
        tokio::select! {
            () = self.evicted.cancelled() => {}
            () = self.authenticated.cancelled() => std::future::pending().await,
        }
    }

    /// This connection flooded the server before authenticating: its network
    /// may open no new connection for `duration` (each would be accepted
    /// and closed at once, before any byte is read).
    pub(crate) fn penalize(&self, duration: Duration) {
        if !self.authenticated.is_cancelled() {
            self.slots.penalize(self.network, duration);
        }
    }

    /// Completes when `limit` passes without the connection authenticating.
    pub(crate) async fn unauthenticated_for(&self, limit: std::time::Duration) {
        if tokio::time::timeout(limit, self.authenticated.cancelled())
            .await
            .is_ok()
        {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if !self.authenticated.is_cancelled() {
            self.slots.release(self.network, self.id);
        }
        let counted = *self
            .counted
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.slots
            .gauges
            .add(counted.websocket, counted.authenticated, -1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    fn permit() -> OwnedSemaphorePermit {
        Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap()
    }

    #[test]
    fn a_network_gets_its_share_and_newcomers_evict_the_busiest() {
        let slots = Slots::new(4, 3);
        let attacker: IpAddr = "192.0.2.1".parse().unwrap();
        let held: Vec<_> = (0..3)
            .map(|_| slots.admit(attacker, permit()).unwrap())
            .collect();
        assert_eq!(
            slots.admit(attacker, permit()).unwrap_err(),
            Refused::PerNetwork
        );
        let one = slots.admit("192.0.2.2".parse().unwrap(), permit()).unwrap();
        assert_eq!(slots.unauthenticated(), 4);
        // Full: a third network evicts the attacker's oldest.
        let two = slots.admit("192.0.2.3".parse().unwrap(), permit()).unwrap();
        assert!(held[0].evicted.is_cancelled());
        assert!(!held[1].evicted.is_cancelled());
        assert_eq!(slots.unauthenticated(), 4);
        drop(held);
        assert_eq!(slots.unauthenticated(), 2);
        // Authenticating leaves the budget; dropping later does not count twice.
        one.authenticated();
        assert!(one.is_authenticated());
        assert_eq!(slots.unauthenticated(), 1);
        drop(one);
        drop(two);
        assert_eq!(slots.unauthenticated(), 0);
    }

    #[test]
    fn a_network_is_trusted_once_a_connection_from_it_authenticated() {
        let slots = Slots::new(10, 10);
        let owner: IpAddr = "2001:db8:1:2::10".parse().unwrap();
        let first = slots.admit(owner, permit()).unwrap();
        assert!(!first.trusted, "nothing authenticated from it yet");
        // A connection that only failed or waited does not make it trusted.
        let second = slots.admit(owner, permit()).unwrap();
        assert!(!second.trusted);
        assert!(first.authenticated(), "its tasks move to the main lane");
        assert!(!first.authenticated(), "they move once");
        // Trust is for connections accepted after it, from the same /64.
        assert!(!second.trusted);
        let same_64 = slots
            .admit("2001:db8:1:2::99".parse().unwrap(), permit())
            .unwrap();
        assert!(same_64.trusted);
        assert!(!same_64.authenticated(), "on the main lane already");
        let other_64 = slots
            .admit("2001:db8:1:3::10".parse().unwrap(), permit())
            .unwrap();
        assert!(!other_64.trusted);
    }

    #[test]
    fn the_trusted_table_is_bounded_and_forgets_the_longest_unseen_first() {
        let slots = Slots::new(10, 10);
        let address = |index: usize| -> IpAddr {
            let index = u32::try_from(index).unwrap();
            std::net::Ipv4Addr::from(0x0a00_0000 + index).into()
        };
        for index in 0..MAX_TRUSTED + 10 {
            slots.trust(network(address(index)));
        }
        let inner = slots.lock();
        assert_eq!(inner.trusted.len(), MAX_TRUSTED);
        assert!(!inner.trusted.contains_key(&address(0)));
        assert!(inner.trusted.contains_key(&address(MAX_TRUSTED + 9)));
    }

    #[test]
    fn equal_shares_are_not_evicted() {
        let slots = Slots::new(2, 2);
        let _a = slots.admit("192.0.2.1".parse().unwrap(), permit()).unwrap();
        let _b = slots.admit("192.0.2.2".parse().unwrap(), permit()).unwrap();
        assert_eq!(
            slots
                .admit("192.0.2.3".parse().unwrap(), permit())
                .unwrap_err(),
            Refused::Full
        );
    }

    #[test]
    fn a_penalized_network_is_refused_until_its_penalty_ends() {
        let slots = Slots::new(10, 10);
        let flooder: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let slot = slots.admit(flooder, permit()).unwrap();
        slot.penalize(Duration::from_millis(200));
        drop(slot);
        assert_eq!(
            slots.admit(flooder, permit()).err(),
            Some(Refused::Penalized)
        );
        assert!(slots.admit(other, permit()).is_ok());
        std::thread::sleep(Duration::from_millis(250));
        assert!(slots.admit(flooder, permit()).is_ok());
        // An authenticated connection is not penalized (no flood before login).
        let slot = slots.admit(other, permit()).unwrap();
        slot.authenticated();
        slot.penalize(Duration::from_secs(60));
        assert!(slots.admit(other, permit()).is_ok());
    }

    #[test]
    fn ipv6_shares_per_64() {
        let slots = Slots::new(10, 2);
        let _a = slots
            .admit("2001:db8::1".parse().unwrap(), permit())
            .unwrap();
        let _b = slots
            .admit("2001:db8::2".parse().unwrap(), permit())
            .unwrap();
        assert_eq!(
            slots
                .admit("2001:db8::ffff:3".parse().unwrap(), permit())
                .unwrap_err(),
            Refused::PerNetwork
        );
        assert!(
            slots
                .admit("2001:db8:0:1::1".parse().unwrap(), permit())
                .is_ok()
        );
    }
}
