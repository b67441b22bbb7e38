//! The report model: exactly the `imagegate/report/v1` JSON schema of the product spec, plus a
//! few Rust-only fields (never serialized) that some output formats need.
//!
//! The model is plain data. The CLI converts the findings of the policy crate and the cells of
//! the render crate into it; this crate depends on neither, so the data keeps flowing one way.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The value of the top-level `schema` key of every JSON report this crate writes.
pub const SCHEMA: &str = "imagegate/report/v1";

/// The rule id of the finding that stands for a cell that could not be rendered.
pub const RENDER_FAILED: &str = "render-failed";

/// How bad a finding is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the run (exit status 1) unless excepted.
    Error,
    /// Reported; fails the run only with `--warnings-as-errors`.
    Warning,
}

impl Severity {
    /// The lowercase name used in every format (`error`, `warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The program that wrote a report.
///
/// This is the one key the report adds to the `imagegate/report/v1` schema of the product spec
/// (`"generator"`, after `"schema"`): a report read back later, or next to another one in a
/// `diff`, says which imagegate and which helm produced it. Readers of v1 must ignore unknown
/// keys, so adding it keeps the schema at v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Generator {
    /// Program name, `imagegate`.
    pub name: String,
    /// Program version, for example `0.1.0`.
    pub version: String,
    /// `helm version --short` of the helm that rendered the cells, when helm ran at all.
    pub helm: Option<String>,
}

impl Generator {
    /// A generator named `name` at `version`, with no helm version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            helm: None,
        }
    }

    /// The same generator with the helm version set.
    #[must_use]
    pub fn with_helm(mut self, helm: impl Into<String>) -> Self {
        self.helm = Some(helm.into());
        self
    }
}

/// The identity of one rendered Kubernetes object.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// `apiVersion` as rendered.
    pub api_version: String,
    /// `kind` as rendered.
    pub kind: String,
    /// `metadata.namespace`, when the object sets one (`null` otherwise).
    pub namespace: Option<String>,
    /// `metadata.name` (empty when the object has none).
    pub name: String,
}

impl ObjectRef {
    /// An object reference.
    pub fn new(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        namespace: Option<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace,
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectRef {
    /// `Kind/name`, or `Kind/namespace/name` when the object names its namespace.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// A place in a repository file: where the value behind a finding was set.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    /// Repository-relative path, for example `sources/values/env/dev/apps/api.yaml`.
    pub file: String,
    /// 1-based line.
    pub line: u32,
}

impl Origin {
    /// An origin at `file`, line `line` (1-based).
    pub fn new(file: impl Into<String>, line: u32) -> Self {
        Self {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Where in a chart's own files a finding sits, when no values line explains it: the template
/// line helm's render error names (`render-failed`), or the template line that writes an image
/// the chart hard-codes. An additive key of `imagegate/report/v1` (`templateLocation`).
///
/// `line` is absent when imagegate cannot name the line for sure (never a wrong line): helm's
/// YAML errors count lines of the rendered output, not of the template (`renderedLine`), and a
/// reference the template writes on several lines, or builds, has no one line.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct TemplateLocation {
    /// Repository-relative path of the template, for example `charts/web/templates/app.yaml`; a
    /// template inside a vendored `charts/*.tgz` is `<archive>:<path inside it>`.
    pub file: String,
    /// 1-based line in the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column (in characters) where the place starts on `line`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// 1-based column just past its end on `line`, when the place is a span (a hard-coded
    /// reference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_column: Option<u32>,
    /// For helm's YAML errors: the 1-based line of the template's *rendered output* helm
    /// names, which is not a line of the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered_line: Option<u32>,
}

impl TemplateLocation {
    /// A location in `file`, with no line.
    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            column: None,
            end_column: None,
            rendered_line: None,
        }
    }

    /// The file a checkout holds: the archive for a template inside a vendored `.tgz`, which
    /// has no line of its own there.
    pub fn checkout_file(&self) -> (&str, bool) {
        match self.file.split_once(".tgz:") {
            Some((archive, _)) => (&self.file[..archive.len() + 4], true),
            None => (&self.file, false),
        }
    }
}

impl TemplateLocation {
    /// `file:line:column`, and for a YAML error the rendered line helm names, said to be one.
    pub fn describe(&self) -> String {
        match (self.line, self.rendered_line) {
            (None, Some(rendered)) => format!(
                "{self} (helm's YAML error is at line {rendered} of this template's rendered \
                 output, not of the template)"
            ),
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for TemplateLocation {
    /// `file:line:column`, as far as each is known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// A few lines of a values file around the line a finding points at, for the text format.
///
/// Not part of the findings of the JSON schema (a shard report carries it in its `shard` key).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Snippet {
    /// 1-based line number of `lines[0]`.
    pub start_line: u32,
    /// The lines, without their line terminators.
    pub lines: Vec<String>,
    /// 1-based line number of the line to highlight (normally the origin's line).
    pub highlight_line: u32,
    /// Byte range inside the highlighted line to underline; the whole trimmed line when `None`.
    pub highlight: Option<std::ops::Range<usize>>,
}

impl Snippet {
    /// A snippet of `lines` starting at line `start_line`, highlighting line `highlight_line`.
    pub fn new(start_line: u32, lines: Vec<String>, highlight_line: u32) -> Self {
        Self {
            start_line,
            lines,
            highlight_line,
            highlight: None,
        }
    }

    /// The same snippet underlining the byte range `range` of the highlighted line.
    #[must_use]
    pub fn with_highlight(mut self, range: std::ops::Range<usize>) -> Self {
        self.highlight = Some(range);
        self
    }
}

/// One finding as reported: one thing wrong, in one place of one cell.
///
/// The serialized fields are the `findings[]` entries of `imagegate/report/v1`; the fields marked
/// *not serialized* carry what some formats need and the schema does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportFinding {
    /// Stable rule id, for example `digest-required`.
    pub rule: String,
    /// Severity after configuration.
    pub severity: Severity,
    /// One sentence saying what is wrong and what to do.
    pub message: String,
    /// Environment of the cell.
    pub environment: String,
    /// App of the cell.
    pub app: String,
    /// Repository-relative chart path of the cell.
    pub chart: String,
    /// The object, when the finding is about one.
    pub object: Option<ObjectRef>,
    /// Container name, for container sites.
    pub container: Option<String>,
    /// Path inside the object, for example `spec.template.spec.containers[0].image`.
    pub field: Option<String>,
    /// The image reference as rendered.
    pub image: Option<String>,
    /// The `# Source:` template path, for example `api/templates/deployment.yaml`.
    pub template: Option<String>,
    /// The values file line to change, when one explains the finding.
    pub origin: Option<Origin>,
    /// True when an exception of the configuration covers the finding: reported, not failing.
    pub excepted: bool,
    /// For an excepted finding, the exception that covers it: its reason and expiry. An
    /// additive key of `imagegate/report/v1`, absent on findings no exception covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<ExceptionRef>,
    /// Where each part of the image comes from, as helm confirmed it: the values line (or
    /// `Chart.yaml` line) that reaches the registry, repository, tag or digest of the rendered
    /// reference (and, for a pull-policy finding, its pull policy). An additive key of
    /// `imagegate/report/v1`, absent when no values line reaches any part.
    #[serde(default, skip_serializing_if = "Parts::is_empty")]
    pub parts: Parts,
    /// Where in the chart's templates the finding sits when no values line explains it (see
    /// [`TemplateLocation`]). An additive key of `imagegate/report/v1`, absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_location: Option<TemplateLocation>,

    /// The origin line and a few around it (text format). Not serialized.
    #[serde(skip)]
    pub snippet: Option<Snippet>,
    /// Why there is no origin, or where else the value comes from, for example
    /// `hard-coded in the template` or `chart default in sources/charts/x/values.yaml`.
    /// Not serialized.
    #[serde(skip)]
    pub origin_note: Option<String>,
    /// 1-based line in the rendered document. Not serialized.
    #[serde(skip)]
    pub rendered_line: Option<u32>,
    /// Repository-relative path of `template` (SARIF and GitHub locations). Not serialized.
    #[serde(skip)]
    pub template_path_in_repo: Option<String>,
    /// For an excepted finding: which exception covers it and why (SARIF suppression
    /// justification). Not serialized.
    #[serde(skip)]
    pub exception_note: Option<String>,
    /// The value on the origin line as the file writes it (`"1.10"`, `latest`, `null`), for
    /// the fix list. Not serialized (the fix list carries it).
    #[serde(skip)]
    pub origin_value: Option<String>,
    /// What to do at the origin line (`set the pull policy to IfNotPresent`), for the fix list.
    /// Not serialized (the fix list carries it).
    #[serde(skip)]
    pub fix: Option<String>,
}

/// Where each part of a finding's image comes from: the `parts` key of a finding.
///
/// Each part is the one line whose value helm carried into it (when several values build one
/// part, the last of them). `digest` of an image that has none is the line where a digest
/// belongs (the `digest` key beside the image's values, the last layer setting it), when the
/// chart has such a key. A part no values line reaches (the template writes it) is absent.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct Parts {
    /// The line that sets the registry host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<Origin>,
    /// The line that sets the repository path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<Origin>,
    /// The line that sets the tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Origin>,
    /// The line that sets the digest, or where a missing one belongs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Origin>,
    /// The line that sets the pull policy (pull-policy findings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<Origin>,
}

impl Parts {
    /// True when no part has an origin.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The parts that have an origin, as (name, origin), in the order of a reference
    /// (registry, repository, tag, digest), then the pull policy. Names are the JSON keys.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Origin)> {
        [
            ("registry", &self.registry),
            ("repository", &self.repository),
            ("tag", &self.tag),
            ("digest", &self.digest),
            ("pullPolicy", &self.pull_policy),
        ]
        .into_iter()
        .filter_map(|(name, o)| o.as_ref().map(|o| (name, o)))
    }
}

/// The exception of the configuration that covers a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionRef {
    /// Why the exception exists, as the configuration says.
    pub reason: String,
    /// The last day it holds, `YYYY-MM-DD`.
    pub expires: String,
}

/// The most bytes of one message or helm error a report keeps (helm may write a megabyte of
/// errors; a report of a thousand such cells must stay readable and bounded).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// `text` cut to [`MAX_MESSAGE_BYTES`] at a character boundary, saying how much was cut.
pub(crate) fn bounded(mut text: String) -> String {
    if text.len() <= MAX_MESSAGE_BYTES {
        return text;
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("… ({cut} more bytes cut)"));
    text
}

impl ReportFinding {
    /// A finding of `rule` in the cell (`environment`, `app`, `chart`), with every optional field
    /// empty and not excepted.
    pub fn new(
        rule: impl Into<String>,
        severity: Severity,
        message: impl Into<String>,
        environment: impl Into<String>,
        app: impl Into<String>,
        chart: impl Into<String>,
    ) -> Self {
        Self {
            rule: rule.into(),
            severity,
            message: bounded(message.into()),
            environment: environment.into(),
            app: app.into(),
            chart: chart.into(),
            object: None,
            container: None,
            field: None,
            image: None,
            template: None,
            origin: None,
            excepted: false,
            exception: None,
            parts: Parts::default(),
            template_location: None,
            snippet: None,
            origin_note: None,
            rendered_line: None,
            template_path_in_repo: None,
            exception_note: None,
            origin_value: None,
            fix: None,
        }
    }

    /// The template location to show beside the other facts: when no values line explains the
    /// finding and the location says more than the template's path (a line, helm's rendered
    /// line, or a file inside a vendored archive).
    pub fn template_place(&self) -> Option<&TemplateLocation> {
        self.template_location.as_ref().filter(|at| {
            self.origin.is_none()
                && (at.line.is_some()
                    || at.rendered_line.is_some()
                    || self.template_path_in_repo.as_ref() != Some(&at.file))
        })
    }

    /// True when the finding fails a run: not excepted, and an error (or a warning when
    /// warnings count as errors).
    pub fn is_failing(&self, warnings_as_errors: bool) -> bool {
        !self.excepted && (self.severity == Severity::Error || warnings_as_errors)
    }

    /// The key findings are sorted by: environment, app, template, object kind and name,
    /// container, field, rule, then the remaining fields so the order is total.
    fn sort_key(&self) -> impl Ord + '_ {
        let object = self.object.as_ref();
        (
            (&self.environment, &self.app, &self.template),
            (
                object.map(|o| &o.kind),
                object.map(|o| &o.name),
                object.map(|o| &o.namespace),
            ),
            (&self.container, &self.field, &self.rule),
            (
                &self.image,
                &self.message,
                self.severity,
                self.excepted,
                &self.origin,
            ),
        )
    }
}

/// How a cell went.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CellStatus {
    /// Rendered by helm in this run.
    Rendered,
    /// helm failed (see the cell's `error`).
    Failed,
    /// Taken from the render cache.
    Cached,
}

impl CellStatus {
    /// The lowercase name used in every format.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rendered => "rendered",
            Self::Failed => "failed",
            Self::Cached => "cached",
        }
    }
}

impl fmt::Display for CellStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One cell of the matrix (chart × environment) as rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CellReport {
    /// Environment name.
    pub environment: String,
    /// App name.
    pub app: String,
    /// Repository-relative chart path.
    pub chart: String,
    /// The values files helm read, in order (later files win).
    pub value_files: Vec<String>,
    /// How the cell went.
    pub status: CellStatus,
    /// Number of rendered documents.
    pub documents: u64,
    /// Number of image sites found.
    pub images: u64,
    /// helm's error message, for a failed cell.
    pub error: Option<String>,
}

impl CellReport {
    /// A rendered (or cached) cell with its counts.
    pub fn new(
        environment: impl Into<String>,
        app: impl Into<String>,
        chart: impl Into<String>,
        value_files: Vec<String>,
        status: CellStatus,
        documents: u64,
        images: u64,
    ) -> Self {
        Self {
            environment: environment.into(),
            app: app.into(),
            chart: chart.into(),
            value_files,
            status,
            documents,
            images,
            error: None,
        }
    }

    /// A cell helm could not render, with helm's message.
    pub fn failed(
        environment: impl Into<String>,
        app: impl Into<String>,
        chart: impl Into<String>,
        value_files: Vec<String>,
        error: impl Into<String>,
    ) -> Self {
        let mut cell = Self::new(
            environment,
            app,
            chart,
            value_files,
            CellStatus::Failed,
            0,
            0,
        );
        cell.error = Some(bounded(error.into()));
        cell
    }

    /// True when this cell is the cell of `finding`.
    pub fn holds(&self, finding: &ReportFinding) -> bool {
        self.environment == finding.environment && self.app == finding.app
    }
}

/// An Argo CD Application the run did not render (kustomize, a plain directory, a plugin, a
/// chart from a Helm repository, another repository), and why: listed so that no format can
/// make a fleet with unjudged applications look fully judged. Additive to `imagegate/report/v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotJudgedApp {
    /// The Application's name.
    pub app: String,
    /// The manifest file it is declared in (or generated by, or, for one a chart renders, the
    /// template that writes it), repository-relative.
    pub manifest: String,
    /// 1-based line in `manifest` (1 for a template).
    pub line: u32,
    /// The ApplicationSet generator element it came from, or the cell that rendered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
    /// Why it is not rendered.
    pub reason: String,
}

impl NotJudgedApp {
    /// `manifest:line: Application APP is not judged: REASON`, the one sentence every format
    /// and warning uses.
    pub fn sentence(&self) -> String {
        let element = self
            .element
            .as_ref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        format!(
            "{}:{}: Argo CD application {}{element} is not judged: {}",
            self.manifest, self.line, self.app, self.reason
        )
    }
}

/// Totals, computed from the findings and cells by [`Report::new`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Number of cells.
    pub cells: u64,
    /// Number of cells that failed to render.
    pub failed: u64,
    /// Number of image sites over all cells.
    pub images: u64,
    /// Number of findings per rule id, excepted ones included (they are listed too).
    pub findings: BTreeMap<String, u64>,
    /// Error findings no exception covers (additive to `imagegate/report/v1`, like the three
    /// keys after it).
    #[serde(default)]
    pub errors: u64,
    /// Warning findings no exception covers.
    #[serde(default)]
    pub warnings: u64,
    /// Findings an exception covers, of either severity.
    #[serde(default)]
    pub excepted: u64,
    /// Whether the run passed: the exit status is 0 for `pass`, 1 for `fail` (2 writes no
    /// report).
    #[serde(default)]
    pub verdict: Verdict,
    /// The headline of the fix list (additive to `imagegate/report/v1`): how many edits fix
    /// how many failing findings, and how many failing findings no values line explains.
    #[serde(default)]
    pub fixes: crate::fixes::FixCounts,
    /// Whether warnings counted as errors for the verdict (`--warnings-as-errors`). Not
    /// serialized.
    #[serde(skip)]
    pub warnings_as_errors: bool,
}

/// A run's verdict.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No finding fails the run.
    Pass,
    /// Some finding fails the run (the default: a summary that says nothing has not passed).
    #[default]
    Fail,
}

impl Verdict {
    /// `pass` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
        }
    }
}

/// A whole report: `imagegate/report/v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Which program wrote it (the one key added to the spec's schema; see [`Generator`]).
    pub generator: Generator,
    /// Every finding, sorted.
    pub findings: Vec<ReportFinding>,
    /// Every cell, sorted.
    pub cells: Vec<CellReport>,
    /// Totals.
    pub summary: Summary,
    /// The failing findings grouped by the edit that fixes them: one entry per values line,
    /// most findings first (see [`crate::fixes`]). An additive key of `imagegate/report/v1`.
    #[serde(default)]
    pub fixes: Vec<crate::fixes::Fix>,
    /// Only in the report of a sharded run (`--shard K/N`): what `imagegate merge` needs to judge
    /// the whole fleet. An additive key, absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::ShardRecord>,
    /// The Argo CD applications of the fleet that were not rendered, with their reasons (the
    /// `argocd:` section). An additive key, absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<NotJudgedApp>,
}

impl Report {
    /// The report of `findings` over `cells`: sorts both into a stable order (cells by
    /// environment and app; findings by environment, app, template, object kind and name,
    /// container, field, rule) and computes the summary.
    ///
    /// Fail closed: a failed cell that no `render-failed` finding speaks for gets one (an
    /// error), so no format can show a failed cell as a pass.
    pub fn new(
        generator: Generator,
        mut findings: Vec<ReportFinding>,
        mut cells: Vec<CellReport>,
    ) -> Self {
        for cell in cells.iter().filter(|c| c.status == CellStatus::Failed) {
            let spoken_for = findings
                .iter()
                .any(|f| f.rule == RENDER_FAILED && cell.holds(f));
            if !spoken_for {
                findings.push(ReportFinding::new(
                    RENDER_FAILED,
                    Severity::Error,
                    "helm could not render this cell; fix the chart or its values",
                    &cell.environment,
                    &cell.app,
                    &cell.chart,
                ));
            }
        }
        cells.sort_by(|a, b| {
            (&a.environment, &a.app, &a.chart).cmp(&(&b.environment, &b.app, &b.chart))
        });
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));

        let mut summary = Summary {
            cells: cells.len() as u64,
            failed: cells
                .iter()
                .filter(|c| c.status == CellStatus::Failed)
                .count() as u64,
            images: cells.iter().map(|c| c.images).sum(),
            ..Summary::default()
        };
        for finding in &findings {
            *summary.findings.entry(finding.rule.clone()).or_default() += 1;
            match (finding.excepted, finding.severity) {
                (true, _) => summary.excepted += 1,
                (false, Severity::Error) => summary.errors += 1,
                (false, Severity::Warning) => summary.warnings += 1,
            }
        }
        Self {
            schema: SCHEMA.to_owned(),
            generator,
            findings,
            cells,
            summary,
            fixes: Vec::new(),
            shard: None,
            not_judged: Vec::new(),
        }
        .judged(false)
    }

    /// The same report listing `apps` as not judged (sorted by manifest, line and app).
    #[must_use]
    pub fn with_not_judged(mut self, mut apps: Vec<NotJudgedApp>) -> Self {
        apps.sort_by(|a, b| (&a.manifest, a.line, &a.app).cmp(&(&b.manifest, b.line, &b.app)));
        apps.dedup();
        self.not_judged = apps;
        self
    }

    /// The same report with its verdict and fix list set for `warnings_as_errors` (whether
    /// warnings fail the run, as `--warnings-as-errors` asks). [`Report::new`] judges with
    /// warnings not failing.
    #[must_use]
    pub fn judged(mut self, warnings_as_errors: bool) -> Self {
        self.summary.warnings_as_errors = warnings_as_errors;
        let (fixes, counts) = crate::fixes::fix_list(&self.findings, warnings_as_errors);
        self.fixes = fixes;
        self.summary.fixes = counts;
        self.summary.verdict = if self.exit_code(warnings_as_errors) == 0 {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
        self
    }

    /// The exit status the report calls for: 1 when any finding fails the run (a non-excepted
    /// error, `render-failed` included; with `warnings_as_errors` a non-excepted warning too),
    /// else 0.
    pub fn exit_code(&self, warnings_as_errors: bool) -> i32 {
        i32::from(
            self.findings
                .iter()
                .any(|f| f.is_failing(warnings_as_errors)),
        )
    }

    /// The cell a finding belongs to, if the report holds it.
    pub fn cell_of(&self, finding: &ReportFinding) -> Option<&CellReport> {
        self.cells.iter().find(|c| c.holds(finding))
    }

    /// Counts per environment, in environment order (the table of the text and markdown
    /// formats). Environments that only findings name (no cell) are included.
    pub fn environment_counts(&self) -> Vec<EnvironmentCounts> {
        let mut by_env: BTreeMap<&str, EnvironmentCounts> = BTreeMap::new();
        for cell in &self.cells {
            let counts = by_env
                .entry(&cell.environment)
                .or_insert_with(|| EnvironmentCounts {
                    environment: cell.environment.clone(),
                    ..Default::default()
                });
            counts.cells += 1;
            counts.failed += u64::from(cell.status == CellStatus::Failed);
            counts.images += cell.images;
        }
        for finding in &self.findings {
            let counts = by_env
                .entry(&finding.environment)
                .or_insert_with(|| EnvironmentCounts {
                    environment: finding.environment.clone(),
                    ..Default::default()
                });
            match (finding.excepted, finding.severity) {
                (true, _) => counts.excepted += 1,
                (false, Severity::Error) => counts.errors += 1,
                (false, Severity::Warning) => counts.warnings += 1,
            }
        }
        by_env.into_values().collect()
    }

    /// Totals over all environments, in the shape of [`EnvironmentCounts`] (environment empty).
    pub fn total_counts(&self) -> EnvironmentCounts {
        self.environment_counts()
            .into_iter()
            .fold(EnvironmentCounts::default(), |mut t, c| {
                t.cells += c.cells;
                t.failed += c.failed;
                t.images += c.images;
                t.errors += c.errors;
                t.warnings += c.warnings;
                t.excepted += c.excepted;
                t
            })
    }
}

/// Counts for one environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvironmentCounts {
    /// Environment name.
    pub environment: String,
    /// Cells in it.
    pub cells: u64,
    /// Cells that failed to render.
    pub failed: u64,
    /// Image sites.
    pub images: u64,
    /// Non-excepted error findings.
    pub errors: u64,
    /// Non-excepted warning findings.
    pub warnings: u64,
    /// Excepted findings, of either severity.
    pub excepted: u64,
}
