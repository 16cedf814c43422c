//! JSON text read strictly: serde_json keeps the last of two equal keys, so
//! `{"action":"listjails","action":"cleanall"}` would run `cleanall` while a
//! log or a proxy that keeps the first saw a harmless read. Every request is
//! read with [`parse_json`], which refuses a duplicate key in any object.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::shown;

/// Parses JSON text like `serde_json::from_slice::<Value>`, but refuses a key
/// that appears twice in one object, naming it:
///
/// ```
/// let error = sysadm_proto::parse_json(br#"{"action":"listjails","action":"cleanall"}"#).unwrap_err();
/// assert!(error.to_string().starts_with("duplicate key 'action'"), "{error}");
/// ```
pub fn parse_json(text: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let value = deserializer.deserialize_any(StrictVisitor)?;
    deserializer.end()?;
    Ok(value)
}

/// Builds a `Value` as serde_json's own visitor does, checking object keys.
struct StrictVisitor;

/// One element of an array or one value of an object, read strictly.
struct Strict(Value);

impl<'de> de::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Strict, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key {}: a key may appear only once in an object",
                    shown(&key)
                )));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_json;
    use serde_json::json;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        for (text, key) in [
            (r#"{"a":1,"a":2}"#, "'a'"),
            (
                r#"{"args":{"action":"listjails","action":"cleanall"}}"#,
                "'action'",
            ),
            (r#"[{"x":{"y":[{"z":1,"z":1}]}}]"#, "'z'"),
            (r#"{"a\u0062":1,"ab":2}"#, "'ab'"),
        ] {
            let error = parse_json(text.as_bytes()).expect_err(text).to_string();
            assert!(
                error.starts_with(&format!("duplicate key {key}")),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn everything_else_reads_as_serde_json_reads_it() {
        for text in [
            r#"{"namespace":"sysadm","name":"iocage","id":7,"args":{"action":"listjails"}}"#,
            r#"[1, -2, 3.5, 1e400, "x", null, true, {"a": {"a": 1}}, []]"#,
            "18446744073709551615",
            "  \"text\" ",
        ] {
            let ours = parse_json(text.as_bytes());
            let theirs: Result<serde_json::Value, _> = serde_json::from_str(text);
            assert_eq!(ours.ok(), theirs.ok(), "{text}");
        }
        assert!(parse_json(b"{} x").unwrap_err().is_syntax());
        assert_eq!(parse_json(br#"{"a":{}}"#).unwrap(), json!({"a": {}}));
    }
}
