//! Shared test helpers: a fake iocage host in a temporary directory (state
//! file, argv log, pid log), a CLI backend and service over it, and a
//! shorthand for sending a request given as its JSON `args`.
#![allow(dead_code, unreachable_pub)]

pub mod sysadmd;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use iocage_service::{Caller, CliBackend, Flavour, IocageService, Runner};
use serde_json::Value;
use sysadm_proto::{IocageRequest, IocageResponse};

/// The fake iocage binary cargo built for these tests.
pub const FAKE: &str = env!("CARGO_BIN_EXE_fake-iocage");

/// A fake host: its own state, argv log and pid log.
#[derive(Debug)]
pub struct Fake {
    dir: tempfile::TempDir,
    pub flavour: Flavour,
    /// `FAKE_IOCAGE_VERSION`, when the fake is to behave as one release.
    pub version: Option<&'static str>,
}

impl Fake {
    pub fn new(flavour: Flavour) -> Fake {
        Fake {
            dir: tempfile::tempdir().expect("temporary directory"),
            flavour,
            version: None,
        }
    }

    /// A fake host behaving as iocage `version` (`FAKE_IOCAGE_VERSION`).
    pub fn versioned(version: &'static str, flavour: Flavour) -> Fake {
        Fake {
            version: Some(version),
            ..Fake::new(flavour)
        }
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("argv.log")
    }

    fn pids_path(&self) -> PathBuf {
        self.dir.path().join("pids.log")
    }

    /// A runner for the fake with this host's environment and a 30 s limit.
    pub fn runner(&self) -> Runner {
        let flavour = match self.flavour {
            Flavour::Legacy => "legacy",
            Flavour::Python => "python",
        };
        let runner = Runner::new(FAKE)
            .timeout(Duration::from_secs(30))
            .env("FAKE_IOCAGE_STATE", self.dir.path().join("state.json"))
            .env("FAKE_IOCAGE_FLAVOUR", flavour)
            .env("FAKE_IOCAGE_LOG", self.log_path())
            .env("FAKE_IOCAGE_PIDS", self.pids_path());
        match self.version {
            Some(version) => runner.env("FAKE_IOCAGE_VERSION", version),
            None => runner,
        }
    }

    /// A service over a CLI backend that detects the flavour itself.
    pub fn service(&self) -> IocageService {
        self.service_with(self.runner(), None)
    }

    pub fn service_with(&self, runner: Runner, flavour: Option<Flavour>) -> IocageService {
        IocageService::new(Arc::new(CliBackend::new(runner, flavour)))
    }

    /// Every invocation so far, one argv a line.
    pub fn log(&self) -> Vec<String> {
        read_lines(&self.log_path())
    }

    /// The process ids of every invocation so far.
    pub fn pids(&self) -> Vec<u32> {
        read_lines(&self.pids_path())
            .iter()
            .map(|line| line.parse().expect("a pid"))
            .collect()
    }
}

fn read_lines(path: &PathBuf) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => panic!("{}: {error}", path.display()),
    }
}

pub fn caller() -> Caller {
    Caller {
        user: "tester".to_owned(),
        peer: None,
    }
}

/// Decodes `args` as the server would and hands it to the service; errors
/// come back as `(code, details)`.
pub async fn call(service: &IocageService, args: Value) -> Result<IocageResponse, (u16, String)> {
    let request = IocageRequest::from_args(&args).map_err(|error| (400, error.to_string()))?;
    service
        .handle(request, &caller())
        .await
        .map_err(|error| (error.code().code(), error.details().to_owned()))
}

/// Like [`call`], for requests that must succeed; the response as JSON.
pub async fn ok(service: &IocageService, args: Value) -> Value {
    match call(service, args.clone()).await {
        Ok(response) => serde_json::to_value(response).expect("responses serialize"),
        Err((code, details)) => panic!("{args} failed with {code}: {details}"),
    }
}

/// Like [`call`], for requests that must fail; `(code, details)`.
pub async fn fails(service: &IocageService, args: Value) -> (u16, String) {
    match call(service, args.clone()).await {
        Ok(response) => panic!("{args} succeeded: {response:?}"),
        Err(error) => error,
    }
}

/// The UUID and tag out of `" <uuid> (<tag>)"`.
pub fn created(text: &Value) -> (String, String) {
    let text = text.as_str().expect("a string");
    let text = text
        .strip_prefix(' ')
        .expect("the documented leading space");
    let (uuid, tag) = text.split_once(' ').expect("uuid and tag");
    let tag = tag.strip_prefix('(').and_then(|t| t.strip_suffix(')'));
    (uuid.to_owned(), tag.expect("tag in parentheses").to_owned())
}

pub fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `YYYY-MM-DD@HH:MM:SS`, legacy iocage's default tag.
pub fn is_date_tag(tag: &str) -> bool {
    tag.len() == 19
        && tag.chars().enumerate().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == '@',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        })
}
