//! A client for sysadmd, built on `sysadm-proto`'s types.
//!
//! * [`Client`]: one WebSocket connection, logged in with [`Credentials`]
//!   (a password, a token or an API key), many requests in flight, typed
//!   calls for every iocage action ([`Client::list_jails`], ...), raw calls
//!   ([`Client::call`]), events ([`Client::events`]), and reconnection with a
//!   fresh login when the connection is lost.
//! * [`Trust`]: TLS with a pinned SHA-256 fingerprint (what sysadmd prints at
//!   start-up), a CA file, or the system's roots; `ws://` for plaintext servers.
//! * [`rest::call`]: a one-shot REST request, for scripts that make one call.
//! * [`Fleet`]: the same call on many servers at once, each result under its name.
//!
//! The client knows no wire shapes of its own and nothing about iocage:
//! requests and replies are `sysadm-proto`'s. `examples/list_jails.rs` is a
//! complete program.
#![deny(missing_docs)]

mod calls;
mod client;
mod credentials;
mod error;
mod fleet;
pub mod rest;
mod transport;

pub use client::{Client, Event, EventStream, Options};
pub use credentials::Credentials;
pub use error::{Error, Result};
pub use fleet::{Fleet, FleetResult};
pub use transport::{DEFAULT_PORT, Endpoint, Fingerprint, Trust};

pub use sysadm_proto as proto;
