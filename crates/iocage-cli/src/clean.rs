//! Removes what a terminal would hide or overwrite: legacy spinners
//! (`\b`-sequences), ANSI escape codes (Python with `IOCAGE_COLOR=TRUE`,
//! the fetch progress bar) and `\r` progress segments. Newlines are never
//! removed, so line numbers in errors stay those of the raw output.

use std::borrow::Cow;

/// The characters legacy iocage's `__spinner` cycles through.
const SPINNER: [char; 4] = ['/', '-', '\\', '|'];

/// Returns `raw` without spinner sequences, ANSI escapes and overwritten `\r`
/// segments. Borrows when there is nothing to remove (the common case).
pub fn clean_output(raw: &str) -> Cow<'_, str> {
    if memchr::memchr3(b'\x08', b'\x1b', b'\r', raw.as_bytes()).is_none() {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    for (index, line) in raw.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        clean_line(line, &mut out);
    }
    Cow::Owned(out)
}

fn clean_line(line: &str, out: &mut String) {
    let mut text = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // The spinner prints `\b` + one of `/-\|`; its last frame is
            // `\bdone!`, where the `\b` erases the label's trailing space. A
            // terminal would show the `d` over that space; dropping `\b` plus
            // a spinner character and keeping anything else reads the same.
            '\x08' => {
                if chars.peek().is_some_and(|next| SPINNER.contains(next)) {
                    chars.next();
                }
            }
            '\x1b' => skip_escape(&mut chars),
            _ => text.push(c),
        }
    }
    // A progress bar rewrites its line after each `\r`; what stays on screen
    // is the last segment that is not blank (the 100% one). A `\r\n` line
    // end leaves an empty last segment, which must not win.
    if text.contains('\r') {
        let last = text
            .split('\r')
            .rev()
            .find(|segment| !segment.trim().is_empty())
            .unwrap_or("");
        out.push_str(last);
    } else {
        out.push_str(&text);
    }
}

/// Skips one escape sequence after its ESC: a CSI (`ESC [ params final`) or
/// a two-character sequence.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    if chars.next() == Some('[') {
        for c in chars.by_ref() {
            if ('\x40'..='\x7e').contains(&c) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::clean_output;

    fn check(raw: &str, expected: &str) {
        assert_eq!(clean_output(raw), expected, "cleaning {raw:?}");
    }

    #[test]
    fn plain_text_is_borrowed_untouched() {
        assert!(matches!(
            clean_output("JID  UUID\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn spinner_frames_vanish_and_done_survives() {
        check(
            "  INFO: destroying tank/iocage:  \x08/\x08-\x08\\\x08|\x08/\x08done!\n",
            "  INFO: destroying tank/iocage:  done!\n",
        );
    }

    #[test]
    fn a_stray_spinner_frame_after_the_newline_vanishes() {
        check("x:  \x08/\x08done!\n\x08-JID\n", "x:  done!\nJID\n");
    }

    #[test]
    fn ansi_colours_vanish() {
        check(
            "\x1b[31mjail 'x' not found!\x1b[0m\n",
            "jail 'x' not found!\n",
        );
    }

    #[test]
    fn a_progress_bar_leaves_its_last_frame() {
        check(
            "\x1b[2K \r<Downloading: base.txz> [##--] 50% \r\x1b[2K \r<Downloading: base.txz> [####] 100% \r\n\rExtracting: base.txz... \n",
            "<Downloading: base.txz> [####] 100% \nExtracting: base.txz... \n",
        );
    }

    #[test]
    fn newlines_are_kept_so_line_numbers_hold() {
        let raw = "a\x08/\n\x1b[0m\n\r\nb";
        assert_eq!(clean_output(raw).lines().count(), raw.lines().count());
    }
}
