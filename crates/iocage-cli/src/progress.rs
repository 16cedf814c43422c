//! Progress of long operations, reported as they happen.
//!
//! A caller that wants to know how a piece of work is going runs it inside
//! [`scope`] with a [`Sink`]; everything that work does in the same task
//! reports to that sink, with no parameter threaded through: the
//! [`Runner`](crate::Runner) reports each iocage run as it starts and each
//! complete line the program prints on stdout or stderr as it arrives
//! (cleaned of spinner frames and control characters, cut at
//! [`MAX_LINE`] characters), and a simulated host reports its steps
//! through [`report`]. Without a sink nothing is reported and nothing is
//! paid for.
//!
//! A sink is called from the tasks reading the child's pipes, so it must
//! not block or wait: keeping the latest value and waking a task that
//! forwards it (coalescing) is the intended shape. The runner never waits
//! on a sink, so a chatty program can neither fill memory nor stall.

use std::sync::Arc;

/// The longest line reported, in characters; the rest of a longer line is
/// cut off and replaced by `…`.
pub const MAX_LINE: usize = 240;

/// One report: a step an operation has begun, or a line a program printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// What is happening: a step's description (`creating the jail's
    /// datasets`), `iocage create` when a run starts, or the line iocage
    /// printed.
    pub step: String,
    /// Steps finished before this one, where the operation knows its steps.
    pub done: Option<u64>,
    /// How many steps there are, where known.
    pub of: Option<u64>,
    /// For a printed line: which line of this run's output it is, counting
    /// both streams from 1 (a gap means lines were coalesced away).
    pub line: Option<u64>,
}

impl Progress {
    /// Step `done` (counting from 0) of `of`.
    pub fn step(step: impl Into<String>, done: u64, of: u64) -> Progress {
        Progress {
            step: step.into(),
            done: Some(done),
            of: Some(of),
            line: None,
        }
    }
}

/// Where progress goes: a function that must return at once (see the module docs).
#[derive(Clone)]
pub struct Sink(Arc<dyn Fn(Progress) + Send + Sync>);

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("progress::Sink")
    }
}

impl Sink {
    /// A sink calling `report` with each [`Progress`]; `report` must not block.
    pub fn new(report: impl Fn(Progress) + Send + Sync + 'static) -> Sink {
        Sink(Arc::new(report))
    }

    /// Hands `progress` to the sink.
    pub fn send(&self, progress: Progress) {
        (self.0)(progress);
    }
}

tokio::task_local! {
    static SINK: Sink;
}

/// Runs `work` with `sink` receiving the progress it reports (in this task;
/// the runner carries the sink into the tasks it starts itself).
pub async fn scope<F: Future>(sink: Sink, work: F) -> F::Output {
    SINK.scope(sink, work).await
}

/// The sink of the [`scope`] this task runs in, if any.
pub fn current() -> Option<Sink> {
    SINK.try_with(Sink::clone).ok()
}

/// Whether the current task reports progress anywhere.
pub fn wanted() -> bool {
    SINK.try_with(|_| ()).is_ok()
}

/// Reports `progress` to the current [`scope`]'s sink; nothing without one.
pub fn report(progress: Progress) {
    let _ = SINK.try_with(|sink| sink.send(progress));
}

/// Splits a stream's bytes into the lines reported, bounded in memory: at
/// most [`MAX_LINE`] characters of a line are kept, whatever its length.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    pending: Vec<u8>,
    cut: bool,
}

impl Lines {
    /// Feeds `bytes`; calls `line` with each complete, cleaned, non-empty line.
    pub(crate) fn feed(&mut self, bytes: &[u8], mut line: impl FnMut(String)) {
        for &byte in bytes {
            match byte {
                // A carriage return ends a progress frame as a newline ends a line.
                b'\n' | b'\r' => {
                    if let Some(text) = self.take() {
                        line(text);
                    }
                }
                _ if self.pending.len() < MAX_LINE * 4 => self.pending.push(byte),
                _ => self.cut = true,
            }
        }
    }

    /// The last line, if the stream ended without a newline.
    pub(crate) fn finish(&mut self) -> Option<String> {
        self.take()
    }

    fn take(&mut self) -> Option<String> {
        let raw = String::from_utf8_lossy(&self.pending).into_owned();
        let cut = std::mem::take(&mut self.cut);
        self.pending.clear();
        let text = clean(&raw, cut);
        (!text.is_empty()).then_some(text)
    }
}

/// A line as a terminal would show it: a backspace removes the character
/// before it (iocage's spinner), other control characters go, a tab is a
/// space, the ends are trimmed and the length bounded.
fn clean(raw: &str, cut: bool) -> String {
    let mut shown: Vec<char> = Vec::with_capacity(raw.len().min(MAX_LINE * 4));
    for c in raw.chars() {
        match c {
            '\u{8}' => {
                shown.pop();
            }
            '\t' => shown.push(' '),
            c if c.is_control() => {}
            c => shown.push(c),
        }
    }
    let text: String = shown.into_iter().collect();
    let text = text.trim();
    let mut kept: String = text.chars().take(MAX_LINE).collect();
    if cut || kept.len() < text.len() {
        kept.push('…');
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<String> {
        let mut splitter = Lines::default();
        let mut out = Vec::new();
        for chunk in chunks {
            splitter.feed(chunk, |line| out.push(line));
        }
        out.extend(splitter.finish());
        out
    }

    #[test]
    fn lines_are_split_across_chunks_and_spinners_are_rendered_away() {
        assert_eq!(
            lines(&[
                b"  INFO: destroying tank/iocage:  \x08/\x08-\x08\\\x08|\x08/\x08done!\nCreat",
                b"ing\tjail\r\n\n   \nlast"
            ]),
            [
                "INFO: destroying tank/iocage: done!",
                "Creating jail",
                "last"
            ]
        );
        assert_eq!(lines(&[b"\x1b[1mbold\x1b[0m\n"]), ["[1mbold[0m"]);
    }

    #[test]
    fn a_long_line_is_cut_and_memory_stays_bounded() {
        let mut splitter = Lines::default();
        let mut out = Vec::new();
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..16 {
            splitter.feed(&chunk, |line| out.push(line));
            assert!(splitter.pending.len() <= MAX_LINE * 4);
        }
        splitter.feed(b"\nshort\n", |line| out.push(line));
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].chars().count(), MAX_LINE + 1);
        assert!(out[0].ends_with('…'));
        assert_eq!(out[1], "short");
    }

    #[tokio::test]
    async fn reports_reach_the_scope_sink_and_nothing_is_reported_outside() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let into = seen.clone();
        let sink = Sink::new(move |progress| into.lock().unwrap().push(progress));
        report(Progress::step("outside", 0, 1));
        assert!(!wanted());
        scope(sink, async {
            assert!(wanted());
            report(Progress::step("inside", 0, 2));
            tokio::task::yield_now().await;
            report(Progress::step("still inside", 1, 2));
        })
        .await;
        let steps: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|p| p.step.clone())
            .collect();
        assert_eq!(steps, ["inside", "still inside"]);
    }
}
