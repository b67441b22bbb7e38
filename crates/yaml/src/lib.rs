//! Bounded, span-aware YAML for imagegate.
//!
//! Two jobs live here because every later stage needs them and none should parse YAML its own way:
//! - [`split_stream`]: cut a `helm template` output stream (or any multi-document file) into
//!   documents, remembering each one's `# Source:` template path and where it starts;
//! - [`load`]: parse one document into a [`Node`] tree that keeps the line and column of every
//!   node, with hard limits on depth, node count and alias expansion so hostile input
//!   (billion laughs, deep nesting) fails with an error instead of exhausting memory;
//! - [`de`]: a serde deserializer over that tree ([`from_str`], [`from_node`], [`Spanned`]) for
//!   imagegate's own configuration files, whose errors name the line, column and path.
//!
//! The tree means what it means to Kubernetes: kubectl, Helm and Argo CD read YAML with go-yaml
//! v2 (YAML 1.1) through `sigs.k8s.io/yaml`, so merge keys, scalar types (`yes`, `010`), tags and
//! map key names follow go-yaml, and [`Node::to_json_checked`] is its YAML-to-JSON conversion.
//! `docs/yaml.md` lists the differences from YAML 1.2 and where imagegate refuses instead.
//!
//! Scalars keep their raw text and style, so later stages can tell `tag: 1.10` (a float, which
//! Go renders as `1.1`) from `tag: "1.10"`.

#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod de;
mod load;
pub mod path;
mod stream;

pub use de::{from_node, from_str, Spanned};
pub use load::{
    load, load_all, Limits, Node, PathMatch, Resolved, Scalar, ScalarStyle, Value, YamlError,
};
pub use path::{parse_path, PathSegment};
pub use stream::{split_stream, Document};
