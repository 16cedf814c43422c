//! `FAKE_IOCAGE_VERSION`: which real iocage release the fake behaves as.
//!
//! Unset, the fake keeps its two historical models (legacy develop
//! 2016-02 and Python 1.2, with a few liberties the tests rely on). Set, it
//! follows the cited sources of that release. Releases whose command line
//! and output are the same are one [`Model`]; the `--version` line is still
//! the release's own. References are `file@commit:line` in
//! iocage/iocage_legacy (legacy), iocage/iocage (0.9.x-1.2) and
//! freebsd/iocage (1.2.1-1.13).
//!
//! | `FAKE_IOCAGE_VERSION` | model | `--version` prints |
//! |---|---|---|
//! | `develop` | [`Model::LegacyDevelop`] | `iocage DEVELOP (2016-02-10)` (iocage@3ffbc87:33) |
//! | `1.7.4` | [`Model::Legacy174`] | `iocage 1.7.4 (2016/02/17)` (iocage@7ba6e4e:33) |
//! | `1.7.5`, `1.7.6` | [`Model::Legacy175`]: `git diff v1.7.5 v1.7.6 -- lib/` only touches `__stop_legacy_networking`'s IFS | `iocage 1.7.4 (2016/02/17)` (iocage@3963ccc:33, @6189eac:33: never bumped) |
//! | `0.9.1` ... `0.9.10` | [`Model::Python09`]: `--version` only | as each release prints it (iocage/main.py, see [`python09_version`]) |
//! | `1.0`, `1.1` | [`Model::Python10`] | `Version\t1.0 RELEASE 2018/12` (iocage_cli/__init__.py@8fc88756:66), `Version\t1.1 RELEASE 2019/01` (@3e0c61ad:66) |
//! | `1.2` | [`Model::Python12`] | `Version\t1.2` (iocage_cli/__init__.py@c3198327:71) |
//! | `1.2.1`, `1.3` ... `1.13` | [`Model::PythonFreebsd`] | `Version\t1.2` for 1.2.1 and 1.3 (iocage_cli/__init__.py@3d3e8c51:71, @adabc6c6:71: 1.3 was not bumped), `Version\t1.N` for 1.4-1.12 (@993c96ce:71 ... @fbb0003b:71), `Version\t` + `__version__` from 1.13 (@62cad46d:78) |

use std::sync::OnceLock;

use iocage_cli::Flavour;

/// A group of releases with the same command line and output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Model {
    /// `FAKE_IOCAGE_VERSION` unset: the fake's historical model of the flavour.
    Default(Flavour),
    /// Legacy develop, 2016-02-10 (iocage_legacy @3ffbc87, "L16"): the
    /// default legacy model, except that `activate` leaves the old pool
    /// marked (lib/ioc-zfs@3ffbc87:5-17) and a name is looked up in dataset
    /// order (lib/ioc-info@3ffbc87:74-101), as the real one does.
    LegacyDevelop,
    /// Legacy v1.7.4 (@7ba6e4e): the release line, not an ancestor of
    /// develop; `list` without an IP column.
    Legacy174,
    /// Legacy v1.7.5 (@3963ccc) and v1.7.6 (@6189eac): `list` with `IP`.
    Legacy175,
    /// Python 0.9.x: only `--version` is modelled (sysadmd refuses it).
    Python09,
    /// Python 1.0 and 1.1: EXCEPTION messages become tracebacks when stdout
    /// is not a terminal (iocage_lib/ioc_common.py@8fc88756:65-66,
    /// @3e0c61ad:69-70), which it never is under sysadmd. They differ in one
    /// place: `destroy -f` of a jail with clones fails on 1.0 and takes the
    /// clones with it from 1.1 (see `python.rs`).
    Python10,
    /// Python 1.2 (iocage/iocage @c3198327).
    Python12,
    /// freebsd/iocage 1.2.1-1.13 (@3d3e8c51 ... @62cad46d): 1.2's command
    /// line; a down jail's JID is `None` (iocage_lib/ioc_list.py@3d3e8c51:282).
    PythonFreebsd,
}

/// The release the fake behaves as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    pub(crate) model: Model,
    /// What `iocage --version` prints, newline included.
    pub(crate) banner: String,
}

static CURRENT: OnceLock<Version> = OnceLock::new();

/// The version this invocation behaves as (set once by `main`).
pub(crate) fn current() -> &'static Version {
    CURRENT.get_or_init(|| Version {
        model: Model::Default(Flavour::Legacy),
        banner: "iocage DEVELOP (2016-02-10)\n".into(),
    })
}

/// Sets the version for this invocation.
pub(crate) fn set(version: Version) {
    let _ = CURRENT.set(version);
}

/// The model, shorthand.
pub(crate) fn model() -> Model {
    current().model
}

impl Model {
    pub(crate) fn flavour(self) -> Flavour {
        match self {
            Model::Default(flavour) => flavour,
            Model::LegacyDevelop | Model::Legacy174 | Model::Legacy175 => Flavour::Legacy,
            Model::Python09 | Model::Python10 | Model::Python12 | Model::PythonFreebsd => {
                Flavour::Python
            }
        }
    }

    /// The legacy 1.7.x release line.
    pub(crate) fn legacy_release(self) -> bool {
        matches!(self, Model::Legacy174 | Model::Legacy175)
    }

    /// A real release was asked for (not the historical default model).
    pub(crate) fn versioned(self) -> bool {
        !matches!(self, Model::Default(_))
    }
}

/// What Python 0.9.x prints for `--version`, by release. 0.9.6 still says
/// 0.9.5; 0.9.9 and 0.9.9.1 use click's `version_option` with the message
/// `%(version)s`, so no `Version` word (iocage/main.py@464e338f:100-101,
/// @72c57992:100-101).
fn python09_version(number: &str) -> Option<&'static str> {
    Some(match number {
        // iocage/main.py@4425ae41:19, @3160f104:19, @93af0b61:19, @75b741f2:19
        "0.9.1" => "Version\t0.9.1 2017/01/18",
        "0.9.2" => "Version\t0.9.2 2017/01/19",
        "0.9.3" => "Version\t0.9.3 2017/01/23",
        "0.9.4" => "Version\t0.9.4 2017/01/26",
        // iocage/main.py@57d306c2:19, @02faf1e3:19
        "0.9.5" | "0.9.6" => "Version\t0.9.5 2017/02/15",
        // iocage/main.py@e647be70:25, @74b7a391:36, @822d006f:36
        "0.9.7" => "Version\t0.9.7 2017/03/08",
        "0.9.8" => "Version\t0.9.8 05/18/2017",
        "0.9.8.1" => "Version\t0.9.8.1 05/23/2017",
        "0.9.9" => "0.9.9 07/28/2017",
        "0.9.9.1" => "0.9.9.1 08/01/2017",
        // iocage/main.py@01db544d:62, @67cf40f2:66
        "0.9.9.2" => "Version\t0.9.9.2 09/30/2017",
        "0.9.10" => "Version\t0.9.10 2017/12/22",
        _ => return None,
    })
}

/// The accepted values, for the error message.
pub(crate) const ACCEPTED: &str =
    "develop, 1.7.4, 1.7.5, 1.7.6, 0.9.1 ... 0.9.10, 1.0, 1.1, 1.2, 1.2.1, 1.3 ... 1.13";

/// Reads `FAKE_IOCAGE_VERSION` (and, without it, `FAKE_IOCAGE_FLAVOUR`).
pub(crate) fn from_env(version: Option<&str>, flavour: Option<&str>) -> Result<Version, String> {
    let flavour = match flavour {
        None => None,
        Some("legacy") => Some(Flavour::Legacy),
        Some("python") => Some(Flavour::Python),
        Some(other) => {
            return Err(format!(
                "FAKE_IOCAGE_FLAVOUR={other:?}: use legacy or python"
            ));
        }
    };
    let Some(number) = version else {
        let flavour = flavour.unwrap_or(Flavour::Legacy);
        let banner = match flavour {
            Flavour::Legacy => "iocage DEVELOP (2016-02-10)\n",
            Flavour::Python => "Version\t1.2\n",
        };
        return Ok(Version {
            model: Model::Default(flavour),
            banner: banner.into(),
        });
    };
    let (model, banner) = match number {
        "develop" => (
            Model::LegacyDevelop,
            "iocage DEVELOP (2016-02-10)".to_owned(),
        ),
        "1.7.4" => (Model::Legacy174, "iocage 1.7.4 (2016/02/17)".to_owned()),
        "1.7.5" | "1.7.6" => (Model::Legacy175, "iocage 1.7.4 (2016/02/17)".to_owned()),
        "1.0" => (Model::Python10, "Version\t1.0 RELEASE 2018/12".to_owned()),
        "1.1" => (Model::Python10, "Version\t1.1 RELEASE 2019/01".to_owned()),
        "1.2" => (Model::Python12, "Version\t1.2".to_owned()),
        "1.2.1" | "1.3" => (Model::PythonFreebsd, "Version\t1.2".to_owned()),
        other => {
            if let Some(banner) = python09_version(other) {
                (Model::Python09, banner.to_owned())
            } else if let Some(minor) = other
                .strip_prefix("1.")
                .and_then(|minor| minor.parse::<u32>().ok())
                .filter(|minor| (4..=13).contains(minor))
            {
                (Model::PythonFreebsd, format!("Version\t1.{minor}"))
            } else {
                return Err(format!(
                    "FAKE_IOCAGE_VERSION={other:?}: use one of {ACCEPTED}"
                ));
            }
        }
    };
    if let Some(flavour) = flavour
        && flavour != model.flavour()
    {
        return Err(format!(
            "FAKE_IOCAGE_VERSION={number:?} is not a {flavour:?} iocage (FAKE_IOCAGE_FLAVOUR)"
        ));
    }
    Ok(Version {
        model,
        banner: format!("{banner}\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_release_prints_its_own_version_line() {
        for (number, banner, model) in [
            (
                "develop",
                "iocage DEVELOP (2016-02-10)\n",
                Model::LegacyDevelop,
            ),
            ("1.7.4", "iocage 1.7.4 (2016/02/17)\n", Model::Legacy174),
            ("1.7.6", "iocage 1.7.4 (2016/02/17)\n", Model::Legacy175),
            ("0.9.9", "0.9.9 07/28/2017\n", Model::Python09),
            ("0.9.10", "Version\t0.9.10 2017/12/22\n", Model::Python09),
            ("1.1", "Version\t1.1 RELEASE 2019/01\n", Model::Python10),
            ("1.3", "Version\t1.2\n", Model::PythonFreebsd),
            ("1.13", "Version\t1.13\n", Model::PythonFreebsd),
        ] {
            let version = from_env(Some(number), None).unwrap();
            assert_eq!(version.banner, banner, "{number}");
            assert_eq!(version.model, model, "{number}");
        }
    }

    #[test]
    fn unknown_or_contradicting_values_are_refused() {
        let error = from_env(Some("2.0"), None).unwrap_err();
        assert!(error.contains("2.0") && error.contains("1.7.4"), "{error}");
        let error = from_env(Some("1.7.4"), Some("python")).unwrap_err();
        assert!(error.contains("FAKE_IOCAGE_FLAVOUR"), "{error}");
        assert_eq!(
            from_env(None, Some("python")).unwrap().model,
            Model::Default(Flavour::Python)
        );
    }
}
