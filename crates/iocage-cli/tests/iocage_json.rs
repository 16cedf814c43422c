//! The `iocage-json` binary as a real process: JSON and exit 0 on good
//! input, a one-line error naming the line and exit 1 on bad input, exit 2
//! on usage errors.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iocage-json"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

const LEGACY_LIST: &str = "JID  UUID                                  BOOT  STATE  TAG    TYPE      IP4\n\
                           3    0bf985de-ca0f-11e5-8d45-d05099728dbf  on    up     www01  basejail  192.168.1.10\n";

#[test]
fn a_legacy_list_becomes_json_with_numeric_jids() {
    let out = run(&["list"], LEGACY_LIST);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["value"]["jails"][0]["jid"], 3);
    assert_eq!(json["value"]["jails"][0]["tag"], "www01");
    assert_eq!(json["messages"], serde_json::json!([]));
}

#[test]
fn lines_around_a_table_are_printed_under_messages() {
    let input =
        format!("Setting up zpool [tank] for iocage usage...\n{LEGACY_LIST}oops, a notice\n");
    let out = run(&["list"], &input);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["value"]["jails"][0]["tag"], "www01");
    assert_eq!(
        json["messages"],
        serde_json::json!([
            {"level": "info", "text": "Setting up zpool [tank] for iocage usage..."},
            {"level": "plain", "text": "oops, a notice"},
        ])
    );
}

#[test]
fn get_all_keeps_colons_in_values_and_the_order_of_keys() {
    let out = run(
        &["get-all", "--flavour", "legacy"],
        "tag:2016-02-09@23:47:04\nmemoryuse:8G:log\n",
    );
    assert_eq!(out.status.code(), Some(0));
    // iocage's order, not sorted: a regression test for keys sorted by a JSON map.
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "{\"value\":{\"tag\":\"2016-02-09@23:47:04\",\"memoryuse\":\"8G:log\"},\"messages\":[]}\n"
    );
}

#[test]
fn unparseable_input_exits_1_with_one_line_naming_the_line() {
    // A line inside the table (a row follows it) that is no row.
    let row = LEGACY_LIST.lines().nth(1).unwrap();
    let out = run(&["list"], &format!("{LEGACY_LIST}3x  garbage\n{row}\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("line 3") && stderr.contains("3x  garbage"),
        "{stderr}"
    );
}

#[test]
fn a_flavour_that_contradicts_the_input_exits_1() {
    let out = run(&["list", "--flavour=python"], LEGACY_LIST);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&[], "").status.code(), Some(2));
    assert_eq!(run(&["frobnicate"], "").status.code(), Some(2));
    assert_eq!(
        run(&["list", "--flavour", "perl"], "").status.code(),
        Some(2)
    );
    assert_eq!(run(&["list", "--flavour"], "").status.code(), Some(2));
    assert_eq!(run(&["list", "df"], "").status.code(), Some(2));
}

#[test]
fn version_names_the_version_and_refuses_one_that_is_not_driven() {
    let out = run(&["version"], "iocage DEVELOP (2016-02-10)\n");
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["value"],
        serde_json::json!({"flavour": "legacy", "line": "legacy_develop", "date": "2016-02-10"})
    );
    let out = run(&["version"], "Version\t1.2\n");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["value"]["number"], serde_json::json!([1, 2]));

    // v1.7.3 (iocage@v1.7.3:33) is not driven.
    let out = run(&["version"], "iocage 1.7.3 (2015/08/13)\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("iocage-json: version: legacy iocage 1.7.3 is not supported (")
            && stderr.trim_end().ends_with(iocage_cli::SUPPORTED_VERSIONS),
        "{stderr}"
    );
}
