//! One function per command: build the request from the parsed flags, call the daemon, render
//! the answer. Request building is kept in small pure functions so it is unit-tested.

pub mod account;
pub mod admin;
pub mod bulk;
pub mod credential;
pub mod man;
pub mod monitor;
pub mod pki;
pub mod portfolio;

use std::io::Write;

use anyhow::Result;

use crate::cli::{Cli, Command, Output};
use crate::client::Client;

pub use credential::read_key;

/// How a command that did its job ended, for the exit status scripts read. A failure is an
/// error instead (exit 1; usage errors exit 2, from clap or as a [`UsageError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: everything asked for was answered.
    Complete,
    /// Exit 3: a book was printed, but a selected account's section in it failed or is stale,
    /// so a script can tell a partial answer without parsing the output.
    Partial,
}

impl Outcome {
    /// The process exit status.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Complete => 0,
            Outcome::Partial => 3,
        }
    }
}

/// A command line that parsed but cannot be used (a credentials file that is not one JSON
/// object of strings): exit 2 like clap's own usage errors, with a message that names the
/// problem and never a secret.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// stdout went away (`rosterctl ... | head`): not a failure worth a message.
#[derive(Debug, thiserror::Error)]
#[error("stdout closed")]
pub struct StdoutClosed;

/// Writes to stdout and flushes (so `watch` lines appear as they happen).
pub fn emit(s: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let r = out.write_all(s.as_bytes()).and_then(|()| out.flush());
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::from(e).context("cannot write to stdout")),
    }
}

/// Requests one listing follows at most (see [`newest_pages`]).
const MAX_PAGES: usize = 100;

/// Up to `wanted` records of a listing that pages back by sequence, newest first, and where to
/// go on (0: the oldest was reached). `fetch(before, remaining)` asks for one page. The daemon
/// examines a bounded part of its table per request, so a filter that matches little is
/// followed page by page, within [`MAX_PAGES`].
pub async fn newest_pages<T, F, Fut>(wanted: u32, mut fetch: F) -> Result<(Vec<T>, u64)>
where
    F: FnMut(u64, i32) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, u64)>>,
{
    let wanted = usize::try_from(wanted).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut before = 0;
    for _ in 0..MAX_PAGES {
        let remaining = i32::try_from(wanted - out.len()).unwrap_or(i32::MAX);
        let (page, next) = fetch(before, remaining).await?;
        out.extend(page);
        before = next;
        if out.len() >= wanted || next == 0 {
            break;
        }
    }
    out.truncate(wanted);
    Ok((out, before))
}

/// Prints `msg` as one JSON document, or `table(msg)` for people.
pub fn show<T: serde::Serialize>(
    output: Output,
    msg: &T,
    table: impl FnOnce(&T) -> String,
) -> Result<()> {
    match output {
        Output::Json => emit(&crate::output::json(msg)?),
        Output::Table => {
            let text = table(msg);
            if crate::output::colour::wanted() {
                emit(&crate::output::colour::paint(&text))
            } else {
                emit(&text)
            }
        }
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<Outcome> {
    let output = cli.output;
    crate::output::zone::set(cli.tz.clone().unwrap_or_else(crate::output::zone::system));
    match cli.command {
        // Commands that need no daemon come first, so they work without a profile.
        Command::Completions { shell } => {
            let script = crate::complete::registration(shell)?;
            emit(&String::from_utf8_lossy(&script)).map(|()| Outcome::Complete)
        }
        Command::Pki(cmd) => {
            pki::run(cmd, cli.conn.tenant.as_deref(), output).map(|()| Outcome::Complete)
        }
        Command::Man { dir: Some(dir) } => man::write_all(&dir).map(|()| Outcome::Complete),
        Command::Man { dir: None } => {
            let pages = man::pages()?;
            let top = pages
                .first()
                .map(|(_, roff)| roff.as_slice())
                .unwrap_or_default();
            emit(&String::from_utf8_lossy(top)).map(|()| Outcome::Complete)
        }
        command => {
            portfolio::check_sort(&command)?;
            let client = Client::connect(&cli.conn).await?;
            let done = |r: Result<()>| r.map(|()| Outcome::Complete);
            let result = match command {
                Command::Account(cmd) => done(account::run(&client, cmd, output).await),
                Command::Health(args) => done(monitor::health(&client, args, output).await),
                Command::Watch { from, filter } => {
                    done(monitor::watch(&client, from, &filter, output).await)
                }
                Command::Venues => done(account::venues(&client, output).await),
                Command::Funds(a) => portfolio::funds(&client, &a, output).await,
                Command::Balances(a) => portfolio::balances(&client, &a, output).await,
                Command::Positions(a) => portfolio::positions(&client, &a, output).await,
                Command::Orders(a) => portfolio::orders(&client, &a, output).await,
                Command::Trades(a) => portfolio::trades(&client, &a, output).await,
                Command::Holdings(a) => portfolio::holdings(&client, &a, output).await,
                Command::Status => done(admin::status(&client, output).await),
                Command::Backup { out, force } => {
                    done(admin::backup(&client, &out, force, output).await)
                }
                Command::Key(crate::cli::KeyCmd::Rotate) => {
                    done(admin::rotate(&client, output).await)
                }
                Command::Audit { limit, filter } => {
                    done(admin::audit(&client, limit, &filter, output).await)
                }
                Command::Completions { .. } | Command::Pki(_) | Command::Man { .. } => {
                    Ok(Outcome::Complete)
                }
            };
            match result {
                Ok(outcome) => Ok(outcome),
                Err(e) => Err(client.explain(e).await),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A daemon whose table holds sequences 1..=20, of which the multiples of 5 match, and that
    /// examines at most 4 records per request.
    async fn page(before: u64, limit: i32) -> Result<(Vec<u64>, u64)> {
        let top = if before == 0 { 20 } else { before - 1 };
        let mut out = Vec::new();
        let mut seq = top;
        for _ in 0..4 {
            if seq == 0 || out.len() >= usize::try_from(limit)? {
                break;
            }
            if seq % 5 == 0 {
                out.push(seq);
            }
            seq -= 1;
        }
        Ok((out, if seq == 0 { 0 } else { seq + 1 }))
    }

    #[test]
    fn pages_are_followed_until_enough_or_the_oldest() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (all, next) = rt.block_on(newest_pages(50, page)).unwrap();
        assert_eq!((all, next), (vec![20, 15, 10, 5], 0));
        let (two, next) = rt.block_on(newest_pages(2, page)).unwrap();
        assert_eq!(two, [20, 15]);
        // Where to go on: the rest (10, 5) is below it.
        let (rest, _) = rt
            .block_on(newest_pages(10, |before, n| {
                page(if before == 0 { next } else { before }, n)
            }))
            .unwrap();
        assert_eq!(rest, [10, 5]);
    }
}
