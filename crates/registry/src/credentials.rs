//! The credentials people already have: `GHCR_TOKEN` or `GITHUB_TOKEN` for ghcr.io, the
//! `auths` of `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`), the credential helper
//! it names for a registry (`credHelpers`, else `credsStore`: `docker-credential-<name> get`,
//! as `docker` runs it), else anonymous.
//!
//! The helper is a program the user's own Docker configuration names (never anything from the
//! repository under check), found on `PATH`, with a name of letters, digits, `-`, `_` and `.`
//! only; it gets the registry on stdin and no arguments but `get`, and it is bounded
//! ([`HELPER_TIMEOUT`], [`HELPER_OUTPUT`]) and killed past them. A helper that fails or has
//! nothing for the registry leaves it anonymous. Secrets are kept only in memory, sent only to
//! the registry they are for, and never printed: [`Credentials`]' `Debug` names the registries,
//! not the secrets.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

/// The longest a credential helper may run.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(10);
/// The most a credential helper may print.
pub const HELPER_OUTPUT: usize = 64 * 1024;

/// A user name and password (or token).
type Pair = (String, String);

/// Credentials by registry host.
#[derive(Clone, Default)]
pub struct Credentials {
    /// `host[:port]` → user name and password (or token).
    basic: BTreeMap<String, Pair>,
    /// `host[:port]` → the credential helper for it (`credHelpers`).
    helpers: BTreeMap<String, String>,
    /// The helper for every other registry (`credsStore`).
    store: Option<String>,
    /// Where helpers are looked for (default: `PATH`).
    search: Option<Vec<PathBuf>>,
    /// How long a helper may run (default: [`HELPER_TIMEOUT`]).
    timeout: Option<Duration>,
    /// What each helper said, asked once per registry.
    asked: Arc<Mutex<BTreeMap<String, Option<Pair>>>>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("registries", &self.basic.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

/// What `docker-credential-<name> get` prints.
#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

#[derive(Deserialize)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

impl Credentials {
    /// From the environment: the Docker configuration file, then `GHCR_TOKEN` (or
    /// `GITHUB_TOKEN`) for ghcr.io, which wins over the file. A configuration file that exists
    /// but cannot be read is an error naming it.
    pub fn from_environment() -> Result<Self, String> {
        let mut creds = match docker_config_path() {
            Some(path) if path.is_file() => Self::from_docker_config(&path)?,
            _ => Self::default(),
        };
        let token = std::env::var("GHCR_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .or_else(|| std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()));
        if let Some(token) = token {
            // ghcr.io takes any user name with a token as the password.
            creds.insert("ghcr.io", "imagegate".into(), token);
        }
        Ok(creds)
    }

    /// The `auths` of a Docker configuration file (`docker login` writes them).
    pub fn from_docker_config(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "{}: cannot read the Docker configuration: {e}",
                path.display()
            )
        })?;
        let config: DockerConfig = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}:{}: not a Docker configuration file: {e}",
                path.display(),
                e.line()
            )
        })?;
        let mut creds = Self::default();
        for (key, auth) in config.auths {
            let pair = match (&auth.username, &auth.password, &auth.auth) {
                (Some(u), Some(p), _) => Some((u.clone(), p.clone())),
                (_, _, Some(encoded)) if !encoded.is_empty() => {
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(encoded.trim())
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| {
                            format!(
                                "{}: the `auth` of `{key}` is not base64 of `user:password`",
                                path.display()
                            )
                        })?;
                    decoded
                        .split_once(':')
                        .map(|(u, p)| (u.to_owned(), p.to_owned()))
                }
                _ => None,
            };
            let pair = pair.or_else(|| {
                auth.identity_token
                    .clone()
                    .map(|t| ("<token>".to_owned(), t))
            });
            if let Some((user, password)) = pair {
                creds.insert(&key, user, password);
            }
        }
        for (registry, helper) in config.cred_helpers {
            creds.helpers.insert(host_of(&registry), helper);
        }
        creds.store = config.creds_store.filter(|s| !s.is_empty());
        Ok(creds)
    }

    /// Looks for credential helpers in `dirs` instead of `PATH`.
    pub fn with_helper_search(mut self, dirs: Vec<PathBuf>) -> Self {
        self.search = Some(dirs);
        self
    }

    /// Gives each credential helper `timeout` instead of [`HELPER_TIMEOUT`].
    pub fn with_helper_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds (or replaces) the credentials of `registry` (a host, or a URL as Docker writes them).
    pub fn insert(&mut self, registry: &str, user: String, password: String) {
        self.basic.insert(host_of(registry), (user, password));
    }

    /// What to send to `registry` (`host[:port]`, as the reference resolves it).
    pub fn for_registry(&self, registry: &str) -> RegistryAuth {
        let host = host_of(registry);
        if let Some((user, password)) = self.basic.get(&host) {
            return RegistryAuth::Basic(user.clone(), password.clone());
        }
        let Some(helper) = self.helpers.get(&host).or(self.store.as_ref()) else {
            return RegistryAuth::Anonymous;
        };
        let pair = {
            let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
            asked
                .entry(host.clone())
                .or_insert_with(|| self.ask_helper(helper, &host))
                .clone()
        };
        match pair {
            Some((user, password)) => RegistryAuth::Basic(user, password),
            None => RegistryAuth::Anonymous,
        }
    }

    /// `docker-credential-<helper> get` with the registry on stdin, bounded; `None` when the
    /// helper is not there, fails, runs too long or has nothing for the registry.
    fn ask_helper(&self, helper: &str, host: &str) -> Option<Pair> {
        let valid = !helper.is_empty()
            && helper
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return None;
        }
        let name = format!("docker-credential-{helper}");
        let dirs = self.search.clone().unwrap_or_else(|| {
            std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect())
                .unwrap_or_default()
        });
        let program = dirs.iter().map(|d| d.join(&name)).find(|p| p.is_file())?;
        // Docker keeps Docker Hub's credentials under its v1 URL.
        let server = if host == "index.docker.io" {
            "https://index.docker.io/v1/".to_owned()
        } else {
            host.to_owned()
        };
        let mut child = Command::new(program)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(server.as_bytes());
        }
        let mut stdout = child.stdout.take()?;
        // Read on a thread that hands the bytes over: a helper that leaves a child holding its
        // stdout cannot stall the run past the deadline either.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = (&mut stdout)
                .take(HELPER_OUTPUT as u64 + 1)
                .read_to_end(&mut out);
            let _ = tx.send(out);
        });
        let deadline = self.timeout.unwrap_or(HELPER_TIMEOUT);
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if start.elapsed() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        if !status?.success() {
            return None;
        }
        let out = rx
            .recv_timeout(deadline.saturating_sub(start.elapsed()))
            .ok()?;
        if out.len() > HELPER_OUTPUT {
            return None;
        }
        let answer: HelperAnswer = serde_json::from_slice(&out).ok()?;
        (!answer.secret.is_empty()).then_some((answer.username, answer.secret))
    }
}

/// `https://index.docker.io/v1/` → `index.docker.io`; `docker.io` and `registry-1.docker.io`
/// are the same registry as `index.docker.io`.
fn host_of(registry: &str) -> String {
    let s = registry
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or_default().to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "registry-1.docker.io" => "index.docker.io".to_owned(),
        _ => host,
    }
}

fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_auths_by_host() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("config.json");
        let encoded = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        std::fs::write(
            &path,
            format!(
                r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{encoded}"}},
                    "127.0.0.1:5000": {{"username": "bob", "password": "pw"}},
                    "empty.example": {{}}}}, "credsStore": "desktop"}}"#
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let creds = Credentials::from_docker_config(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            creds.for_registry("index.docker.io"),
            RegistryAuth::Basic(u, p) if u == "alice" && p == "s3cret"
        ));
        assert!(matches!(
            creds.for_registry("127.0.0.1:5000"),
            RegistryAuth::Basic(u, _) if u == "bob"
        ));
        assert!(matches!(
            creds.for_registry("empty.example"),
            RegistryAuth::Anonymous
        ));
        assert!(matches!(
            creds.for_registry("ghcr.io"),
            RegistryAuth::Anonymous
        ));
        // Debug names the registries, never a secret.
        let shown = format!("{creds:?}");
        assert!(shown.contains("127.0.0.1:5000"), "{shown}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("pw\""),
            "{shown}"
        );
    }

    /// A `docker-credential-<name>` script in `dir` that prints `body` for `registry` and
    /// nothing (exit 1) for any other.
    fn helper(dir: &Path, name: &str, registry: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join(format!("docker-credential-{name}"));
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread -r server\n[ \"$server\" = \"{registry}\" ] || {{ echo 'credentials not found'; exit 1; }}\nprintf '%s' '{body}'\n"
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn credential_helpers_are_asked_for_their_registries_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap_or_else(|e| panic!("{e}"));
        helper(
            &bin,
            "corp",
            "registry.corp.example",
            r#"{"ServerURL":"registry.corp.example","Username":"ci","Secret":"t0ken"}"#,
        );
        helper(
            &bin,
            "desktop",
            "https://index.docker.io/v1/",
            r#"{"Username":"hub","Secret":"hubpw"}"#,
        );
        helper(&bin, "broken", "x", "not json");
        // A helper that prints more than it may: read up to the bound, then refused.
        {
            use std::os::unix::fs::PermissionsExt as _;
            let flood = bin.join("docker-credential-flood");
            std::fs::write(
                &flood,
                "#!/bin/sh\nprintf '{\"Username\":\"u\",\"Secret\":\"'\nhead -c 100000 /dev/zero | tr '\\0' x\nprintf '\"}'\n",
            )
            .unwrap_or_else(|e| panic!("{e}"));
            std::fs::set_permissions(&flood, std::fs::Permissions::from_mode(0o755))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths": {"127.0.0.1:5000": {"username": "bob", "password": "pw"}},
                "credHelpers": {"registry.corp.example": "corp", "bad.example": "../../bin/sh",
                                "odd.example": "broken", "gone.example": "absent",
                                "big.example": "flood"},
                "credsStore": "desktop"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let creds = Credentials::from_docker_config(&path)
            .unwrap_or_else(|e| panic!("{e}"))
            .with_helper_search(vec![bin]);
        assert!(matches!(
            creds.for_registry("registry.corp.example"),
            RegistryAuth::Basic(u, p) if u == "ci" && p == "t0ken"
        ));
        // The store answers for Docker Hub under its v1 URL, as Docker keeps it.
        assert!(matches!(
            creds.for_registry("docker.io"),
            RegistryAuth::Basic(u, p) if u == "hub" && p == "hubpw"
        ));
        // `auths` wins over any helper.
        assert!(matches!(
            creds.for_registry("127.0.0.1:5000"),
            RegistryAuth::Basic(u, _) if u == "bob"
        ));
        // A helper name with a path, a helper that prints no JSON, one that is not installed,
        // one that prints past the bound, and the store that has nothing for a registry:
        // anonymous.
        for registry in [
            "bad.example",
            "odd.example",
            "gone.example",
            "big.example",
            "ghcr.io",
        ] {
            assert!(
                matches!(creds.for_registry(registry), RegistryAuth::Anonymous),
                "{registry}"
            );
        }
        assert!(!format!("{creds:?}").contains("t0ken"));
    }

    #[test]
    fn a_credential_helper_that_hangs_is_killed_at_the_deadline() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let script = dir.path().join("docker-credential-slow");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 600\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let config = dir.path().join("config.json");
        std::fs::write(&config, r#"{"credsStore": "slow"}"#).unwrap_or_else(|e| panic!("{e}"));
        let creds = Credentials::from_docker_config(&config)
            .unwrap_or_else(|e| panic!("{e}"))
            .with_helper_search(vec![dir.path().to_path_buf()])
            .with_helper_timeout(Duration::from_millis(300));
        let start = Instant::now();
        assert!(matches!(
            creds.for_registry("example.org"),
            RegistryAuth::Anonymous
        ));
        // Killed at its deadline, not waited for (it would sleep for ten minutes).
        assert!(start.elapsed() < Duration::from_secs(60));
    }

    #[test]
    fn a_broken_docker_config_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{\n  \"auths\": [\n").unwrap_or_else(|e| panic!("{e}"));
        let err = Credentials::from_docker_config(&path)
            .map(|_| ())
            .unwrap_err();
        assert!(err.contains("config.json:"), "{err}");
        assert!(err.contains("not a Docker configuration file"), "{err}");
    }
}
