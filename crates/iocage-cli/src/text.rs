//! Small pieces every parser shares: numbered lines, the banners iocage prints
//! before real output, and nom parsers for tokens that recur (JIDs, UUIDs).

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::combinator::{all_consuming, map, map_res};
use nom::{IResult, Parser};

use crate::error::ParseError;
use crate::message::{is_known_notice, legacy_message, notice};
use crate::model::{Level, Message, Parsed};

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
/// (`lib/ioc-zfs:791`). Parsers keep these as messages.
pub(crate) fn is_banner(text: &str) -> bool {
    text.starts_with("Setting up zpool [")
        || text.starts_with("If you wish to change")
        || text.starts_with("  INFO: creating ")
}

/// The lines outside what a parser reads: before a table or block starts,
/// and after it ends. Each becomes a [`Message`]; blank lines are dropped.
#[derive(Debug, Default)]
pub(crate) struct Outside<'a> {
    pub(crate) messages: Vec<Message>,
    /// The first line that is not a known notice, for the error when no
    /// table or block is found.
    unknown: Option<Line<'a>>,
    /// The first legacy `ERROR:`/`WARNING:` line.
    reported: Option<Line<'a>>,
}

impl<'a> Outside<'a> {
    /// Keeps `line` as a message.
    pub(crate) fn push(&mut self, line: Line<'a>) {
        if line.is_blank() {
            return;
        }
        if legacy_message(line.text)
            .is_some_and(|m| matches!(m.level, Level::Error | Level::Warning))
        {
            self.reported.get_or_insert(line);
        } else if !is_known_notice(line.text) {
            self.unknown.get_or_insert(line);
        }
        self.messages.push(notice(line.text));
    }

    /// Keeps lines as messages up to the first one for which `is_start`
    /// holds, and returns that one.
    pub(crate) fn until(
        &mut self,
        lines: &mut impl Iterator<Item = Line<'a>>,
        is_start: impl Fn(&str) -> bool,
    ) -> Option<Line<'a>> {
        for line in lines.by_ref() {
            if !line.is_blank() && is_start(line.text) {
                return Some(line);
            }
            self.push(line);
        }
        None
    }

    /// Keeps every remaining line as a message.
    pub(crate) fn rest(&mut self, lines: impl IntoIterator<Item = Line<'a>>) {
        for line in lines {
            self.push(line);
        }
    }

    /// The error when what was expected never started: the error iocage
    /// reported instead (a legacy `ERROR:` or `WARNING:` line, such as the
    /// multi-pool warning), else the first line that is no known notice,
    /// else "empty".
    pub(crate) fn missing(&self, expected: &'static str) -> ParseError {
        if let Some(line) = self.reported {
            return ParseError::reported(line.number, line.text.trim());
        }
        match self.unknown {
            Some(line) => ParseError::unexpected(line.number, line.text, expected),
            None => ParseError::empty(expected),
        }
    }

    /// The value with these messages around it.
    pub(crate) fn with<T>(self, value: T) -> Parsed<T> {
        Parsed {
            value,
            messages: self.messages,
        }
    }
}

/// Lines after the items of a block with no closing line (a `column -t`
/// table, `key:value` lines): held until the next item, which makes the
/// first held line an error (it is *inside* the block); held to the end,
/// they are outside it and become messages.
#[derive(Debug, Default)]
pub(crate) struct Held<'a> {
    lines: Vec<Line<'a>>,
}

impl<'a> Held<'a> {
    /// Holds a line that is not an item (blank lines are ignored).
    pub(crate) fn hold(&mut self, line: Line<'a>) {
        if !line.is_blank() {
            self.lines.push(line);
        }
    }

    /// An item came: any held line was inside the block.
    pub(crate) fn item(&self, expected: &'static str) -> Result<(), ParseError> {
        match self.lines.first() {
            Some(line) => Err(ParseError::unexpected(line.number, line.text, expected)),
            None => Ok(()),
        }
    }

    /// The block ended: the held lines were after it.
    pub(crate) fn finish(self, outside: &mut Outside<'a>) {
        outside.rest(self.lines);
    }
}

/// Reads the items of a block with no closing line. `item` gives `None` for
/// a line that is not one: such a line is held, an error if an item follows
/// it (it was inside the block), a message if none does. Otherwise it gives
/// the item, or the error that line is.
pub(crate) fn items<'a, T>(
    lines: impl IntoIterator<Item = Line<'a>>,
    outside: &mut Outside<'a>,
    expected: &'static str,
    mut item: impl FnMut(Line<'a>) -> Option<Result<T, ParseError>>,
) -> Result<Vec<T>, ParseError> {
    let mut held = Held::default();
    let mut out = Vec::new();
    for line in lines {
        match item(line) {
            None => held.hold(line),
            Some(result) => {
                held.item(expected)?;
                out.push(result?);
            }
        }
    }
    held.finish(outside);
    Ok(out)
}

/// Whether `word` has the shape of a 36-character UUID (legacy `get -r`
/// and df rows start with one).
pub(crate) fn is_uuid_shaped(word: &str) -> bool {
    word.len() == 36
        && word.bytes().filter(|&b| b == b'-').count() == 4
        && word.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
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
