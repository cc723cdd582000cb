//! What the Debian package ships stays true: the committed man pages and shell completions are
//! what the binaries generate now (refresh them with `deploy/regenerate-assets`).

use std::process::Command;

use crate::harness::bin;

fn generated(binary: &str, args: &[&str]) -> String {
    let o = Command::new(bin(binary)).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{binary} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn committed(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every page the binaries write with `man --dir`, by file name.
fn generated_pages() -> std::collections::BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    for binary in ["rosterd", "rosterctl"] {
        generated(binary, &["man", "--dir", dir.path().to_str().unwrap()]);
    }
    pages_in(dir.path())
}

fn pages_in(dir: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// The pages in deploy/man are exactly what the binaries generate: none stale, none missing,
/// none left over from a removed subcommand.
#[test]
fn every_man_page_is_generated_and_committed() {
    let committed_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/man");
    let generated = generated_pages();
    let in_repo = pages_in(&committed_dir);
    assert_eq!(
        generated.keys().collect::<Vec<_>>(),
        in_repo.keys().collect::<Vec<_>>(),
        "deploy/man has other pages than the binaries generate: run deploy/regenerate-assets"
    );
    // The package installs them all (deploy/check-deb looks inside the built .deb).
    let manifest = committed("daemon/Cargo.toml");
    for glob in [
        r#"["../deploy/man/*.1", "usr/share/man/man1/", "644"]"#,
        r#"["../deploy/man/*.8", "usr/share/man/man8/", "644"]"#,
    ] {
        assert!(
            manifest.contains(glob),
            "daemon/Cargo.toml does not install {glob}"
        );
    }
    for (name, page) in &generated {
        assert!(
            in_repo[name] == *page,
            "deploy/man/{name} is stale: run deploy/regenerate-assets and commit the result"
        );
    }
}

/// Every `NAME(N)` a generated page refers to (a SUBCOMMANDS entry, a SEE ALSO) is itself a
/// generated page, so `man rosterctl-account-add` works for every name the pages show.
#[test]
fn every_page_a_man_page_names_exists() {
    let pages = generated_pages();
    let mut referenced = 0;
    for (name, page) in &pages {
        // roff escapes the hyphens of a name: `rosterctl\-account\-add(1)`.
        let text = page.replace("\\-", "-");
        for (at, _) in text.match_indices('(') {
            let section = &text[at + 1..];
            let Some(n) = section.chars().next().filter(char::is_ascii_digit) else {
                continue;
            };
            if !section[1..].starts_with(')') {
                continue;
            }
            let start = text[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .map_or(0, |i| i + 1);
            let target = &text[start..at];
            if target.is_empty() {
                continue;
            }
            referenced += 1;
            assert!(
                pages.contains_key(&format!("{target}.{n}")),
                "{name} refers to {target}({n}), which is not generated"
            );
        }
    }
    // The top pages list their subcommands, the account page its own: the scan saw them.
    assert!(referenced >= 30, "only {referenced} references found");
    for page in [
        "rosterctl.1",
        "rosterctl-account.1",
        "rosterctl-account-add.1",
        "rosterd.8",
        "rosterd-restore.8",
    ] {
        assert!(pages.contains_key(page), "{page} not generated");
    }
}

#[test]
fn man_pages_and_completions_match_the_binaries() {
    let cases: [(&str, &[&str], &str); 5] = [
        ("rosterd", &["man"], "deploy/man/rosterd.8"),
        ("rosterctl", &["man"], "deploy/man/rosterctl.1"),
        (
            "rosterctl",
            &["completions", "bash"],
            "deploy/completions/rosterctl.bash",
        ),
        (
            "rosterctl",
            &["completions", "zsh"],
            "deploy/completions/_rosterctl",
        ),
        (
            "rosterctl",
            &["completions", "fish"],
            "deploy/completions/rosterctl.fish",
        ),
    ];
    for (binary, args, file) in cases {
        assert!(
            generated(binary, args) == committed(file),
            "{file} is stale: run deploy/regenerate-assets and commit the result"
        );
    }
    let man = committed("deploy/man/rosterctl.1");
    assert!(man.contains("account") && man.contains("health") && man.contains("positions"));
}

/// rosterctl builds from the API and identity contracts only: the daemon's storage, upstream
/// HTTP client and allocator (a C build) stay out of the CLI.
#[test]
fn rosterctl_does_not_depend_on_the_daemon() {
    let o = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "rosterctl",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--locked", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && tree.contains("roster-pki"),
        "{tree}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for daemon_only in [
        "rosterd",
        "redb",
        "reqwest",
        "tikv-jemallocator",
        "tikv-jemalloc-sys",
    ] {
        assert!(
            !tree
                .lines()
                .any(|l| l.split(' ').next() == Some(daemon_only)),
            "rosterctl depends on {daemon_only}:\n{tree}"
        );
    }
}
