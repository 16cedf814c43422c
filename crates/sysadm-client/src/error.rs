//! What can go wrong talking to sysadmd, as one typed error.

use sysadm_proto::{ErrorArgs, ErrorCode};

/// An error from the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The server answered with an error body (`{"code": 403, "message": ..., "details": ...}`).
    #[error("{} {}{}", .0.code, .0.message, .0.details.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Server(ErrorArgs),
    /// The URL is not one the client can connect to.
    #[error("invalid URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// A fingerprint is not 32 bytes of hex.
    #[error(
        "invalid fingerprint '{0}': give the SHA-256 of the server certificate as 64 hex digits, optionally separated by ':' (as sysadmd prints it)"
    )]
    InvalidFingerprint(String),
    /// The server's certificate is not the pinned one.
    #[error(
        "the server's certificate has SHA-256 fingerprint {found}, not the pinned {expected}: refusing to connect (if the server's certificate changed on purpose, pin the new one)"
    )]
    FingerprintMismatch {
        /// The pinned fingerprint.
        expected: String,
        /// The server's.
        found: String,
    },
    /// TLS set-up or the handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// Connecting, reading or writing failed.
    #[error("connection to {url} failed: {reason}")]
    Connect {
        /// Where to.
        url: String,
        /// Why.
        reason: String,
    },
    /// The connection was lost while the request was in flight; it may or may not have run.
    #[error(
        "the connection was lost before the reply arrived; the request may or may not have run"
    )]
    Disconnected,
    /// The client was closed.
    #[error("the client is closed")]
    Closed,
    /// No reply within the deadline.
    #[error("no reply within {0} s")]
    Timeout(u64),
    /// A reply that does not decode into the expected type.
    #[error("unexpected reply: {0}")]
    Decode(String),
    /// Events arrived faster than the stream was read: this many were dropped.
    #[error("{0} events were missed because the event stream was not read fast enough")]
    EventsMissed(u64),
}

impl Error {
    /// The server's error code, when the server answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Server(args) => ErrorCode::from_code(args.code),
            _ => None,
        }
    }

    /// The server's `details`, when the server sent some.
    pub fn details(&self) -> Option<&str> {
        match self {
            Error::Server(args) => args.details.as_deref(),
            _ => None,
        }
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
