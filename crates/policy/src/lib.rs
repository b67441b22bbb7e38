//! The image policy of imagegate (602/603): pure functions from image sites to findings.
//!
//! No I/O and no knowledge of helm: the caller hands in decoded objects and the cell they came
//! from, and gets findings back.
//!
//! - [`ImageRef`]: image references parsed as written, never normalised;
//! - [`mod@rules`]: one folder per rule (its check, its documentation with what it catches, why
//!   it matters, an example and how to fix it, its fixtures and snapshots); [`registry`] lists
//!   them once, as the typed [`RuleId`], and [`rules()`] and [`rule()`] serve `imagegate explain`,
//!   the docs, SARIF and the configuration schema;
//! - [`PolicySettings`] and [`ExceptionSettings`]: the `policy:` and `exceptions:` sections of
//!   `imagegate.yaml`, and [`PromotionSettings`] its `promotion:` section (next to the rule it
//!   configures);
//! - [`catalog`]: the built-in custom resources and where they keep their images;
//! - [`evaluate`]: every finding of one cell; [`apply_exceptions`] and [`exception_hygiene`]:
//!   the time-boxed exceptions over a run;
//! - [`evaluate_remote`]: the `registry-*` rules of `check --registry`, over the facts a
//!   registry gave the caller ([`RemoteFacts`]).

#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod catalog;
mod evaluate;
mod exceptions;
mod finding;
mod reference;
pub mod registry;
mod remote;
pub mod rules;
mod settings;

pub use evaluate::{evaluate, render_failed};
pub use exceptions::{apply_exceptions, exception_hygiene, ExceptionOutcome, RunScope};
pub use finding::*;
pub use reference::{
    canonical_repository_prefix, ImageRef, RefError, DIGEST_ALGORITHM, NAME_MAX_LEN,
    SHA256_HEX_LEN, TAG_MAX_LEN,
};
pub use registry::{rule, rules, RuleId, RuleInfo, RuleStatus, UnknownRuleId};
pub use remote::{evaluate_remote, pinned_references, platform_matches, RemoteFacts};
pub use rules::promotion_drift::{PromotionError, PromotionSettings};
pub use settings::{
    builtin_custom_image_fields, CustomImageFieldSetting, Exception, ExceptionRule,
    ExceptionSettings, Glob, Level, ObjectGlob, PerEnvironment, PolicySettings, RuleSeverity,
    SettingsError, SeverityOverrides, TagPattern, DEFAULT_IMAGE_FIELD_NAMES,
    DEFAULT_IMMUTABLE_TAGS,
};
