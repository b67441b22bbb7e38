//! What `imagegate init` derives from a GitOps repository: a commented `imagegate.yaml`
//! ([`propose`]) that never holds a matrix the repository's files do not say. What they do not
//! say (the order of layers given only in prose, the clusters of a `clusters` generator) is
//! written as an open question (`openQuestions`), which stops every command that resolves the
//! matrix until a person answers it. Three layouts, tried in this order:
//!
//! 1. **Argo CD manifests** (`argocd`): the configuration is an `argocd:` section naming them.
//! 2. **Component files** (this module's [`inspect`]): the ApplicationSet component layout,
//!    described below.
//! 3. **Charts and values files** (`simple`): per-environment folders, `values-<env>.yaml`
//!    beside charts, cluster-type record files with nested environment lists.
//!
//! The component-file layout: nothing here knows the names of one fleet. It looks for the
//! markers of the Argo CD ApplicationSet layout (docs/configuration.md) and generalises what it
//! finds:
//!
//! - **Environments**: record files, YAML files holding a mapping or a list of flat mappings that
//!   each carry an `env` (or `environment`) field, such as `config/clusters/*.yaml`. Every scalar
//!   field of a record is a placeholder; the field named like `clusterType` is the cluster key.
//!   Without records, the folders under a values tree's `env/` folder name the environments.
//! - **Components**: `**/component.yaml` files (`name`, `domain`, `chart.path`). Their common
//!   root is split into domain folders; a folder named `cluster` (or whose components all have
//!   `domain: cluster`) holds cluster-scoped components.
//! - **Value layers**: every file under a folder named `values`, and every folder of files named
//!   after an environment record field (node profiles). Each path is generalised into a template
//!   by replacing the segments that name an environment, a record field, a domain or a component
//!   with that placeholder, one tree level at a time, so a misplaced folder (`env/staging/app/`
//!   beside `apps/`) is reported as an outlier instead of becoming a layer. A layer with a literal
//!   file name must recur (for two or more values) to count; one-off files are left to the
//!   components' own `valueFiles`.
//! - **Order**: component-independent layers first, then component layers; within each, fleet-wide
//!   before per cluster type, per environment, then per other record field (node profile): the
//!   general-to-specific order this layout documents (docs/configuration.md), where later files
//!   win.

use crate::Fatal;
use anyhow::Result;
use imagegate_fleet::{Repo, Scope};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

mod argocd;
mod drift;
mod simple;

pub use drift::{drift, Drift};

/// The editor schema line every generated configuration starts with.
pub const SCHEMA_LINE: &str = "# yaml-language-server: $schema=https://raw.githubusercontent.com/imagegate/imagegate/main/docs/imagegate.schema.json";

/// Most directory entries the inspection visits (a repository is bounded like any input).
const MAX_ENTRIES: usize = 200_000;
/// Deepest folder the inspection descends into.
const MAX_DEPTH: usize = 24;
/// Largest YAML file the inspection reads.
const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Folder names that mark cluster-scoped components.
const CLUSTER_WORDS: [&str; 3] = ["cluster", "clusters", "cluster-scoped"];
/// Placeholders that belong to a component rather than to an environment.
const COMPONENT_VARS: [&str; 3] = ["domain", "name", "project"];

/// What the inspection found, ready to be written out.
pub struct Inspection {
    environments: Environments,
    cluster_key: Option<String>,
    components: Components,
    env_stack: Vec<String>,
    cluster_stack: Vec<String>,
    outliers: Vec<String>,
    /// Component files were found, so the layout is known (else the result is a template
    /// listing every chart).
    pub layout_known: bool,
    /// What the user should review: outliers, guesses, what was left out.
    pub notes: Vec<String>,
}

/// Where environments come from.
enum Environments {
    /// Record files: (glob, name template).
    Records(Vec<(String, String)>),
    /// Names listed inline, with why.
    Inline(Vec<String>, &'static str),
}

/// Where components come from.
enum Components {
    /// Discovery globs: (glob, scope, how many files).
    Discover(Vec<(String, Scope, usize)>),
    /// Inline components: (name, chart folder).
    Inline(Vec<(String, String)>),
}

/// The repository's files, charts excluded (their inside is the chart's business).
struct Tree {
    /// Repository-relative file paths, `/`-separated, sorted.
    files: Vec<String>,
    /// Chart folders (those holding a Chart.yaml), outermost only.
    charts: Vec<String>,
    /// The files directly in each chart folder (names, sorted): `values-<env>.yaml` beside a
    /// chart's values.yaml is a values file of its own.
    chart_files: BTreeMap<String, Vec<String>>,
}

fn walk(root: &Path) -> Result<Tree> {
    let mut tree = Tree {
        files: Vec::new(),
        charts: Vec::new(),
        chart_files: BTreeMap::new(),
    };
    let mut visits = 0usize;
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, rel, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            continue;
        }
        if !rel.is_empty() && dir.join("Chart.yaml").is_file() {
            let mut names: Vec<String> = Vec::new();
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                visits += 1;
                if visits > MAX_ENTRIES {
                    break;
                }
                if entry.file_type().is_ok_and(|t| t.is_file()) {
                    if let Some(n) = entry.file_name().to_str() {
                        names.push(n.to_string());
                    }
                }
            }
            names.sort();
            tree.chart_files.insert(rel.clone(), names);
            tree.charts.push(rel);
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            visits += 1;
            if visits > MAX_ENTRIES {
                return Err(Fatal(format!(
                    "{}: more than {MAX_ENTRIES} entries; run init in the GitOps repository's root",
                    root.display()
                ))
                .into());
            }
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name.starts_with('.') || name == "node_modules" || name == "target" {
                continue;
            }
            // Symlinks are never followed: the inspection stays inside the repository.
            let Ok(ft) = entry.file_type() else { continue };
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if ft.is_dir() {
                stack.push((entry.path(), child, depth + 1));
            } else if ft.is_file() {
                tree.files.push(child);
            }
        }
    }
    tree.files.sort();
    tree.charts.sort();
    Ok(tree)
}

fn is_yaml(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml")
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// Reads and parses a small YAML file as JSON; `None` when it is not one.
fn read_yaml(root: &Path, rel: &str) -> Option<Json> {
    let path = root.join(rel);
    if std::fs::metadata(&path).ok()?.len() > MAX_FILE_BYTES {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let node = imagegate_yaml::load(&text, &imagegate_yaml::Limits::default()).ok()??;
    Some(node.to_json())
}

fn scalar(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The records of one record file, and the field that names each environment.
type RecordFile = (Vec<BTreeMap<String, String>>, &'static str);

/// The environment records of a file, when it is a record file: flat mappings with a name field,
/// read with the matrix's own reader.
fn records(repo: &Repo, rel: &str) -> Option<RecordFile> {
    let recs = imagegate_fleet::read_records(repo, rel).ok()?;
    if recs.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    let mut field = None;
    for rec in recs {
        if !rec.flat {
            return None;
        }
        let f = ["env", "environment"]
            .into_iter()
            .find(|f| rec.fields.contains_key(*f))?;
        if field.is_some_and(|g| g != f) {
            return None;
        }
        field = Some(f);
        out.push(rec.fields);
    }
    Some((out, field?))
}

/// A component file as far as init needs it.
struct FoundComponent {
    file: String,
    name: String,
    domain: String,
    project: String,
    has_chart_path: bool,
}

/// A component file, read with the matrix's own reader.
fn component(repo: &Repo, rel: &str) -> Option<FoundComponent> {
    let c = imagegate_fleet::read_component_file(repo, rel).ok()?;
    Some(FoundComponent {
        file: rel.to_string(),
        name: c.name,
        domain: c.domain,
        project: c.project,
        has_chart_path: c.chart_path.is_some(),
    })
}

/// One placeholder init can recognise in a path, with the values it takes.
struct Var {
    name: String,
    values: BTreeSet<String>,
}

/// One segment of a path template being learned.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    /// A folder or file name as it is.
    Lit(String),
    /// A folder named by a placeholder.
    Var(String),
    /// A file named by a placeholder, with its extension (`{name}.yaml`).
    File(String, String),
}

/// The files of one folder level, indexed by folder.
#[derive(Default)]
struct Index {
    dirs: BTreeMap<String, BTreeSet<String>>,
    files: BTreeMap<String, BTreeSet<String>>,
}

impl Index {
    fn new(files: &[&String]) -> Self {
        let mut idx = Index::default();
        for f in files {
            let mut dir = parent(f).to_string();
            idx.files
                .entry(dir.clone())
                .or_default()
                .insert(file_name(f).to_string());
            while !dir.is_empty() {
                let up = parent(&dir).to_string();
                idx.dirs
                    .entry(up.clone())
                    .or_default()
                    .insert(file_name(&dir).to_string());
                dir = up;
            }
        }
        idx
    }
}

type Bindings = BTreeMap<String, String>;

/// Learns layer templates from a folder tree, one level at a time.
struct Learner<'a> {
    vars: &'a [Var],
    index: &'a Index,
    /// Template → every binding that evidences it.
    layers: BTreeMap<Vec<Seg>, Vec<Bindings>>,
    outliers: Vec<String>,
}

impl Learner<'_> {
    /// The placeholder that names most of `names` (a strict majority when `majority`).
    fn choose(&self, names: &BTreeSet<String>, bound: &Bindings, majority: bool) -> Option<&Var> {
        let mut best: Option<(&Var, usize)> = None;
        for v in self.vars {
            if bound.contains_key(&v.name) {
                continue;
            }
            let n = names.iter().filter(|s| v.values.contains(*s)).count();
            if n == 0 || (majority && n * 2 <= names.len()) {
                continue;
            }
            if best.is_none_or(|(_, m)| n > m) {
                best = Some((v, n));
            }
        }
        best.map(|(v, _)| v)
    }

    fn learn(&mut self, prefix: Vec<Seg>, instances: Vec<(String, Bindings)>) {
        let bound = instances[0].1.clone();
        // Files at this level.
        let stems: BTreeSet<String> = instances
            .iter()
            .flat_map(|(dir, _)| self.index.files.get(dir).into_iter().flatten())
            .filter(|f| is_yaml(f))
            .map(|f| stem(f).to_string())
            .collect();
        let file_var = self.choose(&stems, &bound, false).map(|v| v.name.clone());
        for (dir, b) in &instances {
            for f in self.index.files.get(dir).into_iter().flatten() {
                if !is_yaml(f) {
                    continue;
                }
                let (s, ext) = (stem(f), &f[stem(f).len()..]);
                let mut t = prefix.clone();
                let mut b = b.clone();
                match &file_var {
                    Some(v) if self.var(v).values.contains(s) => {
                        t.push(Seg::File(v.clone(), ext.to_string()));
                        b.insert(v.clone(), s.to_string());
                    }
                    _ => t.push(Seg::Lit(f.clone())),
                }
                self.layers.entry(t).or_default().push(b);
            }
        }
        // Folders at this level.
        let names: BTreeSet<String> = instances
            .iter()
            .flat_map(|(dir, _)| self.index.dirs.get(dir).into_iter().flatten())
            .cloned()
            .collect();
        let dir_var = self.choose(&names, &bound, true).map(|v| v.name.clone());
        let mut next: BTreeMap<Seg, Vec<(String, Bindings)>> = BTreeMap::new();
        for (dir, b) in &instances {
            for name in self.index.dirs.get(dir).into_iter().flatten() {
                let child = if dir.is_empty() {
                    name.clone()
                } else {
                    format!("{dir}/{name}")
                };
                match &dir_var {
                    Some(v) if self.var(v).values.contains(name) => {
                        let mut b = b.clone();
                        b.insert(v.clone(), name.clone());
                        next.entry(Seg::Var(v.clone()))
                            .or_default()
                            .push((child, b));
                    }
                    Some(_) => self.outliers.push(child),
                    None => next
                        .entry(Seg::Lit(name.clone()))
                        .or_default()
                        .push((child, b.clone())),
                }
            }
        }
        for (seg, inst) in next {
            let mut p = prefix.clone();
            p.push(seg);
            self.learn(p, inst);
        }
    }

    fn var(&self, name: &str) -> &Var {
        self.vars
            .iter()
            .find(|v| v.name == name)
            .expect("chosen from the list")
    }
}

fn stem(file: &str) -> &str {
    file.strip_suffix(".yaml")
        .or_else(|| file.strip_suffix(".yml"))
        .unwrap_or(file)
}

/// A template's text: `a/{env}/{name}.yaml`.
fn template_text(t: &[Seg]) -> String {
    t.iter()
        .map(|s| match s {
            Seg::Lit(l) => l.clone(),
            Seg::Var(v) => format!("{{{v}}}"),
            Seg::File(v, ext) => format!("{{{v}}}{ext}"),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The placeholders a template uses.
fn template_vars(t: &[Seg]) -> Vec<String> {
    t.iter()
        .filter_map(|s| match s {
            Seg::Var(v) | Seg::File(v, _) => Some(v.clone()),
            Seg::Lit(_) => None,
        })
        .collect()
}

/// A question the repository's files do not answer, written into `openQuestions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// What to decide and how to write the answer.
    pub question: String,
    /// The files that raise it.
    pub from: Vec<String>,
}

/// A proposed configuration.
pub struct Proposal {
    /// The configuration text, commented.
    pub text: String,
    /// What the user should review.
    pub notes: Vec<String>,
    /// What the files did not answer (also in `text`, under `openQuestions`).
    pub questions: Vec<Question>,
    /// What the configuration was derived from, for messages.
    pub layout: &'static str,
}

impl Proposal {
    /// The cells the proposal makes as written (open questions not yet answered), or why it
    /// does not load. The Go templates of `goTemplate` ApplicationSets are evaluated by `helm`
    /// (else the helm found as for rendering), located only when one needs it.
    pub fn cells(
        &self,
        root: &Path,
        helm: Option<&Path>,
    ) -> Result<Vec<imagegate_fleet::Cell>, Fatal> {
        let repo = Repo::open(root).map_err(|e| Fatal(e.to_string()))?;
        let templates = crate::config::LazyHelmTemplates::new(helm, repo.root());
        crate::Config::from_text_as_written(repo, "imagegate.yaml", &self.text, Some(&templates))
            .and_then(|c| c.cells())
            .map_err(|e| {
                Fatal(format!(
                    "the proposed configuration does not load yet: {e}\n  hint: fix the file it names, or edit imagegate.yaml"
                ))
            })
    }
}

/// Proposes a configuration for the repository at `root` (bounded: at most `MAX_ENTRIES`
/// entries, `MAX_DEPTH` folders deep, YAML files up to `MAX_FILE_BYTES`; symbolic links are
/// never followed): from its Argo CD manifests when it has some; else from its component files
/// (the ApplicationSet component layout); else from its charts, environment records and
/// per-environment values files.
pub fn propose(root: &Path) -> Result<Proposal> {
    let tree = walk(root)?;
    if let Some(p) = argocd::propose(root, &tree) {
        return Ok(p);
    }
    let inspection = inspect_tree(root, &tree)?;
    if inspection.layout_known {
        return Ok(Proposal {
            text: inspection.render(),
            notes: inspection.notes,
            questions: Vec::new(),
            layout: "component files",
        });
    }
    simple::propose(root, &tree)
}

/// The first lines of every proposal: the schema line, where it was derived from, `version`.
fn write_header(w: &mut String, from: &str) {
    let _ = writeln!(w, "{SCHEMA_LINE}");
    let _ = writeln!(w, "# Written by `imagegate init` from {from}.");
    let _ = writeln!(
        w,
        "# Run `imagegate cells` to see the matrix, then `imagegate check`. Every field: docs/configuration.md."
    );
    let _ = writeln!(w, "version: 1\n");
}

/// The `helm:` section with its defaults, explained.
fn write_helm(w: &mut String) {
    let _ = writeln!(w, "helm:");
    let _ = writeln!(w, "  kubeVersion: \"1.31.0\"     # .Capabilities.KubeVersion of every render: set it to your clusters' version");
    let _ = writeln!(w, "  apiVersions: []            # extra .Capabilities.APIVersions, e.g. monitoring.coreos.com/v1");
    let _ = writeln!(w, "  includeCrds: true          # crds/ is applied by helm and Argo CD (skipCrds per component)");
    let _ = writeln!(w, "  timeoutSeconds: 120\n");
}

/// The `openQuestions` section, explained; nothing without questions.
fn write_questions(w: &mut String, questions: &[Question]) {
    if questions.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "# OPEN QUESTIONS: what this repository's files do not say. `imagegate cells`, `check`,"
    );
    let _ = writeln!(
        w,
        "# `scan`, `diff` and `audit` exit 2 until each is answered: edit this file as the question"
    );
    let _ = writeln!(w, "# says, then delete the question.");
    let _ = writeln!(w, "openQuestions:");
    for qn in questions {
        // A folded block: the question reads as prose, its words as written (no escapes).
        let _ = writeln!(w, "  - question: >-");
        let mut line = String::new();
        for word in qn.question.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > 88 {
                let _ = writeln!(w, "      {line}");
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        let _ = writeln!(w, "      {line}");
        if !qn.from.is_empty() {
            let from: Vec<String> = qn.from.iter().map(|f| q(f)).collect();
            let _ = writeln!(w, "    from: [{}]", from.join(", "));
        }
    }
    let _ = writeln!(w);
}

/// The `policy:` and `exceptions:` sections every proposal ends with.
fn write_common_tail(w: &mut String) {
    let _ = writeln!(w, "policy:");
    let _ = writeln!(
        w,
        "  immutableTags:                 # a tag must match one of these (the defaults)"
    );
    let _ = writeln!(w, "    - '^([a-z0-9][a-z0-9._-]*-)?[0-9a-f]{{7,40}}$'");
    let _ = writeln!(w, "    - '^v?\\d+\\.\\d+\\.\\d+([-+][0-9A-Za-z.-]+)?$'");
    let _ = writeln!(w, "  # severity: {{ values-file-unused: warning }}");
    let _ = writeln!(
        w,
        "  # customImageFields:            # images in your own custom resources"
    );
    let _ = writeln!(w, "  #   - group: example.com\n  #     kinds: [Service]\n  #     images: [spec.image]\n  #     pullPolicy: spec.imagePullPolicy\n");

    let _ = writeln!(w, "exceptions:");
    let _ = writeln!(w, "  maxLifetimeDays: 90");
    let _ = writeln!(
        w,
        "  forbiddenEnvironments: []      # e.g. [production]: no exception may apply there"
    );
    let _ = writeln!(w, "  list: []");
    let _ = writeln!(w, "  # - rule: mutable-tag\n  #   images: [\"ghcr.io/example/app\"]\n  #   environments: [dev]\n  #   reason: \"why, and the ticket that removes it\"\n  #   expires: 2026-12-31");
}

/// Inspects the repository at `root` (bounded: at most `MAX_ENTRIES` entries, `MAX_DEPTH`
/// folders deep, YAML files up to `MAX_FILE_BYTES`; symbolic links are never followed).
pub fn inspect(root: &Path) -> Result<Inspection> {
    inspect_tree(root, &walk(root)?)
}

/// [`inspect`] on a walked tree.
fn inspect_tree(root: &Path, tree: &Tree) -> Result<Inspection> {
    let repo = Repo::open(root).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut notes = Vec::new();
    let yaml: Vec<&String> = tree
        .files
        .iter()
        .filter(|f| is_yaml(f) && file_name(f) != "imagegate.yaml")
        .collect();
    let in_values = |f: &str| f.split('/').any(|s| s == "values");

    // Components.
    let mut comps: Vec<FoundComponent> = yaml
        .iter()
        .filter(|f| matches!(file_name(f), "component.yaml" | "component.yml"))
        .filter_map(|f| component(&repo, f))
        .collect();
    comps.sort_by(|a, b| a.file.cmp(&b.file));
    let comp_files: BTreeSet<&str> = comps.iter().map(|c| c.file.as_str()).collect();
    for c in comps.iter().filter(|c| !c.has_chart_path) {
        notes.push(format!(
            "{} has no chart.path: imagegate renders charts vendored in the repository; vendor the chart and set chart.path",
            c.file
        ));
    }

    // Environment records.
    let mut record_files: BTreeMap<String, RecordFile> = BTreeMap::new();
    for f in &yaml {
        if comp_files.contains(f.as_str()) || in_values(f) {
            continue;
        }
        if let Some(r) = records(&repo, f) {
            record_files.insert((*f).clone(), r);
        }
    }
    let all_records: Vec<&BTreeMap<String, String>> =
        record_files.values().flat_map(|(r, _)| r).collect();

    // Variables: environment-level ones first (env, the cluster key, other record fields), then
    // the component's. The order breaks ties when a folder name fits two.
    let mut vars: Vec<Var> = Vec::new();
    let env_names: BTreeSet<String> = record_files
        .values()
        .flat_map(|(recs, field)| recs.iter().filter_map(|r| r.get(*field).cloned()))
        .collect();
    let cluster_key = cluster_key(&all_records, env_names.len());
    let mut env_values = env_names.clone();
    if env_values.is_empty() {
        env_values = env_folders(&tree.files);
    }
    vars.push(Var {
        name: "env".into(),
        values: env_values.clone(),
    });
    let mut fields: Vec<String> = Vec::new();
    for r in &all_records {
        for k in r.keys() {
            if !fields.contains(k) && k != "env" && k != "environment" {
                fields.push(k.clone());
            }
        }
    }
    if let Some(k) = &cluster_key {
        fields.retain(|f| f != k);
        fields.insert(0, k.clone());
    }
    for f in &fields {
        let values: BTreeSet<String> = all_records
            .iter()
            .filter_map(|r| r.get(f).cloned())
            .filter(|v| !v.is_empty() && !v.contains('/'))
            .collect();
        vars.push(Var {
            name: f.clone(),
            values,
        });
    }
    let env_level: Vec<String> = vars.iter().map(|v| v.name.clone()).collect();
    // Without component files, the charts found are the components (inline, per environment).
    let inline = if comps.is_empty() {
        inline_charts(root, &tree.charts)
    } else {
        Vec::new()
    };
    let known: Vec<FoundComponent> = inline
        .iter()
        .map(|(name, _)| FoundComponent {
            file: String::new(),
            name: name.clone(),
            domain: String::new(),
            project: String::new(),
            has_chart_path: true,
        })
        .collect();
    let known: &[FoundComponent] = if comps.is_empty() { &known } else { &comps };
    for cv in COMPONENT_VARS {
        let values = known
            .iter()
            .map(|c| match cv {
                "domain" => c.domain.clone(),
                "name" => c.name.clone(),
                _ => c.project.clone(),
            })
            .filter(|v| !v.is_empty())
            .collect();
        vars.push(Var {
            name: cv.to_string(),
            values,
        });
    }

    // Components: their common root, split into domain folders.
    let mut scopes: Vec<(String, Scope, usize)> = Vec::new();
    let mut comp_scope: BTreeMap<&str, Scope> = BTreeMap::new();
    let mut cluster_words: BTreeSet<String> = BTreeSet::new();
    if !comps.is_empty() {
        let mut comp_root = common_dir(comps.iter().map(|c| parent(&c.file)));
        if comps.iter().any(|c| parent(&c.file) == comp_root) {
            comp_root = parent(&comp_root).to_string();
        }
        let mut tops: BTreeMap<String, Vec<&FoundComponent>> = BTreeMap::new();
        for c in &comps {
            let rest = c.file[comp_root.len()..].trim_start_matches('/');
            let top = rest.split('/').next().unwrap_or_default().to_string();
            tops.entry(top).or_default().push(c);
        }
        let is_cluster = |top: &str, cs: &[&FoundComponent]| {
            CLUSTER_WORDS.contains(&top)
                || cs
                    .iter()
                    .all(|c| CLUSTER_WORDS.contains(&c.domain.as_str()))
        };
        let prefix = if comp_root.is_empty() {
            String::new()
        } else {
            format!("{comp_root}/")
        };
        let mut cluster_tops: Vec<(&String, &Vec<&FoundComponent>)> =
            tops.iter().filter(|(t, cs)| is_cluster(t, cs)).collect();
        if cluster_key.is_none() && !cluster_tops.is_empty() {
            notes.push("cluster-scoped components found, but no environment record has a cluster type field: they are rendered per environment".into());
            cluster_tops.clear();
        }
        let glob = |group: &[(&String, &Vec<&FoundComponent>)]| {
            let names: Vec<&str> = group.iter().map(|(t, _)| t.as_str()).collect();
            match names.as_slice() {
                [one] => format!("{prefix}{one}/**/component.yaml"),
                many => format!("{prefix}{{{}}}/**/component.yaml", many.join(",")),
            }
        };
        if cluster_tops.is_empty() {
            scopes.push((
                format!("{prefix}**/component.yaml"),
                Scope::Environment,
                comps.len(),
            ));
        } else {
            let env_tops: Vec<(&String, &Vec<&FoundComponent>)> = tops
                .iter()
                .filter(|(t, _)| !cluster_tops.iter().any(|(ct, _)| ct == t))
                .collect();
            if !env_tops.is_empty() {
                let n = env_tops.iter().map(|(_, cs)| cs.len()).sum();
                scopes.push((glob(&env_tops), Scope::Environment, n));
            }
            let n = cluster_tops.iter().map(|(_, cs)| cs.len()).sum();
            scopes.push((glob(&cluster_tops), Scope::Cluster, n));
            for (t, cs) in &cluster_tops {
                cluster_words.insert((*t).clone());
                for c in cs.iter() {
                    if !c.domain.is_empty() {
                        cluster_words.insert(c.domain.clone());
                    }
                    comp_scope.insert(&c.file, Scope::Cluster);
                }
            }
        }
    }

    // Value layers: the trees under folders named `values`, and folders of files named after an
    // environment record field (node profiles).
    let layer_files: Vec<&String> = yaml
        .iter()
        .copied()
        .filter(|f| !comp_files.contains(f.as_str()) && !record_files.contains_key(*f))
        .collect();
    let index = Index::new(&layer_files);
    let mut learner = Learner {
        vars: &vars,
        index: &index,
        layers: BTreeMap::new(),
        outliers: Vec::new(),
    };
    let values_roots: BTreeSet<String> = layer_files
        .iter()
        .filter_map(|f| {
            let segs: Vec<&str> = f.split('/').collect();
            let i = segs.iter().position(|s| *s == "values")?;
            (i + 1 < segs.len()).then(|| segs[..=i].join("/"))
        })
        .collect();
    for vr in &values_roots {
        let prefix = vr.split('/').map(|s| Seg::Lit(s.to_string())).collect();
        learner.learn(prefix, vec![(vr.clone(), Bindings::new())]);
    }
    let field_vars: Vec<&Var> = vars
        .iter()
        .filter(|v| env_level.contains(&v.name) && !v.values.is_empty())
        .collect();
    for (dir, names) in &index.files {
        if dir.is_empty() || in_values(dir) {
            continue;
        }
        let stems: Vec<&str> = names
            .iter()
            .filter(|f| is_yaml(f))
            .map(|f| stem(f))
            .collect();
        if stems.is_empty() {
            continue;
        }
        let best = field_vars
            .iter()
            .map(|v| (v, stems.iter().filter(|s| v.values.contains(**s)).count()))
            .filter(|(_, n)| *n * 2 > stems.len())
            .max_by_key(|(_, n)| *n);
        if let Some((v, _)) = best {
            for f in names
                .iter()
                .filter(|f| is_yaml(f) && v.values.contains(stem(f)))
            {
                let mut t: Vec<Seg> = dir.split('/').map(|s| Seg::Lit(s.to_string())).collect();
                t.push(Seg::File(v.name.clone(), f[stem(f).len()..].to_string()));
                learner
                    .layers
                    .entry(t)
                    .or_default()
                    .push(Bindings::from([(v.name.clone(), stem(f).to_string())]));
            }
        }
    }
    let Learner {
        layers, outliers, ..
    } = learner;

    // Which layers count, for which scope, in which order.
    let class = |t: &[Seg]| {
        let vs = template_vars(t);
        let has_component = vs.iter().any(|v| COMPONENT_VARS.contains(&v.as_str()));
        let level = vs
            .iter()
            .filter(|v| !COMPONENT_VARS.contains(&v.as_str()))
            .map(|v| {
                if Some(v) == cluster_key.as_ref() {
                    1
                } else if v == "env" {
                    2
                } else {
                    3
                }
            })
            .max()
            .unwrap_or(0);
        (has_component, level)
    };
    let mut env_stack: Vec<(bool, u8, String)> = Vec::new();
    let mut cluster_stack: Vec<(bool, u8, String)> = Vec::new();
    for (t, evidence) in &layers {
        let vs = template_vars(t);
        let literal_file = matches!(t.last(), Some(Seg::Lit(_)));
        let distinct: BTreeSet<&Bindings> = evidence.iter().collect();
        let single_valued = vs
            .iter()
            .all(|v| vars.iter().any(|x| &x.name == v && x.values.len() <= 1));
        if !vs.is_empty() && literal_file && distinct.len() < 2 && !single_valued {
            continue; // a one-off file, not a layer
        }
        let (has_component, level) = class(t);
        let text = template_text(t);
        let key = (has_component, level, text.clone());
        if !has_component {
            let clusterish = t
                .iter()
                .any(|s| matches!(s, Seg::Lit(l) if cluster_words.contains(l)));
            if vs.is_empty() && clusterish {
                cluster_stack.push(key);
            } else {
                env_stack.push(key);
            }
            continue;
        }
        // A component layer serves the scopes of the components whose files evidence it.
        let mut served = BTreeSet::new();
        for b in evidence {
            for c in known {
                let fits = COMPONENT_VARS.iter().all(|v| {
                    b.get(*v).is_none_or(|val| {
                        val == match *v {
                            "domain" => &c.domain,
                            "name" => &c.name,
                            _ => &c.project,
                        }
                    })
                });
                if fits {
                    served.insert(comp_scope.get(c.file.as_str()).copied().unwrap_or_default());
                }
            }
        }
        if served.contains(&Scope::Environment) {
            env_stack.push(key.clone());
        }
        let cluster_ok = vs
            .iter()
            .all(|v| COMPONENT_VARS.contains(&v.as_str()) || Some(v) == cluster_key.as_ref());
        if served.contains(&Scope::Cluster) && cluster_ok {
            cluster_stack.push(key);
        }
    }
    env_stack.sort();
    cluster_stack.sort();

    let environments = if !record_files.is_empty() {
        let mut globs: Vec<(String, String)> = Vec::new();
        let mut by_dir: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
        for f in record_files.keys() {
            by_dir.entry(parent(f)).or_default().push(f);
        }
        for (dir, files) in by_dir {
            let field = record_files[files[0]].1;
            let all_yaml_in_dir: Vec<&&String> = yaml
                .iter()
                .filter(|f| parent(f) == dir && f.ends_with(".yaml"))
                .collect();
            let uniform = files.iter().all(|f| record_files[*f].1 == field);
            if uniform && files.len() > 1 && all_yaml_in_dir.len() == files.len() {
                let at = if dir.is_empty() {
                    String::new()
                } else {
                    format!("{dir}/")
                };
                globs.push((format!("{at}*.yaml"), format!("{{{field}}}")));
            } else {
                for f in files {
                    globs.push((f.clone(), format!("{{{}}}", record_files[f].1)));
                }
            }
        }
        Environments::Records(globs)
    } else if !env_values.is_empty() {
        Environments::Inline(
            env_values.iter().cloned().collect(),
            "no environment record files found: these are the folders under the values tree's env/ folder",
        )
    } else {
        Environments::Inline(
            vec!["dev".into(), "production".into()],
            "no environment record files or env/ values folders found: rename and extend these",
        )
    };

    let layout_known = !comps.is_empty();
    let components = if layout_known {
        Components::Discover(scopes)
    } else {
        Components::Inline(inline)
    };
    Ok(Inspection {
        environments,
        cluster_key: if cluster_stack.is_empty()
            && !matches!(&components, Components::Discover(s) if s.iter().any(|x| x.1 == Scope::Cluster))
        {
            None
        } else {
            cluster_key
        },
        components,
        env_stack: env_stack.into_iter().map(|(_, _, t)| t).collect(),
        cluster_stack: cluster_stack.into_iter().map(|(_, _, t)| t).collect(),
        outliers,
        layout_known,
        notes,
    })
}

/// The record field that groups environments into clusters: `clusterType` when present, else a
/// field named like `cluster…` with fewer distinct values than there are environments.
fn cluster_key(records: &[&BTreeMap<String, String>], envs: usize) -> Option<String> {
    if records.is_empty() {
        return None;
    }
    let in_all = |k: &str| records.iter().all(|r| r.contains_key(k));
    if in_all("clusterType") {
        return Some("clusterType".into());
    }
    let mut best: Option<(String, usize)> = None;
    for k in records[0].keys() {
        if !k.to_ascii_lowercase().contains("cluster") || !in_all(k) {
            continue;
        }
        let distinct: BTreeSet<&String> = records.iter().filter_map(|r| r.get(k)).collect();
        if distinct.len() < envs && best.as_ref().is_none_or(|(_, n)| distinct.len() < *n) {
            best = Some((k.clone(), distinct.len()));
        }
    }
    best.map(|(k, _)| k)
}

/// Environment names from `…/values/env/<name>/` folders (no record files).
fn env_folders(files: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in files {
        let segs: Vec<&str> = f.split('/').collect();
        for w in segs.windows(4) {
            let named = w[0] == "values" && matches!(w[1], "env" | "envs" | "environments");
            let plain = !w[2].starts_with('_')
                && w[2]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if named && plain {
                out.insert(w[2].to_string());
            }
        }
    }
    out
}

/// The longest folder every path shares.
fn common_dir<'a>(mut dirs: impl Iterator<Item = &'a str>) -> String {
    let Some(first) = dirs.next() else {
        return String::new();
    };
    let mut common: Vec<&str> = first.split('/').collect();
    for d in dirs {
        let segs: Vec<&str> = d.split('/').collect();
        let n = common.iter().zip(&segs).take_while(|(a, b)| a == b).count();
        common.truncate(n);
    }
    common.join("/")
}

/// Inline components for every chart of a repository whose layout is unknown: named after the
/// chart (its Chart.yaml `name`), made unique with the folder path when two share a name.
fn inline_charts(root: &Path, charts: &[String]) -> Vec<(String, String)> {
    let clean = |s: &str| -> String {
        let s: String = s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        s.trim_matches(|c| c == '-' || c == '.').to_string()
    };
    let named: Vec<(String, String)> = charts
        .iter()
        .map(|c| {
            let name = read_yaml(root, &format!("{c}/Chart.yaml"))
                .and_then(|d| d.get("name").and_then(scalar))
                .map(|n| clean(&n))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| clean(file_name(c)));
            (name, c.clone())
        })
        .collect();
    let mut out = Vec::new();
    for (name, chart) in &named {
        let dup = named.iter().filter(|(n, _)| n == name).count() > 1;
        let name = if dup { clean(chart) } else { name.clone() };
        out.push((
            if name.is_empty() {
                "chart".into()
            } else {
                name
            },
            chart.clone(),
        ));
    }
    out
}

/// A YAML double-quoted scalar (JSON's string syntax is valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

impl Inspection {
    /// The configuration text, commented.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let w = &mut o;
        write_header(
            w,
            "the component files, environment records and values folders of this repository",
        );
        let _ = writeln!(
            w,
            "# Review the order of the value stacks against your ApplicationSet's valueFiles."
        );
        write_helm(w);
        let _ = writeln!(w, "environments:");
        match &self.environments {
            Environments::Records(globs) => {
                let _ = writeln!(w, "  # Environment records (one environment per record; each scalar field is a placeholder).");
                for (from, name) in globs {
                    let _ = writeln!(w, "  - from: {}\n    name: {}", q(from), q(name));
                }
            }
            Environments::Inline(names, why) => {
                let _ = writeln!(w, "  # {why}.");
                for n in names {
                    let _ = writeln!(w, "  - name: {}", q(n));
                }
            }
        }
        let _ = writeln!(w);

        if let Some(key) = &self.cluster_key {
            let _ = writeln!(
                w,
                "# Cluster-scoped components render once per distinct `{key}` of the environments."
            );
            let _ = writeln!(
                w,
                "clusterScope:\n  key: {}\n  environment: {}\n",
                q(key),
                q(&format!("cluster-{{{key}}}"))
            );
        }

        let _ = writeln!(w, "components:");
        match &self.components {
            Components::Discover(scopes) => {
                let _ = writeln!(
                    w,
                    "  # Component files (name, domain, namespace, chart.path, chart.valueFiles)."
                );
                for (from, scope, n) in scopes {
                    let s = match scope {
                        Scope::Environment => "environment",
                        Scope::Cluster => "cluster",
                    };
                    let _ = writeln!(
                        w,
                        "  - from: {}   # {n} component(s)\n    scope: {s}",
                        q(from)
                    );
                }
            }
            Components::Inline(charts) => {
                let _ = writeln!(w, "  # No component files (`**/component.yaml`) found: every chart of the repository, one");
                let _ = writeln!(w, "  # component each. Remove the ones you do not deploy; set `environments:` to narrow one.");
                if charts.is_empty() {
                    let _ = writeln!(
                        w,
                        "  # No chart (a folder with a Chart.yaml) found either. Example:"
                    );
                    let _ = writeln!(w, "  # - name: web\n  #   chart: charts/web");
                    let _ = writeln!(w, "  []");
                }
                for (name, chart) in charts {
                    let _ = writeln!(w, "  - name: {}\n    chart: {}", q(name), q(chart));
                }
            }
        }
        let _ = writeln!(w);

        let _ = writeln!(
            w,
            "# The values files of one cell, in order: later files win, missing files are skipped."
        );
        let _ = writeln!(
            w,
            "# Learned from the files present: general before specific. A component's own"
        );
        let _ = writeln!(w, "# chart.valueFiles replace its stack.");
        let _ = writeln!(w, "valueStacks:");
        let stack = |w: &mut String, name: &str, list: &[String]| {
            if list.is_empty() {
                let _ = writeln!(
                    w,
                    "  {name}: []   # e.g. [\"values/{{env}}/{{name}}.yaml\"]"
                );
            } else {
                let _ = writeln!(w, "  {name}:");
                for t in list {
                    let _ = writeln!(w, "    - {}", q(t));
                }
            }
        };
        stack(w, "environment", &self.env_stack);
        if self.cluster_key.is_some() {
            stack(w, "cluster", &self.cluster_stack);
        }
        if !self.outliers.is_empty() {
            let _ = writeln!(
                w,
                "# Not a layer: these folders sit where the stack expects another name, so no cell"
            );
            let _ = writeln!(
                w,
                "# reads them (a misplaced overlay? `values-file-unused` reports each file):"
            );
            for o in &self.outliers {
                let _ = writeln!(w, "#   {o}/");
            }
        }
        let _ = writeln!(w, "valuesPrefix: \"$values/\"        # stripped from chart.valueFiles entries (Argo CD's $values source)");
        let _ = writeln!(w, "missingValueFiles: skip          # as Argo CD's ignoreMissingValueFiles; `error` to fail instead\n");

        let _ = writeln!(w, "naming:");
        let _ = writeln!(
            w,
            "  app: \"{{env}}-{{name}}\"        # Argo CD application of an environment cell"
        );
        let _ = writeln!(
            w,
            "  clusterApp: \"cluster-{{name}}\" # ... of a cluster cell"
        );
        let _ = writeln!(w, "  release: \"{{app}}\"             # helm release name");
        let _ = writeln!(w, "  # namespace: the component's own, else the environment's {{namespace}}, else `default`\n");

        write_common_tail(w);
        o
    }
}
