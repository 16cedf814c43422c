//! The legacy release line 1.7.4-1.7.6 (iocage_legacy tags v1.7.4 @7ba6e4e,
//! v1.7.5 @3963ccc, v1.7.6 @6189eac), where it differs from develop: plain
//! `printf` tables, no `get state` or `get -r`, `clean` that takes one exact
//! switch, create and clone that print nothing, and every message on
//! stdout (`echo` without `>&2`). The commands it shares with develop
//! (`exec`, `cap`, `activate`, `defaults`) run through `legacy.rs`.
//! Line numbers are @6189eac unless another commit is named; v1.7.4
//! differs only in `__list_jails` (lib/ioc-info@7ba6e4e:116-150).

use iocage_cli::render;
use iocage_cli::{Flavour, StartStopReport};

use crate::host::{self, Host, Jail};
use crate::version::{self, Model};
use crate::{Reply, confirmed};

/// `echo "  ERROR: ..."` on stdout, exit 1 (no `__die` on this line).
pub(crate) fn error(text: impl AsRef<str>) -> Reply {
    Reply {
        out: format!("  ERROR: {}\n", text.as_ref()),
        code: 1,
        ..Reply::default()
    }
}

/// What `__find_jail` (lib/ioc-info:58-97) found.
pub(crate) enum Found {
    One(String),
    None,
    Multiple,
}

/// `__find_jail`: every jail whose dataset starts with the name
/// (`grep -iE "^$pool/iocage/jails/$name"`, :79), and every jail whose tag
/// is the name (:86-88), each appended to one list; exactly one line is the
/// jail, more is "multiple". A jail tagged with another jail's UUID prefix
/// therefore makes both ambiguous; one matching both ways is listed twice.
pub(crate) fn find(host: &Host, name: &str) -> Found {
    let lower = name.to_ascii_lowercase();
    let mut hits = Vec::new();
    for (uuid, jail) in &host.jails {
        if !name.is_empty() && uuid.to_ascii_lowercase().starts_with(&lower) {
            hits.push(uuid.clone());
        }
        if jail.tag() == name {
            hits.push(uuid.clone());
        }
    }
    match hits.len() {
        0 => Found::None,
        1 => Found::One(hits.remove(0)),
        _ => Found::Multiple,
    }
}

/// `find` with the messages of the caller: `missing`, `not_found` (given
/// the name) and `multiple`, each an `  ERROR:` line on stdout.
pub(crate) fn jail(
    host: &Host,
    name: Option<&String>,
    missing: &str,
    not_found: impl Fn(&str) -> String,
    multiple: &str,
) -> Result<String, Reply> {
    let Some(name) = name.filter(|name| !name.is_empty()) else {
        return Err(error(missing));
    };
    match find(host, name) {
        Found::One(uuid) => Ok(uuid),
        Found::None => Err(error(not_found(name))),
        Found::Multiple => Err(error(multiple)),
    }
}

/// `ip4_addr | cut -d'|' -f2 | cut -d'/' -f1` (lib/ioc-info:125).
fn listed_ip(ip4_addr: &str) -> String {
    let field = ip4_addr.split('|').nth(1).unwrap_or(ip4_addr);
    field.split('/').next().unwrap_or(field).to_owned()
}

/// `__list_jails` (lib/ioc-info:99-187): `-r` lists releases with `%15s`;
/// `-t` templates; anything else the jails.
pub(crate) fn list(host: &Host, args: &[String]) -> Reply {
    let switch = args.first().map(String::as_str);
    if switch == Some("-r") {
        // lib/ioc-info:104-112
        let mut out = "Downloaded releases:\n".to_owned();
        for release in &host.releases {
            out.push_str(&format!("{release:>15}\n"));
        }
        return Reply::out(out);
    }
    let with_ip = version::model() == Model::Legacy175;
    let mut out = if with_ip {
        // lib/ioc-info@6189eac:116-117: TAG padded to 20, which the rows are not.
        format!(
            "{:<4}  {:<36}  {}  {}  {:<20}  {}\n",
            "JID", "UUID", "BOOT", "STATE", "TAG", "IP"
        )
    } else {
        // lib/ioc-info@7ba6e4e:116-117
        format!(
            "{:<4}  {:<36}  {}  {}  {}\n",
            "JID", "UUID", "BOOT", "STATE", "TAG"
        )
    };
    let templates = switch == Some("-t");
    for (uuid, jail) in &host.jails {
        if jail.template != templates {
            continue;
        }
        let value = |key: &str| host::legacy_value(host, uuid, jail, key).unwrap_or_default();
        let jid = jail
            .jid
            .map_or_else(|| "-".to_owned(), |jid| jid.to_string());
        let state = if jail.running { "up" } else { "down" };
        let boot = value("boot");
        let tag = jail.tag();
        // `%-+.36s` has a precision and no width: the UUID is not padded.
        let row = match (templates, with_ip) {
            // lib/ioc-info@7ba6e4e:144-145, 149-150
            (true, false) => format!("{jid:<4}  {uuid:.36}  {boot:<3}   {state:<4}   {tag}\n"),
            (false, false) => format!("{jid:<4}  {uuid:.36}  {boot:<4}  {state:<4}   {tag}\n"),
            // lib/ioc-info@6189eac:145-146, 150-151
            (true, true) => format!(
                "{jid:<4}  {uuid:.36}  {boot:<3}   {state:<4}   {tag:<4}   {}\n",
                listed_ip(&value("ip4_addr"))
            ),
            (false, true) => format!(
                "{jid:<4}  {uuid:.36}  {boot:<4}  {state:<4}   {tag:<4}   {}\n",
                listed_ip(&value("ip4_addr"))
            ),
        };
        out.push_str(&row);
    }
    Reply::out(out)
}

/// `show PROP` (lib/ioc-cmd:123; lib/ioc-help:1392-1410), 1.7.x's
/// `get -r`: `UUID TAG PROP` through `column -t`, one row per jail, each
/// value as `__get_jail_prop` prints it (its error line, for a property
/// it does not know, is captured as the value).
pub(crate) fn show(host: &Host, args: &[String]) -> Reply {
    let prop = args.first().cloned().unwrap_or_default();
    let rows = host
        .jails
        .iter()
        .map(|(uuid, jail)| {
            let value = match host::legacy_value(host, uuid, jail, &prop) {
                Some(value) if value == "-" && !host::LEGACY_ZFS.contains(&prop.as_str()) => {
                    "none".to_owned()
                }
                Some(value) => value,
                None => format!("  ERROR: unsupported property: {prop} !"),
            };
            iocage_cli::RecursiveRow {
                name: uuid.clone(),
                tag: Some(jail.tag().to_owned()),
                value,
            }
        })
        .collect();
    let table = iocage_cli::RecursiveGet {
        property: prop,
        rows,
    };
    Reply::out(render::get_recursive(&table, Flavour::Legacy))
}

/// `__print_disk` (lib/ioc-info:189-205): the tag padded to 20 columns.
pub(crate) fn df(host: &Host) -> Reply {
    let line = |cells: [&str; 7]| {
        format!(
            "{:<36}  {:<6}  {:<5}  {:<5}  {:<5}  {:<5} {:<20}\n",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]
        )
    };
    let mut out = line(["UUID", "CRT", "RES", "QTA", "USE", "AVA", "TAG"]);
    for (uuid, jail) in &host.jails {
        let value = |key: &str| host::legacy_value(host, uuid, jail, key).unwrap_or_default();
        let (res, qta) = (value("reservation"), value("quota"));
        out.push_str(&line([
            uuid,
            "2.30x",
            &res,
            &qta,
            "1.69M",
            "83.4G",
            jail.tag(),
        ]));
    }
    Reply::out(out)
}

/// `get) __get_jail_prop "$2" "$3"` (lib/ioc-cmd:63; lib/ioc-info:254-322):
/// no `state`, no `-r` (`get -r vnet` looks for a jail named `vnet`); `all`
/// prints the iocage properties only, not the ZFS ones.
pub(crate) fn get(host: &Host, args: &[String]) -> Reply {
    let prop = args.first().map(String::as_str).unwrap_or("");
    let name = args.get(1);
    if prop.is_empty() {
        return error("get failed, incorrect property syntax!");
    }
    let Some(name) = name.filter(|name| !name.is_empty()) else {
        return error("missing UUID or property!");
    };
    if prop == "all" && name == "default" {
        let pairs: Vec<(String, String)> = host::legacy_defaults()
            .into_iter()
            .filter(|(key, _)| !host::LEGACY_ZFS.contains(&key.as_str()))
            .collect();
        return Reply::out(render::get_all(&crate::legacy::properties(pairs)));
    }
    let uuid = match find(host, name) {
        Found::One(uuid) => uuid,
        Found::None => return error(format!("jail {name} not found!")),
        Found::Multiple => return error("multiple matching UUIDs!"),
    };
    let jail = &host.jails[&uuid];
    let custom = |key: &&str| !host::LEGACY_ZFS.contains(key);
    if prop == "all" {
        let pairs = host::legacy_names()
            .filter(custom)
            .map(|key| {
                let value = host::legacy_value(host, &uuid, jail, key).unwrap_or_default();
                (key.to_owned(), value)
            })
            .collect();
        return Reply::out(render::get_all(&crate::legacy::properties(pairs)));
    }
    match host::legacy_value(host, &uuid, jail, prop) {
        Some(value) if value == "-" && custom(&prop) => Reply::out("none\n"),
        Some(value) => Reply::out(render::get_value(&value)),
        None => error(format!("unsupported property: {prop} !")),
    }
}

/// The jail `start` and `stop` name, with their messages (lib/ioc-rc:5-21, 350-366).
fn rc_jail(host: &Host, args: &[String]) -> Result<String, Reply> {
    jail(
        host,
        args.first(),
        "missing UUID",
        |name| format!("{name} not found"),
        "multiple matching UUIDs!",
    )
}

/// `* UUID: is already up|down` on stdout, exit 1 (lib/ioc-rc:39-42, 378-381).
fn already(uuid: &str, state: &str) -> Reply {
    Reply {
        out: format!("* {uuid}: is already {state}\n"),
        code: 1,
        ..Reply::default()
    }
}

/// `__start_jail` (lib/ioc-rc:3-97): "already up" on stdout, exit 1
/// (:39-42); a template returns silently, exit 0 (:61-63).
pub(crate) fn start(host: &mut Host, args: &[String]) -> Reply {
    let uuid = match rc_jail(host, args) {
        Ok(uuid) => uuid,
        Err(reply) => return reply,
    };
    let jail = &host.jails[&uuid];
    if jail.running {
        return already(&uuid, "up");
    }
    if jail.template {
        return Reply::default();
    }
    crate::legacy::boot(host, &uuid)
}

/// `__stop_jail` (lib/ioc-rc:348-430): "already down" on stdout, exit 1
/// (:378-381).
pub(crate) fn stop(host: &mut Host, args: &[String]) -> Reply {
    let uuid = match rc_jail(host, args) {
        Ok(uuid) => uuid,
        Err(reply) => return reply,
    };
    let jail = &host.jails[&uuid];
    if !jail.running {
        return already(&uuid, "down");
    }
    let lines = crate::legacy::stop_lines(&uuid, jail);
    host.stop(&uuid);
    Reply::out(render::start_stop(
        &StartStopReport { lines },
        Flavour::Legacy,
    ))
}

/// `__create_jail` (lib/ioc-zfs:148-246): switches `-b|-c|-e` as `$2`; the
/// release is checked first, even for `-e` (:158-176); success prints
/// nothing, only `-e` echoes the UUID (:228-232).
pub(crate) fn create(host: &mut Host, args: &[String]) -> Reply {
    let (switch, words) = match args.split_first() {
        Some((first, rest)) if matches!(first.as_str(), "-b" | "-c" | "-e") => {
            (Some(first.as_str()), rest)
        }
        _ => (None, args),
    };
    let mut props = match crate::legacy::parse_props(words) {
        Ok(props) => props,
        Err(reply) => return to_stdout(reply),
    };
    props.remove("count");
    let release = props
        .get("release")
        .cloned()
        .or_else(|| host.releases.last().cloned())
        .unwrap_or_default();
    if !release.contains("RELEASE") {
        let mut reply = error("Please specify release=RELEASE.");
        reply
            .out
            .insert_str(0, "  You are not running a RELEASE.\n");
        return reply;
    }
    if host.releases.is_empty() {
        return error("No RELEASEs found locally, run iocage fetch first.");
    }
    if !host.releases.contains(&release) {
        let fetched: Vec<String> = host
            .releases
            .iter()
            .map(|release| format!("{release:>15}"))
            .collect();
        return Reply {
            out: format!(
                "  RELEASE {release} not found locally.\n  Please fetch {release} or rerun iocage with release=RELEASE\n\n  These are the releases you have already fetched:\n  {}\n",
                fetched.join("\n")
            ),
            code: 1,
            ..Reply::default()
        };
    }
    // `__link_tag` takes a tag another jail holds (lib/ioc-common:303-330).
    let mut reply = Reply::default();
    let tag = crate::legacy::claim_tag(host, props.remove("tag"), &mut reply);
    props.insert("tag".into(), tag);
    match switch {
        Some("-e") => {
            props.insert("type".into(), "emptyjail".into());
        }
        _ => {
            props.insert("release".into(), release);
        }
    }
    let uuid = host::new_uuid();
    if switch == Some("-e") {
        reply.out.push_str(&format!("{uuid}\n"));
    }
    host.jails.insert(uuid, Jail::new(props));
    reply
}

/// `__clone_jail` (lib/ioc-zfs:249-305): prints nothing on success.
pub(crate) fn clone(host: &mut Host, args: &[String]) -> Reply {
    let name = args
        .first()
        .map(|name| name.split('@').next().unwrap_or(name).to_owned());
    let source = match jail(
        host,
        name.as_ref(),
        "missing UUID!",
        |name| format!("{name} not found."),
        "Multiple matching UUIDs!",
    ) {
        Ok(uuid) => uuid,
        Err(reply) => return reply,
    };
    let given = match crate::legacy::parse_props(&args[1..]) {
        Ok(props) => props,
        Err(reply) => return to_stdout(reply),
    };
    // A template is `template=yes` on 1.7.x (there is no `istemplate`).
    let template = given.get("template").map(String::as_str) == Some("yes");
    // Only `__link_tag`'s warnings are printed.
    let (reply, uuid, _) = crate::legacy::add_clone(host, source, given);
    if let Some(jail) = host.jails.get_mut(&uuid) {
        jail.template = template;
    }
    reply
}

/// `destroy) __destroy_jail "$2" "$3"` (lib/ioc-zfs:308-382): `-f` skips
/// the prompt; a running jail is refused, not stopped (:378-381). With
/// dependent clones `zfs destroy -fr` fails on stderr after `Destroying:`
/// was printed, and the script carries on to exit 0 (:364-376).
pub(crate) fn destroy(host: &mut Host, args: &[String]) -> Reply {
    let (force, name) = match args.first().map(String::as_str) {
        Some("-f") => (true, args.get(1)),
        _ => (false, args.first()),
    };
    let uuid = match jail(
        host,
        name,
        "missing UUID!",
        |name| format!("{name} not found."),
        "Multiple matching UUIDs!",
    ) {
        Ok(uuid) => uuid,
        Err(reply) => return reply,
    };
    let pool = host.pool().to_owned();
    let mut out = String::new();
    if !force {
        out.push_str(&format!(
            " \n  WARNING: this will destroy jail {uuid}\n  Dataset: {pool}/iocage/jails/{uuid}\n \n  Are you sure ? y[N]: "
        ));
        if !confirmed() {
            return not_confirmed(out);
        }
    }
    if host.jails[&uuid].running {
        out.push_str("  ERROR: Jail is up and running. Exiting.\n");
        return Reply {
            out,
            code: 1,
            ..Reply::default()
        };
    }
    out.push_str(&format!("  Destroying: {uuid}\n"));
    if let Some((child, _)) = host.dependent(&uuid) {
        let err = format!(
            "cannot destroy '{pool}/iocage/jails/{uuid}': filesystem has dependent clones\nuse '-R' to destroy the following datasets:\n{pool}/iocage/jails/{child}\n"
        );
        return Reply { out, err, code: 0 };
    }
    let jail = host.jails.remove(&uuid).expect("found above");
    if let Some(origin) = jail.origin {
        out.push_str(&format!(
            "  Destroying clone origin: {pool}/iocage/jails/{origin}@{uuid}\n"
        ));
    }
    Reply::out(out)
}

/// `clean) __clean "$2"` (lib/ioc-cmd:26-28; lib/ioc-zfs:30-96): only an
/// exact `-a`, `-r` or `-j` does anything, and each asks first (stdin is
/// closed under sysadmd: "not confirmed", exit 1). `-fa`, `-f -a`, `-t`
/// match no case: nothing happens, exit 0.
pub(crate) fn clean(host: &mut Host, args: &[String]) -> Reply {
    let pool = host.pool().to_owned();
    let (what, hint) = match args.first().map(String::as_str) {
        Some("-a") => (format!("{pool}/iocage"), "jails"),
        Some("-r") => ("all releases".to_owned(), "basejails"),
        Some("-j") => ("all jails".to_owned(), "jails"),
        _ => return Reply::default(),
    };
    let mut out = format!(
        " \n  WARNING: this will destroy {what}\n \n  Please make sure all {hint} are stopped before continuing.\n \n  Are you sure ? y[N]: "
    );
    if !confirmed() {
        return not_confirmed(out);
    }
    match args[0].as_str() {
        "-a" => {
            host.jails.clear();
            host.releases.clear();
            out.push_str(&format!("  Destroying {pool}/iocage\n"));
        }
        "-r" => {
            host.releases.clear();
            for dataset in ["base", "download", "releases"] {
                out.push_str(&format!("  Destroying {pool}/iocage/{dataset}\n"));
            }
        }
        _ => {
            host.jails.clear();
            out.push_str(&format!(
                "  Destroying {pool}/iocage/jails\n  Cleaning TAGs at {pool}/iocage/tags\n"
            ));
        }
    }
    Reply::out(out)
}

/// A prompt `read` from the closed stdin (lib/ioc-zfs:49-50, 353-355).
fn not_confirmed(mut out: String) -> Reply {
    out.push_str("  Command not confirmed.  No action taken.\n");
    Reply {
        out,
        code: 1,
        ..Reply::default()
    }
}

/// A develop-style error reply moved to stdout, as 1.7.x echoes it.
fn to_stdout(mut reply: Reply) -> Reply {
    reply.out.push_str(&reply.err);
    reply.err.clear();
    reply
}
