//! Extracts every JSON example of the API documents into `fixtures/api/`.

use std::path::Path;

use anyhow::Result;

pub(crate) fn regenerate(_root: &Path) -> Result<()> {
    anyhow::bail!("not written yet")
}
