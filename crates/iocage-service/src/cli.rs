//! `CliBackend`: the [`Backend`] that drives the real `iocage` program on a
//! FreeBSD host, a thin adapter onto `iocage-cli`'s driver ([`Iocage`]),
//! which holds all the knowledge of iocage's command line: argv per command
//! and version, streams and exit statuses, prompts, version gates.
//!
//! The version is asked once, on first use, with `iocage --version` (unless
//! a flavour is given), and a version the driver does not support is
//! refused. What the driver returns becomes the same model values the
//! simulated host returns, so responses have the same shape whichever
//! backend serves; its error kinds become the matching [`BackendError`]s,
//! keeping iocage's text. The messages iocage printed around its output
//! (warnings, first-run lines) are logged and noted for the request
//! ([`crate::note_messages`]): a client that asks for them gets them beside
//! the documented keys; other replies keep the documented shape.

use std::time::Duration;

use async_trait::async_trait;
use iocage_cli::{
    Clean, DriverError, ErrorKind, Flavour, Iocage, IocageVersion, Jail, Missing, Parsed, Runner,
    Transition,
};
use tokio::sync::OnceCell;

use crate::backend::{Backend, BackendError, BackendResult};
use crate::model::{
    CleanTarget, DfEntry, ExecOutput, JailInfo, JailState, NewJail, PluginInfo, PropertyRow,
    Releases, StateChange,
};
use crate::preview::{BackendDescription, BackendKind};
use crate::properties;
use sysadm_proto::Action;

/// Runs iocage for every backend operation.
#[derive(Debug)]
pub struct CliBackend {
    runner: Runner,
    flavour: Option<Flavour>,
    remote_timeout: Duration,
    driver: OnceCell<Iocage>,
}

impl CliBackend {
    /// A backend running iocage through `runner`. With `flavour` `None`, the
    /// version is asked once, on first use, with `iocage --version`, and a
    /// version that is not supported ([`IocageVersion::supported`]) is
    /// refused: every operation then fails with 503 naming it. A failed
    /// detection is retried by the next operation. A given `flavour` skips
    /// the question and the check: the operator vouches for the version
    /// (legacy develop or Python 1.x).
    pub fn new(runner: Runner, flavour: Option<Flavour>) -> CliBackend {
        CliBackend {
            runner,
            flavour,
            remote_timeout: iocage_cli::DEFAULT_REMOTE_TIMEOUT,
            driver: OnceCell::new(),
        }
    }

    /// Tells `observer` of every iocage run (for metrics): the command word,
    /// how long it took and how it ended (see [`iocage_cli::RunObserver`]).
    /// Call before the first use.
    pub fn observe(
        mut self,
        observer: impl Fn(&str, Duration, &str) + Send + Sync + 'static,
    ) -> CliBackend {
        self.runner = self.runner.observe(observer);
        self
    }

    /// Sets the time limit of the remote part of `listreleases` (Python
    /// `list -R`, which goes to the network); when it fails or times out
    /// the local list is still answered.
    pub fn with_remote_timeout(mut self, limit: Duration) -> CliBackend {
        self.remote_timeout = limit;
        self
    }

    /// The runner this backend uses.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// The iocage flavour, detected on first use unless it was given.
    pub async fn flavour(&self) -> BackendResult<Flavour> {
        Ok(self.driver().await?.flavour())
    }

    /// The iocage version, asked on first use; `None` when the flavour was
    /// given instead.
    pub async fn version(&self) -> BackendResult<Option<IocageVersion>> {
        Ok(self.driver().await?.version().cloned())
    }

    /// The driver, made on first use.
    pub async fn driver(&self) -> BackendResult<&Iocage> {
        self.driver
            .get_or_try_init(|| async {
                let driver = match self.flavour {
                    Some(flavour) => Iocage::assume(self.runner.clone(), flavour),
                    None => Iocage::detect(self.runner.clone())
                        .await
                        .map_err(|error| backend_error(&self.runner, error))?,
                };
                Ok(driver.remote_timeout(self.remote_timeout))
            })
            .await
    }

    /// The value, its messages logged, or the error as a backend error.
    fn value<T>(&self, result: Result<Parsed<T>, DriverError>) -> BackendResult<T> {
        let parsed = result.map_err(|error| backend_error(&self.runner, error))?;
        for message in &parsed.messages {
            tracing::info!(level = ?message.level, text = %message.text, "iocage printed a message around its output");
        }
        crate::messages::note_messages(&parsed.messages);
        Ok(parsed.value)
    }

    async fn list(&self, templates: bool) -> BackendResult<Vec<JailInfo>> {
        let list = self.value(self.driver().await?.list(templates).await)?;
        Ok(list
            .jails
            .into_iter()
            .map(|jail| jail_info(jail, templates))
            .collect())
    }
}

/// The backend error for a driver error: the same kind, iocage's text.
fn backend_error(runner: &Runner, error: DriverError) -> BackendError {
    let text = error.text;
    match error.kind {
        ErrorKind::NotFound => BackendError::NotFound(text),
        ErrorKind::Conflict => BackendError::Conflict(text),
        ErrorKind::Invalid => BackendError::Invalid(text),
        ErrorKind::Failed => BackendError::Failed { text },
        ErrorKind::Unavailable => {
            // The path stays in the server's log: replies never name server files.
            tracing::error!(program = %runner.program().display(), %text, "iocage cannot be driven");
            BackendError::Unavailable(text)
        }
        ErrorKind::TimedOut => BackendError::TimedOut(text),
        ErrorKind::NotSupported => BackendError::NotSupported { what: text },
    }
}

#[async_trait]
impl Backend for CliBackend {
    async fn describe(&self) -> BackendDescription {
        let driver = self.driver().await.ok();
        BackendDescription {
            kind: BackendKind::Iocage,
            flavour: driver.map(|driver| driver.flavour().to_string()),
            version: driver.and_then(|driver| driver.version().map(ToString::to_string)),
            not_supported: driver.map_or_else(Vec::new, |driver| {
                driver
                    .missing()
                    .into_iter()
                    .map(|(missing, what)| {
                        let action = match missing {
                            Missing::Cap => Action::CapJail,
                            Missing::Deactivate => Action::DeactivatePool,
                            Missing::PluginIndex => Action::ListPlugins,
                            Missing::CleanTemplates => Action::CleanTemplates,
                        };
                        (action, format!("the installed iocage has no {what}"))
                    })
                    .collect()
            }),
        }
    }

    /// Legacy iocage's `date "+%F@%T"` in the host's local time, which two
    /// untagged creates in one second share ([`Iocage::default_tag`]).
    async fn default_tag(&self) -> BackendResult<Option<String>> {
        Ok(self.driver().await?.default_tag())
    }

    async fn health(&self) -> Result<(), String> {
        let program = self.runner.program();
        if !program.is_file() {
            return Err(format!(
                "iocage is unavailable: {} is not a file",
                program.display()
            ));
        }
        self.driver()
            .await
            .map(drop)
            .map_err(|error| format!("iocage is unavailable: {error}"))
    }

    async fn list_jails(&self) -> BackendResult<Vec<JailInfo>> {
        let (jails, templates) = tokio::join!(self.list(false), self.list(true));
        let mut jails = jails?;
        jails.extend(templates?);
        Ok(jails)
    }

    /// One `iocage list`: the templates' `list -t` is not needed.
    async fn list_non_templates(&self) -> BackendResult<Vec<JailInfo>> {
        self.list(false).await
    }

    /// One `iocage list -t`.
    async fn list_templates(&self) -> BackendResult<Vec<JailInfo>> {
        self.list(true).await
    }

    async fn df(&self) -> BackendResult<Vec<DfEntry>> {
        let rows = self.value(self.driver().await?.df().await)?;
        Ok(rows
            .into_iter()
            .map(|row| DfEntry {
                tag: row.tag.unwrap_or_else(|| row.name.clone()),
                uuid: row.name,
                compress_ratio: row.crt,
                reservation: row.res,
                quota: row.qta,
                used: row.used,
                available: row.ava,
            })
            .collect())
    }

    async fn get_property(&self, uuid: &str, prop: &str) -> BackendResult<String> {
        self.value(self.driver().await?.get(prop, uuid).await)
    }

    async fn get_all(&self, uuid: &str) -> BackendResult<Vec<(String, String)>> {
        let props = self.value(self.driver().await?.get_all(uuid).await)?;
        Ok(props.0.into_iter().map(|p| (p.key, p.value)).collect())
    }

    async fn get_recursive(&self, prop: &str) -> BackendResult<Vec<PropertyRow>> {
        let get = self.value(self.driver().await?.get_recursive(prop).await)?;
        Ok(get
            .rows
            .into_iter()
            .map(|row| PropertyRow {
                tag: row.tag.unwrap_or_else(|| row.name.clone()),
                uuid: row.name,
                value: row.value,
            })
            .collect())
    }

    async fn defaults(&self) -> BackendResult<Vec<(String, String)>> {
        let props = self.value(self.driver().await?.defaults().await)?;
        Ok(props.0.into_iter().map(|p| (p.key, p.value)).collect())
    }

    async fn start(&self, uuid: &str) -> BackendResult<StateChange> {
        Ok(state_change(
            self.value(self.driver().await?.start(uuid).await)?,
        ))
    }

    async fn stop(&self, uuid: &str) -> BackendResult<StateChange> {
        Ok(state_change(
            self.value(self.driver().await?.stop(uuid).await)?,
        ))
    }

    async fn cap(&self, uuid: &str) -> BackendResult<()> {
        self.value(self.driver().await?.cap(uuid).await)
    }

    async fn create(&self, props: &[(String, String)], empty: bool) -> BackendResult<NewJail> {
        let made = self.value(self.driver().await?.create(props, empty).await)?;
        Ok(NewJail {
            uuid: made.name,
            tag: made.tag,
        })
    }

    async fn clone_jail(&self, uuid: &str, props: &[(String, String)]) -> BackendResult<NewJail> {
        let made = self.value(self.driver().await?.clone_jail(uuid, props).await)?;
        Ok(NewJail {
            uuid: made.name,
            tag: made.tag,
        })
    }

    async fn destroy(&self, uuid: &str) -> BackendResult<()> {
        // The Backend contract destroys stopped jails only. Where iocage
        // refuses a running jail itself (legacy, Python 1.2 on), its answer
        // is the check, one run; where it would stop it (Python 1.0 and
        // 1.1), ask the state first.
        let driver = self.driver().await?;
        if driver.destroy_refuses_running() {
            return match self.value(driver.destroy(uuid).await) {
                // iocage's words advise `-f`, which the API has not.
                Err(BackendError::Conflict(said)) if said.contains("running") => {
                    Err(BackendError::Conflict(format!(
                        "jail {uuid} is running; stop it before destroying it (iocage: {said})"
                    )))
                }
                done => done,
            };
        }
        if self.get_property(uuid, properties::STATE).await? == "up" {
            return Err(BackendError::Conflict(format!(
                "jail {uuid} is running; stop it before destroying it"
            )));
        }
        self.value(self.driver().await?.destroy(uuid).await)
    }

    async fn destroy_seen_stopped(&self, uuid: &str) -> BackendResult<()> {
        self.value(self.driver().await?.destroy(uuid).await)
    }

    /// Python iocage (every supported version, 1.0 on) refuses a name that a
    /// jail or template has (`match_to_dir` over `jails/` and `templates/`,
    /// iocage_lib/ioc_create.py@1.0:113-117 and @cbf0f600:122-127, which a
    /// clone goes through as well) before it creates anything, and the
    /// driver reads "already exists" as a conflict. Legacy iocage instead
    /// takes the tag from the other jail (`__link_tag`,
    /// lib/ioc-common@ff9b266:731-770), so it must be checked first.
    async fn refuses_taken_tags(&self) -> bool {
        matches!(self.flavour().await, Ok(Flavour::Python))
    }

    async fn exec(&self, uuid: &str, user: &str, argv: &[String]) -> BackendResult<ExecOutput> {
        let done = self.value(self.driver().await?.exec(uuid, user, argv).await)?;
        Ok(ExecOutput {
            status: done.status,
            lines: done.lines,
        })
    }

    async fn clean(&self, target: CleanTarget) -> BackendResult<()> {
        let target = match target {
            CleanTarget::All => Clean::All,
            CleanTarget::Jails => Clean::Jails,
            CleanTarget::Releases => Clean::Releases,
            CleanTarget::Templates => Clean::Templates,
        };
        self.value(self.driver().await?.clean(target).await)
    }

    async fn active_pool(&self) -> BackendResult<String> {
        self.value(self.driver().await?.active_pool().await)
    }

    async fn activate(&self, pool: &str) -> BackendResult<()> {
        self.value(self.driver().await?.activate(pool).await)
    }

    async fn deactivate(&self, pool: &str) -> BackendResult<()> {
        self.value(self.driver().await?.deactivate(pool).await)
    }

    async fn releases(&self) -> BackendResult<Releases> {
        let driver = self.driver().await?;
        let local = self.value(driver.releases().await)?;
        let (remote, remote_missing) = match driver.flavour() {
            // Legacy iocage cannot list remote releases without prompting
            // (`fetch` asks which one to download), so none are reported.
            Flavour::Legacy => (Vec::new(), None),
            // `list -R` goes to the network, bounded by its own short time
            // limit; when it fails the local list is still the answer, as
            // the reference server did (sysadm-iocage.cpp@42adfc6:123-133),
            // and the reply says why the remote part is missing.
            Flavour::Python => match self.value(driver.remote_releases().await) {
                Ok(remote) => (remote, None),
                Err(error) => {
                    tracing::warn!(%error, "the remote release list is missing");
                    (Vec::new(), Some(error.to_string()))
                }
            },
        };
        Ok(Releases {
            local,
            remote,
            remote_missing,
        })
    }

    async fn plugins(&self) -> BackendResult<Vec<PluginInfo>> {
        let plugins = self.value(self.driver().await?.plugins().await)?;
        Ok(plugins
            .into_iter()
            .map(|plugin| PluginInfo {
                // The documents key plugins by package (`"btsync": {"id":
                // "btsync", "name": "BitTorrent Sync"}`), the PKG column;
                // `iocage fetch -P` takes it as well as the NAME.
                id: if plugin.pkg.is_empty() {
                    plugin.name.clone()
                } else {
                    plugin.pkg
                },
                name: plugin.name,
                description: plugin.description,
            })
            .collect())
    }
}

fn state_change(transition: Transition) -> StateChange {
    match transition {
        Transition::Changed(lines) => StateChange::Changed(lines),
        Transition::Already(text) => StateChange::Already(text),
    }
}

/// The model jail for a listed one (the driver gives every jail a tag).
fn jail_info(jail: Jail, template: bool) -> JailInfo {
    let tag = jail.tag.unwrap_or_default();
    let jail_type = jail.jail_type.unwrap_or_default();
    JailInfo {
        tag,
        jid: jail.jid,
        boot: jail.boot.as_deref() == Some("on"),
        state: if jail.state.as_deref() == Some("up") {
            JailState::Up
        } else {
            JailState::Down
        },
        template: template || jail_type == "template",
        jail_type,
        ip4: jail.ip4.as_deref().and_then(bare_addresses),
        // Legacy L16's list has no RELEASE column (LH's has).
        release: jail.release.unwrap_or_default(),
        origin: None,
        uuid: jail.name,
    }
}

/// IPv4 addresses as the legacy list shows them: `em0|10.0.0.5/24,...`
/// (Python's long list) becomes `10.0.0.5,...`; `-` and `none` are none.
fn bare_addresses(cell: &str) -> Option<String> {
    let cell = cell.trim();
    if cell.is_empty() || cell == "-" || cell == "none" {
        return None;
    }
    if !cell.contains(['|', '/']) {
        return Some(cell.to_owned());
    }
    Some(
        cell.split(',')
            .map(|one| {
                let address = one.rsplit('|').next().unwrap_or(one);
                address.split('/').next().unwrap_or(address)
            })
            .collect::<Vec<_>>()
            .join(","),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_lose_interface_and_mask() {
        assert_eq!(bare_addresses("-"), None);
        assert_eq!(bare_addresses("none"), None);
        assert_eq!(
            bare_addresses("em0|10.0.0.5/24,em1|10.0.1.5/24").as_deref(),
            Some("10.0.0.5,10.0.1.5")
        );
        assert_eq!(
            bare_addresses("192.168.1.10").as_deref(),
            Some("192.168.1.10")
        );
        assert_eq!(
            bare_addresses("DHCP (not running)").as_deref(),
            Some("DHCP (not running)")
        );
    }
}
