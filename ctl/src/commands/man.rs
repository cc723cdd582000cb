//! `rosterctl man`: the man pages the Debian package ships, from the command line's own
//! definition: rosterctl(1), and one page per subcommand, nested ones included
//! (rosterctl-account-add(1)), so every page a SUBCOMMANDS section names exists.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;

/// Every page as (file name, roff): the top page first.
pub fn pages() -> Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = without_help_subcommand(Cli::command());
    // Builds the whole tree, giving each subcommand its page name (`rosterctl-account-add`).
    cmd.build();
    // Every page says it is rosterctl's (clap_mangen would name the subcommand alone).
    let source = format!("rosterctl {}", cmd.get_version().unwrap_or_default());
    let mut pages = Vec::new();
    collect(&cmd, &source, &mut pages)?;
    Ok(pages)
}

/// Writes every page into `dir` (for `deploy/regenerate-assets`).
pub fn write_all(dir: &Path) -> Result<()> {
    for (name, roff) in pages()? {
        let path = dir.join(&name);
        std::fs::write(&path, roff).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// `rosterctl help CMD` is --help under another name: no page of its own, none referenced.
fn without_help_subcommand(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    names
        .iter()
        .fold(cmd.disable_help_subcommand(true), |cmd, n| {
            cmd.mut_subcommand(n, without_help_subcommand)
        })
}

/// This command's page and its visible subcommands' (hidden ones are not listed, so they have
/// no page).
fn collect(cmd: &clap::Command, source: &str, pages: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    let man = clap_mangen::Man::new(cmd.clone()).source(source);
    let mut roff = Vec::new();
    man.render(&mut roff)?;
    pages.push((man.get_filename(), roff));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, source, pages)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_has_a_page_and_help_has_none() {
        let names: Vec<String> = pages().unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[0], "rosterctl.1");
        for page in [
            "rosterctl-account.1",
            "rosterctl-account-add.1",
            "rosterctl-account-disable.1",
            "rosterctl-health-check.1",
            "rosterctl-pki-issue.1",
            "rosterctl-key-rotate.1",
        ] {
            assert!(names.iter().any(|n| n == page), "{page} missing: {names:?}");
        }
        assert!(
            !names
                .iter()
                .any(|n| n.contains("help") || n.contains("man")),
            "{names:?}"
        );
    }
}
