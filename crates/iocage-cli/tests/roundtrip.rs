//! Renderers and parsers agree: `parse(render(x)) == x` for generated values
//! (awkward tags with colons, `@`, parentheses and spaces included), the
//! renderers reproduce the fixtures byte for byte, and no input of any shape
//! makes a parser panic.

use iocage_cli::render;
use iocage_cli::*;
use proptest::prelude::*;

fn uuid() -> impl Strategy<Value = String> {
    "[0-9a-f]{8}-[0-9a-f]{4}-11e5-[0-9a-f]{4}-[0-9a-f]{12}"
}

/// Python names: `^[a-zA-Z0-9._-]+$`.
fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9._-]{0,14}"
}

/// Free text that stays inside one cell: words joined by single spaces.
fn words(word: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(word, 1..4).prop_map(|words| words.join(" "))
}

/// Legacy tags: dates (`2016-02-09@23:47:04`), colons, parentheses, spaces.
fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]@[0-2][0-9]:[0-5][0-9]:[0-5][0-9]",
        words("[a-zA-Z0-9@:()._-]{1,8}"),
    ]
}

fn value() -> impl Strategy<Value = String> {
    words("[a-zA-Z0-9@:/|,.=_-]{1,10}")
}

fn jid() -> impl Strategy<Value = Option<u32>> {
    prop::option::of(0u32..100_000)
}

fn legacy_jail() -> impl Strategy<Value = Jail> {
    (
        jid(),
        uuid(),
        "on|off",
        "up|down",
        tag(),
        "basejail|clonejail|jail|template",
        value(),
    )
        .prop_map(|(jid, name, boot, state, tag, kind, ip4)| Jail {
            jid,
            name,
            boot: Some(boot),
            state: Some(state),
            tag: Some(tag),
            jail_type: Some(kind),
            ip4: Some(ip4),
            ..Jail::default()
        })
}

fn foreign() -> impl Strategy<Value = ForeignJail> {
    (
        0u32..1000,
        "/[a-z0-9/]{1,20}",
        "[0-9.,]{1,15}",
        "[a-z0-9.-]{1,20}",
    )
        .prop_map(|(jid, path, ip4, hostname)| ForeignJail {
            jid,
            path,
            ip4,
            hostname,
        })
}

fn legacy_list() -> impl Strategy<Value = JailList> {
    (
        prop::collection::vec(legacy_jail(), 0..12),
        prop::collection::vec(foreign(), 0..3),
    )
        .prop_map(|(jails, foreign)| {
            use Column::*;
            JailList {
                columns: vec![Jid, Name, Boot, State, Tag, Type, Ip4],
                jails,
                foreign,
            }
        })
}

fn python_list() -> impl Strategy<Value = JailList> {
    let jail = (
        jid(),
        name(),
        "up|down|CORRUPT",
        value(),
        value(),
        value(),
        "yes|no",
    );
    (any::<bool>(), prop::collection::vec(jail, 0..12)).prop_map(|(long, jails)| {
        use Column::*;
        let columns = if long {
            vec![
                Jid, Name, Boot, State, Type, Release, Ip4, Ip6, Template, Basejail,
            ]
        } else {
            vec![Jid, Name, State, Release, Ip4]
        };
        let jails = jails
            .into_iter()
            .map(|(jid, name, state, release, ip4, ip6, basejail)| {
                let mut jail = Jail {
                    jid,
                    name,
                    state: Some(state),
                    release: Some(release),
                    ip4: Some(ip4),
                    ..Jail::default()
                };
                if long {
                    jail.boot = Some("off".into());
                    jail.jail_type = Some("jail".into());
                    jail.ip6 = Some(ip6);
                    jail.template = Some("-".into());
                    jail.basejail = Some(basejail);
                }
                jail
            })
            .collect();
        JailList {
            columns,
            jails,
            foreign: Vec::new(),
        }
    })
}

fn df_row(legacy: bool) -> impl Strategy<Value = DfRow> {
    let field = "[0-9a-zA-Z.]{1,9}";
    (uuid(), field, field, field, field, field, tag()).prop_map(
        move |(name, crt, res, qta, used, ava, tag)| DfRow {
            name,
            crt,
            res,
            qta,
            used,
            ava,
            tag: legacy.then_some(tag),
        },
    )
}

fn properties() -> impl Strategy<Value = Properties> {
    prop::collection::vec(("[a-z_0-9]{1,14}", "[ -~]{0,30}"), 0..40).prop_map(|pairs| {
        Properties(
            pairs
                .into_iter()
                .map(|(key, value)| Property { key, value })
                .collect(),
        )
    })
}

fn step() -> impl Strategy<Value = String> {
    "[A-Z][a-z]{1,8}( [a-z(]{1,8}){0,2}[a-z]"
}

fn start_stop(flavour: Flavour) -> impl Strategy<Value = StartStopReport> {
    let legacy = flavour == Flavour::Legacy;
    let begin =
        (any::<bool>(), uuid(), prop::option::of(tag())).prop_map(move |(start, name, tag)| {
            StartStopLine::Begin {
                action: if start { Action::Start } else { Action::Stop },
                name,
                tag: if legacy { tag } else { None },
            }
        });
    let status = prop::option::of(prop_oneof![Just(StepStatus::Ok), Just(StepStatus::Failed)]);
    let line = prop_oneof![
        (step(), status).prop_map(|(step, status)| StartStopLine::Step { step, status }),
        "[a-z]{1,6}: [a-z ]{0,20}[a-z]".prop_map(|text| StartStopLine::Output { text }),
        (uuid(), any::<bool>()).prop_map(|(name, up)| StartStopLine::Already {
            name,
            tag: None,
            up
        }),
    ];
    (begin, prop::collection::vec(line, 0..10)).prop_map(|(begin, lines)| StartStopReport {
        lines: std::iter::once(begin).chain(lines).collect(),
    })
}

/// Lines iocage prints around a command's output (first-run, warnings,
/// zfs errors), as `(text, level)`.
fn noise() -> impl Strategy<Value = Vec<(&'static str, Level)>> {
    prop::collection::vec(
        prop::sample::select(vec![
            ("Creating tank/iocage/templates", Level::Info),
            ("Default configuration missing, creating one", Level::Notice),
            ("No default gateway found for ipv6.", Level::Warning),
            ("  WARNING: Replacing tag www!", Level::Warning),
            (
                "cannot open 'tank/iocage/jails/x': dataset does not exist",
                Level::Plain,
            ),
            ("Setting up zpool [tank] for iocage usage...", Level::Info),
        ]),
        0..3,
    )
}

fn noisy(before: &[(&str, Level)], text: &str, after: &[(&str, Level)]) -> (String, Vec<Message>) {
    let mut out = String::new();
    for (line, _) in before {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(text);
    for (line, _) in after {
        out.push_str(line);
        out.push('\n');
    }
    let messages = before
        .iter()
        .chain(after)
        .map(|(line, level)| Message {
            level: *level,
            text: line.trim().trim_start_matches("WARNING: ").to_owned(),
        })
        .collect();
    (out, messages)
}

proptest! {
    #[test]
    fn lines_around_a_table_are_messages_and_change_nothing(
        legacy in legacy_list(),
        python in python_list(),
        rows in prop::collection::vec(df_row(true), 0..4),
        props in properties(),
        before in noise(),
        after in noise(),
    ) {
        let check = |text: String| noisy(&before, &text, &after);
        for (list, flavour) in [(legacy, Flavour::Legacy), (python, Flavour::Python)] {
            let (text, messages) = check(render::list(&list, flavour));
            let parsed = parse_list(&text).unwrap();
            prop_assert_eq!(&parsed.value, &list, "{}", text);
            prop_assert_eq!(&parsed.messages, &messages, "{}", text);
        }
        let (text, messages) = check(render::df(&rows, Flavour::Legacy));
        let parsed = parse_df(&text).unwrap();
        prop_assert_eq!(&parsed.value, &rows, "{}", text);
        prop_assert_eq!(&parsed.messages, &messages, "{}", text);
        prop_assume!(!props.0.is_empty());
        let (text, messages) = check(render::get_all(&props));
        let parsed = parse_get_all(&text).unwrap();
        prop_assert_eq!(&parsed.value, &props, "{}", text);
        prop_assert_eq!(&parsed.messages, &messages, "{}", text);
    }

    #[test]
    fn legacy_list_round_trips(list in legacy_list()) {
        let text = render::list(&list, Flavour::Legacy);
        prop_assert_eq!(parse_list(&text).unwrap().value, list, "{}", text);
    }

    #[test]
    fn python_list_round_trips(list in python_list()) {
        let text = render::list(&list, Flavour::Python);
        prop_assert_eq!(parse_list(&text).unwrap().value, list, "{}", text);
    }

    #[test]
    fn df_round_trips(rows in prop::collection::vec(df_row(true), 0..8), legacy in any::<bool>()) {
        let (rows, flavour) = if legacy {
            (rows, Flavour::Legacy)
        } else {
            (rows.into_iter().map(|r| DfRow { tag: None, ..r }).collect(), Flavour::Python)
        };
        let text = render::df(&rows, flavour);
        prop_assert_eq!(parse_df(&text).unwrap().value, rows, "{}", text);
    }

    #[test]
    fn get_all_and_defaults_round_trip(props in properties()) {
        prop_assume!(!props.0.is_empty());
        let text = render::get_all(&props);
        prop_assert_eq!(parse_get_all(&text).unwrap().value, props.clone());
        let text = render::defaults(&props);
        prop_assert_eq!(parse_defaults(&text).unwrap().value, props);
    }

    #[test]
    fn get_recursive_round_trips(
        property in "[a-z_0-9]{1,12}",
        rows in prop::collection::vec((uuid(), tag(), value()), 0..8),
        legacy in any::<bool>(),
    ) {
        let get = RecursiveGet {
            property,
            rows: rows.into_iter().map(|(name, tag, value)| RecursiveRow {
                name, tag: legacy.then_some(tag), value,
            }).collect(),
        };
        let flavour = if legacy { Flavour::Legacy } else { Flavour::Python };
        let text = render::get_recursive(&get, flavour);
        prop_assert_eq!(parse_get_recursive(&text).unwrap().value, get, "{}", text);
    }

    #[test]
    fn plugins_round_trip_through_wrapping(
        plugins in prop::collection::vec(
            (name(), words("[a-zA-Z,.]{1,12}"), name(), "https://[a-z]{3,12}\\.org/[a-z]{1,8}\\.png"),
            1..5,
        )
    ) {
        let plugins: Vec<Plugin> = plugins.into_iter()
            .map(|(name, description, pkg, icon)| Plugin { name, description, pkg, icon })
            .collect();
        let text = render::plugins(&plugins);
        let parsed = parse_plugins(&text).unwrap().value;
        // A word exactly as wide as its column loses the space after it
        // (texttable leaves no trace); compare without spaces there.
        for (got, want) in parsed.iter().zip(&plugins) {
            prop_assert_eq!(&got.name, &want.name);
            prop_assert_eq!(got.description.replace(' ', ""), want.description.replace(' ', ""));
            prop_assert_eq!(&got.icon, &want.icon, "{}", text);
        }
    }

    #[test]
    fn legacy_start_stop_round_trips(report in start_stop(Flavour::Legacy)) {
        let text = render::start_stop(&report, Flavour::Legacy);
        prop_assert_eq!(parse_start_stop(&text).unwrap().value, report, "{}", text);
    }

    #[test]
    fn python_start_stop_round_trips(report in start_stop(Flavour::Python)) {
        let text = render::start_stop(&report, Flavour::Python);
        prop_assert_eq!(parse_start_stop(&text).unwrap().value, report, "{}", text);
    }

    #[test]
    fn create_and_destroy_round_trip(
        legacy in any::<bool>(),
        jails in prop::collection::vec((uuid(), prop::option::of(tag()), any::<bool>()), 1..4),
    ) {
        let flavour = if legacy { Flavour::Legacy } else { Flavour::Python };
        let created = CreateReport { lines: jails.iter().map(|(name, tag, other)| CreateLine::Created {
            how: match (legacy, other) {
                (true, true) => Creation::Empty,
                (false, true) => Creation::Cloned,
                _ => Creation::Created,
            },
            name: name.clone(),
            tag: if legacy && !other { tag.clone() } else { None },
        }).collect() };
        let text = render::create(&created, flavour);
        prop_assert_eq!(parse_create(&text).unwrap().value, created, "{}", text);
        let destroyed = DestroyReport { lines: jails.iter()
            .map(|(name, _, _)| DestroyLine::Destroying { name: name.clone() })
            .collect() };
        let text = render::destroy(&destroyed, flavour);
        prop_assert_eq!(parse_destroy(&text).unwrap().value, destroyed);
    }

    #[test]
    fn releases_round_trip(
        names in prop::collection::vec("[0-9]{1,2}\\.[0-9]-(RELEASE|STABLE|CURRENT)", 0..6),
        eol in prop::collection::vec(any::<bool>(), 6),
        numbered in any::<bool>(),
    ) {
        for flavour in [Flavour::Legacy, Flavour::Python] {
            let text = render::releases(&names, flavour);
            prop_assert_eq!(&parse_releases(&text).unwrap().value, &names);
        }
        prop_assume!(!names.is_empty());
        let remote: Vec<RemoteRelease> = names.iter().zip(&eol)
            .map(|(name, &eol)| RemoteRelease { name: name.clone(), eol })
            .collect();
        let text = render::remote_releases(&remote, numbered);
        prop_assert_eq!(parse_remote_releases(&text).unwrap().value, remote);
    }

    #[test]
    fn pool_and_activation_round_trip(pool in "[a-z][a-z0-9_-]{0,10}") {
        for flavour in [Flavour::Legacy, Flavour::Python] {
            prop_assert_eq!(parse_pool(&render::pool(&pool, flavour)).unwrap().value, pool.clone());
        }
        let activation = Activation { pool: Some(pool) };
        prop_assert_eq!(parse_activate(&render::activate(&activation, Flavour::Python)).unwrap().value, activation);
    }

    /// Fragments of real output glued at random: borders, headers, control
    /// characters, prefixes. No parser may panic on any of it.
    #[test]
    fn no_parser_panics(pieces in prop::collection::vec(prop_oneof![
        prop::sample::select(vec![
        "+", "-", "=", "|", " ", "  ", "\n", "\t",
        "\x08", "\x08/", "\x1b[", "\x1b[2K", "\r", "é", "日本",
        "+---+", "+===+", "| a |", "JID", "UUID", "TAG",
        "NAME", "PROP - ", "Bases fetched", "  ERROR: ", "  INFO: ",
        "* Starting ", "  + ", "  ! ", "OK", "FAILED", ":",
        "=", "(", ")", "[0] ", " (EOL)", "None", "3",
        "--- non iocage jails currently active ---", "PATH", "HOSTNAME",
        "Downloaded releases:", "pool: ", "ZFS pool '",
        "' successfully activated.", " successfully created!",
        "  Successfully created: ", "  Destroying: ", "CRT RES QTA USE AVA",
            ]).prop_map(String::from),
        "[ -~]{0,8}",
    ], 0..40)) {
        let input: String = pieces.concat();
        let _ = parse_list(&input);
        let _ = parse_releases(&input);
        let _ = parse_remote_releases(&input);
        let _ = parse_plugins(&input);
        let _ = parse_df(&input);
        let _ = parse_get_value(&input);
        let _ = parse_get_all(&input);
        let _ = parse_defaults(&input);
        let _ = parse_get_recursive(&input);
        let _ = parse_start_stop(&input);
        let _ = parse_create(&input);
        let _ = parse_destroy(&input);
        let _ = parse_activate(&input);
        let _ = parse_pool(&input);
        let _ = parse_messages(&input);
        let _ = detect_flavour(&input);
        if let Err(error) = parse_list(&input) {
            // Errors stay on one line, whatever the input held.
            prop_assert!(!error.to_string().contains('\n'));
        }
    }

    #[test]
    fn no_parser_panics_on_any_string(input in "\\PC*") {
        let _ = parse_list(&input);
        let _ = parse_df(&input);
        let _ = parse_get_recursive(&input);
        let _ = parse_plugins(&input);
        let _ = parse_start_stop(&input);
    }
}

/// The renderers print the fixtures (built independently from the reference
/// formats) back byte for byte.
#[test]
fn renderers_reproduce_the_fixtures() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/iocage");
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap();
    for (path, flavour) in [
        ("legacy/list/ok/basic.txt", Flavour::Legacy),
        ("legacy/list/ok/foreign-jails.txt", Flavour::Legacy),
        ("legacy/list/ok/many-jails.txt", Flavour::Legacy),
        ("legacy/list/ok/tag-with-spaces.txt", Flavour::Legacy),
        ("legacy/list/ok/lh-release-column.txt", Flavour::Legacy),
        ("python/list/ok/short.txt", Flavour::Python),
        ("python/list/ok/long.txt", Flavour::Python),
        ("python/list/ok/many-jails.txt", Flavour::Python),
    ] {
        let text = read(path);
        assert_eq!(
            render::list(&parse_list(&text).unwrap().value, flavour),
            text,
            "{path}"
        );
    }
    for (path, flavour) in [
        ("legacy/df/ok/df.txt", Flavour::Legacy),
        (
            "legacy/df/ok/tag-with-spaces-and-colons.txt",
            Flavour::Legacy,
        ),
        ("legacy/df/ok/wide-values.txt", Flavour::Legacy),
        ("python/df/ok/table.txt", Flavour::Python),
    ] {
        let text = read(path);
        assert_eq!(
            render::df(&parse_df(&text).unwrap().value, flavour),
            text,
            "{path}"
        );
    }
    for (path, flavour) in [
        (
            "legacy/get-recursive/ok/exec-start-with-spaces.txt",
            Flavour::Legacy,
        ),
        ("python/get-recursive/ok/table.txt", Flavour::Python),
    ] {
        let text = read(path);
        let parsed = parse_get_recursive(&text).unwrap().value;
        assert_eq!(render::get_recursive(&parsed, flavour), text, "{path}");
    }
    for (path, flavour) in [
        ("legacy/start/ok/vnet-rlimits.txt", Flavour::Legacy),
        (
            "legacy/stop/ok/removing-jail-process-failed.txt",
            Flavour::Legacy,
        ),
        ("python/start/ok/vnet.txt", Flavour::Python),
        ("python/stop/ok/stop.txt", Flavour::Python),
    ] {
        let text = read(path);
        let parsed = parse_start_stop(&text).unwrap().value;
        assert_eq!(render::start_stop(&parsed, flavour), text, "{path}");
    }
    let text = read("python/list-plugins/ok/wrapped.txt");
    assert_eq!(render::plugins(&parse_plugins(&text).unwrap().value), text);
    let text = read("legacy/get-all/ok/jail.txt");
    assert_eq!(render::get_all(&parse_get_all(&text).unwrap().value), text);
}
