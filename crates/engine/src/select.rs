//! Which cells of the matrix a run takes: `--env` / `--app` globs, less `--skip-cell` ones.

use crate::Fatal;
use imagegate_fleet::Cell;

/// The narrowing flags of a run, as given (globs).
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    /// `--env` patterns (any matches): environment names.
    pub envs: &'a [String],
    /// `--app` patterns (any matches): app or component names.
    pub apps: &'a [String],
    /// `--skip-cell` patterns: `ENV/APP`, as `imagegate cells` names cells.
    pub skip_cells: &'a [String],
}

fn pattern(flag: &str, p: &str) -> Result<globset::GlobMatcher, Fatal> {
    globset::Glob::new(p)
        .map(|g| g.compile_matcher())
        .map_err(|e| Fatal(format!("{flag} {p}: not a valid pattern ({e})")))
}

/// The cells of `cells` that `m` selects. A pattern that
/// matches nothing is a usage error (a typo must not narrow the run to nothing), and so is a
/// selection of no cell.
pub fn select(cells: &[Cell], m: &Selection<'_>) -> Result<Vec<Cell>, Fatal> {
    let envs: Vec<_> = m
        .envs
        .iter()
        .map(|e| pattern("--env", e).map(|g| (e, g)))
        .collect::<Result<_, _>>()?;
    let apps: Vec<_> = m
        .apps
        .iter()
        .map(|a| pattern("--app", a).map(|g| (a, g)))
        .collect::<Result<_, _>>()?;
    let skips: Vec<_> = m
        .skip_cells
        .iter()
        .map(|s| pattern("--skip-cell", s).map(|g| (s, g)))
        .collect::<Result<_, _>>()?;
    for (env, g) in &envs {
        if !cells.iter().any(|c| g.is_match(&c.environment)) {
            let known: std::collections::BTreeSet<_> =
                cells.iter().map(|c| c.environment.as_str()).collect();
            let known: Vec<&str> = known.into_iter().collect();
            let close = imagegate_fleet::closest(env, &known)
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            return Err(Fatal(format!(
                "--env {env}: no such environment{close} (known: {})",
                known.join(", ")
            )));
        }
    }
    let app_of =
        |g: &globset::GlobMatcher, c: &Cell| g.is_match(&c.app) || g.is_match(&c.component);
    for (app, g) in &apps {
        if !cells.iter().any(|c| app_of(g, c)) {
            return Err(Fatal(format!(
                "--app {app}: no cell has this app or component name"
            )));
        }
    }
    let cell_name = |c: &Cell| format!("{}/{}", c.environment, c.app);
    for (skip, g) in &skips {
        if !skip.contains('/') || !cells.iter().any(|c| g.is_match(cell_name(c))) {
            return Err(Fatal(format!(
                "--skip-cell {skip}: matches no cell (write ENV/APP, as `imagegate cells` names them)"
            )));
        }
    }
    let env_ok = |c: &Cell| envs.is_empty() || envs.iter().any(|(_, g)| g.is_match(&c.environment));
    let app_ok = |c: &Cell| apps.is_empty() || apps.iter().any(|(_, g)| app_of(g, c));
    let kept = |c: &Cell| !skips.iter().any(|(_, g)| g.is_match(cell_name(c)));
    let selected: Vec<Cell> = cells
        .iter()
        .filter(|c| env_ok(c) && app_ok(c) && kept(c))
        .cloned()
        .collect();
    // A selection of nothing would pass having judged nothing: the hook and the action are told
    // to narrow with exactly these flags, so an empty intersection is a usage error.
    if selected.is_empty() && cells.is_empty() {
        return Err(Fatal(
            "the configuration makes no cell to render; nothing would be judged\n  hint: \
             `imagegate cells` lists the cells and every Argo CD application that is not judged, \
             with why"
                .to_string(),
        ));
    }
    if selected.is_empty() {
        let theirs: Vec<String> = cells.iter().filter(|c| app_ok(c)).map(cell_name).collect();
        let what = if m.apps.is_empty() {
            "no cell".to_string()
        } else {
            format!(
                "the cells of --app {} are {}",
                m.apps.join(", "),
                theirs.join(", ")
            )
        };
        return Err(Fatal(format!(
            "--env {} --app {} selects no cell ({what}); nothing would be judged\n  hint: pick an environment those cells are in (a cluster-scoped component's cells are in its cluster environment, for example cluster-<type>)",
            m.envs.join(","),
            m.apps.join(","),
        )));
    }
    Ok(selected)
}

/// Writes the `imagegate cells` listing: each cell with its release, namespace and chart, the
/// Argo CD manifest (and generator element) it came from, its value stack (missing files
/// marked), inline values and parameters, and its problems, then the count and the Argo CD
/// applications that are not judged; every field from the repository made safe for a terminal.
pub fn write_listing(
    out: &mut dyn std::io::Write,
    cells: &[Cell],
    not_judged: &[imagegate_report::NotJudgedApp],
) -> std::io::Result<()> {
    let shown = imagegate_report::terminal_line;
    for c in cells {
        writeln!(
            out,
            "{}/{}  release={} namespace={} chart={}",
            shown(&c.environment),
            shown(&c.app),
            shown(&c.release),
            shown(&c.namespace),
            shown(&c.chart)
        )?;
        if let Some(origin) = &c.argocd {
            writeln!(out, "  from {}", shown(&origin.describe()))?;
        }
        for v in &c.value_files {
            let mark = if v.present {
                "  -f"
            } else {
                "  (missing, skipped)"
            };
            writeln!(out, "{mark} {}", shown(&v.path))?;
        }
        if let Some(inline) = &c.inline_values {
            writeln!(
                out,
                "  -f ({} at {}:{})",
                shown(&inline.field),
                shown(&inline.file),
                inline.line
            )?;
        }
        for p in &c.parameters {
            writeln!(
                out,
                "  {} {}={}  ({}:{})",
                p.flag(),
                shown(&p.name),
                shown(&p.value),
                shown(&p.file),
                p.line
            )?;
        }
        for p in &c.problems {
            writeln!(out, "  problem: {}", shown(p))?;
        }
    }
    writeln!(out, "{} cells", cells.len())?;
    for app in not_judged {
        writeln!(out, "not judged: {}", shown(&app.sentence()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cells of `envs` × `components`, named `{component}-{env}`.
    fn matrix(envs: &[&str], components: &[&str]) -> Vec<Cell> {
        let dir = tempfile::tempdir().unwrap();
        let repo = imagegate_fleet::Repo::open(dir.path()).unwrap();
        let text = format!(
            "version: 1\nenvironments: [{}]\ncomponents: [{}]\nnaming: {{app: \"{{name}}-{{env}}\"}}\n",
            envs.iter().map(|e| format!("{{name: {e}}}")).collect::<Vec<_>>().join(", "),
            components
                .iter()
                .map(|c| format!("{{name: {c}, chart: charts/{c}}}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let cfg = crate::Config::from_text(repo, "imagegate.yaml", &text).unwrap();
        cfg.cells().unwrap()
    }

    fn names(cells: &[Cell]) -> Vec<String> {
        cells
            .iter()
            .map(|c| format!("{}/{}", c.environment, c.app))
            .collect()
    }

    fn sel<'a>(envs: &'a [String], apps: &'a [String], skips: &'a [String]) -> Selection<'a> {
        Selection {
            envs,
            apps,
            skip_cells: skips,
        }
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn globs_narrow_and_skips_remove() {
        let cells = matrix(&["dev", "prod"], &["web", "api"]);
        let got = select(&cells, &sel(&v(&["d*"]), &[], &[])).unwrap();
        assert_eq!(names(&got), ["dev/api-dev", "dev/web-dev"]);
        let got = select(&cells, &sel(&[], &v(&["web"]), &v(&["prod/*"]))).unwrap();
        assert_eq!(names(&got), ["dev/web-dev"]);
        assert_eq!(select(&cells, &sel(&[], &[], &[])).unwrap().len(), 4);
    }

    #[test]
    fn a_pattern_that_matches_nothing_is_an_error_with_a_suggestion() {
        let cells = matrix(&["staging"], &["web"]);
        let e = select(&cells, &sel(&v(&["stagin"]), &[], &[])).unwrap_err();
        assert!(e.0.contains("did you mean `staging`"), "{}", e.0);
        let e = select(&cells, &sel(&[], &v(&["nope"]), &[])).unwrap_err();
        assert!(e.0.contains("--app nope"), "{}", e.0);
        let e = select(&cells, &sel(&[], &[], &v(&["web-staging"]))).unwrap_err();
        assert!(e.0.contains("write ENV/APP"), "{}", e.0);
        let e = select(&cells, &sel(&[], &[], &v(&["["]))).unwrap_err();
        assert!(e.0.contains("not a valid pattern"), "{}", e.0);
    }

    #[test]
    fn an_empty_intersection_is_an_error_not_an_empty_run() {
        let cells: Vec<Cell> = matrix(&["dev", "prod"], &["web", "api"])
            .into_iter()
            .filter(|c| c.app == "web-dev" || c.app == "api-prod")
            .collect();
        let e = select(&cells, &sel(&v(&["dev"]), &v(&["api"]), &[])).unwrap_err();
        assert!(e.0.contains("selects no cell"), "{}", e.0);
        assert!(e.0.contains("prod/api-prod"), "{}", e.0);
        // A fleet of no cell at all (every Argo CD application not judged, say) is one too.
        let e = select(&[], &sel(&[], &[], &[])).unwrap_err();
        assert!(e.0.contains("makes no cell to render"), "{}", e.0);
        let e = select(&cells, &sel(&[], &[], &v(&["*/*"]))).unwrap_err();
        assert!(e.0.contains("nothing would be judged"), "{}", e.0);
    }
}
