//! Comparing the two renders of one cell: image references, rendered text, findings.

use imagegate_decode::Decoded;
use imagegate_report::diff::ImageChange;
use imagegate_report::{ObjectRef, ReportFinding};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Largest unified diff kept per cell.
const MAX_DIFF_BYTES: usize = 64 * 1024;
/// Longest time spent diffing one cell; past it the diff is coarser, never wrong.
const DIFF_TIMEOUT: Duration = Duration::from_secs(2);

/// Where an image sits: object, container and field.
type SiteKey = (ObjectRef, Option<String>, String);

/// The image reference of every site of one render.
pub type SiteMap = BTreeMap<SiteKey, String>;

/// Every image site of a decoded render.
pub fn image_sites(decoded: &Decoded) -> SiteMap {
    let mut out = BTreeMap::new();
    for obj in &decoded.objects {
        let o = &obj.object;
        let object = ObjectRef::new(&o.api_version, &o.kind, o.namespace.clone(), &o.name);
        for site in &obj.sites {
            out.insert(
                (object.clone(), site.container.clone(), site.field.clone()),
                site.image.clone(),
            );
        }
    }
    out
}

/// The sites whose reference differs, appeared or disappeared.
pub fn image_changes(base: &SiteMap, head: &SiteMap) -> Vec<ImageChange> {
    let mut keys: Vec<&SiteKey> = base.keys().chain(head.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| base.get(*k) != head.get(*k))
        .map(|(object, container, field)| {
            let key = (object.clone(), container.clone(), field.clone());
            ImageChange {
                object: object.clone(),
                container: container.clone(),
                field: field.clone(),
                old: base.get(&key).cloned(),
                new: head.get(&key).cloned(),
            }
        })
        .collect()
}

/// The unified diff of two rendered streams (`None` when identical), cut to a bound; the bool
/// says whether it was cut.
pub fn unified(base: &str, head: &str, label: &str) -> Option<(String, bool)> {
    if base == head {
        return None;
    }
    let diff = similar::TextDiff::configure()
        .timeout(DIFF_TIMEOUT)
        .diff_lines(base, head);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("base/{label}"), &format!("head/{label}"))
        .to_string();
    let (kept, cut) = imagegate_report::cut_at_line(&text, MAX_DIFF_BYTES);
    Some((kept.to_string(), cut))
}

/// What identifies a finding across the two sides: rule, cell, object, container, field and the
/// image, but not its message. The image is part of it: a violation swapped for another image
/// (`x:latest` for `docker.io/attacker/miner:latest`) is a new finding, never "unchanged". So are
/// its severity and whether an exception covers it: a finding that fails the head is never
/// "unchanged" from one that did not fail the base (an exception scoped to a cell the change
/// renamed, a warning made an error).
type Identity = (
    String,
    String,
    String,
    Option<(String, Option<String>, String)>,
    Option<String>,
    Option<String>,
    Option<String>,
    (imagegate_report::Severity, bool),
);

fn identity(f: &ReportFinding, app: &str) -> Identity {
    (
        f.rule.clone(),
        f.environment.clone(),
        app.to_string(),
        f.object
            .as_ref()
            .map(|o| (o.kind.clone(), o.namespace.clone(), o.name.clone())),
        f.container.clone(),
        f.field.clone(),
        f.image.clone(),
        (f.severity, f.excepted),
    )
}

/// The findings of one cell on both sides, classified as (new, fixed, unchanged). Base findings
/// are matched as if they had the head's app name (a renamed cell keeps its findings).
pub fn classify(
    base: Vec<ReportFinding>,
    head: Vec<ReportFinding>,
    head_app: &str,
) -> [Vec<ReportFinding>; 3] {
    classify_as(base, head, Some(head_app))
}

/// [`classify`] for findings of many cells (the whole-fleet `promotion-drift`): each base finding
/// keeps its own app.
pub fn classify_fleet(
    base: Vec<ReportFinding>,
    head: Vec<ReportFinding>,
) -> [Vec<ReportFinding>; 3] {
    classify_as(base, head, None)
}

fn classify_as(
    base: Vec<ReportFinding>,
    head: Vec<ReportFinding>,
    head_app: Option<&str>,
) -> [Vec<ReportFinding>; 3] {
    let mut left: HashMap<Identity, Vec<ReportFinding>> = HashMap::new();
    for f in base {
        let app = head_app.unwrap_or(&f.app).to_string();
        left.entry(identity(&f, &app)).or_default().push(f);
    }
    let (mut new, mut unchanged) = (Vec::new(), Vec::new());
    for f in head {
        match left.get_mut(&identity(&f, &f.app)).and_then(Vec::pop) {
            Some(_) => unchanged.push(f),
            None => new.push(f),
        }
    }
    let fixed = left.into_values().flatten().collect();
    [new, fixed, unchanged]
}

#[cfg(test)]
mod tests {
    use super::*;
    use imagegate_report::Severity;

    fn finding(rule: &str, app: &str, container: &str, image: &str) -> ReportFinding {
        let mut f = ReportFinding::new(rule, Severity::Error, image, "dev", app, "charts/x");
        f.object = Some(ObjectRef::new("apps/v1", "Deployment", None, "x"));
        f.container = Some(container.into());
        f.field = Some(format!("spec.template.spec.containers[{container}].image"));
        f.image = Some(image.into());
        f
    }

    #[test]
    fn a_failing_head_finding_is_never_unchanged_from_one_that_did_not_fail() {
        let excepted = {
            let mut f = finding("mutable-tag", "dev-legacy", "a", "nginx:latest");
            f.excepted = true;
            f
        };
        let warning = {
            let mut f = finding("digest-required", "dev-legacy", "a", "nginx:latest");
            f.severity = Severity::Warning;
            f
        };
        let head = vec![
            finding("mutable-tag", "dev-payments", "a", "nginx:latest"),
            finding("digest-required", "dev-payments", "a", "nginx:latest"),
        ];
        // The cell renamed: an exception scoped to the old name no longer covers it, and the
        // warning became an error. Both are new; the base's are fixed.
        let [new, fixed, unchanged] =
            classify(vec![excepted, warning], head.clone(), "dev-payments");
        assert_eq!((new.len(), fixed.len(), unchanged.len()), (2, 2, 0));
        // The same on both sides: unchanged.
        let [new, _, unchanged] = classify(head.clone(), head, "dev-payments");
        assert_eq!((new.len(), unchanged.len()), (0, 2));
    }

    #[test]
    fn findings_match_by_place_and_image_not_by_message() {
        let mut reworded = finding("digest-required", "dev-old", "b", "y:1");
        reworded.message = "worded differently".into();
        let base = vec![
            finding("mutable-tag", "dev-old", "a", "x:latest"),
            reworded,
            finding("mutable-tag", "dev-old", "c", "z:latest"),
        ];
        let head = vec![
            // The same violation, the image swapped for another: new, and the old one fixed.
            finding(
                "mutable-tag",
                "dev-new",
                "a",
                "docker.io/attacker/miner:latest",
            ),
            finding("digest-required", "dev-new", "b", "y:1"),
            finding("pull-policy-missing", "dev-new", "a", "x:main"),
            // Same place, same image, renamed cell: unchanged.
            finding("mutable-tag", "dev-new", "c", "z:latest"),
        ];
        let [new, fixed, unchanged] = classify(base, head, "dev-new");
        let rules = |v: &[ReportFinding]| {
            let mut r: Vec<(String, Option<String>)> = v
                .iter()
                .map(|f| (f.rule.clone(), f.image.clone()))
                .collect();
            r.sort();
            r
        };
        assert_eq!(
            rules(&unchanged),
            vec![
                ("digest-required".to_string(), Some("y:1".to_string())),
                ("mutable-tag".to_string(), Some("z:latest".to_string())),
            ]
        );
        assert_eq!(
            rules(&new),
            vec![
                (
                    "mutable-tag".to_string(),
                    Some("docker.io/attacker/miner:latest".to_string())
                ),
                (
                    "pull-policy-missing".to_string(),
                    Some("x:main".to_string())
                ),
            ]
        );
        assert_eq!(
            rules(&fixed),
            vec![("mutable-tag".to_string(), Some("x:latest".to_string()))]
        );
    }

    #[test]
    fn unified_diffs_are_none_when_equal_and_cut_when_huge() {
        assert!(unified("a\n", "a\n", "dev/x").is_none());
        let (d, cut) = unified("image: a\n", "image: b\n", "dev/x").unwrap();
        assert!(!cut);
        assert!(d.starts_with("--- base/dev/x\n+++ head/dev/x\n"), "{d}");
        assert!(d.contains("-image: a\n+image: b\n"));
        let big_a: String = (0..8_000).map(|i| format!("a{i}\n")).collect();
        let big_b: String = (0..8_000).map(|i| format!("b{i}\n")).collect();
        let (d, cut) = unified(&big_a, &big_b, "dev/x").unwrap();
        assert!(cut && d.len() <= MAX_DIFF_BYTES && d.ends_with('\n'));
    }
}
