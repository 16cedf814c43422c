//! API keys over the API: `rpc/keys` (create, list, revoke; admins only)
//! the scope check `App::iocage` makes for a request sent with a key, and the
//! end of a key session whose key was revoked.

use std::sync::Arc;

use iocage_service::IocageService;
use sysadm_proto::{ErrorCode, EventKind, IocageRequest, KeyList, KeyRevoked, KeysRequest};

use crate::app::{ApiError, App, Peer, Reply, to_value};
use crate::auth::{Auth, KeyScope, Principal, Role};

/// Answers `rpc/keys`. Only admins manage keys, and a key limited to some
/// jails or actions may not (it could make itself a wider one).
pub(crate) fn answer(
    auth: &Arc<Auth>,
    principal: &Principal,
    request: KeysRequest,
) -> Result<Reply, ApiError> {
    if principal.role != Role::Admin {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "'{}' has the viewer role; only admins may use rpc/keys",
                principal.user
            ),
        ));
    }
    if let Some(scope) = principal.key.as_deref().filter(|scope| is_limited(scope)) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "{}; only users and unlimited admin keys may use rpc/keys",
                scope.describe()
            ),
        ));
    }
    match request {
        KeysRequest::List => Ok(to_value(&KeyList {
            keys: auth.list_keys(),
        })),
        KeysRequest::Create(spec) => {
            if auth.list_keys().iter().any(|info| info.name == spec.name) {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!(
                        "key '{}' exists already: revoke it first, or choose another name",
                        spec.name
                    ),
                ));
            }
            let created = auth
                .create_key(&spec, &principal.user)
                .map_err(|error| ApiError::new(ErrorCode::BadRequest, format!("{error:#}")))?;
            tracing::info!(key = %spec.name, role = spec.role.as_str(), by = %principal.user, "API key created");
            Ok(to_value(&created))
        }
        KeysRequest::Revoke { name } => {
            auth.revoke_key(&name)
                .map_err(|error| ApiError::new(ErrorCode::NotFound, format!("{error:#}")))?;
            tracing::info!(key = %name, by = %principal.user, "API key revoked");
            Ok(to_value(&KeyRevoked { revoked: name }))
        }
    }
}

/// Whether an event may go to a connection: always, unless it logged in with
/// an API key that is now revoked or expired; then the session ends (the
/// login is cleared and the subscriptions dropped), so it hears nothing more
/// until it logs in again.
pub(crate) fn key_still_valid(app: &App, peer: &Peer) -> bool {
    let Some(scope) = peer.login().and_then(|login| login.principal.key) else {
        return true;
    };
    if app.auth.recheck_key(&scope).is_ok() {
        return true;
    }
    peer.set_login(None);
    if let Some(subscriber) = &peer.subscriber {
        app.events.unsubscribe(subscriber, &EventKind::ALL);
    }
    tracing::info!(key = %scope.name, peer = %peer.addr, "the session's API key was revoked or expired: session ended");
    false
}

/// Whether `principal` may use `rpc/keys`: an admin user, or an admin key
/// without limits.
pub(crate) fn may_manage_keys(principal: &Principal) -> bool {
    principal.role == Role::Admin && !principal.key.as_deref().is_some_and(is_limited)
}

fn is_limited(scope: &KeyScope) -> bool {
    scope.limits_jails() || !scope.actions.is_empty()
}

/// Refuses (403, naming what the key allows) a request outside a key's scope.
///
/// A key limited to jails may act on a jail whose tag or UUID matches one of
/// its patterns (the jail as the service resolves the name; a name that
/// resolves to no jail is judged as given, and then answered 404 by the
/// service), create or clone only jails whose new `tag=` matches, and run
/// the reads that name no jail (listjails, df, ...: they show the whole
/// host); never a change to the whole host (clean*, activate, deactivate).
pub(crate) async fn check_scope(
    service: &IocageService,
    scope: &KeyScope,
    request: &IocageRequest,
) -> Result<(), ApiError> {
    let action = request.action();
    let refuse = |why: String| {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("{}: {why}", scope.describe()),
        ))
    };
    if !scope.allows_action(action) {
        return refuse(format!("not '{action}'"));
    }
    if !scope.limits_jails() {
        return Ok(());
    }
    if let Some(name) = request.jail() {
        let allowed = match service.resolve_jail(name).await {
            Ok(jail) => scope.allows_jail(&[&jail.tag, &jail.uuid]),
            Err(_) => scope.allows_jail(&[name]),
        };
        if !allowed {
            return refuse(format!("not jail '{name}'"));
        }
    }
    match request {
        IocageRequest::CreateJail { props, .. } | IocageRequest::CloneJail { props, .. } => {
            match new_tag(props) {
                Some(tag) if scope.allows_jail(&[tag]) => Ok(()),
                Some(tag) => refuse(format!("not a new jail tagged '{tag}'")),
                None => refuse(format!(
                    "'{action}' needs a tag=NAME in props that matches, so the new jail is one the key may use"
                )),
            }
        }
        _ if request.jail().is_none() && request.changes_host() => {
            refuse(format!("not '{action}', which changes the whole host"))
        }
        _ => Ok(()),
    }
}

/// The `tag=` of `key=value` words.
fn new_tag(props: &str) -> Option<&str> {
    props
        .split_whitespace()
        .find_map(|word| word.strip_prefix("tag="))
        .filter(|tag| !tag.is_empty())
}
