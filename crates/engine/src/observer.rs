//! What a run tells its caller while it works: warnings and progress. The engine never prints;
//! the command line draws these (a progress bar on a terminal, `imagegate: warning:` lines).

/// Receives a run's warnings and progress. Called from render workers, so it is `Sync`.
pub trait Observer: Sync {
    /// Something the user should know that does not change the verdict (the render cache is off,
    /// a commit of `--history` could not be read). `message` is untrusted text: escape it.
    fn warn(&self, message: &str);
    /// A batch of `cells` renders starts.
    fn start(&self, cells: usize) {
        let _ = cells;
    }
    /// One cell of the batch is judged; `failed` when it was not rendered.
    fn cell_done(&self, failed: bool) {
        let _ = failed;
    }
    /// The batch is over.
    fn finish(&self) {}
}

/// An observer that drops everything (tests, and callers that want no output).
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Observer for Quiet {
    fn warn(&self, _message: &str) {}
}

/// An observer that keeps the warnings (tests).
#[derive(Debug, Default)]
pub struct Collect {
    /// Every warning, in order.
    pub warnings: std::sync::Mutex<Vec<String>>,
}

impl Observer for Collect {
    fn warn(&self, message: &str) {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message.to_string());
    }
}
