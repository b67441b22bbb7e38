//! `imagegate diff --base REF [--head REF]`: the PR check. See docs/diff.md.

use crate::cli::DiffArgs;
use crate::output::{rule_meta, today};
use crate::Fatal;
use anyhow::Result;
use imagegate_engine::diff::{DiffRun, Revisions};
use imagegate_render::Helm;
use imagegate_report::diff::{render_diff, DiffFormat};
use imagegate_report::FormatOptions;
use std::io::Write;

pub fn run(args: DiffArgs) -> Result<u8> {
    let (stdout, files) =
        crate::output::parse_output_specs::<DiffFormat>(&args.format, &args.output)?;
    let config_path = super::config_path(&args.config)?;
    let observer = crate::progress::Terminal::new(!args.no_progress);
    let revisions = Revisions::open(&config_path, &args.base, args.head.as_deref(), &observer)?;
    let located = Helm::locate(args.helm.helm.as_deref(), &revisions.dir)
        .map_err(|e| Fatal(e.to_string()))?;
    let cache = crate::cache::open(&args.helm.cache.choice(), &[revisions.git.top()], &observer)?;
    let opts = crate::fleet::render_options(&revisions.head, &args.helm.overrides());
    let base_opts = crate::fleet::render_options(
        revisions.sides().base.unwrap_or(&revisions.head),
        &args.helm.overrides(),
    );
    let report = imagegate_engine::diff::diff(
        &revisions.sides(),
        &DiffRun {
            renderer: &imagegate_engine::HelmRenderer::new(&located),
            opts: &opts,
            base_opts: &base_opts,
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
    let rules = rule_meta();
    let options = FormatOptions {
        rules: &rules,
        path_prefix: &revisions.prefix,
        ..FormatOptions::default()
    };
    for (format, path) in &files {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| Fatal(format!("cannot write {}: {e}", path.display())))?,
        );
        render_diff(*format, &report, &options, &mut f)?;
        f.flush()?;
    }
    let mut out = crate::output::stdout();
    render_diff(stdout, &report, &options, &mut out)?;
    out.flush()?;
    Ok(report.exit_code() as u8)
}
