//! One function per command: build the request from the parsed flags, call the daemon, render
//! the answer. Request building is kept in small pure functions so it is unit-tested.

pub mod account;
pub mod admin;
pub mod monitor;
pub mod pki;
pub mod portfolio;

use std::io::{Read, Write};

use anyhow::{Context, Result, bail};
use clap::CommandFactory;

use crate::cli::{Cli, Command, KeySource, Output};
use crate::client::Client;

/// How a command that did its job ended, for the exit status scripts read. A failure is an
/// error instead (exit 1; usage errors exit 2 from clap).
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

/// Prints `msg` as one JSON document, or `table(msg)` for people.
pub fn show<T: serde::Serialize>(
    output: Output,
    msg: &T,
    table: impl FnOnce(&T) -> String,
) -> Result<()> {
    match output {
        Output::Json => emit(&crate::output::json(msg)?),
        Output::Table => emit(&table(msg)),
    }
}

/// Reads an API key from stdin or a file, removing exactly one trailing newline (what `echo`
/// and editors add) and nothing else, so a key is never silently altered.
pub fn read_key(src: &KeySource, stdin: &mut dyn Read) -> Result<String> {
    let mut raw = Vec::new();
    match src {
        KeySource::Stdin => {
            stdin
                .read_to_end(&mut raw)
                .context("cannot read the API key from stdin")?;
        }
        KeySource::File(p) => {
            raw = std::fs::read(p)
                .with_context(|| format!("cannot read the API key file {}", p.display()))?;
        }
    }
    let mut key = String::from_utf8(raw).context("the API key is not UTF-8 text")?;
    if key.ends_with("\r\n") {
        key.truncate(key.len() - 2);
    } else if key.ends_with('\n') {
        key.truncate(key.len() - 1);
    }
    if key.is_empty() {
        match src {
            KeySource::Stdin => bail!("the API key read from stdin is empty"),
            KeySource::File(p) => bail!("the API key file {} is empty", p.display()),
        }
    }
    Ok(key)
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<Outcome> {
    let output = cli.output;
    match cli.command {
        // Commands that need no daemon come first, so they work without a profile.
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "rosterctl", &mut buf);
            emit(&String::from_utf8_lossy(&buf)).map(|()| Outcome::Complete)
        }
        Command::Pki(cmd) => pki::run(cmd, output).map(|()| Outcome::Complete),
        Command::Man => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut buf)?;
            emit(&String::from_utf8_lossy(&buf)).map(|()| Outcome::Complete)
        }
        command => {
            let client = Client::connect(&cli.conn).await?;
            let done = |r: Result<()>| r.map(|()| Outcome::Complete);
            let result = match command {
                Command::Account(cmd) => done(account::run(&client, cmd, output).await),
                Command::Health(args) => done(monitor::health(&client, args, output).await),
                Command::Watch { from } => done(monitor::watch(&client, from, output).await),
                Command::Funds(a) => portfolio::funds(&client, &a, output).await,
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
                Command::Audit { limit } => done(admin::audit(&client, limit, output).await),
                Command::Completions { .. } | Command::Pki(_) | Command::Man => {
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
    use std::io::Cursor;

    #[test]
    fn key_from_stdin_loses_one_newline_only() {
        let k = |s: &str| read_key(&KeySource::Stdin, &mut Cursor::new(s.as_bytes().to_vec()));
        assert_eq!(k("abc\n").unwrap(), "abc");
        assert_eq!(k("abc\r\n").unwrap(), "abc");
        assert_eq!(k("abc\n\n").unwrap(), "abc\n");
        assert_eq!(k(" abc ").unwrap(), " abc ");
        assert!(k("\n").unwrap_err().to_string().contains("empty"));
        assert!(k("").is_err());
    }

    #[test]
    fn key_from_file() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("k");
        std::fs::write(&p, "secret-key\n").unwrap();
        let mut none = Cursor::new(Vec::new());
        assert_eq!(
            read_key(&KeySource::File(p.clone()), &mut none).unwrap(),
            "secret-key"
        );
        let e = read_key(&KeySource::File(tmp.path().join("missing")), &mut none).unwrap_err();
        assert!(format!("{e:#}").contains("missing"));
    }
}
