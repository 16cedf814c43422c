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
use crate::model::{Column, Flavour, ForeignJail, Jail, JailList, Parsed, Plugin, RemoteRelease};
use crate::text::{Held, Line, Outside, items, jid, lines};
use crate::texttable::{self, is_border};

const JAIL_TABLE: &str = "a jail table header ('JID  UUID ...' or a '+---+' border)";
const JAIL_ROW: &str = "a jail row: JID (a number, '-' or 'None') then one cell per header column";
/// Legacy prints this (`printf "%-+40s\n"`) before the foreign jails.
const FOREIGN_BANNER: &str = "--- non iocage jails currently active ---";
const FOREIGN_HEADER: [&str; 4] = ["JID", "PATH", "IP4", "HOSTNAME"];

/// Whether a line starts a jail table: a texttable border, a `-h` row, or a
/// legacy header (`JID  UUID ...`).
fn is_list_start(text: &str) -> bool {
    is_border(text) || text.contains('\t') || text.split_whitespace().next() == Some("JID")
}

/// Parses `iocage list` or `iocage list -t`, either flavour, any form
/// (legacy `column -t` table, legacy 1.7.x printf table, Python table,
/// Python `-h` tab-separated rows). Lines before and after the table are
/// messages.
pub fn parse_list(input: &str) -> Result<Parsed<JailList>, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let mut outside = Outside::default();
    let first = outside
        .until(&mut it, is_list_start)
        .ok_or_else(|| outside.missing(JAIL_TABLE))?;
    let list = if is_border(first.text) {
        python_table(first, &mut it, &mut outside)
    } else if first.text.contains('\t') {
        python_scripted(first, &mut it, &mut outside)
    } else {
        // One jail per line: reserving them up front saves moving every
        // parsed jail again each time the list grows (a tenth of the time
        // for 10,000 jails). A row holds at least a 36-character UUID, which
        // bounds what blank or junk lines can make us reserve.
        let rows = memchr::memchr_iter(b'\n', input.as_bytes())
            .count()
            .min(input.len() / 36);
        legacy_table(first, &mut it, rows, &mut outside)
    }?;
    Ok(outside.with(list))
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
    outside: &mut Outside<'a>,
) -> Result<JailList, ParseError> {
    let table = texttable::parse(first, it, JAIL_TABLE)?;
    outside.rest(table.after);
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
    outside: &mut Outside<'a>,
) -> Result<JailList, ParseError> {
    const ROW: &str = "a tab-separated row of 2, 5, 10 or 11 fields (iocage list -h)";
    let count = first.text.split('\t').count();
    let columns = scripted_columns(count)
        .ok_or_else(|| ParseError::unexpected(first.number, first.text, ROW))?;
    let jails = items(std::iter::once(first).chain(it), outside, ROW, |line| {
        if !line.text.contains('\t') {
            return None;
        }
        if line.text.split('\t').count() != count {
            return Some(Err(ParseError::unexpected(line.number, line.text, ROW)));
        }
        let cells = line.text.split('\t').map(Cow::Borrowed);
        Some(jail_from_cells(line, &columns, cells))
    })?;
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
    outside: &mut Outside<'a>,
) -> Result<JailList, ParseError> {
    let header = columns::header(first.text);
    let columns = header_columns(first, &header.names)?;
    // Legacy 1.7.5/1.7.6 print their table with printf, and the `IP` cell
    // is not under its header.
    let unaligned_last = header.names.last() == Some(&"IP");
    let mut list = JailList {
        columns,
        jails: Vec::with_capacity(rows),
        ..JailList::default()
    };
    let mut foreign = false;
    let mut banner_line = first;
    let mut foreign_header = false;
    // A line that does not split into a row's cells is held: inside the
    // table if a row follows (an error), after it (a message) if none does.
    let mut held = Held::default();
    for line in it {
        if line.is_blank() {
            continue;
        }
        if line.text.trim_end() == FOREIGN_BANNER {
            held.item(JAIL_ROW)?;
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
            match header.cells(line.text, 4) {
                Some(Cells::Full(cells)) => {
                    held.item(FOREIGN_ROW)?;
                    list.foreign.push(foreign_row(line, &cells)?);
                }
                _ => held.hold(line),
            }
            continue;
        }
        let Some(cells) = legacy_cells(&header, &list.columns, unaligned_last, line.text) else {
            held.hold(line);
            continue;
        };
        held.item(JAIL_ROW)?;
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
    held.finish(outside);
    Ok(list)
}

/// The cells of a legacy row, one per column; `None` when the line does not
/// split into a row at all.
fn legacy_cells<'a>(
    header: &columns::Header<'a>,
    columns: &[Column],
    unaligned_last: bool,
    text: &'a str,
) -> Option<Vec<&'a str>> {
    if unaligned_last {
        return header.cells_last_unaligned(text);
    }
    match header.cells(text, header.len())? {
        Cells::Full(cells) => Some(cells),
        // `column -t` drops an empty cell and shifts the rest left, so a
        // row one cell short had one property set to the empty string.
        // Only the tag is free text that users empty (`set tag=`); the
        // other columns are `on`/`off`, `up`/`down` or `-` when unset.
        Cells::Collapsed(mut cells) if cells.len() + 1 == header.len() => {
            let tag = columns.iter().position(|&c| c == Column::Tag)?;
            if tag > cells.len() {
                return None;
            }
            cells.insert(tag, "");
            Some(cells)
        }
        Cells::Collapsed(_) => None,
    }
}

const FOREIGN_ROW: &str = "a foreign jail row: JID  PATH  IP4  HOSTNAME";

fn foreign_row(line: Line<'_>, cells: &[&str]) -> Result<ForeignJail, ParseError> {
    let Some(Some(jid)) = jid(cells[0]) else {
        return Err(ParseError::unexpected(line.number, line.text, FOREIGN_ROW));
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
/// lines, Python's `Bases fetched` table, or Python `-h` bare names. Lines
/// before and after them are messages.
pub fn parse_releases(input: &str) -> Result<Parsed<Vec<String>>, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let mut outside = Outside::default();
    let is_start = |text: &str| {
        is_border(text) || text.trim_end() == "Downloaded releases:" || is_release(text.trim())
    };
    let first = outside
        .until(&mut it, is_start)
        .ok_or_else(|| outside.missing(RELEASES))?;
    if is_border(first.text) {
        let mut releases = Vec::new();
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
        outside.rest(table.after);
        return Ok(outside.with(releases));
    }
    // Legacy develop prints each name with `printf "%1s %-s \n" "" REL`: two
    // spaces before, one after; 1.7.x with `printf "%15s\n"`.
    let legacy = first.text.trim_end() == "Downloaded releases:";
    let rest = if legacy { None } else { Some(first) };
    let releases = items(rest.into_iter().chain(it), &mut outside, RELEASE, |line| {
        let name = line.text.trim();
        is_release(name).then(|| Ok(name.to_owned()))
    })?;
    Ok(outside.with(releases))
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

fn remote_line(text: &str) -> Option<RemoteRelease> {
    match all_consuming(remote_release).parse(text.trim_end()) {
        Ok((_, release)) if is_release(&release.name) => Some(release),
        _ => None,
    }
}

/// Parses Python `iocage list -R`: one release a line, plain or numbered.
/// Lines before and after them are messages.
pub fn parse_remote_releases(input: &str) -> Result<Parsed<Vec<RemoteRelease>>, ParseError> {
    const REMOTE: &str = "a release name, optionally '[N] ' before and ' (EOL)' after";
    let input = clean_output(input);
    let mut it = lines(&input);
    let mut outside = Outside::default();
    let first = outside
        .until(&mut it, |text| remote_line(text).is_some())
        .ok_or_else(|| outside.missing(REMOTE))?;
    let releases = items(
        std::iter::once(first).chain(it),
        &mut outside,
        REMOTE,
        |line| remote_line(line.text).map(Ok),
    )?;
    Ok(outside.with(releases))
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
/// `[N] name - description (pkg)` lines. Lines before and after them are
/// messages (1.x prints git's progress before the table).
pub fn parse_plugins(input: &str) -> Result<Parsed<Vec<Plugin>>, ParseError> {
    let input = clean_output(input);
    let mut it = lines(&input);
    let mut outside = Outside::default();
    let is_start = |text: &str| is_border(text) || old_plugin(text).is_some();
    let first = outside
        .until(&mut it, is_start)
        .ok_or_else(|| outside.missing(PLUGINS))?;
    if !is_border(first.text) {
        const OLD: &str = "a plugin table, or '[N] name - description (pkg)'";
        let plugins = items(
            std::iter::once(first).chain(it),
            &mut outside,
            OLD,
            |line| old_plugin(line.text).map(Ok),
        )?;
        return Ok(outside.with(plugins));
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
    let plugins = table
        .rows
        .iter()
        .map(|(_, cells)| Plugin {
            name: cells[name].to_string(),
            description: cells[description].to_string(),
            pkg: cell(cells, pkg),
            icon: cell(cells, icon),
        })
        .collect();
    outside.rest(table.after);
    Ok(outside.with(plugins))
}

/// One `[N] name - description (pkg)` line of 2017 Python `list -PR`.
fn old_plugin(text: &str) -> Option<Plugin> {
    let text = text.trim_end();
    let (rest, _) = delimited(tag::<_, _, nom::error::Error<&str>>("["), digit1, tag("] "))
        .parse(text)
        .ok()?;
    let (name, rest) = rest.split_once(" - ")?;
    let open = rest.rfind(" (")?;
    let pkg = rest[open + 2..].strip_suffix(')')?;
    Some(Plugin {
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
