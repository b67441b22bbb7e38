//! What a run's progress looks like on stderr: the bar drawn on a terminal, and the plain line a
//! run without one (a CI log) prints every few seconds instead, so a log shows it is alive
//! without filling up with redraws. Drawing is the binary's; the text is decided here.

use std::time::{Duration, Instant};

/// The bar's `indicatif` template: spinner, a bar taking what the terminal leaves, the counts,
/// the time. Its fixed part stays under 40 columns even for a thousand cells with failures.
pub const BAR_TEMPLATE: &str = "{spinner} [{wide_bar}] {pos}/{len} {msg} {elapsed}";

/// The bar's fill, head and empty characters.
pub const BAR_CHARS: &str = "=> ";

/// How often a run without a terminal prints its progress line.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// The bar's message: `cells`, or `cells, N failed`.
pub fn bar_message(failed: usize) -> String {
    match failed {
        0 => "cells".into(),
        n => format!("cells, {n} failed"),
    }
}

/// The progress of a run without a terminal: counts cells and says when a line is due.
#[derive(Debug, Clone)]
pub struct PlainProgress {
    total: usize,
    done: usize,
    failed: usize,
    started: Instant,
    last: Instant,
    every: Duration,
}

impl PlainProgress {
    /// A run of `total` cells started at `now`, printing a line every `every`.
    pub fn new(total: usize, now: Instant, every: Duration) -> Self {
        Self {
            total,
            done: 0,
            failed: 0,
            started: now,
            last: now,
            every,
        }
    }

    /// Counts a cell; the line to print when `every` has passed since the last one (a run
    /// shorter than that prints nothing).
    pub fn cell_done(&mut self, failed: bool, now: Instant) -> Option<String> {
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
        bar.set_style(
            indicatif::ProgressStyle::with_template(BAR_TEMPLATE)
                .unwrap()
                .progress_chars(BAR_CHARS),
        );
        bar.set_message(bar_message(999));
        bar.set_position(999);
        bar.abandon();
        let lines = term.lines.lock().unwrap().clone();
        lines
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

    #[test]
    fn without_a_terminal_a_plain_line_comes_every_few_seconds() {
        let start = Instant::now();
        let mut plain = PlainProgress::new(52, start, Duration::from_secs(5));
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
}
