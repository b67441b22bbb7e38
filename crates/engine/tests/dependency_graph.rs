//! The crates depend on each other only along the flow: no crate reaches back up the chain
//! (the configuration's fleet half knows nothing of the policy, the renderer nothing of the rules).
//!
//! [`FLOW`] is the one table of what may depend on what; `docs/architecture.md` shows the same
//! text, and this test keeps the two equal.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The allowed graph, one line per chain: each crate (named by its folder; `cli` is the root
/// package, the command line, at the workspace root) may depend on the
/// crates left of it on its line, and on whatever those may depend on. A crate alone on a line
/// depends on no other crate of the workspace. Every workspace crate appears in it.
const FLOW: &str = "\
yaml ◄── fleet ◄── render
yaml ◄── decode ◄── policy
fleet, policy, yaml ◄── origin
yaml ◄── edit
yaml, fleet, render, decode, policy, origin, report, edit ◄── engine ◄── cli
policy ◄── registry ◄── cli
engine ◄── fuzz
cli ◄── xtask
report
";

/// For every crate of [`FLOW`], the crates it may depend on (directly or not).
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let mut direct: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in FLOW.lines() {
        let stages: Vec<Vec<String>> = line
            .split(" ◄── ")
            .map(|s| s.split(", ").map(str::to_owned).collect())
            .collect();
        for (i, stage) in stages.iter().enumerate() {
            for name in stage {
                let entry = direct.entry(name.clone()).or_default();
                if i > 0 {
                    entry.extend(stages[i - 1].iter().cloned());
                }
            }
        }
    }
    let mut closed = direct.clone();
    loop {
        let mut grew = false;
        for (name, deps) in direct.iter() {
            let reach: BTreeSet<String> = closed[name]
                .iter()
                .flat_map(|d| closed.get(d).cloned().unwrap_or_default())
                .collect();
            let set = closed.get_mut(name).unwrap();
            let before = set.len();
            set.extend(reach);
            set.extend(deps.iter().cloned());
            grew |= set.len() != before;
        }
        if !grew {
            return closed;
        }
    }
}

/// Each workspace crate (by folder name) and the workspace crates it depends on (by folder
/// name), in any kind: normal, dev or build.
fn workspace_graph(metadata: &serde_json::Value) -> BTreeMap<String, BTreeSet<String>> {
    let packages = metadata["packages"].as_array().expect("packages");
    let workspace = Path::new(metadata["workspace_root"].as_str().expect("workspace_root"));
    let folder = |p: &serde_json::Value| {
        let manifest = Path::new(p["manifest_path"].as_str().expect("manifest_path"));
        let dir = manifest.parent().expect("folder");
        if dir == workspace {
            return "cli".to_owned();
        }
        let dir = dir.file_name().expect("folder");
        dir.to_string_lossy().into_owned()
    };
    let by_package: BTreeMap<&str, String> = packages
        .iter()
        .map(|p| (p["name"].as_str().expect("name"), folder(p)))
        .collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter_map(|d| by_package.get(d["name"].as_str()?).cloned())
                .collect();
            (folder(p), deps)
        })
        .collect()
}

/// Every edge of `graph` that [`FLOW`] does not allow, and every crate it does not place.
fn violations(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let allowed = allowed();
    let mut out = Vec::new();
    for (name, deps) in graph {
        let Some(ok) = allowed.get(name) else {
            out.push(format!("`{name}` is not placed in the flow"));
            continue;
        };
        for dep in deps.difference(ok) {
            out.push(format!(
                "`{name}` depends on `{dep}`, which is not before it in the flow"
            ));
        }
    }
    for name in allowed.keys().filter(|n| !graph.contains_key(*n)) {
        out.push(format!(
            "the flow names `{name}`, which is no workspace crate"
        ));
    }
    out
}

fn metadata() -> serde_json::Value {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let out = std::process::Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

#[test]
fn each_crate_depends_only_on_crates_before_it() {
    let graph = workspace_graph(&metadata());
    assert!(
        graph.contains_key("fleet") && graph.contains_key("cli"),
        "{graph:?}"
    );
    let bad = violations(&graph);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn a_dependency_back_up_the_flow_is_refused() {
    let mut graph = workspace_graph(&metadata());
    for (from, to) in [
        ("fleet", "policy"),
        ("render", "decode"),
        ("policy", "fleet"),
    ] {
        let mut g = graph.clone();
        g.get_mut(from).unwrap().insert(to.into());
        let bad = violations(&g);
        assert_eq!(
            bad,
            [format!(
                "`{from}` depends on `{to}`, which is not before it in the flow"
            )]
        );
    }
    graph.insert("newcrate".into(), BTreeSet::new());
    assert_eq!(violations(&graph), ["`newcrate` is not placed in the flow"]);
}

#[test]
fn the_architecture_doc_shows_the_same_graph() {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/architecture.md");
    let text = std::fs::read_to_string(doc).expect("docs/architecture.md");
    assert!(
        text.contains(&format!("```\n{FLOW}```\n")),
        "docs/architecture.md must show the dependency graph of this test verbatim:\n{FLOW}"
    );
}
