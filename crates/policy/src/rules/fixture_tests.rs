//! One table over the rules, as ruff keeps one: each rule's fixtures under
//! `rules/<rule>/fixtures/`, run through the same code a real run uses, and what the rule reports
//! snapshotted in `rules/<rule>/snapshots/`.
//!
//! Rules judged on rendered manifests read a multi-document stream as `helm template` prints it
//! (with `# Source:` comments), decode it with `imagegate-decode` and evaluate it; their fixture
//! must hold both an object the rule reports and one it passes. The other rules read their own
//! input: helm's error output, the `exceptions:` section over a rendered cell, a run's promotion
//! lineage, the values files read and on disk. No helm is needed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use imagegate_decode::{decode_stream, DecodeOptions, ImageSite, PullPolicy};
use serde::{Deserialize, Serialize};

use super::{describe_object, promotion_drift, render_failed, values_file_unused};
use crate::{
    apply_exceptions, evaluate, exception_hygiene, CellContext, ExceptionSettings, Finding,
    ImageRef, PolicySettings, RuleId, RunScope, Severity,
};

/// What a fixture is, by the rule that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// A rendered stream, judged by [`evaluate`].
    Rendered,
    /// A list of `{cell, stderr}` for cells whose render failed.
    HelmErrors,
    /// `today`, `environment`, `rendered` and an `exceptions:` section.
    Exceptions,
    /// Promotion chains, the matrix, the cells judged, `--history` and the lineage sites.
    Lineage,
    /// The values files read, those on disk, and `valueFolders.ignore`.
    Tree,
    /// A rendered stream, the environment's `platforms`, and what the registry answered for
    /// each pinned reference (`check --registry`).
    Remote,
}

macro_rules! rule_fixtures {
    ($($test:ident: $rule:ident, $input:ident, $fixture:literal;)*) => {
        /// Every (rule, input kind, fixture file) of the table.
        const CASES: &[(RuleId, Input, &str)] = &[$((RuleId::$rule, Input::$input, $fixture)),*];

        $(
            #[test]
            fn $test() {
                check(RuleId::$rule, Input::$input, $fixture);
            }
        )*
    };
}

rule_fixtures! {
    // a tag-only and a bare image in a Deployment; a CronJob and an Agent pinned by digest.
    digest_required: DigestRequired, Rendered, "rendered.yaml";
    // a branch tag next to a digest and `latest`; a build-SHA tag, a version and no tag pass.
    mutable_tag: MutableTag, Rendered, "rendered.yaml";
    // an empty tag, a short digest and an empty image; a valid Job, and free text the safety net ignores.
    invalid_image_ref: InvalidImageRef, Rendered, "rendered.yaml";
    // an init container and a container without a pull policy; a DaemonSet with one, an Agent.
    pull_policy_missing: PullPolicyMissing, Rendered, "rendered.yaml";
    // `Always`, a lowercase `ifnotpresent`, `Never` on an Agent; `IfNotPresent` and a Process pass.
    pull_policy_not_ifnotpresent: PullPolicyNotIfNotPresent, Rendered, "rendered.yaml";
    // a digest leaked into `app.kubernetes.io/version`; a Service with valid (and empty) labels.
    invalid_label_value: InvalidLabelValue, Rendered, "rendered.yaml";
    // containers rendered as a string, and unclosed YAML; a valid Service between them.
    invalid_manifest: InvalidManifest, Rendered, "rendered.yaml";
    render_failed: RenderFailed, HelmErrors, "helm-errors.yaml";
    exception_expired: ExceptionExpired, Exceptions, "exceptions.yaml";
    exception_unused: ExceptionUnused, Exceptions, "exceptions.yaml";
    exception_invalid: ExceptionInvalid, Exceptions, "exceptions.yaml";
    promotion_drift: PromotionDrift, Lineage, "lineage.yaml";
    values_file_unused: ValuesFileUnused, Tree, "tree.yaml";
    // a digest the registry lacks; a digest it has passes.
    registry_digest_missing: RegistryDigestMissing, Remote, "remote.yaml";
    // a tag re-pushed since, and a tag deleted since; a tag that still points at its digest passes.
    registry_tag_mismatch: RegistryTagMismatch, Remote, "remote.yaml";
    // an amd64-only image and an index without arm64 on arm64; an index with arm64/v8 passes.
    registry_platform_missing: RegistryPlatformMissing, Remote, "remote.yaml";
}

#[test]
fn every_rule_has_a_fixture_and_a_snapshot() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rules");
    for rule in RuleId::ALL {
        let cases: Vec<_> = CASES.iter().filter(|(r, _, _)| *r == rule).collect();
        assert!(!cases.is_empty(), "{rule}: no fixture in the table");
        for (_, _, fixture) in cases {
            let folder = rules.join(rule.module());
            assert!(
                folder.join("fixtures").join(fixture).is_file(),
                "{rule}: no fixtures/{fixture}"
            );
            assert!(
                folder
                    .join("snapshots")
                    .join(snapshot_file(fixture))
                    .is_file(),
                "{rule}: no snapshot of {fixture}"
            );
        }
    }
}

fn snapshot_name(fixture: &str) -> &str {
    fixture.trim_end_matches(".yaml")
}

fn snapshot_file(fixture: &str) -> String {
    format!("{}.snap", snapshot_name(fixture))
}

fn fixture_path(rule: RuleId, fixture: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/rules")
        .join(rule.module())
        .join("fixtures")
        .join(fixture)
}

/// Runs one fixture through its rule and snapshots what the rule reports.
fn check(rule: RuleId, input: Input, fixture: &str) {
    let path = fixture_path(rule, fixture);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let findings = match input {
        Input::Rendered => rendered(rule, &text),
        Input::HelmErrors => helm_errors(&text),
        Input::Exceptions => exceptions(&text),
        Input::Lineage => lineage(&text),
        Input::Tree => tree(&text),
        Input::Remote => remote(rule, &text),
    };
    let findings: Vec<Finding> = findings.into_iter().filter(|f| f.rule == rule).collect();
    assert!(
        !findings.is_empty(),
        "{rule}: {fixture} gives the rule nothing to report"
    );
    let shown: Vec<Shown> = findings.iter().map(Shown::from).collect();
    insta::with_settings!({
        snapshot_path => format!("{}/snapshots", rule.module()),
        prepend_module_to_snapshot => false,
        input_file => path,
        omit_expression => true,
    }, {
        insta::assert_yaml_snapshot!(snapshot_name(fixture), shown);
    });
}

/// A rendered stream, decoded and evaluated as a cell of `dev` is. The fixture must hold an
/// object (or document) the rule passes, besides those it reports.
fn rendered(rule: RuleId, text: &str) -> Vec<Finding> {
    let settings = PolicySettings::default();
    let decoded = decode_stream(text, &decode_options(&settings));
    let cell = cell("dev", "dev-web", "charts/web");
    let findings = evaluate(&cell, &decoded.objects, &decoded.errors, &settings);
    let hit: BTreeSet<usize> = findings
        .iter()
        .filter(|f| f.rule == rule)
        .filter_map(|f| f.document)
        .collect();
    let clean = decoded
        .objects
        .iter()
        .filter(|o| !hit.contains(&o.document))
        .count();
    assert!(
        clean > 0,
        "{rule}: the fixture has no object the rule passes"
    );
    findings
}

fn decode_options(settings: &PolicySettings) -> DecodeOptions {
    DecodeOptions {
        custom_fields: settings.custom_image_fields(),
        image_field_names: settings.image_field_names(),
        ..DecodeOptions::default()
    }
}

fn cell(environment: &str, app: &str, chart: &str) -> CellContext {
    CellContext {
        environment: environment.to_owned(),
        app: app.to_owned(),
        chart: chart.to_owned(),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> T {
    imagegate_yaml::from_str(text, &imagegate_yaml::Limits::default())
        .unwrap_or_else(|e| panic!("fixture: {e}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HelmError {
    cell: Cell,
    stderr: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cell {
    environment: String,
    app: String,
    chart: String,
}

fn helm_errors(text: &str) -> Vec<Finding> {
    let errors: Vec<HelmError> = parse(text);
    errors
        .iter()
        .map(|e| {
            render_failed::finding(
                &cell(&e.cell.environment, &e.cell.app, &e.cell.chart),
                &e.stderr,
            )
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Exceptions {
    today: NaiveDate,
    environment: String,
    rendered: String,
    exceptions: ExceptionSettings,
}

/// The exceptions applied to one rendered cell, then judged themselves, as a full run does.
fn exceptions(text: &str) -> Vec<Finding> {
    let input: Exceptions = parse(text);
    let settings = PolicySettings::default();
    let decoded = decode_stream(&input.rendered, &decode_options(&settings));
    let app = format!("{}-web", input.environment);
    let cell = cell(&input.environment, &app, "charts/web");
    let mut findings = evaluate(&cell, &decoded.objects, &decoded.errors, &settings);
    let outcome = apply_exceptions(&mut findings, &input.exceptions, input.today);
    let mut hygiene = exception_hygiene(
        &input.exceptions,
        &outcome,
        RunScope::Full,
        input.today,
        &settings,
    );
    // Every entry the rule does not report is one it passes.
    let reported: BTreeSet<&str> = hygiene.iter().filter_map(|f| f.field.as_deref()).collect();
    assert!(
        reported.len() < input.exceptions.list.len(),
        "the fixture has no exception every hygiene rule passes"
    );
    hygiene.extend(findings);
    hygiene
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lineage {
    chains: Vec<Vec<String>>,
    matrix: Vec<(String, String)>,
    judged: Vec<Judged>,
    history: History,
    sites: Vec<LineageSite>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Judged {
    environment: String,
    app: String,
    failed: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct History {
    depth: usize,
    found: BTreeSet<(String, String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LineageSite {
    environment: String,
    app: String,
    name: String,
    container: String,
    image: String,
    line: u32,
    /// The values line that sets the digest, as the origin resolver would find it.
    set_at: Option<String>,
}

/// A run's lineage through [`promotion_drift::check`]; the sites the check passes must include
/// downstream ones.
fn lineage(text: &str) -> Vec<Finding> {
    let input: Lineage = parse(text);
    let sites: Vec<promotion_drift::Site> = input
        .sites
        .iter()
        .map(|s| {
            let reference = ImageRef::parse(&s.image).unwrap_or_else(|e| panic!("{e}"));
            let digest = reference
                .digest()
                .unwrap_or_else(|| panic!("{}: lineage sites are pinned", s.image))
                .to_owned();
            let mut object = crate::rules::builders::object("Deployment", &s.name, 0);
            object.template = Some("web/templates/deployment.yaml".to_owned());
            promotion_drift::Site {
                cell: cell(&s.environment, &s.app, "charts/web"),
                object,
                site: ImageSite {
                    container: Some(s.container.clone()),
                    kind: imagegate_decode::SiteKind::Container,
                    field: "spec.template.spec.containers[0].image".to_owned(),
                    image: s.image.clone(),
                    pull_policy: PullPolicy::NotApplicable,
                    pull_policy_field: None,
                    line: Some(s.line),
                    pull_policy_line: None,
                },
                repository: reference.canonical_repository(),
                digest,
            }
        })
        .collect();
    let cells: BTreeMap<(String, String), bool> = input
        .judged
        .iter()
        .map(|j| ((j.environment.clone(), j.app.clone()), j.failed))
        .collect();
    let matrix: Vec<(&str, &str)> = input
        .matrix
        .iter()
        .map(|(e, a)| (e.as_str(), a.as_str()))
        .collect();
    let lineage = promotion_drift::Lineage {
        sites: &sites,
        chains: &input.chains,
        judged: promotion_drift::Judged {
            cells: &cells,
            matrix: &matrix,
        },
    };
    let history = promotion_drift::History {
        depth: input.history.depth,
        found: &input.history.found,
    };
    let set_at: BTreeMap<(&str, &str), &str> = input
        .sites
        .iter()
        .filter_map(|s| {
            Some((
                (s.environment.as_str(), s.name.as_str()),
                s.set_at.as_deref()?,
            ))
        })
        .collect();
    let drifts = promotion_drift::check(&lineage, &history, |site| {
        set_at
            .get(&(
                site.cell.environment.as_str(),
                site.object.object.name.as_str(),
            ))
            .map(|s| (*s).to_owned())
    });
    let downstream = promotion_drift::environments(&input.chains)
        .into_iter()
        .filter(|e| !promotion_drift::upstreams_of(&input.chains, e).is_empty())
        .collect::<BTreeSet<_>>();
    let passed = sites
        .iter()
        .filter(|s| downstream.contains(s.cell.environment.as_str()))
        .filter(|s| !drifts.iter().any(|d| std::ptr::eq(d.site, *s)))
        .count();
    assert!(
        passed > 0,
        "the fixture has no downstream site the rule passes"
    );
    drifts.into_iter().map(|d| d.finding).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Tree {
    read: BTreeSet<String>,
    on_disk: BTreeSet<String>,
    ignore: Vec<String>,
}

/// The values files through [`values_file_unused::check`]; some file on disk must pass.
fn tree(text: &str) -> Vec<Finding> {
    let input: Tree = parse(text);
    let read: BTreeSet<&str> = input.read.iter().map(String::as_str).collect();
    let ignore: Vec<_> = input
        .ignore
        .iter()
        .map(|g| {
            globset::GlobBuilder::new(g)
                .literal_separator(true)
                .build()
                .unwrap_or_else(|e| panic!("{g}: {e}"))
                .compile_matcher()
        })
        .collect();
    let findings = values_file_unused::check(&read, &input.on_disk, &ignore);
    assert!(
        findings.len() < input.on_disk.len(),
        "the fixture has no values file the rule passes"
    );
    findings
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Remote {
    platforms: Vec<String>,
    registry: BTreeMap<String, crate::RemoteFacts>,
    rendered: String,
}

/// A rendered stream judged against the registry's answers, as `check --registry` judges a cell
/// of `local`; some pinned image must pass the rule.
fn remote(rule: RuleId, text: &str) -> Vec<Finding> {
    let input: Remote = parse(text);
    let settings = PolicySettings::default();
    let decoded = decode_stream(&input.rendered, &decode_options(&settings));
    let cell = cell("local", "local-web", "charts/web");
    let lookup = |image: &str| input.registry.get(image).cloned();
    let findings = crate::evaluate_remote(
        &cell,
        &decoded.objects,
        &input.platforms,
        &lookup,
        &settings,
    );
    let pinned = crate::pinned_references(&decoded.objects);
    let hit: BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.rule == rule)
        .filter_map(|f| f.image.as_deref())
        .collect();
    assert!(
        pinned.iter().any(|p| !hit.contains(p.as_str())),
        "{rule}: the fixture has no pinned image the rule passes"
    );
    findings
}

/// A finding as the snapshots show it: what a reader of the report needs, in a stable order.
#[derive(Serialize)]
struct Shown {
    rule: RuleId,
    severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    cell: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    document: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offending: Option<String>,
    message: String,
}

impl From<&Finding> for Shown {
    fn from(f: &Finding) -> Self {
        let cell =
            (!f.cell.app.is_empty()).then(|| format!("{}/{}", f.cell.environment, f.cell.app));
        Self {
            rule: f.rule,
            severity: f.severity,
            cell,
            object: f.object.as_ref().map(describe_object),
            container: f.container.clone(),
            field: f.field.clone(),
            image: f.image.clone(),
            template: f.template.clone(),
            document: f.document,
            line: f.line,
            file: f.file.clone(),
            offending: f.offending.as_ref().map(|o| format!("{o:?}")),
            message: f.message.clone(),
        }
    }
}
