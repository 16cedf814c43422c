//! The `sysadmd` binary: parses the command line, installs logging, and runs
//! the server or a user-management command. Everything else is in the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use sysadmd::{Cli, Command, Config, PathName, shutdown_signal};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match Cli::try_parse_checked(std::env::args_os()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    // Colour only for a person at a terminal, and never with NO_COLOR set
    // (https://no-color.org): a log file or pipe gets plain text.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(colour)
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
    // One resolution for every command, so --config and --state-dir mean
    // the same wherever they are given.
    let config = Config::resolve(&cli.serve)?;
    match cli.command {
        Some(Command::User { command }) => {
            return sysadmd::auth::run_user_command(&config.state_dir, command);
        }
        Some(Command::Paths { which }) => {
            print_paths(&config, which);
            return Ok(());
        }
        Some(Command::Unblock { addrs, all }) => {
            sysadmd::auth::request_unblock(&config.state_dir, &addrs, all)?;
            let what = if all {
                "every block".to_owned()
            } else {
                addrs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            println!(
                "asked the server on {} to lift {what}; it does so at its next request (within a second)",
                config.state_dir.display()
            );
            return Ok(());
        }
        Some(Command::Serve) | None => {}
    }
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

/// `sysadmd paths [WHICH]`: one path, or every path with its name.
fn print_paths(config: &Config, which: Option<PathName>) {
    let paths = config.paths();
    match which {
        Some(which) => {
            if let Some((_, path)) = paths.iter().find(|(name, _)| *name == which) {
                println!("{}", path.display());
            }
        }
        None => {
            for (name, path) in &paths {
                let name = clap::ValueEnum::to_possible_value(name)
                    .map(|value| value.get_name().to_owned())
                    .unwrap_or_default();
                let absent = if path.exists() { "" } else { " (absent)" };
                println!("{name:<15}{}{absent}", path.display());
            }
        }
    }
}
