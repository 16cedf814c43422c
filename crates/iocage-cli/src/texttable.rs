//! Python iocage's tables: the output of the `texttable` package with its
//! default decoration. A `+---+` border above and below, a `+===+` line under
//! the header, a `+---+` line between rows, one space of padding, header
//! cells centred, data cells left-aligned. With a `max_width` (80 for
//! `list -PR`) long cells wrap over several physical lines.
//!
//! Cells are cut at the `+` positions of the border, not at `|`, because a
//! value may hold a `|` itself (`list -l` prints `em0|10.0.0.5/24`).

use std::borrow::Cow;

use crate::error::ParseError;
use crate::text::Line;

/// A parsed table: header cells and rows, each row with the line it began on.
#[derive(Debug)]
pub(crate) struct Table<'a> {
    pub(crate) header: Vec<Cow<'a, str>>,
    pub(crate) header_line: Line<'a>,
    pub(crate) rows: Vec<(Line<'a>, Vec<Cow<'a, str>>)>,
    /// The lines after the bottom border (blank lines included): not part
    /// of the table.
    pub(crate) after: Vec<Line<'a>>,
}

/// Whether `text` is a texttable border or separator line.
pub(crate) fn is_border(text: &str) -> bool {
    let text = text.trim_end();
    text.len() >= 2
        && text.starts_with('+')
        && text.ends_with('+')
        && text.bytes().all(|b| b == b'+' || b == b'-' || b == b'=')
}

/// Reads a table whose top border is `first`; consumes the lines up to the
/// bottom border and returns those after it in [`Table::after`]. A line
/// after the last border that is followed by more of the table (a border or
/// a `| ` row) is inside the table, and an error.
pub(crate) fn parse<'a>(
    first: Line<'a>,
    lines: &mut impl Iterator<Item = Line<'a>>,
    expected: &'static str,
) -> Result<Table<'a>, ParseError> {
    if !is_border(first.text) || first.text.contains('=') {
        return Err(ParseError::unexpected(first.number, first.text, expected));
    }
    let plus: Vec<usize> = first
        .text
        .trim_end()
        .char_indices()
        .filter(|(_, c)| *c == '+')
        .map(|(i, _)| i)
        .collect();
    let width = first.text.trim_end().len();
    let widths: Vec<usize> = plus
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).saturating_sub(3))
        .collect();

    let mut header: Option<(Line<'a>, Vec<Cow<'a, str>>)> = None;
    let mut rows = Vec::new();
    let mut group: Vec<Vec<&'a str>> = Vec::new();
    let mut group_line: Option<Line<'a>> = None;
    let mut last = first;
    let mut end: Option<Line<'a>> = None;
    for line in lines.by_ref() {
        last = line;
        let text = line.text.trim_end();
        if text.starts_with('+') && end.is_none() {
            if !is_border(text) || text.len() != width || !same_plus(text, &plus) {
                return Err(ParseError::unexpected(
                    line.number,
                    line.text,
                    "a border line as wide as the table's top border",
                ));
            }
            let Some(start) = group_line.take() else {
                if text.contains('=') || header.is_none() {
                    return Err(ParseError::unexpected(line.number, line.text, expected));
                }
                // A header with no rows: `+===+` followed by the bottom border.
                end = Some(line);
                continue;
            };
            let cells = join(&group, &widths, header.is_none());
            group.clear();
            if text.contains('=') {
                if header.is_some() {
                    return Err(ParseError::unexpected(
                        line.number,
                        line.text,
                        "one header per table",
                    ));
                }
                header = Some((start, cells));
            } else if header.is_none() {
                return Err(ParseError::unexpected(
                    line.number,
                    line.text,
                    "a '+===+' line under the header",
                ));
            } else {
                rows.push((start, cells));
            }
            continue;
        }
        let row = if end.is_some() || line.is_blank() {
            None
        } else {
            split_row(line.text, &plus, width)
        };
        let Some(cells) = row else {
            // After a `+---+` line with the header read, a line that is no
            // row ends the table, unless more of the table follows: then it
            // was inside it.
            if group_line.is_none() && header.is_some() {
                return trailing(line, lines, header, rows);
            }
            return Err(ParseError::unexpected(
                line.number,
                line.text,
                "a table row '| ... |' lined up with the border",
            ));
        };
        if group_line.is_none() {
            group_line = Some(line);
        }
        group.push(cells);
    }
    // Every row ends with a `+---+` line, so a table cut inside a row has
    // rows left over; one cut right after a separator cannot be told from a
    // complete table.
    let Some((header_line, header)) = header.filter(|_| group_line.is_none()) else {
        return Err(ParseError::truncated(
            last.number,
            last.text,
            "a table closed by a '+---+' border",
        ));
    };
    Ok(Table {
        header,
        header_line,
        rows,
        after: Vec::new(),
    })
}

type Header<'a> = Option<(Line<'a>, Vec<Cow<'a, str>>)>;
type Rows<'a> = Vec<(Line<'a>, Vec<Cow<'a, str>>)>;

/// The table ended before `line`: it and the lines after it are outside the
/// table, unless a border or row line follows, which puts `line` inside.
fn trailing<'a>(
    line: Line<'a>,
    lines: &mut impl Iterator<Item = Line<'a>>,
    header: Header<'a>,
    rows: Rows<'a>,
) -> Result<Table<'a>, ParseError> {
    let mut after = Vec::new();
    for next in std::iter::once(line).chain(lines) {
        let text = next.text.trim_start();
        if is_border(next.text) || text.starts_with("| ") {
            return Err(ParseError::unexpected(
                line.number,
                line.text,
                "a table row '| ... |' or border inside the table",
            ));
        }
        after.push(next);
    }
    let (header_line, header) = header.expect("the caller checked");
    Ok(Table {
        header,
        header_line,
        rows,
        after,
    })
}

fn same_plus(text: &str, plus: &[usize]) -> bool {
    let bytes = text.as_bytes();
    plus.iter().all(|&i| bytes.get(i) == Some(&b'+'))
}

/// The cells of one physical `|` line, cut at the border's `+` positions.
fn split_row<'a>(text: &'a str, plus: &[usize], width: usize) -> Option<Vec<&'a str>> {
    let text = text.trim_end_matches([' ', '\t']);
    // Byte positions equal character positions only for ASCII; translate
    // otherwise (texttable counts characters).
    let positions: Vec<usize> = if text.is_ascii() {
        if text.len() != width {
            return None;
        }
        plus.to_vec()
    } else {
        let offsets: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        if offsets.len() != width {
            return None;
        }
        plus.iter().map(|&p| offsets[p]).collect()
    };
    let bytes = text.as_bytes();
    if positions.iter().any(|&p| bytes.get(p) != Some(&b'|')) {
        return None;
    }
    let mut cells = Vec::with_capacity(positions.len() - 1);
    for pair in positions.windows(2) {
        let cell = text.get(pair[0] + 1..pair[1])?;
        let cell = cell.strip_prefix(' ')?.trim_end();
        cells.push(cell);
    }
    Some(cells)
}

/// Joins the physical lines of one logical row: a wrapped cell continues on
/// the next line. texttable wraps at spaces, so pieces are joined with one,
/// except after a piece that fills its column and holds no space: that is a
/// word longer than the column (a URL in `list -PR`'s ICON), which texttable
/// cut in the middle. (A word exactly as wide as the column, followed by
/// another word, is indistinguishable and loses its space.)
fn join<'a>(group: &[Vec<&'a str>], widths: &[usize], header: bool) -> Vec<Cow<'a, str>> {
    widths
        .iter()
        .enumerate()
        .map(|(column, &width)| {
            let mut pieces = group
                .iter()
                .map(|line| {
                    if header {
                        line[column].trim()
                    } else {
                        line[column]
                    }
                })
                .filter(|piece| !piece.is_empty());
            let first = pieces.next().unwrap_or("");
            let mut cell = Cow::Borrowed(first);
            let mut previous = first;
            for piece in pieces {
                let cut_word = previous.chars().count() == width && !previous.contains(' ');
                let owned = cell.to_mut();
                if !cut_word {
                    owned.push(' ');
                }
                owned.push_str(piece);
                previous = piece;
            }
            cell
        })
        .collect()
}

/// Python's `textwrap.wrap(text, width)` with its defaults, except that it
/// does not break after hyphens: greedy filling, whitespace dropped at line
/// breaks, words longer than the width cut.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    // Chunks alternate between runs of spaces and runs of anything else.
    let mut chunks: Vec<&str> = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for i in 1..=bytes.len() {
        if i == bytes.len() || (bytes[i] == b' ') != (bytes[i - 1] == b' ') {
            chunks.push(&text[start..i]);
            start = i;
        }
    }
    chunks.reverse();
    let width = width.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut chunks: Vec<Cow<'_, str>> = chunks.into_iter().map(Cow::Borrowed).collect();
    while !chunks.is_empty() {
        let mut line: Vec<Cow<'_, str>> = Vec::new();
        let mut len = 0;
        if !lines.is_empty() && chunks.last().is_some_and(|c| c.trim().is_empty()) {
            chunks.pop();
        }
        while let Some(chunk) = chunks.last() {
            let l = chunk.chars().count();
            if len + l <= width {
                len += l;
                line.push(chunks.pop().expect("just looked"));
            } else {
                break;
            }
        }
        if let Some(chunk) = chunks.last()
            && chunk.chars().count() > width
        {
            let space_left = if width > len { width - len } else { 1 };
            let chunk = chunks.pop().expect("just looked");
            let split = chunk
                .char_indices()
                .nth(space_left)
                .map_or(chunk.len(), |(i, _)| i);
            line.push(Cow::Owned(chunk[..split].to_owned()));
            chunks.push(Cow::Owned(chunk[split..].to_owned()));
        }
        if line.last().is_some_and(|c| c.trim().is_empty()) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(line.concat());
        }
    }
    lines
}

/// Column widths as texttable computes them, shrunk round-robin to fit
/// `max_width` (0: no limit).
fn widths(header: &[&str], rows: &[Vec<&str>], max_width: usize) -> Vec<usize> {
    let len = |cell: &str| {
        cell.split('\n')
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
    };
    let mut widths: Vec<usize> = header.iter().map(|cell| len(cell)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(len(cell)),
                None => widths.push(len(cell)),
            }
        }
    }
    let columns = widths.len();
    let content: usize = widths.iter().sum();
    let deco = 3 * columns.saturating_sub(1) + 4;
    if max_width > 0 && content + deco > max_width && max_width >= columns + deco {
        let mut available = max_width - deco;
        let mut shrunk = vec![0; columns];
        let mut i = 0;
        while available > 0 {
            if shrunk[i] < widths[i] {
                shrunk[i] += 1;
                available -= 1;
            }
            i = (i + 1) % columns;
        }
        return shrunk;
    }
    widths
}

fn hline(widths: &[usize], fill: char) -> String {
    let mut out = String::from("+");
    for &w in widths {
        out.extend(std::iter::repeat_n(fill, w + 2));
        out.push('+');
    }
    out.push('\n');
    out
}

fn draw_line(out: &mut String, cells: &[&str], widths: &[usize], header: bool) {
    let wrapped: Vec<Vec<String>> = cells
        .iter()
        .zip(widths)
        .map(|(cell, &width)| {
            let mut lines = Vec::new();
            for part in cell.split('\n') {
                if part.trim().is_empty() {
                    lines.push(String::new());
                } else {
                    lines.extend(wrap(part, width));
                }
            }
            lines
        })
        .collect();
    let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
    for i in 0..height {
        out.push_str("| ");
        for (column, (lines, &width)) in wrapped.iter().zip(widths).enumerate() {
            let text = lines.get(i).map_or("", String::as_str);
            let fill = width.saturating_sub(text.chars().count());
            if header {
                out.extend(std::iter::repeat_n(' ', fill / 2));
                out.push_str(text);
                out.extend(std::iter::repeat_n(' ', fill - fill / 2));
            } else {
                out.push_str(text);
                out.extend(std::iter::repeat_n(' ', fill));
            }
            if column + 1 < widths.len() {
                out.push_str(" | ");
            }
        }
        out.push_str(" |\n");
    }
}

/// Prints a table as texttable's `draw()` followed by Python's `print`.
pub(crate) fn render(header: &[&str], rows: &[Vec<&str>], max_width: usize) -> String {
    let widths = widths(header, rows, max_width);
    let mut out = hline(&widths, '-');
    draw_line(&mut out, header, &widths, true);
    out.push_str(&hline(&widths, '='));
    for (i, row) in rows.iter().enumerate() {
        draw_line(&mut out, row, &widths, false);
        if i + 1 < rows.len() {
            out.push_str(&hline(&widths, '-'));
        }
    }
    out.push_str(&hline(&widths, '-'));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::lines;

    #[test]
    fn renders_like_texttable_with_centred_headers() {
        let table = render(
            &["JID", "NAME", "STATE"],
            &[vec!["1", "www01", "up"], vec!["None", "db01", "down"]],
            0,
        );
        assert_eq!(
            table,
            "+------+-------+-------+\n\
             | JID  | NAME  | STATE |\n\
             +======+=======+=======+\n\
             | 1    | www01 | up    |\n\
             +------+-------+-------+\n\
             | None | db01  | down  |\n\
             +------+-------+-------+\n"
        );
    }

    #[test]
    fn wrapped_cells_join_back_with_spaces() {
        let long = "a plugin with a rather long description that must wrap over lines";
        let table = render(&["NAME", "DESCRIPTION"], &[vec!["x", long]], 30);
        let mut it = lines(&table);
        let first = it.next().unwrap();
        let parsed = parse(first, &mut it, "a table").unwrap();
        assert_eq!(parsed.rows[0].1[1], long);
    }

    #[test]
    fn textwrap_cuts_long_words() {
        assert_eq!(wrap("abcdefgh ij", 3), ["abc", "def", "gh", "ij"]);
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
    }
}
