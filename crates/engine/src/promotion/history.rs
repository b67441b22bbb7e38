//! `--history N`: the digests the upstream side rendered in the last N commits.
//!
//! Each commit's tree is read from git's raw objects into a temporary folder (the checkout, the index
//! and the refs are never touched), its own `imagegate.yaml` is loaded there, and only the cells
//! that can settle an open question are rendered: the upstream environment's cells of the
//! components whose downstream digest was not found today. The search walks the first-parent
//! history of `HEAD` (the states the branch actually had) newest first and stops as soon as every
//! question is settled, so a clean fleet renders nothing and a drifted one at most
//! N × (questioned components) cells.

use crate::renderer::render_each;
use crate::Config;
use crate::{convert, Fatal, Observer, Renderer};
use anyhow::Result;
use imagegate_policy::PromotionSettings;
use imagegate_render::RenderOptions;
use std::collections::{BTreeMap, BTreeSet};

/// Most commits `--history` may search.
pub const MAX_DEPTH: usize = 100;

/// The open questions: which (upstream environment, repository, digest) must be found, and the
/// components whose upstream cells may render them.
#[derive(Debug, Default)]
pub struct Wanted {
    questions: BTreeSet<(String, String, String)>,
    components: BTreeMap<String, BTreeSet<String>>,
}

impl Wanted {
    /// Asks whether `environment` rendered `repository@digest`, in the cell of `component`.
    pub fn add(&mut self, environment: &str, component: &str, repository: &str, digest: &str) {
        self.questions.insert((
            environment.to_string(),
            repository.to_string(),
            digest.to_string(),
        ));
        self.components
            .entry(environment.to_string())
            .or_default()
            .insert(component.to_string());
    }
}

/// Searches the last `depth` commits; returns the questions answered (environment, repository,
/// digest).
pub fn search(
    cfg: &Config,
    renderer: &dyn Renderer,
    opts: &RenderOptions,
    observer: &dyn Observer,
    promotion: &PromotionSettings,
    wanted: &Wanted,
    depth: usize,
) -> Result<BTreeSet<(String, String, String)>> {
    if depth > MAX_DEPTH {
        return Err(Fatal(format!(
            "--history {depth}: at most {MAX_DEPTH} commits are searched (each may render cells)"
        ))
        .into());
    }
    // The checkout imagegate runs in, and the configuration's folder inside each commit.
    let repo = crate::git::Git::discover().map_err(|e| {
        Fatal(format!(
            "--history needs the repository in git: {}\n  hint: run in a git checkout, or drop --history",
            e.0
        ))
    })?;
    let prefix = repo.prefix_of(cfg.repo.root())?;
    let commits = repo
        .first_parents(depth)
        .map_err(|e| Fatal(format!("--history: cannot list commits: {}", e.0)))?;
    if commits.len() < depth {
        let shallow = repo.is_shallow();
        observer.warn(&format!(
            "--history {depth}: only {} commit(s) available{}",
            commits.len(),
            if shallow {
                " (a shallow clone: fetch with depth N+1, e.g. actions/checkout `fetch-depth: 0`)"
            } else {
                ""
            }
        ));
    }
    let mut found = BTreeSet::new();
    for commit in &commits {
        if wanted.questions.iter().all(|q| found.contains(q)) {
            break;
        }
        let dir = match repo.unpack(commit, &prefix) {
            Ok(Some(dir)) => dir,
            Ok(None) => {
                observer.warn(&format!(
                    "--history: skipping commit {commit}: it has no {prefix}/ folder"
                ));
                continue;
            }
            Err(e) => {
                observer.warn(&format!("--history: skipping commit {commit}: {e}"));
                continue;
            }
        };
        let config_path = dir.path().join(&cfg.file);
        let old = match Config::load(&config_path) {
            Ok(c) => c,
            Err(e) => {
                observer.warn(&format!(
                    "--history: skipping commit {commit}: its configuration does not load: {e}"
                ));
                continue;
            }
        };
        let cells: Vec<_> = match old.cells() {
            Ok(cells) => cells
                .into_iter()
                .filter(|c| {
                    wanted
                        .components
                        .get(&c.environment)
                        .is_some_and(|comps| comps.contains(&c.component))
                })
                .collect(),
            Err(e) => {
                observer.warn(&format!(
                    "--history: skipping commit {commit}: its matrix does not resolve: {e}"
                ));
                continue;
            }
        };
        let decode = crate::pipeline::decode_options(&old.model.policy);
        let rendered = render_each(renderer, &old.repo, &cells, opts, None, |i, result, _| {
            let Ok(rendered) = result else {
                return BTreeSet::new();
            };
            let decoded = imagegate_decode::decode_stream(&rendered.stdout, &decode);
            let ctx = imagegate_policy::CellContext {
                environment: cells[i].environment.clone(),
                app: cells[i].app.clone(),
                chart: cells[i].chart.clone(),
            };
            super::digests_of(promotion, &convert::inventory(&ctx, &decoded))
        });
        for set in rendered {
            found.extend(set.into_iter().filter(|q| wanted.questions.contains(q)));
        }
    }
    Ok(found)
}
