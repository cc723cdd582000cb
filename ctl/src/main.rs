//! `rosterctl` entry point: parse arguments (clap exits 2 on usage errors), run the command,
//! and turn any failure into one `error: ...` line on stderr with exit code 1 (2 for a usage error
//! found after parsing, such as a credentials file that is not a JSON object). A book printed
//! with a failed or stale account section in it exits 3 (`rosterctl::commands::Outcome`).

use std::process::ExitCode;

use clap::Parser;
use rosterctl::cli::Cli;
use rosterctl::commands::{StdoutClosed, UsageError};

fn main() -> ExitCode {
    // One crypto provider for the whole process, before anything touches TLS.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // A shell asking for completions (ROSTERCTL_COMPLETE=SHELL): answered here, then exit.
    rosterctl::complete::answer_if_asked();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(rosterctl::run(cli)) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        // `rosterctl ... | head` closed the pipe: the reader has what it wanted.
        Err(e) if e.downcast_ref::<StdoutClosed>().is_some() => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<UsageError>().is_some() => {
            eprintln!("error: {}", rosterctl::errors::render(&e));
            ExitCode::from(2)
        }
        Err(e) => {
            // For bug reports: the raw error with every layer, before it is condensed.
            if std::env::var_os("ROSTERCTL_DEBUG").is_some() {
                eprintln!("{e:?}");
            }
            eprintln!("error: {}", rosterctl::errors::render(&e));
            ExitCode::FAILURE
        }
    }
}
