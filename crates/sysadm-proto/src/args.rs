//! Reading typed arguments out of an `args` object, with errors that name the
//! request, the argument and the expected type. Shared by every class.

use serde_json::{Map, Value};

use crate::envelope::json_type;
use crate::error::ArgsError;

/// The error for a missing `argument`: it names a key of `object` that
/// looks like a misspelling of it (`acton`, `Jail`), if there is one.
pub(crate) fn missing(
    action: &'static str,
    argument: &'static str,
    object: &Map<String, Value>,
) -> ArgsError {
    match near_key(object, argument) {
        Some(sent) => ArgsError::MisspeltArgument {
            action,
            argument,
            sent: sent.to_owned(),
        },
        None => ArgsError::MissingArgument { action, argument },
    }
}

/// A key of `object` other than `wanted` that is `wanted` misspelt: the same
/// but for case, or within two edits (one for short names).
pub(crate) fn near_key<'o>(object: &'o Map<String, Value>, wanted: &str) -> Option<&'o str> {
    let limit = if wanted.len() <= 4 { 1 } else { 2 };
    object
        .keys()
        .filter(|key| key.as_str() != wanted)
        .map(|key| {
            let distance = if key.eq_ignore_ascii_case(wanted) {
                0
            } else {
                strsim::damerau_levenshtein(key, wanted)
            };
            (distance, key)
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, key)| key.as_str())
}

/// A borrowed `args` object of one request.
pub(crate) struct Args<'a> {
    action: &'static str,
    object: &'a Map<String, Value>,
}

impl<'a> Args<'a> {
    /// Checks that `args` is an object; `null` (no args) reads as empty.
    pub(crate) fn new(action: &'static str, args: &'a Value) -> Result<Args<'a>, ArgsError> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let object = match args {
            Value::Object(object) => object,
            Value::Null => EMPTY.get_or_init(Map::new),
            other => {
                return Err(ArgsError::NotAnObject {
                    found: json_type(other),
                });
            }
        };
        Ok(Args { action, object })
    }

    /// The argument's value, if present.
    pub(crate) fn get(&self, argument: &str) -> Option<&'a Value> {
        self.object.get(argument)
    }

    /// A string argument that may be absent (or `null`, which old clients send).
    pub(crate) fn optional_str(
        &self,
        argument: &'static str,
    ) -> Result<Option<&'a str>, ArgsError> {
        match self.object.get(argument) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(ArgsError::WrongType {
                action: self.action,
                argument,
                expected: "a string",
                found: json_type(other),
            }),
        }
    }

    /// An argument's raw value, if present.
    pub(crate) fn value(&self, argument: &str) -> Option<&'a Value> {
        self.object.get(argument)
    }

    /// A string argument that must be present.
    pub(crate) fn required_str(&self, argument: &'static str) -> Result<&'a str, ArgsError> {
        self.optional_str(argument)?
            .ok_or_else(|| self.missing(argument))
    }

    /// The error for `argument` missing (naming a misspelt key, if one was sent).
    pub(crate) fn missing(&self, argument: &'static str) -> ArgsError {
        missing(self.action, argument, self.object)
    }

    /// Refuses any key of the object that is not in `accepted`.
    pub(crate) fn refuse_unknown(&self, accepted: &[&'static str]) -> Result<(), ArgsError> {
        match self
            .object
            .keys()
            .find(|key| !accepted.contains(&key.as_str()))
        {
            None => Ok(()),
            Some(key) => Err(ArgsError::UnknownArgument {
                action: self.action,
                argument: key.clone(),
                accepted: accepted.join(", "),
            }),
        }
    }

    /// An optional string argument as an owned value, empty when absent.
    pub(crate) fn string_or_empty(&self, argument: &'static str) -> Result<String, ArgsError> {
        Ok(self.optional_str(argument)?.unwrap_or_default().to_owned())
    }
}
