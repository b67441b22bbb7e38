//! `--shard K/N`: a deterministic slice of the cells for one of N CI runners.
//!
//! A cell belongs to shard `1 + fnv1a64(environment, app) mod N`. The hash depends only on the
//! cell's own names, never on its position in the matrix, so adding or removing cells leaves
//! every other cell in its shard (a runner's render cache stays warm), and every runner computes
//! the same split without talking to the others. FNV-1a is written out here because the standard
//! library's hasher may change between Rust releases, and shards of one fleet may be computed by
//! different builds.

use crate::Fatal;
use imagegate_fleet::Cell;

/// One shard: `index` of `count`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based shard number (`K`).
    pub index: u32,
    /// Number of shards (`N`).
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || format!("`{s}`: expected K/N with 1 <= K <= N, for example 2/3");
        let (k, n) = s.split_once('/').ok_or_else(usage)?;
        let index: u32 = k.trim().parse().map_err(|_| usage())?;
        let count: u32 = n.trim().parse().map_err(|_| usage())?;
        if count == 0 || index == 0 || index > count {
            return Err(usage());
        }
        Ok(Self { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The shard (1-based) the cell (`environment`, `app`) belongs to among `count`.
    pub fn of(environment: &str, app: &str, count: u32) -> u32 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        // A separator byte that cannot occur in either name keeps ("ab","c") apart from ("a","bc").
        for byte in environment
            .bytes()
            .chain(std::iter::once(0u8))
            .chain(app.bytes())
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        (hash % u64::from(count.max(1))) as u32 + 1
    }

    /// True when the cell (`environment`, `app`) is in this shard.
    pub fn holds(&self, environment: &str, app: &str) -> bool {
        Self::of(environment, app, self.count) == self.index
    }

    /// The cells of this shard, in their order.
    pub fn select(&self, cells: Vec<Cell>) -> Vec<Cell> {
        cells
            .into_iter()
            .filter(|c| self.holds(&c.environment, &c.app))
            .collect()
    }
}

/// Parses `--shard` (a usage error is exit 2).
pub fn parse(arg: Option<&str>) -> Result<Option<Shard>, Fatal> {
    arg.map(|s| s.parse().map_err(|e| Fatal(format!("--shard {e}"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "1/-1", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_cell_in_exactly_one_shard_and_stable_under_additions() {
        let names: Vec<(String, String)> = (0..200)
            .map(|i| (format!("env{}", i % 4), format!("app-{i}")))
            .collect();
        for n in 1..=5 {
            for (e, a) in &names {
                let owners: Vec<u32> = (1..=n)
                    .filter(|k| {
                        Shard {
                            index: *k,
                            count: n,
                        }
                        .holds(e, a)
                    })
                    .collect();
                assert_eq!(owners.len(), 1, "{e}/{a} in {owners:?} of {n}");
            }
        }
        // The shard of a cell is a function of its names alone: fixed values guard the hash
        // against accidental change (shards computed by different builds must agree).
        assert_eq!(Shard::of("production", "production-www", 3), 1);
        assert_eq!(Shard::of("staging", "staging-graph", 7), 1);
        assert_eq!(Shard::of("ab", "c", 1000), 136);
        let spread: std::collections::BTreeSet<u32> =
            names.iter().map(|(e, a)| Shard::of(e, a, 3)).collect();
        assert_eq!(spread.len(), 3, "200 cells use every one of 3 shards");
        assert_ne!(Shard::of("ab", "c", 1000), Shard::of("a", "bc", 1000));
    }
}
