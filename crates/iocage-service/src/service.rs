//! `IocageService`: a decoded request in, the documented response out.
//!
//! Order of work for every request: validate all arguments (no backend call
//! on bad input), take the locks, resolve the jail name, call the backend,
//! shape the documented response.
//!
//! Locks: clean, activate and deactivate exclude everything else; reads and
//! jail changes run together. A host-wide change first waits for the changes
//! in progress (new changes queue behind it), then takes the reads lock only
//! when no read holds it, trying again every few milliseconds: a host-wide
//! change that waits (for a `startjail` hung in iocage, say) never holds up a
//! read. Changes to one jail (start, stop, cap, exec, clone of it,
//! destroy) also take that jail's lock, keyed by UUID so that a tag and its
//! UUID serialise together; creating or cloning with a tag takes a lock named
//! by that tag. Identical reads in flight share one backend call, if the
//! one in flight started after the last change finished. On a backend
//! without a generation, a read may also be answered from a recent answer
//! read under the same finished changes ([`ServiceOptions::read_ttl`],
//! [`crate::kept`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use serde_json::value::RawValue;
use sysadm_proto::{
    ActivatePoolResult, ActivePool, CloneJailResult, CreateJailResult, CreateSuccess, Created,
    DefaultSettings, DestroyJailResult, DfRow, DfTable, ErrorArgs, ErrorCode, ExecJailResult,
    IocageRequest, IocageResponse, JailSettings, JailSettingsQuery, JailStatus, Plugin, PluginList,
    RecursiveRow, ReleaseList, StatusOutcome, Success, WouldDestroy,
};
use tokio::sync::{OwnedMutexGuard, RwLock, RwLockWriteGuard};

use crate::backend::{Backend, BackendError, BackendResult};
use crate::cache::ReplyCache;
use crate::inventory::{Freshness, Inventory, Listing, Part};
use crate::kept::{KeptReads, Lookup};
use crate::listing;
use crate::messages::{self, Message};
use crate::model::{CleanTarget, JailInfo, JailState, StateChange};
use crate::preview::{BackendDescription, Doomed};
use crate::validate::{self, PropUse};

/// Who asked, for logs and audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The authenticated user.
    pub user: String,
    /// Where the request came from.
    pub peer: Option<SocketAddr>,
}

/// Why a request failed: a wire code and what to tell the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {}: {details}", code.code(), code.message())]
pub struct ServiceError {
    code: ErrorCode,
    details: String,
}

impl ServiceError {
    /// An error with this code and details for the client.
    pub fn new(code: ErrorCode, details: impl Into<String>) -> Self {
        ServiceError {
            code,
            details: details.into(),
        }
    }

    /// A 400.
    pub fn bad_request(details: impl Into<String>) -> Self {
        ServiceError::new(ErrorCode::BadRequest, details)
    }

    /// The wire code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// What to tell the client.
    pub fn details(&self) -> &str {
        &self.details
    }

    /// The error body.
    pub fn to_error_args(&self) -> ErrorArgs {
        ErrorArgs::new(self.code, self.details.clone())
    }
}

impl From<BackendError> for ServiceError {
    fn from(error: BackendError) -> Self {
        ServiceError::new(error.code(), error.to_string())
    }
}

type Reply = Result<IocageResponse, ServiceError>;

/// What a request computed, before it is shaped for its caller: a
/// `listjails` keeps the listing itself, so that
/// [`IocageService::handle_json`] writes it to the wire with no map of owned
/// strings in between ([`crate::listing`]).
#[derive(Debug, Clone)]
enum Computed {
    /// Any other reply, already in its documented shape.
    Response(IocageResponse),
    /// The jails a `listjails` listed, shared with the inventory (and with
    /// the backend, where it keeps its listing: the simulated host): every
    /// waiter of a coalesced read writes its reply from this one copy
    /// (taking it out of the `Arc` deep-copied the listing for each read).
    Jails(Arc<Vec<JailInfo>>),
}

impl Computed {
    fn into_response(self) -> IocageResponse {
        match self {
            Computed::Response(response) => response,
            Computed::Jails(jails) => IocageResponse::ListJails(listing::jail_list(&jails)),
        }
    }

    fn to_json(&self) -> Arc<RawValue> {
        match self {
            Computed::Response(response) => serialize(response),
            Computed::Jails(jails) => listing::to_json(jails),
        }
    }
}

/// The result of a request, with the backend generation a read saw
/// throughout, if any. Shared behind an `Arc`: a shared future hands each
/// waiter a clone of its output, and cloning a large reply (a `listjails`
/// of many jails) for every read cost more than the read.
/// And the messages iocage printed while it ran, for each waiter to show or not,
/// and for a read, when its backend read started ([`ReadStart`]).
type Answer = Arc<(
    Result<Computed, ServiceError>,
    Option<u64>,
    Vec<Message>,
    Option<ReadStart>,
)>;

/// When a read's backend call started, and how many changes had finished
/// then: what decides how long its answer may be kept ([`crate::kept`]).
#[derive(Debug, Clone, Copy)]
struct ReadStart {
    at: Instant,
    changes_done: u64,
}
type SharedReply = Shared<BoxFuture<'static, Answer>>;

/// How often an untagged create or clone looks for a free default tag
/// before it gives up ([`Inner::claim_tag`]).
const DEFAULT_TAG_TRIES: usize = 8;

/// How often a host-wide change tries for the reads lock while reads run.
const EXCLUSIVE_RETRY: std::time::Duration = std::time::Duration::from_millis(5);

/// Maps requests onto a [`Backend`]. Cheap to clone: clones share the
/// backend, the locks and the reads in flight.
#[derive(Debug, Clone)]
pub struct IocageService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    backend: Arc<dyn Backend>,
    /// Shared by jail changes; held exclusively by clean, activate, deactivate.
    changes: RwLock<()>,
    /// Shared by reads; held exclusively by clean, activate, deactivate, but
    /// never waited for in a queue (see [`Inner::exclusive`]).
    reads: RwLock<()>,
    /// One lock per jail UUID that someone holds or waits for.
    jails: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Reads in flight, keyed by `changes_done` when they started and the
    /// request's canonical `args`, each with its number.
    in_flight: Mutex<HashMap<String, (u64, SharedReply)>>,
    /// Reads that went into the in-flight table so far: their numbers.
    reads_started: AtomicU64,
    /// Changes finished so far.
    changes_done: AtomicU64,
    /// Serialized replies of the backend's current generation.
    cache: ReplyCache,
    /// Serialized answers of a backend without a generation, kept for
    /// [`ServiceOptions::read_ttl`] and [`ServiceOptions::read_stale`].
    kept: KeptReads,
    /// The jails known, for resolving names.
    inventory: Inventory,
}

/// How an [`IocageService`] trades freshness for iocage runs.
#[derive(Debug, Clone, Default)]
pub struct ServiceOptions {
    /// How long a listing of the jails is trusted to resolve jail names
    /// against changes made behind the service's back (iocage run by hand).
    /// The service's own changes are always seen at once. Zero (the default):
    /// every resolution lists; a real host wants seconds (sysadmd's
    /// `[limits] iocage_inventory_ttl_ms`, 2000: an `[iocage]` table cannot
    /// exist, the top-level `iocage` key is the program path).
    pub inventory_ttl: std::time::Duration,
    /// How long the answer of a read is kept to answer identical reads
    /// with no backend call, for a backend without a generation (the real
    /// iocage; the simulated host's generation cache is exact, and these
    /// options do nothing there). A kept answer never answers once a change
    /// by the service has finished after its read started, so what the
    /// service changed is always seen; changes made behind its back are seen
    /// up to this late. Zero (the default): every read asks the backend
    /// (identical concurrent reads still share one call). sysadmd's
    /// `[limits] iocage_read_ttl_ms`.
    pub read_ttl: Duration,
    /// Stale-while-revalidate: how much longer than [`read_ttl`] a kept
    /// answer is still given at once, while one background read (per
    /// request, joining identical reads in flight) replaces it. A failed
    /// background read is logged and renews nothing. Zero (the default):
    /// off. sysadmd's `[limits] iocage_read_stale_ms`.
    ///
    /// [`read_ttl`]: ServiceOptions::read_ttl
    pub read_stale: Duration,
}

/// A read's answer serialized as the JSON of its `args`
/// ([`IocageService::handle_json_with_age`]), with its age when it is an
/// answer kept from an earlier backend read.
#[derive(Debug, Clone)]
pub struct JsonReply {
    /// The JSON of the response's `args`.
    pub args: Arc<RawValue>,
    /// How long ago the backend read this answer comes from started, when
    /// it was kept ([`ServiceOptions::read_ttl`], stale ones included);
    /// `None` when it was read for this request (or shared a read in flight),
    /// and for every answer of a backend with a generation, which is exact.
    pub age: Option<Duration>,
}

impl IocageService {
    /// A service over `backend`.
    pub fn new(backend: Arc<dyn Backend>) -> IocageService {
        IocageService::with_options(backend, ServiceOptions::default())
    }

    /// A service over `backend`, with these options.
    pub fn with_options(backend: Arc<dyn Backend>, options: ServiceOptions) -> IocageService {
        IocageService {
            inner: Arc::new(Inner {
                backend,
                changes: RwLock::new(()),
                reads: RwLock::new(()),
                jails: Mutex::new(HashMap::new()),
                in_flight: Mutex::new(HashMap::new()),
                reads_started: AtomicU64::new(0),
                changes_done: AtomicU64::new(0),
                cache: ReplyCache::default(),
                kept: KeptReads::new(options.read_ttl, options.read_stale),
                inventory: Inventory::new(options.inventory_ttl),
            }),
        }
    }

    /// The jail a name stands for (exact tag, exact UUID, or a unique UUID
    /// prefix), as every request that names a jail resolves it: for callers
    /// that must judge a jail before asking for work on it (API key scopes).
    pub async fn resolve_jail(&self, name: &str) -> Result<JailInfo, ServiceError> {
        Ok(self.inner.resolve(name).await?.0)
    }

    /// Answers one request with its documented response.
    ///
    /// Errors: 400 for an invalid argument (before any backend call), and the
    /// backend's 404/409/400/502/503/504/501.
    pub async fn handle(&self, request: IocageRequest, caller: &Caller) -> Reply {
        let answer = self.answer(request, caller).await;
        // The last waiter of a shared read takes the listing; others copy it.
        let (result, _, _, _) = Arc::try_unwrap(answer).unwrap_or_else(|shared| (*shared).clone());
        result.map(Computed::into_response)
    }

    /// [`handle`](IocageService::handle), with the messages iocage printed
    /// around its output while the request ran (warnings, first-run lines),
    /// in order; none from the simulated host. A read that shared another
    /// caller's backend call gets that call's messages.
    pub async fn handle_with_messages(
        &self,
        request: IocageRequest,
        caller: &Caller,
    ) -> (Reply, Vec<Message>) {
        let answer = self.answer(request, caller).await;
        let (result, _, messages, _) =
            Arc::try_unwrap(answer).unwrap_or_else(|shared| (*shared).clone());
        (result.map(Computed::into_response), messages)
    }

    /// [`handle`](IocageService::handle), with the response serialized as
    /// the JSON of its `args`.
    ///
    /// While the backend reports the same [`Backend::generation`], a read
    /// that was answered before is answered again from its serialized reply,
    /// with no backend call. Backends without a generation (the real iocage)
    /// are asked every time, unless [`ServiceOptions::read_ttl`] or
    /// [`ServiceOptions::read_stale`] lets a recent answer be given again
    /// (see [`handle_json_with_age`](IocageService::handle_json_with_age),
    /// which says how old it is).
    pub async fn handle_json(
        &self,
        request: IocageRequest,
        caller: &Caller,
    ) -> Result<Arc<RawValue>, ServiceError> {
        Ok(self.json(request, caller, false).await?.args)
    }

    /// [`handle_json`](IocageService::handle_json), with `"messages": [...]`
    /// (each `{"level": ..., "text": ...}`, see
    /// [`handle_with_messages`](IocageService::handle_with_messages)) beside
    /// the documented keys of a successful reply. Reads with and without
    /// messages still share backend calls; the reply cache keeps the two
    /// shapes apart.
    pub async fn handle_json_with_messages(
        &self,
        request: IocageRequest,
        caller: &Caller,
    ) -> Result<Arc<RawValue>, ServiceError> {
        Ok(self.json(request, caller, true).await?.args)
    }

    /// [`handle_json`](IocageService::handle_json) (with `"messages"` when
    /// `with_messages`, as
    /// [`handle_json_with_messages`](IocageService::handle_json_with_messages)),
    /// with the answer's age when it was kept from an earlier backend read
    /// ([`ServiceOptions::read_ttl`], [`ServiceOptions::read_stale`]).
    pub async fn handle_json_with_age(
        &self,
        request: IocageRequest,
        caller: &Caller,
        with_messages: bool,
    ) -> Result<JsonReply, ServiceError> {
        self.json(request, caller, with_messages).await
    }

    async fn json(
        &self,
        request: IocageRequest,
        caller: &Caller,
        with_messages: bool,
    ) -> Result<JsonReply, ServiceError> {
        let read = |args| JsonReply { args, age: None };
        let generation = if request.changes_host() {
            None
        } else {
            self.inner.backend.generation()
        };
        let Some(generation) = generation else {
            if !request.changes_host() && self.inner.kept.enabled() {
                return self.kept_read(request, caller, with_messages).await;
            }
            // Serialized from the shared result itself: waiters of one
            // coalesced read each write their reply, and none copies it first.
            let answer = self.answer(request, caller).await;
            let (result, _, printed, _) = &*answer;
            return result
                .as_ref()
                .map(|computed| read(shaped(computed, printed, with_messages)))
                .map_err(Clone::clone);
        };
        let key = reply_key(&request, with_messages);
        if let Some(reply) = self.inner.cache.get(generation, &key) {
            tracing::debug!(user = %caller.user, peer = ?caller.peer, action = %request.action(), "iocage request answered from the reply cache");
            return Ok(read(reply));
        }
        let answer = self.answer(request, caller).await;
        let (result, read_in, printed, _) = &*answer;
        let reply = shaped(
            result.as_ref().map_err(Clone::clone)?,
            printed,
            with_messages,
        );
        let read_in = *read_in;
        // Kept under the generation the read itself saw from start to end,
        // which may be newer than the one looked up above.
        if let Some(read_in) = read_in {
            self.inner.cache.put(read_in, key, reply.clone());
        }
        Ok(read(reply))
    }

    /// A read of a backend without a generation, answered from a kept
    /// answer while it may ([`crate::kept`]): fresh within the read TTL;
    /// stale after it, within the stale window, while one background read
    /// replaces it. Otherwise read (or joined in flight), and kept.
    async fn kept_read(
        &self,
        request: IocageRequest,
        caller: &Caller,
        with_messages: bool,
    ) -> Result<JsonReply, ServiceError> {
        // Only valid requests are ever kept, so a hit needs no validation.
        let key = reply_key(&request, with_messages);
        let changes_done = self.inner.changes_done.load(Ordering::SeqCst);
        let action = request.action();
        match self.inner.kept.lookup(&key, changes_done) {
            Lookup::Fresh(args, age) => {
                tracing::debug!(user = %caller.user, peer = ?caller.peer, %action, age_ms = age.as_millis() as u64, "iocage read answered from a kept answer");
                return Ok(JsonReply {
                    args,
                    age: Some(age),
                });
            }
            Lookup::Stale {
                reply,
                age,
                started,
                refresh,
            } => {
                tracing::debug!(user = %caller.user, peer = ?caller.peer, %action, age_ms = age.as_millis() as u64, refresh, "iocage read answered from a stale kept answer");
                if refresh {
                    self.refresh(request, caller.clone(), key, with_messages, started);
                }
                return Ok(JsonReply {
                    args: reply,
                    age: Some(age),
                });
            }
            Lookup::Miss => {}
        }
        let answer = self.answer(request, caller).await;
        let (result, _, printed, read) = &*answer;
        let reply = shaped(
            result.as_ref().map_err(Clone::clone)?,
            printed,
            with_messages,
        );
        self.keep(key, &reply, *read);
        Ok(JsonReply {
            args: reply,
            age: None,
        })
    }

    /// Keeps a read's answer, if the read started under the changes
    /// finished now.
    fn keep(&self, key: String, reply: &Arc<RawValue>, read: Option<ReadStart>) {
        if let Some(read) = read {
            let now_done = self.inner.changes_done.load(Ordering::SeqCst);
            self.inner
                .kept
                .put(key, reply.clone(), read.at, read.changes_done, now_done);
        }
    }

    /// The background read that replaces the stale answer of `key` (read at
    /// `stale`): through the in-flight table, so it joins an identical read
    /// running, with the backend's own time limit (the iocage timeout). A
    /// failure is logged and renews nothing.
    fn refresh(
        &self,
        request: IocageRequest,
        caller: Caller,
        key: String,
        with_messages: bool,
        stale: Instant,
    ) {
        let service = self.clone();
        tokio::spawn(async move {
            let action = request.action();
            let answer = service.answer(request, &caller).await;
            let (result, _, printed, read) = &*answer;
            match result {
                Ok(computed) => {
                    let reply = shaped(computed, printed, with_messages);
                    service.keep(key, &reply, *read);
                }
                Err(error) => {
                    tracing::warn!(%action, %error, "the background read that was to renew a stale answer failed; it is not renewed");
                    service.inner.kept.refresh_failed(&key, stale);
                }
            }
        });
    }

    /// What a destructive request (`destroyjail`, the `clean` actions) would
    /// destroy, changing nothing: the arguments are validated and the jail
    /// resolved as for the change itself. Other requests are a 400.
    pub async fn preview(
        &self,
        request: &IocageRequest,
        caller: &Caller,
    ) -> Result<WouldDestroy, ServiceError> {
        validate_request(request)?;
        let doomed = match request {
            IocageRequest::DestroyJail { jail } => {
                Doomed::Jail(self.inner.resolve(jail).await?.0.uuid)
            }
            IocageRequest::CleanAll => Doomed::Clean(CleanTarget::All),
            IocageRequest::CleanJails => Doomed::Clean(CleanTarget::Jails),
            IocageRequest::CleanReleases => Doomed::Clean(CleanTarget::Releases),
            IocageRequest::CleanTemplates => Doomed::Clean(CleanTarget::Templates),
            other => {
                return Err(ServiceError::bad_request(format!(
                    "{} destroys nothing, so it has no preview",
                    other.action()
                )));
            }
        };
        tracing::debug!(user = %caller.user, action = %request.action(), "destruction preview");
        let _reads = self.inner.reads.read().await;
        Ok(self.inner.backend.preview(&doomed).await?)
    }

    /// What the backend is and which actions it cannot carry out.
    pub async fn describe(&self) -> BackendDescription {
        self.inner.backend.describe().await
    }

    /// `Ok`, or why the backend cannot serve now.
    pub async fn health(&self) -> Result<(), String> {
        self.inner.backend.health().await
    }

    /// Validates, logs and answers; for a read, also the backend generation
    /// it was read in, if the backend has one and it held for the whole read.
    async fn answer(&self, request: IocageRequest, caller: &Caller) -> Answer {
        let action = request.action();
        if let Err(error) = validate_request(&request) {
            tracing::debug!(user = %caller.user, %action, %error, "iocage request refused");
            return Arc::new((Err(error), None, Vec::new(), None));
        }
        tracing::debug!(user = %caller.user, peer = ?caller.peer, %action, "iocage request");
        let answer = if request.changes_host() {
            let _done = ChangeDone(&self.inner.changes_done);
            let (changed, printed) = messages::collect(self.inner.clone().change(request)).await;
            Arc::new((changed.map(Computed::Response), None, printed, None))
        } else {
            self.shared_read(request).await
        };
        if let Err(error) = &answer.0 {
            if error.code().code() >= 500 {
                tracing::warn!(user = %caller.user, %action, %error, "iocage request failed");
            } else {
                tracing::debug!(user = %caller.user, %action, %error, "iocage request refused");
            }
        }
        answer
    }

    /// Runs a read, or joins an identical one in flight that started after
    /// the last change finished (so a read never misses a change that was
    /// answered before it was asked).
    ///
    /// The read enters the table before it starts (looking and entering
    /// under one lock, so two identical reads never both start), and is
    /// first polled right here: one that completes at once (the simulated
    /// host always does) needs no task of its own and leaves the table at
    /// once. One that has to wait (an iocage run) is driven by a task of its
    /// own, so that it finishes (and leaves the table) even when every caller
    /// has gone away.
    async fn shared_read(&self, request: IocageRequest) -> Answer {
        let changes_done = self.inner.changes_done.load(Ordering::SeqCst);
        let key = format!("{changes_done} {}", request.to_args());
        let id = self.inner.reads_started.fetch_add(1, Ordering::Relaxed);
        let entered = {
            let mut in_flight = self.inner.in_flight.lock().expect("in-flight table");
            if let Some((_, joined)) = in_flight.get(&key) {
                Err(joined.clone())
            } else {
                let inner = self.inner.clone();
                let task_key = key.clone();
                let shared = async move {
                    let work = async {
                        let start = ReadStart {
                            at: Instant::now(),
                            changes_done,
                        };
                        let before = inner.backend.generation();
                        let (result, printed) =
                            messages::collect(inner.clone().read(request)).await;
                        let read_in = before.filter(|_| inner.backend.generation() == before);
                        (result, read_in, printed, Some(start))
                    };
                    // A read that panics is a 500 for its waiters, never a
                    // poisoned entry that identical reads would keep joining.
                    let answer = std::panic::AssertUnwindSafe(work)
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| {
                            tracing::error!("an iocage read panicked");
                            let error = ServiceError::new(
                                ErrorCode::Internal,
                                "the request failed unexpectedly",
                            );
                            (Err(error), None, Vec::new(), None)
                        });
                    // Out of the table before anyone sees the answer: a read
                    // asked after this one is answered never joins it.
                    inner.forget_read(&task_key, id);
                    Arc::new(answer)
                }
                .boxed()
                .shared();
                in_flight.insert(key.clone(), (id, shared.clone()));
                Ok(shared)
            }
        };
        let shared = match entered {
            Ok(shared) => shared,
            Err(joined) => return joined.await,
        };
        let mut mine = shared.clone();
        if let Poll::Ready(done) = std::future::poll_fn(|cx| Poll::Ready(mine.poll_unpin(cx))).await
        {
            return done;
        }
        tokio::spawn(shared);
        mine.await
    }
}

impl Inner {
    /// Takes a finished read out of the in-flight table: only its own entry,
    /// which a later identical read may have replaced.
    fn forget_read(&self, key: &str, id: u64) {
        let mut in_flight = self.in_flight.lock().expect("in-flight table");
        if in_flight.get(key).is_some_and(|(entry, _)| *entry == id) {
            in_flight.remove(key);
        }
    }
}

/// Counts a change as done when it ends, however it ends (also when its
/// caller stops waiting halfway).
struct ChangeDone<'a>(&'a AtomicU64);

impl Drop for ChangeDone<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A computed answer as the JSON of its `args`, with `"messages"` when asked.
fn shaped(computed: &Computed, printed: &[Message], with_messages: bool) -> Arc<RawValue> {
    let reply = computed.to_json();
    if with_messages {
        messages::with_messages(&reply, printed)
    } else {
        reply
    }
}

/// What the reply cache and the kept answers key a read by: its canonical
/// `args`, and its shape.
fn reply_key(request: &IocageRequest, with_messages: bool) -> String {
    let mut key = request.to_args().to_string();
    if with_messages {
        key.push_str(" messages");
    }
    key
}

fn serialize(response: &IocageResponse) -> Arc<RawValue> {
    Arc::from(serde_json::value::to_raw_value(response).expect("wire types always serialize"))
}

/// Checks every string argument; no backend call happens on failure.
fn validate_request(request: &IocageRequest) -> Result<(), ServiceError> {
    let action = request.action().as_str();
    if let Some(jail) = request.jail() {
        validate::jail_name(action, jail)?;
    }
    match request {
        IocageRequest::ActivatePool { pool: Some(pool) }
        | IocageRequest::DeactivatePool { pool } => validate::pool(action, pool),
        IocageRequest::CreateJail { props, .. } => {
            validate::props(action, props, PropUse::Create).map(drop)
        }
        IocageRequest::CloneJail { props, .. } => {
            validate::props(action, props, PropUse::Clone).map(drop)
        }
        IocageRequest::ExecJail { user, command, .. } => {
            validate::user(action, user)?;
            validate::command(action, command).map(drop)
        }
        IocageRequest::GetJailSettings(
            JailSettingsQuery::Property { prop, .. } | JailSettingsQuery::Recursive { prop },
        ) => validate::property(action, prop, PropUse::Read),
        _ => Ok(()),
    }
}

impl Inner {
    /// Resolves a jail name to its listing: exact tag, then exact UUID, then
    /// a unique UUID prefix (the "use adae47cb or just adae" of iocage's help);
    /// with the listing of the part it was found in.
    ///
    /// The jails come from the inventory ([`crate::inventory`]): a jail's tag
    /// that does not read as a UUID is settled by the jails part alone (a tag
    /// is matched before any UUID, and jails before templates); anything else
    /// needs the templates too. A name it does not know is looked up once
    /// more in a new listing before a 404.
    async fn resolve(&self, name: &str) -> Result<(JailInfo, Listing), ServiceError> {
        let asked = Instant::now();
        let backend = &*self.backend;
        if !validate::uuid_like(name) {
            let jails = self
                .inventory
                .part(backend, Part::Jails, Freshness::Window)
                .await?;
            if let Some(jail) = jails.jails.iter().find(|jail| jail.tag == name) {
                return Ok((jail.clone(), jails));
            }
        }
        let parts = self.inventory.all(backend, Freshness::Window).await?;
        match find_in(&parts, name) {
            Err(error) if error.code() == ErrorCode::NotFound => {
                let parts = self.inventory.all(backend, Freshness::Since(asked)).await?;
                find_in(&parts, name)
            }
            found => found,
        }
    }

    /// The jail `found` (with the part it was found in) as the inventory
    /// knows it now, looked up by its UUID in that part, and once more in a
    /// new listing of it before a 404.
    async fn still_there(
        &self,
        found: &(JailInfo, Part),
    ) -> Result<(JailInfo, Listing), ServiceError> {
        let (jail, part) = found;
        let asked = Instant::now();
        let backend = &*self.backend;
        for freshness in [Freshness::Window, Freshness::Since(asked)] {
            let listing = self.inventory.part(backend, *part, freshness).await?;
            if let Some(now) = listing.jails.iter().find(|now| now.uuid == jail.uuid) {
                return Ok((now.clone(), listing));
            }
        }
        Err(ServiceError::new(
            ErrorCode::NotFound,
            format!("jail {} ({}) not found: it is gone", jail.tag, jail.uuid),
        ))
    }

    /// Passes a change's result on; when it failed, what it did is not known
    /// (iocage may have made the jail and then failed), so the inventory
    /// lists again next time.
    fn noted<T>(&self, result: BackendResult<T>) -> BackendResult<T> {
        self.noted_unless(false, result)
    }

    /// [`Inner::noted`], except that a conflict is known to have changed
    /// nothing when `refused` (the backend refuses a taken tag before it
    /// does anything, [`Backend::refuses_taken_tags`]).
    fn noted_unless<T>(&self, refused: bool, result: BackendResult<T>) -> BackendResult<T> {
        match &result {
            Err(BackendError::Conflict(_)) if refused => {}
            Err(_) => self.inventory.forget(),
            Ok(_) => {}
        }
        result
    }

    /// The tag of a create or clone, its lock taken (the guards are held
    /// until the change is done): the tag asked for, if no jail has it (else
    /// a 409, [`Inner::tag_is_free`]); without one, when the backend's own
    /// default could collide ([`Backend::default_tag`], legacy iocage's
    /// one-second `date "+%F@%T"`), the first of `D`, `D_2`, `D_3`, ... that
    /// no jail has, `D` being that default now, added to `pairs` as `tag=`;
    /// else no tag (the backend's default is unique).
    ///
    /// With the guards, whether the backend is left to refuse a taken tag
    /// itself ([`Inner::tag_is_free`]), so that its 409 changed nothing.
    ///
    /// Locks: the tag's, or `D`'s and then, for a suffixed tag, that tag's.
    /// A request holding a suffixed tag's lock waits for no other tag lock,
    /// so two requests never wait for each other.
    async fn claim_tag(
        &self,
        pairs: &mut Vec<(String, String)>,
    ) -> Result<(Vec<OwnedMutexGuard<()>>, bool), ServiceError> {
        let tag_lock = |tag: &str| self.jail_lock(&format!("tag:{tag}")).lock_owned();
        if let Some(tag) = tag_of(pairs) {
            let guard = tag_lock(tag).await;
            let refused = self.tag_is_free(pairs).await?;
            return Ok((vec![guard], refused));
        }
        let Some(base) = self.backend.default_tag().await? else {
            return Ok((Vec::new(), false));
        };
        let mut guards = vec![tag_lock(&base).await];
        for _ in 0..DEFAULT_TAG_TRIES {
            let parts = self
                .inventory
                .all(&*self.backend, Freshness::Window)
                .await?;
            let taken = |tag: &str| {
                parts
                    .iter()
                    .flat_map(|part| part.jails.iter())
                    .any(|jail| jail.tag == tag)
            };
            let tag = std::iter::once(base.clone())
                .chain((2..).map(|n| format!("{base}_{n}")))
                .find(|tag| !taken(tag))
                .expect("an endless list has a tag no jail has");
            if tag != base {
                guards.truncate(1);
                guards.push(tag_lock(&tag).await);
                // Taken by a create that named it while this one waited.
                let named = [("tag".to_owned(), tag.clone())];
                if self.tag_is_free(&named).await.is_err() {
                    continue;
                }
            }
            pairs.push(("tag".to_owned(), tag));
            // A default only a backend that does not refuse taken tags
            // needs: its pre-check above is the one that counts.
            return Ok((guards, false));
        }
        Err(ServiceError::new(
            ErrorCode::Conflict,
            format!(
                "no free tag {base}_N was found for a jail without a tag: jails made meanwhile \
                 took every one tried; send again, or give a tag"
            ),
        ))
    }

    /// A create or clone with a tag may go ahead only if no jail or template
    /// has that tag: 409 otherwise, on every backend and version (legacy
    /// iocage would rename the other jail's tag to a date, `__link_tag` in
    /// lib/ioc-common@6189eac:302-325). Called under the tag's lock, so two
    /// requests for one tag cannot both pass.
    ///
    /// A backend that refuses a taken tag itself (Python iocage) is left to
    /// do so, with no listing: then `Ok(true)`, and its 409 changed nothing.
    async fn tag_is_free(&self, pairs: &[(String, String)]) -> Result<bool, ServiceError> {
        let Some(tag) = tag_of(pairs) else {
            return Ok(false);
        };
        if self.backend.refuses_taken_tags().await {
            return Ok(true);
        }
        // From the inventory: every jail the service made is in it at once;
        // one made by hand shows within the freshness window.
        let parts = self
            .inventory
            .all(&*self.backend, Freshness::Window)
            .await?;
        let taken = parts
            .iter()
            .flat_map(|part| part.jails.iter())
            .find(|jail| jail.tag == tag);
        if let Some(jail) = taken {
            return Err(ServiceError::new(
                ErrorCode::Conflict,
                format!(
                    "a jail tagged {tag} already exists ({}): choose another tag",
                    jail.uuid
                ),
            ));
        }
        Ok(false)
    }

    fn jail_lock(&self, uuid: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut jails = self.jails.lock().expect("jail lock table");
        // Forget locks nobody holds or waits for, so the table stays small.
        jails.retain(|_, lock| Arc::strong_count(lock) > 1);
        jails.entry(uuid.to_owned()).or_default().clone()
    }

    /// The whole host, for clean, activate and deactivate: first the changes
    /// lock (waiting, in turn, for the changes in progress), then the reads
    /// lock, taken only when free. tokio's locks are fair, so a writer waiting
    /// in the queue of the reads lock would hold up every read asked after it,
    /// for as long as the reads before it take (up to the iocage time limit).
    async fn exclusive(&self) -> (RwLockWriteGuard<'_, ()>, RwLockWriteGuard<'_, ()>) {
        let changes = self.changes.write().await;
        loop {
            if let Ok(reads) = self.reads.try_write() {
                return (changes, reads);
            }
            tokio::time::sleep(EXCLUSIVE_RETRY).await;
        }
    }

    async fn read(self: Arc<Self>, request: IocageRequest) -> Result<Computed, ServiceError> {
        let _reads = self.reads.read().await;
        let backend = &self.backend;
        if request == IocageRequest::ListJails {
            // Kept in the inventory, so a change a client asks for right
            // after costs no listing; shaped by whoever takes the answer
            // (`crate::listing`).
            let listed = self.inventory.list_jails(&**backend).await?;
            return Ok(Computed::Jails(listed.jails));
        }
        Ok(Computed::Response(match request {
            IocageRequest::Df => IocageResponse::Df(DfTable {
                jails: backend
                    .df()
                    .await?
                    .into_iter()
                    .map(|row| {
                        let entry = DfRow {
                            available: row.available,
                            compress_ratio: row.compress_ratio,
                            quota: row.quota,
                            reservation: row.reservation,
                            tag: row.tag,
                            used: row.used,
                        };
                        (row.uuid, entry)
                    })
                    .collect(),
            }),
            IocageRequest::GetDefaultSettings => {
                IocageResponse::GetDefaultSettings(DefaultSettings {
                    defaults: backend.defaults().await?.into_iter().collect(),
                })
            }
            IocageRequest::GetJailSettings(query) => IocageResponse::GetJailSettings(match query {
                JailSettingsQuery::Property { jail, prop } => {
                    let uuid = self.resolve(&jail).await?.0.uuid;
                    let value = backend.get_property(&uuid, &prop).await?;
                    JailSettings::Property { jail, prop, value }
                }
                JailSettingsQuery::All { jail } => {
                    let uuid = self.resolve(&jail).await?.0.uuid;
                    JailSettings::All {
                        jail,
                        props: backend.get_all(&uuid).await?.into_iter().collect(),
                    }
                }
                JailSettingsQuery::Recursive { prop } => JailSettings::Recursive {
                    jails: backend
                        .get_recursive(&prop)
                        .await?
                        .into_iter()
                        .map(|row| {
                            let entry = RecursiveRow {
                                tag: row.tag,
                                value: row.value,
                            };
                            (row.uuid, entry)
                        })
                        .collect(),
                    prop,
                },
            }),
            IocageRequest::ListReleases => {
                let releases = backend.releases().await?;
                IocageResponse::ListReleases(ReleaseList {
                    local: releases.local,
                    remote: releases.remote,
                    remote_missing: releases.remote_missing,
                })
            }
            IocageRequest::ListPlugins => IocageResponse::ListPlugins(PluginList {
                remote: backend
                    .plugins()
                    .await?
                    .into_iter()
                    .map(|plugin| {
                        let id = plugin.id.clone();
                        let entry = Plugin {
                            description: plugin.description,
                            id: plugin.id,
                            name: plugin.name,
                        };
                        (id, entry)
                    })
                    .collect(),
            }),
            IocageRequest::ActivatePool { pool: None } => {
                IocageResponse::ActivatePool(ActivatePoolResult::Current {
                    current: ActivePool {
                        name: backend.active_pool().await?,
                    },
                })
            }
            other => {
                return Err(internal(format!(
                    "{} reached the read path",
                    other.action()
                )));
            }
        }))
    }

    async fn change(self: Arc<Self>, request: IocageRequest) -> Reply {
        let received = Instant::now();
        let backend = &self.backend;
        let action = request.action().as_str();
        // Host-wide changes exclude everything else.
        let clean = match &request {
            IocageRequest::CleanAll => {
                Some((CleanTarget::All, "All iocage datasets have been cleaned."))
            }
            IocageRequest::CleanJails => Some((CleanTarget::Jails, "All jails have been cleaned.")),
            IocageRequest::CleanReleases => {
                Some((CleanTarget::Releases, "All RELEASEs have been cleaned."))
            }
            IocageRequest::CleanTemplates => {
                Some((CleanTarget::Templates, "All templates have been cleaned."))
            }
            _ => None,
        };
        if let Some((target, message)) = clean {
            let _host = self.exclusive().await;
            let cleaned = backend.clean(target).await;
            self.inventory.forget();
            cleaned?;
            let success = Success::new(message);
            return Ok(match target {
                CleanTarget::All => IocageResponse::CleanAll(success),
                CleanTarget::Jails => IocageResponse::CleanJails(success),
                CleanTarget::Releases => IocageResponse::CleanReleases(success),
                CleanTarget::Templates => IocageResponse::CleanTemplates(success),
            });
        }
        match &request {
            IocageRequest::ActivatePool { pool: Some(pool) } => {
                let _host = self.exclusive().await;
                let activated = backend.activate(pool).await;
                self.inventory.forget();
                activated?;
                return Ok(IocageResponse::ActivatePool(ActivatePoolResult::Activated(
                    Success::new(format!("pool {pool} activated.")),
                )));
            }
            IocageRequest::DeactivatePool { pool } => {
                let _host = self.exclusive().await;
                let deactivated = backend.deactivate(pool).await;
                self.inventory.forget();
                deactivated?;
                return Ok(IocageResponse::DeactivatePool(Success::new(format!(
                    "pool {pool} deactivated."
                ))));
            }
            IocageRequest::CreateJail { props, empty } => {
                let _host = self.changes.read().await;
                let mut pairs = validate::props(action, props, PropUse::Create)?;
                // Two creates of one tag serialise, so the second sees the first's jail.
                let (_tag, refused) = self.claim_tag(&mut pairs).await?;
                let jail = self.noted_unless(refused, backend.create(&pairs, *empty).await)?;
                self.inventory
                    .added(&jail.uuid, &jail.tag, None, is_template(&pairs));
                let success = if *empty {
                    CreateSuccess::Empty { uuid: jail.uuid }
                } else {
                    CreateSuccess::Created(Created::new(&jail.uuid, &jail.tag))
                };
                return Ok(IocageResponse::CreateJail(CreateJailResult {
                    props: props.clone(),
                    success,
                    switches: if *empty { "-e" } else { "" }.to_owned(),
                }));
            }
            _ => {}
        }
        // An action the installed iocage cannot carry out is a 501 known in
        // advance: resolving the jail first would cost a listing for nothing.
        if let Some((_, why)) = backend
            .describe()
            .await
            .not_supported
            .into_iter()
            .find(|(unsupported, _)| *unsupported == request.action())
        {
            return Err(ServiceError::new(ErrorCode::NotImplemented, why));
        }
        // Changes to one jail: resolve to the UUID, so that a tag and its
        // UUID take the same lock.
        let _host = self.changes.read().await;
        let Some(name) = request.jail() else {
            return Err(internal(format!("{action} names no jail")));
        };
        let (jail, seen) = self.resolve(name).await?;
        let uuid = jail.uuid.clone();
        let jail = (jail, seen.part);
        let lock = self.jail_lock(&uuid);
        let _jail = lock.lock().await;
        // Look again under the lock: the jail may have gone while we
        // waited. From the inventory unless its window passed meanwhile.
        let (jail, seen) = self.still_there(&jail).await?;
        Ok(match request {
            IocageRequest::StartJail { jail: name } => {
                let _changing = self.inventory.changing_state();
                IocageResponse::StartJail(status(name, backend.start(&jail.uuid).await?))
            }
            IocageRequest::StopJail { jail: name } => {
                let _changing = self.inventory.changing_state();
                IocageResponse::StopJail(status(name, backend.stop(&jail.uuid).await?))
            }
            IocageRequest::CapJail { jail: name } => {
                backend.cap(&jail.uuid).await?;
                IocageResponse::CapJail(Success::new(format!("jail {name} capped.")))
            }
            IocageRequest::CloneJail { jail: name, props } => {
                let mut pairs = validate::props(action, &props, PropUse::Clone)?;
                let (_tag, refused) = self.claim_tag(&mut pairs).await?;
                let new =
                    self.noted_unless(refused, backend.clone_jail(&jail.uuid, &pairs).await)?;
                self.inventory
                    .added(&new.uuid, &new.tag, Some(&jail.uuid), is_template(&pairs));
                IocageResponse::CloneJail(CloneJailResult {
                    jail: name,
                    props,
                    success: Created::new(&new.uuid, &new.tag),
                })
            }
            IocageRequest::DestroyJail { .. } => {
                // `destroy -f` would stop a running jail: the backend asks
                // its state first, unless a listing made for this request,
                // with no change of state since, saw it stopped.
                let seen_stopped = jail.state == JailState::Down
                    && self.inventory.state_is_current(&seen, received);
                let destroyed = if seen_stopped {
                    backend.destroy_seen_stopped(&jail.uuid).await
                } else {
                    backend.destroy(&jail.uuid).await
                };
                self.noted(destroyed)?;
                self.inventory.removed(&jail.uuid);
                IocageResponse::DestroyJail(DestroyJailResult::new(jail.uuid))
            }
            IocageRequest::ExecJail { user, command, .. } => {
                let argv = validate::command(action, &command)?;
                // A command in the jail may stop it.
                let _changing = self.inventory.changing_state();
                let output = backend.exec(&jail.uuid, &user, &argv).await?;
                if output.status != 0 {
                    let mut text = format!("command exited with status {}", output.status);
                    if !output.lines.is_empty() {
                        text.push_str(": ");
                        text.push_str(&output.lines.join("\n"));
                    }
                    return Err(ServiceError::new(ErrorCode::BadGateway, text));
                }
                IocageResponse::ExecJail(ExecJailResult {
                    lines: output.lines,
                })
            }
            other => return Err(internal(format!("{} is not a jail change", other.action()))),
        })
    }
}

/// Finds `name` among `jails`: exact tag, then exact UUID, then a unique UUID
/// prefix; 404 when none matches, 400 when it is ambiguous.
fn find_jail(jails: &[JailInfo], name: &str) -> Result<JailInfo, ServiceError> {
    if let Some(jail) = jails.iter().find(|jail| jail.tag == name) {
        // A tag that reads as another jail's UUID or the start of it
        // (made before tags were checked, or with iocage directly) could
        // stand for either jail: never guess which one to change.
        let lower = name.to_ascii_lowercase();
        let other = jails.iter().find(|other| {
            crate::validate::uuid_like(name)
                && other.uuid != jail.uuid
                && other.uuid.starts_with(&lower)
        });
        if let Some(other) = other {
            return Err(ServiceError::bad_request(format!(
                "jail name {name} is ambiguous: it is the tag of jail {} and the start of \
                 the UUID of jail {} ({}); give the full UUID",
                jail.uuid, other.uuid, other.tag
            )));
        }
        return Ok(jail.clone());
    }
    if let Some(jail) = jails.iter().find(|jail| jail.uuid == name) {
        return Ok(jail.clone());
    }
    let matches: Vec<&JailInfo> = jails
        .iter()
        .filter(|jail| jail.uuid.starts_with(&name.to_ascii_lowercase()))
        .collect();
    match matches.as_slice() {
        [jail] => Ok((*jail).clone()),
        [] => Err(ServiceError::new(
            ErrorCode::NotFound,
            format!("jail {name} not found: no jail has this tag, UUID or UUID prefix"),
        )),
        several => Err(ServiceError::bad_request(format!(
            "multiple jails matching name: {name} ({}); give more of the UUID",
            several
                .iter()
                .map(|jail| jail.uuid.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// [`find_jail`] over both parts of the inventory (jails first), with the
/// listing of the part the jail is in.
fn find_in(parts: &[Listing; 2], name: &str) -> Result<(JailInfo, Listing), ServiceError> {
    let all: Vec<JailInfo> = parts
        .iter()
        .flat_map(|part| part.jails.iter().cloned())
        .collect();
    let jail = find_jail(&all, name)?;
    let part = parts
        .iter()
        .find(|part| part.jails.iter().any(|known| known.uuid == jail.uuid))
        .unwrap_or(&parts[0]);
    Ok((jail, part.clone()))
}

/// Whether a create's or clone's properties make a template.
fn is_template(pairs: &[(String, String)]) -> bool {
    pairs.iter().any(|(key, value)| {
        key == "template"
            && ["yes", "on", "1", "true"].contains(&value.to_ascii_lowercase().as_str())
    })
}

/// A bug in this crate: logged in full, sent to the client without internals.
fn internal(what: String) -> ServiceError {
    tracing::error!(what, "iocage service bug");
    ServiceError::new(ErrorCode::Internal, "the request failed unexpectedly")
}

/// The tag a create or clone asks for, if any.
fn tag_of(pairs: &[(String, String)]) -> Option<&str> {
    pairs
        .iter()
        .find(|(key, _)| key == "tag")
        .map(|(_, value)| value.as_str())
}

fn status(jail: String, change: StateChange) -> JailStatus {
    JailStatus {
        jail,
        outcome: match change {
            StateChange::Changed(lines) => StatusOutcome::Lines(lines),
            StateChange::Already(text) => StatusOutcome::Info(text),
        },
    }
}
