//! The image policy of imagegate (602/603): pure functions from image sites to findings.
//!
//! No I/O and no knowledge of helm: the caller hands in decoded objects and the cell they came
//! from, and gets findings back.

mod finding;

pub use finding::*;
