//! `values-file-unused`: values files no cell reads, and value-stack entries that are missing
//! where the configuration makes missing files errors. Both come from the configuration and the
//! file tree alone; nothing is rendered.

use crate::Config;
use crate::Fatal;
use imagegate_fleet::{Cell, MissingValueFiles};
use imagegate_policy::rules::values_file_unused;
use imagegate_policy::{CellContext, Finding};
use std::collections::BTreeSet;

/// The values files under the value folders that no cell of `matrix` (the whole matrix) reads,
/// one finding each, sorted by path.
pub fn unread(cfg: &Config, matrix: &[Cell]) -> Result<Vec<Finding>, Fatal> {
    let read: BTreeSet<&str> = matrix.iter().flat_map(Cell::present_value_files).collect();
    let ignore = cfg
        .model
        .value_folders
        .ignore
        .iter()
        .map(|g| {
            imagegate_fleet::path_glob(g).map_err(|e| {
                Fatal(format!(
                    "{}: valueFolders.ignore: invalid glob `{g}`: {e}",
                    cfg.file
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut files = BTreeSet::new();
    for folder in cfg.value_folders() {
        let pattern = if folder.is_empty() {
            "**/*.{yaml,yml}".to_string()
        } else {
            format!("{folder}/**/*.{{yaml,yml}}")
        };
        let found = cfg
            .repo
            .glob(&pattern)
            .map_err(|e| Fatal(format!("{}: valueFolders: {e}", cfg.file)))?;
        files.extend(found);
    }
    Ok(values_file_unused::check(&read, &files, &ignore))
}

/// The missing value-stack entries of `cells` when `missingValueFiles: error` (one finding per
/// cell and file; the cell itself is `render-failed` too). An Argo CD cell's value files are
/// the Application's to judge: a missing one is a configuration error unless the Application
/// sets `ignoreMissingValueFiles`, and then it is skipped as Argo CD skips it.
pub fn missing(cfg: &Config, cells: &[Cell]) -> Vec<Finding> {
    if cfg.model.missing_value_files != MissingValueFiles::Error {
        return Vec::new();
    }
    cells
        .iter()
        .filter(|c| c.argocd.is_none())
        .flat_map(|c| {
            let ctx = CellContext {
                environment: c.environment.clone(),
                app: c.app.clone(),
                chart: c.chart.clone(),
            };
            c.value_files
                .iter()
                .filter(|v| !v.present)
                .map(move |v| values_file_unused::missing(&ctx, &v.path))
        })
        .collect()
}
