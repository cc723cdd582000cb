//! How `rosterctl` shows what the daemon sends, end to end (real daemon, OpenAlgo simulator, the
//! real binary): account names in natural order, `--sort`, times in `--tz`'s zone, money with
//! its currency's decimals, stale data named on the totals it went into, and `-o json` left
//! exactly as the daemon sent it.

use roster_tests::sim::{Fault, Funds, InstanceSpec, Simulator};

use crate::harness::{Daemon, DaemonOptions, Pki, add_sim_account, text};

/// Snapshots expire fast and a dead upstream is given up on quickly, so a refresh against a
/// failing simulator serves the last snapshot as stale within the test's time.
fn opts() -> DaemonOptions {
    DaemonOptions {
        extra_config: "[portfolio]\nmax_staleness = \"2s\"\n[upstream]\nrequest_timeout = \"1s\"\n"
            .into(),
        ..DaemonOptions::default()
    }
}

/// A demo OpenAlgo book whose cash (= available cash) is `cash`.
fn book(name: &str, cash: &str) -> InstanceSpec {
    let demo = InstanceSpec::demo(name, format!("key-{name}-0123456789"));
    InstanceSpec {
        funds: Funds {
            available_cash: cash.into(),
            ..demo.funds.clone()
        },
        ..demo
    }
}

/// The first column of each table row of `out` (after the header) until a line that is not one.
fn first_column(out: &str) -> Vec<String> {
    out.lines()
        .skip(1)
        .take_while(|l| !l.starts_with("accounts:") && !l.starts_with('!') && !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Starts a simulator with `books` and a daemon with one account per book (added in the order
/// given), named as the book.
async fn setup(books: Vec<InstanceSpec>) -> (Simulator, Pki, tempfile::TempDir, Daemon) {
    let names: Vec<String> = books.iter().map(|b| b.name.clone()).collect();
    let sim = Simulator::start(books).await.unwrap();
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &opts());
    let mut c = d.accounts(&pki.admin()).await;
    for (i, n) in names.iter().enumerate() {
        add_sim_account(
            &mut c,
            n,
            &sim.instance(i).url(),
            &format!("key-{n}-0123456789"),
            &[],
        )
        .await;
    }
    (sim, pki, state, d)
}

// Multi-threaded: `ctl_async` runs the CLI off the runtime while the simulator keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_sort_naturally_money_has_its_decimals_times_are_zoned_json_is_untouched() {
    // Added out of order, so the daemon's order is not the one asserted.
    let (_sim, pki, _state, d) = setup(vec![
        book("demo-10", "99.999"),
        book("demo-2", "1500.5"),
        book("demo-1", "320.66"),
    ])
    .await;
    let admin = pki.admin();
    let (d, admin) = (&d, &admin);
    let ctl = move |args: &'static [&'static str]| d.ctl_async(admin, args, "");

    let out = ctl(&["account", "list"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        first_column(&stdout)[..3],
        ["demo-1", "demo-2", "demo-10"],
        "{stdout}"
    );
    let out = ctl(&["account", "list", "--sort", "name", "--desc"]).await;
    let (stdout, _) = text(&out);
    assert_eq!(
        first_column(&stdout)[..3],
        ["demo-10", "demo-2", "demo-1"],
        "{stdout}"
    );

    // Funds by cash; INR with 2 decimals (the connector sends 99.999 as "100" and 1500.5 as
    // "1500.5": the table shows 100.00 and 1500.50); TOTAL stays last.
    let out = ctl(&["funds", "--refresh", "--sort", "cash"]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        first_column(&stdout),
        ["demo-10", "demo-1", "demo-2", "TOTAL"],
        "{stdout}"
    );
    let cash = |name: &str| {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {stdout}"));
        line.split_whitespace()
            .nth(2)
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(cash("demo-10"), "100.00", "{stdout}");
    assert_eq!(cash("demo-2"), "1500.50", "{stdout}");
    assert_eq!(cash("TOTAL"), "1921.16", "{stdout}"); // 100 + 1500.5 + 320.66
    let out = ctl(&["funds", "--sort", "cash", "--desc"]).await;
    assert_eq!(
        first_column(&text(&out).0),
        ["demo-2", "demo-1", "demo-10", "TOTAL"]
    );

    // -o json: the daemon's exact decimals, in the daemon's order, and UTC.
    let out = ctl(&[
        "funds",
        "--tz",
        "Asia/Kolkata",
        "--sort",
        "cash",
        "-o",
        "json",
    ])
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["totals"]["cash"], "1921.16", "{stdout}");
    let accounts = doc["accounts"].as_array().unwrap();
    let names: Vec<&str> = accounts
        .iter()
        .filter_map(|a| a["accountName"].as_str())
        .collect();
    assert_eq!(names, ["demo-1", "demo-2", "demo-10"], "{stdout}");
    let cash_of = |name: &str| {
        accounts
            .iter()
            .find(|a| a["accountName"] == name)
            .map(|a| a["funds"]["cash"].clone())
            .unwrap()
    };
    assert_eq!(cash_of("demo-10"), "100", "{stdout}");
    assert_eq!(cash_of("demo-2"), "1500.5", "{stdout}");
    let demo10 = &accounts[2];
    let fetched = demo10["fetchedAt"].as_str().unwrap();
    assert!(
        fetched.ends_with("+00:00") || fetched.ends_with('Z'),
        "{stdout}"
    );

    // Times in the zone asked for, with its offset; json stays UTC.
    let out = ctl(&["--tz", "Asia/Kolkata", "health", "check", "demo-1"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let next = stdout
        .lines()
        .find(|l| l.starts_with("next check:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(next.ends_with("+05:30"), "{stdout}");
    // The check just passed: how long ago, and when on the operator's clock.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("last ok:") && l.contains(" ago (") && l.ends_with("+05:30)")),
        "{stdout}"
    );
    let out = ctl(&["health", "get", "demo-1", "--tz", "Asia/Kolkata"]).await;
    let (stdout, _) = text(&out);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("next check:") && l.ends_with("+05:30")),
        "{stdout}"
    );
    let out = ctl(&["--tz", "UTC", "health", "get", "demo-1"]).await;
    let (stdout, _) = text(&out);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("next check:") && l.ends_with('Z')),
        "{stdout}"
    );
    let out = ctl(&[
        "--tz",
        "Asia/Kolkata",
        "health",
        "get",
        "demo-1",
        "-o",
        "json",
    ])
    .await;
    let (stdout, _) = text(&out);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let next = doc["nextCheckTime"].as_str().unwrap_or_default();
    assert!(
        next.ends_with("+00:00") || next.ends_with('Z'),
        "json keeps UTC: {stdout}"
    );
    // Order times too (the demo book's orders have parseable timestamps).
    let out = ctl(&["--tz", "Asia/Kolkata", "orders", "--account", "demo-1"]).await;
    let (stdout, _) = text(&out);
    assert!(stdout.contains("+05:30"), "{stdout}");
    // ...shown as the exchange's clock read them (the demo's 14:13:45 in India), and prices are
    // money: the limit order's 16.5 INR shows with 2 decimals.
    let limit = stdout
        .lines()
        .find(|l| l.contains("YESBANK"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        limit.contains("2025-04-08T14:13:45+05:30") && limit.contains(" 16.50 "),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_sort_key_or_zone_is_a_usage_error_naming_the_choices() {
    let (_sim, pki, _state, d) = setup(vec![book("demo-1", "1")]).await;
    let admin = pki.admin();
    for (args, wants) in [
        (&["funds", "--sort", "pnl"][..], &["name, cash"][..]),
        (&["positions", "--sort", "cash"][..], &["name, pnl"][..]),
        (
            &["health", "--sort", "pnl"][..],
            &["name", "state", "latency", "last-ok"][..],
        ),
        (
            &["account", "list", "--sort", "cash"][..],
            &["name", "connector", "state"][..],
        ),
        (
            &["--tz", "Mars/Olympus", "health"][..],
            &["UTC", "IANA", "Asia/Kolkata"][..],
        ),
        (
            &["funds", "--tz", "+5:30"][..],
            &["UTC", "IANA", "Asia/Kolkata"][..],
        ),
    ] {
        let out = d.ctl_async(&admin, args, "").await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?} printed a book: {stdout}");
        for w in wants {
            assert!(stderr.contains(w), "{args:?} should name {w:?}: {stderr}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_positions_section_marks_the_pnl_total_it_went_into() {
    let (sim, pki, _state, d) = setup(vec![book("demo-1", "1"), book("demo-2", "2")]).await;
    let admin = pki.admin();

    // Both fresh: each demo book's P&L is 0.02 + 5.90 - 10.44 = -4.52.
    let out = d.ctl_async(&admin, &["positions", "--refresh"], "").await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.lines().any(|l| l == "total pnl: -9.04 INR"),
        "{stdout}"
    );

    // demo-2's upstream fails: its last snapshot is served stale and still counted.
    sim.instance(1).set_fault(Fault::Http500);
    for args in [
        &["positions", "--refresh"][..],
        &["positions", "--net", "--refresh"][..],
    ] {
        let out = d.ctl_async(&admin, args, "").await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(
            stdout
                .lines()
                .any(|l| l == "total pnl: -9.04 INR (includes stale data)"),
            "{args:?}: {stdout}"
        );
    }
    let out = d
        .ctl_async(&admin, &["positions", "--net", "--refresh"], "")
        .await;
    let (stdout, _) = text(&out);
    let yes = stdout
        .lines()
        .find(|l| l.starts_with("YESBANK"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(yes.ends_with("includes stale data"), "{stdout}");
}

/// The zone is `--tz`, else `ROSTER_TZ`, else the system's (`TZ`); the database is built in, so
/// a host without a zoneinfo directory knows Asia/Kolkata. `pki init` prints a time without a
/// daemon: the server certificate's expiry.
#[test]
fn the_zone_comes_from_tz_flag_then_roster_tz_then_the_system() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let run = |env: &[(&str, &str)], flag: &[&str], n: usize| {
        let mut c = Command::new(crate::harness::bin("rosterctl"));
        c.env_remove("ROSTER_TZ")
            .env_remove("TZ")
            .env("TZDIR", empty.path())
            .envs(env.iter().copied())
            .args(flag)
            .args(["pki", "init", "--dir"])
            .arg(dir.path().join(n.to_string()));
        let out = c.output().unwrap();
        let (stdout, stderr) = text(&out);
        let expires = stdout
            .lines()
            .find_map(|l| l.split_once("expires ").map(|(_, t)| t.to_owned()))
            .unwrap_or_default();
        (out.status.code(), expires, stderr)
    };
    let (code, at, err) = run(&[("TZ", "Asia/Kolkata")], &[], 1);
    assert_eq!(code, Some(0), "{err}");
    assert!(at.ends_with("+05:30"), "system zone from TZ: {at}");
    let (_, at, _) = run(&[("TZ", "Asia/Kolkata"), ("ROSTER_TZ", "UTC")], &[], 2);
    assert!(at.ends_with('Z'), "ROSTER_TZ over TZ: {at}");
    let (_, at, _) = run(&[("ROSTER_TZ", "UTC")], &["--tz", "America/New_York"], 3);
    assert!(
        at.ends_with("-05:00") || at.ends_with("-04:00"),
        "--tz over ROSTER_TZ: {at}"
    );
    let (code, at, err) = run(&[("ROSTER_TZ", "Asia/Atlantis")], &[], 4);
    assert_eq!(code, Some(2), "{at}");
    assert!(
        err.contains("IANA") && err.contains("Asia/Atlantis"),
        "{err}"
    );
    assert!(
        !dir.path().join("4").exists(),
        "nothing written on a usage error"
    );
}
