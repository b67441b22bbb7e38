//! `imagegate explain`: a rule's documentation.

use crate::cli::ExplainArgs;
use crate::output::stdout;
use crate::Fatal;
use anyhow::Result;
use std::io::Write;

pub fn run(args: ExplainArgs) -> Result<u8> {
    let mut out = stdout();
    match args.rule {
        None => {
            let width = imagegate_policy::registry::rules()
                .iter()
                .map(|r| r.id.as_str().len())
                .max()
                .unwrap_or(0);
            for r in imagegate_policy::registry::rules() {
                let sev = match r.default_severity {
                    imagegate_policy::Severity::Error => "error",
                    imagegate_policy::Severity::Warning => "warning",
                };
                writeln!(out, "{:width$}  {:7}  {}", r.id, sev, r.summary)?;
            }
        }
        Some(id) => {
            let rule = id
                .parse::<imagegate_policy::RuleId>()
                .map_err(|e| {
                    let close = e
                        .closest
                        .map(|r| format!(" (did you mean `{r}`?)"))
                        .unwrap_or_default();
                    Fatal(format!(
                        "no rule `{id}`{close}; `imagegate explain` lists them"
                    ))
                })?
                .info();
            writeln!(out, "# {}\n", rule.id)?;
            write!(out, "{}", rule.doc)?;
        }
    }
    out.flush()?;
    Ok(0)
}
