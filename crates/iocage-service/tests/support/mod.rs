//! Shared test helpers: a backend that wraps the simulated host and records
//! every call (how many, which, and which overlapped), and a shorthand for
//! sending a request given as its JSON `args`.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use iocage_service::{
    Backend, BackendResult, Caller, CleanTarget, DfEntry, ExecOutput, IocageService, JailInfo,
    NewJail, PluginInfo, PropertyRow, Releases, SimBackend, StateChange,
};
use serde_json::Value;
use sysadm_proto::{IocageRequest, IocageResponse};

/// The caller every test uses.
pub fn caller() -> Caller {
    Caller {
        user: "tester".to_owned(),
        peer: None,
    }
}

/// Decodes `args` as the server would and hands it to the service. Decoder
/// and service errors both come back as `(code, details)`.
pub async fn call(service: &IocageService, args: Value) -> Result<IocageResponse, (u16, String)> {
    let request = IocageRequest::from_args(&args).map_err(|error| (400, error.to_string()))?;
    service
        .handle(request, &caller())
        .await
        .map_err(|error| (error.code().code(), error.details().to_owned()))
}

/// Like [`call`], for requests that must succeed; returns the response as JSON.
pub async fn ok(service: &IocageService, args: Value) -> Value {
    match call(service, args.clone()).await {
        Ok(response) => serde_json::to_value(response).expect("responses serialize"),
        Err((code, details)) => panic!("{args} failed with {code}: {details}"),
    }
}

#[derive(Debug, Default)]
struct Activity {
    /// Operations running now.
    total: usize,
    /// Exclusive operations (clean, activate, deactivate) running now.
    exclusive: usize,
    /// Times an exclusive operation ran alongside anything else.
    overlaps: usize,
    /// Jail changes running now, by UUID.
    per_jail: HashMap<String, usize>,
    /// The most jail changes seen running at once on one jail.
    max_per_jail: usize,
    /// The most operations seen running at once.
    max_total: usize,
}

/// Wraps a simulated host: counts calls per operation and records overlap.
#[derive(Debug)]
pub struct Recorder {
    inner: SimBackend,
    delay: Duration,
    /// How long a read waits after reading the host before it answers.
    read_tail: Mutex<Duration>,
    calls: Mutex<Vec<String>>,
    activity: Mutex<Activity>,
    /// When set, `start` waits for a permit of it: an iocage run that hangs.
    start_gate: Mutex<Option<Arc<tokio::sync::Semaphore>>>,
    /// What [`Backend::default_tag`] answers (the simulated host: `None`).
    default_tag: Mutex<Option<String>>,
    /// Noted for the request ([`iocage_service::note_messages`]) by every read.
    printed: Mutex<Option<iocage_service::Message>>,
    /// When set, every read panics (a bug in a backend).
    panics_on_reads: Mutex<bool>,
    /// When set, `list_jails` waits for a permit of it: a listing that hangs.
    list_gate: Mutex<Option<Arc<tokio::sync::Semaphore>>>,
    /// When set, `list_jails` fails as an iocage run that failed (502).
    fails_listings: Mutex<bool>,
}

/// What kind of operation, for the overlap rules.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    JailChange,
    Exclusive,
}

impl Recorder {
    /// A recorder over a fresh in-memory host; every call takes `delay`.
    pub fn new(delay: Duration) -> Arc<Recorder> {
        Recorder::over(SimBackend::in_memory(), delay)
    }

    /// A recorder over `host`; every call takes `delay`.
    pub fn over(host: SimBackend, delay: Duration) -> Arc<Recorder> {
        Arc::new(Recorder {
            inner: host,
            delay,
            read_tail: Mutex::new(Duration::ZERO),
            calls: Mutex::new(Vec::new()),
            activity: Mutex::new(Activity::default()),
            start_gate: Mutex::new(None),
            default_tag: Mutex::new(None),
            printed: Mutex::new(None),
            panics_on_reads: Mutex::new(false),
            list_gate: Mutex::new(None),
            fails_listings: Mutex::new(false),
        })
    }

    /// From now on `start` hangs (counted as running) until the returned
    /// semaphore gets a permit for it.
    pub fn hold_starts(&self) -> Arc<tokio::sync::Semaphore> {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        *self.start_gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    /// Reads that start from now on read the host at once and answer
    /// `tail` later, like an iocage that is slow to print what it read.
    pub fn set_read_tail(&self, tail: Duration) {
        *self.read_tail.lock().unwrap() = tail;
    }

    /// From now on the backend says its iocage would tag an untagged jail
    /// `tag`, a default that can collide (as legacy iocage's date does).
    pub fn set_default_tag(&self, tag: &str) {
        *self.default_tag.lock().unwrap() = Some(tag.to_owned());
    }

    /// From now on `list_jails` hangs (counted as called) until the
    /// returned semaphore gets a permit for it.
    pub fn hold_listings(&self) -> Arc<tokio::sync::Semaphore> {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        *self.list_gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    /// From now on `list_jails` fails (`true`), or no longer does.
    pub fn fail_listings(&self, fails: bool) {
        *self.fails_listings.lock().unwrap() = fails;
    }

    /// From now on every read panics (`true`), or no longer does.
    pub fn panic_on_reads(&self, panics: bool) {
        *self.panics_on_reads.lock().unwrap() = panics;
    }

    /// From now on every read notes `message`, as iocage printing a warning
    /// around its output.
    pub fn print_on_reads(&self, message: iocage_service::Message) {
        *self.printed.lock().unwrap() = Some(message);
    }

    /// Every call so far, by operation name.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// How many calls of `operation` so far.
    pub fn count(&self, operation: &str) -> usize {
        self.calls()
            .iter()
            .filter(|name| *name == operation)
            .count()
    }

    /// Forgets the calls so far.
    pub fn reset(&self) {
        self.calls.lock().unwrap().clear();
        *self.activity.lock().unwrap() = Activity::default();
    }

    /// Times an exclusive operation overlapped anything else.
    pub fn overlaps(&self) -> usize {
        self.activity.lock().unwrap().overlaps
    }

    /// The most changes seen at once on one jail.
    pub fn max_per_jail(&self) -> usize {
        self.activity.lock().unwrap().max_per_jail
    }

    /// The most operations seen at once.
    pub fn max_total(&self) -> usize {
        self.activity.lock().unwrap().max_total
    }

    async fn run<T>(
        &self,
        name: &str,
        kind: Kind,
        jail: Option<&str>,
        work: impl Future<Output = T>,
    ) -> T {
        self.calls.lock().unwrap().push(name.to_owned());
        if kind == Kind::Read && *self.panics_on_reads.lock().unwrap() {
            panic!("{name}: a read that panics (test)");
        }
        {
            let mut activity = self.activity.lock().unwrap();
            activity.total += 1;
            activity.max_total = activity.max_total.max(activity.total);
            if kind == Kind::Exclusive {
                activity.exclusive += 1;
            }
            if activity.exclusive > 0 && activity.total > 1 {
                activity.overlaps += 1;
            }
            if let (Kind::JailChange, Some(uuid)) = (kind, jail) {
                let running = activity.per_jail.entry(uuid.to_owned()).or_default();
                *running += 1;
                let running = *running;
                activity.max_per_jail = activity.max_per_jail.max(running);
            }
        }
        let tail = *self.read_tail.lock().unwrap();
        tokio::time::sleep(self.delay).await;
        let result = work.await;
        if kind == Kind::Read
            && let Some(message) = self.printed.lock().unwrap().clone()
        {
            iocage_service::note_messages(&[message]);
        }
        if kind == Kind::Read {
            tokio::time::sleep(tail).await;
        }
        let mut activity = self.activity.lock().unwrap();
        activity.total -= 1;
        if kind == Kind::Exclusive {
            activity.exclusive -= 1;
        }
        if let (Kind::JailChange, Some(uuid)) = (kind, jail) {
            *activity.per_jail.get_mut(uuid).unwrap() -= 1;
        }
        result
    }
}

#[async_trait]
impl Backend for Recorder {
    async fn list_jails(&self) -> BackendResult<Vec<JailInfo>> {
        let gate = self.list_gate.lock().unwrap().clone();
        let fails = *self.fails_listings.lock().unwrap();
        let work = async {
            if let Some(gate) = gate {
                gate.acquire().await.expect("gate open").forget();
            }
            if fails {
                return Err(iocage_service::BackendError::Failed {
                    text: "iocage list failed (test)".to_owned(),
                });
            }
            self.inner.list_jails().await
        };
        self.run("list_jails", Kind::Read, None, work).await
    }
    async fn df(&self) -> BackendResult<Vec<DfEntry>> {
        self.run("df", Kind::Read, None, self.inner.df()).await
    }
    async fn get_property(&self, uuid: &str, prop: &str) -> BackendResult<String> {
        let work = self.inner.get_property(uuid, prop);
        self.run("get_property", Kind::Read, None, work).await
    }
    async fn get_all(&self, uuid: &str) -> BackendResult<Vec<(String, String)>> {
        self.run("get_all", Kind::Read, None, self.inner.get_all(uuid))
            .await
    }
    async fn get_recursive(&self, prop: &str) -> BackendResult<Vec<PropertyRow>> {
        let work = self.inner.get_recursive(prop);
        self.run("get_recursive", Kind::Read, None, work).await
    }
    async fn defaults(&self) -> BackendResult<Vec<(String, String)>> {
        self.run("defaults", Kind::Read, None, self.inner.defaults())
            .await
    }
    async fn start(&self, uuid: &str) -> BackendResult<StateChange> {
        let gate = self.start_gate.lock().unwrap().clone();
        let work = async {
            if let Some(gate) = gate {
                gate.acquire().await.expect("gate open").forget();
            }
            self.inner.start(uuid).await
        };
        self.run("start", Kind::JailChange, Some(uuid), work).await
    }
    async fn stop(&self, uuid: &str) -> BackendResult<StateChange> {
        let work = self.inner.stop(uuid);
        self.run("stop", Kind::JailChange, Some(uuid), work).await
    }
    async fn cap(&self, uuid: &str) -> BackendResult<()> {
        let work = self.inner.cap(uuid);
        self.run("cap", Kind::JailChange, Some(uuid), work).await
    }
    async fn create(&self, props: &[(String, String)], empty: bool) -> BackendResult<NewJail> {
        let work = self.inner.create(props, empty);
        self.run("create", Kind::Read, None, work).await
    }
    async fn clone_jail(&self, uuid: &str, props: &[(String, String)]) -> BackendResult<NewJail> {
        let work = self.inner.clone_jail(uuid, props);
        self.run("clone_jail", Kind::JailChange, Some(uuid), work)
            .await
    }
    async fn destroy(&self, uuid: &str) -> BackendResult<()> {
        let work = self.inner.destroy(uuid);
        self.run("destroy", Kind::JailChange, Some(uuid), work)
            .await
    }
    async fn exec(&self, uuid: &str, user: &str, argv: &[String]) -> BackendResult<ExecOutput> {
        let work = self.inner.exec(uuid, user, argv);
        self.run("exec", Kind::JailChange, Some(uuid), work).await
    }
    async fn clean(&self, target: CleanTarget) -> BackendResult<()> {
        let work = self.inner.clean(target);
        self.run("clean", Kind::Exclusive, None, work).await
    }
    async fn active_pool(&self) -> BackendResult<String> {
        self.run("active_pool", Kind::Read, None, self.inner.active_pool())
            .await
    }
    async fn activate(&self, pool: &str) -> BackendResult<()> {
        let work = self.inner.activate(pool);
        self.run("activate", Kind::Exclusive, None, work).await
    }
    async fn deactivate(&self, pool: &str) -> BackendResult<()> {
        let work = self.inner.deactivate(pool);
        self.run("deactivate", Kind::Exclusive, None, work).await
    }
    async fn releases(&self) -> BackendResult<Releases> {
        self.run("releases", Kind::Read, None, self.inner.releases())
            .await
    }
    async fn plugins(&self) -> BackendResult<Vec<PluginInfo>> {
        self.run("plugins", Kind::Read, None, self.inner.plugins())
            .await
    }
    fn generation(&self) -> Option<u64> {
        self.inner.generation()
    }
    async fn default_tag(&self) -> BackendResult<Option<String>> {
        Ok(self.default_tag.lock().unwrap().clone())
    }
}
