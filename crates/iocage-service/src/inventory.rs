//! The jails the service knows of, so that naming a jail costs no iocage run
//! (issue 19).
//!
//! On a real host every `iocage list` is a process start that takes seconds,
//! and resolving a name twice per change (before and after its lock) with a
//! listing each time cost more than the change itself. The inventory is the
//! last listing, kept with the time it started:
//!
//! - it is filled by the listing of a resolution that found it stale (all
//!   jails and templates; a `listjails` lists only the jails, one `iocage
//!   list`, and leaves it alone), and concurrent refreshes share one;
//! - every change the service makes updates it at once (a created or cloned
//!   jail is added, a destroyed one removed, a clean or a pool change empties
//!   it), so the service's own changes are always seen;
//! - changes made behind the service's back (iocage run by hand) are trusted
//!   to be absent only within the freshness window (`ttl`): after it, the
//!   next resolution lists again;
//! - a name it does not know is looked up in a new listing before anyone is
//!   told 404.
//!
//! Only identities come from it (UUID, tag, template or not): what a jail's
//! state or properties are is always asked of iocage.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::backend::{Backend, BackendResult};
use crate::model::{JailInfo, JailState};

/// How fresh a listing must be for a resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Within the freshness window.
    Window,
    /// Started at or after this instant: a name was not found, and is looked
    /// up once more (in a listing that started after the first lookup)
    /// before a 404.
    Since(Instant),
}

#[derive(Debug)]
pub(crate) struct Inventory {
    ttl: Duration,
    state: Mutex<State>,
    /// Held while listing, so that concurrent refreshes share one listing.
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    listing: Option<Listing>,
    /// Counts the updates made by changes, so that a listing that ran while
    /// one was made (and may or may not show it) is not kept as fresh.
    updates: u64,
}

#[derive(Debug, Clone)]
struct Listing {
    jails: Arc<Vec<JailInfo>>,
    /// When the listing started: nothing older than this is in it.
    started: Instant,
}

impl Inventory {
    /// An empty inventory whose listings are trusted for `ttl` (zero: every
    /// resolution lists, as without one; concurrent ones still share).
    pub(crate) fn new(ttl: Duration) -> Inventory {
        Inventory {
            ttl,
            state: Mutex::new(State::default()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("inventory")
    }

    fn fresh(&self, freshness: Freshness) -> Option<Arc<Vec<JailInfo>>> {
        let state = self.lock();
        let listing = state.listing.as_ref()?;
        let fresh = match freshness {
            Freshness::Window => listing.started.elapsed() < self.ttl,
            Freshness::Since(asked) => listing.started >= asked,
        };
        fresh.then(|| listing.jails.clone())
    }

    /// Every jail and template, from the inventory when it is fresh enough,
    /// else from a listing (shared with concurrent callers).
    pub(crate) async fn jails(
        &self,
        backend: &dyn Backend,
        freshness: Freshness,
    ) -> BackendResult<Arc<Vec<JailInfo>>> {
        if let Some(jails) = self.fresh(freshness) {
            return Ok(jails);
        }
        let _refresh = self.refresh.lock().await;
        // Someone may have listed while this caller waited for its turn.
        if let Some(jails) = self.fresh(freshness) {
            return Ok(jails);
        }
        let (started, updates) = (Instant::now(), self.updates());
        let jails = Arc::new(backend.list_jails().await?);
        self.listed(jails.clone(), started, updates);
        Ok(jails)
    }

    /// Keeps a listing that started at `started`, when the change counter
    /// read `updates`, unless a change was noted since (then it may lack that
    /// change, and the next resolution lists again).
    fn listed(&self, jails: Arc<Vec<JailInfo>>, started: Instant, updates: u64) {
        let mut state = self.lock();
        if state.updates != updates {
            state.listing = None;
            return;
        }
        let newer = state
            .listing
            .as_ref()
            .is_some_and(|listing| listing.started > started);
        if !newer {
            state.listing = Some(Listing { jails, started });
        }
    }

    /// The change counter, to pass to [`Inventory::listed`] for a listing
    /// about to start.
    fn updates(&self) -> u64 {
        self.lock().updates
    }

    /// Applies a change the service made to the kept listing.
    fn update(&self, change: impl FnOnce(&mut Vec<JailInfo>)) {
        let mut state = self.lock();
        state.updates += 1;
        if let Some(listing) = &mut state.listing {
            change(Arc::make_mut(&mut listing.jails));
        }
    }

    /// A jail the service created or cloned.
    pub(crate) fn added(&self, uuid: &str, tag: &str, origin: Option<&str>) {
        let jail = JailInfo {
            uuid: uuid.to_owned(),
            tag: tag.to_owned(),
            jid: None,
            boot: false,
            state: JailState::Down,
            jail_type: String::new(),
            ip4: None,
            release: String::new(),
            template: false,
            origin: origin.map(str::to_owned),
        };
        self.update(|jails| {
            jails.retain(|known| known.uuid != jail.uuid);
            jails.push(jail);
        });
    }

    /// A jail the service destroyed.
    pub(crate) fn removed(&self, uuid: &str) {
        self.update(|jails| jails.retain(|jail| jail.uuid != uuid));
    }

    /// A change whose effect on the jails is not known in detail (a clean, a
    /// pool change, a failed change): the next resolution lists again.
    pub(crate) fn forget(&self) {
        let mut state = self.lock();
        state.updates += 1;
        state.listing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimBackend;

    async fn make(backend: &SimBackend, tag: &str) -> String {
        let props = [
            ("tag".to_owned(), tag.to_owned()),
            ("release".to_owned(), "10.2-RELEASE".to_owned()),
        ];
        backend.create(&props, false).await.unwrap().uuid
    }

    fn tags(jails: &[JailInfo]) -> Vec<&str> {
        let mut tags: Vec<&str> = jails.iter().map(|jail| jail.tag.as_str()).collect();
        tags.sort_unstable();
        tags
    }

    #[tokio::test]
    async fn a_fresh_listing_is_reused_and_a_new_one_is_asked_for_when_needed() {
        let backend = SimBackend::in_memory();
        let inventory = Inventory::new(Duration::from_secs(60));
        make(&backend, "one").await;
        let first = inventory.jails(&backend, Freshness::Window).await.unwrap();
        assert_eq!(tags(&first), ["one"]);
        // Made behind the inventory's back: not seen within the window...
        make(&backend, "two").await;
        let again = inventory.jails(&backend, Freshness::Window).await.unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "no new listing within the window"
        );
        // ...but in a listing asked for after it was made.
        let asked = Instant::now();
        let fresh = inventory
            .jails(&backend, Freshness::Since(asked))
            .await
            .unwrap();
        assert_eq!(tags(&fresh), ["one", "two"]);
        // Changes noted by the service are applied to the kept listing.
        inventory.added("uuid-three", "three", None);
        inventory.removed(&fresh.iter().find(|jail| jail.tag == "one").unwrap().uuid);
        let noted = inventory.jails(&backend, Freshness::Window).await.unwrap();
        assert_eq!(tags(&noted), ["three", "two"]);
        // After a change it cannot follow, the next resolution lists again.
        inventory.forget();
        let listed = inventory.jails(&backend, Freshness::Window).await.unwrap();
        assert_eq!(tags(&listed), ["one", "two"]);
    }

    #[tokio::test]
    async fn a_listing_that_overlapped_a_noted_change_is_not_kept() {
        let backend = SimBackend::in_memory();
        let inventory = Inventory::new(Duration::from_secs(60));
        make(&backend, "one").await;
        let (started, updates) = (Instant::now(), inventory.updates());
        let listing = Arc::new(backend.list_jails().await.unwrap());
        // The service notes a change while that listing ran.
        inventory.added("uuid-two", "two", None);
        inventory.listed(listing, started, updates);
        assert!(inventory.fresh(Freshness::Window).is_none());
        // One that did not overlap is kept.
        let (started, updates) = (Instant::now(), inventory.updates());
        let listing = Arc::new(backend.list_jails().await.unwrap());
        inventory.listed(listing, started, updates);
        assert_eq!(tags(&inventory.fresh(Freshness::Window).unwrap()), ["one"]);
    }

    #[tokio::test]
    async fn with_no_window_every_resolution_lists() {
        let backend = SimBackend::in_memory();
        let inventory = Inventory::new(Duration::ZERO);
        let first = inventory.jails(&backend, Freshness::Window).await.unwrap();
        make(&backend, "one").await;
        let second = inventory.jails(&backend, Freshness::Window).await.unwrap();
        assert!(first.is_empty());
        assert_eq!(tags(&second), ["one"]);
    }
}
