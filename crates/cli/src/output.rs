//! Where output goes, and making chart-controlled text safe for a terminal.

use crate::cli::OutputArgs;
use crate::Fatal;
use std::io::IsTerminal;
use std::io::Write;
use std::path::Path;

/// Stdout, locked and buffered.
pub fn stdout() -> impl Write {
    std::io::BufWriter::new(std::io::stdout().lock())
}

/// Fails when imagegate was started with standard output closed. The Rust runtime reopens a
/// closed standard descriptor on `/dev/null` (read-write) before `main`, so the report would be
/// written nowhere and the run would still exit 0 or 1: a verdict nobody can read must not look
/// like one. A shell's `> /dev/null` opens it write-only, which is a choice, and is left alone.
pub fn require_stdout() -> Result<(), crate::Fatal> {
    if stdout_was_closed() {
        return Err(crate::Fatal(
            "standard output is closed: the report would be lost\n  hint: redirect it to a file or /dev/null, or write the reports with --output FORMAT=FILE".into(),
        ));
    }
    Ok(())
}

/// Linux: fd 1 is `/dev/null` opened read-write (what the runtime does for a closed fd).
fn stdout_was_closed() -> bool {
    let is_null = std::fs::read_link("/proc/self/fd/1").is_ok_and(|p| p == Path::new("/dev/null"));
    if !is_null {
        return false;
    }
    let Ok(info) = std::fs::read_to_string("/proc/self/fdinfo/1") else {
        return false;
    };
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .is_some_and(|flags| flags & 0o3 == 0o2)
}

/// A one-line field from the repository, made safe for a terminal line: controls, newlines and
/// bidirectional overrides shown as visible escapes (the report formats' own escaper).
pub fn sanitize_terminal(s: &str) -> String {
    imagegate_report::terminal_line(s)
}

/// A message for stderr: its lines kept, controls and bidirectional overrides escaped, and no
/// line able to start a CI workflow command (`::error …`).
pub fn sanitize_stderr(s: &str) -> String {
    imagegate_report::terminal_block(s)
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
    path_prefix: String,
}

/// Where `dir` (a real path) sits inside its checkout: its path relative to the nearest folder
/// at or above it that holds `.git`, `/`-separated; empty at the root or outside any checkout.
/// SARIF and annotations resolve paths from the checkout's root, the report's are relative to
/// the configuration's folder.
pub fn checkout_prefix(dir: &Path) -> String {
    dir.ancestors()
        .find(|a| a.join(".git").symlink_metadata().is_ok())
        .and_then(|root| dir.strip_prefix(root).ok())
        .and_then(Path::to_str)
        .unwrap_or_default()
        .replace('\\', "/")
}

impl Outputs {
    /// Parses `--format` and `--output` (usage errors are exit 2).
    pub fn parse(args: &OutputArgs) -> Result<Self, Fatal> {
        let (stdout, files) = parse_output_specs::<Format>(&args.format, &args.output)?;
        Ok(Self {
            stdout,
            files,
            quiet: args.quiet,
            path_prefix: String::new(),
        })
    }

    /// The report's paths are relative to `dir` (the configuration's folder, or the current one
    /// for `scan`): SARIF and annotations name them from the checkout's root.
    pub fn relative_to(mut self, dir: &Path) -> Self {
        self.path_prefix = checkout_prefix(dir);
        self
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
            path_prefix: &self.path_prefix,
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
                path_prefix: &self.path_prefix,
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
        assert_eq!(super::sanitize_terminal("a\u{1b}[31mb\n"), "a\\x1b[31mb\\n");
        assert_eq!(super::sanitize_terminal("plain"), "plain");
        assert_eq!(
            super::sanitize_stderr("bad `x\n::error::forged`\n  hint: fix"),
            "bad `x\n\\x3a:error::forged`\n  hint: fix"
        );
    }
}
