//! `iocage-json`: turns what iocage printed into JSON, for shell scripts and
//! for checking the parsers against a real FreeBSD host:
//! `iocage list | iocage-json list`. The JSON (`{"value": ..., "messages":
//! [...]}`) is described in the crate's README. Exit 0 with JSON on stdout; 1 when the input cannot be parsed
//! (one line on stderr naming the line); 2 on a usage error.

use std::io::Read;
use std::process::ExitCode;

use iocage_cli::{Flavour, ParseError, Parsed, detect_flavour};

const USAGE: &str = "usage: iocage-json <command> [--flavour legacy|python|auto] < iocage-output
commands: list list-templates list-releases list-remote list-plugins df get get-all
          get-recursive defaults start stop create clone destroy activate pool messages
          version (iocage --version; exit 1 naming the version if sysadmd does not drive it)";

/// Parses `input` as the output of `command`, as JSON: `{"value": ...,
/// "messages": [...]}`, the messages being the lines around the value.
/// (Serialized straight to text: a `serde_json::Value` would sort the keys
/// of `get all`, whose order is iocage's.)
/// `version` also refuses a version sysadmd does not drive: one line naming
/// it and the supported versions.
fn convert(command: &str, input: &str) -> Option<Result<String, String>> {
    fn json<T: serde::Serialize>(result: Result<Parsed<T>, ParseError>) -> Result<String, String> {
        result
            .map(|parsed| serde_json::to_string(&parsed).expect("plain data serialises"))
            .map_err(|error| error.to_string())
    }
    Some(match command {
        "list" | "list-templates" => json(iocage_cli::parse_list(input)),
        "list-releases" => json(iocage_cli::parse_releases(input)),
        "list-remote" => json(iocage_cli::parse_remote_releases(input)),
        "list-plugins" => json(iocage_cli::parse_plugins(input)),
        "df" => json(iocage_cli::parse_df(input)),
        "get" => json(iocage_cli::parse_get_value(input)),
        "get-all" => json(iocage_cli::parse_get_all(input)),
        "get-recursive" => json(iocage_cli::parse_get_recursive(input)),
        "defaults" => json(iocage_cli::parse_defaults(input)),
        "start" | "stop" => json(iocage_cli::parse_start_stop(input)),
        "create" | "clone" => json(iocage_cli::parse_create(input)),
        "destroy" => json(iocage_cli::parse_destroy(input)),
        "activate" => json(iocage_cli::parse_activate(input)),
        "pool" => json(iocage_cli::parse_pool(input)),
        "version" => match iocage_cli::parse_version(input) {
            Ok(parsed) => match parsed.value.supported() {
                Ok(()) => json(Ok(parsed.map(|version| Version {
                    flavour: version.flavour(),
                    version,
                }))),
                Err(refusal) => Err(refusal.to_string()),
            },
            Err(error) => Err(error.to_string()),
        },
        "messages" => Ok(serde_json::to_string(&iocage_cli::parse_messages(input))
            .expect("plain data serialises")),
        _ => return None,
    })
}

/// What `version` prints: the version and its flavour.
#[derive(serde::Serialize)]
struct Version {
    flavour: Flavour,
    #[serde(flatten)]
    version: iocage_cli::IocageVersion,
}

/// The command and the flavour asked for (`None`: auto).
fn arguments(args: &[String]) -> Result<(String, Option<Flavour>), String> {
    let mut command = None;
    let mut flavour = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let value = match arg.as_str() {
            "--flavour" | "--flavor" => it
                .next()
                .ok_or_else(|| format!("{arg} needs a value: legacy, python or auto"))?
                .clone(),
            other if other.starts_with("--flavour=") => other["--flavour=".len()..].to_owned(),
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with('-') => return Err(format!("unknown option '{other}'")),
            other => {
                if command.replace(other.to_owned()).is_some() {
                    return Err(format!("unexpected argument '{other}': give one command"));
                }
                continue;
            }
        };
        flavour = match value.as_str() {
            "legacy" => Some(Flavour::Legacy),
            "python" => Some(Flavour::Python),
            "auto" => None,
            other => {
                return Err(format!(
                    "invalid flavour '{other}': use legacy, python or auto"
                ));
            }
        };
    }
    let command = command.ok_or_else(|| "missing command".to_owned())?;
    Ok((command, flavour))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, flavour) = match arguments(&args) {
        Ok(parsed) => parsed,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("iocage-json: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut bytes = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut bytes) {
        eprintln!("iocage-json: cannot read standard input: {error}");
        return ExitCode::from(1);
    }
    let input = String::from_utf8_lossy(&bytes);
    // The parsers recognise both flavours; an explicit flavour is a check
    // that the text is what the caller thinks it is.
    if let (Some(wanted), Some(found)) = (flavour, detect_flavour(&input))
        && wanted != found
    {
        eprintln!("iocage-json: the input looks like {found} iocage output, not {wanted}");
        return ExitCode::from(1);
    }
    match convert(&command, &input) {
        None => {
            eprintln!("iocage-json: unknown command '{command}'\n{USAGE}");
            ExitCode::from(2)
        }
        Some(Ok(value)) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Some(Err(error)) => {
            eprintln!("iocage-json: {command}: {error}");
            ExitCode::from(1)
        }
    }
}
