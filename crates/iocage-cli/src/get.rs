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
use crate::model::{Flavour, Properties, Property, RecursiveGet, RecursiveRow};
use crate::text::{Line, check_reported, lines, skip_preamble};
use crate::texttable::{self, is_border};

const VALUE: &str = "one line holding the value";

/// Parses `iocage get PROP JAIL` (and `get -s`, `get -j`, `get -p`): exactly
/// one line, the bare value. A legacy `ERROR:` line is an error.
pub fn parse_get_value(input: &str) -> Result<String, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let first = skip_preamble(&mut it)?.ok_or_else(|| ParseError::empty(VALUE))?;
    if let Some(extra) = it.find(|line| !line.is_blank()) {
        check_reported(extra)?;
        return Err(ParseError::unexpected(extra.number, extra.text, VALUE));
    }
    Ok(first.text.trim_end().to_owned())
}

fn key_value(separator: &'static str) -> impl Fn(&str) -> IResult<&str, (&str, &str)> {
    move |input| {
        let (input, key) =
            take_till1(|c: char| separator.starts_with(c) || c.is_whitespace()).parse(input)?;
        let (input, _) = tag(separator).parse(input)?;
        let (input, value) = rest.parse(input)?;
        Ok((input, (key, value)))
    }
}

fn properties(
    input: &str,
    separator: &'static str,
    expected: &'static str,
) -> Result<Properties, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let first = skip_preamble(&mut it)?.ok_or_else(|| ParseError::empty(expected))?;
    let parse = key_value(separator);
    let mut out = Vec::new();
    for line in std::iter::once(first).chain(it) {
        if line.is_blank() {
            continue;
        }
        check_reported(line)?;
        let Ok((_, (key, value))) = parse(line.text) else {
            return Err(ParseError::unexpected(line.number, line.text, expected));
        };
        out.push(Property {
            key: key.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(Properties(out))
}

/// Parses `iocage get all JAIL` (and `get all default`): `key:value` lines,
/// in order, split at the first `:`.
pub fn parse_get_all(input: &str) -> Result<Properties, ParseError> {
    properties(input, ":", "a 'key:value' line")
}

/// Parses legacy `iocage defaults`: `key=value` lines, split at the first `=`.
pub fn parse_defaults(input: &str) -> Result<Properties, ParseError> {
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

/// Parses `iocage get -r PROP`: legacy `column -t` table `UUID TAG PROP`
/// (values may hold single spaces), Python texttable `NAME | PROP - PROP`,
/// or Python `-h` rows `name<TAB>value` (which do not name the property:
/// it is then empty).
pub fn parse_get_recursive(input: &str) -> Result<RecursiveGet, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let first = skip_preamble(&mut it)?.ok_or_else(|| ParseError::empty(RECURSIVE))?;
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
        return Ok(RecursiveGet {
            property: property.to_owned(),
            rows,
        });
    }
    if first.text.contains('\t') {
        let rows = std::iter::once(first)
            .chain(it)
            .filter(|line| !line.is_blank())
            .map(|line| match line.text.split_once('\t') {
                Some((name, value)) if !name.is_empty() => Ok(RecursiveRow {
                    name: name.to_owned(),
                    tag: None,
                    value: value.to_owned(),
                }),
                _ => Err(ParseError::unexpected(
                    line.number,
                    line.text,
                    "a 'name<TAB>value' line",
                )),
            })
            .collect::<Result<_, _>>()?;
        return Ok(RecursiveGet {
            property: String::new(),
            rows,
        });
    }
    legacy_recursive(first, it)
}

fn legacy_recursive<'a>(
    first: Line<'a>,
    it: impl Iterator<Item = Line<'a>>,
) -> Result<RecursiveGet, ParseError> {
    const ROW: &str = "a row 'UUID  TAG  value' lined up with the header";
    let header = columns::header(first.text);
    let [uuid, tag, property] = header.names[..] else {
        return Err(ParseError::unexpected(first.number, first.text, RECURSIVE));
    };
    if uuid != "UUID" || tag != "TAG" {
        return Err(ParseError::unexpected(first.number, first.text, RECURSIVE));
    }
    let mut rows = Vec::new();
    for line in it {
        if line.is_blank() {
            continue;
        }
        check_reported(line)?;
        let Some(Cells::Full(cells)) = header.cells(line.text, 3) else {
            return Err(ParseError::unexpected(line.number, line.text, ROW));
        };
        rows.push(RecursiveRow {
            name: cells[0].to_owned(),
            tag: Some(cells[1].to_owned()),
            value: cells[2].to_owned(),
        });
    }
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
pub fn parse_pool(input: &str) -> Result<String, ParseError> {
    let value = parse_get_value(input)?;
    let name = value.strip_prefix("pool: ").unwrap_or(&value).trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(ParseError::unexpected(
            1,
            &value,
            "'pool: NAME' or a bare pool name",
        ));
    }
    Ok(name.to_owned())
}

/// Prints the current pool as `flavour` does.
pub(crate) fn render_pool(pool: &str, flavour: Flavour) -> String {
    match flavour {
        Flavour::Legacy => format!("pool: {pool}\n"),
        Flavour::Python => format!("{pool}\n"),
    }
}
