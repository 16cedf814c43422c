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

/// Every non-blank line of `input` as a message: prefixed lines get their
/// level, other lines are [`Level::Plain`] (Python has no prefixes: its
/// errors and warnings are the lines it prints on standard error).
pub fn parse_messages(input: &str) -> Vec<Message> {
    let input = clean_output(input);
    lines(&input)
        .filter(|line| !line.is_blank())
        .map(|line| {
            legacy_message(line.text).unwrap_or_else(|| Message {
                level: Level::Plain,
                text: line.text.trim().to_owned(),
            })
        })
        .collect()
}

/// One message line as `flavour` prints it, without the newline.
pub(crate) fn render_message(message: &Message, flavour: Flavour) -> String {
    let name = match message.level {
        Level::Error => "ERROR",
        Level::Warning => "WARNING",
        Level::Info => "INFO",
        Level::Hint => "HINT",
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
