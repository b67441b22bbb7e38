//! Where output goes, and making chart-controlled text safe for a terminal.

use crate::cli::OutputArgs;
use crate::Fatal;
use std::io::IsTerminal;
use std::io::Write;
use std::path::Path;

/// Stdout, locked and buffered; a reader that went away (`imagegate check | head -1`) ends the
/// output quietly (see [`Unpiped`]).
pub fn stdout() -> impl Write {
    std::io::BufWriter::new(Unpiped::new(std::io::stdout().lock()))
}

/// A writer that takes a broken pipe as the reader's choice to stop reading: the rest of the
/// output is dropped, without an error, so the command ends with its own exit status and no
/// message, as `grep … | head -1` does. The Rust runtime ignores SIGPIPE, so without this every
/// write after `head` exits fails with "Broken pipe" and the run would end with exit 2.
pub struct Unpiped<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> Unpiped<W> {
    /// `inner`, made quiet on a broken pipe.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            closed: false,
        }
    }
}

impl<W: Write> Write for Unpiped<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// Fails when imagegate was started with standard output closed. The Rust runtime reopens a
/// closed standard descriptor on `/dev/null` before `main`, so the report would be written
/// nowhere and the run would still exit 0 or 1: a verdict nobody can read must not look like
/// one. Standard output sent to `/dev/null` on purpose (a shell's `> /dev/null`, Python's
/// `subprocess.DEVNULL`, which opens it read-write) is a choice, and is left alone.
pub fn require_stdout() -> Result<(), crate::Fatal> {
    if STDOUT_CLOSED_AT_START.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(crate::Fatal(
            "standard output is closed: the report would be lost\n  hint: redirect it to a file or /dev/null, or write the reports with --output FORMAT=FILE".into(),
        ));
    }
    Ok(())
}

/// Set before the Rust runtime starts when descriptor 1 was not open.
static STDOUT_CLOSED_AT_START: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Runs from `.init_array`, before the Rust runtime reopens closed standard descriptors on
/// `/dev/null` (it does so in `main`'s start-up, after every constructor): only then can a
/// closed stdout be told from one sent to `/dev/null` on purpose. Without `/proc` nothing is
/// known and nothing is set.
extern "C" fn note_a_closed_stdout() {
    let fds = Path::new("/proc/self/fd");
    if fds.is_dir()
        && std::fs::symlink_metadata(fds.join("1"))
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    {
        STDOUT_CLOSED_AT_START.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

// SAFETY: a function pointer in `.init_array` is called once by the C runtime before `main`,
// with no arguments it reads; the function only stats a path and stores an atomic.
#[allow(unsafe_code)]
#[used]
#[link_section = ".init_array"]
static NOTE_A_CLOSED_STDOUT: extern "C" fn() = note_a_closed_stdout;

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

use imagegate_report::format::{extension_of, format_of_extension, FORMAT_NAMES};
use imagegate_report::{Format, FormatOptions, Report, TextOptions};

pub use imagegate_engine::convert::rule_meta;
pub use imagegate_engine::git::checkout_prefix;

/// `--format F` and every `--output [FORMAT=]FILE`, for any format type:
/// - `FORMAT=FILE` writes FILE in FORMAT; a `FORMAT` that looks like a format name but is none
///   (`foo=bar`) is an error naming the formats, never a file called `foo=bar`;
/// - `FILE` alone is written in the format its extension names (`.sarif`, `.json`, `.xml` for
///   JUnit, `.md`, `.txt`), else in the `--format` format;
/// - a bare format name (`--output sarif`) is an error: it names no file.
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
        let (format, path) = match o.split_once('=') {
            Some((name, path)) if looks_like_format_name(name) => match name.parse::<F>() {
                Ok(format) => (format, path),
                Err(e) => {
                    return Err(Fatal(format!(
                        "--output {o}: {e}{}\n  hint: write --output FORMAT=FILE, or a file name alone to use its extension's format",
                        suggestion(name)
                    )))
                }
            },
            _ => {
                if looks_like_format_name(o) && o.parse::<F>().is_ok() {
                    return Err(Fatal(format!(
                        "--output {o}: `{o}` is a format, not a file\n  hint: write --output {o}=FILE (for example --output {o}=imagegate.{ext})",
                        ext = extension_of(o)
                    )));
                }
                let inferred = format_of_extension(o).and_then(|n| n.parse::<F>().ok());
                (inferred.unwrap_or(stdout), o.as_str())
            }
        };
        if path.is_empty() {
            return Err(Fatal(format!("--output {o}: no file name")));
        }
        files.push((format, std::path::PathBuf::from(path)));
    }
    Ok((stdout, files))
}

/// A word that could only be meant as a format name: letters only, short.
fn looks_like_format_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphabetic())
}

/// ` (did you mean `sarif`?)` for a name close to a known format.
fn suggestion(name: &str) -> String {
    imagegate_fleet::closest(name, &FORMAT_NAMES)
        .map(|f| format!(" (did you mean `{f}`?)"))
        .unwrap_or_default()
}

/// Where reports go: stdout in `--format`, plus every `--output [FORMAT=]FILE`.
pub struct Outputs {
    stdout: Format,
    files: Vec<(Format, std::path::PathBuf)>,
    quiet: bool,
    color: imagegate_report::ColorChoice,
    rules: imagegate_engine::rule_filter::RuleFilter,
    warnings_as_errors: bool,
    path_prefix: String,
}

impl Outputs {
    /// Parses `--format`, `--output`, `--rule` and `--skip-rule` (usage errors are exit 2).
    pub fn parse(args: &OutputArgs) -> Result<Self, Fatal> {
        let (stdout, files) = parse_output_specs::<Format>(&args.format, &args.output)?;
        Ok(Self {
            stdout,
            files,
            quiet: args.quiet,
            color: args.color.into(),
            rules: imagegate_engine::rule_filter::RuleFilter::new(&args.rules, &args.skip_rules)?,
            warnings_as_errors: args.warnings_as_errors,
            path_prefix: String::new(),
        })
    }

    /// The report as the flags ask for it: only the `--rule`/`--skip-rule` findings, judged
    /// with `--warnings-as-errors`. Its `exit_code` is the run's.
    pub fn prepare(&self, report: Report) -> Report {
        self.rules.apply(report.judged(self.warnings_as_errors))
    }

    /// The run's exit status for a [`prepare`](Self::prepare)d report.
    pub fn exit_code(&self, report: &Report) -> u8 {
        report.exit_code(self.warnings_as_errors) as u8
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
        let color = self.color.enabled(std::io::stdout().is_terminal(), |name| {
            std::env::var_os(name)
        });
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

pub use imagegate_engine::today;

/// Writes `text` line by line, each made safe for a terminal (a values file's text is not
/// trusted).
pub fn write_lines(out: &mut impl std::io::Write, text: &str) -> std::io::Result<()> {
    for line in text.lines() {
        writeln!(out, "{}", sanitize_terminal(line))?;
    }
    Ok(())
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

    #[test]
    fn output_specs_infer_refuse_and_suggest() {
        use imagegate_report::Format;
        let parse = |outputs: &[&str]| {
            let outputs: Vec<String> = outputs.iter().map(|s| s.to_string()).collect();
            super::parse_output_specs::<Format>("text", &outputs)
        };
        let (stdout, files) = parse(&[
            "r.sarif",
            "out/report.JSON",
            "junit.xml",
            "summary.md",
            "plain",
            "json=x.txt",
            "./dir=1/a.sarif",
        ])
        .unwrap();
        assert_eq!(stdout, Format::Text);
        let formats: Vec<Format> = files.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            formats,
            [
                Format::Sarif,
                Format::Json,
                Format::Junit,
                Format::Markdown,
                Format::Text,
                Format::Json,
                Format::Sarif
            ]
        );
        assert_eq!(files[6].1, std::path::PathBuf::from("./dir=1/a.sarif"));
        let err = parse(&["sarif"]).unwrap_err().0;
        assert!(
            err.contains("is a format, not a file") && err.contains("sarif=imagegate.sarif"),
            "{err}"
        );
        let err = parse(&["sarfi=out.sarif"]).unwrap_err().0;
        assert!(err.contains("did you mean `sarif`"), "{err}");
        let err = parse(&["foo=bar"]).unwrap_err().0;
        assert!(
            err.contains("--output foo=bar") && !err.contains("did you mean"),
            "{err}"
        );
        assert!(parse(&["json="]).unwrap_err().0.contains("no file name"));
    }
}
