//! `imagegate audit --out DIR`: the nightly fleet audit.
//!
//! One run over every cell (or one shard of them) that writes everything a nightly job keeps:
//! the JSON report, SARIF, JUnit, the markdown summary, the image inventory as JSON and CSV, and
//! with `--baseline` the trend since the previous audit (`trend.json`, and a section of the
//! summary). Stdout gets a short text summary; the exit status is `check`'s.

use crate::cli::AuditArgs;
use crate::convert::InventoryRow;
use crate::fleet::{Coverage, Plan};
use crate::output::{rule_meta, sanitize_terminal, stdout};
use crate::Fatal;
use anyhow::{Context, Result};
use imagegate_render::Helm;
use imagegate_report::{Format, FormatOptions, ObjectRef, Report, ReportFinding, TextOptions};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The schema name of `images.json`.
pub const IMAGES_SCHEMA: &str = "imagegate/images/v1";
/// The schema name of `trend.json`.
pub const TREND_SCHEMA: &str = "imagegate/trend/v1";

pub fn run(args: AuditArgs) -> Result<u8> {
    let shard = crate::shard::parse(args.fleet.shard.as_deref())?;
    let cfg = super::load_config(&super::config_path(&args.matrix.config))?;
    let mut cells = super::select_cells(&cfg, &args.matrix)?;
    let coverage = match shard {
        Some(s) => {
            cells = s.select(cells);
            Coverage::Shard(s)
        }
        None if args.matrix.is_whole() => Coverage::Full,
        None => Coverage::Narrowed,
    };
    // Read the baseline before the long render: a wrong path is a usage error, found at once.
    let baseline = args.baseline.as_deref().map(Baseline::read).transpose()?;
    let helm = Helm::locate(args.helm.helm.as_deref(), cfg.repo.root())
        .map_err(|e| Fatal(e.to_string()))?;
    let observer = crate::progress::Terminal::new(!args.no_progress);
    let renderer = imagegate_engine::HelmRenderer::new(&helm);
    let ctx = crate::fleet::Context::new(
        &cfg,
        &renderer,
        &args.helm.overrides(),
        args.helm.cache.choice(),
        &observer,
    )?;
    let run = crate::fleet::run(
        &ctx,
        &cells,
        Plan {
            coverage,
            history: args.fleet.history,
            inventory: true,
        },
    )?;
    let images = Images::new(run.inventory, &run.report);
    let trend = baseline.map(|b| Trend::between(&b, &run.report, &images));
    write_set(
        &args.out,
        cfg.repo.root(),
        &run.report,
        &images,
        trend.as_ref(),
    )?;
    Ok(run.report.exit_code(args.warnings_as_errors) as u8)
}

/// `images.json`: the inventory, and the cells whose images are unknown because they failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Reads a previous audit: its folder, or its report.json (with images.json beside it).
    pub fn read(path: &Path) -> Result<Self> {
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
            eprintln!(
                "imagegate: --baseline: no {} beside the report: the trend leaves out digest changes",
                images_path.display()
            );
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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
        let cell = |t: &str| md_cell(t);
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

/// Text safe inside a markdown table cell.
fn md_cell(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('`', "'")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes the audit set into `dir` and prints the short summary on stdout. `root` is the
/// configuration's folder (SARIF paths are written from its checkout's root).
pub fn write_set(
    dir: &Path,
    root: &Path,
    report: &Report,
    images: &Images,
    trend: Option<&Trend>,
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Fatal(format!("--out {}: cannot create: {e}", dir.display())))?;
    let rules = rule_meta();
    let opts = FormatOptions {
        text: TextOptions {
            color: false,
            quiet: false,
        },
        rules: &rules,
        path_prefix: &crate::output::checkout_prefix(root),
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
    ] {
        write(name, &|w| Ok(format.renderer(&opts).render(report, w)?))?;
    }
    write("summary.md", &|w| {
        Format::Markdown.renderer(&opts).render(report, w)?;
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

    let mut out = stdout();
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
        writeln!(out, "  {n:>5}  {}", sanitize_terminal(rule))?;
    }
    if let Some(t) = trend {
        writeln!(
            out,
            "since {}: {} new, {} fixed, {} digest changes",
            sanitize_terminal(&t.baseline),
            t.new_findings.len(),
            t.fixed_findings.len(),
            t.digest_changes
                .as_ref()
                .map_or_else(|| "unknown".to_string(), |c| c.len().to_string())
        )?;
    }
    writeln!(out, "wrote:")?;
    for p in &written {
        writeln!(out, "  {}", sanitize_terminal(&p.display().to_string()))?;
    }
    out.flush()?;
    Ok(())
}
