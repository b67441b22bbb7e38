//! Where output goes, and making chart-controlled text safe for a terminal.

use crate::cli::OutputArgs;
use crate::Fatal;
use std::io::IsTerminal;
use std::io::Write;

/// Stdout, locked and buffered.
pub fn stdout() -> impl Write {
    std::io::BufWriter::new(std::io::stdout().lock())
}

/// Replaces terminal control characters (ESC and other C0/C1 controls, DEL) except newline and
/// tab with a visible escape, so text from charts cannot drive the user's terminal.
pub fn sanitize_terminal(s: &str) -> String {
    if !s.chars().any(is_control) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn is_control(c: char) -> bool {
    c != '\n' && c != '\t' && (c.is_control())
}

use imagegate_report::{
    Format, FormatOptions, Report, RuleMeta, Severity as ReportSeverity, TextOptions,
};

/// Rule metadata for the formats that describe rules, from the policy registry.
pub fn rule_meta() -> Vec<RuleMeta> {
    imagegate_policy::registry::rules()
        .iter()
        .map(|r| {
            let sev = match r.default_severity {
                imagegate_policy::Severity::Error => ReportSeverity::Error,
                imagegate_policy::Severity::Warning => ReportSeverity::Warning,
            };
            RuleMeta::new(r.id, r.summary, r.doc, sev).with_help_uri(format!(
                "https://github.com/imagegate/imagegate/blob/main/docs/rules/{}.md",
                r.id
            ))
        })
        .collect()
}

/// `--format F` and every `--output [FORMAT=]FILE`, for any format type: an output whose part
/// before `=` names no format is a file name in the `--format` format.
pub fn parse_output_specs<F>(
    format: &str,
    outputs: &[String],
) -> Result<(F, Vec<(F, std::path::PathBuf)>), Fatal>
where
    F: std::str::FromStr + Copy,
    F::Err: std::fmt::Display,
{
    let stdout: F = format
        .parse()
        .map_err(|e| Fatal(format!("--format: {e}")))?;
    let mut files = Vec::new();
    for o in outputs {
        let (format, path) = match o.split_once('=').map(|(f, p)| (f.parse::<F>(), p)) {
            Some((Ok(format), p)) => (format, p),
            _ => (stdout, o.as_str()),
        };
        if path.is_empty() {
            return Err(Fatal(format!("--output {o}: no file name")));
        }
        files.push((format, std::path::PathBuf::from(path)));
    }
    Ok((stdout, files))
}

/// Where reports go: stdout in `--format`, plus every `--output [FORMAT=]FILE`.
pub struct Outputs {
    stdout: Format,
    files: Vec<(Format, std::path::PathBuf)>,
    quiet: bool,
}

impl Outputs {
    /// Parses `--format` and `--output` (usage errors are exit 2).
    pub fn parse(args: &OutputArgs) -> Result<Self, Fatal> {
        let (stdout, files) = parse_output_specs::<Format>(&args.format, &args.output)?;
        Ok(Self {
            stdout,
            files,
            quiet: args.quiet,
        })
    }

    /// Writes the report everywhere it was asked for.
    pub fn emit(&self, report: &Report) -> anyhow::Result<()> {
        self.emit_files(report)?;
        let rules = rule_meta();
        let color = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let opts = FormatOptions {
            text: TextOptions {
                color,
                quiet: self.quiet,
            },
            rules: &rules,
        };
        let mut out = stdout();
        self.stdout.renderer(&opts).render(report, &mut out)?;
        out.flush()?;
        Ok(())
    }

    /// Writes the report to every `--output` file only (nothing on stdout).
    pub fn emit_files(&self, report: &Report) -> anyhow::Result<()> {
        let rules = rule_meta();
        for (format, path) in &self.files {
            let opts = FormatOptions {
                text: TextOptions {
                    color: false,
                    quiet: self.quiet,
                },
                rules: &rules,
            };
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .map_err(|e| Fatal(format!("cannot write {}: {e}", path.display())))?,
            );
            format.renderer(&opts).render(report, &mut f)?;
            f.flush()?;
        }
        Ok(())
    }
}

/// The day exceptions are judged against: `IMAGEGATE_TODAY` (YYYY-MM-DD, for reproducible runs),
/// else today's local date.
pub fn today() -> Result<chrono::NaiveDate, Fatal> {
    match std::env::var("IMAGEGATE_TODAY") {
        Ok(s) if !s.is_empty() => chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map_err(|e| Fatal(format!("IMAGEGATE_TODAY={s}: {e} (expected YYYY-MM-DD)"))),
        _ => Ok(chrono::Local::now().date_naive()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(
            super::sanitize_terminal("a\u{1b}[31mb\n"),
            "a\\u{1b}[31mb\n"
        );
        assert_eq!(super::sanitize_terminal("plain"), "plain");
    }
}
