//! The nightly fleet audit's files: the image inventory (`images.json`, [`Images`]), the trend
//! since a baseline audit (`trend.json`, [`Trend`]), and the whole set written into one folder
//! ([`write_set`]).

use crate::convert::InventoryRow;
use crate::{Fatal, Observer};
use anyhow::{Context, Result};
use imagegate_report::{Format, FormatOptions, ObjectRef, Report, ReportFinding, TextOptions};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The schema name of `images.json`.
pub const IMAGES_SCHEMA: &str = "imagegate/images/v1";
/// The schema name of `trend.json`.
pub const TREND_SCHEMA: &str = "imagegate/trend/v1";

/// `images.json`: the inventory, and the cells whose images are unknown because they failed.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Images {
    /// Always [`IMAGES_SCHEMA`].
    pub schema: String,
    /// Every image site, sorted.
    pub images: Vec<InventoryRow>,
    /// `environment/app` of every cell that failed to render.
    pub failed_cells: Vec<String>,
}

impl Images {
    /// The inventory of a run.
    pub fn new(mut images: Vec<InventoryRow>, report: &Report) -> Self {
        images.sort();
        let failed_cells = report
            .cells
            .iter()
            .filter(|c| c.error.is_some())
            .map(|c| format!("{}/{}", c.environment, c.app))
            .collect();
        Self {
            schema: IMAGES_SCHEMA.into(),
            images,
            failed_cells,
        }
    }

    /// The inventory of the `images` command's run: every row, sorted, and each cell that
    /// failed to render as `environment/app: the first line of its error`.
    pub fn of_outcomes(outcomes: Vec<crate::pipeline::CellOutcome>) -> Self {
        let mut failed_cells = Vec::new();
        let mut images = Vec::new();
        for o in outcomes {
            if let Some(e) = &o.report.error {
                failed_cells.push(format!(
                    "{}/{}: {}",
                    o.report.environment,
                    o.report.app,
                    e.lines().next().unwrap_or("")
                ));
            }
            images.extend(o.inventory);
        }
        images.sort();
        Self {
            schema: IMAGES_SCHEMA.into(),
            images,
            failed_cells,
        }
    }

    /// Writes the inventory as an aligned table with a count line, every field made safe for a
    /// terminal and digests shortened to `sha256:` and 12 hex digits.
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let header = [
            "ENVIRONMENT",
            "APP",
            "OBJECT",
            "CONTAINER",
            "IMAGE",
            "DIGEST",
            "PULL",
        ];
        let rows: Vec<[String; 7]> = self
            .images
            .iter()
            .map(|r| {
                [
                    r.environment.clone(),
                    r.app.clone(),
                    format!("{}/{}", r.kind, r.name),
                    r.container.clone().unwrap_or_else(|| r.field.clone()),
                    r.image.clone(),
                    r.digest
                        .as_deref()
                        .map(|d| d.chars().take(19).collect())
                        .unwrap_or_else(|| "-".into()),
                    r.pull_policy.clone().unwrap_or_else(|| "-".into()),
                ]
                .map(|s| imagegate_report::terminal_line(&s))
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |out: &mut dyn Write, row: [&str; 7]| -> std::io::Result<()> {
            let mut s = String::new();
            for (i, (c, w)) in row.iter().zip(widths).enumerate() {
                if i + 1 == row.len() {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:w$}  "));
                }
            }
            writeln!(out, "{}", s.trim_end())
        };
        line(out, header)?;
        for row in &rows {
            line(out, row.each_ref().map(String::as_str))?;
        }
        writeln!(out, "{} image sites", self.images.len())
    }

    /// Reads an `images.json`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Fatal(format!("{}: cannot read: {e}", path.display())))?;
        let images: Self = serde_json::from_str(&text).map_err(|e| {
            Fatal(format!(
                "{}: not an imagegate images.json: {e}",
                path.display()
            ))
        })?;
        if images.schema != IMAGES_SCHEMA {
            return Err(Fatal(format!(
                "{}: schema `{}`, expected `{IMAGES_SCHEMA}`",
                path.display(),
                images.schema
            ))
            .into());
        }
        Ok(images)
    }
}

/// A previous audit.
pub struct Baseline {
    /// Its report.
    pub report: Report,
    /// Its inventory, when its images.json was found beside the report.
    pub images: Option<Images>,
    /// Where the report was read from.
    pub path: PathBuf,
}

impl Baseline {
    /// Reads a previous audit: its folder, or its report.json (with images.json beside it). A
    /// missing images.json is a warning to `observer`: the trend then leaves out digests.
    pub fn read(path: &Path, observer: &dyn Observer) -> Result<Self> {
        let report_path = if path.is_dir() {
            path.join("report.json")
        } else {
            path.to_path_buf()
        };
        let report = read_report(&report_path)?;
        let images_path = report_path
            .parent()
            .unwrap_or(Path::new("."))
            .join("images.json");
        let images = if images_path.is_file() {
            Some(Images::read(&images_path)?)
        } else {
            observer.warn(&format!(
                "--baseline: no {} beside the report: the trend leaves out digest changes",
                images_path.display()
            ));
            None
        };
        Ok(Self {
            report,
            images,
            path: report_path,
        })
    }
}

/// Reads an `imagegate/report/v1` JSON report (exit 2 with the path when it is not one).
pub fn read_report(path: &Path) -> Result<Report> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Fatal(format!(
            "{}: cannot read: {e}\n  hint: pass the report.json of an audit or `check --format json`",
            path.display()
        ))
    })?;
    let report: Report = serde_json::from_str(&text).map_err(|e| {
        Fatal(format!(
            "{}: not an imagegate JSON report: {e} (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    if report.schema != imagegate_report::SCHEMA {
        return Err(Fatal(format!(
            "{}: schema `{}`, this imagegate reads `{}`",
            path.display(),
            report.schema,
            imagegate_report::SCHEMA
        ))
        .into());
    }
    Ok(report)
}

/// One image site whose reference changed since the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageChange {
    /// Environment.
    pub environment: String,
    /// App.
    pub app: String,
    /// `Kind/name` of the object.
    pub object: String,
    /// Container name, for container sites.
    pub container: Option<String>,
    /// Field path of the image.
    pub field: String,
    /// The image before.
    pub before: String,
    /// The image now.
    pub after: String,
}

/// `trend.json`: what changed since the baseline audit.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Trend {
    /// Always [`TREND_SCHEMA`].
    pub schema: String,
    /// The baseline report's path as given.
    pub baseline: String,
    /// Findings now that the baseline did not have.
    pub new_findings: Vec<ReportFinding>,
    /// Findings of the baseline that are gone.
    pub fixed_findings: Vec<ReportFinding>,
    /// Image sites present in both whose digest changed (null when the baseline has no inventory).
    pub digest_changes: Option<Vec<ImageChange>>,
}

/// What identifies a finding across two runs: where it is and what it is about, not its wording.
fn finding_key(f: &ReportFinding) -> impl Ord + '_ {
    (
        (&f.rule, &f.environment, &f.app),
        f.object
            .as_ref()
            .map(|o: &ObjectRef| (&o.kind, &o.namespace, &o.name)),
        (&f.container, &f.field, &f.image),
        f.origin
            .as_ref()
            .filter(|_| f.object.is_none())
            .map(|o| &o.file),
    )
}

impl Trend {
    /// The trend from `baseline` to `report` (and its inventory).
    pub fn between(baseline: &Baseline, report: &Report, images: &Images) -> Self {
        let before: BTreeSet<_> = baseline.report.findings.iter().map(finding_key).collect();
        let after: BTreeSet<_> = report.findings.iter().map(finding_key).collect();
        let new_findings = report
            .findings
            .iter()
            .filter(|f| !before.contains(&finding_key(f)))
            .cloned()
            .collect();
        let fixed_findings = baseline
            .report
            .findings
            .iter()
            .filter(|f| !after.contains(&finding_key(f)))
            .cloned()
            .collect();
        let digest_changes = baseline.images.as_ref().map(|old| {
            let key = |r: &InventoryRow| {
                (
                    r.environment.clone(),
                    r.app.clone(),
                    r.kind.clone(),
                    r.namespace.clone(),
                    r.name.clone(),
                    r.field.clone(),
                )
            };
            let old_by: BTreeMap<_, &InventoryRow> =
                old.images.iter().map(|r| (key(r), r)).collect();
            images
                .images
                .iter()
                .filter_map(|r| {
                    let o = old_by.get(&key(r))?;
                    (o.digest != r.digest).then(|| ImageChange {
                        environment: r.environment.clone(),
                        app: r.app.clone(),
                        object: format!("{}/{}", r.kind, r.name),
                        container: r.container.clone(),
                        field: r.field.clone(),
                        before: o.image.clone(),
                        after: r.image.clone(),
                    })
                })
                .collect()
        });
        Self {
            schema: TREND_SCHEMA.into(),
            baseline: baseline.path.display().to_string(),
            new_findings,
            fixed_findings,
            digest_changes,
        }
    }

    /// The trend as a markdown section of the summary.
    fn markdown(&self) -> String {
        let mut s = String::from("\n## Since the last audit\n\n");
        let changes = self.digest_changes.as_ref().map_or_else(
            || "unknown (the baseline has no images.json)".to_string(),
            |c| c.len().to_string(),
        );
        s.push_str(&format!(
            "| new findings | fixed findings | images whose digest changed |\n|---:|---:|---:|\n| {} | {} | {} |\n",
            self.new_findings.len(),
            self.fixed_findings.len(),
            changes
        ));
        let cell = |t: &str| imagegate_report::markdown_text(t);
        let mut table = |title: &str, rows: &[ReportFinding]| {
            if rows.is_empty() {
                return;
            }
            s.push_str(&format!(
                "\n### {title}\n\n| rule | environment | app | object | image |\n|---|---|---|---|---|\n"
            ));
            for f in rows.iter().take(MAX_ROWS) {
                s.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} |\n",
                    cell(&f.rule),
                    cell(&f.environment),
                    cell(&f.app),
                    cell(&f.object.as_ref().map(|o| o.to_string()).unwrap_or_default()),
                    cell(f.image.as_deref().unwrap_or("")),
                ));
            }
            if rows.len() > MAX_ROWS {
                s.push_str(&format!(
                    "\n… and {} more in trend.json\n",
                    rows.len() - MAX_ROWS
                ));
            }
        };
        table("New findings", &self.new_findings);
        table("Fixed findings", &self.fixed_findings);
        if let Some(changes) = self.digest_changes.as_ref().filter(|c| !c.is_empty()) {
            s.push_str("\n### Digest changes\n\n| environment | app | object | container | before | after |\n|---|---|---|---|---|---|\n");
            for c in changes.iter().take(MAX_ROWS) {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} |\n",
                    cell(&c.environment),
                    cell(&c.app),
                    cell(&c.object),
                    cell(c.container.as_deref().unwrap_or(&c.field)),
                    cell(&c.before),
                    cell(&c.after),
                ));
            }
            if changes.len() > MAX_ROWS {
                s.push_str(&format!(
                    "\n… and {} more in trend.json\n",
                    changes.len() - MAX_ROWS
                ));
            }
        }
        s
    }
}

/// Rows per trend table in summary.md (GitHub's step summary is limited to 1 MiB).
const MAX_ROWS: usize = 50;

/// Writes the audit set into `dir` (created if missing): the reports, the summary (with the
/// trend), the inventory and the trend. `root` is the configuration's folder (SARIF paths are
/// written from its checkout's root). Returns the files written.
pub fn write_set(
    dir: &Path,
    root: &Path,
    report: &Report,
    images: &Images,
    trend: Option<&Trend>,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Fatal(format!("--out {}: cannot create: {e}", dir.display())))?;
    let rules = crate::convert::rule_meta();
    let prefix = crate::git::checkout_prefix(root);
    let opts = &FormatOptions {
        text: TextOptions {
            color: false,
            quiet: false,
        },
        rules: &rules,
        path_prefix: &prefix,
    };
    let mut written = Vec::new();
    let mut write = |name: &str, body: &dyn Fn(&mut dyn Write) -> Result<()>| -> Result<()> {
        let path = dir.join(name);
        let file = std::fs::File::create(&path)
            .map_err(|e| Fatal(format!("cannot write {}: {e}", path.display())))?;
        let mut w = std::io::BufWriter::new(file);
        body(&mut w)?;
        w.flush()
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
        Ok(())
    };
    for (name, format) in [
        ("report.json", Format::Json),
        ("report.sarif", Format::Sarif),
        ("junit.xml", Format::Junit),
        ("codequality.json", Format::Gitlab),
    ] {
        write(name, &|w| Ok(format.renderer(opts).render(report, w)?))?;
    }
    write("summary.md", &|w| {
        Format::Markdown.renderer(opts).render(report, w)?;
        if let Some(t) = trend {
            w.write_all(t.markdown().as_bytes())?;
        }
        Ok(())
    })?;
    write("images.json", &|w| {
        serde_json::to_writer_pretty(&mut *w, images)?;
        writeln!(w)?;
        Ok(())
    })?;
    write("images.csv", &|w| {
        crate::convert::write_inventory_csv(w, &images.images)
    })?;
    if let Some(t) = trend {
        write("trend.json", &|w| {
            serde_json::to_writer_pretty(&mut *w, t)?;
            writeln!(w)?;
            Ok(())
        })?;
    }

    Ok(written)
}

/// The audit's short summary: counts, findings per rule, the trend, the files written, every
/// field from the repository made safe for a terminal.
pub fn write_summary(
    out: &mut dyn Write,
    report: &Report,
    trend: Option<&Trend>,
    written: &[PathBuf],
) -> std::io::Result<()> {
    let shown = imagegate_report::terminal_line;
    let total = report.total_counts();
    writeln!(
        out,
        "imagegate audit{}: {} cells ({} failed), {} image sites; {} errors, {} warnings, {} excepted",
        report
            .shard
            .as_ref()
            .map(|s| format!(" (shard {}/{})", s.index, s.count))
            .unwrap_or_default(),
        report.summary.cells,
        report.summary.failed,
        report.summary.images,
        total.errors,
        total.warnings,
        total.excepted
    )?;
    for (rule, n) in &report.summary.findings {
        writeln!(out, "  {n:>5}  {}", shown(rule))?;
    }
    if let Some(t) = trend {
        writeln!(
            out,
            "since {}: {} new, {} fixed, {} digest changes",
            shown(&t.baseline),
            t.new_findings.len(),
            t.fixed_findings.len(),
            t.digest_changes
                .as_ref()
                .map_or_else(|| "unknown".to_string(), |c| c.len().to_string())
        )?;
    }
    writeln!(out, "wrote:")?;
    for p in written {
        writeln!(out, "  {}", shown(&p.display().to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(app: &str, image: &str, digest: Option<&str>) -> InventoryRow {
        InventoryRow {
            environment: "dev".into(),
            app: app.into(),
            kind: "Deployment".into(),
            namespace: None,
            name: app.into(),
            container: Some("main".into()),
            site: "container".into(),
            field: "spec.template.spec.containers[0].image".into(),
            image: image.into(),
            repository: None,
            tag: None,
            digest: digest.map(str::to_string),
            pull_policy: None,
            template: None,
            api_version: "apps/v1".into(),
            document: 0,
            line: None,
        }
    }

    #[test]
    fn the_inventory_table_is_aligned_shortened_and_terminal_safe() {
        let images = Images {
            schema: IMAGES_SCHEMA.into(),
            images: vec![
                row("web", "nginx:1.27", None),
                row(
                    "api\u{1b}[2J",
                    "api@sha256:0123456789abcdef0123456789abcdef",
                    Some("sha256:0123456789abcdef0123456789abcdef"),
                ),
            ],
            failed_cells: Vec::new(),
        };
        let mut out = Vec::new();
        images.write_table(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("ENVIRONMENT  APP"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(
            lines[2].contains("api\\x1b[2J") && lines[2].contains("sha256:0123456789ab "),
            "{text}"
        );
        // The IMAGE column starts at the same place on every row.
        let at = |l: &str, s: &str| l.find(s).unwrap();
        assert_eq!(at(lines[1], "nginx"), at(lines[2], "api@"));
        assert_eq!(lines[3], "2 image sites");
    }
}
