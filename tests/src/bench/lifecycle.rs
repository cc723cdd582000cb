//! Scenario `lifecycle`: start-up to READY=1 with many accounts in the store, SIGTERM to exit
//! while they are all monitored, and an online backup (`rosterctl backup`) restored offline
//! (`rosterd restore`) into a fresh state dir.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use roster_proto::v1::GetStatusRequest;
use roster_proto::v1::admin_service_client::AdminServiceClient;

use super::daemon::{Daemon, Env, sibling_bin};
use super::measure::{Latencies, mib, ms};
use super::report::Report;

#[derive(Debug, Clone)]
pub struct LifecycleOpts {
    pub accounts: usize,
    pub restarts: usize,
}

async fn account_count(d: &Daemon) -> anyhow::Result<u32> {
    let mut admin = AdminServiceClient::new(d.channel().await?);
    Ok(admin
        .get_status(GetStatusRequest {})
        .await?
        .into_inner()
        .account_count)
}

fn run_checked(cmd: &mut Command) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let out = cmd.output()?;
    let took = t.elapsed();
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(took)
}

pub async fn run(o: &LifecycleOpts, keep: bool) -> anyhow::Result<Report> {
    let n = o.accounts;
    let mut report = Report::new(
        format!("lifecycle-{n}"),
        format!("Lifecycle: {n} accounts in the store"),
    );
    // Every account points at a closed loopback port, so each is really monitored (a connect
    // attempt every interval, until its DOWN backoff) without needing n simulators.
    let mut env = Env::new("[monitor]\ninterval = \"10s\"\ntimeout = \"2s\"\n")?;
    if keep {
        env.keep();
        eprintln!("state kept in {}", env.root.display());
    }
    let mut d = env.spawn()?;
    let empty_ready = d.to_ready;
    let ch = d.channel().await?;
    let reqs = (0..n)
        .map(|i| {
            super::account(
                format!("acct-{i}"),
                "http://127.0.0.1:9".into(),
                format!("key-{i:06}-bench"),
                true,
            )
        })
        .collect();
    let (_, took) = super::create_accounts(&ch, reqs, 32).await?;
    drop(ch);
    eprintln!("created {n} accounts in {took:?}");
    report.row(
        "creating the accounts (CreateAccount, 32 in flight)",
        format!(
            "{:.1} s ({:.0}/s)",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        ),
        "",
    );
    // Let every account get its first check, so SIGTERM meets a busy monitor.
    tokio::time::sleep(Duration::from_secs(12)).await;

    let backup = env.root.join("backup.redb");
    let mut ctl = Command::new(sibling_bin("rosterctl")?);
    ctl.args(d.ctl_args())
        .arg("backup")
        .arg("--out")
        .arg(&backup);
    let backup_took = run_checked(&mut ctl)?;
    let backup_size = std::fs::metadata(&backup)?.len();
    report.row(
        "online backup (`rosterctl backup`)",
        format!("{} ({})", ms(backup_took), mib(backup_size)),
        "",
    );

    let mut readies = Vec::new();
    let mut listens = Vec::new();
    let mut stops = Vec::new();
    let mut rss = Vec::new();
    let (t, _) = d.stop_timed()?;
    stops.push(t);
    for _ in 0..o.restarts {
        let mut d = env.spawn()?;
        listens.push(d.to_listening);
        readies.push(d.to_ready.context("no READY=1 on the notify socket")?);
        // Monitored for a while (every account's first check after the restart) before SIGTERM.
        tokio::time::sleep(Duration::from_secs(12)).await;
        rss.push(d.sample()?.rss_bytes);
        let (t, clean) = d.stop_timed()?;
        if !clean {
            bail!("rosterd exited non-zero after SIGTERM");
        }
        stops.push(t);
    }
    let readies = Latencies::new(readies);
    let listens = Latencies::new(listens);
    let stops = Latencies::new(stops);
    report.row(
        "spawn to READY=1, empty store",
        empty_ready.map_or("-".into(), ms),
        "",
    );
    report.row(
        format!(
            "spawn to READY=1, {n} accounts: median / max of {}",
            readies.len()
        ),
        format!("{} / {}", ms(readies.pct(50.0)), ms(readies.max())),
        "< 300 ms",
    );
    report.row(
        "spawn to \"listening\" line: median",
        ms(listens.pct(50.0)),
        "",
    );
    report.row(
        format!(
            "SIGTERM to exit, {n} accounts monitored: median / max of {}",
            stops.len()
        ),
        format!("{} / {}", ms(stops.pct(50.0)), ms(stops.max())),
        "< 2 s",
    );
    if let Some(r) = rss.first() {
        report.row(
            format!("RSS, {n} accounts monitored (failing)"),
            mib(*r),
            "",
        );
    }

    // Offline restore into a fresh state dir of the same environment (same master key).
    let fresh = env.root.join("restored");
    std::fs::create_dir_all(&fresh)?;
    let mut restore = Command::new(sibling_bin("rosterd")?);
    restore
        .arg("restore")
        .arg("--state-dir")
        .arg(&fresh)
        .arg("--from")
        .arg(&backup);
    let restore_took = run_checked(&mut restore)?;
    // Point the config at the restored file and prove it serves every account.
    let cfg = std::fs::read_to_string(&env.config)?.replace(
        &format!("{:?}", env.state.join("roster.redb").display().to_string()),
        &format!("{:?}", fresh.join("roster.redb").display().to_string()),
    );
    std::fs::write(&env.config, cfg)?;
    let mut d = env.spawn()?;
    let count = account_count(&d).await?;
    let after_ready = d.to_ready;
    d.stop_timed()?;
    report.row(
        format!("offline restore of the {n}-account backup (`rosterd restore`)"),
        format!("{} (then {count} accounts served)", ms(restore_took)),
        "",
    );
    report.row(
        "spawn to READY=1 on the restored store",
        after_ready.map_or("-".into(), ms),
        "",
    );
    report.note("READY=1 is read from a NOTIFY_SOCKET the bench binds (as systemd would), timed from just before spawn; it includes exec, config load, opening redb, loading every account and binding the listener. SIGTERM is sent with `kill(1)` (about 1 ms of the figure). Accounts point at a closed port (127.0.0.1:9), so every one is checked and failing (CONNECT), then backs off when DOWN.");
    Ok(report)
}
