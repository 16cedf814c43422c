//! `iocage list` in all its forms: the jail table (`list`, `list -t`,
//! Python `list -l`, `-h`), downloaded releases (`-r`), remote releases
//! (`-R`) and the Python plugin index (`-PR`).

use std::borrow::Cow;

use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::digit1;
use nom::combinator::{all_consuming, opt};
use nom::sequence::delimited;
use nom::{IResult, Parser};

use crate::clean::clean_output;
use crate::columns::{self, Cells};
use crate::error::ParseError;
use crate::model::{Column, Flavour, ForeignJail, Jail, JailList, Plugin, RemoteRelease};
use crate::text::{Line, jid, lines, skip_preamble};
use crate::texttable::{self, is_border};

const JAIL_TABLE: &str = "a jail table header ('JID  UUID ...' or a '+---+' border)";
const JAIL_ROW: &str = "a jail row: JID (a number, '-' or 'None') then one cell per header column";
/// Legacy prints this (`printf "%-+40s\n"`) before the foreign jails.
const FOREIGN_BANNER: &str = "--- non iocage jails currently active ---";
const FOREIGN_HEADER: [&str; 4] = ["JID", "PATH", "IP4", "HOSTNAME"];

/// Parses `iocage list` or `iocage list -t`, either flavour, any form
/// (legacy `column -t` table, Python table, Python `-h` tab-separated rows).
pub fn parse_list(input: &str) -> Result<JailList, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let first = skip_preamble(&mut it)?.ok_or_else(|| ParseError::empty(JAIL_TABLE))?;
    if is_border(first.text) {
        python_table(first, &mut it)
    } else if first.text.contains('\t') {
        python_scripted(first, &mut it)
    } else {
        // One jail per line: reserving them up front saves moving every
        // parsed jail again each time the list grows (a tenth of the time
        // for 10,000 jails). A row holds at least a 36-character UUID, which
        // bounds what blank or junk lines can make us reserve.
        let rows = memchr::memchr_iter(b'\n', input.as_bytes())
            .count()
            .min(input.len() / 36);
        legacy_table(first, &mut it, rows)
    }
}

fn header_columns(line: Line<'_>, names: &[&str]) -> Result<Vec<Column>, ParseError> {
    let columns = names
        .iter()
        .map(|name| Column::from_header(name))
        .collect::<Option<Vec<_>>>()
        .filter(|columns| columns.contains(&Column::Name))
        .ok_or_else(|| ParseError::unexpected(line.number, line.text, JAIL_TABLE))?;
    Ok(columns)
}

fn jail_from_cells<'c>(
    line: Line<'_>,
    columns: &[Column],
    cells: impl IntoIterator<Item = Cow<'c, str>>,
) -> Result<Jail, ParseError> {
    let mut jail = Jail::default();
    let mut count = 0;
    for (&column, cell) in columns.iter().zip(cells) {
        count += 1;
        match column {
            Column::Jid => {
                jail.jid = jid(&cell)
                    .ok_or_else(|| ParseError::unexpected(line.number, line.text, JAIL_ROW))?;
            }
            Column::Name if cell.is_empty() => {
                return Err(ParseError::unexpected(line.number, line.text, JAIL_ROW));
            }
            Column::Name => jail.name = cell.into_owned(),
            other => {
                if let Some(slot) = jail.field_mut(other) {
                    *slot = Some(cell.into_owned());
                }
            }
        }
    }
    if count != columns.len() {
        return Err(ParseError::unexpected(line.number, line.text, JAIL_ROW));
    }
    Ok(jail)
}

fn python_table<'a>(
    first: Line<'a>,
    it: &mut impl Iterator<Item = Line<'a>>,
) -> Result<JailList, ParseError> {
    let table = texttable::parse(first, it, JAIL_TABLE)?;
    let names: Vec<&str> = table.header.iter().map(|c| c.as_ref()).collect();
    let columns = header_columns(table.header_line, &names)?;
    let jails = table
        .rows
        .into_iter()
        .map(|(line, cells)| jail_from_cells(line, &columns, cells))
        .collect::<Result<_, _>>()?;
    Ok(JailList {
        columns,
        jails,
        foreign: Vec::new(),
    })
}

/// Columns of Python `list -h` rows, known only by their count: the header
/// is not printed.
fn scripted_columns(count: usize) -> Option<Vec<Column>> {
    use Column::*;
    Some(match count {
        2 => vec![Name, Ip4],
        5 => vec![Jid, Name, State, Release, Ip4],
        10 => vec![
            Jid, Name, Boot, State, Type, Release, Ip4, Ip6, Template, Basejail,
        ],
        11 => vec![
            Jid, Name, Boot, State, Type, Release, Ip4, Ip6, Template, Portal, DocUrl,
        ],
        _ => return None,
    })
}

fn python_scripted<'a>(
    first: Line<'a>,
    it: &mut impl Iterator<Item = Line<'a>>,
) -> Result<JailList, ParseError> {
    const ROW: &str = "a tab-separated row of 2, 5, 10 or 11 fields (iocage list -h)";
    let count = first.text.split('\t').count();
    let columns = scripted_columns(count)
        .ok_or_else(|| ParseError::unexpected(first.number, first.text, ROW))?;
    let mut jails = Vec::new();
    for line in std::iter::once(first).chain(it) {
        if line.is_blank() {
            continue;
        }
        if line.text.split('\t').count() != count {
            return Err(ParseError::unexpected(line.number, line.text, ROW));
        }
        let cells = line.text.split('\t').map(Cow::Borrowed);
        jails.push(jail_from_cells(line, &columns, cells)?);
    }
    Ok(JailList {
        columns,
        jails,
        foreign: Vec::new(),
    })
}

fn legacy_table<'a>(
    first: Line<'a>,
    it: &mut impl Iterator<Item = Line<'a>>,
    rows: usize,
) -> Result<JailList, ParseError> {
    let header = columns::header(first.text);
    if header.names.first() != Some(&"JID") {
        return Err(ParseError::unexpected(first.number, first.text, JAIL_TABLE));
    }
    let columns = header_columns(first, &header.names)?;
    let mut list = JailList {
        columns,
        jails: Vec::with_capacity(rows),
        ..JailList::default()
    };
    let mut foreign = false;
    let mut banner_line = first;
    let mut foreign_header = false;
    for line in it {
        if line.is_blank() {
            continue;
        }
        if line.text.trim_end() == FOREIGN_BANNER {
            if foreign {
                return Err(ParseError::unexpected(line.number, line.text, JAIL_ROW));
            }
            foreign = true;
            banner_line = line;
            continue;
        }
        if foreign && !foreign_header {
            if !line.text.split_whitespace().eq(FOREIGN_HEADER) {
                return Err(ParseError::unexpected(
                    line.number,
                    line.text,
                    "the foreign jail header 'JID  PATH  IP4  HOSTNAME'",
                ));
            }
            foreign_header = true;
            continue;
        }
        if foreign {
            list.foreign.push(foreign_row(&header, line)?);
            continue;
        }
        let cells = match header.cells(line.text, header.len()) {
            Some(Cells::Full(cells)) => cells,
            // `column -t` drops an empty cell and shifts the rest left, so a
            // row one cell short had one property set to the empty string.
            // Only the tag is free text that users empty (`set tag=`); the
            // other columns are `on`/`off`, `up`/`down` or `-` when unset.
            Some(Cells::Collapsed(mut cells)) if cells.len() + 1 == header.len() => {
                match list.columns.iter().position(|&c| c == Column::Tag) {
                    Some(tag) if tag <= cells.len() => {
                        cells.insert(tag, "");
                        cells
                    }
                    _ => return Err(ParseError::unexpected(line.number, line.text, JAIL_ROW)),
                }
            }
            _ => return Err(ParseError::unexpected(line.number, line.text, JAIL_ROW)),
        };
        let jail = jail_from_cells(line, &list.columns, cells.into_iter().map(Cow::Borrowed))?;
        list.jails.push(jail);
    }
    if foreign && !foreign_header {
        return Err(ParseError::truncated(
            banner_line.number,
            banner_line.text,
            "the foreign jail header after the banner",
        ));
    }
    Ok(list)
}

fn foreign_row(header: &columns::Header<'_>, line: Line<'_>) -> Result<ForeignJail, ParseError> {
    const ROW: &str = "a foreign jail row: JID  PATH  IP4  HOSTNAME";
    let Some(Cells::Full(cells)) = header.cells(line.text, 4) else {
        return Err(ParseError::unexpected(line.number, line.text, ROW));
    };
    let Some(Some(jid)) = jid(cells[0]) else {
        return Err(ParseError::unexpected(line.number, line.text, ROW));
    };
    Ok(ForeignJail {
        jid,
        path: cells[1].to_owned(),
        ip4: cells[2].to_owned(),
        hostname: cells[3].to_owned(),
    })
}

fn jid_text(jid: Option<u32>, none: &str) -> Cow<'_, str> {
    match jid {
        Some(jid) => Cow::Owned(jid.to_string()),
        None => Cow::Borrowed(none),
    }
}

fn cells_of<'j>(jail: &'j Jail, columns: &[Column], none: &'j str) -> Vec<Cow<'j, str>> {
    columns
        .iter()
        .map(|&column| match column {
            Column::Jid => jid_text(jail.jid, none),
            other => Cow::Borrowed(jail.field(other).unwrap_or("-")),
        })
        .collect()
}

/// Prints a jail table as `flavour`'s `iocage list` does: legacy through
/// `column -t` (with the foreign-jail section), Python as a texttable
/// (down jails' JID printed `None`).
pub(crate) fn render_list(list: &JailList, flavour: Flavour) -> String {
    let header: Vec<&str> = list.columns.iter().map(|c| c.header(flavour)).collect();
    match flavour {
        Flavour::Legacy => {
            let rows: Vec<Vec<Cow<'_, str>>> = list
                .jails
                .iter()
                .map(|jail| cells_of(jail, &list.columns, "-"))
                .collect();
            let foreign: Vec<[String; 4]> = list
                .foreign
                .iter()
                .map(|f| {
                    [
                        f.jid.to_string(),
                        f.path.clone(),
                        f.ip4.clone(),
                        f.hostname.clone(),
                    ]
                })
                .collect();
            let mut table: Vec<Vec<&str>> = vec![header];
            table.extend(
                rows.iter()
                    .map(|row| row.iter().map(AsRef::as_ref).collect()),
            );
            if !foreign.is_empty() {
                table.push(vec![FOREIGN_BANNER]);
                table.push(FOREIGN_HEADER.to_vec());
                table.extend(
                    foreign
                        .iter()
                        .map(|row| row.iter().map(String::as_str).collect()),
                );
            }
            columns::render(&table)
        }
        Flavour::Python => {
            let rows: Vec<Vec<Cow<'_, str>>> = list
                .jails
                .iter()
                .map(|jail| cells_of(jail, &list.columns, "None"))
                .collect();
            let rows: Vec<Vec<&str>> = rows
                .iter()
                .map(|row| row.iter().map(AsRef::as_ref).collect())
                .collect();
            texttable::render(&header, &rows, 0)
        }
    }
}

/// Prints a jail table as Python `iocage list -h` (1.2) does: no header,
/// tab-separated, `-` for a down jail's JID.
pub(crate) fn render_list_scripted(list: &JailList) -> String {
    let mut out = String::new();
    for jail in &list.jails {
        out.push_str(&cells_of(jail, &list.columns, "-").join("\t"));
        out.push('\n');
    }
    out
}

const RELEASES: &str = "'Downloaded releases:', a 'Bases fetched' table or one release name a line";
const RELEASE: &str = "a release name such as '13.2-RELEASE'";

/// Whether `text` looks like a release name (`10.2-RELEASE`, `11.0-CURRENT`).
fn is_release(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Parses `iocage list -r`: legacy `Downloaded releases:` and its indented
/// lines, Python's `Bases fetched` table, or Python `-h` bare names.
pub fn parse_releases(input: &str) -> Result<Vec<String>, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let first = skip_preamble(&mut it)?.ok_or_else(|| ParseError::empty(RELEASES))?;
    let mut releases = Vec::new();
    if is_border(first.text) {
        let table = texttable::parse(first, &mut it, RELEASES)?;
        if table.header.len() != 1 || table.header[0] != "Bases fetched" {
            let line = table.header_line;
            return Err(ParseError::unexpected(line.number, line.text, RELEASES));
        }
        for (line, cells) in table.rows {
            if !is_release(&cells[0]) {
                return Err(ParseError::unexpected(line.number, line.text, RELEASE));
            }
            releases.push(cells[0].to_string());
        }
        return Ok(releases);
    }
    // Legacy prints each name with `printf "%1s %-s \n" "" REL`: two spaces
    // before, one after.
    let legacy = first.text.trim_end() == "Downloaded releases:";
    let rest = if legacy { None } else { Some(first) };
    for line in rest.into_iter().chain(it) {
        if line.is_blank() {
            continue;
        }
        let name = line.text.trim();
        if !is_release(name) {
            return Err(ParseError::unexpected(line.number, line.text, RELEASE));
        }
        releases.push(name.to_owned());
    }
    Ok(releases)
}

/// Prints releases as `flavour`'s `iocage list -r` does.
pub(crate) fn render_releases(releases: &[String], flavour: Flavour) -> String {
    match flavour {
        Flavour::Legacy => {
            let mut out = String::from("Downloaded releases:\n");
            for release in releases {
                out.push_str("  ");
                out.push_str(release);
                out.push_str(" \n");
            }
            out
        }
        Flavour::Python => {
            let rows: Vec<Vec<&str>> = releases.iter().map(|r| vec![r.as_str()]).collect();
            texttable::render(&["Bases fetched"], &rows, 0)
        }
    }
}

fn remote_release(input: &str) -> IResult<&str, RemoteRelease> {
    // Python since 2019 prints bare names; 2017 Python printed
    // `[N] 11.0-RELEASE` and `[N] 10.1-RELEASE (EOL)`, so both are accepted.
    let (input, _) = opt(delimited(tag("["), digit1, tag("] "))).parse(input)?;
    let (input, name) = take_while1(|c: char| !c.is_whitespace()).parse(input)?;
    let (input, eol) = opt(tag(" (EOL)")).parse(input)?;
    Ok((
        input,
        RemoteRelease {
            name: name.to_owned(),
            eol: eol.is_some(),
        },
    ))
}

/// Parses Python `iocage list -R`: one release a line, plain or numbered.
pub fn parse_remote_releases(input: &str) -> Result<Vec<RemoteRelease>, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let first = skip_preamble(&mut it)?.ok_or_else(|| ParseError::empty(RELEASE))?;
    let mut releases = Vec::new();
    for line in std::iter::once(first).chain(it) {
        if line.is_blank() {
            continue;
        }
        match all_consuming(remote_release).parse(line.text.trim_end()) {
            Ok((_, release)) if is_release(&release.name) => releases.push(release),
            _ => {
                return Err(ParseError::unexpected(
                    line.number,
                    line.text,
                    "a release name, optionally '[N] ' before and ' (EOL)' after",
                ));
            }
        }
    }
    Ok(releases)
}

/// Prints remote releases as Python `iocage list -R` does; `numbered` gives
/// the 2017 `[N] name` form.
pub(crate) fn render_remote_releases(releases: &[RemoteRelease], numbered: bool) -> String {
    let mut out = String::new();
    for (i, release) in releases.iter().enumerate() {
        if numbered {
            out.push_str(&format!("[{i}] "));
        }
        out.push_str(&release.name);
        if release.eol {
            out.push_str(" (EOL)");
        }
        out.push('\n');
    }
    out
}

const PLUGINS: &str = "a plugin table 'NAME | DESCRIPTION | PKG | ICON'";

/// Parses Python `iocage list -PR` (the remote plugin index): a texttable
/// whose long cells wrap over several lines, or the older
/// `[N] name - description (pkg)` lines.
pub fn parse_plugins(input: &str) -> Result<Vec<Plugin>, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let first = skip_preamble(&mut it)?.ok_or_else(|| ParseError::empty(PLUGINS))?;
    if !is_border(first.text) {
        return std::iter::once(first)
            .chain(it)
            .filter(|line| !line.is_blank())
            .map(old_plugin)
            .collect();
    }
    let table = texttable::parse(first, &mut it, PLUGINS)?;
    let position = |name: &str| table.header.iter().position(|h| h == name);
    let (Some(name), Some(description)) = (position("NAME"), position("DESCRIPTION")) else {
        let line = table.header_line;
        return Err(ParseError::unexpected(line.number, line.text, PLUGINS));
    };
    let (pkg, icon) = (position("PKG"), position("ICON"));
    let cell = |cells: &[Cow<'_, str>], at: Option<usize>| {
        at.map_or_else(String::new, |i| cells[i].to_string())
    };
    Ok(table
        .rows
        .iter()
        .map(|(_, cells)| Plugin {
            name: cells[name].to_string(),
            description: cells[description].to_string(),
            pkg: cell(cells, pkg),
            icon: cell(cells, icon),
        })
        .collect())
}

fn old_plugin(line: Line<'_>) -> Result<Plugin, ParseError> {
    const OLD: &str = "a plugin table, or '[N] name - description (pkg)'";
    let error = || ParseError::unexpected(line.number, line.text, OLD);
    let text = line.text.trim_end();
    let (rest, _) = delimited(tag::<_, _, nom::error::Error<&str>>("["), digit1, tag("] "))
        .parse(text)
        .map_err(|_| error())?;
    let (name, rest) = rest.split_once(" - ").ok_or_else(error)?;
    let open = rest.rfind(" (").ok_or_else(error)?;
    let pkg = rest[open + 2..].strip_suffix(')').ok_or_else(error)?;
    Ok(Plugin {
        name: name.to_owned(),
        description: rest[..open].to_owned(),
        pkg: pkg.to_owned(),
        icon: String::new(),
    })
}

/// Prints plugins as Python `iocage list -PR` does (texttable, `max_width=80`).
pub(crate) fn render_plugins(plugins: &[Plugin]) -> String {
    let rows: Vec<Vec<&str>> = plugins
        .iter()
        .map(|p| vec![p.name.as_str(), &p.description, &p.pkg, &p.icon])
        .collect();
    texttable::render(&["NAME", "DESCRIPTION", "PKG", "ICON"], &rows, 80)
}
