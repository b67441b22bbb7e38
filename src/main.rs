//! `imagegate`: judges the images of every Helm chart × environment of a GitOps repository.
//!
//! This crate is the only one that prints. It parses the command line, hands the work to
//! `imagegate-engine` (config → cells → renders → image sites → findings → report), writes the
//! outputs, and maps the outcome to the exit status: 0 clean, 1 error-level findings, 2 usage,
//! configuration or infrastructure errors.

use imagegate::cli;
mod cmd;
mod output;
mod progress;

pub(crate) use imagegate_engine::{cache, convert, fleet, pipeline, shard, Fatal};

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    imagegate_render::install_interrupt_handler();
    // What a run killed with SIGKILL (OOM killer, CI hard timeout) could not remove.
    imagegate_render::remove_stale_temp_dirs();
    let code = guarded(|| {
        output::require_stdout()?;
        cmd::run(args)
    });
    // The temporary folders of the run are removed in the background; none outlives it.
    imagegate_render::settle(std::time::Duration::from_secs(60));
    ExitCode::from(code)
}

/// Runs a command and maps its outcome to the exit status: its own status, or 2 for an error. A
/// panic (on the main thread, or on a render worker, whose panic the render engine passes on after
/// stopping the other workers) is exit 2 with a clear message too: a run that broke never passes,
/// and never ends with Rust's bare 101.
fn guarded(f: impl FnOnce() -> anyhow::Result<u8>) -> u8 {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(code)) => code,
        Ok(Err(err)) => {
            let mut msg = format!("{err:#}");
            if let Some(f) = err.downcast_ref::<Fatal>() {
                msg = f.0.clone();
            }
            eprintln!("imagegate: error: {}", output::sanitize_stderr(&msg));
            2
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("a panic without a message");
            eprintln!(
                "imagegate: error: internal error: {}; the run was stopped and reached no verdict (this is a bug in imagegate: please report it)",
                output::sanitize_stderr(what)
            );
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{guarded, Fatal};

    #[test]
    fn outcomes_map_to_exit_statuses_and_a_panic_is_2() {
        assert_eq!(guarded(|| Ok(0)), 0);
        assert_eq!(guarded(|| Ok(1)), 1);
        assert_eq!(guarded(|| Err(Fatal("bad config".into()).into())), 2);
        assert_eq!(
            guarded(|| -> anyhow::Result<u8> { panic!("worker broke on cell dev/web") }),
            2
        );
        // A panic on another thread, passed on with resume_unwind as the render engine does.
        assert_eq!(
            guarded(|| {
                let joined = std::thread::spawn(|| -> u8 { panic!("in a worker") }).join();
                match joined {
                    Ok(code) => Ok(code),
                    Err(payload) => std::panic::resume_unwind(payload),
                }
            }),
            2
        );
    }
}
