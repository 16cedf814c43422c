//! [`Iocage`]: drives the iocage program, one async method per command.
//!
//! Everything about iocage's command line lives here: the argument vector of
//! each command for each version, which stream and which exit status mean
//! what, how prompts are avoided (`-f` where it exists, a fixed answer where
//! it does not), the version gates, and where a version prints nothing, the
//! listing that tells what really happened. Every user value is its own argv
//! element; nothing passes through a shell.
//!
//! Each method returns the parsed value with the messages iocage printed
//! around it ([`Parsed`]), or an [`Error`] whose [`ErrorKind`] says what kind
//! of failure it was. The driver keeps no state between calls besides the
//! version, so an inventory or a cache can sit above it.
//!
//! The three command lines driven (see [`IocageVersion::supported`]):
//! - legacy develop (`iocage DEVELOP`, iocage/iocage_legacy @3ffbc87 and
//!   develop HEAD @ff9b266), the one the sysadm API documents follow;
//! - the legacy release line 1.7.4-1.7.6 (tags v1.7.4 @7ba6e4e ... v1.7.6
//!   @6189eac, not an ancestor of develop), whose differences are commented
//!   where they are handled;
//! - Python iocage 1.0 and later (iocage/iocage, freebsd/iocage).

use std::ffi::OsStr;
use std::time::Duration;

use crate::model::{
    DfRow, Flavour, JailList, Level, Message, Parsed, Plugin, Properties, RecursiveGet,
    StartStopLine, StartStopReport, StepStatus,
};
use crate::runner::{ExitKind, Output, RunError, Runner};
use crate::version::IocageVersion;
use crate::{ParseError, parse_messages};

/// How much of iocage's raw output an error message repeats.
const SHOWN_OUTPUT: usize = 4096;

/// Default time limit of `list -R` (it goes to the network, with no time
/// limit of its own: iocage_lib/ioc_fetch.py@c3198327:112,395).
pub const DEFAULT_REMOTE_TIMEOUT: Duration = Duration::from_secs(10);

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A jail, release or pool does not exist.
    NotFound,
    /// The host's state forbids it (running, exists already, has clones...).
    Conflict,
    /// iocage refused an argument.
    Invalid,
    /// iocage ran and failed, or printed what cannot be read.
    Failed,
    /// iocage is not installed, cannot run, or is a version not driven.
    Unavailable,
    /// iocage did not finish within its time limit.
    TimedOut,
    /// This iocage has no such command; the text names what is missing.
    NotSupported,
}

/// A failed iocage command: its kind and iocage's own explanation (or, for
/// [`ErrorKind::NotSupported`], what the installed iocage lacks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct Error {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What to tell a user; never names a server file.
    pub text: String,
}

impl Error {
    fn new(kind: ErrorKind, text: impl Into<String>) -> Error {
        Error {
            kind,
            text: text.into(),
        }
    }

    fn failed(text: impl Into<String>) -> Error {
        Error::new(ErrorKind::Failed, text)
    }

    fn not_supported(what: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotSupported, what)
    }
}

/// Shorthand for driver results.
pub type Result<T> = std::result::Result<Parsed<T>, Error>;

/// What start or stop did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// It changed; iocage's status lines, trimmed, the padding before a
    /// step's status collapsed to one space.
    Changed(Vec<String>),
    /// It already was in that state: `<name> (<tag>) is already up` (or
    /// `down`), in that wording whatever this version printed.
    Already(String),
}

/// A jail that create or clone made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Its UUID (legacy) or name (Python).
    pub name: String,
    /// Its tag (Python: its name).
    pub tag: String,
}

/// What a command run in a jail gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// Its exit status (Python iocage passes only 0 or 1 on).
    pub status: i32,
    /// Its output lines, stdout then stderr.
    pub lines: Vec<String>,
}

/// What `clean` destroys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clean {
    /// Every iocage dataset (`-a`).
    All,
    /// Every jail (`-j`).
    Jails,
    /// Every fetched release (`-r`).
    Releases,
    /// Every template (`-t`).
    Templates,
}

impl Clean {
    fn letter(self) -> char {
        match self {
            Clean::All => 'a',
            Clean::Jails => 'j',
            Clean::Releases => 'r',
            Clean::Templates => 't',
        }
    }
}

/// What Python iocage lacks: `cap` (the [`ErrorKind::NotSupported`] text).
pub const NO_CAP: &str = "`iocage cap` (Python iocage applies resource limits when a jail starts)";
/// What Python iocage lacks: `deactivate`.
pub const NO_DEACTIVATE: &str =
    "`iocage deactivate` (Python iocage keeps one active pool: activate another pool instead)";
/// What legacy iocage lacks: a plugin index.
pub const NO_PLUGIN_INDEX: &str =
    "plugin index (legacy iocage fetches plugins by git and cannot list them)";
/// What legacy iocage 1.7.x lacks: `clean -t`.
pub const NO_CLEAN_TEMPLATES: &str =
    "`iocage clean -t` (legacy iocage 1.7.x cleans only all, jails or releases)";

/// A command the installed iocage lacks, known before any run: its method
/// answers [`ErrorKind::NotSupported`] without running iocage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// [`Iocage::cap`].
    Cap,
    /// [`Iocage::deactivate`].
    Deactivate,
    /// [`Iocage::plugins`].
    PluginIndex,
    /// [`Iocage::clean`] of templates.
    CleanTemplates,
}

/// Which command line a version has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Legacy develop (2015-2016).
    Develop,
    /// Legacy 1.7.4-1.7.6.
    Release17,
    /// Python 1.0 and later.
    Python,
}

/// Drives one iocage program. Cheap to clone.
///
/// ```
/// # use std::os::unix::fs::PermissionsExt;
/// use iocage_cli::{Iocage, Runner};
///
/// // A stand-in for /usr/local/sbin/iocage: Python iocage 1.2's `--version`
/// // and `list -l` (iocage_cli/__init__.py@c3198327:71).
/// let dir = tempfile::tempdir()?;
/// let program = dir.path().join("iocage");
/// std::fs::write(&program, r#"#!/bin/sh
/// case "$1" in
/// --version) printf 'Version\t1.2\n' ;;
/// list) cat <<'EOF'
/// No default gateway found for ipv6.
/// +-----+------+------+-------+------+-----------------+-----+-----+----------+----------+
/// | JID | NAME | BOOT | STATE | TYPE |     RELEASE     | IP4 | IP6 | TEMPLATE | BASEJAIL |
/// +=====+======+======+=======+======+=================+=====+=====+==========+==========+
/// | -   | web  | off  | down  | jail | 13.2-RELEASE-p4 | -   | -   | -        | no       |
/// +-----+------+------+-------+------+-----------------+-----+-----+----------+----------+
/// EOF
/// ;;
/// esac
/// "#)?;
/// std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755))?;
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let iocage = Iocage::detect(Runner::new(&program)).await?;
/// let jails = iocage.list(false).await?;
/// assert_eq!(jails.value.jails[0].name, "web");
/// // Python has no tags: the name stands in.
/// assert_eq!(jails.value.jails[0].tag.as_deref(), Some("web"));
/// // What iocage printed around the table is kept beside it.
/// assert_eq!(jails.messages[0].text, "No default gateway found for ipv6.");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Iocage {
    runner: Runner,
    version: Option<IocageVersion>,
    line: Line,
    remote_timeout: Duration,
}

impl Iocage {
    /// Asks `iocage --version` which version this is, and drives it if it
    /// is supported ([`IocageVersion::supported`]); a version that is not is
    /// an [`ErrorKind::Unavailable`] error naming it and the ones supported.
    pub async fn detect(runner: Runner) -> std::result::Result<Iocage, Error> {
        let out = run(&runner, &["--version"], None).await?;
        if !out.success() {
            return Err(iocage_error(&["--version"], &out));
        }
        let version = crate::parse_version(&out.stdout)
            .map_err(|error| {
                Error::failed(format!(
                    "cannot tell which iocage this is ({error}): `iocage --version` printed {}",
                    raw(&out)
                ))
            })?
            .value;
        Iocage::new(runner, version)
    }

    /// Drives `version` through `runner`, if it is supported.
    pub fn new(runner: Runner, version: IocageVersion) -> std::result::Result<Iocage, Error> {
        version
            .supported()
            .map_err(|refusal| Error::new(ErrorKind::Unavailable, refusal.to_string()))?;
        let line = match &version {
            IocageVersion::LegacyDevelop { .. } => Line::Develop,
            IocageVersion::LegacyRelease { .. } => Line::Release17,
            IocageVersion::Python { .. } => Line::Python,
        };
        Ok(Iocage {
            runner,
            version: Some(version),
            line,
            remote_timeout: DEFAULT_REMOTE_TIMEOUT,
        })
    }

    /// Drives an iocage of `flavour` without asking its version, as legacy
    /// develop or Python 1.x: the operator vouches for it.
    pub fn assume(runner: Runner, flavour: Flavour) -> Iocage {
        Iocage {
            runner,
            version: None,
            line: match flavour {
                Flavour::Legacy => Line::Develop,
                Flavour::Python => Line::Python,
            },
            remote_timeout: DEFAULT_REMOTE_TIMEOUT,
        }
    }

    /// Sets the time limit of `list -R` (remote releases), which goes to the
    /// network; the runner's own limit still applies if it is shorter.
    pub fn remote_timeout(mut self, limit: Duration) -> Iocage {
        self.remote_timeout = limit;
        self
    }

    /// The tag this iocage would give a jail created or cloned without
    /// one, when that default can collide, so that a caller may choose the
    /// tag itself and pass `tag=` (which suppresses the default); `None`
    /// when the default cannot collide.
    ///
    /// Legacy iocage (develop and 1.7.x) tags it `date "+%F@%T"`, the host's
    /// local time to the second (`tag=$(date "+%F@%T")` in
    /// lib/ioc-globals@ff9b266:106 and @6189eac:103): two untagged creates in
    /// one second get the same tag, and the second silently renames the
    /// first jail's tag (`__link_tag`, lib/ioc-common@ff9b266:755-770). An
    /// explicit `tag=` replaces the default, as `create` and `clone` first
    /// export every `key=value` word over the globals (`__export_props`,
    /// lib/ioc-common@ff9b266:4-13 and @6189eac:4-8; lib/ioc-cmd@6189eac:29,36).
    /// Python iocage names an untagged jail by a fresh UUID
    /// (iocage_lib/ioc_create.py@6f6f4eb:87-90): `None`.
    pub fn default_tag(&self) -> Option<String> {
        match self.flavour() {
            Flavour::Legacy => Some(date_tag(&chrono::Local::now())),
            Flavour::Python => None,
        }
    }

    /// Whether [`Iocage::destroy`] refuses a running jail itself
    /// ([`ErrorKind::Conflict`]), so that a caller that must not destroy a
    /// running jail needs no state query before it.
    ///
    /// Legacy 1.7.x refuses a running jail even with `-f` (`Jail is up and
    /// running`, lib/ioc-zfs@6189eac:339,363,378-380), develop without `-f`
    /// (`jail is running!`, lib/ioc-zfs@ff9b266:857-858), and Python
    /// without `-f` from 1.2 (`destroy_jail(force)`,
    /// iocage_lib/iocage.py@c3198327:754-767, @6f6f4eb:742-752): that is
    /// how they are run. Python 1.0 and 1.1 stop it first, `-f` or not
    /// (iocage_lib/ioc_destroy.py@3e0c61ad:291-304); an unknown Python
    /// version is taken to be one of those.
    pub fn destroy_refuses_running(&self) -> bool {
        match self.line {
            Line::Release17 | Line::Develop => true,
            Line::Python => matches!(
                &self.version,
                Some(IocageVersion::Python { number, .. }) if number.as_slice() >= [1, 2].as_slice()
            ),
        }
    }

    /// The version, when it was asked.
    pub fn version(&self) -> Option<&IocageVersion> {
        self.version.as_ref()
    }

    /// What this version lacks, each with the text of the
    /// [`ErrorKind::NotSupported`] error its method answers.
    pub fn missing(&self) -> Vec<(Missing, &'static str)> {
        match self.line {
            Line::Python => vec![(Missing::Cap, NO_CAP), (Missing::Deactivate, NO_DEACTIVATE)],
            Line::Develop => vec![(Missing::PluginIndex, NO_PLUGIN_INDEX)],
            Line::Release17 => vec![
                (Missing::PluginIndex, NO_PLUGIN_INDEX),
                (Missing::CleanTemplates, NO_CLEAN_TEMPLATES),
            ],
        }
    }

    /// The flavour of command line and output.
    pub fn flavour(&self) -> Flavour {
        match self.line {
            Line::Develop | Line::Release17 => Flavour::Legacy,
            Line::Python => Flavour::Python,
        }
    }

    /// The runner.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    async fn run<S: AsRef<str>>(&self, args: &[S]) -> std::result::Result<Output, Error> {
        run(&self.runner, args, None).await
    }

    /// Runs iocage and turns a failure (non-zero exit, or a legacy `ERROR:`
    /// line) into the matching error.
    async fn checked<S: AsRef<str>>(&self, args: &[S]) -> std::result::Result<Output, Error> {
        let out = self.run(args).await?;
        if self.failed(&out) {
            return Err(iocage_error(args, &out));
        }
        Ok(out)
    }

    /// Whether a run failed: a non-zero exit, or (legacy) an `ERROR:` line,
    /// which some legacy commands print and still exit 0. Legacy 1.7.x
    /// prints its errors on stdout (`echo "  ERROR: ..."` without `>&2`,
    /// e.g. lib/ioc-info@6189eac:280-292).
    fn failed(&self, out: &Output) -> bool {
        !out.success()
            || match self.line {
                Line::Develop => has_error_line(&out.stderr),
                Line::Release17 => has_error_line(&out.stderr) || has_error_line(&out.stdout),
                Line::Python => false,
            }
    }

    /// `iocage list` (`templates`: `list -t`); Python `list -l`, which names
    /// jails in full and shows BOOT and TYPE. Every jail has a tag: Python
    /// has none, so its name stands in.
    pub async fn list(&self, templates: bool) -> Result<JailList> {
        let mut args = vec!["list"];
        if self.line == Line::Python {
            // Plain `list` looks JIDs up under the short display name
            // (freebsd/iocage review §7.5): always the long form.
            args.push("-l");
        }
        if templates {
            args.push("-t");
        }
        let out = self.checked(&args).await?;
        let mut list = parsed(&out, crate::parse_list(&out.stdout))?;
        for jail in &mut list.value.jails {
            match self.line {
                Line::Python => jail.tag = Some(jail.name.clone()),
                // printf pads the tag (lib/ioc-info@6189eac:150-151).
                Line::Develop | Line::Release17 => {
                    jail.tag = Some(jail.tag.take().unwrap_or_default().trim().to_owned());
                }
            }
        }
        // v1.7.4's list has no IP column (lib/ioc-info@7ba6e4e:116-150;
        // 1.7.5 added it, and all three print `iocage 1.7.4`): the address
        // is asked for jail by jail.
        if self.line == Line::Release17 {
            for jail in &mut list.value.jails {
                if jail.ip4.is_none() {
                    let args = ["get", "ip4_addr", jail.name.as_str()];
                    let out = self.checked(&args).await?;
                    let ip4 = parsed(&out, crate::parse_get_value(&out.stdout))?;
                    list.messages.extend(ip4.messages);
                    jail.ip4 = Some(ip4.value);
                }
            }
        }
        Ok(list)
    }

    /// Every jail and template: `list`, then `list -t`.
    async fn everything(&self) -> Result<JailList> {
        let mut jails = self.list(false).await?;
        let templates = self.list(true).await?;
        jails.value.jails.extend(templates.value.jails);
        jails.messages.extend(templates.messages);
        Ok(jails)
    }

    /// `iocage df`, every row with its tag (Python: the name).
    pub async fn df(&self) -> Result<Vec<DfRow>> {
        let out = self.checked(&["df"]).await?;
        let mut rows = parsed(&out, crate::parse_df(&out.stdout))?;
        for row in &mut rows.value {
            // Legacy 1.7.x pads the tag with `%-20s` (lib/ioc-info@6189eac:192-204).
            let tag = row.tag.take().map(|tag| tag.trim().to_owned());
            row.tag = Some(tag.unwrap_or_else(|| row.name.clone()));
        }
        Ok(rows)
    }

    /// One property of one jail. `state` gives `up` or `down` in every
    /// version; `tag` gives the name on Python.
    pub async fn get(&self, prop: &str, jail: &str) -> Result<String> {
        match (self.line, prop) {
            // 1.7.x has no `state` property (lib/ioc-info@6189eac:254-322):
            // the list knows.
            (Line::Release17, "state") => {
                let list = self.everything().await?;
                let found = list.value.jails.iter().find(|found| found.name == jail);
                match found {
                    Some(found) => Ok(Parsed {
                        value: found.state.clone().unwrap_or_else(|| "down".into()),
                        messages: list.messages,
                    }),
                    None => Err(Error::new(
                        ErrorKind::NotFound,
                        format!("jail {jail} not found!"),
                    )),
                }
            }
            // Python 1.x: `get -s` (iocage_cli/get.py@8fc88756:49).
            (Line::Python, "state") => {
                let out = self.checked(&["get", "-s", jail]).await?;
                parsed(&out, crate::parse_get_value(&out.stdout))
            }
            // Python has no tags; a jail's name is its tag.
            (Line::Python, "tag") => {
                let out = self.checked(&["get", "-s", jail]).await?;
                Ok(parsed(&out, crate::parse_get_value(&out.stdout))?.map(|_| jail.to_owned()))
            }
            _ => {
                let out = self.checked(&["get", prop, jail]).await?;
                parsed(&out, crate::parse_get_value(&out.stdout))
            }
        }
    }

    /// Every property of one jail (`get all JAIL`), in iocage's order.
    pub async fn get_all(&self, jail: &str) -> Result<Properties> {
        let out = self.checked(&["get", "all", jail]).await?;
        parsed(&out, crate::parse_get_all(&out.stdout))
    }

    /// One property of every jail, every row with its tag (Python: the
    /// name).
    pub async fn get_recursive(&self, prop: &str) -> Result<RecursiveGet> {
        if self.line == Line::Python && (prop == "state" || prop == "tag") {
            // The jail list holds both, in every 1.x version.
            let list = self.everything().await?;
            return Ok(list.map(|list| RecursiveGet {
                property: prop.to_owned(),
                rows: list
                    .jails
                    .into_iter()
                    .map(|jail| crate::RecursiveRow {
                        value: if prop == "tag" {
                            jail.name.clone()
                        } else {
                            jail.state.unwrap_or_else(|| "down".into())
                        },
                        tag: Some(jail.name.clone()),
                        name: jail.name,
                    })
                    .collect(),
            }));
        }
        let args: &[&str] = match self.line {
            // 1.7.x has no `get -r`: `get` is `__get_jail_prop "$2" "$3"`
            // (lib/ioc-cmd@6189eac:63), and `show PROP` prints the same
            // `UUID TAG PROP` table through `column -t`
            // (lib/ioc-help@6189eac:1392-1409).
            Line::Release17 => &["show", prop],
            Line::Develop | Line::Python => &["get", "-r", prop],
        };
        let out = self.checked(args).await?;
        let unsupported = |line: &str| {
            let words: Vec<&str> = line.split_whitespace().collect();
            words
                .windows(2)
                .any(|pair| pair == ["ERROR:", "unsupported"])
        };
        if self.line == Line::Release17 && out.stdout.lines().any(unsupported) {
            // `show` puts `__get_jail_prop`'s error in the value cell,
            // spread by `column -t`, and exits with column's status
            // (lib/ioc-help@6189eac:1403-1408).
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("unsupported property: {prop} !"),
            ));
        }
        let mut get = parsed(&out, crate::parse_get_recursive(&out.stdout))?;
        for row in &mut get.value.rows {
            if row.tag.is_none() {
                row.tag = Some(row.name.clone());
            }
        }
        Ok(get)
    }

    /// The default properties: legacy `defaults`, Python `get all default`.
    pub async fn defaults(&self) -> Result<Properties> {
        match self.line {
            Line::Develop | Line::Release17 => {
                let out = self.checked(&["defaults"]).await?;
                parsed(&out, crate::parse_defaults(&out.stdout))
            }
            Line::Python => {
                let out = self.checked(&["get", "all", "default"]).await?;
                parsed(&out, crate::parse_get_all(&out.stdout))
            }
        }
    }

    /// `iocage start JAIL`.
    pub async fn start(&self, jail: &str) -> Result<Transition> {
        self.start_stop("start", jail).await
    }

    /// `iocage stop JAIL`.
    pub async fn stop(&self, jail: &str) -> Result<Transition> {
        self.start_stop("stop", jail).await
    }

    async fn start_stop(&self, verb: &str, jail: &str) -> Result<Transition> {
        let args = [verb, jail];
        let out = self.run(&args).await?;
        // "Already up/down": on stderr, exit 1, in legacy develop
        // (lib/ioc-rc@ff9b266:42-45) and for Python's start; exit 0 for
        // Python's stop (iocage_lib/ioc_stop.py@c3198327:76-79). Legacy
        // 1.7.x prints `* UUID: is already up` on stdout, exit 1
        // (lib/ioc-rc@6189eac:38-41, :377-380), without the tag.
        let mut notice = already(&out.stderr, jail);
        if notice.is_none() && self.line == Line::Release17 {
            notice = already(&out.stdout, jail);
        }
        if let Some((tag, up)) = notice {
            let tag = match tag {
                Some(tag) => tag,
                None if self.line == Line::Python => jail.to_owned(),
                None => self.get("tag", jail).await?.value,
            };
            let text = status_line(&StartStopLine::Already {
                name: jail.to_owned(),
                tag: Some(tag),
                up,
            });
            return Ok(Parsed::new(Transition::Already(text)));
        }
        if self.failed(&out) {
            return Err(iocage_error(&args, &out));
        }
        // 1.7.x returns from `start` of a template silently, exit 0
        // (lib/ioc-rc@6189eac:61-63): nothing started.
        if self.line == Line::Release17
            && verb == "start"
            && out.stdout.trim().is_empty()
            && out.stderr.trim().is_empty()
            && self.get("template", jail).await?.value == "yes"
        {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("{jail} is a template jail: iocage does not start templates"),
            ));
        }
        let report = parsed(&out, crate::parse_start_stop(&out.stdout))?;
        let lines: Vec<String> = report.value.lines.iter().map(status_line).collect();
        let begun = report
            .value
            .lines
            .iter()
            .any(|line| matches!(line, StartStopLine::Begin { .. }));
        if report.value.failed() || !begun {
            // A failed step, or a notice instead of the work (legacy's
            // "is a template jail, ignoring start request").
            let mut text = lines.join("\n");
            if !out.stderr.trim().is_empty() {
                text.push('\n');
                text.push_str(out.stderr.trim());
            }
            return Err(classify(text, &args));
        }
        Ok(Parsed {
            value: Transition::Changed(lines),
            messages: report.messages,
        })
    }

    /// Re-applies resource limits (legacy `cap JAIL`; Python has none).
    pub async fn cap(&self, jail: &str) -> Result<()> {
        if self.line == Line::Python {
            return Err(Error::not_supported(NO_CAP));
        }
        let out = self.checked(&["cap", jail]).await?;
        // Silent on success, or `  + Applying resource limits OK`.
        if out.stdout.trim().is_empty() {
            return Ok(Parsed::new(()));
        }
        let report = parsed(&out, crate::parse_start_stop(&out.stdout))?;
        if report.value.failed() {
            return Err(Error::failed(
                report
                    .value
                    .lines
                    .iter()
                    .map(status_line)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ));
        }
        Ok(report.map(drop))
    }

    /// Creates a jail from `key=value` properties (`tag=` names a Python
    /// jail, `count=` is Python's `-c`); `empty` is `-e`. Python needs
    /// `release=` unless `empty`.
    pub async fn create(&self, props: &[(String, String)], empty: bool) -> Result<Created> {
        let props = &self.own_names(props);
        let asked_tag = value_of(props, "tag");
        let mut args = vec!["create".to_owned()];
        match self.line {
            Line::Develop | Line::Release17 => {
                // `-e` is recognised only as $2, before any property
                // (lib/ioc-zfs@ff9b266:498-563; `"${2}" = "-e"` in
                // lib/ioc-zfs@6189eac:187).
                if empty {
                    args.push("-e".into());
                }
                args.extend(props.iter().map(|(key, value)| format!("{key}={value}")));
            }
            Line::Python => {
                if empty {
                    args.push("-e".into());
                } else {
                    let release = value_of(props, "release").ok_or_else(|| {
                        Error::new(
                            ErrorKind::Invalid,
                            "Python iocage needs the release to create a jail from: \
                             add release=RELEASE to props",
                        )
                    })?;
                    args.extend(["-r".into(), release.to_owned()]);
                }
                args.extend(python_props(props, &["release"]));
            }
        }
        if self.line == Line::Release17 && !empty {
            // 1.7.x prints nothing on success (lib/ioc-zfs@6189eac:148-246;
            // only `-e` echoes the UUID, :214-216): the listing tells.
            return self
                .made_by(&args, asked_tag, value_of(props, "template") == Some("yes"))
                .await;
        }
        let out = self.checked(&args).await?;
        let report = parsed(&out, crate::parse_create(&out.stdout))?;
        let Some((name, tag)) = report.value.created().next() else {
            return Err(unreadable(&out, "no jail was reported created"));
        };
        let tag = match (self.line, tag) {
            (Line::Python, _) => name.to_owned(),
            (_, Some(tag)) => tag.to_owned(),
            // Legacy `create -e` prints the bare UUID only.
            (_, None) => asked_tag.unwrap_or_default().to_owned(),
        };
        let name = name.to_owned();
        Ok(report.map(|_| Created { name, tag }))
    }

    /// Clones a jail, with the properties that should differ.
    pub async fn clone_jail(&self, jail: &str, props: &[(String, String)]) -> Result<Created> {
        let props = &self.own_names(props);
        let mut args = vec!["clone".to_owned(), jail.to_owned()];
        match self.line {
            Line::Develop | Line::Release17 => {
                args.extend(props.iter().map(|(key, value)| format!("{key}={value}")));
            }
            Line::Python => args.extend(python_props(props, &[])),
        }
        if self.line == Line::Release17 {
            // 1.7.x prints nothing on success (lib/ioc-zfs@6189eac:249-305).
            let template = value_of(props, "template") == Some("yes");
            return self.made_by(&args, value_of(props, "tag"), template).await;
        }
        let out = self.checked(&args).await?;
        let report = parsed(&out, crate::parse_create(&out.stdout))?;
        let Some((name, tag)) = report.value.created().next() else {
            return Err(unreadable(&out, "no jail was reported cloned"));
        };
        let tag = match self.line {
            Line::Python => name.to_owned(),
            _ => tag.unwrap_or_default().to_owned(),
        };
        let name = name.to_owned();
        Ok(report.map(|_| Created { name, tag }))
    }

    /// `props` with the documented (legacy develop) `istemplate` under the
    /// name this version has: `template` in 1.7.x
    /// (lib/ioc-globals@6189eac:104), which drops a word it does not know
    /// silently, and in Python, which refuses it (`istemplate is not a
    /// valid property!`).
    fn own_names(&self, props: &[(String, String)]) -> Vec<(String, String)> {
        props
            .iter()
            .map(|(key, value)| match (self.line, key.as_str()) {
                (Line::Release17 | Line::Python, "istemplate") => {
                    ("template".into(), value.clone())
                }
                _ => (key.clone(), value.clone()),
            })
            .collect()
    }

    /// Runs a create or clone that prints nothing on success (legacy
    /// 1.7.x), and finds the jail it made in the listings before and after:
    /// the one new jail (with `tag`, if one was asked). Never a failure for
    /// a jail that now exists, never a success for one that does not.
    /// A `template` made is looked for among the templates (`list -t`,
    /// which lists exactly the `template=yes` ones, lib/ioc-info@6189eac:140-150).
    async fn made_by(&self, args: &[String], tag: Option<&str>, template: bool) -> Result<Created> {
        let before = self.list(template).await?;
        let out = self.run(args).await?;
        let after = self.list(template).await?;
        let new: Vec<&crate::Jail> = after
            .value
            .jails
            .iter()
            .filter(|jail| !before.value.jails.iter().any(|old| old.name == jail.name))
            .filter(|jail| {
                let made = jail.tag.as_deref().unwrap_or_default();
                match tag {
                    Some(tag) => made == tag,
                    // Without a tag, 1.7.x tags the jail with the time
                    // (`tag=$(date "+%F@%T")`, lib/ioc-globals@6189eac:103),
                    // which tells it from jails made meanwhile with a tag.
                    None => is_date_tag(made),
                }
            })
            .collect();
        let command = args.first().map_or("", String::as_str);
        match (new.as_slice(), self.failed(&out)) {
            ([], true) => Err(iocage_error(args, &out)),
            ([], false) => Err(Error::failed(format!(
                "{} ended with {} but no new jail is listed; it printed {}",
                shown_command(args),
                out.exit,
                raw(&out)
            ))),
            ([jail], _) => {
                let mut messages = before.messages;
                messages.extend(parse_messages(&out.stdout));
                messages.extend(parse_messages(&out.stderr));
                messages.extend(after.messages);
                Ok(Parsed {
                    value: Created {
                        name: jail.name.clone(),
                        tag: jail.tag.clone().unwrap_or_default(),
                    },
                    messages,
                })
            }
            (many, _) => Err(Error::failed(format!(
                "iocage {command} printed nothing, and {} new jails are listed ({}): \
                 cannot tell which one it made",
                many.len(),
                many.iter()
                    .map(|jail| jail.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Destroys a jail, refusing ([`ErrorKind::Conflict`]) one that other
    /// jails were cloned or created from, in every version.
    ///
    /// Develop: `destroy UUID` with its `Are you sure ? y[N]:` answered `y`
    /// on stdin: it refuses a running jail then (`cannot destroy U - jail is
    /// running!`, lib/ioc-zfs@ff9b266:848-859), where `-f` would stop it
    /// (:866-870); it refuses a jail with dependent clones itself, before
    /// the prompt (:842-846, 1028-1058). 1.7.x: `destroy -f` (no prompt;
    /// a running jail is refused all the same, lib/ioc-zfs@6189eac:378-380);
    /// it prints `Destroying: UUID` before `zfs destroy` runs and ignores
    /// its failure (:362-378), so the listing tells whether it is gone.
    ///
    /// Python: `-f` skips the dependents check, and since 1.2+ destroys the
    /// clones with it (`zfs destroy -r -Rf`), so `destroy JAIL` is run
    /// without `-f` and its `Are you sure?` answered `y` on stdin: then
    /// `child_test` refuses a jail with snapshots, which every clone and
    /// every jail made from a template has (`has dependent jails`, exit 1;
    /// iocage_cli/destroy.py@6f6f4eb:36-87,125-131, the same order in 1.0
    /// @8fc88756:35-128), and from 1.2 a running jail is refused (`still
    /// running`, iocage_lib/iocage.py@6f6f4eb:742-751); 1.0 and 1.1 stop it
    /// (see [`Iocage::destroy_refuses_running`]).
    pub async fn destroy(&self, jail: &str) -> Result<()> {
        let (args, input): (&[&str], _) = match self.line {
            Line::Python | Line::Develop => (&["destroy", jail], Some(&b"y\n"[..])),
            Line::Release17 => (&["destroy", "-f", jail], None),
        };
        let mut out = run(&self.runner, args, input).await?;
        if self.failed(&out) {
            return Err(iocage_error(args, &out));
        }
        // The prompts have no newline after them (their answer comes from
        // the pipe, unechoed), so `Destroying` follows on the same line.
        // Develop's warning before its prompt goes too.
        out.stdout = out.stdout.replace("Are you sure? [y/N]: ", "\n");
        if let Some((_, after)) = out.stdout.split_once("  Are you sure ? y[N]: ") {
            out.stdout = after.to_owned();
        }
        let report = parsed(&out, crate::parse_destroy(&out.stdout))?;
        if !report.value.destroyed().any(|name| name == jail) {
            return Err(unreadable(&out, "the jail was not reported destroyed"));
        }
        if self.line == Line::Release17 {
            let list = self.everything().await?;
            if list.value.jails.iter().any(|found| found.name == jail) {
                // zfs's complaint is on stderr (`filesystem has dependent
                // clones`, a conflict).
                let text = match out.stderr.trim() {
                    "" => {
                        format!("iocage destroy said it destroyed {jail}, but it is still listed")
                    }
                    stderr => cut(stderr),
                };
                return Err(classify(text, args));
            }
        }
        Ok(report.map(drop))
    }

    /// Runs `argv` as `user` in a running jail, never through a shell.
    pub async fn exec(&self, jail: &str, user: &str, argv: &[String]) -> Result<Executed> {
        let mut args = vec!["exec".to_owned(), "-U".into(), user.to_owned()];
        if self.line == Line::Python {
            // Without `--`, click takes the command's flags as its own
            // (`ls -fa`: `-f` is `--force`; exec uses ignore_unknown_options).
            args.push("--".into());
        }
        args.push(jail.to_owned());
        // Python iocage runs a one-word command as `/bin/sh -c WORD`
        // (iocage_cli/exec.py@c3198327:48-49, the same in 0.9.10), which
        // would interpret a quoted word's spaces and `;` in the jail; env(1)
        // makes every command at least two words and runs it as given.
        if argv.len() == 1 {
            args.push("/usr/bin/env".into());
        }
        args.extend(argv.iter().cloned());
        // What the command prints is for its requester only, never progress.
        let quiet = self.runner.clone().output_not_in_progress();
        let out = run(&quiet, &args, None).await?;
        let mut lines: Vec<String> = out
            .stdout
            .lines()
            .chain(out.stderr.lines())
            .map(str::to_owned)
            .collect();
        match self.line {
            Line::Develop | Line::Release17 => {
                // The exit status is jexec's (`getopts u:U:` stops at the
                // UUID; lib/ioc-common@ff9b266:445-490, the same in
                // @6189eac); jexec's own complaints and iocage's errors are
                // failures to run, not the command's.
                let jexec = out.stderr.lines().any(|line| line.starts_with("jexec: "));
                // 1.7.x prints its own errors on stdout and exits 1 before
                // jexec runs (lib/ioc-common@6189eac:126-164): exactly one
                // of those lines and nothing else. A command may print
                // `ERROR:` lines of its own, so only those texts count.
                let own_17 = self.line == Line::Release17
                    && out.exit == ExitKind::Code(1)
                    && out.stderr.trim().is_empty()
                    && legacy_17_exec_error(&out.stdout, jail);
                if (jexec && !out.success()) || has_error_line(&out.stderr) || own_17 {
                    let mut error = iocage_error(&args, &out);
                    // iocage found the jail, so jexec's `jail "ioc-U" not
                    // found` means it is down (legacy runs jexec without
                    // checking, lib/ioc-common@3ffbc87 `__exec`).
                    let down = out.stderr.lines().any(|line| {
                        line.starts_with("jexec: jail \"") && line.ends_with(" not found")
                    });
                    if down && error.kind == ErrorKind::Conflict {
                        error.text =
                            format!("{}: {jail} is not running; start it first", error.text);
                    }
                    return Err(error);
                }
                let status = match out.exit {
                    ExitKind::Code(code) => code,
                    ExitKind::Signal(_) => -1,
                };
                Ok(Parsed::new(Executed { status, lines }))
            }
            Line::Python => {
                if out.success() {
                    return Ok(Parsed::new(Executed { status: 0, lines }));
                }
                // Python does not pass the command's status on: it prints
                // `Command: ... failed!` and exits 1
                // (iocage_lib/ioc_exec.py@c3198327:306-317).
                let is_report = |line: &str| {
                    line.starts_with("Command: ") && line.trim_end().ends_with(" failed!")
                };
                if lines.last().is_some_and(|line| is_report(line)) {
                    lines.pop();
                    return Ok(Parsed::new(Executed { status: 1, lines }));
                }
                // 1.0 and 1.1 raise that report as an exception when stdout
                // is not a terminal, which it never is here
                // (iocage_lib/ioc_common.py@8fc8875:65-66): the traceback,
                // on stderr after the command's output, ends with it.
                let traceback = out
                    .stderr
                    .lines()
                    .position(|line| line.trim() == "Traceback (most recent call last):");
                let raised = out.stderr.lines().last().and_then(|line| {
                    line.trim()
                        .strip_prefix("RuntimeError: ")
                        .filter(|rest| is_report(rest))
                });
                if let (Some(at), Some(_)) = (traceback, raised) {
                    lines.truncate(out.stdout.lines().count() + at);
                    return Ok(Parsed::new(Executed { status: 1, lines }));
                }
                Err(iocage_error(&args, &out))
            }
        }
    }

    /// Destroys datasets (`clean`), without a prompt.
    pub async fn clean(&self, target: Clean) -> Result<()> {
        let letter = target.letter();
        if self.line == Line::Release17 {
            return self.clean_17(target).await;
        }
        let args = match self.line {
            // `getopts :arjtf` (lib/ioc-zfs@ff9b266:54-96).
            Line::Develop | Line::Release17 => vec!["clean".to_owned(), format!("-f{letter}")],
            // `--force/-f` plus `-a/-j/-r/-t` (iocage_cli/clean.py@c3198327:34-46).
            Line::Python => vec!["clean".to_owned(), "-f".into(), format!("-{letter}")],
        };
        let out = self.checked(&args).await?;
        // Legacy prints `  INFO: destroying ...: done!` spinner lines, Python
        // `Cleaning iocage/...` and a summary; anything else is not iocage.
        let messages = parse_messages(&out.stdout);
        let recognised = messages.iter().any(|message| match self.line {
            Line::Develop | Line::Release17 => message.level == Level::Info,
            Line::Python => {
                message.text.starts_with("Cleaning ") || message.text.ends_with("destroyed.")
            }
        });
        if !messages.is_empty() && !recognised {
            return Err(unreadable(&out, "no dataset was reported cleaned"));
        }
        Ok(Parsed {
            value: (),
            messages,
        })
    }

    /// Legacy 1.7.x `clean`: `clean) __clean "$2"` takes exactly `-a`, `-r`
    /// or `-j`, no `-f` and no `-t` (lib/ioc-cmd@6189eac:26;
    /// lib/ioc-zfs@6189eac:30-96, where `-fa` matches no case and does
    /// nothing), and always asks `Are you sure ? y[N]:` with `read`. The
    /// request is the confirmation, so the answer `y` is given on stdin;
    /// success is `  Destroying <dataset>` and exit 0, a refusal `Command
    /// not confirmed` and exit 1.
    async fn clean_17(&self, target: Clean) -> Result<()> {
        if target == Clean::Templates {
            return Err(Error::not_supported(NO_CLEAN_TEMPLATES));
        }
        let args = ["clean".to_owned(), format!("-{}", target.letter())];
        let out = run(&self.runner, &args, Some(b"y\n")).await?;
        if self.failed(&out) {
            return Err(iocage_error(&args, &out));
        }
        // The prompt is `echo -n`, so the first `Destroying` shares its line.
        if !out
            .stdout
            .lines()
            .any(|line| line.contains("  Destroying "))
        {
            return Err(unreadable(&out, "no dataset was reported destroyed"));
        }
        Ok(Parsed {
            value: (),
            messages: parse_messages(&out.stdout),
        })
    }

    /// The active pool: legacy `activate` without a pool, Python `get -p`.
    pub async fn active_pool(&self) -> Result<String> {
        let args: &[&str] = match self.line {
            Line::Develop | Line::Release17 => &["activate"],
            Line::Python => &["get", "-p"],
        };
        let out = self.checked(args).await?;
        parsed(&out, crate::parse_pool(&out.stdout))
    }

    /// Activates a pool, leaving it the only one active.
    ///
    /// Legacy develop before the UCL change (13de231, which first printed
    /// `iocage DEVELOP (2016-03-23)`) and 1.7.x mark a pool with `zpool set
    /// comment=iocage` and leave the old pool marked too
    /// (lib/ioc-zfs@3ffbc87:5-17, @6189eac:5-17), after which every command
    /// fails with `You have more then one pool set for iocage use!`
    /// (`__find_mypool`, lib/ioc-info@3ffbc87:332-350). So legacy is asked
    /// for its pool again, and every other pool that warning lists is
    /// deactivated (`zpool set comment=inherit`).
    pub async fn activate(&self, pool: &str) -> Result<()> {
        let out = self.checked(&["activate", pool]).await?;
        let mut done = parsed(&out, crate::parse_activate(&out.stdout))?.map(drop);
        if self.line == Line::Python {
            return Ok(done);
        }
        let check = self.run(&["activate"]).await?;
        if check.success() {
            return Ok(done);
        }
        // L16 prints the warning on stderr (lib/ioc-info@3ffbc87:338-350),
        // 1.7.x on stdout (lib/ioc-info@6189eac:214-228).
        let warning = match self.line {
            Line::Release17 => &check.stdout,
            _ => &check.stderr,
        };
        let others = marked_pools(warning)
            .into_iter()
            .filter(|marked| marked != pool)
            .collect::<Vec<_>>();
        if others.is_empty() {
            // The pool was activated (exit 0); what the check said is kept.
            done.messages.extend(parse_messages(warning));
            return Ok(done);
        }
        for other in &others {
            let out = self.checked(&["deactivate", other.as_str()]).await?;
            done.messages.extend(parse_messages(&out.stdout));
        }
        let now = self.active_pool().await?;
        if now.value != pool {
            return Err(Error::failed(format!(
                "after activating {pool} and deactivating {}, iocage names {} as its pool",
                others.join(", "),
                now.value
            )));
        }
        done.messages.push(Message {
            level: Level::Info,
            text: format!(
                "deactivated {} (legacy iocage left it active)",
                others.join(", ")
            ),
        });
        Ok(done)
    }

    /// Deactivates a pool (legacy only: Python keeps one active pool).
    pub async fn deactivate(&self, pool: &str) -> Result<()> {
        if self.line == Line::Python {
            return Err(Error::not_supported(NO_DEACTIVATE));
        }
        let out = self.checked(&["deactivate", pool]).await?;
        // Silent on success; parse_activate accepts exactly that.
        Ok(parsed(&out, crate::parse_activate(&out.stdout))?.map(drop))
    }

    /// The fetched releases (`list -r`).
    pub async fn releases(&self) -> Result<Vec<String>> {
        let out = self.checked(&["list", "-r"]).await?;
        parsed(&out, crate::parse_releases(&out.stdout))
    }

    /// The releases available to fetch (Python `list -R`), within the
    /// remote time limit ([`Iocage::remote_timeout`]): it needs the network.
    /// Legacy iocage cannot list them without prompting (`fetch` asks which
    /// one to download): [`ErrorKind::NotSupported`].
    pub async fn remote_releases(&self) -> Result<Vec<String>> {
        if self.line != Line::Python {
            return Err(Error::not_supported(
                "list of remote releases (legacy iocage asks which one to fetch)",
            ));
        }
        let limit = self.remote_timeout.min(self.runner.time_limit());
        let runner = self.runner.clone().timeout(limit);
        let args = ["list", "-R"];
        let out = run(&runner, &args, None).await?;
        if self.failed(&out) {
            return Err(iocage_error(&args, &out));
        }
        // 1.x prints bare names, never `(EOL)` (iocage_cli/list.py@c3198327:91-92).
        Ok(
            parsed(&out, crate::parse_remote_releases(&out.stdout))?.map(|releases| {
                releases
                    .into_iter()
                    .map(|release| {
                        if release.eol {
                            format!("{} (EOL)", release.name)
                        } else {
                            release.name
                        }
                    })
                    .collect()
            }),
        )
    }

    /// The remote plugin index (Python `list -P -R`; legacy has none).
    pub async fn plugins(&self) -> Result<Vec<Plugin>> {
        if self.line != Line::Python {
            return Err(Error::not_supported(NO_PLUGIN_INDEX));
        }
        let out = self.checked(&["list", "-P", "-R"]).await?;
        parsed(&out, crate::parse_plugins(&out.stdout))
    }
}

/// The pools legacy's multi-pool warning lists, between `**** POOLS ****`
/// and `***************`, one `name<TAB>iocage` line each
/// (lib/ioc-info@3ffbc87:337-348).
fn marked_pools(warning: &str) -> Vec<String> {
    let mut pools = Vec::new();
    let mut inside = false;
    for line in warning.lines() {
        let line = line.trim();
        if line == "**** POOLS ****" {
            inside = true;
        } else if inside && line.starts_with("****") {
            break;
        } else if inside && let Some(name) = line.split_whitespace().next() {
            pools.push(name.to_owned());
        }
    }
    pools
}

/// Whether `stdout` is exactly one of the errors 1.7.x's `__exec` prints
/// itself (lib/ioc-common@6189eac:129-163).
fn legacy_17_exec_error(stdout: &str, jail: &str) -> bool {
    let messages = parse_messages(stdout);
    let [message] = messages.as_slice() else {
        return false;
    };
    message.level == Level::Error
        && (message.text == format!("{jail} not found.")
            || message.text == "Missing UUID!"
            || message.text == "multiple matching UUIDs!"
            || message.text.starts_with("Invalid exec option: "))
}

/// `time` as `date "+%F@%T"` prints it: `2016-02-17@10:00:00`.
fn date_tag<Tz: chrono::TimeZone>(time: &chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    time.format("%F@%T").to_string()
}

/// Whether `tag` is `date "+%F@%T"`: `2016-02-17@10:00:00`.
fn is_date_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    bytes.len() == 19
        && bytes.iter().enumerate().all(|(at, &byte)| match at {
            4 | 7 => byte == b'-',
            10 => byte == b'@',
            13 | 16 => byte == b':',
            _ => byte.is_ascii_digit(),
        })
}

fn value_of<'a>(props: &'a [(String, String)], key: &str) -> Option<&'a str> {
    props
        .iter()
        .find(|(found, _)| found == key)
        .map(|(_, value)| value.as_str())
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

/// Runs iocage; a run that ended by a signal or overflowed the output cap
/// is a failure, any exit status is returned for the caller to judge.
async fn run<S: AsRef<str>>(
    runner: &Runner,
    args: &[S],
    input: Option<&'static [u8]>,
) -> std::result::Result<Output, Error> {
    let os_args = args.iter().map(|arg| OsStr::new(arg.as_ref()));
    let out = runner
        .run_with_input(os_args, input)
        .await
        .map_err(|error| run_error(args, error))?;
    if let ExitKind::Signal(signal) = out.exit {
        let mut text = format!("{} was killed by signal {signal}", shown_command(args));
        if !out.stderr.trim().is_empty() {
            text.push_str("; it printed: ");
            text.push_str(&cut(out.stderr.trim()));
        }
        return Err(Error::failed(text));
    }
    if out.truncated {
        return Err(Error::failed(format!(
            "{} printed more than the output limit; its output was not used",
            shown_command(args)
        )));
    }
    Ok(out)
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
                crate::Action::Start => "Starting",
                crate::Action::Stop => "Stopping",
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

/// An "already up/down" notice about `jail` in `text`: the tag if printed,
/// and whether it is up. Legacy develop `  INFO: U (T) is already up`,
/// legacy 1.7.x `* U: is already up`, Python `N is already running!` /
/// `N is not running!`.
///
/// Only a notice about `jail` itself counts: Python 0.9.10 says
/// `pgsql is already running!` when the jail asked for depends on a running
/// pgsql (iocage/iocage#608), which says nothing about the jail asked for.
fn already(text: &str, jail: &str) -> Option<(Option<String>, bool)> {
    let report: StartStopReport = crate::parse_start_stop(text).ok()?.value;
    report.lines.iter().find_map(|line| match line {
        StartStopLine::Already { name, tag, up } if name == jail => Some((tag.clone(), *up)),
        _ => None,
    })
}

fn has_error_line(text: &str) -> bool {
    parse_messages(text)
        .iter()
        .any(|message| message.level == Level::Error)
}

/// `iocage` and its arguments, for messages.
fn shown_command<S: AsRef<str>>(args: &[S]) -> String {
    shell_words::join(std::iter::once("iocage").chain(args.iter().map(AsRef::as_ref)))
}

fn run_error<S: AsRef<str>>(args: &[S], error: RunError) -> Error {
    match error {
        // The path is not named: replies never name server files.
        RunError::NotFound { .. } => Error::new(
            ErrorKind::Unavailable,
            "iocage is not installed: the configured iocage program was not found",
        ),
        RunError::Spawn { source, .. } => Error::new(
            ErrorKind::Unavailable,
            format!("iocage cannot be started: {source}"),
        ),
        RunError::TimedOut { limit, .. } => Error::new(
            ErrorKind::TimedOut,
            format!(
                "{} did not finish within {limit:?} and was stopped",
                shown_command(args)
            ),
        ),
        RunError::Io { source, .. } => Error::failed(format!("{}: {source}", shown_command(args))),
    }
}

/// What iocage said when it failed: its `ERROR:` lines if any (stderr,
/// then stdout, where legacy 1.7.x prints them), else everything on stderr,
/// else everything on stdout, prefixes removed.
fn iocage_text(out: &Output) -> String {
    let stderr = parse_messages(&out.stderr);
    let stdout = parse_messages(&out.stdout);
    let errors: Vec<&str> = stderr
        .iter()
        .chain(stdout.iter())
        .filter(|message| message.level == Level::Error)
        .map(|message| message.text.as_str())
        .collect();
    if !errors.is_empty() {
        return errors.join("\n");
    }
    let messages: &[Message] = if stderr.is_empty() { &stdout } else { &stderr };
    let text: Vec<&str> = messages
        .iter()
        .map(|message| message.text.as_str())
        .collect();
    cut(&text.join("\n"))
}

fn iocage_error<S: AsRef<str>>(args: &[S], out: &Output) -> Error {
    let mut text = iocage_text(out);
    // sh's "command not found" status: legacy develop HEAD still dispatches
    // `deactivate) __deactivate` (lib/ioc-cmd@ff9b266:88) to a function
    // removed in 13de231, so sh prints `__deactivate: not found`, exit 127.
    if out.exit == ExitKind::Code(127) {
        let command = args.first().map_or("", AsRef::as_ref);
        return Error::not_supported(format!(
            "working `iocage {command}` command (it exits 127: {text})"
        ));
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

/// Words in iocage's messages (every version, and the tools it passes
/// through: zpool, zfs, jexec) that say which kind of failure it was.
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
    "is up and running",
    // Develop's `destroy` of a running jail (lib/ioc-zfs@ff9b266:857-858).
    "- jail is running!",
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
    "please specify release",
    "multiple jails",
    "multiple matching",
    "invalid release",
];
const NOT_FOUND: &[&str] = &[
    "not found",
    "no such pool",
    "not a valid pool",
    "does not exist",
];

fn classify<S: AsRef<str>>(text: String, args: &[S]) -> Error {
    let lower = text.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| lower.contains(word));
    if has(NOT_SUPPORTED) {
        let command = args.first().map_or("", AsRef::as_ref);
        return Error::not_supported(format!("`iocage {command}` command ({text})"));
    }
    let kind = if has(CONFLICT) {
        ErrorKind::Conflict
    } else if has(INVALID) {
        ErrorKind::Invalid
    } else if has(NOT_FOUND) {
        ErrorKind::NotFound
    } else {
        ErrorKind::Failed
    };
    Error::new(kind, text)
}

/// The parsed value, or a parse error as a failure carrying iocage's raw
/// output.
fn parsed<T>(
    out: &Output,
    result: std::result::Result<Parsed<T>, ParseError>,
) -> std::result::Result<Parsed<T>, Error> {
    result.map_err(|error| unreadable(out, &error.to_string()))
}

fn unreadable(out: &Output, why: &str) -> Error {
    Error::failed(format!(
        "iocage printed output that cannot be read ({why}): {}",
        raw(out)
    ))
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
        let check = |text: &str, kind: ErrorKind| {
            let error = classify(text.to_owned(), &["start"]);
            assert_eq!(error.kind, kind, "{text}: {error:?}");
            assert!(error.to_string().contains(text), "{error}");
        };
        check("jail nosuch not found!", ErrorKind::NotFound);
        check("jail 'nosuch' not found!", ErrorKind::NotFound);
        check("cannot open 'x': no such pool", ErrorKind::NotFound);
        check("jail has dependent clone, uuid: u (t)", ErrorKind::Conflict);
        check(
            "cannot destroy 'tank/iocage/jails/u': filesystem has dependent clones",
            ErrorKind::Conflict,
        );
        check("Jail: db01 already exists!", ErrorKind::Conflict);
        check("jexec: jail \"ioc-u\" not found", ErrorKind::Conflict);
        check("Jail is up and running. Exiting.", ErrorKind::Conflict);
        check(
            "cannot destroy web1 - jail is running!",
            ErrorKind::Conflict,
        );
        check("unsupported property: foo !", ErrorKind::Invalid);
        check("foo is not a valid property!", ErrorKind::Invalid);
        check("Multiple matching UUIDs!", ErrorKind::Invalid);
        check(
            "Error: No such command 'deactivate'.",
            ErrorKind::NotSupported,
        );
        check(
            "Please convert back to a jail before trying to start tmpl",
            ErrorKind::Conflict,
        );
        check("something broke", ErrorKind::Failed);
    }

    #[test]
    fn already_up_or_down_is_found_whatever_the_wording() {
        let uuid = "0bf985de-ca0f-11e5-8d45-d05099728dbf";
        assert_eq!(
            already(&format!("  INFO: {uuid} (test) is already up\n"), uuid),
            Some((Some("test".into()), true))
        );
        // Legacy 1.7.x, on stdout, without the tag (lib/ioc-rc@6189eac:38-41).
        assert_eq!(
            already(&format!("* {uuid}: is already down\n"), uuid),
            Some((None, false))
        );
        assert_eq!(already("web is not running!\n", "web"), Some((None, false)));
        // Python 1.0/1.1 with stdout on a pipe: a traceback ending in the message.
        let traceback = "Traceback (most recent call last):\n  File \"/usr/local/bin/iocage\", line 10, in <module>\n    sys.exit(cli())\nRuntimeError: web is already running!\n";
        assert_eq!(already(traceback, "web"), Some((None, true)));
        // Another jail's notice (a running `depends` jail, iocage/iocage#608)
        // is not about this one.
        assert_eq!(already("pgsql is already running!\n", "nextcloud"), None);
    }

    #[test]
    fn the_multi_pool_warning_names_its_pools() {
        // lib/ioc-info@3ffbc87:337-348, `zpool list -H -o name,comment | grep iocage`.
        let stderr = "\n  WARNING: You have more then one pool set for iocage use!\n\n**** POOLS ****\ntank\tiocage\ndata\tiocage\n***************\n\n  Please run 'iocage deactivate' on one of them\n\n";
        assert_eq!(marked_pools(stderr), ["tank", "data"]);
        assert!(marked_pools("  ERROR: something else\n").is_empty());
    }

    #[test]
    fn default_legacy_tags_are_dates() {
        assert!(is_date_tag("2016-02-17@10:00:59"));
        assert!(!is_date_tag("web"));
        assert!(!is_date_tag("2016-02-17 10:00:59"));
        assert!(!is_date_tag("2016-02-17@10:00:5"));
    }

    #[test]
    fn legacy_default_tags_are_picked_as_legacy_picks_them_and_python_needs_none() {
        use chrono::TimeZone;
        // The documented untagged jail (iocage-api-2016-08: "2016-02-09@23:47:04").
        let documented = chrono::Utc.with_ymd_and_hms(2016, 2, 9, 23, 47, 4).unwrap();
        assert_eq!(date_tag(&documented), "2016-02-09@23:47:04");
        // The offset is the host's, not UTC's.
        let east = chrono::FixedOffset::east_opt(3600).unwrap();
        assert_eq!(
            date_tag(&documented.with_timezone(&east)),
            "2016-02-10@00:47:04"
        );
        let runner = Runner::new("/nonexistent/iocage");
        let legacy = Iocage::assume(runner.clone(), Flavour::Legacy).default_tag();
        let tag = legacy.expect("legacy iocage's default tag can collide");
        assert!(is_date_tag(&tag), "{tag}");
        assert_eq!(Iocage::assume(runner, Flavour::Python).default_tag(), None);
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
        assert_eq!(error.kind, ErrorKind::NotSupported, "{error:?}");
        assert!(
            error.to_string().contains("__deactivate: not found"),
            "{error}"
        );
    }

    #[test]
    fn legacy_17_errors_on_stdout_are_the_error_text() {
        // lib/ioc-info@6189eac:288-290: `echo "  ERROR: jail $_name not found!"`.
        let out = Output {
            command: "iocage get tag nosuch".into(),
            exit: ExitKind::Code(1),
            stdout: "  ERROR: jail nosuch not found!\n".into(),
            stderr: String::new(),
            truncated: false,
        };
        let error = iocage_error(&["get", "tag", "nosuch"], &out);
        assert_eq!(error.kind, ErrorKind::NotFound, "{error:?}");
        assert_eq!(error.text, "jail nosuch not found!");
    }
}
