//! The one place a run's progress and warnings reach the terminal: the [`Observer`] of every
//! command. What the bar and the plain line say is `imagegate_report::progress`'s.

use crate::output::sanitize_stderr;
use imagegate_engine::Observer;
use imagegate_report::progress::{
    bar_message, PlainProgress, BAR_CHARS, BAR_TEMPLATE, PLAIN_EVERY,
};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Bar,
    Plain,
}

/// Draws a progress bar on a terminal, or a plain progress line every few seconds elsewhere
/// (when asked), and prints warnings as `imagegate: warning: …`, escaped.
pub struct Terminal {
    mode: Mode,
    quiet: bool,
    bar: Mutex<Option<indicatif::ProgressBar>>,
    plain: Mutex<Option<PlainProgress>>,
    failed: AtomicUsize,
}

/// The lock, even if a thread panicked holding it (progress is never worth a second panic).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Terminal {
    /// An observer that shows progress when `progress` is set: a bar when stderr is a terminal,
    /// else a plain line every few seconds.
    pub fn new(progress: bool) -> Self {
        let mode = match (progress, std::io::stderr().is_terminal()) {
            (false, _) => Mode::Off,
            (true, true) => Mode::Bar,
            (true, false) => Mode::Plain,
        };
        Self {
            mode,
            quiet: false,
            bar: Mutex::new(None),
            plain: Mutex::new(None),
            failed: AtomicUsize::new(0),
        }
    }

    /// The same observer, printing nothing but errors (`--quiet`): no progress, no warnings.
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        if quiet {
            self.mode = Mode::Off;
        }
        self
    }
}

impl Observer for Terminal {
    fn warn(&self, message: &str) {
        if self.quiet {
            return;
        }
        let line = format!("imagegate: warning: {}", sanitize_stderr(message));
        match lock(&self.bar).as_ref() {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn start(&self, cells: usize) {
        self.failed.store(0, Ordering::Relaxed);
        match self.mode {
            Mode::Off => {}
            Mode::Plain => {
                *lock(&self.plain) = Some(PlainProgress::new(cells, Instant::now(), PLAIN_EVERY))
            }
            Mode::Bar => {
                let bar = indicatif::ProgressBar::new(cells as u64);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(BAR_TEMPLATE)
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                        .progress_chars(BAR_CHARS),
                );
                bar.set_message(bar_message(0));
                *lock(&self.bar) = Some(bar);
            }
        }
    }

    fn cell_done(&self, failed: bool) {
        if let Some(plain) = lock(&self.plain).as_mut() {
            if let Some(line) = plain.cell_done(failed, Instant::now()) {
                eprintln!("{line}");
            }
        }
        if let Some(bar) = lock(&self.bar).as_ref() {
            if failed {
                let n = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
                bar.set_message(bar_message(n));
            }
            bar.inc(1);
        }
    }

    fn finish(&self) {
        lock(&self.plain).take();
        if let Some(bar) = lock(&self.bar).take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_shows_no_progress() {
        assert_eq!(Terminal::new(true).quiet(true).mode, Mode::Off);
        assert_eq!(Terminal::new(false).mode, Mode::Off);
    }
}
