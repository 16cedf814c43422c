//! Serialized replies to reads, kept while the backend's
//! [`generation`](crate::Backend::generation) stays the same.
//!
//! The simulated host changes only when the service changes it, so the
//! second `listjails` in a row is the first one's bytes: answering it from
//! here skips the backend, the shaping and the serialization, which were
//! most of the cost of a read. Backends that cannot tell when they change
//! (the real iocage) report no generation and never reach this cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;

/// The most reply bytes kept; past it the cache starts again empty.
pub(crate) const MAX_BYTES: usize = 4 << 20;

/// Replies of one generation, keyed by the request's canonical `args`.
#[derive(Debug, Default)]
pub(crate) struct ReplyCache {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    generation: u64,
    bytes: usize,
    replies: HashMap<String, Arc<RawValue>>,
}

impl ReplyCache {
    /// The reply kept for `key`, if it was made in `generation`.
    pub(crate) fn get(&self, generation: u64, key: &str) -> Option<Arc<RawValue>> {
        let state = self.state.lock().expect("reply cache");
        (state.generation == generation)
            .then(|| state.replies.get(key).cloned())
            .flatten()
    }

    /// Keeps `reply`, made in `generation` (the backend's number before and
    /// after the read). Replies of older generations are dropped; a reply of
    /// an older generation than the cache's is not kept.
    pub(crate) fn put(&self, generation: u64, key: String, reply: Arc<RawValue>) {
        let key_len = key.len();
        let size = key_len + reply.get().len();
        if size > MAX_BYTES {
            return;
        }
        let mut state = self.state.lock().expect("reply cache");
        if generation < state.generation {
            return;
        }
        if generation > state.generation || state.bytes + size > MAX_BYTES {
            state.replies.clear();
            state.bytes = 0;
            state.generation = generation;
        }
        if let Some(old) = state.replies.insert(key, reply) {
            // Two identical reads finished together: count the survivor once.
            state.bytes -= key_len + old.get().len();
        }
        state.bytes += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Arc<RawValue> {
        Arc::from(RawValue::from_string(text.to_owned()).unwrap())
    }

    #[test]
    fn a_reply_is_kept_for_its_generation_only() {
        let cache = ReplyCache::default();
        cache.put(3, "k".into(), reply("[1]"));
        assert_eq!(cache.get(3, "k").unwrap().get(), "[1]");
        assert!(cache.get(3, "other").is_none());
        assert!(cache.get(4, "k").is_none(), "a newer generation must miss");
        // A reply of an older generation does not displace newer ones.
        cache.put(4, "k".into(), reply("[2]"));
        cache.put(3, "k".into(), reply("[1]"));
        assert!(cache.get(3, "k").is_none());
        assert_eq!(cache.get(4, "k").unwrap().get(), "[2]");
    }

    /// The byte count kept agrees with the entries, and stays in budget.
    fn assert_counted(cache: &ReplyCache) {
        let state = cache.state.lock().unwrap();
        let counted: usize = state
            .replies
            .iter()
            .map(|(key, reply)| key.len() + reply.get().len())
            .sum();
        assert_eq!(state.bytes, counted);
        assert!(state.bytes <= MAX_BYTES, "{} bytes", state.bytes);
    }

    #[test]
    fn the_cache_stays_under_its_byte_budget() {
        let cache = ReplyCache::default();
        let big = format!("\"{}\"", "x".repeat(MAX_BYTES / 3));
        for index in 0..10 {
            cache.put(1, format!("k{index}"), reply(&big));
            assert_counted(&cache);
        }
        // Replacing a key counts it once.
        cache.put(1, "k9".into(), reply(&big));
        assert_counted(&cache);
        assert!(cache.get(1, "k9").is_some());
        // A reply larger than the whole budget is not kept at all.
        let huge = format!("\"{}\"", "x".repeat(MAX_BYTES));
        cache.put(1, "huge".into(), reply(&huge));
        assert!(cache.get(1, "huge").is_none());
    }
}
