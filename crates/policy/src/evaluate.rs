//! One cell's decoded objects in, that cell's findings out.

use imagegate_decode::{DecodedObject, DocumentError, ImageSite};

use crate::rules::{
    digest_required, invalid_image_ref, invalid_label_value, invalid_manifest, mutable_tag,
    pull_policy_missing, pull_policy_not_ifnotpresent, SiteContext,
};
use crate::{CellContext, Finding, ImageRef, PolicySettings};

/// Every finding of one rendered cell, with severities resolved for the cell's environment
/// (rules that are `off` there are left out).
///
/// The order is stable: by document, and within a document by object, then each object's image
/// sites in document order (for each site: reference rules, then pull-policy rules), then its
/// labels; undecodable documents take their place among the others.
///
/// An image that does not parse is reported once, as `invalid-image-ref`, never also as
/// `digest-required` or `mutable-tag`. Safety-net sites are judged only when they parse and get
/// no pull-policy rules.
pub fn evaluate(
    cell: &CellContext,
    objects: &[DecodedObject],
    errors: &[DocumentError],
    settings: &PolicySettings,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for object in objects {
        for site in &object.sites {
            judge_site(&SiteContext { cell, object, site }, settings, &mut findings);
        }
        findings.extend(
            object
                .labels
                .iter()
                .filter_map(|label| invalid_label_value::check(cell, object, label)),
        );
    }
    findings.extend(errors.iter().map(|e| invalid_manifest::finding(cell, e)));
    // Stable: keeps the order above within a document.
    findings.sort_by_key(|f| f.document);
    settings.apply_severity(findings)
}

/// The `render-failed` finding of a cell whose render failed with `error`, at its configured
/// severity (the rule cannot be turned off, so there is always one).
pub fn render_failed(cell: &CellContext, error: &str, settings: &PolicySettings) -> Finding {
    let mut finding = crate::rules::render_failed::finding(cell, error);
    if let Some(severity) = settings.severity_for(finding.rule, &cell.environment) {
        finding.severity = severity;
    }
    finding
}

fn judge_site(site: &SiteContext<'_>, settings: &PolicySettings, out: &mut Vec<Finding>) {
    let ImageSite { image, .. } = site.site;
    match ImageRef::parse(image) {
        Ok(reference) => {
            out.extend(digest_required::check(site, &reference));
            out.extend(mutable_tag::check(
                site,
                &reference,
                &settings.immutable_tags,
            ));
        }
        Err(error) => out.extend(invalid_image_ref::check(site, &error)),
    }
    out.extend(pull_policy_missing::check(site));
    out.extend(pull_policy_not_ifnotpresent::check(site));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::builders::{digest, label, object, set, site, HEX};
    use crate::{Offending, Severity};
    use imagegate_decode::{DocumentError, PullPolicy, SiteKind};

    fn cell(env: &str) -> CellContext {
        CellContext {
            environment: env.to_owned(),
            app: format!("{env}-web"),
            chart: "charts/web".to_owned(),
        }
    }

    /// Rules reported for one site, in order.
    fn judge(kind: SiteKind, image: &str, policy: PullPolicy) -> Vec<&'static str> {
        let mut obj = object(
            if kind == SiteKind::CustomField {
                "Agent"
            } else {
                "Deployment"
            },
            "web",
            0,
        );
        obj.sites.push(site(kind, image, policy));
        evaluate(&cell("dev"), &[obj], &[], &PolicySettings::default())
            .iter()
            .map(|f| f.rule.as_str())
            .collect()
    }

    #[test]
    fn image_table() {
        use SiteKind::*;
        let d = digest();
        let ok = set("IfNotPresent");
        // (kind, image, pull policy, expected rules)
        let cases: Vec<(SiteKind, String, PullPolicy, Vec<&str>)> = vec![
            (
                Container,
                format!("repo:main@{d}"),
                ok.clone(),
                vec!["mutable-tag"],
            ),
            (
                Container,
                format!("repo:latest@{d}"),
                ok.clone(),
                vec!["mutable-tag"],
            ),
            (Container, format!("repo:3f2a9c1@{d}"), ok.clone(), vec![]),
            (
                Container,
                format!("ghcr.io/ameideio/web:v1.2.3@{d}"),
                ok.clone(),
                vec![],
            ),
            (Container, format!("repo@{d}"), ok.clone(), vec![]),
            (
                Container,
                "nginx".to_owned(),
                ok.clone(),
                vec!["digest-required"],
            ),
            (
                Container,
                "nginx:1.25".to_owned(),
                ok.clone(),
                vec!["digest-required", "mutable-tag"],
            ),
            (
                Container,
                "nginx:v1.2.3".to_owned(),
                ok.clone(),
                vec!["digest-required"],
            ),
            (
                Container,
                "registry.local:5000/team/app".to_owned(),
                ok.clone(),
                vec!["digest-required"],
            ),
            (
                Container,
                format!("registry.local:5000/team/app@{d}"),
                ok.clone(),
                vec![],
            ),
            (
                Container,
                format!("registry.local:5000/team/app:16@{d}"),
                ok.clone(),
                vec!["mutable-tag"],
            ),
            // `tag: 1.10` in values, rendered by Go as a float.
            (
                Container,
                format!("repo:1.1@{d}"),
                ok.clone(),
                vec!["mutable-tag"],
            ),
            (
                Container,
                "repo:1.1".to_owned(),
                ok.clone(),
                vec!["digest-required", "mutable-tag"],
            ),
            // Unparsable: reported alone, whatever else is wrong with the string.
            (
                Container,
                format!("repo:main@sha256:{}", HEX.to_uppercase()),
                ok.clone(),
                vec!["invalid-image-ref"],
            ),
            (
                Container,
                "repo:main@sha256:3f2a9c1".to_owned(),
                ok.clone(),
                vec!["invalid-image-ref"],
            ),
            (
                Container,
                format!("repo@sha512:{HEX}"),
                ok.clone(),
                vec!["invalid-image-ref"],
            ),
            (
                Container,
                "repo:".to_owned(),
                ok.clone(),
                vec!["invalid-image-ref"],
            ),
            (
                Container,
                "repo@".to_owned(),
                ok.clone(),
                vec!["invalid-image-ref"],
            ),
            (
                Container,
                String::new(),
                ok.clone(),
                vec!["invalid-image-ref"],
            ),
            (
                Container,
                "ghcr.io/a/web:<no value>".to_owned(),
                ok.clone(),
                vec!["invalid-image-ref"],
            ),
            // ... but the pull policy of the container is still judged.
            (
                Container,
                "repo:".to_owned(),
                set("Always"),
                vec!["invalid-image-ref", "pull-policy-not-ifnotpresent"],
            ),
            (
                InitContainer,
                format!("repo@{d}"),
                PullPolicy::Absent,
                vec!["pull-policy-missing"],
            ),
            (
                EphemeralContainer,
                format!("repo@{d}"),
                set("Never"),
                vec!["pull-policy-not-ifnotpresent"],
            ),
            (
                Container,
                format!("repo@{d}"),
                set(""),
                vec!["pull-policy-not-ifnotpresent"],
            ),
            (
                Container,
                "nginx".to_owned(),
                PullPolicy::Absent,
                vec!["digest-required", "pull-policy-missing"],
            ),
            // Custom resources: Always is reported, a missing field is not.
            (
                CustomField,
                format!("repo@{d}"),
                set("Always"),
                vec!["pull-policy-not-ifnotpresent"],
            ),
            (CustomField, format!("repo@{d}"), PullPolicy::Absent, vec![]),
            (
                CustomField,
                "repo:main".to_owned(),
                PullPolicy::Absent,
                vec!["digest-required", "mutable-tag"],
            ),
            (
                CustomField,
                "repo:".to_owned(),
                PullPolicy::Absent,
                vec!["invalid-image-ref"],
            ),
            // Safety net: judged only when it parses; never pull-policy rules.
            (
                Unclassified,
                "not an image at all".to_owned(),
                PullPolicy::NotApplicable,
                vec![],
            ),
            (
                Unclassified,
                "repo:".to_owned(),
                PullPolicy::NotApplicable,
                vec![],
            ),
            (
                Unclassified,
                "nginx".to_owned(),
                PullPolicy::NotApplicable,
                vec!["digest-required"],
            ),
            (
                Unclassified,
                "busybox:latest".to_owned(),
                set("Always"),
                vec!["digest-required", "mutable-tag"],
            ),
            (
                Unclassified,
                format!("repo@{d}"),
                PullPolicy::Absent,
                vec![],
            ),
        ];
        for (kind, image, policy, expected) in cases {
            assert_eq!(
                judge(kind, &image, policy.clone()),
                expected,
                "{kind:?} `{image}` {policy:?}"
            );
        }
    }

    #[test]
    fn findings_point_at_the_offending_part() {
        let d = digest();
        let mut obj = object("Deployment", "web", 1);
        obj.sites.push(site(
            SiteKind::Container,
            &format!("repo:main@{d}"),
            set("Always"),
        ));
        obj.sites
            .push(site(SiteKind::InitContainer, "nginx", PullPolicy::Absent));
        obj.labels
            .push(label("app.kubernetes.io/version", &format!("v1.2.3@{d}")));
        let found = evaluate(&cell("dev"), &[obj], &[], &PolicySettings::default());
        let parts: Vec<(&str, Option<Offending>)> = found
            .iter()
            .map(|f| (f.rule.as_str(), f.offending.clone()))
            .collect();
        assert_eq!(
            parts,
            [
                ("mutable-tag", Some(Offending::Tag("main".to_owned()))),
                (
                    "pull-policy-not-ifnotpresent",
                    Some(Offending::PullPolicy("Always".to_owned()))
                ),
                (
                    "digest-required",
                    Some(Offending::Reference("nginx".to_owned()))
                ),
                ("pull-policy-missing", None),
                (
                    "invalid-label-value",
                    Some(Offending::LabelValue(format!("v1.2.3@{d}")))
                ),
            ]
        );
        for f in &found {
            assert_eq!(f.cell, cell("dev"));
            assert_eq!(f.document, Some(1));
            assert_eq!(f.template.as_deref(), Some("chart/templates/web.yaml"));
            assert_eq!(
                f.object.as_ref().map(|o| o.kind.as_str()),
                Some("Deployment")
            );
            assert_eq!(f.excepted_by, None);
        }
        assert_eq!(found[2].container.as_deref(), Some("init"));
        assert_eq!(
            found[3].field.as_deref(),
            Some("spec.template.spec.initContainers[0].imagePullPolicy")
        );
    }

    #[test]
    fn order_is_by_document_with_errors_in_place() {
        let mut a = object("Deployment", "a", 0);
        a.sites
            .push(site(SiteKind::Container, "a", set("IfNotPresent")));
        let mut c = object("Deployment", "c", 2);
        c.sites
            .push(site(SiteKind::Container, "c", set("IfNotPresent")));
        let error = DocumentError {
            document: 1,
            template: Some("chart/templates/b.yaml".to_owned()),
            object: None,
            line: Some(3),
            message: "`containers` is a string, expected a list".to_owned(),
        };
        let found = evaluate(&cell("dev"), &[a, c], &[error], &PolicySettings::default());
        let order: Vec<(Option<usize>, &str)> = found
            .iter()
            .map(|f| (f.document, f.rule.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (Some(0), "digest-required"),
                (Some(1), "invalid-manifest"),
                (Some(2), "digest-required"),
            ]
        );
        assert_eq!(found[1].line, Some(3));
    }

    #[test]
    fn severity_is_resolved_per_environment() {
        let settings: PolicySettings = imagegate_yaml::from_str(
            "severity:\n  mutable-tag: { default: error, environments: { local: warning, sandbox: off } }\n  digest-required: warning",
            &imagegate_yaml::Limits::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut obj = object("Deployment", "web", 0);
        obj.sites
            .push(site(SiteKind::Container, "repo:main", set("IfNotPresent")));
        let at = |env: &str| -> Vec<(&'static str, Severity)> {
            evaluate(&cell(env), std::slice::from_ref(&obj), &[], &settings)
                .iter()
                .map(|f| (f.rule.as_str(), f.severity))
                .collect()
        };
        assert_eq!(
            at("dev"),
            [
                ("digest-required", Severity::Warning),
                ("mutable-tag", Severity::Error)
            ]
        );
        assert_eq!(
            at("local"),
            [
                ("digest-required", Severity::Warning),
                ("mutable-tag", Severity::Warning)
            ]
        );
        assert_eq!(at("sandbox"), [("digest-required", Severity::Warning)]);
    }

    #[test]
    fn render_failed_is_always_an_error() {
        let f = render_failed(&cell("dev"), "Error: boom", &PolicySettings::default());
        assert_eq!(
            (f.rule.as_str(), f.severity),
            ("render-failed", Severity::Error)
        );
        assert!(f.message.contains("Error: boom"));
    }

    #[test]
    fn clean_cell_has_no_findings() {
        let mut obj = object("Deployment", "web", 0);
        obj.sites.push(site(
            SiteKind::Container,
            &format!("ghcr.io/a/web:v1.2.3@{}", digest()),
            set("IfNotPresent"),
        ));
        obj.sites.push(site(
            SiteKind::InitContainer,
            &format!("ghcr.io/a/init:3f2a9c1@{}", digest()),
            set("IfNotPresent"),
        ));
        obj.labels
            .push(label("app.kubernetes.io/version", "v1.2.3"));
        assert!(evaluate(&cell("production"), &[obj], &[], &PolicySettings::default()).is_empty());
    }

    /// Every message of a cell with one of each problem, for review in one place.
    #[test]
    fn snapshot_of_a_mixed_cell() {
        let d = digest();
        let mut web = object("Deployment", "web", 0);
        web.sites.push(site(
            SiteKind::Container,
            &format!("ghcr.io/ameideio/web:main@{d}"),
            set("Always"),
        ));
        web.sites.push(site(
            SiteKind::InitContainer,
            "registry.local:5000/team/migrate:1.1",
            PullPolicy::Absent,
        ));
        web.labels
            .push(label("app.kubernetes.io/version", &format!("v1.2.3@{d}")));
        let mut agent = object("Agent", "planner", 1);
        agent.sites.push(site(
            SiteKind::CustomField,
            &format!("ghcr.io/ameideio/planner@sha256:{}", &HEX[..12]),
            set("Never"),
        ));
        let error = DocumentError {
            document: 2,
            template: Some("chart/templates/job.yaml".to_owned()),
            object: None,
            line: Some(7),
            message: "`spec.template.spec.containers` is a string, expected a list".to_owned(),
        };
        let found = evaluate(
            &cell("dev"),
            &[web, agent],
            &[error],
            &PolicySettings::default(),
        );
        insta::assert_yaml_snapshot!(found);
    }
}
