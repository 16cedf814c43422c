//! Where a sysadm/iocage API request becomes work on a host.
//!
//! [`IocageService`] validates a decoded request (every string argument,
//! before any backend call), serialises conflicting work, coalesces identical
//! reads, and calls an async [`Backend`]. [`IocageService::handle_json`]
//! answers repeated reads of an unchanged host from their serialized reply;
//! on a backend that cannot tell when it changes (the real iocage), it may
//! answer from a recent one ([`ServiceOptions::read_ttl`],
//! [`ServiceOptions::read_stale`]: never one read before a change the service
//! finished), and [`IocageService::handle_json_with_age`] says how old that
//! answer is ([`JsonReply::age`]). [`SimBackend`] is a simulated host
//! that persists its state in a file (the default when iocage is absent); the
//! real backend runs iocage through `iocage-cli`.
//!
//! The messages iocage printed around its output while a request ran
//! (warnings, first-run lines) are collected per request
//! ([`IocageService::handle_with_messages`],
//! [`IocageService::handle_json_with_messages`], which adds `"messages":
//! [{"level": ..., "text": ...}]` beside the documented keys); a backend
//! hands them over with [`note_messages`]. Plain replies keep the
//! documented shape.
//!
//! **Nothing here knows about HTTP or WebSocket, and no user-supplied string
//! is ever interpreted by a shell.**
#![deny(missing_docs)]

mod backend;
mod cache;
mod cli;
mod inventory;
mod kept;
mod listing;
mod messages;
mod model;
mod preview;
pub mod properties;
mod service;
mod sim;
mod validate;

pub use backend::{Backend, BackendError, BackendResult};
pub use cli::CliBackend;
pub use iocage_cli::{Flavour, IocageVersion, Runner, progress};
pub use messages::{Level, MAX_MESSAGES, Message, note_messages, with_messages};
pub use model::{
    CleanTarget, DfEntry, ExecOutput, JailInfo, JailState, NewJail, PluginInfo, PropertyRow,
    Releases, StateChange,
};
pub use preview::{BackendDescription, BackendKind, Doomed};
pub use service::{Caller, IocageService, JsonReply, ServiceError, ServiceOptions};
pub use sim::{FORMAT_VERSION, SimBackend, SimError};
pub use validate::{MAX_COMMAND, MAX_NAME, MAX_VALUE};
