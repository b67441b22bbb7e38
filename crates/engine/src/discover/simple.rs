//! `imagegate init` in a repository with neither Argo CD manifests nor component files: the
//! charts are the components, and each one's values files are found from the names of the
//! environments.
//!
//! The environments come from environment record files (flat, or cluster-type files with
//! nested `environments` lists), else from per-environment folders (`values/<env>/`,
//! `values/env/<env>/`, `envs/<env>/`, `environments/<env>/`) and `values-<env>.yaml` files
//! beside a chart's `values.yaml`. Without any, there is no environment to invent: that is an
//! open question.
//!
//! Each values file (under a folder named `values`, `env`, `envs` or `environments`, or a
//! chart's `values-<env>.yaml`) is generalised: a segment naming an environment becomes
//! `{env}`, one naming a record field's value (a cluster type) that field's placeholder. A file
//! naming a chart (`web.yaml`, `web/…`, or inside the chart) is that component's own; a file of
//! shared values (`globals.yaml`, `common/…`) is every component's. A file that is neither is
//! never put into a stack by guess: it is an open question. So an environment's layers are only
//! its own and the shared ones.
//!
//! What the files cannot say is asked, never guessed: the order of two or more layers (it is
//! written general before specific, and asked), and whether a chart with values files for only
//! some environments is deployed in the others.

use super::{file_name, is_yaml, parent, q, records, stem, write_common_tail, write_header};
use super::{inline_charts, write_helm, write_questions, Proposal, Question, Tree};
use crate::Fatal;
use anyhow::Result;
use imagegate_fleet::Repo;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// Folder names whose children are environments.
const ENV_FOLDERS: [&str; 3] = ["env", "envs", "environments"];
/// Folder and file names of values shared by every component.
const SHARED_WORDS: [&str; 11] = [
    "common", "shared", "_shared", "base", "global", "globals", "default", "defaults", "all",
    "values", "_common",
];
/// Folders whose files are values files.
const VALUES_FOLDERS: [&str; 4] = ["values", "env", "envs", "environments"];

fn is_shared_word(s: &str) -> bool {
    SHARED_WORDS.contains(&s)
}

fn plain(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['_', '.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Environment names from folders: `values/env/<e>/`, `envs/<e>/`, `environments/<e>/`, and
/// the children of `values/` that are not shared folders (only when there are two or more:
/// one folder beside shared ones is no evidence of environments).
fn env_folders(files: &[String]) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let mut under_values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let segs: Vec<&str> = f.split('/').collect();
        // The last segment is the file; an environment is a folder.
        let folders = &segs[..segs.len().saturating_sub(1)];
        for (i, s) in folders.iter().enumerate() {
            let Some(next) = folders.get(i + 1) else {
                continue;
            };
            if ENV_FOLDERS.contains(s) {
                if plain(next) {
                    named.insert(next.to_string());
                }
            } else if *s == "values"
                && !ENV_FOLDERS.contains(next)
                && !is_shared_word(next)
                && plain(next)
            {
                under_values
                    .entry(folders[..=i].join("/"))
                    .or_default()
                    .insert(next.to_string());
            }
        }
    }
    for (_, children) in under_values {
        if children.len() >= 2 {
            named.extend(children);
        }
    }
    named
}

/// One values file, generalised.
#[derive(Debug, Clone)]
struct Layer {
    /// The path template (`values/{env}/web.yaml`).
    template: String,
    /// The file as found.
    file: String,
    /// The environment it names, if any.
    env: Option<String>,
    /// The placeholders it uses.
    vars: BTreeSet<String>,
    /// The component it belongs to, if it names one.
    component: Option<String>,
    /// Whether it holds values shared by every component (named or filed so).
    shared: bool,
}

/// What the repository's records or folders say about its environments.
struct Envs {
    /// The names, in order.
    names: Vec<String>,
    /// Per environment, its record fields (placeholders).
    vars: BTreeMap<String, BTreeMap<String, String>>,
    /// Record fields whose values may name folders, in the order they are tried.
    fields: Vec<String>,
    /// The `environments:` entries: record globs (glob, name template) or inline names.
    entries: Entries,
}

enum Entries {
    Records(Vec<(String, String)>),
    Inline(Vec<String>, String),
}

/// Generalises `file` (repository-relative) against the environments and components.
fn generalise(
    file: &str,
    envs: &Envs,
    components: &[(String, String)],
    chart_of: Option<&str>,
) -> Layer {
    let segs: Vec<&str> = file.split('/').collect();
    let mut out: Vec<String> = Vec::new();
    let mut env = None;
    let mut vars = BTreeSet::new();
    let mut component = chart_of.map(str::to_string);
    let mut shared = false;
    let field_of = |s: &str| {
        envs.fields.iter().find(|f| {
            envs.vars
                .values()
                .any(|v| v.get(*f).is_some_and(|x| x == s))
        })
    };
    let last = segs.len() - 1;
    for (i, seg) in segs.iter().enumerate() {
        let (base, ext) = if i == last {
            let st = stem(seg);
            (st, &seg[st.len()..])
        } else {
            (*seg, "")
        };
        // `values-<env>` beside a chart's values.yaml.
        let (prefix, name) = match base.strip_prefix("values-") {
            Some(rest) if i == last && chart_of.is_some() => ("values-", rest),
            _ => ("", base),
        };
        let text = if envs.names.iter().any(|e| e == name) {
            env = Some(name.to_string());
            vars.insert("env".to_string());
            if i == last && chart_of.is_none() {
                shared = true; // `values/dev.yaml`: the environment's own values
            }
            format!("{prefix}{{env}}{ext}")
        } else if chart_of.is_none() && components.iter().any(|(n, _)| n == name) {
            component = Some(name.to_string());
            seg.to_string()
        } else if let Some(f) = field_of(name) {
            vars.insert(f.clone());
            if i == last && chart_of.is_none() {
                shared = true; // `values/clusters/azure.yaml`: the cluster type's values
            }
            format!("{prefix}{{{f}}}{ext}")
        } else {
            // `values/` is where every values file lives; a file named `values.yaml` (in
            // `envs/dev/`) is shared values.
            let values_folder = i < last && name == "values";
            if is_shared_word(name) && chart_of.is_none() && !values_folder {
                shared = true;
            }
            seg.to_string()
        };
        out.push(text);
    }
    Layer {
        template: out.join("/"),
        file: file.to_string(),
        env,
        vars,
        component,
        shared,
    }
}

/// The environments of the repository, from record files or folders.
fn environments(repo: &Repo, tree: &Tree, candidates: &[&String]) -> Envs {
    let mut record_files: BTreeMap<String, super::RecordFile> = BTreeMap::new();
    for f in candidates {
        if let Some(r) = records(repo, f) {
            record_files.insert((*f).clone(), r);
        }
    }
    if !record_files.is_empty() {
        let mut names = Vec::new();
        let mut vars = BTreeMap::new();
        let mut fields: Vec<String> = Vec::new();
        for (recs, field) in record_files.values() {
            for r in recs {
                if let Some(n) = r.get(*field) {
                    names.push(n.clone());
                    vars.insert(n.clone(), r.clone());
                }
                for k in r.keys() {
                    if k != field && k != "env" && !fields.contains(k) {
                        fields.push(k.clone());
                    }
                }
            }
        }
        // A cluster type names folders before any other field.
        fields.sort_by_key(|f| !f.to_ascii_lowercase().contains("cluster"));
        let mut globs = Vec::new();
        let mut by_dir: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
        for f in record_files.keys() {
            by_dir.entry(parent(f)).or_default().push(f);
        }
        for (dir, files) in by_dir {
            let field = record_files[files[0]].1;
            let yaml_here = tree
                .files
                .iter()
                .filter(|f| parent(f) == dir && f.ends_with(".yaml"))
                .count();
            let uniform = files.iter().all(|f| record_files[*f].1 == field);
            if uniform && files.len() > 1 && yaml_here == files.len() {
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
        return Envs {
            names,
            vars,
            fields,
            entries: Entries::Records(globs),
        };
    }
    let mut names: BTreeSet<String> = env_folders(&tree.files);
    let from_folders = !names.is_empty();
    // `values-<env>.yaml` beside a chart's values.yaml.
    for chart_files in tree.chart_files.values() {
        for f in chart_files {
            if let Some(e) = stem(f).strip_prefix("values-") {
                if plain(e) && is_yaml(f) {
                    names.insert(e.to_string());
                }
            }
        }
    }
    let why = match (from_folders, names.len()) {
        (_, 0) => String::new(),
        (true, _) => {
            "the per-environment values folders (and values-<env>.yaml files beside charts)".into()
        }
        (false, _) => "the values-<env>.yaml files beside the charts".into(),
    };
    let names: Vec<String> = names.into_iter().collect();
    Envs {
        vars: names
            .iter()
            .map(|n| (n.clone(), BTreeMap::from([("env".to_string(), n.clone())])))
            .collect(),
        entries: Entries::Inline(names.clone(), why),
        names,
        fields: Vec::new(),
    }
}

/// The placeholder level of a template, for the general-to-specific order: none, a cluster-type
/// field, `{env}`, another field.
fn level(l: &Layer) -> u8 {
    l.vars
        .iter()
        .map(|v| {
            if v == "env" {
                2
            } else if v.to_ascii_lowercase().contains("cluster") {
                1
            } else {
                3
            }
        })
        .max()
        .unwrap_or(0)
}

/// The proposal for a repository without Argo CD manifests or component files.
pub(super) fn propose(root: &Path, tree: &Tree) -> Result<Proposal> {
    let repo = Repo::open(root).map_err(|e| Fatal(e.to_string()))?;
    let mut notes = Vec::new();
    let mut questions = Vec::new();
    let in_values = |f: &str| {
        let segs: Vec<&str> = f.split('/').collect();
        segs[..segs.len() - 1]
            .iter()
            .any(|s| VALUES_FOLDERS.contains(s))
    };
    let yaml: Vec<&String> = tree
        .files
        .iter()
        .filter(|f| is_yaml(f) && file_name(f) != "imagegate.yaml")
        .collect();
    let candidates: Vec<&String> = yaml.iter().copied().filter(|f| !in_values(f)).collect();
    let envs = environments(&repo, tree, &candidates);
    let components = inline_charts(root, &tree.charts);

    if envs.names.is_empty() {
        questions.push(Question {
            question: "Which environments are there? No environment record file, per-environment values folder or values-<env>.yaml file was found. List them under `environments:` (`- name: dev`), or point `environments:` at your record files (`- from: config/envs/*.yaml`, `name: \"{env}\"`).".into(),
            from: Vec::new(),
        });
    }

    // Every values file, generalised.
    let mut layers: Vec<Layer> = Vec::new();
    for f in yaml.iter().filter(|f| in_values(f)) {
        layers.push(generalise(f, &envs, &components, None));
    }
    for (chart, files) in &tree.chart_files {
        for f in files {
            if is_yaml(f) && stem(f).starts_with("values-") {
                let rel = format!("{chart}/{f}");
                let name = components
                    .iter()
                    .find(|(_, c)| c == chart)
                    .map(|(n, _)| n.as_str());
                layers.push(generalise(&rel, &envs, &components, name.or(Some(chart))));
            }
        }
    }
    // Files that belong to no component and hold no shared values are never stacked by guess.
    let mut unplaced: BTreeSet<String> = BTreeSet::new();
    let mut templates: BTreeMap<String, Vec<Layer>> = BTreeMap::new();
    for l in layers {
        if l.component.is_none() && !l.shared {
            unplaced.insert(l.file.clone());
            continue;
        }
        templates.entry(l.template.clone()).or_default().push(l);
    }
    // Literal files of one owner that differ in one folder or name only (`values/dev/web.yaml`
    // and `values/prod/web.yaml` where no environment is called so) are variants of one layer
    // for something init does not know: stacking them all would mix them into every cell.
    let owners: Vec<(String, Option<String>, bool)> = templates
        .iter()
        .map(|(t, ls)| (t.clone(), ls[0].component.clone(), ls[0].vars.is_empty()))
        .collect();
    let mut variants: BTreeSet<String> = BTreeSet::new();
    for (a, owner, a_literal) in &owners {
        for (b, other, b_literal) in &owners {
            // A literal file against another literal one, or against a template whose
            // placeholder stands where the literal has a name that fits none of its values
            // (`values/cluster/azure/…` beside `values/cluster/{env}/…`).
            if a == b || owner != other || !*a_literal || (*b_literal && a > b) {
                continue;
            }
            let (sa, sb): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
            let differing: Vec<(&&str, &&str)> =
                sa.iter().zip(&sb).filter(|(x, y)| x != y).collect();
            // A shared folder or file (`values/base/web.yaml` beside `values/{env}/web.yaml`)
            // is a layer of its own, no variant.
            let shared_name = differing
                .iter()
                .any(|(x, y)| is_shared_word(stem(x)) || is_shared_word(stem(y)));
            if sa.len() == sb.len() && differing.len() == 1 && !shared_name {
                variants.insert(a.clone());
                variants.insert(b.clone());
            }
        }
    }
    let variants: BTreeSet<String> = variants
        .into_iter()
        .flat_map(|t| {
            templates
                .remove(&t)
                .unwrap_or_default()
                .into_iter()
                .map(|l| l.file)
        })
        .collect();
    if !variants.is_empty() {
        let list: Vec<&str> = variants.iter().map(String::as_str).collect();
        questions.push(Question {
            question: format!(
                "What do these files vary by? They differ in one folder or name only, which names no environment or record field, so they are in no stack (stacked, each cell would read them all): {}. Name the environments (or the record field) they belong to, and add them to the components' valueFiles as a template such as `values/{{env}}/web.yaml`.",
                list.join(", ")
            ),
            from: list.iter().map(|s| s.to_string()).collect(),
        });
    }
    if !unplaced.is_empty() {
        let list: Vec<&str> = unplaced.iter().map(String::as_str).collect();
        questions.push(Question {
            question: format!(
                "Which components read these values files? They name no chart of this repository and hold no shared values (`globals`, `common/`…), so no stack holds them: {}. Add each to the valueFiles of the components that read it, in its place in the order, or list it under valueFolders.ignore.",
                list.join(", ")
            ),
            from: list.iter().map(|s| s.to_string()).collect(),
        });
    }

    // Each component's stack, and where it is deployed.
    struct Comp {
        name: String,
        chart: String,
        stack: Vec<String>,
        only: Option<Vec<String>>,
    }
    let mut comps = Vec::new();
    let mut unordered: Vec<String> = Vec::new();
    let mut unordered_from: BTreeSet<String> = BTreeSet::new();
    let mut partial: Vec<String> = Vec::new();
    for (name, chart) in &components {
        let mut own: Vec<&Layer> = templates
            .values()
            .map(|ls| &ls[0])
            .filter(|l| {
                l.component.as_deref() == Some(name.as_str()) || (l.component.is_none() && l.shared)
            })
            .collect();
        own.sort_by_key(|l| (l.component.is_some(), level(l), l.template.clone()));
        let stack: Vec<String> = own.iter().map(|l| l.template.clone()).collect();
        // Environments with a file of this component's own.
        let mine = || {
            templates
                .values()
                .flatten()
                .filter(|l| l.component.as_deref() == Some(name.as_str()))
        };
        let with_files: BTreeSet<String> = mine().filter_map(|l| l.env.clone()).collect();
        let env_specific = mine().any(|l| l.vars.contains("env"));
        let only = if env_specific && with_files.len() < envs.names.len() {
            let only: Vec<String> = envs
                .names
                .iter()
                .filter(|e| with_files.contains(*e))
                .cloned()
                .collect();
            let missing: Vec<&str> = envs
                .names
                .iter()
                .filter(|e| !with_files.contains(*e))
                .map(String::as_str)
                .collect();
            partial.push(format!(
                "{name} (values files for {}; none for {})",
                only.join(", "),
                missing.join(", ")
            ));
            Some(only)
        } else {
            None
        };
        if stack.len() >= 2 {
            unordered.push(format!("{name}: {}", stack.join(", ")));
            unordered_from.extend(stack.iter().cloned());
        }
        comps.push(Comp {
            name: name.clone(),
            chart: chart.clone(),
            stack,
            only,
        });
    }
    if !unordered.is_empty() {
        questions.push(Question {
            question: format!(
                "In which order are the values files of each component read (later files win)? No file of this repository says; they are written general before specific, shared before the component's own: {}. Reorder each component's valueFiles if your deployment reads them otherwise.",
                unordered.join("; ")
            ),
            from: unordered_from.into_iter().collect(),
        });
    }
    if !partial.is_empty() {
        questions.push(Question {
            question: format!(
                "Is each of these charts deployed only in the environments it has values files for? {}. Written so (the component's `environments:`); delete that line, or add the environments it is deployed in too.",
                partial.join("; ")
            ),
            from: Vec::new(),
        });
    }
    if components.is_empty() {
        notes.push(
            "no chart (a folder with a Chart.yaml) found: there is nothing to render yet".into(),
        );
    }

    let mut o = String::new();
    let w = &mut o;
    write_header(
        w,
        "the charts, environment records and per-environment values files of this repository",
    );
    write_helm(w);
    let _ = writeln!(w, "environments:");
    match &envs.entries {
        Entries::Records(globs) => {
            let _ = writeln!(
                w,
                "  # Environment records: one environment per record (nested `environments` lists"
            );
            let _ = writeln!(
                w,
                "  # inherit their parent's fields); each scalar field is a placeholder."
            );
            for (from, name) in globs {
                let _ = writeln!(w, "  - from: {}\n    name: {}", q(from), q(name));
            }
        }
        Entries::Inline(names, why) => {
            if names.is_empty() {
                let _ = writeln!(w, "  [] # see openQuestions");
            } else {
                let _ = writeln!(w, "  # The environments named by {why}.");
            }
            for n in names {
                let _ = writeln!(w, "  - name: {}", q(n));
            }
        }
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# Every chart of the repository is a component. Its valueFiles are its stack, in"
    );
    let _ = writeln!(
        w,
        "# order (later files win); a file missing for an environment is skipped."
    );
    let _ = writeln!(w, "components:");
    if comps.is_empty() {
        let _ = writeln!(w, "  []");
    }
    for c in &comps {
        let _ = writeln!(w, "  - name: {}\n    chart: {}", q(&c.name), q(&c.chart));
        if let Some(only) = &c.only {
            let list: Vec<String> = only.iter().map(|e| q(e)).collect();
            let _ = writeln!(
                w,
                "    environments: [{}]   # see openQuestions",
                list.join(", ")
            );
        }
        if c.stack.is_empty() {
            let _ = writeln!(w, "    valueFiles: []   # the chart's own values.yaml only");
        } else {
            let _ = writeln!(w, "    valueFiles:");
            for t in &c.stack {
                let _ = writeln!(w, "      - {}", q(t));
            }
        }
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "missingValueFiles: skip          # as Argo CD's ignoreMissingValueFiles; `error` to fail instead");
    let _ = writeln!(w, "naming:");
    let _ = writeln!(
        w,
        "  app: \"{{env}}-{{name}}\"        # the application of a cell"
    );
    let _ = writeln!(w, "  release: \"{{app}}\"             # helm release name");
    let _ = writeln!(
        w,
        "  # namespace: the environment's {{namespace}} field, else `default`\n"
    );
    write_questions(w, &questions);
    write_common_tail(w);
    Ok(Proposal {
        text: o,
        notes,
        questions,
        layout: "charts and values files",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn environment_folders_are_named_where_the_layout_says() {
        let got = env_folders(&files(&[
            "values/dev/web.yaml",
            "values/prod/web.yaml",
            "values/common/globals.yaml",
            "deploy/envs/qa/web.yaml",
            "a/values/env/stage/x.yaml",
            "b/values/only/x.yaml",
            "values/top.yaml",
        ]));
        let want: BTreeSet<String> = ["dev", "prod", "qa", "stage"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_path_is_generalised_by_environment_component_and_record_field() {
        let envs = Envs {
            names: vec!["dev".into(), "prod".into()],
            vars: BTreeMap::from([
                (
                    "dev".into(),
                    BTreeMap::from([("clusterType".to_string(), "azure".to_string())]),
                ),
                (
                    "prod".into(),
                    BTreeMap::from([("clusterType".to_string(), "azure".to_string())]),
                ),
            ]),
            fields: vec!["clusterType".into()],
            entries: Entries::Inline(Vec::new(), String::new()),
        };
        let comps = vec![("web".to_string(), "charts/web".to_string())];
        let g = |f: &str, chart: Option<&str>| {
            let l = generalise(f, &envs, &comps, chart);
            (l.template, l.component, l.shared)
        };
        assert_eq!(
            g("values/dev/web.yaml", None),
            ("values/{env}/web.yaml".into(), Some("web".into()), false)
        );
        assert_eq!(
            g("values/clusters/azure.yaml", None),
            ("values/clusters/{clusterType}.yaml".into(), None, true)
        );
        assert_eq!(
            g("values/common/globals.yaml", None),
            ("values/common/globals.yaml".into(), None, true)
        );
        assert_eq!(
            g("values/dev/other.yaml", None),
            ("values/{env}/other.yaml".into(), None, false)
        );
        assert_eq!(
            g("charts/web/values-prod.yaml", Some("web")),
            (
                "charts/web/values-{env}.yaml".into(),
                Some("web".into()),
                false
            )
        );
    }
}
