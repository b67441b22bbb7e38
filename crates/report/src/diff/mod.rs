//! The PR check's report: `imagegate/diff/v1`.
//!
//! A [`DiffReport`] says, for a change between a base and a head revision, which cells it
//! affects (changed, added, removed, renamed), what happens to their images and rendered
//! documents, and which findings are new, fixed or still there. It renders as text, JSON,
//! Markdown (a ready pull-request comment), and, through the ordinary [`Report`] of its new
//! findings, as SARIF and GitHub annotations.

mod markdown;
mod text;

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::format::{FormatOptions, RenderError};
use crate::model::{CellStatus, Generator, ObjectRef, Report, ReportFinding};
use crate::Format;

/// The value of the top-level `schema` key of a diff report.
pub const DIFF_SCHEMA: &str = "imagegate/diff/v1";

/// One side of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Side {
    /// The revision as given (`--base main`), `null` for the working tree.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// The commit it resolved to, `null` for the working tree.
    pub commit: Option<String>,
}

impl Side {
    /// How the side is named in text: the ref and short commit, or `working tree`.
    pub fn label(&self) -> String {
        match (&self.git_ref, &self.commit) {
            (Some(r), Some(c)) => format!("{r} ({})", &c[..c.len().min(12)]),
            (Some(r), None) => r.clone(),
            _ => "working tree".into(),
        }
    }
}

/// A number per side.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct PerSide {
    /// On the base revision.
    pub base: u64,
    /// On the head revision.
    pub head: u64,
}

/// How the matrix changed.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct CellCounts {
    /// Cells whose inputs are identical on both sides (not rendered: they cannot change).
    pub unchanged: u64,
    /// Cells on both sides whose inputs differ.
    pub changed: u64,
    /// Cells only the head has.
    pub added: u64,
    /// Cells only the base has.
    pub removed: u64,
    /// Cells whose app was renamed (same environment, same component or chart).
    pub renamed: u64,
}

/// What happened to a cell.
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
pub enum ChangeKind {
    /// Its inputs differ between the sides.
    Changed,
    /// It exists only on the head.
    Added,
    /// It exists only on the base.
    Removed,
    /// Its app name differs, the cell is otherwise the same one.
    Renamed,
}

impl ChangeKind {
    /// The lowercase name used in every format.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Renamed => "renamed",
        }
    }
}

/// How one side of a cell went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CellSide {
    /// App name on this side.
    pub app: String,
    /// Rendered, cached or failed; `null` when this side was not rendered (a removed cell).
    pub status: Option<CellStatus>,
    /// Rendered documents.
    pub documents: u64,
    /// Image sites.
    pub images: u64,
    /// helm's error, for a failed render.
    pub error: Option<String>,
}

/// One image site whose reference changed, appeared or disappeared.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct ImageChange {
    /// The object.
    pub object: ObjectRef,
    /// The container, for container sites.
    pub container: Option<String>,
    /// Path of the image field inside the object.
    pub field: String,
    /// The reference on the base (`null`: the site is new).
    pub old: Option<String>,
    /// The reference on the head (`null`: the site is gone).
    pub new: Option<String>,
}

/// One affected cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CellChange {
    /// What happened to it.
    pub kind: ChangeKind,
    /// Environment.
    pub environment: String,
    /// App (the head's, except for a removed cell).
    pub app: String,
    /// Repository-relative chart folder (the head's, except for a removed cell).
    pub chart: String,
    /// Which of the cell's inputs differ (chart, values files, helm arguments, policy).
    pub inputs: Vec<String>,
    /// The base side, when the base has the cell.
    pub base: Option<CellSide>,
    /// The head side, when the head has the cell.
    pub head: Option<CellSide>,
    /// Image references that differ.
    pub image_changes: Vec<ImageChange>,
    /// Unified diff of the rendered stream (`null`: not both sides rendered, or identical).
    pub diff: Option<String>,
    /// True when the diff was cut to its size bound.
    pub diff_truncated: bool,
}

/// Totals of a diff report.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct DiffSummary {
    /// Affected cells.
    pub affected: u64,
    /// New findings.
    pub new: u64,
    /// New findings that fail the check.
    pub new_failing: u64,
    /// Fixed findings.
    pub fixed: u64,
    /// Findings present on both sides.
    pub unchanged: u64,
    /// Image sites whose reference changed.
    pub image_changes: u64,
    /// The fix list's totals over the failing findings (additive within v1).
    #[serde(default)]
    pub fixes: crate::fixes::FixCounts,
}

/// A whole diff report: `imagegate/diff/v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiffReport {
    /// Always [`DIFF_SCHEMA`].
    pub schema: String,
    /// Which program wrote it.
    pub generator: Generator,
    /// The base revision.
    pub base: Side,
    /// The head revision.
    pub head: Side,
    /// `--strict`: every failing finding of an affected cell fails the check, not only new ones.
    pub strict: bool,
    /// `--warnings-as-errors`.
    pub warnings_as_errors: bool,
    /// Cells rendered per side (by helm or from the render cache).
    pub rendered: PerSide,
    /// Of those, cells served by the render cache.
    pub cached: PerSide,
    /// How the matrix changed.
    pub cells: CellCounts,
    /// The affected cells, sorted by environment and app.
    pub changes: Vec<CellChange>,
    /// Findings of the head that the base does not have.
    pub new: Vec<ReportFinding>,
    /// Findings of the base that the head no longer has.
    pub fixed: Vec<ReportFinding>,
    /// Findings of affected cells present on both sides (the head's version).
    pub unchanged: Vec<ReportFinding>,
    /// The findings that fail the check, grouped by the values line whose edit fixes them
    /// (see [`crate::fixes`]); additive within v1.
    #[serde(default)]
    pub fixes: Vec<crate::fixes::Fix>,
    /// Totals.
    pub summary: DiffSummary,
    /// The head's Argo CD applications that no cell renders (see
    /// [`crate::model::NotJudgedApp`]); additive within v1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<crate::model::NotJudgedApp>,
    /// Of those, the ones the change takes out of judgement: not judged on the head, and judged
    /// (or absent) on the base. Each fails the check: what Argo CD deploys for it is no longer
    /// seen. Additive within v1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_not_judged: Vec<crate::model::NotJudgedApp>,
}

impl DiffReport {
    /// An empty report of the comparison of `base` with `head`; fill it, then [`DiffReport::finish`].
    pub fn new(generator: Generator, base: Side, head: Side) -> Self {
        Self {
            schema: DIFF_SCHEMA.into(),
            generator,
            base,
            head,
            strict: false,
            warnings_as_errors: false,
            rendered: PerSide::default(),
            cached: PerSide::default(),
            cells: CellCounts::default(),
            changes: Vec::new(),
            new: Vec::new(),
            fixed: Vec::new(),
            unchanged: Vec::new(),
            fixes: Vec::new(),
            summary: DiffSummary::default(),
            not_judged: Vec::new(),
            new_not_judged: Vec::new(),
        }
    }

    /// Sorts cells and findings into a stable order and computes the summary.
    #[must_use]
    pub fn finish(mut self) -> Self {
        self.changes
            .sort_by(|a, b| (&a.environment, &a.app).cmp(&(&b.environment, &b.app)));
        for list in [&mut self.new, &mut self.fixed, &mut self.unchanged] {
            let findings = std::mem::take(list);
            *list = Report::new(self.generator.clone(), findings, vec![]).findings;
        }
        self.summary = DiffSummary {
            affected: self.changes.len() as u64,
            new: self.new.len() as u64,
            new_failing: self
                .new
                .iter()
                .filter(|f| f.is_failing(self.warnings_as_errors))
                .count() as u64,
            fixed: self.fixed.len() as u64,
            unchanged: self.unchanged.len() as u64,
            image_changes: self
                .changes
                .iter()
                .map(|c| c.image_changes.len() as u64)
                .sum(),
            fixes: crate::fixes::FixCounts::default(),
        };
        let failing: Vec<ReportFinding> = self.failing().cloned().collect();
        let (fixes, counts) = crate::fixes::fix_list(&failing, self.warnings_as_errors);
        self.fixes = fixes;
        self.summary.fixes = counts;
        self
    }

    /// A report of the failing findings with their fix list, for the text and markdown
    /// renderers of the fix list.
    pub(crate) fn fix_report(&self) -> Report {
        let mut r = Report::new(
            self.generator.clone(),
            self.failing().cloned().collect(),
            vec![],
        );
        r.fixes = self.fixes.clone();
        r.summary.fixes = self.summary.fixes;
        r
    }

    /// 1 when the head brings a new failing finding (with `strict`: when any finding of an
    /// affected head cell fails), else 0.
    pub fn exit_code(&self) -> i32 {
        let failing = |f: &ReportFinding| f.is_failing(self.warnings_as_errors);
        let strict_fail = self.strict && self.unchanged.iter().any(failing);
        i32::from(self.new.iter().any(failing) || strict_fail || !self.new_not_judged.is_empty())
    }

    /// The findings that fail the check (new ones; with `strict` unchanged ones too).
    pub fn failing(&self) -> impl Iterator<Item = &ReportFinding> {
        let strict = self.strict;
        self.new
            .iter()
            .chain(self.unchanged.iter().filter(move |_| strict))
            .filter(|f| f.is_failing(self.warnings_as_errors))
    }

    /// An ordinary report of the new findings only, for the formats made for code scanning and
    /// annotations (SARIF, GitHub): a finding that was already there is not the PR's.
    pub fn new_findings_report(&self) -> Report {
        Report::new(self.generator.clone(), self.new.clone(), vec![])
    }
}

/// The formats `imagegate diff --format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffFormat {
    /// For a terminal.
    Text,
    /// `imagegate/diff/v1`.
    Json,
    /// A pull-request comment.
    Markdown,
    /// SARIF of the new findings.
    Sarif,
    /// GitHub annotations of the new findings.
    Github,
    /// GitLab Code Quality of the new findings.
    Gitlab,
}

impl DiffFormat {
    /// Every format, in the order of the documentation.
    pub const ALL: [DiffFormat; 6] = [
        Self::Text,
        Self::Json,
        Self::Markdown,
        Self::Sarif,
        Self::Github,
        Self::Gitlab,
    ];

    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
            Self::Markdown => "markdown",
            Self::Sarif => "sarif",
            Self::Github => "github",
            Self::Gitlab => "gitlab",
        }
    }
}

impl std::str::FromStr for DiffFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown format `{s}`: diff supports text, json, markdown, sarif, github, gitlab")
            })
    }
}

/// Writes `report` in `format`.
pub fn render_diff(
    format: DiffFormat,
    report: &DiffReport,
    options: &FormatOptions<'_>,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    match format {
        DiffFormat::Text => text::render(report, out),
        DiffFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)?;
            Ok(())
        }
        DiffFormat::Markdown => markdown::render(report, out),
        DiffFormat::Sarif => Format::Sarif
            .renderer(options)
            .render(&report.new_findings_report(), out),
        DiffFormat::Github => Format::Github
            .renderer(options)
            .render(&report.new_findings_report(), out),
        DiffFormat::Gitlab => Format::Gitlab
            .renderer(options)
            .render(&report.new_findings_report(), out),
    }
}

/// `Kind/name [container]` of a finding, for one-line listings.
fn finding_place(f: &ReportFinding) -> String {
    let mut s = match &f.object {
        Some(o) => o.to_string(),
        None => String::new(),
    };
    if let Some(c) = &f.container {
        s.push_str(&format!(" [{c}]"));
    }
    s
}

#[cfg(test)]
mod tests;
