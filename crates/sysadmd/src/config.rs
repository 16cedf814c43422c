//! Command line and configuration file: flags override the environment, the
//! environment overrides the TOML file, and the file overrides the defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use iocage_service::Flavour;
use serde::Deserialize;

/// The reference server's ports: 12150 (WebSocket) and 12151 (REST). sysadmd
/// serves both protocols on each, so existing clients find it either way.
pub const DEFAULT_LISTEN: [&str; 2] = ["127.0.0.1:12150", "127.0.0.1:12151"];

/// sysadmd serves the sysadm/iocage API over REST and WebSocket.
///
/// With no iocage installed it serves a simulated iocage host, kept in the
/// state directory, so the whole API can be tried at once.
#[derive(Debug, Parser)]
#[command(name = "sysadmd", version, about, long_about = None)]
pub struct Cli {
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Server options (also accepted after `serve`).
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve(ServeArgs),
    /// Manage the users who may log in (the server sees changes at once).
    User {
        /// The state directory holding users.toml.
        #[arg(long, env = "SYSADMD_STATE_DIR", value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// The user command.
        #[command(subcommand)]
        command: crate::auth::UserCommand,
    },
}

/// Which backend serves the iocage actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// The real iocage when an `iocage` program is on PATH, else the simulated host.
    Auto,
    /// The simulated iocage host (state in the state directory).
    Sim,
    /// The real iocage program.
    Cli,
}

/// Options of `sysadmd serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// A TOML configuration file.
    #[arg(long, env = "SYSADMD_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// An address to listen on (repeatable) [default: 127.0.0.1:12150 and 127.0.0.1:12151].
    #[arg(
        long,
        value_name = "ADDR",
        env = "SYSADMD_LISTEN",
        value_delimiter = ','
    )]
    pub listen: Vec<SocketAddr>,
    /// Where state lives (simulated host, users, certificate, audit log)
    /// [default: /var/db/sysadmd as root, else the user's data directory].
    #[arg(long, env = "SYSADMD_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Which backend serves iocage actions [default: auto].
    #[arg(long, env = "SYSADMD_BACKEND", value_enum)]
    pub backend: Option<BackendChoice>,
    /// The iocage program to run with the cli backend [default: iocage on PATH].
    #[arg(long, env = "SYSADMD_IOCAGE", value_name = "PATH")]
    pub iocage: Option<PathBuf>,
    /// The iocage flavour, legacy or python [default: asked with `iocage --version`].
    #[arg(long, env = "SYSADMD_IOCAGE_FLAVOUR", value_name = "FLAVOUR", value_parser = parse_flavour)]
    pub iocage_flavour: Option<Flavour>,
    /// TLS certificate chain (PEM) [default: a self-signed one in the state directory].
    #[arg(
        long,
        env = "SYSADMD_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(
        long,
        env = "SYSADMD_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP and WS, without TLS (for local use).
    #[arg(long, env = "SYSADMD_PLAINTEXT")]
    pub plaintext: bool,
    /// Allow --plaintext on a non-loopback address: credentials then cross the network unencrypted.
    #[arg(long, env = "SYSADMD_INSECURE_PLAINTEXT_ON_NETWORK")]
    pub insecure_plaintext_on_network: bool,
}

/// The `[limits]` table of the file; every value has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest REST body or WebSocket message, in bytes.
    pub max_body_bytes: usize,
    /// Most connections served at once; more wait in the accept queue.
    pub max_connections: usize,
    /// Requests in flight on one WebSocket; past it the server stops reading.
    pub max_in_flight_per_connection: usize,
    /// Time to send the request headers (and so the WebSocket upgrade), in seconds.
    pub header_timeout_secs: u64,
    /// Time for the TLS handshake, in seconds.
    pub tls_handshake_timeout_secs: u64,
    /// A WebSocket with no incoming message for this long is closed, in seconds.
    pub ws_idle_timeout_secs: u64,
    /// A WebSocket must authenticate within this time, in seconds.
    pub ws_auth_timeout_secs: u64,
    /// On shutdown, how long running requests may take to finish, in seconds.
    pub shutdown_grace_secs: u64,
    /// Events queued for one subscriber before it is disconnected as too slow.
    pub event_queue: usize,
    /// Time limit of one iocage run (cli backend), in seconds.
    pub iocage_timeout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_connections: 1024,
            max_in_flight_per_connection: 32,
            header_timeout_secs: 10,
            tls_handshake_timeout_secs: 10,
            ws_idle_timeout_secs: 30 * 60,
            ws_auth_timeout_secs: 30,
            shutdown_grace_secs: 30,
            event_queue: 256,
            iocage_timeout_secs: 600,
        }
    }
}

impl Limits {
    /// [`Limits::header_timeout_secs`] as a duration.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }
}

/// The `[auth]` table of the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Sliding token lifetime, in seconds.
    pub token_lifetime_secs: u64,
    /// Failed logins from one address before it is blocked.
    pub max_failures: u32,
    /// Failures count towards a block while each is within this many seconds of the previous.
    pub failure_window_secs: u64,
    /// How long a blocked address stays blocked, in seconds.
    pub block_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            token_lifetime_secs: 900,
            max_failures: 5,
            failure_window_secs: 600,
            block_secs: 3600,
        }
    }
}

/// The `[sim]` table of the file: the simulated host.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSettings {
    /// Every simulated operation takes at least this long, in milliseconds,
    /// so clients can be tried against work that takes time, as on a real host.
    pub latency_ms: u64,
}

/// The TOML file. Unknown keys are errors, so typos do not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<Vec<SocketAddr>>,
    state_dir: Option<PathBuf>,
    backend: Option<BackendChoice>,
    iocage: Option<PathBuf>,
    iocage_flavour: Option<Flavour>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    plaintext: Option<bool>,
    insecure_plaintext_on_network: Option<bool>,
    audit_log: Option<PathBuf>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    auth: AuthSettings,
    #[serde(default)]
    sim: SimSettings,
}

/// TLS settings after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsChoice {
    /// Plain HTTP and WS.
    Plaintext,
    /// The operator's certificate and key.
    Files {
        /// Certificate chain (PEM).
        cert: PathBuf,
        /// Private key (PEM).
        key: PathBuf,
    },
    /// A self-signed certificate generated into (and reused from) the state directory.
    SelfSigned,
}

/// The configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// The state directory.
    pub state_dir: PathBuf,
    /// Which backend.
    pub backend: BackendChoice,
    /// The iocage program for the cli backend, if named.
    pub iocage: Option<PathBuf>,
    /// The iocage flavour, if configured rather than detected.
    pub iocage_flavour: Option<Flavour>,
    /// TLS.
    pub tls: TlsChoice,
    /// The audit log file.
    pub audit_log: PathBuf,
    /// Protective limits.
    pub limits: Limits,
    /// Authentication settings.
    pub auth: AuthSettings,
    /// Simulated host settings.
    pub sim: SimSettings,
}

impl Config {
    /// Resolves flags and environment (already merged by clap) over the file over the defaults.
    pub fn resolve(args: &ServeArgs) -> Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let listen = if !args.listen.is_empty() {
            args.listen.clone()
        } else if let Some(listen) = file.listen {
            listen
        } else {
            DEFAULT_LISTEN
                .iter()
                .map(|addr| addr.parse().expect("valid default address"))
                .collect()
        };
        if listen.is_empty() {
            bail!("no address to listen on: give --listen ADDR or `listen = [...]` in the file");
        }
        let state_dir = match args.state_dir.clone().or(file.state_dir) {
            Some(dir) => dir,
            None => default_state_dir()?,
        };
        let plaintext = args.plaintext || file.plaintext.unwrap_or(false);
        let insecure = args.insecure_plaintext_on_network
            || file.insecure_plaintext_on_network.unwrap_or(false);
        let cert = args.tls_cert.clone().or(file.tls_cert);
        let key = args.tls_key.clone().or(file.tls_key);
        let tls = match (plaintext, cert, key) {
            (true, Some(_), _) | (true, _, Some(_)) => {
                bail!("--plaintext and a TLS certificate exclude each other: choose one")
            }
            (true, None, None) => TlsChoice::Plaintext,
            (false, Some(cert), Some(key)) => TlsChoice::Files { cert, key },
            (false, None, None) => TlsChoice::SelfSigned,
            (false, Some(_), None) => {
                bail!("a TLS certificate was given without its key (tls_key)")
            }
            (false, None, Some(_)) => {
                bail!("a TLS key was given without its certificate (tls_cert)")
            }
        };
        if tls == TlsChoice::Plaintext && !insecure {
            if let Some(public) = listen.iter().find(|addr| !addr.ip().is_loopback()) {
                bail!(
                    "refusing plaintext on non-loopback address {public}: passwords would cross the \
                     network unencrypted; use TLS, or add --insecure-plaintext-on-network"
                );
            }
        }
        if file.limits.max_body_bytes == 0 || file.limits.max_connections == 0 {
            bail!("limits.max_body_bytes and limits.max_connections must be positive");
        }
        if file.limits.max_in_flight_per_connection == 0 || file.limits.event_queue == 0 {
            bail!("limits.max_in_flight_per_connection and limits.event_queue must be positive");
        }
        let audit_log = file
            .audit_log
            .unwrap_or_else(|| state_dir.join("audit.jsonl"));
        Ok(Config {
            listen,
            backend: args.backend.or(file.backend).unwrap_or(BackendChoice::Auto),
            iocage: args.iocage.clone().or(file.iocage),
            iocage_flavour: args.iocage_flavour.or(file.iocage_flavour),
            tls,
            audit_log,
            limits: file.limits,
            auth: file.auth,
            sim: file.sim,
            state_dir,
        })
    }
}

fn parse_flavour(text: &str) -> Result<Flavour, String> {
    match text {
        "legacy" => Ok(Flavour::Legacy),
        "python" => Ok(Flavour::Python),
        other => Err(format!(
            "'{other}' is not an iocage flavour: use legacy (the shell iocage) or python (iocage 1.0 and later)"
        )),
    }
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration file {}", path.display()))?;
    toml::from_str(&text).map_err(|error| {
        anyhow::anyhow!(
            "configuration file {}: {}",
            path.display(),
            error.message().trim()
        )
    })
}

/// `/var/db/sysadmd` for root; otherwise `$XDG_DATA_HOME/sysadmd` or `~/.local/share/sysadmd`.
pub fn default_state_dir() -> Result<PathBuf> {
    if rustix::process::geteuid().is_root() {
        return Ok(PathBuf::from("/var/db/sysadmd"));
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(data).join("sysadmd"));
    }
    match std::env::var_os("HOME").filter(|dir| !dir.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/sysadmd")),
        None => bail!("no state directory: HOME is not set; give --state-dir DIR"),
    }
}
