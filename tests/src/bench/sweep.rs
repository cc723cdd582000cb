//! Scenario `sweep`: the health monitor over N simulated upstreams, some hanging and some
//! refusing connections. Measures daemon CPU per check, memory per account, scheduling lag (from
//! when the simulator saw each healthy account's pings), time until every faulty account is DOWN,
//! and SIGTERM-to-exit with all of them being monitored.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use roster_proto::v1::admin_service_client::AdminServiceClient;
use roster_proto::v1::monitor_service_client::MonitorServiceClient;
use roster_proto::v1::{GetStatusRequest, HealthState, ListHealthRequest};

use super::daemon::Env;
use super::fleet::{Fleet, FleetOpts};
use super::measure::{Latencies, mib, ms};
use super::report::Report;
use crate::alpaca_sim::{AlpacaSim, Environment, demo_keys};
use crate::sim::Framing;
use roster_proto::v1::CreateAccountRequest;

#[derive(Debug, Clone)]
pub struct SweepOpts {
    pub accounts: usize,
    pub secs: u64,
    pub interval: Duration,
    pub timeout: Duration,
    pub hang_pct: f64,
    pub refuse_pct: f64,
    /// `[monitor] funds_probe_every`: every Nth check adds a funds probe to its ping.
    pub funds_probe_every: u32,
    /// Poll period of the simulator's request counters (the lag figures' resolution).
    pub poll: Duration,
    /// Record a `perf record -e cpu-clock` profile of the daemon over the window into this file.
    pub perf: Option<std::path::PathBuf>,
    /// Upstreams serve https from a CA the daemon trusts through `SSL_CERT_FILE`.
    pub https: bool,
    /// Percent of the accounts that are Alpaca accounts on one simulated host.
    pub alpaca_pct: f64,
    /// How the OpenAlgo simulator writes its answers.
    pub framing: Framing,
    /// Every healthy OpenAlgo instance waits this long before each answer.
    pub latency: Option<Duration>,
    /// The OpenAlgo fleet runs as a separate `openalgo-sim` process.
    pub sim_process: bool,
}

/// Records, per instance from `first`, when its ping counter moved (relative to `t0`), until
/// `stop`. A failed read of the counters (a separate fleet's) skips that poll.
fn poll_pings(
    pings: Box<dyn Fn() -> anyhow::Result<Vec<u64>> + Send>,
    first: usize,
    t0: Instant,
    period: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<anyhow::Result<Vec<Vec<Duration>>>> {
    std::thread::spawn(move || {
        let mut last: Vec<u64> = pings()?.get(first..).unwrap_or_default().to_vec();
        let mut seen: Vec<Vec<Duration>> = vec![Vec::new(); last.len()];
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(period);
            let at = t0.elapsed();
            let Ok(now) = pings() else { continue };
            for ((c, l), s) in now.iter().skip(first).zip(&mut last).zip(&mut seen) {
                for _ in *l..*c {
                    s.push(at);
                }
                *l = *c;
            }
        }
        Ok(seen)
    })
}

/// Sum of `endpoint`'s counts over the fleet's instances `range`.
fn total(fleet: &Fleet, endpoint: &str, range: std::ops::RangeFrom<usize>) -> anyhow::Result<u64> {
    Ok(fleet
        .counts(endpoint)?
        .get(range)
        .unwrap_or_default()
        .iter()
        .sum())
}

pub async fn run(o: &SweepOpts, keep: bool) -> anyhow::Result<Report> {
    let n_alpaca = ((o.accounts as f64) * o.alpaca_pct / 100.0).round() as usize;
    // `n` counts the OpenAlgo accounts, among which the faulty ones are.
    let n = o.accounts - n_alpaca.min(o.accounts);
    let n_hang = ((n as f64) * o.hang_pct / 100.0).round() as usize;
    let n_refuse = ((n as f64) * o.refuse_pct / 100.0).round() as usize;
    let n_faulty = n_hang + n_refuse;
    let probe = o.funds_probe_every;
    let (key, cadence) = if probe == 1 {
        (
            format!("sweep-{n}"),
            "funds probe on every check".to_string(),
        )
    } else {
        (
            format!("sweep-{n}-probe{probe}"),
            format!("funds probe every {probe} checks"),
        )
    };
    // A section of its own, so `--md` leaves the plain-http results alone.
    let (key, over) = if o.https {
        (format!("{key}-https"), " over https")
    } else {
        (key, "")
    };
    let (key, over) = if o.framing == Framing::Wsgi {
        (
            format!("{key}-wsgi"),
            format!("{over} (answers written WSGI-style: headers, then body, Nagle on)"),
        )
    } else {
        (key, over.to_string())
    };
    let (key, over) = match o.latency {
        Some(l) => (
            format!("{key}-lat{}us", l.as_micros()),
            format!("{over}, each answer after {}", humantime(l)),
        ),
        None => (key, over),
    };
    let (key, over) = if o.sim_process {
        (
            format!("{key}-process"),
            format!("{over}, the fleet in a separate process"),
        )
    } else {
        (key, over)
    };
    let (key, mixed) = if n_alpaca > 0 {
        (
            format!("{key}-alpaca{}", o.alpaca_pct),
            format!(" plus {n_alpaca} Alpaca accounts on one simulated host"),
        )
    } else {
        (key, String::new())
    };
    let mut report = Report::new(
        key,
        format!(
            "Health sweep{over}: {n} OpenAlgo accounts{mixed}, interval {}, timeout {}, {cadence}, {n_hang} hanging, {n_refuse} refusing",
            humantime(o.interval),
            humantime(o.timeout)
        ),
    );

    // Faulty instances first (indices 0..n_faulty); the scheduler's offsets hash the account id,
    // so the order says nothing about when each is checked.
    let sim = Fleet::start(&FleetOpts {
        instances: n,
        hang: n_hang,
        refuse: n_refuse,
        framing: o.framing,
        latency: o.latency,
        https: o.https,
        process: o.sim_process,
    })
    .await?;
    let alpaca = AlpacaSim::start_many(Environment::Paper, n_alpaca).await?;

    let mut env = Env::new(&format!(
        "[monitor]\ninterval = \"{}ms\"\ntimeout = \"{}ms\"\nfunds_probe_every = {probe}\n",
        o.interval.as_millis(),
        o.timeout.as_millis()
    ))?;
    if let Some(ca) = sim.ca_pem() {
        let ca_file = env.root.join("upstream-ca.pem");
        std::fs::write(&ca_file, ca)?;
        env.daemon_env.push(("SSL_CERT_FILE".into(), ca_file));
        report.note("Upstreams serve https (TLS 1.3, ECDSA P-256 certificate from a CA the daemon trusts through `SSL_CERT_FILE`); the simulator's TLS runs in the bench process, on the same two cores.");
    }
    if keep {
        env.keep();
        eprintln!("state kept in {}", env.root.display());
    }
    let mut daemon = env.spawn()?;
    let ch = daemon.channel().await?;
    // Let the fresh process settle before taking the empty baseline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = daemon.sample()?;

    let reqs = sim
        .accounts
        .iter()
        .enumerate()
        .map(|(i, (url, key))| super::account(format!("acct-{i}"), url.clone(), key.clone(), true))
        .collect();
    let alpaca_reqs: Vec<_> = (1..=n_alpaca)
        .map(|i| {
            let (key_id, secret) = demo_keys(Environment::Paper, i);
            CreateAccountRequest {
                name: format!("alpaca-{i}"),
                connector: "alpaca".into(),
                environment: "paper".into(),
                host_url: alpaca.url(),
                credentials: [
                    ("key_id".to_string(), key_id),
                    ("secret_key".to_string(), secret),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            }
        })
        .collect::<Vec<_>>();
    let created_at = Instant::now();
    let (ids, took) = super::create_accounts(&ch, reqs, 32).await?;
    let (_, took_alpaca) = super::create_accounts(&ch, alpaca_reqs, 32).await?;
    let took = took + took_alpaca;
    eprintln!("created {} accounts in {took:?}", n + n_alpaca);
    let index: HashMap<String, usize> = ids.iter().cloned().zip(0..).collect();

    // Watch the DOWN count (GetStatus is a count, cheap) until every faulty account is DOWN.
    let down_done = {
        let mut admin = AdminServiceClient::new(ch.clone());
        let want = n_faulty as u32;
        tokio::spawn(async move {
            loop {
                if let Ok(s) = admin.get_status(GetStatusRequest {}).await {
                    let down = s.into_inner().counts_by_state.get("DOWN").copied();
                    if down.unwrap_or(0) >= want {
                        return Some(created_at.elapsed());
                    }
                }
                if created_at.elapsed() > Duration::from_secs(600) {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(1000)).await;
            }
        })
    };

    // Warm-up: every account has had its first check (and opened its connection).
    let warm = o.interval + o.timeout + Duration::from_secs(2);
    eprintln!("warming up for {warm:?}, then measuring for {} s", o.secs);
    tokio::time::sleep(warm).await;

    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let poller = poll_pings(sim.counter("ping"), n_faulty, t0, o.poll, stop.clone());
    let pings0 = total(&sim, "ping", 0..)?;
    let healthy0 = total(&sim, "ping", n_faulty..)?;
    let funds0 = total(&sim, "funds", 0..)?;
    let alpaca0 = alpaca.total_requests();
    let s0 = daemon.sample()?;
    let fleet0 = sim.sample().transpose()?;
    let perf = match &o.perf {
        Some(out) => Some(super::measure::perf_record(daemon.pid, out, o.secs)?),
        None => None,
    };
    tokio::time::sleep(Duration::from_secs(o.secs)).await;
    let s1 = daemon.sample()?;
    let fleet1 = sim.sample().transpose()?;
    let pings = total(&sim, "ping", 0..)? - pings0;
    let healthy_pings = total(&sim, "ping", n_faulty..)? - healthy0;
    let funds = total(&sim, "funds", 0..)? - funds0;
    // An Alpaca check is one request (GET /v2/account).
    let alpaca_checks = alpaca.total_requests() - alpaca0;
    let pings = pings + alpaca_checks;
    stop.store(true, Ordering::Relaxed);
    let arrivals = tokio::task::spawn_blocking(move || poller.join())
        .await?
        .map_err(|_| anyhow::anyhow!("poller panicked"))??;
    let window = s1.at.duration_since(s0.at);

    let (cpu, pct) = s1.cpu_since(&s0);
    let per_check = cpu.as_secs_f64() * 1e6 / (pings.max(1) as f64);
    let per_healthy = cpu.as_secs_f64() * 1e6 / (healthy_pings.max(1) as f64);

    // Lag: per healthy account, each gap between consecutive pings against the interval, and
    // the first ping of the window no later than one interval in.
    let mut lags = Vec::new();
    let mut missed = 0usize;
    for a in &arrivals {
        if a.is_empty() {
            missed += 1;
            continue;
        }
        lags.push(a[0].saturating_sub(o.interval));
        for w in a.windows(2) {
            let d = w[1].saturating_sub(w[0]);
            lags.push(d.abs_diff(o.interval));
        }
        let tail = window.saturating_sub(a[a.len() - 1]);
        if tail > o.interval + Duration::from_secs(1) {
            missed += 1;
        }
    }
    let lags = Latencies::new(lags);

    // Health as the API reports it.
    let mut mon = MonitorServiceClient::new(ch.clone());
    let lh = mon
        .list_health(ListHealthRequest::default())
        .await?
        .into_inner();
    let mut faulty_down = 0usize;
    let mut healthy_up = 0usize;
    // The latency the daemon reports for each healthy account's last check: the upstream's
    // answer time, which must not carry a transport artefact (a delayed ACK's 40 ms).
    let mut reported = Vec::new();
    for h in &lh.accounts {
        let Some(&i) = index.get(&h.account_id) else {
            continue;
        };
        if i < n_faulty && h.state == HealthState::Down as i32 {
            faulty_down += 1;
        }
        if i >= n_faulty && h.state == HealthState::Up as i32 {
            healthy_up += 1;
            if let Some(l) = h.latency.and_then(|l| Duration::try_from(l).ok()) {
                reported.push(l);
            }
        }
    }
    let alpaca_up = lh
        .accounts
        .iter()
        .filter(|h| !index.contains_key(&h.account_id) && h.state == HealthState::Up as i32)
        .count();
    let mut counts: Vec<_> = lh.counts.iter().collect();
    counts.sort();
    let down_after = tokio::time::timeout(Duration::from_secs(1), down_done)
        .await
        .ok()
        .and_then(|r| r.ok())
        .flatten();
    let end = daemon.sample()?;
    drop(mon);
    drop(ch);
    if let Some(mut p) = perf {
        tokio::task::spawn_blocking(move || p.wait()).await??;
        report.note("Profiled with `perf record -e cpu-clock` during this run (perf's own overhead is in the figures).");
    }
    let (stop_took, clean) = daemon.stop_timed()?;
    let connections = sim.connections();
    let reported = Latencies::new(reported);

    let n_healthy = n - n_faulty;
    let expected = n_healthy as f64 * window.as_secs_f64() / o.interval.as_secs_f64();
    report.row(
        "measured window (after warm-up)",
        format!("{:.1} s", window.as_secs_f64()),
        "300 s in the issue",
    );
    if n_alpaca > 0 {
        report.row(
            "Alpaca checks received (GET /v2/account) / Alpaca accounts UP at end",
            format!("{alpaca_checks} / {alpaca_up} of {n_alpaca}"),
            "all UP",
        );
    }
    report.row(
        "checks received by the simulators (OpenAlgo pings + Alpaca account reads)",
        format!("{pings} ({healthy_pings} healthy; expected ≈ {expected:.0} healthy), funds probes {funds}"),
        "",
    );
    report.row(
        "daemon CPU in window",
        format!("{:.2} s", cpu.as_secs_f64()),
        "",
    );
    report.row("daemon CPU, % of one core", format!("{pct:.1} %"), "< 15 %");
    report.row(
        "CPU per check (all pings received)",
        format!("{per_check:.0} µs"),
        "< 100 µs",
    );
    report.row(
        "CPU per healthy check (all daemon CPU / healthy pings)",
        format!("{per_healthy:.0} µs"),
        "",
    );
    report.row(
        "CPU per upstream request (all daemon CPU / (pings + funds probes))",
        format!(
            "{:.0} µs",
            cpu.as_secs_f64() * 1e6 / (pings + funds).max(1) as f64
        ),
        "",
    );
    report.row("RSS empty (before accounts)", mib(base.rss_bytes), "");
    report.row(
        "RSS at end / peak (VmHWM)",
        format!("{} / {}", mib(end.rss_bytes), mib(end.hwm_bytes)),
        "< 150 MB",
    );
    report.row(
        "memory per account ((RSS end - RSS empty) / N)",
        format!(
            "{:.0} bytes",
            end.rss_bytes.saturating_sub(base.rss_bytes) as f64 / (n + n_alpaca) as f64
        ),
        "",
    );
    report.row("daemon threads", end.threads.to_string(), "");
    if let (true, Some((accepted, handshakes))) = (o.https, connections) {
        report.row(
            "upstream connections accepted / TLS handshakes (whole run)",
            format!("{accepted} / {handshakes}"),
            "",
        );
    }
    if let (Some(f0), Some(f1)) = (fleet0, fleet1) {
        report.row(
            "simulated fleet's own CPU (its process), % of one core",
            format!("{:.1} %", f1.cpu_since(&f0).1),
            "",
        );
    }
    report.row(
        "check latency the daemon reports (last check of each healthy account) p50 / p99 / max",
        reported.p50_p99_max(),
        "the upstream's own answer time",
    );
    report.row(
        "scheduling lag p50 / p99 / max",
        lags.p50_p99_max(),
        "p99 < 1 s",
    );
    report.row(
        "healthy accounts with a missed interval",
        format!("{missed} of {n_healthy}"),
        "0",
    );
    report.row(
        "healthy accounts UP at end",
        format!("{healthy_up} of {n_healthy}"),
        "all",
    );
    report.row(
        "faulty accounts DOWN at end",
        format!("{faulty_down} of {n_faulty}"),
        "all",
    );
    report.row(
        "time from creating the accounts until every faulty one was DOWN",
        down_after.map_or("not reached".into(), |d| {
            format!("{:.1} s", d.as_secs_f64())
        }),
        "",
    );
    report.row(
        "ListHealth counts",
        counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        "",
    );
    report.row(
        "SIGTERM to exit (all accounts monitored)",
        format!(
            "{} ({})",
            ms(stop_took),
            if clean { "exit 0" } else { "non-zero exit" }
        ),
        "< 2 s",
    );
    report.row(
        "creating the accounts (CreateAccount, 32 in flight)",
        format!(
            "{:.1} s ({:.0}/s)",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        ),
        "",
    );
    report.note(format!(
        "Lag resolution: the simulator's counters are polled every {} ms; lag = |gap between consecutive pings - interval|, plus the first ping of the window later than one interval.",
        o.poll.as_millis()
    ));
    report.note("CPU per check divides all daemon CPU in the window (including the refused and timed-out checks of faulty accounts, the health flusher and GetStatus polling once a second) by the pings the simulator received; refused connects never reach the simulator, so both figures are upper bounds. A check is a ping, plus a funds probe every `funds_probe_every` checks (1, the default, makes every check two HTTP requests).");
    if n_alpaca > 0 {
        report.note("Mixed fleet: the checks counted are OpenAlgo pings plus Alpaca `GET /v2/account` reads (one request per Alpaca check); lag is measured on the OpenAlgo accounts only. The Alpaca simulator (every account on one host, as paper-api.alpaca.markets serves them) runs in the bench process, on the same two cores.");
    }
    if o.sim_process {
        report.note("The OpenAlgo fleet is `openalgo-sim --demo N --control` in a process of its own (the bench reads its request counters over loopback), sharing the same two cores with the daemon and the bench.");
    }
    sim.shutdown().await;
    alpaca.shutdown().await;
    Ok(report)
}

pub fn humantime(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}
