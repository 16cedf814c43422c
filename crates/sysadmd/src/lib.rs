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
mod events;
mod http;
mod jobs;
mod server;
mod tls;
mod ws;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use iocage_service::{Backend, BackendError, CliBackend, IocageService, Runner, SimBackend};

pub use app::App;
pub use config::{
    AuthSettings, BackendChoice, Cli, Command, Config, DEFAULT_LISTEN, Limits, ServeArgs,
    SimSettings, TlsChoice, default_state_dir,
};
pub use events::EventHub;
pub use jobs::{Audit, Jobs};
pub use server::Server;
pub use tls::{TlsInfo, fingerprint};

/// A server ready to run, with what a person should be told about it.
#[derive(Debug)]
pub struct Started {
    /// The bound server.
    pub server: Server,
    /// The lines to print at start-up.
    pub banner: Vec<String>,
}

/// What [`start`] takes besides the configuration.
#[derive(Default)]
pub struct StartOptions {
    /// Serve this backend instead of the one the configuration chooses (tests).
    pub backend: Option<Arc<dyn Backend>>,
    /// The first admin's password when no users file exists yet
    /// (`SYSADMD_ADMIN_PASSWORD`); generated when `None`.
    pub admin_password: Option<String>,
}

impl std::fmt::Debug for StartOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartOptions")
            .field("backend", &self.backend.as_ref().map(|_| "<custom>"))
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Builds and binds everything `config` describes. Start-up problems come
/// back as one error that names the problem.
pub async fn start(config: &Config, options: StartOptions) -> Result<Started> {
    create_private_dir(&config.state_dir)?;
    let (backend, backend_line) = match options.backend {
        Some(backend) => (
            backend,
            "serving a backend supplied by the caller".to_owned(),
        ),
        None => backend(config).await?,
    };
    let service = IocageService::new(backend);

    let auth_config = auth::AuthConfig {
        token_lifetime: std::time::Duration::from_secs(config.auth.token_lifetime_secs),
        max_failures: config.auth.max_failures,
        failure_window: std::time::Duration::from_secs(config.auth.failure_window_secs),
        block_duration: std::time::Duration::from_secs(config.auth.block_secs),
        ..auth::AuthConfig::default()
    };
    let (auth, first_start) = auth::Auth::open_with_admin_password(
        &config.state_dir,
        auth_config,
        options.admin_password,
    )?;
    let audit = Audit::open(&config.audit_log)?;
    let jobs = Jobs::new(EventHub::default(), audit);
    let auth = Arc::new(auth);
    let app = App::new(service, auth, jobs, config.limits.clone());
    app.connect_audit();

    let tls = tls::server_config(&config.tls, &config.state_dir)?;
    let server = Server::bind(
        app,
        &config.listen,
        tls.as_ref().map(|(config, _)| config.clone()),
    )
    .await?;

    let mut banner = vec![format!(
        "sysadmd {} {backend_line}",
        env!("CARGO_PKG_VERSION")
    )];
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
    let users = config.state_dir.join("users.toml");
    match first_start {
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
        None => banner.push(format!(
            "users are in {}; manage them with `sysadmd user --help`",
            users.display()
        )),
    }
    banner.push(format!("audit log: {}", config.audit_log.display()));
    Ok(Started { server, banner })
}

/// Chooses the backend and says why, for the start-up message. The CLI
/// backend asks iocage for its flavour now (unless configured), so that a
/// program that is not iocage stops the start instead of failing every request.
async fn backend(config: &Config) -> Result<(Arc<dyn Backend>, String)> {
    let sim = |why: &str| -> Result<(Arc<dyn Backend>, String)> {
        let dir = config.state_dir.join("simhost");
        let backend = SimBackend::open(&dir)
            .map_err(|error| anyhow::anyhow!("{error}"))?
            .with_delay(std::time::Duration::from_millis(config.sim.latency_ms));
        Ok((
            Arc::new(backend),
            format!(
                "serving the simulated iocage host ({why}); its state is in {}",
                dir.display()
            ),
        ))
    };
    let cli = |program: std::path::PathBuf, why: String| async move {
        let runner = Runner::new(&program).timeout(std::time::Duration::from_secs(
            config.limits.iocage_timeout_secs,
        ));
        let backend = CliBackend::new(runner, config.iocage_flavour);
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
        anyhow::Ok((Arc::new(backend) as Arc<dyn Backend>, line))
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

/// Creates the state directory, readable by its owner only.
fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create state directory {}", dir.display()))
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
