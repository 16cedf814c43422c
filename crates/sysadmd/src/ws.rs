//! One WebSocket connection: JSON envelopes in text or binary frames,
//! requests handled concurrently with replies matched by id, events pushed
//! to subscribers, and protective limits.
//!
//! Backpressure: a request takes a permit before the next frame is read, so
//! a client with too many requests in flight is simply not read from until
//! one finishes; nothing is dropped. Every buffer is bounded: the outbox
//! (replies and events), the event queue, and tungstenite's write buffer
//! (which holds the pongs it answers pings with). A peer whose output piles
//! up is first no longer read (its replies hold the permits), then closed
//! when one message cannot be written within [`Limits::ws_write_timeout_secs`].
//! Pings and pongs are rate-limited and do not count as activity for the
//! idle timeout.
//!
//! [`Limits::ws_write_timeout_secs`]: crate::Limits::ws_write_timeout_secs

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sysadm_proto::{ErrorCode, ErrorResponse, Request, RequestId, Response};
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;

use crate::app::{ApiError, App, Peer, Transport};

/// How long to wait for the client's reply to our close frame.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(2);

/// Bytes read from the socket at a time, per WebSocket connection.
const READ_BUFFER: usize = 8 * 1024;

/// Bytes tungstenite gathers before writing to the socket.
const WRITE_BUFFER: usize = 8 * 1024;

/// Control frames (pings, pongs) a peer may send in one [`CONTROL_WINDOW`].
/// Clients ping every few seconds at most; each ping makes tungstenite queue
/// a pong, so a flood is closed rather than answered.
const MAX_CONTROL_FRAMES: u32 = 50;
const CONTROL_WINDOW: Duration = Duration::from_secs(10);

const SHUTTING_DOWN: &str = "server shutting down";
const BLOCKED: &str = "address blocked after repeated failed logins";
const TOO_SLOW: &str = "too slow: the event queue overflowed";
const NOT_READING: &str = "too slow: not reading what the server sends";
const PING_FLOOD: &str = "too many pings";
const EVICTED: &str = "too many unauthenticated connections from your network";

pub(crate) async fn serve(
    app: Arc<App>,
    addr: SocketAddr,
    upgraded: Upgraded,
    slot: crate::server::ConnectionSlot,
) {
    let limit = app.limits.max_body_bytes;
    // tungstenite reads into a buffer of this size per connection (128 KiB by
    // default); most messages are small, and an idle connection should cost
    // little. Larger messages still arrive whole, in several reads.
    // The write buffer only grows past WRITE_BUFFER while the peer does not
    // read; its ceiling must still take the largest single reply.
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(max_write_buffer(limit))
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit));
    let socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let (mut sink, mut stream) = socket.split();

    let max_in_flight = app.limits.max_in_flight_per_connection;
    let (outbox, mut outgoing) = mpsc::channel::<Message>(max_in_flight + 16);
    // An urgent close skips whatever is queued (a client too slow to read it all).
    let (urgent_close, mut urgent) = tokio::sync::oneshot::channel::<CloseFrame>();
    // Cancelled when the writer gives up on a peer that does not read.
    let writer_gone = CancellationToken::new();
    let write_timeout = Duration::from_secs(app.limits.ws_write_timeout_secs);
    let writer_done = writer_gone.clone();
    // The writer and the event forwarder run on the main lane from the
    // start: they only carry what the reader (on the connection's lane)
    // lets through, and a change's events must keep reaching the writer
    // before its reply, as they did on one runtime (lanes.rs).
    let writer = app.lanes.spawn_on_main(async move {
        loop {
            let message = tokio::select! {
                biased;
                frame = &mut urgent => {
                    if let Ok(frame) = frame {
                        let close = sink.send(Message::Close(Some(frame)));
                        let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, close).await;
                    }
                    break;
                }
                message = outgoing.recv() => match message {
                    Some(message) => message,
                    None => break,
                },
            };
            let closing = matches!(message, Message::Close(_));
            tokio::select! {
                biased;
                frame = &mut urgent => {
                    if let Ok(frame) = frame {
                        let close = sink.send(Message::Close(Some(frame)));
                        let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, close).await;
                    }
                    break;
                }
                sent = tokio::time::timeout(write_timeout, sink.send(message)) => match sent {
                    Ok(sent) => if sent.is_err() || closing { break },
                    Err(_) => {
                        tracing::debug!("WebSocket peer not reading; closing");
                        writer_done.cancel();
                        return sink;
                    }
                },
            }
        }
        writer_done.cancel();
        let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, sink.close()).await;
        sink
    });

    let (subscriber, mut inbox) = app.events.register(app.limits.event_queue);
    let peer =
        Arc::new(Peer::new(addr, Transport::WebSocket, Some(subscriber)).with_slot(slot.clone()));
    let event_outbox = outbox.clone();
    let (event_app, event_peer) = (app.clone(), peer.clone());
    let forwarder = app.lanes.spawn_on_main(async move {
        // A replay goes before the live events queued meanwhile; an event
        // whose seq was already sent (live before a resume) is not sent again.
        let mut sent_up_to = 0u64;
        // A session whose API key was revoked hears nothing more, not even
        // the events already queued, until it logs in again.
        let mut key_ended = false;
        loop {
            let batch = tokio::select! {
                biased;
                Some(replay) = inbox.replay.recv() => replay,
                Some(event) = inbox.events.recv() => vec![event],
                else => break,
            };
            key_ended = (key_ended && !event_peer.is_authenticated())
                || !crate::keys_api::key_still_valid(&event_app, &event_peer);
            if key_ended {
                continue;
            }
            for (seq, text) in batch {
                if let Some(seq) = seq {
                    if seq <= sent_up_to {
                        continue;
                    }
                    sent_up_to = seq;
                }
                if event_outbox
                    .send(Message::text(text.as_ref()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    let too_slow = inbox.too_slow.clone();

    let in_flight = Arc::new(Semaphore::new(max_in_flight));
    let kill = CancellationToken::new();
    let idle = Duration::from_secs(app.limits.ws_idle_timeout_secs);
    let auth_limit = app
        .limits
        .ws_auth_timeout_secs
        .min(app.limits.unauthenticated_timeout_secs);
    let auth_deadline = tokio::time::sleep(Duration::from_secs(auth_limit));
    tokio::pin!(auth_deadline);
    // Only data messages move the idle deadline: pings do not keep a connection alive.
    let idle_deadline = tokio::time::sleep(idle);
    tokio::pin!(idle_deadline);
    let mut control = ControlFrames::default();

    // Set when the client may still be sending a message we refused to read.
    let mut unread_input = false;
    let close: Option<(CloseCode, &str)> = loop {
        // Waiting for a permit must still notice the reasons to close: a client
        // that does not read holds every permit with replies it never takes.
        let permit = tokio::select! {
            biased;
            () = app.shutdown.cancelled() => break Some((CloseCode::Away, SHUTTING_DOWN)),
            () = kill.cancelled() => break Some((CloseCode::Policy, BLOCKED)),
            () = too_slow.cancelled() => break Some((CloseCode::Policy, TOO_SLOW)),
            () = writer_gone.cancelled() => break Some((CloseCode::Policy, NOT_READING)),
            permit = in_flight.clone().acquire_owned() => permit.expect("semaphore never closed"),
        };
        let next = tokio::select! {
            biased;
            () = app.shutdown.cancelled() => break Some((CloseCode::Away, SHUTTING_DOWN)),
            () = kill.cancelled() => break Some((CloseCode::Policy, BLOCKED)),
            () = too_slow.cancelled() => break Some((CloseCode::Policy, TOO_SLOW)),
            () = writer_gone.cancelled() => break Some((CloseCode::Policy, NOT_READING)),
            () = slot.evicted() => break Some((CloseCode::Policy, EVICTED)),
            () = &mut auth_deadline, if !peer.is_authenticated() => {
                // The guard was checked when this wait began: a login may have
                // completed since.
                if peer.is_authenticated() {
                    continue;
                }
                // After a logout (`rpc/auth_clear`) the deadline runs afresh.
                let due = peer.unauthenticated_since() + Duration::from_secs(auth_limit);
                if due > tokio::time::Instant::now().into_std() {
                    auth_deadline.as_mut().reset(due.into());
                    continue;
                }
                break Some((CloseCode::Policy, "not authenticated in time"));
            }
            () = &mut idle_deadline => break Some((CloseCode::Normal, "idle for too long")),
            next = stream.next() => next,
        };
        let message = match next {
            None => break None,
            Some(Ok(message)) => message,
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                let error = ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("message of {size} bytes is over the limit of {max_size} bytes"),
                );
                let reply = ErrorResponse::new("error", RequestId::default(), error.to_args());
                let _ = outbox.send(json_message(&reply)).await;
                unread_input = true;
                break Some((CloseCode::Size, "message too large"));
            }
            Some(Err(error)) => {
                tracing::debug!(peer = %addr, %error, "WebSocket read failed");
                break None;
            }
        };
        if matches!(message, Message::Ping(_) | Message::Pong(_)) {
            if control.flooded() {
                tracing::info!(peer = %addr, "closing a WebSocket that floods pings");
                // Before a login, its network waits before it may try again:
                // a flooder that reconnects at once costs an accept, not a
                // handshake and a window of pings.
                slot.penalize(CONTROL_WINDOW);
                break Some((CloseCode::Policy, PING_FLOOD));
            }
            continue;
        }
        idle_deadline
            .as_mut()
            .reset(tokio::time::Instant::now() + idle);
        let text = match message {
            Message::Text(text) => text.as_str().to_owned(),
            Message::Binary(bytes) => match String::from_utf8(bytes.to_vec()) {
                Ok(text) => text,
                Err(_) => {
                    let error =
                        ApiError::new(ErrorCode::BadRequest, "binary frame is not UTF-8 JSON");
                    let reply = ErrorResponse::new("error", RequestId::default(), error.to_args());
                    let _ = outbox.send(json_message(&reply)).await;
                    continue;
                }
            },
            Message::Close(_) => break None,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        };
        let parsed = parse(&text);
        if matches!(&parsed, Ok(value) if changes_session(value)) {
            // Complete before the next message is read: a request sent right
            // after a login or a subscription must see it take effect.
            let (reply, blocked) = answer(&app, &peer, parsed).await;
            // A 429 for a login not checked now (a guarded user, a busy server) keeps the connection.
            let blocked = blocked && app.auth.is_blocked(peer.addr.ip());
            let _ = outbox.send(Message::text(reply)).await;
            if blocked {
                kill.cancel();
            }
            drop(permit);
            continue;
        }
        let app = app.clone();
        let peer = peer.clone();
        let outbox = outbox.clone();
        let kill = kill.clone();
        let tracker = app.tracker.clone();
        let task = tracker.track_future(async move {
            let (reply, blocked) = answer(&app, &peer, parsed).await;
            // A 429 for a login not checked now (a guarded user, a busy server) keeps the connection.
            let blocked = blocked && app.auth.is_blocked(peer.addr.ip());
            let _ = outbox.send(Message::text(reply)).await;
            if blocked {
                kill.cancel();
            }
            drop(permit);
        });
        slot.spawn(task);
    };

    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let flooding = reason == PING_FLOOD;
        if too_slow.is_cancelled() || writer_gone.is_cancelled() || flooding {
            // Its queue is what made it too slow (or it owes it pongs): close ahead of it.
            let _ = urgent_close.send(frame);
        } else {
            // Let running requests finish (bounded), then say goodbye after their replies.
            let grace = Duration::from_secs(app.limits.shutdown_grace_secs);
            let all = u32::try_from(max_in_flight).unwrap_or(u32::MAX);
            let _ = tokio::time::timeout(grace, in_flight.acquire_many(all)).await;
            if let Err(error) =
                tokio::time::timeout(CLOSE_REPLY_WAIT, outbox.send(Message::Close(Some(frame))))
                    .await
            {
                tracing::debug!(peer = %addr, %error, "client not reading; closing without waiting");
                let _ = urgent_close.send(CloseFrame {
                    code,
                    reason: reason.into(),
                });
            }
        }
        // Wait briefly for the client's close reply so the handshake completes
        // (not for a flooder's: it would only send more pings).
        let wait = if flooding {
            Duration::ZERO
        } else {
            CLOSE_REPLY_WAIT
        };
        let _ = tokio::time::timeout(wait, async {
            while let Some(Ok(message)) = stream.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    } else {
        drop(urgent_close);
    }
    forwarder.abort();
    drop(outbox);
    let sink = writer.await;
    if unread_input
        && let Ok(sink) = sink
        && let Ok(mut socket) = stream.reunite(sink)
    {
        discard_input(socket.get_mut(), 2 * limit).await;
    }
}

/// The ceiling of tungstenite's write buffer: room for the largest reply.
/// Replies are bounded by what the host holds, not by the client; 16 MiB is
/// a `listjails` of tens of thousands of jails.
fn max_write_buffer(max_body_bytes: usize) -> usize {
    (16 << 20).max(2 * max_body_bytes) + WRITE_BUFFER
}

/// Counts control frames in a fixed window, for the ping rate limit.
#[derive(Debug)]
struct ControlFrames {
    window_start: tokio::time::Instant,
    count: u32,
}

impl Default for ControlFrames {
    fn default() -> Self {
        ControlFrames {
            window_start: tokio::time::Instant::now(),
            count: 0,
        }
    }
}

impl ControlFrames {
    /// Counts one frame; whether the peer is over the limit.
    fn flooded(&mut self) -> bool {
        if self.window_start.elapsed() >= CONTROL_WINDOW {
            self.window_start = tokio::time::Instant::now();
            self.count = 0;
        }
        self.count += 1;
        self.count > MAX_CONTROL_FRAMES
    }
}

/// Reads and drops what a client still sends after we closed on it, for a
/// short while and up to `max_bytes`. Closing a socket with input unread
/// makes the kernel reset the connection, and a reset can destroy the 413
/// and the close frame still on their way to the client (an HTTP server's
/// "lingering close").
async fn discard_input<S: tokio::io::AsyncRead + Unpin>(io: &mut S, max_bytes: usize) {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0; READ_BUFFER];
    let mut left = max_bytes;
    let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, async {
        while left > 0 {
            match io.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => left = left.saturating_sub(read),
            }
        }
    })
    .await;
}

/// One text message as JSON, or why it is not.
fn parse(text: &str) -> Result<Value, ApiError> {
    // Duplicate keys are refused (issue 16): the last one must never silently win.
    sysadm_proto::parse_json(text.as_bytes())
        .map_err(|error| ApiError::new(ErrorCode::BadRequest, format!("invalid JSON: {error}")))
}

/// Whether a message changes the connection's session (a login, a logout,
/// a subscription change), so that later messages must wait for it, as the
/// reference server kept `rpc/auth*` in order. Every other request runs
/// concurrently with the connection's other requests.
fn changes_session(message: &Value) -> bool {
    let field = |name: &str| message.get(name).and_then(Value::as_str).unwrap_or("");
    let namespace = field("namespace");
    if namespace.eq_ignore_ascii_case(sysadm_proto::EVENTS_NAMESPACE) {
        return true;
    }
    let name = field("name");
    namespace.eq_ignore_ascii_case(sysadm_proto::RPC_NAMESPACE)
        && name
            .get(..4)
            .is_some_and(|start| start.eq_ignore_ascii_case("auth"))
}

/// Answers one message with a response or error envelope, and whether the
/// answer is that the peer's address is blocked.
async fn answer(app: &Arc<App>, peer: &Peer, parsed: Result<Value, ApiError>) -> (String, bool) {
    let value = match parsed {
        Ok(value) => value,
        Err(error) => return error_reply("error", RequestId::default(), &error),
    };
    let id = RequestId::lenient(&value);
    let request = match Request::from_value(value) {
        Ok(request) => request,
        Err(error) => return error_reply("error", id, &error.into()),
    };
    let namespace = request.namespace.clone();
    match app
        .dispatch(peer, &request.namespace, &request.name, request.args, None)
        .await
    {
        Ok(answered) => {
            // A kept answer's age goes beside `args`, never inside it
            // (`listjails` args are a map of jails).
            let age_ms = answered.age.map(|age| age.as_millis() as u64);
            let response = Response::new(namespace, id, &*answered.args).with_age_ms(age_ms);
            let reply = serde_json::to_string(&response);
            (reply.expect("serializes"), false)
        }
        Err(error) => error_reply(&namespace, id, &error),
    }
}

fn error_reply(namespace: &str, id: RequestId, error: &ApiError) -> (String, bool) {
    let reply = ErrorResponse::new(namespace, id, error.to_args());
    let blocked = error.code() == ErrorCode::TooManyRequests;
    (serde_json::to_string(&reply).expect("serializes"), blocked)
}

fn json_message<T: serde::Serialize>(value: &T) -> Message {
    Message::text(serde_json::to_string(value).expect("wire types serialize"))
}
