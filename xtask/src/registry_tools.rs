//! The registry the `check --registry` tests run against: Debian's `docker-registry` (the
//! reference distribution registry), `skopeo`, which pushes the test images, and nginx, the
//! proxy in front of it that answers 403 and 429. `cargo xtask test` (and so `ci`) installs them
//! with apt when one is missing, the way it provisions
//! helm, so a fresh machine runs the whole suite; the tests start and stop the registry
//! themselves on the loopback interface.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// The programs the registry tests need, and the Debian package of each.
const TOOLS: [(&str, &str); 3] = [
    ("docker-registry", "docker-registry"),
    ("skopeo", "skopeo"),
    ("nginx", "nginx-light"),
];

/// The longest one apt step may take (a slow mirror, a cold package index).
const APT_SECONDS: &str = "900";

/// `tool` on `PATH` or in `/usr/sbin` (nginx's folder, which a user's `PATH` may lack), when it
/// is there.
fn on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(std::iter::once(PathBuf::from("/usr/sbin")))
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// Installs whichever of `docker-registry`, `skopeo` and nginx is missing, with `apt-get` (through
/// `sudo` when not root), and fails with what to do when that is not possible.
pub fn provision() -> Result<()> {
    let missing: Vec<&str> = TOOLS
        .iter()
        .filter(|(tool, _)| on_path(tool).is_none())
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let hint = format!(
        "the registry tests need the Debian packages {}; install them (`apt-get install -y {}`) and run again",
        missing.join(" and "),
        missing.join(" ")
    );
    if on_path("apt-get").is_none() {
        bail!("apt-get is not available: {hint}");
    }
    eprintln!("xtask: installing {} with apt-get", missing.join(", "));
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let apt = |args: &[&str]| -> Result<bool> {
        let mut cmd = if root {
            let mut c = Command::new("timeout");
            c.arg(APT_SECONDS);
            c
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "timeout", APT_SECONDS]);
            c
        };
        cmd.arg("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive");
        let st = cmd
            .status()
            .with_context(|| format!("cannot run apt-get: {hint}"))?;
        Ok(st.success())
    };
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(missing.iter().copied());
    // A fresh machine may have no package index yet: update once, then try again.
    let installed = apt(&install)? || (apt(&["update"])? && apt(&install)?);
    if !installed {
        bail!("apt-get could not install them: {hint}");
    }
    for (tool, package) in TOOLS {
        if on_path(tool).is_none() {
            bail!("package {package} installed, but `{tool}` is not on PATH: {hint}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_found_on_path_or_not_at_all() {
        assert!(on_path("sh").is_some());
        assert!(on_path("no-such-program-imagegate").is_none());
    }
}
