//! The WebSocket client: one connection, many requests in flight matched by
//! id, events fanned out to streams, and a supervisor task that reconnects
//! and logs in again when the connection is lost.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sysadm_proto::{
    AuthReply, DispatcherEvent, EVENTS_NAMESPACE, ErrorArgs, EventKind, EventMessage, KeyInfo,
    RPC_NAMESPACE, Request, RequestId, ServerMessage, SubscriptionReply,
};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::transport::{Endpoint, Stream, Trust};

/// How long to wait at most between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How many events are buffered per stream before the oldest are dropped.
const EVENT_BUFFER: usize = 1024;
/// The id of the login request on a fresh connection.
const LOGIN_ID: &str = "sysadm-client-login";
/// The id of the subscription request after a reconnect.
const RESUBSCRIBE_ID: &str = "sysadm-client-resubscribe";

/// Settings of a [`Client`]. `Default` suits interactive tools and scripts.
#[derive(Debug, Clone)]
pub struct Options {
    /// How to trust the server's certificate (ignored for `ws://`).
    pub trust: Trust,
    /// Connecting, the TLS handshake and logging in, together.
    pub connect_timeout: Duration,
    /// How long one request may wait for its reply (including waiting for a reconnect).
    pub request_timeout: Duration,
    /// Most requests in flight at once; more wait their turn.
    pub max_in_flight: usize,
    /// Largest message accepted from the server, in bytes.
    pub max_message_bytes: usize,
    /// A ping is sent this often, so idle connections stay open and dead ones are noticed.
    pub keepalive: Duration,
    /// Whether to reconnect (and log in again) when the connection is lost.
    pub reconnect: bool,
}

impl Default for Options {
    /// System roots, 10 s to connect, 300 s per request (creating a jail
    /// may fetch a release), 32 in flight, 64 MiB messages, a ping every 30 s, reconnect on.
    fn default() -> Self {
        Options {
            trust: Trust::SystemRoots,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(300),
            max_in_flight: 32,
            max_message_bytes: 64 << 20,
            keepalive: Duration::from_secs(30),
            reconnect: true,
        }
    }
}

/// An event from [`Client::events`].
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A job started or finished.
    Dispatcher(DispatcherEvent),
    /// An event of a type this client version does not know, as received.
    Other(EventMessage),
}

/// A live stream of events. Dropping it stops nothing on the server: the
/// connection stays subscribed, and other streams still receive.
#[derive(Debug)]
pub struct EventStream {
    receiver: broadcast::Receiver<EventMessage>,
    kinds: BTreeSet<EventKind>,
}

impl EventStream {
    /// The next event of the kinds asked for; `None` when the client is
    /// closed. [`Error::EventsMissed`] when the stream was not read fast enough.
    pub async fn next(&mut self) -> Option<Result<Event>> {
        loop {
            let message = match self.receiver.recv().await {
                Ok(message) => message,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    return Some(Err(Error::EventsMissed(missed)));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            let kind = self
                .kinds
                .iter()
                .copied()
                .find(|kind| kind.as_str() == message.name);
            match kind {
                Some(EventKind::Dispatcher) => {
                    return Some(
                        serde_json::from_value(message.args.clone())
                            .map(Event::Dispatcher)
                            .map_err(|error| Error::Decode(format!("dispatcher event: {error}"))),
                    );
                }
                // Types the server may accept but never sends (the reference's
                // life-preserver and system-state) come through undecoded.
                Some(EventKind::LifePreserver | EventKind::SystemState) => {
                    return Some(Ok(Event::Other(message)));
                }
                None if self.kinds.is_empty() => return Some(Ok(Event::Other(message))),
                None => continue,
            }
        }
    }
}

type Pending = HashMap<String, (u64, oneshot::Sender<Result<Value>>)>;

#[derive(Debug, Clone)]
struct Conn {
    outbox: mpsc::Sender<Message>,
    generation: u64,
}

/// What the client and its supervisor task share.
#[derive(Debug)]
struct Shared {
    endpoint: Endpoint,
    credentials: Credentials,
    options: Options,
    conn: watch::Sender<Option<Conn>>,
    pending: Mutex<Pending>,
    next_id: AtomicU64,
    in_flight: Semaphore,
    events: broadcast::Sender<EventMessage>,
    subscribed: Mutex<BTreeSet<EventKind>>,
    /// The `seq` of the last event received, when the server numbers its
    /// events (it then keeps them, and a subscription renewed after a
    /// reconnect resumes after this one).
    last_seq: Mutex<Option<u64>>,
    /// Why the last connection attempt failed, to report to calls that waited for it.
    last_error: Mutex<Option<Error>>,
    /// How many times the client has connected (1 after [`Client::connect`]).
    connections: AtomicU64,
    /// Set when the client is closed; the supervisor stops.
    closed: watch::Sender<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.closed.send_replace(true);
    }
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
}

/// A connection to one sysadmd, logged in. Cheap to clone; every clone
/// shares the connection. Dropping the last clone closes it.
///
/// ```no_run
/// # async fn demo() -> sysadm_client::Result<()> {
/// use sysadm_client::{Client, Credentials, Options, Trust};
/// let options = Options {
///     trust: Trust::Fingerprint("AB:CD:...".parse()?),
///     ..Options::default()
/// };
/// let client = Client::connect(
///     "wss://jails.example:12150/",
///     Credentials::Password { user: "admin".into(), password: std::env::var("SYSADM_PASSWORD").unwrap() },
///     options,
/// ).await?;
/// for (uuid, jail) in client.list_jails().await?.jails {
///     println!("{uuid} {} {}", jail.tag, jail.state);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// Connects to `url` (`wss://host:port/`, or `ws://` for a plaintext
    /// server) and logs in. Fails at once on a wrong fingerprint or refused
    /// credentials; later losses of the connection are repaired in the background.
    pub async fn connect(url: &str, credentials: Credentials, options: Options) -> Result<Client> {
        let endpoint = Endpoint::parse(url)?;
        let (closed, _) = watch::channel(false);
        let (conn, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            endpoint,
            credentials,
            in_flight: Semaphore::new(options.max_in_flight.max(1)),
            options,
            conn,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            events: broadcast::channel(EVENT_BUFFER).0,
            subscribed: Mutex::new(BTreeSet::new()),
            last_seq: Mutex::new(None),
            last_error: Mutex::new(None),
            connections: AtomicU64::new(0),
            closed,
        });
        let socket = open(&shared).await?;
        tokio::spawn(supervise(shared.clone(), socket));
        Ok(Client {
            inner: Arc::new(Inner { shared }),
        })
    }

    /// How many connections this client has made: 1, plus one per reconnect.
    pub fn connections(&self) -> u64 {
        self.inner.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits until the client is connected (at most the request timeout).
    pub async fn wait_connected(&self) -> Result<()> {
        let deadline = Instant::now() + self.inner.shared.options.request_timeout;
        current_conn(&self.inner.shared, deadline).await.map(drop)
    }

    /// Closes the connection. Requests in flight fail with [`Error::Closed`] or
    /// [`Error::Disconnected`]; later calls fail with [`Error::Closed`].
    pub fn close(&self) {
        self.inner.shared.closed.send_replace(true);
    }

    /// Any request: `namespace`, `name` and `args` as on the wire; the reply's `args`.
    pub async fn call(&self, namespace: &str, name: &str, args: Value) -> Result<Value> {
        let shared = &self.inner.shared;
        let deadline = Instant::now() + shared.options.request_timeout;
        let timeout = || Error::Timeout(shared.options.request_timeout.as_secs());
        let _permit = tokio::time::timeout_at(deadline, shared.in_flight.acquire())
            .await
            .map_err(|_| timeout())?
            .map_err(|_| Error::Closed)?;
        let conn = current_conn(shared, deadline).await?;
        let id = format!("c{}", shared.next_id.fetch_add(1, Ordering::Relaxed));
        let (reply, replied) = oneshot::channel();
        lock(&shared.pending).insert(id.clone(), (conn.generation, reply));
        // The connection may have ended between taking it and registering:
        // its pending requests were failed before this one was there.
        let same = shared
            .conn
            .borrow()
            .as_ref()
            .is_some_and(|now| now.generation == conn.generation);
        let request = Request {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            id: Some(RequestId::Text(id.clone())),
            args,
        };
        let text = serde_json::to_string(&request).expect("requests serialize");
        if !same || conn.outbox.send(Message::text(text)).await.is_err() {
            lock(&shared.pending).remove(&id);
            return Err(Error::Disconnected);
        }
        match tokio::time::timeout_at(deadline, replied).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Disconnected),
            Err(_) => {
                lock(&shared.pending).remove(&id);
                Err(timeout())
            }
        }
    }

    /// [`Client::call`], decoding the reply as `T`.
    pub async fn call_typed<T: DeserializeOwned>(
        &self,
        namespace: &str,
        name: &str,
        args: Value,
    ) -> Result<T> {
        let value = self.call(namespace, name, args).await?;
        serde_json::from_value(value.clone()).map_err(|error| {
            Error::Decode(format!(
                "{namespace}/{name}: {error} in {}",
                truncate(&value.to_string())
            ))
        })
    }

    /// Subscribes to `kinds` (all kinds when empty) and streams them. The
    /// subscription is renewed after a reconnect; when the server numbers
    /// its events (`seq`, sysadmd's resumable events), it resumes after the
    /// last one received, so the events sent while the client was
    /// disconnected arrive too, each once (or a `resync_required` event when
    /// the server no longer keeps them). Servers without `seq` are
    /// subscribed afresh, and what happened meanwhile is not replayed.
    pub async fn events(&self, kinds: &[EventKind]) -> Result<EventStream> {
        let shared = &self.inner.shared;
        let kinds: BTreeSet<EventKind> = if kinds.is_empty() {
            EventKind::ALL.into_iter().collect()
        } else {
            kinds.iter().copied().collect()
        };
        // Listen before subscribing, so the first event is not missed.
        let receiver = shared.events.subscribe();
        let names: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
        let _: SubscriptionReply = self
            .call_typed(EVENTS_NAMESPACE, "subscribe", serde_json::json!(names))
            .await?;
        lock(&shared.subscribed).extend(kinds.iter().copied());
        Ok(EventStream { receiver, kinds })
    }

    /// The server's address, as given.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.shared.endpoint
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn truncate(text: &str) -> String {
    if text.len() <= 300 {
        return text.to_owned();
    }
    let mut end = 300;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// The current connection, waiting for a reconnect until `deadline`.
async fn current_conn(shared: &Shared, deadline: Instant) -> Result<Conn> {
    let mut conn = shared.conn.subscribe();
    let mut closed = shared.closed.subscribe();
    loop {
        if *closed.borrow_and_update() {
            return Err(Error::Closed);
        }
        if let Some(current) = conn.borrow_and_update().clone() {
            return Ok(current);
        }
        tokio::select! {
            changed = conn.changed() => if changed.is_err() { return Err(Error::Closed) },
            _ = closed.changed() => {}
            () = tokio::time::sleep_until(deadline) => {
                return Err(lock(&shared.last_error)
                    .clone()
                    .unwrap_or(Error::Timeout(shared.options.request_timeout.as_secs())));
            }
        }
    }
}

type Socket = WebSocketStream<Stream>;

/// Connects, logs in and renews subscriptions, within the connect timeout.
async fn open(shared: &Shared) -> Result<Socket> {
    let options = &shared.options;
    let deadline = Instant::now() + options.connect_timeout;
    let timeout = || Error::Timeout(options.connect_timeout.as_secs());
    let stream = shared
        .endpoint
        .open(&options.trust, options.connect_timeout)
        .await?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(options.max_message_bytes))
        .max_frame_size(Some(options.max_message_bytes));
    let url = shared.endpoint.ws_url();
    let (mut socket, _) = tokio::time::timeout_at(
        deadline,
        tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(config)),
    )
    .await
    .map_err(|_| timeout())?
    .map_err(|error| Error::Connect {
        url: url.clone(),
        reason: error.to_string(),
    })?;
    let (name, args) = shared.credentials.login_request();
    let reply = tokio::time::timeout_at(
        deadline,
        exchange(&mut socket, RPC_NAMESPACE, name, LOGIN_ID, args, shared),
    )
    .await
    .map_err(|_| timeout())??;
    // A password or token login answers with a token; a key login with the key.
    let decoded = match shared.credentials {
        Credentials::Key(_) => serde_json::from_value::<KeyInfo>(reply).map(drop),
        _ => serde_json::from_value::<AuthReply>(reply).map(drop),
    };
    decoded.map_err(|error| Error::Decode(format!("login reply: {error}")))?;
    let kinds: Vec<&str> = lock(&shared.subscribed)
        .iter()
        .map(|kind| kind.as_str())
        .collect();
    if !kinds.is_empty() {
        // Only a server that numbered its events accepts `since`.
        let args = match *lock(&shared.last_seq) {
            Some(since) => serde_json::json!({"types": kinds, "since": since}),
            None => serde_json::json!(kinds),
        };
        tokio::time::timeout_at(
            deadline,
            exchange(
                &mut socket,
                EVENTS_NAMESPACE,
                "subscribe",
                RESUBSCRIBE_ID,
                args,
                shared,
            ),
        )
        .await
        .map_err(|_| timeout())??;
    }
    shared.connections.fetch_add(1, Ordering::SeqCst);
    Ok(socket)
}

/// One request and its reply on a connection nobody else uses yet.
async fn exchange(
    socket: &mut Socket,
    namespace: &str,
    name: &str,
    id: &str,
    args: Value,
    shared: &Shared,
) -> Result<Value> {
    let request = Request {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        id: Some(RequestId::Text(id.to_owned())),
        args,
    };
    let text = serde_json::to_string(&request).expect("requests serialize");
    socket
        .send(Message::text(text))
        .await
        .map_err(|error| lost(&error))?;
    while let Some(message) = socket.next().await {
        let message = message.map_err(|error| lost(&error))?;
        let Some(decoded) = decode(&message)? else {
            continue;
        };
        match decoded {
            ServerMessage::Response(response) if response.id.to_string() == id => {
                return Ok(response.args);
            }
            ServerMessage::Error(error) if error.id.to_string() == id => {
                return Err(Error::Server(error.args));
            }
            // A resumed subscription's replay may come before its reply.
            event @ ServerMessage::Event(_) => route(shared, event),
            _ => continue,
        }
    }
    Err(Error::Disconnected)
}

fn lost(error: &tokio_tungstenite::tungstenite::Error) -> Error {
    tracing::debug!(%error, "connection lost");
    Error::Disconnected
}

/// A server message, `None` for control frames. A text that is not a
/// server message is an error: the server is not sysadmd.
fn decode(message: &Message) -> Result<Option<ServerMessage>> {
    let text = match message {
        Message::Text(text) => text.as_bytes(),
        Message::Binary(bytes) => bytes.as_ref(),
        Message::Close(_) => return Err(Error::Disconnected),
        _ => return Ok(None),
    };
    let value: Value = serde_json::from_slice(text)
        .map_err(|error| Error::Decode(format!("server message is not JSON: {error}")))?;
    ServerMessage::from_value(value)
        .map(Some)
        .map_err(|error| Error::Decode(error.to_string()))
}

/// Runs connections one after another until the client is closed.
async fn supervise(shared: Arc<Shared>, first: Socket) {
    let mut closed = shared.closed.subscribe();
    let mut socket = Some(first);
    let mut generation = 0;
    let mut backoff = Duration::from_millis(100);
    loop {
        if let Some(ready) = socket.take() {
            generation += 1;
            backoff = Duration::from_millis(100);
            run(&shared, ready, generation, &mut closed).await;
            fail_pending(&shared, generation);
        }
        if *closed.borrow() || !shared.options.reconnect {
            shared.closed.send_replace(true);
            return;
        }
        tokio::select! {
            _ = closed.changed() => return,
            opened = open(&shared) => match opened {
                Ok(ready) => {
                    *lock(&shared.last_error) = None;
                    tracing::info!(url = %shared.endpoint.ws_url(), "reconnected");
                    socket = Some(ready);
                    continue;
                }
                Err(error) => {
                    tracing::debug!(%error, "reconnect failed");
                    *lock(&shared.last_error) = Some(error);
                }
            },
        }
        tokio::select! {
            _ = closed.changed() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Fails every request sent on connection `generation`.
fn fail_pending(shared: &Shared, generation: u64) {
    let failed: Vec<_> = {
        let mut pending = lock(&shared.pending);
        let ids: Vec<String> = pending
            .iter()
            .filter(|(_, (sent_on, _))| *sent_on == generation)
            .map(|(id, _)| id.clone())
            .collect();
        ids.into_iter()
            .filter_map(|id| pending.remove(&id))
            .collect()
    };
    for (_, reply) in failed {
        let _ = reply.send(Err(Error::Disconnected));
    }
}

/// Serves one connection until it is lost or the client is closed.
async fn run(shared: &Shared, socket: Socket, generation: u64, closed: &mut watch::Receiver<bool>) {
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut outgoing) = mpsc::channel::<Message>(shared.options.max_in_flight + 8);
    let keepalive = shared.options.keepalive;
    let mut writer = tokio::spawn(async move {
        let mut ping = tokio::time::interval_at(Instant::now() + keepalive, keepalive);
        loop {
            let message = tokio::select! {
                message = outgoing.recv() => match message {
                    Some(message) => message,
                    None => break,
                },
                _ = ping.tick() => Message::Ping(Default::default()),
            };
            if sink.send(message).await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    });
    shared.conn.send_replace(Some(Conn { outbox, generation }));
    // A server that stops answering pings is gone: no message for three
    // keepalive periods ends the connection.
    let silence = keepalive * 3;
    loop {
        let next = tokio::select! {
            _ = closed.changed() => break,
            _ = &mut writer => break,
            next = tokio::time::timeout(silence, stream.next()) => next,
        };
        let message = match next {
            Ok(Some(Ok(message))) => message,
            Err(_) => {
                tracing::warn!(url = %shared.endpoint.ws_url(), "no message from the server for {} s; reconnecting", silence.as_secs());
                break;
            }
            Ok(Some(Err(_)) | None) => break,
        };
        match decode(&message) {
            Ok(Some(decoded)) => route(shared, decoded),
            Ok(None) => {}
            Err(Error::Disconnected) => break,
            Err(error) => tracing::warn!(%error, "ignoring a message from the server"),
        }
    }
    shared.conn.send_replace(None);
    writer.abort();
}

fn route(shared: &Shared, message: ServerMessage) {
    let (id, result) = match message {
        ServerMessage::Event(event) => {
            if let Some(seq) = event.seq {
                let mut last = lock(&shared.last_seq);
                *last = Some(last.map_or(seq, |last| last.max(seq)));
            }
            // No receiver is not an error: nobody asked for this stream any more.
            let _ = shared.events.send(event);
            return;
        }
        ServerMessage::Response(response) => (response.id, Ok(response.args)),
        ServerMessage::Error(error) => (error.id, Err(Error::Server(error.args))),
    };
    let waiting = lock(&shared.pending).remove(&id.to_string());
    match waiting {
        Some((_, reply)) => {
            let _ = reply.send(result);
        }
        None => {
            if let Err(Error::Server(ErrorArgs { code, details, .. })) = result {
                // An error the server could not tie to a request (e.g. a message too large).
                tracing::warn!(code, details = details.unwrap_or_default(), id = %id, "server error for no pending request");
            }
        }
    }
}
