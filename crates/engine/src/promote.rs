//! `imagegate promote SOURCE TARGET`: 602's promotion by digest, through the values line.
//!
//! Every first-party image TARGET renders with another reference than SOURCE renders for the
//! same component, object, container and repository is moved to SOURCE's reference by editing
//! the values line that sets it in TARGET, the line helm's marker render points at
//! ([`crate::provenance`]). A line in a layer another environment also reads (a `_shared` file,
//! the chart's defaults) is never edited: the override goes into a values file of TARGET's own
//! instead. Edits are span edits ([`imagegate_edit`]): every other byte of the file stays.
//!
//! [`plan`] renders both environments and computes the edits; [`apply`] writes them (each file
//! through a temporary file and a rename, and only when the file is still what was read), renders
//! TARGET again and checks it now renders SOURCE's references for the promoted images and
//! exactly what it rendered before for every other image; otherwise every edit is undone.

use crate::pipeline::decode_options;
use crate::renderer::{render_each, Renderer};
use crate::{Config, Fatal};
use imagegate_decode::Decoded;
use imagegate_fleet::Cell;
use imagegate_origin::markers::Part;
use imagegate_origin::LayerKind;
use imagegate_policy::{CellContext, Finding, ImageRef, RuleId, Severity};
use imagegate_render::RenderOptions;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Largest values file promote reads and edits.
const MAX_VALUES_BYTES: u64 = 8 * 1024 * 1024;

/// What to promote.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The environment whose references are copied (for example `staging`).
    pub source: &'a str,
    /// The environment that is edited (for example `production`).
    pub target: &'a str,
    /// `--app` patterns (app or component names, globs); empty: every app.
    pub apps: &'a [String],
}

/// What renders the cells, within which bounds.
#[derive(Clone, Copy)]
pub struct Tools<'a> {
    /// The renderer (helm).
    pub renderer: &'a dyn Renderer,
    /// Its bounds.
    pub opts: &'a RenderOptions,
}

/// One image site, by what promotion matches it on across environments.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SiteKey {
    /// The component (the app without its environment).
    pub component: String,
    /// Object kind.
    pub kind: String,
    /// Object name.
    pub name: String,
    /// Container name, else the field path (custom image fields).
    pub container: String,
    /// The repository, canonical form.
    pub repository: String,
}

/// One values line edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineEdit {
    /// Repository-relative values file.
    pub file: String,
    /// 1-based line of the new value.
    pub line: u32,
    /// The key path.
    pub key: String,
    /// The value before (`None`: the key is new, an override of a shared layer).
    pub old: Option<String>,
    /// The value after.
    pub new: String,
}

/// One image promoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promotion {
    /// What it is.
    #[serde(flatten)]
    pub key: SiteKey,
    /// TARGET's app.
    pub app: String,
    /// The reference TARGET renders now.
    pub from: String,
    /// SOURCE's reference, which TARGET renders after the edits.
    pub to: String,
    /// The values lines that change.
    pub edits: Vec<LineEdit>,
}

/// One image that differs and is not promoted, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// What it is.
    #[serde(flatten)]
    pub key: SiteKey,
    /// TARGET's app.
    pub app: String,
    /// The reference TARGET renders.
    pub from: String,
    /// What SOURCE renders, when one reference.
    pub to: Option<String>,
    /// Why, and what to do.
    pub reason: String,
}

/// One file the plan writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    /// Repository-relative path.
    pub path: String,
    /// Its text as read (`None`: the file does not exist and is created).
    pub before: Option<String>,
    /// Its text after every edit.
    pub after: String,
}

/// The edits of a run, before anything is written.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The images promoted, in key order.
    pub promotions: Vec<Promotion>,
    /// The images not promoted.
    pub refusals: Vec<Refusal>,
    /// The files written, in path order.
    pub files: Vec<FileEdit>,
    /// What TARGET renders today, by site (for the check after writing).
    before: BTreeMap<SiteKey, BTreeSet<String>>,
}

impl Plan {
    /// The edits as one unified diff (`--dry-run`).
    pub fn diff(&self) -> String {
        self.files
            .iter()
            .map(|f| {
                imagegate_edit::unified_diff(&f.path, f.before.as_deref().unwrap_or(""), &f.after)
            })
            .collect()
    }

    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// How [`apply`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Written, and TARGET renders SOURCE's references for every promoted image and nothing
    /// else changed.
    Verified,
    /// Nothing was left changed: every file written was put back (why).
    Undone(String),
}

/// Renders SOURCE and TARGET and computes the edits that move TARGET to SOURCE's references.
///
/// # Errors
/// [`Fatal`] for bad input: an unknown or equal environment, no `promotion.firstParty`, an
/// `--app` that matches nothing, a cell that fails to render.
pub fn plan(cfg: &Config, req: &Request<'_>, tools: &Tools<'_>) -> Result<Plan, Fatal> {
    if req.source == req.target {
        return Err(Fatal(format!(
            "promote {0} {0}: SOURCE and TARGET are the same environment",
            req.source
        )));
    }
    let Some(promotion) = &cfg.model.promotion else {
        return Err(Fatal(format!(
            "{}: no `promotion:` section, so no image is known to be first-party\n  hint: add \
             `promotion: {{chains: [[{}, {}]], firstParty: [\"<registry>/<org>/\"]}}`",
            cfg.file, req.source, req.target
        )));
    };
    let all = cfg.cells().map_err(|e| Fatal(e.to_string()))?;
    let source_cells = pick(cfg, &all, req.source, req.apps)?;
    let target_cells = pick(cfg, &all, req.target, req.apps)?;
    let source = render(cfg, &source_cells, tools)?;
    let target = render(cfg, &target_cells, tools)?;
    let first_party = |r: &str| promotion.is_first_party(r);
    let source_sites = sites(&source, &first_party);
    let target_sites = sites(&target, &first_party);
    let mut want = |key: &SiteKey, found: &[Site]| -> Want {
        let Some(up) = source_sites.get(key) else {
            return Want::Keep;
        };
        let ups: BTreeSet<&str> = up.iter().map(|s| s.image.as_str()).collect();
        let downs: BTreeSet<&str> = found.iter().map(|s| s.image.as_str()).collect();
        if ups.len() > 1 || downs.len() > 1 {
            if ups == downs {
                return Want::Keep;
            }
            return Want::Refuse(
                None,
                format!(
                    "{} renders {} references here and {} {}: which goes where is not known; \
                     promote this image by hand",
                    req.source,
                    ups.len(),
                    req.target,
                    downs.len()
                ),
            );
        }
        let to = ups.into_iter().next().unwrap_or_default().to_owned();
        if to == found[0].image {
            return Want::Keep;
        }
        match ImageRef::parse(&to) {
            Ok(new) if new.digest().is_none() => Want::Refuse(
                Some(to.clone()),
                format!(
                    "{} renders `{to}`, which has no digest: promotion copies a digest forward \
                     (602), so pin it in {} first",
                    req.source, req.source
                ),
            ),
            _ => Want::To(to),
        }
    };
    plan_edits(
        cfg,
        &all,
        req.target,
        &target,
        &target_sites,
        tools,
        &mut want,
    )
}

/// What one image site of the edited environment is to become.
pub(crate) enum Want {
    /// Nothing: it stays as it renders.
    Keep,
    /// This reference.
    To(String),
    /// It should change and cannot: to what, when known, and why.
    Refuse(Option<String>, String),
}

/// The cells of environment `env` (and of `apps`, when given) of `all`.
pub(crate) fn pick(
    cfg: &Config,
    all: &[Cell],
    env: &str,
    apps: &[String],
) -> Result<Vec<Cell>, Fatal> {
    let known: BTreeSet<&str> = all.iter().map(|c| c.environment.as_str()).collect();
    if !known.contains(env) {
        return Err(Fatal(format!(
            "{}: no environment `{env}` (environments: {})",
            cfg.file,
            known.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let envs = [env.to_owned()];
    crate::select::select(
        all,
        &crate::select::Selection {
            envs: &envs,
            apps,
            skip_cells: &[],
        },
    )
}

/// The edits that make environment `env` render what `want` says at each of its image sites
/// (`sites` of its render `target`): the values lines helm's marker render points at, in the
/// environment's own values files (a line of a layer other environments read is overridden in
/// the environment's own overlay instead), each file edited once from the text read.
pub(crate) fn plan_edits(
    cfg: &Config,
    all: &[Cell],
    env: &str,
    target: &Rendered,
    target_sites: &BTreeMap<SiteKey, Vec<Site>>,
    tools: &Tools<'_>,
    want: &mut dyn FnMut(&SiteKey, &[Site]) -> Want,
) -> Result<Plan, Fatal> {
    let decode = decode_options(&cfg.model.policy);
    let mut plan = Plan {
        before: target_sites
            .iter()
            .map(|(k, v)| (k.clone(), v.iter().map(|s| s.image.clone()).collect()))
            .collect(),
        ..Plan::default()
    };
    let mut files = Files::default();
    // Which environments read each values file: a file only `env` reads is its own.
    let mut readers: BTreeMap<&str, BTreeSet<(&str, &str)>> = BTreeMap::new();
    for c in all {
        for f in &c.value_files {
            readers
                .entry(f.path.as_str())
                .or_default()
                .insert((c.environment.as_str(), c.app.as_str()));
        }
    }
    let own = |file: &str| {
        readers
            .get(file)
            .is_some_and(|r| r.iter().all(|(e, _)| *e == env))
    };
    let mut traces: BTreeMap<usize, crate::provenance::Trace> = BTreeMap::new();
    let rerender = crate::provenance::Rerender {
        renderer: tools.renderer,
        opts: tools.opts,
        cache: None,
        key: None,
    };
    let mut wanted: BTreeMap<(String, String), (String, SiteKey)> = BTreeMap::new();
    for (key, found) in target_sites {
        let site = &found[0];
        let cell = &target[site.cell].0;
        let refuse = |to: Option<String>, reason: String| Refusal {
            key: key.clone(),
            app: cell.app.clone(),
            from: site.image.clone(),
            to,
            reason,
        };
        let to = match want(key, found) {
            Want::Keep => continue,
            Want::Refuse(to, reason) => {
                plan.refusals.push(refuse(to, reason));
                continue;
            }
            Want::To(to) => to,
        };
        let (Ok(new), Ok(old)) = (ImageRef::parse(&to), ImageRef::parse(&site.image)) else {
            continue;
        };
        let trace = traces.entry(site.cell).or_insert_with(|| {
            crate::provenance::Trace::of(
                &cfg.repo,
                cell,
                &target[site.cell].1,
                &decode,
                &rerender,
                None,
            )
        });
        let finding = site_finding(cell, site);
        let parts = trace.parts(&finding);
        match edits_for(cfg, cell, &old, &new, &parts, &own, &mut files) {
            Ok(edits) => {
                let mut conflict = None;
                for e in &edits {
                    let slot = (e.file.clone(), e.key.clone());
                    match wanted.get(&slot) {
                        Some((v, other)) if *v != e.new => {
                            conflict = Some(format!(
                                "`{}` in {} would need `{}` for this image and `{v}` for {} {}",
                                e.key, e.file, e.new, other.kind, other.name
                            ));
                        }
                        _ => {
                            wanted.insert(slot, (e.new.clone(), key.clone()));
                        }
                    }
                }
                if let Some(why) = conflict {
                    plan.refusals.push(refuse(Some(to), why));
                    continue;
                }
                plan.promotions.push(Promotion {
                    key: key.clone(),
                    app: cell.app.clone(),
                    from: site.image.clone(),
                    to,
                    edits,
                });
            }
            Err(reason) => plan.refusals.push(refuse(Some(to), reason)),
        }
    }
    // The edits, file by file, in the order planned.
    let mut by_file: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for p in &plan.promotions {
        for e in &p.edits {
            let list = by_file.entry(e.file.clone()).or_default();
            if !list.iter().any(|(k, _)| *k == e.key) {
                list.push((e.key.clone(), e.new.clone()));
            }
        }
    }
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    for (file, edits) in by_file {
        let before = files.text(cfg, &file).map_err(Fatal)?;
        let mut text = before.clone().unwrap_or_default();
        let mut lines = BTreeMap::new();
        for (key, value) in &edits {
            let path = imagegate_yaml::parse_path(key).unwrap_or_default();
            match imagegate_edit::set(&text, &path, value) {
                Ok(e) => {
                    text = e.text;
                    lines.insert(key.clone(), e.line);
                }
                Err(e) => {
                    failed.insert(file.clone(), format!("{file}:{}: {}", e.line, e.message));
                    break;
                }
            }
        }
        if failed.contains_key(&file) {
            continue;
        }
        // Lines move when an earlier edit adds lines: read them back from the final text.
        if let Ok(doc) = imagegate_yaml::load(&text, &imagegate_yaml::Limits::default()) {
            for (key, line) in &mut lines {
                if let Some(n) = doc.as_ref().and_then(|d| d.at_path(key)) {
                    *line = n.line;
                }
            }
        }
        for p in &mut plan.promotions {
            for e in &mut p.edits {
                if e.file == file {
                    if let Some(l) = lines.get(&e.key) {
                        e.line = *l;
                    }
                }
            }
        }
        plan.files.push(FileEdit {
            path: file,
            before,
            after: text,
        });
    }
    if !failed.is_empty() {
        let (keep, drop): (Vec<_>, Vec<_>) = std::mem::take(&mut plan.promotions)
            .into_iter()
            .partition(|p| !p.edits.iter().any(|e| failed.contains_key(&e.file)));
        plan.promotions = keep;
        for p in drop {
            let why = p
                .edits
                .iter()
                .find_map(|e| failed.get(&e.file))
                .cloned()
                .unwrap_or_default();
            plan.refusals.push(Refusal {
                key: p.key,
                app: p.app,
                from: p.from,
                to: Some(p.to),
                reason: why,
            });
        }
        plan.files.retain(|f| !failed.contains_key(&f.path));
    }
    plan.refusals.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(plan)
}

/// Writes the plan, renders TARGET again and checks it; undoes every write when the check
/// fails. `config` is the configuration file (read again: a new overlay changes the matrix).
/// `before_write` runs before each file's final check-and-rename (tests use it to change a file
/// under the run).
///
/// # Errors
/// [`Fatal`] when a write fails and putting the files back fails too.
pub fn apply(
    config: &Path,
    plan: &Plan,
    req: &Request<'_>,
    tools: &Tools<'_>,
    before_write: &dyn Fn(&str),
) -> Result<Applied, Fatal> {
    let scope = Scope {
        env: req.target,
        apps: req.apps,
        first_party_only: true,
    };
    apply_in(config, plan, &scope, tools, before_write)
}

/// Which cells a plan edits and which of their images it watches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    /// The environment edited.
    pub env: &'a str,
    /// Its apps (empty: all).
    pub apps: &'a [String],
    /// Only first-party images (promotion), else every image (pin).
    pub first_party_only: bool,
}

/// [`apply`] for any plan of [`plan_edits`]: writes it, renders `scope` again and checks it
/// renders what the plan promised, else undoes every write.
pub(crate) fn apply_in(
    config: &Path,
    plan: &Plan,
    scope: &Scope<'_>,
    tools: &Tools<'_>,
    before_write: &dyn Fn(&str),
) -> Result<Applied, Fatal> {
    let cfg = Config::open(config)?;
    let mut done: Vec<(&FileEdit, PathBuf, Vec<PathBuf>)> = Vec::new();
    let undo = |done: &[(&FileEdit, PathBuf, Vec<PathBuf>)]| -> Result<(), Fatal> {
        for (f, path, dirs) in done.iter().rev() {
            match &f.before {
                Some(text) => write_atomic(path, text).map_err(|e| {
                    Fatal(format!(
                        "{}: could not put the file back ({e}); restore it from git",
                        f.path
                    ))
                })?,
                None => {
                    let _ = std::fs::remove_file(path);
                    for d in dirs.iter().rev() {
                        let _ = std::fs::remove_dir(d);
                    }
                }
            }
        }
        Ok(())
    };
    for f in &plan.files {
        let path = repo_path(&cfg, &f.path).map_err(Fatal)?;
        before_write(&f.path);
        let now = match std::fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                undo(&done)?;
                return Ok(Applied::Undone(format!("{}: {e}", f.path)));
            }
        };
        if now.as_deref() != f.before.as_deref().map(str::as_bytes) {
            undo(&done)?;
            return Ok(Applied::Undone(format!(
                "{} changed on disk during the run: not overwritten (run the command again)",
                f.path
            )));
        }
        let mut dirs = Vec::new();
        if let Some(parent) = path.parent() {
            let mut missing = Vec::new();
            let mut p = parent.to_path_buf();
            while !p.exists() {
                missing.push(p.clone());
                if !p.pop() {
                    break;
                }
            }
            if let Err(e) = std::fs::create_dir_all(parent) {
                undo(&done)?;
                return Ok(Applied::Undone(format!("{}: {e}", f.path)));
            }
            missing.reverse();
            dirs = missing;
        }
        if let Err(e) = write_atomic(&path, &f.after) {
            undo(&done)?;
            return Ok(Applied::Undone(format!("{}: {e}", f.path)));
        }
        done.push((f, path, dirs));
    }
    let verdict = verify(config, plan, scope, tools);
    match verdict {
        Ok(None) => Ok(Applied::Verified),
        Ok(Some(why)) | Err(Fatal(why)) => {
            undo(&done)?;
            Ok(Applied::Undone(why))
        }
    }
}

/// Renders the scope again: `None` when it renders the planned reference at every edited site
/// and what it rendered before everywhere else, else what differs.
fn verify(
    config: &Path,
    plan: &Plan,
    scope: &Scope<'_>,
    tools: &Tools<'_>,
) -> Result<Option<String>, Fatal> {
    let cfg = Config::open(config)?;
    let promotion = cfg.model.promotion.as_ref();
    if scope.first_party_only && promotion.is_none() {
        return Ok(Some("the configuration lost its promotion section".into()));
    }
    let all = cfg.cells().map_err(|e| Fatal(e.to_string()))?;
    let cells = pick(&cfg, &all, scope.env, scope.apps)?;
    let rendered = render(&cfg, &cells, tools)?;
    let after = sites(&rendered, &|r: &str| {
        !scope.first_party_only || promotion.is_some_and(|p| p.is_first_party(r))
    });
    let mut want = plan.before.clone();
    for p in &plan.promotions {
        want.insert(p.key.clone(), BTreeSet::from([p.to.clone()]));
    }
    for (key, images) in &want {
        let got: BTreeSet<String> = after
            .get(key)
            .map(|v| v.iter().map(|s| s.image.clone()).collect())
            .unwrap_or_default();
        if &got != images {
            return Ok(Some(format!(
                "after the edits {} renders {} for {} {} ({}) instead of {}; every edit was undone",
                scope.env,
                show_set(&got),
                key.kind,
                key.name,
                key.container,
                show_set(images)
            )));
        }
    }
    if let Some(key) = after.keys().find(|k| !want.contains_key(*k)) {
        return Ok(Some(format!(
            "after the edits {} renders a new image at {} {} ({}); every edit was undone",
            scope.env, key.kind, key.name, key.container
        )));
    }
    Ok(None)
}

fn show_set(s: &BTreeSet<String>) -> String {
    if s.is_empty() {
        "nothing".into()
    } else {
        s.iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Writes `text` to `path` through a temporary file in the same folder and a rename, keeping
/// the file's permissions: a reader sees the old file or the new one, never half of it.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    let perms = std::fs::metadata(path).map(|m| m.permissions()).ok();
    if let Some(p) = perms {
        std::fs::set_permissions(tmp.path(), p)?;
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))?;
        }
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The real path of repository file `rel` (which may not exist yet), refused outside the
/// repository.
fn repo_path(cfg: &Config, rel: &str) -> Result<PathBuf, String> {
    if let Some(p) = cfg.repo.resolve(rel)? {
        return Ok(p);
    }
    let norm = cfg.repo.normalise(rel)?;
    // The nearest existing folder must resolve inside the repository (no symlink out).
    let mut parent = Path::new(&norm).parent().map(Path::to_path_buf);
    while let Some(p) = parent {
        let s = p.to_string_lossy().to_string();
        if s.is_empty() {
            break;
        }
        if cfg.repo.resolve(&s)?.is_some() {
            break;
        }
        parent = p.parent().map(Path::to_path_buf);
    }
    Ok(cfg.repo.root().join(norm))
}

/// Files read once per plan, so every edit of one file starts from the same text.
#[derive(Default)]
struct Files {
    texts: BTreeMap<String, Option<String>>,
}

impl Files {
    fn text(&mut self, cfg: &Config, rel: &str) -> Result<Option<String>, String> {
        if let Some(t) = self.texts.get(rel) {
            return Ok(t.clone());
        }
        let t = match cfg.repo.resolve(rel)? {
            Some(_) => Some(
                cfg.repo
                    .read_to_string(rel, MAX_VALUES_BYTES)
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        self.texts.insert(rel.to_owned(), t.clone());
        Ok(t)
    }
}

/// The values-line edits that make `cell` render `new` where it renders `old`, from the origins
/// of the image's parts.
fn edits_for(
    cfg: &Config,
    cell: &Cell,
    old: &ImageRef,
    new: &ImageRef,
    parts: &[(Part, imagegate_origin::Origin)],
    own: &dyn Fn(&str) -> bool,
    files: &mut Files,
) -> Result<Vec<LineEdit>, String> {
    if parts.is_empty() {
        return Err(
            "helm could not tell which values line sets this image (the render with \
                    markers failed, or no values line reaches it): change it by hand"
                .to_string(),
        );
    }
    let origin = |want: Part| parts.iter().find(|(p, _)| *p == want).map(|(_, o)| o);
    let mut needed: Vec<(Part, &imagegate_origin::Origin)> = Vec::new();
    if old.digest() != new.digest() {
        // A line that writes the whole reference takes the digest too.
        let whole = || parts.iter().map(|(_, o)| o).find(|o| writes_whole(o, old));
        let o = origin(Part::Digest).or_else(whole).ok_or_else(|| {
            "helm shows no values line that writes this image's digest, and no `digest` key \
             beside its tag: the chart cannot be given a digest through its values (602: \
             patch the vendored chart), or set it by hand"
                .to_string()
        })?;
        needed.push((Part::Digest, o));
    }
    if old.tag() != new.tag() {
        match origin(Part::Tag) {
            Some(o) => needed.push((Part::Tag, o)),
            None if needed.iter().any(|(_, o)| writes_whole(o, old)) => {}
            None => {
                return Err(format!(
                    "the tag changes (`{}` → `{}`) and helm shows no values line that writes it",
                    old.tag().unwrap_or("none"),
                    new.tag().unwrap_or("none")
                ))
            }
        }
    }
    // One edit per (file, key): a line that writes the whole reference serves every part.
    let mut out: Vec<LineEdit> = Vec::new();
    for (part, o) in needed {
        if out.iter().any(|e| e.key == o.key && same_layer(e, o)) {
            continue;
        }
        let current = scalar_at(cfg, o, files)?;
        let value =
            rewrite(&current, old, new, part, &needed_parts(parts, o)).ok_or_else(|| {
                format!(
                "{}:{} writes `{current}` for `{}`, and the new {} cannot be put into it: set the \
                 value by hand",
                o.file, o.line, o.key, part.as_str()
            )
            })?;
        let in_stack = cell.value_files.iter().any(|f| f.path == o.file);
        let editable = o.layer == LayerKind::ValueStack && in_stack && own(&o.file);
        if editable {
            out.push(LineEdit {
                file: o.file.clone(),
                line: o.line,
                key: o.key.clone(),
                old: Some(current),
                new: value,
            });
            continue;
        }
        if o.layer == LayerKind::ValueStack && !in_stack {
            return Err(format!(
                "the value is set at {}:{} (`{}`), outside the cell's values files (an \
                 Application's inline values or parameters): change it there by hand",
                o.file, o.line, o.key
            ));
        }
        // A shared layer: the override goes into a values file of the cell's own.
        let overlay = cell
            .value_files
            .iter()
            .rev()
            .find(|f| own(&f.path))
            .ok_or_else(|| {
                format!(
                    "{}:{} (`{}`) is shared with other environments and {} has no values file \
                     of its own to override it in: add one to its value stack",
                    o.file, o.line, o.key, cell.environment
                )
            })?;
        let _ = cfg;
        out.push(LineEdit {
            file: overlay.path.clone(),
            line: 0,
            key: o.key.clone(),
            old: None,
            new: value,
        });
    }
    Ok(out)
}

fn same_layer(e: &LineEdit, o: &imagegate_origin::Origin) -> bool {
    e.file == o.file || e.old.is_none()
}

/// The parts this origin line writes.
fn needed_parts(
    parts: &[(Part, imagegate_origin::Origin)],
    o: &imagegate_origin::Origin,
) -> Vec<Part> {
    parts
        .iter()
        .filter(|(_, x)| x.file == o.file && x.key == o.key)
        .map(|(p, _)| *p)
        .collect()
}

/// Whether the line of `o` writes the whole reference `old` (so the tag changes with the digest).
fn writes_whole(o: &imagegate_origin::Origin, old: &ImageRef) -> bool {
    o.value.trim_matches(['"', '\'']) == old.as_str()
}

/// The string the values line at origin `o` holds now.
fn scalar_at(
    cfg: &Config,
    o: &imagegate_origin::Origin,
    files: &mut Files,
) -> Result<String, String> {
    let text = files
        .text(cfg, &o.file)?
        .ok_or_else(|| format!("{}: not found", o.file))?;
    let doc = imagegate_yaml::load(&text, &imagegate_yaml::Limits::default())
        .map_err(|e| format!("{}: {e}", o.file))?;
    // Subchart and chart defaults are not edited, only read for the override's value.
    let node = doc.as_ref().and_then(|d| d.at_path(&o.key));
    match node.and_then(|n| n.as_scalar()) {
        Some(s) => Ok(s.text.clone()),
        None if o.layer != LayerKind::ValueStack => {
            Ok(o.value.trim_matches(['"', '\'']).to_string())
        }
        None => Err(format!(
            "{}:{}: `{}` is not one value in the file (written through an anchor or a merge \
             key?): change it by hand",
            o.file, o.line, o.key
        )),
    }
}

/// The value a line that holds `current` must hold for the image to become `new`: the whole new
/// reference when it holds the whole old one, else the old part replaced by the new one.
fn rewrite(
    current: &str,
    old: &ImageRef,
    new: &ImageRef,
    part: Part,
    writes: &[Part],
) -> Option<String> {
    if current == old.as_str() {
        return Some(new.as_str().to_owned());
    }
    let mut value = current.to_owned();
    let mut changed = false;
    let swap = |value: &mut String, from: &str, to: &str| -> bool {
        if value.matches(from).count() == 1 {
            *value = value.replacen(from, to, 1);
            true
        } else {
            false
        }
    };
    let mut do_part = |p: Part, value: &mut String| -> Option<()> {
        match p {
            Part::Digest => {
                let to = new.digest()?;
                let Some(from) = old.digest() else {
                    // A digest key that is empty today (`digest: ""`, `digest: null`).
                    if matches!(value.as_str(), "" | "null" | "~") {
                        *value = to.to_owned();
                        changed = true;
                        return Some(());
                    }
                    return None;
                };
                if from == to {
                    return Some(());
                }
                if swap(value, from, to) {
                    changed = true;
                    Some(())
                } else {
                    None
                }
            }
            Part::Tag => {
                let (from, to) = (old.tag(), new.tag());
                if from == to {
                    return Some(());
                }
                match (from, to) {
                    (Some(f), Some(t)) if value == f => {
                        *value = t.to_owned();
                        changed = true;
                        Some(())
                    }
                    (Some(f), Some(t)) if swap(value, &format!(":{f}"), &format!(":{t}")) => {
                        changed = true;
                        Some(())
                    }
                    // A tag dropped from a value that writes `repo:tag@digest`.
                    (Some(f), None) if swap(value, &format!(":{f}@"), "@") => {
                        changed = true;
                        Some(())
                    }
                    _ => None,
                }
            }
            _ => Some(()),
        }
    };
    do_part(part, &mut value)?;
    for p in writes {
        if *p != part && matches!(p, Part::Digest | Part::Tag) {
            do_part(*p, &mut value)?;
        }
    }
    changed.then_some(value)
}

/// A finding-shaped handle on an image site, to ask the provenance trace about it.
fn site_finding(cell: &Cell, site: &Site) -> Finding {
    let mut f = Finding::new(
        RuleId::PromotionDrift,
        Severity::Error,
        "",
        CellContext {
            environment: cell.environment.clone(),
            app: cell.app.clone(),
            chart: cell.chart.clone(),
        },
    );
    f.document = Some(site.document);
    f.field = Some(site.field.clone());
    f.image = Some(site.image.clone());
    f.container = site.container.clone();
    f
}

/// An image site of a render.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    /// Index of its cell in the render list.
    pub(crate) cell: usize,
    pub(crate) document: usize,
    pub(crate) field: String,
    pub(crate) container: Option<String>,
    pub(crate) image: String,
}

pub(crate) type Rendered = Vec<(Cell, Decoded)>;

/// Renders `cells` and decodes them; a cell that fails to render is an error (what it renders
/// is unknown, so nothing can be promoted against it).
pub(crate) fn render(cfg: &Config, cells: &[Cell], tools: &Tools<'_>) -> Result<Rendered, Fatal> {
    let decode = decode_options(&cfg.model.policy);
    let results = render_each(
        tools.renderer,
        &cfg.repo,
        cells,
        tools.opts,
        None,
        |_, r, _| {
            r.map(|r| {
                let docs = imagegate_yaml::split_stream(&r.stdout);
                imagegate_decode::decode_documents(&docs, &decode)
            })
        },
    );
    let mut out = Vec::new();
    for (cell, r) in cells.iter().zip(results) {
        match r {
            Ok(d) => out.push((cell.clone(), d)),
            Err(f) => {
                return Err(Fatal(format!(
                    "{}/{}: the cell failed to render, so what it runs is unknown: {}",
                    cell.environment, cell.app, f.message
                )))
            }
        }
    }
    Ok(out)
}

/// The first-party image sites of a render, by key.
pub(crate) fn sites(
    rendered: &Rendered,
    first_party: &dyn Fn(&str) -> bool,
) -> BTreeMap<SiteKey, Vec<Site>> {
    let mut out: BTreeMap<SiteKey, Vec<Site>> = BTreeMap::new();
    for (i, (cell, decoded)) in rendered.iter().enumerate() {
        for obj in &decoded.objects {
            for s in &obj.sites {
                let Ok(r) = ImageRef::parse(&s.image) else {
                    continue;
                };
                let repository = r.canonical_repository();
                if !first_party(&repository) {
                    continue;
                }
                let key = SiteKey {
                    component: cell.component.clone(),
                    kind: obj.object.kind.clone(),
                    name: obj.object.name.clone(),
                    container: s.container.clone().unwrap_or_else(|| s.field.clone()),
                    repository,
                };
                out.entry(key).or_default().push(Site {
                    cell: i,
                    document: obj.document,
                    field: s.field.clone(),
                    container: s.container.clone(),
                    image: s.image.clone(),
                });
            }
        }
    }
    out
}

/// The part of a reference that changes, for the tables: the digest (`sha256:…`), with the tag
/// in front when it changes too (`v2@sha256:…`).
pub(crate) fn shown_change(from: &str, to: &str) -> (String, String) {
    let part = |r: &str, other: &str| -> String {
        match (ImageRef::parse(r), ImageRef::parse(other)) {
            (Ok(a), Ok(b)) => {
                let digest = a.digest().unwrap_or("(no digest)").to_owned();
                if a.tag() != b.tag() {
                    format!("{}@{digest}", a.tag().unwrap_or("(no tag)"))
                } else {
                    digest
                }
            }
            _ => r.to_owned(),
        }
    };
    (part(from, to), part(to, from))
}

/// The values lines of `edits`, for a Markdown table cell.
pub(crate) fn md_edit_lines(edits: &[LineEdit]) -> String {
    edits
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                md_code(&format!("{}:{}", e.file, e.line)),
                md_code(&e.key)
            )
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The images not edited, as a Markdown section under `heading` (empty when there are none),
/// each named by `what`.
pub(crate) fn md_refusals(
    heading: &str,
    refusals: &[Refusal],
    what: impl Fn(&Refusal) -> &str,
) -> String {
    let mut out = String::new();
    if !refusals.is_empty() {
        out.push_str(&format!("\n### {heading}\n\n"));
        for r in refusals {
            out.push_str(&format!(
                "- {} {} ({}): {}\n",
                md(&r.app),
                md(&format!("{}/{}", r.key.kind, r.key.name)),
                md_code(what(r)),
                md(&r.reason)
            ));
        }
    }
    out
}

/// Untrusted text in Markdown (the report's escaper: punctuation, HTML and mentions neutralised).
pub(crate) fn md(s: &str) -> String {
    imagegate_report::markdown_text(s)
}

/// Untrusted text as a code span, or escaped text when a backtick or `\|` could break the span
/// or the table row.
pub(crate) fn md_code(s: &str) -> String {
    if s.is_empty() || s.contains(['`', '\n', '\r']) || s.contains("\\|") {
        return md(s);
    }
    format!("`{}`", s.replace('|', "\\|"))
}

impl Plan {
    /// The plan as text: old → new per image, the values lines, and what was not promoted.
    pub fn text(&self, req: &Request<'_>) -> String {
        let mut out = format!(
            "promote {} -> {}: {} image(s) to promote, {} not promoted\n",
            req.source,
            req.target,
            self.promotions.len(),
            self.refusals.len()
        );
        for p in &self.promotions {
            let (from, to) = shown_change(&p.from, &p.to);
            out.push_str(&format!(
                "  {} {}/{} ({}) {}\n    {from} -> {to}\n",
                p.app, p.key.kind, p.key.name, p.key.container, p.key.repository
            ));
            for e in &p.edits {
                let how = if e.old.is_some() {
                    ""
                } else {
                    " (new override)"
                };
                out.push_str(&format!("    {}:{} {}{how}\n", e.file, e.line, e.key));
            }
        }
        if !self.refusals.is_empty() {
            out.push_str("not promoted:\n");
            for r in &self.refusals {
                out.push_str(&format!(
                    "  {} {}/{} ({}) {}: {}\n",
                    r.app, r.key.kind, r.key.name, r.key.container, r.key.repository, r.reason
                ));
            }
        }
        out
    }

    /// The plan as Markdown, for the promotion pull request's body.
    pub fn markdown(&self, req: &Request<'_>) -> String {
        let mut out = format!(
            "## Promote {} → {}\n\n",
            md_code(req.source),
            md_code(req.target)
        );
        if self.promotions.is_empty() {
            out.push_str("Nothing to promote: every first-party image matches.\n");
        } else {
            out.push_str(&format!(
                "{} image(s) of {} move to the exact references {} runs.\n\n\
                 | App | Object | Container | Repository | From | To | Values line |\n\
                 |---|---|---|---|---|---|---|\n",
                self.promotions.len(),
                md_code(req.target),
                md_code(req.source)
            ));
            for p in &self.promotions {
                let (from, to) = shown_change(&p.from, &p.to);

                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
                    md(&p.app),
                    md(&format!("{}/{}", p.key.kind, p.key.name)),
                    md(&p.key.container),
                    md_code(&p.key.repository),
                    md_code(&from),
                    md_code(&to),
                    md_edit_lines(&p.edits)
                ));
            }
        }
        out.push_str(&md_refusals("Not promoted", &self.refusals, |r| {
            &r.key.repository
        }));
        out
    }

    /// The plan as JSON (`--format json`), with how the run ended.
    pub fn json(&self, req: &Request<'_>, applied: Option<&Applied>) -> serde_json::Value {
        let (status, why) = match applied {
            None => ("planned", None),
            Some(Applied::Verified) => ("promoted", None),
            Some(Applied::Undone(w)) => ("undone", Some(w.as_str())),
        };
        serde_json::json!({
            "source": req.source,
            "target": req.target,
            "status": status,
            "undone": why,
            "promotions": self.promotions,
            "refusals": self.refusals,
            "files": self.files.iter().map(|f| &f.path).collect::<Vec<_>>(),
        })
    }
}
