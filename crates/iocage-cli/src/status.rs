//! `iocage start` and `iocage stop`: a `* Starting` line per jail, then one
//! status line per step. Legacy pads every step line to 31 characters with
//! the status word at the end (`  + Starting services        OK`); Python
//! puts one space before it (`  + Starting services OK`).

use nom::branch::alt;
use nom::bytes::complete::{tag, take_till1};
use nom::combinator::{rest, value};
use nom::{IResult, Parser};

use crate::clean::clean_output;
use crate::error::ParseError;
use crate::message::{legacy_message, render_message};
use crate::model::{Action, Flavour, Level, Parsed, StartStopLine, StartStopReport, StepStatus};
use crate::text::{Line, Outside, is_banner, lines};

/// Legacy status lines end at this column.
const STATUS_COLUMN: usize = 31;
const START_STOP: &str = "'* Starting NAME', '* Stopping NAME' or an 'already up/down' notice";

fn begin(input: &str) -> IResult<&str, StartStopLine> {
    let (input, _) = tag("* ").parse(input)?;
    let (input, action) = alt((
        value(Action::Start, tag("Starting ")),
        value(Action::Stop, tag("Stopping ")),
    ))
    .parse(input)?;
    let (input, name) = take_till1(|c: char| c == ' ').parse(input)?;
    let (input, tag) = rest.parse(input)?;
    let tag = match tag {
        "" => None,
        // The legacy tag may itself hold spaces and parentheses.
        t => Some(
            t.strip_prefix(" (")
                .and_then(|t| t.strip_suffix(')'))
                .ok_or_else(|| {
                    nom::Err::Error(nom::error::Error::new(t, nom::error::ErrorKind::Tag))
                })?
                .to_owned(),
        ),
    };
    Ok((
        input,
        StartStopLine::Begin {
            action,
            name: name.to_owned(),
            tag,
        },
    ))
}

/// `NAME (TAG)` or `NAME` as legacy prints a jail.
pub(crate) fn name_and_tag(subject: &str) -> Option<(String, Option<String>)> {
    match subject.split_once(' ') {
        None if !subject.is_empty() => Some((subject.to_owned(), None)),
        Some((name, tag)) if !name.is_empty() => {
            let tag = tag.strip_prefix('(')?.strip_suffix(')')?;
            Some((name.to_owned(), Some(tag.to_owned())))
        }
        _ => None,
    }
}

fn step(rest: &str) -> StartStopLine {
    let trimmed = rest.trim_end();
    // Python 1.x reports a DHCP failure inside the step text:
    // `  + Acquiring DHCP address: FAILED, address received: 0.0.0.0`
    // (iocage_lib/ioc_start.py@6f6f4eb:947-952).
    if let Some((step, _)) = trimmed.split_once(": FAILED,") {
        if !step.is_empty() {
            return StartStopLine::Step {
                step: trimmed.to_owned(),
                status: Some(StepStatus::Failed),
            };
        }
    }
    // Correct format is the step, padding, then the status. Unfortunately
    // legacy prints `  + Removing jail processFAILED` with no space at all
    // (the prefix is 25 characters, FAILED 6), so the status is matched as a
    // bare suffix.
    //
    // Python 1.x ends a failed jail removal with a colon, jail(8)'s errors
    // on the lines after it: `  + Removing jail process FAILED:`
    // (iocage_lib/ioc_stop.py@c3198327:338, @6f6f4eb:351).
    let (step, status) = if let Some(step) = trimmed
        .strip_suffix("FAILED")
        .or_else(|| trimmed.strip_suffix("FAILED:"))
    {
        (step.trim_end(), Some(StepStatus::Failed))
    } else if let Some(step) = trimmed.strip_suffix(" OK") {
        (step.trim_end(), Some(StepStatus::Ok))
    } else if let Some(step) = trimmed
        .strip_suffix("OK")
        .filter(|_| "  + ".len() + trimmed.chars().count() == STATUS_COLUMN)
    {
        // Likewise a 25-character step leaves no room for padding before
        // OK: the line is exactly as wide as the status column.
        (step, Some(StepStatus::Ok))
    } else {
        (trimmed, None)
    };
    StartStopLine::Step {
        step: step.to_owned(),
        status,
    }
}

/// Classifies one line of start/stop output; `None` when it is none of the
/// lines iocage itself prints.
pub(crate) fn classify(line: Line<'_>) -> Result<Option<StartStopLine>, ParseError> {
    let text = line.text.trim_end();
    if let Ok((_, begin)) = begin(text) {
        return Ok(Some(begin));
    }
    if let Some(rest) = text.strip_prefix("  + ") {
        return Ok(Some(step(rest)));
    }
    if let Some(rest) = text.strip_prefix("  ! ") {
        let step = rest.strip_suffix("FAILED").unwrap_or(rest).trim_end();
        return Ok(Some(StartStopLine::Failed {
            step: step.to_owned(),
        }));
    }
    if let Some(message) = legacy_message(text) {
        if message.level == Level::Info {
            for (suffix, up) in [(" is already up", true), (" is already down", false)] {
                if let Some((name, tag)) = message.text.strip_suffix(suffix).and_then(name_and_tag)
                {
                    return Ok(Some(StartStopLine::Already { name, tag, up }));
                }
            }
        }
        if message.level == Level::Error {
            return Err(ParseError::reported(line.number, text.trim()));
        }
        return Ok(Some(StartStopLine::Message(message)));
    }
    // Python prints `NAME is already running!` / `NAME is not running!`
    // (0.9.x with the tag: `UUID (TAG) is already running!`,
    // iocage/lib/ioc_start.py@822d006f:348, ioc_stop.py@822d006f:56);
    // legacy 1.7.x print `* UUID: is already up` on stdout
    // (lib/ioc-rc@6189eac:38-41, 377-380).
    const ALREADY: [(&str, &str, bool); 4] = [
        ("", " is already running!", true),
        ("", " is not running!", false),
        ("* ", ": is already up", true),
        ("* ", ": is already down", false),
    ];
    // Python 0.9.8-1.1 raise such an EXCEPTION-level message when stdout is
    // no terminal, so it ends a traceback as `RuntimeError: <message>`
    // (iocage_lib/ioc_common.py@8fc88756:62-66).
    let text = text.strip_prefix("RuntimeError: ").unwrap_or(text);
    for (prefix, suffix, up) in ALREADY {
        if let Some((name, tag)) = text
            .strip_prefix(prefix)
            .and_then(|t| t.strip_suffix(suffix))
            .and_then(name_and_tag)
        {
            return Ok(Some(StartStopLine::Already { name, tag, up }));
        }
    }
    Ok(None)
}

/// Parses `iocage start` or `iocage stop` output, either flavour. Lines
/// that iocage did not write itself (jail(8), rc scripts) are kept as output
/// once a `* Starting` line has been seen; before it they are messages
/// (zfs errors, notices). A legacy `ERROR:` line is an error.
pub fn parse_start_stop(input: &str) -> Result<Parsed<StartStopReport>, ParseError> {
    let input = clean_output(input);
    let mut report = StartStopReport::default();
    let mut outside = Outside::default();
    let mut begun = false;
    for line in lines(&input) {
        if line.is_blank() {
            continue;
        }
        if report.lines.is_empty() && is_banner(line.text) {
            outside.push(line);
            continue;
        }
        match classify(line)? {
            Some(parsed) => {
                begun |= matches!(
                    parsed,
                    StartStopLine::Begin { .. } | StartStopLine::Already { .. }
                );
                report.lines.push(parsed);
            }
            None if begun => report.lines.push(StartStopLine::Output {
                text: line.text.to_owned(),
            }),
            None => outside.push(line),
        }
    }
    if report.lines.is_empty() {
        return Err(outside.missing(START_STOP));
    }
    Ok(outside.with(report))
}

fn padded(prefix: &str, status: &str) -> String {
    let used = prefix.chars().count() + status.len();
    let pad = if used <= STATUS_COLUMN {
        STATUS_COLUMN - used
    } else {
        1
    };
    format!("{prefix}{}{status}", " ".repeat(pad))
}

fn subject(name: &str, tag: Option<&str>) -> String {
    match tag {
        Some(tag) => format!("{name} ({tag})"),
        None => name.to_owned(),
    }
}

/// One start/stop line as `flavour` prints it, without the newline.
pub(crate) fn render_line(line: &StartStopLine, flavour: Flavour) -> String {
    match line {
        StartStopLine::Begin { action, name, tag } => {
            let verb = match action {
                Action::Start => "Starting",
                Action::Stop => "Stopping",
            };
            format!("* {verb} {}", subject(name, tag.as_deref()))
        }
        StartStopLine::Step { step, status } => {
            let prefix = format!("  + {step}");
            let status = match status {
                Some(StepStatus::Ok) => "OK",
                Some(StepStatus::Failed) => "FAILED",
                None => return prefix,
            };
            match flavour {
                Flavour::Legacy => padded(&prefix, status),
                Flavour::Python => format!("{prefix} {status}"),
            }
        }
        StartStopLine::Failed { step } => padded(&format!("  ! {step}"), "FAILED"),
        StartStopLine::Already { name, tag, up } => match flavour {
            Flavour::Legacy => format!(
                "  INFO: {} is already {}",
                subject(name, tag.as_deref()),
                if *up { "up" } else { "down" }
            ),
            Flavour::Python => format!(
                "{name} {}",
                if *up {
                    "is already running!"
                } else {
                    "is not running!"
                }
            ),
        },
        StartStopLine::Message(message) => render_message(message, flavour),
        StartStopLine::Output { text } => text.clone(),
    }
}

/// Prints a start/stop report as `flavour` does.
pub(crate) fn render_start_stop(report: &StartStopReport, flavour: Flavour) -> String {
    let mut out = String::new();
    for line in &report.lines {
        out.push_str(&render_line(line, flavour));
        out.push('\n');
    }
    out
}
