//! What `iocage create`, `clone`, `destroy` and `activate` print when they
//! succeed, and the errors they print when they do not.

use nom::bytes::complete::{tag, take_while_m_n};
use nom::character::complete::space0;
use nom::combinator::{all_consuming, recognize, rest};
use nom::{IResult, Parser};

use crate::clean::clean_output;
use crate::error::ParseError;
use crate::message::{is_known_notice, legacy_message, render_message};
use crate::model::{
    Activation, CreateLine, CreateReport, Creation, DestroyLine, DestroyReport, Flavour, Level,
    Parsed,
};
use crate::status::{self, name_and_tag};
use crate::text::{Held, Line, Outside, lines};

const CREATE: &str =
    "'  Successfully created: UUID (TAG)', a bare UUID (create -e) or 'NAME successfully created!'";

fn hex(n: usize) -> impl Fn(&str) -> IResult<&str, &str> {
    move |input| take_while_m_n(n, n, |c: char| c.is_ascii_hexdigit()).parse(input)
}

/// A 36-character `uuidgen` UUID, as legacy `create -e` prints it alone.
fn uuid(input: &str) -> IResult<&str, &str> {
    recognize((
        hex(8),
        tag("-"),
        hex(4),
        tag("-"),
        hex(4),
        tag("-"),
        hex(4),
        tag("-"),
        hex(12),
    ))
    .parse(input)
}

fn legacy_created(input: &str) -> IResult<&str, &str> {
    // sysadm 2016 split this line at every ':' and lost the end of date tags
    // such as `2016-02-09@23:47:04`; only the first colon separates.
    let (input, _) = (space0, tag("Successfully created: ")).parse(input)?;
    rest.parse(input)
}

fn created_line(line: Line<'_>) -> Result<Option<CreateLine>, ParseError> {
    let text = line.text.trim_end();
    let invalid = || ParseError::unexpected(line.number, line.text, CREATE);
    if let Ok((_, subject)) = legacy_created(text) {
        let (name, tag) = name_and_tag(subject).ok_or_else(invalid)?;
        return Ok(Some(CreateLine::Created {
            how: Creation::Created,
            name,
            tag,
        }));
    }
    if let Ok((_, name)) = all_consuming(uuid).parse(text) {
        return Ok(Some(CreateLine::Created {
            how: Creation::Empty,
            name: name.to_owned(),
            tag: None,
        }));
    }
    // Python prints `<name> successfully created!`; the 2017 Python printed
    // `<uuid> (<tag>) successfully created!`.
    for (suffix, how) in [
        (" successfully created!", Creation::Created),
        (" successfully cloned!", Creation::Cloned),
    ] {
        if let Some(subject) = text.strip_suffix(suffix) {
            let (name, tag) = name_and_tag(subject).ok_or_else(invalid)?;
            return Ok(Some(CreateLine::Created { how, name, tag }));
        }
    }
    if let Some(message) = legacy_message(text) {
        if message.level == Level::Error {
            return Err(ParseError::reported(line.number, text.trim()));
        }
        return Ok(Some(CreateLine::Message(message)));
    }
    Ok(None)
}

/// Parses `iocage create` or `iocage clone` output, either flavour. Other
/// lines (fetch, pkg and start output) are kept in the report, banners and
/// Python's first-run notices are messages; at least one success line is
/// required, and a legacy `ERROR:` line is an error.
pub fn parse_create(input: &str) -> Result<Parsed<CreateReport>, ParseError> {
    let input = clean_output(input);
    let mut report = CreateReport::default();
    let mut outside = Outside::default();
    let mut first_other: Option<Line<'_>> = None;
    for line in lines(&input) {
        if line.is_blank() {
            continue;
        }
        if legacy_message(line.text).is_none() && is_known_notice(line.text) {
            outside.push(line);
            continue;
        }
        match created_line(line)? {
            Some(parsed) => report.lines.push(parsed),
            None => {
                first_other.get_or_insert(line);
                report.lines.push(CreateLine::Output {
                    text: line.text.to_owned(),
                });
            }
        }
    }
    if report.created().next().is_none() {
        return Err(match first_other {
            Some(line) => ParseError::unexpected(line.number, line.text, CREATE),
            None => ParseError::empty(CREATE),
        });
    }
    Ok(outside.with(report))
}

/// Prints a create/clone report as `flavour` does.
pub(crate) fn render_create(report: &CreateReport, flavour: Flavour) -> String {
    let mut out = String::new();
    for line in &report.lines {
        match line {
            CreateLine::Created { how, name, tag } => {
                let subject = match tag {
                    Some(tag) => format!("{name} ({tag})"),
                    None => name.clone(),
                };
                match (flavour, how) {
                    (Flavour::Legacy, Creation::Empty) => out.push_str(name),
                    (Flavour::Legacy, _) => {
                        out.push_str("  Successfully created: ");
                        out.push_str(&subject);
                    }
                    (Flavour::Python, Creation::Cloned) => {
                        out.push_str(&subject);
                        out.push_str(" successfully cloned!");
                    }
                    (Flavour::Python, _) => {
                        out.push_str(&subject);
                        out.push_str(" successfully created!");
                    }
                }
            }
            CreateLine::Message(message) => out.push_str(&render_message(message, flavour)),
            CreateLine::Output { text } => out.push_str(text),
        }
        out.push('\n');
    }
    out
}

const DESTROY: &str = "'  Destroying: UUID', 'Destroying NAME' or 'Stopping NAME'";

/// Parses `iocage destroy -f` output, either flavour: the stop block of a
/// running jail, then one destroy line per jail. Empty output is an empty
/// report (legacy `destroy -f` with no jail exits 0 silently), and so is
/// output of known notices only. Banners and notices are messages, as are
/// other lines before and after the report; another line between its lines,
/// or with no report at all, is an error.
pub fn parse_destroy(input: &str) -> Result<Parsed<DestroyReport>, ParseError> {
    let input = clean_output(input);
    let mut report = DestroyReport::default();
    let mut outside = Outside::default();
    let mut held = Held::default();
    for line in lines(&input) {
        if line.is_blank() {
            continue;
        }
        if legacy_message(line.text).is_none() && is_known_notice(line.text) {
            outside.push(line);
            continue;
        }
        let text = line.text.trim_end();
        let parsed = if let Some(name) = text.strip_prefix("  Destroying: ") {
            DestroyLine::Destroying {
                name: name.to_owned(),
            }
        } else if let Some(snapshot) = text.strip_prefix("  Destroying clone origin: ") {
            DestroyLine::CloneOrigin {
                snapshot: snapshot.to_owned(),
            }
        } else if let Some(name) = text.strip_prefix("Destroying ") {
            DestroyLine::Destroying {
                name: name.to_owned(),
            }
        } else if let Some(name) = text.strip_prefix("Stopping ") {
            DestroyLine::Stopping {
                name: name.to_owned(),
            }
        } else {
            match status::classify(line)? {
                Some(crate::model::StartStopLine::Message(message)) => {
                    DestroyLine::Message(message)
                }
                Some(stop) => DestroyLine::Stop { line: stop },
                None if report.lines.is_empty() => {
                    outside.push(line);
                    continue;
                }
                None => {
                    held.hold(line);
                    continue;
                }
            }
        };
        if matches!(&parsed, DestroyLine::Destroying { name } | DestroyLine::Stopping { name } if name.is_empty() || name.contains(' '))
        {
            return Err(ParseError::unexpected(line.number, line.text, DESTROY));
        }
        held.item(DESTROY)?;
        report.lines.push(parsed);
    }
    held.finish(&mut outside);
    if report.lines.is_empty() {
        // Nothing but notices is an empty report; anything else is not
        // what destroy prints.
        let error = outside.missing(DESTROY);
        if error.kind() != crate::error::ParseErrorKind::Empty {
            return Err(error);
        }
    }
    Ok(outside.with(report))
}

/// Prints a destroy report as `flavour` does.
pub(crate) fn render_destroy(report: &DestroyReport, flavour: Flavour) -> String {
    let mut out = String::new();
    for line in &report.lines {
        match (line, flavour) {
            (DestroyLine::Destroying { name }, Flavour::Legacy) => {
                out.push_str("  Destroying: ");
                out.push_str(name);
            }
            (DestroyLine::Destroying { name }, Flavour::Python) => {
                out.push_str("Destroying ");
                out.push_str(name);
            }
            (DestroyLine::CloneOrigin { snapshot }, _) => {
                out.push_str("  Destroying clone origin: ");
                out.push_str(snapshot);
            }
            (DestroyLine::Stopping { name }, _) => {
                out.push_str("Stopping ");
                out.push_str(name);
            }
            (DestroyLine::Stop { line }, _) => out.push_str(&status::render_line(line, flavour)),
            (DestroyLine::Message(message), _) => {
                out.push_str(&render_message(message, flavour));
            }
        }
        out.push('\n');
    }
    out
}

fn python_activated(input: &str) -> IResult<&str, &str> {
    // Python 0.9.1-0.9.6 print `tank successfully activated.`
    // (iocage/cli/activate.py@4425ae4:20, @57d306c:32); later ones quote it.
    if let Some(pool) = input
        .strip_suffix(" successfully activated.")
        .filter(|pool| !pool.is_empty() && !pool.contains(char::is_whitespace))
    {
        return Ok(("", pool));
    }
    let (input, _) = tag("ZFS pool '").parse(input)?;
    let (_, pool) = all_consuming(rest).parse(input)?;
    let pool = pool
        .strip_suffix("' successfully activated.")
        .ok_or_else(|| {
            nom::Err::Error(nom::error::Error::new(input, nom::error::ErrorKind::Tag))
        })?;
    Ok(("", pool))
}

/// Parses `iocage activate POOL`: Python prints
/// `ZFS pool 'P' successfully activated.`, legacy prints nothing. Lines
/// around Python's line are messages; without it, only known notices (a
/// legacy `INFO:`, a banner) may appear, as messages.
pub fn parse_activate(input: &str) -> Result<Parsed<Activation>, ParseError> {
    const ACTIVATE: &str = "nothing (legacy) or 'ZFS pool 'P' successfully activated.'";
    let is_activated = |text: &str| python_activated(text.trim_end()).is_ok();
    let input = clean_output(input);
    let mut it = lines(&input);
    let mut outside = Outside::default();
    let Some(first) = outside.until(&mut it, is_activated) else {
        // Nothing but notices is legacy's silent success; anything else
        // is not.
        let error = outside.missing(ACTIVATE);
        if error.kind() == crate::error::ParseErrorKind::Empty {
            return Ok(outside.with(Activation { pool: None }));
        }
        return Err(error);
    };
    let (_, pool) = python_activated(first.text.trim_end()).expect("is_activated");
    let pool = pool.to_owned();
    outside.rest(it);
    Ok(outside.with(Activation { pool: Some(pool) }))
}

/// Prints an activation as `flavour` does.
pub(crate) fn render_activate(activation: &Activation, flavour: Flavour) -> String {
    match (&activation.pool, flavour) {
        (Some(pool), Flavour::Python) => format!("ZFS pool '{pool}' successfully activated.\n"),
        _ => String::new(),
    }
}
