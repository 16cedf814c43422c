//! Talks to the `iocage` program: parsers for everything it prints, in both
//! flavours (the legacy shell iocage that the sysadm API documents were written
//! against, and the Python iocage 1.x that FreeBSD users run today), renderers
//! that print the same structures back, and a runner that spawns iocage safely.
//!
//! Every parser takes the text iocage printed and recognises the flavour by
//! itself; every renderer takes the flavour to print. Each returns
//! [`Parsed`]: the value, and as [`Message`]s the lines iocage printed
//! before and after it (warnings, banners, first-run lines, prompts), which
//! never shift a column, drop a row or fail the parse. Parsers never panic
//! and never skip a line they do not understand inside a table or block:
//! they return a [`ParseError`] naming it. See `README.md` for the
//! `iocage-json` tool and its JSON.
//!
//! [`Iocage`] drives the program: one async method per command, with all
//! the knowledge of iocage's command line (the argv of each command for each
//! version, which stream and exit status mean what, how prompts are
//! avoided, version gates, and a listing where a version prints nothing on
//! success), returning the parsed types and the messages iocage printed.
//! Any Rust tool can drive iocage through it; sysadmd's `CliBackend` is a
//! thin adapter onto it.
//!
//! [`progress`] carries what a long run is doing to whoever asked, as it
//! happens (each iocage line as it is printed), without a parameter.
//!
//! Nothing here knows about HTTP, WebSocket or the sysadm wire format.
#![deny(missing_docs)]

mod clean;
mod columns;
mod create;
mod detect;
mod df;
mod driver;
mod error;
mod get;
mod list;
mod message;
mod model;
pub mod progress;
mod runner;
mod status;
mod text;
mod texttable;
mod version;

pub use clean::clean_output;
pub use create::{parse_activate, parse_create, parse_destroy};
pub use detect::detect_flavour;
pub use df::parse_df;
pub use driver::{
    Clean, Created, DEFAULT_REMOTE_TIMEOUT, Error as DriverError, ErrorKind, Executed, Iocage,
    Missing, NO_CAP, NO_CLEAN_TEMPLATES, NO_DEACTIVATE, NO_PLUGIN_INDEX, Result as DriverResult,
    Transition,
};
pub use error::{ParseError, ParseErrorKind};
pub use get::{parse_defaults, parse_get_all, parse_get_recursive, parse_get_value, parse_pool};
pub use list::{parse_list, parse_plugins, parse_releases, parse_remote_releases};
pub use message::parse_messages;
pub use model::{
    Action, Activation, Column, CreateLine, CreateReport, Creation, DestroyLine, DestroyReport,
    DfRow, Flavour, ForeignJail, Jail, JailList, Level, Message, Parsed, Plugin, Properties,
    Property, RecursiveGet, RecursiveRow, RemoteRelease, StartStopLine, StartStopReport,
    StepStatus,
};
pub use runner::{
    DEFAULT_GRACE, DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, ExitKind, Output, RunError, RunObserver,
    Runner,
};
pub use status::parse_start_stop;
pub use version::{IocageVersion, SUPPORTED_VERSIONS, Unsupported, parse_version};

/// Renderers: each prints a structure exactly as the given iocage flavour
/// does, final newline included, so that parsing the text gives the
/// structure back. The simulated host and the fake `iocage` print through
/// these.
pub mod render {
    use crate::model::{
        Activation, CreateReport, DestroyReport, DfRow, Flavour, JailList, Message, Plugin,
        Properties, RecursiveGet, RemoteRelease, StartStopReport,
    };

    /// `iocage list` / `list -t` / Python `list -l` (the columns come from
    /// the list): legacy `column -t`, Python texttable.
    pub fn list(list: &JailList, flavour: Flavour) -> String {
        crate::list::render_list(list, flavour)
    }

    /// Python 1.2 `iocage list -h`: tab-separated rows, no header.
    pub fn list_scripted(list: &JailList) -> String {
        crate::list::render_list_scripted(list)
    }

    /// `iocage list -r`.
    pub fn releases(releases: &[String], flavour: Flavour) -> String {
        crate::list::render_releases(releases, flavour)
    }

    /// Python `iocage list -R`; `numbered` gives the 2017 `[N] name` form.
    pub fn remote_releases(releases: &[RemoteRelease], numbered: bool) -> String {
        crate::list::render_remote_releases(releases, numbered)
    }

    /// Python `iocage list -PR` (cells wrap at `max_width=80`).
    pub fn plugins(plugins: &[Plugin]) -> String {
        crate::list::render_plugins(plugins)
    }

    /// `iocage df`.
    pub fn df(rows: &[DfRow], flavour: Flavour) -> String {
        crate::df::render_df(rows, flavour)
    }

    /// `iocage get PROP JAIL`: the bare value.
    pub fn get_value(value: &str) -> String {
        format!("{value}\n")
    }

    /// `iocage get all JAIL`: `key:value` lines (the same in both flavours).
    pub fn get_all(properties: &Properties) -> String {
        crate::get::render_get_all(properties)
    }

    /// Legacy `iocage defaults`: `key=value` lines.
    pub fn defaults(properties: &Properties) -> String {
        crate::get::render_defaults(properties)
    }

    /// `iocage get -r PROP`.
    pub fn get_recursive(get: &RecursiveGet, flavour: Flavour) -> String {
        crate::get::render_get_recursive(get, flavour)
    }

    /// The current pool: legacy `iocage activate` (`pool: P`), Python
    /// `iocage get -p` (`P`).
    pub fn pool(pool: &str, flavour: Flavour) -> String {
        crate::get::render_pool(pool, flavour)
    }

    /// `iocage start` / `iocage stop`.
    pub fn start_stop(report: &StartStopReport, flavour: Flavour) -> String {
        crate::status::render_start_stop(report, flavour)
    }

    /// `iocage create` / `iocage clone`.
    pub fn create(report: &CreateReport, flavour: Flavour) -> String {
        crate::create::render_create(report, flavour)
    }

    /// `iocage destroy -f`.
    pub fn destroy(report: &DestroyReport, flavour: Flavour) -> String {
        crate::create::render_destroy(report, flavour)
    }

    /// `iocage activate POOL` (legacy prints nothing).
    pub fn activate(activation: &Activation, flavour: Flavour) -> String {
        crate::create::render_activate(activation, flavour)
    }

    /// Message lines (`  ERROR: ...` in legacy, bare text in Python).
    pub fn messages(messages: &[Message], flavour: Flavour) -> String {
        crate::message::render_messages(messages, flavour)
    }
}
