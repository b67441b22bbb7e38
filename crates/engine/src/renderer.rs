//! What renders a cell: helm ([`HelmRenderer`]) in every real run, or a function of the cell
//! ([`MemoryRenderer`]) in the engine's own tests, so everything above rendering (planning,
//! judging, coverage, merge, promotion, the PR diff) is tested without helm.

use imagegate_fleet::{Cell, Repo};
use imagegate_render::{
    render_all_cached, CacheUse, Helm, Provenance, RenderFailure, RenderOptions, Rendered,
};
use std::sync::Mutex;
use std::time::Duration;

/// One render of a cell, handed to `work` on the worker that made it.
pub type Work<'a> = dyn Fn(usize, Result<Rendered, RenderFailure>, Provenance) + Sync + 'a;

/// Renders cells. `render` calls `work` exactly once per cell (with the cell's index), from any
/// number of worker threads, and returns when every cell is done; a panic in `work` stops the
/// other workers and is passed on.
pub trait Renderer: Sync {
    /// The renderer's version as the report names it (helm's `version.BuildInfo` line), and part
    /// of every render cache key.
    fn version(&self) -> &str;

    /// Renders `cells` of `repo` (through `cache` when given), calling `work` for each.
    fn render(
        &self,
        repo: &Repo,
        cells: &[Cell],
        opts: &RenderOptions,
        cache: Option<CacheUse<'_>>,
        work: &Work<'_>,
    );
}

/// Renders `cells` and maps each render with `f` on the worker, returning the results in the
/// order of the cells. Nothing rendered outlives `f`.
pub fn render_each<T, F>(
    renderer: &dyn Renderer,
    repo: &Repo,
    cells: &[Cell],
    opts: &RenderOptions,
    cache: Option<CacheUse<'_>>,
    f: F,
) -> Vec<T>
where
    T: Send,
    F: Fn(usize, Result<Rendered, RenderFailure>, Provenance) -> T + Sync,
{
    let slots: Vec<Mutex<Option<T>>> = cells.iter().map(|_| Mutex::new(None)).collect();
    renderer.render(repo, cells, opts, cache, &|i, result, from| {
        let value = f(i, result, from);
        *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
    });
    slots
        .into_iter()
        .enumerate()
        .map(|(i, slot)| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(|| panic!("the renderer returned without judging cell {i}"))
        })
        .collect()
}

/// Real helm, through the bounded render pool of `imagegate-render`.
#[derive(Debug)]
pub struct HelmRenderer<'a> {
    /// The located helm binary.
    pub helm: &'a Helm,
}

impl<'a> HelmRenderer<'a> {
    /// The renderer over `helm`.
    pub fn new(helm: &'a Helm) -> Self {
        Self { helm }
    }
}

impl Renderer for HelmRenderer<'_> {
    fn version(&self) -> &str {
        &self.helm.version
    }

    fn render(
        &self,
        repo: &Repo,
        cells: &[Cell],
        opts: &RenderOptions,
        cache: Option<CacheUse<'_>>,
        work: &Work<'_>,
    ) {
        render_all_cached(self.helm, repo, cells, opts, cache, |i, result, from| {
            work(i, result, from)
        });
    }
}

/// The output of one cell as a [`MemoryRenderer`] makes it: the manifest stream, or a failure.
pub type MemoryRender = Result<String, RenderFailure>;

/// A renderer that computes each cell's output with a function, on the calling thread, in order.
/// The function sees the repository, so a test can render from the cell's values files as helm
/// would. The render cache is honoured like helm's: a cell whose key the cache holds is taken
/// from it, and every result is stored (a failure of the function stands for helm's own
/// refusal, which helm's renderer stores too; a cell with problems is refused without calling
/// the function).
pub struct MemoryRenderer<F> {
    version: String,
    render: F,
}

impl<F> MemoryRenderer<F>
where
    F: Fn(&Repo, &Cell) -> MemoryRender + Sync,
{
    /// A renderer named `version` that renders with `render`.
    pub fn new(version: &str, render: F) -> Self {
        Self {
            version: version.to_string(),
            render,
        }
    }
}

impl<F> Renderer for MemoryRenderer<F>
where
    F: Fn(&Repo, &Cell) -> MemoryRender + Sync,
{
    fn version(&self) -> &str {
        &self.version
    }

    fn render(
        &self,
        repo: &Repo,
        cells: &[Cell],
        opts: &RenderOptions,
        cache: Option<CacheUse<'_>>,
        work: &Work<'_>,
    ) {
        for (i, cell) in cells.iter().enumerate() {
            let key = cache.and_then(|c| {
                c.keys
                    .get(i)
                    .and_then(|k| k.as_ref().ok())
                    .map(|k| (c.cache, k))
            });
            if let Some(stored) = key.and_then(|(cache, key)| cache.get(key, opts.max_output_bytes))
            {
                work(i, stored, Provenance::Cache);
                continue;
            }
            let result = if cell.problems.is_empty() {
                (self.render)(repo, cell).map(rendered)
            } else {
                Err(RenderFailure {
                    message: cell.problems.join("; "),
                    hint: None,
                    exceeded: None,
                })
            };
            if let Some((cache, key)) = key {
                cache.put(key, &result);
            }
            work(i, result, Provenance::Helm);
        }
    }
}

fn rendered(stdout: String) -> Rendered {
    Rendered {
        stdout,
        stderr: String::new(),
        elapsed: Duration::ZERO,
    }
}
