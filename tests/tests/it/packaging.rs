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
