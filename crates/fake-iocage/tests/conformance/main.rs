//! One backend conformance suite: the scenario table of `cases.rs`, run
//! through `IocageService` against the simulated host (`SimBackend`) and
//! against `CliBackend` over `fake-iocage` at every modelled iocage release
//! (`FAKE_IOCAGE_VERSION`), plus one session through the real `sysadmd`
//! binary per release. It replaces the per-backend scenario tests.
//!
//! A release sysadmd does not drive yet is listed once, in [`REFUSED`],
//! with the refusal it gives today: its row asserts that refusal (at the
//! service and at sysadmd's start-up) and that every case fails. A case
//! that fails on a driven release for a defect not fixed yet is listed in
//! [`GAPS`] with the reason. Either list entry makes the row fail once the
//! case passes, so that the entry is removed as soon as the fix lands.

#[path = "../support/mod.rs"]
mod support;

mod cases;

use std::sync::Arc;

use iocage_service::{CliBackend, Flavour, IocageService, SimBackend};
use serde_json::json;
use support::Fake;
use support::sysadmd::{config, jail_session, logged_in, options};
use sysadmd::BackendChoice;

/// Where a row's host lives.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// `FAKE_IOCAGE_VERSION`, or `None` for the simulated host.
    pub version: Option<&'static str>,
    pub flavour: Flavour,
}

/// Releases sysadmd refuses today, with what the refusal says, and why.
/// Remove a row here when a driver for it is merged.
pub(crate) const REFUSED: &[(&str, &str, &str)] = &[
    (
        "0.9.9",
        "Python iocage 0.9.9 07/28/2017 is not supported (",
        "0.9.9 prints its version without `Version` (iocage/main.py@464e338:100-101); refused as 0.9.x",
    ),
    (
        "0.9.10",
        "Python iocage 0.9.10 2017/12/22 is not supported (",
        "Python 0.9.x is refused by design (no `get -s`, other tables)",
    ),
];

/// Cases that fail on a driven release today: `(releases, case, why)`.
pub(crate) const GAPS: &[(&[&str], &str, &str)] = &[];

/// What a case gets: a service over a fresh host of its row.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Ctx {
    pub s: IocageService,
    row: Row,
    fake: Option<Arc<Fake>>,
}

impl Ctx {
    fn fresh(row: Row) -> Ctx {
        match row.version {
            None => Ctx {
                s: IocageService::new(Arc::new(SimBackend::in_memory())),
                row,
                fake: None,
            },
            Some(version) => {
                let fake = Arc::new(Fake::versioned(version, row.flavour));
                Ctx {
                    s: fake.service(),
                    row,
                    fake: Some(fake),
                }
            }
        }
    }

    /// The simulated host.
    pub fn sim(&self) -> bool {
        self.row.version.is_none()
    }

    /// A Python iocage (names instead of UUIDs and tags).
    pub fn python(&self) -> bool {
        self.row.flavour == Flavour::Python
    }

    /// A legacy iocage (not the simulated host).
    pub fn legacy(&self) -> bool {
        !self.sim() && !self.python()
    }

    /// The legacy 1.7.x release line.
    pub fn legacy_release(&self) -> bool {
        self.row.version.is_some_and(|v| v.starts_with("1.7."))
    }

    /// A Python release modelled as itself (no "(EOL)" in `list -R`).
    pub fn versioned_python(&self) -> bool {
        self.python() && self.row.version.is_some()
    }

    /// Every iocage command line run so far (none on the simulated host).
    pub fn log(&self) -> Vec<String> {
        self.fake
            .as_ref()
            .map(|fake| fake.log())
            .unwrap_or_default()
    }

    /// A service over the same host whose clock stands still
    /// (`FAKE_IOCAGE_CLOCK`): its commands all run within one second.
    pub fn frozen_clock(&self) -> IocageService {
        self.with_env("FAKE_IOCAGE_CLOCK", "1764686400")
    }

    /// A service over the same host that has no network
    /// (`FAKE_IOCAGE_NETWORK=offline`); the simulated host needs none.
    pub fn offline(&self) -> IocageService {
        self.with_env("FAKE_IOCAGE_NETWORK", "offline")
    }

    /// A service over the same host with `key=value` in the fake's
    /// environment (the simulated host: the same service).
    fn with_env(&self, key: &str, value: &str) -> IocageService {
        match &self.fake {
            None => self.s.clone(),
            Some(fake) => {
                let runner = fake.runner().env(key, value);
                IocageService::new(Arc::new(CliBackend::new(runner, None)))
            }
        }
    }
}

/// Runs every case on `row` and the session through sysadmd; fails naming
/// every case whose outcome is not the expected one.
async fn conform(row: Row) {
    let version = row.version.unwrap_or("simulated host");
    let refusal = REFUSED.iter().find(|(v, _, _)| Some(*v) == row.version);
    let mut wrong = Vec::new();
    for (name, case) in cases::CASES {
        let gap = GAPS.iter().find(|(versions, case, _)| {
            row.version.is_some_and(|v| versions.contains(&v)) && case == name
        });
        let passed = tokio::spawn(case(Ctx::fresh(row))).await.is_ok();
        match (passed, refusal.is_some() || gap.is_some()) {
            (true, false) | (false, true) => {}
            (false, false) => wrong.push(format!("{name} fails (its panic is above)")),
            (true, true) => wrong.push(format!(
                "{name} passes now: remove {version} from {}",
                if refusal.is_some() { "REFUSED" } else { "GAPS" }
            )),
        }
    }
    if let Some((_, said, _)) = refusal {
        let ctx = Ctx::fresh(row);
        let (code, details) = support::fails(&ctx.s, json!({"action": "listjails"})).await;
        assert_eq!(code, 503, "{version}: {details}");
        assert!(details.contains(said), "{version}: {details}");
        assert!(
            details.contains(iocage_cli::SUPPORTED_VERSIONS),
            "{details}"
        );
    }
    if row.version.is_some() {
        through_sysadmd(row, refusal.map(|(_, said, _)| *said)).await;
    }
    assert!(wrong.is_empty(), "{version}:\n{}", wrong.join("\n"));
}

/// The fake at `row`'s release behind a program named `iocage`, as an
/// administrator points sysadmd at it.
fn program(dir: &std::path::Path, row: Row) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let program = dir.join("iocage");
    let script = format!(
        "#!/bin/sh\nFAKE_IOCAGE_VERSION='{}' FAKE_IOCAGE_STATE='{}' exec '{}' \"$@\"\n",
        row.version.expect("a release"),
        dir.join("state.json").display(),
        support::FAKE
    );
    std::fs::write(&program, script).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    program
}

/// One session through the real sysadmd: start-up, then create, list,
/// start, exec, stop and destroy over WebSocket; for a refused release,
/// the start-up refusal naming it.
async fn through_sysadmd(row: Row, refusal: Option<&str>) {
    let host = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let program = program(host.path(), row);
    let config = config(state.path(), BackendChoice::Cli, &program);
    let started = sysadmd::start(&config, options()).await;
    let started = match (started, refusal) {
        (Err(error), Some(said)) => {
            // One line: the program, the version found, what is supported.
            let error = error.to_string();
            assert!(!error.contains('\n'), "{error}");
            assert!(
                error.starts_with(&format!("{}: {said}", program.display())),
                "{error}"
            );
            assert!(error.ends_with(iocage_cli::SUPPORTED_VERSIONS), "{error}");
            return;
        }
        (Ok(_), Some(_)) => panic!("{row:?}: sysadmd started; remove it from REFUSED"),
        (Err(error), None) => panic!("{row:?}: sysadmd refused to start: {error:#}"),
        (Ok(started), None) => started,
    };
    assert!(
        started.banner[0].contains("detected: "),
        "{:?}",
        started.banner
    );
    let addr = started.server.local_addrs()[0];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(started.server.run(async {
        let _ = stopped.await;
    }));
    let mut socket = logged_in(addr).await;
    jail_session(&mut socket).await;
    let _ = stop.send(());
    server.await.unwrap();
}

macro_rules! rows {
    ($($test:ident: $version:expr, $flavour:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            conform(Row { version: $version, flavour: Flavour::$flavour }).await;
        }
    )*};
}

// One row per model of `fake-iocage/src/version.rs`; freebsd/iocage
// 1.2.1-1.13 share one model, run at 1.3 (which prints `Version 1.2`),
// 1.8 and 1.13.
rows! {
    simulated_host: None, Legacy;
    legacy_develop: Some("develop"), Legacy;
    legacy_1_7_4: Some("1.7.4"), Legacy;
    legacy_1_7_5: Some("1.7.5"), Legacy;
    legacy_1_7_6: Some("1.7.6"), Legacy;
    python_0_9_9: Some("0.9.9"), Python;
    python_0_9_10: Some("0.9.10"), Python;
    python_1_0: Some("1.0"), Python;
    python_1_1: Some("1.1"), Python;
    python_1_2: Some("1.2"), Python;
    python_1_3: Some("1.3"), Python;
    python_1_8: Some("1.8"), Python;
    python_1_13: Some("1.13"), Python;
}
