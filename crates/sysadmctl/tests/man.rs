//! sysadmctl(1) in `packaging/man/` is generated from the clap definition
//! (so its options never drift from `--help`), followed by the hand-written
//! sections in `sysadmctl.1.in`, and must pass `mandoc -Tlint`.
//!
//! `SYSADMD_UPDATE_MAN=1 cargo test -p sysadmctl --test man` (or `cargo xtask man`)
//! writes it again after the options change. Needs `mandoc` (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;

/// The page's date: the last time its text changed.
const MAN_DATE: &str = "2026-12-02";

fn man_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/man")
}

fn render() -> String {
    let man = clap_mangen::Man::new(sysadmctl::cli::Cli::command())
        .section("1")
        .manual("General Commands Manual")
        .date(MAN_DATE)
        .source(format!("sysadmctl {}", env!("CARGO_PKG_VERSION")));
    let mut page = Vec::new();
    man.render_title(&mut page).unwrap();
    man.render_name_section(&mut page).unwrap();
    man.render_synopsis_section(&mut page).unwrap();
    man.render_description_section(&mut page).unwrap();
    man.render_options_section(&mut page).unwrap();
    man.render_subcommands_section(&mut page).unwrap();
    let mut page = String::from_utf8(page)
        .unwrap()
        .replace(".br\n\n.br\n", ".br\n");
    page.push_str(&std::fs::read_to_string(man_dir().join("sysadmctl.1.in")).unwrap());
    page
}

#[test]
fn sysadmctl_1_is_generated_from_the_current_options_and_passes_mandoc_lint() {
    let path = man_dir().join("sysadmctl.1");
    let page = render();
    if std::env::var_os("SYSADMD_UPDATE_MAN").is_some() {
        std::fs::write(&path, &page).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == page,
        "{} is out of date: run `cargo xtask man`",
        path.display()
    );
    let output = Command::new("mandoc")
        .args(["-Tlint", "-Wwarning"])
        .arg(&path)
        .output()
        .expect("mandoc is needed for this test (apt-get install mandoc); .ci/run installs it");
    assert!(
        output.status.success() && output.stdout.is_empty(),
        "mandoc -Tlint sysadmctl.1:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
