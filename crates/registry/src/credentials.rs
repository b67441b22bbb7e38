//! The credentials people already have: `GHCR_TOKEN` or `GITHUB_TOKEN` for ghcr.io, the
//! `auths` of `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`), else anonymous.
//!
//! Secrets are kept only in memory, sent only to the registry they are for, and never printed:
//! [`Credentials`]' `Debug` names the registries, not the secrets.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

/// Credentials by registry host.
#[derive(Clone, Default)]
pub struct Credentials {
    /// `host[:port]` → user name and password (or token).
    basic: BTreeMap<String, (String, String)>,
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
        Ok(creds)
    }

    /// Adds (or replaces) the credentials of `registry` (a host, or a URL as Docker writes them).
    pub fn insert(&mut self, registry: &str, user: String, password: String) {
        self.basic.insert(host_of(registry), (user, password));
    }

    /// What to send to `registry` (`host[:port]`, as the reference resolves it).
    pub fn for_registry(&self, registry: &str) -> RegistryAuth {
        let host = host_of(registry);
        match self.basic.get(&host) {
            Some((user, password)) => RegistryAuth::Basic(user.clone(), password.clone()),
            None => RegistryAuth::Anonymous,
        }
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
