//! The `Backend` trait: the operations iocage offers, typed, and the errors
//! they can end in. The simulated host and the real iocage both implement it.

use std::sync::Arc;

use async_trait::async_trait;
use sysadm_proto::ErrorCode;

use crate::model::{
    CleanTarget, DfEntry, ExecOutput, JailInfo, NewJail, PluginInfo, PropertyRow, Releases,
    StateChange,
};
use crate::preview::{BackendDescription, Doomed};
use sysadm_proto::WouldDestroy;

/// How a backend operation failed. The text is iocage's (or the
/// simulation's) explanation and is safe to show to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// A jail, release or pool does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The host's state forbids it (409).
    #[error("{0}")]
    Conflict(String),
    /// iocage refused an argument (400).
    #[error("{0}")]
    Invalid(String),
    /// iocage ran and failed (502).
    #[error("{text}")]
    Failed {
        /// iocage's error text.
        text: String,
    },
    /// iocage is not installed or cannot run (503).
    #[error("{0}")]
    Unavailable(String),
    /// iocage did not finish in time (504).
    #[error("{0}")]
    TimedOut(String),
    /// The installed iocage has no such command (501).
    #[error("the installed iocage has no {what}")]
    NotSupported {
        /// The missing command.
        what: String,
    },
}

impl BackendError {
    /// The wire code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            BackendError::NotFound(_) => ErrorCode::NotFound,
            BackendError::Conflict(_) => ErrorCode::Conflict,
            BackendError::Invalid(_) => ErrorCode::BadRequest,
            BackendError::Failed { .. } => ErrorCode::BadGateway,
            BackendError::Unavailable(_) => ErrorCode::Unavailable,
            BackendError::TimedOut(_) => ErrorCode::Timeout,
            BackendError::NotSupported { .. } => ErrorCode::NotImplemented,
        }
    }
}

/// Shorthand for backend results.
pub type BackendResult<T> = Result<T, BackendError>;

/// The operations of an iocage host.
///
/// Jails are named by UUID: the service validates every argument and
/// resolves tags and short UUIDs before calling. Property lists are already
/// split into `(key, value)` pairs and checked against iocage's property set;
/// `argv` is a word vector for `jexec`, never a shell command line.
#[async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Every jail and template (`iocage list` and `list -t`).
    async fn list_jails(&self) -> BackendResult<Vec<JailInfo>>;
    /// The jails that are not templates (what `listjails` shows). A backend
    /// that lists templates apart overrides it to skip that listing.
    async fn list_non_templates(&self) -> BackendResult<Vec<JailInfo>> {
        let mut jails = self.list_jails().await?;
        jails.retain(|jail| !jail.template);
        Ok(jails)
    }
    /// [`Backend::list_non_templates`], shared: a backend that keeps its
    /// listing while it does not change (the simulated host, whose listing
    /// is its state) hands out that one copy. By default the owned listing,
    /// wrapped.
    async fn list_non_templates_shared(&self) -> BackendResult<Arc<Vec<JailInfo>>> {
        self.list_non_templates().await.map(Arc::new)
    }
    /// The templates only. A backend that lists templates apart overrides it
    /// to skip the jails' listing.
    async fn list_templates(&self) -> BackendResult<Vec<JailInfo>> {
        let mut jails = self.list_jails().await?;
        jails.retain(|jail| jail.template);
        Ok(jails)
    }
    /// Disk usage of every jail (`iocage df`).
    async fn df(&self) -> BackendResult<Vec<DfEntry>>;
    /// One property of one jail (`iocage get PROP UUID`); `state` gives `up`/`down`.
    async fn get_property(&self, uuid: &str, prop: &str) -> BackendResult<String>;
    /// Every property of one jail, in iocage's order (`iocage get all UUID`).
    async fn get_all(&self, uuid: &str) -> BackendResult<Vec<(String, String)>>;
    /// One property of every jail (`iocage get -r PROP`).
    async fn get_recursive(&self, prop: &str) -> BackendResult<Vec<PropertyRow>>;
    /// The default properties (`iocage defaults`).
    async fn defaults(&self) -> BackendResult<Vec<(String, String)>>;
    /// Starts a jail.
    async fn start(&self, uuid: &str) -> BackendResult<StateChange>;
    /// Stops a jail.
    async fn stop(&self, uuid: &str) -> BackendResult<StateChange>;
    /// Re-applies resource limits (`iocage cap`).
    async fn cap(&self, uuid: &str) -> BackendResult<()>;
    /// Creates a jail from `key=value` properties; `empty` is `-e`.
    async fn create(&self, props: &[(String, String)], empty: bool) -> BackendResult<NewJail>;
    /// Clones a jail, with properties that should differ.
    async fn clone_jail(&self, uuid: &str, props: &[(String, String)]) -> BackendResult<NewJail>;
    /// Destroys a stopped jail (a running one is a 409).
    async fn destroy(&self, uuid: &str) -> BackendResult<()>;
    /// Destroys a jail the caller has just seen stopped, in a listing that
    /// started after the request arrived: a backend that asks iocage for the
    /// state before destroying overrides it to skip that question.
    async fn destroy_seen_stopped(&self, uuid: &str) -> BackendResult<()> {
        self.destroy(uuid).await
    }
    /// Whether a create or clone with a tag some jail or template has
    /// already is refused by the backend itself (a 409) before it changes
    /// anything, so that the service need not list to check the tag first.
    async fn refuses_taken_tags(&self) -> bool {
        false
    }
    /// Runs `argv` as `user` in a running jail.
    async fn exec(&self, uuid: &str, user: &str, argv: &[String]) -> BackendResult<ExecOutput>;
    /// Destroys datasets (`iocage clean -a|-j|-r|-t`).
    async fn clean(&self, target: CleanTarget) -> BackendResult<()>;
    /// The active pool (`iocage activate` without a pool reports it).
    async fn active_pool(&self) -> BackendResult<String>;
    /// Activates a pool.
    async fn activate(&self, pool: &str) -> BackendResult<()>;
    /// Deactivates a pool.
    async fn deactivate(&self, pool: &str) -> BackendResult<()>;
    /// Local and remote releases.
    async fn releases(&self) -> BackendResult<Releases>;
    /// The remote plugin index.
    async fn plugins(&self) -> BackendResult<Vec<PluginInfo>>;

    /// The tag the backend's iocage gives a jail created or cloned without
    /// one, when that default could collide with another jail's tag: the
    /// service then picks a free tag itself (that tag, or it with `_2`,
    /// `_3`, ... appended) and passes it as `tag=`. `None` (the default)
    /// when the backend's own default is unique. Legacy iocage's is the
    /// time to the second (`date "+%F@%T"`).
    async fn default_tag(&self) -> BackendResult<Option<String>> {
        Ok(None)
    }

    /// A number that changes whenever anything a read returns may have
    /// changed, or `None` when the backend cannot know (a real host changes
    /// by itself: jails stop, datasets fill up). With `Some`, the service
    /// may answer a read again from its serialized reply while the number
    /// stays the same.
    ///
    /// The contract: a change takes the number to a value it never had
    /// before *before* it alters anything a read can see, and a read sees
    /// either all of a change or none of it.
    fn generation(&self) -> Option<u64> {
        None
    }

    /// What `doomed` would destroy, changing nothing; the errors the change
    /// itself would end in (a running jail is a 409). By default computed
    /// from the listings ([`Backend::list_jails`], [`Backend::releases`],
    /// [`Backend::active_pool`]).
    async fn preview(&self, doomed: &Doomed) -> BackendResult<WouldDestroy> {
        crate::preview::from_listings(self, doomed).await
    }

    /// What this backend is, for `rpc/capabilities`.
    async fn describe(&self) -> BackendDescription {
        BackendDescription::default()
    }

    /// `Ok` when the backend can serve, else why not (for `GET /healthz`).
    async fn health(&self) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_its_status() {
        let text = || "x".to_owned();
        let cases = [
            (BackendError::NotFound(text()), 404),
            (BackendError::Conflict(text()), 409),
            (BackendError::Invalid(text()), 400),
            (BackendError::Failed { text: text() }, 502),
            (BackendError::Unavailable(text()), 503),
            (BackendError::TimedOut(text()), 504),
            (BackendError::NotSupported { what: text() }, 501),
        ];
        for (error, status) in cases {
            assert_eq!(error.code().code(), status, "{error:?}");
        }
    }
}
