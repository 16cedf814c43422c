//! Checks every string argument before any backend call. Each failure names
//! the action and the argument, repeats the input (escaped and shortened, so
//! control characters and huge values cannot garble a log or a reply) and
//! says what is accepted.
//!
//! Nothing here ever hands a string to a shell: `command` and `props` are
//! split into words with POSIX quoting rules by `shell-words`, and the words
//! travel as an argument vector.

use std::collections::BTreeSet;

use sysadm_proto::shown;

use crate::ServiceError;
use crate::properties;

/// The longest jail name (tag or UUID) accepted.
pub const MAX_NAME: usize = 128;
/// The longest property value accepted.
pub const MAX_VALUE: usize = 1024;
/// The longest `command` or `props` accepted, in bytes.
pub const MAX_COMMAND: usize = 64 * 1024;

fn bad(action: &str, what: &str, value: &str, accepted: &str) -> ServiceError {
    ServiceError::bad_request(format!(
        "{action}: invalid {what} {}: {accepted}",
        shown(value)
    ))
}

/// The first character outside `allowed`, described for a message.
fn first_bad_char(value: &str, allowed: impl Fn(char) -> bool) -> Option<String> {
    value.chars().find(|c| !allowed(*c)).map(|c| {
        if c.is_ascii_graphic() {
            format!("'{c}' is not allowed")
        } else if c == ' ' {
            "a space is not allowed".to_owned()
        } else if c.is_ascii() {
            format!("control or space character {c:?} is not allowed")
        } else {
            format!(
                "non-ASCII character U+{:04X} is not allowed (look-alikes of ASCII letters are refused)",
                u32::from(c)
            )
        }
    })
}

fn tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._-@:".contains(c)
}

/// A jail named by full UUID, short UUID, or tag.
pub(crate) fn jail_name(action: &str, value: &str) -> Result<(), ServiceError> {
    name_like(action, "jail", value)
}

/// A jail name or a tag: ASCII letters, digits, `.`, `_`, `-`, `@`, `:`.
fn name_like(action: &str, what: &str, value: &str) -> Result<(), ServiceError> {
    const ACCEPTED: &str = "use a UUID, the start of one, or a tag of ASCII letters, digits, \
                            '.', '_', '-', '@', ':' (1 to 128 characters, not starting with '-', no '..')";
    let reason = if value.is_empty() {
        Some("it is empty".to_owned())
    } else if value.len() > MAX_NAME {
        Some(format!("it is {} bytes long", value.len()))
    } else if value.starts_with('-') {
        Some("it starts with '-', which iocage reads as a switch".to_owned())
    } else if value.contains("..") {
        Some("'..' is not allowed".to_owned())
    } else {
        first_bad_char(value, tag_char)
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(bad(action, what, value, &format!("{reason}; {ACCEPTED}"))),
    }
}

/// What a property name is wanted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PropUse {
    /// Reading (`getjailsettings`): `state` is accepted too.
    Read,
    /// Setting (`createjail`, `clonejail`).
    Create,
    /// Setting on a clone.
    Clone,
}

/// A property name.
pub(crate) fn property(action: &str, name: &str, purpose: PropUse) -> Result<(), ServiceError> {
    let known = match purpose {
        PropUse::Read => properties::is_readable(name),
        PropUse::Create | PropUse::Clone => properties::is_property(name),
    };
    if known {
        return Ok(());
    }
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let accepted = if !plain {
        "property names are lowercase iocage properties such as 'vnet' or 'ip4_addr' \
         (getdefaultsettings lists them)"
            .to_owned()
    } else if name == properties::STATE {
        "'state' can be read but not set".to_owned()
    } else {
        let prefix = &name[..name.len().min(3)];
        let near: Vec<&str> = properties::all()
            .filter(|known| known.starts_with(prefix))
            .take(6)
            .collect();
        if near.is_empty() {
            "not an iocage property (getdefaultsettings lists them)".to_owned()
        } else {
            format!("not an iocage property; similar: {}", near.join(", "))
        }
    };
    Err(bad(action, "property", name, &accepted))
}

/// `key=value` words, POSIX-quoted, e.g. `tag=www notes="a web server"`.
pub(crate) fn props(
    action: &str,
    text: &str,
    purpose: PropUse,
) -> Result<Vec<(String, String)>, ServiceError> {
    if text.len() > MAX_COMMAND {
        return Err(bad(
            action,
            "props",
            text,
            "props are at most 64 KiB of key=value words",
        ));
    }
    if text.contains('\0') {
        return Err(bad(action, "props", text, "props may not contain NUL"));
    }
    let words = shell_words::split(text).map_err(|_| {
        bad(
            action,
            "props",
            text,
            "quotes are unbalanced; write key=value words, quoting values with spaces \
             (notes=\"a web server\")",
        )
    })?;
    let mut seen = BTreeSet::new();
    let mut pairs = Vec::with_capacity(words.len());
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(bad(
                action,
                "property setting",
                &word,
                "write key=value words, e.g. tag=www release=10.2-RELEASE",
            ));
        };
        property(action, key, purpose)?;
        if properties::is_read_only(key) {
            return Err(bad(
                action,
                "property setting",
                &word,
                &format!("'{key}' is computed by ZFS and cannot be set"),
            ));
        }
        if !seen.insert(key.to_owned()) {
            return Err(bad(
                action,
                "props",
                text,
                &format!("'{key}' is given more than once"),
            ));
        }
        if value.len() > MAX_VALUE {
            return Err(bad(
                action,
                &format!("value of '{key}'"),
                value,
                "values are at most 1024 bytes",
            ));
        }
        if let Some(reason) = first_bad_char(value, |c| !c.is_control()) {
            return Err(bad(
                action,
                &format!("value of '{key}'"),
                value,
                &format!("{reason}; values are text without control characters"),
            ));
        }
        match key {
            "tag" => {
                name_like(action, "tag", value)?;
                if value == "default" || value == "ALL" {
                    return Err(bad(
                        action,
                        "tag",
                        value,
                        "'default' and 'ALL' are reserved by iocage; choose another tag",
                    ));
                }
                if uuid_like(value) {
                    // Jails are found by tag first, then UUID, then UUID
                    // prefix: such a tag would stand for another jail's UUID.
                    return Err(bad(
                        action,
                        "tag",
                        value,
                        "a tag must not read as a UUID or the start of one (8 or more hex digits, \
                         dashes where a UUID has them); choose a tag with another letter in it",
                    ));
                }
            }
            "release" => release(action, value)?,
            "count" if value != "1" => {
                return Err(bad(
                    action,
                    "property setting",
                    &word,
                    "sysadmd creates one jail per request; leave count out or set count=1",
                ));
            }
            "istemplate" if purpose == PropUse::Create => {
                return Err(bad(
                    action,
                    "property setting",
                    &word,
                    "iocage refuses istemplate= at create: set the template after creation",
                ));
            }
            "template" if purpose == PropUse::Create => {
                return Err(bad(
                    action,
                    "property setting",
                    &word,
                    "iocage refuses template= at create: use clonejail for templates",
                ));
            }
            "istemplate" if !["yes", "no"].contains(&value) => {
                return Err(bad(
                    action,
                    "property setting",
                    &word,
                    "istemplate is yes or no",
                ));
            }
            _ => {}
        }
        pairs.push((key.to_owned(), value.to_owned()));
    }
    Ok(pairs)
}

/// A FreeBSD release name, e.g. `10.2-RELEASE`, `11.0-CURRENT`, `12.1-RC2`.
pub(crate) fn release(action: &str, value: &str) -> Result<(), ServiceError> {
    const ACCEPTED: &str = "a FreeBSD release such as 10.2-RELEASE, 11.0-STABLE, 11.0-CURRENT, \
                            12.1-RC2, 12.0-BETA1 or 10.3-RELEASE-p4";
    let valid = (|| {
        let (version, rest) = value.split_once('-')?;
        let (major, minor) = version.split_once('.')?;
        let digits = |text: &str| {
            !text.is_empty() && text.len() <= 3 && text.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(major) || !digits(minor) {
            return None;
        }
        let (branch, patch) = match rest.split_once("-p") {
            Some((branch, patch)) => (branch, Some(patch)),
            None => (rest, None),
        };
        if patch.is_some_and(|patch| !digits(patch)) {
            return None;
        }
        let numbered = |prefix: &str| {
            branch.strip_prefix(prefix).is_some_and(|n| {
                !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit())
            })
        };
        let known = ["RELEASE", "STABLE", "PRERELEASE", "CURRENT"].contains(&branch)
            || numbered("BETA")
            || numbered("RC")
            || numbered("ALPHA");
        known.then_some(())
    })();
    valid.ok_or_else(|| bad(action, "release", value, ACCEPTED))
}

/// A ZFS pool name.
pub(crate) fn pool(action: &str, value: &str) -> Result<(), ServiceError> {
    const ACCEPTED: &str = "a ZFS pool name: a letter, then letters, digits, '_', '-', '.', ':' \
                            (at most 255), and not 'mirror', 'raidz...', 'draid...', 'spare', \
                            'log' or c[0-9]...";
    let first_ok = value.starts_with(|c: char| c.is_ascii_alphabetic());
    let rest_ok = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
    let reserved = ["mirror", "spare", "log"].contains(&value)
        || value.starts_with("raidz")
        || value.starts_with("draid")
        || (value.len() > 1 && value.starts_with('c') && value.as_bytes()[1].is_ascii_digit());
    if first_ok && rest_ok && value.len() <= 255 && !reserved {
        Ok(())
    } else {
        Err(bad(action, "pool", value, ACCEPTED))
    }
}

/// A user name inside a jail (POSIX portable, as FreeBSD's `pw` accepts).
pub(crate) fn user(action: &str, value: &str) -> Result<(), ServiceError> {
    let valid = !value.is_empty()
        && value.len() <= 32
        && (value.as_bytes()[0].is_ascii_lowercase() || value.as_bytes()[0] == b'_')
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(bad(
            action,
            "user",
            value,
            "a user name of lowercase letters, digits, '_' and '-', starting with a letter \
             or '_' (at most 32 characters)",
        ))
    }
}

/// The command of `execjail`, split into an argument vector with POSIX
/// quoting rules. It is never given to a shell.
pub(crate) fn command(action: &str, text: &str) -> Result<Vec<String>, ServiceError> {
    if text.len() > MAX_COMMAND {
        return Err(bad(action, "command", text, "commands are at most 64 KiB"));
    }
    if let Some(reason) = first_bad_char(text, |c| !c.is_control() || c == '\t') {
        return Err(bad(
            action,
            "command",
            text,
            &format!("{reason}; give one command line without newlines or NUL"),
        ));
    }
    if let Some(operator) = shell_operator(text) {
        return Err(bad(
            action,
            "command",
            text,
            &format!(
                "execjail runs one program with its arguments, never a shell, so {operator} \
                 would not be interpreted; quote it ('...') to pass it to the program literally"
            ),
        ));
    }
    let argv = shell_words::split(text).map_err(|_| {
        bad(
            action,
            "command",
            text,
            "quotes are unbalanced; the command is split into words with POSIX shell \
             quoting, and never run by a shell",
        )
    })?;
    if argv.is_empty() {
        return Err(bad(
            action,
            "command",
            text,
            "give a program and its arguments, e.g. \"echo hi\"",
        ));
    }
    Ok(argv)
}

/// The first shell operator a user probably meant a shell to interpret:
/// `;`, `|`, `&`, `<`, `>` outside quotes, backticks and `$(` outside single
/// quotes. Refusing them is kinder than passing them on literally.
fn shell_operator(text: &str) -> Option<String> {
    let mut single = false;
    let mut double = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if !single => {
                chars.next();
            }
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '$' if !single && chars.peek() == Some(&'(') => return Some("'$('".to_owned()),
            '`' if !single => return Some("'`'".to_owned()),
            ';' | '|' | '&' | '<' | '>' if !single && !double => return Some(format!("'{c}'")),
            _ => {}
        }
    }
    None
}

/// Whether `text` reads as a UUID or as the start of one that names a
/// jail (iocage shows 8 characters): 8 to 36 characters that fit
/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hex digits, either case).
pub(crate) fn uuid_like(text: &str) -> bool {
    const SHAPE: &[u8; 36] = b"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    (8..=SHAPE.len()).contains(&text.len())
        && text.bytes().zip(SHAPE).all(|(b, &shape)| {
            if shape == b'x' {
                b.is_ascii_hexdigit()
            } else {
                b == b'-'
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_that_read_as_uuids_are_refused() {
        for tag in [
            "0bf985de",
            "0BF985DE-ca0f",
            "0bf985de-ca0f-11e5-8d45-d05099728dbf",
        ] {
            let error = props("createjail", &format!("tag={tag}"), PropUse::Create).unwrap_err();
            assert_eq!(error.code().code(), 400, "{tag}");
            assert!(
                error.details().contains("must not read as a UUID"),
                "{error:?}"
            );
        }
        for tag in [
            "cafe",
            "0bf985dz",
            "web-0bf985de",
            "2016-02-09@23:47:04",
            "db01",
        ] {
            assert!(
                props("createjail", &format!("tag={tag}"), PropUse::Create).is_ok(),
                "{tag}"
            );
        }
    }

    #[test]
    fn quoted_props_keep_spaces() {
        let pairs = props(
            "createjail",
            "tag=www notes=\"a web server\"",
            PropUse::Create,
        )
        .unwrap();
        assert_eq!(
            pairs,
            [
                ("tag".to_owned(), "www".to_owned()),
                ("notes".to_owned(), "a web server".to_owned())
            ]
        );
    }

    #[test]
    fn quoted_operators_reach_the_program_literally() {
        assert_eq!(
            command("execjail", "echo 'a;b' \"x|y\"").unwrap(),
            ["echo", "a;b", "x|y"]
        );
    }

    #[test]
    fn releases() {
        for good in [
            "10.2-RELEASE",
            "11.0-CURRENT",
            "12.1-RC2",
            "10.3-RELEASE-p4",
        ] {
            assert!(release("t", good).is_ok(), "{good}");
        }
        for bad in [
            "10.2",
            "RELEASE",
            "10.2-RELEASE;",
            "10.2-FOO",
            "../10.2-RELEASE",
            "12.1-RC",
        ] {
            assert!(release("t", bad).is_err(), "{bad}");
        }
    }
}
