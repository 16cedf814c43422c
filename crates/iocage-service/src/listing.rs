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

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use sysadm_proto::{Action, JailList, JailSummaryRef};

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
pub(crate) fn to_json(jails: &[JailInfo]) -> Arc<RawValue> {
    let reply = Reply(by_uuid(jails));
    Arc::from(serde_json::value::to_raw_value(&reply).expect("a listing always serializes"))
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

/// The whole reply: `{"listjails": <rows>}`.
struct Reply<'a>(Vec<&'a JailInfo>);

impl Serialize for Reply<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut reply = serializer.serialize_map(Some(1))?;
        reply.serialize_entry(Action::ListJails.as_str(), &Rows(&self.0))?;
        reply.end()
    }
}

/// `{"<uuid>": <row>, ...}`, in the given order.
struct Rows<'a>(&'a [&'a JailInfo]);

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|jail| (&jail.uuid, summary(jail))))
    }
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
    fn no_jails_is_an_empty_map() {
        assert_eq!(to_json(&[]).get(), r#"{"listjails":{}}"#);
        assert_eq!(to_json(&[]).get(), through_the_map(&[]));
    }
}
