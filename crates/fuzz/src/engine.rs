//! The mutational engine: corpus in, mutated inputs through a target, findings out.

use crate::rng::Rng;
use crate::Target;
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An input slower than this is a finding (a bounded reader must stay fast on hostile input).
pub const SLOW: Duration = Duration::from_secs(2);

/// An input still running after this long is a hang: the watchdog saves it and ends the
/// process (a spinning thread cannot be stopped, and a fuzz run that froze would report
/// nothing at all).
pub const HANG: Duration = Duration::from_secs(20);

/// The input being executed and since when, for the watchdog.
static CURRENT: std::sync::Mutex<Option<(Instant, Vec<u8>)>> = std::sync::Mutex::new(None);

/// Most inputs kept in memory beyond the corpus.
const POOL_CAP: usize = 4096;

/// How one run goes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Seed of the generator: the same seed and corpus replay the same run.
    pub seed: u64,
    /// How long to run.
    pub duration: Duration,
    /// Stop after this many executions (whichever comes first).
    pub max_execs: u64,
    /// Where findings are saved (`<artifacts>/<kind>-<hash>`); `None` keeps them in memory.
    pub artifacts: Option<PathBuf>,
    /// Print a progress line this often.
    pub report_every: Duration,
}

/// A broken promise, a panic or a slow input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `panic`, `invariant` or `slow`.
    pub kind: &'static str,
    /// What happened.
    pub message: String,
    /// The input.
    pub input: Vec<u8>,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Inputs executed.
    pub execs: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Inputs kept because their outcome had a new shape.
    pub kept: usize,
    /// Distinct outcome shapes seen.
    pub shapes: usize,
    /// Findings, one per distinct message.
    pub findings: Vec<Finding>,
}

/// Reads every file of a corpus folder (sorted, so a run is reproducible).
pub fn load_corpus(dir: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    paths.sort();
    paths.iter().map(std::fs::read).collect()
}

/// Runs one input, turning a panic into a finding.
pub fn execute(target: &Target, input: &[u8]) -> Result<String, Finding> {
    let start = Instant::now();
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some((start, input.to_vec()));
    let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let elapsed = start.elapsed();
    let finding = |kind, message| Finding {
        kind,
        message,
        input: input.to_vec(),
    };
    match outcome {
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".into());
            Err(finding("panic", msg))
        }
        Ok(Err(msg)) => Err(finding("invariant", msg)),
        Ok(Ok(_)) if elapsed > SLOW => {
            Err(finding("slow", format!("took {} ms", elapsed.as_millis())))
        }
        Ok(Ok(shape)) => Ok(shape),
    }
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>], target: &Target) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = input.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next_u64() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                input.insert(i, rng.next_u64() as u8);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                input.drain(i..i + n);
            }
            4 | 5 => {
                let tok = target.dictionary[rng.below(target.dictionary.len())].as_bytes();
                let i = rng.below(len + 1);
                input.splice(i..i, tok.iter().copied());
            }
            6 if len > 0 => {
                // Duplicate a range: grows nesting, lists and documents.
                let a = rng.below(len);
                let b = a + 1 + rng.below((len - a).min(64));
                let chunk = input[a..b].to_vec();
                let times = 1 + rng.below(8);
                for _ in 0..times {
                    input.splice(b..b, chunk.iter().copied());
                }
            }
            7 if !pool.is_empty() => {
                // Splice: the head of this input with the tail of another.
                let other = &pool[rng.below(pool.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            _ if len > 1 => {
                // Swap two bytes (a reordering that keeps the alphabet).
                let a = rng.below(len);
                let b = rng.below(len);
                input.swap(a, b);
            }
            _ => input.push(b'a'),
        }
    }
    input.truncate(target.max_len);
}

fn save(dir: &Path, f: &Finding) -> std::io::Result<PathBuf> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    f.input.hash(&mut h);
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}-{:016x}", f.kind, h.finish()));
    std::fs::write(&path, &f.input)?;
    Ok(path)
}

/// Runs `target` over mutations of `corpus` until the time or execution budget is spent.
///
/// The run happens on a thread with a 2 MiB stack, the default of the render workers that run
/// these readers in imagegate, so a recursion that would overflow there overflows here too.
pub fn run(target: &'static Target, corpus: Vec<Vec<u8>>, settings: Settings) -> Summary {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = std::sync::Arc::clone(&done);
        let artifacts = settings.artifacts.clone();
        std::thread::spawn(move || watch(target, artifacts.as_deref(), &done))
    };
    let previous = std::panic::take_hook();
    // Panics are findings, reported once in the summary; the default hook would print each.
    std::panic::set_hook(Box::new(|_| {}));
    let worker = std::thread::Builder::new()
        .name(format!("fuzz-{}", target.name))
        .stack_size(2 * 1024 * 1024)
        .spawn(move || fuzz_loop(target, corpus, &settings));
    let summary = match worker {
        Ok(handle) => handle.join().unwrap_or_else(|_| Summary::default()),
        Err(e) => {
            eprintln!("imagegate-fuzz: cannot start the fuzz thread: {e}");
            Summary::default()
        }
    };
    std::panic::set_hook(previous);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watchdog.join();
    summary
}

/// The watchdog: every 200 ms, whether the input in execution has run past [`HANG`]; if so
/// it saves the input as a `hang-…` artifact, says so, and exits the process with status 3.
fn watch(target: &Target, artifacts: Option<&Path>, done: &std::sync::atomic::AtomicBool) {
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200));
        let hung = CURRENT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(since, _)| since.elapsed() > HANG)
            .map(|(_, input)| input.clone());
        if let Some(input) = hung {
            let f = Finding {
                kind: "hang",
                message: format!(
                    "{}: an input ran for more than {}s",
                    target.name,
                    HANG.as_secs()
                ),
                input,
            };
            match artifacts.map(|dir| save(dir, &f)) {
                Some(Ok(p)) => eprintln!("finding (hang): {} -> {}", f.message, p.display()),
                _ => eprintln!(
                    "finding (hang): {}: {:?}",
                    f.message,
                    String::from_utf8_lossy(&f.input)
                ),
            }
            std::process::exit(3);
        }
    }
}

fn fuzz_loop(target: &'static Target, corpus: Vec<Vec<u8>>, settings: &Settings) -> Summary {
    let start = Instant::now();
    let mut rng = Rng::new(settings.seed);
    let mut pool: Vec<Vec<u8>> = if corpus.is_empty() {
        vec![Vec::new()]
    } else {
        corpus
    };
    let mut shapes: HashSet<String> = HashSet::new();
    let mut seen_findings: HashSet<(String, String)> = HashSet::new();
    let mut summary = Summary::default();
    let mut record = |f: Finding, summary: &mut Summary| {
        let key = (f.kind.to_string(), f.message.chars().take(120).collect());
        if seen_findings.insert(key) {
            if let Some(dir) = &settings.artifacts {
                match save(dir, &f) {
                    Ok(p) => eprintln!("finding ({}): {} -> {}", f.kind, f.message, p.display()),
                    Err(e) => eprintln!("finding ({}): {} (not saved: {e})", f.kind, f.message),
                }
            }
            summary.findings.push(f);
        }
    };
    // Every corpus input first, as written.
    for input in pool.clone() {
        summary.execs += 1;
        match execute(target, &input) {
            Ok(shape) => {
                shapes.insert(shape);
            }
            Err(f) => record(f, &mut summary),
        }
    }
    let corpus_len = pool.len();
    let mut last_report = Instant::now();
    while start.elapsed() < settings.duration && summary.execs < settings.max_execs {
        let mut input = pool[rng.below(pool.len())].clone();
        mutate(&mut rng, &mut input, &pool, target);
        summary.execs += 1;
        match execute(target, &input) {
            Ok(shape) => {
                if shapes.insert(shape) {
                    // A bounded pool: past the cap a new input replaces a kept one (never a
                    // corpus input), so mutation keeps returning to the seeds.
                    if pool.len() < POOL_CAP {
                        pool.push(input);
                    } else if pool.len() > corpus_len {
                        let slot = corpus_len + rng.below(pool.len() - corpus_len);
                        pool[slot] = input;
                    }
                }
            }
            Err(f) => record(f, &mut summary),
        }
        if last_report.elapsed() >= settings.report_every {
            last_report = Instant::now();
            eprintln!(
                "{}: {} execs, {:.0}/s, {} shapes, {} kept, {} findings, {}s",
                target.name,
                summary.execs,
                summary.execs as f64 / start.elapsed().as_secs_f64(),
                shapes.len(),
                pool.len() - corpus_len,
                summary.findings.len(),
                start.elapsed().as_secs()
            );
        }
    }
    summary.elapsed = start.elapsed();
    summary.kept = pool.len() - corpus_len;
    summary.shapes = shapes.len();
    summary
}
