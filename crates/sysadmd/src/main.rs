//! The `sysadmd` binary: parses the command line, installs logging, and runs
//! the server or a user-management command. Everything else is in the library.

use std::process::ExitCode;

use clap::Parser;
use sysadmd::{Cli, Command, Config, shutdown_signal};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sysadmd: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let serve = match cli.command {
        Some(Command::User { state_dir, command }) => {
            let state_dir = match state_dir {
                Some(dir) => dir,
                None => sysadmd::default_state_dir()?,
            };
            return sysadmd::auth::run_user_command(&state_dir, command);
        }
        Some(Command::Serve(args)) => args,
        None => cli.serve,
    };
    let config = Config::resolve(&serve)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let options = sysadmd::StartOptions {
            admin_password: std::env::var("SYSADMD_ADMIN_PASSWORD").ok(),
            ..Default::default()
        };
        let started = sysadmd::start(&config, options).await?;
        for line in &started.banner {
            println!("{line}");
        }
        started.server.run(shutdown_signal()).await;
        println!("sysadmd stopped");
        Ok(())
    })
}
