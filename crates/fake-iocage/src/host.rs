//! The fake host both flavours work on: pools, fetched releases and jails,
//! kept in the JSON state file, plus what the two flavours share (the
//! property tables, the commands `exec` can run, dates).

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Everything the fake host remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Host {
    pub(crate) pools: Vec<String>,
    pub(crate) active_pool: Option<String>,
    pub(crate) releases: Vec<String>,
    /// By UUID (legacy) or name (Python).
    pub(crate) jails: BTreeMap<String, Jail>,
    pub(crate) next_jid: u32,
    /// Python: the iocage datasets a `clean` destroyed, which the next
    /// command's IOCCheck creates again (and says so).
    #[serde(default)]
    pub(crate) missing_datasets: Vec<String>,
    /// Legacy (with `FAKE_IOCAGE_VERSION`): pools still marked
    /// `comment=iocage` beside the active one, as `activate` leaves them.
    #[serde(default)]
    pub(crate) also_marked: Vec<String>,
}

/// One jail or template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Jail {
    /// Properties set on the jail (`tag`, `release`, `type`, ...); the rest
    /// come from the flavour's defaults.
    pub(crate) props: BTreeMap<String, String>,
    pub(crate) running: bool,
    pub(crate) jid: Option<u32>,
    pub(crate) template: bool,
    /// The jail this one was cloned from.
    pub(crate) origin: Option<String>,
}

impl Jail {
    pub(crate) fn new(props: BTreeMap<String, String>) -> Jail {
        Jail {
            props,
            running: false,
            jid: None,
            template: false,
            origin: None,
        }
    }

    pub(crate) fn prop(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }

    pub(crate) fn tag(&self) -> &str {
        self.prop("tag").unwrap_or("")
    }
}

impl Host {
    /// Pools `tank` (active) and `tank1`, releases 10.2 and 10.3 fetched.
    pub(crate) fn fresh() -> Host {
        Host {
            pools: vec!["tank".into(), "tank1".into()],
            active_pool: Some("tank".into()),
            releases: vec!["10.2-RELEASE".into(), "10.3-RELEASE".into()],
            jails: BTreeMap::new(),
            next_jid: 1,
            missing_datasets: Vec::new(),
            also_marked: Vec::new(),
        }
    }

    pub(crate) fn pool(&self) -> &str {
        self.active_pool.as_deref().unwrap_or("tank")
    }

    /// Marks the jail running with the next JID; returns the JID.
    pub(crate) fn start(&mut self, key: &str) -> Option<u32> {
        let jid = self.next_jid;
        let jail = self.jails.get_mut(key)?;
        jail.running = true;
        jail.jid = Some(jid);
        jail.props.insert("last_started".into(), last_started());
        self.next_jid += 1;
        Some(jid)
    }

    pub(crate) fn stop(&mut self, key: &str) {
        if let Some(jail) = self.jails.get_mut(key) {
            jail.running = false;
            jail.jid = None;
        }
    }

    /// The first jail cloned from `key`, if any.
    pub(crate) fn dependent(&self, key: &str) -> Option<(&String, &Jail)> {
        self.jails
            .iter()
            .find(|(_, jail)| jail.origin.as_deref() == Some(key))
    }
}

/// A fresh 36-character UUID.
pub(crate) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Now as `YYYY-MM-DD` and `HH:MM:SS` (UTC).
fn now() -> (String, String) {
    let clock = std::env::var("FAKE_IOCAGE_CLOCK")
        .ok()
        .and_then(|secs| secs.parse().ok())
        .map(|secs| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs));
    let stamp =
        humantime::format_rfc3339_seconds(clock.unwrap_or_else(SystemTime::now)).to_string();
    let stamp = stamp.trim_end_matches('Z');
    let (date, time) = stamp.split_once('T').unwrap_or((stamp, "00:00:00"));
    (date.to_owned(), time.to_owned())
}

/// Legacy's default tag, `date "+%F@%T"`.
pub(crate) fn date_tag() -> String {
    let (date, time) = now();
    format!("{date}@{time}")
}

fn last_started() -> String {
    let (date, time) = now();
    format!("{date}_{time}")
}

/// Legacy L16's properties in `get all` order (`CONF_NET`, `CONF_JAIL`,
/// `CONF_RCTL`, `CONF_CUSTOM`, `CONF_SYNC`, `CONF_FTP`, `CONF_GIT`, then
/// `CONF_ZFS`) with their defaults; `-` is unset, `@uuid@` the jail's UUID.
const LEGACY_PROPERTIES: &str = "\
interfaces=vnet0:bridge0,vnet1:bridge1
vnet=off
host_domainname=none
host_hostname=@uuid@
ip4_addr=none
ip4_autostart=none
ip4_autoend=none
ip4_autosubnet=none
ip4_saddrsel=1
ip4=new
ip6_addr=none
ip6_saddrsel=1
ip6=new
defaultrouter=none
defaultrouter6=none
resolver=none
exec_fib=0
vnet0_mac=none
vnet1_mac=none
vnet2_mac=none
vnet3_mac=none
devfs_ruleset=4
exec_start=/bin/sh /etc/rc
exec_stop=/bin/sh /etc/rc.shutdown
exec_prestart=/usr/bin/true
exec_prestop=/usr/bin/true
exec_poststop=/usr/bin/true
exec_poststart=/usr/bin/true
exec_clean=1
exec_timeout=60
stop_timeout=30
exec_jail_user=root
exec_system_jail_user=0
exec_system_user=root
mount_devfs=1
mount_fdescfs=1
mount_procfs=0
mount_linprocfs=0
enforce_statfs=2
children_max=0
login_flags=-f root
securelevel=2
allow_set_hostname=1
allow_sysvipc=0
allow_raw_sockets=0
allow_chflags=0
allow_mount=0
allow_mount_devfs=0
allow_mount_nullfs=0
allow_mount_procfs=0
allow_mount_tmpfs=0
allow_mount_zfs=0
allow_quotas=0
allow_socket_af=0
host_hostuuid=@uuid@
memoryuse=8G:log
memorylocked=off
vmemoryuse=off
maxproc=off
cputime=off
pcpu=off
datasize=off
stacksize=off
coredumpsize=off
openfiles=off
pseudoterminals=off
swapuse=off
nthr=off
msgqqueued=off
msgqsize=off
nmsgq=off
nsemop=off
nshm=off
shmsize=off
wallclock=off
tag=2016-01-29@14:19:49
template=-
istemplate=no
rlimits=off
bpf=off
boot=off
dhcp=off
notes=none
owner=root
priority=99
pkglist=none
last_started=none
type=basejail
hostid=4145fbb8-c5b6-11e5-9f2f-fcaa14deb15d
cpuset=off
jail_zfs=off
jail_zfs_dataset=iocage/jails/@uuid@/data
jail_zfs_mountpoint=none
release=10.3-RELEASE
hack88=0
start=-
count=1
sync_stat=-
sync_target=none
sync_tgt_zpool=none
ftphost=ftp.freebsd.org
ftpfiles=base.txz doc.txz lib32.txz src.txz
ftpdir=-
ftplocaldir=-
gitlocation=https://github.com
branch=-
compression=lz4
quota=none
dedup=off
reservation=none
origin=-
mountpoint=/iocage/jails/@uuid@
compressratio=2.27x
available=83.4G
used=1.76M
";

/// The UUID of legacy's `.defaults` dataset.
pub(crate) const DEFAULTS_UUID: &str = "442a5843-c6bd-11e5-bbe9-fcaa14deb15d";

/// Native ZFS properties: printed raw by legacy `get` (`-` stays `-`).
pub(crate) const LEGACY_ZFS: &[&str] = &[
    "compression",
    "quota",
    "dedup",
    "reservation",
    "origin",
    "mountpoint",
    "compressratio",
    "available",
    "used",
];

/// Legacy property names in `get all` order.
/// On 1.7.x: the properties it lacks, and those it has that develop does not
/// (`CONF_*` in lib/ioc-globals@6189eac:142-262 against @3ffbc87).
const NOT_IN_1_7: &[&str] = &[
    "bpf",
    "count",
    "dhcp",
    "ftpfiles",
    "ftplocaldir",
    "host_domainname",
    "istemplate",
    "jail_zfs_mountpoint",
    "mount_linprocfs",
    "pkglist",
    "start",
];

/// 1.7.x defaults that differ from develop's (lib/ioc-globals@6189eac:24,
/// 103-119): `hostname` exists, `type` is `jail`, templates are `template=yes`.
const DEFAULTS_1_7: &[(&str, &str)] = &[
    ("hostname", "@uuid@"),
    ("type", "jail"),
    ("template", "no"),
    ("jail_zfs_dataset", "iocage/jails/@uuid@/root/data"),
];

/// Legacy property names in `get all` order (on 1.7.x its own set).
pub(crate) fn legacy_names() -> impl Iterator<Item = &'static str> {
    let release_line = crate::version::model().legacy_release();
    LEGACY_PROPERTIES
        .lines()
        .filter_map(|line| line.split_once('=').map(|(key, _)| key))
        .filter(move |key| !(release_line && NOT_IN_1_7.contains(key)))
        .flat_map(move |key| {
            let added = (release_line && key == "host_hostname").then_some("hostname");
            std::iter::once(key).chain(added)
        })
}

fn legacy_default(key: &str) -> Option<&'static str> {
    if crate::version::model().legacy_release() {
        if NOT_IN_1_7.contains(&key) {
            return None;
        }
        if let Some((_, value)) = DEFAULTS_1_7.iter().find(|(name, _)| *name == key) {
            return Some(value);
        }
    }
    LEGACY_PROPERTIES.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name == key).then_some(value)
    })
}

/// A legacy jail's value of `key` as `get all` prints it (`-` when unset);
/// `None` for an unknown property.
pub(crate) fn legacy_value(host: &Host, uuid: &str, jail: &Jail, key: &str) -> Option<String> {
    let default = legacy_default(key)?;
    if let Some(value) = jail.prop(key) {
        return Some(value.to_owned());
    }
    Some(match key {
        "origin" => jail.origin.as_ref().map_or_else(
            || "-".to_owned(),
            |origin| format!("{}/iocage/jails/{origin}@{uuid}", host.pool()),
        ),
        "istemplate" => if jail.template { "yes" } else { "no" }.to_owned(),
        "template" if crate::version::model().legacy_release() => {
            if jail.template { "yes" } else { "no" }.to_owned()
        }
        _ => default.replace("@uuid@", uuid),
    })
}

/// The `.defaults` dataset's properties in `get all` order.
pub(crate) fn legacy_defaults() -> Vec<(String, String)> {
    legacy_names()
        .map(|key| {
            let value = match key {
                "mountpoint" => "/iocage/.defaults".to_owned(),
                "available" => "426G".to_owned(),
                "used" => "96K".to_owned(),
                "compressratio" => "1.00x".to_owned(),
                _ => legacy_default(key)
                    .unwrap_or("-")
                    .replace("@uuid@", DEFAULTS_UUID),
            };
            (key.to_owned(), value)
        })
        .collect()
}

/// Python iocage's properties (a subset of its ~150), sorted as `get all`
/// prints them; `@name@` is the jail's name. Booleans are `0`/`1`.
const PYTHON_PROPERTIES: &str = "\
allow_mount=0
allow_set_hostname=1
basejail=0
boot=0
compression=lz4
defaultrouter=auto
devfs_ruleset=4
exec_start=/bin/sh /etc/rc
exec_stop=/bin/sh /etc/rc.shutdown
host_hostname=@name@
host_hostuuid=@name@
interfaces=vnet0:bridge0
ip4_addr=none
ip6_addr=none
jail_zfs=0
last_started=none
memoryuse=off
notes=none
priority=99
quota=none
release=13.2-RELEASE-p4
reservation=none
resolver=/etc/resolv.conf
template=0
type=jail
vnet=0
";

fn python_default(key: &str) -> Option<&'static str> {
    PYTHON_PROPERTIES.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name == key).then_some(value)
    })
}

/// A Python jail's value of `key`; `None` for an unknown property.
pub(crate) fn python_value(name: &str, jail: &Jail, key: &str) -> Option<String> {
    if let Some(value) = jail.prop(key) {
        return Some(value.to_owned());
    }
    let default = python_default(key)?;
    Some(match key {
        "template" => if jail.template { "1" } else { "0" }.to_owned(),
        _ => default.replace("@name@", name),
    })
}

/// Every property of a Python jail, sorted, with the synthetic `state`.
pub(crate) fn python_all(name: &str, jail: &Jail) -> Vec<(String, String)> {
    let mut all: BTreeMap<String, String> = PYTHON_PROPERTIES
        .lines()
        .filter_map(|line| line.split_once('='))
        .filter_map(|(key, _)| Some((key.to_owned(), python_value(name, jail, key)?)))
        .collect();
    all.extend(jail.props.clone());
    all.insert(
        "state".into(),
        if jail.running { "up" } else { "down" }.into(),
    );
    all.into_iter().collect()
}

/// Python's `defaults.json`, as `get all default` prints it.
pub(crate) fn python_defaults() -> Vec<(String, String)> {
    let mut all = vec![("CONFIG_VERSION".to_owned(), "29".to_owned())];
    all.extend(
        PYTHON_PROPERTIES
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.replace("@name@", "none"))),
    );
    all
}

/// Releases on the fake download server, `(name, end of life)`.
pub(crate) const REMOTE_RELEASES: &[(&str, bool)] = &[
    ("9.3-RELEASE", true),
    ("10.1-RELEASE", true),
    ("10.2-RELEASE", true),
    ("10.3-RELEASE", false),
    ("11.0-RELEASE", false),
];

/// The fake remote plugin index: name, description, package, icon.
pub(crate) const PLUGINS: &[(&str, &str, &str, &str)] = &[
    (
        "Bitwarden",
        "Bitwarden is an open source password management solution for individuals, teams, and business organizations.",
        "bitwarden",
        "https://example.org/icons/bitwarden.png",
    ),
    (
        "Plex Media Server",
        "Plex Media Server",
        "plexmediaserver",
        "https://example.org/icons/plex.png",
    ),
    (
        "Transmission",
        "Fast and lightweight daemon BitTorrent client",
        "transmission",
        "https://example.org/icons/transmission.png",
    ),
];

/// The users every fake jail has, with their `id` line.
const USERS: [(&str, &str); 3] = [
    (
        "root",
        "uid=0(root) gid=0(wheel) groups=0(wheel),5(operator)",
    ),
    ("www", "uid=80(www) gid=80(www) groups=80(www)"),
    (
        "nobody",
        "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)",
    ),
];

/// What a command run "inside" a jail printed, and its status.
#[derive(Debug)]
pub(crate) struct Ran {
    pub(crate) out: String,
    pub(crate) err: String,
    pub(crate) status: u8,
}

/// Runs one of a few harmless built-ins as jexec would in the jail; nothing
/// runs on the real machine.
pub(crate) fn jexec(hostname: &str, release: &str, user: &str, argv: &[String]) -> Ran {
    let ok = |out: String| Ran {
        out,
        err: String::new(),
        status: 0,
    };
    let fail = |err: String| Ran {
        out: String::new(),
        err,
        status: 1,
    };
    let Some((_, id)) = USERS.iter().find(|(name, _)| *name == user) else {
        return fail(format!("jexec: {user}: no such user\n"));
    };
    let Some((program, args)) = argv.split_first() else {
        return fail("usage: jexec [-l] [-u username | -U username] jail [command ...]\n".into());
    };
    match program.as_str() {
        // env(1) with a command runs it; the CLI backend prefixes one-word
        // commands with it so that Python iocage never hands them to sh -c.
        "/usr/bin/env" | "env" if !args.is_empty() => jexec(hostname, release, user, args),
        "/usr/bin/env" | "env" => ok("PATH=/sbin:/bin:/usr/sbin:/usr/bin\n".into()),
        "echo" => ok(format!("{}\n", args.join(" "))),
        "hostname" => ok(format!("{hostname}\n")),
        "id" => ok(format!("{id}\n")),
        "pwd" => ok("/\n".into()),
        "true" => ok(String::new()),
        "false" => Ran {
            out: String::new(),
            err: String::new(),
            status: 1,
        },
        "uname" => match args.first().map(String::as_str) {
            None | Some("-s") => ok("FreeBSD\n".into()),
            Some("-r") => ok(format!("{release}\n")),
            Some("-n") => ok(format!("{hostname}\n")),
            Some(other) => fail(format!(
                "uname: illegal option -- {}\nusage: uname [-abiKmnoprsUv]\n",
                other.trim_start_matches('-')
            )),
        },
        other => fail(format!(
            "jexec: execvp: {other}: No such file or directory\n"
        )),
    }
}
