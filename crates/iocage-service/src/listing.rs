//! `listjails` shaped and serialized straight from the backend's listing.
//!
//! The documented reply is a map by UUID ([`JailList`]) of rows of owned
//! strings ([`sysadm_proto::JailSummary`]). A read that is serialized at once
//! ([`crate::IocageService::handle_json`]) never builds that map: it orders
//! the listing by UUID and writes each jail's row borrowed from it
//! ([`JailSummaryRef`]), with the very bytes the map would give. A caller
//! that wants the typed reply ([`crate::IocageService::handle`]) gets the
//! map, made from the same rows.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use serde_json::value::RawValue;
use sysadm_proto::{JailList, JailSummaryRef};

use crate::model::JailInfo;

/// What one jail's `listjails` row shows: its boot flag, its addresses and
/// JID while it runs (`-` otherwise), its state, tag and type.
pub(crate) fn summary(jail: &JailInfo) -> JailSummaryRef<'_> {
    let up = jail.is_up();
    JailSummaryRef {
        boot: if jail.boot { "on" } else { "off" },
        ip4: jail.ip4.as_deref().filter(|_| up).unwrap_or("-"),
        jid: jail.jid.filter(|_| up),
        state: jail.state.as_str(),
        tag: &jail.tag,
        jail_type: &jail.jail_type,
    }
}

/// The typed reply: the map by UUID (the last of a repeated UUID wins).
pub(crate) fn jail_list(jails: &[JailInfo]) -> JailList {
    JailList {
        jails: jails
            .iter()
            .map(|jail| (jail.uuid.clone(), summary(jail).to_summary()))
            .collect(),
    }
}

/// `{"listjails": {...}}`, as [`sysadm_proto::IocageResponse::ListJails`]
/// of [`jail_list`] serializes, written from `jails` directly.
///
/// Written by hand rather than through serde: serde_json escapes every key
/// and value one string at a time (about 1,300 of them for 100 jails), which
/// was most of a computed read's time. Here the keys are written
/// pre-escaped and a value is escaped only when it needs it (serde_json's
/// own escaping then); `the_direct_listing_is_byte_for_byte_the_map` holds
/// the result to the typed map's bytes. Half the instructions of the serde
/// path (callgrind, `sysadmd-bench layers`).
pub(crate) fn to_json(jails: &[JailInfo]) -> Arc<RawValue> {
    let rows = by_uuid(jails);
    let mut out = String::with_capacity(32 + rows.len() * 160);
    out.push_str(r#"{"listjails":{"#);
    for (index, jail) in rows.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let row = summary(jail);
        string(&mut out, &jail.uuid);
        out.push_str(r#":{"boot":"#);
        string(&mut out, row.boot);
        out.push_str(r#","ip4":"#);
        string(&mut out, row.ip4);
        out.push_str(r#","jid":"#);
        match row.jid {
            Some(jid) => {
                use std::fmt::Write;
                let _ = write!(out, "\"{jid}\"");
            }
            None => out.push_str(r#""-""#),
        }
        out.push_str(r#","state":"#);
        string(&mut out, row.state);
        out.push_str(r#","tag":"#);
        string(&mut out, row.tag);
        out.push_str(r#","type":"#);
        string(&mut out, row.jail_type);
        out.push('}');
    }
    out.push_str("}}");
    match serde_json::value::to_raw_value(&Verbatim(&out)) {
        // Passed through as written (see [`Verbatim`]).
        Ok(raw) if raw.get().len() == out.len() => Arc::from(raw),
        // A serde_json that no longer knows the token: checked the slow way.
        _ => Arc::from(RawValue::from_string(out).expect("the listing is written as valid JSON")),
    }
}

/// The name under which serde_json's own `RawValue` serializes itself, and
/// its serializer writes the text it carries as is (serde_json/src/raw.rs,
/// `TOKEN`, unchanged since raw values came in 1.0.29). The only public
/// ways to make a `RawValue` from text re-parse it, which cost as much as
/// writing the listing again; this writes JSON sysadmd made itself, whose
/// bytes `the_direct_listing_is_byte_for_byte_the_map` checks. Should the
/// name ever change, serde_json would write a one-key object instead, longer
/// than the text, and [`to_json`] falls back to the checked constructor.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// JSON text that serde_json writes verbatim.
struct Verbatim<'a>(&'a str);

impl Serialize for Verbatim<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut raw = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        raw.serialize_field(RAW_VALUE_TOKEN, self.0)?;
        raw.end()
    }
}

/// `text` as a JSON string, as serde_json writes it: quoted as is when no
/// byte needs escaping (no `"`, `\\` or control character), else escaped by
/// serde_json itself.
fn string(out: &mut String, text: &str) {
    let plain = text.bytes().fold(true, |plain, byte| {
        plain & (byte >= 0x20 && byte != b'"' && byte != b'\\')
    });
    if plain {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(text).expect("a string always serializes"));
    }
}

/// The jails in the map's order: by UUID, and of jails listed under one
/// UUID only the last, as collecting them into a map keeps. A listing that
/// is in order already (the usual case) is only checked.
fn by_uuid(jails: &[JailInfo]) -> Vec<&JailInfo> {
    let mut order: Vec<&JailInfo> = jails.iter().collect();
    if order.is_sorted_by(|a, b| a.uuid < b.uuid) {
        return order;
    }
    // Stable: jails of one UUID stay in listing order, so after reversing,
    // the first of each run is the last listed.
    order.sort_by(|a, b| a.uuid.cmp(&b.uuid));
    order.reverse();
    order.dedup_by(|later, kept| later.uuid == kept.uuid);
    order.reverse();
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JailState;
    use sysadm_proto::IocageResponse;

    fn jail(uuid: &str, tag: &str, up: bool) -> JailInfo {
        JailInfo {
            uuid: uuid.to_owned(),
            tag: tag.to_owned(),
            jid: Some(7),
            boot: up,
            state: if up { JailState::Up } else { JailState::Down },
            jail_type: "basejail".to_owned(),
            ip4: Some("10.0.0.7,10.0.0.8".to_owned()),
            release: "10.2-RELEASE".to_owned(),
            template: false,
            origin: None,
        }
    }

    /// The bytes of the documented path: the typed map, serialized.
    fn through_the_map(jails: &[JailInfo]) -> String {
        serde_json::to_string(&IocageResponse::ListJails(jail_list(jails))).unwrap()
    }

    #[test]
    fn the_direct_listing_is_byte_for_byte_the_map() {
        let mut jails = vec![
            jail("c0ffee00-0000-4000-8000-000000000003", "web", true),
            jail(
                "a0000000-0000-4000-8000-000000000001",
                "db \"main\"\n\\ü",
                false,
            ),
            jail("b0000000-0000-4000-8000-000000000002", "", true),
        ];
        jails[2].jid = Some(u32::MAX);
        jails[2].ip4 = None;
        jails[1].jid = None;
        let direct = to_json(&jails);
        assert_eq!(direct.get(), through_the_map(&jails));
        // Out of order, the map sorts; so does the direct path.
        assert!(direct.get().find("a0000000").unwrap() < direct.get().find("c0ffee00").unwrap());
        // A stopped jail shows neither its JID nor its addresses.
        let value: serde_json::Value = serde_json::from_str(direct.get()).unwrap();
        let down = &value["listjails"]["a0000000-0000-4000-8000-000000000001"];
        assert_eq!(down["jid"], "-");
        assert_eq!(down["ip4"], "-");
        assert_eq!(down["boot"], "off");
        let up = &value["listjails"]["c0ffee00-0000-4000-8000-000000000003"];
        assert_eq!(up["jid"], "7");
        assert_eq!(up["ip4"], "10.0.0.7,10.0.0.8");
        assert_eq!(up["state"], "up");
    }

    #[test]
    fn a_repeated_uuid_keeps_the_last_listed_as_the_map_does() {
        let uuid = "a0000000-0000-4000-8000-000000000001";
        let jails = vec![
            jail(uuid, "first", true),
            jail("b0000000-0000-4000-8000-000000000002", "other", false),
            jail(uuid, "second", false),
            jail(uuid, "third", true),
        ];
        let direct = to_json(&jails);
        assert_eq!(direct.get(), through_the_map(&jails));
        assert!(direct.get().contains("third"), "{}", direct.get());
        assert!(!direct.get().contains("first"), "{}", direct.get());
    }

    #[test]
    fn serde_json_writes_verbatim_text_as_is() {
        // If this fails, serde_json renamed its raw value token: `to_json`
        // still answers right, through the slower checked constructor.
        let text = r#"{"listjails":{"a":{"tag":"x y"}}}"#;
        let raw = serde_json::value::to_raw_value(&Verbatim(text)).unwrap();
        assert_eq!(raw.get(), text);
    }

    #[test]
    fn no_jails_is_an_empty_map() {
        assert_eq!(to_json(&[]).get(), r#"{"listjails":{}}"#);
        assert_eq!(to_json(&[]).get(), through_the_map(&[]));
    }
}
