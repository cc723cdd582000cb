//! roster-bench: the performance harness. Each scenario starts the real release `rosterd` (next
//! to this binary) in a temp dir, simulated OpenAlgo upstreams in this process, and drives the
//! real gRPC API over mTLS; the daemon is measured through /proc. Results are printed as a
//! Markdown table and, with `--md FILE`, written into that file's section for the scenario.
//!
//! ```text
//! cargo build --release -p rosterd -p rosterctl -p roster-tests
//! ulimit -n 20000
//! cargo run --release -p roster-tests --bin roster-bench -- sweep --accounts 5000 --secs 120 --md BENCHMARKS.md
//! ```

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use roster_tests::bench::{grpc, lifecycle, portfolio, sweep, venues, writes};
use roster_tests::sim::Framing;

/// The daemon's allocator for the load generator too: it shares the daemon's two cores, and
/// glibc malloc/free were ~9 % of its CPU under ListAccounts.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks of the real rosterd over mTLS against simulated OpenAlgo upstreams")]
struct Cli {
    /// Write the results into this Markdown file (replacing the scenario's previous section).
    #[arg(long, global = true, value_name = "FILE")]
    md: Option<PathBuf>,
    /// Keep the temp dir (state, config, daemon log) for inspection.
    #[arg(long, global = true)]
    keep: bool,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Health monitor over N upstreams, some hanging and some refusing.
    Sweep {
        #[arg(long, default_value_t = 5000)]
        accounts: usize,
        /// Measured seconds, after a warm-up of one interval + timeout + 2 s.
        #[arg(long, default_value_t = 300)]
        secs: u64,
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        interval: Duration,
        #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// Percent of upstreams that accept and never answer.
        #[arg(long, default_value_t = 5.0)]
        hang_pct: f64,
        /// Percent of upstreams whose port is closed.
        #[arg(long, default_value_t = 5.0)]
        refuse_pct: f64,
        /// `[monitor] funds_probe_every` for the daemon (1 = a funds probe on every check, the
        /// daemon's default).
        #[arg(long, default_value_t = 1)]
        funds_probe_every: u32,
        /// How often the simulator's counters are read (lag resolution), ms.
        #[arg(long, default_value_t = 20)]
        poll_ms: u64,
        /// Record a `perf record -e cpu-clock` profile of the daemon over the window.
        #[arg(long, value_name = "FILE")]
        perf: Option<PathBuf>,
        /// Upstreams serve https (the daemon trusts their CA through SSL_CERT_FILE); the results
        /// go to a section of their own (`sweep-N-https`).
        #[arg(long)]
        https: bool,
        /// Percent of the accounts that are Alpaca paper accounts, all on one simulated Alpaca
        /// host (the rest are OpenAlgo instances); results go to `sweep-N-alpacaP`.
        #[arg(long, default_value_t = 0.0)]
        alpaca_pct: f64,
        /// How the simulated OpenAlgo instances write answers: `whole` (one write, TCP_NODELAY)
        /// or `wsgi` (headers then body, Nagle on, as Flask does); results of `wsgi` go to
        /// `sweep-N-wsgi`.
        #[arg(long, default_value = "whole")]
        framing: Framing,
        /// Every healthy OpenAlgo instance waits this long before each answer (a Python
        /// server's service time, e.g. 1ms); results go to `sweep-N-...-latNus`.
        #[arg(long, value_parser = humantime::parse_duration)]
        latency: Option<Duration>,
        /// Run the OpenAlgo fleet as a separate `openalgo-sim` process (as a real fleet is)
        /// instead of inside the bench; results go to `sweep-N-...-process`. Plain http only.
        #[arg(long, conflicts_with = "https")]
        sim_process: bool,
    },
    /// GetAccount, ListAccounts (page 100), GetHealth from concurrent mTLS clients.
    Grpc {
        /// Concurrent callers, each with one request in flight.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// mTLS connections the callers share (HTTP/2 multiplexing); at most `--clients`.
        #[arg(long, default_value_t = 8)]
        connections: usize,
        #[arg(long, default_value_t = 1000)]
        accounts: usize,
        /// Measured seconds per RPC.
        #[arg(long, default_value_t = 10)]
        secs: u64,
        /// Offered requests per second over all clients, sent on a fixed schedule (open loop;
        /// latency counts from the scheduled time). 0 = closed loop, as fast as answers come.
        #[arg(long, default_value_t = 0)]
        rate: u64,
        /// Measured windows per RPC, each after 1 s of warm-up; the report pools them and lists
        /// each window's p99.
        #[arg(long, default_value_t = 1)]
        repeat: usize,
        /// The RPCs to measure, comma-separated, in order. `list-accounts` decodes every page
        /// in the bench (tonic/prost, as a real client would); `list-accounts-raw` sends the same
        /// RPC with a lean HTTP/2 caller (the `h2` crate over its own mTLS connections) that
        /// checks every answer's framing and status and decodes and checks one page in 64, so
        /// the load generator takes less of the cores the daemon needs.
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "get-account,list-accounts,list-accounts-raw,get-health"
        )]
        rpcs: Vec<grpc::Rpc>,
        /// Record a `perf record -e cpu-clock` profile of the daemon over each RPC's window
        /// into `<PREFIX>-<Rpc>.data`.
        #[arg(long, value_name = "PREFIX")]
        perf: Option<PathBuf>,
    },
    /// CPU per health check for each venue on its own (signing included).
    Venues {
        #[arg(long, default_value_t = 1000)]
        accounts: usize,
        /// Measured seconds per venue.
        #[arg(long, default_value_t = 30)]
        secs: u64,
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        interval: Duration,
        /// The venues, in order.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "openalgo,alpaca,binance,okx,coinbase"
        )]
        venues: Vec<String>,
    },
    /// GetPositions / GetOrders over many accounts, from snapshots and refreshed.
    Portfolio {
        #[arg(long, default_value_t = 500)]
        accounts: usize,
        #[arg(long, default_value_t = 100)]
        orders: usize,
        /// Calls per snapshot-read measurement.
        #[arg(long, default_value_t = 200)]
        iterations: usize,
        /// Upstream answer delay for the refresh measurement.
        #[arg(long, default_value = "50ms", value_parser = humantime::parse_duration)]
        latency: Duration,
    },
    /// READY=1 with N accounts in the store, SIGTERM to exit, backup and restore.
    Lifecycle {
        #[arg(long, default_value_t = 10_000)]
        accounts: usize,
        /// Restarts measured (READY and SIGTERM figures).
        #[arg(long, default_value_t = 3)]
        restarts: usize,
    },
    /// CreateAccount + UpdateAccount throughput at several client concurrencies.
    Writes {
        /// Comma-separated client counts.
        #[arg(long, default_value = "1,4,16,64", value_delimiter = ',')]
        concurrency: Vec<usize>,
        /// Seconds per level.
        #[arg(long, default_value_t = 10)]
        secs: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(async {
        match cli.scenario {
            Scenario::Sweep {
                accounts,
                secs,
                interval,
                timeout,
                hang_pct,
                refuse_pct,
                funds_probe_every,
                poll_ms,
                perf,
                https,
                alpaca_pct,
                framing,
                latency,
                sim_process,
            } => {
                sweep::run(
                    &sweep::SweepOpts {
                        accounts,
                        secs,
                        interval,
                        timeout,
                        hang_pct,
                        refuse_pct,
                        funds_probe_every,
                        poll: Duration::from_millis(poll_ms),
                        perf,
                        https,
                        alpaca_pct,
                        framing,
                        latency,
                        sim_process,
                    },
                    cli.keep,
                )
                .await
            }
            Scenario::Grpc {
                clients,
                connections,
                accounts,
                secs,
                rate,
                repeat,
                rpcs,
                perf,
            } => {
                grpc::run(
                    &grpc::GrpcOpts {
                        clients,
                        connections,
                        accounts,
                        secs,
                        rate,
                        repeat,
                        rpcs,
                        perf,
                    },
                    cli.keep,
                )
                .await
            }
            Scenario::Portfolio {
                accounts,
                orders,
                iterations,
                latency,
            } => {
                portfolio::run(
                    &portfolio::PortfolioOpts {
                        accounts,
                        orders,
                        iterations,
                        latency,
                    },
                    cli.keep,
                )
                .await
            }
            Scenario::Venues {
                accounts,
                secs,
                interval,
                venues,
            } => {
                venues::run(
                    &venues::VenuesOpts {
                        accounts,
                        secs,
                        interval,
                        venues,
                    },
                    cli.keep,
                )
                .await
            }
            Scenario::Lifecycle { accounts, restarts } => {
                lifecycle::run(&lifecycle::LifecycleOpts { accounts, restarts }, cli.keep).await
            }
            Scenario::Writes { concurrency, secs } => {
                writes::run(&writes::WritesOpts { concurrency, secs }, cli.keep).await
            }
        }
    })?;
    let md = report.markdown();
    println!("{md}");
    if let Some(path) = &cli.md {
        report.write_into(path)?;
        eprintln!("wrote section {:?} into {}", report.key, path.display());
    }
    Ok(())
}
