//! The property set of the legacy iocage the API documents describe
//! (`lib/ioc-globals`, iocage-output.md §4), so that property names can be
//! checked before anything reaches a backend.
//!
//! The lists keep iocage's own grouping and order; `get all` prints them in
//! the order of [`ALL_GROUPS`].
//!
//! Two names are deliberately not in the lists: `all` is a mode of
//! `getjailsettings` that sysadm-proto decodes, and `state` is a pseudo
//! property (`iocage get state JAIL` prints `up` or `down`) that can be read
//! but never set. [`is_readable`] accepts `state`; [`is_property`] does not.

/// Networking (`CONF_NET`).
pub const CONF_NET: &[&str] = &[
    "interfaces",
    "vnet",
    "host_domainname",
    "host_hostname",
    "ip4_addr",
    "ip4_autostart",
    "ip4_autoend",
    "ip4_autosubnet",
    "ip4_saddrsel",
    "ip4",
    "ip6_addr",
    "ip6_saddrsel",
    "ip6",
    "defaultrouter",
    "defaultrouter6",
    "resolver",
    "exec_fib",
    "vnet0_mac",
    "vnet1_mac",
    "vnet2_mac",
    "vnet3_mac",
];

/// jail(8) parameters (`CONF_JAIL`).
pub const CONF_JAIL: &[&str] = &[
    "devfs_ruleset",
    "exec_start",
    "exec_stop",
    "exec_prestart",
    "exec_prestop",
    "exec_poststop",
    "exec_poststart",
    "exec_clean",
    "exec_timeout",
    "stop_timeout",
    "exec_jail_user",
    "exec_system_jail_user",
    "exec_system_user",
    "mount_devfs",
    "mount_fdescfs",
    "mount_procfs",
    "mount_linprocfs",
    "enforce_statfs",
    "children_max",
    "login_flags",
    "securelevel",
    "allow_set_hostname",
    "allow_sysvipc",
    "allow_raw_sockets",
    "allow_chflags",
    "allow_mount",
    "allow_mount_devfs",
    "allow_mount_nullfs",
    "allow_mount_procfs",
    "allow_mount_tmpfs",
    "allow_mount_zfs",
    "allow_quotas",
    "allow_socket_af",
    "host_hostuuid",
];

/// Resource limits, `limit:action` (`CONF_RCTL`).
pub const CONF_RCTL: &[&str] = &[
    "memoryuse",
    "memorylocked",
    "vmemoryuse",
    "maxproc",
    "cputime",
    "pcpu",
    "datasize",
    "stacksize",
    "coredumpsize",
    "openfiles",
    "pseudoterminals",
    "swapuse",
    "nthr",
    "msgqqueued",
    "msgqsize",
    "nmsgq",
    "nsemop",
    "nshm",
    "shmsize",
    "wallclock",
];

/// iocage's own properties (`CONF_CUSTOM`).
pub const CONF_CUSTOM: &[&str] = &[
    "tag",
    "template",
    "istemplate",
    "rlimits",
    "bpf",
    "boot",
    "dhcp",
    "notes",
    "owner",
    "priority",
    "pkglist",
    "last_started",
    "type",
    "hostid",
    "cpuset",
    "jail_zfs",
    "jail_zfs_dataset",
    "jail_zfs_mountpoint",
    "release",
    "hack88",
    "start",
    "count",
];

/// Native ZFS properties (`CONF_ZFS`); see [`READ_ONLY`] for those that cannot be set.
pub const CONF_ZFS: &[&str] = &[
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

/// Replication (`CONF_SYNC`).
pub const CONF_SYNC: &[&str] = &["sync_stat", "sync_target", "sync_tgt_zpool"];

/// Fetching releases (`CONF_FTP`).
pub const CONF_FTP: &[&str] = &["ftphost", "ftpfiles", "ftpdir", "ftplocaldir"];

/// Fetching plugins (`CONF_GIT`).
pub const CONF_GIT: &[&str] = &["gitlocation", "branch"];

/// The groups in the order `get all` prints them (ZFS last, as L16 does).
pub const ALL_GROUPS: [&[&str]; 8] = [
    CONF_NET,
    CONF_JAIL,
    CONF_RCTL,
    CONF_CUSTOM,
    CONF_SYNC,
    CONF_FTP,
    CONF_GIT,
    CONF_ZFS,
];

/// ZFS computes these; iocage cannot set them.
pub const READ_ONLY: &[&str] = &["origin", "mountpoint", "compressratio", "available", "used"];

/// The read-only pseudo property that reports `up` or `down`.
pub const STATE: &str = "state";

/// Every property, in `get all` order.
pub fn all() -> impl Iterator<Item = &'static str> {
    ALL_GROUPS.into_iter().flatten().copied()
}

/// Whether `name` is an iocage property (settable or not).
pub fn is_property(name: &str) -> bool {
    all().any(|known| known == name)
}

/// Whether `name` can be read with `getjailsettings`: any property, or `state`.
pub fn is_readable(name: &str) -> bool {
    name == STATE || is_property(name)
}

/// Whether `name` is computed by ZFS and cannot be set.
pub fn is_read_only(name: &str) -> bool {
    READ_ONLY.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults_are_all_properties() {
        let defaults: std::collections::BTreeMap<String, String> =
            serde_json::from_str(include_str!("data/defaults.json")).unwrap();
        for key in defaults.keys() {
            assert!(is_property(key), "{key} is in the documented defaults");
        }
        // The six that `defaults` omits because their globals are empty.
        let missing: Vec<&str> = all().filter(|name| !defaults.contains_key(*name)).collect();
        assert_eq!(
            missing,
            [
                "template",
                "start",
                "sync_stat",
                "ftpdir",
                "ftplocaldir",
                "branch"
            ]
        );
    }

    #[test]
    fn no_duplicates_and_state_is_read_only() {
        let mut names: Vec<&str> = all().collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
        assert!(is_readable("state"));
        assert!(!is_property("state"));
        assert!(!is_property("all"));
        assert!(is_read_only("used") && !is_read_only("quota"));
    }
}
