//! Tells the two iocage flavours apart from their output alone, for tools
//! that are handed text without knowing which iocage printed it.

use crate::clean::clean_output;
use crate::model::Flavour;
use crate::text::lines;
use crate::texttable::is_border;

/// Guesses which iocage printed `output`; `None` when nothing in it is
/// particular to one flavour (a bare value, `key:value` lines).
///
/// Python marks: texttable borders, tab-separated rows, `... successfully
/// created!`, `Destroying NAME`, single-space status lines. Legacy marks:
/// `column -t` headers, `Successfully created:`, `  ERROR:` prefixes,
/// `pool: `, `Downloaded releases:`, status lines padded to 31 columns.
pub fn detect_flavour(output: &str) -> Option<Flavour> {
    let output = clean_output(output);
    for line in lines(&output) {
        let text = line.text.trim_end();
        if is_border(text) || text.contains('\t') {
            return Some(Flavour::Python);
        }
        if text.ends_with(" successfully created!")
            || text.ends_with(" successfully cloned!")
            || text.ends_with("' successfully activated.")
            || text.ends_with(" is already running!")
            || (text.starts_with("Destroying ") || text.starts_with("Stopping "))
        {
            return Some(Flavour::Python);
        }
        if text.starts_with("JID  ")
            || text.starts_with("UUID  ")
            || text.starts_with("Downloaded releases:")
            || text.starts_with("pool: ")
            || text.starts_with("  Successfully created: ")
            || text.starts_with("  Destroying: ")
            || text.starts_with("  ERROR:")
            || text.starts_with("  WARNING:")
            || text.starts_with("  INFO:")
        {
            return Some(Flavour::Legacy);
        }
        if let Some(step) = text.strip_prefix("  + ") {
            for status in ["OK", "FAILED"] {
                if let Some(before) = step.strip_suffix(status) {
                    if before.ends_with("  ") || !before.ends_with(' ') {
                        return Some(Flavour::Legacy);
                    }
                    if text.len() != 31 {
                        return Some(Flavour::Python);
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_tell_the_flavour() {
        assert_eq!(detect_flavour("+---+\n| a |\n"), Some(Flavour::Python));
        assert_eq!(detect_flavour("JID  UUID  BOOT\n"), Some(Flavour::Legacy));
        assert_eq!(
            detect_flavour("  + Starting services        OK\n"),
            Some(Flavour::Legacy)
        );
        assert_eq!(
            detect_flavour("  + Starting services OK\n"),
            Some(Flavour::Python)
        );
        assert_eq!(detect_flavour("vnet:off\n"), None);
    }
}
