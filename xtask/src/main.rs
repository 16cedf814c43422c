//! Developer tasks for the workspace, run as `cargo xtask <task>` (see `.cargo/config.toml`).
//!
//! Tasks are plain Rust so that they work the same on every machine and in CI,
//! with no shell scripts. `ci` and `bench` need only the Rust toolchain;
//! `fuzz` also installs cargo-fuzz and builds libFuzzer with the C++ compiler.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod bench;
mod fixtures;
mod fuzz;
mod port;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci         cargo fmt --check, cargo clippy -D warnings, and the whole test suite
  fixtures   regenerate fixtures/api/ from the API documents in ../shared/spec
  bench      benchmarks against baselines in the same run; writes BENCHMARKS.md
  fuzz       [--seconds N] [TARGET...] the cargo-fuzz targets of fuzz/, N seconds each
  man        regenerate packaging/man/sysadmd.8 and sysadmctl.1 from the command-line definitions
  port       regenerate the FreeBSD port's CARGO_CRATES (packaging/freebsd/port/Makefile.crates)
";

fn main() -> std::process::ExitCode {
    // One line, never anyhow's backtrace (RUST_BACKTRACE=1 would print 20
    // frames of xtask itself): the failing command already printed its story.
    match task() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn task() -> Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("ci") => ci(),
        Some("fixtures") => fixtures::regenerate(&workspace_root()),
        Some("bench") => bench::bench(&workspace_root()),
        Some("fuzz") => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            fuzz::fuzz(&workspace_root(), &args)
        }
        Some("man") => {
            let root = workspace_root();
            for package in ["sysadmd", "sysadmctl"] {
                let status = Command::new("cargo")
                    .args(["test", "-p", package, "--test", "man"])
                    .env("SYSADMD_UPDATE_MAN", "1")
                    .current_dir(&root)
                    .status()
                    .context("could not start cargo")?;
                if !status.success() {
                    bail!("regenerating the manual pages of {package} failed: {status}");
                }
            }
            Ok(())
        }
        Some("port") => port::write(&workspace_root()),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown task '{other}'\n{USAGE}"),
    }
}

/// The workspace root: the parent of this crate's manifest directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Runs every check CI runs, in the order that fails fastest.
fn ci() -> Result<()> {
    let root = workspace_root();
    run(&root, "cargo", &["fmt", "--all", "--check"])?;
    run(
        &root,
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // The fuzz targets are their own workspace (libFuzzer is not needed to
    // check them): keep them formatted and compiling.
    let fuzz = ["--manifest-path", "fuzz/Cargo.toml"];
    run(&root, "cargo", &[&["fmt", "--check"][..], &fuzz].concat())?;
    run(
        &root,
        "cargo",
        &[&["clippy"][..], &fuzz, &["--bins", "--", "-D", "warnings"]].concat(),
    )?;
    run(&root, "cargo", &["test", "--workspace", "--all-targets"])?;
    // Doc tests are not part of --all-targets.
    run(&root, "cargo", &["test", "--workspace", "--doc"])?;
    Ok(())
}

pub(crate) fn run(dir: &Path, program: &str, args: &[&str]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .with_context(|| format!("could not start {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed: {status}", args.join(" "));
    }
    Ok(())
}
