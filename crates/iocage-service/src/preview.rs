//! What a destructive request would destroy, and what a backend is: the
//! parts of the [`Backend`] trait that serve automation (dry runs,
//! `rpc/capabilities`, health checks).

use sysadm_proto::{Action, JailRef, WouldDestroy};

use crate::backend::{Backend, BackendError, BackendResult};
use crate::model::{CleanTarget, JailInfo};

/// What a destructive request targets, after the jail name is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Doomed {
    /// `destroyjail` of the jail with this UUID.
    Jail(String),
    /// One of the `clean` actions.
    Clean(CleanTarget),
}

/// Which kind of backend serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The simulated host.
    Simulated,
    /// The real iocage program.
    Iocage,
    /// Another implementation, supplied by a program embedding the service.
    Custom,
}

impl BackendKind {
    /// Its name in `rpc/capabilities`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Simulated => "simulated",
            BackendKind::Iocage => "iocage",
            BackendKind::Custom => "custom",
        }
    }
}

/// What a backend is and which actions it cannot carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendDescription {
    /// Its kind.
    pub kind: BackendKind,
    /// The iocage flavour (`legacy`, `python`), when known.
    pub flavour: Option<String>,
    /// The iocage version, when it was asked.
    pub version: Option<String>,
    /// Actions that always end in 501 on this backend, with why.
    pub not_supported: Vec<(Action, String)>,
}

impl Default for BackendDescription {
    fn default() -> Self {
        BackendDescription {
            kind: BackendKind::Custom,
            flavour: None,
            version: None,
            not_supported: Vec::new(),
        }
    }
}

/// The datasets iocage keeps under a pool, as both flavours name them.
fn dataset(pool: &str, kind: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{pool}/iocage/{kind}/{name}"),
        None => format!("{pool}/iocage/{kind}"),
    }
}

fn jail_ref(jail: &JailInfo) -> JailRef {
    JailRef {
        uuid: jail.uuid.clone(),
        tag: jail.tag.clone(),
    }
}

/// What `doomed` would destroy, computed from the backend's listings (the
/// jails and templates, the local releases, the active pool), with the
/// refusals `destroy` itself gives: a running jail, a jail with clones.
pub(crate) async fn from_listings<B: Backend + ?Sized>(
    backend: &B,
    doomed: &Doomed,
) -> BackendResult<WouldDestroy> {
    let pool = backend.active_pool().await?;
    let jails = backend.list_jails().await?;
    let mut would = WouldDestroy::default();
    let (plain, templates): (Vec<&JailInfo>, Vec<&JailInfo>) =
        jails.iter().partition(|jail| !jail.template);
    let refs = |list: &[&JailInfo]| list.iter().map(|jail| jail_ref(jail)).collect::<Vec<_>>();
    match doomed {
        Doomed::Jail(uuid) => {
            let jail = jails
                .iter()
                .find(|jail| &jail.uuid == uuid)
                .ok_or_else(|| BackendError::NotFound(format!("jail {uuid} not found")))?;
            if jail.is_up() {
                return Err(BackendError::Conflict(format!(
                    "jail {uuid} ({}) is running; stop it before destroying it",
                    jail.tag
                )));
            }
            if let Some(clone) = jails
                .iter()
                .find(|other| other.origin.as_deref() == Some(uuid.as_str()))
            {
                return Err(BackendError::Conflict(format!(
                    "jail has dependent clone, uuid: {} ({}); destroy the clone first",
                    clone.uuid, clone.tag
                )));
            }
            let kind = if jail.template { "templates" } else { "jails" };
            if jail.template {
                would.templates.push(jail_ref(jail));
            } else {
                would.jails.push(jail_ref(jail));
            }
            would.datasets.push(dataset(&pool, kind, Some(uuid)));
        }
        Doomed::Clean(CleanTarget::Jails) => {
            would.jails = refs(&plain);
            would.datasets.push(dataset(&pool, "jails", None));
        }
        Doomed::Clean(CleanTarget::Templates) => {
            would.templates = refs(&templates);
            would.datasets.push(dataset(&pool, "templates", None));
        }
        Doomed::Clean(CleanTarget::Releases) => {
            would.releases = backend.releases().await?.local;
            would.datasets.push(dataset(&pool, "releases", None));
        }
        Doomed::Clean(CleanTarget::All) => {
            would.jails = refs(&plain);
            would.templates = refs(&templates);
            would.releases = backend.releases().await?.local;
            would.datasets.push(format!("{pool}/iocage"));
        }
    }
    would.jails.sort();
    would.templates.sort();
    would.releases.sort();
    Ok(would)
}
