//! `imagegate merge REPORT.json…`: the reports of `--shard K/N` runs become one report.
//!
//! Each shard judged its own cells; what needs the whole fleet was recorded, not judged (see
//! [`imagegate_report::ShardRecord`]). The merge checks that the shards are exactly the N slices
//! of the configuration's matrix (none missing, none twice, none from another matrix), joins
//! them, and judges the whole-fleet rules once: exception hygiene over the summed exception
//! matches, promotion lineage over every shard's lineage sites, and values files no cell reads.

use crate::cli::MergeArgs;
use crate::output::Outputs;
use crate::Fatal;
use anyhow::Result;
use imagegate_engine::audit::{read_report, write_set, Baseline, Trend};
use imagegate_engine::merge::{merge, merged_images};
use imagegate_render::Helm;

pub fn run(args: MergeArgs) -> Result<u8> {
    let outputs = Outputs::parse(&args.output)?;
    let cfg = super::load_config(&super::config_path(&args.config)?, args.helm.as_deref())?;
    let outputs = outputs.relative_to(cfg.repo.root());
    let observer = crate::progress::Terminal::new(false).quiet(args.output.quiet);
    let baseline = args
        .baseline
        .as_deref()
        .map(|b| Baseline::read(b, &observer))
        .transpose()?;
    let mut shards = Vec::new();
    for path in &args.reports {
        let report = read_report(path)?;
        shards.push((path.clone(), report));
    }
    let helm = if args.history > 0 {
        Some(
            Helm::locate(args.helm.as_deref(), cfg.repo.root())
                .map_err(|e| Fatal(e.to_string()))?,
        )
    } else {
        None
    };
    let renderer = helm.as_ref().map(imagegate_engine::HelmRenderer::new);
    let merged = outputs.prepare(merge(
        &cfg,
        shards.clone(),
        args.history,
        renderer
            .as_ref()
            .map(|r| r as &dyn imagegate_engine::Renderer),
        &observer,
        crate::output::today()?,
    )?);
    match &args.out {
        Some(dir) => {
            let images = merged_images(&shards, &merged)?;
            let trend = baseline.map(|b| Trend::between(&b, &merged, &images));
            let written = write_set(dir, cfg.repo.root(), &merged, &images, trend.as_ref())?;
            super::audit::print_summary(&merged, trend.as_ref(), &written)?;
            outputs.emit_files(&merged)?;
        }
        None => outputs.emit(&merged)?,
    }
    Ok(outputs.exit_code(&merged))
}
