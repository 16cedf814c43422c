//! Which iocage a host runs, read from `iocage --version`, and whether this
//! crate's users (sysadmd) drive it: the support matrix lives here, beside
//! the knowledge of what each version prints.
//!
//! What each line looks like, by the source that prints it:
//! - legacy develop: `iocage DEVELOP (2016-02-10)` (iocage_legacy
//!   `iocage`@3ffbc87:33; develop HEAD `iocage DEVELOP (2016-12-22)`, @ff9b266:33);
//! - legacy release line: `iocage 1.7.4 (2016/02/17)`, printed unchanged by
//!   v1.7.4, v1.7.5 and v1.7.6 (`iocage`@6189eac:33);
//! - Python 0.9.x: `Version\t0.9.1 2017/01/18`, `Version\t0.9.8.1 05/23/2017`,
//!   `Version\t0.9.10 2017/12/22` (iocage/main.py@4425ae41:19, @822d006f:36,
//!   @67cf40f2:66); 0.9.9 and 0.9.9.1 without the word: `0.9.9 07/28/2017`
//!   (iocage/main.py@464e338:100-101);
//! - Python 1.0, 1.1: `Version\t1.0 RELEASE 2018/12`, `Version\t1.1 RELEASE
//!   2019/01` (iocage_cli/__init__.py@8fc88756:66, @3e0c61ad:66); pre-releases
//!   say `Version 1.0 ALPHA`;
//! - Python 1.2 and freebsd/iocage 1.3 and later: `Version\t1.2`,
//!   `Version\t<package version>` (iocage_cli/__init__.py@c3198327:71;
//!   freebsd/iocage @6f6f4eb:78, with `0.0` for an uninstalled checkout).
//!
//! Python 0.9.1-0.9.4 may print IOCCheck's lines (`Creating pool/iocage`)
//! before the version (iocage/main.py@4425ae41:74-78): lines before the
//! version line are kept as messages.

use std::fmt;

use serde::Serialize;

use crate::clean::clean_output;
use crate::error::ParseError;
use crate::model::{Flavour, Parsed};
use crate::text::{Outside, lines};

/// An iocage version, as `iocage --version` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "line")]
pub enum IocageVersion {
    /// The legacy shell iocage's develop branch: `iocage DEVELOP (DATE)`.
    LegacyDevelop {
        /// The date in parentheses, as printed.
        date: String,
    },
    /// A legacy shell iocage release: `iocage 1.7.4 (2016/02/17)`.
    LegacyRelease {
        /// The number, as printed (`1.7.4`; 1.7.5 and 1.7.6 print it too).
        number: String,
    },
    /// The Python iocage: `Version\t1.2`.
    Python {
        /// The numbers of the version (`[0, 9, 8, 1]`, `[1, 2]`).
        number: Vec<u32>,
        /// Everything after `Version`, as printed (`1.0 RELEASE 2018/12`).
        text: String,
    },
}

/// The versions that are driven, in words, for messages and the README.
pub const SUPPORTED_VERSIONS: &str = "the legacy shell iocage's develop branch (iocage DEVELOP, 2016), the legacy releases 1.7.4 to 1.7.6 and the Python iocage 1.0 and later";

/// Why a version is not driven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    version: IocageVersion,
    why: &'static str,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not supported ({}); supported are {SUPPORTED_VERSIONS}",
            self.version, self.why
        )
    }
}

impl std::error::Error for Unsupported {}

impl IocageVersion {
    /// Which flavour of command line and output this version has.
    pub fn flavour(&self) -> Flavour {
        match self {
            IocageVersion::LegacyDevelop { .. } | IocageVersion::LegacyRelease { .. } => {
                Flavour::Legacy
            }
            IocageVersion::Python { .. } => Flavour::Python,
        }
    }

    /// Whether this version is driven correctly for every action; if not,
    /// why it is refused. A version is never driven halfway.
    pub fn supported(&self) -> Result<(), Unsupported> {
        let refuse = |why| {
            Err(Unsupported {
                version: self.clone(),
                why,
            })
        };
        match self {
            IocageVersion::LegacyDevelop { .. } => Ok(()),
            // The 1.7.x release line is not an ancestor of develop and has
            // another command line, which the driver follows
            // (crate::driver, `Line::Release17`): `show` for `get -r`, the
            // list for `state`, `clean -a|-j|-r` answered `y`, a listing
            // after create and clone, errors on stdout. 1.7.4 to 1.7.6 all
            // print `iocage 1.7.4 (2016/02/17)` (iocage@6189eac:33); older
            // 1.x releases are not known to the driver.
            IocageVersion::LegacyRelease { number } => match numbers(number).as_deref() {
                Some([1, 7, 4..=6]) => Ok(()),
                _ => refuse("only the legacy releases 1.7.4 to 1.7.6 are driven"),
            },
            IocageVersion::Python { number, .. } => match number.as_slice() {
                // 0.9.x has no `get -s` (destroy cannot check the state),
                // 0.9.1-0.9.8 print UUID and TAG columns, several tables
                // differ (iocage/cli/*.py @4425ae41 ... @67cf40f2).
                [0, 9, ..] => refuse(
                    "Python iocage 0.9.x lacks `get -s` and prints other tables (UUID and TAG \
                     columns up to 0.9.8)",
                ),
                [major, ..] if *major >= 1 => Ok(()),
                _ => refuse("an unknown Python iocage version"),
            },
        }
    }
}

impl fmt::Display for IocageVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IocageVersion::LegacyDevelop { date } => write!(f, "iocage DEVELOP ({date})"),
            IocageVersion::LegacyRelease { number } => write!(f, "legacy iocage {number}"),
            IocageVersion::Python { text, .. } => write!(f, "Python iocage {text}"),
        }
    }
}

const VERSION: &str = "'iocage DEVELOP (DATE)', 'iocage 1.7.4 (DATE)', 'Version<TAB>N.N...' or '0.9.9 MM/DD/YYYY' (iocage --version)";

fn legacy(line: &str) -> Option<IocageVersion> {
    let rest = line.strip_prefix("iocage ")?;
    let (word, date) = rest.split_once(' ')?;
    let date = date.strip_prefix('(')?.strip_suffix(')')?;
    if word == "DEVELOP" {
        return Some(IocageVersion::LegacyDevelop {
            date: date.to_owned(),
        });
    }
    numbers(word)?;
    Some(IocageVersion::LegacyRelease {
        number: word.to_owned(),
    })
}

fn numbers(word: &str) -> Option<Vec<u32>> {
    word.split('.').map(|n| n.parse().ok()).collect()
}

fn python(line: &str) -> Option<IocageVersion> {
    let rest = line.strip_prefix("Version")?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let text = rest.trim();
    let number = numbers(text.split_whitespace().next()?)?;
    Some(IocageVersion::Python {
        number,
        text: text.to_owned(),
    })
}

/// Python 0.9.9 and 0.9.9.1 print the version without `Version`:
/// `0.9.9 07/28/2017`, `0.9.9.1 08/01/2017` (click's `version_option` with
/// `message="%(version)s"`, iocage/main.py@464e338:100-101, @72c5799:100-101).
/// Only exactly that shape, a 0.9 number and a `MM/DD/YYYY` date, is read.
fn python_bare(line: &str) -> Option<IocageVersion> {
    let (word, date) = line.split_once(' ')?;
    let number = numbers(word)?;
    let date_shaped = date.len() == 10
        && date.char_indices().all(|(i, c)| {
            if i == 2 || i == 5 {
                c == '/'
            } else {
                c.is_ascii_digit()
            }
        });
    (number.starts_with(&[0, 9]) && date_shaped).then(|| IocageVersion::Python {
        number,
        text: line.to_owned(),
    })
}

/// Parses what `iocage --version` printed: the first line that names a
/// version; lines before it are messages.
pub fn parse_version(input: &str) -> Result<Parsed<IocageVersion>, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let mut outside = Outside::default();
    let read = |text: &str| {
        let text = text.trim();
        legacy(text)
            .or_else(|| python(text))
            .or_else(|| python_bare(text))
    };
    let first = outside
        .until(&mut it, |text| read(text).is_some())
        .ok_or_else(|| outside.missing(VERSION))?;
    let version = read(first.text).expect("until checked it");
    outside.rest(it);
    Ok(outside.with(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, shown: &str, flavour: Flavour, supported: bool) {
        let version = parse_version(text).unwrap().value;
        assert_eq!(version.to_string(), shown, "{text:?}");
        assert_eq!(version.flavour(), flavour, "{text:?}");
        assert_eq!(version.supported().is_ok(), supported, "{text:?}");
    }

    #[test]
    fn every_known_version_line_is_read_and_placed_in_the_matrix() {
        use Flavour::{Legacy, Python};
        check(
            "iocage DEVELOP (2016-02-10)\n",
            "iocage DEVELOP (2016-02-10)",
            Legacy,
            true,
        );
        check(
            "iocage DEVELOP (2016-12-22)\n",
            "iocage DEVELOP (2016-12-22)",
            Legacy,
            true,
        );
        check(
            "iocage 1.7.4 (2016/02/17)\n",
            "legacy iocage 1.7.4",
            Legacy,
            true,
        );
        // v1.7.3 (iocage@v1.7.3:33) has yet another command line.
        check(
            "iocage 1.7.3 (2015/08/13)\n",
            "legacy iocage 1.7.3",
            Legacy,
            false,
        );
        check(
            "Version\t0.9.1 2017/01/18\n",
            "Python iocage 0.9.1 2017/01/18",
            Python,
            false,
        );
        check(
            "Version\t0.9.8.1 05/23/2017\n",
            "Python iocage 0.9.8.1 05/23/2017",
            Python,
            false,
        );
        // 0.9.9 and 0.9.9.1 say no `Version` (iocage/main.py@464e338:100).
        check(
            "0.9.9 07/28/2017\n",
            "Python iocage 0.9.9 07/28/2017",
            Python,
            false,
        );
        check(
            "0.9.9.1 08/01/2017\n",
            "Python iocage 0.9.9.1 08/01/2017",
            Python,
            false,
        );
        check(
            "Version\t0.9.10 2017/12/22\n",
            "Python iocage 0.9.10 2017/12/22",
            Python,
            false,
        );
        check(
            "Version 1.0 ALPHA\n",
            "Python iocage 1.0 ALPHA",
            Python,
            true,
        );
        check(
            "Version\t1.0 RELEASE 2018/12\n",
            "Python iocage 1.0 RELEASE 2018/12",
            Python,
            true,
        );
        check(
            "Version\t1.1 RELEASE 2019/01\n",
            "Python iocage 1.1 RELEASE 2019/01",
            Python,
            true,
        );
        check("Version\t1.2\n", "Python iocage 1.2", Python, true);
        check("Version\t1.13\n", "Python iocage 1.13", Python, true);
        check("Version\t0.0\n", "Python iocage 0.0", Python, false);
    }

    #[test]
    fn lines_before_the_version_are_messages() {
        let parsed = parse_version("Creating tank/iocage\nVersion\t0.9.1 2017/01/18\n").unwrap();
        assert_eq!(parsed.messages.len(), 1);
        assert_eq!(parsed.messages[0].text, "Creating tank/iocage");
    }

    #[test]
    fn anything_else_is_an_error_naming_the_line() {
        let error = parse_version("Versions are overrated\n").unwrap_err();
        assert!(
            error.to_string().contains("Versions are overrated"),
            "{error}"
        );
        assert!(parse_version("").is_err());
        assert!(parse_version("iocage 1.x (today)\n").is_err());
        // The bare shape is 0.9.9's alone.
        assert!(parse_version("1.2 07/28/2017\n").is_err());
        assert!(parse_version("0.9.9 yesterday\n").is_err());
    }

    #[test]
    fn a_refusal_names_the_version_and_what_is_supported() {
        let version = parse_version("Version\t0.9.10 2017/12/22\n").unwrap().value;
        let refusal = version.supported().unwrap_err().to_string();
        assert!(
            refusal.starts_with("Python iocage 0.9.10 2017/12/22 is not supported ("),
            "{refusal}"
        );
        assert!(refusal.ends_with(SUPPORTED_VERSIONS), "{refusal}");
        assert!(!refusal.contains('\n'));
    }
}
