//! The one error every parser returns. It names the line (1-based, counted in
//! the text iocage printed) and repeats it, so a caller can show the user what
//! iocage said without ever seeing a nom type.

use std::fmt;

/// Why a piece of iocage output could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    kind: ParseErrorKind,
    line: Option<usize>,
    text: String,
    expected: &'static str,
}

/// What kind of failure a [`ParseError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParseErrorKind {
    /// There was no output at all (or only blank lines and banners).
    Empty,
    /// A line is not what the format allows at that place.
    Unexpected,
    /// The output stops in the middle of a structure (a table without its
    /// closing border, a header without rows where rows are required).
    Truncated,
    /// iocage printed an error message (`  ERROR: ...` or a multi-pool
    /// warning) instead of the output asked for.
    Reported,
}

/// Longest piece of a line repeated in a message: enough to recognise it,
/// short enough to keep a log line readable.
const MAX_SHOWN: usize = 160;

impl ParseError {
    pub(crate) fn empty(expected: &'static str) -> ParseError {
        ParseError {
            kind: ParseErrorKind::Empty,
            line: None,
            text: String::new(),
            expected,
        }
    }

    pub(crate) fn unexpected(line: usize, text: &str, expected: &'static str) -> ParseError {
        ParseError {
            kind: ParseErrorKind::Unexpected,
            line: Some(line),
            text: text.to_owned(),
            expected,
        }
    }

    pub(crate) fn truncated(line: usize, text: &str, expected: &'static str) -> ParseError {
        ParseError {
            kind: ParseErrorKind::Truncated,
            line: Some(line),
            text: text.to_owned(),
            expected,
        }
    }

    pub(crate) fn reported(line: usize, text: &str) -> ParseError {
        ParseError {
            kind: ParseErrorKind::Reported,
            line: Some(line),
            text: text.to_owned(),
            expected: "",
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// The 1-based number of the offending line, if there is one.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The offending line as iocage printed it (after [`clean_output`](crate::clean_output)).
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Writes `text` on one line: control characters escaped, long text cut.
fn shown(text: &str) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == MAX_SHOWN {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.line.unwrap_or(0);
        let text = shown(&self.text);
        match self.kind {
            ParseErrorKind::Empty => write!(f, "empty output: expected {}", self.expected),
            ParseErrorKind::Unexpected => {
                write!(f, "line {line}: expected {}, found '{text}'", self.expected)
            }
            ParseErrorKind::Truncated => write!(
                f,
                "output ends early after line {line} ('{text}'): expected {}",
                self.expected
            ),
            ParseErrorKind::Reported => write!(f, "line {line}: iocage reported an error: {text}"),
        }
    }
}

impl std::error::Error for ParseError {}
