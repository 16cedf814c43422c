//! `iocage df`: legacy prints `printf "%-36s  %-6s  %-5s  %-5s  %-5s  %-5s
//! %s\n"` rows whose last field, the TAG, is the rest of the line (it may
//! hold spaces; 1.7.x pads it with `%-20s`, 1.7.0-1.7.1 print no TAG);
//! Python prints a texttable without TAG, or tab-separated rows with `-h`.

use nom::bytes::complete::{take_while, take_while1};
use nom::{IResult, Parser};

use crate::clean::clean_output;
use crate::error::ParseError;
use crate::model::{DfRow, Flavour, Parsed};
use crate::text::{Line, Outside, is_uuid_shaped, items, lines};
use crate::texttable::{self, is_border};

const DF: &str = "a df header ('UUID  CRT  RES  QTA  USE  AVA  TAG' or a '+---+' border)";
const LEGACY_ROW: &str = "a df row: UUID CRT RES QTA USE AVA then the tag";
const PYTHON_HEADER: [&str; 6] = ["NAME", "CRT", "RES", "QTA", "USE", "AVA"];
/// The minimum widths of legacy's printf format, field by field.
const WIDTHS: [usize; 6] = [36, 6, 5, 5, 5, 5];

const LEGACY_HEADER: [&str; 6] = ["UUID", "CRT", "RES", "QTA", "USE", "AVA"];

/// Whether a line starts a df table: a texttable border, a `-h` row, or a
/// legacy header (`UUID  CRT ...`, with or without `TAG`).
fn is_df_start(text: &str) -> bool {
    is_border(text) || text.contains('\t') || legacy_header(text).is_some()
}

/// A legacy df header; `true` when it has the TAG column (every legacy
/// version but 1.7.0-1.7.1, lib/ioc-info@v1.7.1:191).
fn legacy_header(text: &str) -> Option<bool> {
    let mut words = text.split_whitespace();
    if !words.by_ref().take(6).eq(LEGACY_HEADER) {
        return None;
    }
    match (words.next(), words.next()) {
        (None, _) => Some(false),
        (Some("TAG"), None) => Some(true),
        _ => None,
    }
}

/// Whether a line has the shape of a legacy df row: a UUID, or a name and
/// a compression ratio (`1.00x`).
fn is_legacy_row(text: &str) -> bool {
    let mut words = text.split_whitespace();
    words.next().is_some_and(is_uuid_shaped)
        || words.next().is_some_and(|crt| {
            crt.strip_suffix('x').is_some_and(|n| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            })
        })
}

/// Parses `iocage df`, either flavour. Lines before and after the table
/// are messages.
pub fn parse_df(input: &str) -> Result<Parsed<Vec<DfRow>>, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let mut outside = Outside::default();
    let first = outside
        .until(&mut it, is_df_start)
        .ok_or_else(|| outside.missing(DF))?;
    if is_border(first.text) {
        let table = texttable::parse(first, &mut it, DF)?;
        if !table.header.iter().map(AsRef::as_ref).eq(PYTHON_HEADER) {
            let line = table.header_line;
            return Err(ParseError::unexpected(line.number, line.text, DF));
        }
        let rows = table
            .rows
            .into_iter()
            .map(|(_, cells)| {
                let [name, crt, res, qta, used, ava]: [String; 6] = cells
                    .into_iter()
                    .map(|c| c.into_owned())
                    .collect::<Vec<_>>()
                    .try_into()
                    .unwrap_or_default();
                DfRow {
                    name,
                    crt,
                    res,
                    qta,
                    used,
                    ava,
                    tag: None,
                }
            })
            .collect();
        outside.rest(table.after);
        return Ok(outside.with(rows));
    }
    let rows = if first.text.contains('\t') {
        items(
            std::iter::once(first).chain(it),
            &mut outside,
            SCRIPTED_ROW,
            |line| line.text.contains('\t').then(|| scripted_row(line)),
        )?
    } else {
        let tagged = legacy_header(first.text).unwrap_or(true);
        items(it, &mut outside, LEGACY_ROW, |line| {
            is_legacy_row(line.text).then(|| {
                legacy_row(line.text, tagged)
                    .map(|(_, row)| row)
                    .map_err(|_| ParseError::unexpected(line.number, line.text, LEGACY_ROW))
            })
        })?
    };
    Ok(outside.with(rows))
}

const SCRIPTED_ROW: &str = "six tab-separated fields: name crt res qta use ava";

fn scripted_row(line: Line<'_>) -> Result<DfRow, ParseError> {
    let fields: Vec<&str> = line.text.split('\t').collect();
    let [name, crt, res, qta, used, ava] = fields[..] else {
        return Err(ParseError::unexpected(line.number, line.text, SCRIPTED_ROW));
    };
    Ok(DfRow {
        name: name.to_owned(),
        crt: crt.to_owned(),
        res: res.to_owned(),
        qta: qta.to_owned(),
        used: used.to_owned(),
        ava: ava.to_owned(),
        tag: None,
    })
}

fn field(input: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c != ' ').parse(input)
}

fn spaces(input: &str) -> IResult<&str, &str> {
    take_while(|c: char| c == ' ').parse(input)
}

fn legacy_row(input: &str, tagged: bool) -> IResult<&str, DfRow> {
    let mut fields = [""; 6];
    let mut rest = input;
    for (i, slot) in fields.iter_mut().enumerate() {
        if i > 0 {
            (rest, _) = spaces(rest)?;
        }
        (rest, *slot) = field(rest)?;
    }
    // The TAG follows AVA's padding (to 5 characters) and one space. Taking
    // exactly that many spaces keeps a tag's own leading spaces; LH's
    // `column -t` variant pads more, and then the remaining spaces go too.
    let pad = WIDTHS[5].saturating_sub(fields[5].chars().count()) + 1;
    let skip = rest.bytes().take(pad).take_while(|&b| b == b' ').count();
    let mut tag = &rest[skip..];
    if skip < pad || tag.starts_with("  ") {
        tag = tag.trim_start();
    }
    // Correct format ends the line with the tag. Unfortunately legacy
    // 1.7.x pads it with `%-20s` (lib/ioc-info@6189eac:192-204), so
    // trailing spaces are padding, not tag.
    let tag = tag.trim_end();
    if !tagged && !tag.is_empty() {
        // 1.7.0-1.7.1 print no TAG; their rows end in AVA's padding.
        return Err(nom::Err::Error(nom::error::Error::new(
            tag,
            nom::error::ErrorKind::Eof,
        )));
    }
    let [name, crt, res, qta, used, ava] = fields.map(str::to_owned);
    Ok((
        "",
        DfRow {
            name,
            crt,
            res,
            qta,
            used,
            ava,
            tag: tagged.then(|| tag.to_owned()),
        },
    ))
}

/// Prints df rows as `flavour`'s `iocage df` does.
pub(crate) fn render_df(rows: &[DfRow], flavour: Flavour) -> String {
    match flavour {
        Flavour::Legacy => {
            let mut out = String::new();
            let mut line = |fields: [&str; 7]| {
                for (i, (field, width)) in fields.iter().zip(WIDTHS).enumerate() {
                    out.push_str(field);
                    let pad = width.saturating_sub(field.chars().count());
                    out.extend(std::iter::repeat_n(' ', pad));
                    // AVA and TAG are separated by one space, the others by two.
                    out.push_str(if i == 5 { " " } else { "  " });
                }
                out.push_str(fields[6]);
                out.push('\n');
            };
            line(["UUID", "CRT", "RES", "QTA", "USE", "AVA", "TAG"]);
            for row in rows {
                line([
                    &row.name,
                    &row.crt,
                    &row.res,
                    &row.qta,
                    &row.used,
                    &row.ava,
                    row.tag.as_deref().unwrap_or("-"),
                ]);
            }
            out
        }
        Flavour::Python => {
            let rows: Vec<Vec<&str>> = rows
                .iter()
                .map(|r| vec![r.name.as_str(), &r.crt, &r.res, &r.qta, &r.used, &r.ava])
                .collect();
            texttable::render(&PYTHON_HEADER, &rows, 0)
        }
    }
}
