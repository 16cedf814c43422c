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
    /// The options. Every one is global: it means the same before or after
    /// the subcommand (`sysadmd --state-dir X user list` and
    /// `sysadmd user list --state-dir X` are one command).
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Manage the users who may log in (the server sees changes at once).
    User {
        /// The user command.
        #[command(subcommand)]
        command: crate::auth::UserCommand,
    },
    /// Manage API keys for scripts and CI (the server sees changes at once).
    Key {
        /// The key command.
        #[command(subcommand)]
        command: crate::auth::KeyCommand,
    },
    /// Print where sysadmd keeps its files (for scripts: `sysadmd paths state-dir`).
    Paths {
        /// Print only this path.
        #[arg(value_enum)]
        which: Option<PathName>,
    },
    /// Lift login blocks in the running server (within a second, no restart).
    Unblock {
        /// The addresses to unblock (an IPv6 address unblocks its /64).
        #[arg(
            value_name = "ADDR",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        addrs: Vec<std::net::IpAddr>,
        /// Lift every block, and forget every failed login counted so far.
        #[arg(long)]
        all: bool,
    },
}

/// The options only serving uses: on another command they would do nothing,
/// so giving one there is an error rather than silently ignored.
const SERVER_ONLY: [&str; 8] = [
    "listen",
    "backend",
    "iocage",
    "iocage_flavour",
    "tls_cert",
    "tls_key",
    "plaintext",
    "insecure_plaintext_on_network",
];

impl Cli {
    /// Parses the command line like [`clap::Parser::try_parse_from`], and
    /// also refuses a server option given on the command line to a command
    /// that does not serve (`sysadmd user add x --listen A` would ignore it).
    pub fn try_parse_checked<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let mut command = Cli::command();
        let matches = command.try_get_matches_from_mut(args)?;
        let cli = Cli::from_arg_matches(&matches)?;
        if let Some(sub) = cli.command.as_ref().filter(|sub| !sub.serves()) {
            let given = |id: &str| {
                let from_line = |m: &clap::ArgMatches| {
                    m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
                };
                from_line(&matches)
                    || matches
                        .subcommand()
                        .is_some_and(|(_, sub_matches)| from_line(sub_matches))
            };
            if let Some(id) = SERVER_ONLY.iter().find(|id| given(id)) {
                let flag = format!("--{}", id.replace('_', "-"));
                return Err(command.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "{flag} is a server option and does nothing for `sysadmd {}`; \
                         only --config and --state-dir apply to it",
                        sub.name()
                    ),
                ));
            }
        }
        Ok(cli)
    }
}

impl Command {
    /// The subcommand's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Serve => "serve",
            Command::User { .. } => "user",
            Command::Key { .. } => "key",
            Command::Paths { .. } => "paths",
            Command::Unblock { .. } => "unblock",
        }
    }

    /// Whether this command serves (and so uses the server options).
    pub fn serves(&self) -> bool {
        matches!(self, Command::Serve)
    }
}

/// The paths `sysadmd paths` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PathName {
    /// The state directory.
    StateDir,
    /// The users file.
    Users,
    /// The API keys file (hashes only).
    Keys,
    /// The first admin password, while it has not been changed.
    AdminPassword,
    /// The TLS certificate.
    TlsCert,
    /// The audit log.
    AuditLog,
    /// The kept events, for subscribers that resume (`events.jsonl`).
    Events,
    /// The idempotency keys and their results (`idempotency.jsonl`).
    Idempotency,
    /// The simulated host's state.
    Simhost,
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
    /// A TOML configuration file [default on FreeBSD: /usr/local/etc/sysadmd/sysadmd.toml, if it exists].
    #[arg(long, env = "SYSADMD_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// An address to listen on (repeatable) [default: 127.0.0.1:12150 and 127.0.0.1:12151].
    /// Host names are resolved (`localhost:12150`); SYSADMD_LISTEN takes a comma-separated list.
    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "SYSADMD_LISTEN",
        value_delimiter = ',',
        global = true
    )]
    pub listen: Vec<ListenAddr>,
    /// Where state lives (simulated host, users, certificate, audit log)
    /// [default: /var/db/sysadmd as root, else the user's data directory].
    #[arg(long, env = "SYSADMD_STATE_DIR", value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// Which backend serves iocage actions [default: auto].
    #[arg(long, env = "SYSADMD_BACKEND", value_enum, global = true)]
    pub backend: Option<BackendChoice>,
    /// The iocage program to run with the cli backend [default: iocage on PATH].
    #[arg(long, env = "SYSADMD_IOCAGE", value_name = "PATH", global = true)]
    pub iocage: Option<PathBuf>,
    /// The iocage flavour, legacy or python [default: asked with `iocage --version`].
    #[arg(long, env = "SYSADMD_IOCAGE_FLAVOUR", value_name = "FLAVOUR", value_parser = parse_flavour, global = true)]
    pub iocage_flavour: Option<Flavour>,
    /// TLS certificate chain (PEM) [default: a self-signed one in the state directory].
    #[arg(
        long,
        env = "SYSADMD_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key",
        global = true
    )]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(
        long,
        env = "SYSADMD_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert",
        global = true
    )]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP and WS, without TLS (for local use).
    #[arg(long, env = "SYSADMD_PLAINTEXT", global = true)]
    pub plaintext: bool,
    /// Allow --plaintext on a non-loopback address: credentials then cross the network unencrypted.
    #[arg(long, env = "SYSADMD_INSECURE_PLAINTEXT_ON_NETWORK", global = true)]
    pub insecure_plaintext_on_network: bool,
    /// Where log lines go: stderr, or syslog (facility daemon, tag sysadmd).
    #[arg(
        long,
        env = "SYSADMD_LOG",
        value_enum,
        default_value = "stderr",
        global = true
    )]
    pub log: LogTarget,
}

/// Where the log goes (the audit log is always its own file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogTarget {
    /// Standard error, in colour on a terminal unless NO_COLOR is set.
    #[default]
    Stderr,
    /// syslog(3), facility daemon, tag `sysadmd`, each level at its severity.
    Syslog,
}

/// An address to listen on as given: `IP:PORT`, `[IPv6]:PORT` or `HOST:PORT`.
/// A host name is resolved when the configuration is (`localhost:12150`
/// listens on every address `localhost` has).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddr(String);

/// Why a listen address was refused; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ListenAddrError(String);

impl std::str::FromStr for ListenAddr {
    type Err = ListenAddrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.parse::<SocketAddr>().is_ok() {
            return Ok(ListenAddr(text.to_owned()));
        }
        let port_ok = |host: &str, port: &str| !host.is_empty() && port.parse::<u16>().is_ok();
        match text.rsplit_once(':') {
            Some((host, port)) if port_ok(host, port) && !host.contains(':') => {
                Ok(ListenAddr(text.to_owned()))
            }
            _ => Err(ListenAddrError(format!(
                "'{}' is not an address to listen on: use IP:PORT, [IPv6]:PORT or HOST:PORT, \
                 e.g. 127.0.0.1:12150 or localhost:12150",
                text.escape_debug()
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl ListenAddr {
    /// The socket addresses this names: itself, or what the host name resolves to.
    pub fn resolve(&self) -> Result<Vec<SocketAddr>> {
        if let Ok(addr) = self.0.parse::<SocketAddr>() {
            return Ok(vec![addr]);
        }
        use std::net::ToSocketAddrs;
        let mut addrs: Vec<SocketAddr> = self
            .0
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve listen address {}", self.0))?
            .collect();
        addrs.sort();
        addrs.dedup();
        if addrs.is_empty() {
            bail!("listen address {} resolves to no address", self.0);
        }
        Ok(addrs)
    }
}

/// The `[limits]` table of the file; every value has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest REST body or WebSocket message, in bytes.
    pub max_body_bytes: usize,
    /// Most connections served at once; more wait in the accept queue.
    pub max_connections: usize,
    /// Most connections at once that have not authenticated (part of
    /// `max_connections`); when reached, a newcomer evicts the oldest of the
    /// network (IPv4 address, IPv6 /64) with the most, if it has more.
    pub max_unauthenticated: usize,
    /// Most unauthenticated connections from one network; more are closed at once.
    pub max_unauthenticated_per_address: usize,
    /// A connection that has not authenticated within this time is closed, in seconds.
    pub unauthenticated_timeout_secs: u64,
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
    /// A WebSocket whose peer does not take one message within this time is
    /// closed (it stopped reading), in seconds.
    pub ws_write_timeout_secs: u64,
    /// On shutdown, how long running requests may take to finish, in seconds.
    pub shutdown_grace_secs: u64,
    /// Events queued for one subscriber before it is disconnected as too slow.
    pub event_queue: usize,
    /// Time limit of one iocage run (cli backend), in seconds.
    pub iocage_timeout_secs: u64,
    /// How long a listing of the jails is trusted to resolve jail names
    /// against changes made outside sysadmd (cli backend), in milliseconds;
    /// sysadmd's own changes are seen at once. 0: every change lists.
    pub iocage_inventory_ttl_ms: u64,
    /// How long the answer of a read is kept to answer identical reads with
    /// no iocage run (cli backend), in milliseconds; any change sysadmd
    /// finishes ends it at once, changes made outside sysadmd are seen up to
    /// this late. 0: every read runs iocage (identical concurrent reads still
    /// share one run).
    pub iocage_read_ttl_ms: u64,
    /// Stale-while-revalidate (cli backend), in milliseconds: for this long
    /// after `iocage_read_ttl_ms` a kept answer is still given at once while
    /// one background read replaces it. 0: off.
    pub iocage_read_stale_ms: u64,
    /// Time limit of the remote part of `listreleases` (Python `iocage list
    /// -R`, which goes to the network), in milliseconds; past it the local
    /// list is answered alone.
    pub iocage_remote_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_connections: 1024,
            max_unauthenticated: 512,
            max_unauthenticated_per_address: 128,
            unauthenticated_timeout_secs: 10,
            max_in_flight_per_connection: 32,
            header_timeout_secs: 10,
            tls_handshake_timeout_secs: 10,
            ws_idle_timeout_secs: 30 * 60,
            ws_auth_timeout_secs: 30,
            ws_write_timeout_secs: 30,
            shutdown_grace_secs: 30,
            event_queue: 256,
            iocage_timeout_secs: 600,
            iocage_inventory_ttl_ms: 2000,
            iocage_read_ttl_ms: 0,
            iocage_read_stale_ms: 0,
            iocage_remote_timeout_ms: 10_000,
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
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
    /// Failed logins for one user name, from anywhere, before it is guarded:
    /// then addresses it never logged in from get one try a second (0: never).
    pub user_max_failures: u32,
    /// Password checks per second for the whole server, from addresses the
    /// user never logged in from (0: no limit).
    pub password_checks_per_sec: u32,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            token_lifetime_secs: 900,
            max_failures: 5,
            failure_window_secs: 600,
            block_secs: 3600,
            user_max_failures: 20,
            password_checks_per_sec: 20,
        }
    }
}

/// The `[http]` table of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Web page origins (`https://admin.example.org`, `http://localhost:8080`)
    /// whose scripts may call the REST API with credentials (CORS). Empty by
    /// default: no CORS headers at all.
    pub allowed_origins: Vec<String>,
}

impl HttpSettings {
    /// Whether `origin` (an `Origin` header's value) is allowed. Scheme and
    /// host compare case-insensitively, as browsers send them in lower case.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }

    fn check(&self) -> Result<()> {
        for origin in &self.allowed_origins {
            check_origin(origin)?;
        }
        Ok(())
    }
}

/// An origin is `http://` or `https://`, a host, and an optional port: no
/// path, no wildcard (a wildcard cannot go with credentials).
fn check_origin(origin: &str) -> Result<()> {
    let accepted = "write an origin as scheme://host[:port], e.g. https://admin.example.org or http://localhost:8080";
    let host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let Some(host) = host else {
        bail!(
            "http.allowed_origins: '{}' has no http:// or https:// scheme; {accepted}",
            origin.escape_debug()
        );
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-.:[]".contains(&byte));
    if !host_ok {
        bail!(
            "http.allowed_origins: '{}' is not an origin (no path, query, trailing '/' or wildcard); {accepted}",
            origin.escape_debug()
        );
    }
    Ok(())
}

/// The `[sim]` table of the file: the simulated host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSettings {
    /// Every simulated operation takes at least this long, in milliseconds,
    /// so clients can be tried against work that takes time, as on a real host.
    pub latency_ms: u64,
}

/// The `[safety]` table of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetySettings {
    /// `destroyjail` and the `clean` actions need the `confirm` token of a
    /// dry run of the same request, sent within 60 s (else 409).
    pub confirm_destroy: bool,
}

/// The TOML file. Unknown keys are errors, so typos do not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<Vec<ListenAddr>>,
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
    #[serde(default)]
    http: HttpSettings,
    #[serde(default)]
    safety: SafetySettings,
    #[serde(default)]
    events: crate::eventlog::EventSettings,
    #[serde(default)]
    idempotency: crate::idempotency::IdempotencySettings,
    #[serde(default)]
    metrics: crate::metrics::MetricsSettings,
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
    /// HTTP settings (CORS).
    pub http: HttpSettings,
    /// Safety settings (confirmation of destruction).
    pub safety: SafetySettings,
    /// How many events are kept for resuming subscribers.
    pub events: crate::eventlog::EventSettings,
    /// How long idempotency keys are kept.
    pub idempotency: crate::idempotency::IdempotencySettings,
    /// Where metrics are served without authentication.
    pub metrics: crate::metrics::MetricsSettings,
}

impl Config {
    /// Resolves flags and environment (already merged by clap) over the file over the defaults.
    pub fn resolve(args: &ServeArgs) -> Result<Config> {
        let file = match args.config.as_deref().or(default_config_file()) {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let given = if !args.listen.is_empty() {
            args.listen.clone()
        } else if let Some(listen) = file.listen {
            listen
        } else {
            DEFAULT_LISTEN
                .iter()
                .map(|addr| addr.parse().expect("valid default address"))
                .collect()
        };
        // Every address given is bound, even twice (two `:0` are two ports).
        let mut listen = Vec::new();
        for addr in &given {
            listen.extend(addr.resolve()?);
        }
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
        if file.limits.max_unauthenticated == 0 || file.limits.max_unauthenticated_per_address == 0
        {
            bail!(
                "limits.max_unauthenticated and limits.max_unauthenticated_per_address must be positive"
            );
        }
        file.metrics.addresses()?;
        if file.events.keep == 0 {
            bail!(
                "events.keep must be positive: the last event is always kept, so seq never repeats"
            );
        }
        if file.limits.max_in_flight_per_connection == 0 || file.limits.event_queue == 0 {
            bail!("limits.max_in_flight_per_connection and limits.event_queue must be positive");
        }
        file.http.check()?;
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
            http: file.http,
            safety: file.safety,
            events: file.events,
            idempotency: file.idempotency,
            metrics: file.metrics,
            state_dir,
        })
    }
}

impl Config {
    /// Where sysadmd keeps its files, by name (`sysadmd paths`). The TLS
    /// certificate is left out when TLS is off.
    pub fn paths(&self) -> Vec<(PathName, PathBuf)> {
        let dir = &self.state_dir;
        let mut paths = vec![
            (PathName::StateDir, dir.clone()),
            (PathName::Users, dir.join(crate::auth::USERS_FILE)),
            (PathName::Keys, dir.join(crate::auth::KEYS_FILE)),
            (
                PathName::AdminPassword,
                dir.join(crate::auth::ADMIN_PASSWORD_FILE),
            ),
        ];
        match &self.tls {
            TlsChoice::Files { cert, .. } => paths.push((PathName::TlsCert, cert.clone())),
            TlsChoice::SelfSigned => {
                paths.push((PathName::TlsCert, crate::tls::self_signed_cert_path(dir)));
            }
            TlsChoice::Plaintext => {}
        }
        paths.push((PathName::AuditLog, self.audit_log.clone()));
        paths.push((PathName::Events, dir.join(crate::eventlog::EVENTS_FILE)));
        paths.push((
            PathName::Idempotency,
            dir.join(crate::idempotency::IDEMPOTENCY_FILE),
        ));
        paths.push((PathName::Simhost, dir.join("simhost")));
        paths
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

/// Where FreeBSD keeps a package's configuration (hier(7)): read when no
/// `--config` is given and the file exists. Elsewhere there is no default file.
pub const FREEBSD_CONFIG: &str = "/usr/local/etc/sysadmd/sysadmd.toml";

/// The configuration file read without `--config`: [`FREEBSD_CONFIG`] on
/// FreeBSD when it exists, else none.
pub fn default_config_file() -> Option<&'static Path> {
    let path = Path::new(FREEBSD_CONFIG);
    (cfg!(target_os = "freebsd") && path.is_file()).then_some(path)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The TOML sample under "## Configuration" in README.md, with the
    /// commented-out keys uncommented.
    fn readme_sample() -> toml::Table {
        let readme = include_str!("../../../README.md");
        let section = &readme[readme.find("## Configuration").expect("section")..];
        let block = section
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("a toml block");
        let uncommented: String = block
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") => rest,
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        toml::from_str(&uncommented).expect("the README sample is TOML")
    }

    #[test]
    fn the_readme_sample_configuration_lists_every_key_with_its_default() {
        let sample = readme_sample();
        // Every key parses as the server reads it (unknown keys are errors).
        let parsed: FileConfig = sample
            .clone()
            .try_into()
            .expect("the sample is a valid file");
        // A pattern without `..`: a new key fails to compile here until it is listed.
        let FileConfig {
            listen: _,
            state_dir: _,
            backend: _,
            iocage: _,
            iocage_flavour: _,
            tls_cert: _,
            tls_key: _,
            plaintext: _,
            insecure_plaintext_on_network: _,
            audit_log: _,
            limits: _,
            auth: _,
            sim: _,
            http: _,
            safety: _,
            events: _,
            idempotency: _,
            metrics: _,
        } = parsed;
        let top: Vec<&str> = sample.keys().map(String::as_str).collect();
        let mut expected = vec![
            "listen",
            "state_dir",
            "backend",
            "iocage",
            "iocage_flavour",
            "tls_cert",
            "tls_key",
            "plaintext",
            "insecure_plaintext_on_network",
            "audit_log",
            "limits",
            "auth",
            "sim",
            "http",
            "safety",
            "events",
            "idempotency",
            "metrics",
        ];
        let mut top_sorted = top.clone();
        top_sorted.sort_unstable();
        expected.sort_unstable();
        assert_eq!(top_sorted, expected, "top-level keys of the README sample");
        let table = |value: toml::Value| value.as_table().cloned().expect("a table");
        // sysadmd.toml(5) describes every key, with the same default.
        let page = include_str!("../../../packaging/man/sysadmd.toml.5");
        let described = |key: &str, default: &str| {
            page.lines()
                .any(|line| line.starts_with(&format!("\\fB{key}\\fR = {default}")))
        };
        for key in &expected {
            if ![
                "limits",
                "auth",
                "sim",
                "http",
                "safety",
                "events",
                "idempotency",
                "metrics",
            ]
            .contains(key)
            {
                assert!(
                    described(key, ""),
                    "sysadmd.toml(5) does not describe '{key}'"
                );
            }
        }
        for (name, defaults) in [
            ("limits", toml::Value::try_from(Limits::default()).unwrap()),
            (
                "auth",
                toml::Value::try_from(AuthSettings::default()).unwrap(),
            ),
            (
                "sim",
                toml::Value::try_from(SimSettings::default()).unwrap(),
            ),
            (
                "http",
                toml::Value::try_from(HttpSettings::default()).unwrap(),
            ),
            (
                "safety",
                toml::Value::try_from(SafetySettings::default()).unwrap(),
            ),
            (
                "events",
                toml::Value::try_from(crate::eventlog::EventSettings::default()).unwrap(),
            ),
            (
                "idempotency",
                toml::Value::try_from(crate::idempotency::IdempotencySettings::default()).unwrap(),
            ),
            (
                "metrics",
                toml::Value::try_from(crate::metrics::MetricsSettings::default()).unwrap(),
            ),
        ] {
            for (key, value) in table(defaults.clone()) {
                assert!(
                    described(&key, &value.to_string()),
                    "sysadmd.toml(5) must describe [{name}] {key} = {value}"
                );
            }
            assert_eq!(
                table(sample[name].clone()),
                table(defaults),
                "[{name}] in README.md must list every key with its default"
            );
        }
    }
}
