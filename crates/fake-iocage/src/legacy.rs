//! The legacy shell iocage (develop, February 2016; iocage-output.md L16):
//! its commands, messages, streams and exit statuses. The 1.7.x release
//! line's own commands are in `legacy17.rs`.

use std::collections::BTreeMap;

use iocage_cli::render;
use iocage_cli::{
    Action, Column, CreateLine, CreateReport, Creation, DestroyLine, DestroyReport, DfRow, Flavour,
    Jail as ListedJail, JailList, Level, Properties, Property, RecursiveGet, RecursiveRow,
    StartStopLine, StartStopReport, StepStatus,
};

use crate::host::{self, Host, Jail};
use crate::legacy17;
use crate::version;
use crate::{Reply, message};

const LEGACY: Flavour = Flavour::Legacy;

/// `__die` on develop (`  ERROR: ...` on stderr, exit 1,
/// lib/ioc-common@3ffbc87:667-670); 1.7.x echoes it on stdout.
fn error(text: impl Into<String>) -> Reply {
    if version::model().legacy_release() {
        return legacy17::error(text.into());
    }
    Reply::error(text, LEGACY)
}

/// Runs one legacy iocage command line.
pub(crate) fn run(host: &mut Host, args: &[String]) -> Reply {
    let Some((command, rest)) = args.split_first() else {
        return Reply::out(USAGE);
    };
    let command = command.as_str();
    // Every command but activate/deactivate first finds the pool, setting
    // one up when none is marked (`__find_mypool`).
    let mut preamble = Reply::default();
    if !matches!(command, "activate" | "deactivate") {
        preamble = find_pool(host);
        if preamble.code != 0 {
            return preamble;
        }
    }
    if version::model().legacy_release() {
        let reply = match command {
            "list" => Some(legacy17::list(host, rest)),
            "df" => Some(legacy17::df(host)),
            "get" => Some(legacy17::get(host, rest)),
            "start" => Some(legacy17::start(host, rest)),
            "stop" => Some(legacy17::stop(host, rest)),
            "create" => Some(legacy17::create(host, rest)),
            "clone" => Some(legacy17::clone(host, rest)),
            "destroy" => Some(legacy17::destroy(host, rest)),
            "clean" => Some(legacy17::clean(host, rest)),
            "show" => Some(legacy17::show(host, rest)),
            _ => None,
        };
        if let Some(reply) = reply {
            return reply.after(preamble);
        }
    }
    let reply = match command {
        "list" => list(host, rest),
        "df" => df(host),
        "get" => get(host, rest),
        "defaults" => defaults(),
        "start" => start(host, rest),
        "stop" => stop(host, rest),
        "cap" => cap(host, rest),
        "create" => create(host, rest),
        "clone" => clone(host, rest),
        "destroy" => destroy(host, rest),
        "exec" => exec(host, rest),
        "clean" => clean(host, rest),
        "activate" => activate(host, rest),
        "deactivate" => deactivate(host, rest),
        other if other.starts_with('-') => error(format!("{other} is not a valid command")),
        _ => Reply::out(USAGE),
    };
    reply.after(preamble)
}

const USAGE: &str = "usage:\n  iocage activate ZPOOL\n  iocage cap UUID|TAG\n  iocage clean [-a|-f|-r|-j|-t]\n  iocage clone UUID|TAG [UUID|TAG@snapshot] [property=value]\n  iocage create [-b|-c|-e] [release=RELEASE] [pkglist=file] [property=value]\n  iocage deactivate ZPOOL\n  iocage defaults\n  iocage destroy [-f] UUID|TAG|ALL\n  iocage df\n  iocage exec [-u username | -U username] UUID|TAG|ALL command [arg ...]\n  iocage get property|all UUID|TAG\n  iocage list [-t|-r|-s]\n  iocage start [-f] UUID|TAG|ALL\n  iocage stop UUID|TAG|ALL\n";

fn find_pool(host: &mut Host) -> Reply {
    if !host.also_marked.is_empty() {
        return more_than_one_pool(host);
    }
    if host.active_pool.is_some() {
        return Reply::default();
    }
    let Some(pool) = host.pools.last().cloned() else {
        return error("ZFS is required for iocage to work and I can't find any pools available.");
    };
    host.active_pool = Some(pool.clone());
    Reply::out(format!(
        "Setting up zpool [{pool}] for iocage usage...\nIf you wish to change zpool, use 'iocage activate'\n"
    ))
}

/// `__find_mypool` when several pools carry `comment=iocage`, as
/// `activate` leaves them (lib/ioc-zfs@3ffbc87:5-17): a warning naming them
/// and exit 1, before any command runs (lib/ioc-info@3ffbc87:338-350; the
/// same text on stdout in lib/ioc-info@6189eac:214-228).
fn more_than_one_pool(host: &Host) -> Reply {
    let marked: Vec<String> = host
        .pools
        .iter()
        .filter(|pool| host.active_pool.as_ref() == Some(*pool) || host.also_marked.contains(pool))
        .map(|pool| format!("{pool}\tiocage"))
        .collect();
    let text = format!(
        "\n  WARNING: You have more then one pool set for iocage use!\n\n**** POOLS ****\n{}\n***************\n\n  Please run 'iocage deactivate' on one of them\n\n",
        marked.join("\n")
    );
    if version::model().legacy_release() {
        Reply {
            out: text,
            code: 1,
            ..Reply::default()
        }
    } else {
        Reply::err(text, 1)
    }
}

/// `__find_jail`: an exact tag, an exact UUID, else datasets whose path
/// ends with the name (case-insensitively). With `FAKE_IOCAGE_VERSION`
/// set, in dataset order as lib/ioc-info@3ffbc87:74-101 does: the first
/// jail whose tag or UUID is the name ends the search, after any earlier
/// suffix matches were collected.
fn find(host: &Host, name: &str) -> Result<String, Reply> {
    if version::model().versioned() {
        return find_in_order(host, name);
    }
    if let Some((uuid, _)) = host.jails.iter().find(|(_, jail)| jail.tag() == name) {
        return Ok(uuid.clone());
    }
    if host.jails.contains_key(name) {
        return Ok(name.to_owned());
    }
    let lower = name.to_ascii_lowercase();
    let matches: Vec<&String> = host
        .jails
        .keys()
        .filter(|uuid| !name.is_empty() && uuid.to_ascii_lowercase().ends_with(&lower))
        .collect();
    match matches[..] {
        [uuid] => Ok(uuid.clone()),
        [] => Err(Reply::default()),
        _ => Err(error(format!("multiple jails matching name: {name}!"))),
    }
}

fn find_in_order(host: &Host, name: &str) -> Result<String, Reply> {
    let lower = name.to_ascii_lowercase();
    let mut hits = Vec::new();
    for (uuid, jail) in &host.jails {
        if jail.tag() == name || uuid == name {
            hits.push(uuid);
            break;
        }
        if !name.is_empty() && uuid.to_ascii_lowercase().ends_with(&lower) {
            hits.push(uuid);
        }
    }
    match hits[..] {
        [uuid] => Ok(uuid.clone()),
        [] => Err(Reply::default()),
        _ => Err(error(format!("multiple jails matching name: {name}!"))),
    }
}

/// `find`, with the caller's "not found" text.
fn jail_or(host: &Host, name: &str, not_found: String) -> Result<String, Reply> {
    match find(host, name) {
        Ok(uuid) => Ok(uuid),
        Err(reply) if reply.code != 0 => Err(reply),
        Err(_) => Err(error(not_found)),
    }
}

fn listed(host: &Host, uuid: &str, jail: &Jail) -> ListedJail {
    let value = |key: &str| host::legacy_value(host, uuid, jail, key).unwrap_or_default();
    let ip4 = if jail.running {
        let addresses = bare_addresses(&value("ip4_addr"));
        if addresses.is_empty() {
            "-".to_owned()
        } else {
            addresses
        }
    } else {
        "-".to_owned()
    };
    ListedJail {
        jid: jail.jid,
        name: uuid.to_owned(),
        boot: Some(value("boot")),
        state: Some(if jail.running { "up" } else { "down" }.into()),
        tag: Some(jail.tag().to_owned()),
        jail_type: Some(value("type")),
        ip4: Some(ip4),
        ..ListedJail::default()
    }
}

/// `em0|10.0.0.5/24,...` as `jls` shows it: `10.0.0.5,...`.
pub(crate) fn bare_addresses(ip4_addr: &str) -> String {
    if ip4_addr == "none" || ip4_addr == "-" {
        return String::new();
    }
    ip4_addr
        .split(',')
        .map(|one| {
            let address = one.rsplit('|').next().unwrap_or(one);
            address.split('/').next().unwrap_or(address)
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn list(host: &Host, args: &[String]) -> Reply {
    let mut templates = false;
    match args.first().map(String::as_str) {
        None => {}
        Some("-t") => templates = true,
        Some("-r") => return Reply::out(render::releases(&host.releases, LEGACY)),
        Some(other) => return error(format!("invalid switch {other}")),
    }
    let jails = host
        .jails
        .iter()
        .filter(|(_, jail)| jail.template == templates)
        .map(|(uuid, jail)| listed(host, uuid, jail))
        .collect();
    let list = JailList {
        columns: vec![
            Column::Jid,
            Column::Name,
            Column::Boot,
            Column::State,
            Column::Tag,
            Column::Type,
            Column::Ip4,
        ],
        jails,
        foreign: Vec::new(),
    };
    Reply::out(render::list(&list, LEGACY))
}

fn df(host: &Host) -> Reply {
    let rows: Vec<DfRow> = host
        .jails
        .iter()
        .filter(|(_, jail)| !jail.template)
        .map(|(uuid, jail)| {
            let value = |key: &str| host::legacy_value(host, uuid, jail, key).unwrap_or_default();
            DfRow {
                name: uuid.clone(),
                crt: "2.30x".into(),
                res: value("reservation"),
                qta: value("quota"),
                used: "1.69M".into(),
                ava: "83.4G".into(),
                tag: Some(jail.tag().to_owned()),
            }
        })
        .collect();
    Reply::out(render::df(&rows, LEGACY))
}

/// `__get_jail_prop`: custom properties print `-` as `none`, ZFS ones raw.
fn get_value(host: &Host, uuid: &str, jail: &Jail, prop: &str) -> Option<String> {
    if prop == "state" {
        return Some(if jail.running { "up" } else { "down" }.into());
    }
    let value = host::legacy_value(host, uuid, jail, prop)?;
    if value == "-" && !host::LEGACY_ZFS.contains(&prop) {
        return Some("none".into());
    }
    Some(value)
}

pub(crate) fn properties(pairs: Vec<(String, String)>) -> Properties {
    Properties(
        pairs
            .into_iter()
            .map(|(key, value)| Property { key, value })
            .collect(),
    )
}

fn get(host: &Host, args: &[String]) -> Reply {
    match args {
        [flag, prop] if flag == "-r" => {
            let mut rows = Vec::new();
            for (uuid, jail) in &host.jails {
                let Some(value) = get_value(host, uuid, jail, prop) else {
                    return error(format!("unsupported property: {prop} !"));
                };
                rows.push(RecursiveRow {
                    name: uuid.clone(),
                    tag: Some(jail.tag().to_owned()),
                    value,
                });
            }
            let get = RecursiveGet {
                property: prop.clone(),
                rows,
            };
            Reply::out(render::get_recursive(&get, LEGACY))
        }
        [all, name] if all == "all" && name == "default" => {
            Reply::out(render::get_all(&properties(host::legacy_defaults())))
        }
        [prop, name] => {
            let uuid = match jail_or(host, name, format!("jail {name} not found!")) {
                Ok(uuid) => uuid,
                Err(reply) => return reply,
            };
            let jail = &host.jails[&uuid];
            if prop == "all" {
                let pairs = host::legacy_names()
                    .map(|key| {
                        let value = host::legacy_value(host, &uuid, jail, key).unwrap_or_default();
                        (key.to_owned(), value)
                    })
                    .collect();
                return Reply::out(render::get_all(&properties(pairs)));
            }
            match get_value(host, &uuid, jail, prop) {
                Some(value) => Reply::out(render::get_value(&value)),
                None => error(format!("unsupported property: {prop} !")),
            }
        }
        _ => error("missing UUID or property!"),
    }
}

/// `__print_defaults`: `key=value`, groups in the order NET, JAIL, RCTL,
/// CUSTOM, ZFS, SYNC, FTP, GIT; unset properties omitted.
fn defaults() -> Reply {
    let (zfs, mut ordered): (Vec<_>, Vec<_>) = host::legacy_defaults()
        .into_iter()
        .partition(|(key, _)| host::LEGACY_ZFS.contains(&key.as_str()));
    let sync = ordered
        .iter()
        .position(|(key, _)| key == "sync_stat")
        .unwrap_or(ordered.len());
    ordered.splice(sync..sync, zfs);
    // Unset iocage properties are omitted; ZFS ones print raw (`origin=-`).
    ordered.retain(|(key, value)| value != "-" || host::LEGACY_ZFS.contains(&key.as_str()));
    Reply::out(render::defaults(&properties(ordered)))
}

fn step(step: &str) -> StartStopLine {
    StartStopLine::Step {
        step: step.to_owned(),
        status: Some(StepStatus::Ok),
    }
}

fn start(host: &mut Host, args: &[String]) -> Reply {
    let Some(name) = args.iter().find(|arg| *arg != "-f") else {
        return error("missing UUID!");
    };
    let uuid = match jail_or(host, name, format!("{name} not found!")) {
        Ok(uuid) => uuid,
        Err(reply) => return reply,
    };
    let jail = &host.jails[&uuid];
    let tag = jail.tag().to_owned();
    if jail.template {
        // This notice goes to stdout, unlike the others.
        return Reply::out(message(
            Level::Info,
            format!("{tag} is a template jail, ignoring start request."),
            LEGACY,
        ));
    }
    if jail.running {
        let already = StartStopReport {
            lines: vec![StartStopLine::Already {
                name: uuid,
                tag: Some(tag),
                up: true,
            }],
        };
        return Reply::err(render::start_stop(&already, LEGACY), 1);
    }
    boot(host, &uuid)
}

/// Starts the jail, printing what `__start_jail` prints for it.
pub(crate) fn boot(host: &mut Host, uuid: &str) -> Reply {
    let jail = &host.jails[uuid];
    let mut lines = vec![StartStopLine::Begin {
        action: Action::Start,
        name: uuid.to_owned(),
        tag: Some(jail.tag().to_owned()),
    }];
    if jail.prop("vnet") == Some("on") {
        lines.push(step("Started"));
        lines.push(step("Configuring VNET"));
    } else {
        lines.push(step("Started (shared IP mode)"));
    }
    lines.push(step("Starting services"));
    host.start(uuid);
    Reply::out(render::start_stop(&StartStopReport { lines }, LEGACY))
}

pub(crate) fn stop_lines(uuid: &str, jail: &Jail) -> Vec<StartStopLine> {
    let mut lines = vec![
        StartStopLine::Begin {
            action: Action::Stop,
            name: uuid.to_owned(),
            tag: Some(jail.tag().to_owned()),
        },
        step("Running pre-stop"),
        step("Stopping services"),
    ];
    if jail.prop("vnet") == Some("on") {
        lines.push(step("Tearing down VNET"));
    }
    lines.push(step("Removing jail process"));
    lines.push(step("Running post-stop"));
    lines
}

fn stop(host: &mut Host, args: &[String]) -> Reply {
    let Some(name) = args.first() else {
        return error("missing UUID!");
    };
    let uuid = match jail_or(host, name, format!("{name} not found!")) {
        Ok(uuid) => uuid,
        Err(reply) => return reply,
    };
    let jail = &host.jails[&uuid];
    if !jail.running {
        let already = StartStopReport {
            lines: vec![StartStopLine::Already {
                name: uuid,
                tag: Some(jail.tag().to_owned()),
                up: false,
            }],
        };
        return Reply::err(render::start_stop(&already, LEGACY), 1);
    }
    let lines = stop_lines(&uuid, jail);
    host.stop(&uuid);
    Reply::out(render::start_stop(&StartStopReport { lines }, LEGACY))
}

fn cap(host: &Host, args: &[String]) -> Reply {
    if version::model().legacy_release() {
        // lib/ioc-rctl@6189eac:3-24: every lookup failure exits 1.
        let found = legacy17::jail(
            host,
            args.first(),
            "missing UUID",
            |name| format!("{name} not found"),
            "multiple matching UUIDs!",
        );
        return match found {
            Ok(uuid) => applied_limits(host, &uuid),
            Err(reply) => reply,
        };
    }
    let Some(name) = args.first() else {
        return error("missing UUID!");
    };
    let uuid = match jail_or(host, name, format!("{name} not found!")) {
        Ok(uuid) => uuid,
        // The lookup fails inside `$(...)`: the error shows, the exit
        // status stays 0 (iocage-output.md §3.5).
        Err(mut reply) => {
            reply.code = 0;
            return reply;
        }
    };
    applied_limits(host, &uuid)
}

/// `__rctl_limits` once the jail is found: a line only when `rlimits=on`.
fn applied_limits(host: &Host, uuid: &str) -> Reply {
    if host.jails[uuid].prop("rlimits") == Some("on") {
        let report = StartStopReport {
            lines: vec![step("Applying resource limits")],
        };
        return Reply::out(render::start_stop(&report, LEGACY));
    }
    Reply::default()
}

/// Checks `key=value` words as `__export_props` does.
pub(crate) fn parse_props(words: &[String]) -> Result<BTreeMap<String, String>, Reply> {
    let mut props = BTreeMap::new();
    if version::model().legacy_release() {
        // 1.7.x exports every `k=v` word and checks none: what is not one
        // of its properties is silently not stored (lib/ioc-common@6189eac:4-17).
        for word in words {
            if let Some((key, value)) = word.split_once('=')
                && host::legacy_names().any(|known| known == key)
            {
                props.insert(key.to_owned(), value.to_owned());
            }
        }
        return Ok(props);
    }
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(error(format!("invalid switch {word}")));
        };
        if !host::legacy_names().any(|known| known == key) {
            return Err(error(format!("unsupported property: {key}!")));
        }
        props.insert(key.to_owned(), value.to_owned());
    }
    Ok(props)
}

/// The tag for a new jail: the one asked for (an older jail holding it is
/// renamed to a date, with warnings), else the date.
pub(crate) fn claim_tag(host: &mut Host, wanted: Option<String>, reply: &mut Reply) -> String {
    let wanted = wanted.filter(|tag| tag != "default");
    let Some(tag) = wanted else {
        return host::date_tag();
    };
    let holder = host
        .jails
        .iter()
        .find(|(_, jail)| jail.tag() == tag)
        .map(|(uuid, _)| uuid.clone());
    if let Some(uuid) = holder {
        let date = host::date_tag();
        if version::model().legacy_release() {
            // Every line on stdout (lib/ioc-common@6189eac:315-319).
            reply.out.push_str(&format!(
                " \n  WARNING: Replacing tag {tag}!\n  Renaming {uuid}'s tag to {date}.\n \n"
            ));
            if let Some(jail) = host.jails.get_mut(&uuid) {
                jail.props.insert("tag".into(), date);
            }
            return tag;
        }
        reply.out.push_str(" \n");
        reply.err.push_str(&message(
            Level::Warning,
            format!("Replacing tag {tag}!"),
            LEGACY,
        ));
        reply
            .err
            .push_str(&format!("  Renaming {uuid}'s tag to {date}.\n"));
        reply.out.push_str(" \n");
        if let Some(jail) = host.jails.get_mut(&uuid) {
            jail.props.insert("tag".into(), date);
        }
    }
    tag
}

fn create(host: &mut Host, args: &[String]) -> Reply {
    let (empty, words) = match args.split_first() {
        Some((flag, rest)) if flag == "-e" => (true, rest),
        Some((first, _)) if !first.contains('=') => {
            return error(format!("invalid switch {first}"));
        }
        _ => (false, args),
    };
    let mut props = match parse_props(words) {
        Ok(props) => props,
        Err(reply) => return reply,
    };
    if props.contains_key("istemplate") {
        return error("please set template after creation");
    }
    if props.contains_key("template") {
        return error("use clone for templates");
    }
    props.remove("count");
    if empty {
        props.insert("type".into(), "emptyjail".into());
    } else {
        let release = match props.get("release") {
            Some(release) => release.clone(),
            None => match host.releases.last() {
                Some(release) => release.clone(),
                None => return error("no RELEASEs found locally, run iocage fetch first."),
            },
        };
        if !host.releases.contains(&release) {
            let mut err = format!(
                "  RELEASE {release} not found locally.\n  Please fetch {release}\n\n  These are the RELEASEs you have already fetched:\n"
            );
            for fetched in &host.releases {
                err.push_str(&format!("  {fetched} \n"));
            }
            return Reply::err(err, 1);
        }
        props.insert("release".into(), release);
    }
    let mut reply = Reply::default();
    let tag = claim_tag(host, props.remove("tag"), &mut reply);
    props.insert("tag".into(), tag.clone());
    let uuid = host::new_uuid();
    host.jails.insert(uuid.clone(), Jail::new(props));
    let how = if empty {
        Creation::Empty
    } else {
        Creation::Created
    };
    let report = CreateReport {
        lines: vec![CreateLine::Created {
            how,
            name: uuid,
            tag: (!empty).then_some(tag),
        }],
    };
    reply.out.push_str(&render::create(&report, LEGACY));
    reply
}

/// Adds a clone of `source` with the `given` properties (the source's,
/// without its tag); the reply holds the tag warnings. Returns the new
/// UUID and tag.
pub(crate) fn add_clone(
    host: &mut Host,
    source: String,
    mut given: BTreeMap<String, String>,
) -> (Reply, String, String) {
    let mut props = host.jails[&source].props.clone();
    props.remove("tag");
    props.remove("last_started");
    props.remove("count");
    let wanted = given.remove("tag");
    props.extend(given);
    let template = props.remove("istemplate").as_deref() == Some("yes");
    props.insert(
        "type".into(),
        if template { "template" } else { "clonejail" }.into(),
    );
    let mut reply = Reply::default();
    let tag = claim_tag(host, wanted, &mut reply);
    props.insert("tag".into(), tag.clone());
    let uuid = host::new_uuid();
    let mut jail = Jail::new(props);
    jail.template = template;
    jail.origin = Some(source);
    host.jails.insert(uuid.clone(), jail);
    (reply, uuid, tag)
}

fn clone(host: &mut Host, args: &[String]) -> Reply {
    let Some((name, words)) = args.split_first() else {
        return error("missing UUID or TAG!");
    };
    if name.contains('=') {
        return error("please specify UUID or TAG before any properties");
    }
    let source = match jail_or(host, name, format!("jail {name} not found!")) {
        Ok(uuid) => uuid,
        Err(reply) => return reply,
    };
    let given = match parse_props(words) {
        Ok(props) => props,
        Err(reply) => return reply,
    };
    let (mut reply, uuid, tag) = add_clone(host, source, given);
    let report = CreateReport {
        lines: vec![CreateLine::Created {
            how: Creation::Created,
            name: uuid,
            tag: Some(tag),
        }],
    };
    reply.out.push_str(&render::create(&report, LEGACY));
    reply
}

fn destroy(host: &mut Host, args: &[String]) -> Reply {
    let force = args.iter().any(|arg| arg == "-f");
    let names: Vec<&String> = args.iter().filter(|arg| *arg != "-f").collect();
    let Some(name) = names.first() else {
        // With no jail the loop runs over nothing.
        return if force {
            Reply::default()
        } else {
            error("missing jail UUID or TAG!")
        };
    };
    if name.as_str() == "ALL" {
        return error("please use iocage clean -j instead.");
    }
    let uuid = match jail_or(host, name, format!("{name} not found!")) {
        Ok(uuid) => uuid,
        Err(reply) => return reply,
    };
    // `__check_children` runs before the prompt (lib/ioc-zfs@3ffbc87:688-695).
    if let Some((child, clone)) = host.dependent(&uuid) {
        return error(format!(
            "jail has dependent clone, uuid: {child} ({})",
            clone.tag()
        ));
    }
    let mut prompt = String::new();
    if !force {
        // lib/ioc-zfs@3ffbc87:697-712: answered `y`, a running jail is
        // refused; under `-f` it is stopped (:713-716).
        prompt = format!(
            " \n  WARNING: this will destroy jail {uuid}\n  Dataset: {}/iocage/jails/{uuid}\n \n  Are you sure ? y[N]: ",
            host.pool()
        );
        if !crate::confirmed() {
            prompt.push_str("  Command not confirmed.  No action taken.\n");
            return Reply::out(prompt);
        }
        if host.jails[&uuid].running {
            let mut reply = error(format!("cannot destroy {name} - jail is running!"));
            reply.out = prompt;
            return reply;
        }
    }
    let jail = &host.jails[&uuid];
    let mut lines = Vec::new();
    if jail.running {
        lines.extend(
            stop_lines(&uuid, jail)
                .into_iter()
                .map(|line| DestroyLine::Stop { line }),
        );
    }
    lines.push(DestroyLine::Destroying { name: uuid.clone() });
    if let Some(origin) = &jail.origin {
        lines.push(DestroyLine::CloneOrigin {
            snapshot: format!("{}/iocage/jails/{origin}@{uuid}", host.pool()),
        });
    }
    host.jails.remove(&uuid);
    prompt.push_str(&render::destroy(&DestroyReport { lines }, LEGACY));
    Reply::out(prompt)
}

/// getopts' complaint (lib/ioc-common@6189eac:129-131 capitalises it).
fn invalid_exec_option() -> &'static str {
    if version::model().legacy_release() {
        "Invalid exec option: ?"
    } else {
        "invalid exec option: ?"
    }
}

fn exec(host: &Host, args: &[String]) -> Reply {
    let mut user = "root".to_owned();
    let mut rest = args;
    // getopts u:U: stops at the first word that is not an option.
    while let Some((flag, tail)) = rest.split_first() {
        match flag.as_str() {
            "-u" | "-U" => {
                let Some((value, tail)) = tail.split_first() else {
                    return error(invalid_exec_option());
                };
                user = value.clone();
                rest = tail;
            }
            other if other.starts_with('-') => return error(invalid_exec_option()),
            _ => {
                let _ = tail;
                break;
            }
        }
    }
    let release_line = version::model().legacy_release();
    let Some((name, argv)) = rest.split_first() else {
        // lib/ioc-common@6189eac:139-141
        return error(if release_line {
            "Missing UUID!"
        } else {
            "missing UUID!"
        });
    };
    let found = if release_line {
        // lib/ioc-common@6189eac:155-165
        legacy17::jail(
            host,
            Some(name),
            "Missing UUID!",
            |name| format!("{name} not found."),
            "multiple matching UUIDs!",
        )
    } else {
        jail_or(host, name, format!("{name} not found!"))
    };
    let uuid = match found {
        Ok(uuid) => uuid,
        Err(reply) => return reply,
    };
    let jail = &host.jails[&uuid];
    if !jail.running {
        return Reply::err(format!("jexec: jail \"ioc-{uuid}\" not found\n"), 1);
    }
    let hostname = host::legacy_value(host, &uuid, jail, "host_hostname").unwrap_or_default();
    let release = host::legacy_value(host, &uuid, jail, "release").unwrap_or_default();
    let ran = host::jexec(&hostname, &release, &user, argv);
    Reply {
        out: ran.out,
        err: ran.err,
        code: ran.status,
    }
}

/// `label` followed by spinner frames and `done!`, as `__spinner` prints.
fn spinner(label: &str) -> String {
    format!("{label}\x08/\x08-\x08\\\x08|\x08/\x08done!\n")
}

fn clean(host: &mut Host, args: &[String]) -> Reply {
    let mut letters = String::new();
    for arg in args {
        let Some(flags) = arg.strip_prefix('-') else {
            continue;
        };
        for letter in flags.chars() {
            if !"arjtf".contains(letter) {
                return error(format!("-{letter} is not a valid switch!"));
            }
            letters.push(letter);
        }
    }
    if !letters.contains('f') {
        let mut reply =
            Reply::out("  WARNING: this will destroy iocage datasets!\n  Are you sure ? y[N]: ");
        if !crate::confirmed() {
            reply.err = message(
                Level::Error,
                "command not confirmed.  no action taken.",
                LEGACY,
            );
            reply.code = 1;
            return reply;
        }
    }
    let pool = host.pool().to_owned();
    let mut out = String::new();
    if letters.contains('a') {
        host.jails.clear();
        host.releases.clear();
        out.push_str(&spinner(&format!("  INFO: destroying {pool}/iocage:  ")));
    }
    if letters.contains('r') {
        host.releases.clear();
        out.push_str(&spinner(&format!(
            "  INFO: destroying {pool}/iocage/download:  "
        )));
        out.push_str(&spinner(&format!(
            "  INFO: destroying {pool}/iocage/releases:  "
        )));
    }
    if letters.contains('j') {
        host.jails.retain(|_, jail| jail.template);
        out.push_str(&spinner(&format!(
            "  INFO: destroying {pool}/iocage/jails:  "
        )));
        out.push_str(&spinner(&format!(
            "  INFO: cleaning TAGs at {pool}/iocage/tags:  "
        )));
    }
    if letters.contains('t') {
        host.jails.retain(|_, jail| !jail.template);
        out.push_str(&spinner(&format!(
            "  INFO: cleaning templatess at {pool}/iocage/templates:  "
        )));
    }
    Reply::out(out)
}

fn activate(host: &mut Host, args: &[String]) -> Reply {
    let Some(pool) = args.first() else {
        let preamble = find_pool(host);
        if preamble.code != 0 {
            return preamble;
        }
        return Reply::out(render::pool(host.pool(), LEGACY)).after(preamble);
    };
    if !host.pools.contains(pool) {
        return Reply::err(format!("cannot open '{pool}': no such pool\n"), 1);
    }
    // Unversioned, the fake keeps one marked pool, as LH does. L16 and
    // 1.7.x only run `zpool set comment=iocage POOL` (lib/ioc-zfs@3ffbc87:5-17,
    // @6189eac:4-17): the old pool stays marked too.
    if version::model().versioned()
        && let Some(old) = host.active_pool.clone()
        && old != *pool
        && !host.also_marked.contains(&old)
    {
        host.also_marked.push(old);
    }
    host.also_marked.retain(|marked| marked != pool);
    host.active_pool = Some(pool.clone());
    Reply::default()
}

fn deactivate(host: &mut Host, args: &[String]) -> Reply {
    let Some(pool) = args.first() else {
        return Reply::default();
    };
    if !host.pools.contains(pool) {
        return Reply::err(format!("cannot open '{pool}': no such pool\n"), 1);
    }
    // `zpool set comment=inherit POOL` (lib/ioc-zfs@3ffbc87:19-28).
    host.also_marked.retain(|marked| marked != pool);
    if host.active_pool.as_ref() == Some(pool) {
        host.active_pool = if host.also_marked.is_empty() {
            None
        } else {
            Some(host.also_marked.remove(0))
        };
    }
    Reply::default()
}
