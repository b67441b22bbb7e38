//! `cargo xtask dist`: the release archive of imagegate for one target, exactly as the release
//! workflow (`.github/workflows/release.yml`) publishes it, and as the GitHub Action
//! (`action/install.sh`) downloads and verifies it.
//!
//! ```text
//! cargo xtask dist [--target TRIPLE] [--profile release|dev] [--out DIR]
//! ```
//!
//! It builds `imagegate` with `cargo build --locked`, then writes into `DIR` (default
//! `target/dist`):
//! - `imagegate-<version>-<target>.tar.gz`, holding one folder of the same name with the
//!   binary, `README.md`, the man pages and shell completions;
//! - `imagegate-<version>-<target>.tar.gz.sha256`, in `sha256sum` format.
//!
//! The archive is reproducible: entries sorted, owner 0, modes 0755/0644, and every mtime set to
//! `SOURCE_DATE_EPOCH` (0 when unset), so the same build gives the same bytes.
//!
//! Why not cargo-dist: its authors ship it as GitHub
//! release binaries and installer scripts, not as a package this CI installs with a pinned
//! hash the way it installs helm, and `cargo install cargo-dist` compiles several hundred
//! crates, minutes of every CI run on two cores. What the release needs beyond `cargo build` is
//! small and is all here: one reproducible archive per target, its checksum, and build
//! provenance, which the workflow gets from `actions/attest-build-provenance`. The layout is
//! not cargo-dist's: its archives are `<name>-<target>.tar.xz`, ours carry the version
//! (`imagegate-<version>-<target>.tar.gz`) so that a cached download can never pass for another
//! release. Moving to cargo-dist would change the URLs `action/install.sh` reads.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `cargo xtask dist` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub target: Option<String>,
    pub profile: String,
    pub out: Option<PathBuf>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut opts = Options {
            target: None,
            profile: "release".into(),
            out: None,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .with_context(|| format!("{name} needs a value"))
            };
            match arg.as_str() {
                "--target" => opts.target = Some(value("--target")?),
                "--profile" => opts.profile = value("--profile")?,
                "--out" => opts.out = Some(PathBuf::from(value("--out")?)),
                other => bail!("dist: unknown argument `{other}` (--target, --profile, --out)"),
            }
        }
        Ok(opts)
    }
}

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let opts = Options::parse(args)?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mut build = crate::cargo();
    build.current_dir(root).args([
        "build",
        "--locked",
        "-p",
        "imagegate",
        "--bin",
        "imagegate",
        "--profile",
        &opts.profile,
    ]);
    if let Some(t) = &opts.target {
        build.args(["--target", t]);
    }
    crate::status(&mut build)?;
    let triple = match &opts.target {
        Some(t) => t.clone(),
        None => host_triple()?,
    };
    // Cargo's folder for the `dev` profile is `debug`.
    let profile_dir = if opts.profile == "dev" {
        "debug"
    } else {
        opts.profile.as_str()
    };
    let mut bin = target_dir.clone();
    if opts.target.is_some() {
        bin.push(&triple);
    }
    bin.push(profile_dir);
    bin.push("imagegate");
    let out = opts.out.clone().unwrap_or_else(|| target_dir.join("dist"));
    let version = workspace_version(root)?;
    // Completions come from the binary itself; a binary this host cannot run (a cross build)
    // ships without them rather than with stale ones.
    let mut extra = vec![("README.md".to_owned(), read(&root.join("README.md"))?)];
    for entry in sorted_dir(&root.join("docs/man"))? {
        let name = entry
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        extra.push((format!("man/{name}"), read(&entry)?));
    }
    for (shell, file) in [
        ("bash", "imagegate.bash"),
        ("zsh", "_imagegate"),
        ("fish", "imagegate.fish"),
    ] {
        match Command::new(&bin).args(["completions", shell]).output() {
            Ok(o) if o.status.success() => extra.push((format!("completions/{file}"), o.stdout)),
            _ => eprintln!("xtask: dist: no {shell} completions (the binary does not run here)"),
        }
    }
    let written = package(&out, &version, &triple, &read(&bin)?, &extra)?;
    for p in written {
        println!("{}", p.display());
    }
    Ok(())
}

/// Writes the archive and its `.sha256` into `out`; returns both paths. `binary` becomes
/// `imagegate` (mode 0755); every `(path, bytes)` of `extra` a file of mode 0644.
pub fn package(
    out: &Path,
    version: &str,
    triple: &str,
    binary: &[u8],
    extra: &[(String, Vec<u8>)],
) -> Result<Vec<PathBuf>> {
    let name = format!("imagegate-{version}-{triple}");
    let mtime: u64 = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH `{v}` is not a number of seconds"))?,
        Err(_) => 0,
    };
    let mut files: Vec<(String, &[u8], u32)> = vec![("imagegate".into(), binary, 0o755)];
    files.extend(extra.iter().map(|(p, b)| (p.clone(), b.as_slice(), 0o644)));
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut dirs: Vec<String> = vec![name.clone()];
    for (path, _, _) in &files {
        let mut at = name.clone();
        for part in Path::new(path)
            .parent()
            .into_iter()
            .flat_map(Path::components)
        {
            at = format!("{at}/{}", part.as_os_str().to_string_lossy());
            if !dirs.contains(&at) {
                dirs.push(at.clone());
            }
        }
    }
    for dir in &dirs {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_mtime(mtime);
        h.set_size(0);
        h.set_uid(0);
        h.set_gid(0);
        tar.append_data(&mut h, format!("{dir}/"), std::io::empty())?;
    }
    for (path, bytes, mode) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(*mode);
        h.set_mtime(mtime);
        h.set_size(bytes.len() as u64);
        h.set_uid(0);
        h.set_gid(0);
        tar.append_data(&mut h, format!("{name}/{path}"), *bytes)?;
    }
    let archive = tar.into_inner()?.finish()?;
    std::fs::create_dir_all(out).with_context(|| format!("{}", out.display()))?;
    let file = format!("{name}.tar.gz");
    let path = out.join(&file);
    std::fs::write(&path, &archive).with_context(|| format!("{}", path.display()))?;
    let sum = out.join(format!("{file}.sha256"));
    let mut f = std::fs::File::create(&sum).with_context(|| format!("{}", sum.display()))?;
    writeln!(f, "{}  {file}", hex::encode(Sha256::digest(&archive)))?;
    Ok(vec![path, sum])
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("dist: {}", path.display()))
}

fn sorted_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("dist: {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    out.retain(|p| p.is_file());
    out.sort();
    Ok(out)
}

/// The workspace's `version` (`[workspace.package]` of the root `Cargo.toml`).
fn workspace_version(root: &Path) -> Result<String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
            continue;
        }
        if in_package {
            if let Some(v) = line.strip_prefix("version") {
                let v = v.trim_start().strip_prefix('=').map(str::trim);
                if let Some(v) = v.and_then(|v| v.strip_prefix('"')?.strip_suffix('"')) {
                    return Ok(v.to_owned());
                }
            }
        }
    }
    bail!("no version in [workspace.package] of Cargo.toml")
}

/// The host's target triple, as rustc names it.
fn host_triple() -> Result<String> {
    let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("-vV")
        .output()
        .context("could not run rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(archive: &Path) -> Vec<(String, u32, u64)> {
        let f = std::fs::File::open(archive).unwrap();
        let mut t = tar::Archive::new(flate2::read::GzDecoder::new(f));
        t.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn the_archive_holds_one_folder_with_the_binary_and_a_checksum_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let extra = vec![
            ("README.md".to_owned(), b"# imagegate\n".to_vec()),
            ("man/imagegate.1".to_owned(), b".TH x\n".to_vec()),
        ];
        let written = package(
            dir.path(),
            "1.2.3",
            "x86_64-unknown-linux-musl",
            b"BIN",
            &extra,
        )
        .unwrap();
        let archive = &written[0];
        assert!(archive.ends_with("imagegate-1.2.3-x86_64-unknown-linux-musl.tar.gz"));
        let names: Vec<(String, u32, u64)> = entries(archive);
        let root = "imagegate-1.2.3-x86_64-unknown-linux-musl";
        assert_eq!(
            names,
            [
                (format!("{root}/"), 0o755, 0),
                (format!("{root}/man/"), 0o755, 0),
                (format!("{root}/README.md"), 0o644, 0),
                (format!("{root}/imagegate"), 0o755, 0),
                (format!("{root}/man/imagegate.1"), 0o644, 0),
            ]
        );
        // The checksum file is what `sha256sum -c` reads, and it is the archive's.
        let sum = std::fs::read_to_string(&written[1]).unwrap();
        let want = hex::encode(Sha256::digest(std::fs::read(archive).unwrap()));
        assert_eq!(
            sum,
            format!("{want}  imagegate-1.2.3-x86_64-unknown-linux-musl.tar.gz\n")
        );
        let check = Command::new("sha256sum")
            .arg("-c")
            .arg(written[1].file_name().unwrap())
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(check.status.success(), "{check:?}");
        // Reproducible: the same inputs give the same bytes.
        let again = tempfile::tempdir().unwrap();
        let second = package(
            again.path(),
            "1.2.3",
            "x86_64-unknown-linux-musl",
            b"BIN",
            &extra,
        )
        .unwrap();
        assert_eq!(
            std::fs::read(archive).unwrap(),
            std::fs::read(&second[0]).unwrap()
        );
    }

    /// A one-thread HTTP/1.0 file server on the loopback interface, for the installer test:
    /// `GET /<path>` answers the file under `dir`, or 404.
    fn serve(dir: PathBuf) -> String {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let file = dir.join(path.trim_start_matches('/'));
                let reply = match std::fs::read(&file) {
                    Ok(body) if !path.contains("..") => {
                        let mut r = format!(
                            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        r.extend(body);
                        r
                    }
                    _ => {
                        b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = stream.write_all(&reply);
            }
        });
        format!("http://{addr}")
    }

    fn install(base: &str, version: &str, dest: &Path) -> std::process::Output {
        let script = crate::workspace_root().join("action/install.sh");
        Command::new("bash")
            .arg(script)
            .env("IG_VERSION", version)
            .env("IG_DEST", dest)
            .env("IG_RELEASE_BASE", base)
            .env("IG_TARGET", "x86_64-unknown-linux-musl")
            .output()
            .unwrap()
    }

    #[test]
    fn the_action_installs_a_verified_release_and_refuses_a_tampered_one() {
        let releases = tempfile::tempdir().unwrap();
        let tag = releases.path().join("v9.9.9");
        let binary = b"#!/bin/sh\necho imagegate 9.9.9\n";
        let written = package(&tag, "9.9.9", "x86_64-unknown-linux-musl", binary, &[]).unwrap();
        let base = serve(releases.path().to_path_buf());

        let dest = tempfile::tempdir().unwrap();
        let out = install(&base, "v9.9.9", dest.path());
        assert!(out.status.success(), "{out:?}");
        let installed = dest.path().join("imagegate");
        let ran = Command::new(&installed).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&ran.stdout), "imagegate 9.9.9\n");

        // One byte changed after the checksum was written: refused, nothing installed.
        let mut bytes = std::fs::read(&written[0]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&written[0], &bytes).unwrap();
        let dest = tempfile::tempdir().unwrap();
        let out = install(&base, "v9.9.9", dest.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains("checksum mismatch"), "{err}");
        assert!(!dest.path().join("imagegate").exists());

        // A release that does not exist, and a ref that is no release tag.
        let out = install(&base, "v9.9.8", dest.path());
        assert!(String::from_utf8_lossy(&out.stderr).contains("could not download"));
        let out = install(&base, "main", dest.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains("build-from-source: true"), "{err}");
        assert!(!dest.path().join("imagegate").exists());
    }

    #[test]
    fn the_action_refuses_a_macos_runner_with_a_reason() {
        let dest = tempfile::tempdir().unwrap();
        for (os, arch) in [("macOS", "ARM64"), ("macOS", "X64")] {
            let out = Command::new("bash")
                .arg(crate::workspace_root().join("action/install.sh"))
                .env("IG_VERSION", "v9.9.9")
                .env("IG_DEST", dest.path())
                .env("IG_RELEASE_BASE", "http://127.0.0.1:9")
                .env_remove("IG_TARGET")
                .env("RUNNER_OS", os)
                .env("RUNNER_ARCH", arch)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{os}/{arch}");
            assert!(err.contains("runs on Linux only"), "{os}/{arch}: {err}");
            assert!(!dest.path().join("imagegate").exists());
        }
    }

    #[test]
    fn arguments_are_checked() {
        let s = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            Options::parse(&s(&[
                "--target",
                "aarch64-apple-darwin",
                "--profile",
                "dev"
            ]))
            .unwrap(),
            Options {
                target: Some("aarch64-apple-darwin".into()),
                profile: "dev".into(),
                out: None
            }
        );
        assert!(Options::parse(&s(&["--target"])).is_err());
        assert!(Options::parse(&s(&["--frobnicate"])).is_err());
    }

    #[test]
    fn the_workspace_version_is_read_from_the_root_manifest() {
        let root = crate::workspace_root();
        let v = workspace_version(&root).unwrap();
        assert!(v.split('.').count() == 3, "{v}");
    }
}
