//! The `promotion:` section of `imagegate.yaml`, owned by the rule it configures.

use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeSet;

/// The promotion lineage of 602 Rule 4: downstream environments move only by copying the exact
/// digest their upstream environment runs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PromotionSettings {
    /// Promotion chains, each a list of environment names from upstream to downstream (for
    /// example `[dev, staging, production]`). Every first-party digest an environment renders
    /// must be rendered for the same repository by the environment before it in the chain (today,
    /// or with `--history N` in one of the last N commits). An environment downstream in two
    /// chains is satisfied by either upstream.
    pub chains: Vec<Vec<String>>,
    /// Repository prefixes of first-party images (for example `ghcr.io/ameideio/`): only these
    /// are judged, since third-party digests are pinned per environment by design. A prefix
    /// matches the repository (registry included) as written, from its start.
    pub first_party: Vec<String>,
}

/// What is wrong with a `promotion:` section: the field (a path such as `promotion.chains[0]`,
/// for the loader to find its line), the message and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PromotionError {
    /// The field at fault, as a path from the top of the file.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: &'static str,
}

impl PromotionSettings {
    /// True when `repository` (registry included, in the canonical form of
    /// `ImageRef::canonical_repository`) is first-party. Prefixes are compared in the same
    /// canonical form, so `GHCR.IO/…` or `ghcr.io:443/…` is as first-party as `ghcr.io/…`.
    pub fn is_first_party(&self, repository: &str) -> bool {
        self.first_party.iter().any(|p| {
            !p.is_empty() && repository.starts_with(crate::canonical_repository_prefix(p).as_str())
        })
    }

    /// The environments `environment` is promoted from (its predecessor in every chain).
    pub fn upstreams_of(&self, environment: &str) -> Vec<&str> {
        super::upstreams_of(&self.chains, environment)
    }

    /// Every environment named by a chain.
    pub fn environments(&self) -> BTreeSet<&str> {
        super::environments(&self.chains)
    }

    /// The shape rules that need no environment list: a chain has an upstream and a downstream
    /// and names each environment once, and chains need first-party prefixes to judge anything.
    /// Whether the names are environments is the loader's to check, once they are known.
    pub fn check(&self) -> Result<(), PromotionError> {
        for (i, chain) in self.chains.iter().enumerate() {
            let path = format!("promotion.chains[{i}]");
            if chain.len() < 2 {
                return Err(PromotionError {
                    message: format!("{path} names {} environment(s); a chain needs an upstream and a downstream", chain.len()),
                    path,
                    hint: "write a chain as a list from upstream to downstream, for example [staging, production]",
                });
            }
            for (j, env) in chain.iter().enumerate() {
                if chain[..j].contains(env) {
                    return Err(PromotionError {
                        message: format!("{path} names `{env}` twice"),
                        path,
                        hint: "a chain is a line from upstream to downstream; list each environment once",
                    });
                }
            }
        }
        if !self.chains.is_empty() && self.first_party.iter().all(|f| f.is_empty()) {
            return Err(PromotionError {
                path: "promotion.firstParty".into(),
                message: "promotion.firstParty is empty: no image would be judged".into(),
                hint: "list the repository prefixes of your own images, for example [\"ghcr.io/your-org/\"]",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(chains: &[&[&str]], first_party: &[&str]) -> PromotionSettings {
        PromotionSettings {
            chains: chains
                .iter()
                .map(|c| c.iter().map(|e| e.to_string()).collect())
                .collect(),
            first_party: first_party.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn the_shape_of_chains_and_prefixes_is_checked() {
        assert!(settings(&[&["dev", "prod"]], &["ghcr.io/o/"])
            .check()
            .is_ok());
        let short = settings(&[&["dev", "prod"], &["dev"]], &["ghcr.io/o/"]).check();
        assert_eq!(short.unwrap_err().path, "promotion.chains[1]");
        let twice = settings(&[&["dev", "prod", "dev"]], &["ghcr.io/o/"]).check();
        assert!(twice.unwrap_err().message.contains("names `dev` twice"));
        let empty = settings(&[&["dev", "prod"]], &[""]).check().unwrap_err();
        assert_eq!(empty.path, "promotion.firstParty");
    }

    #[test]
    fn first_party_is_compared_in_canonical_form() {
        let p = settings(&[], &["GHCR.IO/o/"]);
        assert!(p.is_first_party("ghcr.io/o/app"));
        assert!(!p.is_first_party("docker.io/o/app"));
        assert!(!settings(&[], &[""]).is_first_party("ghcr.io/o/app"));
    }
}
