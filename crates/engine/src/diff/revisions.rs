//! The two revisions `imagegate diff` compares, read from git: the configuration's folder of
//! each, unpacked from its commit (the head may be the working tree), and each side's
//! configuration and matrix. A base without the folder, the file or a usable configuration is
//! compared as an empty matrix, with a warning; a head without them is an error.

use super::Sides;
use crate::git::{Git, Unpacked};
use crate::{Config, Fatal, Observer};
use imagegate_fleet::Cell;
use std::path::{Path, PathBuf};

/// Both sides of a change, ready to be planned and compared ([`Revisions::sides`]).
pub struct Revisions {
    /// The checkout.
    pub git: Git,
    /// The configuration's folder in the working tree (its real path).
    pub dir: PathBuf,
    /// Where the configuration's folder sits in the checkout (`gitops`; empty at the root).
    pub prefix: String,
    base_ref: String,
    base_commit: String,
    head_ref: Option<String>,
    head_commit: Option<String>,
    // The unpacked folders the configurations point into, removed with them.
    _trees: (Option<Unpacked>, Option<Unpacked>),
    base: Option<Config>,
    base_cells: Vec<Cell>,
    /// The head's configuration.
    pub head: Config,
    head_cells: Vec<Cell>,
}

impl Revisions {
    /// Reads the configuration file `config_path` (of the working tree, in the checkout that
    /// holds it) at revision `base` and at `head` (none: the working tree itself).
    pub fn open(
        config_path: &Path,
        base: &str,
        head: Option<&str>,
        observer: &dyn Observer,
    ) -> Result<Self, Fatal> {
        let (config_dir, config_file) = split_config_path(config_path)?;
        let git = Git::discover()?;
        let prefix = git.prefix_of(&config_dir)?;
        let base_commit = git.commit_of(base)?;
        let base_tree = git.unpack(&base_commit, &prefix)?;
        let (head_commit, head_tree, head_cfg) = match head {
            Some(r) => {
                let commit = git.commit_of(r)?;
                let tree = git.unpack(&commit, &prefix)?.ok_or_else(|| {
                    Fatal(format!("--head {r}: the revision has no folder `{prefix}`"))
                })?;
                let path = tree.path().join(&config_file);
                if !path.is_file() {
                    return Err(Fatal(format!(
                        "--head {r}: the revision has no {}",
                        super::join(&prefix, &config_file)
                    )));
                }
                let cfg = Config::load(&path).map_err(|e| Fatal(format!("head: {e}")))?;
                (Some(commit), Some(tree), cfg)
            }
            None => (None, None, Config::open(config_path)?),
        };
        let head_cells = head_cfg.cells().map_err(|e| Fatal(e.to_string()))?;
        let head_submodules = match &head_tree {
            Some(tree) => tree.submodules().to_vec(),
            None => git.index_submodules(&prefix)?,
        };
        refuse_submodules("head", &head_cells, &head_submodules)?;
        if let Some(tree) = &head_tree {
            refuse_rewritten("head", &git, tree, &head_cells)?;
        }
        let base_cfg =
            super::base_config(base, base_tree.as_ref(), &prefix, &config_file, observer);
        let base_cells = match &base_cfg {
            Some(cfg) => cfg.cells().unwrap_or_else(|e| {
                observer.warn(&format!(
                    "base {base}: {e}; comparing against an empty matrix"
                ));
                Vec::new()
            }),
            None => Vec::new(),
        };
        if let Some(tree) = &base_tree {
            refuse_submodules(&format!("base {base}"), &base_cells, tree.submodules())?;
            refuse_rewritten(&format!("base {base}"), &git, tree, &base_cells)?;
        }
        Ok(Self {
            git,
            dir: config_dir,
            prefix,
            base_ref: base.to_string(),
            base_commit,
            head_ref: head.map(str::to_string),
            head_commit,
            _trees: (base_tree, head_tree),
            base: base_cfg,
            base_cells,
            head: head_cfg,
            head_cells,
        })
    }

    /// The sides, as [`super::diff`] compares them.
    pub fn sides(&self) -> Sides<'_> {
        Sides {
            base: self.base.as_ref(),
            base_cells: &self.base_cells,
            head: &self.head,
            head_cells: &self.head_cells,
            base_ref: Some(self.base_ref.clone()),
            base_commit: Some(self.base_commit.clone()),
            head_ref: self.head_ref.clone(),
            head_commit: self.head_commit.clone(),
        }
    }
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

/// A submodule inside a cell's chart folder, or holding one of its values files, is an error:
/// Argo CD checks submodules out (`ARGOCD_GIT_MODULES_ENABLED`, on by default) and renders what
/// they hold, while a revision (and a CI checkout that does not ask for them) has an empty
/// folder there, so the render judged would not be the one deployed.
pub(crate) fn refuse_submodules(
    side: &str,
    cells: &[Cell],
    submodules: &[String],
) -> Result<(), Fatal> {
    if submodules.is_empty() {
        return Ok(());
    }
    let inside = |path: &str, folder: &str| {
        path == folder
            || path
                .strip_prefix(folder)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    for cell in cells {
        for sub in submodules {
            let hit = if inside(sub, &cell.chart) || inside(&cell.chart, sub) {
                Some(cell.chart.as_str())
            } else {
                cell.value_files
                    .iter()
                    .map(|v| v.path.as_str())
                    .find(|v| inside(v, sub))
            };
            if let Some(what) = hit {
                return Err(Fatal(format!(
                    "{side}: {sub} is a git submodule and cell {}/{} reads {what}: Argo CD checks \
                     submodules out and renders what they hold, which imagegate cannot see\n  \
                     hint: vendor the submodule's files into the repository{}",
                    cell.environment,
                    cell.app,
                    if side == "check" {
                        " (or check it out before the run: actions/checkout `submodules: true`)"
                    } else {
                        ""
                    }
                )));
            }
        }
    }
    Ok(())
}

/// For `check` on a working tree: a submodule the index holds that is not checked out (its
/// folder missing or empty) and that a cell reads is an error, as in `diff`; one that is checked
/// out is read as Argo CD reads it. Outside a git checkout (or with the configuration outside
/// the one imagegate runs in) there is nothing to ask.
pub fn refuse_absent_submodules(root: &std::path::Path, cells: &[Cell]) -> Result<(), Fatal> {
    let Ok(git) = crate::git::Git::discover() else {
        return Ok(());
    };
    let Ok(real) = std::fs::canonicalize(root) else {
        return Ok(());
    };
    let Ok(prefix) = git.prefix_of(&real) else {
        return Ok(());
    };
    let absent: Vec<String> = git
        .index_submodules(&prefix)?
        .into_iter()
        .filter(|sub| std::fs::read_dir(real.join(sub)).map_or(true, |mut d| d.next().is_none()))
        .collect();
    refuse_submodules("check", cells, &absent)
}

/// A file a cell reads (of its chart folder, or a values file) that a checkout of the revision
/// rewrites (`ident`, `eol=crlf`, `working-tree-encoding` in its `.gitattributes`) is an error:
/// Argo CD renders the checked-out file, imagegate the stored one, and a template can tell them
/// apart (`.Files.Get` of a file holding `$Id$`).
fn refuse_rewritten(
    side: &str,
    git: &crate::git::Git,
    tree: &crate::git::Unpacked,
    cells: &[Cell],
) -> Result<(), Fatal> {
    let charts: std::collections::HashSet<&str> = cells.iter().map(|c| c.chart.as_str()).collect();
    let values: std::collections::HashSet<&str> = cells
        .iter()
        .flat_map(|c| c.value_files.iter().map(|v| v.path.as_str()))
        .collect();
    // A file is read when it is a values file, or inside a chart folder: one of its ancestors.
    let read: Vec<&str> = tree
        .files()
        .iter()
        .map(String::as_str)
        .filter(|f| {
            values.contains(f) || f.match_indices('/').any(|(i, _)| charts.contains(&f[..i]))
        })
        .collect();
    if let Some((file, attr)) = tree.rewritten_on_checkout(git, &read)?.first() {
        return Err(Fatal(format!(
            "{side}: {file} has the git attribute `{attr}`: a checkout (Argo CD's) writes it otherwise than git stores it, and imagegate reads what git stores\n  hint: drop the attribute for chart and values files (in .gitattributes)"
        )));
    }
    Ok(())
}
