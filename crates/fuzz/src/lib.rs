//! Fuzz targets for the readers of untrusted text, and a small mutational engine that drives them
//! on stable Rust (cargo-fuzz needs nightly).
//!
//! Each [`Target`] takes arbitrary bytes, feeds them to one reader and checks the reader's
//! promises beyond "does not panic" (a parsed reference gives back its input byte for byte, a
//! decoded error points at a document that exists, …). A broken promise is an `Err`; a panic is
//! caught by the engine. Both are findings, saved under `fuzz/artifacts/<target>/`.
//!
//! The engine ([`engine`]) mutates inputs from `fuzz/corpus/<target>/` (bit flips, byte edits,
//! splices, dictionary tokens, duplicated ranges) and keeps an input that produces an outcome
//! *shape* it has not seen before, a cheap stand-in for coverage feedback.

pub mod engine;
pub mod rng;
pub mod targets;

pub use targets::{Target, TARGETS};
