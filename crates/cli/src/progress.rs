//! The one place a run's progress and warnings reach the terminal: the [`Observer`] of every
//! command.
//!
//! On a terminal, progress is a bar as wide as the terminal (it fits 40 columns). Without one (a
//! CI log), a long run prints a plain line every few seconds instead, so a log shows it is alive
//! without filling up with redraws; a run shorter than that prints nothing.

use crate::output::sanitize_stderr;
use imagegate_engine::Observer;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a run without a terminal prints its progress line.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

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
    plain: Mutex<Option<Plain>>,
    failed: AtomicUsize,
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

    fn bar(&self) -> std::sync::MutexGuard<'_, Option<indicatif::ProgressBar>> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn plain(&self) -> std::sync::MutexGuard<'_, Option<Plain>> {
        self.plain.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The bar's look: spinner, a bar taking what the terminal leaves, the counts, the time. Its
/// fixed part stays under 40 columns even for a thousand cells with failures.
fn bar_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{spinner} [{wide_bar}] {pos}/{len} {msg} {elapsed}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// `cells`, or `cells, N failed`.
fn bar_message(failed: usize) -> String {
    match failed {
        0 => "cells".into(),
        n => format!("cells, {n} failed"),
    }
}

/// The plain progress of a run without a terminal.
#[derive(Debug, Clone)]
struct Plain {
    total: usize,
    done: usize,
    failed: usize,
    started: Instant,
    last: Instant,
    every: Duration,
}

impl Plain {
    fn new(total: usize, now: Instant, every: Duration) -> Self {
        Self {
            total,
            done: 0,
            failed: 0,
            started: now,
            last: now,
            every,
        }
    }

    /// Counts a cell; the line to print when `every` has passed since the last one.
    fn cell_done(&mut self, failed: bool, now: Instant) -> Option<String> {
        self.done += 1;
        self.failed += usize::from(failed);
        if now.duration_since(self.last) < self.every {
            return None;
        }
        self.last = now;
        let failed = match self.failed {
            0 => String::new(),
            n => format!(", {n} failed"),
        };
        Some(format!(
            "imagegate: rendered {}/{} cells{failed}, {}s",
            self.done,
            self.total,
            now.duration_since(self.started).as_secs()
        ))
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
        self.failed.store(0, Ordering::Relaxed);
        match self.mode {
            Mode::Off => {}
            Mode::Plain => *self.plain() = Some(Plain::new(cells, Instant::now(), PLAIN_EVERY)),
            Mode::Bar => {
                let bar = indicatif::ProgressBar::new(cells as u64);
                bar.set_style(bar_style());
                bar.set_message(bar_message(0));
                *self.bar() = Some(bar);
            }
        }
    }

    fn cell_done(&self, failed: bool) {
        if let Some(plain) = self.plain().as_mut() {
            if let Some(line) = plain.cell_done(failed, Instant::now()) {
                eprintln!("{line}");
            }
        }
        if let Some(bar) = self.bar().as_ref() {
            if failed {
                let n = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
                bar.set_message(bar_message(n));
            }
            bar.inc(1);
        }
    }

    fn finish(&self) {
        self.plain().take();
        if let Some(bar) = self.bar().take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A terminal of `width` columns that records what is drawn on it.
    #[derive(Debug, Clone)]
    struct Narrow {
        width: u16,
        lines: Arc<Mutex<Vec<String>>>,
    }

    impl indicatif::TermLike for Narrow {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            if !s.is_empty() {
                self.lines.lock().unwrap().push(s.to_string());
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What the bar draws for 1000 cells, 999 of them done and failed, on `width` columns.
    fn drawn(width: u16) -> Vec<String> {
        let term = Narrow {
            width,
            lines: Arc::default(),
        };
        let target = indicatif::ProgressDrawTarget::term_like(Box::new(term.clone()));
        let bar = indicatif::ProgressBar::with_draw_target(Some(1000), target);
        bar.set_style(bar_style());
        bar.set_message(bar_message(999));
        bar.set_position(999);
        bar.abandon();
        let lines = term.lines.lock().unwrap().clone();
        lines
    }

    #[test]
    fn the_bar_fits_a_40_column_terminal() {
        let lines = drawn(40);
        assert!(!lines.is_empty());
        for line in &lines {
            let columns = console_width(line);
            assert!(columns <= 40, "{columns} columns: {line:?}");
        }
        let last = lines.last().cloned().unwrap_or_default();
        assert!(last.contains("] 999/1000 cells, 999 failed"), "{last:?}");
        // On a wide terminal the bar takes the room.
        assert!(drawn(120).iter().any(|l| console_width(l) > 80));
    }

    /// Display columns of `s`, escape sequences left out.
    fn console_width(s: &str) -> usize {
        let mut n = 0;
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                n += 1;
            }
        }
        n
    }

    #[test]
    fn without_a_terminal_a_plain_line_comes_every_few_seconds() {
        let start = Instant::now();
        let mut plain = Plain::new(52, start, Duration::from_secs(5));
        let at = |s: u64| start + Duration::from_secs(s);
        assert_eq!(
            plain.cell_done(false, at(1)),
            None,
            "a short run prints nothing"
        );
        assert_eq!(plain.cell_done(true, at(4)), None);
        assert_eq!(
            plain.cell_done(false, at(5)).as_deref(),
            Some("imagegate: rendered 3/52 cells, 1 failed, 5s")
        );
        assert_eq!(plain.cell_done(false, at(9)), None);
        assert_eq!(
            plain.cell_done(false, at(11)).as_deref(),
            Some("imagegate: rendered 5/52 cells, 1 failed, 11s")
        );
    }

    #[test]
    fn quiet_shows_no_progress() {
        assert_eq!(Terminal::new(true).quiet(true).mode, Mode::Off);
        assert_eq!(Terminal::new(false).mode, Mode::Off);
    }
}
