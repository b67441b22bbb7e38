//! `imagegate diff --base REF [--head REF]`: the PR check.
//!
//! Both revisions' matrices are resolved from their own `imagegate.yaml`; only the cells whose
//! inputs differ are rendered (through the render cache), on each side; their images, rendered
//! documents and findings are compared. See docs/diff.md.

use crate::cli::DiffArgs;
use crate::output::{rule_meta, today};
use crate::Fatal;
use anyhow::Result;
use imagegate_engine::Config;
use imagegate_engine::Observer;
use imagegate_render::Helm;
use imagegate_report::diff::{render_diff, DiffFormat, DiffReport};
use imagegate_report::FormatOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn run(args: DiffArgs) -> Result<u8> {
    let outputs = parse_outputs(&args)?;
    let config_path = super::config_path(&args.config);
    let (config_dir, config_file) = split_config_path(&config_path)?;
    let git = crate::git::Git::discover()?;
    let prefix = git.prefix_of(&config_dir)?;
    let located =
        Helm::locate(args.helm.helm.as_deref(), &config_dir).map_err(|e| Fatal(e.to_string()))?;
    let helm = imagegate_engine::HelmRenderer::new(&located);
    let observer = crate::progress::Terminal::new(!args.no_progress);

    let base_commit = git.commit_of(&args.base)?;
    let base_tree = git.unpack(&base_commit, &prefix)?;
    let head_rev = match &args.head {
        Some(r) => {
            let commit = git.commit_of(r)?;
            let tree = git.unpack(&commit, &prefix)?.ok_or_else(|| {
                Fatal(format!("--head {r}: the revision has no folder `{prefix}`"))
            })?;
            Some((commit, tree))
        }
        None => None,
    };
    let head_cfg = match &head_rev {
        Some((_, tree)) => {
            let path = tree.path().join(&config_file);
            if !path.is_file() {
                return Err(Fatal(format!(
                    "--head {}: the revision has no {}",
                    args.head.as_deref().unwrap_or_default(),
                    join(&prefix, &config_file)
                ))
                .into());
            }
            Config::load(&path).map_err(|e| Fatal(format!("head: {e}")))?
        }
        None => super::load_config(&config_path)?,
    };
    let head_cells = head_cfg.cells().map_err(|e| Fatal(e.to_string()))?;
    let base_cfg = imagegate_engine::diff::base_config(
        &args.base,
        base_tree.as_ref(),
        &prefix,
        &config_file,
        &observer,
    );
    let base_cells = match &base_cfg {
        Some(cfg) => cfg.cells().unwrap_or_else(|e| {
            observer.warn(&format!(
                "base {}: {e}; comparing against an empty matrix",
                args.base
            ));
            Vec::new()
        }),
        None => Vec::new(),
    };

    let cache = crate::cache::open(&args.helm.cache.choice(), &[git.top()], &observer)?;
    let opts = crate::fleet::render_options(&head_cfg, &args.helm.overrides());
    let report = imagegate_engine::diff::diff(
        &imagegate_engine::diff::Sides {
            base: base_cfg.as_ref(),
            base_cells: &base_cells,
            head: &head_cfg,
            head_cells: &head_cells,
            base_ref: Some(args.base.clone()),
            base_commit: Some(base_commit),
            head_ref: args.head.clone(),
            head_commit: head_rev.as_ref().map(|(c, _)| c.clone()),
        },
        &imagegate_engine::diff::DiffRun {
            renderer: &helm,
            opts: &opts,
            cache: cache.as_ref(),
            today: today()?,
            observer: &observer,
            strict: args.strict,
            warnings_as_errors: args.warnings_as_errors,
        },
    );
    if let Some(cache) = &cache {
        crate::cache::close(cache, &observer);
    }
    let report = report?;
    emit(&report, &outputs, &prefix)?;
    Ok(report.exit_code() as u8)
}

/// The configuration file's folder (real path) and file name.
fn split_config_path(path: &Path) -> Result<(PathBuf, String), Fatal> {
    if !path.is_file() {
        return Err(Fatal(format!(
            "{}: no such configuration file\n  hint: run imagegate diff in the repository root or pass --config FILE",
            path.display()
        )));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = dir
        .canonicalize()
        .map_err(|e| Fatal(format!("{}: {e}", dir.display())))?;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .ok_or_else(|| Fatal(format!("{}: not a file name", path.display())))?;
    Ok((dir, file))
}

fn join(prefix: &str, file: &str) -> String {
    if prefix.is_empty() {
        file.to_string()
    } else {
        format!("{prefix}/{file}")
    }
}

/// `--format` and every `--output [FORMAT=]FILE`.
struct DiffOutputs {
    stdout: DiffFormat,
    files: Vec<(DiffFormat, PathBuf)>,
}

fn parse_outputs(args: &DiffArgs) -> Result<DiffOutputs, Fatal> {
    let (stdout, files) =
        crate::output::parse_output_specs::<DiffFormat>(&args.format, &args.output)?;
    Ok(DiffOutputs { stdout, files })
}

fn emit(report: &DiffReport, outputs: &DiffOutputs, prefix: &str) -> Result<()> {
    let rules = rule_meta();
    let options = FormatOptions {
        rules: &rules,
        path_prefix: prefix,
        ..FormatOptions::default()
    };
    for (format, path) in &outputs.files {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| Fatal(format!("cannot write {}: {e}", path.display())))?,
        );
        render_diff(*format, report, &options, &mut f)?;
        f.flush()?;
    }
    let mut out = crate::output::stdout();
    render_diff(outputs.stdout, report, &options, &mut out)?;
    out.flush()?;
    Ok(())
}
