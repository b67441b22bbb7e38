use imagegate_decode::ObjectRef;

use crate::RuleId;
use serde::Serialize;

/// How bad a finding is. `off` is a configuration choice and never reaches a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the run (exit status 1).
    Error,
    /// Reported, does not fail the run unless `--warnings-as-errors`.
    Warning,
}

/// Which part of an image reference (or which value) a finding is about, so the origin resolver
/// can look for the values line that supplied exactly that part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "part", content = "text", rename_all = "camelCase")]
pub enum Offending {
    /// The whole reference string (never empty: an empty image is [`Offending::EmptyImage`]).
    Reference(String),
    /// The image is empty (`image: ""`, an empty or null value, a template that rendered
    /// nothing): there is no text to look for, so the origin is the empty value under an
    /// image-like key.
    EmptyImage,
    /// The tag (without the `:`).
    Tag(String),
    /// The digest (`sha256:…`).
    Digest(String),
    /// A pull-policy value such as `Always`.
    PullPolicy(String),
    /// A label value.
    LabelValue(String),
}

/// The cell a finding belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Default)]
pub struct CellContext {
    /// Environment name (for cluster-scoped cells, the cluster environment name).
    pub environment: String,
    /// App name (Argo CD application name).
    pub app: String,
    /// Chart path, relative to the repository.
    pub chart: String,
}

/// One thing wrong, in one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Stable rule id, for example `digest-required`.
    pub rule: RuleId,
    /// Severity after configuration.
    pub severity: Severity,
    /// One sentence saying what is wrong and what to do.
    pub message: String,
    /// The cell.
    pub cell: CellContext,
    /// The object, when the finding is about one.
    pub object: Option<ObjectRef>,
    /// Container name, for container sites.
    pub container: Option<String>,
    /// Path inside the object.
    pub field: Option<String>,
    /// The image reference as rendered, for image findings.
    pub image: Option<String>,
    /// `# Source:` template path.
    pub template: Option<String>,
    /// Document index in the rendered stream.
    pub document: Option<usize>,
    /// 1-based line inside the rendered document.
    pub line: Option<u32>,
    /// The part of the value that is wrong, for origin resolution.
    pub offending: Option<Offending>,
    /// When an exception matched: its index in the configuration.
    pub excepted_by: Option<usize>,
    /// A repository file the finding is about directly, rather than a rendered object: the
    /// stray values file of `values-file-unused`. (Exception findings leave it empty: the
    /// caller knows the config file's path, and `config_line` gives the line in it.)
    pub file: Option<String>,
    /// 1-based line in the configuration file, for findings about the configuration itself
    /// (the exception entry of `exception-expired`, `exception-unused`, `exception-invalid`).
    pub config_line: Option<u32>,
}

impl Finding {
    /// A finding of `rule` in `cell` with nothing else known yet; the other fields start empty.
    pub fn new(
        rule: RuleId,
        severity: Severity,
        message: impl Into<String>,
        cell: CellContext,
    ) -> Self {
        Self {
            rule,
            severity,
            message: message.into(),
            cell,
            object: None,
            container: None,
            field: None,
            image: None,
            template: None,
            document: None,
            line: None,
            offending: None,
            excepted_by: None,
            file: None,
            config_line: None,
        }
    }

    /// True when an exception covers this finding (reported, but not failing).
    pub fn is_excepted(&self) -> bool {
        self.excepted_by.is_some()
    }
}
