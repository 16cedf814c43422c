//! The manual pages in `packaging/man/`: sysadmd(8) is generated from the
//! clap definition (so its options never drift from `--help`) followed by
//! the hand-written sections in `sysadmd.8.in`; sysadmd.toml(5) is written
//! by hand, and a unit test in `config.rs` checks that it names every key.
//! Every page must pass `mandoc -Tlint`.
//!
//! `SYSADMD_UPDATE_MAN=1 cargo test -p sysadmd --test man` (or `cargo xtask man`)
//! writes sysadmd.8 again after the options change.
//! Needs `mandoc` (Debian's package; `.ci/run` installs it): fails, never skips, without it.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;

/// The pages' date: the last time their text changed.
const MAN_DATE: &str = "2026-12-02";

fn man_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/man")
}

fn render_sysadmd_8() -> String {
    let command = sysadmd::Cli::command();
    let man = clap_mangen::Man::new(command)
        .section("8")
        .manual("System Manager's Manual")
        .date(MAN_DATE)
        .source(format!("sysadmd {}", env!("CARGO_PKG_VERSION")));
    let mut page = Vec::new();
    man.render_title(&mut page).unwrap();
    man.render_name_section(&mut page).unwrap();
    man.render_synopsis_section(&mut page).unwrap();
    man.render_description_section(&mut page).unwrap();
    man.render_options_section(&mut page).unwrap();
    man.render_subcommands_section(&mut page).unwrap();
    // clap_mangen puts a blank line (a paragraph break) between two line
    // breaks before "Possible values"; mandoc -Tlint warns that the breaks
    // are skipped. One break says the same.
    let mut page = String::from_utf8(page)
        .unwrap()
        .replace(".br\n\n.br\n", ".br\n");
    page.push_str(&std::fs::read_to_string(man_dir().join("sysadmd.8.in")).unwrap());
    page
}

#[test]
fn sysadmd_8_is_generated_from_the_current_options() {
    let path = man_dir().join("sysadmd.8");
    let page = render_sysadmd_8();
    if std::env::var_os("SYSADMD_UPDATE_MAN").is_some() {
        std::fs::write(&path, &page).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == page,
        "{} is out of date: run `cargo xtask man`",
        path.display()
    );
}

#[test]
fn every_page_passes_mandoc_lint() {
    for page in ["sysadmd.8", "sysadmd.toml.5"] {
        let path = man_dir().join(page);
        let output = Command::new("mandoc")
            .args(["-Tlint", "-Wwarning"])
            .arg(&path)
            .output()
            .expect("mandoc is needed for this test (apt-get install mandoc); .ci/run installs it");
        assert!(
            output.status.success() && output.stdout.is_empty(),
            "mandoc -Tlint {page}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
