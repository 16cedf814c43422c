//! `GET /metrics`: counters and gauges in the Prometheus text format
//! (`prometheus-client`), for any authenticated user (a viewer is enough).
//!
//! Requests are counted by class, action, transport and status, with a
//! latency histogram by class and transport; failed logins and address
//! blocks as the audit hook sees them; and, read when scraped, the jobs
//! running, the events numbered so far, the subscribers connected and those
//! dropped as too slow. The connection slots keep the connections open by
//! transport and state (`slots.rs`).

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Static text only: counting a request allocates nothing (unknown
/// classes and actions are counted as `other`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    class: &'static str,
    action: &'static str,
    transport: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    class: &'static str,
    transport: &'static str,
}

/// `rpc/<name>` of every RPC name, made once.
static RPC_CLASSES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    sysadm_proto::RPC_NAMES
        .iter()
        .map(|name| format!("rpc/{name}"))
        .collect()
});

/// The class label of `namespace/name`: the class itself if it is known,
/// else `other`.
fn class_label(namespace: &str, name: &str) -> &'static str {
    let is = |class: &str| {
        class.len() == namespace.len() + 1 + name.len()
            && class.starts_with(namespace)
            && class[namespace.len()..].starts_with('/')
            && class.ends_with(name)
    };
    ["sysadm/iocage", "events/subscribe", "events/unsubscribe"]
        .into_iter()
        .find(|class| is(class))
        .or_else(|| {
            RPC_CLASSES
                .iter()
                .map(String::as_str)
                .find(|class| is(class))
        })
        .unwrap_or("other")
}

/// The action label: a known action (or none), else `other`.
fn action_label(class: &'static str, action: &str) -> &'static str {
    if action.is_empty() {
        return "";
    }
    if let Some(known) = sysadm_proto::Action::from_name(action) {
        return known.as_str();
    }
    match (class, action) {
        ("rpc/dispatcher", "list") => "list",
        ("rpc/dispatcher", "history") => "history",
        _ => "other",
    }
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    command: String,
    exit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    command: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    transport: &'static str,
    state: &'static str,
}

/// Connections open now, by transport (`rest`, `ws`) and state
/// (`unauthenticated`, `authenticated`), kept up to date by the slots.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnectionGauges(Family<ConnectionLabels, Gauge>);

impl ConnectionGauges {
    /// Adds `delta` to the connections of that transport and state.
    pub(crate) fn add(&self, websocket: bool, authenticated: bool, delta: i64) {
        let labels = ConnectionLabels {
            transport: if websocket { "ws" } else { "rest" },
            state: if authenticated {
                "authenticated"
            } else {
                "unauthenticated"
            },
        };
        self.0.get_or_create(&labels).inc_by(delta);
    }
}

/// iocage runs by command and how they ended, with their durations: made
/// before the backend (which reports into it), registered with [`Metrics`].
#[derive(Clone, Debug)]
pub(crate) struct IocageRuns {
    runs: Family<RunLabels, Counter>,
    durations: Family<CommandLabels, Histogram, fn() -> Histogram>,
}

impl Default for IocageRuns {
    fn default() -> Self {
        IocageRuns {
            runs: Family::default(),
            durations: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl IocageRuns {
    /// What the CLI backend calls after every iocage run.
    pub(crate) fn observer(
        &self,
    ) -> impl Fn(&str, std::time::Duration, &str) + Send + Sync + 'static {
        let runs = self.clone();
        move |command: &str, took: std::time::Duration, exit: &str| {
            runs.runs
                .get_or_create(&RunLabels {
                    command: command.to_owned(),
                    exit: exit.to_owned(),
                })
                .inc();
            runs.durations
                .get_or_create(&CommandLabels {
                    command: command.to_owned(),
                })
                .observe(took.as_secs_f64());
        }
    }
}

/// The server's metrics.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    failed_logins: Counter,
    blocks: Counter,
    jobs_running: Gauge,
    events_numbered: Gauge,
    subscribers: Gauge,
    subscribers_dropped: Gauge<u64, AtomicU64>,
    connections: ConnectionGauges,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sysadmd");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by class, action, transport and status",
            requests.clone(),
        );
        let latency = Family::<LatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer a request, by class and transport",
            latency.clone(),
        );
        let failed_logins = Counter::default();
        registry.register(
            "failed_logins",
            "Failed logins (as the audit log counts them)",
            failed_logins.clone(),
        );
        let blocks = Counter::default();
        registry.register(
            "address_blocks",
            "Addresses blocked after repeated failed logins",
            blocks.clone(),
        );
        let jobs_running = Gauge::default();
        registry.register("jobs_running", "Jobs running now", jobs_running.clone());
        let events_numbered = Gauge::default();
        registry.register(
            "events_seq",
            "The seq of the last event (events numbered so far, across restarts)",
            events_numbered.clone(),
        );
        let subscribers = Gauge::default();
        registry.register(
            "event_connections",
            "WebSocket connections registered for events",
            subscribers.clone(),
        );
        let subscribers_dropped = Gauge::<u64, AtomicU64>::default();
        registry.register(
            "event_subscribers_dropped",
            "Subscribers disconnected as too slow since the start",
            subscribers_dropped.clone(),
        );
        let connections = ConnectionGauges::default();
        // Every combination shown from the start, at 0 when there is none.
        for websocket in [false, true] {
            for authenticated in [false, true] {
                connections.add(websocket, authenticated, 0);
            }
        }
        registry.register(
            "connections",
            "Connections open now, by transport (rest until a WebSocket upgrade) and state \
             (unauthenticated until a request on it authenticates)",
            connections.0.clone(),
        );
        Metrics {
            connections,
            registry: Mutex::new(registry),
            requests,
            latency,
            failed_logins,
            blocks,
            jobs_running,
            events_numbered,
            subscribers,
            subscribers_dropped,
        }
    }
}

/// What is read from the rest of the server when scraped.
pub(crate) struct Snapshot {
    pub(crate) jobs_running: usize,
    pub(crate) last_seq: u64,
    pub(crate) subscribers: usize,
    pub(crate) dropped: u64,
}

impl Metrics {
    /// Counts one answered request. Class and action come from the client,
    /// so only known ones are labels (else `other`): label sets stay bounded.
    pub(crate) fn request(
        &self,
        (namespace, name): (&str, &str),
        action: &str,
        transport: &'static str,
        status: u16,
        seconds: f64,
    ) {
        let class = class_label(namespace, name);
        let action = action_label(class, action);
        self.requests
            .get_or_create(&RequestLabels {
                class,
                action,
                transport,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels { class, transport })
            .observe(seconds);
    }

    /// The connections gauge, for the connection slots to keep.
    pub(crate) fn connections(&self) -> ConnectionGauges {
        self.connections.clone()
    }

    /// Exposes the iocage runs the CLI backend reports.
    pub(crate) fn add_iocage_runs(&self, runs: &IocageRuns) {
        let mut registry = self.registry.lock().expect("metrics lock");
        registry.register(
            "iocage_runs",
            "iocage runs, by command (its first word) and how they ended",
            runs.runs.clone(),
        );
        registry.register(
            "iocage_run_duration_seconds",
            "Time an iocage run took, by command",
            runs.durations.clone(),
        );
    }

    /// Counts failed logins (the audit hook's aggregate).
    pub(crate) fn failed_logins(&self, count: u64) {
        self.failed_logins.inc_by(count);
    }

    /// Counts one address block.
    pub(crate) fn blocked(&self) {
        self.blocks.inc();
    }

    /// The text exposition, with the gauges read now.
    pub(crate) fn encode(&self, now: Snapshot) -> String {
        let as_i64 = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        self.jobs_running.set(as_i64(now.jobs_running as u64));
        self.events_numbered.set(as_i64(now.last_seq));
        self.subscribers.set(as_i64(now.subscribers as u64));
        self.subscribers_dropped.set(now.dropped);
        let mut text = String::new();
        let registry = self.registry.lock().expect("metrics lock");
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// The `[metrics]` table of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Loopback addresses (`IP:PORT`) that serve `GET /metrics` without
    /// authentication, plain HTTP, for a local Prometheus agent. Empty: none.
    pub listen: Vec<String>,
}

impl MetricsSettings {
    /// The addresses, each checked to be a loopback `IP:PORT`.
    pub(crate) fn addresses(&self) -> anyhow::Result<Vec<std::net::SocketAddr>> {
        self.listen
            .iter()
            .map(|text| match text.parse::<std::net::SocketAddr>() {
                Ok(addr) if addr.ip().is_loopback() => Ok(addr),
                _ => Err(anyhow::anyhow!(
                    "metrics.listen: '{}' is not a loopback IP:PORT (such as 127.0.0.1:9150 or \
                     [::1]:9150): metrics without authentication are served on loopback only",
                    text.escape_debug()
                )),
            })
            .collect()
    }
}

/// Connections served at once on the unauthenticated metrics addresses.
const METRICS_CONNECTIONS: usize = 16;

/// Serves `GET /metrics` without authentication on `listeners` (loopback
/// only, checked by [`MetricsSettings::addresses`]); anything else is a 404.
pub(crate) fn serve_unauthenticated(
    app: &std::sync::Arc<crate::App>,
    listeners: Vec<tokio::net::TcpListener>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(METRICS_CONNECTIONS));
    for listener in listeners {
        let app = app.clone();
        let slots = slots.clone();
        app.tracker.clone().spawn(async move {
            loop {
                let permit = tokio::select! {
                    () = app.shutdown.cancelled() => return,
                    permit = slots.clone().acquire_owned() => permit.expect("never closed"),
                };
                let (stream, _) = tokio::select! {
                    () = app.shutdown.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            tracing::debug!(%error, "metrics accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let app = app.clone();
                app.tracker.clone().spawn(async move {
                    let handler = app.clone();
                    let service = hyper::service::service_fn(move |request| {
                        let app = handler.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(&app, &request)) }
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(app.limits.header_timeout())
                        .keep_alive(false)
                        .serve_connection(TokioIo::new(stream), service);
                    // Bounded: one request, within the header time limit and a few seconds.
                    let limit = app.limits.header_timeout() + std::time::Duration::from_secs(5);
                    let _ = tokio::time::timeout(limit, connection).await;
                    drop(permit);
                });
            }
        });
    }
}

fn answer<B>(app: &crate::App, request: &hyper::Request<B>) -> hyper::Response<crate::http::Body> {
    use hyper::header::{CONTENT_TYPE, HeaderValue};
    let found = request.uri().path() == "/metrics"
        && matches!(*request.method(), hyper::Method::GET | hyper::Method::HEAD);
    if !found {
        let mut response = hyper::Response::new(crate::http::Body::new(
            "only GET /metrics is served here\n".into(),
        ));
        *response.status_mut() = hyper::StatusCode::NOT_FOUND;
        return response;
    }
    let text = crate::ops::metrics_text(app);
    let mut response = hyper::Response::new(crate::http::Body::new(text.into()));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
