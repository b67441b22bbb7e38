//! The command line of imagegate, as a library only so that `cargo xtask docs` can generate the
//! CLI reference and man pages from the very definition the binary parses with. Everything else
//! is in the binary (`main.rs`) over `imagegate-engine`.

// The doc comments of this module are the `--help` text; a `#[command(flatten)]` group takes its
// help from its own struct, so its field carries none.
#[allow(missing_docs)]
pub mod cli;
