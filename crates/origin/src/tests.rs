use super::*;
use imagegate_config::{Cell, Repo, Scope, ValueFile};

fn fleet(files: &[(&str, &str)]) -> (tempfile::TempDir, Repo) {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let repo = Repo::open(dir.path()).unwrap();
    (dir, repo)
}

fn cell(values: &[&str]) -> Cell {
    Cell {
        environment: "dev".into(),
        app: "dev-web".into(),
        release: "dev-web".into(),
        namespace: "ns".into(),
        component: "web".into(),
        scope: Scope::Environment,
        chart: "charts/web".into(),
        value_files: values
            .iter()
            .map(|p| ValueFile {
                path: p.to_string(),
                present: true,
            })
            .collect(),
        kube_version: "1.31.0".into(),
        api_versions: vec![],
        include_crds: false,
        source: "imagegate.yaml".into(),
        problems: vec![],
    }
}

#[test]
fn assembled_tag_points_at_the_layer_that_set_the_tag() {
    let (_d, repo) = fleet(&[
        (
            "charts/web/values.yaml",
            "image:\n  repository: ghcr.io/x/web\n  tag: latest\n",
        ),
        ("v/shared.yaml", "image:\n  repository: ghcr.io/acme/web\n"),
        ("v/env.yaml", "global:\n  imageTag: main\n"),
    ]);
    let stack = Stack::for_cell(&repo, &cell(&["v/shared.yaml", "v/env.yaml"]));
    let o = stack.find(&Offending::Tag("main".into())).unwrap();
    assert_eq!(
        (o.file.as_str(), o.line, o.layer),
        ("v/env.yaml", 2, LayerKind::ValueStack)
    );
    assert_eq!(o.key, "global.imageTag");
    // digest-required on the assembled reference: no layer holds it whole; the tag's layer is where to fix.
    let o = stack
        .find(&Offending::Reference("ghcr.io/acme/web:main".into()))
        .unwrap();
    assert_eq!(o.file, "v/env.yaml");
}

#[test]
fn chart_default_nobody_overrode() {
    let (_d, repo) = fleet(&[(
        "charts/web/values.yaml",
        "image:\n  repository: ghcr.io/x/web\n  tag: latest\n",
    )]);
    let stack = Stack::for_cell(&repo, &cell(&[]));
    let o = stack.find(&Offending::Tag("latest".into())).unwrap();
    assert_eq!(
        (o.file.as_str(), o.line, o.layer),
        ("charts/web/values.yaml", 3, LayerKind::ChartDefault)
    );
}

#[test]
fn later_layers_win_and_floats_are_found() {
    let (_d, repo) = fleet(&[
        ("charts/web/values.yaml", "image:\n  tag: \"1.1\"\n"),
        ("v/a.yaml", "image:\n  tag: 1.10\n"),
    ]);
    let stack = Stack::for_cell(&repo, &cell(&["v/a.yaml"]));
    let o = stack.find(&Offending::Tag("1.1".into())).unwrap();
    assert_eq!((o.file.as_str(), o.line), ("v/a.yaml", 2));
    assert_eq!(o.text, "  tag: 1.10");
}

#[test]
fn image_inside_a_yaml_string_points_at_its_own_line() {
    let manifests = "manifests:\n  - |\n    apiVersion: ameide.io/v1\n    kind: Domain\n    spec:\n      image: ghcr.io/acme/domain:dev\n      imagePullPolicy: Always\n";
    let (_d, repo) = fleet(&[
        ("charts/web/values.yaml", "manifests: []\n"),
        ("v/p.yaml", manifests),
    ]);
    let stack = Stack::for_cell(&repo, &cell(&["v/p.yaml"]));
    let o = stack
        .find(&Offending::Reference("ghcr.io/acme/domain:dev".into()))
        .unwrap();
    assert_eq!((o.file.as_str(), o.line), ("v/p.yaml", 6));
    let o = stack.find(&Offending::Tag("dev".into())).unwrap();
    assert_eq!(o.line, 6);
    let o = stack.find(&Offending::PullPolicy("Always".into())).unwrap();
    assert_eq!(o.line, 7);
}

#[test]
fn hard_coded_in_template_has_no_origin() {
    let (_d, repo) = fleet(&[
        (
            "charts/web/values.yaml",
            "image:\n  ref: ghcr.io/acme/web@sha256:aa\n",
        ),
        ("v/a.yaml", "x: 1\n"),
    ]);
    let stack = Stack::for_cell(&repo, &cell(&["v/a.yaml"]));
    assert_eq!(stack.find(&Offending::Tag("devel".into())), None);
    assert_eq!(stack.find(&Offending::PullPolicy("Always".into())), None);
}

#[test]
fn token_boundaries_are_respected() {
    let (_d, repo) = fleet(&[("charts/web/values.yaml", "a: ghcr.io/acme/web:devel\n")]);
    let stack = Stack::for_cell(&repo, &cell(&[]));
    assert_eq!(stack.find(&Offending::Tag("dev".into())), None);
}

#[test]
fn split_reference_handles_ports_and_digests() {
    assert_eq!(
        split_reference("registry.local:5000/team/app"),
        ("registry.local:5000/team/app", None)
    );
    assert_eq!(
        split_reference("registry.local:5000/team/app:v1@sha256:ab"),
        ("registry.local:5000/team/app", Some("v1"))
    );
    assert_eq!(split_reference("nginx"), ("nginx", None));
}
