//! The command line.

use clap::{Parser, Subcommand};

/// sysadmctl drives sysadmd servers (the sysadm/iocage API) from the shell.
///
/// Add a server once with `sysadmctl remote add NAME wss://HOST:12150/`
/// (it pins the certificate and stores an API key); then every command runs
/// on the default remote, on the remotes of --remote, or on all of them with
/// --all, concurrently. Output is aligned columns on a terminal and JSON
/// with --json or whenever standard output is not a terminal. The exit
/// status is non-zero if any server failed; the server's details go to
/// standard error.
#[derive(Debug, Parser)]
#[command(name = "sysadmctl", version, about, long_about)]
pub struct Cli {
    /// Run on these remotes (comma-separated) instead of the default.
    #[arg(
        long,
        short = 'r',
        global = true,
        value_name = "NAME[,NAME...]",
        conflicts_with = "all"
    )]
    pub remote: Option<String>,
    /// Run on every remote.
    #[arg(long, global = true)]
    pub all: bool,
    /// Print JSON (the default when standard output is not a terminal).
    #[arg(long, global = true)]
    pub json: bool,
    /// Seconds to wait for a server's reply.
    #[arg(long, global = true, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the servers sysadmctl knows.
    Remote {
        /// The remote command.
        #[command(subcommand)]
        command: RemoteCommand,
    },
    /// List the jails (listjails).
    List,
    /// Start a jail (startjail).
    Start {
        /// The jail: tag, UUID or UUID prefix.
        jail: String,
    },
    /// Stop a jail (stopjail).
    Stop {
        /// The jail: tag, UUID or UUID prefix.
        jail: String,
    },
    /// Re-apply a running jail's resource limits (capjail).
    Cap {
        /// The jail.
        jail: String,
    },
    /// Run a command in a jail (execjail): `sysadmctl exec web1 -- uname -a`.
    Exec {
        /// The jail.
        jail: String,
        /// The user inside the jail.
        #[arg(long, short = 'u', default_value = "root")]
        user: String,
        /// The command and its arguments (after `--`); never run by a shell.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Create a jail (createjail): `sysadmctl create --release 14.2-RELEASE web2 vnet=on`.
    Create {
        /// The new jail's tag.
        tag: String,
        /// More properties, as KEY=VALUE.
        #[arg(value_name = "KEY=VALUE")]
        props: Vec<String>,
        /// The release to create it from.
        #[arg(long)]
        release: Option<String>,
        /// Create an empty jail (-e).
        #[arg(long)]
        empty: bool,
    },
    /// Clone a jail (clonejail), with properties that should differ.
    Clone {
        /// The jail to clone.
        jail: String,
        /// Properties of the clone, as KEY=VALUE (e.g. tag=web3).
        #[arg(value_name = "KEY=VALUE")]
        props: Vec<String>,
    },
    /// Destroy a stopped jail (destroyjail).
    Destroy {
        /// The jail.
        jail: String,
    },
    /// A jail's properties (getjailsettings): `get web1 all`, `get web1 vnet`,
    /// or one property of every jail with `get --every-jail vnet`.
    Get {
        /// The jail (or, with --every-jail, the property).
        jail: String,
        /// The property, or `all`.
        #[arg(default_value = "all")]
        prop: String,
        /// Show the property named first for every jail (-r).
        #[arg(long)]
        every_jail: bool,
    },
    /// The default properties (getdefaultsettings).
    Defaults,
    /// Disk usage of every jail (df).
    Df,
    /// Local and remote releases (listreleases).
    Releases,
    /// The remote plugin index (listplugins).
    Plugins,
    /// Activate a pool, or show the active one (activatepool).
    Activate {
        /// The pool; none: show the active pool.
        pool: Option<String>,
    },
    /// Deactivate a pool (deactivatepool).
    Deactivate {
        /// The pool.
        pool: String,
    },
    /// Destroy every jail (cleanjails).
    CleanJails,
    /// Destroy every fetched release (cleanreleases).
    CleanReleases,
    /// Destroy every template (cleantemplates).
    CleanTemplates,
    /// Destroy every iocage dataset (cleanall).
    CleanAll,
    /// A raw request: `call sysadm/iocage '{"action": "listjails"}'`, or `-`
    /// to read the JSON from standard input (so secrets stay off the command line).
    Call {
        /// The class, NAMESPACE/NAME.
        class: String,
        /// The args as JSON, or `-` for standard input.
        #[arg(default_value = "{}")]
        args: String,
    },
    /// Print job events (dispatcher) as they happen, one line each.
    Watch {
        /// Stop after this many events (default: until interrupted).
        #[arg(long)]
        count: Option<u64>,
    },
}

/// `sysadmctl remote ...`.
#[derive(Debug, Subcommand)]
pub enum RemoteCommand {
    /// Add a server: pins its certificate (asking, as ssh does, unless
    /// --accept-fingerprint), logs in once with a password and stores an
    /// API key it creates (rpc/keys) for every later command.
    Add {
        /// A name for the server (letters, digits, '_', '.', '-').
        name: String,
        /// Its URL: wss://HOST:PORT/ (ws:// for a plaintext server on loopback).
        url: String,
        /// Trust the certificate with this SHA-256 fingerprint without asking
        /// (the one sysadmd printed at start-up); any other is refused.
        #[arg(long, value_name = "SHA256")]
        accept_fingerprint: Option<String>,
        /// The user to log in as, once, to create the key.
        #[arg(long, default_value = "admin")]
        user: String,
        /// Read the password from the first line of standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
        /// The role of the key to create: admin or viewer.
        #[arg(long, default_value = "admin", value_parser = ["admin", "viewer"])]
        role: String,
        /// The key's name on the server (default: sysadmctl.<time>.<pid>).
        #[arg(long)]
        key_name: Option<String>,
    },
    /// List the remotes.
    List,
    /// Forget a remote, and revoke its key on the server if it can.
    Remove {
        /// The remote.
        name: String,
    },
    /// Make a remote the default.
    Default {
        /// The remote.
        name: String,
    },
}
