#![doc = include_str!("doc.md")]

use imagegate_decode::DocumentError;

use super::describe_object;
use crate::{CellContext, Finding, RuleId, Severity};

/// Stable rule id.
pub const ID: RuleId = RuleId::InvalidManifest;
/// One line for tables and `--help`.
pub const SUMMARY: &str =
    "a rendered document that is not valid YAML or has wrong field types where images live";
/// What to do at the line the finding points at, for the fix list (imperative, lowercase).
pub const FIX: &str = "fix the template so that it renders a valid manifest";
/// Severity unless the configuration says otherwise. It cannot be lowered: imagegate fails closed.
pub const DEFAULT_SEVERITY: Severity = Severity::Error;
/// How GitHub code scanning ranks it (`security-severity`, 0 to 10).
pub const SECURITY_SEVERITY: &str = "5.0";
/// Tags for code scanning, besides `security`, `kubernetes` and `container-image`.
pub const TAGS: &[&str] = &["fail-closed"];
/// The rule's documentation (the same text as this module's doc comment).
pub const DOC: &str = include_str!("doc.md");

/// The finding for a document the decoder could not read.
/// Severity is the rule default; [`crate::evaluate`] applies the configured one.
pub fn finding(cell: &CellContext, error: &DocumentError) -> Finding {
    let what = match (&error.object, &error.template) {
        (Some(object), _) => describe_object(object),
        (None, Some(template)) => format!("document {} from `{template}`", error.document),
        (None, None) => format!("document {}", error.document),
    };
    let message = format!(
        "{what} is not a valid Kubernetes manifest: {}; fix the template so it renders valid YAML with the right field types",
        error.message.trim_end_matches('.'),
    );
    let mut finding = Finding::new(ID, DEFAULT_SEVERITY, message, cell.clone());
    finding.object = error.object.clone();
    finding.template = error.template.clone();
    finding.document = Some(error.document);
    finding.line = error.line;
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use imagegate_decode::ObjectRef;

    #[test]
    fn keeps_location_and_names_the_document() {
        let error = DocumentError {
            document: 4,
            template: Some("web/templates/deployment.yaml".to_owned()),
            object: None,
            line: Some(9),
            message: "`spec.template.spec.containers` is a string, expected a list.".to_owned(),
        };
        let f = finding(&CellContext::default(), &error);
        assert_eq!(f.rule, ID);
        assert_eq!(f.document, Some(4));
        assert_eq!(f.line, Some(9));
        assert_eq!(f.template.as_deref(), Some("web/templates/deployment.yaml"));
        assert_eq!(
            f.message,
            "document 4 from `web/templates/deployment.yaml` is not a valid Kubernetes manifest: \
             `spec.template.spec.containers` is a string, expected a list; fix the template so it \
             renders valid YAML with the right field types"
        );
    }

    #[test]
    fn names_the_object_when_known() {
        let error = DocumentError {
            document: 0,
            template: None,
            object: Some(ObjectRef {
                api_version: "apps/v1".to_owned(),
                kind: "Deployment".to_owned(),
                namespace: None,
                name: "web".to_owned(),
            }),
            line: None,
            message: "`image` is a number".to_owned(),
        };
        let f = finding(&CellContext::default(), &error);
        assert!(f
            .message
            .starts_with("Deployment/web is not a valid Kubernetes manifest"));
        assert_eq!(f.object, error.object);
    }
}
