//! `cargo xtask bench`: imagegate measured side by side with the floor it cannot beat, plain
//! `helm template` of every cell at the same parallelism (method: `docs/performance.md`).
//!
//! Rows are measured interleaved (floor and check alternate which goes first in each
//! repetition), so a machine that gets slower or faster during the run moves both, and the
//! report gives medians and ratios to the floor rather than absolute seconds, which say more
//! about the machine than about imagegate. No target is ever enforced by the exit status: the
//! bench fails only when it cannot measure (a fleet that does not render, imagegate exit 2).

mod fleet;
mod measure;

use crate::helm;
use anyhow::{bail, Context, Result};
use measure::{median, Gc, Sample};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// `.Capabilities.KubeVersion` of the generated fleet (its `helm.kubeVersion`).
const KUBE_VERSION: &str = "1.31.0";
/// The scan stream holds at least this many documents.
const MIN_SCAN_DOCS: usize = 2000;
/// Targets, reported next to the measurements (never enforced).
/// `check` on a cold cache, on the fleet where about one cell in twelve has findings (each of
/// those renders once more for causal provenance): at most this times the floor.
const TARGET_CHECK_RATIO: f64 = 1.25;
/// The same on a fleet where every cell has findings.
const TARGET_CHECK_ALL_FINDINGS_RATIO: f64 = 2.2;
/// `check` with a warm cache: at most this times the floor.
const TARGET_WARM_RATIO: f64 = 0.05;
/// `diff` with one chart changed: at most this times the floor.
const TARGET_DIFF_RATIO: f64 = 0.10;
const TARGET_SCAN_MBPS: f64 = 20.0;
const TARGET_CHECK_RSS_MIB: f64 = 150.0;

/// Command-line options of `cargo xtask bench`.
struct Options {
    charts: usize,
    runs: usize,
    helm_major: u32,
    jobs: usize,
    quick: bool,
    imagegate: Option<PathBuf>,
    keep: bool,
}

const USAGE: &str = "usage: cargo xtask bench [--quick] [--charts N] [--runs N] [--helm-major 3|4] [-j N] [--imagegate PATH] [--keep]\n\
\n  --quick          10 charts x 4 environments, 1 run (CI runs it so the bench keeps working)\
\n  --charts N       charts in the synthetic fleet (default 200; cells = 4 x N)\
\n  --runs N         interleaved repetitions; the report gives medians (default 3)\
\n  --helm-major M   render with the pinned Helm 3 or Helm 4 (default 3)\
\n  -j N             parallel renders, for the floor and for imagegate (default: the number of cores)\
\n  --imagegate PATH measure this binary instead of building target/release/imagegate\
\n  --keep           keep the generated fleet and print where it is";

fn parse(args: &[String], cores: usize) -> Result<Options> {
    let mut o = Options {
        charts: 200,
        runs: 3,
        helm_major: 3,
        jobs: cores,
        quick: false,
        imagegate: None,
        keep: false,
    };
    let (mut charts, mut runs) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--quick" => o.quick = true,
            "--keep" => o.keep = true,
            "--charts" => charts = Some(positive(&value("--charts")?, "--charts")?),
            "--runs" => runs = Some(positive(&value("--runs")?, "--runs")?),
            "-j" | "--jobs" => o.jobs = positive(&value("-j")?, "-j")?,
            "--helm-major" => {
                o.helm_major = match value("--helm-major")?.as_str() {
                    "3" => 3,
                    "4" => 4,
                    other => bail!("--helm-major takes 3 or 4, not {other:?}"),
                }
            }
            "--imagegate" => o.imagegate = Some(PathBuf::from(value("--imagegate")?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    o.charts = charts.unwrap_or(if o.quick { 10 } else { 200 });
    o.runs = runs.unwrap_or(if o.quick { 1 } else { 3 });
    Ok(o)
}

fn positive(v: &str, name: &str) -> Result<usize> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{name} takes a positive number, not {v:?}"),
    }
}

/// The cargo target folder: `CARGO_TARGET_DIR` when set (relative to the workspace root, as
/// cargo resolves it there), else `<root>/target`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => root.join(d),
        _ => root.join("target"),
    }
}

/// Runs `floor` and `check` back to back, `floor` first when `floor_first`.
fn paired<F, C>(
    floor_first: bool,
    floor: impl FnOnce() -> Result<F>,
    check: impl FnOnce() -> Result<C>,
) -> Result<(F, C)> {
    if floor_first {
        let f = floor()?;
        Ok((f, check()?))
    } else {
        let c = check()?;
        Ok((floor()?, c))
    }
}

/// Runs the benchmark; see the module documentation.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let o = parse(args, cores)?;
    let load_start = loadavg();

    let helms = helm::provision_all(root)?;
    let h = helms
        .iter()
        .find(|h| h.major == o.helm_major)
        .with_context(|| format!("no pinned helm with major version {}", o.helm_major))?;
    let helm_path = h.path.clone();
    let helm_version =
        capture(Command::new(&helm_path).args(["version", "--template", "{{.Version}}"]))
            .unwrap_or_else(|_| h.version.to_string());

    let target = target_dir(root);
    let imagegate = match &o.imagegate {
        Some(p) => p.clone(),
        None => {
            crate::status(crate::cargo().current_dir(root).args([
                "build",
                "--release",
                "-p",
                "imagegate",
            ]))
            .context(
                "building imagegate in release mode (the bench measures the release binary)",
            )?;
            target.join("release/imagegate")
        }
    };
    if !imagegate.is_file() {
        bail!("{} does not exist", imagegate.display());
    }
    // Some rows run inside the fleet's folder: a relative path must keep its meaning.
    let imagegate = imagegate.canonicalize()?;
    let imagegate_version = capture(Command::new(&imagegate).arg("--version"))
        .unwrap_or_else(|e| format!("unknown ({e:#})"));

    let work = tempfile::Builder::new()
        .prefix("imagegate-bench-")
        .tempdir()
        .context("creating the bench's temporary folder")?;
    let work_path = work.path().to_path_buf();
    let _work_guard = if o.keep {
        // The caller asked to inspect the fleet afterwards.
        let _ = work.keep();
        None
    } else {
        Some(work)
    };
    let home = work_path.join("helm-home");
    for sub in ["home", "cache", "config", "data", "plugins"] {
        std::fs::create_dir_all(home.join(sub))?;
    }
    let fleet_root = work_path.join("fleet");
    let fleet = fleet::generate(&fleet_root, o.charts, false)?;
    // The second fleet: the same charts, every cell with findings, so every cell pays the
    // marker render of causal provenance.
    let all_root = work_path.join("fleet-all-findings");
    let all_fleet = fleet::generate(&all_root, o.charts, true)?;
    let all_config = all_root.join("imagegate.yaml");
    let config = fleet_root.join("imagegate.yaml");
    let n_cells = fleet.cells.len();
    eprintln!(
        "xtask bench: fleet of {} charts x {} environments = {n_cells} cells in {}{}",
        fleet.charts,
        fleet::ENVS.len(),
        fleet_root.display(),
        if o.keep { " (kept)" } else { "" }
    );

    // Validation, untimed. The fleet must render with plain helm (this pass also warms the
    // page cache and builds the scan stream), and imagegate must see the same matrix.
    eprintln!(
        "xtask bench: warm-up: rendering every cell with {} ...",
        helm_version
    );
    let warm = measure::render_all(
        &helm_path,
        &home,
        &fleet.cells,
        KUBE_VERSION,
        o.jobs,
        true,
        Gc::AsImagegate,
    )
    .context("the generated fleet does not render with plain helm")?;
    let (warm_floor, outputs) = (warm.seconds, warm.outputs);
    let rendered_bytes: usize = outputs.iter().map(Vec::len).sum();
    let rendered_docs: usize = outputs.iter().map(|o| measure::count_documents(o)).sum();
    eprintln!(
        "xtask bench: warm-up floor {warm_floor:.2}s, {rendered_docs} documents, {:.1} MB",
        rendered_bytes as f64 / 1e6
    );
    let scan_file = work_path.join("scan-stream.yaml");
    let (scan_bytes, scan_docs) = write_scan_stream(&scan_file, &outputs)?;
    drop(outputs);

    check_same_matrix(&imagegate, &config, &fleet_root, &fleet.cells)?;
    // Every check gets the render cache folder it is given (a fresh one for a cold run), so
    // "cold" stays cold once imagegate caches renders by default, and the bench never reads
    // or fills the user's own cache. A binary without a cache ignores these variables.
    let check_on = |config: &Path, cache: &Path| {
        let mut c = Command::new(&imagegate);
        c.env("IMAGEGATE_CACHE_DIR", cache)
            .env("XDG_CACHE_HOME", cache)
            .arg("check")
            .arg("--config")
            .arg(config)
            .args(["--format", "json", "--no-progress", "--helm"])
            .arg(&helm_path)
            .arg("-j")
            .arg(o.jobs.to_string());
        c
    };
    let check_cmd = |cache: &Path| check_on(&config, cache);
    let scan_cmd = || {
        let mut c = Command::new(&imagegate);
        c.arg("scan").arg(&scan_file).args(["--format", "json"]);
        c
    };
    let check_summary = validate_check(
        check_cmd(&work_path.join("cache-warmup")),
        &work_path,
        n_cells,
    )?;
    eprintln!(
        "xtask bench: warm-up check: {}",
        summary_line(&check_summary)
    );
    // The every-cell-with-findings fleet: it renders with plain helm, imagegate sees its
    // matrix, and every cell really has a finding.
    measure::render_all(
        &helm_path,
        &home,
        &all_fleet.cells,
        KUBE_VERSION,
        o.jobs,
        false,
        Gc::AsImagegate,
    )
    .context("the every-cell-with-findings fleet does not render with plain helm")?;
    let all_work = work_path.join("all-findings");
    std::fs::create_dir_all(&all_work)?;
    let all_summary = validate_check(
        check_on(&all_config, &all_work.join("cache-warmup")),
        &all_work,
        all_fleet.cells.len(),
    )?;
    let with_findings = cells_with_findings(&all_work.join("check-warmup.json"))?;
    if with_findings != all_fleet.cells.len() {
        bail!(
            "the every-cell-with-findings fleet has findings in {with_findings} of {} cells",
            all_fleet.cells.len()
        );
    }
    eprintln!(
        "xtask bench: warm-up check, every cell with findings: {}",
        summary_line(&all_summary)
    );
    let scan_summary = validate_scan(scan_cmd(), &work_path)?;
    eprintln!("xtask bench: warm-up scan: {}", summary_line(&scan_summary));

    // The PR-check row: the fleet becomes a git repository, and one chart gets a new template in
    // the working tree (4 cells change, every other cell's inputs are identical on both sides).
    let changed = prepare_diff(&fleet_root)?;
    eprintln!("xtask bench: diff row: base HEAD, working tree changes {changed}");
    let diff_cmd = |cache: &Path| {
        let mut c = Command::new(&imagegate);
        c.current_dir(&fleet_root)
            .env("IMAGEGATE_CACHE_DIR", cache)
            .env("XDG_CACHE_HOME", cache)
            .args(["diff", "--base", "HEAD", "--config"])
            .arg(&config)
            .args(["--format", "json", "--no-progress", "--helm"])
            .arg(&helm_path)
            .arg("-j")
            .arg(o.jobs.to_string());
        c
    };

    // The measured repetitions.
    let mut floor: Vec<measure::Pass> = Vec::new();
    let mut check: Vec<Sample> = Vec::new();
    let mut warm: Vec<Sample> = Vec::new();
    let mut scan: Vec<Sample> = Vec::new();
    let mut diff: Vec<Sample> = Vec::new();
    let mut floor_all: Vec<measure::Pass> = Vec::new();
    let mut floor_stock: Vec<measure::Pass> = Vec::new();
    let mut check_all: Vec<Sample> = Vec::new();
    let mut failure: Option<String> = None;
    // Runs one measured imagegate command, logs it, and keeps the first failure (an exit other
    // than 0 or 1) to report after the table.
    let mut measured =
        |cmd: &mut Command, err: &Path, label: &str, what: &str, r: usize| -> Result<Sample> {
            let s = measure::run_measured(cmd, err)?;
            let prec = if label == "scan" { 3 } else { 2 };
            eprintln!(
                "xtask bench: run {}/{}: {label} {:.prec$}s (exit {})",
                r + 1,
                o.runs,
                s.seconds,
                s.exit
            );
            if !matches!(s.exit, 0 | 1) && failure.is_none() {
                failure = Some(format!(
                    "{what} exited {} in run {}: {}",
                    s.exit,
                    r + 1,
                    tail(err)
                ));
            }
            Ok(s)
        };
    for r in 0..o.runs {
        let pass_of = |cells: &[fleet::Cell], gc| {
            measure::render_all(&helm_path, &home, cells, KUBE_VERSION, o.jobs, false, gc)
        };
        // Each row of a ratio runs right beside its own floor, and which of the two goes first
        // alternates, so neither always inherits the other's thermal or cache state and a
        // machine that changes speed between pairs moves both sides of each ratio.
        let floor_first = r % 2 == 0;
        let cache = work_path.join(format!("cache-{r}"));
        let floor_pass = |cells: &[fleet::Cell], label: &str| -> Result<measure::Pass> {
            let pass = pass_of(cells, Gc::AsImagegate)?;
            eprintln!(
                "xtask bench: run {}/{}: {label} {:.2}s",
                r + 1,
                o.runs,
                pass.seconds
            );
            Ok(pass)
        };
        let err = work_path.join(format!("check-{r}.stderr"));
        let (f, c) = paired(
            floor_first,
            || floor_pass(&fleet.cells, "floor"),
            || measured(&mut check_cmd(&cache), &err, "check", "imagegate check", r),
        )?;
        floor.push(f);
        check.push(c);
        let err = work_path.join(format!("check-all-{r}.stderr"));
        let cache_all = work_path.join(format!("cache-all-{r}"));
        let (f, c) = paired(
            floor_first,
            || floor_pass(&all_fleet.cells, "floor, all findings"),
            || {
                measured(
                    &mut check_on(&all_config, &cache_all),
                    &err,
                    "check all findings",
                    "imagegate check (every cell with findings)",
                    r,
                )
            },
        )?;
        floor_all.push(f);
        check_all.push(c);
        floor_stock.push(pass_of(&fleet.cells, Gc::Stock)?);
        // The warm row exists only when the binary really cached something: a second run on
        // the cache the cold run of the same fleet just filled (not the
        // every-cell-with-findings fleet's, whose charts differ).
        if has_files(&cache) {
            let err = work_path.join(format!("check-warm-{r}.stderr"));
            let s = measured(
                &mut check_cmd(&cache),
                &err,
                "check warm",
                "imagegate check (warm cache)",
                r,
            )?;
            warm.push(s);
        }
        let err = work_path.join(format!("scan-{r}.stderr"));
        let s = measured(&mut scan_cmd(), &err, "scan", "imagegate scan", r)?;
        scan.push(s);
        // The diff row, cold: a fresh cache, so it renders the changed cells on both sides
        // with helm, as a PR check on a fresh CI runner does.
        let err = work_path.join(format!("diff-{r}.stderr"));
        let cache = work_path.join(format!("diff-cache-{r}"));
        let s = measured(&mut diff_cmd(&cache), &err, "diff", "imagegate diff", r)?;
        diff.push(s);
    }

    let report = Report {
        cores,
        o: &o,
        cells: n_cells,
        helm_version: &helm_version,
        helm_path: &helm_path,
        imagegate: &imagegate,
        imagegate_version: &imagegate_version,
        rendered_docs,
        rendered_bytes,
        scan_bytes,
        scan_docs,
        floor: &floor,
        check: &check,
        warm: &warm,
        scan: &scan,
        diff: &diff,
        floor_all: &floor_all,
        floor_stock: &floor_stock,
        check_all: &check_all,
        violations: &fleet.violations,
        check_summary: &check_summary,
        warm_floor,
        load: [load_start, loadavg()],
    };
    print!("{}", report.table());
    let json = report.json();
    let out_dir = target.join("bench");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let text = serde_json::to_string_pretty(&json)? + "\n";
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let file = out_dir.join(format!("bench-{stamp}.json"));
    std::fs::write(&file, &text).with_context(|| format!("writing {}", file.display()))?;
    std::fs::write(out_dir.join("latest.json"), &text)?;
    println!("report: {} (and latest.json)", file.display());
    if let Some(f) = failure {
        bail!("{f}");
    }
    Ok(())
}

/// Whether `dir` holds at least one file, at any depth.
fn has_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let p = e.path();
            if p.is_dir() {
                has_files(&p)
            } else {
                true
            }
        })
    })
}

/// Trimmed stdout of a command that must succeed.
fn capture(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The last lines of a captured stderr file.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(15);
    let t = lines[start..].join("\n");
    if t.trim().is_empty() {
        "(nothing on stderr)".into()
    } else {
        t
    }
}

/// Concatenates rendered cells into one stream of at least [`MIN_SCAN_DOCS`] documents (every
/// cell once; for a small fleet, round again), and returns its bytes and documents.
fn write_scan_stream(path: &Path, outputs: &[Vec<u8>]) -> Result<(usize, usize)> {
    let docs: Vec<usize> = outputs
        .iter()
        .map(|o| measure::count_documents(o))
        .collect();
    if docs.iter().sum::<usize>() == 0 {
        bail!("the fleet rendered no documents");
    }
    let mut stream: Vec<u8> = Vec::new();
    let mut total = 0;
    'rounds: loop {
        for (out, d) in outputs.iter().zip(&docs) {
            stream.extend_from_slice(out);
            if !out.ends_with(b"\n") {
                stream.push(b'\n');
            }
            total += d;
        }
        if total >= MIN_SCAN_DOCS {
            break 'rounds;
        }
    }
    std::fs::write(path, &stream).with_context(|| format!("writing {}", path.display()))?;
    Ok((stream.len(), total))
}

/// Checks that `imagegate cells --format json` lists exactly the fleet's cells, each with the
/// value files the floor passes to helm (so the floor and imagegate render the same work).
fn check_same_matrix(
    imagegate: &Path,
    config: &Path,
    fleet_root: &Path,
    cells: &[fleet::Cell],
) -> Result<()> {
    let out = capture(
        Command::new(imagegate)
            .arg("cells")
            .arg("--config")
            .arg(config)
            .args(["--format", "json"]),
    )
    .context("`imagegate cells` on the generated fleet")?;
    let v: Value = serde_json::from_str(&out).context("`imagegate cells --format json` output")?;
    let list = v
        .get("cells")
        .and_then(Value::as_array)
        .context("`imagegate cells --format json` holds no list of cells")?;
    if list.len() != cells.len() {
        bail!(
            "`imagegate cells --config {}` lists {} cells, the fleet has {} (charts x environments)",
            config.display(),
            list.len(),
            cells.len()
        );
    }
    let theirs: std::collections::BTreeMap<&str, Vec<&str>> = list
        .iter()
        .map(|c| {
            let release = c.get("release").and_then(Value::as_str).unwrap_or("?");
            let files = c
                .get("valueFiles")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|f| f.get("present").and_then(Value::as_bool) == Some(true))
                .filter_map(|f| f.get("path").and_then(Value::as_str))
                .collect();
            (release, files)
        })
        .collect();
    for cell in cells {
        let ours: Vec<String> = cell
            .values
            .iter()
            .map(|p| {
                p.strip_prefix(fleet_root)
                    .unwrap_or(p)
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        match theirs.get(cell.release.as_str()) {
            None => bail!(
                "`imagegate cells` has no cell with release {}",
                cell.release
            ),
            Some(t) if *t != ours => bail!(
                "cell {}: imagegate would pass {t:?}, the floor passes {ours:?}",
                cell.release
            ),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Runs `imagegate check` once, untimed, keeping its JSON report, and refuses to measure a
/// run that could not render the fleet: exit 2, a wrong cell count or failed cells.
fn validate_check(mut cmd: Command, work: &Path, cells: usize) -> Result<Value> {
    let report = work.join("check-warmup.json");
    let stderr = work.join("check-warmup.stderr");
    cmd.stdout(std::fs::File::create(&report)?)
        .stderr(std::fs::File::create(&stderr)?);
    let st = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !matches!(st.code(), Some(0 | 1)) {
        bail!(
            "imagegate check on the generated fleet failed with {st}:\n{}",
            tail(&stderr)
        );
    }
    let v: Value = serde_json::from_slice(&std::fs::read(&report)?)
        .context("imagegate check --format json is not JSON")?;
    let summary = v.get("summary").cloned().unwrap_or(Value::Null);
    let got = summary.get("cells").and_then(Value::as_u64);
    if got != Some(cells as u64) {
        bail!("imagegate check reports {got:?} cells; the fleet has {cells}");
    }
    let failed = summary.get("failed").and_then(Value::as_u64).unwrap_or(0);
    if failed > 0 {
        let errors: Vec<String> = v
            .get("cells")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| c.get("status").and_then(Value::as_str) == Some("failed"))
            .take(5)
            .map(|c| {
                format!(
                    "  {}/{}: {}",
                    c.get("environment").and_then(Value::as_str).unwrap_or("?"),
                    c.get("app").and_then(Value::as_str).unwrap_or("?"),
                    c.get("error").and_then(Value::as_str).unwrap_or("?")
                )
            })
            .collect();
        bail!(
            "imagegate check failed to render {failed} of {cells} cells that plain helm renders:\n{}",
            errors.join("\n")
        );
    }
    Ok(summary)
}

/// How many cells of the report at `path` have at least one finding.
fn cells_with_findings(path: &Path) -> Result<usize> {
    let v: Value = serde_json::from_slice(&std::fs::read(path)?)
        .context("imagegate check --format json is not JSON")?;
    let cells: std::collections::BTreeSet<(String, String)> = v
        .get("findings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|f| {
            let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            (s("environment"), s("app"))
        })
        .filter(|(e, a)| !e.is_empty() || !a.is_empty())
        .collect();
    Ok(cells.len())
}

/// Runs `imagegate scan` once, untimed, and returns its summary.
fn validate_scan(mut cmd: Command, work: &Path) -> Result<Value> {
    let stderr = work.join("scan-warmup.stderr");
    cmd.stderr(std::fs::File::create(&stderr)?);
    let out = cmd
        .output()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !matches!(out.status.code(), Some(0 | 1)) {
        bail!(
            "imagegate scan of the rendered stream failed with {}:\n{}",
            out.status,
            tail(&stderr)
        );
    }
    let v: Value =
        serde_json::from_slice(&out.stdout).context("imagegate scan --format json is not JSON")?;
    Ok(v.get("summary").cloned().unwrap_or(Value::Null))
}

fn summary_line(summary: &Value) -> String {
    let findings: u64 = summary
        .get("findings")
        .and_then(Value::as_object)
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    format!(
        "{} cells, {} failed, {} images, {findings} findings",
        summary.get("cells").unwrap_or(&Value::Null),
        summary.get("failed").unwrap_or(&Value::Null),
        summary.get("images").unwrap_or(&Value::Null),
    )
}

/// Everything measured, for the table and the JSON.
struct Report<'a> {
    cores: usize,
    o: &'a Options,
    cells: usize,
    helm_version: &'a str,
    helm_path: &'a Path,
    imagegate: &'a Path,
    imagegate_version: &'a str,
    rendered_docs: usize,
    rendered_bytes: usize,
    scan_bytes: usize,
    scan_docs: usize,
    floor: &'a [measure::Pass],
    check: &'a [Sample],
    /// Empty when the binary has no render cache.
    warm: &'a [Sample],
    diff: &'a [Sample],
    /// The floor and the cold check of the fleet where every cell has findings.
    floor_all: &'a [measure::Pass],
    /// The floor with Go's default garbage collector, as helm runs from a shell.
    floor_stock: &'a [measure::Pass],
    check_all: &'a [Sample],
    scan: &'a [Sample],
    violations: &'a [(&'static str, usize)],
    check_summary: &'a Value,
    warm_floor: f64,
    /// `/proc/loadavg` at the start and at the end: other work on the machine during the run.
    load: [Option<String>; 2],
}

/// The median over repetitions of `check[r] / floor[r]`, each pair measured side by side.
fn paired_ratio(check: &[Sample], floor: &[measure::Pass]) -> Option<f64> {
    let ratios: Vec<f64> = check
        .iter()
        .zip(floor)
        .filter(|(_, f)| f.seconds > 0.0)
        .map(|(c, f)| c.seconds / f.seconds)
        .collect();
    median(&ratios)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl Report<'_> {
    fn floor_median(&self) -> Option<f64> {
        median(&self.floor.iter().map(|p| p.seconds).collect::<Vec<_>>())
    }
    fn floor_cpu(&self) -> Option<f64> {
        median(&self.floor.iter().map(|p| p.cpu_seconds).collect::<Vec<_>>())
    }
    fn cpu(samples: &[Sample]) -> Option<f64> {
        median(&samples.iter().map(|s| s.cpu_seconds).collect::<Vec<_>>())
    }
    fn check_median(&self) -> Option<f64> {
        median(&self.check.iter().map(|s| s.seconds).collect::<Vec<_>>())
    }
    fn scan_median(&self) -> Option<f64> {
        median(&self.scan.iter().map(|s| s.seconds).collect::<Vec<_>>())
    }
    /// The cold check over the floor: the median of each repetition's ratio of the pair that
    /// ran side by side, so a repetition the machine slowed down is one ratio of several
    /// rather than a slow median on one side only.
    fn ratio(&self) -> Option<f64> {
        paired_ratio(self.check, self.floor)
    }
    /// The cold check of the every-cell-with-findings fleet over that fleet's own floor, as
    /// [`Report::ratio`].
    fn all_findings_ratio(&self) -> Option<f64> {
        paired_ratio(self.check_all, self.floor_all)
    }
    fn scan_mbps(&self) -> Option<f64> {
        Some(self.scan_bytes as f64 / 1e6 / self.scan_median()?)
    }
    fn scan_docs_per_s(&self) -> Option<f64> {
        Some(self.scan_docs as f64 / self.scan_median()?)
    }
    /// Peak over the repetitions: (own sampled, wait4 tree).
    fn peaks(samples: &[Sample]) -> (Option<f64>, Option<f64>) {
        let own = samples.iter().filter_map(|s| s.own_peak_kib).max().map(mib);
        let tree = samples.iter().map(|s| s.tree_peak_kib).max().map(mib);
        (own, tree)
    }

    /// The targets: (what, target text, measured, pass).
    fn diff_median(&self) -> Option<f64> {
        median(&self.diff.iter().map(|s| s.seconds).collect::<Vec<_>>())
    }

    fn targets(&self) -> Vec<(&'static str, String, Option<f64>, Option<bool>)> {
        let ratio = self.ratio();
        let warm = median(&self.warm.iter().map(|s| s.seconds).collect::<Vec<_>>())
            .zip(self.floor_median())
            .map(|(a, b)| a / b);
        let diff = self
            .diff_median()
            .zip(self.floor_median())
            .map(|(a, b)| a / b);
        let mbps = self.scan_mbps();
        let (own, _) = Self::peaks(self.check);
        vec![
            (
                "check cold vs floor",
                format!("<= {TARGET_CHECK_RATIO:.2} x"),
                ratio,
                ratio.map(|r| r <= TARGET_CHECK_RATIO),
            ),
            (
                "check cold, all findings",
                format!("<= {TARGET_CHECK_ALL_FINDINGS_RATIO:.2} x"),
                self.all_findings_ratio(),
                self.all_findings_ratio()
                    .map(|r| r <= TARGET_CHECK_ALL_FINDINGS_RATIO),
            ),
            (
                "check warm cache vs floor",
                format!("<= {TARGET_WARM_RATIO:.2} x"),
                warm,
                warm.map(|r| r <= TARGET_WARM_RATIO),
            ),
            (
                "diff one chart vs floor",
                format!("<= {TARGET_DIFF_RATIO:.2} x"),
                diff,
                diff.map(|r| r <= TARGET_DIFF_RATIO),
            ),
            (
                "scan throughput",
                format!(">= {TARGET_SCAN_MBPS:.0} MB/s"),
                mbps,
                mbps.map(|m| m >= TARGET_SCAN_MBPS),
            ),
            (
                "check peak RSS (own)",
                format!("<= {TARGET_CHECK_RSS_MIB:.0} MiB"),
                own,
                own.map(|m| m <= TARGET_CHECK_RSS_MIB),
            ),
        ]
    }

    fn table(&self) -> String {
        let f = |x: Option<f64>, p: usize| x.map_or("-".to_string(), |v| format!("{v:.p$}"));
        let (check_own, check_tree) = Self::peaks(self.check);
        let (scan_own, scan_tree) = Self::peaks(self.scan);
        let rss = |own: Option<f64>, tree: Option<f64>| match (own, tree) {
            (Some(o), Some(t)) => format!("{o:.0} (tree {t:.0})"),
            (None, Some(t)) => format!("? (tree {t:.0})"),
            _ => "-".into(),
        };
        let mut s = String::new();
        s.push_str(&format!(
            "\nimagegate bench: {} charts x {} environments = {} cells, helm {}, {} cores (load {} -> {}), -j {}, {} run(s), medians\n\
             fleet: {} documents, {:.1} MB rendered per full pass; {}\n\n",
            self.o.charts,
            fleet::ENVS.len(),
            self.cells,
            self.helm_version,
            self.cores,
            self.load[0].as_deref().unwrap_or("?"),
            self.load[1].as_deref().unwrap_or("?"),
            self.o.jobs,
            self.o.runs,
            self.rendered_docs,
            self.rendered_bytes as f64 / 1e6,
            self.imagegate_version,
        ));
        s.push_str(&format!(
            "{:<36} {:>9} {:>8} {:>8} {:>8} {:>10} {:>18}\n",
            "row", "median s", "x floor", "CPU s", "MB/s", "docs/s", "peak RSS MiB"
        ));
        s.push_str(&format!(
            "{:<36} {:>9} {:>8} {:>8} {:>8} {:>10} {:>18}\n",
            format!("floor: helm template -j{}", self.o.jobs),
            f(self.floor_median(), 2),
            "1.00",
            f(self.floor_cpu(), 2),
            "",
            "",
            ""
        ));
        {
            let stock = median(
                &self
                    .floor_stock
                    .iter()
                    .map(|p| p.seconds)
                    .collect::<Vec<_>>(),
            );
            let cpu = median(
                &self
                    .floor_stock
                    .iter()
                    .map(|p| p.cpu_seconds)
                    .collect::<Vec<_>>(),
            );
            s.push_str(&format!(
                "{:<36} {:>9} {:>8} {:>8} {:>8} {:>10} {:>18}\n",
                "helm as shipped (bare environment)",
                f(stock, 2),
                f(stock.zip(self.floor_median()).map(|(a, b)| a / b), 2),
                f(cpu, 2),
                "",
                "",
                ""
            ));
        }
        s.push_str(&format!(
            "{:<36} {:>9} {:>8} {:>8} {:>8} {:>10} {:>18}\n",
            "imagegate check (cold)",
            f(self.check_median(), 2),
            f(self.ratio(), 2),
            f(Self::cpu(self.check), 2),
            "",
            "",
            rss(check_own, check_tree)
        ));
        {
            let floor = median(&self.floor_all.iter().map(|p| p.seconds).collect::<Vec<_>>());
            let m = median(&self.check_all.iter().map(|s| s.seconds).collect::<Vec<_>>());
            let (own, tree) = Self::peaks(self.check_all);
            s.push_str(&format!(
                "{:<36} {:>9} {:>8} {:>8} {:>8} {:>10} {:>18}\n",
                "floor, every cell with findings",
                f(floor, 2),
                "1.00",
                "",
                "",
                "",
                ""
            ));
            s.push_str(&format!(
                "{:<36} {:>9} {:>8} {:>8} {:>8} {:>10} {:>18}\n",
                "check (cold), every cell w/ findings",
                f(m, 2),
                f(self.all_findings_ratio(), 2),
                f(Self::cpu(self.check_all), 2),
                "",
                "",
                rss(own, tree)
            ));
        }
        if self.warm.is_empty() {
            s.push_str(&format!(
                "{:<36} {:>9}\n",
                "imagegate check (warm cache)", "not implemented"
            ));
        } else {
            let (own, tree) = Self::peaks(self.warm);
            let m = median(&self.warm.iter().map(|s| s.seconds).collect::<Vec<_>>());
            s.push_str(&format!(
                "{:<36} {:>9} {:>8} {:>8} {:>8} {:>10} {:>18}\n",
                "imagegate check (warm cache)",
                f(m, 2),
                f(m.zip(self.floor_median()).map(|(a, b)| a / b), 2),
                f(Self::cpu(self.warm), 2),
                "",
                "",
                rss(own, tree)
            ));
        }
        {
            let (own, tree) = Self::peaks(self.diff);
            let m = self.diff_median();
            s.push_str(&format!(
                "{:<36} {:>9} {:>8} {:>8} {:>8} {:>10} {:>18}\n",
                "imagegate diff (one chart changed)",
                f(m, 2),
                f(m.zip(self.floor_median()).map(|(a, b)| a / b), 2),
                f(Self::cpu(self.diff), 2),
                "",
                "",
                rss(own, tree)
            ));
        }
        s.push_str(&format!(
            "{:<36} {:>9} {:>8} {:>8} {:>8} {:>10} {:>18}\n",
            format!(
                "imagegate scan ({:.1} MB, {} docs)",
                self.scan_bytes as f64 / 1e6,
                self.scan_docs
            ),
            f(self.scan_median(), 3),
            "",
            f(Self::cpu(self.scan), 2),
            f(self.scan_mbps(), 1),
            f(self.scan_docs_per_s(), 0),
            rss(scan_own, scan_tree)
        ));
        s.push_str("\ntargets (reported, never enforced):\n");
        for (what, target, measured, pass) in self.targets() {
            s.push_str(&format!(
                "  {:<24} {:<14} measured {:>8}  {}\n",
                what,
                target,
                f(measured, 2),
                match pass {
                    Some(true) => "PASS",
                    Some(false) => "FAIL",
                    None => "n/a",
                }
            ));
        }
        let n = self.cells;
        if let (Some(c), Some(fl)) = (Self::cpu(self.check), self.floor_cpu()) {
            s.push_str(&format!(
                "\nimagegate's own CPU (check CPU - floor CPU): {:.2}s = {:.1} ms per cell, {:.1}% of helm's CPU\n",
                c - fl,
                (c - fl) * 1000.0 / n as f64,
                (c - fl) / fl * 100.0
            ));
        }
        s.push_str(
            "\nCPU s: user+system of the row's process tree (helm children included)\npeak RSS: own = imagegate's VmHWM sampled every 5 ms; tree = wait4 ru_maxrss, the largest of imagegate and its helm children\n",
        );
        s
    }

    fn json(&self) -> Value {
        let samples = |v: &[Sample]| -> Vec<Value> {
            v.iter()
                .map(|s| {
                    json!({
                        "seconds": s.seconds,
                        "exit": s.exit,
                        "ownPeakRssMib": s.own_peak_kib.map(mib),
                        "treePeakRssMib": mib(s.tree_peak_kib),
                        "cpuSeconds": s.cpu_seconds,
                    })
                })
                .collect()
        };
        let (check_own, check_tree) = Self::peaks(self.check);
        let (scan_own, scan_tree) = Self::peaks(self.scan);
        json!({
            "schema": "imagegate/bench/v1",
            "unixTime": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            "machine": {
                "cores": self.cores,
                "cpu": cpu_model(),
                "memTotalMib": mem_total_mib(),
                "os": std::env::consts::OS,
                "arch": std::env::consts::ARCH,
                "loadavgStart": self.load[0],
                "loadavgEnd": self.load[1],
            },
            "options": {
                "charts": self.o.charts,
                "runs": self.o.runs,
                "jobs": self.o.jobs,
                "quick": self.o.quick,
                "helmMajor": self.o.helm_major,
            },
            "fleet": {
                "charts": self.o.charts,
                "environments": fleet::ENVS.iter().map(|e| e.name).collect::<Vec<_>>(),
                "cells": self.cells,
                "documents": self.rendered_docs,
                "renderedBytes": self.rendered_bytes,
                "violations": self.violations.iter().map(|(k, n)| json!({"kind": k, "charts": n})).collect::<Vec<_>>(),
                "checkSummary": self.check_summary,
            },
            "helm": { "version": self.helm_version, "path": self.helm_path },
            "imagegate": { "version": self.imagegate_version, "path": self.imagegate },
            "warmupFloorSeconds": self.warm_floor,
            "rows": {
                "floor": {
                    "command": format!("helm template RELEASE CHART --namespace NS --kube-version {KUBE_VERSION} --values ... (-j {})", self.o.jobs),
                    "medianSeconds": self.floor_median(),
                    "medianCpuSeconds": self.floor_cpu(),
                    "runs": self.floor.iter().map(|p| json!({"seconds": p.seconds, "cpuSeconds": p.cpu_seconds})).collect::<Vec<_>>(),
                },
                "floorStockGc": {
                    "command": "the floor with Go's default garbage collector (no GOGC, no GOMEMLIMIT)",
                    "medianSeconds": median(&self.floor_stock.iter().map(|p| p.seconds).collect::<Vec<_>>()),
                    "medianCpuSeconds": median(&self.floor_stock.iter().map(|p| p.cpu_seconds).collect::<Vec<_>>()),
                    "runs": self.floor_stock.iter().map(|p| json!({"seconds": p.seconds, "cpuSeconds": p.cpu_seconds})).collect::<Vec<_>>(),
                },
                "checkCold": {
                    "command": format!("imagegate check --config FLEET/imagegate.yaml --format json --no-progress --helm HELM -j {}", self.o.jobs),
                    "medianSeconds": self.check_median(),
                    "ratioToFloor": self.ratio(),
                    "medianCpuSeconds": Self::cpu(self.check),
                    "peakRssMib": check_own,
                    "treePeakRssMib": check_tree,
                    "runs": samples(self.check),
                },
                "checkColdEveryCellWithFindings": {
                    "command": "the checkCold command on the same charts with every cell carrying a finding (so every cell also renders with markers for causal provenance)",
                    "floorMedianSeconds": median(&self.floor_all.iter().map(|p| p.seconds).collect::<Vec<_>>()),
                    "medianSeconds": median(&self.check_all.iter().map(|s| s.seconds).collect::<Vec<_>>()),
                    "ratioToFloor": self.all_findings_ratio(),
                    "medianCpuSeconds": Self::cpu(self.check_all),
                    "runs": samples(self.check_all),
                    "floorRuns": self.floor_all.iter().map(|p| json!({"seconds": p.seconds, "cpuSeconds": p.cpu_seconds})).collect::<Vec<_>>(),
                },
                "checkWarmCache": if self.warm.is_empty() { Value::Null } else {
                    let m = median(&self.warm.iter().map(|s| s.seconds).collect::<Vec<_>>());
                    let (own, tree) = Self::peaks(self.warm);
                    json!({
                        "command": "the checkCold command again, on the cache its run just filled",
                        "medianSeconds": m,
                        "ratioToFloor": m.zip(self.floor_median()).map(|(a, b)| a / b),
                        "medianCpuSeconds": Self::cpu(self.warm),
                        "peakRssMib": own,
                        "treePeakRssMib": tree,
                        "runs": samples(self.warm),
                    })
                },
                "diffOneChartChanged": {
                    "command": "imagegate diff --base HEAD --format json --no-progress, one chart changed in the working tree, on an empty cache",
                    "medianSeconds": self.diff_median(),
                    "ratioToFloor": self.diff_median().zip(self.floor_median()).map(|(a, b)| a / b),
                    "ratioToCheckCold": self.diff_median().zip(self.check_median()).map(|(a, b)| a / b),
                    "medianCpuSeconds": Self::cpu(self.diff),
                    "runs": samples(self.diff),
                },
                "scan": {
                    "command": "imagegate scan FILE --format json",
                    "bytes": self.scan_bytes,
                    "documents": self.scan_docs,
                    "medianSeconds": self.scan_median(),
                    "mbPerSecond": self.scan_mbps(),
                    "documentsPerSecond": self.scan_docs_per_s(),
                    "medianCpuSeconds": Self::cpu(self.scan),
                    "peakRssMib": scan_own,
                    "treePeakRssMib": scan_tree,
                    "runs": samples(self.scan),
                },
            },
            "targets": self.targets().into_iter().map(|(what, target, measured, pass)| json!({
                "what": what, "target": target, "measured": measured, "pass": pass,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The first three fields of `/proc/loadavg`.
fn loadavg() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn cpu_model() -> Option<String> {
    std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
    })
}

fn mem_total_mib() -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|k| k / 1024)
    })
}

/// Makes the fleet a git repository with one commit, then adds a template to the first chart in
/// the working tree: `imagegate diff --base HEAD` then sees one changed chart. Returns its path.
fn prepare_diff(fleet: &Path) -> Result<String> {
    let git = |args: &[&str]| -> Result<()> {
        let out = Command::new("git")
            .current_dir(fleet)
            .args([
                "-c",
                "user.name=bench",
                "-c",
                "user.email=bench@localhost",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .context("running git (the diff row needs git)")?;
        if !out.status.success() {
            bail!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    };
    git(&["init", "-q"])?;
    git(&["add", "-A"])?;
    git(&["commit", "-q", "-m", "fleet"])?;
    let apps = fleet.join("sources/charts/apps");
    let mut charts: Vec<PathBuf> = std::fs::read_dir(&apps)
        .with_context(|| format!("listing {}", apps.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Chart.yaml").is_file())
        .collect();
    charts.sort();
    let chart = charts.first().context("the fleet has no chart")?;
    std::fs::write(
        chart.join("templates/bench-change.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-bench-change\ndata:\n  changed: \"yes\"\n",
    )?;
    Ok(chart
        .strip_prefix(fleet)
        .unwrap_or(chart)
        .display()
        .to_string())
}
