//! What every fuzz target checks, shared so that each target in
//! `fuzz_targets/` is one line naming its parser.
//!
//! A target fails (and libFuzzer keeps the input) when a parser panics, or
//! when one of the promises `iocage-cli` makes about its errors breaks: an
//! error is shown on one line with no control characters, and the line it
//! names exists in the input.

use iocage_cli::ParseError;
use sysadm_proto::{IocageRequest, Request, RpcRequest};

/// The bytes as the runner hands them to a parser: lossy UTF-8.
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Runs `parse` on `data` and checks what an error says.
pub fn check_parser<T>(data: &[u8], parse: impl FnOnce(&str) -> Result<T, ParseError>) {
    let input = text(data);
    if let Err(error) = parse(&input) {
        check_error(&input, &error);
    }
}

/// The promises every [`ParseError`] keeps.
pub fn check_error(input: &str, error: &ParseError) {
    let shown = error.to_string();
    assert!(
        !shown.chars().any(char::is_control),
        "error has a control character: {shown:?}"
    );
    if let Some(line) = error.line() {
        let lines = input.split('\n').count();
        assert!(
            (1..=lines).contains(&line),
            "error names line {line} of {lines}: {shown}"
        );
    }
}

/// Decodes `data` as a client request the way sysadmd does, and checks that
/// an iocage request that decodes survives encoding and decoding again.
pub fn check_envelope(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(request) = Request::from_json(text) else {
        return;
    };
    let _ = request.reply_id();
    let _ = RpcRequest::decode(&request.name, &request.args);
    if let Ok(iocage) = IocageRequest::from_args(&request.args) {
        let again = IocageRequest::from_args(&iocage.to_args());
        assert_eq!(again.as_ref(), Ok(&iocage), "to_args does not round-trip");
        let _ = iocage.jail();
    }
}
