//! Operations for automation that sit beside the documented API:
//! `rpc/capabilities`, `GET /healthz`, and the preview and confirmation of
//! destructive requests (`"dry_run": true`, `[safety] confirm_destroy`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sysadm_proto::{
    Action, BackendInfo, CallOptions, CapabilitiesReply, DryRunReply, ErrorCode, IocageRequest,
    ServerInfo, WouldDestroy,
};

use crate::app::{ApiError, App, Reply, to_value};
use crate::auth::Principal;

/// How long a dry run's `confirm` token is good for.
pub(crate) const CONFIRM_WITHIN: Duration = Duration::from_secs(60);

/// Tokens kept at most; the oldest go first when more are asked for.
const MAX_PENDING: usize = 1024;

/// Dry runs waiting for their confirmation.
#[derive(Debug, Default)]
pub(crate) struct Ops {
    /// `[safety] confirm_destroy`.
    confirm_destroy: AtomicBool,
    pending: Mutex<HashMap<String, Pending>>,
}

#[derive(Debug)]
struct Pending {
    /// Who asked and what, canonically.
    request: String,
    /// What the dry run said would be destroyed.
    would_destroy: WouldDestroy,
    issued: Instant,
}

impl Ops {
    /// Sets `[safety] confirm_destroy` (at start and on reload).
    pub(crate) fn set_confirm_destroy(&self, on: bool) {
        self.confirm_destroy.store(on, Ordering::SeqCst);
    }

    fn confirm_destroy(&self) -> bool {
        self.confirm_destroy.load(Ordering::SeqCst)
    }

    fn issue(&self, request: String, would_destroy: WouldDestroy) -> String {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random source works");
        let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        let mut pending = self.pending.lock().expect("confirmations lock");
        pending.retain(|_, entry| entry.issued.elapsed() < CONFIRM_WITHIN);
        if pending.len() >= MAX_PENDING
            && let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, entry)| entry.issued)
                .map(|(token, _)| token.clone())
        {
            pending.remove(&oldest);
        }
        pending.insert(
            token.clone(),
            Pending {
                request,
                would_destroy,
                issued: Instant::now(),
            },
        );
        token
    }

    /// Takes the token if it is a live one for `request`.
    fn take(&self, token: &str, request: &str) -> Option<WouldDestroy> {
        let mut pending = self.pending.lock().expect("confirmations lock");
        let entry = pending.get(token)?;
        if entry.request != request || entry.issued.elapsed() >= CONFIRM_WITHIN {
            return None;
        }
        pending.remove(token).map(|entry| entry.would_destroy)
    }
}

/// What identifies a request for its confirmation: the user and the canonical args.
fn confirm_key(principal: &Principal, request: &IocageRequest) -> String {
    format!("{}\n{}", principal.user, request.to_args())
}

impl App {
    /// For a destructive request: the dry run's reply, or a refusal when
    /// confirmation is required and missing. `None`: go on and run it.
    pub(crate) async fn destruction_gate(
        &self,
        principal: &Principal,
        request: &IocageRequest,
        options: &CallOptions,
    ) -> Result<Option<Reply>, ApiError> {
        let action = request.action();
        if action.destructive_arguments().is_none() {
            return Ok(None);
        }
        let caller = iocage_service::Caller {
            user: principal.user.clone(),
            peer: None,
        };
        let key = confirm_key(principal, request);
        if options.dry_run {
            let would_destroy = self.service.preview(request, &caller).await?;
            let confirm = self.ops.issue(key, would_destroy.clone());
            return Ok(Some(to_value(&DryRunReply {
                action,
                would_destroy,
                confirm,
                confirm_within_secs: CONFIRM_WITHIN.as_secs(),
            })));
        }
        let instruction = |why: &str| {
            ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "{action} {why}: send the same request with \"dry_run\": true, check what it \
                     would destroy, then send it again within {} s with \"confirm\": \"<the \
                     token of the dry run>\"",
                    CONFIRM_WITHIN.as_secs()
                ),
            )
        };
        let Some(token) = &options.confirm else {
            if self.ops.confirm_destroy() {
                return Err(instruction(
                    "needs confirmation on this server ([safety] confirm_destroy)",
                ));
            }
            return Ok(None);
        };
        let Some(previewed) = self.ops.take(token, &key) else {
            return Err(instruction(&format!(
                "was sent with a confirm token that is unknown, expired, used, or from a dry run \
                 of another request ({})",
                sysadm_proto::shown(token)
            )));
        };
        // The host may have changed since the preview: never destroy more than was shown.
        let now = self.service.preview(request, &caller).await?;
        if now != previewed {
            return Err(instruction(
                "would now destroy something else than its dry run showed (the host changed)",
            ));
        }
        Ok(None)
    }

    /// The reply to `rpc/capabilities`.
    pub(crate) async fn capabilities(&self) -> Reply {
        let description = self.service.describe().await;
        let not_supported: std::collections::BTreeMap<String, String> = description
            .not_supported
            .iter()
            .map(|(action, why)| (action.as_str().to_owned(), why.clone()))
            .collect();
        let supported = Action::ALL
            .into_iter()
            .map(Action::as_str)
            .filter(|name| !not_supported.contains_key(*name))
            .map(str::to_owned)
            .collect();
        let mut features = vec![
            "dry_run".to_owned(),
            "healthz".to_owned(),
            "messages".to_owned(),
        ];
        if self.ops.confirm_destroy() {
            features.push("confirm_destroy".to_owned());
        }
        let mut limits = serde_json::to_value(&self.limits).expect("limits serialize");
        if let Some(table) = limits.as_object_mut() {
            table.insert(
                "confirm_within_secs".into(),
                CONFIRM_WITHIN.as_secs().into(),
            );
            table.insert(
                "max_idempotency_key".into(),
                sysadm_proto::MAX_IDEMPOTENCY_KEY.into(),
            );
        }
        to_value(&CapabilitiesReply {
            server: ServerInfo {
                name: "sysadmd".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                hostname: self.hostname.clone(),
            },
            backend: BackendInfo {
                kind: description.kind.as_str().into(),
                flavour: description.flavour,
                version: description.version,
            },
            health: match self.health().await {
                Ok(()) => "ok".into(),
                Err(reason) => reason,
            },
            supported,
            not_supported,
            features,
            limits,
        })
    }

    /// `Ok`, or why the server cannot serve changes now: the backend is
    /// unavailable, or the audit log cannot be written.
    pub(crate) async fn health(&self) -> Result<(), String> {
        self.jobs.audit().health()?;
        self.service.health().await
    }
}

/// `GET /healthz` (and HEAD): `ok`, or 503 with the reason, as plain text, without login.
pub(crate) async fn healthz(app: &Arc<App>) -> (hyper::StatusCode, String) {
    match app.health().await {
        Ok(()) => (hyper::StatusCode::OK, "ok\n".to_owned()),
        Err(reason) => (
            hyper::StatusCode::SERVICE_UNAVAILABLE,
            format!("{reason}\n"),
        ),
    }
}

/// `GET /metrics`: the Prometheus text, for any authenticated user (Basic
/// or Bearer, as REST); a 401 without a credential.
pub(crate) async fn metrics(
    app: &Arc<App>,
    ip: std::net::IpAddr,
    authorization: Option<String>,
) -> Result<String, ApiError> {
    app.auth.check_not_blocked(ip)?;
    app.auth
        .authorize_header_offloaded(ip, authorization.as_deref())
        .await?;
    Ok(metrics_text(app))
}

/// The metrics as text, with the gauges read now.
pub(crate) fn metrics_text(app: &App) -> String {
    let (last_seq, dropped) = app.events.counts();
    app.metrics.encode(crate::metrics::Snapshot {
        jobs_running: app.jobs.running().len(),
        last_seq,
        subscribers: app.events.subscriber_count(),
        dropped,
    })
}
