//! The messages iocage printed around its output while a request ran
//! (warnings, first-run `Creating pool/iocage/...` lines, notices), kept
//! beside the reply for clients that ask for them.
//!
//! A backend hands them over with [`note_messages`]; the service collects
//! what was noted while it worked on one request ([`collect`]), inside the
//! task that does the work, so that reads shared by several callers carry
//! the messages to each of them and each caller decides whether its reply
//! shows them. Outside a collecting request, noting does nothing.

use std::future::Future;
use std::sync::{Arc, Mutex};

pub use iocage_cli::{Level, Message};

/// The most messages kept for one request; the rest are logged only.
pub const MAX_MESSAGES: usize = 256;

tokio::task_local! {
    static PRINTED: Arc<Mutex<Vec<Message>>>;
}

/// Notes messages iocage printed for the request being served (a backend
/// calls this for every command it runs). Beyond [`MAX_MESSAGES`] per
/// request they are dropped, with a log line.
pub fn note_messages(messages: &[Message]) {
    let _ = PRINTED.try_with(|printed| {
        let mut printed = printed.lock().expect("messages lock");
        for message in messages {
            if printed.len() < MAX_MESSAGES {
                printed.push(message.clone());
            } else {
                tracing::info!(level = ?message.level, text = %message.text, "iocage message beyond the per-request limit, not kept");
            }
        }
    });
}

/// Runs `work`, returning its output and the messages noted meanwhile.
pub(crate) async fn collect<F: Future>(work: F) -> (F::Output, Vec<Message>) {
    let printed = Arc::new(Mutex::new(Vec::new()));
    let output = PRINTED.scope(printed.clone(), work).await;
    let messages = std::mem::take(&mut *printed.lock().expect("messages lock"));
    (output, messages)
}

/// `reply` (a JSON object, the args of a result) with `"messages": [...]`
/// added beside its documented keys.
pub fn with_messages(
    reply: &serde_json::value::RawValue,
    messages: &[Message],
) -> Arc<serde_json::value::RawValue> {
    let text = reply.get().trim_end();
    let list = serde_json::to_string(messages).expect("messages serialize");
    let joined = match text.strip_suffix('}') {
        Some(open) if open.trim_end().ends_with('{') => format!("{open}\"messages\":{list}}}"),
        Some(open) => format!("{open},\"messages\":{list}}}"),
        // Not an object: wrap nothing, keep the reply as it was.
        None => text.to_owned(),
    };
    Arc::from(serde_json::value::RawValue::from_string(joined).expect("valid JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_noted_inside_a_request_are_its_own() {
        let warning = Message {
            level: Level::Warning,
            text: "No default gateway found for ipv6.".into(),
        };
        note_messages(std::slice::from_ref(&warning)); // outside: dropped
        let ((), kept) = collect(async {
            note_messages(std::slice::from_ref(&warning));
            tokio::task::yield_now().await;
            note_messages(&vec![warning.clone(); MAX_MESSAGES + 5]);
        })
        .await;
        assert_eq!(kept.len(), MAX_MESSAGES);
        assert_eq!(kept[0], warning);
        let ((), none) = collect(async {}).await;
        assert!(none.is_empty());
    }

    #[test]
    fn messages_go_beside_the_documented_keys() {
        let raw = |text: &str| serde_json::value::RawValue::from_string(text.into()).unwrap();
        let warning = Message {
            level: Level::Warning,
            text: "x".into(),
        };
        let joined = with_messages(&raw(r#"{"listjails":{}}"#), &[warning]);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(joined.get()).unwrap(),
            serde_json::json!({"listjails": {}, "messages": [{"level": "warning", "text": "x"}]})
        );
        let empty = with_messages(&raw("{ }"), &[]);
        assert_eq!(empty.get(), r#"{ "messages":[]}"#);
    }
}
