//! The sysadm wire format, as the TrueOS `sysadm` server spoke it for the
//! `sysadm/iocage` class, typed.
//!
//! * [`Request`], [`Response`], [`ErrorResponse`], [`RestBody`], [`EventMessage`]:
//!   the envelope every message travels in; [`RestRequest`] reads a REST body
//!   that may be a whole envelope, as the reference server accepted.
//! * [`IocageRequest`]: the 19 iocage actions of the API documents, decoded from
//!   `args` with errors that name what was wrong ([`ArgsError`]).
//! * [`IocageResponse`]: every result, serializing to exactly the documented JSON.
//! * [`RpcRequest`] and [`EventsRequest`]: authentication and subscriptions.
//! * [`ErrorCode`] and [`ErrorArgs`]: the error body and the codes sysadmd uses.
//!
//! This crate does no I/O and has no async code, so clients can embed it.
//!
//! ```
//! use serde_json::json;
//! use sysadm_proto::{IocageRequest, IocageResponse, Success};
//!
//! let request = IocageRequest::from_args(&json!({"action": "cleanjails"})).unwrap();
//! assert_eq!(request, IocageRequest::CleanJails);
//!
//! let reply = IocageResponse::CleanJails(Success::new("All jails have been cleaned."));
//! assert_eq!(
//!     serde_json::to_value(&reply).unwrap(),
//!     json!({"cleanjails": {"success": "All jails have been cleaned."}}),
//! );
//! ```
#![deny(missing_docs)]

mod args;
mod envelope;
mod error;
mod events;
mod keys;
mod ops;
mod request;
mod response;
mod rpc;
mod strict;

pub use envelope::{
    ERROR_NAME, EVENTS_NAMESPACE, ErrorResponse, EventMessage, RESPONSE_NAME, Request, RequestId,
    Response, RestBody, RestRequest, ServerMessage,
};
pub use error::{ArgsError, EnvelopeError, ErrorArgs, ErrorCode, shown};
pub use events::{
    DispatcherEvent, EventKind, EventNames, EventsRequest, JobOutcome, JobProgress, JobState,
    SubscriptionReply,
};
pub use keys::{
    KEYS_ACTIONS, KeyCreated, KeyInfo, KeyList, KeyRevoked, KeyRole, KeySpec, KeysRequest,
};
pub use ops::{
    BackendInfo, CallOptions, CapabilitiesReply, DryRunReply, JailRef, MAX_IDEMPOTENCY_KEY,
    OPTION_KEYS, ServerInfo, WouldDestroy, check_idempotency_key,
};
pub use request::{
    Action, DEFAULT_EXEC_USER, IOCAGE_NAME, IOCAGE_NAMESPACE, IocageRequest, JailSettingsQuery,
};
pub use response::{
    ActivatePoolResult, ActivePool, CloneJailResult, CreateJailResult, CreateSuccess, Created,
    CreatedJail, DefaultSettings, DestroyJailResult, Destroyed, DfRow, DfTable, ExecJailResult,
    IocageResponse, JailList, JailSettings, JailStatus, JailSummary, JailSummaryRef, Plugin,
    PluginList, RecursiveRow, ReleaseList, StatusOutcome, Success,
};
pub use rpc::{
    AUTH_CLEARED, Access, AuthReply, IdentifyReply, QueryReply, RPC_NAMES, RPC_NAMESPACE,
    RpcRequest,
};
pub use strict::parse_json;
