//! Reading typed arguments out of an `args` object, with errors that name the
//! request, the argument and the expected type. Shared by every class.

use serde_json::{Map, Value};

use crate::envelope::json_type;
use crate::error::ArgsError;

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

    /// A string argument that must be present.
    pub(crate) fn required_str(&self, argument: &'static str) -> Result<&'a str, ArgsError> {
        self.optional_str(argument)?
            .ok_or(ArgsError::MissingArgument {
                action: self.action,
                argument,
            })
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
