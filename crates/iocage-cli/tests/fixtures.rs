//! Snapshot tests over `fixtures/iocage/<flavour>/<command>/{ok,err}/*.txt`:
//! every `ok` file must parse (its value is snapshotted as JSON), every `err`
//! file must fail (its error message is snapshotted). The snapshots are
//! reviewed by hand: `cargo insta review`, or `INSTA_UPDATE=always` and read.

use iocage_cli::ParseError;

fn check<T: serde::Serialize>(
    family: &str,
    path: &std::path::Path,
    parse: fn(&str) -> Result<T, ParseError>,
) {
    let input = std::fs::read_to_string(path).unwrap();
    let expect_ok = path.parent().is_some_and(|dir| dir.ends_with("ok"));
    let shown = match parse(&input) {
        Ok(value) => {
            assert!(expect_ok, "{} parsed but should not", path.display());
            serde_json::to_string_pretty(&value).unwrap()
        }
        Err(error) => {
            assert!(!expect_ok, "{} failed: {error}", path.display());
            format!("error: {error}")
        }
    };
    insta::with_settings!({ prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(family, shown);
    });
}

macro_rules! family {
    ($test:ident, $pattern:literal, $parse:path) => {
        #[test]
        fn $test() {
            insta::glob!("../../../fixtures/iocage", $pattern, |path| check(
                stringify!($test),
                path,
                $parse
            ));
        }
    };
}

family!(list, "*/list/*/*.txt", iocage_cli::parse_list);
family!(
    list_releases,
    "*/list-releases/*/*.txt",
    iocage_cli::parse_releases
);
family!(
    list_remote,
    "*/list-remote/*/*.txt",
    iocage_cli::parse_remote_releases
);
family!(
    list_plugins,
    "*/list-plugins/*/*.txt",
    iocage_cli::parse_plugins
);
family!(df, "*/df/*/*.txt", iocage_cli::parse_df);
family!(get, "*/get/*/*.txt", iocage_cli::parse_get_value);
family!(get_all, "*/get-all/*/*.txt", iocage_cli::parse_get_all);
family!(
    get_recursive,
    "*/get-recursive/*/*.txt",
    iocage_cli::parse_get_recursive
);
family!(defaults, "*/defaults/*/*.txt", iocage_cli::parse_defaults);
family!(start, "*/start/*/*.txt", iocage_cli::parse_start_stop);
family!(stop, "*/stop/*/*.txt", iocage_cli::parse_start_stop);
family!(create, "*/create/*/*.txt", iocage_cli::parse_create);
family!(clone, "*/clone/*/*.txt", iocage_cli::parse_create);
family!(destroy, "*/destroy/*/*.txt", iocage_cli::parse_destroy);
family!(activate, "*/activate/*/*.txt", iocage_cli::parse_activate);
family!(pool, "*/pool/*/*.txt", iocage_cli::parse_pool);

/// Every fixture directory is covered by one of the families above, so a new
/// command's fixtures cannot go untested.
#[test]
fn every_fixture_directory_has_a_family() {
    let known = [
        "list",
        "list-releases",
        "list-remote",
        "list-plugins",
        "df",
        "get",
        "get-all",
        "get-recursive",
        "defaults",
        "start",
        "stop",
        "create",
        "clone",
        "destroy",
        "activate",
        "pool",
    ];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/iocage");
    let mut files = 0;
    for flavour in ["legacy", "python"] {
        for entry in std::fs::read_dir(root.join(flavour)).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            assert!(
                known.contains(&name.as_str()),
                "no test for fixtures of {name}"
            );
            for outcome in std::fs::read_dir(entry.path()).unwrap() {
                let outcome = outcome.unwrap();
                let dir = outcome.file_name().into_string().unwrap();
                assert!(
                    dir == "ok" || dir == "err",
                    "{name}/{dir} is neither ok nor err"
                );
                files += std::fs::read_dir(outcome.path()).unwrap().count();
            }
        }
    }
    assert!(files >= 60, "only {files} fixtures");
}

/// Every real capture (`real-*.txt`) names its source in `SOURCES.md`, and
/// every file `SOURCES.md` names exists.
#[test]
fn every_real_capture_has_its_source_recorded() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/iocage");
    let sources = std::fs::read_to_string(root.join("SOURCES.md")).unwrap();
    let mut captures = 0;
    for flavour in ["legacy", "python"] {
        for command in std::fs::read_dir(root.join(flavour)).unwrap() {
            for outcome in std::fs::read_dir(command.unwrap().path()).unwrap() {
                for file in std::fs::read_dir(outcome.unwrap().path()).unwrap() {
                    let path = file.unwrap().path();
                    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
                    if !name.starts_with("real-") {
                        continue;
                    }
                    captures += 1;
                    let relative = path
                        .strip_prefix(&root)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_owned();
                    let row = sources
                        .lines()
                        .find(|line| line.starts_with(&format!("| `{relative}` |")))
                        .unwrap_or_else(|| panic!("{relative} is not in SOURCES.md"));
                    assert!(row.contains("https://github.com/"), "{row}");
                }
            }
        }
    }
    for line in sources.lines().filter(|line| line.starts_with("| `")) {
        let relative = line.split('`').nth(1).unwrap();
        assert!(
            root.join(relative).is_file(),
            "SOURCES.md names a missing {relative}"
        );
    }
    assert!(captures >= 14, "only {captures} real captures");
}
