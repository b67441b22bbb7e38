//! `--format sarif`: SARIF 2.1.0, as GitHub code scanning ingests it.
//!
//! The log is a dozen plain serde structs rather than the `serde-sarif` crate: that crate
//! generates several hundred types from the whole SARIF schema at build time (a build script
//! with syn, quote, prettyplease and schemafy) and builds them through typed builders, which
//! costs compile time on every build for a log that uses a handful of objects. Writing only the
//! objects we emit also keeps the output small and its key order fixed. The test suite validates
//! the output against the official SARIF 2.1.0 JSON schema, vendored in `tests/`.
//!
//! Shape: one run; `tool.driver` lists every rule given as [`RuleMeta`] (plus any rule a finding
//! names that the list lacks); one result per finding, excepted findings included with an
//! external suppression. Each result points at the values file and line to change when known,
//! else the template's repository path, else the chart's `Chart.yaml`, relative to
//! `%SRCROOT%` (the root of the checked repository), with one related location per part of the
//! image whose line helm confirmed (registry, repository, tag, digest, pull policy), and carries
//! a stable partial fingerprint so code scanning can follow an alert across commits.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::{RenderError, Renderer};
use crate::model::{Report, ReportFinding, Severity, Snippet, RENDER_FAILED};
use crate::rules::RuleMeta;
use crate::sanitize::{block, one_line};

/// The `$schema` the log names.
const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// Where imagegate is documented (the tool's `informationUri`).
const INFORMATION_URI: &str = "https://github.com/imagegate/imagegate";
/// The base every location is relative to: the root of the checked repository.
const SRCROOT: &str = "%SRCROOT%";
/// The key of our partial fingerprint. Bump the version if the hashed fields ever change.
const FINGERPRINT_KEY: &str = "imagegate/v1";

/// Writes a SARIF 2.1.0 log.
#[derive(Debug, Clone, Copy, Default)]
pub struct SarifRenderer<'a> {
    rules: &'a [RuleMeta],
    path_prefix: &'a str,
}

impl<'a> SarifRenderer<'a> {
    /// A SARIF renderer that describes `rules` in `tool.driver.rules`.
    pub fn new(rules: &'a [RuleMeta]) -> Self {
        Self {
            rules,
            path_prefix: "",
        }
    }

    /// Locations relative to the checkout's root: `prefix` is where the report's paths sit in
    /// it (see [`super::FormatOptions::path_prefix`]).
    pub fn with_path_prefix(mut self, prefix: &'a str) -> Self {
        self.path_prefix = prefix;
        self
    }
}

impl Renderer for SarifRenderer<'_> {
    fn render(&self, report: &Report, out: &mut dyn Write) -> Result<(), RenderError> {
        super::json::write_pretty(&self.log(report), out)
    }
}

impl SarifRenderer<'_> {
    fn log<'r>(&self, report: &'r Report) -> Log<'r> {
        // The given rules in their order, then any rule a finding names that they lack.
        let mut rules: Vec<Rule> = self.rules.iter().map(Rule::from_meta).collect();
        let mut extra: Vec<&str> = report
            .findings
            .iter()
            .map(|f| f.rule.as_str())
            .filter(|id| !self.rules.iter().any(|r| r.id == *id))
            .collect();
        extra.sort_unstable();
        extra.dedup();
        rules.extend(extra.into_iter().map(Rule::undocumented));

        let results = report
            .findings
            .iter()
            .map(|f| {
                let index = rules
                    .iter()
                    .position(|r| r.id == f.rule)
                    .unwrap_or_default();
                result(report, f, index, self.path_prefix)
            })
            .collect();

        Log {
            schema: SCHEMA_URI,
            version: "2.1.0",
            runs: vec![Run {
                tool: Tool {
                    driver: Driver {
                        name: one_line(&report.generator.name).into_owned(),
                        version: one_line(&report.generator.version).into_owned(),
                        information_uri: INFORMATION_URI,
                        rules,
                    },
                },
                original_uri_base_ids: BTreeMap::from([(
                    SRCROOT,
                    BaseUri {
                        description: Message {
                            text: "The root of the checked GitOps repository.".to_owned(),
                        },
                    },
                )]),
                results,
            }],
        }
    }
}

fn result<'r>(
    report: &'r Report,
    f: &'r ReportFinding,
    rule_index: usize,
    prefix: &str,
) -> SarifResult<'r> {
    let suppressions = f.excepted.then(|| {
        vec![Suppression {
            kind: "external",
            status: "accepted",
            justification: one_line(
                f.exception_note
                    .as_deref()
                    .unwrap_or("Covered by an exception in the imagegate configuration."),
            )
            .into_owned(),
        }]
    });
    SarifResult {
        rule_id: &f.rule,
        rule_index,
        level: level(f.severity),
        message: Message {
            text: message(report, f),
        },
        locations: location(f, prefix).into_iter().collect(),
        related_locations: related_locations(f, prefix),
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, super::fingerprint(f))]),
        suppressions,
        properties: ResultProperties {
            environment: &f.environment,
            app: &f.app,
            chart: &f.chart,
            object: f.object.as_ref().map(ToString::to_string),
            container: f.container.as_deref(),
            field: f.field.as_deref(),
            image: f.image.as_deref(),
            template: f.template.as_deref(),
        },
    }
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// The result's text: the finding's message, then which cell, object, container and image, as
/// one plain-text paragraph ending in a period; for a failed render, helm's error after it.
pub(crate) fn message(report: &Report, f: &ReportFinding) -> String {
    let mut text = one_line(f.message.trim()).trim_end_matches('.').to_owned();
    // A finding about the repository itself (an exception, an unread values file) has no cell.
    let mut context: Vec<String> = [("environment", &f.environment), ("app", &f.app)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if let Some(object) = &f.object {
        context.push(format!("object {object}"));
    }
    if let Some(container) = &f.container {
        context.push(format!("container {container}"));
    }
    if let Some(image) = &f.image {
        context.push(format!("image {image}"));
    }
    if context.is_empty() {
        text.push('.');
    } else {
        text.push_str(". In ");
        text.push_str(&one_line(&context.join(", ")));
        text.push('.');
    }
    if f.rule == RENDER_FAILED {
        if let Some(error) = report.cell_of(f).and_then(|c| c.error.as_deref()) {
            text.push_str("\nhelm: ");
            text.push_str(block(error.trim()).as_ref());
        }
    }
    text
}

/// Where to fix the finding: the values line, else the template file, else the chart.
fn location(f: &ReportFinding, prefix: &str) -> Option<Location> {
    let place = super::where_to_fix(f)?;
    let (uri, uri_base_id) = artifact_uri(&super::from_checkout_root(prefix, &place.file));
    let (region, context_region) = match (&f.origin, &f.snippet) {
        (Some(origin), Some(snippet)) => regions(origin.line.max(1), snippet),
        _ => (
            Region {
                start_line: place.line.unwrap_or(1).max(1),
                start_column: place.column,
                end_column: place.end_column,
                ..Region::default()
            },
            None,
        ),
    };
    Some(Location {
        physical_location: PhysicalLocation {
            artifact_location: ArtifactLocation { uri, uri_base_id },
            region,
            context_region,
        },
    })
}

/// Where each part of the image comes from ([`crate::Parts`]), one related location per part,
/// its message naming the part.
fn related_locations(f: &ReportFinding, prefix: &str) -> Vec<RelatedLocation> {
    f.parts
        .iter()
        .enumerate()
        .map(|(i, (name, origin))| {
            let (uri, uri_base_id) = artifact_uri(&super::from_checkout_root(prefix, &origin.file));
            let text = match name {
                "digest" if f.image.as_deref().is_some_and(|i| !i.contains('@')) => {
                    "digest: where the image's digest belongs".to_owned()
                }
                "pullPolicy" => "pull policy: this line sets it".to_owned(),
                part => format!("{part}: this line sets the image's {part}"),
            };
            RelatedLocation {
                id: i,
                physical_location: PhysicalLocation {
                    artifact_location: ArtifactLocation { uri, uri_base_id },
                    region: Region {
                        start_line: origin.line.max(1),
                        end_line: None,
                        snippet: None,
                        ..Region::default()
                    },
                    context_region: None,
                },
                message: Message { text },
            }
        })
        .collect()
}

/// The origin line as a region with its text, and the snippet's lines as the context region,
/// when the snippet holds the origin line (code scanning shows them without a checkout).
fn regions(line: u32, snippet: &Snippet) -> (Region, Option<Region>) {
    let line_text = line
        .checked_sub(snippet.start_line)
        .and_then(|i| snippet.lines.get(usize::try_from(i).ok()?));
    let Some(line_text) = line_text.filter(|_| snippet.start_line >= 1) else {
        return (
            Region {
                start_line: line,
                end_line: None,
                snippet: None,
                ..Region::default()
            },
            None,
        );
    };
    let region = Region {
        start_line: line,
        end_line: None,
        snippet: Some(Message {
            text: line_text.clone(),
        }),
        ..Region::default()
    };
    // A context region must be a proper superset of the region (SARIF1008): none for one line.
    if snippet.lines.len() < 2 {
        return (region, None);
    }
    let last = snippet
        .start_line
        .saturating_add(u32::try_from(snippet.lines.len() - 1).unwrap_or(0));
    let context = Region {
        start_line: snippet.start_line,
        end_line: Some(last),
        snippet: Some(Message {
            text: snippet.lines.join("\n"),
        }),
        ..Region::default()
    };
    (region, Some(context))
}

/// A repository path as a URI reference: relative to `%SRCROOT%` (leading `./` dropped,
/// backslashes as slashes), or a `file://` URI with no base for an absolute path; every byte
/// outside the unreserved set and `/` percent-encoded.
fn artifact_uri(path: &str) -> (String, Option<&'static str>) {
    let path = path.replace('\\', "/");
    let mut rest = path.as_str();
    while let Some(stripped) = rest.strip_prefix("./") {
        rest = stripped;
    }
    let mut encoded = String::with_capacity(rest.len());
    for byte in rest.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    if rest.starts_with('/') {
        (format!("file://{encoded}"), None)
    } else {
        (encoded, Some(SRCROOT))
    }
}

/// `digest-required` → `DigestRequired`: SARIF's `name` is an identifier-like form of the id.
fn pascal_case(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
                .collect::<String>()
        })
        .collect()
}

/// Markdown reduced to plain text for `help.text`: fences, heading marks, emphasis and
/// backticks removed; the words stay.
fn markdown_to_text(markdown: &str) -> String {
    let mut lines = Vec::new();
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            continue;
        }
        let line = trimmed
            .strip_prefix('#')
            .map_or(line, |_| trimmed.trim_start_matches('#').trim_start());
        lines.push(line.replace("**", "").replace('`', ""));
    }
    lines.join("\n").trim().to_owned()
}

/// The first paragraph of prose in `markdown` (no heading, fence or list), as plain text.
fn first_paragraph(markdown: &str) -> Option<String> {
    let mut paragraph: Vec<&str> = Vec::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
            if !paragraph.is_empty() {
                break;
            }
            continue;
        }
        if in_fence {
            continue;
        }
        let prose = !(t.is_empty() || t.starts_with('#') || t.starts_with('|'));
        if prose {
            paragraph.push(t);
        } else if !paragraph.is_empty() {
            break;
        }
    }
    (!paragraph.is_empty()).then(|| markdown_to_text(&paragraph.join(" ")))
}

#[derive(Serialize)]
struct Log<'r> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'r>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'r> {
    tool: Tool,
    original_uri_base_ids: BTreeMap<&'static str, BaseUri>,
    results: Vec<SarifResult<'r>>,
}

#[derive(Serialize)]
struct BaseUri {
    description: Message,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: String,
    version: String,
    information_uri: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    name: String,
    short_description: Message,
    full_description: Message,
    help: Help,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    default_configuration: Configuration,
    properties: RuleProperties,
}

/// What GitHub code scanning reads beside the level: `security-severity` (0 to 10, shown as
/// critical/high/medium/low) and tags, as trivy and checkov write them.
#[derive(Serialize)]
struct RuleProperties {
    #[serde(rename = "security-severity", skip_serializing_if = "Option::is_none")]
    security_severity: Option<String>,
    tags: Vec<String>,
}

impl RuleProperties {
    fn of(meta: Option<&RuleMeta>) -> Self {
        let mut tags: Vec<String> = ["security", "kubernetes", "container-image"]
            .map(str::to_owned)
            .to_vec();
        for t in meta.map(|m| m.tags.as_slice()).unwrap_or_default() {
            if !tags.contains(t) {
                tags.push(one_line(t).into_owned());
            }
        }
        Self {
            security_severity: meta.and_then(|m| m.security_severity.clone()),
            tags,
        }
    }
}

impl Rule {
    fn from_meta(meta: &RuleMeta) -> Self {
        let summary = one_line(meta.summary.trim()).into_owned();
        let markdown = block(meta.help_markdown.trim()).into_owned();
        let (help_text, help_markdown) = if markdown.is_empty() {
            (summary.clone(), summary.clone())
        } else {
            (markdown_to_text(&markdown), markdown.clone())
        };
        Self {
            id: meta.id.clone(),
            name: pascal_case(&meta.id),
            full_description: Message {
                text: first_paragraph(&markdown).unwrap_or_else(|| summary.clone()),
            },
            short_description: Message { text: summary },
            help: Help {
                text: help_text,
                markdown: help_markdown,
            },
            help_uri: meta.help_uri.clone(),
            default_configuration: Configuration {
                level: level(meta.default_severity),
            },
            properties: RuleProperties::of(Some(meta)),
        }
    }

    /// A rule a finding names but the caller gave no documentation for.
    fn undocumented(id: &str) -> Self {
        let text =
            format!("imagegate rule {id}; run `imagegate explain {id}` for its documentation.");
        Self {
            id: id.to_owned(),
            name: pascal_case(id),
            short_description: Message {
                text: format!("imagegate rule {id}."),
            },
            full_description: Message { text: text.clone() },
            help: Help {
                markdown: text.clone(),
                text,
            },
            help_uri: None,
            default_configuration: Configuration { level: "error" },
            properties: RuleProperties::of(None),
        }
    }
}

#[derive(Serialize)]
struct Message {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'r> {
    rule_id: &'r str,
    rule_index: usize,
    level: &'static str,
    message: Message,
    locations: Vec<Location>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<RelatedLocation>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressions: Option<Vec<Suppression>>,
    properties: ResultProperties<'r>,
}

/// The cell and site of a result, as data for tools that read the log.
#[derive(Serialize)]
struct ResultProperties<'r> {
    environment: &'r str,
    app: &'r str,
    chart: &'r str,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<&'r str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

/// A location beside the result's own: where one part of the image comes from.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RelatedLocation {
    id: usize,
    physical_location: PhysicalLocation,
    message: Message,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
    #[serde(skip_serializing_if = "Option::is_none")]
    context_region: Option<Region>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snippet: Option<Message>,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    status: &'static str,
    justification: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fingerprint;
    use crate::model::ObjectRef;

    #[test]
    fn uris_are_relative_and_encoded() {
        assert_eq!(
            artifact_uri("./a b/values#1.yaml"),
            ("a%20b/values%231.yaml".into(), Some(SRCROOT))
        );
        assert_eq!(
            artifact_uri("charts\\api\\Chart.yaml").0,
            "charts/api/Chart.yaml"
        );
        assert_eq!(
            artifact_uri("/abs/x.yaml"),
            ("file:///abs/x.yaml".into(), None)
        );
        assert_eq!(artifact_uri("é.yaml").0, "%C3%A9.yaml");
    }

    #[test]
    fn fingerprint_ignores_line_and_message_but_not_identity() {
        let base = ReportFinding::new(
            "mutable-tag",
            Severity::Error,
            "m",
            "dev",
            "dev-api",
            "charts/api",
        );
        let mut moved = base.clone();
        moved.message = "other words".into();
        moved.rendered_line = Some(40);
        assert_eq!(fingerprint(&base), fingerprint(&moved));

        let mut other = base.clone();
        other.object = Some(ObjectRef::new("apps/v1", "Deployment", None, "api"));
        assert_ne!(fingerprint(&base), fingerprint(&other));
        // Moving text between adjacent fields changes the hash.
        let a = ReportFinding::new("r", Severity::Error, "m", "ab", "c", "x");
        let b = ReportFinding::new("r", Severity::Error, "m", "a", "bc", "x");
        assert_ne!(fingerprint(&a), fingerprint(&b));
    }

    #[test]
    fn context_region_is_a_proper_superset_or_absent() {
        let one = Snippet::new(4, vec!["tag: x".into()], 4);
        let (region, context) = regions(4, &one);
        assert!(region.snippet.is_some() && context.is_none());
        let two = Snippet::new(3, vec!["image:".into(), "  tag: x".into()], 4);
        let (region, context) = regions(4, &two);
        assert_eq!(region.snippet.map(|m| m.text).as_deref(), Some("  tag: x"));
        assert_eq!(context.and_then(|c| c.end_line), Some(4));
        // A snippet that does not hold the line adds nothing.
        let (region, context) = regions(9, &two);
        assert!(region.snippet.is_none() && context.is_none());
    }

    #[test]
    fn a_template_location_is_a_region_with_columns() {
        let mut f = ReportFinding::new("render-failed", Severity::Error, "m", "dev", "a", "c");
        f.template_location = Some(crate::TemplateLocation {
            line: Some(5),
            column: Some(9),
            end_column: Some(14),
            ..crate::TemplateLocation::file("c/templates/app.yaml")
        });
        let json = |f: &ReportFinding| {
            serde_json::to_value(location(f, "gitops").map(|l| l.physical_location))
                .unwrap_or_default()
        };
        let at = json(&f);
        assert_eq!(at["artifactLocation"]["uri"], "gitops/c/templates/app.yaml");
        assert_eq!(
            at["region"],
            serde_json::json!({"startLine": 5, "startColumn": 9, "endColumn": 14})
        );
        // A YAML error's rendered line is not a template line: the file, at line 1, no column.
        f.template_location = Some(crate::TemplateLocation {
            rendered_line: Some(7),
            ..crate::TemplateLocation::file("c/templates/app.yaml")
        });
        assert_eq!(json(&f)["region"], serde_json::json!({"startLine": 1}));
    }

    #[test]
    fn names_and_descriptions() {
        assert_eq!(
            pascal_case("pull-policy-not-ifnotpresent"),
            "PullPolicyNotIfnotpresent"
        );
        let md = "# digest-required\n\n## What it does\nFlags `repo:tag`\nwithout a **digest**.\n\n```yaml\nimage: x\n```\n";
        assert_eq!(
            first_paragraph(md).as_deref(),
            Some("Flags repo:tag without a digest.")
        );
        assert_eq!(
            markdown_to_text(md),
            "digest-required\n\nWhat it does\nFlags repo:tag\nwithout a digest.\n\nimage: x"
        );
        assert_eq!(first_paragraph("# only a heading"), None);
    }
}
