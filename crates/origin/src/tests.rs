use super::*;
use imagegate_fleet::{Cell, Repo};

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
        component: "web".into(),
        namespace: "ns".into(),
        ..Cell::new("dev", "dev-web", "charts/web").with_values(values)
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
    let o = stack
        .find(&Offending::Tag("main".into()), &Hints::default())
        .unwrap();
    assert_eq!(
        (o.file.as_str(), o.line, o.layer),
        ("v/env.yaml", 2, LayerKind::ValueStack)
    );
    assert_eq!(o.key, "global.imageTag");
    // digest-required on the assembled reference: no layer holds it whole; the tag's layer is where to fix.
    let o = stack
        .find(
            &Offending::Reference("ghcr.io/acme/web:main".into()),
            &Hints::default(),
        )
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
    let o = stack
        .find(&Offending::Tag("latest".into()), &Hints::default())
        .unwrap();
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
    let o = stack
        .find(&Offending::Tag("1.1".into()), &Hints::default())
        .unwrap();
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
        .find(
            &Offending::Reference("ghcr.io/acme/domain:dev".into()),
            &Hints::default(),
        )
        .unwrap();
    assert_eq!((o.file.as_str(), o.line), ("v/p.yaml", 6));
    let o = stack
        .find(&Offending::Tag("dev".into()), &Hints::default())
        .unwrap();
    assert_eq!(o.line, 6);
    let o = stack
        .find(&Offending::PullPolicy("Always".into()), &Hints::default())
        .unwrap();
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
    assert_eq!(
        stack.find(&Offending::Tag("devel".into()), &Hints::default()),
        None
    );
    assert_eq!(
        stack.find(&Offending::PullPolicy("Always".into()), &Hints::default()),
        None
    );
}

#[test]
fn token_boundaries_are_respected() {
    let (_d, repo) = fleet(&[("charts/web/values.yaml", "a: ghcr.io/acme/web:devel\n")]);
    let stack = Stack::for_cell(&repo, &cell(&[]));
    assert_eq!(
        stack.find(&Offending::Tag("dev".into()), &Hints::default()),
        None
    );
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

#[test]
fn several_images_with_the_same_tag_pick_the_one_that_belongs() {
    let values = "operators:\n  domain:\n    image:\n      repository: acme/domain-operator\n      tag: latest\n  integration:\n    image:\n      repository: acme/integration-operator\n      tag: latest\n";
    let overlay =
        "operators:\n  domain:\n    image:\n      tag: dev\n  agent:\n    image:\n      tag: dev\n";
    let (_d, repo) = fleet(&[
        ("charts/web/values.yaml", values),
        ("v/local.yaml", overlay),
    ]);
    let stack = Stack::for_cell(&repo, &cell(&["v/local.yaml"]));
    // The sibling repository decides in the chart defaults…
    let image = "ghcr.io/acme/integration-operator:latest";
    let hints = Hints {
        image: Some(image),
        words: &["integration-operator", "manager"],
    };
    let o = stack
        .find(&Offending::Tag("latest".into()), &hints)
        .unwrap();
    assert_eq!((o.file.as_str(), o.line), ("charts/web/values.yaml", 9));
    // …and the key path's words where there is no sibling to go by.
    let image = "ghcr.io/acme/agent-operator:dev";
    let hints = Hints {
        image: Some(image),
        words: &["agent-operator", "manager"],
    };
    let o = stack.find(&Offending::Tag("dev".into()), &hints).unwrap();
    assert_eq!(
        (o.file.as_str(), o.line, o.key.as_str()),
        ("v/local.yaml", 7, "operators.agent.image.tag")
    );
}

#[test]
fn a_subchart_default_is_found_under_its_key_and_a_parent_value_for_another_image_is_not() {
    let (_d, repo) = fleet(&[
        (
            "charts/web/values.yaml",
            "image:\n  repository: acme/cache\n  tag: 7.2.4\n",
        ),
        (
            "charts/web/charts/sentinel/values.yaml",
            "image:\n  repository: acme/sentinel\n  tag: 7.2.4\n  pullPolicy: Always\n",
        ),
        (
            "v/shared.yaml",
            "image:\n  repository: acme/cache\n  tag: 7.2.4\n",
        ),
        (
            "v/env.yaml",
            "global:\n  primitives:\n    imagePullPolicy: Always\n",
        ),
    ]);
    let stack = Stack::for_cell(&repo, &cell(&["v/shared.yaml", "v/env.yaml"]));
    let image = "docker.io/acme/sentinel:7.2.4";
    let hints = Hints {
        image: Some(image),
        words: &["web-sentinel", "sentinel"],
    };
    let o = stack
        .find(&Offending::Reference(image.into()), &hints)
        .unwrap();
    assert_eq!(
        (o.file.as_str(), o.line, o.layer),
        (
            "charts/web/charts/sentinel/values.yaml",
            3,
            LayerKind::SubchartDefault
        )
    );
    assert_eq!(o.key, "sentinel.image.tag");
    let o = stack
        .find(&Offending::PullPolicy("Always".into()), &hints)
        .unwrap();
    assert_eq!(
        (o.file.as_str(), o.line),
        ("charts/web/charts/sentinel/values.yaml", 4)
    );
    assert_eq!(subchart_prefix("charts/a/charts/b/values.yaml"), "a.b");
    assert_eq!(subchart_prefix("charts/a.b/values.yaml"), "[\"a.b\"]");
}

#[test]
fn an_override_of_the_confirmed_key_in_a_later_layer_wins() {
    let (_d, repo) = fleet(&[
        (
            "charts/web/values.yaml",
            "image:\n  repository: acme/web\n  tag: dev\n",
        ),
        ("v/env.yaml", "image:\n  tag: dev\n"),
    ]);
    let stack = Stack::for_cell(&repo, &cell(&["v/env.yaml"]));
    let hints = Hints {
        image: Some("ghcr.io/acme/web:dev"),
        words: &[],
    };
    let o = stack.find(&Offending::Tag("dev".into()), &hints).unwrap();
    assert_eq!((o.file.as_str(), o.line), ("v/env.yaml", 2));
}

#[test]
fn a_value_holding_the_whole_reference_beats_a_generic_tag_key() {
    let (_d, repo) = fleet(&[
        ("charts/web/values.yaml", "x: 1\n"),
        ("v/base.yaml", "global:\n  primitives:\n    imageTag: dev\n"),
        (
            "v/smoke.yaml",
            "runner:\n  image: ghcr.io/acme/runner:dev\n",
        ),
    ]);
    let stack = Stack::for_cell(&repo, &cell(&["v/base.yaml", "v/smoke.yaml"]));
    let hints = Hints {
        image: Some("ghcr.io/acme/runner:dev"),
        words: &[],
    };
    let o = stack.find(&Offending::Tag("dev".into()), &hints).unwrap();
    assert_eq!((o.file.as_str(), o.line), ("v/smoke.yaml", 2));
}

/// Runs `f` on its own thread and fails the test (instead of hanging the suite) when it does not
/// finish within a few seconds: the regressions below are infinite loops.
fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("the origin search did not finish within 10 s: it loops")
}

const NEIGHBOURS: &str = "replicaCount: 1\nenabled: true\nimage:\n  repository: ghcr.io/acme/web\n  tag: v1\n_x: -y\n.dot: .z\nmetrics:\n  image: \"\"\n";

#[test]
fn an_empty_image_points_at_the_empty_value_and_never_spins() {
    let (d, _) = fleet(&[("charts/web/values.yaml", NEIGHBOURS)]);
    let root = d.path().to_path_buf();
    let o = within_seconds(move || {
        let repo = Repo::open(&root).unwrap();
        let stack = Stack::for_cell(&repo, &cell(&[]));
        let words = ["web", "metrics"];
        let hints = Hints {
            image: Some(""),
            words: &words,
        };
        stack.find(&Offending::EmptyImage, &hints)
    })
    .expect("the empty value is the origin");
    assert_eq!((o.line, o.key.as_str()), (9, "metrics.image"));
}

#[test]
fn null_and_blank_image_values_are_origins_of_an_empty_image() {
    for (values, line) in [
        ("a: 1\nsidecar:\n  image:\n", 3),
        ("a: 1\nsidecar:\n  image: ~\n", 3),
        ("a: 1\nsidecar:\n  image: null\n", 3),
        ("a: 1\nsidecar:\n  repository: ''\n", 3),
    ] {
        let (_d, repo) = fleet(&[("charts/web/values.yaml", values)]);
        let stack = Stack::for_cell(&repo, &cell(&[]));
        let o = stack.find(&Offending::EmptyImage, &Hints::default());
        assert_eq!(o.map(|o| o.line), Some(line), "{values:?}");
    }
    // An empty value under a key that names no image is not an origin, and `"null"` (a string)
    // is not empty.
    for values in ["name: \"\"\n", "image: \"null\"\n", "image: x\n"] {
        let (_d, repo) = fleet(&[("charts/web/values.yaml", values)]);
        let stack = Stack::for_cell(&repo, &cell(&[]));
        assert_eq!(
            stack.find(&Offending::EmptyImage, &Hints::default()),
            None,
            "{values:?}"
        );
    }
}

#[test]
fn empty_search_strings_find_nothing_and_terminate() {
    // Not produced by the policy any more, but the search itself must never depend on that.
    let (d, _) = fleet(&[("charts/web/values.yaml", NEIGHBOURS)]);
    for offending in [
        Offending::Reference(String::new()),
        Offending::LabelValue(String::new()),
        Offending::Digest(String::new()),
        Offending::Tag(String::new()),
    ] {
        let root = d.path().to_path_buf();
        let shown = format!("{offending:?}");
        let found = within_seconds(move || {
            let repo = Repo::open(&root).unwrap();
            Stack::for_cell(&repo, &cell(&[])).find(&offending, &Hints::default())
        });
        // An exact empty value (line 9) is a fair answer; nothing else may be found.
        assert!(
            found.as_ref().is_none_or(|o| o.line == 9),
            "{shown}: {found:?}"
        );
    }
}

#[test]
fn a_search_that_exceeds_its_budget_gives_up_and_says_so() {
    let big: String = (0..5000).map(|i| format!("k{i}: value-{i}\n")).collect();
    let (_d, repo) = fleet(&[("charts/web/values.yaml", &big)]);
    let hints = Hints::default();
    let roomy = Stack::for_cell(&repo, &cell(&[]));
    assert!(roomy
        .find(&Offending::Reference("value-4999".into()), &hints)
        .is_some());
    assert!(!roomy.exhausted());
    let tight = Stack::for_cell(&repo, &cell(&[])).with_budget(1000);
    assert_eq!(
        tight.find(&Offending::Reference("value-4999".into()), &hints),
        None
    );
    assert!(tight.exhausted());
    // Once exhausted, every later search gives up at once.
    assert_eq!(
        tight.find(&Offending::Reference("value-1".into()), &hints),
        None
    );
}

#[test]
fn an_empty_image_is_never_blamed_on_an_image_attribute_or_an_overridden_default() {
    // The charts-testdata shape: globals leave the primitives' pull policy empty, the chart
    // defaults its image to "" and a later layer sets it, and the empty image comes from the
    // template (`default ""`): no values line holds it.
    let (_d, repo) = fleet(&[
        (
            "charts/web/values.yaml",
            "image:\n  ref: \"\"\nmodelCache:\n  image: \"\"\n",
        ),
        (
            "v/globals.yaml",
            "global:\n  imagePullPolicy: \"\"\n  imageTag: \"\"\n  imageRegistry: \"\"\n  imagePullSecrets: \"\"\n  stagingImage: x\n",
        ),
        (
            "v/shared.yaml",
            "image:\n  ref: ghcr.io/acme/web@sha256:1\nmodelCache:\n  image:\n    repository: ghcr.io/acme/cache\n",
        ),
    ]);
    let stack = Stack::for_cell(&repo, &cell(&["v/globals.yaml", "v/shared.yaml"]));
    assert_eq!(
        stack.find(&Offending::EmptyImage, &Hints::default()),
        None,
        "an attribute of an image, or a default a later layer replaces, is not an empty image"
    );
    // Without the override, the chart default is what helm renders.
    let stack = Stack::for_cell(&repo, &cell(&["v/globals.yaml"]));
    let o = stack
        .find(&Offending::EmptyImage, &Hints::default())
        .unwrap();
    assert_eq!(
        (o.file.as_str(), o.key.as_str()),
        ("charts/web/values.yaml", "modelCache.image")
    );
    // An ancestor nulled in a later layer removes the default too.
    let (_d, repo) = fleet(&[
        ("charts/web/values.yaml", "sidecar:\n  image: \"\"\n"),
        ("v/env.yaml", "sidecar: null\n"),
    ]);
    let stack = Stack::for_cell(&repo, &cell(&["v/env.yaml"]));
    assert_eq!(stack.find(&Offending::EmptyImage, &Hints::default()), None);
}

#[test]
fn an_empty_tag_points_at_the_emptied_tag_key_never_at_a_colon() {
    // `repository:{{ tag }}@digest` with the tag nulled renders `repo:@sha256:…`.
    let (_d, repo) = fleet(&[
        (
            "charts/web/values.yaml",
            "upstream: https://ghcr.io\nreloader:\n  image:\n    repository: acme/reloader\n    tag: v0.9.1\n",
        ),
        ("v/env.yaml", "reloader:\n  image:\n    tag: null\n"),
    ]);
    let image = "ghcr.io/acme/reloader:@sha256:8f";
    let hints = Hints {
        image: Some(image),
        words: &[],
    };
    let stack = Stack::for_cell(&repo, &cell(&["v/env.yaml"]));
    let o = stack
        .find(&Offending::Reference(image.into()), &hints)
        .unwrap();
    assert_eq!(
        (o.file.as_str(), o.line, o.key.as_str()),
        ("v/env.yaml", 3, "reloader.image.tag")
    );
    // No emptied tag anywhere: the URL's `:` is not an empty tag.
    let stack = Stack::for_cell(&repo, &cell(&[]));
    assert_eq!(stack.find(&Offending::Tag(String::new()), &hints), None);
}

#[test]
fn origins_are_lines_that_exist_where_yaml_counts_them() {
    // Found by fuzzing: a literal block that starts with a blank line, and a lone carriage
    // return (a line break to YAML), put origins past the end of the file.
    for (values, offending, line) in [
        (
            "manifests: |\n\n  kind: Pod\n  spec:\n    containers:\n      - image: ghcr.io/acme/web:latest\n",
            Offending::Tag("latest".into()),
            6,
        ),
        (
            "name: web\nlabels:\n\r  version: \"\"\n",
            Offending::LabelValue(String::new()),
            4,
        ),
        (
            "a: 1\nb: \"x\\n\\n\\n\\n\\nghcr.io/acme/web:latest\"\n",
            Offending::Tag("latest".into()),
            2,
        ),
    ] {
        let (_d, repo) = fleet(&[("charts/web/values.yaml", values)]);
        let stack = Stack::for_cell(&repo, &cell(&[]));
        let o = stack
            .find(&offending, &Hints::default())
            .unwrap_or_else(|| panic!("{values:?}: no origin"));
        assert_eq!(o.line, line, "{values:?}");
        assert!(o.line as usize <= yaml_lines(values).len(), "{values:?}");
    }
    assert_eq!(yaml_lines("a\r\nb\rc\nd"), ["a", "b", "c", "d"]);
}

#[test]
fn an_origin_carries_its_value_as_the_file_writes_it() {
    let (_d, repo) = fleet(&[
        ("charts/web/values.yaml", "image:\n  tag: \"1.1\"\n"),
        ("v/a.yaml", "image:\n  tag: 1.10 # pinned later\n"),
        (
            "v/b.yaml",
            "api:\n  tag: 'it''s'\nweb:\n  tag: \"ma\\u0069n\"\n",
        ),
    ]);
    let stack = Stack::for_cell(&repo, &cell(&["v/a.yaml"]));
    let o = stack
        .find(&Offending::Tag("1.1".into()), &Hints::default())
        .unwrap();
    // The number as written, not as helm prints it; no comment.
    assert_eq!(o.value, "1.10");
    let stack = Stack::for_cell(&repo, &cell(&["v/b.yaml"]));
    let o = stack
        .find(&Offending::Tag("it's".into()), &Hints::default())
        .unwrap();
    assert_eq!(o.value, "'it''s'");
    let o = stack
        .find(&Offending::Tag("main".into()), &Hints::default())
        .unwrap();
    assert_eq!((o.line, o.value.as_str()), (4, "\"main\""));
}

#[test]
fn a_value_inside_a_block_scalar_is_shown_as_its_line() {
    let s = imagegate_yaml::Scalar {
        text: "image: nginx:latest\n".into(),
        style: ScalarStyle::Literal,
    };
    assert_eq!(
        written(&s, "    image: nginx:latest  "),
        "image: nginx:latest"
    );
    let empty = imagegate_yaml::Scalar {
        text: String::new(),
        style: ScalarStyle::Plain,
    };
    assert_eq!(written(&empty, "digest:"), "");
}

/// An Argo CD cell's inline values and parameters are layers above its value files, and an
/// origin in them is a line of the Application manifest.
#[test]
fn inline_values_and_parameters_point_at_the_manifest() {
    use imagegate_fleet::{HelmParameter, InlineValues, ParameterKind};
    let (_d, repo) = fleet(&[
        (
            "charts/web/values.yaml",
            "image:\n  repository: ghcr.io/x/web\n  tag: chart\n",
        ),
        ("v/env.yaml", "image:\n  tag: from-file\n"),
    ]);
    let inline = InlineValues {
        text: "\n\n\n\nimage:\n  tag: from-inline\n".into(),
        file: "argocd/web.yaml".into(),
        line: 5,
        field: "spec.source.helm.values".into(),
    };
    let param = HelmParameter {
        name: "image.tag".into(),
        value: "from-param".into(),
        kind: ParameterKind::Set,
        file: "argocd/web.yaml".into(),
        line: 9,
    };
    let with = |params: Vec<HelmParameter>| Cell {
        inline_values: Some(inline.clone()),
        parameters: params,
        ..cell(&["v/env.yaml"])
    };
    let find = |c: &Cell, tag: &str| {
        let o = Stack::for_cell(&repo, c)
            .find(&Offending::Tag(tag.into()), &Hints::default())
            .unwrap();
        (o.file, o.line, o.key)
    };
    assert_eq!(
        find(&with(vec![]), "from-inline"),
        ("argocd/web.yaml".into(), 6, "image.tag".into())
    );
    assert_eq!(
        find(&with(vec![param.clone()]), "from-param"),
        ("argocd/web.yaml".into(), 9, "image.tag".into())
    );
    // A parameter helm reads with more than dots is no layer: nothing is made up for it.
    let indexed = HelmParameter {
        name: "images[0].tag".into(),
        ..param
    };
    assert!(indexed.as_values_layer().is_none());
}
