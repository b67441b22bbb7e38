//! Finding helm and learning its version.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A usable helm binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helm {
    /// Path to the binary.
    pub path: PathBuf,
    /// `helm version` as helm reports it, for example `v3.17.3`.
    pub version: String,
}

/// Why no usable helm was found.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    /// Nothing was found where we looked.
    #[error("helm not found: {0}\n  hint: pass --helm PATH, set IMAGEGATE_HELM, or put helm on PATH (in the imagegate repository, `cargo xtask helm` installs Helm 3 and 4 into target/tools)")]
    NotFound(String),
    /// The helm found is a file of the repository under check.
    #[error("{path} is inside the repository under check ({root}): imagegate never runs a program the repository provides\n  hint: install helm outside the checkout and pass its absolute path with --helm (or IMAGEGATE_HELM), or put it on PATH")]
    Untrusted {
        /// The binary.
        path: PathBuf,
        /// The repository root.
        root: PathBuf,
    },
    /// Something was found but `helm version` failed.
    #[error("{path} does not work as helm: {message}")]
    Broken {
        /// The binary.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl Helm {
    /// Finds helm: `explicit` (from `--helm`), else `IMAGEGATE_HELM`, else `helm` on `PATH`. A
    /// bare name (`--helm helm`, `IMAGEGATE_HELM=helm3`) is looked up on `PATH`, never in the
    /// current folder, and relative `PATH` entries are skipped. A helm that resolves inside
    /// `untrusted` (the repository under check) is refused: the pull request wrote it.
    pub fn locate(explicit: Option<&Path>, untrusted: &Path) -> Result<Self, HelmError> {
        let named = |p: &Path, source: &str| -> Result<PathBuf, HelmError> {
            let bare = p.components().count() == 1
                && matches!(p.components().next(), Some(std::path::Component::Normal(_)));
            if bare {
                return search_path(&p.to_string_lossy()).ok_or_else(|| {
                    HelmError::NotFound(format!(
                        "{source} {}: no such program on PATH (a bare name is looked up on PATH, \
                         never in the current folder; write ./{} for a file here)",
                        p.display(),
                        p.display()
                    ))
                });
            }
            if !p.is_file() {
                return Err(HelmError::NotFound(format!(
                    "{source} {} does not exist",
                    p.display()
                )));
            }
            Ok(p.to_path_buf())
        };
        let candidate = if let Some(p) = explicit {
            named(p, "--helm")?
        } else if let Some(p) = std::env::var_os("IMAGEGATE_HELM").filter(|p| !p.is_empty()) {
            named(Path::new(&p), "IMAGEGATE_HELM=")?
        } else {
            search_path("helm").ok_or_else(|| {
                HelmError::NotFound("no --helm, no IMAGEGATE_HELM, and no helm on PATH".into())
            })?
        };
        // Checked before `helm version` runs: running it is what must not happen.
        if let (Ok(real), Ok(root)) = (candidate.canonicalize(), untrusted.canonicalize()) {
            if real.starts_with(&root) {
                return Err(HelmError::Untrusted { path: real, root });
            }
        }
        Self::at(&candidate)
    }

    /// Uses the helm at `path`, reading its version.
    pub fn at(path: &Path) -> Result<Self, HelmError> {
        // Renders run in a sandbox folder: a relative path must not change meaning there.
        let path = &std::fs::canonicalize(path).map_err(|e| HelmError::Broken {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        // In a sandbox, as every render runs: none of the user's environment reaches helm.
        let out = crate::run::with_sandbox(|sandbox| {
            crate::process::run(
                version_command(sandbox, path),
                Duration::from_secs(30),
                64 * 1024,
            )
            .map_err(|e| e.to_string())
        })
        .map_err(|e| e.message)
        .and_then(|r| r)
        .map_err(|message| HelmError::Broken {
            path: path.to_path_buf(),
            message,
        })?;
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status_ok || !version.starts_with('v') {
            return Err(HelmError::Broken {
                path: path.to_path_buf(),
                message: format!(
                    "`helm version` said: {}{}",
                    version,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            version,
        })
    }
}

/// `helm version` in `sandbox`, with the environment of a render.
fn version_command(sandbox: &crate::run::Sandbox, path: &Path) -> std::process::Command {
    let mut cmd = sandbox.command_at(path, None);
    cmd.args(["version", "--template", "{{.Version}}"]);
    cmd
}

/// The first executable `name` in an absolute `PATH` entry (see [`crate::spawn::first_on_path`]).
fn search_path(name: &str) -> Option<PathBuf> {
    crate::spawn::first_on_path(&std::env::var_os("PATH")?, std::ffi::OsStr::new(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Helm::at` itself, on a program that answers `version` with the environment it was given
    /// (what a real helm's version says nothing about): it must be a render's, nothing of
    /// imagegate's own.
    #[test]
    fn the_version_probe_runs_in_a_renders_sandbox_with_none_of_the_users_environment() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("reports-its-environment");
        std::fs::write(
            &program,
            "#!/bin/sh\nprintf 'v0.0.0+%s+%s+%s+%s' \"$HOME\" \"$LC_MESSAGES\" \"$HELM_NO_PLUGINS\" \"${CARGO:-none}\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        // cargo and nextest run tests with CARGO set: imagegate's own environment.
        assert!(std::env::var_os("CARGO").is_some(), "the canary is set");
        let helm = Helm::at(&program).unwrap();
        let parts: Vec<&str> = helm.version.split('+').collect();
        assert_eq!(parts.len(), 5, "{}", helm.version);
        assert!(
            parts[1].contains("imagegate-helm-") && parts[1].ends_with("/home"),
            "HOME is the sandbox's: {}",
            helm.version
        );
        assert_eq!(parts[2], crate::run::HELM_MESSAGES_LOCALE);
        assert_eq!(parts[3], "1");
        assert_eq!(
            parts[4], "none",
            "imagegate's environment reached the probe"
        );
        // The probe's sandbox went back to the spares, for the renders to use.
        crate::run::release_spare_sandboxes();
        assert!(crate::process::settle(Duration::from_secs(30)));
    }
}
