//! Load generator and baseline servers for `cargo xtask bench`.
//!
//! Each measurement runs sysadmd and a baseline under the same load in the
//! same process run, and prints one JSON object per line: the figures and
//! their ratio. Absolute numbers wander on a shared machine; ratios much less.
//!
//! - `rest SECONDS`: `listjails` over REST with HTTP Basic, 64 keep-alive
//!   connections, simulated host with 100 jails; baseline: a minimal hyper
//!   server answering a fixed body of the same size.
//! - `ws SECONDS`: `listjails` round trips over WebSocket, one connection with
//!   32 requests in flight, then 100 connections with one each; baseline: a
//!   minimal tungstenite server answering every message with a fixed reply of
//!   the same size.
//! - `memory SYSADMD_BINARY`: resident size of the daemon idle, and with 1,000
//!   authenticated idle WebSocket connections.
//! - `coalesce FAKE_IOCAGE`: 200 concurrent `listjails` through the CLI
//!   backend, with the fake iocage taking 50 ms per `list`: how many iocage
//!   processes ran, and the latency percentiles.
//! - `layers`: where one `listjails` spends its time, down to the whole
//!   computed wire path (reply cache off), best of 10 batches.
//! - `attacks SYSADMD_BINARY`: a legitimate authenticated REST client's
//!   `listjails` latency (p50/p99) and the daemon's peak resident size, with
//!   no attack and under each attack of issue 16 (ping flood, slot churn,
//!   login flood), from other loopback addresses, side by side in one run.
//!   Each attack runs in a process of its own (`attacker NAME ADDR CPU`),
//!   once in Linux's `SCHED_IDLE`, standing for machines elsewhere on the
//!   network (`remote`, the rows with a target), and once at the daemon's
//!   priority (`shared`, comparison).
//! - `actions SYSADMD_BINARY FAKE_IOCAGE`: every action through
//!   `sysadmd --backend cli` over fake-iocage with a 300 ms start-up cost per
//!   run, per flavour, cold (past the inventory's freshness window) and warm
//!   (right after a `listjails`): the iocage runs and wall time of each,
//!   beside the reference server's one run per request; and 50 concurrent
//!   `listjails`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "benchmark password";
const REST_CONNECTIONS: usize = 64;
const WS_IN_FLIGHT: usize = 32;
const WS_CONNECTIONS: usize = 100;
const IDLE_CONNECTIONS: usize = 1000;
const JAILS: usize = 100;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The attacker takes its scheduling before its runtime starts, so that
    // every worker thread inherits it (on Linux it is per thread).
    if let [command, _, _, cpu] = args.as_slice()
        && command == "attacker"
    {
        AttackerCpu::parse(cpu)?.apply()?;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(&args))
}

async fn run(args: &[String]) -> Result<()> {
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["rest", seconds] => rest(Duration::from_secs_f64(seconds.parse()?), Cache::On).await,
        ["rest", seconds, "uncached"] => {
            rest(Duration::from_secs_f64(seconds.parse()?), Cache::Off).await
        }
        ["ws", seconds] => ws(Duration::from_secs_f64(seconds.parse()?), Cache::On).await,
        ["ws", seconds, "uncached"] => {
            ws(Duration::from_secs_f64(seconds.parse()?), Cache::Off).await
        }
        ["memory", binary] => memory(binary).await,
        ["layers"] => layers().await,
        ["coalesce", fake] => coalesce(fake).await,
        ["attacks", binary, only @ ..] => attacks(binary, only).await,
        ["attacker", name, addr, _cpu] => attacker(name, addr).await,
        ["actions", binary, fake] => actions(binary, fake).await,
        ["events"] => events(),
        _ => bail!(
            "usage: sysadmd-bench rest SECONDS [uncached] | ws SECONDS [uncached] | memory SYSADMD_BINARY | layers | coalesce FAKE_IOCAGE | attacks SYSADMD_BINARY | attacker NAME ADDR remote|shared | actions SYSADMD_BINARY FAKE_IOCAGE | events"
        ),
    }
}

/// Whether the service may answer repeated reads from their serialized
/// reply (it does on the simulated host), or computes each one (as it must
/// on a real host, which changes by itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cache {
    On,
    Off,
}

/// An in-process sysadmd on the in-memory simulated host, plaintext, port 0.
struct Daemon {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _state: tempfile::TempDir,
}

async fn start_sysadmd(cache: Cache) -> Result<Daemon> {
    let state = tempfile::tempdir()?;
    let args = sysadmd::ServeArgs {
        listen: vec!["127.0.0.1:0".parse()?],
        state_dir: Some(state.path().to_owned()),
        plaintext: true,
        ..sysadmd::ServeArgs::default()
    };
    let mut config = sysadmd::Config::resolve(&args)?;
    config.limits.max_connections = 4 * IDLE_CONNECTIONS;
    let options = sysadmd::StartOptions {
        backend: Some(Arc::new(match cache {
            Cache::On => iocage_service::SimBackend::in_memory(),
            Cache::Off => iocage_service::SimBackend::in_memory().without_generation(),
        })),
        admin_password: Some(PASSWORD.to_owned()),
        ..sysadmd::StartOptions::default()
    };
    let started = sysadmd::start(&config, options).await?;
    let addr = started.server.local_addrs()[0];
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(started.server.run(async {
        let _ = stopped.await;
    }));
    let daemon = Daemon {
        addr,
        stop,
        task,
        _state: state,
    };
    let mut sender = connect_http(daemon.addr).await?;
    for index in 0..JAILS {
        let body = json!({"action": "createjail", "props": format!("tag=jail{index} release=10.2-RELEASE")});
        let (status, reply) = put(&mut sender, &basic(), &body.to_string()).await?;
        if status != 200 {
            bail!(
                "seeding jail {index}: HTTP {status}: {}",
                String::from_utf8_lossy(&reply)
            );
        }
    }
    Ok(daemon)
}

impl Daemon {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

fn basic() -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"));
    format!("Basic {encoded}")
}

async fn connect_http(addr: SocketAddr) -> Result<http1::SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn put(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    authorization: &str,
    body: &str,
) -> Result<(u16, Bytes)> {
    let request = hyper::Request::builder()
        .method("PUT")
        .uri("/sysadm/iocage")
        .header("host", "localhost")
        .header("authorization", authorization)
        .body(Full::new(Bytes::from(body.to_owned())))?;
    sender.ready().await.context("the connection closed")?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// A minimal hyper server answering every request with `body`.
async fn baseline_http(body: Bytes) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                break;
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let body = body.clone();
                        async move {
                            // Read the request body, as any server must.
                            let _ = request.into_body().collect().await;
                            let response = hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(body))
                                .expect("static response");
                            Ok::<_, Infallible>(response)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, task))
}

/// Requests per second over `connections` keep-alive connections for `duration`.
async fn rest_load(addr: SocketAddr, connections: usize, duration: Duration) -> Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for _ in 0..connections {
        senders.push(connect_http(addr).await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut sender in senders {
        let (done, stop) = (done.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let authorization = basic();
            while !stop.load(Ordering::Relaxed) {
                let (status, _) =
                    put(&mut sender, &authorization, r#"{"action": "listjails"}"#).await?;
                if status != 200 {
                    bail!("HTTP {status} under load");
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    for task in tasks {
        task.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64())
}

async fn rest(duration: Duration, cache: Cache) -> Result<()> {
    let daemon = start_sysadmd(cache).await?;
    let mut sender = connect_http(daemon.addr).await?;
    let (_, body) = put(&mut sender, &basic(), r#"{"action": "listjails"}"#).await?;
    let listed = serde_json::from_slice::<Value>(&body)?["args"]["listjails"]
        .as_object()
        .map_or(0, |jails| jails.len());
    if listed != JAILS {
        bail!("expected {JAILS} jails, listjails gave {listed}");
    }
    let (baseline_addr, baseline) = baseline_http(body.clone()).await?;
    // Warm both up, then measure each under the same load.
    rest_load(daemon.addr, REST_CONNECTIONS, Duration::from_millis(500)).await?;
    rest_load(baseline_addr, REST_CONNECTIONS, Duration::from_millis(500)).await?;
    let sysadmd_rps = rest_load(daemon.addr, REST_CONNECTIONS, duration).await?;
    let baseline_rps = rest_load(baseline_addr, REST_CONNECTIONS, duration).await?;
    baseline.abort();
    daemon.stop().await;
    println!(
        "{}",
        json!({
            "bench": "rest", "connections": REST_CONNECTIONS, "body_bytes": body.len(),
            "cached": cache == Cache::On,
            "sysadmd_per_sec": sysadmd_rps, "baseline_per_sec": baseline_rps,
            "ratio": sysadmd_rps / baseline_rps, "target": 0.5,
        })
    );
    Ok(())
}

type WsStream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn ws_connect(addr: SocketAddr) -> Result<WsStream> {
    let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/")).await?;
    Ok(socket)
}

/// Sends `message` and returns the next text reply.
async fn ws_call(socket: &mut WsStream, message: &Value) -> Result<Value> {
    socket.send(Message::text(message.to_string())).await?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(text.as_str())?),
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
            None => bail!("connection closed"),
        }
    }
}

async fn login_token(addr: SocketAddr) -> Result<String> {
    let mut socket = ws_connect(addr).await?;
    let reply = ws_call(
        &mut socket,
        &json!({"namespace": "rpc", "name": "auth", "id": "login",
                "args": {"username": "admin", "password": PASSWORD}}),
    )
    .await?;
    reply["args"][0]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("login failed: {reply}"))
}

/// A connection logged in with `token` (sysadmd) or greeted (baseline).
async fn ws_session(addr: SocketAddr, token: &str) -> Result<WsStream> {
    let mut socket = ws_connect(addr).await?;
    let reply = ws_call(
        &mut socket,
        &json!({"namespace": "rpc", "name": "auth_token", "id": "t", "args": {"token": token}}),
    )
    .await?;
    if reply["name"] == "error" {
        bail!("auth_token failed: {reply}");
    }
    Ok(socket)
}

fn listjails(id: u64) -> Message {
    Message::text(
        json!({"namespace": "sysadm", "name": "iocage", "id": id.to_string(), "args": {"action": "listjails"}})
            .to_string(),
    )
}

/// Round trips per second: `connections` sessions, each keeping `in_flight` requests outstanding.
async fn ws_load(
    addr: SocketAddr,
    token: &str,
    connections: usize,
    in_flight: usize,
    duration: Duration,
) -> Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut sessions = Vec::new();
    for _ in 0..connections {
        sessions.push(ws_session(addr, token).await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for socket in sessions {
        let (done, stop) = (done.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let (mut sink, mut stream) = socket.split();
            let (more, mut wanted) = mpsc::unbounded_channel::<()>();
            let writer = tokio::spawn(async move {
                let mut id = 0u64;
                while wanted.recv().await.is_some() {
                    id += 1;
                    if sink.send(listjails(id)).await.is_err() {
                        break;
                    }
                }
                let _ = sink.close().await;
            });
            for _ in 0..in_flight {
                let _ = more.send(());
            }
            let mut outstanding = in_flight;
            while outstanding > 0 {
                match stream.next().await {
                    Some(Ok(Message::Text(_))) => {
                        done.fetch_add(1, Ordering::Relaxed);
                        if stop.load(Ordering::Relaxed) {
                            outstanding -= 1;
                        } else {
                            let _ = more.send(());
                        }
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => return Err(anyhow::Error::from(error)),
                    None => bail!("connection closed under load"),
                }
            }
            drop(more);
            let _ = writer.await;
            Ok(())
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    for task in tasks {
        task.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64())
}

/// A minimal tungstenite server answering every text message with `reply`.
async fn baseline_ws(reply: String) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                break;
            };
            let _ = stream.set_nodelay(true);
            let reply = reply.clone();
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_text() && socket.send(Message::text(reply.clone())).await.is_err()
                    {
                        break;
                    }
                }
            });
        }
    });
    Ok((addr, task))
}

async fn ws(duration: Duration, cache: Cache) -> Result<()> {
    let daemon = start_sysadmd(cache).await?;
    let token = login_token(daemon.addr).await?;
    let mut probe = ws_session(daemon.addr, &token).await?;
    probe.send(listjails(0)).await?;
    let reply = loop {
        if let Some(Ok(Message::Text(text))) = probe.next().await {
            break text.as_str().to_owned();
        }
    };
    let (baseline_addr, baseline) = baseline_ws(reply.clone()).await?;
    for (connections, in_flight) in [(1, WS_IN_FLIGHT), (WS_CONNECTIONS, 1)] {
        ws_load(
            daemon.addr,
            &token,
            connections,
            in_flight,
            Duration::from_millis(500),
        )
        .await?;
        ws_load(
            baseline_addr,
            &token,
            connections,
            in_flight,
            Duration::from_millis(500),
        )
        .await?;
        let sysadmd_rate = ws_load(daemon.addr, &token, connections, in_flight, duration).await?;
        let baseline_rate =
            ws_load(baseline_addr, &token, connections, in_flight, duration).await?;
        println!(
            "{}",
            json!({
                "bench": "ws", "connections": connections, "in_flight": in_flight,
                "reply_bytes": reply.len(), "cached": cache == Cache::On,
                "sysadmd_per_sec": sysadmd_rate, "baseline_per_sec": baseline_rate,
                "ratio": sysadmd_rate / baseline_rate, "target": 0.5,
            })
        );
    }
    baseline.abort();
    daemon.stop().await;
    Ok(())
}

/// Resident set size of `pid`, in KiB.
fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

async fn memory(binary: &str) -> Result<()> {
    let daemon = DaemonProcess::spawn(binary, "warn")?;
    let (addr, pid) = (daemon.addr, daemon.child.id());
    let result = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = rss_kib(pid)?;
        let token = login_token(addr).await?;
        let mut sessions = Vec::with_capacity(IDLE_CONNECTIONS);
        for _ in 0..IDLE_CONNECTIONS {
            sessions.push(ws_session(addr, &token).await?);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let loaded = rss_kib(pid)?;
        drop(sessions);
        anyhow::Ok((idle, loaded))
    }
    .await;
    drop(daemon);
    let (idle, loaded) = result?;
    println!(
        "{}",
        json!({"bench": "memory", "idle_mib": idle as f64 / 1024.0, "idle_target_mib": 15,
               "connections": IDLE_CONNECTIONS, "loaded_mib": loaded as f64 / 1024.0, "loaded_target_mib": 64})
    );
    Ok(())
}

/// Where the time of one REST `listjails` goes (one core, no network): the
/// typed service alone; the typed reply turned into a JSON value, that into
/// bytes, and the typed reply straight into bytes; and the whole computed
/// wire path, `handle_json` on a host without a generation (no reply cache)
/// and the REST body written around its reply, as sysadmd sends it. Each
/// figure is the best of [`LAYER_BATCHES`] batches: the least disturbed by
/// other work on the machine.
async fn layers() -> Result<()> {
    use iocage_service::{Caller, IocageService, SimBackend};
    use sysadm_proto::IocageRequest;
    let typed = IocageService::new(Arc::new(SimBackend::in_memory()));
    let computed = IocageService::new(Arc::new(SimBackend::in_memory().without_generation()));
    let caller = Caller {
        user: "admin".into(),
        peer: None,
    };
    for service in [&typed, &computed] {
        for index in 0..JAILS {
            let args = json!({"action": "createjail", "props": format!("tag=jail{index} release=10.2-RELEASE")});
            service
                .handle(IocageRequest::from_args(&args)?, &caller)
                .await
                .map_err(|error| anyhow::anyhow!("{error:?}"))?;
        }
    }
    let args = json!({"action": "listjails"});
    let report = |label: &str, each: Duration| {
        println!(
            "{}",
            json!({"bench": "layers", "layer": label, "micros_each": each.as_secs_f64() * 1e6})
        );
    };
    let mut best = Duration::MAX;
    for _ in 0..LAYER_BATCHES {
        let started = Instant::now();
        for _ in 0..LAYER_ROUNDS {
            let reply = typed
                .handle(IocageRequest::from_args(&args)?, &caller)
                .await;
            std::hint::black_box(reply.map_err(|error| anyhow::anyhow!("{error:?}"))?);
        }
        best = best.min(started.elapsed() / LAYER_ROUNDS);
    }
    report("service", best);
    let reply = typed
        .handle(IocageRequest::from_args(&args)?, &caller)
        .await
        .map_err(|error| anyhow::anyhow!("{error:?}"))?;
    let value = serde_json::to_value(&reply)?;
    report(
        "to_value",
        best_of(|| {
            std::hint::black_box(serde_json::to_value(&reply).expect("serializes"));
        }),
    );
    report(
        "value_to_bytes",
        best_of(|| {
            std::hint::black_box(serde_json::to_vec(&json!({"args": &value})).expect("serializes"));
        }),
    );
    report(
        "direct_to_bytes",
        best_of(|| {
            std::hint::black_box(serde_json::to_vec(&reply).expect("serializes"));
        }),
    );
    let mut best = Duration::MAX;
    for _ in 0..LAYER_BATCHES {
        let started = Instant::now();
        for _ in 0..LAYER_ROUNDS {
            let request = IocageRequest::from_args(&args)?;
            let reply = computed
                .handle_json(request, &caller)
                .await
                .map_err(|error| anyhow::anyhow!("{error:?}"))?;
            let body = serde_json::to_vec(&sysadm_proto::RestBody { args: &*reply })?;
            std::hint::black_box(Bytes::from(body));
        }
        best = best.min(started.elapsed() / LAYER_ROUNDS);
    }
    report("computed_wire_path", best);
    Ok(())
}

/// Batches of [`LAYER_ROUNDS`] rounds each that `layers` times.
const LAYER_BATCHES: u32 = 10;
const LAYER_ROUNDS: u32 = 200;

/// The time of one `round`, best of [`LAYER_BATCHES`].
fn best_of(mut round: impl FnMut()) -> Duration {
    (0..LAYER_BATCHES)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..LAYER_ROUNDS {
                round();
            }
            started.elapsed() / LAYER_ROUNDS
        })
        .min()
        .expect("at least one batch")
}

/// The cost of `seq` and of keeping events on disk (issue 20): a burst of
/// 1,000 changes (2,000 `dispatcher` events, as jobs publish them) through
/// the event hub kept in memory only, on disk without fsync, and on disk
/// with an fsync per event (the default). One line per mode.
fn events() -> Result<()> {
    use sysadm_proto::{DispatcherEvent, EventKind, EventMessage, JobState};
    const CHANGES: u64 = 1000;
    let dir = tempfile::tempdir()?;
    let settings = |fsync| sysadmd::EventSettings {
        fsync,
        ..sysadmd::EventSettings::default()
    };
    let hubs = [
        ("memory", sysadmd::EventHub::in_memory(settings(false))),
        (
            "disk",
            sysadmd::EventHub::persistent(&dir.path().join("nosync.jsonl"), settings(false))?,
        ),
        (
            "disk+fsync",
            sysadmd::EventHub::persistent(&dir.path().join("fsync.jsonl"), settings(true))?,
        ),
    ];
    for (mode, hub) in hubs {
        let started = Instant::now();
        for job in 0..CHANGES {
            let mut event = DispatcherEvent {
                process_id: format!("job-{job}"),
                state: JobState::Running,
                action: "createjail".into(),
                target: Some(format!("tag=jail{job}")),
                user: "admin".into(),
                started: "2026-12-02T14:00:00.000Z".into(),
                finished: None,
                duration_ms: None,
                outcome: None,
                progress: None,
            };
            hub.publish(
                EventKind::Dispatcher,
                &EventMessage::new("dispatcher", &event),
            );
            event.state = JobState::Finished;
            event.finished = Some("2026-12-02T14:00:00.001Z".into());
            event.duration_ms = Some(1);
            hub.publish(
                EventKind::Dispatcher,
                &EventMessage::new("dispatcher", &event),
            );
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{}",
            json!({"bench": "events", "mode": mode, "changes": CHANGES, "events": 2 * CHANGES,
                   "events_per_sec": (2 * CHANGES) as f64 / seconds})
        );
    }
    Ok(())
}

/// 200 concurrent identical reads through the CLI backend and a slow fake iocage.
async fn coalesce(fake: &str) -> Result<()> {
    use iocage_service::{Caller, CliBackend, Flavour, IocageService, Runner};
    use sysadm_proto::IocageRequest;
    const READS: usize = 200;
    let host = tempfile::tempdir()?;
    let log = host.path().join("argv.log");
    let runner = Runner::new(fake)
        .timeout(Duration::from_secs(30))
        .env("FAKE_IOCAGE_STATE", host.path().join("state.json"))
        .env("FAKE_IOCAGE_LOG", &log)
        .env("FAKE_IOCAGE_FAULT", "slow")
        .env("FAKE_IOCAGE_FAULT_ON", "list")
        .env("FAKE_IOCAGE_DELAY_MS", "50");
    let service = IocageService::new(Arc::new(CliBackend::new(runner, Some(Flavour::Legacy))));
    let caller = Caller {
        user: "admin".into(),
        peer: None,
    };
    for index in 0..10 {
        let args = json!({"action": "createjail", "props": format!("tag=jail{index} release=10.2-RELEASE")});
        service
            .handle(IocageRequest::from_args(&args)?, &caller)
            .await
            .map_err(|error| anyhow::anyhow!("seeding: {error:?}"))?;
    }
    let before = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .count();
    let request = IocageRequest::from_args(&json!({"action": "listjails"}))?;
    let barrier = Arc::new(tokio::sync::Barrier::new(READS));
    let mut tasks = Vec::new();
    for _ in 0..READS {
        let (service, caller, request, barrier) = (
            service.clone(),
            caller.clone(),
            request.clone(),
            barrier.clone(),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let started = Instant::now();
            let reply = service.handle(request, &caller).await;
            (started.elapsed(), reply.is_ok())
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        let (elapsed, ok) = task.await?;
        if !ok {
            bail!("a listjails failed");
        }
        latencies.push(elapsed);
    }
    latencies.sort();
    let runs = std::fs::read_to_string(&log)?.lines().skip(before).count();
    let percentile = |p: usize| {
        latencies[(latencies.len() * p / 100).min(latencies.len() - 1)].as_secs_f64() * 1e3
    };
    println!(
        "{}",
        json!({"bench": "coalesce", "reads": READS, "iocage_processes": runs, "target_processes": 3,
               "p50_ms": percentile(50), "p99_ms": percentile(99), "fake_delay_ms": 50})
    );
    Ok(())
}

/// Seconds each attack scenario lasts.
const ATTACK_SECONDS: u64 = 5;

/// A fresh TCP connection to `addr` from `source`.
async fn connect_from(source: std::net::IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind((source, 0).into())?;
    socket.connect(addr).await
}

const UPGRADE: &[u8] =
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Pings as fast as possible without reading, reconnecting when closed.
async fn ping_flooder(addr: SocketAddr, source: std::net::IpAddr, stop: Arc<AtomicBool>) {
    use tokio::io::AsyncWriteExt;
    let mask = [1u8, 2, 3, 4];
    let mut ping = vec![0x89, 0x80 | 125];
    ping.extend_from_slice(&mask);
    ping.extend((0..125).map(|i| 0x55 ^ mask[i % 4]));
    let batch: Vec<u8> = ping.iter().copied().cycle().take(ping.len() * 64).collect();
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = connect_from(source, addr).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if stream.write_all(UPGRADE).await.is_err() {
            continue;
        }
        while !stop.load(Ordering::Relaxed) {
            match tokio::time::timeout(Duration::from_millis(500), stream.write_all(&batch)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {}
            }
        }
    }
}

/// Opens WebSocket upgrades that never log in, reopening as they close.
async fn churner(addr: SocketAddr, source: std::net::IpAddr, stop: Arc<AtomicBool>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = connect_from(source, addr).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let _ = stream.write_all(UPGRADE).await;
        let mut sink = [0; 1024];
        while !stop.load(Ordering::Relaxed) {
            let read = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut sink));
            if let Ok(Ok(0) | Err(_)) = read.await {
                break;
            }
        }
    }
}

/// Fails REST logins with Basic credentials, a new connection and a new
/// source address each time.
async fn login_flooder(addr: SocketAddr, first: u32, stop: Arc<AtomicBool>) {
    let wrong = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:guess")
    );
    let mut n = first;
    while !stop.load(Ordering::Relaxed) {
        n = n.wrapping_add(1);
        let source = std::net::IpAddr::from([127, 2, (n >> 8) as u8, n as u8]);
        let Ok(stream) = connect_from(source, addr).await else {
            continue;
        };
        let Ok((mut sender, connection)) = http1::handshake(TokioIo::new(stream)).await else {
            continue;
        };
        tokio::spawn(connection);
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            put(&mut sender, &wrong, r#"{"action": "listjails"}"#),
        )
        .await;
    }
}

#[derive(Debug, Clone, Copy)]
enum Attack {
    None,
    PingFlood,
    SlotChurn,
    LoginFlood,
}

impl Attack {
    fn name(self) -> &'static str {
        match self {
            Attack::None => "none",
            Attack::PingFlood => "ping flood",
            Attack::SlotChurn => "slot churn",
            Attack::LoginFlood => "login flood",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Attack::None => "no attack",
            Attack::PingFlood => {
                "64 unauthenticated WebSockets sending pings without reading, from 16 addresses"
            }
            Attack::SlotChurn => {
                "1,100 WebSocket upgrades that never log in, reopened as they close, from 20 addresses"
            }
            Attack::LoginFlood => "48 clients failing Basic logins, a new source address each time",
        }
    }

    fn parse(name: &str) -> Option<Attack> {
        [
            Attack::None,
            Attack::PingFlood,
            Attack::SlotChurn,
            Attack::LoginFlood,
        ]
        .into_iter()
        .find(|attack| attack.name() == name)
    }

    fn launch(self, addr: SocketAddr, stop: &Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<()>> {
        let stop = || stop.clone();
        match self {
            Attack::None => Vec::new(),
            Attack::PingFlood => (0..64u8)
                .map(|n| tokio::spawn(ping_flooder(addr, [127, 0, 3, 1 + n % 16].into(), stop())))
                .collect(),
            Attack::SlotChurn => (0..1100u32)
                .map(|n| {
                    tokio::spawn(churner(
                        addr,
                        [127, 0, 4, 1 + (n % 20) as u8].into(),
                        stop(),
                    ))
                })
                .collect(),
            Attack::LoginFlood => (0..48u32)
                .map(|n| tokio::spawn(login_flooder(addr, n * 1000, stop())))
                .collect(),
        }
    }
}

/// How the attacker's process is scheduled beside the daemon and the
/// legitimate client, which share this machine's cores with it.
#[derive(Debug, Clone, Copy)]
enum AttackerCpu {
    /// In Linux's `SCHED_IDLE` policy: it stands for machines elsewhere on
    /// the network, whose CPU time is not the server's. (At nice 19 it would
    /// still keep a core for the rest of its time slice when the daemon
    /// wakes, a delay no remote attacker causes.)
    Remote,
    /// At the same priority as the daemon: the attacker's own CPU use shows
    /// in the legitimate client's latency too (a comparison, no target).
    Shared,
}

impl AttackerCpu {
    fn name(self) -> &'static str {
        match self {
            AttackerCpu::Remote => "remote",
            AttackerCpu::Shared => "shared",
        }
    }

    fn parse(name: &str) -> Result<AttackerCpu> {
        [AttackerCpu::Remote, AttackerCpu::Shared]
            .into_iter()
            .find(|cpu| cpu.name() == name)
            .with_context(|| format!("attacker CPU {name:?}: remote or shared"))
    }

    /// Schedules the calling thread (and the threads it starts from now on).
    fn apply(self) -> Result<()> {
        if let AttackerCpu::Remote = self {
            #[cfg(target_os = "linux")]
            {
                use thread_priority::unix::{
                    NormalThreadSchedulePolicy, ThreadSchedulePolicy,
                    set_thread_priority_and_policy, thread_native_id,
                };
                set_thread_priority_and_policy(
                    thread_native_id(),
                    thread_priority::ThreadPriority::Min,
                    ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
                )
                .map_err(|error| anyhow::anyhow!("cannot enter SCHED_IDLE: {error:?}"))?;
            }
            #[cfg(not(target_os = "linux"))]
            bail!("the remote attacker needs Linux's SCHED_IDLE");
        }
        Ok(())
    }
}

/// `sysadmd-bench attacker NAME ADDR CPU`: runs one attack until stdin
/// closes (the parent's end of the pipe, also when the parent dies). Its
/// scheduling ([`AttackerCpu::apply`]) was set before the runtime started.
async fn attacker(name: &str, addr: &str) -> Result<()> {
    let attack = Attack::parse(name).with_context(|| format!("no attack named {name:?}"))?;
    let addr: SocketAddr = addr.parse()?;
    raise_file_limit();
    let stop = Arc::new(AtomicBool::new(false));
    let attackers = attack.launch(addr, &stop);
    tokio::task::spawn_blocking(|| std::io::Read::read(&mut std::io::stdin(), &mut [0; 1]))
        .await?
        .ok();
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.abort();
    }
    Ok(())
}

/// Runs `attack` in a process of its own (see [`attacker`]), ended by
/// dropping the returned child's stdin.
fn spawn_attacker(
    attack: Attack,
    addr: SocketAddr,
    cpu: AttackerCpu,
) -> Result<std::process::Child> {
    std::process::Command::new(std::env::current_exe()?)
        .args(["attacker", attack.name(), &addr.to_string(), cpu.name()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("cannot start the attacker process")
}

/// The release `sysadmd` as a process of its own on the simulated host, in a
/// state directory of its own; killed when dropped.
struct DaemonProcess {
    child: std::process::Child,
    addr: SocketAddr,
    _state: tempfile::TempDir,
}

impl DaemonProcess {
    /// On the simulated host.
    fn spawn(binary: &str, rust_log: &str) -> Result<DaemonProcess> {
        Self::spawn_backend(binary, rust_log, &["--backend", "sim"], &[])
    }

    /// With these backend arguments, and this environment added (for
    /// fake-iocage, which it passes on to the iocage it runs).
    fn spawn_backend(
        binary: &str,
        rust_log: &str,
        backend: &[&str],
        env: &[(&str, std::ffi::OsString)],
    ) -> Result<DaemonProcess> {
        use std::io::BufRead;
        let state = tempfile::tempdir()?;
        let mut child = std::process::Command::new(binary)
            .args(["--plaintext", "--listen", "127.0.0.1:0"])
            .args(backend)
            .arg("--state-dir")
            .arg(state.path())
            .envs(env.iter().map(|(key, value)| (key, value)))
            .env("SYSADMD_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", rust_log)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("cannot run {binary}"))?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let addr: SocketAddr = loop {
            let line = lines.next().context("sysadmd exited before listening")??;
            if let Some(rest) = line.strip_prefix("listening on http://") {
                break rest.split('/').next().context("address")?.parse()?;
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Ok(DaemonProcess {
            child,
            addr,
            _state: state,
        })
    }

    /// Creates the jails every `listjails` of the attack scenarios lists.
    async fn with_jails(self) -> Result<DaemonProcess> {
        let mut sender = connect_http(self.addr).await?;
        for index in 0..JAILS {
            let body = json!({"action": "createjail", "props": format!("tag=jail{index} release=10.2-RELEASE")});
            put(&mut sender, &basic(), &body.to_string()).await?;
        }
        Ok(self)
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One attack scenario against a fresh daemon (so that no scenario's memory
/// or state carries into the next): the legitimate client's latencies.
async fn attack_scenario(binary: &str, attack: Attack, cpu: AttackerCpu) -> Result<Value> {
    let daemon = DaemonProcess::spawn(binary, "error")?.with_jails().await?;
    let (addr, pid) = (daemon.addr, daemon.child.id());
    // The legitimate client: logged in before (credentials cached), keep-alive.
    let mut sender = connect_http(addr).await?;
    put(&mut sender, &basic(), r#"{"action": "listjails"}"#).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut attacker = match attack {
        Attack::None => None,
        _ => Some(spawn_attacker(attack, addr, cpu)?),
    };
    // Let the attack build up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let peak = Arc::new(AtomicU64::new(rss_kib(pid)?));
    let sampler = {
        let peak = peak.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(rss) = rss_kib(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let mut latencies = Vec::new();
    let mut failures = 0;
    let end = Instant::now() + Duration::from_secs(ATTACK_SECONDS);
    while Instant::now() < end {
        let started = Instant::now();
        let answered = tokio::time::timeout(
            Duration::from_secs(10),
            put(&mut sender, &basic(), r#"{"action": "listjails"}"#),
        )
        .await;
        match answered {
            Ok(Ok((200, _))) => {}
            _ => {
                failures += 1;
                sender = connect_http(addr).await?;
            }
        }
        latencies.push(started.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    if let Some(mut attacker) = attacker.take() {
        drop(attacker.stdin.take());
        let _ = attacker.wait();
    }
    latencies.sort();
    let percentile = |p: usize| {
        latencies[(latencies.len() * p / 100).min(latencies.len() - 1)].as_secs_f64() * 1e3
    };
    Ok(json!({
        "bench": "attack", "attack": attack.name(), "describe": attack.describe(),
        "attacker": cpu.name(), "target": matches!(cpu, AttackerCpu::Remote),
        "requests": latencies.len(), "failures": failures,
        "p50_ms": percentile(50), "p99_ms": percentile(99),
        "peak_rss_mib": peak.load(Ordering::Relaxed) as f64 / 1024.0,
        "rss_target_mib": 128, "p99_target_ratio": 10,
    }))
}

/// `attacks SYSADMD [ATTACK...]`: every scenario, or only the attacks
/// named (by [`Attack::name`]; the no-attack baseline always runs first).
async fn attacks(binary: &str, only: &[&str]) -> Result<()> {
    raise_file_limit();
    for name in only {
        anyhow::ensure!(
            Attack::parse(name).is_some(),
            "unknown attack {name:?}: ping flood, slot churn or login flood"
        );
    }
    let wanted = |attack: &Attack| only.is_empty() || only.contains(&attack.name());
    let scenarios = [(Attack::None, AttackerCpu::Remote)].into_iter().chain(
        [AttackerCpu::Remote, AttackerCpu::Shared]
            .into_iter()
            .flat_map(|cpu| {
                [Attack::PingFlood, Attack::SlotChurn, Attack::LoginFlood]
                    .map(|attack| (attack, cpu))
            })
            .filter(|(attack, _)| wanted(attack)),
    );
    let mut rows = Vec::new();
    for (attack, cpu) in scenarios {
        rows.push(attack_scenario(binary, attack, cpu).await?);
    }
    let base = rows[0]["p99_ms"].as_f64().unwrap_or(f64::NAN);
    for mut row in rows {
        let ratio = row["p99_ms"].as_f64().unwrap_or(f64::NAN) / base;
        row["p99_ratio"] = json!(ratio);
        println!("{row}");
    }
    Ok(())
}

/// The start-up cost fake-iocage is given for every run in `actions`: what
/// a Python iocage spends before doing anything (an interpreter, `sysctl`,
/// libzfs), at the low end of what users measure.
const IOCAGE_STARTUP_MS: u64 = 300;

/// `actions SYSADMD FAKE_IOCAGE`: every API action through the release
/// `sysadmd --backend cli` over fake-iocage, which takes
/// [`IOCAGE_STARTUP_MS`] for every run, per flavour, once cold and once warm
/// (see [`Inventory`]), each pass on a fresh host: the iocage runs each
/// action cost (the `listjails` that warms is not counted) and its wall
/// time; then 50 concurrent identical `listjails`. The reference server ran
/// exactly one iocage command per request.
async fn actions(binary: &str, fake: &str) -> Result<()> {
    // (action, arguments, iocage runs of the reference server for it)
    let script: [(&str, Value, u32); 19] = [
        ("activatepool", json!({"action": "activatepool"}), 1),
        ("listjails", json!({"action": "listjails"}), 1),
        (
            "createjail",
            json!({"action": "createjail", "props": "tag=web1 release=10.2-RELEASE"}),
            1,
        ),
        (
            "clonejail",
            json!({"action": "clonejail", "jail": "web1", "props": "tag=web2"}),
            1,
        ),
        (
            "getjailsettings",
            json!({"action": "getjailsettings", "jail": "web1", "prop": "all"}),
            1,
        ),
        (
            "getdefaultsettings",
            json!({"action": "getdefaultsettings"}),
            1,
        ),
        (
            "startjail",
            json!({"action": "startjail", "jail": "web1"}),
            1,
        ),
        (
            "execjail",
            json!({"action": "execjail", "jail": "web1", "command": "echo hi"}),
            1,
        ),
        ("stopjail", json!({"action": "stopjail", "jail": "web1"}), 1),
        ("capjail", json!({"action": "capjail", "jail": "web1"}), 1),
        ("df", json!({"action": "df"}), 1),
        ("listreleases", json!({"action": "listreleases"}), 2),
        ("listplugins", json!({"action": "listplugins"}), 1),
        (
            "destroyjail",
            json!({"action": "destroyjail", "jail": "web2"}),
            1,
        ),
        ("cleantemplates", json!({"action": "cleantemplates"}), 1),
        ("cleanjails", json!({"action": "cleanjails"}), 1),
        ("cleanreleases", json!({"action": "cleanreleases"}), 1),
        ("cleanall", json!({"action": "cleanall"}), 1),
        (
            "deactivatepool",
            json!({"action": "deactivatepool", "pool": "tank"}),
            1,
        ),
    ];
    for flavour in ["legacy", "python"] {
        for inventory in [Inventory::Cold, Inventory::Warm] {
            let daemon = ActionsDaemon::spawn(binary, fake, flavour)?;
            let mut sender = connect_http(daemon.process.addr).await?;
            // The first request pays the password hash; not part of any action.
            put(&mut sender, &basic(), r#"{"action": "getdefaultsettings"}"#).await?;
            for (action, args, reference) in &script {
                match inventory {
                    // Past sysadmd's freshness window (`iocage_inventory_ttl_ms`).
                    Inventory::Cold => tokio::time::sleep(INVENTORY_WINDOW).await,
                    // What a client does before acting: it lists.
                    Inventory::Warm => {
                        put(&mut sender, &basic(), r#"{"action": "listjails"}"#).await?;
                    }
                }
                let before = daemon.runs();
                let started = Instant::now();
                let (status, body) = put(&mut sender, &basic(), &args.to_string()).await?;
                let wall = started.elapsed();
                let ran = daemon.runs() - before;
                println!(
                    "{}",
                    json!({"bench": "action", "flavour": flavour, "inventory": inventory.name(),
                           "action": action, "status": status,
                           "iocage_runs": ran, "reference_runs": reference,
                           "wall_ms": wall.as_secs_f64() * 1e3, "iocage_startup_ms": IOCAGE_STARTUP_MS,
                           "reply": String::from_utf8_lossy(&body).chars().take(200).collect::<String>()})
                );
            }
            if inventory == Inventory::Warm {
                concurrent_reads(&daemon, &mut sender, flavour).await?;
            }
        }
    }
    Ok(())
}

/// Whether an action in `actions` finds sysadmd's inventory of jails fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inventory {
    /// The freshness window has passed since the last listing.
    Cold,
    /// A `listjails` just before, as a client that lists and then acts.
    Warm,
}

impl Inventory {
    fn name(self) -> &'static str {
        match self {
            Inventory::Cold => "cold",
            Inventory::Warm => "warm",
        }
    }
}

/// Longer than sysadmd's default `iocage_inventory_ttl_ms` (2000).
const INVENTORY_WINDOW: Duration = Duration::from_millis(2100);

/// `sysadmd --backend cli` over a fresh fake host whose runs each take
/// [`IOCAGE_STARTUP_MS`], with the fake's log of its runs.
struct ActionsDaemon {
    process: DaemonProcess,
    log: std::path::PathBuf,
    _host: tempfile::TempDir,
}

impl ActionsDaemon {
    fn spawn(binary: &str, fake: &str, flavour: &str) -> Result<ActionsDaemon> {
        let host = tempfile::tempdir()?;
        let log = host.path().join("argv.log");
        let env = [
            (
                "FAKE_IOCAGE_STATE",
                host.path().join("state.json").into_os_string(),
            ),
            ("FAKE_IOCAGE_LOG", log.clone().into_os_string()),
            ("FAKE_IOCAGE_FLAVOUR", flavour.into()),
            ("FAKE_IOCAGE_FAULT", "slow".into()),
            ("FAKE_IOCAGE_DELAY_MS", IOCAGE_STARTUP_MS.to_string().into()),
        ];
        let process = DaemonProcess::spawn_backend(
            binary,
            "error",
            &["--backend", "cli", "--iocage", fake],
            &env,
        )?;
        Ok(ActionsDaemon {
            process,
            log,
            _host: host,
        })
    }

    /// The iocage runs so far.
    fn runs(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .count()
    }
}

/// 50 concurrent identical `listjails`: the iocage runs they cost, p50, p99.
async fn concurrent_reads(
    daemon: &ActionsDaemon,
    sender: &mut http1::SendRequest<Full<Bytes>>,
    flavour: &str,
) -> Result<()> {
    // 50 concurrent identical reads, after a change (so none is cached).
    put(
        sender,
        &basic(),
        r#"{"action": "createjail", "props": "tag=web3 release=10.2-RELEASE"}"#,
    )
    .await?;
    let before = daemon.runs();
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (addr, barrier) = (daemon.process.addr, barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut sender = connect_http(addr).await?;
            barrier.wait().await;
            let started = Instant::now();
            let (status, _) = put(&mut sender, &basic(), r#"{"action": "listjails"}"#).await?;
            anyhow::Ok((started.elapsed(), status))
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (elapsed, status) = task.await??;
        failed += usize::from(status != 200);
        latencies.push(elapsed);
    }
    latencies.sort();
    let percentile = |p: usize| {
        latencies[(latencies.len() * p / 100).min(latencies.len() - 1)].as_secs_f64() * 1e3
    };
    println!(
        "{}",
        json!({"bench": "concurrent_reads", "flavour": flavour, "reads": 50, "failed": failed,
                   "iocage_runs": daemon.runs() - before, "target_runs": 2,
                   "p50_ms": percentile(50), "p99_ms": percentile(99), "iocage_startup_ms": IOCAGE_STARTUP_MS})
    );
    Ok(())
}

/// Raises the open-file limit: the attacks hold a few thousand sockets.
fn raise_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}
