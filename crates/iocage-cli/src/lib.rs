//! Talks to the `iocage` program: parsers for everything it prints, in both
//! flavours (the legacy shell iocage that the sysadm API documents were written
//! against, and the Python iocage 1.x that FreeBSD users run today), renderers
//! that print the same structures back, and a runner that spawns iocage safely.
//!
//! Nothing here knows about HTTP, WebSocket or the sysadm wire format.
#![deny(missing_docs)]

mod runner;

pub use runner::{
    DEFAULT_GRACE, DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, ExitKind, Output, RunError, Runner,
};
