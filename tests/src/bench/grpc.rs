//! Scenario `grpc`: read RPCs under mTLS from many concurrent clients: GetAccount, ListAccounts
//! (page 100) and GetHealth. Reports req/s, latency percentiles, and requests per CPU-second of
//! the daemon alone and of daemon + load generator (both run on this machine's cores).
//!
//! The clients are concurrent callers, each with one request in flight at a time, spread over a
//! smaller number of mTLS connections (HTTP/2 multiplexes them, as any gRPC client pool does).
//! `--connections` equal to `--clients` gives every caller a connection of its own.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use roster_proto::v1::account_service_client::AccountServiceClient;
use roster_proto::v1::monitor_service_client::MonitorServiceClient;
use roster_proto::v1::{GetAccountRequest, GetHealthRequest, ListAccountsRequest};
use tonic::transport::Channel;

use super::daemon::{Daemon, Env};
use super::measure::{Latencies, ProcSample, ms};
use super::raw::{H2Connection, ListAccountsRaw};
use super::report::Report;

#[derive(Debug, Clone)]
pub struct GrpcOpts {
    /// Concurrent callers, each with one request in flight.
    pub clients: usize,
    /// mTLS connections the callers share (caller `k` uses connection `k % connections`).
    pub connections: usize,
    pub accounts: usize,
    pub secs: u64,
    /// Measured windows per RPC (each after its own second of warm-up), pooled in the report.
    pub repeat: usize,
    /// Offered load in requests per second over all callers (open loop: each caller sends on a
    /// fixed schedule and latency counts from the scheduled time, so a slow answer cannot hide
    /// the queueing it causes). 0: closed loop, every caller as fast as the answers come.
    pub rate: u64,
    /// The RPCs to measure, in this order.
    pub rpcs: Vec<Rpc>,
    /// Record a flat `perf` profile of the daemon over each RPC's window into `<perf>-<Rpc>.data`.
    pub perf: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Rpc {
    GetAccount,
    /// A page of 100, every answer decoded by tonic/prost.
    ListAccounts,
    /// The same RPC from the lean `h2` caller of `raw`: every answer's gRPC framing and status
    /// checked, one in `raw::VERIFY_EVERY` decoded (and checked to be a page of 100).
    ListAccountsRaw,
    GetHealth,
}

/// The page size of the ListAccounts measurements.
const PAGE_SIZE: i32 = 100;

/// One caller's client, built once: per call only the request itself is allocated.
enum Caller {
    /// tonic's typed clients over a shared channel.
    Typed(Box<Typed>),
    /// The lean HTTP/2 ListAccounts caller.
    Raw(ListAccountsRaw),
}

struct Typed {
    accounts: AccountServiceClient<Channel>,
    monitor: MonitorServiceClient<Channel>,
}

impl Caller {
    fn typed(ch: &Channel) -> Self {
        Caller::Typed(Box::new(Typed {
            accounts: AccountServiceClient::new(ch.clone()),
            monitor: MonitorServiceClient::new(ch.clone()),
        }))
    }

    async fn call(&mut self, rpc: Rpc, id: &str) -> Result<(), tonic::Status> {
        let Typed { accounts, monitor } = match self {
            Caller::Raw(raw) => return raw.call().await,
            Caller::Typed(typed) => &mut **typed,
        };
        match rpc {
            Rpc::GetAccount => {
                accounts
                    .get_account(GetAccountRequest {
                        account: id.to_string(),
                    })
                    .await?;
            }
            Rpc::ListAccountsRaw => {
                return Err(tonic::Status::internal(
                    "ListAccountsRaw is sent by the raw caller on the load threads",
                ));
            }
            Rpc::ListAccounts => {
                accounts
                    .list_accounts(ListAccountsRequest {
                        page_size: PAGE_SIZE,
                        ..Default::default()
                    })
                    .await?;
            }
            Rpc::GetHealth => {
                monitor
                    .get_health(GetHealthRequest {
                        account: id.to_string(),
                    })
                    .await?;
            }
        }
        Ok(())
    }
}

type CallerResult = (Vec<Duration>, u64, Option<tonic::Status>);

/// A caller's measurements, still to come: from a task on this runtime, or from a load thread.
enum CallerTask {
    Spawned(tokio::task::JoinHandle<CallerResult>),
    Thread(std::thread::JoinHandle<anyhow::Result<Vec<CallerResult>>>),
}

/// When every caller sends: shared by all callers of a window.
#[derive(Clone, Copy)]
struct Schedule {
    warm_until: Instant,
    end: Instant,
    /// Open loop: each caller's send interval; closed loop: `None`.
    period: Option<Duration>,
    clients: usize,
}

/// The threads that run the lean ListAccounts callers, one per core, as wrk and h2load do.
const LOAD_THREADS: usize = 2;

/// The `ListAccountsRaw` callers on `LOAD_THREADS` threads, each with a single-threaded runtime
/// and its own share of the mTLS connections: a caller, its connection and the connection's
/// reads all stay on one thread, so an answer never wakes a task on another thread. (On the
/// bench's shared multi-threaded runtime the same callers cost ~33 µs of CPU per page, here
/// ~29 µs; three A/B pairs at 20,000 req/s.)
fn load_threads(
    daemon: &Daemon,
    o: &GrpcOpts,
    ids: &std::sync::Arc<[String]>,
    schedule: Schedule,
) -> Vec<CallerTask> {
    let (addr, pki) = daemon.h2_target();
    let connections = o.connections.div_ceil(LOAD_THREADS);
    (0..LOAD_THREADS)
        .map(|thread| {
            let ids = ids.clone();
            let pki = pki.clone();
            CallerTask::Thread(std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async move {
                    let mut conns = Vec::with_capacity(connections);
                    for _ in 0..connections {
                        conns.push(H2Connection::connect(addr, &pki).await?);
                    }
                    let tasks: Vec<_> = (thread..schedule.clients)
                        .step_by(LOAD_THREADS)
                        .enumerate()
                        .map(|(n, k)| {
                            let raw = ListAccountsRaw::new(&conns[n % conns.len()], PAGE_SIZE);
                            let caller = Caller::Raw(raw);
                            let ids = ids.clone();
                            tokio::spawn(caller_loop(
                                k,
                                caller,
                                Rpc::ListAccountsRaw,
                                ids,
                                schedule,
                            ))
                        })
                        .collect();
                    let mut out = Vec::with_capacity(tasks.len());
                    for t in tasks {
                        out.push(t.await?);
                    }
                    Ok(out)
                })
            }))
        })
        .collect()
}

/// One caller: unmeasured calls until the end of warm-up, then calls on the schedule until its
/// end, each latency from the scheduled send time.
async fn caller_loop(
    k: usize,
    mut caller: Caller,
    rpc: Rpc,
    ids: std::sync::Arc<[String]>,
    s: Schedule,
) -> CallerResult {
    let mut next = s
        .period
        .map(|p| s.warm_until + p.mul_f64(k as f64 / s.clients as f64));
    let mut lat = Vec::with_capacity(1 << 16);
    let mut errors = 0u64;
    let mut first_error = None;
    let mut i = k;
    while Instant::now() < s.warm_until {
        let _ = caller.call(rpc, &ids[i % ids.len()]).await;
        i += 7;
    }
    loop {
        let t = match (&mut next, s.period) {
            (Some(at), Some(p)) => {
                let scheduled = *at;
                *at += p;
                tokio::time::sleep_until(scheduled.into()).await;
                scheduled
            }
            _ => Instant::now(),
        };
        if t >= s.end {
            break;
        }
        match caller.call(rpc, &ids[i % ids.len()]).await {
            Ok(()) => lat.push(t.elapsed()),
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
        i += 7;
    }
    (lat, errors, first_error)
}

/// What one measured window of one RPC produced.
struct Window {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<tonic::Status>,
    /// From the end of warm-up until the last answer.
    answered_in: Duration,
    daemon_cpu: Duration,
    bench_cpu: Duration,
}

/// One window: 1 s of warm-up, then `o.secs` measured, every caller on its own task.
async fn window(
    rpc: Rpc,
    daemon: &Daemon,
    o: &GrpcOpts,
    channels: &[Channel],
    ids: &[String],
    perf: Option<PathBuf>,
) -> anyhow::Result<Window> {
    // One second unmeasured first: connection windows, allocator and caches warm up.
    let warm_until = Instant::now() + Duration::from_secs(1);
    let end = warm_until + Duration::from_secs(o.secs);
    let ids: std::sync::Arc<[String]> = ids.into();
    // Open loop: caller k sends at warm_until + k * period / clients + j * period.
    let period = (o.rate > 0).then(|| Duration::from_secs_f64(o.clients as f64 / o.rate as f64));
    let schedule = Schedule {
        warm_until,
        end,
        period,
        clients: o.clients,
    };
    let tasks: Vec<CallerTask> = if rpc == Rpc::ListAccountsRaw {
        load_threads(daemon, o, &ids, schedule)
    } else {
        (0..o.clients)
            .map(|k| {
                let caller = Caller::typed(&channels[k % channels.len()]);
                let ids = ids.clone();
                CallerTask::Spawned(tokio::spawn(caller_loop(k, caller, rpc, ids, schedule)))
            })
            .collect()
    };
    tokio::time::sleep_until(warm_until.into()).await;
    let s0 = daemon.sample()?;
    let b0 = ProcSample::read(std::process::id())?;
    let perf = match perf {
        Some(file) => Some(super::measure::perf_record(daemon.pid, &file, o.secs)?),
        None => None,
    };
    let mut results = Vec::new();
    for t in tasks {
        match t {
            CallerTask::Spawned(h) => results.push(h.await?),
            CallerTask::Thread(h) => {
                let joined = tokio::task::spawn_blocking(move || h.join()).await?;
                results.extend(joined.map_err(|_| anyhow::anyhow!("a load thread panicked"))??);
            }
        }
    }
    // Until the last answer: under an open loop that the daemon cannot keep up with, answers
    // arrive long after the last scheduled send, and throughput is what was answered per second.
    let answered_in = warm_until.elapsed().max(Duration::from_secs(o.secs));
    let s1 = daemon.sample()?;
    let b1 = ProcSample::read(std::process::id())?;
    if let Some(mut p) = perf {
        tokio::task::spawn_blocking(move || p.wait()).await??;
    }
    let mut w = Window {
        latencies: Vec::new(),
        errors: 0,
        first_error: None,
        answered_in,
        daemon_cpu: s1.cpu_since(&s0).0,
        bench_cpu: b1.cpu_since(&b0).0,
    };
    for (l, e, first) in results {
        w.latencies.extend(l);
        w.errors += e;
        w.first_error = w.first_error.or(first);
    }
    Ok(w)
}

/// `o.repeat` windows of one RPC, reported pooled (and each window's p99 when there are more).
async fn load(
    rpc: Rpc,
    daemon: &Daemon,
    o: &GrpcOpts,
    channels: &[Channel],
    ids: &[String],
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut all = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    let (mut answered_in, mut cpu, mut bench_cpu) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut p99s = Vec::new();
    for run in 0..o.repeat.max(1) {
        let perf = o.perf.as_deref().map(|prefix| perf_file(prefix, rpc, run));
        let w = window(rpc, daemon, o, channels, ids, perf).await?;
        p99s.push(ms(Latencies::new(w.latencies.clone()).pct(99.0)));
        all.extend(w.latencies);
        errors += w.errors;
        first_error = first_error.or(w.first_error);
        answered_in += w.answered_in;
        cpu += w.daemon_cpu;
        bench_cpu += w.bench_cpu;
    }
    if let Some(e) = first_error {
        eprintln!("{rpc:?}: {errors} errors; the first: {e}");
    }
    let pct = |cpu: Duration| 100.0 * cpu.as_secs_f64() / answered_in.as_secs_f64().max(1e-9);
    let n = all.len();
    let lat = Latencies::new(all);
    let rps = n as f64 / answered_in.as_secs_f64().max(1e-9);
    let per_daemon_cpu = n as f64 / cpu.as_secs_f64().max(1e-9);
    let per_total_cpu = n as f64 / (cpu + bench_cpu).as_secs_f64().max(1e-9);
    report.row(
        format!("{rpc:?}: req/s (errors)"),
        format!("{rps:.0} ({errors})"),
        "≥ 20,000",
    );
    report.row(
        format!("{rpc:?}: p50 / p90 / p99"),
        format!(
            "{} / {} / {}",
            ms(lat.pct(50.0)),
            ms(lat.pct(90.0)),
            ms(lat.pct(99.0))
        ),
        "p99 < 5 ms",
    );
    if p99s.len() > 1 {
        report.row(
            format!("{rpc:?}: p99 of each of the {} windows", p99s.len()),
            p99s.join(", "),
            "",
        );
    }
    report.row(
        format!("{rpc:?}: daemon CPU, req per daemon CPU-second (req/s per core)"),
        format!(
            "{:.0} % of one core, {per_daemon_cpu:.0} ({:.1} µs per request)",
            pct(cpu),
            1e6 / per_daemon_cpu
        ),
        "",
    );
    report.row(
        format!("{rpc:?}: load generator CPU; req per CPU-second of daemon + load generator"),
        format!(
            "{:.0} % of one core, {per_total_cpu:.0} ({:.1} µs per request in all)",
            pct(bench_cpu),
            1e6 / per_total_cpu
        ),
        "",
    );
    eprintln!(
        "{rpc:?}: {rps:.0} req/s, p99 {} (windows: {}), {per_daemon_cpu:.0} req per daemon CPU-s, {per_total_cpu:.0} per total CPU-s",
        ms(lat.pct(99.0)),
        p99s.join(", ")
    );
    Ok(())
}

fn perf_file(prefix: &Path, rpc: Rpc, run: usize) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    if run == 0 {
        name.push(format!("-{rpc:?}.data"));
    } else {
        name.push(format!("-{rpc:?}-{run}.data"));
    }
    PathBuf::from(name)
}

pub async fn run(o: &GrpcOpts, keep: bool) -> anyhow::Result<Report> {
    let connections = o.connections.clamp(1, o.clients.max(1));
    let (key, mode) = if o.rate > 0 {
        (
            format!("grpc-rate{}", o.rate),
            format!("{} req/s offered (open loop)", o.rate),
        )
    } else {
        ("grpc".to_string(), "closed loop".to_string())
    };
    let mut report = Report::new(
        key,
        format!(
            "gRPC under mTLS: {} concurrent clients over {connections} connections, {} accounts, {mode}",
            o.clients, o.accounts
        ),
    );
    let mut env = Env::new("")?;
    if keep {
        env.keep();
    }
    let daemon = env.spawn()?;
    let ch = daemon.channel().await?;
    // Disabled accounts: the point is the API path, not the monitor's background work.
    let reqs = (0..o.accounts)
        .map(|i| {
            super::account(
                format!("acct-{i}"),
                "http://127.0.0.1:9".into(),
                format!("key-{i:06}-bench"),
                false,
            )
        })
        .collect();
    let (ids, _) = super::create_accounts(&ch, reqs, 32).await?;
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections {
        channels.push(daemon.channel().await?);
    }
    for &rpc in &o.rpcs {
        load(rpc, &daemon, o, &channels, &ids, &mut report).await?;
    }
    report.note(format!(
        "{} concurrent clients (callers), one request at a time each, over {connections} mTLS connections (HTTP/2 streams multiplexed; caller k uses connection k mod {connections}); one admin principal, `[limits]` raised so the per-principal limit never answers. {}",
        o.clients,
        if o.repeat > 1 {
            format!("{} windows of {} s measured per RPC, each after 1 s of warm-up; the figures pool all windows.", o.repeat, o.secs)
        } else {
            format!("{} s measured per RPC after 1 s of warm-up.", o.secs)
        }
    ));
    if o.rate > 0 {
        report.note(format!("Open loop: each caller sends on a fixed schedule ({} req/s in all) whether or not its previous answer came back late, and each latency is measured from the scheduled send time, so queueing behind a slow answer counts (no coordinated omission).", o.rate));
    }
    if o.rpcs.contains(&Rpc::ListAccountsRaw) {
        report.note(format!("ListAccountsRaw is the ListAccounts RPC sent by a lean HTTP/2 caller (the `h2` crate, over {connections} mTLS connections of its own, with tonic's window sizes, made for each window on {LOAD_THREADS} load threads that each run a single-threaded runtime): every answer is checked to be HTTP 200 with one uncompressed gRPC message of exactly the bytes received and `grpc-status: 0`, and one in {} is decoded and checked to hold a page of {PAGE_SIZE}. ListAccounts uses tonic's typed client and decodes every page with prost, which costs the load generator more CPU than the daemon spends on it.", super::raw::VERIFY_EVERY));
    }
    report.note("The clients (in the bench process) run on the same 2 cores as the daemon, so client and server compete for CPU. 'req per daemon CPU-second' is the server's own cost; 'daemon + load generator' divides by the CPU time of both processes over the window.");
    report.note("Accounts are created disabled so that no monitor traffic runs during the measurement; GetHealth answers from the monitor's in-memory map either way.");
    if o.perf.is_some() {
        report.note("Profiled with `perf record -e cpu-clock` during this run (perf's own overhead is in the figures).");
    }
    Ok(report)
}
