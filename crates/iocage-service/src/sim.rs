//! `SimBackend`: a small FreeBSD host with the legacy iocage, simulated, so
//! the whole API can be used without FreeBSD. Nothing runs on the real host:
//! `execjail` runs a few harmless built-ins on the argument vector.
//!
//! A fresh host has pools `tank` (active) and `tank1`, releases 10.2-RELEASE
//! and 10.3-RELEASE fetched, and the documented defaults, remote releases and
//! plugin index (copied as data from the API documents into `src/data/`).
//! Its state is a JSON file carrying a format version, replaced atomically
//! after every change (temporary file, fsync, rename, fsync of the
//! directory), so a crash never leaves a torn file. A file this version
//! cannot read is reported, naming the file, and never overwritten.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, BackendError, BackendResult};
use crate::model::{
    CleanTarget, DfEntry, ExecOutput, JailInfo, JailState, NewJail, PluginInfo, PropertyRow,
    Releases, StateChange,
};
use crate::properties;

/// The state file's format version; a file of another version is refused.
pub const FORMAT_VERSION: u32 = 1;
const STATE_FILE: &str = "sim-host.json";

/// Why the simulated host could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The state directory or file could not be read or written.
    #[error("simulated host state {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The state file is not a simulated host this version understands. It is left untouched.
    #[error(
        "simulated host state {} is unreadable ({reason}); it was left untouched: \
         move it away to start with a fresh simulated host",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Everything the simulated host remembers.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Host {
    version: u32,
    pools: Vec<String>,
    active_pool: Option<String>,
    releases: Vec<String>,
    jails: BTreeMap<String, Jail>,
    next_jid: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Jail {
    /// Properties set on this jail (the rest come from the defaults).
    props: BTreeMap<String, String>,
    running: bool,
    jid: Option<u32>,
    /// The UUID this jail was cloned from.
    origin: Option<String>,
    template: bool,
}

impl Jail {
    fn tag(&self) -> &str {
        self.props.get("tag").map_or("", String::as_str)
    }
}

impl Host {
    fn fresh() -> Host {
        Host {
            version: FORMAT_VERSION,
            pools: vec!["tank".into(), "tank1".into()],
            active_pool: Some("tank".into()),
            releases: vec!["10.2-RELEASE".into(), "10.3-RELEASE".into()],
            jails: BTreeMap::new(),
            next_jid: 1,
        }
    }

    /// Legacy iocage refuses jail work without an active pool.
    fn require_pool(&self) -> BackendResult<&str> {
        self.active_pool.as_deref().ok_or_else(|| {
            BackendError::Conflict("you need to activate a pool! (activatepool)".into())
        })
    }

    fn jail(&self, uuid: &str) -> BackendResult<&Jail> {
        self.require_pool()?;
        self.jails
            .get(uuid)
            .ok_or_else(|| BackendError::NotFound(format!("jail {uuid} not found!")))
    }

    fn jail_mut(&mut self, uuid: &str) -> BackendResult<&mut Jail> {
        self.require_pool()?;
        self.jails
            .get_mut(uuid)
            .ok_or_else(|| BackendError::NotFound(format!("jail {uuid} not found!")))
    }

    /// `wanted`, or the date tag, made unique. iocage would rename the older
    /// jail's tag instead; the simulation keeps tags unique without doing so.
    fn tag_for(&self, wanted: Option<&String>) -> BackendResult<String> {
        let taken = |tag: &str| self.jails.values().any(|jail| jail.tag() == tag);
        if let Some(tag) = wanted {
            if let Some((uuid, _)) = self.jails.iter().find(|(_, jail)| jail.tag() == tag) {
                return Err(BackendError::Conflict(format!(
                    "a jail tagged {tag} exists already: {uuid}; choose another tag"
                )));
            }
            return Ok(tag.clone());
        }
        let date = date_tag(SystemTime::now());
        let mut tag = date.clone();
        let mut suffix = 1;
        while taken(&tag) {
            suffix += 1;
            tag = format!("{date}_{suffix}");
        }
        Ok(tag)
    }
}

fn defaults() -> &'static BTreeMap<String, String> {
    static DEFAULTS: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    DEFAULTS.get_or_init(|| {
        serde_json::from_str(include_str!("data/defaults.json")).expect("documented defaults")
    })
}

/// The simulated iocage host.
#[derive(Debug)]
pub struct SimBackend {
    file: Option<PathBuf>,
    host: Mutex<Host>,
    /// Counts calls to [`SimBackend::change`]; see [`Backend::generation`].
    /// Counted whether or not it is reported: it also dates `listing`.
    generation: AtomicU64,
    /// The last listing of the jails that are not templates, with the
    /// `generation` it was made in: good while the number stays the same
    /// ([`Backend::list_non_templates_shared`]). Locked only under `host`.
    listing: Mutex<Option<(u64, Arc<Vec<JailInfo>>)>>,
    /// Whether [`Backend::generation`] reports it.
    report_generation: bool,
    delay: Duration,
}

impl SimBackend {
    /// Opens the host kept in `state_dir` (created, with a fresh host, on first use).
    pub fn open(state_dir: &Path) -> Result<SimBackend, SimError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| SimError::Io { path, source }
        };
        fs::create_dir_all(state_dir).map_err(io(state_dir))?;
        let file = state_dir.join(STATE_FILE);
        let host = match fs::read(&file) {
            Ok(bytes) => load(&file, &bytes)?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let host = Host::fresh();
                persist(&file, &host).map_err(io(&file))?;
                host
            }
            Err(error) => return Err(io(&file)(error)),
        };
        Ok(SimBackend {
            file: Some(file),
            host: Mutex::new(host),
            generation: AtomicU64::new(0),
            listing: Mutex::new(None),
            report_generation: true,
            delay: Duration::ZERO,
        })
    }

    /// A fresh host that lives in memory only (tests).
    pub fn in_memory() -> SimBackend {
        SimBackend {
            file: None,
            host: Mutex::new(Host::fresh()),
            generation: AtomicU64::new(0),
            listing: Mutex::new(None),
            report_generation: true,
            delay: Duration::ZERO,
        }
    }

    /// Makes every operation take at least `delay`, to simulate slow work.
    pub fn with_delay(mut self, delay: Duration) -> SimBackend {
        self.delay = delay;
        self
    }

    /// Reports no [`Backend::generation`], as a real host does, so that the
    /// service computes every read: for measuring and testing that path.
    pub fn without_generation(mut self) -> SimBackend {
        self.report_generation = false;
        self
    }

    /// The state file, if the host is persistent.
    pub fn state_file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    async fn pause(&self) {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
    }

    /// `each` of the jails that are not templates, in UUID order.
    fn each_non_template<T>(&self, each: impl Fn(&str, &Jail) -> T) -> BackendResult<Vec<T>> {
        self.with(|host| {
            host.require_pool()?;
            Ok(host
                .jails
                .iter()
                .filter(|(_, jail)| !jail.template)
                .map(|(uuid, jail)| each(uuid, jail))
                .collect())
        })
    }

    /// A long change, in `steps` reported as progress (see
    /// [`iocage_service::progress`](crate::progress)): each step takes an
    /// equal share of the delay and is reported as it begins, `done` of
    /// `of`, then the change is made at once. A change that would fail is
    /// tried on a copy of the host first, so that it fails after the whole
    /// delay as before but reports no step it would not carry out. Without a
    /// delay (`latency_ms = 0`) a change is instant and reports nothing.
    async fn stepped<T>(
        &self,
        steps: &[String],
        change: impl Fn(&mut Host) -> BackendResult<T>,
    ) -> BackendResult<T> {
        use crate::progress::{Progress, report};
        let of = steps.len() as u64;
        if self.delay.is_zero() || !crate::progress::wanted() {
            self.pause().await;
            return self.change(change);
        }
        let trial = {
            let mut copy = self.host.lock().expect("simulated host").clone();
            change(&mut copy).map(drop)
        };
        if let Err(error) = trial {
            self.pause().await;
            return Err(error);
        }
        let share = self.delay / u32::try_from(steps.len().max(1)).unwrap_or(u32::MAX);
        for (done, step) in (0..).zip(steps) {
            report(Progress::step(step.clone(), done, of));
            tokio::time::sleep(share).await;
        }
        self.change(change)
    }

    /// The active pool's name, for step descriptions.
    fn pool_name(&self) -> String {
        let host = self.host.lock().expect("simulated host");
        host.active_pool.clone().unwrap_or_else(|| "tank".into())
    }

    /// Reads the host.
    fn with<T>(&self, read: impl FnOnce(&Host) -> BackendResult<T>) -> BackendResult<T> {
        read(&self.host.lock().expect("simulated host"))
    }

    /// Changes the host and persists it; if the write fails the change is undone.
    fn change<T>(&self, change: impl FnOnce(&mut Host) -> BackendResult<T>) -> BackendResult<T> {
        let mut host = self.host.lock().expect("simulated host");
        // Under the lock and before anything moves: a read that saw the old
        // number and then takes the lock sees the new state (and a new number
        // after it), so it is never kept as the old generation's answer.
        self.generation.fetch_add(1, Ordering::SeqCst);
        let before = host.clone();
        let result = change(&mut host)?;
        if let Some(file) = &self.file
            && let Err(error) = persist(file, &host)
        {
            *host = before;
            // The path stays in the server's log: replies never name server files.
            tracing::error!(path = %file.display(), %error, "could not save the simulated host");
            return Err(BackendError::Failed {
                text: format!(
                    "could not save the simulated host's state: {error}; nothing was changed"
                ),
            });
        }
        Ok(result)
    }
}

/// Reads a state file, checking its format version first so that a file
/// of another version gets a clear message rather than a field error.
fn load(file: &Path, bytes: &[u8]) -> Result<Host, SimError> {
    let corrupt = |reason: String| SimError::Corrupt {
        path: file.to_owned(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|error| corrupt(format!("not JSON: {error}")))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(version) if version == u64::from(FORMAT_VERSION) => {}
        Some(version) => {
            return Err(corrupt(format!(
                "format version {version}, but this sysadmd reads version {FORMAT_VERSION}"
            )));
        }
        None => return Err(corrupt("no format version".into())),
    }
    serde_json::from_value(value).map_err(|error| corrupt(error.to_string()))
}

/// Writes the state atomically: temporary file, fsync, rename, fsync of the directory.
fn persist(file: &Path, host: &Host) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(host).map_err(std::io::Error::other)?;
    let temporary = file.with_extension("json.tmp");
    // Readable by the server's user only, whatever the umask.
    let mut out = {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let out = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        out.set_permissions(fs::Permissions::from_mode(0o600))?;
        out
    };
    out.write_all(&bytes)?;
    out.sync_all()?;
    drop(out);
    fs::rename(&temporary, file)?;
    if let Some(dir) = file.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Every property of a jail: defaults, then computed values, then its own settings.
fn jail_properties(host: &Host, uuid: &str, jail: &Jail) -> BTreeMap<String, String> {
    let mut props = defaults().clone();
    for unset in [
        "branch",
        "ftpdir",
        "ftplocaldir",
        "start",
        "sync_stat",
        "template",
    ] {
        props.insert(unset.into(), "-".into());
    }
    let pool = host.active_pool.as_deref().unwrap_or("tank");
    let origin = jail.origin.as_ref().map_or_else(
        || "-".to_owned(),
        |origin| format!("{pool}/iocage/jails/{origin}@{uuid}"),
    );
    let computed = [
        ("host_hostname", uuid.to_owned()),
        ("host_hostuuid", uuid.to_owned()),
        ("jail_zfs_dataset", format!("iocage/jails/{uuid}/data")),
        ("mountpoint", format!("/iocage/jails/{uuid}")),
        ("available", "83.4G".to_owned()),
        ("used", "1.76M".to_owned()),
        ("compressratio", "2.27x".to_owned()),
        (
            "istemplate",
            if jail.template { "yes" } else { "no" }.to_owned(),
        ),
        ("origin", origin),
    ];
    for (key, value) in computed {
        props.insert(key.into(), value);
    }
    props.extend(jail.props.clone());
    props
}

/// `time` as iocage's default tag, `date "+%F@%T"` (UTC here), e.g. `2016-02-09@23:47:04`.
fn date_tag(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let (year, month, day) = civil_from_days(days);
    let of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}@{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// well-known `civil_from_days` algorithm, written out here).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

fn already(uuid: &str, jail: &Jail, state: &str) -> StateChange {
    StateChange::Already(format!("{uuid} ({}) is already {state}", jail.tag()))
}

/// The users every simulated jail has.
const USERS: [(&str, &str); 4] = [
    (
        "root",
        "uid=0(root) gid=0(wheel) groups=0(wheel),5(operator)",
    ),
    (
        "toor",
        "uid=0(root) gid=0(wheel) groups=0(wheel),5(operator)",
    ),
    ("www", "uid=80(www) gid=80(www) groups=80(www)"),
    (
        "nobody",
        "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)",
    ),
];

/// Runs one of a few harmless built-ins "inside" a simulated jail.
fn builtin(
    host: &Host,
    uuid: &str,
    jail: &Jail,
    user: &str,
    argv: &[String],
) -> BackendResult<ExecOutput> {
    let Some((_, id)) = USERS.iter().find(|(name, _)| *name == user) else {
        return Err(BackendError::Failed {
            text: format!("jexec: getpwnam: {user}: no such user"),
        });
    };
    let props = jail_properties(host, uuid, jail);
    let release = props.get("release").cloned().unwrap_or_default();
    let hostname = props.get("host_hostname").cloned().unwrap_or_default();
    let ok = |lines: Vec<String>| Ok(ExecOutput { status: 0, lines });
    let Some((program, args)) = argv.split_first() else {
        return Err(BackendError::Invalid("jexec: no command given".into()));
    };
    match program.as_str() {
        "echo" => match args.split_first() {
            Some((flag, rest)) if flag == "-n" => ok(vec![rest.join(" ")]),
            _ => ok(vec![args.join(" ")]),
        },
        "hostname" => ok(vec![hostname]),
        "pwd" => ok(vec!["/".into()]),
        "true" => ok(vec![]),
        "false" => Ok(ExecOutput {
            status: 1,
            lines: vec![],
        }),
        "id" => ok(vec![(*id).to_owned()]),
        "uname" => ok(vec![match args.first().map(String::as_str) {
            None | Some("-s") => "FreeBSD".into(),
            Some("-r") => release,
            Some("-n") => hostname,
            Some("-m") => "amd64".into(),
            Some("-a") => {
                format!("FreeBSD {hostname} {release} FreeBSD {release} #0: simulated amd64")
            }
            Some(other) => {
                return Ok(ExecOutput {
                    status: 1,
                    lines: vec![
                        format!("uname: illegal option -- {}", other.trim_start_matches('-')),
                        "usage: uname [-abiKmnoprsUv]".into(),
                    ],
                });
            }
        }]),
        other => Err(BackendError::Failed {
            text: format!("jexec: execvp: {other}: No such file or directory"),
        }),
    }
}

/// A property the jail sets or inherits from `defaults` (looked up once per
/// listing, not per jail), without building the whole property map (listing
/// many jails stays cheap). Not for the properties `jail_properties` computes.
fn set_or_default<'a>(
    defaults: &'a BTreeMap<String, String>,
    jail: &'a Jail,
    key: &str,
) -> Option<&'a String> {
    jail.props.get(key).or_else(|| defaults.get(key))
}

/// How `iocage list` describes `jail`; `defaults` is [`defaults`].
fn jail_info(defaults: &BTreeMap<String, String>, uuid: &str, jail: &Jail) -> JailInfo {
    let prop = |key| set_or_default(defaults, jail, key);
    // ip4_addr is `iface|addr/mask[,...]`; iocage lists the bare addresses.
    let ip4 = prop("ip4_addr").filter(|addr| *addr != "none").map(|addr| {
        addr.split(',')
            .map(|one| {
                let address = one.rsplit('|').next().unwrap_or(one);
                address.split('/').next().unwrap_or(address).to_owned()
            })
            .collect::<Vec<_>>()
            .join(",")
    });
    JailInfo {
        uuid: uuid.to_owned(),
        tag: jail.tag().to_owned(),
        jid: jail.jid,
        boot: prop("boot").is_some_and(|boot| boot == "on"),
        state: if jail.running {
            JailState::Up
        } else {
            JailState::Down
        },
        jail_type: prop("type").cloned().unwrap_or_default(),
        ip4,
        release: prop("release").cloned().unwrap_or_default(),
        template: jail.template,
        origin: jail.origin.clone(),
    }
}

#[async_trait]
impl Backend for SimBackend {
    async fn describe(&self) -> crate::BackendDescription {
        crate::BackendDescription {
            kind: crate::BackendKind::Simulated,
            ..crate::BackendDescription::default()
        }
    }

    async fn health(&self) -> Result<(), String> {
        let Some(dir) = self.file.as_deref().and_then(Path::parent) else {
            return Ok(());
        };
        match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() && !meta.permissions().readonly() => Ok(()),
            Ok(_) => Err(format!(
                "the simulated host cannot save its state: {} is not a writable directory",
                dir.display()
            )),
            Err(error) => Err(format!(
                "the simulated host cannot save its state in {}: {error}",
                dir.display()
            )),
        }
    }

    async fn list_jails(&self) -> BackendResult<Vec<JailInfo>> {
        self.pause().await;
        self.with(|host| {
            host.require_pool()?;
            Ok(host
                .jails
                .iter()
                .map(|(uuid, jail)| jail_info(defaults(), uuid, jail))
                .collect())
        })
    }

    /// Skips the templates before describing the jails, not after.
    async fn list_non_templates(&self) -> BackendResult<Vec<JailInfo>> {
        self.pause().await;
        let defaults = defaults();
        self.each_non_template(|uuid, jail| jail_info(defaults, uuid, jail))
    }

    /// The listing is the host's state: kept until the next change, and
    /// handed out shared, instead of describing every jail again per read.
    async fn list_non_templates_shared(&self) -> BackendResult<Arc<Vec<JailInfo>>> {
        self.pause().await;
        self.with(|host| {
            host.require_pool()?;
            // Under the host lock, where every change moves the number
            // before it alters anything ([`SimBackend::change`]): a listing
            // made under this number describes the host as it is.
            let now = self.generation.load(Ordering::SeqCst);
            let mut kept = self.listing.lock().expect("simulated host listing");
            if let Some((made, jails)) = &*kept
                && *made == now
            {
                return Ok(jails.clone());
            }
            let defaults = defaults();
            let jails: Arc<Vec<JailInfo>> = Arc::new(
                host.jails
                    .iter()
                    .filter(|(_, jail)| !jail.template)
                    .map(|(uuid, jail)| jail_info(defaults, uuid, jail))
                    .collect(),
            );
            *kept = Some((now, jails.clone()));
            Ok(jails)
        })
    }

    async fn df(&self) -> BackendResult<Vec<DfEntry>> {
        self.pause().await;
        self.each_non_template(|uuid, jail| {
            let prop = |key| {
                set_or_default(defaults(), jail, key)
                    .cloned()
                    .unwrap_or_default()
            };
            DfEntry {
                uuid: uuid.to_owned(),
                tag: jail.tag().to_owned(),
                compress_ratio: "2.30x".into(),
                reservation: prop("reservation"),
                quota: prop("quota"),
                used: "1.69M".into(),
                available: "83.4G".into(),
            }
        })
    }

    async fn get_property(&self, uuid: &str, prop: &str) -> BackendResult<String> {
        self.pause().await;
        self.with(|host| {
            let jail = host.jail(uuid)?;
            if prop == properties::STATE {
                return Ok(if jail.running { "up" } else { "down" }.to_owned());
            }
            jail_properties(host, uuid, jail)
                .remove(prop)
                .ok_or_else(|| BackendError::Invalid(format!("unsupported property: {prop} !")))
        })
    }

    async fn get_all(&self, uuid: &str) -> BackendResult<Vec<(String, String)>> {
        self.pause().await;
        self.with(|host| {
            let mut props = jail_properties(host, uuid, host.jail(uuid)?);
            Ok(properties::all()
                .map(|name| {
                    let value = props.remove(name).unwrap_or_else(|| "-".into());
                    (name.to_owned(), value)
                })
                .collect())
        })
    }

    async fn get_recursive(&self, prop: &str) -> BackendResult<Vec<PropertyRow>> {
        self.pause().await;
        self.with(|host| {
            host.require_pool()?;
            Ok(host
                .jails
                .iter()
                .map(|(uuid, jail)| {
                    let value = if prop == properties::STATE {
                        if jail.running { "up" } else { "down" }.to_owned()
                    } else {
                        jail_properties(host, uuid, jail)
                            .remove(prop)
                            .unwrap_or_else(|| "-".into())
                    };
                    PropertyRow {
                        uuid: uuid.clone(),
                        tag: jail.tag().to_owned(),
                        value,
                    }
                })
                .collect())
        })
    }

    async fn defaults(&self) -> BackendResult<Vec<(String, String)>> {
        self.pause().await;
        Ok(defaults().clone().into_iter().collect())
    }

    async fn start(&self, uuid: &str) -> BackendResult<StateChange> {
        self.pause().await;
        self.change(|host| {
            let jid = host.next_jid;
            let jail = host.jail_mut(uuid)?;
            if jail.template {
                return Err(BackendError::Conflict(format!(
                    "{} is a template jail, ignoring start request.",
                    jail.tag()
                )));
            }
            if jail.running {
                return Ok(already(uuid, jail, "up"));
            }
            jail.running = true;
            jail.jid = Some(jid);
            let started = date_tag(SystemTime::now()).replace('@', "_");
            jail.props.insert("last_started".into(), started);
            let vnet = jail.props.get("vnet").is_some_and(|vnet| vnet == "on");
            let mut lines = vec![format!("* Starting {uuid} ({})", jail.tag())];
            if vnet {
                lines.push("+ Started OK".into());
                lines.push("+ Configuring VNET OK".into());
            } else {
                lines.push("+ Started (shared IP mode) OK".into());
            }
            lines.push("+ Starting services OK".into());
            host.next_jid += 1;
            Ok(StateChange::Changed(lines))
        })
    }

    async fn stop(&self, uuid: &str) -> BackendResult<StateChange> {
        self.pause().await;
        self.change(|host| {
            let jail = host.jail_mut(uuid)?;
            if !jail.running {
                return Ok(already(uuid, jail, "down"));
            }
            jail.running = false;
            jail.jid = None;
            let mut lines = vec![
                format!("* Stopping {uuid} ({})", jail.tag()),
                "+ Running pre-stop OK".into(),
                "+ Stopping services OK".into(),
            ];
            if jail.props.get("vnet").is_some_and(|vnet| vnet == "on") {
                lines.push("+ Tearing down VNET OK".into());
            }
            lines.push("+ Removing jail process OK".into());
            lines.push("+ Running post-stop OK".into());
            Ok(StateChange::Changed(lines))
        })
    }

    async fn cap(&self, uuid: &str) -> BackendResult<()> {
        self.pause().await;
        self.with(|host| host.jail(uuid).map(drop))
    }

    async fn create(&self, props: &[(String, String)], empty: bool) -> BackendResult<NewJail> {
        let pool = self.pool_name();
        let steps = [
            "checking the release".to_owned(),
            format!("creating the jail's datasets in {pool}/iocage/jails"),
            "writing the jail's configuration".to_owned(),
        ];
        self.stepped(&steps, |host| {
            host.require_pool()?;
            let mut own: BTreeMap<String, String> = props.iter().cloned().collect();
            own.remove("count");
            let tag = host.tag_for(own.get("tag"))?;
            own.insert("tag".into(), tag.clone());
            if empty {
                own.insert("type".into(), "emptyjail".into());
                own.entry("release".into())
                    .or_insert_with(|| "EMPTY".into());
            } else {
                let release = match own.get("release") {
                    Some(release) => release.clone(),
                    // iocage takes the host's release; the simulated host runs the newest fetched.
                    None => host.releases.last().cloned().ok_or_else(|| {
                        BackendError::NotFound(
                            "no RELEASE has been fetched; name one with release=".into(),
                        )
                    })?,
                };
                if !host.releases.contains(&release) {
                    return Err(BackendError::NotFound(format!(
                        "RELEASE {release} not found locally, fetch it first (fetched: {})",
                        if host.releases.is_empty() {
                            "none".to_owned()
                        } else {
                            host.releases.join(", ")
                        }
                    )));
                }
                own.insert("release".into(), release);
                own.entry("type".into())
                    .or_insert_with(|| "basejail".into());
            }
            let uuid = uuid::Uuid::new_v4().to_string();
            let jail = Jail {
                props: own,
                running: false,
                jid: None,
                origin: None,
                template: false,
            };
            host.jails.insert(uuid.clone(), jail);
            Ok(NewJail { uuid, tag })
        })
        .await
    }

    async fn clone_jail(&self, source: &str, props: &[(String, String)]) -> BackendResult<NewJail> {
        let pool = self.pool_name();
        let steps = [
            format!("snapshotting {pool}/iocage/jails/{source}"),
            "cloning its datasets".to_owned(),
            "writing the clone's configuration".to_owned(),
        ];
        self.stepped(&steps, |host| {
            let original = host.jail(source)?;
            let mut own = original.props.clone();
            own.remove("tag");
            own.remove("last_started");
            own.extend(props.iter().cloned());
            own.remove("count");
            let template = own.remove("istemplate").is_some_and(|value| value == "yes");
            own.insert(
                "type".into(),
                if template { "template" } else { "clonejail" }.into(),
            );
            let tag = host.tag_for(props.iter().find(|(key, _)| key == "tag").map(|(_, v)| v))?;
            own.insert("tag".into(), tag.clone());
            let uuid = uuid::Uuid::new_v4().to_string();
            let jail = Jail {
                props: own,
                running: false,
                jid: None,
                origin: Some(source.to_owned()),
                template,
            };
            host.jails.insert(uuid.clone(), jail);
            Ok(NewJail { uuid, tag })
        })
        .await
    }

    async fn destroy(&self, uuid: &str) -> BackendResult<()> {
        let pool = self.pool_name();
        let steps = [
            format!("checking that {uuid} is down and has no clone"),
            format!("destroying {pool}/iocage/jails/{uuid}"),
            "removing the jail's configuration".to_owned(),
        ];
        self.stepped(&steps, |host| {
            let jail = host.jail(uuid)?;
            if jail.running {
                return Err(BackendError::Conflict(format!(
                    "jail {uuid} ({}) is running; stop it before destroying it",
                    jail.tag()
                )));
            }
            if let Some((child, clone)) = host
                .jails
                .iter()
                .find(|(_, other)| other.origin.as_deref() == Some(uuid))
            {
                return Err(BackendError::Conflict(format!(
                    "jail has dependent clone, uuid: {child} ({}); destroy the clone first",
                    clone.tag()
                )));
            }
            host.jails.remove(uuid);
            Ok(())
        })
        .await
    }

    async fn exec(&self, uuid: &str, user: &str, argv: &[String]) -> BackendResult<ExecOutput> {
        self.pause().await;
        self.with(|host| {
            let jail = host.jail(uuid)?;
            if !jail.running {
                return Err(BackendError::Conflict(format!(
                    "jexec: jail \"ioc-{uuid}\" not found: {} is not running; start it first",
                    jail.tag()
                )));
            }
            builtin(host, uuid, jail, user, argv)
        })
    }

    async fn clean(&self, target: CleanTarget) -> BackendResult<()> {
        let pool = self.pool_name();
        // The datasets legacy iocage reports as it cleans them.
        let steps: Vec<String> = match target {
            CleanTarget::All => vec![format!("destroying {pool}/iocage")],
            CleanTarget::Jails => vec![
                format!("destroying {pool}/iocage/jails"),
                format!("cleaning TAGs at {pool}/iocage/tags"),
            ],
            CleanTarget::Releases => vec![
                format!("destroying {pool}/iocage/download"),
                format!("destroying {pool}/iocage/releases"),
            ],
            CleanTarget::Templates => {
                vec![format!("cleaning templates at {pool}/iocage/templates")]
            }
        };
        self.stepped(&steps, |host| {
            host.require_pool()?;
            match target {
                CleanTarget::All => {
                    host.jails.clear();
                    host.releases.clear();
                }
                CleanTarget::Jails => host.jails.retain(|_, jail| jail.template),
                CleanTarget::Releases => host.releases.clear(),
                CleanTarget::Templates => host.jails.retain(|_, jail| !jail.template),
            }
            Ok(())
        })
        .await
    }

    async fn active_pool(&self) -> BackendResult<String> {
        self.pause().await;
        self.with(|host| {
            host.active_pool.clone().ok_or_else(|| {
                BackendError::NotFound("no pool is active; activate one with activatepool".into())
            })
        })
    }

    async fn activate(&self, pool: &str) -> BackendResult<()> {
        self.pause().await;
        self.change(|host| {
            if !host.pools.iter().any(|known| known == pool) {
                return Err(BackendError::NotFound(format!(
                    "cannot open '{pool}': no such pool (pools: {})",
                    host.pools.join(", ")
                )));
            }
            host.active_pool = Some(pool.to_owned());
            Ok(())
        })
    }

    async fn deactivate(&self, pool: &str) -> BackendResult<()> {
        self.pause().await;
        self.change(|host| {
            if !host.pools.iter().any(|known| known == pool) {
                return Err(BackendError::NotFound(format!(
                    "cannot open '{pool}': no such pool (pools: {})",
                    host.pools.join(", ")
                )));
            }
            if host.active_pool.as_deref() == Some(pool) {
                host.active_pool = None;
            }
            Ok(())
        })
    }

    async fn releases(&self) -> BackendResult<Releases> {
        self.pause().await;
        let remote: Vec<String> = serde_json::from_str(include_str!("data/remote-releases.json"))
            .expect("documented releases");
        self.with(|host| {
            Ok(Releases {
                local: host.releases.clone(),
                remote,
                remote_missing: None,
            })
        })
    }

    fn generation(&self) -> Option<u64> {
        self.report_generation
            .then(|| self.generation.load(Ordering::SeqCst))
    }

    async fn plugins(&self) -> BackendResult<Vec<PluginInfo>> {
        self.pause().await;
        #[derive(Deserialize)]
        struct Entry {
            description: String,
            id: String,
            name: String,
        }
        let index: BTreeMap<String, Entry> =
            serde_json::from_str(include_str!("data/plugins.json")).expect("documented plugins");
        Ok(index
            .into_values()
            .map(|entry| PluginInfo {
                id: entry.id,
                name: entry.name,
                description: entry.description,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::{Progress, Sink, scope};

    /// Runs `work` in a progress scope; what it returned and the steps reported.
    async fn with_steps<T>(work: impl Future<Output = T>) -> (T, Vec<Progress>) {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let into = seen.clone();
        let sink = Sink::new(move |progress| into.lock().unwrap().push(progress));
        let result = scope(sink, work).await;
        let steps = seen.lock().unwrap().clone();
        (result, steps)
    }

    fn counts(steps: &[Progress]) -> Vec<(Option<u64>, Option<u64>)> {
        steps.iter().map(|step| (step.done, step.of)).collect()
    }

    #[tokio::test]
    async fn long_changes_report_their_steps_within_the_latency() {
        let delay = Duration::from_millis(300);
        let sim = SimBackend::in_memory().with_delay(delay);
        let props = [("tag".to_owned(), "web".to_owned())];
        let started = std::time::Instant::now();
        let (created, steps) = with_steps(sim.create(&props, false)).await;
        assert!(started.elapsed() >= delay, "the steps share the latency");
        let created = created.unwrap();
        assert_eq!(
            counts(&steps),
            [(Some(0), Some(3)), (Some(1), Some(3)), (Some(2), Some(3))]
        );
        assert_eq!(
            steps[1].step,
            "creating the jail's datasets in tank/iocage/jails"
        );
        let (cloned, steps) = with_steps(sim.clone_jail(&created.uuid, &[])).await;
        let cloned = cloned.unwrap();
        assert_eq!(counts(&steps).len(), 3);
        assert_eq!(
            steps[0].step,
            format!("snapshotting tank/iocage/jails/{}", created.uuid)
        );
        // A refused change reports no step: the original has a clone.
        let (refused, steps) = with_steps(sim.destroy(&created.uuid)).await;
        assert!(
            matches!(refused, Err(BackendError::Conflict(_))),
            "{refused:?}"
        );
        assert_eq!(steps, [], "nothing reported for a change not made");
        let (destroyed, steps) = with_steps(sim.destroy(&cloned.uuid)).await;
        destroyed.unwrap();
        assert_eq!(
            steps[1].step,
            format!("destroying tank/iocage/jails/{}", cloned.uuid)
        );
        let (cleaned, steps) = with_steps(sim.clean(CleanTarget::Releases)).await;
        cleaned.unwrap();
        assert_eq!(
            steps
                .iter()
                .map(|step| step.step.as_str())
                .collect::<Vec<_>>(),
            [
                "destroying tank/iocage/download",
                "destroying tank/iocage/releases"
            ]
        );
        assert_eq!(counts(&steps), [(Some(0), Some(2)), (Some(1), Some(2))]);
    }

    #[tokio::test]
    async fn an_instant_change_or_one_outside_a_scope_reports_nothing() {
        let sim = SimBackend::in_memory();
        let (cleaned, steps) = with_steps(sim.clean(CleanTarget::Jails)).await;
        cleaned.unwrap();
        assert_eq!(steps, [], "no latency, no steps");
        let slow = SimBackend::in_memory().with_delay(Duration::from_millis(50));
        slow.clean(CleanTarget::All).await.unwrap();
        assert!(slow.with(|host| Ok(host.releases.is_empty())).unwrap());
    }

    /// The kept listing against one described afresh, after each change.
    async fn assert_listing_current(sim: &SimBackend) -> Arc<Vec<JailInfo>> {
        let shared = sim.list_non_templates_shared().await.unwrap();
        assert_eq!(*shared, sim.list_non_templates().await.unwrap());
        shared
    }

    fn tags(jails: &[JailInfo]) -> Vec<(&str, JailState)> {
        jails
            .iter()
            .map(|jail| (jail.tag.as_str(), jail.state))
            .collect()
    }

    #[tokio::test]
    async fn the_kept_listing_shows_every_change_at_the_next_read() {
        // Without a generation, as the computed read path runs: the kept
        // listing is dated by the change count all the same.
        let sim = SimBackend::in_memory().without_generation();
        assert!(assert_listing_current(&sim).await.is_empty());
        let tag = |tag: &str| [("tag".to_owned(), tag.to_owned())];
        let web = sim.create(&tag("web"), false).await.unwrap();
        let first = assert_listing_current(&sim).await;
        assert_eq!(tags(&first), [("web", JailState::Down)]);
        // Unchanged, the same copy is handed out again.
        let again = sim.list_non_templates_shared().await.unwrap();
        assert!(Arc::ptr_eq(&first, &again), "kept until the next change");
        sim.start(&web.uuid).await.unwrap();
        let up = assert_listing_current(&sim).await;
        assert_eq!(tags(&up), [("web", JailState::Up)]);
        assert!(up[0].jid.is_some());
        sim.stop(&web.uuid).await.unwrap();
        assert_eq!(
            tags(&assert_listing_current(&sim).await),
            [("web", JailState::Down)]
        );
        let clone = sim.clone_jail(&web.uuid, &tag("copy")).await.unwrap();
        assert_eq!(assert_listing_current(&sim).await.len(), 2);
        let template = [
            ("tag".to_owned(), "base".to_owned()),
            ("istemplate".to_owned(), "yes".to_owned()),
        ];
        sim.clone_jail(&web.uuid, &template).await.unwrap();
        assert_eq!(assert_listing_current(&sim).await.len(), 2, "no templates");
        sim.destroy(&clone.uuid).await.unwrap();
        assert_eq!(
            tags(&assert_listing_current(&sim).await),
            [("web", JailState::Down)]
        );
        // A refused change changes nothing, and the listing says so.
        assert!(sim.create(&tag("web"), false).await.is_err());
        assert_eq!(assert_listing_current(&sim).await.len(), 1);
        // Without an active pool there is no listing; with it, one again.
        sim.deactivate("tank").await.unwrap();
        assert!(sim.list_non_templates_shared().await.is_err());
        sim.activate("tank").await.unwrap();
        assert_eq!(assert_listing_current(&sim).await.len(), 1);
        sim.clean(CleanTarget::Jails).await.unwrap();
        assert!(assert_listing_current(&sim).await.is_empty());
    }

    #[tokio::test]
    async fn the_kept_listing_follows_the_state_file_and_a_failed_save() {
        let dir = tempfile::tempdir().unwrap();
        let sim = SimBackend::open(dir.path()).unwrap();
        let props = [("tag".to_owned(), "web".to_owned())];
        sim.create(&props, false).await.unwrap();
        assert_eq!(assert_listing_current(&sim).await.len(), 1);
        // A change that cannot be saved is undone; the listing shows the
        // host as it is after the undo.
        let blocker = dir.path().join("sim-host.json.tmp");
        fs::create_dir(&blocker).unwrap();
        let props = [("tag".to_owned(), "db".to_owned())];
        assert!(sim.create(&props, false).await.is_err());
        assert_eq!(
            tags(&assert_listing_current(&sim).await),
            [("web", JailState::Down)]
        );
        fs::remove_dir(&blocker).unwrap();
        sim.create(&props, false).await.unwrap();
        drop(sim);
        // Reopened from its file, the host lists what was saved.
        let reopened = SimBackend::open(dir.path()).unwrap();
        let listed = assert_listing_current(&reopened).await;
        let mut saved: Vec<&str> = listed.iter().map(|jail| jail.tag.as_str()).collect();
        saved.sort_unstable();
        assert_eq!(saved, ["db", "web"]);
    }

    #[test]
    fn date_tags_look_like_iocage() {
        assert_eq!(date_tag(UNIX_EPOCH), "1970-01-01@00:00:00");
        // 2016-02-09 23:47:04 UTC, the documented clone's tag.
        let documented = UNIX_EPOCH + Duration::from_secs(1_455_061_624);
        assert_eq!(date_tag(documented), "2016-02-09@23:47:04");
        // A leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(date_tag(leap), "2000-02-29@00:00:00");
    }
}
