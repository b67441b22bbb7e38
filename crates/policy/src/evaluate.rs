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
