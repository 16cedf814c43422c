//! The `ERROR:` / `WARNING:` / `INFO:` / `HINT:` lines legacy iocage prints
//! (`__die`, `__error`, `__info`: two spaces, the level, a colon), and the
//! unprefixed lines Python iocage prints for the same purpose.

use nom::branch::alt;
use nom::bytes::complete::tag;
use nom::character::complete::space0;
use nom::combinator::{rest, value};
use nom::{IResult, Parser};

use crate::clean::clean_output;
use crate::model::{Flavour, Level, Message};
use crate::text::lines;

fn level(input: &str) -> IResult<&str, Level> {
    alt((
        value(Level::Error, tag("ERROR")),
        value(Level::Warning, tag("WARNING")),
        value(Level::Info, tag("INFO")),
        value(Level::Hint, tag("HINT")),
    ))
    .parse(input)
}

fn prefixed(input: &str) -> IResult<&str, Message> {
    // Correct format is `  ERROR: text`. Unfortunately legacy iocage also
    // prints `  ERROR  : ...` and `  HINT   : ...` (the vnet interface
    // check), and `ERROR: hostid mismatch` without the indent, so the spaces
    // around the level are optional.
    let (input, (_, level, _, _, _, text)) =
        (space0, level, space0, tag(":"), space0, rest).parse(input)?;
    Ok((
        input,
        Message {
            level,
            text: text.trim_end().to_owned(),
        },
    ))
}

/// A prefixed message line, if `text` is one.
pub(crate) fn legacy_message(text: &str) -> Option<Message> {
    prefixed(text).ok().map(|(_, message)| message)
}

/// The level of a line Python iocage logs around any command's output, if
/// `text` is one (its levels show only in the stream; here they are named).
/// Each case cites the freebsd/iocage source (@6f6f4eb) that prints it.
fn python_notice(text: &str) -> Option<Level> {
    let text = text.trim();
    // IOCCheck creating a missing dataset `pool/iocage/...`, on a first run
    // and after every `clean` (iocage_lib/ioc_check.py:110-113).
    if let Some(dataset) = text.strip_prefix("Creating ")
        && dataset.contains('/')
        && !dataset.contains(' ')
    {
        return Some(Level::Info);
    }
    // iocage_lib/ioc_json.py:1295-1299.
    if text == "Default configuration missing, creating one" {
        return Some(Level::Notice);
    }
    // iocage_lib/ioc_start.py:1528-1535 (`for ipv4.` / `for ipv6.`) and
    // :1517-1521.
    if text.starts_with("No default gateway found for ") || text == "No default interface found" {
        return Some(Level::Warning);
    }
    // Python's warnings module: `path.py:12: DeprecationWarning: ...`.
    if text.contains("DeprecationWarning: ") || text.contains("UserWarning: ") {
        return Some(Level::Warning);
    }
    None
}

/// Whether `text` is one of the lines iocage prints around any command's
/// output rather than as part of it: a legacy prefixed message, a legacy
/// banner, or a notice Python logs (`python_notice`).
pub(crate) fn is_known_notice(text: &str) -> bool {
    legacy_message(text).is_some() || crate::text::is_banner(text) || python_notice(text).is_some()
}

/// A line outside what a parser read, as a message: its legacy prefix gives
/// the level, a known Python notice its logging level, anything else is
/// [`Level::Plain`].
pub(crate) fn notice(text: &str) -> Message {
    if let Some(message) = legacy_message(text) {
        return message;
    }
    let level = if crate::text::is_banner(text) {
        Level::Info
    } else {
        python_notice(text).unwrap_or(Level::Plain)
    };
    Message {
        level,
        text: text.trim().to_owned(),
    }
}

/// Every non-blank line of `input` as a message: prefixed lines get their
/// level, the notices Python logs around every command get the level it logs
/// them at, other lines are [`Level::Plain`] (Python has no prefixes: its
/// errors and warnings are the lines it prints on standard error).
pub fn parse_messages(input: &str) -> Vec<Message> {
    let input = clean_output(input);
    lines(&input)
        .filter(|line| !line.is_blank())
        .map(|line| notice(line.text))
        .collect()
}

/// One message line as `flavour` prints it, without the newline.
pub(crate) fn render_message(message: &Message, flavour: Flavour) -> String {
    let name = match message.level {
        Level::Error => "ERROR",
        Level::Warning => "WARNING",
        Level::Info => "INFO",
        Level::Hint => "HINT",
        Level::Notice => "NOTICE",
        Level::Plain => return message.text.clone(),
    };
    match flavour {
        Flavour::Legacy => format!("  {name}: {}", message.text),
        // Python logs bare text at every level (`%(message)s`); the level
        // shows only in which stream the line went to.
        Flavour::Python => message.text.clone(),
    }
}

/// Renders messages, one a line.
pub(crate) fn render_messages(messages: &[Message], flavour: Flavour) -> String {
    let mut out = String::new();
    for message in messages {
        out.push_str(&render_message(message, flavour));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, level: Level, text: &str) {
        assert_eq!(
            parse_messages(line),
            vec![Message {
                level,
                text: text.to_owned()
            }]
        );
    }

    #[test]
    fn legacy_prefixes_give_levels() {
        check(
            "  ERROR: jail foo not found!",
            Level::Error,
            "jail foo not found!",
        );
        check(
            "  INFO: creating tank/iocage/jails",
            Level::Info,
            "creating tank/iocage/jails",
        );
        check(
            "  WARNING: Replacing tag www!",
            Level::Warning,
            "Replacing tag www!",
        );
        check("  HINT   : check man page", Level::Hint, "check man page");
        check(
            "  ERROR  : incorrect interfaces property format",
            Level::Error,
            "incorrect interfaces property format",
        );
        check(
            "ERROR: hostid mismatch, start failed!",
            Level::Error,
            "hostid mismatch, start failed!",
        );
    }

    #[test]
    fn python_lines_are_plain() {
        check(
            "jail 'foo' not found!",
            Level::Plain,
            "jail 'foo' not found!",
        );
    }
}
