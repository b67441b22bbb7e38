//! Which cells a change can affect: the two matrices paired by environment and app.
//!
//! A cell on both sides whose render key (chart folder, values files, helm arguments and version)
//! and policy are identical cannot render or be judged differently: it is not rendered at all.
//! Every other cell is affected: changed, added, removed, or renamed (an added and a removed cell
//! of the same environment and the same component, or else the same chart).

use imagegate_fleet::Cell;
use imagegate_render::CacheKey;
use imagegate_report::diff::{CellCounts, ChangeKind};
use std::collections::{BTreeMap, BTreeSet};

/// One side's matrix, with what decides each cell's outcome.
pub struct SideCells<'a> {
    /// The cells.
    pub cells: &'a [Cell],
    /// Their render keys (an error: the cell has no key and always counts as changed).
    pub keys: &'a [Result<CacheKey, String>],
    /// A fingerprint of the side's policy and exceptions.
    pub policy: &'a str,
}

/// One affected cell: indexes into the base and head cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// What happened.
    pub kind: ChangeKind,
    /// The base cell, when the base has it.
    pub base: Option<usize>,
    /// The head cell, when the head has it.
    pub head: Option<usize>,
}

/// Pairs the matrices; returns the affected cells and the counts.
pub fn plan(base: &SideCells<'_>, head: &SideCells<'_>) -> (Vec<Pair>, CellCounts) {
    let mut counts = CellCounts::default();
    let mut pairs = Vec::new();
    let by_name: BTreeMap<(&str, &str), usize> = base
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| ((c.environment.as_str(), c.app.as_str()), i))
        .collect();
    let mut matched = BTreeSet::new();
    let mut added = Vec::new();
    for (h, cell) in head.cells.iter().enumerate() {
        match by_name.get(&(cell.environment.as_str(), cell.app.as_str())) {
            Some(&b) => {
                matched.insert(b);
                let same = match (&base.keys[b], &head.keys[h]) {
                    (Ok(kb), Ok(kh)) => kb == kh && base.policy == head.policy,
                    _ => false,
                };
                if same {
                    counts.unchanged += 1;
                } else {
                    counts.changed += 1;
                    pairs.push(Pair {
                        kind: ChangeKind::Changed,
                        base: Some(b),
                        head: Some(h),
                    });
                }
            }
            None => added.push(h),
        }
    }
    let mut removed: Vec<usize> = (0..base.cells.len())
        .filter(|b| !matched.contains(b))
        .collect();
    for h in added {
        let hc = &head.cells[h];
        let same_component = |b: &usize| {
            base.cells[*b].environment == hc.environment && base.cells[*b].component == hc.component
        };
        let same_chart = |b: &usize| {
            base.cells[*b].environment == hc.environment && base.cells[*b].chart == hc.chart
        };
        let found = removed
            .iter()
            .position(same_component)
            .or_else(|| removed.iter().position(same_chart));
        match found {
            Some(pos) => {
                let b = removed.remove(pos);
                counts.renamed += 1;
                pairs.push(Pair {
                    kind: ChangeKind::Renamed,
                    base: Some(b),
                    head: Some(h),
                });
            }
            None => {
                counts.added += 1;
                pairs.push(Pair {
                    kind: ChangeKind::Added,
                    base: None,
                    head: Some(h),
                });
            }
        }
    }
    for b in removed {
        counts.removed += 1;
        pairs.push(Pair {
            kind: ChangeKind::Removed,
            base: Some(b),
            head: None,
        });
    }
    (pairs, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(env: &str, app: &str, component: &str, chart: &str) -> Cell {
        Cell {
            component: component.into(),
            namespace: "ns".into(),
            ..Cell::new(env, app, chart)
        }
    }

    fn keys(cells: &[Cell], changed: &[&str]) -> Vec<Result<CacheKey, String>> {
        // Keys from real (tiny) repositories would need files; identity is all plan needs, so
        // distinct failures stand in for "changed" and one shared key for "same".
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("c")).unwrap();
        let repo = imagegate_fleet::Repo::open(dir.path()).unwrap();
        let mut template = cells[0].clone();
        template.chart = "c".into();
        let opts = imagegate_render::RenderOptions::default();
        let same = imagegate_render::cell_keys(&repo, &[template], "v3", &opts)
            .remove(0)
            .unwrap();
        cells
            .iter()
            .map(|c| {
                if changed.contains(&c.app.as_str()) {
                    Err("changed".into())
                } else {
                    Ok(same)
                }
            })
            .collect()
    }

    #[test]
    fn pairs_by_name_and_finds_renames() {
        let base = vec![
            cell("dev", "dev-a", "a", "charts/a"),
            cell("dev", "dev-b", "b", "charts/b"),
            cell("dev", "dev-old", "old", "charts/old"),
            cell("dev", "dev-gone", "gone", "charts/gone"),
            cell("prod", "prod-c", "c", "charts/c"),
        ];
        let head = vec![
            cell("dev", "dev-a", "a", "charts/a"),
            cell("dev", "dev-b", "b", "charts/b"),
            cell("dev", "dev-renamed", "old", "charts/old"),
            cell("prod", "prod-c2", "c2", "charts/c"),
            cell("prod", "prod-new", "new", "charts/new"),
        ];
        let (bk, hk) = (keys(&base, &[]), keys(&head, &["dev-b"]));
        let b = SideCells {
            cells: &base,
            keys: &bk,
            policy: "p",
        };
        let h = SideCells {
            cells: &head,
            keys: &hk,
            policy: "p",
        };
        let (pairs, counts) = plan(&b, &h);
        assert_eq!(
            counts,
            CellCounts {
                unchanged: 1,
                changed: 1,
                added: 1,
                removed: 1,
                renamed: 2
            }
        );
        let kinds: Vec<_> = pairs.iter().map(|p| (p.kind, p.base, p.head)).collect();
        assert_eq!(
            kinds,
            vec![
                (ChangeKind::Changed, Some(1), Some(1)),
                (ChangeKind::Renamed, Some(2), Some(2)),
                (ChangeKind::Renamed, Some(4), Some(3)),
                (ChangeKind::Added, None, Some(4)),
                (ChangeKind::Removed, Some(3), None),
            ]
        );

        // A policy change affects every cell even when the renders are identical.
        let h2 = SideCells {
            cells: &base,
            keys: &bk,
            policy: "q",
        };
        let (_, counts) = plan(&b, &h2);
        assert_eq!(counts.changed, 5);
        assert_eq!(counts.unchanged, 0);
    }
}
