//! House-style checks that run with `cargo test`: every Rust file of this
//! crate opens with a `//!` comment saying why it exists, and the binary
//! says that it is test support.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_file_opens_with_a_module_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    assert!(files.len() >= 8, "{files:?}");
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("//! "),
            "{} must open with a `//!` line saying why it exists",
            file.display()
        );
    }
}

#[test]
fn the_binary_says_it_is_test_support() {
    let main = include_str!("../src/main.rs");
    let header: String = main
        .lines()
        .take_while(|line| line.starts_with("//!"))
        .collect();
    assert!(header.contains("test support, not a product"), "{header}");
}
