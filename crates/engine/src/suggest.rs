//! `imagegate exceptions suggest`: exception stubs for the findings of a run, in the syntax of
//! `exceptions.list`.
//!
//! A stub is a start, not an exception: its `reason` is empty, which the configuration refuses
//! (an exception needs a reason), so nothing is excepted until a person writes why the finding is
//! acceptable and where its fix is tracked. Its `expires` is at most `maxLifetimeDays` away.
//! Each stub is as narrow as the finding: its rule, environment, app, object and image
//! repository, so it covers that finding and nothing the next change brings.
//!
//! The YAML is written by hand: the shape is fixed and carries comments, which no serializer in
//! the workspace writes; every value is a JSON string with controls escaped, which YAML reads as
//! the same string.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{Days, NaiveDate};
use imagegate_policy::registry::RuleId;
use imagegate_policy::{ExceptionSettings, ImageRef};
use imagegate_report::Report;

use crate::Fatal;

/// How long a stub lasts when the configuration sets no `maxLifetimeDays` and `--days` is not
/// given: long enough to plan a fix, short enough to be seen again.
pub const DEFAULT_DAYS: u32 = 30;

/// One suggested exception: what it covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Stub {
    rule: String,
    environment: String,
    app: String,
    object: Option<String>,
    image: Option<String>,
}

/// What [`suggest`] made of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The stubs as YAML (`exceptions:` / `list:`), with a header comment; empty when no
    /// finding calls for one.
    pub yaml: String,
    /// Number of stubs.
    pub stubs: usize,
    /// The day every stub expires.
    pub expires: NaiveDate,
    /// Failing findings no exception can cover (a failed render, an unreadable manifest,
    /// exception hygiene, a repository-level finding, a forbidden environment): fix those.
    pub left_out: usize,
}

/// The lifetime of the stubs: `days`, else [`DEFAULT_DAYS`] (or `maxLifetimeDays` when that is
/// shorter); never more than `maxLifetimeDays`.
pub fn lifetime(days: Option<u32>, settings: &ExceptionSettings) -> Result<u32, Fatal> {
    let max = settings.max_lifetime_days;
    match (days, max) {
        (Some(0), _) => Err(Fatal("--days 0: an exception lasts at least a day".into())),
        (Some(d), Some(m)) if d > m => Err(Fatal(format!(
            "--days {d}: more than exceptions.maxLifetimeDays ({m}) of the configuration\n  hint: pass --days {m} or less"
        ))),
        (Some(d), _) => Ok(d),
        (None, Some(m)) => Ok(m.clamp(1, DEFAULT_DAYS)),
        (None, None) => Ok(DEFAULT_DAYS),
    }
}

/// Stubs for every failing finding of `report` an exception may cover, expiring `days` after
/// `today`. `warnings_as_errors`: whether warnings fail the run (and so get stubs too).
pub fn suggest(
    report: &Report,
    settings: &ExceptionSettings,
    today: NaiveDate,
    days: u32,
    warnings_as_errors: bool,
) -> Suggestion {
    let expires = today
        .checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(today);
    let mut stubs = BTreeSet::new();
    let mut left_out = 0;
    for f in report
        .findings
        .iter()
        .filter(|f| f.is_failing(warnings_as_errors))
    {
        let exceptable = f
            .rule
            .parse::<RuleId>()
            .is_ok_and(|r| !r.is_fail_closed() && !r.is_exception_hygiene());
        let in_cell = !f.environment.is_empty() && !f.app.is_empty();
        let forbidden = settings.forbidden_environments.contains(&f.environment);
        if !exceptable || !in_cell || forbidden {
            left_out += 1;
            continue;
        }
        stubs.insert(Stub {
            rule: f.rule.clone(),
            environment: f.environment.clone(),
            app: f.app.clone(),
            object: f.object.as_ref().map(|o| format!("{}/{}", o.kind, o.name)),
            // Exceptions name repositories, not tags or digests.
            image: f.image.as_deref().map(|i| {
                ImageRef::parse(i)
                    .map(|r| r.repository().to_owned())
                    .unwrap_or_else(|_| i.to_owned())
            }),
        });
    }
    let yaml = if stubs.is_empty() {
        String::new()
    } else {
        render(&stubs, expires, days, settings.max_lifetime_days)
    };
    Suggestion {
        yaml,
        stubs: stubs.len(),
        expires,
        left_out,
    }
}

fn render(stubs: &BTreeSet<Stub>, expires: NaiveDate, days: u32, max: Option<u32>) -> String {
    // Names and images come from rendered manifests: no control or bidi character reaches the
    // terminal raw.
    let q = imagegate_report::inert_string;
    let cap = max.map_or_else(String::new, |m| {
        format!("; exceptions.maxLifetimeDays is {m}")
    });
    let mut out = format!(
        "# {n} exception stub{s}, expiring {expires} (in {days} days{cap}).\n\
         # Each `reason` is empty on purpose: imagegate refuses the configuration until every\n\
         # reason says why the finding is acceptable and where its fix is tracked. Add the entries\n\
         # you mean to keep under `exceptions.list` of the configuration; fix the others instead.\n\
         exceptions:\n  list:\n",
        n = stubs.len(),
        s = if stubs.len() == 1 { "" } else { "s" },
    );
    for stub in stubs {
        let _ = writeln!(out, "    - rule: {}", stub.rule);
        let _ = writeln!(out, "      environments: [{}]", q(&stub.environment));
        let _ = writeln!(out, "      apps: [{}]", q(&stub.app));
        if let Some(object) = &stub.object {
            let _ = writeln!(out, "      objects: [{}]", q(object));
        }
        if let Some(image) = &stub.image {
            let _ = writeln!(out, "      images: [{}]", q(image));
        }
        let _ = writeln!(
            out,
            "      reason: \"\"  # required: why it is acceptable, and where the fix is tracked"
        );
        let _ = writeln!(out, "      expires: {expires}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use imagegate_report::{Generator, ObjectRef, ReportFinding, Severity};

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn settings(yaml: &str) -> ExceptionSettings {
        imagegate_yaml::from_str(yaml, &imagegate_yaml::Limits::default()).unwrap()
    }

    fn report() -> Report {
        let mut tag =
            ReportFinding::new("mutable-tag", Severity::Error, "m", "dev", "dev-web", "c");
        tag.object = Some(ObjectRef::new("apps/v1", "Deployment", None, "web"));
        tag.image = Some(format!("ghcr.io/acme/web:main@sha256:{}", "a".repeat(64)));
        let mut same_again = tag.clone();
        same_again.container = Some("sidecar".into());
        let mut excepted = tag.clone();
        excepted.environment = "staging".into();
        excepted.excepted = true;
        let warning = ReportFinding::new(
            "pull-policy-missing",
            Severity::Warning,
            "m",
            "dev",
            "dev-web",
            "c",
        );
        let prod = ReportFinding::new("digest-required", Severity::Error, "m", "prod", "web", "c");
        let failed = ReportFinding::new("render-failed", Severity::Error, "m", "dev", "api", "c");
        let unused = ReportFinding::new("values-file-unused", Severity::Warning, "m", "", "", "");
        Report::new(
            Generator::new("imagegate", "0"),
            vec![tag, same_again, excepted, warning, prod, failed, unused],
            vec![],
        )
    }

    #[test]
    fn stubs_cover_failing_findings_narrowly_with_an_empty_reason() {
        let s = settings("forbiddenEnvironments: [prod]\nmaxLifetimeDays: 60");
        let out = suggest(&report(), &s, day("2026-11-23"), 14, false);
        // One stub for the two mutable-tag findings of one object and image; none for the
        // excepted one, the warning (not failing), prod (forbidden) or render-failed.
        assert_eq!(out.stubs, 1, "{}", out.yaml);
        assert_eq!(out.left_out, 2);
        assert_eq!(out.expires, day("2026-12-07"));
        assert!(out.yaml.contains(
            "    - rule: mutable-tag\n      environments: [\"dev\"]\n      apps: [\"dev-web\"]\n      objects: [\"Deployment/web\"]\n      images: [\"ghcr.io/acme/web\"]\n      reason: \"\"  # required"
        ), "{}", out.yaml);
        assert!(out.yaml.contains("      expires: 2026-12-07\n"));
        // With warnings failing, the warning gets a stub too.
        let out = suggest(&report(), &s, day("2026-11-23"), 14, true);
        assert_eq!(out.stubs, 2);
        assert_eq!(out.left_out, 3);
    }

    #[test]
    fn the_stubs_are_the_configurations_syntax_and_refused_until_a_reason_is_written() {
        let out = suggest(
            &report(),
            &ExceptionSettings::default(),
            day("2026-11-23"),
            30,
            false,
        );
        let section = out.yaml.replace("exceptions:\n", "").replace("\n  ", "\n");
        let section = section.trim_start_matches("  ");
        let err = imagegate_yaml::from_str::<ExceptionSettings>(
            section,
            &imagegate_yaml::Limits::default(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("non-empty `reason`"), "{err}\n{section}");
        let filled = section.replace("reason: \"\"", "reason: \"PLAT-9: pinned next sprint\"");
        let parsed: ExceptionSettings =
            imagegate_yaml::from_str(&filled, &imagegate_yaml::Limits::default()).unwrap();
        assert_eq!(parsed.list.len(), 2);
        assert_eq!(parsed.list[0].expires, day("2026-12-23"));
    }

    #[test]
    fn the_lifetime_never_exceeds_max_lifetime_days() {
        let capped = settings("maxLifetimeDays: 14");
        assert_eq!(lifetime(None, &capped).unwrap(), 14);
        assert_eq!(lifetime(Some(7), &capped).unwrap(), 7);
        let err = lifetime(Some(30), &capped).unwrap_err().0;
        assert!(err.contains("maxLifetimeDays (14)"), "{err}");
        assert_eq!(
            lifetime(None, &ExceptionSettings::default()).unwrap(),
            DEFAULT_DAYS
        );
        assert!(lifetime(Some(0), &ExceptionSettings::default()).is_err());
    }

    #[test]
    fn chart_text_reaches_the_terminal_escaped_and_reads_back_unchanged() {
        let mut f = ReportFinding::new("mutable-tag", Severity::Error, "m", "dev", "web", "c");
        f.image = Some("evil\u{202e}:latest\u{9b}2J".into());
        let r = Report::new(Generator::new("imagegate", "0"), vec![f], vec![]);
        let out = suggest(
            &r,
            &ExceptionSettings::default(),
            day("2026-11-23"),
            30,
            false,
        );
        assert!(!out.yaml.contains('\u{202e}') && !out.yaml.contains('\u{9b}'));
        assert!(
            out.yaml
                .contains(r#"images: ["evil\u202e:latest\u009b2J"]"#),
            "{}",
            out.yaml
        );
    }

    #[test]
    fn no_failing_finding_no_stub() {
        let r = Report::new(Generator::new("imagegate", "0"), vec![], vec![]);
        let out = suggest(
            &r,
            &ExceptionSettings::default(),
            day("2026-11-23"),
            30,
            false,
        );
        assert_eq!((out.stubs, out.left_out, out.yaml.as_str()), (0, 0, ""));
    }
}
