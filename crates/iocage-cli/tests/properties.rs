//! Properties of every public parser over generated input (issue 9): no
//! input of any kind (control characters, invalid UTF-8 made lossy, huge
//! lines) makes one panic, errors stay on one line and name a real line, and
//! the render→parse round trips that `roundtrip.rs` leaves out hold: bare
//! values, messages, `list -h` rows, and reports mixing every kind of line.

use iocage_cli::render;
use iocage_cli::*;
use proptest::prelude::*;

/// Runs every public parser on `input` and checks what each error says.
fn parse_everything(input: &str) -> Result<(), TestCaseError> {
    let lines = input.split('\n').count();
    let errors = [
        parse_list(input).err(),
        parse_releases(input).err(),
        parse_remote_releases(input).err(),
        parse_plugins(input).err(),
        parse_df(input).err(),
        parse_get_value(input).err(),
        parse_get_all(input).err(),
        parse_defaults(input).err(),
        parse_get_recursive(input).err(),
        parse_start_stop(input).err(),
        parse_create(input).err(),
        parse_destroy(input).err(),
        parse_activate(input).err(),
        parse_pool(input).err(),
    ];
    for error in errors.into_iter().flatten() {
        let shown = error.to_string();
        prop_assert!(
            !shown.chars().any(char::is_control),
            "error has a control character: {:?}",
            shown
        );
        if let Some(line) = error.line() {
            prop_assert!(
                (1..=lines).contains(&line),
                "line {} of {}: {}",
                line,
                lines,
                shown
            );
        }
    }
    let _ = parse_messages(input);
    let _ = detect_flavour(input);
    Ok(())
}

fn uuid() -> impl Strategy<Value = String> {
    "[0-9a-f]{8}-[0-9a-f]{4}-11e5-[0-9a-f]{4}-[0-9a-f]{12}"
}

/// Python jail names.
fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9._-]{0,14}"
}

/// Legacy tags: dates, colons, parentheses, single spaces.
fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]@[0-2][0-9]:[0-5][0-9]:[0-5][0-9]",
        prop::collection::vec("[a-zA-Z0-9@:()._-]{1,8}", 1..4).prop_map(|words| words.join(" ")),
    ]
}

/// One table cell of `list -h`: anything but a tab or a line end.
fn cell() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9@:/|,.=_-][a-zA-Z0-9@:/|,.=_ -]{0,10}[a-zA-Z0-9]"
}

/// Message text as iocage writes it: starts with a lowercase letter or digit
/// (so it is never itself a level prefix), no surrounding spaces.
fn message_text() -> impl Strategy<Value = String> {
    "[a-z0-9][ -~]{0,30}[a-z0-9.]".prop_filter(
        "legacy reads these INFO texts as banners or already-up notices",
        |text| {
            !text.starts_with("creating ")
                && !text.ends_with(" is already up")
                && !text.ends_with(" is already down")
        },
    )
}

fn level() -> impl Strategy<Value = Level> {
    prop_oneof![
        Just(Level::Error),
        Just(Level::Warning),
        Just(Level::Info),
        Just(Level::Hint),
    ]
}

/// A message that does not end a report with an error.
fn notice() -> impl Strategy<Value = Message> {
    (
        prop_oneof![Just(Level::Warning), Just(Level::Info), Just(Level::Hint)],
        message_text(),
    )
        .prop_map(|(level, text)| Message { level, text })
}

/// Output of other programs (fetch, pkg, rc scripts), kept verbatim.
fn output() -> impl Strategy<Value = String> {
    "[a-z]{1,6}: [a-z ]{0,20}[a-z]"
}

fn step() -> impl Strategy<Value = String> {
    "[A-Z][a-z]{1,8}( [a-z(]{1,8}){0,2}[a-z]"
}

fn legacy_status_line() -> impl Strategy<Value = StartStopLine> {
    let status = prop::option::of(prop_oneof![Just(StepStatus::Ok), Just(StepStatus::Failed)]);
    prop_oneof![
        (any::<bool>(), uuid(), prop::option::of(tag())).prop_map(|(start, name, tag)| {
            StartStopLine::Begin {
                action: if start { Action::Start } else { Action::Stop },
                name,
                tag,
            }
        }),
        (step(), status).prop_map(|(step, status)| StartStopLine::Step { step, status }),
        step().prop_map(|step| StartStopLine::Failed { step }),
        (uuid(), prop::option::of(tag()), any::<bool>())
            .prop_map(|(name, tag, up)| StartStopLine::Already { name, tag, up }),
        notice().prop_map(StartStopLine::Message),
        output().prop_map(|text| StartStopLine::Output { text }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn no_parser_panics_on_any_string(input in any::<String>()) {
        parse_everything(&input)?;
    }

    #[test]
    fn no_parser_panics_on_lines_of_any_bytes(
        lines in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..60), 0..12),
    ) {
        // Raw bytes as a lossy reading of iocage's output would give them.
        let input = String::from_utf8_lossy(&lines.join(&b'\n')).into_owned();
        parse_everything(&input)?;
    }

    #[test]
    fn no_parser_panics_on_a_huge_line(
        piece in prop::sample::select(vec!["|", "+-", " ", "\t", "(", "a", "\x1b[", "\x08", "\r"]),
        count in 1usize..20_000,
    ) {
        parse_everything(&piece.repeat(count))?;
    }

    #[test]
    fn cleaning_keeps_every_line_and_leaves_nothing_to_clean(input in any::<String>()) {
        let cleaned = clean_output(&input);
        prop_assert_eq!(cleaned.matches('\n').count(), input.matches('\n').count());
        prop_assert!(!cleaned.contains(['\x08', '\x1b', '\r']), "{:?}", cleaned);
        prop_assert_eq!(clean_output(&cleaned), cleaned.clone());
    }

    #[test]
    fn a_bare_value_round_trips(value in "[a-z0-9/][ -~]{0,40}[a-z0-9]") {
        prop_assert_eq!(parse_get_value(&render::get_value(&value)).unwrap().value, value);
    }

    #[test]
    fn legacy_messages_round_trip_with_their_levels(
        messages in prop::collection::vec(
            prop_oneof![
                (level(), message_text()).prop_map(|(level, text)| Message { level, text }),
                message_text().prop_map(|text| Message { level: Level::Plain, text }),
            ],
            0..10,
        ),
    ) {
        let text = render::messages(&messages, Flavour::Legacy);
        prop_assert_eq!(parse_messages(&text), messages);
    }

    #[test]
    fn python_messages_round_trip_as_plain_lines(
        messages in prop::collection::vec((level(), message_text()), 0..10),
    ) {
        let messages: Vec<Message> = messages
            .into_iter()
            .map(|(level, text)| Message { level, text })
            .collect();
        let text = render::messages(&messages, Flavour::Python);
        let plain: Vec<Message> = messages
            .into_iter()
            .map(|message| Message { level: Level::Plain, ..message })
            .collect();
        prop_assert_eq!(parse_messages(&text), plain);
    }

    #[test]
    fn scripted_list_rows_round_trip(
        long in any::<bool>(),
        rows in prop::collection::vec(
            (prop::option::of(0u32..100_000), name(), prop::collection::vec(cell(), 8)),
            1..8,
        ),
    ) {
        use Column::*;
        let columns = if long {
            vec![Jid, Name, Boot, State, Type, Release, Ip4, Ip6, Template, Basejail]
        } else {
            vec![Jid, Name, State, Release, Ip4]
        };
        let jails = rows
            .into_iter()
            .map(|(jid, name, cells)| {
                let mut jail = Jail { jid, name, ..Jail::default() };
                let mut cells = cells.into_iter();
                for column in &columns[2..] {
                    let value = Some(cells.next().unwrap());
                    match column {
                        Boot => jail.boot = value,
                        State => jail.state = value,
                        Type => jail.jail_type = value,
                        Release => jail.release = value,
                        Ip4 => jail.ip4 = value,
                        Ip6 => jail.ip6 = value,
                        Template => jail.template = value,
                        Basejail => jail.basejail = value,
                        _ => unreachable!("only these columns are generated"),
                    }
                }
                jail
            })
            .collect();
        let list = JailList { columns, jails, foreign: Vec::new() };
        let text = render::list_scripted(&list);
        prop_assert_eq!(parse_list(&text).unwrap().value, list, "{}", text);
        prop_assert_eq!(detect_flavour(&text), Some(Flavour::Python));
    }

    #[test]
    fn legacy_create_reports_with_notices_and_output_round_trip(
        lines in prop::collection::vec(
            prop_oneof![
                (uuid(), prop::option::of(tag())).prop_map(|(name, tag)| CreateLine::Created {
                    how: Creation::Created, name, tag,
                }),
                uuid().prop_map(|name| CreateLine::Created { how: Creation::Empty, name, tag: None }),
                notice().prop_map(CreateLine::Message),
                output().prop_map(|text| CreateLine::Output { text }),
            ],
            0..8,
        ),
        last in uuid(),
    ) {
        let mut report = CreateReport { lines };
        report.lines.push(CreateLine::Created { how: Creation::Created, name: last, tag: None });
        let text = render::create(&report, Flavour::Legacy);
        prop_assert_eq!(parse_create(&text).unwrap().value, report, "{}", text);
    }

    #[test]
    fn python_create_reports_round_trip(
        lines in prop::collection::vec(
            prop_oneof![
                (name(), prop::option::of(tag()), any::<bool>()).prop_map(|(name, tag, cloned)| {
                    CreateLine::Created {
                        how: if cloned { Creation::Cloned } else { Creation::Created },
                        name,
                        tag,
                    }
                }),
                output().prop_map(|text| CreateLine::Output { text }),
            ],
            0..8,
        ),
        last in name(),
    ) {
        let mut report = CreateReport { lines };
        report.lines.push(CreateLine::Created { how: Creation::Created, name: last, tag: None });
        let text = render::create(&report, Flavour::Python);
        prop_assert_eq!(parse_create(&text).unwrap().value, report, "{}", text);
        prop_assert_eq!(detect_flavour(&text), Some(Flavour::Python));
    }

    #[test]
    fn destroy_reports_with_every_kind_of_line_round_trip(
        legacy in any::<bool>(),
        lines in prop::collection::vec(
            prop_oneof![
                uuid().prop_map(|name| DestroyLine::Destroying { name }),
                name().prop_map(|name| DestroyLine::Stopping { name }),
                "[a-z0-9]{1,8}/iocage/releases/[0-9]{2}\\.[0-9]-RELEASE@[a-z0-9_-]{1,12}"
                    .prop_map(|snapshot| DestroyLine::CloneOrigin { snapshot }),
                (uuid(), prop::option::of(tag())).prop_map(|(name, tag)| DestroyLine::Stop {
                    line: StartStopLine::Begin { action: Action::Stop, name, tag },
                }),
                (step(), prop::option::of(prop_oneof![Just(StepStatus::Ok), Just(StepStatus::Failed)]))
                    .prop_map(|(step, status)| DestroyLine::Stop {
                        line: StartStopLine::Step { step, status },
                    }),
                notice().prop_map(DestroyLine::Message),
            ],
            0..10,
        ),
    ) {
        let flavour = if legacy { Flavour::Legacy } else { Flavour::Python };
        // Python prints messages bare, with nothing to tell them apart.
        let lines: Vec<DestroyLine> = lines
            .into_iter()
            .filter(|line| legacy || !matches!(line, DestroyLine::Message(_)))
            .collect();
        let report = DestroyReport { lines };
        let text = render::destroy(&report, flavour);
        prop_assert_eq!(parse_destroy(&text).unwrap().value, report, "{}", text);
    }

    #[test]
    fn legacy_start_stop_reports_with_every_kind_of_line_round_trip(
        begin in (any::<bool>(), uuid(), prop::option::of(tag())),
        lines in prop::collection::vec(legacy_status_line(), 0..12),
    ) {
        let (start, name, tag) = begin;
        let first = StartStopLine::Begin {
            action: if start { Action::Start } else { Action::Stop },
            name,
            tag,
        };
        let report = StartStopReport { lines: std::iter::once(first).chain(lines).collect() };
        let text = render::start_stop(&report, Flavour::Legacy);
        prop_assert_eq!(parse_start_stop(&text).unwrap().value, report, "{}", text);
    }

    #[test]
    fn an_error_line_anywhere_fails_the_report(
        before in prop::collection::vec(output(), 0..4),
        error in message_text(),
    ) {
        // A legacy ERROR line is never taken for output.
        let mut text = format!("* Starting {}\n", "a".repeat(8));
        for line in &before {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&format!("  ERROR: {error}\n"));
        let failure = parse_start_stop(&text).unwrap_err();
        prop_assert_eq!(failure.kind(), ParseErrorKind::Reported);
        prop_assert_eq!(failure.line(), Some(before.len() + 2));
        let created = format!("  Successfully created: {} (t)\n  ERROR: {error}\n", "a".repeat(8));
        prop_assert_eq!(parse_create(&created).unwrap_err().kind(), ParseErrorKind::Reported);
    }

    #[test]
    fn a_legacy_activation_prints_nothing_and_parses_back(pool in "[a-z][a-z0-9_-]{0,10}") {
        let activation = Activation { pool: Some(pool) };
        let text = render::activate(&activation, Flavour::Legacy);
        prop_assert_eq!(parse_activate(&text).unwrap().value, Activation { pool: None });
    }
}

/// Found by `legacy_start_stop_reports_with_every_kind_of_line_round_trip`:
/// a 25-character step fills the status column, so legacy prints `OK`
/// with no space before it.
#[test]
fn a_step_as_wide_as_the_status_column_keeps_its_status() {
    let report = StartStopReport {
        lines: vec![
            StartStopLine::Begin {
                action: Action::Stop,
                name: "000000aa-0aaa-11e5-aa00-00aa00aaaa00".into(),
                tag: None,
            },
            StartStopLine::Step {
                step: "Aaaaaaaaa a((a( ((a(a(((a".into(),
                status: Some(StepStatus::Ok),
            },
        ],
    };
    let text = render::start_stop(&report, Flavour::Legacy);
    assert!(text.contains("(((aOK\n"), "{text}");
    assert_eq!(parse_start_stop(&text).unwrap().value, report);
}
