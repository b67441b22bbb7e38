use super::*;

fn sel(fields: &[&str]) -> Selection {
    Selection {
        fields: fields.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn markers_are_found_back_and_scanning_always_advances() {
    let text = format!("{}/{}:{}igm", marker(0), marker(17), marker(3));
    let found = find_markers(&text);
    let ids: Vec<usize> = found.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [0, 17, 3]);
    assert_eq!(&text[found[1].1.clone()], "igm17q");
    // Near misses are no markers, and none of them stalls the scan.
    for s in [
        "igm",
        "igmq",
        "igm12",
        "igm12x",
        "igmigm",
        "xigm4",
        "igm1234567890q",
        "",
    ] {
        let found = find_markers(s);
        assert!(found.is_empty() || s == "xigm4", "{s}: {found:?}");
    }
    assert!(find_markers("xigm4").is_empty());
    assert_eq!(find_markers("igmigm4q").len(), 1);
}

#[test]
fn candidates_keep_their_types_and_steering_values_stay() {
    let text = "\
image:
  registry: docker.io
  repository: bitnami/redis
  tag: 1.10
  digest: ''
  pullPolicy: Always
replicaCount: 3
enabled: true
mode: \"true\"
port: 8080
name: web
other: unrelated
";
    let mut m = Markers::new();
    let json = m
        .mark_values(
            "v.yaml",
            LayerKind::ValueStack,
            &[],
            text,
            &sel(&["docker.io/bitnami/redis:1.1"]),
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    // Strings under image keys, and the float tag (as the string it prints as), are marked.
    assert_eq!(v["image"]["registry"], marker(0));
    assert_eq!(v["image"]["repository"], marker(1));
    // A version keeps its version and carries the marker as build metadata.
    assert_eq!(v["image"]["tag"], format!("1.1+{}", marker(2)));
    assert_eq!(
        m.get(2).unwrap().value,
        "1.1",
        "Go prints the float 1.10 as 1.1"
    );
    assert_eq!(v["image"]["pullPolicy"], marker(3));
    // Numbers elsewhere, booleans, boolean-like strings and empty strings keep their values.
    assert_eq!(v["replicaCount"], 3);
    assert_eq!(v["enabled"], true);
    assert_eq!(v["mode"], "true");
    assert_eq!(v["port"], 8080);
    assert_eq!(v["image"]["digest"], "");
    // A string that occurs in a rendered field is a candidate whatever its key; others are not.
    assert_eq!(v["other"], "unrelated");
    assert_eq!(m.len(), 4);
    let tag = m.get(2).unwrap();
    assert_eq!((tag.line, tag.key.as_str()), (4, "image.tag"));
    assert_eq!(tag.line_text, "  tag: 1.10");
    assert!(!tag.in_container);
}

#[test]
fn a_subchart_prefix_names_keys_as_the_parent_sees_them() {
    let mut m = Markers::new();
    let prefix = vec!["cache".to_string()];
    m.mark_values(
        "charts/app/charts/redis-1.0.0.tgz:redis/values.yaml",
        LayerKind::SubchartDefault,
        &prefix,
        "image:\n  tag: \"7\"\n",
        &sel(&[]),
    )
    .unwrap();
    assert_eq!(m.get(0).unwrap().key, "cache.image.tag");
}

#[test]
fn a_container_written_in_values_is_known_as_one() {
    let mut m = Markers::new();
    m.mark_values(
        "v.yaml",
        LayerKind::ValueStack,
        &[],
        "extraContainers:\n  - name: side\n    image: busybox:1\n",
        &sel(&["busybox:1"]),
    )
    .unwrap();
    // `side` is a substring of nothing rendered; only the image is marked.
    assert_eq!(m.len(), 1);
    let image = m.get(0).unwrap();
    assert!(image.in_container);
    assert_eq!(image.key, "extraContainers[0].image");
}

#[test]
fn app_version_of_a_chart_yaml_is_marked_and_the_rest_kept() {
    let mut m = Markers::new();
    let json = m
        .mark_chart_yaml(
            "charts/web/Chart.yaml",
            LayerKind::ChartDefault,
            "apiVersion: v2\nname: web\nversion: 1.0.0\nappVersion: \"2.4\"\n",
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["appVersion"], format!("2.4+{}", marker(0)));
    assert_eq!(v["version"], "1.0.0");
    assert_eq!(m.get(0).unwrap().line, 4);
    assert!(m
        .mark_chart_yaml("c/Chart.yaml", LayerKind::ChartDefault, "name: x\n")
        .is_none());
}

#[test]
fn parts_of_a_split_reference_each_get_their_marker() {
    let mut m = Markers::new();
    m.mark_values(
        "v.yaml",
        LayerKind::ValueStack,
        &[],
        "image:\n  registry: docker.io\n  repository: bitnami/redis\n  tag: \"7.2\"\n",
        &sel(&[]),
    )
    .unwrap();
    let marked = format!("{}/{}:{}", marker(0), marker(1), marker(2));
    let parts = image_markers(&m, &marked, "docker.io/bitnami/redis:7.2");
    assert_eq!(
        parts,
        [(Part::Registry, 0), (Part::Repository, 1), (Part::Tag, 2)]
    );
    // A template that transformed a value (`trimPrefix "v"`): the marked image is split itself,
    // and the registry is recognised by its value.
    let parts = image_markers(
        &m,
        &format!("{}/{}:{}-x", marker(0), marker(1), marker(2)),
        "docker.io/bitnami/redis:7.2",
    );
    assert_eq!(
        parts,
        [(Part::Registry, 0), (Part::Repository, 1), (Part::Tag, 2)]
    );
}

#[test]
fn a_whole_reference_in_one_value_is_every_part_of_it() {
    let mut m = Markers::new();
    m.mark_values(
        "v.yaml",
        LayerKind::ValueStack,
        &[],
        "image: ghcr.io/acme/web:1\n",
        &sel(&[]),
    )
    .unwrap();
    let parts = image_markers(&m, &marker(0), "ghcr.io/acme/web:1");
    assert_eq!(
        parts,
        [(Part::Registry, 0), (Part::Repository, 0), (Part::Tag, 0)]
    );
    // Literal template text around it (`{{ .Values.image }}@sha256:…`) is nobody's value.
    let parts = image_markers(
        &m,
        &format!("{}@sha256:ab", marker(0)),
        "ghcr.io/acme/web:1@sha256:ab",
    );
    assert!(!parts.iter().any(|(p, _)| *p == Part::Digest), "{parts:?}");
}

#[test]
fn image_parts_split_ports_digests_and_bare_names() {
    let p = ImageParts::of("registry:5000/team/app:v1@sha256:ab");
    assert_eq!(p.registry, Some(0..13));
    assert_eq!(p.repository, 14..22);
    assert_eq!(p.tag, Some(23..25));
    assert_eq!(p.digest, Some(26..35));
    let p = ImageParts::of("nginx");
    assert_eq!(
        (p.registry, p.repository, p.tag, p.digest),
        (None, 0..5, None, None)
    );
    let p = ImageParts::of("bitnami/redis:7");
    assert_eq!(
        p.registry, None,
        "a first component without `.` or `:` is no registry"
    );
}

#[test]
fn where_a_digest_belongs_is_the_last_layer_setting_the_digest_key_beside_the_tag() {
    let mut m = Markers::new();
    m.mark_values(
        "charts/web/values.yaml",
        LayerKind::ChartDefault,
        &[],
        "image:\n  repository: acme/web\n  tag: \"1\"\n  digest: sha256:aa\n",
        &sel(&[]),
    )
    .unwrap();
    m.mark_values(
        "env/prod.yaml",
        LayerKind::ValueStack,
        &[],
        "image:\n  tag: \"2\"\n  digest: null\n",
        &sel(&[]),
    )
    .unwrap();
    // Marker 2 is the chart's digest itself; marker 3 the overriding tag.
    let tag = (0..m.len())
        .find(|&i| m.get(i).unwrap().file == "env/prod.yaml")
        .unwrap();
    let o = m.digest_beside(tag).unwrap();
    assert_eq!(
        (o.file.as_str(), o.line, o.key.as_str()),
        ("env/prod.yaml", 3, "image.digest")
    );
    assert_eq!(
        (o.layer, o.text.as_str(), o.value.as_str()),
        (LayerKind::ValueStack, "  digest: null", "null")
    );
    // A marked value keeps its text as written beside the text helm prints.
    let marked = m.get(tag).unwrap();
    assert_eq!(
        (marked.value.as_str(), marked.written.as_str()),
        ("2", "\"2\"")
    );
    // A mapping with no digest key anywhere: nowhere to pin.
    let mut m = Markers::new();
    m.mark_values(
        "v.yaml",
        LayerKind::ValueStack,
        &[],
        "app:\n  tag: \"1\"\n",
        &sel(&[]),
    )
    .unwrap();
    assert!(m.digest_beside(0).is_none());
    // A digest key that holds a digest the image does not carry is another image's: the
    // Domain's digest beside its migration job's whole reference.
    let mut m = Markers::new();
    m.mark_values(
        "env/local.yaml",
        LayerKind::ValueStack,
        &[],
        "domain:\n  digest: sha256:c0\n  migrationJobImage: ghcr.io/acme/migrations:dev\n",
        &sel(&[]),
    )
    .unwrap();
    let job = (0..m.len())
        .find(|&i| m.get(i).unwrap().value.contains("migrations"))
        .unwrap();
    assert!(m.digest_beside(job).is_none());
    // The same key empty is this image's place for one.
    let mut m = Markers::new();
    m.mark_values(
        "env/local.yaml",
        LayerKind::ValueStack,
        &[],
        "domain:\n  digest: \"\"\n  migrationJobImage: ghcr.io/acme/migrations:dev\n",
        &sel(&[]),
    )
    .unwrap();
    let job = (0..m.len())
        .find(|&i| m.get(i).unwrap().value.contains("migrations"))
        .unwrap();
    assert_eq!(m.digest_beside(job).unwrap().key, "domain.digest");
}

#[test]
fn version_shaped_values_carry_their_marker_as_build_metadata() {
    for (value, want) in [
        ("v1.12.1", "v1.12.1+igm7q"),
        ("2.20", "2.20+igm7q"),
        ("1.0.0-rc.1", "1.0.0-rc.1+igm7q"),
        ("v0.8", "v0.8+igm7q"),
        // A version with its digest (traefik's `<version>@<digest>`): the digest stays after.
        ("v3.7.11@sha256:ab", "v3.7.11+igm7q@sha256:ab"),
        ("latest@sha256:ab", "igm7q"),
        // Not versions semver would take with build metadata appended: a bare marker.
        ("7", "igm7q"),
        ("1.2.3.4", "igm7q"),
        ("1.2.3+build", "igm7q"),
        ("v1..2", "igm7q"),
        ("1.2.3-", "igm7q"),
        ("latest", "igm7q"),
        ("quay.io/prometheus", "igm7q"),
        ("sha256:ab", "igm7q"),
    ] {
        assert_eq!(marker_for(7, value), want, "{value}");
    }
}

#[test]
fn a_marker_in_build_metadata_is_read_back_with_its_version() {
    let mut m = Markers::new();
    let json = m
        .mark_values(
            "v.yaml",
            LayerKind::ValueStack,
            &[],
            "image:\n  repository: quay.io/prometheus/node-exporter\n  tag: v1.12.1\n",
            &sel(&[]),
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["image"]["repository"], marker(0));
    assert_eq!(v["image"]["tag"], "v1.12.1+igm1q");
    let marked = "igm0q:v1.12.1+igm1q";
    // The whole `v1.12.1+igm1q` is the marker: its value put back rebuilds the real image,
    // so the parts are those of the real reference.
    assert_eq!(m.find(marked), [(0, 0..5), (1, 6..19)]);
    let real = "quay.io/prometheus/node-exporter:v1.12.1";
    assert_eq!(
        image_markers(&m, marked, real),
        [(Part::Registry, 0), (Part::Repository, 0), (Part::Tag, 1)]
    );
    // A template that prefixes the value (`printf "v%s"`) keeps the prefix outside it.
    let mut m = Markers::new();
    m.mark_chart_yaml(
        "c/Chart.yaml",
        LayerKind::ChartDefault,
        "appVersion: 2.20.0\n",
    )
    .unwrap();
    assert_eq!(m.find("r/ksm:v2.20.0+igm0q"), [(0, 7..19)]);
    assert_eq!(
        image_markers(&m, "r/ksm:v2.20.0+igm0q", "r/ksm:v2.20.0"),
        [(Part::Tag, 0)]
    );
    // Another version before the marker is not this marker's: only the marker itself counts.
    assert_eq!(m.find("r/ksm:9.9.9+igm0q"), [(0, 12..17)]);
}

#[test]
fn numbers_are_marked_only_under_keys_whose_words_name_a_tag_or_version() {
    let text = "\
deployment:
  goMemLimitPercentage: 0.9
  storage: 10
image:
  tag: 1.10
  imageTag: 2
  image_tag: 3
appVersion: 1.5
apiVersion: 1.0
";
    let mut m = Markers::new();
    let json = m
        .mark_values("v.yaml", LayerKind::ValueStack, &[], text, &sel(&[]))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    // `percentage` holds the letters of "tag", not the word; a schema checks it is a number.
    assert_eq!(v["deployment"]["goMemLimitPercentage"], 0.9);
    assert_eq!(v["deployment"]["storage"], 10);
    assert_eq!(v["apiVersion"], 1.0);
    let keys: Vec<&str> = (0..m.len())
        .map(|i| m.get(i).unwrap().key.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "image.tag",
            "image.imageTag",
            "image.image_tag",
            "appVersion"
        ]
    );
    assert_eq!(
        super::key_words("goMemLimitPercentage"),
        ["go", "mem", "limit", "percentage"]
    );
    assert_eq!(super::key_words("image_tag.v2"), ["image", "tag", "v2"]);
}

#[test]
fn a_sha_key_beside_the_image_is_where_its_digest_belongs_too() {
    // kube-state-metrics' `image.sha`: the shared values pin it, an override removes the pin.
    let mut m = Markers::new();
    m.mark_values(
        "charts/ksm/values.yaml",
        LayerKind::SubchartDefault,
        &["ksm".to_string()],
        "image:\n  registry: registry.k8s.io\n  tag: \"\"\n  sha: \"\"\n",
        &sel(&[]),
    )
    .unwrap();
    m.mark_values(
        "values/shared.yaml",
        LayerKind::ValueStack,
        &[],
        "ksm:\n  image:\n    sha: sha256:aa\n",
        &sel(&[]),
    )
    .unwrap();
    m.mark_values(
        "values/dev.yaml",
        LayerKind::ValueStack,
        &[],
        "ksm:\n  image:\n    sha: null\n",
        &sel(&[]),
    )
    .unwrap();
    let registry = (0..m.len())
        .find(|&i| m.get(i).unwrap().key == "ksm.image.registry")
        .unwrap();
    let o = m.digest_beside(registry).unwrap();
    assert_eq!(
        (o.file.as_str(), o.line, o.key.as_str(), o.value.as_str()),
        ("values/dev.yaml", 3, "ksm.image.sha", "null")
    );
    // `digest` is preferred where a mapping has both.
    let mut m = Markers::new();
    m.mark_values(
        "v.yaml",
        LayerKind::ValueStack,
        &[],
        "image:\n  tag: \"1\"\n  sha: \"\"\n  digest: \"\"\n",
        &sel(&[]),
    )
    .unwrap();
    assert_eq!(m.digest_beside(0).unwrap().key, "image.digest");
}

#[test]
fn a_version_with_its_digest_is_read_back_as_tag_and_digest() {
    let mut m = Markers::new();
    let json = m
        .mark_values(
            "v.yaml",
            LayerKind::ValueStack,
            &[],
            "image:\n  tag: v3.7.11@sha256:ab\n",
            &sel(&[]),
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["image"]["tag"], "v3.7.11+igm0q@sha256:ab");
    let marked = "docker.io/traefik:v3.7.11+igm0q@sha256:ab";
    assert_eq!(m.find(marked), [(0, 18..41)]);
    assert_eq!(
        image_markers(&m, marked, "docker.io/traefik:v3.7.11@sha256:ab"),
        [(Part::Tag, 0), (Part::Digest, 0)]
    );
    // A template that keeps only the version (`split "@"`): the marker is found without it.
    assert_eq!(m.find("v3.7.11+igm0q"), [(0, 0..13)]);
}

#[test]
fn template_text_keeps_its_actions_and_only_its_literal_text_is_marked() {
    assert_eq!(literal_to_mark("acme/web"), Literal::Whole);
    let v = "{{ .Values.global.imageRegistry }}/acme/web";
    assert_eq!(literal_to_mark(v), Literal::Span(35..43));
    assert_eq!(&v[35..43], "acme/web");
    // The longest literal run wins; separators at its ends stay.
    let v = "{{ .Values.r }}/acme/web:{{ .Values.tag }}";
    assert_eq!(
        &v[match literal_to_mark(v) {
            Literal::Span(s) => s,
            other => panic!("{other:?}"),
        }],
        "acme/web"
    );
    assert_eq!(
        literal_to_mark("{{ .Values.a }}:{{ .Values.b }}"),
        Literal::None
    );
    assert_eq!(literal_to_mark("{{ .Values.a }}"), Literal::None);
    // An unclosed action is template text to the end; the scan always ends.
    assert_eq!(literal_to_mark("web:{{ .Values.a"), Literal::Span(0..3));
    for odd in ["{{{{}}}}", "}}{{", "{{", "}}", "{{}}/{{"] {
        if let Literal::Span(r) = literal_to_mark(odd) {
            assert!(r.end <= odd.len() && !r.is_empty(), "{odd}: {r:?}");
        }
    }

    let text = "\
global:
  imageRegistry: ghcr.io
image: \"{{ .Values.global.imageRegistry }}/acme/web:1.0\"
only: \"{{ .Values.global.imageRegistry }}\"
";
    let mut m = Markers::new();
    let json = m
        .mark_values("v.yaml", LayerKind::ValueStack, &[], text, &sel(&[]))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let registry = m
        .marked
        .iter()
        .position(|x| x.key == "global.imageRegistry")
        .unwrap();
    let image = m.marked.iter().position(|x| x.key == "image").unwrap();
    assert_eq!(v["global"]["imageRegistry"], marker(registry));
    assert_eq!(
        v["image"],
        format!("{{{{ .Values.global.imageRegistry }}}}/{}", marker(image))
    );
    assert_eq!(m.marked[image].value, "acme/web:1.0");
    assert_eq!(m.marked[image].line, 3);
    // A value of actions only is left for the values it reads.
    assert_eq!(v["only"], "{{ .Values.global.imageRegistry }}");
    assert!(m.marked.iter().all(|x| x.key != "only"));
}
