//! The PR check's engine: which cells a change can affect ([`plan`]) and what changed between the
//! two sides' renders ([`compare`]).

pub mod compare;
pub mod plan;
