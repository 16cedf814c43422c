//! Listeners and connections: one accept loop per address, a task per
//! connection, TLS, hyper HTTP/1.1 with upgrades, and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::app::App;
use crate::tls::TlsSwap;

/// Bound listeners, ready to serve.
pub struct Server {
    app: Arc<App>,
    listeners: Vec<TcpListener>,
    tls: Option<TlsSwap>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addrs", &self.local_addrs())
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// A connection's slot in the connection limit (and, until it authenticates,
/// in the unauthenticated budget), held until the connection (and a
/// WebSocket it upgraded to) ends.
pub(crate) type ConnectionSlot = Arc<crate::slots::ConnectionSlot>;

impl Server {
    /// Binds every address. An address that cannot be bound is named in the error.
    pub async fn bind(
        app: Arc<App>,
        addrs: &[SocketAddr],
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Server> {
        let listeners = bind_listeners(addrs).await?;
        Ok(Server::from_listeners(app, listeners, tls))
    }

    /// A server on listeners bound before (see [`bind_listeners`]).
    pub(crate) fn from_listeners(
        app: Arc<App>,
        listeners: Vec<TcpListener>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Server {
        Server {
            app,
            listeners,
            tls: tls.map(TlsSwap::new),
        }
    }

    /// The bound addresses (with the real port when port 0 was asked for).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|listener| listener.local_addr().ok())
            .collect()
    }

    /// The shared application state.
    pub(crate) fn app(&self) -> Arc<App> {
        self.app.clone()
    }

    /// The TLS configuration's handle, to replace the certificate (SIGHUP).
    pub(crate) fn tls_swap(&self) -> Option<TlsSwap> {
        self.tls.clone()
    }

    /// Whether connections use TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets running
    /// requests finish within the grace period, and closes WebSockets with a
    /// close frame.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let app = self.app.clone();
        let slots = Arc::new(Semaphore::new(app.limits.max_connections));
        let unauthenticated = crate::slots::Slots::counted(
            app.limits.max_unauthenticated,
            app.limits.max_unauthenticated_per_address,
            app.metrics.connections(),
            app.lanes.clone(),
        );
        for listener in self.listeners {
            let app = app.clone();
            let tls = self.tls.clone();
            let slots = slots.clone();
            app.tracker.clone().spawn(accept_loop(
                app,
                listener,
                tls,
                slots,
                unauthenticated.clone(),
            ));
        }
        shutdown.await;
        tracing::info!("shutting down: no new connections; letting running requests finish");
        app.shutdown.cancel();
        app.tracker.close();
        let grace = Duration::from_secs(app.limits.shutdown_grace_secs) + Duration::from_secs(3);
        if tokio::time::timeout(grace, app.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace period over; closing the remaining connections");
        }
    }
}

/// Binds every address; one that cannot be bound is named in the error.
pub(crate) async fn bind_listeners(addrs: &[SocketAddr]) -> Result<Vec<TcpListener>> {
    let mut listeners = Vec::with_capacity(addrs.len());
    for addr in addrs {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        listeners.push(listener);
    }
    Ok(listeners)
}

async fn accept_loop(
    app: Arc<App>,
    listener: TcpListener,
    tls: Option<TlsSwap>,
    slots: Arc<Semaphore>,
    unauthenticated: Arc<crate::slots::Slots>,
) {
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("semaphore never closed"),
            () = app.shutdown.cancelled() => return,
        };
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Usually out of file descriptors: wait rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = app.shutdown.cancelled() => return,
        };
        let slot = match unauthenticated.admit(addr.ip(), slot) {
            Ok(slot) => slot,
            Err(refused) => {
                // Closed at once: no bytes are read from a network over its
                // share. With a reset, not a FIN: one packet instead of an
                // exchange of four, and no TIME_WAIT, for a connection whose
                // bytes nobody wants (a flooder reconnects in a loop).
                let _ = stream.set_zero_linger();
                tracing::debug!(peer = %addr, ?refused, "too many unauthenticated connections; reset");
                continue;
            }
        };
        // On the low lane until a request on it authenticates, unless its
        // network authenticated lately (lanes.rs).
        let task = connection(
            app.clone(),
            stream,
            addr,
            tls.as_ref().map(TlsSwap::current),
            slot.clone(),
        );
        slot.spawn(app.tracker.track_future(task));
    }
}

async fn connection(
    app: Arc<App>,
    stream: TcpStream,
    addr: SocketAddr,
    tls: Option<TlsAcceptor>,
    slot: ConnectionSlot,
) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => serve_http(app, TokioIo::new(stream), addr, slot).await,
        Some(acceptor) => {
            let limit = Duration::from_secs(app.limits.tls_handshake_timeout_secs);
            let Some(stream) = crate::tls::unless_plaintext(stream, limit, addr).await else {
                return;
            };
            match tokio::time::timeout(limit, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => serve_http(app, TokioIo::new(stream), addr, slot).await,
                Ok(Err(error)) => tracing::debug!(peer = %addr, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(peer = %addr, "TLS handshake timed out"),
            }
        }
    }
}

async fn serve_http<I>(app: Arc<App>, io: I, addr: SocketAddr, slot: ConnectionSlot)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let handler_app = app.clone();
    let handler_slot = slot.clone();
    let service = service_fn(move |request| {
        crate::http::handle(handler_app.clone(), addr, handler_slot.clone(), request)
    });
    let unauthenticated_limit = Duration::from_secs(app.limits.unauthenticated_timeout_secs);
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(app.limits.header_timeout())
        .keep_alive(true)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(peer = %addr, %error, "connection ended with an error");
            }
        }
        () = app.shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
        // Until a request authenticates, the connection has a short deadline
        // and may be evicted for another network's (slots.rs). An upgraded
        // WebSocket ends this future first and watches its own slot.
        () = slot.unauthenticated_for(unauthenticated_limit) => {
            tracing::debug!(peer = %addr, "not authenticated in time; closed");
        }
        () = slot.evicted() => {
            tracing::debug!(peer = %addr, "unauthenticated connection evicted for another network's");
        }
    }
}
