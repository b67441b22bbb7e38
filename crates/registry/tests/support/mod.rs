//! A real OCI registry on the loopback interface for tests: the reference distribution registry
//! (`docker-registry`, Debian's package), started in a temporary folder on a free port and
//! killed when the guard drops (also on panic), and small images built here as OCI layouts and
//! pushed with `skopeo`, digests preserved.
//!
//! Without `docker-registry` or `skopeo` the tests fail with what to install (`cargo xtask test`
//! installs both).

#![allow(dead_code)]

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

/// The longest a test waits for the registry to answer, or for one skopeo copy.
const DEADLINE: Duration = Duration::from_secs(60);

fn need(tool: &str) -> PathBuf {
    // nginx is in /usr/sbin, which a user's PATH may lack.
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    dirs.push("/usr/sbin".into());
    for dir in dirs {
        let candidate = dir.join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{tool}` is not installed; the registry tests need the Debian packages docker-registry, \
         skopeo and nginx-light (`cargo xtask test` installs them, or `apt-get install -y docker-registry skopeo nginx-light`)"
    );
}

/// A running registry; killed on drop.
pub struct TestRegistry {
    child: Child,
    dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// The user and password, when the registry requires them.
    pub login: Option<(String, String)>,
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound, then released for the registry to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

impl TestRegistry {
    /// An anonymous registry.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// A registry that requires `user`/`password` (htpasswd, bcrypt).
    pub fn start_with_login(user: &str, password: &str) -> Self {
        Self::start_with(Some((user.to_owned(), password.to_owned())))
    }

    fn start_with(login: Option<(String, String)>) -> Self {
        let binary = need("docker-registry");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let auth = match &login {
            Some((user, password)) => {
                let hash = bcrypt::hash(password, 4).unwrap_or_else(|e| panic!("{e}"));
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, format!("{user}:{hash}\n")).unwrap_or_else(|e| panic!("{e}"));
                format!(
                    "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                    file.display()
                )
            }
            None => String::new(),
        };
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n{auth}",
                dir.path().join("data").display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start docker-registry: {e}"));
        let registry = Self {
            child,
            dir,
            host,
            login,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if std::net::TcpStream::connect(&self.host).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "docker-registry did not listen on {} within {DEADLINE:?}",
            self.host
        );
    }

    /// Pushes the OCI layout `image` as `repo:tag`, digests preserved; returns the pushed digest.
    pub fn push(&self, image: &Layout, repo: &str, tag: &str) -> String {
        let skopeo = need("skopeo");
        let mut cmd = Command::new(skopeo);
        cmd.args([
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
            "-q",
        ]);
        if let Some((user, password)) = &self.login {
            cmd.arg(format!("--dest-creds={user}:{password}"));
        }
        cmd.arg(format!("oci:{}:{}", image.dir.path().display(), image.tag))
            .arg(format!("docker://{}/{repo}:{tag}", self.host))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run skopeo: {e}"));
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() < DEADLINE => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("skopeo copy did not finish within {DEADLINE:?}");
                }
            }
        };
        let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            status.success(),
            "skopeo copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        image.digest.clone()
    }

    /// Stops the registry process (SIGSTOP): connections are still accepted by the kernel,
    /// and no request is answered, as a registry that hangs. [`TestRegistry::resume`] undoes it.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused registry run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, which: &str) {
        let status = Command::new("kill")
            .arg(which)
            .arg(self.child.id().to_string())
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
        assert!(status.success(), "kill {which} failed");
    }

    /// Changes one character of the stored blob `digest` (a manifest, say) on the registry's
    /// disk, keeping its size and its JSON valid: the registry then serves, under that digest
    /// and its tags, bytes whose sha256 is another, as a corrupted store or a tampering proxy
    /// would. The reference registry does not check what it reads back, so this is a real
    /// registry answering with a digest that does not match its bytes.
    pub fn corrupt_blob(&self, digest: &str) {
        let hex = digest.trim_start_matches("sha256:");
        let path = self
            .dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data");
        let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let at = bytes
            .windows(7)
            .position(|w| w == b"sha256:")
            .unwrap_or_else(|| panic!("no digest inside the blob {digest}"))
            + 7;
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(sha256(&bytes), digest, "the stored bytes changed");
    }

    /// `127.0.0.1:PORT/repo`.
    pub fn repo(&self, repo: &str) -> String {
        format!("{}/{repo}", self.host)
    }
}

/// Debian's nginx as a reverse proxy in front of a [`TestRegistry`], the way registries are often
/// deployed, with two of its own rules: its access module denies `/v2/acme/denied/` (403), and
/// its request limiter lets one request a minute reach `/v2/acme/limited/` and answers the rest
/// with 429. Everything else passes through. Killed on drop.
pub struct TestProxy {
    child: Child,
    _dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub host: String,
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestProxy {
    pub fn start(upstream: &TestRegistry) -> Self {
        let binary = need("nginx");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path().display();
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let pass = format!(
            "proxy_pass http://{}; proxy_set_header Host $http_host; client_max_body_size 0;",
            upstream.host
        );
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               limit_req_zone $binary_remote_addr zone=registry:1m rate=1r/m;\n  limit_req_status 429;\n\
               server {{\n    listen {host};\n\
                 location /v2/acme/denied/ {{ deny all; }}\n\
                 location /v2/acme/limited/ {{ limit_req zone=registry; {pass} }}\n\
                 location / {{ {pass} }}\n  }}\n}}\n"
        );
        let file = dir.path().join("nginx.conf");
        std::fs::write(&file, config).unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(binary)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nginx: {e}"));
        let mut proxy = Self {
            child,
            _dir: dir,
            host,
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(&proxy.host).is_err() {
            if let Ok(Some(status)) = proxy.child.try_wait() {
                let log = std::fs::read_to_string(proxy._dir.path().join("error.log"))
                    .unwrap_or_default();
                panic!("nginx exited ({status}): {log}");
            }
            assert!(
                start.elapsed() < DEADLINE,
                "nginx did not listen on {} within {DEADLINE:?}",
                proxy.host
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        proxy
    }
}

/// An OCI image layout in a temporary folder, with one tag.
pub struct Layout {
    dir: tempfile::TempDir,
    tag: String,
    /// The digest of its top manifest (the index, for a multi-platform image).
    pub digest: String,
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn write_blob(dir: &Path, bytes: &[u8]) -> (String, usize) {
    let digest = sha256(bytes);
    let path = dir
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{e}"));
    (digest, bytes.len())
}

/// One image manifest for `platform` (`os/arch[/variant]`), its layer holding `content`.
fn image_manifest(dir: &Path, platform: &str, content: &str) -> (String, usize) {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, "hello.txt", content.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let tar = tar.into_inner().unwrap_or_else(|e| panic!("{e}"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap_or_else(|e| panic!("{e}"));
    let gz = gz.finish().unwrap_or_else(|e| panic!("{e}"));
    let (layer, layer_size) = write_blob(dir, &gz);
    let parts: Vec<&str> = platform.split('/').collect();
    let mut config = serde_json::json!({
        "architecture": parts[1],
        "os": parts[0],
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256(&tar)]},
    });
    if let Some(v) = parts.get(2) {
        config["variant"] = serde_json::json!(v);
    }
    let (config, config_size) = write_blob(dir, config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": layer_size}],
    });
    write_blob(dir, manifest.to_string().as_bytes())
}

impl Layout {
    /// A single-platform image (`linux/amd64`), its layer holding `content`.
    pub fn single(platform: &str, content: &str) -> Self {
        Self::build(&[platform], content, false)
    }

    /// A multi-platform image index over `platforms`.
    pub fn index(platforms: &[&str], content: &str) -> Self {
        Self::build(platforms, content, true)
    }

    fn build(platforms: &[&str], content: &str, index: bool) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap_or_else(|e| panic!("{e}"));
        let manifests: Vec<(String, usize, &str)> = platforms
            .iter()
            .map(|p| {
                let (d, s) = image_manifest(dir.path(), p, &format!("{content} {p}"));
                (d, s, *p)
            })
            .collect();
        let (media_type, (digest, size)) = if index {
            let entries: Vec<serde_json::Value> = manifests
                .iter()
                .map(|(d, s, p)| {
                    let parts: Vec<&str> = p.split('/').collect();
                    let mut platform =
                        serde_json::json!({"architecture": parts[1], "os": parts[0]});
                    if let Some(v) = parts.get(2) {
                        platform["variant"] = serde_json::json!(v);
                    }
                    serde_json::json!({
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": d, "size": s, "platform": platform,
                    })
                })
                .collect();
            let index = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": entries,
            });
            (
                "application/vnd.oci.image.index.v1+json",
                write_blob(dir.path(), index.to_string().as_bytes()),
            )
        } else {
            let (d, s, _) = manifests[0].clone();
            ("application/vnd.oci.image.manifest.v1+json", (d, s))
        };
        let tag = "t".to_owned();
        let top = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": media_type, "digest": digest, "size": size,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }],
        });
        std::fs::write(dir.path().join("index.json"), top.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Self { dir, tag, digest }
    }
}
