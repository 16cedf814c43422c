//! `iocage get`: one bare value (`get PROP JAIL`, Python `get -p`), every
//! property (`get all JAIL`: `key:value`), the defaults (`defaults`:
//! `key=value`), and one property for every jail (`get -r PROP`).
//!
//! Values hold the separator themselves (`memoryuse:8G:log`,
//! `tag:2016-02-09@23:47:04`, `interfaces=vnet0:bridge0`), so a line is split
//! at the FIRST separator only. (sysadm 2016 split at every `:` and reported
//! `"memoryuse": "8G"`.)

use nom::bytes::complete::{tag, take_till1};
use nom::combinator::rest;
use nom::{IResult, Parser};

use crate::clean::clean_output;
use crate::columns::{self, Cells};
use crate::error::ParseError;
use crate::message::{is_known_notice, legacy_message};
use crate::model::{Flavour, Parsed, Properties, Property, RecursiveGet, RecursiveRow};
use crate::text::{Line, Outside, is_uuid_shaped, items, lines};
use crate::texttable::{self, is_border};

const VALUE: &str = "one line holding the value";

/// Parses `iocage get PROP JAIL` (and `get -s`, `get -j`, `get -p`): one
/// line, the bare value. Known notices around it (legacy prefixed lines,
/// banners, Python's first-run lines) are messages; when every line is one,
/// the last is the value (a value may read like a notice). A second other
/// line is an error.
pub fn parse_get_value(input: &str) -> Result<Parsed<String>, ParseError> {
    let input = clean_output(input);
    let mut outside = Outside::default();
    let mut value: Option<Line<'_>> = None;
    let mut last_notice: Option<Line<'_>> = None;
    for line in lines(&input) {
        if line.is_blank() {
            continue;
        }
        if is_known_notice(line.text) {
            last_notice = Some(line);
            outside.push(line);
            continue;
        }
        if value.is_some() {
            return Err(ParseError::unexpected(line.number, line.text, VALUE));
        }
        value = Some(line);
    }
    let value = match (value, last_notice) {
        (Some(line), _) => line,
        (None, Some(line)) if legacy_message(line.text).is_none() => {
            outside.messages.pop();
            line
        }
        (None, _) => return Err(outside.missing(VALUE)),
    };
    Ok(outside.with(value.text.trim_end().to_owned()))
}

fn key_value(separator: &'static str) -> impl Fn(&str) -> IResult<&str, (&str, &str)> {
    move |input| {
        // Property names are words of letters, digits, `_`, `.` and `-`
        // (`ip4_addr`, `CONFIG_VERSION`); a warning's `path.py:12:` is none.
        let (input, key) = take_till1(|c: char| {
            separator.starts_with(c) || !(c.is_ascii_alphanumeric() || "_.-".contains(c))
        })
        .parse(input)?;
        let (input, _) = tag(separator).parse(input)?;
        let (input, value) = rest.parse(input)?;
        Ok((input, (key, value)))
    }
}

fn properties(
    input: &str,
    separator: &'static str,
    expected: &'static str,
) -> Result<Parsed<Properties>, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let parse = key_value(separator);
    let is_item = |text: &str| legacy_message(text).is_none() && parse(text).is_ok();
    let mut outside = Outside::default();
    let first = outside
        .until(&mut it, is_item)
        .ok_or_else(|| outside.missing(expected))?;
    let out = items(
        std::iter::once(first).chain(it),
        &mut outside,
        expected,
        |line| {
            // `is_item`, parsing the line once.
            if legacy_message(line.text).is_some() {
                return None;
            }
            let (_, (key, value)) = parse(line.text).ok()?;
            Some(Ok(Property {
                key: key.to_owned(),
                value: value.to_owned(),
            }))
        },
    )?;
    Ok(outside.with(Properties(out)))
}

/// Parses `iocage get all JAIL` (and `get all default`): `key:value` lines,
/// in order, split at the first `:`. Lines before and after them are
/// messages; a line between them is an error.
pub fn parse_get_all(input: &str) -> Result<Parsed<Properties>, ParseError> {
    properties(input, ":", "a 'key:value' line")
}

/// Parses legacy `iocage defaults`: `key=value` lines, split at the first
/// `=`. Lines before and after them are messages.
pub fn parse_defaults(input: &str) -> Result<Parsed<Properties>, ParseError> {
    properties(input, "=", "a 'key=value' line")
}

/// Prints properties as `get all` does (`key:value`).
pub(crate) fn render_get_all(properties: &Properties) -> String {
    render_properties(properties, ':')
}

/// Prints properties as legacy `defaults` does (`key=value`).
pub(crate) fn render_defaults(properties: &Properties) -> String {
    render_properties(properties, '=')
}

fn render_properties(properties: &Properties, separator: char) -> String {
    let mut out = String::new();
    for property in &properties.0 {
        out.push_str(&property.key);
        out.push(separator);
        out.push_str(&property.value);
        out.push('\n');
    }
    out
}

const RECURSIVE: &str = "a 'get -r' header ('UUID  TAG  <prop>' or a 'NAME | PROP - <prop>' table)";

/// Whether a line starts a `get -r` table: a texttable border, a `-h` row,
/// or the legacy header `UUID  TAG  <prop>`.
fn is_recursive_start(text: &str) -> bool {
    let mut words = text.split_whitespace();
    is_border(text)
        || text.contains('\t')
        || (words.next() == Some("UUID") && words.next() == Some("TAG") && words.count() == 1)
}

/// Parses `iocage get -r PROP`: legacy `column -t` table `UUID TAG PROP`
/// (values may hold single spaces), Python texttable `NAME | PROP - PROP`,
/// or Python `-h` rows `name<TAB>value` (which do not name the property:
/// it is then empty). Lines before and after the table are messages.
pub fn parse_get_recursive(input: &str) -> Result<Parsed<RecursiveGet>, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let mut outside = Outside::default();
    let first = outside
        .until(&mut it, is_recursive_start)
        .ok_or_else(|| outside.missing(RECURSIVE))?;
    if is_border(first.text) {
        let table = texttable::parse(first, &mut it, RECURSIVE)?;
        let property = match &table.header[..] {
            [name, prop] if name == "NAME" => prop.strip_prefix("PROP - "),
            _ => None,
        };
        let Some(property) = property else {
            let line = table.header_line;
            return Err(ParseError::unexpected(line.number, line.text, RECURSIVE));
        };
        let rows = table
            .rows
            .iter()
            .map(|(_, cells)| RecursiveRow {
                name: cells[0].to_string(),
                tag: None,
                value: cells[1].to_string(),
            })
            .collect();
        let property = property.to_owned();
        outside.rest(table.after);
        return Ok(outside.with(RecursiveGet { property, rows }));
    }
    if first.text.contains('\t') {
        const ROW: &str = "a 'name<TAB>value' line";
        let rows = items(
            std::iter::once(first).chain(it),
            &mut outside,
            ROW,
            |line| {
                if !line.text.contains('\t') {
                    return None;
                }
                Some(match line.text.split_once('\t') {
                    Some((name, value)) if !name.is_empty() => Ok(RecursiveRow {
                        name: name.to_owned(),
                        tag: None,
                        value: value.to_owned(),
                    }),
                    _ => Err(ParseError::unexpected(line.number, line.text, ROW)),
                })
            },
        )?;
        return Ok(outside.with(RecursiveGet {
            property: String::new(),
            rows,
        }));
    }
    let get = legacy_recursive(first, it, &mut outside)?;
    Ok(outside.with(get))
}

fn legacy_recursive<'a>(
    first: Line<'a>,
    it: impl Iterator<Item = Line<'a>>,
    outside: &mut Outside<'a>,
) -> Result<RecursiveGet, ParseError> {
    const ROW: &str = "a row 'UUID  TAG  value' lined up with the header";
    let header = columns::header(first.text);
    let property = header.names[2];
    let rows = items(it, outside, ROW, |line| {
        let uuid_first = line
            .text
            .split_whitespace()
            .next()
            .is_some_and(is_uuid_shaped);
        if !uuid_first {
            return None;
        }
        let Some(Cells::Full(cells)) = header.cells(line.text, 3) else {
            return Some(Err(ParseError::unexpected(line.number, line.text, ROW)));
        };
        Some(Ok(RecursiveRow {
            name: cells[0].to_owned(),
            tag: Some(cells[1].to_owned()),
            value: cells[2].to_owned(),
        }))
    })?;
    Ok(RecursiveGet {
        property: property.to_owned(),
        rows,
    })
}

/// Prints `get -r` as `flavour` does.
pub(crate) fn render_get_recursive(get: &RecursiveGet, flavour: Flavour) -> String {
    match flavour {
        Flavour::Legacy => {
            let mut table = vec![vec!["UUID", "TAG", get.property.as_str()]];
            for row in &get.rows {
                table.push(vec![
                    row.name.as_str(),
                    row.tag.as_deref().unwrap_or("-"),
                    &row.value,
                ]);
            }
            columns::render(&table)
        }
        Flavour::Python => {
            let header = format!("PROP - {}", get.property);
            let rows: Vec<Vec<&str>> = get
                .rows
                .iter()
                .map(|row| vec![row.name.as_str(), &row.value])
                .collect();
            texttable::render(&["NAME", &header], &rows, 0)
        }
    }
}

/// Parses the current pool: legacy `iocage activate` prints `pool: NAME`,
/// Python `iocage get -p` prints the bare name.
pub fn parse_pool(input: &str) -> Result<Parsed<String>, ParseError> {
    let parsed = parse_get_value(input)?;
    let value = &parsed.value;
    let name = value.strip_prefix("pool: ").unwrap_or(value).trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        let number = lines(input)
            .find(|line| line.text.trim_end() == value)
            .map_or(1, |line| line.number);
        return Err(ParseError::unexpected(
            number,
            value,
            "'pool: NAME' or a bare pool name",
        ));
    }
    let name = name.to_owned();
    Ok(parsed.map(|_| name))
}

/// Prints the current pool as `flavour` does.
pub(crate) fn render_pool(pool: &str, flavour: Flavour) -> String {
    match flavour {
        Flavour::Legacy => format!("pool: {pool}\n"),
        Flavour::Python => format!("{pool}\n"),
    }
}
