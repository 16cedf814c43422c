//! The `sysadmd` binary: parses the command line, installs logging, and runs
//! the server or a user-management command. Everything else is in the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use sysadmd::{Cli, Command, Config, LogTarget, PathName, shutdown_signal};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match Cli::try_parse_checked(std::env::args_os()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match cli.serve.log {
        LogTarget::Stderr => {
            // Colour only for a person at a terminal, and never with NO_COLOR
            // set (https://no-color.org): a log file or pipe gets plain text.
            let colour = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(colour)
                .with_writer(std::io::stderr)
                .init();
        }
        LogTarget::Syslog => {
            let Some(syslog) = syslog_tracing::Syslog::new(
                c"sysadmd",
                syslog_tracing::Options::LOG_PID,
                syslog_tracing::Facility::Daemon,
            ) else {
                eprintln!("sysadmd: cannot open syslog");
                return ExitCode::FAILURE;
            };
            // syslog stamps the time and host itself.
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .without_time()
                .with_writer(syslog)
                .init();
        }
    }
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
        Some(Command::Key { command }) => {
            return sysadmd::auth::run_key_command(
                &config.state_dir,
                command,
                &mut std::io::stdout().lock(),
            );
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
            print_generated_password: std::io::stdout().is_terminal(),
            ..Default::default()
        };
        let started = sysadmd::start(&config, options).await?;
        // Before the banner: once it is out, `service sysadmd reload` works.
        let reloader = started.reloader(cli.serve.clone());
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        for line in &started.banner {
            say(line);
        }
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                let reloader = reloader.clone();
                // Files are read and a certificate may be parsed: off the async workers.
                let _ = tokio::task::spawn_blocking(move || reloader.reload_and_log()).await;
            }
        });
        started.server.run(shutdown_signal()).await;
        say("sysadmd stopped");
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

/// Prints a line on standard output, if anyone still reads it: a closed pipe
/// (the banner's reader went away, or rc(8) closed it) must never stop the server.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}
