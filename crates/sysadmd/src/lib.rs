//! sysadmd: serves the `sysadm/iocage` API over REST and WebSocket, with TLS
//! by default, authentication, jobs and events.
//!
//! The daemon is thin: [`App`] turns a request into a call on
//! `iocage_service::IocageService`, and [`Server`] turns connections into
//! requests. [`start`] wires everything from a [`Config`]; tests build the
//! same pieces with port 0 and read the bound addresses back.
#![deny(missing_docs)]

pub mod auth;

mod app;
mod config;
mod eventlog;
mod events;
mod http;
mod idempotency;
mod jobs;
mod keys_api;
mod lanes;
mod metrics;
mod modes;
mod ops;
mod reload;
mod server;
mod slots;
mod tls;
mod ws;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use iocage_service::{
    Backend, BackendError, CliBackend, IocageService, Runner, ServiceOptions, SimBackend,
};

pub use app::App;
pub use config::{
    AuthSettings, BackendChoice, Cli, Command, Config, DEFAULT_LISTEN, FREEBSD_CONFIG,
    HttpSettings, Limits, ListenAddr, ListenAddrError, LogTarget, PathName, SafetySettings,
    ServeArgs, SimSettings, TlsChoice, default_config_file, default_state_dir,
};
pub use eventlog::EventSettings;
pub use events::EventHub;
pub use idempotency::IdempotencySettings;
pub use jobs::{Audit, Jobs};
pub use metrics::MetricsSettings;
pub use reload::{Reloaded, Reloader};
pub use server::Server;
pub use tls::{TlsInfo, fingerprint};

/// A server ready to run, with what a person should be told about it.
#[derive(Debug)]
pub struct Started {
    /// The bound server.
    pub server: Server,
    /// The lines to print at start-up.
    pub banner: Vec<String>,
    /// The configuration it runs with.
    pub config: Config,
}

impl Started {
    /// A handle that reloads this server (SIGHUP) by resolving `args`
    /// (the command line it was started with) again.
    pub fn reloader(&self, args: ServeArgs) -> Reloader {
        Reloader::new(
            self.server.app(),
            self.server.tls_swap(),
            args,
            self.config.clone(),
        )
    }
}

/// What [`start`] takes besides the configuration.
#[derive(Default)]
pub struct StartOptions {
    /// Serve this backend instead of the one the configuration chooses (tests).
    pub backend: Option<Arc<dyn Backend>>,
    /// The first admin's password when no users file exists yet
    /// (`SYSADMD_ADMIN_PASSWORD`); generated when `None`.
    pub admin_password: Option<String>,
    /// Whether a generated password may appear in the banner. Only for a
    /// person at a terminal: under rc(8) the banner goes to syslog, whose
    /// files others may read, so then only the password file is named.
    pub print_generated_password: bool,
}

impl std::fmt::Debug for StartOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartOptions")
            .field("backend", &self.backend.as_ref().map(|_| "<custom>"))
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<redacted>"),
            )
            .field("print_generated_password", &self.print_generated_password)
            .finish()
    }
}

/// Builds and binds everything `config` describes. Start-up problems come
/// back as one error that names the problem.
///
/// The order matters: the certificate, the listening sockets, the backend
/// and the audit log are known good before the first user is created, so a
/// start that fails never leaves an `admin` whose generated password nobody saw.
pub async fn start(config: &Config, options: StartOptions) -> Result<Started> {
    modes::create_private_dir(&config.state_dir)?;
    // As sshd's StrictModes: a directory others can write lets them replace users.toml.
    modes::check_private(&config.state_dir, "state directory")?;
    let tls = tls::server_config(&config.tls, &config.state_dir)?;
    match &config.tls {
        TlsChoice::Plaintext => {}
        TlsChoice::Files { key, .. } => modes::check_private(key, "TLS key")?,
        TlsChoice::SelfSigned => {
            let dir = config.state_dir.join("tls");
            modes::check_private(&dir, "TLS directory")?;
            modes::check_private(&dir.join("key.pem"), "TLS key")?;
        }
    }
    let listeners = server::bind_listeners(&config.listen).await?;
    let runs = metrics::IocageRuns::default();
    let mut metrics_listeners = Vec::new();
    for addr in config.metrics.addresses()? {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (metrics.listen)"))?;
        metrics_listeners.push(listener);
    }
    let (backend, backend_line, service_options) = match options.backend {
        Some(backend) => (
            backend,
            "serving a backend supplied by the caller".to_owned(),
            ServiceOptions::default(),
        ),
        None => backend(config, &runs).await?,
    };
    let service = IocageService::with_options(backend, service_options);
    let audit = Audit::open(&config.audit_log)?;

    let auth_config = auth::AuthConfig {
        token_lifetime: std::time::Duration::from_secs(config.auth.token_lifetime_secs),
        max_failures: config.auth.max_failures,
        failure_window: std::time::Duration::from_secs(config.auth.failure_window_secs),
        block_duration: std::time::Duration::from_secs(config.auth.block_secs),
        user_max_failures: config.auth.user_max_failures,
        password_checks_per_sec: config.auth.password_checks_per_sec,
        ..auth::AuthConfig::default()
    };
    let (auth, first_start) = auth::Auth::open_with_admin_password(
        &config.state_dir,
        auth_config,
        options.admin_password,
    )?;
    let events = EventHub::persistent(
        &config.state_dir.join(eventlog::EVENTS_FILE),
        config.events.clone(),
    )?;
    let jobs = Jobs::new(events, audit);
    let auth = Arc::new(auth);
    let app = App::new(
        service,
        auth,
        jobs,
        config.limits.clone(),
        config.http.clone(),
    );
    app.connect_audit();
    app.metrics.add_iocage_runs(&runs);
    let metrics_addrs: Vec<std::net::SocketAddr> = metrics_listeners
        .iter()
        .filter_map(|listener| listener.local_addr().ok())
        .collect();
    metrics::serve_unauthenticated(&app, metrics_listeners);
    app.ops.set_confirm_destroy(config.safety.confirm_destroy);
    app.keys.load(
        &config.state_dir.join(idempotency::IDEMPOTENCY_FILE),
        &config.idempotency,
    )?;
    let server = Server::from_listeners(
        app,
        listeners,
        tls.as_ref().map(|(config, _)| config.clone()),
    );

    let mut banner = vec![format!(
        "sysadmd {} {backend_line}",
        env!("CARGO_PKG_VERSION")
    )];
    banner.push(format!(
        "state directory: {} (`sysadmd paths` lists the files in it)",
        config.state_dir.display()
    ));
    let (http, ws) = if server.is_tls() {
        ("https", "wss")
    } else {
        ("http", "ws")
    };
    for addr in server.local_addrs() {
        banner.push(format!(
            "listening on {http}://{addr}/ (REST) and {ws}://{addr}/ (WebSocket)"
        ));
    }
    match &tls {
        Some((_, info)) => banner.push(format!(
            "TLS certificate {}{}, SHA-256 fingerprint {}",
            info.cert_path.display(),
            if info.generated {
                " (generated now)"
            } else {
                ""
            },
            info.fingerprint
        )),
        None => banner.push("TLS is off (--plaintext)".to_owned()),
    }
    let users = config.state_dir.join(auth::USERS_FILE);
    let password_file = config.state_dir.join(auth::ADMIN_PASSWORD_FILE);
    match first_start {
        Some(auth::FirstStart {
            user,
            password_file: Some(file),
            generated_password: Some(_),
        }) if !options.print_generated_password => banner.push(format!(
            "created user '{user}' with a generated password, in {} (readable by you only; not \
             printed here, as standard output is not a terminal); manage users with `sysadmd user --help`",
            file.display()
        )),
        Some(auth::FirstStart {
            user,
            password_file: Some(file),
            generated_password: Some(password),
        }) => banner.push(format!(
            "created user '{user}' with password {password} (also in {}, readable by you only); \
             manage users with `sysadmd user --help`",
            file.display()
        )),
        Some(auth::FirstStart { user, .. }) => banner.push(format!(
            "created user '{user}' with the password from SYSADMD_ADMIN_PASSWORD; users are in {}",
            users.display()
        )),
        None if password_file.exists() => banner.push(format!(
            "the first password of '{}' is in {}; the file goes when you change it with \
             `sysadmd user passwd {}`",
            auth::FIRST_USER,
            password_file.display(),
            auth::FIRST_USER
        )),
        None => banner.push(format!(
            "users are in {}; manage them with `sysadmd user --help`",
            users.display()
        )),
    }
    for addr in metrics_addrs {
        banner.push(format!(
            "metrics without authentication on http://{addr}/metrics"
        ));
    }
    banner.push(format!("audit log: {}", config.audit_log.display()));
    Ok(Started {
        server,
        banner,
        config: config.clone(),
    })
}

/// Chooses the backend and says why, for the start-up message. The CLI
/// backend asks iocage for its flavour now (unless configured), so that a
/// program that is not iocage stops the start instead of failing every request.
/// The backend the configuration asks for, the banner line that names it,
/// and how the service should use it: a real iocage is costly to run, so
/// jail names are resolved from the inventory within its freshness window.
async fn backend(
    config: &Config,
    runs: &metrics::IocageRuns,
) -> Result<(Arc<dyn Backend>, String, ServiceOptions)> {
    let sim = |why: &str| -> Result<(Arc<dyn Backend>, String, ServiceOptions)> {
        let dir = config.state_dir.join("simhost");
        modes::create_private_dir(&dir)?;
        let backend = SimBackend::open(&dir)
            .map_err(|error| anyhow::anyhow!("{error}"))?
            .with_delay(std::time::Duration::from_millis(config.sim.latency_ms));
        Ok((
            Arc::new(backend),
            format!(
                "serving the simulated iocage host ({why}); its state is in {}",
                dir.display()
            ),
            ServiceOptions::default(),
        ))
    };
    let cli = |program: std::path::PathBuf, why: String| async move {
        let runner = Runner::new(&program).timeout(std::time::Duration::from_secs(
            config.limits.iocage_timeout_secs,
        ));
        let backend = CliBackend::new(runner, config.iocage_flavour)
            .with_remote_timeout(std::time::Duration::from_millis(
                config.limits.iocage_remote_timeout_ms,
            ))
            .observe(runs.observer());
        let version = backend.version().await.map_err(|error| match error {
            // A version that is not driven: one line naming it and the
            // supported ones.
            BackendError::Unavailable(refusal) => {
                anyhow::anyhow!("{}: {refusal}", program.display())
            }
            error => anyhow::anyhow!(
                "{} does not answer like iocage (`{} --version`): {error}",
                program.display(),
                program.display()
            ),
        })?;
        let flavour = backend.flavour().await?;
        let how = match &version {
            Some(version) => format!("detected: {version}"),
            None => "configured".to_owned(),
        };
        let line = format!(
            "serving iocage at {} ({why}), the {flavour} flavour ({how})",
            program.display()
        );
        let options = ServiceOptions {
            inventory_ttl: std::time::Duration::from_millis(config.limits.iocage_inventory_ttl_ms),
            read_ttl: std::time::Duration::from_millis(config.limits.iocage_read_ttl_ms),
            read_stale: std::time::Duration::from_millis(config.limits.iocage_read_stale_ms),
        };
        anyhow::Ok((Arc::new(backend) as Arc<dyn Backend>, line, options))
    };
    match config.backend {
        BackendChoice::Sim => sim("--backend sim"),
        BackendChoice::Cli => match find_iocage(config.iocage.as_deref()) {
            Some(program) => cli(program, "--backend cli".to_owned()).await,
            None => bail!(
                "--backend cli: no iocage program on PATH; install iocage or give --iocage PATH"
            ),
        },
        BackendChoice::Auto => match find_iocage(config.iocage.as_deref()) {
            Some(program) => cli(program, "found iocage".to_owned()).await,
            None => sim("no iocage program on PATH"),
        },
    }
}

/// The iocage program: the configured path, or `iocage` on PATH.
fn find_iocage(configured: Option<&Path>) -> Option<std::path::PathBuf> {
    if let Some(path) = configured {
        return Some(path.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("iocage"))
        .find(|candidate| candidate.is_file())
}

/// Waits for SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
