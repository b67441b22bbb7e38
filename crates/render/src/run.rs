//! Rendering cells.

use crate::process::{self, ProcessError};
use crate::{CacheKey, Helm, RenderCache};
use imagegate_fleet::{Cell, Repo};
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// How renders run.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Renders at once.
    pub jobs: usize,
    /// Deadline of one render.
    pub timeout: Duration,
    /// Largest rendered output of one cell, in bytes.
    pub max_output_bytes: usize,
    /// Largest address space of one helm process, in bytes (`None`: unlimited).
    pub max_memory_bytes: Option<u64>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            timeout: Duration::from_secs(120),
            max_output_bytes: 64 * 1024 * 1024,
            max_memory_bytes: Some(4096 * 1024 * 1024),
        }
    }
}

/// A successful render.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The rendered manifest stream.
    pub stdout: String,
    /// What helm wrote to stderr (warnings), trimmed.
    pub stderr: String,
    /// How long helm took.
    pub elapsed: Duration,
}

/// A cell that could not be rendered. The message is helm's own where helm said something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RenderFailure {
    /// What went wrong (helm's stderr, a timeout, a refused chart).
    pub message: String,
    /// What to do, when we know.
    pub hint: Option<String>,
    /// The bound helm ran into, when it was stopped for one: the same render, asked again of
    /// the same chart, runs into it again.
    pub exceeded: Option<Exceeded>,
}

/// A bound a render was stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// `helm.timeoutSeconds`.
    Time,
    /// `limits.maxRenderedMib`.
    Output,
}

impl RenderFailure {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            exceeded: None,
        }
    }
}

/// Arguments of `helm template` for a cell (paths absolute; no shell is ever involved). A cell's
/// [`Cell::value_texts`] are written to `scratch` and passed first, in order. A cell
/// with inline values (an Argo CD Application's `helm.values` / `valuesObject`) has them written
/// to `scratch` (the render's private folder) and passed as the last `--values`, as Argo CD does;
/// its parameters follow as `--set`, `--set-string` and `--set-file`.
pub fn helm_args(
    repo: &Repo,
    cell: &Cell,
    scratch: &std::path::Path,
) -> Result<HelmArgs, RenderFailure> {
    let mut held = Vec::new();
    let chart = match repo.resolve(&cell.chart) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return Err(RenderFailure::new(format!(
                "chart folder {} does not exist",
                cell.chart
            )))
        }
        Err(m) => return Err(RenderFailure::new(format!("chart refused: {m}"))),
    };
    let mut args: Vec<std::ffi::OsString> =
        vec!["template".into(), cell.release.clone().into(), chart.into()];
    args.extend(["--namespace".into(), cell.namespace.clone().into()]);
    args.extend(["--kube-version".into(), cell.kube_version.clone().into()]);
    for a in &cell.api_versions {
        args.extend(["--api-versions".into(), a.clone().into()]);
    }
    for (n, text) in cell.value_texts.iter().enumerate() {
        let path = match memory_file(text) {
            Some(fd) => {
                let path = format!("/proc/{}/fd/{}", std::process::id(), fd.as_raw_fd());
                held.push(fd);
                std::path::PathBuf::from(path)
            }
            None => {
                let path = scratch.join(format!("values-{n}.yaml"));
                std::fs::write(&path, text).map_err(|e| {
                    RenderFailure::new(format!("cannot write values layer {n} of the render: {e}"))
                })?;
                path
            }
        };
        args.extend(["--values".into(), path.into()]);
    }
    for vf in cell.present_value_files() {
        match repo.resolve(vf) {
            Ok(Some(p)) => args.extend(["--values".into(), p.into()]),
            Ok(None) => {
                return Err(RenderFailure::new(format!(
                    "values file {vf} disappeared during the run"
                )))
            }
            Err(m) => return Err(RenderFailure::new(format!("values file refused: {m}"))),
        }
    }
    if let Some(inline) = &cell.inline_values {
        let path = scratch.join("inline-values.yaml");
        std::fs::write(&path, &inline.text).map_err(|e| {
            RenderFailure::new(format!(
                "cannot write the inline values of {}:{}: {e}",
                inline.file, inline.line
            ))
        })?;
        args.extend(["--values".into(), path.into()]);
    }
    for p in &cell.parameters {
        let value: std::ffi::OsString = match p.kind {
            imagegate_fleet::ParameterKind::SetFile => match repo.resolve(&p.value) {
                Ok(Some(real)) => {
                    let mut v = std::ffi::OsString::from(format!("{}=", p.name));
                    v.push(imagegate_fleet::clean_set_value(&real.to_string_lossy()));
                    v
                }
                Ok(None) => {
                    return Err(RenderFailure::new(format!(
                        "file parameter {} disappeared during the run",
                        p.value
                    )))
                }
                Err(m) => return Err(RenderFailure::new(format!("file parameter refused: {m}"))),
            },
            _ => format!("{}={}", p.name, p.value).into(),
        };
        args.extend([p.flag().into(), value]);
    }
    if cell.include_crds {
        args.push("--include-crds".into());
    }
    if cell.skip_tests {
        args.push("--skip-tests".into());
    }
    if cell.skip_schema_validation {
        args.push("--skip-schema-validation".into());
    }
    Ok(HelmArgs { args, _held: held })
}

/// The arguments of `helm template` for a cell ([`helm_args`]), and the in-memory files some
/// of them name: open until the arguments are dropped, so keep them until helm has exited.
#[derive(Debug)]
pub struct HelmArgs {
    /// The arguments, after `helm`.
    pub args: Vec<std::ffi::OsString>,
    _held: Vec<std::os::fd::OwnedFd>,
}

/// `text` in an in-memory file (`memfd_create`) that helm reads as `/proc/<imagegate>/fd/<n>`,
/// or `None` where the kernel has none (the text then goes to a file of the sandbox). A values
/// layer written to a file that the next render truncates and writes again cost more than the
/// render's whole decode on ext4: truncating frees the blocks (a discard, on a file system
/// mounted with it) and the close after it writes the new ones out (`auto_da_alloc`).
fn memory_file(text: &str) -> Option<std::os::fd::OwnedFd> {
    use std::io::Write;
    // helm, a child in imagegate's pid namespace, opens the file by imagegate's pid: only when
    // the `/proc` mounted here is that namespace's does the path name this file.
    static OWN_PROC: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let own = *OWN_PROC.get_or_init(|| {
        std::fs::read_link("/proc/self")
            .is_ok_and(|p| p.as_os_str() == std::process::id().to_string().as_str())
    });
    if !own {
        return None;
    }
    let fd = nix::sys::memfd::memfd_create(
        c"imagegate-values",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )
    .ok()?;
    let mut file = std::fs::File::from(fd);
    file.write_all(text.as_bytes()).ok()?;
    Some(file.into())
}

/// The message locale helm runs with (see [`Sandbox::command`]): one of the smallest of the
/// catalogues kubectl embeds. Only helm start-up time depends on it.
pub const HELM_MESSAGES_LOCALE: &str = "ko_KR.UTF-8";

/// A private scratch folder for helm's homes; helm never sees the user's configuration,
/// repositories, registry credentials or plugins.
pub(crate) struct Sandbox {
    pub(crate) dir: process::PrivateDir,
}

/// Most idle sandboxes kept for the next render pool of the run.
const MAX_SPARE_SANDBOXES: usize = 16;

/// Sandboxes of finished render pools, for the next one: a cell with findings renders once more
/// through a pool of its own (the marker render of causal provenance), and making helm's five
/// homes anew for each such render was a tenth of imagegate's own work on a fleet where every
/// cell has findings. A sandbox holds only the homes helm is pointed at, which `helm template`
/// leaves as it found them; the pools that render a run's cells already share one per worker.
static SPARE_SANDBOXES: Mutex<Vec<Sandbox>> = Mutex::new(Vec::new());

/// A sandbox lent to one worker of a render pool, given back to its spares when the worker
/// ends.
struct Lease {
    sandbox: Option<Sandbox>,
    spares: &'static Mutex<Vec<Sandbox>>,
}

impl Lease {
    /// A sandbox of the run's spares, or a new one.
    fn take() -> Result<Self, RenderFailure> {
        Self::take_from(&SPARE_SANDBOXES)
    }

    fn take_from(spares: &'static Mutex<Vec<Sandbox>>) -> Result<Self, RenderFailure> {
        let spare = spares.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let sandbox = match spare {
            Some(s) => s,
            None => Sandbox::new()?,
        };
        Ok(Self {
            sandbox: Some(sandbox),
            spares,
        })
    }

    fn sandbox(&self) -> &Sandbox {
        self.sandbox
            .as_ref()
            .expect("a lease holds its sandbox until dropped")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(sandbox) = self.sandbox.take() else {
            return;
        };
        let mut spares = self.spares.lock().unwrap_or_else(|e| e.into_inner());
        if spares.len() < MAX_SPARE_SANDBOXES {
            spares.push(sandbox);
        }
    }
}

/// Runs `f` with a sandbox of the run's spares (or a new one), which goes back to the spares
/// afterwards: for helm runs outside a render pool.
pub(crate) fn with_sandbox<R>(f: impl FnOnce(&Sandbox) -> R) -> Result<R, RenderFailure> {
    let lease = Lease::take()?;
    Ok(f(lease.sandbox()))
}

/// Hands the idle sandboxes to the janitor for removal: the end of a run.
pub(crate) fn release_spare_sandboxes() {
    let spare = std::mem::take(&mut *SPARE_SANDBOXES.lock().unwrap_or_else(|e| e.into_inner()));
    drop(spare);
}

impl Sandbox {
    pub(crate) fn new() -> Result<Self, RenderFailure> {
        let dir = process::private_temp_dir("imagegate-helm-")
            .map_err(|e| RenderFailure::new(format!("cannot create a temporary folder: {e}")))?;
        // Made a sandbox first, so its Drop unregisters the folder on every path out.
        let sandbox = Self { dir };
        for sub in ["cache", "config", "data", "plugins", "home"] {
            std::fs::create_dir_all(sandbox.dir.path().join(sub)).map_err(|e| {
                RenderFailure::new(format!("cannot prepare the temporary folder: {e}"))
            })?;
        }
        Ok(sandbox)
    }

    /// helm's command line in the sandbox, with only the environment below.
    ///
    /// `GOGC` is helm's Go garbage collector target. At Go's default (100) a `helm template` of
    /// an ordinary chart spends about a quarter of its CPU collecting garbage while it starts:
    /// the process lives some tens of milliseconds and its heap only grows. At 400 that CPU is
    /// saved (measured on Helm 3 and 4: 25-30% less CPU per render) and the peak memory grows by
    /// a few MiB. With a memory bound (`limits.maxHelmMemoryMib`, enforced as the address-space
    /// limit), `GOMEMLIMIT` at half of it makes the collector work harder well before the bound,
    /// so a chart that needs much memory is collected instead of killed.
    ///
    /// `LC_MESSAGES` ([`HELM_MESSAGES_LOCALE`]) is for the kubectl code linked into helm: on
    /// its first message it loads a message catalogue chosen by the locale, and with none set
    /// it loads its default one, the largest, on every start. A third of the CPU of a small
    /// `helm template` was that (measured on Helm 3.17.3 and 4.1.4: 35-37 ms per render, 23-25
    /// with this catalogue). Nothing `helm template` writes is translated: the tests render
    /// every cell of both bundled fleets, and charts that fail, with and without it and compare
    /// every byte of stdout and stderr.
    pub(crate) fn command(&self, helm: &Helm, max_memory: Option<u64>) -> Command {
        self.command_at(&helm.path, max_memory)
    }

    /// [`Sandbox::command`] for the helm at `path`, before its version is known (the version
    /// probe of [`Helm::at`]).
    pub(crate) fn command_at(&self, path: &std::path::Path, max_memory: Option<u64>) -> Command {
        let d = self.dir.path();
        let mut cmd = Command::new(path);
        cmd.env_clear()
            .current_dir(d)
            .env("HOME", d.join("home"))
            .env("HELM_CACHE_HOME", d.join("cache"))
            .env("HELM_CONFIG_HOME", d.join("config"))
            .env("HELM_DATA_HOME", d.join("data"))
            .env("HELM_PLUGINS", d.join("plugins"))
            .env("HELM_NO_PLUGINS", "1")
            .env("KUBECONFIG", d.join("no-kubeconfig"))
            .env("TMPDIR", d)
            .env("PATH", "/usr/bin:/bin")
            .env("GOGC", "400")
            .env("LC_MESSAGES", HELM_MESSAGES_LOCALE);
        if let Some(limit) = max_memory {
            cmd.env("GOMEMLIMIT", format!("{}B", limit / 2));
        }
        cmd
    }
}

/// A failed render, and whether the same inputs always fail the same way (helm ran and refused
/// the chart with its error exit): the only kind of failure the render cache keeps. Timeouts,
/// oversized output, crashes and sandbox problems say nothing about the inputs.
struct Failed {
    failure: RenderFailure,
    deterministic: bool,
}

impl From<RenderFailure> for Failed {
    fn from(failure: RenderFailure) -> Self {
        Self {
            failure,
            deterministic: false,
        }
    }
}

fn attempt(
    helm: &Helm,
    repo: &Repo,
    cell: &Cell,
    opts: &RenderOptions,
    sandbox: &Sandbox,
) -> Result<Rendered, Failed> {
    if let Some(p) = cell.problems.first() {
        return Err(RenderFailure::new(cell.problems.join("; "))
            .with_hint_for(p)
            .into());
    }
    let mut cmd = sandbox.command(helm, opts.max_memory_bytes);
    // The in-memory values files stay open until helm has read them.
    let args = helm_args(repo, cell, sandbox.dir.path())?;
    cmd.args(&args.args);
    let bounds = process::Bounds {
        timeout: opts.timeout,
        max_stdout: opts.max_output_bytes,
        stdin: None,
        max_address_space: opts.max_memory_bytes,
        inherit_env: false,
    };
    let out = process::run_bounded(cmd, &bounds).map_err(|e| match e {
        ProcessError::Timeout(t, stderr) => RenderFailure {
            message: format!("helm template did not finish within {}s and was killed{}", t.as_secs(), tail(&stderr)),
            hint: Some("a template loops (tpl/until/range over a huge list) or the chart is too large; raise helm.timeoutSeconds only if the chart is legitimately slow".into()),
            exceeded: Some(Exceeded::Time),
        },
        ProcessError::OutputTooLarge(n) => RenderFailure {
            message: format!("helm template wrote more than {} MiB; stopped", n / (1024 * 1024)),
            hint: Some("raise limits.maxRenderedMib if this chart is legitimately that large".into()),
            exceeded: Some(Exceeded::Output),
        },
        other => RenderFailure::new(other.to_string()),
    })?;
    let stderr = clean_stderr(&String::from_utf8_lossy(&out.stderr));
    if !out.status_ok {
        let message = if stderr.is_empty() {
            format!("helm template failed ({}) and printed nothing", out.status)
        } else {
            stderr
        };
        let hint = dependency_hint(&message);
        return Err(Failed {
            deterministic: out.code == Some(1) && !out.stderr.is_empty(),
            failure: RenderFailure {
                message,
                hint,
                exceeded: None,
            },
        });
    }
    if let Some(message) = empty_success(&out.stdout) {
        return Err(RenderFailure::new(message).into());
    }
    let stdout = String::from_utf8(out.stdout).map_err(|e| {
        RenderFailure::new(format!(
            "helm output is not valid UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok(Rendered {
        stdout,
        stderr,
        elapsed: out.elapsed,
    })
}

impl RenderFailure {
    fn with_hint_for(mut self, problem: &str) -> Self {
        if problem.contains("missingValueFiles") {
            self.hint = Some(
                "create the file, fix the path in the value stack, or set missingValueFiles: skip"
                    .into(),
            );
        } else if problem.contains("outside the repository") {
            self.hint =
                Some("charts and values must live inside the repository under check".into());
        }
        self
    }
}

/// helm 3 and 4 end every successful `helm template` with a newline, even for a chart that
/// renders no document at all (every template disabled). Zero bytes with exit status 0 is
/// therefore not helm's own output (a wrapper that swallowed it, a binary that is not helm), and
/// judging it would pass a cell nobody saw: it is a failure.
fn empty_success(stdout: &[u8]) -> Option<String> {
    stdout.is_empty().then(|| {
        "helm template exited successfully but wrote nothing, not even the newline helm always \
         writes; the output cannot be trusted"
            .to_string()
    })
}

/// helm's stderr without advice that does not apply to imagegate (`--debug` is not ours to pass)
/// and without blank lines.
fn clean_stderr(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim_end)
        .filter(|l| {
            !l.trim().is_empty() && !l.contains("Use --debug flag to render out invalid YAML")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn tail(stderr: &[u8]) -> String {
    let s = String::from_utf8_lossy(stderr);
    let s = s.trim();
    if s.is_empty() {
        String::new()
    } else {
        let start = s.len().saturating_sub(2000);
        let start = (start..s.len())
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(s.len());
        format!(": {}", &s[start..])
    }
}

fn dependency_hint(message: &str) -> Option<String> {
    if message.contains("fatal error: out of memory") || message.contains("runtime: out of memory")
    {
        Some("helm ran out of the memory one render may use; raise limits.maxHelmMemoryMib only if the chart legitimately needs more (a template that builds huge values in memory is the usual cause)".into())
    } else if message.contains("missing in charts/ directory")
        || message.contains("found in Chart.yaml, but missing")
    {
        Some("vendor the chart's dependencies: run `helm dependency build` in the chart folder and commit charts/*.tgz (imagegate renders offline and never fetches dependencies)".into())
    } else if message.contains("required") {
        Some("a value the chart requires is empty in this cell's value stack: set it in the environment's overlay (or disable the component)".into())
    } else {
        None
    }
}

/// Renders every cell on `opts.jobs` worker threads and hands each result to `work` on the worker
/// that rendered it (so per-cell processing runs in parallel too). Results come back in cell order.
pub fn render_all<T, F>(
    helm: &Helm,
    repo: &Repo,
    cells: &[Cell],
    opts: &RenderOptions,
    work: F,
) -> Vec<T>
where
    T: Send,
    F: Fn(usize, Result<Rendered, RenderFailure>) -> T + Sync,
{
    render_all_cached(helm, repo, cells, opts, None, |i, result, _| {
        work(i, result)
    })
}

/// Where a cell's result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// helm rendered it in this run.
    Helm,
    /// The render cache held it.
    Cache,
}

/// A render cache and the key of every cell (in the order of the cells; see [`crate::cell_keys`]).
#[derive(Debug, Clone, Copy)]
pub struct CacheUse<'a> {
    /// The cache folder.
    pub cache: &'a RenderCache,
    /// One key (or the reason there is none) per cell.
    pub keys: &'a [Result<CacheKey, String>],
}

/// [`render_all`] through a render cache: a cell whose key the cache holds is not rendered, and
/// every render that says something about its inputs (success, or helm's own refusal) is stored.
/// `work` also learns where each result came from.
///
/// A panic on a worker (in `work` or in rendering) stops the other workers from taking new cells;
/// once every worker has stopped (and its helm and sandbox are gone) the panic is passed on to
/// the caller, whose binary turns it into exit status 2.
pub fn render_all_cached<T, F>(
    helm: &Helm,
    repo: &Repo,
    cells: &[Cell],
    opts: &RenderOptions,
    cache: Option<CacheUse<'_>>,
    work: F,
) -> Vec<T>
where
    T: Send,
    F: Fn(usize, Result<Rendered, RenderFailure>, Provenance) -> T + Sync,
{
    let escapes: Mutex<HashMap<String, Option<String>>> = Mutex::new(HashMap::new());
    crate::pool::ordered(cells.len(), opts.jobs, Lease::take, |lease, i| {
        let sandbox = lease.as_ref().map(Lease::sandbox);
        let cell = &cells[i];
        // A cell with a cache key had its chart walked, and checked, when the key was made.
        let keyed = cache.is_some_and(|c| matches!(c.keys.get(i), Some(Ok(_))));
        let escape = if keyed {
            None
        } else {
            let cached = escapes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&cell.chart)
                .cloned();
            match cached {
                Some(v) => v,
                None => {
                    let v = crate::chart::refusal(repo, &cell.chart);
                    escapes
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(cell.chart.clone(), v.clone());
                    v
                }
            }
        };
        let stored = cache.and_then(|c| match c.keys.get(i) {
            Some(Ok(key)) if escape.is_none() => Some((c.cache, key)),
            _ => None,
        });
        if let Some(hit) = stored.and_then(|(c, key)| c.get(key, opts.max_output_bytes)) {
            return work(i, hit, Provenance::Cache);
        }
        let result = match (sandbox, escape) {
            (_, Some(msg)) => Err(RenderFailure {
                message: msg,
                hint: Some("charts must not link outside the repository under check".into()),
                exceeded: None,
            }),
            (Ok(sb), None) => match attempt(helm, repo, cell, opts, sb) {
                Ok(r) => {
                    let r = Ok(r);
                    if let Some((c, key)) = stored {
                        c.put(key, &r);
                    }
                    r
                }
                Err(f) => {
                    let r = Err(f.failure);
                    if let (Some((c, key)), true) = (stored, f.deterministic) {
                        c.put(key, &r);
                    }
                    r
                }
            },
            (Err(e), None) => Err(e.clone()),
        };
        work(i, result, Provenance::Helm)
    })
}

/// The repository-relative chart folder of a template path from `# Source:` (`<chart>/templates/x.yaml`
/// or `<chart>/charts/<sub>/templates/x.yaml`): joins the cell's chart folder with the part after
/// the chart name.
pub fn template_in_repo(chart_dir: &str, source: &str) -> Option<String> {
    let (_, rest) = source.split_once('/')?;
    Some(format!("{}/{}", chart_dir.trim_end_matches('/'), rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A cell that never reaches helm: its problem fails it before any process starts.
    fn refused_cell(app: &str) -> Cell {
        Cell {
            problems: vec![format!("{app}: refused")],
            ..Cell::new("dev", app, "charts/none")
        }
    }

    #[test]
    fn a_sandbox_is_lent_again_after_its_pool_ends_and_spares_are_bounded() {
        static SPARES: Mutex<Vec<Sandbox>> = Mutex::new(Vec::new());
        let first = Lease::take_from(&SPARES).unwrap();
        let path = first.sandbox().dir.path().to_path_buf();
        assert!(path.join("home").is_dir());
        drop(first);
        assert!(path.join("home").is_dir(), "a spare is kept, not removed");
        let again = Lease::take_from(&SPARES).unwrap();
        assert_eq!(again.sandbox().dir.path(), path, "the spare is lent again");
        // While it is lent, another worker gets a sandbox of its own.
        let other = Lease::take_from(&SPARES).unwrap();
        assert_ne!(other.sandbox().dir.path(), path);
        drop((again, other));
        let many: Vec<Lease> = (0..MAX_SPARE_SANDBOXES + 3)
            .map(|_| Lease::take_from(&SPARES).unwrap())
            .collect();
        drop(many);
        assert_eq!(SPARES.lock().unwrap().len(), MAX_SPARE_SANDBOXES);
        SPARES.lock().unwrap().clear();
        assert!(crate::process::settle(std::time::Duration::from_secs(30)));
        assert!(!path.exists(), "a released spare is removed");
    }

    #[test]
    fn helm_sees_only_its_sandbox_and_the_collector_settings() {
        let sandbox = Sandbox::new().unwrap();
        let helm = Helm {
            path: "/nonexistent/helm".into(),
            version: "v3.17.3".into(),
        };
        let env = |cmd: &Command| -> BTreeMap<String, String> {
            cmd.get_envs()
                .map(|(k, v)| {
                    let v = v.expect("set, never removed");
                    (k.to_string_lossy().into(), v.to_string_lossy().into())
                })
                .collect()
        };
        let bounded = env(&sandbox.command(&helm, Some(4096 * 1024 * 1024)));
        let keys: Vec<&str> = bounded.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "GOGC",
                "GOMEMLIMIT",
                "HELM_CACHE_HOME",
                "HELM_CONFIG_HOME",
                "HELM_DATA_HOME",
                "HELM_NO_PLUGINS",
                "HELM_PLUGINS",
                "HOME",
                "KUBECONFIG",
                "LC_MESSAGES",
                "PATH",
                "TMPDIR"
            ]
        );
        assert_eq!(bounded["GOGC"], "400");
        assert_eq!(bounded["LC_MESSAGES"], HELM_MESSAGES_LOCALE);
        assert_eq!(
            bounded["GOMEMLIMIT"], "2147483648B",
            "half the address-space bound"
        );
        for home in [
            "HOME",
            "HELM_CACHE_HOME",
            "HELM_CONFIG_HOME",
            "HELM_DATA_HOME",
            "TMPDIR",
        ] {
            assert!(
                Path::new(&bounded[home]).starts_with(sandbox.dir.path()),
                "{home} is inside the sandbox"
            );
        }
        let unbounded = env(&sandbox.command(&helm, None));
        assert!(
            !unbounded.contains_key("GOMEMLIMIT"),
            "no bound, no soft limit"
        );
        assert_eq!(unbounded["GOGC"], "400");
    }

    #[test]
    fn a_panicking_worker_stops_the_others_and_is_passed_on() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let helm = Helm {
            path: "/nonexistent/helm".into(),
            version: "v3.17.3".into(),
        };
        let cells: Vec<Cell> = (0..50).map(|i| refused_cell(&format!("c{i}"))).collect();
        let opts = RenderOptions {
            jobs: 1,
            ..RenderOptions::default()
        };
        let seen = AtomicUsize::new(0);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            render_all(&helm, &repo, &cells, &opts, |i, result| {
                seen.fetch_add(1, Ordering::SeqCst);
                assert_eq!(result.unwrap_err().message, format!("c{i}: refused"));
                if i == 2 {
                    panic!("judging c2 broke");
                }
                i
            })
        }));
        let payload = outcome.expect_err("the panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"judging c2 broke"));
        assert_eq!(
            seen.load(Ordering::SeqCst),
            3,
            "no cell is taken after the panic"
        );
        // Without a panic every cell comes back, in order.
        let all = render_all(&helm, &repo, &cells, &opts, |i, _| i);
        assert_eq!(all, (0..50).collect::<Vec<_>>());
    }

    /// An Argo CD cell's arguments: value files, then its inline values from a scratch file as
    /// the last `--values`, then its parameters in the order helm applies them.
    #[test]
    fn inline_values_and_parameters_follow_the_value_files() {
        use imagegate_fleet::{HelmParameter, InlineValues, ParameterKind};
        let dir = tempfile::tempdir().unwrap();
        for (p, t) in [
            (
                "charts/web/Chart.yaml",
                "apiVersion: v2\nname: web\nversion: 1.0.0\n",
            ),
            ("charts/web/values.yaml", "a: 1\n"),
            ("charts/web/files/cfg,1.txt", "x"),
        ] {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        }
        let repo = Repo::open(dir.path()).unwrap();
        let param = |kind, name: &str, value: &str| HelmParameter {
            name: name.into(),
            value: value.into(),
            kind,
            file: "argocd/web.yaml".into(),
            line: 3,
        };
        let cell = Cell {
            inline_values: Some(InlineValues {
                text: "image: {tag: inline}\n".into(),
                file: "argocd/web.yaml".into(),
                line: 9,
                field: "spec.source.helm.values".into(),
            }),
            parameters: vec![
                param(ParameterKind::Set, "image.tag", "1.2.3"),
                param(ParameterKind::SetString, "v", "1.10"),
                param(ParameterKind::SetFile, "cfg", "charts/web/files/cfg,1.txt"),
            ],
            ..Cell::new("dev", "web", "charts/web").with_values(&["charts/web/values.yaml"])
        };
        let scratch = tempfile::tempdir().unwrap();
        let args: Vec<String> = helm_args(&repo, &cell, scratch.path())
            .unwrap()
            .args
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let root = repo.root().display().to_string();
        let inline = scratch.path().join("inline-values.yaml");
        let tail: Vec<&str> = args.iter().skip(7).map(String::as_str).collect();
        assert_eq!(
            tail,
            [
                "--values",
                &format!("{root}/charts/web/values.yaml"),
                "--values",
                &inline.display().to_string(),
                "--set",
                "image.tag=1.2.3",
                "--set-string",
                "v=1.10",
                "--set-file",
                &format!("cfg={root}/charts/web/files/cfg\\,1.txt"),
            ]
        );
        assert_eq!(
            std::fs::read_to_string(inline).unwrap(),
            "image: {tag: inline}\n"
        );
    }

    #[test]
    fn zero_bytes_from_a_successful_helm_is_a_failure() {
        assert!(empty_success(b"").is_some());
        // What helm 3 and 4 print for a chart that renders no document.
        assert_eq!(empty_success(b"\n"), None);
    }

    #[test]
    fn helm_noise_is_dropped() {
        let raw = "Error: execution error at (a/templates/d.yaml:20:20): image.ref is required\n\nUse --debug flag to render out invalid YAML\n";
        assert_eq!(
            super::clean_stderr(raw),
            "Error: execution error at (a/templates/d.yaml:20:20): image.ref is required"
        );
    }
}
