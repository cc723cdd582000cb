//! Scenario `grpc`: read RPCs under mTLS from many concurrent clients, each with its own TLS
//! connection: GetAccount, ListAccounts (page 100) and GetHealth. Reports req/s, latency
//! percentiles and requests per second of daemon CPU (req/s per core).

use std::time::{Duration, Instant};

use roster_proto::v1::account_service_client::AccountServiceClient;
use roster_proto::v1::monitor_service_client::MonitorServiceClient;
use roster_proto::v1::{GetAccountRequest, GetHealthRequest, ListAccountsRequest};
use tonic::transport::Channel;

use super::daemon::{Daemon, Env};
use super::measure::{Latencies, ms};
use super::report::Report;

#[derive(Debug, Clone)]
pub struct GrpcOpts {
    pub clients: usize,
    pub accounts: usize,
    pub secs: u64,
}

#[derive(Debug, Clone, Copy)]
enum Rpc {
    GetAccount,
    ListAccounts,
    GetHealth,
}

async fn call(rpc: Rpc, ch: &Channel, id: &str) -> Result<(), tonic::Status> {
    match rpc {
        Rpc::GetAccount => {
            AccountServiceClient::new(ch.clone())
                .get_account(GetAccountRequest {
                    account: id.to_string(),
                })
                .await?;
        }
        Rpc::ListAccounts => {
            AccountServiceClient::new(ch.clone())
                .list_accounts(ListAccountsRequest {
                    page_size: 100,
                    ..Default::default()
                })
                .await?;
        }
        Rpc::GetHealth => {
            MonitorServiceClient::new(ch.clone())
                .get_health(GetHealthRequest {
                    account: id.to_string(),
                })
                .await?;
        }
    }
    Ok(())
}

async fn load(
    rpc: Rpc,
    daemon: &Daemon,
    channels: &[Channel],
    ids: &[String],
    secs: u64,
    report: &mut Report,
) -> anyhow::Result<()> {
    // One second unmeasured first: connection windows, allocator and caches warm up.
    let warm_until = Instant::now() + Duration::from_secs(1);
    let mut tasks = Vec::new();
    for (k, ch) in channels.iter().enumerate() {
        let ch = ch.clone();
        let ids = ids.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            let mut i = k;
            while Instant::now() < warm_until {
                let _ = call(rpc, &ch, &ids[i % ids.len()]).await;
                i += 7;
            }
            let end = warm_until + Duration::from_secs(secs);
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                match call(rpc, &ch, &ids[i % ids.len()]).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
                i += 7;
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep_until(warm_until.into()).await;
    let s0 = daemon.sample()?;
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let s1 = daemon.sample()?;
    let (cpu, pct) = s1.cpu_since(&s0);
    let n = all.len();
    let lat = Latencies::new(all);
    let wall = secs as f64;
    let rps = n as f64 / wall;
    let per_core = n as f64 / cpu.as_secs_f64().max(1e-9);
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
    report.row(
        format!("{rpc:?}: daemon CPU, req per daemon CPU-second (req/s per core)"),
        format!("{pct:.0} % of one core, {per_core:.0}"),
        "",
    );
    eprintln!("{rpc:?}: {rps:.0} req/s, p99 {}", ms(lat.pct(99.0)));
    Ok(())
}

pub async fn run(o: &GrpcOpts, keep: bool) -> anyhow::Result<Report> {
    let mut report = Report::new(
        "grpc",
        format!(
            "gRPC under mTLS: {} concurrent clients, {} accounts",
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
    let mut channels = Vec::with_capacity(o.clients);
    for _ in 0..o.clients {
        channels.push(daemon.channel().await?);
    }
    for rpc in [Rpc::GetAccount, Rpc::ListAccounts, Rpc::GetHealth] {
        load(rpc, &daemon, &channels, &ids, o.secs, &mut report).await?;
    }
    report.note(format!(
        "{} clients, each with its own mTLS connection (one admin principal; `[limits]` raised so the per-principal limit never answers), one request at a time per client, {} s measured per RPC after 1 s of warm-up. The clients run in the bench process on the same 2 cores as the daemon, so client and server compete for CPU; 'req per daemon CPU-second' is the server's own cost.",
        o.clients, o.secs
    ));
    report.note("Accounts are created disabled so that no monitor traffic runs during the measurement; GetHealth answers from the monitor's in-memory map either way.");
    Ok(report)
}
