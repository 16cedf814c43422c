//! The jails the service knows of, so that naming a jail costs no iocage run
//! (issue 19).
//!
//! On a real host every `iocage list` is a process start that takes seconds,
//! and resolving a name twice per change (before and after its lock) with a
//! listing each time cost more than the change itself. The inventory is the
//! last listing of each part of the host, the jails (`iocage list`) and the
//! templates (`iocage list -t`), each kept with the time it started:
//!
//! - a part is filled by the listing of a resolution that found it stale, and
//!   concurrent refreshes of one part share one listing; a `listjails` (one
//!   `iocage list`) fills the jails part too, so a client that lists and then
//!   acts on a jail pays no listing for the action;
//! - a name that is a jail's tag (and does not read as a UUID) is settled by
//!   the jails part alone; anything else (a UUID, a prefix, a template, a
//!   name not found) needs both parts;
//! - every change the service makes updates it at once (a created or cloned
//!   jail is added, a destroyed one removed, a clean or a pool change empties
//!   it), so the service's own changes are always seen;
//! - changes made behind the service's back (iocage run by hand) are trusted
//!   to be absent only within the freshness window (`ttl`): after it, the
//!   next resolution lists again. The service's own changes do not renew the
//!   window: they say nothing of what others did;
//! - a name it does not know is looked up in a new listing before anyone is
//!   told 404.
//!
//! Identities come from it (UUID, tag, template or not). A jail's state is
//! taken from it for one decision only, whether a jail may be destroyed, and
//! only from a listing that started after the request arrived while no change
//! of state by the service ran (see [`Inventory::state_is_current`]); every
//! other state and every property is asked of iocage.

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

/// A part of the host, listed by one iocage run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The jails that are not templates (`iocage list`).
    Jails,
    /// The templates (`iocage list -t`).
    Templates,
}

impl Part {
    fn index(self) -> usize {
        match self {
            Part::Jails => 0,
            Part::Templates => 1,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Inventory {
    ttl: Duration,
    state: Mutex<State>,
    /// Held while listing a part, so that concurrent refreshes share one
    /// listing.
    refresh: [tokio::sync::Mutex<()>; 2],
}

#[derive(Debug, Default)]
struct State {
    parts: [Option<Listing>; 2],
    /// Counts the updates made by changes, so that a listing that ran while
    /// one was made (and may or may not show it) is not kept as fresh.
    updates: u64,
    /// Counts the beginnings and ends of the service's changes of a jail's
    /// state (start, stop, exec), and how many run now.
    state_changes: u64,
    state_busy: u32,
}

/// One part as listed, with what is needed to judge it.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    /// The jails of the part.
    pub(crate) jails: Arc<Vec<JailInfo>>,
    /// Which part.
    pub(crate) part: Part,
    /// When the listing started: nothing older than this is in it.
    started: Instant,
    /// [`State::state_changes`] when it started, if no change of state by
    /// the service was running then.
    state_changes: Option<u64>,
}

/// What a listing must note when it starts, to be judged when it ends.
#[derive(Debug, Clone, Copy)]
struct Start {
    at: Instant,
    updates: u64,
    state_changes: Option<u64>,
}

/// Held while the service changes a jail's state; see
/// [`Inventory::changing_state`].
pub(crate) struct ChangingState<'a>(&'a Inventory);

impl Drop for ChangingState<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.state_busy -= 1;
        state.state_changes += 1;
    }
}

impl Inventory {
    /// An empty inventory whose listings are trusted for `ttl` (zero: every
    /// resolution lists, as without one; concurrent ones still share).
    pub(crate) fn new(ttl: Duration) -> Inventory {
        Inventory {
            ttl,
            state: Mutex::new(State::default()),
            refresh: [tokio::sync::Mutex::new(()), tokio::sync::Mutex::new(())],
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("inventory")
    }

    fn fresh(&self, part: Part, freshness: Freshness) -> Option<Listing> {
        let state = self.lock();
        let listing = state.parts[part.index()].as_ref()?;
        let fresh = match freshness {
            Freshness::Window => listing.started.elapsed() < self.ttl,
            Freshness::Since(asked) => listing.started >= asked,
        };
        fresh.then(|| listing.clone())
    }

    /// One part, from the inventory when it is fresh enough, else from a
    /// listing (shared with concurrent callers).
    pub(crate) async fn part(
        &self,
        backend: &dyn Backend,
        part: Part,
        freshness: Freshness,
    ) -> BackendResult<Listing> {
        if let Some(listing) = self.fresh(part, freshness) {
            return Ok(listing);
        }
        let _refresh = self.refresh[part.index()].lock().await;
        // Someone may have listed while this caller waited for its turn.
        if let Some(listing) = self.fresh(part, freshness) {
            return Ok(listing);
        }
        let start = self.start();
        let jails = match part {
            Part::Jails => backend.list_non_templates_shared().await?,
            Part::Templates => Arc::new(backend.list_templates().await?),
        };
        Ok(self.listed(part, jails, start))
    }

    /// Both parts, the jails first; the stale ones are listed at once.
    pub(crate) async fn all(
        &self,
        backend: &dyn Backend,
        freshness: Freshness,
    ) -> BackendResult<[Listing; 2]> {
        let (jails, templates) = tokio::try_join!(
            self.part(backend, Part::Jails, freshness),
            self.part(backend, Part::Templates, freshness)
        )?;
        Ok([jails, templates])
    }

    /// The jails part, listed now whatever the inventory holds (a read of
    /// the jails, `listjails`), and kept for resolutions.
    pub(crate) async fn list_jails(&self, backend: &dyn Backend) -> BackendResult<Listing> {
        let start = self.start();
        let jails = backend.list_non_templates_shared().await?;
        Ok(self.listed(Part::Jails, jails, start))
    }

    fn start(&self) -> Start {
        let state = self.lock();
        Start {
            at: Instant::now(),
            updates: state.updates,
            state_changes: (state.state_busy == 0).then_some(state.state_changes),
        }
    }

    /// Keeps a part's listing that began with `start`, unless a change was
    /// noted since (then it may lack that change, and the next resolution
    /// lists again) or a newer listing is kept already.
    fn listed(&self, part: Part, jails: Arc<Vec<JailInfo>>, start: Start) -> Listing {
        let listing = Listing {
            jails,
            part,
            started: start.at,
            state_changes: start.state_changes,
        };
        let mut state = self.lock();
        let changed = state.updates != start.updates;
        let kept = &mut state.parts[part.index()];
        if changed {
            *kept = None;
        } else if kept.as_ref().is_none_or(|kept| kept.started <= start.at) {
            *kept = Some(listing.clone());
        }
        listing
    }

    /// Whether the states in `listing` are as good as asking iocage now: it
    /// started at or after `since` (when the request arrived), while no
    /// change of state by the service ran, and none ran since. What iocage
    /// run by hand changed meanwhile is as unknown as it would be after a
    /// `get state`.
    pub(crate) fn state_is_current(&self, listing: &Listing, since: Instant) -> bool {
        listing.started >= since && listing.state_changes == Some(self.lock().state_changes)
    }

    /// Marks a change of a jail's state by the service (start, stop, exec)
    /// until the guard is dropped.
    pub(crate) fn changing_state(&self) -> ChangingState<'_> {
        let mut state = self.lock();
        state.state_busy += 1;
        state.state_changes += 1;
        ChangingState(self)
    }

    /// Applies a change the service made to the kept listings.
    fn update(&self, change: impl Fn(Part, &mut Vec<JailInfo>)) {
        let mut state = self.lock();
        state.updates += 1;
        for part in [Part::Jails, Part::Templates] {
            if let Some(listing) = &mut state.parts[part.index()] {
                change(part, Arc::make_mut(&mut listing.jails));
            }
        }
    }

    /// A jail the service created or cloned (`template`: made a template).
    pub(crate) fn added(&self, uuid: &str, tag: &str, origin: Option<&str>, template: bool) {
        let jail = JailInfo {
            uuid: uuid.to_owned(),
            tag: tag.to_owned(),
            jid: None,
            boot: false,
            state: JailState::Down,
            jail_type: String::new(),
            ip4: None,
            release: String::new(),
            template,
            origin: origin.map(str::to_owned),
        };
        let home = if template {
            Part::Templates
        } else {
            Part::Jails
        };
        self.update(|part, jails| {
            jails.retain(|known| known.uuid != jail.uuid);
            if part == home {
                jails.push(jail.clone());
            }
        });
    }

    /// A jail the service destroyed.
    pub(crate) fn removed(&self, uuid: &str) {
        self.update(|_, jails| jails.retain(|jail| jail.uuid != uuid));
    }

    /// A change whose effect on the jails is not known in detail (a clean, a
    /// pool change, a failed change): the next resolution lists again.
    pub(crate) fn forget(&self) {
        let mut state = self.lock();
        state.updates += 1;
        state.parts = [None, None];
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

    async fn jails(inventory: &Inventory, backend: &SimBackend, freshness: Freshness) -> Listing {
        inventory
            .part(backend, Part::Jails, freshness)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_fresh_listing_is_reused_and_a_new_one_is_asked_for_when_needed() {
        let backend = SimBackend::in_memory();
        let inventory = Inventory::new(Duration::from_secs(60));
        make(&backend, "one").await;
        let first = jails(&inventory, &backend, Freshness::Window).await;
        assert_eq!(tags(&first.jails), ["one"]);
        // Made behind the inventory's back: not seen within the window...
        make(&backend, "two").await;
        let again = jails(&inventory, &backend, Freshness::Window).await;
        assert!(
            Arc::ptr_eq(&first.jails, &again.jails),
            "no new listing within the window"
        );
        // ...but in a listing asked for after it was made.
        let asked = Instant::now();
        let fresh = jails(&inventory, &backend, Freshness::Since(asked)).await;
        assert_eq!(tags(&fresh.jails), ["one", "two"]);
        // Changes noted by the service are applied to the kept listing, a
        // template to the templates part.
        inventory.added("uuid-three", "three", None, false);
        inventory.added("uuid-four", "four", None, true);
        let one = fresh.jails.iter().find(|jail| jail.tag == "one").unwrap();
        inventory.removed(&one.uuid);
        let noted = jails(&inventory, &backend, Freshness::Window).await;
        assert_eq!(tags(&noted.jails), ["three", "two"]);
        // The templates part was never listed: asking for it lists.
        let [listed, templates] = inventory.all(&backend, Freshness::Window).await.unwrap();
        assert!(Arc::ptr_eq(&listed.jails, &noted.jails));
        assert!(templates.jails.is_empty(), "{:?}", templates.jails);
        // After a change it cannot follow, the next resolution lists again.
        inventory.forget();
        let listed = jails(&inventory, &backend, Freshness::Window).await;
        assert_eq!(tags(&listed.jails), ["one", "two"]);
    }

    #[tokio::test]
    async fn a_listing_that_overlapped_a_noted_change_is_not_kept() {
        let backend = SimBackend::in_memory();
        let inventory = Inventory::new(Duration::from_secs(60));
        make(&backend, "one").await;
        let start = inventory.start();
        let listing = Arc::new(backend.list_non_templates().await.unwrap());
        // The service notes a change while that listing ran.
        inventory.added("uuid-two", "two", None, false);
        inventory.listed(Part::Jails, listing, start);
        assert!(inventory.fresh(Part::Jails, Freshness::Window).is_none());
        // One that did not overlap is kept.
        let start = inventory.start();
        let listing = Arc::new(backend.list_non_templates().await.unwrap());
        inventory.listed(Part::Jails, listing, start);
        let kept = inventory.fresh(Part::Jails, Freshness::Window).unwrap();
        assert_eq!(tags(&kept.jails), ["one"]);
    }

    #[tokio::test]
    async fn states_are_current_only_in_a_listing_after_the_request_with_no_state_change() {
        let backend = SimBackend::in_memory();
        let inventory = Inventory::new(Duration::from_secs(60));
        make(&backend, "one").await;
        let before = jails(&inventory, &backend, Freshness::Window).await;
        let arrived = Instant::now();
        // Listed before the request arrived: not current.
        assert!(!inventory.state_is_current(&before, arrived));
        let after = jails(&inventory, &backend, Freshness::Since(arrived)).await;
        assert!(inventory.state_is_current(&after, arrived));
        // A change of state after it, or running while it listed: not current.
        drop(inventory.changing_state());
        assert!(!inventory.state_is_current(&after, arrived));
        let changing = inventory.changing_state();
        let during = jails(&inventory, &backend, Freshness::Since(Instant::now())).await;
        drop(changing);
        assert!(!inventory.state_is_current(&during, arrived));
        let quiet = jails(&inventory, &backend, Freshness::Since(Instant::now())).await;
        assert!(inventory.state_is_current(&quiet, arrived));
    }

    #[tokio::test]
    async fn with_no_window_every_resolution_lists() {
        let backend = SimBackend::in_memory();
        let inventory = Inventory::new(Duration::ZERO);
        let first = jails(&inventory, &backend, Freshness::Window).await;
        make(&backend, "one").await;
        let second = jails(&inventory, &backend, Freshness::Window).await;
        assert!(first.jails.is_empty());
        assert_eq!(tags(&second.jails), ["one"]);
    }
}
