//! The command line (names are part of the contract; flags may grow).

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// A Helm-render-aware image policy validator for GitOps repositories.
///
/// Renders every chart × environment with real `helm template`, finds every image Kubernetes
/// would receive, judges it against the image policy (digest-pinned, no mutable tags,
/// imagePullPolicy: IfNotPresent), and points at the values file and line to fix.
///
/// Exit status: 0 no error-level finding; 1 error-level findings; 2 usage, configuration or
/// infrastructure error.
#[derive(Debug, Parser)]
#[command(name = "imagegate", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render the whole matrix of imagegate.yaml (or one chart) and judge it.
    Check(CheckArgs),
    /// Judge manifests that are already rendered (files, or - for stdin).
    Scan(ScanArgs),
    /// The inventory: every image per environment, app, object and container.
    Images(ImagesArgs),
    /// The matrix that would be rendered, with each cell's value stack.
    Cells(CellsArgs),
    /// The nightly fleet audit: one full run writing every report format and the image
    /// inventory into a folder, with the trend since a previous audit.
    Audit(AuditArgs),
    /// Combine the reports of `--shard K/N` runs into one report and judge the whole fleet.
    Merge(MergeArgs),
    /// The PR check: render what a change can affect on both sides, show what changed, fail on
    /// new findings.
    Diff(DiffArgs),
    /// Promote by digest: rewrite TARGET's own values lines so that every first-party image it
    /// renders is the exact reference SOURCE renders, then render TARGET again to verify (602).
    Promote(PromoteArgs),
    /// Pin by digest: rewrite the values line of every image with a `digest-required` or
    /// `mutable-tag` finding to the digest its registry serves now (a mutable tag is dropped),
    /// then render again to verify (602).
    Pin(PinArgs),
    /// Print a rule's documentation (or list the rules).
    Explain(ExplainArgs),
    /// Work with the configuration's time-boxed exceptions.
    #[command(subcommand)]
    Exceptions(ExceptionsCommand),
    /// Inspect a GitOps repository and write a commented starting imagegate.yaml.
    Init(InitArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
}

/// Where the configuration is and which part of the matrix to take.
#[derive(Debug, Args, Clone)]
pub struct MatrixArgs {
    /// The configuration file (default: imagegate.yaml in the working folder or the nearest
    /// folder above it, up to the git repository root).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Only these environments (repeatable; globs such as `cluster-*` allowed).
    #[arg(long = "env", value_name = "ENV")]
    pub envs: Vec<String>,
    /// Only these apps (repeatable; app or component name, globs allowed).
    #[arg(long = "app", value_name = "APP")]
    pub apps: Vec<String>,
    /// Leave out the cells ENV/APP (repeatable; globs allowed, for example `local/*`). Each
    /// must match a cell.
    #[arg(long = "skip-cell", value_name = "ENV/APP")]
    pub skip_cells: Vec<String>,
}

impl MatrixArgs {
    /// Whether the selection is the whole matrix.
    pub fn is_whole(&self) -> bool {
        self.envs.is_empty() && self.apps.is_empty() && self.skip_cells.is_empty()
    }
}

/// How helm is found and run.
#[derive(Debug, Args, Clone)]
pub struct HelmArgs {
    /// The helm binary (else $IMAGEGATE_HELM, else helm on PATH).
    #[arg(long, value_name = "PATH")]
    pub helm: Option<PathBuf>,
    /// Renders at once (default: the number of cores).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Seconds one render may take (default: helm.timeoutSeconds of the config, 120).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Report output.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Format on stdout.
    #[arg(long, default_value = "text", value_name = "FORMAT", ignore_case = true,
          value_parser = PossibleValuesParser::new(imagegate_report::Format::ALL.map(|f| f.name())))]
    pub format: String,
    /// Also write a report to a file: FORMAT=FILE, or FILE in the format its extension names
    /// (.sarif, .json, .xml for JUnit, .md, .txt; else --format). Repeatable.
    #[arg(long, short = 'o', value_name = "[FORMAT=]FILE")]
    pub output: Vec<String>,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub warnings_as_errors: bool,
    /// Print nothing but what fails the run: the failing findings on stdout (text format) and
    /// errors on stderr; no summary, no warnings, no progress.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// No progress on stderr (a bar on a terminal, else a line every few seconds).
    #[arg(long)]
    pub no_progress: bool,
    /// Colour in the text format: auto (on a terminal, unless NO_COLOR is set; CLICOLOR_FORCE
    /// forces it), always, never.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Report only the findings of these rules (repeatable). A cell that failed to render is
    /// always reported.
    #[arg(long = "rule", value_name = "RULE")]
    pub rules: Vec<String>,
    /// Leave out the findings of these rules (repeatable).
    #[arg(long = "skip-rule", value_name = "RULE")]
    pub skip_rules: Vec<String>,
}

/// `--color WHEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set (CLICOLOR_FORCE forces it).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl From<Color> for imagegate_report::ColorChoice {
    fn from(c: Color) -> Self {
        match c {
            Color::Auto => Self::Auto,
            Color::Always => Self::Always,
            Color::Never => Self::Never,
        }
    }
}

/// The render cache.
#[derive(Debug, Args, Clone, Default)]
pub struct CacheArgs {
    /// Render cache folder (default: $XDG_CACHE_HOME/imagegate, else ~/.cache/imagegate); never
    /// inside the repository under check.
    #[arg(long, value_name = "DIR", env = "IMAGEGATE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Render every cell with helm: neither read nor write the render cache.
    #[arg(long)]
    pub no_cache: bool,
}

impl HelmArgs {
    /// What these flags set over the configuration's render settings.
    pub fn overrides(&self) -> imagegate_engine::fleet::RenderOverrides {
        imagegate_engine::fleet::RenderOverrides {
            jobs: self.jobs,
            timeout_seconds: self.timeout,
        }
    }
}

impl CacheArgs {
    /// The render cache these flags select.
    pub fn choice(&self) -> imagegate_engine::cache::CacheChoice {
        use imagegate_engine::cache::CacheChoice;
        match (&self.cache_dir, self.no_cache) {
            (_, true) => CacheChoice::Off,
            (Some(d), false) => CacheChoice::At(d.clone()),
            (None, false) => CacheChoice::Default,
        }
    }
}

/// Sharding and promotion history of full-fleet runs.
#[derive(Debug, Args, Clone)]
pub struct FleetArgs {
    /// Render only shard K of N: a deterministic slice of the cells (by a hash of environment
    /// and app), for a CI matrix. Combine the shard reports with `imagegate merge`.
    #[arg(long, value_name = "K/N", conflicts_with_all = ["envs", "apps"])]
    pub shard: Option<String>,
    /// promotion-drift: also accept a digest the upstream environment rendered in one of the last
    /// N commits (first-parent history of HEAD, read from git objects; at most 100).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub history: usize,
}

/// `check --registry`: ask the registries too (opt-in; the default check never opens a
/// connection).
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Also ask each pinned image's registry: the digest exists (registry-digest-missing), the
    /// tag of `repo:tag@sha256:…` still points at it (registry-tag-mismatch), and it covers the
    /// platforms its environment declares (registry-platform-missing). A registry that cannot
    /// be asked fails the run with exit status 2. Credentials: ~/.docker/config.json, and
    /// GHCR_TOKEN or GITHUB_TOKEN for ghcr.io (see docs/security.md).
    #[arg(long)]
    pub registry: bool,
    /// A registry (`host[:port]`) to reach over plain HTTP; loopback registries always are
    /// (repeatable).
    #[arg(long, value_name = "HOST", requires = "registry")]
    pub insecure_registry: Vec<String>,
}

/// `imagegate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub helm: HelmArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Check one chart without a configuration file.
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    pub chart: Option<PathBuf>,
    /// Values files for --chart, in order (repeatable).
    #[arg(short = 'f', long = "values", value_name = "FILE", requires = "chart")]
    pub values: Vec<PathBuf>,
    /// Release name for --chart.
    #[arg(long, requires = "chart", default_value = "release")]
    pub release: String,
    /// Namespace for --chart.
    #[arg(long, requires = "chart", default_value = "default")]
    pub namespace: String,
    /// Kubernetes version for --chart.
    #[arg(long, requires = "chart", default_value = "1.31.0")]
    pub kube_version: String,
}

/// `imagegate diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The base revision (branch, tag or commit) the change is compared against.
    #[arg(long, value_name = "REF")]
    pub base: String,
    /// The head revision (default: the working tree, uncommitted changes included).
    #[arg(long, value_name = "REF")]
    pub head: Option<String>,
    /// The configuration file, in the working tree (default: imagegate.yaml in the working
    /// folder or the nearest folder above it, up to the git repository root); each side reads
    /// its own version of it.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub helm: HelmArgs,
    /// Format on stdout (sarif, github and gitlab: new findings only).
    #[arg(long, default_value = "text", value_name = "FORMAT", ignore_case = true,
          value_parser = PossibleValuesParser::new(imagegate_report::diff::DiffFormat::ALL.map(|f| f.name())))]
    pub format: String,
    /// Also write to a file: FORMAT=FILE, or FILE in the format its extension names (.sarif,
    /// .json, .md, .txt; else --format). Repeatable.
    #[arg(long, short = 'o', value_name = "[FORMAT=]FILE")]
    pub output: Vec<String>,
    /// Fail (exit 1) on any error finding in the affected cells, not only on new ones.
    #[arg(long)]
    pub strict: bool,
    /// Count warnings as errors.
    #[arg(long)]
    pub warnings_as_errors: bool,
    /// No progress on stderr (a bar on a terminal, else a line every few seconds).
    #[arg(long)]
    pub no_progress: bool,
}

/// What the editing commands (`promote`, `pin`) share: the configuration, which apps, how the
/// edits are shown, and helm.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// The configuration file (default: ./imagegate.yaml).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Only these apps (repeatable; app or component name, globs allowed).
    #[arg(long = "app", value_name = "APP")]
    pub apps: Vec<String>,
    /// Print the edits as a unified diff and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the old → new table as Markdown to FILE (a pull request body).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Format on stdout.
    #[arg(long, default_value = "text", value_name = "FORMAT", ignore_case = true,
          value_parser = PossibleValuesParser::new(["text", "json"]))]
    pub format: String,
    /// The helm binary (else $IMAGEGATE_HELM, else helm on PATH).
    #[arg(long, value_name = "PATH")]
    pub helm: Option<PathBuf>,
    /// Renders at once (default: the number of cores).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Seconds one render may take (default: helm.timeoutSeconds of the config, 120).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

/// `imagegate promote`.
///
/// For every first-party image (`promotion.firstParty`) that TARGET renders with another
/// reference than SOURCE for the same component, object, container and repository, the values
/// line that sets it in TARGET (found by a render with markers) is rewritten to SOURCE's
/// reference; a line in a layer other environments read gets an override in TARGET's own values
/// file instead. Then TARGET is rendered again: it must render SOURCE's references and nothing
/// else changed, or every edit is undone. Exit status: 0 promoted or nothing to do; 1 an image
/// could not be promoted, or the edits were undone; 2 bad input.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment whose references are copied (for example `staging`).
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// The environment whose values files are edited (for example `production`).
    #[arg(value_name = "TARGET")]
    pub target: String,
    #[command(flatten)]
    pub edit: EditArgs,
}

/// `imagegate pin`.
///
/// For every image of the environment with a `digest-required` or `mutable-tag` finding (not
/// excepted), its registry is asked which digest the reference points at now, and the values
/// line that sets it (found by a render with markers) is rewritten to `repo@sha256:…` (a mutable
/// tag is dropped) or `repo:<immutable tag>@sha256:…`; a line in a layer other environments read
/// gets an override in the environment's own values file instead. Then the environment is
/// rendered again: it must render the pinned references and nothing else changed, or every edit
/// is undone. Exit status: 0 pinned or nothing to do; 1 an image could not be pinned, or the
/// edits were undone; 2 bad input, or a registry that could not be asked (nothing is edited).
#[derive(Debug, Args)]
pub struct PinArgs {
    /// The environments whose values files are edited (repeatable; default: every environment,
    /// one after another).
    #[arg(long = "env", value_name = "ENV")]
    pub envs: Vec<String>,
    /// A registry (`host[:port]`) to reach over plain HTTP; loopback registries always are
    /// (repeatable).
    #[arg(long, value_name = "HOST")]
    pub insecure_registry: Vec<String>,
    #[command(flatten)]
    pub edit: EditArgs,
}

/// `imagegate scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Rendered manifest files; `-` reads stdin.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// A configuration whose policy and exceptions apply (optional).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Environment name to report (and to match exceptions and severities against).
    #[arg(long = "env", default_value = "scan")]
    pub env: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `imagegate images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub helm: HelmArgs,
    /// Format on stdout.
    #[arg(long, default_value = "text", value_name = "FORMAT", ignore_case = true,
          value_parser = PossibleValuesParser::new(["text", "json", "csv"]))]
    pub format: String,
    /// No progress on stderr (a bar on a terminal, else a line every few seconds).
    #[arg(long)]
    pub no_progress: bool,
}

/// `imagegate audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub helm: HelmArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// The folder to write report.json, report.sarif, junit.xml, codequality.json, summary.md,
    /// images.json, images.csv (and trend.json) into; created when missing.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// A previous audit (its folder, or its report.json with images.json beside it): adds the
    /// findings new and fixed since, and the images whose digest changed.
    #[arg(long, value_name = "PREVIOUS")]
    pub baseline: Option<PathBuf>,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub warnings_as_errors: bool,
    /// No progress on stderr (a bar on a terminal, else a line every few seconds).
    #[arg(long)]
    pub no_progress: bool,
}

/// `imagegate merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The JSON reports of every shard (`check --shard K/N --output json=FILE`, or the
    /// report.json of `audit --shard K/N`).
    #[arg(required = true, value_name = "REPORT.json")]
    pub reports: Vec<PathBuf>,
    /// The configuration the shards ran with (default: imagegate.yaml in the working folder or
    /// the nearest folder above it, up to the git repository root).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Write the audit set into DIR (as `imagegate audit --out`); the inventory is merged from
    /// the images.json beside each shard report.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// With --out: a previous audit to compute the trend against.
    #[arg(long, value_name = "PREVIOUS", requires = "out")]
    pub baseline: Option<PathBuf>,
    /// promotion-drift: also search the last N commits on the upstream side (renders with helm).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub history: usize,
    /// The helm binary for --history (else $IMAGEGATE_HELM, else helm on PATH).
    #[arg(long, value_name = "PATH")]
    pub helm: Option<PathBuf>,
}

/// `imagegate cells`.
#[derive(Debug, Args)]
pub struct CellsArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// Format on stdout.
    #[arg(long, default_value = "text", value_name = "FORMAT", ignore_case = true,
          value_parser = PossibleValuesParser::new(["text", "json"]))]
    pub format: String,
}

/// `imagegate explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The rule id (omit to list every rule).
    pub rule: Option<String>,
}

/// `imagegate exceptions …`.
#[derive(Debug, Subcommand)]
pub enum ExceptionsCommand {
    /// Run the check and print exception stubs for its failing findings, in the syntax of
    /// `exceptions.list`: each as narrow as its finding, expiring within maxLifetimeDays, with an
    /// empty `reason` that keeps the configuration invalid until a person writes one.
    Suggest(SuggestArgs),
}

/// `imagegate exceptions suggest`.
#[derive(Debug, Args)]
pub struct SuggestArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub helm: HelmArgs,
    /// Days until the stubs expire (default: 30, or exceptions.maxLifetimeDays when shorter; never
    /// more than maxLifetimeDays).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub days: Option<u32>,
    /// Suggest stubs for failing warnings too.
    #[arg(long)]
    pub warnings_as_errors: bool,
    /// No progress on stderr (a bar on a terminal, else a line every few seconds).
    #[arg(long)]
    pub no_progress: bool,
}

/// `imagegate init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The repository root to inspect and write imagegate.yaml into (default: the current folder).
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Replace an existing imagegate.yaml.
    #[arg(long)]
    pub force: bool,
    /// Print the proposed configuration instead of writing it.
    #[arg(long, conflicts_with = "force")]
    pub stdout: bool,
    /// Write nothing: compare the existing imagegate.yaml's cells with what the repository's
    /// Argo CD manifests generate, and list every cell that differs (exit 1 on drift, 0 when
    /// they agree, 2 on error). The drift check a repository runs in CI.
    #[arg(long, conflicts_with_all = ["force", "stdout"])]
    pub check: bool,
    /// The helm that evaluates `goTemplate` ApplicationSets (else $IMAGEGATE_HELM, else helm
    /// on PATH); looked for only when the manifests need it.
    #[arg(long, value_name = "PATH")]
    pub helm: Option<PathBuf>,
}

/// `imagegate completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    fn script(shell: clap_complete::Shell) -> String {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "imagegate", &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn format_and_color_values_complete_in_shells() {
        let names: Vec<&str> = imagegate_report::Format::ALL.map(|f| f.name()).to_vec();
        let bash = script(clap_complete::Shell::Bash);
        assert!(
            bash.contains(&format!("compgen -W \"{}\"", names.join(" "))),
            "bash completes check's --format values"
        );
        assert!(bash.contains("compgen -W \"auto always never\""));
        let zsh = script(clap_complete::Shell::Zsh);
        assert!(zsh.contains(&format!(":FORMAT:({})", names.join(" "))));
        assert!(
            zsh.contains(":FORMAT:(text json csv)"),
            "images' own formats"
        );
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
