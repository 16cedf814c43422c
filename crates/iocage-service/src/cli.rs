//! `CliBackend`: the [`Backend`] that drives the real `iocage` program on a
//! FreeBSD host, through `iocage-cli`'s [`Runner`] and parsers.
//!
//! Each operation becomes one argument vector per iocage flavour (legacy
//! shell iocage or Python iocage 1.x, asked once with `iocage --version`
//! unless given, refusing the versions `iocage-cli` says are not driven), always with the flags that keep iocage from prompting
//! (`destroy -f`, `clean -f...`). Every user value is its own argv element;
//! nothing passes through a shell.
//!
//! What iocage printed becomes the same model values the simulated host
//! returns, so responses have the same shape whichever backend serves. Python
//! iocage has no tags: a jail's name is its tag (`tag=` becomes `-n NAME`).
//! Where a flavour lacks a command the answer is `NotSupported`, never a
//! guess; iocage's own failures keep iocage's text.

use std::ffi::OsStr;

use async_trait::async_trait;
use iocage_cli::{
    ExitKind, Flavour, IocageVersion, Jail, Level, Output, ParseError, Parsed, RunError, Runner,
    StartStopLine, StartStopReport, StepStatus,
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

/// How much of iocage's raw output an error message repeats.
const SHOWN_OUTPUT: usize = 4096;

/// What a flavour lacks (the 501s known in advance).
const NO_CAP: &str = "`iocage cap` (Python iocage applies resource limits when a jail starts)";
const NO_DEACTIVATE: &str = "`iocage deactivate` (Python iocage keeps one active pool: \
                             activate another pool instead)";
const NO_PLUGIN_INDEX: &str =
    "plugin index (legacy iocage fetches plugins by git and cannot list them)";

/// The actions `flavour` cannot carry out, with the `NotSupported` text.
fn not_supported(flavour: Flavour) -> Vec<(Action, String)> {
    let missing: &[(Action, &str)] = match flavour {
        Flavour::Python => &[
            (Action::CapJail, NO_CAP),
            (Action::DeactivatePool, NO_DEACTIVATE),
        ],
        Flavour::Legacy => &[(Action::ListPlugins, NO_PLUGIN_INDEX)],
    };
    missing
        .iter()
        .map(|(action, what)| (*action, format!("the installed iocage has no {what}")))
        .collect()
}

/// Runs iocage for every backend operation.
#[derive(Debug)]
pub struct CliBackend {
    runner: Runner,
    detected: OnceCell<Detected>,
    /// Told of every iocage run (for metrics).
    observer: Option<Observer>,
}

struct Observer(RunObserver);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

/// Told of every iocage run: the command (its first word), how long it took,
/// and how it ended (`ok`, `error`, `signal`, `truncated`, `timeout`,
/// `not_found`, `spawn_failed`).
pub type RunObserver = std::sync::Arc<dyn Fn(&str, std::time::Duration, &str) + Send + Sync>;

/// The flavour, and the version when it was asked.
#[derive(Debug)]
struct Detected {
    flavour: Flavour,
    version: Option<IocageVersion>,
}

impl CliBackend {
    /// A backend running iocage through `runner`. With `flavour` `None`, the
    /// version is asked once, on first use, with `iocage --version`, and a
    /// version that is not supported ([`IocageVersion::supported`]) is
    /// refused: every operation then fails with 503 naming it. A failed
    /// detection is retried by the next operation. A given `flavour` skips
    /// the question and the check: the operator vouches for the version.
    pub fn new(runner: Runner, flavour: Option<Flavour>) -> CliBackend {
        CliBackend {
            runner,
            observer: None,
            detected: OnceCell::new_with(flavour.map(|flavour| Detected {
                flavour,
                version: None,
            })),
        }
    }

    /// Tells `observer` of every iocage run.
    pub fn observe(mut self, observer: RunObserver) -> CliBackend {
        self.observer = Some(Observer(observer));
        self
    }

    /// The runner this backend uses.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// The iocage flavour, detected on first use unless it was given.
    pub async fn flavour(&self) -> BackendResult<Flavour> {
        Ok(self.detected().await?.flavour)
    }

    /// The iocage version, asked on first use; `None` when the flavour was
    /// given instead.
    pub async fn version(&self) -> BackendResult<Option<IocageVersion>> {
        Ok(self.detected().await?.version.clone())
    }

    async fn detected(&self) -> BackendResult<&Detected> {
        self.detected.get_or_try_init(|| self.detect()).await
    }

    async fn detect(&self) -> BackendResult<Detected> {
        let out = self.checked(&["--version"], Flavour::Legacy).await?;
        let version = iocage_cli::parse_version(&out.stdout)
            .map_err(|error| BackendError::Failed {
                text: format!(
                    "cannot tell which iocage this is ({error}): `iocage --version` printed {}",
                    raw(&out)
                ),
            })?
            .value;
        version
            .supported()
            .map_err(|refusal| BackendError::Unavailable(refusal.to_string()))?;
        Ok(Detected {
            flavour: version.flavour(),
            version: Some(version),
        })
    }

    /// Runs iocage; a run that ended by a signal or overflowed the output
    /// cap is a failure, any exit status is returned for the caller to judge.
    async fn run<S: AsRef<str>>(&self, args: &[S]) -> BackendResult<Output> {
        let os_args = args.iter().map(|arg| OsStr::new(arg.as_ref()));
        let started = std::time::Instant::now();
        let out = self.runner.run(os_args).await;
        if let Some(Observer(observer)) = &self.observer {
            let class = match &out {
                Ok(out) if out.truncated => "truncated",
                Ok(out) => match out.exit {
                    ExitKind::Code(0) => "ok",
                    ExitKind::Code(_) => "error",
                    ExitKind::Signal(_) => "signal",
                },
                Err(RunError::TimedOut { .. }) => "timeout",
                Err(RunError::NotFound { .. }) => "not_found",
                Err(_) => "spawn_failed",
            };
            let command = args.first().map_or("", AsRef::as_ref);
            observer(command, started.elapsed(), class);
        }
        let out = out.map_err(|error| run_error(args, error))?;
        if let ExitKind::Signal(signal) = out.exit {
            let mut text = format!("{} was killed by signal {signal}", shown_command(args));
            if !out.stderr.trim().is_empty() {
                text.push_str("; it printed: ");
                text.push_str(&cut(out.stderr.trim()));
            }
            return Err(BackendError::Failed { text });
        }
        if out.truncated {
            return Err(BackendError::Failed {
                text: format!(
                    "{} printed more than the output limit; its output was not used",
                    shown_command(args)
                ),
            });
        }
        Ok(out)
    }

    /// Runs iocage and turns a failure (non-zero exit, or a legacy `ERROR:`
    /// line) into the matching error.
    async fn checked<S: AsRef<str>>(&self, args: &[S], flavour: Flavour) -> BackendResult<Output> {
        let out = self.run(args).await?;
        if failed(&out, flavour) {
            return Err(iocage_error(args, &out));
        }
        Ok(out)
    }

    async fn list(&self, flavour: Flavour, templates: bool) -> BackendResult<Vec<JailInfo>> {
        let mut args = vec!["list"];
        if flavour == Flavour::Python {
            // The long form names jails in full and shows BOOT and TYPE.
            args.push("-l");
        }
        if templates {
            args.push("-t");
        }
        let out = self.checked(&args, flavour).await?;
        let list = parsed(&out, iocage_cli::parse_list(&out.stdout))?;
        Ok(list
            .jails
            .into_iter()
            .map(|jail| jail_info(jail, templates, flavour))
            .collect())
    }

    async fn start_stop(&self, verb: &str, uuid: &str) -> BackendResult<StateChange> {
        let flavour = self.flavour().await?;
        let args = [verb, uuid];
        let out = self.run(&args).await?;
        // "Already up/down" is a notice on stderr: exit 1 in legacy and for
        // Python's start, exit 0 for Python's stop.
        if let Some(text) = already(&out.stderr, flavour, uuid) {
            return Ok(StateChange::Already(text));
        }
        if failed(&out, flavour) {
            return Err(iocage_error(&args, &out));
        }
        let report = parsed(&out, iocage_cli::parse_start_stop(&out.stdout))?;
        let lines: Vec<String> = report.lines.iter().map(status_line).collect();
        let begun = report
            .lines
            .iter()
            .any(|line| matches!(line, StartStopLine::Begin { .. }));
        if report.failed() || !begun {
            // A failed step, or a notice instead of the work (legacy's
            // "is a template jail, ignoring start request").
            let mut text = lines.join("\n");
            if !out.stderr.trim().is_empty() {
                text.push('\n');
                text.push_str(out.stderr.trim());
            }
            return Err(classify(text, &args));
        }
        Ok(StateChange::Changed(lines))
    }
}

#[async_trait]
impl Backend for CliBackend {
    async fn describe(&self) -> BackendDescription {
        let detected = self.detected().await.ok();
        BackendDescription {
            kind: BackendKind::Iocage,
            flavour: detected.map(|found| found.flavour.to_string()),
            version: detected.and_then(|found| found.version.as_ref().map(ToString::to_string)),
            not_supported: detected.map_or_else(Vec::new, |found| not_supported(found.flavour)),
        }
    }

    async fn health(&self) -> Result<(), String> {
        let program = self.runner.program();
        if !program.is_file() {
            return Err(format!(
                "iocage is unavailable: {} is not a file",
                program.display()
            ));
        }
        self.detected()
            .await
            .map(drop)
            .map_err(|error| format!("iocage is unavailable: {error}"))
    }

    async fn list_jails(&self) -> BackendResult<Vec<JailInfo>> {
        let flavour = self.flavour().await?;
        let (jails, templates) = tokio::join!(self.list(flavour, false), self.list(flavour, true));
        let mut jails = jails?;
        jails.extend(templates?);
        Ok(jails)
    }

    async fn df(&self) -> BackendResult<Vec<DfEntry>> {
        let flavour = self.flavour().await?;
        let out = self.checked(&["df"], flavour).await?;
        let rows = parsed(&out, iocage_cli::parse_df(&out.stdout))?;
        Ok(rows
            .into_iter()
            .map(|row| DfEntry {
                // Python has no tags: the name stands in.
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
        let flavour = self.flavour().await?;
        let args: Vec<&str> = match (flavour, prop) {
            (Flavour::Legacy, _) => vec!["get", prop, uuid],
            (Flavour::Python, properties::STATE) => vec!["get", "-s", uuid],
            // Python has no tags; a jail's name is its tag.
            (Flavour::Python, "tag") => {
                self.checked(&["get", "-s", uuid], flavour).await?;
                return Ok(uuid.to_owned());
            }
            (Flavour::Python, _) => vec!["get", prop, uuid],
        };
        let out = self.checked(&args, flavour).await?;
        parsed(&out, iocage_cli::parse_get_value(&out.stdout))
    }

    async fn get_all(&self, uuid: &str) -> BackendResult<Vec<(String, String)>> {
        let flavour = self.flavour().await?;
        let out = self.checked(&["get", "all", uuid], flavour).await?;
        let props = parsed(&out, iocage_cli::parse_get_all(&out.stdout))?;
        Ok(props.0.into_iter().map(|p| (p.key, p.value)).collect())
    }

    async fn get_recursive(&self, prop: &str) -> BackendResult<Vec<PropertyRow>> {
        let flavour = self.flavour().await?;
        if flavour == Flavour::Python && (prop == properties::STATE || prop == "tag") {
            // Python's `get -r` knows neither; its jail list holds both.
            return Ok(self
                .list_jails()
                .await?
                .into_iter()
                .map(|jail| PropertyRow {
                    value: if prop == "tag" {
                        jail.tag.clone()
                    } else {
                        jail.state.as_str().to_owned()
                    },
                    uuid: jail.uuid,
                    tag: jail.tag,
                })
                .collect());
        }
        let out = self.checked(&["get", "-r", prop], flavour).await?;
        let get = parsed(&out, iocage_cli::parse_get_recursive(&out.stdout))?;
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
        let flavour = self.flavour().await?;
        let props = match flavour {
            Flavour::Legacy => {
                let out = self.checked(&["defaults"], flavour).await?;
                parsed(&out, iocage_cli::parse_defaults(&out.stdout))?
            }
            Flavour::Python => {
                let out = self.checked(&["get", "all", "default"], flavour).await?;
                parsed(&out, iocage_cli::parse_get_all(&out.stdout))?
            }
        };
        Ok(props.0.into_iter().map(|p| (p.key, p.value)).collect())
    }

    async fn start(&self, uuid: &str) -> BackendResult<StateChange> {
        self.start_stop("start", uuid).await
    }

    async fn stop(&self, uuid: &str) -> BackendResult<StateChange> {
        self.start_stop("stop", uuid).await
    }

    async fn cap(&self, uuid: &str) -> BackendResult<()> {
        let flavour = self.flavour().await?;
        if flavour == Flavour::Python {
            return Err(BackendError::NotSupported {
                what: NO_CAP.into(),
            });
        }
        let out = self.checked(&["cap", uuid], flavour).await?;
        // Silent on success, or `  + Applying resource limits OK`.
        if !out.stdout.trim().is_empty() {
            let report = parsed(&out, iocage_cli::parse_start_stop(&out.stdout))?;
            if report.failed() {
                return Err(BackendError::Failed {
                    text: report
                        .lines
                        .iter()
                        .map(status_line)
                        .collect::<Vec<_>>()
                        .join("\n"),
                });
            }
        }
        Ok(())
    }

    async fn create(&self, props: &[(String, String)], empty: bool) -> BackendResult<NewJail> {
        let flavour = self.flavour().await?;
        let asked_tag = props
            .iter()
            .find(|(key, _)| key == "tag")
            .map(|(_, value)| value.clone());
        let args = match flavour {
            Flavour::Legacy => {
                // `-e` must come first, before any property.
                let mut args = vec!["create".to_owned()];
                if empty {
                    args.push("-e".into());
                }
                args.extend(props.iter().map(|(key, value)| format!("{key}={value}")));
                args
            }
            Flavour::Python => {
                let mut args = vec!["create".to_owned()];
                if empty {
                    args.push("-e".into());
                } else {
                    let release = props
                        .iter()
                        .find(|(key, _)| key == "release")
                        .map(|(_, value)| value.clone())
                        .ok_or_else(|| {
                            BackendError::Invalid(
                                "Python iocage needs the release to create a jail from: \
                                 add release=RELEASE to props"
                                    .into(),
                            )
                        })?;
                    args.extend(["-r".into(), release]);
                }
                args.extend(python_props(props, &["release"]));
                args
            }
        };
        let out = self.checked(&args, flavour).await?;
        let report = parsed(&out, iocage_cli::parse_create(&out.stdout))?;
        let Some((name, tag)) = report.created().next() else {
            return Err(unreadable(&out, "no jail was reported created"));
        };
        let tag = match (flavour, tag) {
            (Flavour::Legacy, Some(tag)) => tag.to_owned(),
            // Legacy `create -e` prints the bare UUID only.
            (Flavour::Legacy, None) => asked_tag.unwrap_or_default(),
            (Flavour::Python, _) => name.to_owned(),
        };
        Ok(NewJail {
            uuid: name.to_owned(),
            tag,
        })
    }

    async fn clone_jail(&self, uuid: &str, props: &[(String, String)]) -> BackendResult<NewJail> {
        let flavour = self.flavour().await?;
        let mut args = vec!["clone".to_owned(), uuid.to_owned()];
        match flavour {
            Flavour::Legacy => {
                args.extend(props.iter().map(|(key, value)| format!("{key}={value}")));
            }
            Flavour::Python => args.extend(python_props(props, &[])),
        }
        let out = self.checked(&args, flavour).await?;
        let report = parsed(&out, iocage_cli::parse_create(&out.stdout))?;
        let Some((name, tag)) = report.created().next() else {
            return Err(unreadable(&out, "no jail was reported cloned"));
        };
        Ok(NewJail {
            uuid: name.to_owned(),
            tag: match flavour {
                Flavour::Legacy => tag.unwrap_or_default().to_owned(),
                Flavour::Python => name.to_owned(),
            },
        })
    }

    async fn destroy(&self, uuid: &str) -> BackendResult<()> {
        // `destroy -f` (no prompt) would also stop a running jail; the
        // Backend contract destroys stopped jails only, so ask first.
        if self.get_property(uuid, properties::STATE).await? == "up" {
            return Err(BackendError::Conflict(format!(
                "jail {uuid} is running; stop it before destroying it"
            )));
        }
        let flavour = self.flavour().await?;
        let out = self.checked(&["destroy", "-f", uuid], flavour).await?;
        let report = parsed(&out, iocage_cli::parse_destroy(&out.stdout))?;
        if !report.destroyed().any(|name| name == uuid) {
            return Err(unreadable(&out, "the jail was not reported destroyed"));
        }
        Ok(())
    }

    async fn exec(&self, uuid: &str, user: &str, argv: &[String]) -> BackendResult<ExecOutput> {
        let flavour = self.flavour().await?;
        let mut args = vec!["exec".to_owned(), "-U".into(), user.to_owned()];
        if flavour == Flavour::Python {
            // Click would take an option-like word of the command as its own.
            args.push("--".into());
        }
        args.push(uuid.to_owned());
        // Python iocage runs a one-word command as `/bin/sh -c WORD`
        // (iocage_cli/exec.py@c3198327:48-49, the same in 0.9.10), which
        // would interpret a quoted word's spaces and `;` in the jail; env(1)
        // makes every command at least two words and runs it as given.
        if argv.len() == 1 {
            args.push("/usr/bin/env".into());
        }
        args.extend(argv.iter().cloned());
        let out = self.run(&args).await?;
        let mut lines: Vec<String> = out
            .stdout
            .lines()
            .chain(out.stderr.lines())
            .map(str::to_owned)
            .collect();
        match flavour {
            Flavour::Legacy => {
                // The exit status is jexec's; jexec's own complaints and
                // iocage's errors are failures to run, not the command's.
                let jexec = out.stderr.lines().any(|line| line.starts_with("jexec: "));
                if (jexec && !out.success()) || has_error_line(&out.stderr) {
                    return Err(iocage_error(&args, &out));
                }
                let status = match out.exit {
                    ExitKind::Code(code) => code,
                    ExitKind::Signal(_) => -1,
                };
                Ok(ExecOutput { status, lines })
            }
            Flavour::Python => {
                if out.success() {
                    return Ok(ExecOutput { status: 0, lines });
                }
                // Python does not pass the command's status on: it prints
                // `Command: ... failed!` and exits 1.
                let is_report = |line: &String| {
                    line.starts_with("Command: ") && line.trim_end().ends_with(" failed!")
                };
                if lines.last().is_some_and(is_report) {
                    lines.pop();
                    return Ok(ExecOutput { status: 1, lines });
                }
                Err(iocage_error(&args, &out))
            }
        }
    }

    async fn clean(&self, target: CleanTarget) -> BackendResult<()> {
        let flavour = self.flavour().await?;
        let letter = match target {
            CleanTarget::All => "a",
            CleanTarget::Jails => "j",
            CleanTarget::Releases => "r",
            CleanTarget::Templates => "t",
        };
        let args = match flavour {
            Flavour::Legacy => vec!["clean".to_owned(), format!("-f{letter}")],
            Flavour::Python => vec!["clean".to_owned(), "-f".into(), format!("-{letter}")],
        };
        let out = self.checked(&args, flavour).await?;
        // Legacy prints `  INFO: destroying ...: done!` spinner lines, Python
        // `Cleaning iocage/...` and a summary; anything else is not iocage.
        let messages = iocage_cli::parse_messages(&out.stdout);
        let recognised = messages.iter().any(|message| match flavour {
            Flavour::Legacy => message.level == Level::Info,
            Flavour::Python => {
                message.text.starts_with("Cleaning ") || message.text.ends_with("destroyed.")
            }
        });
        if !messages.is_empty() && !recognised {
            return Err(unreadable(&out, "no dataset was reported cleaned"));
        }
        Ok(())
    }

    async fn active_pool(&self) -> BackendResult<String> {
        let flavour = self.flavour().await?;
        let args: &[&str] = match flavour {
            // Without a pool, legacy `activate` reports the active one.
            Flavour::Legacy => &["activate"],
            Flavour::Python => &["get", "-p"],
        };
        let out = self.checked(args, flavour).await?;
        parsed(&out, iocage_cli::parse_pool(&out.stdout))
    }

    async fn activate(&self, pool: &str) -> BackendResult<()> {
        let flavour = self.flavour().await?;
        let out = self.checked(&["activate", pool], flavour).await?;
        parsed(&out, iocage_cli::parse_activate(&out.stdout)).map(drop)
    }

    async fn deactivate(&self, pool: &str) -> BackendResult<()> {
        let flavour = self.flavour().await?;
        if flavour == Flavour::Python {
            return Err(BackendError::NotSupported {
                what: NO_DEACTIVATE.into(),
            });
        }
        let out = self.checked(&["deactivate", pool], flavour).await?;
        // Silent on success; parse_activate accepts exactly that.
        parsed(&out, iocage_cli::parse_activate(&out.stdout)).map(drop)
    }

    async fn releases(&self) -> BackendResult<Releases> {
        let flavour = self.flavour().await?;
        let out = self.checked(&["list", "-r"], flavour).await?;
        let local = parsed(&out, iocage_cli::parse_releases(&out.stdout))?;
        let remote = match flavour {
            // Legacy iocage cannot list remote releases without prompting
            // (`fetch` asks which one to download), so none are reported.
            Flavour::Legacy => Vec::new(),
            Flavour::Python => {
                let out = self.checked(&["list", "-R"], flavour).await?;
                parsed(&out, iocage_cli::parse_remote_releases(&out.stdout))?
                    .into_iter()
                    .map(|release| {
                        if release.eol {
                            format!("{} (EOL)", release.name)
                        } else {
                            release.name
                        }
                    })
                    .collect()
            }
        };
        Ok(Releases { local, remote })
    }

    async fn plugins(&self) -> BackendResult<Vec<PluginInfo>> {
        let flavour = self.flavour().await?;
        if flavour == Flavour::Legacy {
            return Err(BackendError::NotSupported {
                what: NO_PLUGIN_INDEX.into(),
            });
        }
        let out = self.checked(&["list", "-P", "-R"], flavour).await?;
        let plugins = parsed(&out, iocage_cli::parse_plugins(&out.stdout))?;
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

/// The Python argv words for create/clone properties: `tag=` names the jail
/// (`-n`), `count=` is `-c`; the rest stay `key=value`, minus `skip`.
fn python_props(props: &[(String, String)], skip: &[&str]) -> Vec<String> {
    let mut args = Vec::new();
    for (key, value) in props {
        match key.as_str() {
            key if skip.contains(&key) => {}
            "tag" => args.extend(["-n".to_owned(), value.clone()]),
            "count" => args.extend(["-c".to_owned(), value.clone()]),
            _ => args.push(format!("{key}={value}")),
        }
    }
    args
}

fn jail_info(jail: Jail, template: bool, flavour: Flavour) -> JailInfo {
    let tag = match flavour {
        Flavour::Legacy => jail.tag.unwrap_or_default(),
        Flavour::Python => jail.name.clone(),
    };
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

/// One start/stop line as the simulated host reports it: trimmed, the
/// legacy padding before the status collapsed to one space.
fn status_line(line: &StartStopLine) -> String {
    let subject = |name: &str, tag: &Option<String>| match tag {
        Some(tag) => format!("{name} ({tag})"),
        None => name.to_owned(),
    };
    match line {
        StartStopLine::Begin { action, name, tag } => {
            let verb = match action {
                iocage_cli::Action::Start => "Starting",
                iocage_cli::Action::Stop => "Stopping",
            };
            format!("* {verb} {}", subject(name, tag))
        }
        StartStopLine::Step { step, status } => match status {
            Some(StepStatus::Ok) => format!("+ {step} OK"),
            Some(StepStatus::Failed) => format!("+ {step} FAILED"),
            None => format!("+ {step}"),
        },
        StartStopLine::Failed { step } => format!("! {step} FAILED"),
        StartStopLine::Already { name, tag, up } => {
            format!(
                "{} is already {}",
                subject(name, tag),
                if *up { "up" } else { "down" }
            )
        }
        StartStopLine::Message(message) => message.text.clone(),
        StartStopLine::Output { text } => text.trim().to_owned(),
    }
}

/// The "already up/down" notice in `stderr`, in the documented wording
/// (`<name> (<tag>) is already up`, the simulated host's) whatever this
/// version printed: legacy `  INFO: U (T) is already up`, Python `N is
/// already running!` / `N is not running!` (a Python name is its tag).
///
/// Only a notice about `jail` itself counts: Python 0.9.10 says
/// `pgsql is already running!` when the jail asked for depends on a running
/// pgsql (iocage/iocage#608), which says nothing about the jail asked for.
fn already(stderr: &str, flavour: Flavour, jail: &str) -> Option<String> {
    let report: StartStopReport = iocage_cli::parse_start_stop(stderr).ok()?.value;
    report.lines.iter().find_map(|line| match line {
        StartStopLine::Already { name, tag, up } if name == jail => {
            let tag = match (flavour, tag) {
                (_, Some(tag)) => tag.clone(),
                (Flavour::Python, None) => name.clone(),
                (Flavour::Legacy, None) => return None,
            };
            Some(status_line(&StartStopLine::Already {
                name: name.clone(),
                tag: Some(tag),
                up: *up,
            }))
        }
        _ => None,
    })
}

/// Whether a run failed: a non-zero exit, or (legacy) an `ERROR:` line,
/// which some legacy commands print and still exit 0.
fn failed(out: &Output, flavour: Flavour) -> bool {
    !out.success() || (flavour == Flavour::Legacy && has_error_line(&out.stderr))
}

fn has_error_line(stderr: &str) -> bool {
    iocage_cli::parse_messages(stderr)
        .iter()
        .any(|message| message.level == Level::Error)
}

/// `iocage` and its arguments, for messages.
fn shown_command<S: AsRef<str>>(args: &[S]) -> String {
    shell_words::join(std::iter::once("iocage").chain(args.iter().map(AsRef::as_ref)))
}

fn run_error<S: AsRef<str>>(args: &[S], error: RunError) -> BackendError {
    match error {
        RunError::NotFound { program, .. } => {
            // The path stays in the server's log: replies never name server files.
            tracing::error!(%program, "the iocage program was not found");
            BackendError::Unavailable(
                "iocage is not installed: the configured iocage program was not found".to_owned(),
            )
        }
        RunError::Spawn { source, .. } => {
            BackendError::Unavailable(format!("iocage cannot be started: {source}"))
        }
        RunError::TimedOut { limit, .. } => BackendError::TimedOut(format!(
            "{} did not finish within {limit:?} and was stopped",
            shown_command(args)
        )),
        RunError::Io { source, .. } => BackendError::Failed {
            text: format!("{}: {source}", shown_command(args)),
        },
    }
}

/// What iocage said when it failed: its `ERROR:` lines if any, else
/// everything on stderr, else everything on stdout, prefixes removed.
fn iocage_text(out: &Output) -> String {
    let stderr = iocage_cli::parse_messages(&out.stderr);
    let errors: Vec<&str> = stderr
        .iter()
        .filter(|message| message.level == Level::Error)
        .map(|message| message.text.as_str())
        .collect();
    if !errors.is_empty() {
        return errors.join("\n");
    }
    let messages = if stderr.is_empty() {
        iocage_cli::parse_messages(&out.stdout)
    } else {
        stderr
    };
    let text: Vec<&str> = messages
        .iter()
        .map(|message| message.text.as_str())
        .collect();
    cut(&text.join("\n"))
}

fn iocage_error<S: AsRef<str>>(args: &[S], out: &Output) -> BackendError {
    let mut text = iocage_text(out);
    // sh's "command not found" status: legacy develop HEAD still dispatches
    // `deactivate) __deactivate` (lib/ioc-cmd@ff9b266:88) to a function
    // removed in 13de231, so sh prints `__deactivate: not found`, exit 127.
    if out.exit == ExitKind::Code(127) {
        let command = args.first().map_or("", AsRef::as_ref);
        return BackendError::NotSupported {
            what: format!("working `iocage {command}` command (it exits 127: {text})"),
        };
    }
    if text.is_empty() {
        text = format!(
            "{} ended with {} and printed nothing",
            shown_command(args),
            out.exit
        );
    }
    classify(text, args)
}

/// Words in iocage's messages (both flavours, and the tools it passes
/// through: zpool, jexec) that say which kind of failure it was.
const NOT_SUPPORTED: &[&str] = &["no such command"];
const CONFLICT: &[&str] = &[
    "already running",
    "already up",
    "already down",
    "already exists",
    "already active",
    "still running",
    "must not be running",
    "is not running",
    "dependent clone",
    "dependent jails",
    "is a template jail",
    // Python's refusal to start a template (iocage_lib/iocage.py@c3198327:346-348).
    "please convert back to a jail",
    "jails are stopped",
    "jexec: jail \"",
    "more then one pool",
    "activate a pool",
];
const INVALID: &[&str] = &[
    "unsupported property",
    "not a valid property",
    "invalid switch",
    "not a valid switch",
    "invalid character",
    "reserved name",
    "reserved keyword",
    "set template after creation",
    "use clone for templates",
    "must supply either",
    "please supply a valid",
    "multiple jails",
    "invalid release",
];
const NOT_FOUND: &[&str] = &[
    "not found",
    "no such pool",
    "not a valid pool",
    "does not exist",
];

fn classify<S: AsRef<str>>(text: String, args: &[S]) -> BackendError {
    let lower = text.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| lower.contains(word));
    if has(NOT_SUPPORTED) {
        let command = args.first().map_or("", AsRef::as_ref);
        return BackendError::NotSupported {
            what: format!("`iocage {command}` command ({text})"),
        };
    }
    if has(CONFLICT) {
        BackendError::Conflict(text)
    } else if has(INVALID) {
        BackendError::Invalid(text)
    } else if has(NOT_FOUND) {
        BackendError::NotFound(text)
    } else {
        BackendError::Failed { text }
    }
}

/// The parsed value, or a parse error as a failure carrying iocage's raw
/// output. The lines iocage printed around the value (warnings, first-run
/// notices) are logged; the API reply keeps its documented shape.
fn parsed<T>(out: &Output, result: Result<Parsed<T>, ParseError>) -> BackendResult<T> {
    let parsed = result.map_err(|error| unreadable(out, &error.to_string()))?;
    for message in &parsed.messages {
        tracing::info!(level = ?message.level, text = %message.text, "iocage printed a message around its output");
    }
    Ok(parsed.value)
}

fn unreadable(out: &Output, why: &str) -> BackendError {
    BackendError::Failed {
        text: format!(
            "iocage printed output sysadmd cannot read ({why}): {}",
            raw(out)
        ),
    }
}

/// The raw output, quoted for a message and cut to a sane length.
fn raw(out: &Output) -> String {
    let mut text = format!("{:?}", cut(&out.stdout));
    if !out.stderr.is_empty() {
        text.push_str(&format!("; on stderr {:?}", cut(&out.stderr)));
    }
    text
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(SHOWN_OUTPUT) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified_by_iocage_words() {
        let check = |text: &str, code: u16| {
            let error = classify(text.to_owned(), &["start"]);
            assert_eq!(error.code().code(), code, "{text}: {error:?}");
            assert!(error.to_string().contains(text), "{error}");
        };
        check("jail nosuch not found!", 404);
        check("jail 'nosuch' not found!", 404);
        check("cannot open 'x': no such pool", 404);
        check("jail has dependent clone, uuid: u (t)", 409);
        check("Jail: db01 already exists!", 409);
        check("jexec: jail \"ioc-u\" not found", 409);
        check("unsupported property: foo !", 400);
        check("foo is not a valid property!", 400);
        check("Error: No such command 'deactivate'.", 501);
        check(
            "Please convert back to a jail before trying to start tmpl",
            409,
        );
        check("something broke", 502);
    }

    #[test]
    fn already_up_or_down_has_the_documented_wording_whatever_was_printed() {
        let uuid = "0bf985de-ca0f-11e5-8d45-d05099728dbf";
        assert_eq!(
            already(
                &format!("  INFO: {uuid} (test) is already up\n"),
                Flavour::Legacy,
                uuid
            ),
            Some(format!("{uuid} (test) is already up"))
        );
        assert_eq!(
            already("web is not running!\n", Flavour::Python, "web"),
            Some("web (web) is already down".to_owned())
        );
        // Python 1.0/1.1 with stdout on a pipe: a traceback ending in the message.
        let traceback = "Traceback (most recent call last):\n  File \"/usr/local/bin/iocage\", line 10, in <module>\n    sys.exit(cli())\nRuntimeError: web is already running!\n";
        assert_eq!(
            already(traceback, Flavour::Python, "web"),
            Some("web (web) is already up".to_owned())
        );
        // Another jail's notice (a running `depends` jail, iocage/iocage#608)
        // is not about this one.
        assert_eq!(
            already("pgsql is already running!\n", Flavour::Python, "nextcloud"),
            None
        );
    }

    #[test]
    fn a_command_the_shell_cannot_find_is_not_supported() {
        let out = Output {
            command: "iocage deactivate tank".into(),
            exit: ExitKind::Code(127),
            stdout: String::new(),
            stderr: "/usr/local/sbin/iocage: __deactivate: not found\n".into(),
            truncated: false,
        };
        let error = iocage_error(&["deactivate", "tank"], &out);
        assert_eq!(error.code().code(), 501, "{error:?}");
        assert!(
            error.to_string().contains("__deactivate: not found"),
            "{error}"
        );
    }

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
