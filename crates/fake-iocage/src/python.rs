//! The Python iocage (1.2 and later; iocage-output.md PY): its Click
//! command line, messages (no prefixes; errors on stderr), texttables and
//! exit statuses. It has no tags, no `cap`, no `deactivate`, no `defaults`.

use std::collections::{BTreeMap, BTreeSet};

use iocage_cli::render;
use iocage_cli::{
    Action, Column, CreateLine, CreateReport, Creation, DestroyLine, DestroyReport, DfRow, Flavour,
    Jail as ListedJail, JailList, Plugin, Properties, Property, RecursiveGet, RecursiveRow,
    RemoteRelease, StartStopLine, StartStopReport, StepStatus,
};

use crate::Reply;
use crate::host::{self, Host, Jail};
use crate::legacy::bare_addresses;
use crate::version::{self, Model};

const PYTHON: Flavour = Flavour::Python;

/// An EXCEPTION-level message: the text on stderr, exit 1. On 1.0 and 1.1
/// `logit` raises it instead when stdout is not a terminal
/// (iocage_lib/ioc_common.py@8fc88756:65-66, @3e0c61ad:69-70), so Python
/// prints a traceback whose last line is `RuntimeError: <text>`.
fn error(text: impl Into<String>) -> Reply {
    if version::model() == Model::Python10 {
        return traceback("RuntimeError", &text.into());
    }
    Reply::error(text, PYTHON)
}

/// An uncaught Python exception: a traceback on stderr, exit 1. Only the
/// entry point's frame is shown; the real one lists every frame down to
/// the raise, and its last line is the same.
fn traceback(class: &str, text: &str) -> Reply {
    Reply::err(
        format!(
            "Traceback (most recent call last):\n  File \"/usr/local/bin/iocage\", line 10, in <module>\n    sys.exit(cli())\n{class}: {text}\n"
        ),
        1,
    )
}

/// `list -R` / `list -PR` under `FAKE_IOCAGE_NETWORK`, before the state is
/// locked: the real program holds no lock while it waits on the network, so
/// a hang here must not stop other invocations.
pub(crate) fn before_lock(args: &[String]) -> Option<Reply> {
    if args.first().map(String::as_str) != Some("list") {
        return None;
    }
    let short = |c: char| {
        args[1..]
            .iter()
            .any(|arg| arg.starts_with('-') && !arg.starts_with("--") && arg.contains(c))
    };
    if !short('R') {
        return None;
    }
    network(if short('P') {
        "github.com"
    } else {
        "www.freebsd.org"
    })
}

/// `FAKE_IOCAGE_NETWORK`: what a command that goes to the network meets.
/// `list -R` scrapes www.freebsd.org with `requests.get` and no timeout
/// (iocage_lib/ioc_fetch.py@c3198327:108-112, 395); `list -PR` pulls the
/// plugin index with git first (iocage_lib/ioc_plugin.py@c3198327:860).
fn network(url: &str) -> Option<Reply> {
    match std::env::var("FAKE_IOCAGE_NETWORK").as_deref() {
        Ok("offline") => Some(traceback(
            "requests.exceptions.ConnectionError",
            &format!(
                "HTTPSConnectionPool(host='{url}', port=443): Max retries exceeded with url: / (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x80a8c1f28>: Failed to establish a new connection: [Errno 8] hostname nor servname provided, or not known'))"
            ),
        )),
        Ok("blackhole") => loop {
            // A connect that is never answered: no timeout is set.
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        _ => None,
    }
}

/// A Click usage error: exit status 2.
fn usage_error(command: &str, text: &str) -> Reply {
    Reply::err(
        format!(
            "Usage: iocage {command} [OPTIONS]\nTry 'iocage {command} --help' for help.\n\nError: {text}\n"
        ),
        2,
    )
}

/// A command line as Click splits it.
#[derive(Debug, Default)]
struct Args {
    flags: BTreeSet<char>,
    values: BTreeMap<char, String>,
    positional: Vec<String>,
}

/// Splits `args`: `flags` are boolean short options (combinable, `-fa`),
/// `valued` take the next word; `--` ends options. With `loose`, unknown
/// options are positional (Click's `ignore_unknown_options`).
fn parse(
    command: &str,
    args: &[String],
    flags: &str,
    valued: &str,
    loose: bool,
) -> Result<Args, Reply> {
    let mut parsed = Args::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            parsed.positional.extend(it.by_ref().cloned());
            break;
        }
        let Some(letters) = arg.strip_prefix('-').filter(|l| !l.is_empty()) else {
            parsed.positional.push(arg.clone());
            continue;
        };
        let mut chars = letters.chars();
        let known = letters
            .chars()
            .all(|c| flags.contains(c) || valued.contains(c));
        if !known {
            if loose {
                parsed.positional.push(arg.clone());
                continue;
            }
            return Err(usage_error(command, &format!("No such option: {arg}")));
        }
        while let Some(letter) = chars.next() {
            if valued.contains(letter) {
                let rest: String = chars.by_ref().collect();
                let value = if rest.is_empty() {
                    match it.next() {
                        Some(value) => value.clone(),
                        None => {
                            return Err(usage_error(
                                command,
                                &format!("Option '-{letter}' requires an argument."),
                            ));
                        }
                    }
                } else {
                    rest
                };
                parsed.values.insert(letter, value);
            } else {
                parsed.flags.insert(letter);
            }
        }
    }
    Ok(parsed)
}

/// Runs one Python iocage command line.
pub(crate) fn run(host: &mut Host, args: &[String]) -> Reply {
    let Some((command, rest)) = args.split_first() else {
        return Reply::out("Usage: iocage [OPTIONS] COMMAND [ARGS]...\n");
    };
    let command = command.as_str();
    let mut preamble = Reply::default();
    if command != "activate" && host.active_pool.is_none() {
        if let Some(pool) = host.pools.first().cloned() {
            host.active_pool = Some(pool.clone());
            preamble = Reply::out(format!(
                "Setting up zpool [{pool}] for iocage usage\nIf you wish to change please use \"iocage activate\"\n"
            ));
        }
    }
    preamble.out.push_str(&check_datasets(host, args));
    let reply = match command {
        "list" => list(host, rest),
        "df" => parse(command, rest, "hl", "s", false).map_or_else(|e| e, |_| df(host)),
        "get" => get(host, rest),
        "start" => start(host, rest),
        "stop" => stop(host, rest),
        "create" => create(host, rest),
        "clone" => clone(host, rest),
        "destroy" => destroy(host, rest),
        "exec" => exec(host, rest),
        "clean" => clean(host, rest),
        "activate" => activate(host, rest),
        other => Reply::err(
            format!(
                "Usage: iocage [OPTIONS] COMMAND [ARGS]...\nTry 'iocage --help' for help.\n\nError: No such command '{other}'.\n"
            ),
            2,
        ),
    };
    reply.after(preamble)
}

/// `jail 'X' not found!`, or a unique name prefix.
fn find(host: &Host, name: &str) -> Result<String, Reply> {
    if host.jails.contains_key(name) {
        return Ok(name.to_owned());
    }
    let matches: Vec<&String> = host
        .jails
        .keys()
        .filter(|jail| !name.is_empty() && jail.starts_with(name))
        .collect();
    match matches[..] {
        [one] => Ok(one.clone()),
        [] => Err(error(format!("jail '{name}' not found!"))),
        _ => {
            let mut text = format!("Multiple jails found for {name}:");
            for jail in matches {
                text.push_str(&format!("\n  {jail} (/iocage/jails/{jail})"));
            }
            Err(error(text))
        }
    }
}

fn is_uuid(name: &str) -> bool {
    uuid::Uuid::parse_str(name).is_ok() && name.len() == 36
}

fn on_off(value: &str) -> String {
    if value == "1" || value == "on" {
        "on".into()
    } else {
        "off".into()
    }
}

fn listed(name: &str, jail: &Jail, long: bool) -> ListedJail {
    let value = |key: &str| host::python_value(name, jail, key).unwrap_or_default();
    let dash = |value: String| if value == "none" { "-".into() } else { value };
    let release = value("release");
    let mut listed = ListedJail {
        jid: jail.jid,
        state: Some(if jail.running { "up" } else { "down" }.into()),
        ..ListedJail::default()
    };
    if long {
        listed.name = name.to_owned();
        listed.boot = Some(on_off(&value("boot")));
        listed.jail_type = Some(if jail.template {
            "template".into()
        } else {
            value("type")
        });
        listed.release = Some(release);
        listed.ip4 = Some(dash(value("ip4_addr")));
        listed.ip6 = Some(dash(value("ip6_addr")));
        listed.template = Some("-".into());
        listed.basejail = Some(
            if value("basejail") == "1" {
                "yes"
            } else {
                "no"
            }
            .into(),
        );
    } else {
        // Short mode shows a UUID name's first 8 characters and X.Y-RELEASE.
        listed.name = if is_uuid(name) {
            name[..8].to_owned()
        } else {
            name.to_owned()
        };
        let short: Vec<&str> = release.splitn(3, '-').take(2).collect();
        listed.release = Some(short.join("-"));
        let bare = bare_addresses(&value("ip4_addr"));
        listed.ip4 = Some(if bare.is_empty() { "-".into() } else { bare });
    }
    listed
}

fn list(host: &Host, args: &[String]) -> Reply {
    let parsed = match parse("list", args, "lhHtrRPOqB", "s", false) {
        Ok(parsed) => parsed,
        Err(reply) => return reply,
    };
    let flag = |c: char| parsed.flags.contains(&c);
    if flag('P') && flag('R') {
        let plugins: Vec<Plugin> = host::PLUGINS
            .iter()
            .map(|(name, description, pkg, icon)| Plugin {
                name: (*name).into(),
                description: (*description).into(),
                pkg: (*pkg).into(),
                icon: (*icon).into(),
            })
            .collect();
        return Reply::out(render::plugins(&plugins));
    }
    if flag('R') {
        let releases: Vec<RemoteRelease> = host::REMOTE_RELEASES
            .iter()
            .map(|(name, eol)| RemoteRelease {
                name: (*name).into(),
                // 1.x prints bare names, never "(EOL)" (iocage_cli/list.py@c3198327:91-92,
                // iocage_lib/ioc_fetch.py@c3198327:436); the unversioned fake keeps it.
                eol: *eol && !version::model().versioned(),
            })
            .collect();
        return Reply::out(render::remote_releases(&releases, false));
    }
    if flag('r') {
        return Reply::out(render::releases(&host.releases, PYTHON));
    }
    let long = flag('l');
    let templates = flag('t');
    let jails = host
        .jails
        .iter()
        .filter(|(_, jail)| jail.template == templates)
        .map(|(name, jail)| listed(name, jail, long))
        .collect();
    use Column::*;
    let columns = if long {
        vec![
            Jid, Name, Boot, State, Type, Release, Ip4, Ip6, Template, Basejail,
        ]
    } else {
        vec![Jid, Name, State, Release, Ip4]
    };
    let list = JailList {
        columns,
        jails,
        foreign: Vec::new(),
    };
    let table = render::list(&list, PYTHON);
    if matches!(version::model(), Model::Python10 | Model::Python12) {
        return Reply::out(dash_jids(&table));
    }
    Reply::out(table)
}

/// Up to 1.2 a down jail's JID is `-` (iocage_lib/ioc_list.py@c3198327:224,
/// 523-532); from 1.2.1 it is `None` (@3d3e8c51:282), which the renderer
/// prints. Replaces the cells and narrows the column as texttable sizes it.
fn dash_jids(table: &str) -> String {
    let lines: Vec<&str> = table.lines().collect();
    let Some(end) = lines
        .first()
        .and_then(|border| border[1..].find('+'))
        .map(|at| at + 1)
    else {
        return table.to_owned();
    };
    let cell = |line: &str| line.get(1..end).map(str::trim).unwrap_or("").to_owned();
    let widest = lines
        .iter()
        .filter(|line| line.starts_with('|'))
        .map(|line| {
            if cell(line) == "None" {
                1
            } else {
                cell(line).len()
            }
        })
        .max()
        .unwrap_or(0);
    let cut = (end - 3).saturating_sub(widest);
    let mut out = String::new();
    for line in lines {
        let line = if line.starts_with('|') && cell(line) == "None" {
            line.replacen("| None ", "| -    ", 1)
        } else {
            line.to_owned()
        };
        out.push_str(&line[..end - cut]);
        out.push_str(&line[end..]);
        out.push('\n');
    }
    out
}

fn df(host: &Host) -> Reply {
    let rows: Vec<DfRow> = host
        .jails
        .iter()
        .map(|(name, jail)| {
            let value = |key: &str| host::python_value(name, jail, key).unwrap_or_default();
            DfRow {
                name: name.clone(),
                crt: "1.86x".into(),
                res: value("reservation"),
                qta: value("quota"),
                used: "463M".into(),
                ava: "845G".into(),
                tag: None,
            }
        })
        .collect();
    Reply::out(render::df(&rows, PYTHON))
}

fn properties(pairs: Vec<(String, String)>) -> Properties {
    Properties(
        pairs
            .into_iter()
            .map(|(key, value)| Property { key, value })
            .collect(),
    )
}

fn get(host: &Host, args: &[String]) -> Reply {
    let parsed = match parse("get", args, "hrasjp", "", false) {
        Ok(parsed) => parsed,
        Err(reply) => return reply,
    };
    let flag = |c: char| parsed.flags.contains(&c);
    let words = &parsed.positional;
    if flag('p') {
        return Reply::out(render::pool(host.pool(), PYTHON));
    }
    if flag('r') {
        let Some(prop) = words.first() else {
            return usage_error("get", "Missing argument 'PROP'.");
        };
        let mut rows = Vec::new();
        for (name, jail) in &host.jails {
            // 1.x answers `state` for every jail (iocage_lib/iocage.py@c3198327:1306-1313).
            let state = (prop == "state" && version::model().versioned())
                .then(|| if jail.running { "up" } else { "down" }.to_owned());
            let Some(value) = state.or_else(|| host::python_value(name, jail, prop)) else {
                return error(format!("{prop} is not a valid property!"));
            };
            rows.push(RecursiveRow {
                name: name.clone(),
                tag: None,
                value,
            });
        }
        let get = RecursiveGet {
            property: prop.clone(),
            rows,
        };
        return Reply::out(render::get_recursive(&get, PYTHON));
    }
    if flag('s') || flag('j') {
        let Some(name) = words.first() else {
            return error("You must specify a jail!");
        };
        let name = match find(host, name) {
            Ok(name) => name,
            Err(reply) => return reply,
        };
        let jail = &host.jails[&name];
        let value = if flag('s') {
            if jail.running { "up" } else { "down" }.to_owned()
        } else {
            jail.jid
                .map_or_else(|| "-".to_owned(), |jid| jid.to_string())
        };
        return Reply::out(render::get_value(&value));
    }
    let (prop, name) = match &words[..] {
        [prop, name] => (prop, name),
        [_] => return error("You must specify a jail!"),
        _ => return usage_error("get", "Missing argument 'PROP'."),
    };
    if prop == "all" && name == "default" {
        return Reply::out(render::get_all(&properties(host::python_defaults())));
    }
    let name = match find(host, name) {
        Ok(name) => name,
        Err(reply) => return reply,
    };
    let jail = &host.jails[&name];
    if prop == "all" {
        return Reply::out(render::get_all(&properties(host::python_all(&name, jail))));
    }
    match host::python_value(&name, jail, prop) {
        Some(value) if prop == "last_started" && value == "none" => {
            Reply::out(render::get_value("never"))
        }
        Some(value) => Reply::out(render::get_value(&value)),
        None => error(format!("{prop} is not a valid property!")),
    }
}

fn step(step: &str, ok: bool) -> StartStopLine {
    StartStopLine::Step {
        step: step.to_owned(),
        status: ok.then_some(StepStatus::Ok),
    }
}

fn one_jail(host: &Host, command: &str, args: &[String]) -> Result<String, Reply> {
    let parsed = parse(command, args, "fi", "", false)?;
    let Some(name) = parsed.positional.first() else {
        return Err(Reply::err(
            format!(
                "Usage: iocage {command} [OPTIONS] JAILS...\n\nError: Missing argument \"jails\".\n"
            ),
            2,
        ));
    };
    find(host, name)
}

fn start(host: &mut Host, args: &[String]) -> Reply {
    let name = match one_jail(host, "start", args) {
        Ok(name) => name,
        Err(reply) => return reply,
    };
    let jail = &host.jails[&name];
    if jail.template {
        // iocage_lib/iocage.py@c3198327:346-348 (freebsd/iocage @6f6f4eb:337-339),
        // an EXCEPTION: stderr, exit 1.
        return error(format!(
            "Please convert back to a jail before trying to start {name}"
        ));
    }
    if jail.running {
        // An EXCEPTION (iocage_lib/ioc_start.py@8fc88756:87-94).
        if version::model() == Model::Python10 {
            return error(format!("{name} is already running!"));
        }
        let already = StartStopReport {
            lines: vec![StartStopLine::Already {
                name,
                tag: None,
                up: true,
            }],
        };
        return Reply::err(render::start_stop(&already, PYTHON), 1);
    }
    let vnet = host::python_value(&name, jail, "vnet").as_deref() == Some("1");
    let mut lines = vec![
        StartStopLine::Begin {
            action: Action::Start,
            name: name.clone(),
            tag: None,
        },
        step("Started", true),
        step(
            "Using devfs_ruleset: 1000 (iocage generated default)",
            false,
        ),
    ];
    if vnet {
        lines.push(step("Configuring VNET", true));
    }
    lines.push(step("Starting services", true));
    lines.push(step("Executing poststart", true));
    host.start(&name);
    Reply::out(render::start_stop(&StartStopReport { lines }, PYTHON))
}

fn stop_lines(name: &str, jail: &Jail) -> Vec<StartStopLine> {
    let mut lines = vec![
        StartStopLine::Begin {
            action: Action::Stop,
            name: name.to_owned(),
            tag: None,
        },
        step("Executing prestop", true),
        step("Stopping services", true),
    ];
    if host::python_value(name, jail, "vnet").as_deref() == Some("1") {
        lines.push(step("Tearing down VNET", true));
    }
    lines.push(step("Removing devfs_ruleset: 1000", true));
    lines.push(step("Removing jail process", true));
    lines.push(step("Executing poststop", true));
    lines
}

fn stop(host: &mut Host, args: &[String]) -> Reply {
    let name = match one_jail(host, "stop", args) {
        Ok(name) => name,
        Err(reply) => return reply,
    };
    let jail = &host.jails[&name];
    if !jail.running {
        // Logged as an error, but the function returns: exit status 0.
        let already = StartStopReport {
            lines: vec![StartStopLine::Already {
                name,
                tag: None,
                up: false,
            }],
        };
        return Reply::err(render::start_stop(&already, PYTHON), 0);
    }
    let lines = stop_lines(&name, jail);
    host.stop(&name);
    Reply::out(render::start_stop(&StartStopReport { lines }, PYTHON))
}

/// Checks a new jail's name as `iocage create -n` does.
fn check_name(host: &Host, name: &str) -> Result<(), Reply> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !valid {
        return Err(error(format!(
            "Invalid character in {name}, please remove it."
        )));
    }
    if name == "default" || name == "help" {
        return Err(error(format!(
            "You cannot name a jail {name}, that is a reserved name."
        )));
    }
    if host.jails.contains_key(name) {
        return Err(error(format!("Jail: {name} already exists!")));
    }
    Ok(())
}

/// `key=value` words, split at the first `=`; unknown keys refused.
fn parse_props(words: &[String]) -> Result<BTreeMap<String, String>, Reply> {
    let mut props = BTreeMap::new();
    for word in words {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        if host::python_value("", &Jail::new(BTreeMap::new()), key).is_none() {
            return Err(error(format!("{key} is not a valid property!")));
        }
        props.insert(key.to_owned(), value.to_owned());
    }
    Ok(props)
}

/// A true `template=` among a create's or clone's properties makes the jail
/// a template (iocage_lib/ioc_create.py@8fc8875:377-382 `value == "yes"`;
/// @c319832:382 and @6f6f4eb:385-400 any `check_truthy` value,
/// ioc_common.py@6f6f4eb:945-958).
fn template_prop(props: &BTreeMap<String, String>) -> bool {
    props.get("template").is_some_and(|value| {
        if version::model() == Model::Python10 {
            value == "yes"
        } else {
            ["1", "on", "yes", "true"].contains(&value.to_ascii_lowercase().as_str())
        }
    })
}

fn create(host: &mut Host, args: &[String]) -> Reply {
    let parsed = match parse("create", args, "esbBTC", "rtncup", false) {
        Ok(parsed) => parsed,
        Err(reply) => return reply,
    };
    let empty = parsed.flags.contains(&'e');
    let release = parsed.values.get(&'r');
    if !empty && release.is_none() && !parsed.values.contains_key(&'t') {
        return error("Must supply either --template (-t) or --release (-r)!");
    }
    if let Some(template) = parsed.values.get(&'t') {
        return error(format!("Template: {template} not found!"));
    }
    let mut props = match parse_props(&parsed.positional) {
        Ok(props) => props,
        Err(reply) => return reply,
    };
    if empty {
        props.insert("release".into(), "EMPTY".into());
    } else if let Some(release) = release {
        if !host.releases.contains(release) {
            return error(format!("RELEASE: {release} not found!"));
        }
        props.insert("release".into(), release.clone());
    }
    let name = match parsed.values.get(&'n') {
        Some(name) => name.clone(),
        None => host::new_uuid(),
    };
    if let Err(reply) = check_name(host, &name) {
        return reply;
    }
    let mut jail = Jail::new(props);
    jail.template = template_prop(&jail.props);
    host.jails.insert(name.clone(), jail);
    let report = CreateReport {
        lines: vec![CreateLine::Created {
            how: Creation::Created,
            name,
            tag: None,
        }],
    };
    Reply::out(render::create(&report, PYTHON))
}

fn clone(host: &mut Host, args: &[String]) -> Reply {
    let parsed = match parse("clone", args, "NT", "nc", false) {
        Ok(parsed) => parsed,
        Err(reply) => return reply,
    };
    let Some((source, words)) = parsed.positional.split_first() else {
        return usage_error("clone", "Missing argument 'SOURCE'.");
    };
    let source = match find(host, source) {
        Ok(source) => source,
        Err(reply) => return reply,
    };
    let original = &host.jails[&source];
    if original.running {
        return error(format!("Jail: {source} must not be running to be cloned!"));
    }
    if original.template {
        return error("You cannot clone a template, use create -t instead.");
    }
    let given = match parse_props(words) {
        Ok(props) => props,
        Err(reply) => return reply,
    };
    let name = match parsed.values.get(&'n') {
        Some(name) => name.clone(),
        None => host::new_uuid(),
    };
    if let Err(reply) = check_name(host, &name) {
        return reply;
    }
    let mut props = host.jails[&source].props.clone();
    props.remove("last_started");
    props.extend(given);
    let mut jail = Jail::new(props);
    jail.template = template_prop(&jail.props);
    jail.origin = Some(source);
    host.jails.insert(name.clone(), jail);
    let report = CreateReport {
        lines: vec![CreateLine::Created {
            how: Creation::Cloned,
            name,
            tag: None,
        }],
    };
    Reply::out(render::create(&report, PYTHON))
}

fn destroy(host: &mut Host, args: &[String]) -> Reply {
    let parsed = match parse("destroy", args, "fRrd", "", false) {
        Ok(parsed) => parsed,
        Err(reply) => return reply,
    };
    let Some(name) = parsed.positional.first() else {
        return error("Please specify one or more jails!");
    };
    let name = match find(host, name) {
        Ok(name) => name,
        Err(reply) => return reply,
    };
    if !parsed.flags.contains(&'f') {
        let mut reply = Reply::err(format!("\nThis will destroy jail {name}\n"), 1);
        reply.out = "\nAre you sure? [y/N]: ".into();
        if !crate::confirmed() {
            reply.err.push_str("Aborted!\n");
            return reply;
        }
    }
    if let Some((child, _)) = host.dependent(&name) {
        // Without -f or -R, `child_test` refuses a jail whose root has
        // snapshots (its clones' origins) on every 1.x
        // (iocage_cli/destroy.py@8fc88756:35-88, @6f6f4eb:36-89: `if not
        // force and not recursive: ... exit(1)`); the version differences
        // below are those of `-f`/`-R`, which skip it.
        let checked = !parsed.flags.contains(&'f') && !parsed.flags.contains(&'R');
        match version::model() {
            _ if checked => {
                return error(format!(
                    "\n{name} has dependent jails (who may also have dependents), use --recursive to destroy: {child}"
                ));
            }
            Model::Default(_) => {
                return error(format!(
                    "\n{name} has dependent jails (who may also have dependents), use --recursive to destroy: {child}"
                ));
            }
            // 1.0 skips the dependents check under `-f` (iocage_cli/destroy.py@8fc88756:73-87)
            // and libzfs refuses to delete a dataset with clones
            // (iocage_lib/ioc_destroy.py@8fc88756:169-183).
            Model::Python10 if version::current().banner.contains("1.0") => {
                return traceback(
                    "libzfs.ZFSException",
                    &format!(
                        "cannot destroy '{}/iocage/jails/{name}': filesystem has dependent clones",
                        host.pool()
                    ),
                );
            }
            // 1.1 and later destroy with `zfs destroy -r -Rf`
            // (iocage_lib/ioc_destroy.py@3e0c61ad:188-190, ioc_json.py@3e0c61ad:342-354;
            // @c3198327:155-157, 602-610): the clones go too, silently.
            _ => {
                let mut doomed = vec![name.clone()];
                while let Some(clone) = host
                    .jails
                    .iter()
                    .find(|(key, jail)| {
                        !doomed.contains(key)
                            && jail.origin.as_ref().is_some_and(|o| doomed.contains(o))
                    })
                    .map(|(key, _)| key.clone())
                {
                    doomed.push(clone);
                }
                for clone in &doomed[1..] {
                    host.jails.remove(clone);
                }
            }
        }
    }
    let mut lines = Vec::new();
    if host.jails[&name].running {
        // From 1.2 a running jail is refused without `-f` (`destroy_jail(force)`,
        // iocage_lib/iocage.py@c3198327:754-767, @6f6f4eb:742-752; added by
        // iocage/iocage 04a0442c); 1.0 and 1.1 stop it first, `-f` or not
        // (iocage_lib/ioc_destroy.py@3e0c61ad:291-304).
        let refuses = !matches!(version::model(), Model::Python10 | Model::Python09);
        if refuses && !parsed.flags.contains(&'f') {
            return error(format!(
                "Jail {name} is still running, please stop the jail first or destroy it with -f"
            ));
        }
        lines.push(DestroyLine::Stopping { name: name.clone() });
        host.stop(&name);
    }
    lines.push(DestroyLine::Destroying { name: name.clone() });
    host.jails.remove(&name);
    Reply::out(render::destroy(&DestroyReport { lines }, PYTHON))
}

fn exec(host: &Host, args: &[String]) -> Reply {
    let parsed = match parse("exec", args, "f", "uU", true) {
        Ok(parsed) => parsed,
        Err(reply) => return reply,
    };
    let Some((name, command)) = parsed.positional.split_first() else {
        return error("Please specify a jail first!");
    };
    let name = match find(host, name) {
        Ok(name) => name,
        Err(reply) => return reply,
    };
    let jail = &host.jails[&name];
    if !jail.running && !parsed.flags.contains(&'f') {
        return error(format!(
            "{name} is not running! Please supply --force (-f) or start the jail"
        ));
    }
    let user = parsed
        .values
        .get(&'U')
        .cloned()
        .unwrap_or_else(|| "root".to_owned());
    let hostname = host::python_value(&name, jail, "host_hostname").unwrap_or_default();
    let release = host::python_value(&name, jail, "release").unwrap_or_default();
    let versioned = version::model().versioned();
    // A single word is run with `/bin/sh -c` (iocage_cli/exec.py@c3198327:48-49,
    // iocage/cli/exec.py@67cf40f2), so it may hold a whole command line.
    let (shown, commands): (Vec<String>, Vec<Vec<String>>) = match command {
        [one] if versioned => {
            let shown = vec!["/bin/sh".to_owned(), "-c".to_owned(), one.clone()];
            (shown, sh_c(one))
        }
        [one] => (
            command.to_vec(),
            vec![one.split_whitespace().map(str::to_owned).collect()],
        ),
        _ => (command.to_vec(), vec![command.to_vec()]),
    };
    let mut reply = Reply::default();
    let mut status = 0;
    for argv in &commands {
        let ran = host::jexec(&hostname, &release, &user, argv);
        reply.out.push_str(&ran.out);
        reply.err.push_str(&ran.err);
        status = ran.status;
    }
    if status != 0 {
        // `Command: ... failed!`, the command as rewritten (iocage_lib/ioc_exec.py@c3198327:306-317).
        let text = format!("Command: {} failed!", shown.join(" "));
        if version::model() == Model::Python10 {
            return traceback("RuntimeError", &text).after(reply);
        }
        reply.err.push_str(&text);
        reply.err.push('\n');
        reply.code = 1;
    }
    reply
}

/// IOCCheck's `__check_datasets__` (iocage_lib/ioc_check.py@6f6f4eb:80-113):
/// every command but those iocage_cli/__init__.py@6f6f4eb:238-266 exempts
/// (`--help`, `activate`, `-v`, `--version`, `--rc`; silently for `clean`)
/// creates the missing iocage datasets, in this order, with an INFO line
/// on stdout for each.
fn check_datasets(host: &mut Host, args: &[String]) -> String {
    const DATASETS: [&str; 7] = [
        "iocage",
        "iocage/download",
        "iocage/images",
        "iocage/jails",
        "iocage/log",
        "iocage/releases",
        "iocage/templates",
    ];
    let exempt = ["--help", "activate", "-v", "--version", "--rc"];
    if args.iter().any(|arg| exempt.contains(&arg.as_str())) {
        return String::new();
    }
    let missing = std::mem::take(&mut host.missing_datasets);
    if args.iter().any(|arg| arg.contains("clean")) {
        return String::new();
    }
    let pool = host.active_pool.clone().unwrap_or_default();
    DATASETS
        .iter()
        .filter(|dataset| missing.iter().any(|m| m == *dataset))
        .map(|dataset| format!("Creating {pool}/{dataset}\n"))
        .collect()
}

fn clean(host: &mut Host, args: &[String]) -> Reply {
    let parsed = match parse("clean", args, "fajrtid", "", false) {
        Ok(parsed) => parsed,
        Err(reply) => return reply,
    };
    let flag = |c: char| parsed.flags.contains(&c);
    if !"ajrtid".chars().any(flag) {
        return error("Please specify a dataset type to clean!");
    }
    if !flag('f') {
        let mut reply = Reply::out("\nAre you sure? [y/N]: ");
        if !crate::confirmed() {
            reply.err = "Aborted!\n".into();
            reply.code = 1;
            return reply;
        }
    }
    let mut out = String::new();
    let mut destroyed = Vec::new();
    let mut cleaning = |datasets: &[&str], done: &str| {
        for dataset in datasets {
            out.push_str(&format!("Cleaning {dataset}\n"));
            destroyed.push((*dataset).to_owned());
        }
        out.push_str(done);
        out.push('\n');
    };
    if flag('a') {
        host.jails.clear();
        host.releases.clear();
        cleaning(
            &[
                "iocage/templates",
                "iocage/jails",
                "iocage/releases",
                "iocage/log",
                "iocage/images",
                "iocage/download",
                "iocage",
            ],
            "All iocage datasets have been destroyed.",
        );
    }
    if flag('j') {
        host.jails.retain(|_, jail| jail.template);
        cleaning(
            &["iocage/jails"],
            "All iocage jail datasets have been destroyed.",
        );
    }
    if flag('r') {
        // Jails are made from releases: they go with them.
        host.releases.clear();
        host.jails.retain(|_, jail| jail.template);
        cleaning(
            &["iocage/download", "iocage/releases"],
            "All iocage RELEASE and jail datasets have been destroyed.",
        );
    }
    if flag('t') {
        host.jails.retain(|_, jail| !jail.template);
        cleaning(
            &["iocage/templates"],
            "All iocage template datasets have been destroyed.",
        );
    }
    // `zfs destroy` of a cleaned dataset takes it away (versions §7.2); the
    // next command's IOCCheck makes it again.
    host.missing_datasets = destroyed;
    Reply::out(out)
}

fn activate(host: &mut Host, args: &[String]) -> Reply {
    let parsed = match parse("activate", args, "", "", false) {
        Ok(parsed) => parsed,
        Err(reply) => return reply,
    };
    let Some(pool) = parsed.positional.first() else {
        return usage_error("activate", "Missing argument 'ZPOOL'.");
    };
    if !host.pools.contains(pool) {
        return error(format!("ZFS pool '{pool}' not found!"));
    }
    host.active_pool = Some(pool.clone());
    Reply::out(render::activate(
        &iocage_cli::Activation {
            pool: Some(pool.clone()),
        },
        PYTHON,
    ))
}

/// What `sh -c LINE` runs, for the few built-ins the fake jail has: words
/// as sh splits and unquotes them, commands separated by unquoted `;`.
fn sh_c(line: &str) -> Vec<Vec<String>> {
    let mut commands = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => word.extend(chars.next()),
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                word.extend(chars.next());
                in_word = true;
            }
            (None, ';' | ' ' | '\t' | '\n') => {
                if in_word {
                    commands
                        .last_mut()
                        .expect("one")
                        .push(std::mem::take(&mut word));
                    in_word = false;
                }
                if c == ';' {
                    commands.push(Vec::new());
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        commands.last_mut().expect("one").push(word);
    }
    commands.retain(|command| !command.is_empty());
    commands
}

#[cfg(test)]
mod tests {
    use super::sh_c;

    #[test]
    fn sh_c_splits_commands_and_unquotes_words() {
        let words = |list: &[&[&str]]| -> Vec<Vec<String>> {
            list.iter()
                .map(|command| command.iter().map(|w| (*w).to_owned()).collect())
                .collect()
        };
        assert_eq!(
            sh_c("echo a; echo b"),
            words(&[&["echo", "a"], &["echo", "b"]])
        );
        assert_eq!(
            sh_c("echo 'a; b' \"c\\\"d\""),
            words(&[&["echo", "a; b", "c\"d"]])
        );
        assert_eq!(sh_c("  hostname  "), words(&[&["hostname"]]));
    }
}
