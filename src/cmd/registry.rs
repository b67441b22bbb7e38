//! `check --registry`: the registry client behind the engine's [`RemoteLookup`], keeping every
//! image it could not ask about so the run fails with them (exit status 2) instead of passing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::cli::RegistryArgs;
use crate::Fatal;
use imagegate_engine::cache::CacheChoice;
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
    /// The client for `cfg`'s run, with the credentials of the environment and the run's
    /// answers file in the `cache` folder ([`client`]).
    pub fn new(cfg: &Config, args: &RegistryArgs, cache: &CacheChoice) -> Result<Self, Fatal> {
        let registry = client(&args.insecure_registry, cache, cfg.repo.root())?;
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

    /// Keeps this process's tag answers for the rest of the run; a file that cannot be written
    /// only costs the next process its questions, so it is a warning.
    pub fn save(&self, observer: &dyn imagegate_engine::Observer) {
        if let Err(e) = self.registry.save() {
            observer.warn(&format!("registry answers not kept for the run: {e}"));
        }
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

/// The registry client of `check --registry` and `pin`: the environment's credentials, plain
/// HTTP to `insecure` registries, and the run's answers file ([`answers_file`]).
pub fn client(insecure: &[String], cache: &CacheChoice, repo: &Path) -> Result<Registry, Fatal> {
    Registry::new(Options {
        credentials: Credentials::from_environment().map_err(Fatal)?,
        insecure: insecure.iter().cloned().collect(),
        answers: answers_file(cache, repo, &|name| std::env::var(name).ok())?,
        ..Options::default()
    })
    .map_err(|e| Fatal(format!("registry answers: {e}")))
}

/// The file in which the processes of one CI run share where each tag pointed when the run
/// first asked: `<cache folder>/registry/answers-<run>.json`. The run is `IMAGEGATE_RUN_ID`,
/// else GitHub Actions' `GITHUB_RUN_ID` and `GITHUB_RUN_ATTEMPT`, else GitLab's `CI_PIPELINE_ID`;
/// without one, or with `--no-cache`, each process is its own run and keeps its answers in
/// memory. A folder inside the repository under check is never used: the pull request could
/// write the answers. An explicit `--cache-dir` there is an error; a default folder there is
/// passed over.
pub fn answers_file(
    cache: &CacheChoice,
    repo: &Path,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<PathBuf>, Fatal> {
    let Some(run) = run_id(var) else {
        return Ok(None);
    };
    let dir = match cache {
        CacheChoice::Off => return Ok(None),
        CacheChoice::At(d) => d.clone(),
        CacheChoice::Default => match imagegate_render::RenderCache::default_dir() {
            Some(d) => d,
            None => return Ok(None),
        },
    };
    if let Some(root) = imagegate_engine::cache::inside_repository(&dir, &[repo]) {
        return match cache {
            CacheChoice::At(_) => Err(Fatal(format!(
                "--cache-dir: {} is inside the repository under check ({}); imagegate never \
                 reads registry answers the repository could write\n  hint: pick a folder \
                 outside the repository (or pass --no-cache)",
                dir.display(),
                root.display()
            ))),
            _ => Ok(None),
        };
    }
    Ok(Some(
        dir.join("registry").join(format!("answers-{run}.json")),
    ))
}

/// The id of the CI run this process belongs to, as a file name: at most 64 of `A-Z a-z 0-9 .
/// _ -`, anything else replaced by `_`.
fn run_id(var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let raw = set("IMAGEGATE_RUN_ID")
        .or_else(|| {
            set("GITHUB_RUN_ID").map(|id| {
                let attempt = set("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into());
                format!("github-{id}-{attempt}")
            })
        })
        .or_else(|| set("CI_PIPELINE_ID").map(|id| format!("gitlab-{id}")))?;
    let name: String = raw
        .trim()
        .chars()
        .take(64)
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' => c,
            '.' => '.',
            _ => '_',
        })
        .collect();
    // `.` and `..` alone would name the folder itself.
    Some(if name.chars().all(|c| c == '.') {
        name.replace('.', "_")
    } else {
        name
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_run_is_named_by_imagegate_then_github_then_gitlab() {
        assert_eq!(run_id(&env(&[])), None);
        assert_eq!(run_id(&env(&[("IMAGEGATE_RUN_ID", "  ")])), None);
        assert_eq!(
            run_id(&env(&[("GITHUB_RUN_ID", "42"), ("CI_PIPELINE_ID", "7")])).as_deref(),
            Some("github-42-1")
        );
        assert_eq!(
            run_id(&env(&[
                ("GITHUB_RUN_ID", "42"),
                ("GITHUB_RUN_ATTEMPT", "3")
            ]))
            .as_deref(),
            Some("github-42-3")
        );
        assert_eq!(
            run_id(&env(&[("CI_PIPELINE_ID", "7")])).as_deref(),
            Some("gitlab-7")
        );
        assert_eq!(
            run_id(&env(&[
                ("IMAGEGATE_RUN_ID", "../../etc/x"),
                ("GITHUB_RUN_ID", "1")
            ]))
            .as_deref(),
            Some(".._.._etc_x")
        );
        assert_eq!(
            run_id(&env(&[("IMAGEGATE_RUN_ID", "..")])).as_deref(),
            Some("__")
        );
        let long = "a".repeat(100);
        assert_eq!(
            run_id(&env(&[("IMAGEGATE_RUN_ID", &long)])).map(|s| s.len()),
            Some(64)
        );
    }

    #[test]
    fn the_answers_file_is_in_the_cache_folder_never_in_the_repository() {
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let run = env(&[("IMAGEGATE_RUN_ID", "r1")]);
        let at = CacheChoice::At(cache.path().to_owned());
        assert_eq!(
            answers_file(&at, repo.path(), &run).unwrap(),
            Some(cache.path().join("registry").join("answers-r1.json"))
        );
        assert_eq!(answers_file(&at, repo.path(), &env(&[])).unwrap(), None);
        assert_eq!(
            answers_file(&CacheChoice::Off, repo.path(), &run).unwrap(),
            None
        );
        let inside = CacheChoice::At(repo.path().join("cache"));
        let err = answers_file(&inside, repo.path(), &run).unwrap_err();
        assert!(
            err.0.contains("inside the repository under check"),
            "{}",
            err.0
        );
    }
}
