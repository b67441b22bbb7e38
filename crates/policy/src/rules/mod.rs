//! The rules, one folder each, named by rule id: `<rule>/mod.rs` (the check), `<rule>/doc.md`
//! (its documentation), `<rule>/fixtures/` (inputs) and `<rule>/snapshots/` (what it reports).
//!
//! Every rule module carries its documentation as its module doc comment, read from the markdown
//! file next to it; [`crate::registry`] includes the same file, so `imagegate explain` and the
//! API docs cannot drift apart. Each module exports `ID` (its [`crate::RuleId`]), `SUMMARY`,
//! `DEFAULT_SEVERITY` and `DOC`, and a check: over one site (used by [`crate::evaluate`]), over
//! the whole fleet's plain data ([`promotion_drift::check`], [`values_file_unused::check`]), or a
//! constructor for what the caller detects itself (render failures, exceptions). The `registry-*`
//! rules judge sites against what a registry answered ([`crate::evaluate_remote`]).

use imagegate_decode::{DecodedObject, ImageSite, ObjectRef, SiteKind};

use crate::{CellContext, Finding, Offending, RuleId, Severity};

pub mod digest_required;
pub mod exception_expired;
pub mod exception_invalid;
pub mod exception_unused;
pub mod invalid_image_ref;
pub mod invalid_label_value;
pub mod invalid_manifest;
pub mod mutable_tag;
pub mod promotion_drift;
pub mod pull_policy_missing;
pub mod pull_policy_not_ifnotpresent;
pub mod registry_digest_missing;
pub mod registry_platform_missing;
pub mod registry_tag_mismatch;
pub mod render_failed;
pub mod values_file_unused;

#[cfg(test)]
mod fixture_tests;

/// One image site being judged, with the object and cell it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SiteContext<'a> {
    pub(crate) cell: &'a CellContext,
    pub(crate) object: &'a DecodedObject,
    pub(crate) site: &'a ImageSite,
}

impl SiteContext<'_> {
    /// A finding about this site, located at its image field.
    pub(crate) fn finding(
        &self,
        rule: RuleId,
        severity: Severity,
        message: String,
        offending: Option<Offending>,
    ) -> Finding {
        let mut finding = object_finding(rule, severity, message, self.cell, self.object);
        finding.container = self.site.container.clone();
        finding.field = Some(self.site.field.clone());
        finding.image = Some(self.site.image.clone());
        finding.line = self.site.line;
        finding.offending = offending;
        finding
    }

    /// How a message names this site: "container `web` of Deployment/web",
    /// "`spec.image` of Agent/planner".
    pub(crate) fn describe(&self) -> String {
        let object = describe_object(&self.object.object);
        let container = self.site.container.as_deref().unwrap_or_default();
        match self.site.kind {
            SiteKind::Container => format!("container `{container}` of {object}"),
            SiteKind::InitContainer => format!("init container `{container}` of {object}"),
            SiteKind::EphemeralContainer => {
                format!("ephemeral container `{container}` of {object}")
            }
            SiteKind::CustomField | SiteKind::Unclassified => {
                format!("`{}` of {object}", self.site.field)
            }
        }
    }
}

/// A finding about a whole object (no particular site yet).
pub(crate) fn object_finding(
    rule: RuleId,
    severity: Severity,
    message: String,
    cell: &CellContext,
    object: &DecodedObject,
) -> Finding {
    let mut finding = Finding::new(rule, severity, message, cell.clone());
    finding.object = Some(object.object.clone());
    finding.template = object.template.clone();
    finding.document = Some(object.document);
    finding
}

/// A finding about an entry of `exceptions.list`, located by its configuration line.
pub(crate) fn exception_finding(
    rule: RuleId,
    severity: Severity,
    message: String,
    index: usize,
    exception: &crate::Exception,
) -> Finding {
    let mut finding = Finding::new(rule, severity, message, CellContext::default());
    finding.field = Some(format!("exceptions.list[{index}]"));
    finding.config_line = exception.line;
    finding
}

/// `Kind/name`, the way users write objects in exceptions.
pub(crate) fn describe_object(object: &ObjectRef) -> String {
    format!("{}/{}", object.kind, object.name)
}

#[cfg(test)]
pub(crate) mod builders {
    //! Builders for decoded objects, as the decoder would hand them over.

    use imagegate_decode::{DecodedObject, ImageSite, LabelSite, ObjectRef, PullPolicy, SiteKind};

    /// A 64-digit lowercase sha256 hex string.
    pub(crate) const HEX: &str = "3f2a9c1d0e5b4a7f8c6d2e1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19";

    pub(crate) fn digest() -> String {
        format!("sha256:{HEX}")
    }

    pub(crate) fn object(kind: &str, name: &str, document: usize) -> DecodedObject {
        DecodedObject {
            object: ObjectRef {
                api_version: if kind == "Agent" {
                    "ameide.io/v1"
                } else {
                    "apps/v1"
                }
                .to_owned(),
                kind: kind.to_owned(),
                namespace: Some("apps".to_owned()),
                name: name.to_owned(),
            },
            template: Some(format!("chart/templates/{}.yaml", name)),
            document,
            hook: None,
            labels: Vec::new(),
            sites: Vec::new(),
        }
    }

    pub(crate) fn site(kind: SiteKind, image: &str, pull_policy: PullPolicy) -> ImageSite {
        let (container, field, pull_field) = match kind {
            SiteKind::Container => (
                Some("app".to_owned()),
                "spec.template.spec.containers[0].image",
                Some("spec.template.spec.containers[0].imagePullPolicy"),
            ),
            SiteKind::InitContainer => (
                Some("init".to_owned()),
                "spec.template.spec.initContainers[0].image",
                Some("spec.template.spec.initContainers[0].imagePullPolicy"),
            ),
            SiteKind::EphemeralContainer => (
                Some("debug".to_owned()),
                "spec.ephemeralContainers[0].image",
                Some("spec.ephemeralContainers[0].imagePullPolicy"),
            ),
            SiteKind::CustomField => (None, "spec.image", Some("spec.imagePullPolicy")),
            SiteKind::Unclassified => (None, "spec.runner.image", None),
        };
        ImageSite {
            container,
            kind,
            field: field.to_owned(),
            image: image.to_owned(),
            pull_policy,
            pull_policy_field: pull_field.map(str::to_owned),
            line: Some(12),
            pull_policy_line: pull_field.map(|_| 13),
        }
    }

    pub(crate) fn set(policy: &str) -> PullPolicy {
        PullPolicy::Set(policy.to_owned())
    }

    pub(crate) fn label(key: &str, value: &str) -> LabelSite {
        LabelSite {
            field: "metadata.labels".to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
            line: Some(6),
        }
    }
}
