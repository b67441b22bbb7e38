//! Time-boxed exceptions: which findings they cover, and the hygiene of the list itself.

use chrono::{Days, NaiveDate};

use crate::rules::{exception_expired, exception_invalid, exception_unused};
use crate::{Exception, ExceptionSettings, Finding, ImageRef, PolicySettings};

/// Whether a run saw the whole fleet. Only a full run can tell that an exception is unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunScope<'a> {
    /// Every cell was rendered and judged.
    Full,
    /// The run was narrowed (`--env`, `--app`, a PR check of some cells) to these cells
    /// (environment, app): only the exceptions that could apply to one of them are judged, so a
    /// narrowed run answers for its selection and nothing else.
    Narrowed(&'a [(String, String)]),
}

impl RunScope<'_> {
    /// Whether `exception` is this run's concern.
    fn concerns(&self, exception: &Exception) -> bool {
        match self {
            RunScope::Full => true,
            RunScope::Narrowed(cells) => cells
                .iter()
                .any(|(env, app)| exception.may_apply_to(env, app)),
        }
    }
}

/// How many findings each exception matched, by index in `exceptions.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExceptionOutcome {
    matches: Vec<usize>,
}

impl ExceptionOutcome {
    /// Number of findings exception `index` matched (0 for an index out of range).
    pub fn matches(&self, index: usize) -> usize {
        self.matches.get(index).copied().unwrap_or(0)
    }

    /// True when exception `index` matched at least one finding.
    pub fn is_used(&self, index: usize) -> bool {
        self.matches(index) > 0
    }

    /// Indices of the exceptions that matched something.
    pub fn used(&self) -> impl Iterator<Item = usize> + '_ {
        self.matches
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, _)| i)
    }

    /// Adds the counts of `other` (another cell of the same run) to these.
    pub fn merge(&mut self, other: &ExceptionOutcome) {
        if self.matches.len() < other.matches.len() {
            self.matches.resize(other.matches.len(), 0);
        }
        for (mine, theirs) in self.matches.iter_mut().zip(&other.matches) {
            *mine += theirs;
        }
    }
}

/// Each index counts as one match: an outcome rebuilt from the indices of used exceptions (for
/// example a set collected across worker threads).
impl FromIterator<usize> for ExceptionOutcome {
    fn from_iter<I: IntoIterator<Item = usize>>(indices: I) -> Self {
        let mut outcome = ExceptionOutcome::default();
        for index in indices {
            if outcome.matches.len() <= index {
                outcome.matches.resize(index + 1, 0);
            }
            outcome.matches[index] += 1;
        }
        outcome
    }
}

/// Marks each finding that an exception covers with `excepted_by = Some(index)` (the first
/// matching exception) and counts the matches of every exception.
///
/// An exception covers a finding when the rule is the same and each non-empty list matches: the
/// environment by name, the app and the image repository by glob, the object by `Kind/name` glob.
/// An expired exception covers nothing, and nothing is covered in a forbidden environment. A
/// finding that already carries `excepted_by` keeps it. Call it once per cell (merging the
/// outcomes with [`ExceptionOutcome::merge`]) or once over the whole run.
pub fn apply_exceptions(
    findings: &mut [Finding],
    exceptions: &ExceptionSettings,
    today: NaiveDate,
) -> ExceptionOutcome {
    let mut outcome = ExceptionOutcome {
        matches: vec![0; exceptions.list.len()],
    };
    for finding in findings.iter_mut() {
        if exceptions
            .forbidden_environments
            .contains(&finding.cell.environment)
        {
            continue;
        }
        for (index, exception) in exceptions.list.iter().enumerate() {
            if exception.is_expired(today) || !covers(exception, finding) {
                continue;
            }
            outcome.matches[index] += 1;
            finding.excepted_by.get_or_insert(index);
        }
    }
    outcome
}

fn covers(exception: &Exception, finding: &Finding) -> bool {
    if exception.rule.rule() != finding.rule {
        return false;
    }
    let environment_ok = exception.environments.is_empty()
        || exception.environments.contains(&finding.cell.environment);
    let app_ok =
        exception.apps.is_empty() || exception.apps.iter().any(|g| g.matches(&finding.cell.app));
    let image_ok = exception.images.is_empty()
        || finding.image.as_deref().is_some_and(|image| {
            // Patterns name repositories; an unparsable image can only be matched as written.
            let repository = ImageRef::parse(image)
                .map(|r| r.repository().to_owned())
                .unwrap_or_else(|_| image.to_owned());
            exception.images.iter().any(|g| g.matches(&repository))
        });
    let object_ok = exception.objects.is_empty()
        || finding.object.as_ref().is_some_and(|o| {
            exception
                .objects
                .iter()
                .any(|g| g.matches(&o.kind, &o.name))
        });
    environment_ok && app_ok && image_ok && object_ok
}

/// Findings about the exception list itself, with configured severities:
/// `exception-expired` for each expired exception; `exception-unused` for each live one that
/// matched nothing, in a [`RunScope::Full`] run only; `exception-invalid` for each that expires
/// further than `maxLifetimeDays` from `today` or names a forbidden environment.
pub fn exception_hygiene(
    exceptions: &ExceptionSettings,
    outcome: &ExceptionOutcome,
    scope: RunScope,
    today: NaiveDate,
    settings: &PolicySettings,
) -> Vec<Finding> {
    let latest = exceptions
        .max_lifetime_days
        .and_then(|days| today.checked_add_days(Days::new(u64::from(days))));
    let mut findings = Vec::new();
    for (index, exception) in exceptions.list.iter().enumerate() {
        if !scope.concerns(exception) {
            continue;
        }
        if exception.is_expired(today) {
            findings.push(exception_expired::finding(index, exception, today));
        } else if scope == RunScope::Full && !outcome.is_used(index) {
            findings.push(exception_unused::finding(index, exception));
        }
        if let (Some(latest), Some(days)) = (latest, exceptions.max_lifetime_days) {
            if exception.expires > latest {
                let problem = format!(
                    "expires on {}, more than maxLifetimeDays ({days}) from today; set `expires` to {latest} or earlier",
                    exception.expires
                );
                findings.push(exception_invalid::finding(index, exception, &problem));
            }
        }
        let forbidden: Vec<&str> = exception
            .environments
            .iter()
            .filter(|e| exceptions.forbidden_environments.contains(e))
            .map(String::as_str)
            .collect();
        if !forbidden.is_empty() {
            let problem = format!(
                "names the forbidden environment{s} `{list}`, where no exception applies; remove {them} from its `environments` and fix the findings there",
                s = if forbidden.len() == 1 { "" } else { "s" },
                list = forbidden.join("`, `"),
                them = if forbidden.len() == 1 { "it" } else { "them" },
            );
            findings.push(exception_invalid::finding(index, exception, &problem));
        }
    }
    settings.apply_severity(findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::builders::{digest, object, set, site};
    use crate::{evaluate, CellContext, RuleId, Severity};
    use imagegate_decode::SiteKind;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn settings(yaml: &str) -> ExceptionSettings {
        imagegate_yaml::from_str(yaml, &imagegate_yaml::Limits::default())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn cell(env: &str) -> CellContext {
        CellContext {
            environment: env.to_owned(),
            app: format!("{env}-platform-devcontainer-service"),
            chart: "charts/devcontainer".to_owned(),
        }
    }

    /// The findings of one Deployment whose container runs `image`.
    fn findings(env: &str, image: &str) -> Vec<Finding> {
        let mut obj = object("Deployment", "devcontainer-service", 0);
        obj.sites
            .push(site(SiteKind::Container, image, set("IfNotPresent")));
        evaluate(&cell(env), &[obj], &[], &PolicySettings::default())
    }

    const TODAY: &str = "2026-06-01";

    #[test]
    fn matching_table() {
        let mutable = format!("ghcr.io/ameideio/devcontainer-service:main@{}", digest());
        // (exception entry, environment, image, excepted?)
        let cases: Vec<(&str, &str, String, bool)> = vec![
            ("{rule: mutable-tag}", "local", mutable.clone(), true),
            ("{rule: digest-required}", "local", mutable.clone(), false),
            (
                "{rule: mutable-tag, environments: [local]}",
                "local",
                mutable.clone(),
                true,
            ),
            (
                "{rule: mutable-tag, environments: [local]}",
                "dev",
                mutable.clone(),
                false,
            ),
            (
                "{rule: mutable-tag, images: [ghcr.io/ameideio/devcontainer-service]}",
                "dev",
                mutable.clone(),
                true,
            ),
            (
                "{rule: mutable-tag, images: ['ghcr.io/ameideio/*']}",
                "dev",
                mutable.clone(),
                true,
            ),
            (
                "{rule: mutable-tag, images: ['ghcr.io/*']}",
                "dev",
                mutable.clone(),
                false,
            ),
            (
                "{rule: mutable-tag, images: ['ghcr.io/ameideio/other']}",
                "dev",
                mutable.clone(),
                false,
            ),
            (
                "{rule: mutable-tag, apps: ['*-devcontainer-service']}",
                "dev",
                mutable.clone(),
                true,
            ),
            (
                "{rule: mutable-tag, apps: ['prod-*']}",
                "dev",
                mutable.clone(),
                false,
            ),
            (
                "{rule: mutable-tag, objects: ['Deployment/devcontainer-*']}",
                "dev",
                mutable.clone(),
                true,
            ),
            (
                "{rule: mutable-tag, objects: ['StatefulSet/*']}",
                "dev",
                mutable.clone(),
                false,
            ),
            (
                "{rule: invalid-image-ref, images: ['repo:']}",
                "dev",
                "repo:".to_owned(),
                true,
            ),
            (
                "{rule: mutable-tag, expires: 2026-05-31}",
                "local",
                mutable.clone(),
                false,
            ),
            (
                "{rule: mutable-tag, environments: [staging]}",
                "staging",
                mutable.clone(),
                false,
            ),
            ("{rule: mutable-tag}", "production", mutable.clone(), false),
        ];
        for (entry, env, image, excepted) in cases {
            let entry = if entry.contains("expires") {
                entry.replace('}', ", reason: r}")
            } else {
                entry.replace('}', ", reason: r, expires: 2026-06-01}")
            };
            let exceptions = settings(&format!(
                "forbiddenEnvironments: [staging, production]\nlist: [{entry}]"
            ));
            let mut found = findings(env, &image);
            assert!(!found.is_empty(), "{entry} {image}: nothing to except");
            let outcome = apply_exceptions(&mut found, &exceptions, date(TODAY));
            let rule = exceptions.list[0].rule.rule();
            let target: Vec<_> = found.iter().filter(|f| f.rule == rule).collect();
            let any_excepted = target.iter().any(|f| f.excepted_by == Some(0));
            assert_eq!(any_excepted, excepted, "{entry} in {env} on {image}");
            assert_eq!(outcome.is_used(0), excepted, "{entry}");
            // Other rules are never touched.
            assert!(found
                .iter()
                .filter(|f| f.rule != rule)
                .all(|f| !f.is_excepted()));
        }
    }

    #[test]
    fn first_matching_exception_wins_and_all_are_counted() {
        let exceptions = settings(
            "list:\n  - {rule: mutable-tag, environments: [local], reason: a, expires: 2026-12-31}\n  - {rule: mutable-tag, reason: b, expires: 2026-12-31}",
        );
        let mut found = findings("local", "repo:main");
        let outcome = apply_exceptions(&mut found, &exceptions, date(TODAY));
        let tag = found
            .iter()
            .find(|f| f.rule == RuleId::MutableTag)
            .unwrap_or_else(|| unreachable!());
        assert_eq!(tag.excepted_by, Some(0));
        assert_eq!((outcome.matches(0), outcome.matches(1)), (1, 1));
        assert_eq!(outcome.used().collect::<Vec<_>>(), [0, 1]);
        // The digest-required finding of the same image is not excepted.
        assert!(found
            .iter()
            .any(|f| f.rule == RuleId::DigestRequired && !f.is_excepted()));
    }

    #[test]
    fn outcomes_merge_across_cells() {
        let exceptions = settings(
            "list:\n  - {rule: mutable-tag, environments: [local], reason: a, expires: 2026-12-31}\n  - {rule: mutable-tag, environments: [dev], reason: b, expires: 2026-12-31}",
        );
        let mut total = ExceptionOutcome::default();
        for env in ["local", "dev", "dev"] {
            let mut found = findings(env, "repo:main");
            total.merge(&apply_exceptions(&mut found, &exceptions, date(TODAY)));
        }
        assert_eq!((total.matches(0), total.matches(1)), (1, 2));
        assert_eq!(total.matches(7), 0);
    }

    fn hygiene(yaml: &str, outcome: &ExceptionOutcome, scope: RunScope) -> Vec<Finding> {
        let mut exceptions = settings(yaml);
        for (i, e) in exceptions.list.iter_mut().enumerate() {
            e.line = Some(10 + i as u32);
        }
        exception_hygiene(
            &exceptions,
            outcome,
            scope,
            date(TODAY),
            &PolicySettings::default(),
        )
    }

    fn rules(findings: &[Finding]) -> Vec<(&'static str, Option<u32>)> {
        findings
            .iter()
            .map(|f| (f.rule.as_str(), f.config_line))
            .collect()
    }

    #[test]
    fn expired_exception_is_an_error_with_its_line() {
        let found = hygiene(
            "list: [{rule: mutable-tag, reason: 'inner loop; PLAT-123', expires: 2026-05-30}]",
            &ExceptionOutcome::default(),
            RunScope::Full,
        );
        assert_eq!(rules(&found), [("exception-expired", Some(10))]);
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(found[0].field.as_deref(), Some("exceptions.list[0]"));
        assert_eq!(
            found[0].message,
            "the exception for `mutable-tag` at exceptions.list[0] (\"inner loop; PLAT-123\") expired on \
             2026-05-30 (2 days ago); fix what it covered and delete it, or renew it with a later `expires`"
        );
    }

    #[test]
    fn expiry_day_itself_is_still_valid() {
        let found = hygiene(
            "list: [{rule: mutable-tag, reason: r, expires: 2026-06-01}]",
            &ExceptionOutcome { matches: vec![1] },
            RunScope::Full,
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn unused_only_in_a_full_run() {
        let yaml = "list: [{rule: mutable-tag, reason: r, expires: 2026-12-31}]";
        let unused = ExceptionOutcome { matches: vec![0] };
        let found = hygiene(yaml, &unused, RunScope::Full);
        assert_eq!(rules(&found), [("exception-unused", Some(10))]);
        assert_eq!(found[0].severity, Severity::Warning);
        let dev = [("dev".to_string(), "dev-web".to_string())];
        assert!(hygiene(yaml, &unused, RunScope::Narrowed(&dev)).is_empty());
        assert!(hygiene(yaml, &ExceptionOutcome { matches: vec![3] }, RunScope::Full).is_empty());
    }

    #[test]
    fn lifetime_and_forbidden_environments() {
        let found = hygiene(
            "maxLifetimeDays: 90\nforbiddenEnvironments: [staging, production]\nlist:\n  \
             - {rule: digest-required, environments: [dev, production], reason: r, expires: 2026-08-30}\n  \
             - {rule: digest-required, environments: [dev], reason: r, expires: 2026-08-31}",
            &ExceptionOutcome { matches: vec![1, 1] },
            RunScope::Full,
        );
        assert_eq!(
            rules(&found),
            [
                ("exception-invalid", Some(10)),
                ("exception-invalid", Some(11))
            ]
        );
        assert_eq!(
            found[0].message,
            "the exception for `digest-required` at exceptions.list[0] names the forbidden environment \
             `production`, where no exception applies; remove it from its `environments` and fix the findings there"
        );
        assert_eq!(
            found[1].message,
            "the exception for `digest-required` at exceptions.list[1] expires on 2026-08-31, more than \
             maxLifetimeDays (90) from today; set `expires` to 2026-08-30 or earlier"
        );
    }

    #[test]
    fn exception_in_forbidden_environment_excepts_nothing_there() {
        let exceptions = settings(
            "forbiddenEnvironments: [production]\nlist: [{rule: digest-required, environments: [dev, production], reason: r, expires: 2026-12-31}]",
        );
        let mut prod = findings("production", "nginx");
        let outcome = apply_exceptions(&mut prod, &exceptions, date(TODAY));
        assert!(prod.iter().all(|f| !f.is_excepted()));
        assert!(!outcome.is_used(0));
        let mut dev = findings("dev", "nginx");
        apply_exceptions(&mut dev, &exceptions, date(TODAY));
        assert!(dev
            .iter()
            .any(|f| f.rule == RuleId::DigestRequired && f.excepted_by == Some(0)));
    }

    #[test]
    fn hygiene_severity_follows_settings() {
        let settings_yaml = "severity: { exception-unused: off, exception-expired: warning }";
        let policy: PolicySettings =
            imagegate_yaml::from_str(settings_yaml, &imagegate_yaml::Limits::default())
                .unwrap_or_else(|e| panic!("{e}"));
        let exceptions = settings(
            "list:\n  - {rule: mutable-tag, reason: r, expires: 2020-01-01}\n  - {rule: mutable-tag, reason: r, expires: 2030-01-01}",
        );
        let found = exception_hygiene(
            &exceptions,
            &ExceptionOutcome::default(),
            RunScope::Full,
            date(TODAY),
            &policy,
        );
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].rule.as_str(), found[0].severity),
            ("exception-expired", Severity::Warning)
        );
    }

    #[test]
    fn a_narrowed_run_judges_only_the_exceptions_of_its_selection() {
        let yaml = "list: [\
            {rule: mutable-tag, environments: [staging], reason: r, expires: 2026-01-01},\
            {rule: mutable-tag, apps: ['dev-w*'], reason: r, expires: 2026-01-01},\
            {rule: mutable-tag, reason: r, expires: 2026-01-01},\
            {rule: mutable-tag, environments: [dev], apps: [dev-api], reason: r, expires: 2026-01-01}]";
        let none = ExceptionOutcome::default();
        let dev_web = [("dev".to_string(), "dev-web".to_string())];
        // Expired everywhere, but only the ones that could apply to dev/dev-web concern it.
        assert_eq!(
            rules(&hygiene(yaml, &none, RunScope::Narrowed(&dev_web))),
            [
                ("exception-expired", Some(11)),
                ("exception-expired", Some(12))
            ]
        );
        assert_eq!(hygiene(yaml, &none, RunScope::Full).len(), 4);
        assert!(hygiene(yaml, &none, RunScope::Narrowed(&[])).is_empty());
    }
}
