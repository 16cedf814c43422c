//! The transport-independent part of the server: a request (namespace, name,
//! args) from an identified peer becomes a result or an [`ApiError`].
//!
//! REST and WebSocket both call [`App::dispatch`], so authentication, roles,
//! jobs, errors and logging happen in one place for both.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use iocage_service::{Caller, IocageService, ServiceError};
use serde_json::Value;
use serde_json::value::RawValue;
use sysadm_proto::{
    AUTH_CLEARED, Access, ArgsError, AuthReply, EnvelopeError, ErrorArgs, ErrorCode, EventsRequest,
    IOCAGE_NAME, IOCAGE_NAMESPACE, IdentifyReply, IocageRequest, QueryReply, RPC_NAMESPACE,
    RpcRequest, SubscriptionReply,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Auth, AuthError, Principal, Role};
use crate::config::{HttpSettings, Limits};
use crate::events::{EventHub, Subscriber};
use crate::jobs::Jobs;

/// An error on its way to a client: a code and what to tell the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    code: ErrorCode,
    details: Option<String>,
    /// For a 429: seconds until the client may try again (`Retry-After`).
    retry_after_secs: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(code: ErrorCode, details: impl Into<String>) -> Self {
        ApiError {
            code,
            details: Some(details.into()),
            retry_after_secs: None,
        }
    }

    /// Seconds until a blocked client may try again, for a 429.
    pub(crate) fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }

    pub(crate) fn code(&self) -> ErrorCode {
        self.code
    }

    /// The error body. A 500 never carries details: internals stay in the log.
    pub(crate) fn to_args(&self) -> ErrorArgs {
        match (&self.details, self.code) {
            (_, ErrorCode::Internal) | (None, _) => ErrorArgs::bare(self.code),
            (Some(details), code) => ErrorArgs::new(code, details.clone()),
        }
    }

    pub(crate) fn not_found(namespace: &str, name: &str) -> Self {
        ApiError::new(
            ErrorCode::NotFound,
            format!(
                "unknown class '{namespace}/{name}'; sysadmd serves sysadm/iocage, rpc/{{{}}} and events/{{subscribe,unsubscribe}}",
                sysadm_proto::RPC_NAMES.join(",")
            ),
        )
    }
}

impl From<ArgsError> for ApiError {
    fn from(error: ArgsError) -> Self {
        ApiError::new(ErrorCode::BadRequest, error.to_string())
    }
}

impl From<EnvelopeError> for ApiError {
    fn from(error: EnvelopeError) -> Self {
        ApiError::new(ErrorCode::BadRequest, error.to_string())
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        ApiError::new(error.code(), error.details())
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        let mut api = ApiError::new(error.code(), error.details());
        if let AuthError::Blocked { retry_after } = &error {
            // Rounded up, so a client that waits this long is let in.
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            api.retry_after_secs = Some(secs.max(1));
        }
        api
    }
}

/// Which transport a request came by, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Rest,
    WebSocket,
}

impl Transport {
    fn as_str(self) -> &'static str {
        match self {
            Transport::Rest => "rest",
            Transport::WebSocket => "ws",
        }
    }
}

/// Who is on the other end of one connection (WebSocket) or one request (REST).
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) addr: SocketAddr,
    pub(crate) transport: Transport,
    /// The authenticated user and, for WebSocket logins, the token.
    pub(crate) login: Mutex<Option<Login>>,
    /// Where events for this connection go (WebSocket only).
    pub(crate) subscriber: Option<Subscriber>,
    /// The connection's slot, told when a request authenticates.
    slot: Option<crate::server::ConnectionSlot>,
    /// Since when the connection has had no login: its start, or its last
    /// logout (a WebSocket gets its login deadline afresh after each).
    unauthenticated_since: Mutex<std::time::Instant>,
}

#[derive(Debug, Clone)]
pub(crate) struct Login {
    pub(crate) principal: Principal,
    /// The session token, when the peer logged in with `rpc/auth` (checked and extended on each use).
    pub(crate) token: Option<String>,
}

impl Peer {
    pub(crate) fn new(
        addr: SocketAddr,
        transport: Transport,
        subscriber: Option<Subscriber>,
    ) -> Self {
        Peer {
            addr,
            transport,
            login: Mutex::new(None),
            subscriber,
            slot: None,
            unauthenticated_since: Mutex::new(std::time::Instant::now()),
        }
    }

    pub(crate) fn with_slot(mut self, slot: crate::server::ConnectionSlot) -> Self {
        self.slot = Some(slot);
        self
    }

    /// The connection authenticated: it leaves the unauthenticated budget.
    /// True when its tasks move to the main lane from their next wake-up.
    fn authenticated(&self) -> bool {
        self.slot.as_ref().is_some_and(|slot| slot.authenticated())
    }

    pub(crate) fn login(&self) -> Option<Login> {
        self.login.lock().expect("login lock").clone()
    }

    pub(crate) fn set_login(&self, login: Option<Login>) {
        let mut current = self.login.lock().expect("login lock");
        if current.is_some() && login.is_none() {
            *self
                .unauthenticated_since
                .lock()
                .expect("unauthenticated since lock") = std::time::Instant::now();
        }
        *current = login;
    }

    /// When the connection last became unauthenticated (its start or its
    /// last logout); meaningful while [`Peer::is_authenticated`] is false.
    pub(crate) fn unauthenticated_since(&self) -> std::time::Instant {
        *self
            .unauthenticated_since
            .lock()
            .expect("unauthenticated since lock")
    }

    pub(crate) fn is_authenticated(&self) -> bool {
        self.login.lock().expect("login lock").is_some()
    }
}

/// Everything a request needs, shared by all connections.
#[derive(Debug)]
pub struct App {
    pub(crate) service: IocageService,
    pub(crate) auth: Arc<Auth>,
    pub(crate) jobs: Jobs,
    pub(crate) events: EventHub,
    pub(crate) limits: Limits,
    pub(crate) http: HttpSettings,
    pub(crate) hostname: String,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
    /// Dry runs and their confirmations (`ops.rs`).
    pub(crate) ops: crate::ops::Ops,
    /// Idempotency keys and their results (`idempotency.rs`).
    pub(crate) keys: crate::idempotency::Keys,
    /// `GET /metrics` (`metrics.rs`).
    pub(crate) metrics: crate::metrics::Metrics,
    /// Where tasks run (`lanes.rs`).
    pub(crate) lanes: crate::lanes::Lanes,
}

impl App {
    /// Builds the shared state. No socket is involved, so tests can call
    /// [`App::dispatch`] directly.
    pub fn new(
        service: IocageService,
        auth: Arc<Auth>,
        jobs: Jobs,
        limits: Limits,
        http: HttpSettings,
    ) -> Arc<App> {
        let events = jobs.events().clone();
        Arc::new(App {
            service,
            auth,
            jobs,
            events,
            limits,
            http,
            hostname: hostname(),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            ops: crate::ops::Ops::default(),
            keys: crate::idempotency::Keys::default(),
            metrics: crate::metrics::Metrics::default(),
            lanes: crate::lanes::Lanes::current(),
        })
    }

    /// Sends failed logins and lockouts to the audit log.
    pub fn connect_audit(self: &Arc<Self>) {
        let app = Arc::downgrade(self);
        self.auth.set_audit_hook(move |event| {
            let Some(app) = app.upgrade() else { return };
            match &event {
                crate::auth::AuthAudit::Failed { suppressed, .. } => {
                    app.metrics.failed_logins(1 + suppressed);
                }
                crate::auth::AuthAudit::Blocked { .. } => app.metrics.blocked(),
                _ => {}
            }
            let time = crate::jobs::rfc3339(std::time::SystemTime::now());
            let record = match event {
                crate::auth::AuthAudit::Failed {
                    peer,
                    user,
                    suppressed,
                } => serde_json::json!({
                    "kind": "login_failed", "time": time, "peer": peer.to_string(), "user": user,
                    "suppressed": suppressed,
                }),
                crate::auth::AuthAudit::Blocked { peer, failures } => serde_json::json!({
                    "kind": "address_blocked", "time": time, "peer": peer.to_string(),
                    "failures": failures,
                }),
                crate::auth::AuthAudit::UserGuarded { user, failures } => serde_json::json!({
                    "kind": "user_guarded", "time": time, "user": user, "failures": failures,
                }),
                crate::auth::AuthAudit::Unblocked { addresses, lifted } => serde_json::json!({
                    "kind": "blocks_lifted", "time": time, "addresses": addresses, "lifted": lifted,
                }),
            };
            app.jobs.audit().record(&record);
        });
    }

    /// Answers one request: the result's `args`, or an error. Logs one line.
    pub(crate) async fn dispatch(
        self: &Arc<Self>,
        peer: &Peer,
        namespace: &str,
        name: &str,
        args: Value,
        authorization: Option<&str>,
    ) -> Result<Answered, ApiError> {
        let started = Instant::now();
        // Class names are case-insensitive, as the reference server lower-cased them.
        let (namespace, name) = (&*lower(namespace), &*lower(name));
        let action = args
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let result = self
            .dispatch_inner(peer, namespace, name, args, authorization)
            .await;
        let user = peer.login().map(|login| login.principal.user);
        let user = user.as_deref().unwrap_or("-");
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let status = match &result {
            Ok(_) => 200,
            Err(error) => error.code().code(),
        };
        self.metrics.request(
            (namespace, name),
            &action,
            peer.transport.as_str(),
            status,
            elapsed_ms / 1000.0,
        );
        match &result {
            Err(error) if error.code() == ErrorCode::Internal => tracing::error!(
                transport = peer.transport.as_str(), peer = %peer.addr, user,
                class = %format_args!("{namespace}/{name}"), action, status, elapsed_ms,
                details = ?error.details, "request failed"),
            _ => tracing::info!(
                transport = peer.transport.as_str(), peer = %peer.addr, user,
                class = %format_args!("{namespace}/{name}"), action, status, elapsed_ms,
                "request"),
        }
        result
    }

    async fn dispatch_inner(
        self: &Arc<Self>,
        peer: &Peer,
        namespace: &str,
        name: &str,
        args: Value,
        authorization: Option<&str>,
    ) -> Result<Answered, ApiError> {
        let ip = peer.addr.ip();
        self.auth.check_not_blocked(ip)?;
        if namespace == RPC_NAMESPACE {
            let request = RpcRequest::decode(name, &args)
                .ok_or_else(|| ApiError::not_found(namespace, name))??;
            if request.is_public() {
                return self.public_rpc(peer, request).await.map(Answered::from);
            }
            let principal = self.authenticate(peer, authorization).await?;
            if request == RpcRequest::Capabilities {
                return Ok(self.capabilities().await.into());
            }
            return self.rpc(peer, &principal, request).map(Answered::from);
        }
        if namespace == sysadm_proto::EVENTS_NAMESPACE {
            let request = EventsRequest::decode(name, &args)
                .ok_or_else(|| ApiError::not_found(namespace, name))??;
            self.authenticate(peer, authorization).await?;
            return self.events_request(peer, request).map(Answered::from);
        }
        if namespace == IOCAGE_NAMESPACE && name == IOCAGE_NAME {
            let principal = self.authenticate(peer, authorization).await?;
            if args.is_null() && peer.transport == Transport::Rest {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    "the request has no body: send the args as a JSON object in the body, \
                     usually with PUT or POST, e.g. PUT /sysadm/iocage {\"action\": \"listjails\"}",
                ));
            }
            let (request, options) = IocageRequest::from_args_with_options(&args)?;
            return self.iocage(peer, &principal, request, options).await;
        }
        Err(ApiError::not_found(namespace, name))
    }

    /// Who is asking: the peer's session (WebSocket) or the Authorization header (REST).
    async fn authenticate(
        &self,
        peer: &Peer,
        authorization: Option<&str>,
    ) -> Result<Principal, ApiError> {
        let principal = self.authenticate_inner(peer, authorization).await?;
        if peer.authenticated() {
            // The first authenticated request of a connection from an
            // untrusted network: one wake-up moves it to the main lane, so
            // that its work (and the tasks it starts) are not done on the
            // low lane (lanes.rs).
            tokio::task::yield_now().await;
        }
        Ok(principal)
    }

    async fn authenticate_inner(
        &self,
        peer: &Peer,
        authorization: Option<&str>,
    ) -> Result<Principal, ApiError> {
        let ip = peer.addr.ip();
        match peer.transport {
            // Only uncached Basic credentials need a hash, off the async workers.
            Transport::Rest => {
                let header = authorization.map(str::to_owned);
                let principal = self
                    .auth
                    .authorize_header_offloaded(ip, header.as_deref())
                    .await?;
                // A REST peer is one request: remember who it is for the log line.
                peer.set_login(Some(Login {
                    principal: principal.clone(),
                    token: None,
                }));
                Ok(principal)
            }
            Transport::WebSocket => match peer.login() {
                None => Err(ApiError::new(
                    ErrorCode::Unauthorized,
                    "not authenticated: send rpc/auth with username and password, or rpc/auth_token, first",
                )),
                Some(Login {
                    token: Some(token), ..
                }) => match self.auth.touch(&token) {
                    Ok(principal) => Ok(principal),
                    Err(error) => {
                        peer.set_login(None);
                        Err(error.into())
                    }
                },
                // A key session: the key is checked again on every request, so a revoke ends it.
                Some(Login {
                    principal,
                    token: None,
                }) => match &principal.key {
                    None => Ok(principal),
                    Some(scope) => self.auth.recheck_key(scope).map_err(|error| {
                        peer.set_login(None);
                        ApiError::from(error)
                    }),
                },
            },
        }
    }

    async fn public_rpc(&self, peer: &Peer, request: RpcRequest) -> Result<Reply, ApiError> {
        let ip = peer.addr.ip();
        let session = match request {
            RpcRequest::Identify => {
                return Ok(to_value(&IdentifyReply::server(self.hostname.clone())));
            }
            RpcRequest::Auth { username, password } => {
                self.auth.login_offloaded(ip, username, password).await?
            }
            RpcRequest::AuthToken { token } => self.auth.resume(ip, &token)?,
            RpcRequest::AuthKey { key } => {
                let principal = self.auth.authorize_key(ip, &key)?;
                let scope = principal.key.clone().expect("a key login has a key scope");
                let _ = peer.authenticated();
                let info = self
                    .auth
                    .list_keys()
                    .into_iter()
                    .find(|info| info.name == scope.name);
                if peer.transport == Transport::WebSocket {
                    peer.set_login(Some(Login {
                        principal,
                        token: None,
                    }));
                }
                return Ok(to_value(&info));
            }
            _ => unreachable!("is_public covers only identify, auth, auth_token and auth_key"),
        };
        let reply = AuthReply(session.token.clone(), session.lifetime_secs);
        let _ = peer.authenticated();
        if peer.transport == Transport::WebSocket {
            peer.set_login(Some(Login {
                principal: session.principal,
                token: Some(session.token),
            }));
        }
        Ok(to_value(&reply))
    }

    fn rpc(
        &self,
        peer: &Peer,
        principal: &Principal,
        request: RpcRequest,
    ) -> Result<Reply, ApiError> {
        match request {
            RpcRequest::AuthClear => {
                if let Some(Login {
                    token: Some(token), ..
                }) = peer.login()
                {
                    self.auth.clear(&token);
                }
                peer.set_login(None);
                Ok(to_value(&AUTH_CLEARED))
            }
            RpcRequest::Query => {
                let access = match principal.role {
                    Role::Admin => Access::ReadWrite,
                    Role::Viewer => Access::Read,
                };
                // Every class this server answers beyond the always-present
                // rpc/auth*, rpc/identify, rpc/query and events; the job list
                // and the capabilities only read, for every role; rpc/keys
                // for those who may use it.
                let mut reply: QueryReply = [
                    (format!("{IOCAGE_NAMESPACE}/{IOCAGE_NAME}"), access),
                    (format!("{RPC_NAMESPACE}/dispatcher"), Access::Read),
                    (format!("{RPC_NAMESPACE}/capabilities"), Access::Read),
                ]
                .into();
                if crate::keys_api::may_manage_keys(principal) {
                    reply.insert(format!("{RPC_NAMESPACE}/keys"), Access::ReadWrite);
                }
                Ok(to_value(&reply))
            }
            RpcRequest::DispatcherList => Ok(to_value(&self.jobs.running())),
            RpcRequest::Keys(request) => crate::keys_api::answer(&self.auth, principal, request),
            RpcRequest::Capabilities => unreachable!("answered in dispatch_inner"),
            RpcRequest::DispatcherHistory { since } => {
                Ok(to_value(&self.events.finished_jobs(since)))
            }
            RpcRequest::Identify
            | RpcRequest::Auth { .. }
            | RpcRequest::AuthToken { .. }
            | RpcRequest::AuthKey { .. } => {
                unreachable!("public requests are answered before authentication")
            }
        }
    }

    fn events_request(&self, peer: &Peer, request: EventsRequest) -> Result<Reply, ApiError> {
        let Some(subscriber) = &peer.subscriber else {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "events are delivered over WebSocket only; connect to wss://<host>:<port>/ to subscribe",
            ));
        };
        let subscribed = match &request {
            EventsRequest::Subscribe(names) if names.since.is_some() => {
                let since = names.since.unwrap_or_default();
                self.events
                    .resume(subscriber, &names.known, since)
                    .map_err(|_| {
                        ApiError::new(
                            ErrorCode::Conflict,
                            "the replay of an earlier subscription with 'since' is still being \
                             sent on this connection; read it, then subscribe again",
                        )
                    })?
            }
            EventsRequest::Subscribe(names) => self.events.subscribe(subscriber, &names.known),
            EventsRequest::Unsubscribe(names) => self.events.unsubscribe(subscriber, &names.known),
        };
        let unknown = request.names().unknown.clone();
        Ok(to_value(&SubscriptionReply::new(subscribed, unknown)))
    }

    async fn iocage(
        self: &Arc<Self>,
        peer: &Peer,
        principal: &Principal,
        request: IocageRequest,
        options: sysadm_proto::CallOptions,
    ) -> Result<Answered, ApiError> {
        // The one place roles are enforced.
        if request.changes_host() && principal.role != Role::Admin {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "user '{}' has the viewer role, which may not run '{}': it changes the host",
                    principal.user,
                    request.action()
                ),
            ));
        }
        if let Some(scope) = &principal.key {
            crate::keys_api::check_scope(&self.service, scope, &request).await?;
        }
        if let Some(preview) = self.destruction_gate(principal, &request, &options).await? {
            return Ok(preview.into());
        }
        let caller = Caller {
            user: principal.user.clone(),
            peer: Some(peer.addr),
        };
        if !request.changes_host() {
            // Reads of an unchanged simulated host come back already
            // serialized; on a real host, a kept answer with its age.
            let read = self
                .service
                .handle_json_with_age(request, &caller, options.messages)
                .await?;
            return Ok(Answered {
                args: read.args,
                age: read.age,
            });
        }
        // A replayed idempotent reply or a job's result is never a kept read: no age.
        if let Some(key) = &options.idempotency_key {
            return self
                .idempotent_change(principal, caller, request, key)
                .await
                .map(Answered::from);
        }
        // A job runs in its own task: a client that goes away must not
        // abandon a change halfway.
        let app = self.clone();
        let job = self.lanes.spawn_job(&self.tracker, async move {
            let mut printed = Vec::new();
            let work = async {
                let (reply, messages) = app
                    .service
                    .handle_with_messages(request.clone(), &caller)
                    .await;
                printed = messages;
                reply
            };
            let response = app.jobs.run(&caller, &request, work).await;
            (response, printed)
        });
        let (response, printed) = job.await.map_err(|error| {
            tracing::error!(%error, "job task failed");
            ApiError::new(ErrorCode::Internal, "job task failed")
        })?;
        let reply = to_value(&response?);
        Ok(if options.messages {
            iocage_service::with_messages(&reply, &printed)
        } else {
            reply
        }
        .into())
    }
}

/// A result on its way to its transport: the `args`, and for a read answered
/// from a kept answer (`[limits] iocage_read_ttl_ms`), how old that answer
/// is, which REST sends as the `Age` and `Sysadmd-Age-Ms` headers and
/// WebSocket as `"age_ms"` in the envelope, beside `args`.
#[derive(Debug, Clone)]
pub(crate) struct Answered {
    pub(crate) args: Reply,
    /// `None` for everything read or computed for this request.
    pub(crate) age: Option<std::time::Duration>,
}

impl From<Reply> for Answered {
    fn from(args: Reply) -> Self {
        Answered { args, age: None }
    }
}

/// A result's `args`, serialized once: replies are written straight into the
/// envelope, never built as a `Value` tree first (that tripled the cost of a
/// large `listjails`). Shared, because the service keeps the replies of
/// reads for as long as the host does not change.
pub(crate) type Reply = Arc<RawValue>;

pub(crate) fn to_value<T: serde::Serialize + ?Sized>(value: &T) -> Reply {
    Arc::from(serde_json::value::to_raw_value(value).expect("wire types always serialize"))
}

/// `text` in ASCII lower case, allocating only when it has upper case.
fn lower(text: &str) -> std::borrow::Cow<'_, str> {
    if text.bytes().any(|byte| byte.is_ascii_uppercase()) {
        text.to_ascii_lowercase().into()
    } else {
        text.into()
    }
}

/// The host's name, for `rpc/identify`.
fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}
