//! imagegate's registry client, for `check --registry`: what an OCI registry says about each
//! digest-pinned image ([`imagegate_policy::RemoteFacts`]), for the pure `registry-*` rules; and
//! for `imagegate pin`, the digest an unpinned reference points at now ([`Registry::resolve`]).
//!
//! For one reference `repo[:tag]@sha256:…` it
//! - fetches the manifest (or index) by digest with the OCI and Docker accept types and checks
//!   that the sha256 of the bytes is the pinned digest (a registry that answers with other bytes
//!   is an error, never a pass);
//! - lists the platforms it covers: an index's `platform` entries, or the `os/architecture` of
//!   an image manifest's configuration blob (also checked against its digest);
//! - resolves the tag, when there is one, to the digest it points at now.
//!
//! The HTTP side is [`oci_client`] (the ORAS project's OCI distribution client, on `tokio` and
//! `reqwest`): maintained, released often, it speaks the distribution API's token and basic auth
//! challenges, verifies manifest digests against the bytes and `Docker-Content-Digest`, and lets
//! a caller choose plain HTTP per registry. TLS is rustls with the `ring` provider, so the binary
//! links no system OpenSSL.
//!
//! Around it this crate adds what a CI run needs: per-request timeouts, retries with exponential
//! backoff on 429, 5xx and connection failures, a semaphore bounding the requests in flight, and
//! one cache per run (each reference is asked once, concurrent askers wait for the first), whose
//! tag → digest answers can be kept in a file for the other processes of the run
//! ([`Options::answers`]). The
//! credentials are the ones people already have ([`Credentials`]); plain `http://` is used only
//! for loopback registries and those named with `--insecure-registry`.

#![warn(clippy::print_stdout, clippy::print_stderr)]

mod answers;
mod credentials;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imagegate_policy::RemoteFacts;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use tokio::sync::{OnceCell, Semaphore};

pub use credentials::Credentials;

/// The manifest media types asked for: OCI and Docker, image and index.
const ACCEPT: [&str; 4] = [
    OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
    IMAGE_MANIFEST_MEDIA_TYPE,
];

/// The largest image configuration blob read (they are a few KiB).
const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;

/// How the client talks to registries.
#[derive(Debug, Clone)]
pub struct Options {
    /// Requests in flight at once, over all registries.
    pub concurrency: usize,
    /// Time to connect.
    pub connect_timeout: Duration,
    /// The longest wait for one request, retries not counted.
    pub request_timeout: Duration,
    /// Attempts per request (the first one included) on 429, 5xx and connection failures.
    pub attempts: u32,
    /// The wait before the first retry; doubled for each next one.
    pub backoff: Duration,
    /// Registries (`host[:port]`) reached over plain HTTP besides the loopback ones.
    pub insecure: BTreeSet<String>,
    /// The credentials.
    pub credentials: Credentials,
    /// The file of this run's tag → digest answers, shared by its processes: read when the
    /// client starts, written by [`Registry::save`]. `None`: this process is the run.
    pub answers: Option<PathBuf>,
    /// Answers in that file older than this are asked again.
    pub answers_max_age: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            concurrency: 8,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            attempts: 4,
            backoff: Duration::from_millis(250),
            insecure: BTreeSet::new(),
            credentials: Credentials::default(),
            answers: None,
            answers_max_age: Duration::from_secs(60 * 60),
        }
    }
}

/// Why a registry could not say anything about an image: the run cannot judge it, and fails
/// with exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryError {
    /// The image reference, as rendered.
    pub image: String,
    /// What went wrong, and what to do.
    pub message: String,
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.image, self.message)
    }
}

impl std::error::Error for RegistryError {}

/// Answers by key, each filled once by the first asker.
type Cells<T> = Mutex<HashMap<String, Arc<OnceCell<Result<T, String>>>>>;

/// A client for one run: cheap to share between threads, every answer cached.
pub struct Registry {
    runtime: tokio::runtime::Runtime,
    https: Client,
    http: Client,
    options: Options,
    permits: Arc<Semaphore>,
    cache: Cells<RemoteFacts>,
    /// Where each tag points, by [`answers::Kind::key`].
    tags: Cells<Option<String>>,
    /// The run's answers file, when there is one.
    run: Option<answers::Answers>,
}

/// Why one request failed, as far as the rules care.
enum Failure {
    /// The registry says the manifest (or repository, or tag) does not exist.
    NotFound,
    /// Anything else: the registry could not be asked.
    Other(String),
}

impl Registry {
    /// A client with `options`; starts its own small runtime. A run answers file that cannot
    /// be read is an error naming it.
    pub fn new(options: Options) -> Result<Self, String> {
        let run = options
            .answers
            .as_deref()
            .map(|p| answers::Answers::open(p, options.answers_max_age))
            .transpose()?;
        // A provider may already be installed (by an earlier client in this process).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the registry client's runtime: {e}"))?;
        let config = |protocol| ClientConfig {
            protocol,
            connect_timeout: Some(options.connect_timeout),
            read_timeout: Some(options.request_timeout),
            platform_resolver: None,
            user_agent: concat!("imagegate/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        Ok(Self {
            https: Client::new(config(ClientProtocol::Https)),
            http: Client::new(config(ClientProtocol::Http)),
            permits: Arc::new(Semaphore::new(options.concurrency.max(1))),
            options,
            runtime,
            cache: Mutex::new(HashMap::new()),
            tags: Mutex::new(HashMap::new()),
            run,
        })
    }

    /// Writes this process's tag answers into the run's answers file, if it has one.
    pub fn save(&self) -> Result<(), String> {
        self.run.as_ref().map_or(Ok(()), answers::Answers::save)
    }

    /// What the registry says about the digest-pinned `image` (asked once per run; later calls
    /// get the first answer). Blocks; call it from plain threads, not from an async task.
    pub fn facts(&self, image: &str) -> Result<RemoteFacts, RegistryError> {
        self.once(&self.cache, image, self.lookup(image))
    }

    /// The answer for `image` in `cache`, asked with `ask` by the first caller only.
    fn once<T: Clone>(
        &self,
        cache: &Cells<T>,
        image: &str,
        ask: impl std::future::Future<Output = Result<T, String>>,
    ) -> Result<T, RegistryError> {
        let cell = {
            let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(cache.entry(image.to_owned()).or_default())
        };
        let answer = self.runtime.block_on(cell.get_or_init(|| ask));
        answer.clone().map_err(|message| RegistryError {
            image: image.to_owned(),
            message,
        })
    }

    /// The digest `image` (`repo[:tag]`; no tag is `latest`) points at now, for `pin`: the
    /// sha256 of the manifest (or index) bytes the registry serves for the tag, computed here,
    /// never read from a header. `Ok(None)` when the registry has no such tag or repository.
    /// Asked once per run (with an answers file, once over its processes); later calls get the
    /// first answer. Blocks, as [`Registry::facts`].
    pub fn resolve(&self, image: &str) -> Result<Option<String>, RegistryError> {
        self.runtime
            .block_on(self.resolve_tag(image))
            .map_err(|message| RegistryError {
                image: image.to_owned(),
                message,
            })
    }

    /// Where `by_tag` points, asked `kind`'s way once per run: from the run's answers file when
    /// an earlier process asked, else from the registry (and then kept for the file).
    async fn tag_digest<F, Fut>(
        &self,
        kind: answers::Kind,
        by_tag: &Reference,
        ask: F,
    ) -> Result<Option<String>, String>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<String>, String>>,
    {
        let key = kind.key(&by_tag.whole());
        let cell = {
            let mut tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(tags.entry(key.clone()).or_default())
        };
        cell.get_or_init(|| async {
            if let Some(known) = self.run.as_ref().and_then(|r| r.get(&key)) {
                return Ok(known);
            }
            let answer = ask().await;
            if let (Ok(digest), Some(run)) = (&answer, &self.run) {
                run.record(&key, digest.clone());
            }
            answer
        })
        .await
        .clone()
    }

    async fn resolve_tag(&self, image: &str) -> Result<Option<String>, String> {
        let reference = parse(image)?;
        if let Some(d) = reference.digest() {
            return Ok(Some(d.to_owned()));
        }
        let (client, auth) = self.client_for(&reference);
        let by_tag = Reference::with_tag(
            reference.registry().to_owned(),
            reference.repository().to_owned(),
            reference.tag().unwrap_or("latest").to_owned(),
        );
        self.tag_digest(answers::Kind::Get, &by_tag, || async {
            match self
                .retrying(|| client.pull_manifest_raw(&by_tag, &auth, &ACCEPT))
                .await
            {
                Ok((bytes, _)) => Ok(Some(format!(
                    "sha256:{}",
                    hex::encode(Sha256::digest(&bytes))
                ))),
                Err(Failure::NotFound) => Ok(None),
                Err(Failure::Other(m)) => Err(m),
            }
        })
        .await
    }

    async fn lookup(&self, image: &str) -> Result<RemoteFacts, String> {
        let reference = parse(image)?;
        let Some(digest) = reference.digest().map(str::to_owned) else {
            return Err("the reference has no digest; only pinned images are asked about".into());
        };
        let (client, auth) = self.client_for(&reference);
        let mut facts = RemoteFacts::default();

        let by_digest = Reference::with_digest(
            reference.registry().to_owned(),
            reference.repository().to_owned(),
            digest.clone(),
        );
        let bytes = match self
            .retrying(|| client.pull_manifest_raw(&by_digest, &auth, &ACCEPT))
            .await
        {
            Ok((bytes, _)) => bytes,
            Err(Failure::NotFound) => return Ok(facts),
            Err(Failure::Other(m)) => return Err(m),
        };
        // oci-client checks the bytes against the digest asked for; check again here so a
        // change there cannot turn a lying registry into a pass.
        let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if actual != digest {
            return Err(format!(
                "the registry answered `{digest}` with a manifest whose sha256 is `{actual}`; \
                 the registry (or a proxy in front of it) is serving other bytes, nothing is judged"
            ));
        }
        facts.digest_found = true;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| format!("the manifest `{digest}` is not valid JSON: {e}"))?;
        if let Some(entries) = manifest.manifests {
            facts.index = true;
            facts.platforms = entries
                .iter()
                .filter_map(|m| m.platform.as_ref())
                .filter(|p| p.os != "unknown" && p.architecture != "unknown")
                .map(Platform::name)
                .collect();
        } else if let Some(config) = manifest.config {
            let platform = self
                .config_platform(client, &by_digest, &auth, &config)
                .await?;
            facts.platforms.extend(platform.map(|p| p.name()));
        }

        if let Some(tag) = reference.tag() {
            let by_tag = Reference::with_tag(
                reference.registry().to_owned(),
                reference.repository().to_owned(),
                tag.to_owned(),
            );
            facts.tag_digest = self
                .tag_digest(answers::Kind::Head, &by_tag, || async {
                    match self
                        .retrying(|| client.fetch_manifest_digest(&by_tag, &auth))
                        .await
                    {
                        Ok(d) => Ok(Some(d)),
                        Err(Failure::NotFound) => Ok(None),
                        Err(Failure::Other(m)) => Err(m),
                    }
                })
                .await?;
        }
        Ok(facts)
    }

    /// The `os/architecture[/variant]` of an image manifest's configuration blob.
    async fn config_platform(
        &self,
        client: &Client,
        image: &Reference,
        auth: &RegistryAuth,
        config: &Descriptor,
    ) -> Result<Option<Platform>, String> {
        if config.size > MAX_CONFIG_BYTES as u64 {
            return Err(format!(
                "the image configuration `{}` is {} bytes, more than the {MAX_CONFIG_BYTES} read",
                config.digest, config.size
            ));
        }
        // Only its platform is wanted; a store of the auth the manifest pull already did.
        client
            .store_auth_if_needed(image.resolve_registry(), auth)
            .await;
        let descriptor = oci_client::manifest::OciDescriptor {
            media_type: config.media_type.clone(),
            digest: config.digest.clone(),
            size: config.size as i64,
            ..Default::default()
        };
        let blob = self
            .retrying(|| async {
                let mut out = Vec::new();
                client.pull_blob(image, &descriptor, &mut out).await?;
                Ok(out)
            })
            .await
            .map_err(|f| match f {
                Failure::NotFound => format!(
                    "the manifest's configuration blob `{}` is missing from the registry",
                    config.digest
                ),
                Failure::Other(m) => m,
            })?;
        let actual = format!("sha256:{}", hex::encode(Sha256::digest(&blob)));
        if actual != config.digest {
            return Err(format!(
                "the registry answered the configuration blob `{}` with bytes whose sha256 is `{actual}`",
                config.digest
            ));
        }
        let platform: Option<Platform> = serde_json::from_slice::<Platform>(&blob).ok();
        Ok(platform.filter(|p| !p.os.is_empty() && !p.architecture.is_empty()))
    }

    /// The client (HTTPS, or plain HTTP where allowed) and the credentials for `reference`'s
    /// registry.
    fn client_for(&self, reference: &Reference) -> (&Client, RegistryAuth) {
        let registry = reference.resolve_registry();
        let client = if self.plain_http(registry) {
            &self.http
        } else {
            &self.https
        };
        (client, self.options.credentials.for_registry(registry))
    }

    /// Loopback registries, and those the user named insecure, are reached over plain HTTP.
    fn plain_http(&self, registry: &str) -> bool {
        is_loopback(registry) || self.options.insecure.contains(registry)
    }

    /// Runs `op` with a permit, a timeout, and retries with backoff on what may pass.
    async fn retrying<T, F, Fut>(&self, op: F) -> Result<T, Failure>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
    {
        let mut wait = self.options.backoff;
        let attempts = self.options.attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            let outcome = {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .map_err(|e| Failure::Other(e.to_string()))?;
                tokio::time::timeout(self.options.request_timeout, op()).await
            };
            let error = match outcome {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => e,
                Err(_) => {
                    last = format!("no answer within {:?}", self.options.request_timeout);
                    if attempt < attempts {
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                    continue;
                }
            };
            match classify(&error) {
                Class::NotFound => return Err(Failure::NotFound),
                Class::Fatal(m) => return Err(Failure::Other(m)),
                Class::Transient(m) => last = m,
            }
            if attempt < attempts {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        Err(Failure::Other(format!(
            "{last} (after {attempts} attempts)"
        )))
    }
}

enum Class {
    NotFound,
    Transient(String),
    Fatal(String),
}

/// Sorts an error: "does not exist" is an answer, 429, 5xx and connection failures may pass,
/// the rest (401, 403, a digest that does not match) will not.
fn classify(error: &OciDistributionError) -> Class {
    use OciDistributionError as E;
    match error {
        E::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound
                )
            }) {
                Class::NotFound
            } else if codes.contains(&&OciErrorCode::Toomanyrequests) {
                Class::Transient("the registry asks to slow down (429 Too Many Requests)".into())
            } else if codes.contains(&&OciErrorCode::Denied) {
                Class::Fatal(
                    "the registry denied access (403); check the credentials for this registry \
                     (see docs/security.md)"
                        .into(),
                )
            } else if codes.contains(&&OciErrorCode::Unauthorized) {
                Class::Fatal(unauthorized())
            } else {
                Class::Fatal(format!("the registry refused the request: {envelope}"))
            }
        }
        E::UnauthorizedError { .. } | E::AuthenticationFailure(_) => Class::Fatal(unauthorized()),
        E::ServerError { code: 404, .. } => Class::NotFound,
        E::ServerError { code: 401, .. } => Class::Fatal(unauthorized()),
        E::ServerError { code: 403, .. } => Class::Fatal(
            "the registry denied access (403); check the credentials for this registry".into(),
        ),
        E::ServerError { code: 429, .. } => {
            Class::Transient("the registry asks to slow down (429 Too Many Requests)".into())
        }
        E::ServerError { code, .. } if *code >= 500 => {
            Class::Transient(format!("the registry failed with HTTP {code}"))
        }
        E::ServerError { code, message, .. } => Class::Fatal(format!(
            "the registry answered HTTP {code}: {}",
            message.trim()
        )),
        E::RequestError(e) if e.is_connect() || e.is_timeout() => {
            Class::Transient(format!("cannot reach the registry: {}", error_chain(e)))
        }
        E::RequestError(e) => Class::Transient(format!("request failed: {}", error_chain(e))),
        E::DigestError(e) => Class::Fatal(format!(
            "the registry answered with a digest that does not match the manifest bytes: {e}"
        )),
        other => Class::Fatal(other.to_string()),
    }
}

fn unauthorized() -> String {
    "the registry requires credentials it did not get, or refused them (401); log in with \
     `docker login`, or set GHCR_TOKEN for ghcr.io (see docs/security.md)"
        .into()
}

/// The error and its sources, one sentence ("connection refused" lives two levels down).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `image` as the registry client reads it.
fn parse(image: &str) -> Result<Reference, String> {
    image
        .parse()
        .map_err(|e| format!("not a reference the registry client can read: {e}"))
}

/// True for `localhost`, `127.x.x.x` and `[::1]`, with or without a port.
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        registry.split(':').next().unwrap_or_default()
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The parts of a manifest or index this crate reads.
#[derive(Deserialize)]
struct Manifest {
    /// An index's entries.
    manifests: Option<Vec<IndexEntry>>,
    /// An image manifest's configuration.
    config: Option<Descriptor>,
}

#[derive(Deserialize)]
struct IndexEntry {
    platform: Option<Platform>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

impl Platform {
    fn name(&self) -> String {
        match &self.variant {
            Some(v) if !v.is_empty() => format!("{}/{}/{v}", self.os, self.architecture),
            _ => format!("{}/{}", self.os, self.architecture),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("127.1.2.3"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("ghcr.io"));
        assert!(!is_loopback("10.0.0.1:5000"));
        assert!(!is_loopback("localhost.example.com"));
    }
}
