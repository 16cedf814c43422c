//! Error codes, the error body clients receive, and the errors of decoding a
//! request (each says what was wrong and what would be accepted).

use serde::{Deserialize, Deserializer, Serialize};

/// Every error code sysadmd answers with. The number is both the `code` of
/// the error body and, over REST, the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400: the request is malformed or an argument is invalid.
    BadRequest,
    /// 401: not authenticated, bad credentials, or an expired token.
    Unauthorized,
    /// 403: authenticated, but the user's role may not do this.
    Forbidden,
    /// 404: unknown namespace/name, or the jail, release or pool is missing.
    NotFound,
    /// 405: the REST method is not allowed.
    MethodNotAllowed,
    /// 409: the host's state forbids it (destroying a running jail, ...).
    Conflict,
    /// 413: the body or message is over the size limit.
    PayloadTooLarge,
    /// 429: the address is blocked after repeated failed logins.
    TooManyRequests,
    /// 500: a bug in sysadmd; never carries internals.
    Internal,
    /// 501: the installed iocage has no such command.
    NotImplemented,
    /// 502: iocage ran and failed; details carry its error text.
    BadGateway,
    /// 503: iocage is not installed, or the backend is unavailable.
    Unavailable,
    /// 504: iocage did not finish within its time limit.
    Timeout,
}

impl ErrorCode {
    /// All codes, in numeric order.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::TooManyRequests,
        ErrorCode::Internal,
        ErrorCode::NotImplemented,
        ErrorCode::BadGateway,
        ErrorCode::Unavailable,
        ErrorCode::Timeout,
    ];

    /// The numeric code (and HTTP status).
    pub fn code(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::Internal => 500,
            ErrorCode::NotImplemented => 501,
            ErrorCode::BadGateway => 502,
            ErrorCode::Unavailable => 503,
            ErrorCode::Timeout => 504,
        }
    }

    /// The standard reason phrase, used as the `message`.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "Bad Request",
            ErrorCode::Unauthorized => "Unauthorized",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::NotFound => "Not Found",
            ErrorCode::MethodNotAllowed => "Method Not Allowed",
            ErrorCode::Conflict => "Conflict",
            ErrorCode::PayloadTooLarge => "Payload Too Large",
            ErrorCode::TooManyRequests => "Too Many Requests",
            ErrorCode::Internal => "Internal Server Error",
            ErrorCode::NotImplemented => "Not Implemented",
            ErrorCode::BadGateway => "Bad Gateway",
            ErrorCode::Unavailable => "Service Unavailable",
            ErrorCode::Timeout => "Gateway Timeout",
        }
    }

    /// The code with this number, if sysadmd uses it.
    pub fn from_code(code: u16) -> Option<ErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|known| known.code() == code)
    }
}

/// The `args` of an error reply: `{"code": 400, "message": "Bad Request", "details": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorArgs {
    /// The numeric code. Decoding also accepts the reference server's string form (`"400"`).
    #[serde(deserialize_with = "code_from_number_or_string")]
    pub code: u16,
    /// The reason phrase for the code.
    pub message: String,
    /// What was wrong and what would be accepted; absent when there is nothing to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl ErrorArgs {
    /// An error body for `code` with `details`.
    pub fn new(code: ErrorCode, details: impl Into<String>) -> Self {
        ErrorArgs {
            code: code.code(),
            message: code.message().to_owned(),
            details: Some(details.into()),
        }
    }

    /// An error body for `code` with no details.
    pub fn bare(code: ErrorCode) -> Self {
        ErrorArgs {
            code: code.code(),
            message: code.message().to_owned(),
            details: None,
        }
    }
}

fn code_from_number_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        Number(u16),
        Text(String),
    }
    match Code::deserialize(deserializer)? {
        Code::Number(code) => Ok(code),
        Code::Text(text) => text
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("invalid error code '{text}'"))),
    }
}

/// Why a message could not be read as a request envelope (all are 400s).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The text is not JSON.
    #[error("invalid JSON: {reason}")]
    InvalidJson {
        /// The JSON parser's explanation.
        reason: String,
    },
    /// The JSON is not an object.
    #[error("a request must be a JSON object with namespace, name, id and args, not {found}")]
    NotAnObject {
        /// What was found instead.
        found: &'static str,
    },
    /// A required envelope field is absent.
    #[error("missing required field '{field}'")]
    MissingField {
        /// The field.
        field: &'static str,
    },
    /// An envelope field has the wrong type.
    #[error("field '{field}' must be {expected}, not {found}")]
    WrongFieldType {
        /// The field.
        field: &'static str,
        /// What is accepted.
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
}

/// Why the `args` of a request could not be decoded (all are 400s).
///
/// Messages start with the action (or the class) so that the client sees
/// which request was wrong, name the argument, and say what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// `args` is not a JSON object.
    #[error("args must be a JSON object, not {found}")]
    NotAnObject {
        /// What was found instead.
        found: &'static str,
    },
    /// `args` has no `action`.
    #[error("missing required argument 'action'; valid actions: {valid}")]
    MissingAction {
        /// The valid actions, comma-separated.
        valid: String,
    },
    /// `args` has no `action`, but a key that looks like a misspelling of it.
    #[error("missing required argument 'action' (did you mean 'action' instead of {}?); valid actions: {valid}", shown(.sent))]
    MisspeltAction {
        /// The key as sent.
        sent: String,
        /// The valid actions, comma-separated.
        valid: String,
    },
    /// A required argument is absent, but a key looks like a misspelling of it.
    #[error("{action}: missing required argument '{argument}' (did you mean '{argument}' instead of {}?)", shown(.sent))]
    MisspeltArgument {
        /// The action (or request name).
        action: &'static str,
        /// The argument.
        argument: &'static str,
        /// The key as sent.
        sent: String,
    },
    /// The action is not one this class knows.
    #[error("unknown action {}; valid actions: {valid}", shown(.action))]
    UnknownAction {
        /// The action as sent.
        action: String,
        /// The valid actions, comma-separated.
        valid: String,
    },
    /// A required argument is absent.
    #[error("{action}: missing required argument '{argument}'")]
    MissingArgument {
        /// The action (or request name).
        action: &'static str,
        /// The argument.
        argument: &'static str,
    },
    /// An argument has the wrong JSON type.
    #[error("{action}: argument '{argument}' must be {expected}, not {found}")]
    WrongType {
        /// The action (or request name).
        action: &'static str,
        /// The argument.
        argument: &'static str,
        /// What is accepted.
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
    /// An argument has a value outside the accepted set.
    #[error("{action}: invalid {argument} {}: {accepted}", shown(.value))]
    InvalidValue {
        /// The action (or request name).
        action: &'static str,
        /// The argument.
        argument: &'static str,
        /// The value as sent.
        value: String,
        /// What is accepted.
        accepted: String,
    },
    /// An argument a destructive action does not know: refused, because a
    /// misspelt safety option must never be ignored while data is destroyed.
    #[error(
        "{action}: unknown argument {}: {action} destroys data, so it refuses arguments it does not know; it accepts {accepted}",
        shown(.argument)
    )]
    UnknownArgument {
        /// The action.
        action: &'static str,
        /// The argument as sent.
        argument: String,
        /// The arguments the action accepts, comma-separated.
        accepted: String,
    },
    /// Arguments that cannot be used together.
    #[error("{action}: {reason}")]
    Conflict {
        /// The action.
        action: &'static str,
        /// Which arguments clash, and why.
        reason: &'static str,
    },
}

/// How much of a bad value an error message repeats.
const SHOWN_CHARS: usize = 64;

/// A client's value as an error message repeats it: quoted, control
/// characters and non-ASCII escaped (so a Cyrillic look-alike shows as
/// `\u{430}` and a newline cannot forge a log line), and cut after 64
/// characters with the length given.
pub fn shown(value: &str) -> String {
    let count = value.chars().count();
    let escaped: String = value
        .chars()
        .take(SHOWN_CHARS)
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c.to_string()
            } else {
                c.escape_default().to_string()
            }
        })
        .collect();
    if count > SHOWN_CHARS {
        format!("'{escaped}...' ({count} characters)")
    } else {
        format!("'{escaped}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_and_truncates() {
        assert_eq!(shown("a\nb"), "'a\\nb'");
        assert_eq!(shown("t\u{430}g"), "'t\\u{430}g'");
        let long = "x".repeat(10_000);
        let text = shown(&long);
        assert!(text.len() < 100, "{text}");
        assert!(text.ends_with("(10000 characters)"));
    }

    #[test]
    fn args_errors_repeat_values_escaped_and_short() {
        let huge = format!("-x\n{}", "y".repeat(1 << 20));
        let error = ArgsError::InvalidValue {
            action: "createjail",
            argument: "switches",
            value: huge,
            accepted: "'' or '-e'".to_owned(),
        };
        let text = error.to_string();
        assert!(text.len() < 200, "{text}");
        assert!(
            text.starts_with("createjail: invalid switches '-x\\nyyy"),
            "{text}"
        );
        assert!(text.ends_with("characters): '' or '-e'"), "{text}");
        let error = ArgsError::UnknownAction {
            action: "list\u{1b}[2Jjails".to_owned(),
            valid: "listjails".to_owned(),
        };
        assert_eq!(
            error.to_string(),
            "unknown action 'list\\u{1b}[2Jjails'; valid actions: listjails"
        );
    }
}
