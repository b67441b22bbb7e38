//! `check --registry`: the registry client behind the engine's [`RemoteLookup`], keeping every
//! image it could not ask about so the run fails with them (exit status 2) instead of passing.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::cli::RegistryArgs;
use crate::Fatal;
use imagegate_engine::pipeline::RemoteLookup;
use imagegate_engine::Config;
use imagegate_policy::RemoteFacts;
use imagegate_registry::{Credentials, Options, Registry};

/// The registry of one run, with the platforms each environment declares.
pub struct Remote {
    registry: Registry,
    platforms: BTreeMap<String, Vec<String>>,
    failures: Mutex<BTreeMap<String, String>>,
}

impl Remote {
    /// The client for `cfg`'s run, with the credentials of the environment.
    pub fn new(cfg: &Config, args: &RegistryArgs) -> Result<Self, Fatal> {
        let credentials = Credentials::from_environment().map_err(Fatal)?;
        let registry = Registry::new(Options {
            credentials,
            insecure: args.insecure_registry.iter().cloned().collect(),
            ..Options::default()
        })
        .map_err(Fatal)?;
        let platforms = cfg
            .environments
            .iter()
            .map(|e| (e.name.clone(), e.platforms.clone()))
            .collect();
        Ok(Self {
            registry,
            platforms,
            failures: Mutex::new(BTreeMap::new()),
        })
    }

    /// An error naming every image no registry could answer for, if there is one.
    pub fn fail_on_errors(&self) -> Result<(), Fatal> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.is_empty() {
            return Ok(());
        }
        let mut message = format!(
            "--registry: {} image(s) could not be checked against their registry, so the run \
             judged nothing as passing:",
            failures.len()
        );
        for (image, why) in failures.iter() {
            message.push_str(&format!("\n  {image}: {why}"));
        }
        message.push_str(
            "\n  hint: check the registry is reachable and the credentials (docs/security.md); \
             without --registry the check runs offline",
        );
        Err(Fatal(message))
    }
}

impl RemoteLookup for Remote {
    fn facts(&self, image: &str) -> Option<RemoteFacts> {
        match self.registry.facts(image) {
            Ok(facts) => Some(facts),
            Err(e) => {
                self.failures
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(e.image, e.message);
                None
            }
        }
    }

    fn platforms(&self, env: &str) -> &[String] {
        self.platforms.get(env).map_or(&[], Vec::as_slice)
    }
}
