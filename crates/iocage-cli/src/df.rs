//! `iocage df`: legacy prints `printf "%-36s  %-6s  %-5s  %-5s  %-5s  %-5s
//! %s\n"` rows whose last field, the TAG, is the rest of the line (it may
//! hold spaces); Python prints a texttable without TAG, or tab-separated
//! rows with `-h`.

use nom::bytes::complete::{take_while, take_while1};
use nom::{IResult, Parser};

use crate::clean::clean_output;
use crate::error::ParseError;
use crate::model::{DfRow, Flavour};
use crate::text::{Line, lines, skip_preamble};
use crate::texttable::{self, is_border};

const DF: &str = "a df header ('UUID  CRT  RES  QTA  USE  AVA  TAG' or a '+---+' border)";
const LEGACY_ROW: &str = "a df row: UUID CRT RES QTA USE AVA then the tag";
const PYTHON_HEADER: [&str; 6] = ["NAME", "CRT", "RES", "QTA", "USE", "AVA"];
/// The minimum widths of legacy's printf format, field by field.
const WIDTHS: [usize; 6] = [36, 6, 5, 5, 5, 5];

/// Parses `iocage df`, either flavour.
pub fn parse_df(input: &str) -> Result<Vec<DfRow>, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let first = skip_preamble(&mut it)?.ok_or_else(|| ParseError::empty(DF))?;
    if is_border(first.text) {
        let table = texttable::parse(first, &mut it, DF)?;
        if !table.header.iter().map(AsRef::as_ref).eq(PYTHON_HEADER) {
            let line = table.header_line;
            return Err(ParseError::unexpected(line.number, line.text, DF));
        }
        return Ok(table
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
            .collect());
    }
    if first.text.contains('\t') {
        return std::iter::once(first)
            .chain(it)
            .filter(|line| !line.is_blank())
            .map(scripted_row)
            .collect();
    }
    if !first
        .text
        .split_whitespace()
        .eq(["UUID", "CRT", "RES", "QTA", "USE", "AVA", "TAG"])
    {
        return Err(ParseError::unexpected(first.number, first.text, DF));
    }
    it.filter(|line| !line.is_blank())
        .map(|line| {
            legacy_row(line.text)
                .map(|(_, row)| row)
                .map_err(|_| ParseError::unexpected(line.number, line.text, LEGACY_ROW))
        })
        .collect()
}

fn scripted_row(line: Line<'_>) -> Result<DfRow, ParseError> {
    let fields: Vec<&str> = line.text.split('\t').collect();
    let [name, crt, res, qta, used, ava] = fields[..] else {
        return Err(ParseError::unexpected(
            line.number,
            line.text,
            "six tab-separated fields: name crt res qta use ava",
        ));
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

fn legacy_row(input: &str) -> IResult<&str, DfRow> {
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
            tag: Some(tag.to_owned()),
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
