//! The one place a run's progress and warnings reach the terminal: the [`Observer`] of every
//! command.

use crate::output::sanitize_stderr;
use imagegate_engine::Observer;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Draws a progress bar on a terminal (when asked) and prints warnings as
/// `imagegate: warning: …`, escaped.
pub struct Terminal {
    progress: bool,
    quiet: bool,
    bar: Mutex<Option<indicatif::ProgressBar>>,
    failed: AtomicUsize,
}

impl Terminal {
    /// An observer that draws progress when `progress` is set and stderr is a terminal.
    pub fn new(progress: bool) -> Self {
        Self {
            progress: progress && std::io::stderr().is_terminal(),
            quiet: false,
            bar: Mutex::new(None),
            failed: AtomicUsize::new(0),
        }
    }

    /// The same observer, printing nothing but errors (`--quiet`): no progress, no warnings.
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self.progress &= !quiet;
        self
    }

    fn bar(&self) -> std::sync::MutexGuard<'_, Option<indicatif::ProgressBar>> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Observer for Terminal {
    fn warn(&self, message: &str) {
        if self.quiet {
            return;
        }
        let line = format!("imagegate: warning: {}", sanitize_stderr(message));
        match self.bar().as_ref() {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn start(&self, cells: usize) {
        if !self.progress {
            return;
        }
        let bar = indicatif::ProgressBar::new(cells as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} rendering [{bar:30}] {pos}/{len} cells, {msg} {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        self.failed.store(0, Ordering::Relaxed);
        bar.set_message("0 failed");
        *self.bar() = Some(bar);
    }

    fn cell_done(&self, failed: bool) {
        if let Some(bar) = self.bar().as_ref() {
            if failed {
                let n = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
                bar.set_message(format!("{n} failed"));
            }
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar().take() {
            bar.finish_and_clear();
        }
    }
}
