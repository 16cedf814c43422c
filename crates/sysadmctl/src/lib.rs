//! The command line of `sysadmctl`, as a library so that its manual page
//! (sysadmctl(1)) is generated from the same clap definition the binary parses.

pub mod cli;
