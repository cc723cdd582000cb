//! Scenario `venues`: the health monitor's CPU per check for each venue on its own, signing
//! included. For each venue in turn: N accounts on its simulator (one host, every account with
//! its own key and budget), a fresh daemon checking them at `--interval`, and daemon CPU over a
//! window divided by the health checks the simulator received. The simulators run in the bench
//! process, on the same two cores.

use std::time::{Duration, Instant};

use roster_proto::v1::monitor_service_client::MonitorServiceClient;
use roster_proto::v1::{CreateAccountRequest, HealthState, ListHealthRequest};

use super::daemon::Env;
use super::measure::mib;
use super::report::Report;
use crate::alpaca_sim::{self, AlpacaSim};
use crate::binance_sim::{self, BinanceSim, BinanceSimOptions};
use crate::coinbase_sim::{CdpKey, CoinbaseAccountSpec, CoinbaseSim};
use crate::okx_sim::{OkxAccountSpec, OkxSim};
use crate::sim::{InstanceSpec, Simulator};

#[derive(Debug, Clone)]
pub struct VenuesOpts {
    pub accounts: usize,
    pub secs: u64,
    pub interval: Duration,
    pub venues: Vec<String>,
}

/// A venue's simulator, as far as this scenario needs it.
enum Sim {
    OpenAlgo(Simulator),
    Alpaca(AlpacaSim),
    Binance(BinanceSim),
    Okx(OkxSim),
    Coinbase(CoinbaseSim),
}

impl Sim {
    /// Health checks received: requests to the venue's health probe.
    fn checks(&self) -> u64 {
        match self {
            Sim::OpenAlgo(s) => s.instances().iter().map(|i| i.request_count("ping")).sum(),
            Sim::Alpaca(s) => s
                .requests_by_path()
                .get("/v2/account")
                .copied()
                .unwrap_or(0),
            Sim::Binance(s) => s.accounts().iter().map(|a| a.account_requests()).sum(),
            Sim::Okx(s) => s.requests("/api/v5/account/balance"),
            Sim::Coinbase(s) => s.requests_to("/api/v3/brokerage/key_permissions"),
        }
    }

    /// Every request the simulator received (funds probes, config reads, clock syncs included).
    fn requests(&self) -> u64 {
        match self {
            Sim::OpenAlgo(s) => s.instances().iter().map(|i| i.total_requests()).sum(),
            Sim::Alpaca(s) => s.total_requests(),
            Sim::Binance(s) => s.requests(),
            Sim::Okx(s) => s.requests_by_path().values().sum(),
            Sim::Coinbase(s) => s.requests(),
        }
    }
}

fn credentials(fields: &[(&str, String)]) -> std::collections::HashMap<String, String> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The simulator and the accounts to create for `venue`.
async fn fleet(venue: &str, n: usize) -> anyhow::Result<(Sim, Vec<CreateAccountRequest>)> {
    let account =
        |i: usize, url: String, env: &str, fields: &[(&str, String)]| CreateAccountRequest {
            name: format!("{venue}-{i}"),
            connector: venue.to_string(),
            environment: env.to_string(),
            host_url: url,
            credentials: credentials(fields),
            ..Default::default()
        };
    Ok(match venue {
        "openalgo" => {
            let sim = Simulator::start(
                (0..n)
                    .map(|i| InstanceSpec {
                        record_limit: 0,
                        rate_limit_per_second: 0,
                        ..InstanceSpec::demo(format!("oa-{i}"), format!("key-{i:06}-bench"))
                    })
                    .collect(),
            )
            .await?;
            let reqs = (0..n)
                .map(|i| {
                    let url = sim.instance(i).url();
                    account(i, url, "live", &[("api_key", format!("key-{i:06}-bench"))])
                })
                .collect();
            (Sim::OpenAlgo(sim), reqs)
        }
        "alpaca" => {
            let env = alpaca_sim::Environment::Paper;
            let sim = AlpacaSim::start_many(env, n).await?;
            let reqs = (1..=n)
                .map(|i| {
                    let (k, s) = alpaca_sim::demo_keys(env, i);
                    account(i, sim.url(), "paper", &[("key_id", k), ("secret_key", s)])
                })
                .collect();
            (Sim::Alpaca(sim), reqs)
        }
        "binance" => {
            // One simulated IP with room for every account's weight: this measures the cost of
            // a signed check, not the stretching of the interval (see the 2,000-account test).
            let options = BinanceSimOptions {
                weight_per_minute: 10_000_000,
                ..BinanceSimOptions::default()
            };
            let sim = BinanceSim::start_many(n, options).await?;
            let reqs = (1..=n)
                .map(|i| {
                    let (k, s) = binance_sim::demo_keys(i);
                    account(i, sim.url(), "live", &[("api_key", k), ("secret_key", s)])
                })
                .collect();
            (Sim::Binance(sim), reqs)
        }
        "okx" => {
            let specs: Vec<OkxAccountSpec> = (1..=n).map(OkxAccountSpec::demo).collect();
            let reqs_of = |url: String| {
                specs
                    .iter()
                    .enumerate()
                    .map(|(i, a)| {
                        account(
                            i + 1,
                            url.clone(),
                            "live",
                            &[
                                ("api_key", a.api_key.clone()),
                                ("secret_key", a.secret_key.clone()),
                                ("passphrase", a.passphrase.clone()),
                            ],
                        )
                    })
                    .collect::<Vec<_>>()
            };
            let sim = OkxSim::start(specs.clone()).await?;
            let reqs = reqs_of(sim.url());
            (Sim::Okx(sim), reqs)
        }
        "coinbase" => {
            // One organization per account: each has its own per-user budget, as separate users.
            let keys: Vec<CdpKey> = (1..=n)
                .map(|i| CdpKey::generate(&format!("org-{i}"), &format!("key-{i}")))
                .collect();
            let sim = CoinbaseSim::start(
                keys.iter()
                    .cloned()
                    .map(CoinbaseAccountSpec::demo)
                    .collect(),
            )
            .await?;
            let reqs = keys
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    account(
                        i + 1,
                        sim.url(),
                        "live",
                        &[
                            ("key_name", k.name.clone()),
                            ("private_key", k.private_key_pem.clone()),
                        ],
                    )
                })
                .collect();
            (Sim::Coinbase(sim), reqs)
        }
        other => anyhow::bail!("unknown venue {other:?}"),
    })
}

pub async fn run(o: &VenuesOpts, keep: bool) -> anyhow::Result<Report> {
    let n = o.accounts;
    let mut report = Report::new(
        format!("venues-{n}"),
        format!(
            "Health checks per venue: {n} accounts of one venue at a time, interval {}",
            super::sweep::humantime(o.interval)
        ),
    );
    for venue in &o.venues {
        let (sim, reqs) = fleet(venue, n).await?;
        let timeout = (o.interval / 2).min(Duration::from_secs(5));
        let mut env = Env::new(&format!(
            "[monitor]\ninterval = \"{}ms\"\ntimeout = \"{}ms\"\n\
             [upstream]\nbinance_weight_per_minute = 10000000\n",
            o.interval.as_millis(),
            timeout.as_millis()
        ))?;
        if keep {
            env.keep();
        }
        let mut daemon = env.spawn()?;
        let ch = daemon.channel().await?;
        let (_, took) = super::create_accounts(&ch, reqs, 32).await?;
        eprintln!("{venue}: created {n} accounts in {took:?}");
        // Warm-up: every account's first check (and clock sync, connection, TLS-free here).
        tokio::time::sleep(o.interval + Duration::from_secs(3)).await;
        let (checks0, requests0) = (sim.checks(), sim.requests());
        let s0 = daemon.sample()?;
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(o.secs)).await;
        let s1 = daemon.sample()?;
        let window = t0.elapsed();
        let (checks, requests) = (sim.checks() - checks0, sim.requests() - requests0);
        let (cpu, pct) = s1.cpu_since(&s0);
        let mut mon = MonitorServiceClient::new(ch.clone());
        let lh = mon
            .list_health(ListHealthRequest::default())
            .await?
            .into_inner();
        let up = lh
            .accounts
            .iter()
            .filter(|h| h.state == HealthState::Up as i32)
            .count();
        drop(mon);
        drop(ch);
        daemon.stop_timed()?;
        let expected = n as f64 * window.as_secs_f64() / o.interval.as_secs_f64();
        report.row(
            format!("{venue}: CPU per check"),
            format!(
                "{:.0} µs ({checks} checks, expected ≈ {expected:.0}; {requests} requests in all; {:.2} s CPU, {pct:.1} % of a core)",
                cpu.as_secs_f64() * 1e6 / checks.max(1) as f64,
                cpu.as_secs_f64()
            ),
            "",
        );
        report.row(
            format!("{venue}: accounts UP at end / RSS at end"),
            format!("{up} of {n} / {}", mib(s1.rss_bytes)),
            "all",
        );
    }
    report.note("A check is what the venue's health probe costs: OpenAlgo a ping plus a funds probe (every check, the default); Alpaca GET /v2/account; Binance a signed GET /api/v3/account (HMAC-SHA256); OKX a signed balance read (HMAC-SHA256, base64) and a config read when its budget has room; Coinbase a fresh ES256 JWT and GET key_permissions. Clock syncs are in the request counts and in the CPU.");
    report.note("CPU per check = all daemon CPU in the window / health-probe requests the simulator received; the simulators share the two cores with the daemon.");
    Ok(report)
}
