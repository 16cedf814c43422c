//! Legacy tables: the output of FreeBSD `column -t` (usr.bin/column
//! `maketbl`). Every cell but a row's last is padded to its column's width
//! plus two spaces; widths count every cell of every row, so a long
//! one-cell line (the foreign-jail banner) widens the first column; empty
//! cells collapse, shifting the rest of the row left.
//!
//! Columns are located from the header line, never assumed by position.

/// Where each column of a `column -t` table starts, read from its header.
#[derive(Debug, Clone)]
pub(crate) struct Header<'a> {
    pub(crate) names: Vec<&'a str>,
    starts: Vec<usize>,
}

/// How a row lined up with the header.
#[derive(Debug)]
pub(crate) enum Cells<'a> {
    /// One cell per header column.
    Full(Vec<&'a str>),
    /// Fewer cells than columns: `column -t` dropped empty ones.
    Collapsed(Vec<&'a str>),
}

/// The start (in characters) of each whitespace-separated word of `line`.
/// Header names never hold spaces.
pub(crate) fn header(line: &str) -> Header<'_> {
    let mut names = Vec::new();
    let mut starts = Vec::new();
    let mut in_word = false;
    let mut word_start = 0;
    for (position, (offset, c)) in line.char_indices().enumerate() {
        if c == ' ' || c == '\t' {
            if in_word {
                names.push(&line[word_start..offset]);
                in_word = false;
            }
        } else if !in_word {
            in_word = true;
            word_start = offset;
            starts.push(position);
        }
    }
    if in_word {
        names.push(&line[word_start..]);
    }
    Header { names, starts }
}

impl<'a> Header<'a> {
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// Splits a row into cells at the header's column starts. A cell must
    /// begin exactly at its column's start and the cell before it must end
    /// at least two spaces earlier; rows that do not line up (hand-edited
    /// output, a different `column` implementation) fall back to splitting at
    /// runs of two or more spaces.
    pub(crate) fn cells(&self, row: &'a str, columns: usize) -> Option<Cells<'a>> {
        let columns = columns.min(self.starts.len());
        if let Some(cells) = self.aligned(row, columns) {
            return Some(Cells::Full(cells));
        }
        let cells = crate::text::split_gaps(row);
        if cells.len() == columns {
            Some(Cells::Full(cells))
        } else if !cells.is_empty() && cells.len() < columns {
            Some(Cells::Collapsed(cells))
        } else {
            None
        }
    }

    /// Splits a row whose last column is one word printed after the others
    /// without alignment. Correct alignment would put it under its header.
    /// Unfortunately legacy 1.7.5/1.7.6 print the header with `%-20s` for
    /// TAG but the rows with `%-4s` (lib/ioc-info@6189eac:116-117,149-151),
    /// so the `IP` cell starts wherever the tag ends: the columns before it
    /// are read at the header's positions, and the last word of the rest is
    /// the IP.
    pub(crate) fn cells_last_unaligned(&self, row: &'a str) -> Option<Vec<&'a str>> {
        let columns = self.starts.len();
        if columns < 2 {
            return None;
        }
        let mut cells = match self.aligned(row, columns - 1) {
            Some(cells) => cells,
            None => {
                let cells = crate::text::split_gaps(row);
                return (cells.len() == columns).then_some(cells);
            }
        };
        let rest = cells.pop()?;
        let (before, last) = rest.rsplit_once(' ')?;
        let before = before.trim_end();
        if before.is_empty() || last.is_empty() {
            return None;
        }
        cells.push(before);
        cells.push(last);
        Some(cells)
    }

    fn aligned(&self, row: &'a str, columns: usize) -> Option<Vec<&'a str>> {
        if columns == 0 {
            return None;
        }
        // Byte offsets: equal to character positions for ASCII rows, the
        // overwhelmingly common case; otherwise translate.
        let offsets: Vec<usize>;
        let starts: &[usize] = if row.is_ascii() {
            &self.starts[..columns]
        } else {
            let positions: Vec<usize> = row.char_indices().map(|(offset, _)| offset).collect();
            offsets = self.starts[..columns]
                .iter()
                .map(|&start| positions.get(start).copied().unwrap_or(usize::MAX))
                .collect();
            &offsets
        };
        let bytes = row.as_bytes();
        let mut cells = Vec::with_capacity(columns);
        for (i, &start) in starts.iter().enumerate() {
            if start >= bytes.len() || bytes[start] == b' ' {
                return None;
            }
            if i > 0 && (start < 2 || bytes[start - 1] != b' ' || bytes[start - 2] != b' ') {
                return None;
            }
            let end = starts.get(i + 1).copied().unwrap_or(bytes.len());
            let cell = row.get(start..end)?.trim_end();
            cells.push(cell);
        }
        Some(cells)
    }
}

/// Prints rows as `column -t` does. Empty cells are dropped (they would
/// collapse anyway), blank rows are dropped.
pub(crate) fn render(rows: &[Vec<&str>]) -> String {
    let rows: Vec<Vec<&str>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .copied()
                .filter(|cell| !cell.is_empty())
                .collect()
        })
        .filter(|row: &Vec<&str>| !row.is_empty())
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(width),
                None => widths.push(width),
            }
        }
    }
    let mut out = String::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_follow_the_header_even_with_single_spaces_inside() {
        let table = render(&[
            vec!["UUID", "TAG", "exec_start"],
            vec!["u1", "my tag", "/bin/sh /etc/rc"],
        ]);
        let mut lines = table.lines();
        let header = header(lines.next().unwrap());
        let Some(Cells::Full(cells)) = header.cells(lines.next().unwrap(), 3) else {
            panic!("row did not line up: {table}");
        };
        assert_eq!(cells, ["u1", "my tag", "/bin/sh /etc/rc"]);
    }

    #[test]
    fn padding_is_width_plus_two_and_the_last_cell_is_bare() {
        assert_eq!(
            render(&[vec!["JID", "UUID"], vec!["3", "abc"]]),
            "JID  UUID\n3    abc\n"
        );
    }
}
