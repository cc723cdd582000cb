//! Shell completion. The scripts `rosterctl completions bash|zsh|fish` prints call rosterctl
//! back (`ROSTERCTL_COMPLETE=SHELL rosterctl -- WORDS...`) for every Tab, so completion follows the
//! binary installed, and an account argument (`ID|NAME`, `--account`) completes to the names
//! of the accounts the daemon has, asked for with the same connection flags, environment
//! (ROSTER_PROFILE, ROSTER_ADDR, ...) and certificate as the command being typed.

use std::ffi::{OsStr, OsString};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::Shells;

use crate::cli::{Cli, ConnArgs};
use crate::client::Client;

/// The environment variable the scripts set to ask for candidates (its own name: a COMPLETE
/// some other tool left in the environment must not turn every rosterctl run into a completion).
const VAR: &str = "ROSTERCTL_COMPLETE";
/// How long a Tab may wait for the daemon: a down or unreachable daemon must not hang the
/// shell; the names are simply not offered.
const DAEMON_TIMEOUT: Duration = Duration::from_secs(2);
/// Completion never offers more names than this (a shell asks before showing even 100).
const MAX_NAMES: usize = 5_000;

/// Answers a completion request and exits, when the process was started for one; otherwise
/// returns at once. Runs before argument parsing, and before anything is written to stdout.
pub fn answer_if_asked() {
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(VAR)
        // The scripts call `rosterctl` from PATH, not the path of the binary that wrote them,
        // so the packaged scripts are the same on every machine.
        .completer("rosterctl")
        .complete();
}

/// The script `rosterctl completions SHELL` prints: the same one the completion entry point
/// writes for `ROSTERCTL_COMPLETE=SHELL rosterctl`.
pub fn registration(shell: clap_complete::Shell) -> std::io::Result<Vec<u8>> {
    let name = shell.to_string();
    let mut buf = Vec::new();
    match Shells::builtins().completer(&name) {
        Some(s) => s.write_registration(VAR, "rosterctl", "rosterctl", "rosterctl", &mut buf)?,
        None => {
            return Err(std::io::Error::other(format!(
                "no completion script for {name}"
            )));
        }
    }
    Ok(buf)
}

/// The account names that start with what is typed so far, in natural order; none (and
/// nothing printed) when the daemon cannot be asked.
pub fn account_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    let Some(conn) = typed_connection(std::env::args_os()) else {
        return Vec::new();
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let names = runtime.block_on(async {
        let ask = async {
            let client = Client::connect(&conn).await.ok()?;
            crate::commands::account::list_all(&client, "", None)
                .await
                .ok()
        };
        tokio::time::timeout(DAEMON_TIMEOUT, ask)
            .await
            .ok()
            .flatten()
    });
    let mut names: Vec<String> = names
        .map(|r| r.accounts.into_iter().map(|a| a.name).collect())
        .unwrap_or_default();
    names.retain(|n| n.starts_with(prefix));
    names.sort_by(|a, b| roster_proto::names::natural_order(a, b));
    names.truncate(MAX_NAMES);
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// The connection flags on the command line being completed (`rosterctl -- rosterctl --profile
/// P account get ac`), with the environment filling what is not there. Whatever does not parse
/// yet (the half-typed word) is ignored; if nothing does, the environment alone.
fn typed_connection(args: impl IntoIterator<Item = OsString>) -> Option<ConnArgs> {
    let words: Vec<OsString> = args.into_iter().skip_while(|a| a != "--").skip(1).collect();
    let parse = |words: &[OsString]| {
        let m = Cli::command()
            .ignore_errors(true)
            .try_get_matches_from(words)
            .ok()?;
        ConnArgs::from_arg_matches(&m).ok()
    };
    parse(&words).or_else(|| parse(&[OsString::from("rosterctl")]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<OsString> {
        w.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_connection_flags_of_the_typed_command_are_used() {
        let c = typed_connection(words(&[
            "rosterctl",
            "--",
            "rosterctl",
            "--addr",
            "https://h:7",
            "account",
            "get",
            "--profile",
            "/p",
            "ac",
        ]))
        .unwrap();
        assert_eq!(c.addr, "https://h:7");
        assert_eq!(c.profile.as_deref(), Some(std::path::Path::new("/p")));
        // Half-typed: still the flags given so far.
        let c = typed_connection(words(&[
            "rosterctl",
            "--",
            "rosterctl",
            "--tenant",
            "t1",
            "funds",
            "--account",
        ]))
        .unwrap();
        assert_eq!(c.tenant.as_deref(), Some("t1"));
    }

    #[test]
    fn every_account_argument_completes_names() {
        fn walk(cmd: &clap::Command, found: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let names_an_account = a
                    .get_value_names()
                    .is_some_and(|v| v.iter().any(|n| n == "ID|NAME"));
                if names_an_account {
                    let at = format!("{} {}", cmd.get_name(), a.get_id());
                    assert!(
                        a.get::<clap_complete::engine::ArgValueCompleter>()
                            .is_some(),
                        "{at} does not complete account names"
                    );
                    found.push(at);
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, found);
            }
        }
        let mut found = Vec::new();
        walk(&Cli::command(), &mut found);
        // get, update, enable, disable, remove, test; health get, check, history; watch and
        // audit's --account; six books' --account.
        assert_eq!(found.len(), 17, "{found:?}");
    }

    #[test]
    fn every_shell_gets_a_script_that_calls_rosterctl_back() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let script = String::from_utf8(registration(shell).unwrap()).unwrap();
            assert!(
                script.contains("ROSTERCTL_COMPLETE=") && script.contains("rosterctl"),
                "{shell}: {script}"
            );
        }
    }
}
