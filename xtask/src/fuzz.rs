//! `cargo xtask fuzz [--seconds N] [TARGET...]`: runs the cargo-fuzz targets
//! of `fuzz/` (one per `iocage-cli` parser, and the request envelope) with
//! libFuzzer, each for N seconds, seeded with the fixtures that parser is
//! tested on.
//!
//! The short, always-on version of the same checks is the proptest suite that
//! `cargo xtask ci` runs; this task is for running longer. It installs
//! cargo-fuzz when it is missing, and uses the nightly toolchain when rustup
//! has one; otherwise it lets the stable compiler accept libFuzzer's
//! sanitizer flags with `RUSTC_BOOTSTRAP=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::run;

/// Seconds per target when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 60;

/// Each target and the fixture folders (under `fixtures/`) that seed it.
const TARGETS: [(&str, &[&str]); 16] = [
    ("list", &["iocage/legacy/list", "iocage/python/list"]),
    (
        "releases",
        &["iocage/legacy/list-releases", "iocage/python/list-releases"],
    ),
    ("remote_releases", &["iocage/python/list-remote"]),
    ("plugins", &["iocage/python/list-plugins"]),
    ("df", &["iocage/legacy/df", "iocage/python/df"]),
    ("get_value", &["iocage/legacy/get", "iocage/python/get"]),
    (
        "get_all",
        &["iocage/legacy/get-all", "iocage/python/get-all"],
    ),
    ("defaults", &["iocage/legacy/defaults"]),
    (
        "get_recursive",
        &["iocage/legacy/get-recursive", "iocage/python/get-recursive"],
    ),
    (
        "start_stop",
        &[
            "iocage/legacy/start",
            "iocage/legacy/stop",
            "iocage/python/start",
            "iocage/python/stop",
        ],
    ),
    (
        "create",
        &[
            "iocage/legacy/create",
            "iocage/legacy/clone",
            "iocage/python/create",
            "iocage/python/clone",
        ],
    ),
    (
        "destroy",
        &["iocage/legacy/destroy", "iocage/python/destroy"],
    ),
    (
        "activate",
        &["iocage/legacy/activate", "iocage/python/activate"],
    ),
    ("pool", &["iocage/legacy/pool", "iocage/python/pool"]),
    ("messages", &["iocage"]),
    ("envelope", &["api"]),
];

const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [TARGET...]";

pub(crate) fn fuzz(root: &Path, args: &[String]) -> Result<()> {
    let (seconds, chosen) = parse_args(args)?;
    let fuzz_dir = root.join("fuzz");
    check_targets_match(&fuzz_dir)?;
    ensure_cargo_fuzz(root)?;
    let nightly = has_nightly();
    if !nightly {
        eprintln!(
            "note: no nightly toolchain; building with stable and RUSTC_BOOTSTRAP=1 \
             for libFuzzer's -Z flags"
        );
    }
    let max_time = format!("-max_total_time={seconds}");
    for (target, seeds) in TARGETS
        .iter()
        .filter(|(name, _)| chosen.is_empty() || chosen.iter().any(|c| c == name))
    {
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .with_context(|| format!("could not create {}", corpus.display()))?;
        let mut command = Command::new("cargo");
        if nightly {
            command.arg("+nightly");
        } else {
            command.env("RUSTC_BOOTSTRAP", "1");
        }
        command
            .args(["fuzz", "run", target])
            .arg(&corpus)
            // libFuzzer reads every further folder as read-only seeds, recursively.
            .args(existing_seeds(root, seeds))
            .args(["--", &max_time])
            .current_dir(root);
        eprintln!("$ cargo fuzz run {target} ... -- {max_time}");
        let status = command.status().context("could not start cargo fuzz")?;
        if !status.success() {
            bail!(
                "fuzz target '{target}' failed ({status}); the input that broke it is in \
                 fuzz/artifacts/{target}/, and `cargo fuzz fmt {target} <file>` shows it"
            );
        }
    }
    Ok(())
}

/// `--seconds N` and target names; an unknown name lists the known ones.
fn parse_args(args: &[String]) -> Result<(u64, Vec<String>)> {
    let mut seconds = DEFAULT_SECONDS;
    let mut chosen = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args
                    .next()
                    .with_context(|| format!("--seconds needs a number\n{USAGE}"))?;
                seconds = value.parse().ok().filter(|&n| n > 0).with_context(|| {
                    format!("--seconds takes a whole number above 0, not '{value}'")
                })?;
            }
            "-h" | "--help" => {
                println!("{USAGE}\ntargets: {}", target_names());
                std::process::exit(0);
            }
            name if TARGETS.iter().any(|(target, _)| *target == name) => {
                chosen.push(name.to_owned());
            }
            other => bail!(
                "unknown fuzz target '{other}'; the targets are: {}\n{USAGE}",
                target_names()
            ),
        }
    }
    Ok((seconds, chosen))
}

fn target_names() -> String {
    TARGETS.map(|(name, _)| name).join(", ")
}

/// The table above and `fuzz/fuzz_targets/` name the same targets.
fn check_targets_match(fuzz_dir: &Path) -> Result<()> {
    let folder = fuzz_dir.join("fuzz_targets");
    let mut on_disk: Vec<String> = std::fs::read_dir(&folder)
        .with_context(|| format!("could not read {}", folder.display()))?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            Some(name.strip_suffix(".rs")?.to_owned())
        })
        .collect();
    on_disk.sort();
    let mut known: Vec<String> = TARGETS.iter().map(|(name, _)| name.to_string()).collect();
    known.sort();
    if on_disk != known {
        bail!("xtask's fuzz table lists {known:?} but fuzz/fuzz_targets has {on_disk:?}");
    }
    Ok(())
}

fn existing_seeds(root: &Path, seeds: &[&str]) -> Vec<PathBuf> {
    seeds
        .iter()
        .map(|seed| root.join("fixtures").join(seed))
        .filter(|path| path.is_dir())
        .collect()
}

fn ensure_cargo_fuzz(root: &Path) -> Result<()> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if installed {
        return Ok(());
    }
    run(root, "cargo", &["install", "cargo-fuzz", "--locked"])
}

fn has_nightly() -> bool {
    Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
