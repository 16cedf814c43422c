//! SIGHUP: read the configuration file again and apply what can change while
//! connections stay open (the TLS certificate and key, the users, the audit
//! log file after a rotation). A reload that fails keeps everything running
//! as it was; settings that need a restart are named, never silently ignored.

use std::sync::Arc;

use anyhow::Result;

use crate::app::App;
use crate::config::{Config, ServeArgs, TlsChoice};
use crate::tls::{self, TlsSwap};

/// What a running server needs to reload itself.
#[derive(Debug, Clone)]
pub struct Reloader {
    app: Arc<App>,
    tls: Option<TlsSwap>,
    args: ServeArgs,
    running: Config,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// Whether a new certificate is served to new connections.
    pub tls: bool,
    /// Settings that changed in the file but take effect only after a restart.
    pub need_restart: Vec<&'static str>,
}

impl Reloader {
    pub(crate) fn new(
        app: Arc<App>,
        tls: Option<TlsSwap>,
        args: ServeArgs,
        running: Config,
    ) -> Self {
        Reloader {
            app,
            tls,
            args,
            running,
        }
    }

    /// Reloads, or changes nothing and says why.
    pub fn reload(&self) -> Result<Reloaded> {
        // Everything that can fail is done before anything is applied.
        let new = Config::resolve(&self.args)?;
        let certificate = match (&self.tls, &new.tls) {
            (Some(_), TlsChoice::Plaintext) | (None, _) => None,
            (Some(_), choice) => Some(tls::server_config(choice, &new.state_dir)?),
        };
        let mut need_restart = restart_only_changes(&self.running, &new);
        if self.tls.is_some() != (new.tls != TlsChoice::Plaintext) {
            need_restart.push("plaintext");
        }
        let mut reloaded_tls = false;
        if let (Some(swap), Some(Some((config, info)))) = (&self.tls, certificate) {
            swap.replace(config);
            reloaded_tls = true;
            tracing::info!(certificate = %info.cert_path.display(), fingerprint = %info.fingerprint, "TLS certificate reloaded");
        }
        self.app.auth.reload_users();
        self.app.ops.set_confirm_destroy(new.safety.confirm_destroy);
        if let Err(error) = self.app.jobs.audit().reopen() {
            tracing::error!(
                error = format!("{error:#}"),
                "cannot reopen the audit log; still writing to the file open before"
            );
        }
        Ok(Reloaded {
            tls: reloaded_tls,
            need_restart,
        })
    }

    /// [`Reloader::reload`], reported in one log line either way.
    pub fn reload_and_log(&self) {
        match self.reload() {
            Ok(Reloaded { need_restart, .. }) if need_restart.is_empty() => {
                tracing::info!("configuration reloaded (SIGHUP): certificate, users and audit log");
            }
            Ok(Reloaded { need_restart, .. }) => tracing::warn!(
                need_restart = need_restart.join(", "),
                "configuration reloaded (SIGHUP): certificate, users and audit log; \
                 these settings changed but take effect only after a restart"
            ),
            Err(error) => tracing::error!(
                error = format!("{error:#}"),
                "reload (SIGHUP) failed; the running configuration is unchanged"
            ),
        }
    }
}

/// The settings that differ between `old` and `new` and cannot change in a
/// running server (only the certificate, users and audit file can).
fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut check = |name: &'static str, differs: bool| {
        if differs {
            changed.push(name);
        }
    };
    check("listen", old.listen != new.listen);
    check("state_dir", old.state_dir != new.state_dir);
    check("backend", old.backend != new.backend);
    check("iocage", old.iocage != new.iocage);
    check("iocage_flavour", old.iocage_flavour != new.iocage_flavour);
    check("audit_log", old.audit_log != new.audit_log);
    check("limits", old.limits != new.limits);
    check("auth", old.auth != new.auth);
    check("sim", old.sim != new.sim);
    check("http", old.http != new.http);
    changed
}
