//! Small pieces every parser shares: numbered lines, the banners iocage prints
//! before real output, and nom parsers for tokens that recur (JIDs, UUIDs).

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::combinator::{all_consuming, map, map_res};
use nom::{IResult, Parser};

use crate::error::ParseError;
use crate::message::legacy_message;
use crate::model::Level;

/// One line of output and its 1-based number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    pub(crate) number: usize,
    pub(crate) text: &'a str,
}

impl Line<'_> {
    pub(crate) fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }
}

/// The lines of `input` (without their `\n`), numbered from 1. A final
/// newline does not start an extra empty line.
pub(crate) fn lines(input: &str) -> impl Iterator<Item = Line<'_>> + '_ {
    let bytes = input.as_bytes();
    let mut start = 0;
    let mut number = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        let text = &input[start..end];
        start = end + 1;
        number += 1;
        Some(Line { number, text })
    })
}

/// Whether `text` is one of the notices iocage prints before any command's
/// real output: auto-activation of a pool (legacy `lib/ioc-info:371-372`,
/// Python's variant without the dots) and legacy dataset creation
/// (`lib/ioc-zfs:791`). Parsers skip these wherever a preamble may appear.
pub(crate) fn is_banner(text: &str) -> bool {
    text.starts_with("Setting up zpool [")
        || text.starts_with("If you wish to change")
        || text.starts_with("  INFO: creating ")
}

/// Skips blank lines, banners and legacy `INFO:` notices (spinner lines such
/// as `  INFO: migrating basejail:  done!` included). Stops at the first
/// other line and returns it; a legacy `ERROR:` or `WARNING:` line there (the
/// multi-pool warning ends every command) becomes a [`ParseError`] of kind
/// `Reported`.
pub(crate) fn skip_preamble<'a>(
    lines: &mut impl Iterator<Item = Line<'a>>,
) -> Result<Option<Line<'a>>, ParseError> {
    for line in lines.by_ref() {
        if line.is_blank()
            || is_banner(line.text)
            || legacy_message(line.text).is_some_and(|m| m.level == Level::Info)
        {
            continue;
        }
        check_reported(line)?;
        return Ok(Some(line));
    }
    Ok(None)
}

/// A legacy `ERROR:`/`WARNING:` line as an error.
pub(crate) fn check_reported(line: Line<'_>) -> Result<(), ParseError> {
    if let Some(message) = legacy_message(line.text)
        && matches!(message.level, Level::Error | Level::Warning)
    {
        return Err(ParseError::reported(line.number, line.text.trim()));
    }
    Ok(())
}

/// A JID cell: a number when the jail runs; `-` (legacy, Python 1.2) or
/// `None` (Python since 2020) when it does not.
fn jid_token(input: &str) -> IResult<&str, Option<u32>> {
    alt((
        map(alt((tag("-"), tag("None"))), |_| None),
        map(
            map_res(take_while1(|c: char| c.is_ascii_digit()), str::parse::<u32>),
            Some,
        ),
    ))
    .parse(input)
}

/// Parses a whole JID cell.
pub(crate) fn jid(cell: &str) -> Option<Option<u32>> {
    all_consuming(jid_token)
        .parse(cell)
        .ok()
        .map(|(_, jid)| jid)
}

/// Splits `text` at runs of two or more spaces (legacy `column -t` cells
/// hold single spaces, never two).
pub(crate) fn split_gaps(text: &str) -> Vec<&str> {
    let mut cells = Vec::new();
    let bytes = text.as_bytes();
    let mut start = None;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' && bytes.get(i + 1) == Some(&b' ') {
            if let Some(s) = start.take() {
                cells.push(&text[s..i]);
            }
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            continue;
        }
        if start.is_none() && bytes[i] != b' ' {
            start = Some(i);
        }
        i += 1;
    }
    if let Some(s) = start {
        cells.push(text[s..].trim_end());
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jids_are_numbers_dashes_or_none() {
        assert_eq!(jid("3"), Some(Some(3)));
        assert_eq!(jid("-"), Some(None));
        assert_eq!(jid("None"), Some(None));
        assert_eq!(jid("3x"), None);
        assert_eq!(jid(""), None);
        assert_eq!(jid("99999999999"), None);
    }

    #[test]
    fn lines_are_numbered_from_one_without_a_phantom_last_line() {
        let numbered: Vec<_> = lines("a\n\nb\n").map(|l| (l.number, l.text)).collect();
        assert_eq!(numbered, [(1, "a"), (2, ""), (3, "b")]);
    }

    #[test]
    fn gaps_of_two_spaces_split_cells_and_single_spaces_do_not() {
        assert_eq!(split_gaps("a b  c   d e  "), ["a b", "c", "d e"].as_slice());
    }
}
