//! Scenario `portfolio`: consolidated views over many accounts. GetPositions served from fresh
//! snapshots (p50), GetPositions with `refresh` when every upstream answers after 50 ms (total
//! time), and GetOrders with 100 orders per account (from snapshots and refreshed).

use std::time::{Duration, Instant};

use roster_proto::pbjson_types;
use roster_proto::v1::PortfolioRequest;
use roster_proto::v1::portfolio_service_client::PortfolioServiceClient;

use super::daemon::Env;
use super::measure::{Latencies, ms};
use super::report::Report;
use crate::sim::{Fault, InstanceSpec, Order, Simulator};

#[derive(Debug, Clone)]
pub struct PortfolioOpts {
    pub accounts: usize,
    pub orders: usize,
    pub iterations: usize,
    pub latency: Duration,
}

fn orders(n: usize) -> Vec<Order> {
    (0..n)
        .map(|k| Order {
            action: if k % 2 == 0 { "BUY" } else { "SELL" }.into(),
            symbol: format!("SYM{}", k % 37),
            exchange: "NSE".into(),
            orderid: format!("2504080{k:08}"),
            product: "MIS".into(),
            quantity: format!("{}", 1 + k % 10),
            price: format!("{}.{}", 100 + k % 400, k % 100),
            trigger_price: "0".into(),
            pricetype: "LIMIT".into(),
            order_status: ["complete", "open", "cancelled", "rejected"][k % 4].into(),
            timestamp: "08-Apr-2025 13:58:03".into(),
            ..Order::default()
        })
        .collect()
}

fn req(refresh: bool) -> PortfolioRequest {
    PortfolioRequest {
        // Snapshots younger than an hour count as fresh: the runs below stay well inside it.
        max_staleness: Some(pbjson_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
        refresh,
        ..Default::default()
    }
}

pub async fn run(o: &PortfolioOpts, keep: bool) -> anyhow::Result<Report> {
    let n = o.accounts;
    let mut report = Report::new(
        "portfolio",
        format!(
            "Consolidation: {n} accounts, {} orders per account",
            o.orders
        ),
    );
    let specs = (0..n)
        .map(|i| InstanceSpec {
            record_limit: 0,
            rate_limit_per_second: 0,
            orders: orders(o.orders),
            ..InstanceSpec::demo(format!("acct-{i}"), format!("key-{i:06}-bench"))
        })
        .collect();
    let sim = Simulator::start(specs).await?;
    // A long monitor interval keeps health checks out of the measurement.
    let mut env = Env::new("[monitor]\ninterval = \"4m\"\n")?;
    if keep {
        env.keep();
    }
    let daemon = env.spawn()?;
    let ch = daemon.channel().await?;
    let reqs = (0..n)
        .map(|i| {
            super::account(
                format!("acct-{i}"),
                sim.instance(i).url(),
                format!("key-{i:06}-bench"),
                true,
            )
        })
        .collect();
    super::create_accounts(&ch, reqs, 32).await?;
    // 500 x 100 order rows are ~7.5 MB: above tonic's default 4 MiB decode limit.
    let mut pf = PortfolioServiceClient::new(ch.clone()).max_decoding_message_size(256 << 20);

    // Fill the snapshots (and open the upstream connections).
    let t = Instant::now();
    let v = pf.get_positions(req(true)).await?.into_inner();
    let first = t.elapsed();
    let cov = v.coverage.unwrap_or_default();
    report.row(
        "GetPositions refresh, first call (cold connections)",
        format!("{} (fresh {} of {})", ms(first), cov.fresh, cov.selected),
        "",
    );

    let mut lat = Vec::new();
    let s0 = daemon.sample()?;
    for _ in 0..o.iterations {
        let t = Instant::now();
        let v = pf.get_positions(req(false)).await?.into_inner();
        lat.push(t.elapsed());
        std::hint::black_box(v);
    }
    let s1 = daemon.sample()?;
    let lat = Latencies::new(lat);
    report.row(
        format!(
            "GetPositions from fresh snapshots, p50 / p99 ({} calls)",
            lat.len()
        ),
        format!("{} / {}", ms(lat.pct(50.0)), ms(lat.pct(99.0))),
        "p50 < 5 ms",
    );
    report.row(
        "  daemon CPU per call",
        ms(s1.cpu_since(&s0).0 / o.iterations.max(1) as u32),
        "",
    );

    for inst in sim.instances() {
        inst.set_fault(Fault::Latency(o.latency));
    }
    let mut totals = Vec::new();
    let mut fresh = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let v = pf.get_positions(req(true)).await?.into_inner();
        totals.push(t.elapsed());
        fresh = v.coverage.unwrap_or_default().fresh;
    }
    let totals = Latencies::new(totals);
    report.row(
        format!(
            "GetPositions refresh, upstreams answering in {} ms: total p50 / max (5 calls)",
            o.latency.as_millis()
        ),
        format!(
            "{} / {} (fresh {fresh} of {n})",
            ms(totals.pct(50.0)),
            ms(totals.max())
        ),
        "< 1 s",
    );
    for inst in sim.instances() {
        inst.clear_fault();
    }

    let t = Instant::now();
    let v = pf.get_orders(req(true)).await?.into_inner();
    let rows: usize = v.accounts.iter().map(|a| a.rows.len()).sum();
    report.row(
        "GetOrders refresh (no injected latency)",
        format!("{} ({rows} order rows)", ms(t.elapsed())),
        "",
    );
    let mut lat = Vec::new();
    for _ in 0..o.iterations {
        let t = Instant::now();
        let v = pf.get_orders(req(false)).await?.into_inner();
        lat.push(t.elapsed());
        std::hint::black_box(v);
    }
    let lat = Latencies::new(lat);
    report.row(
        format!(
            "GetOrders from fresh snapshots, p50 / p99 ({} calls, {rows} rows each)",
            lat.len()
        ),
        format!("{} / {}", ms(lat.pct(50.0)), ms(lat.pct(99.0))),
        "",
    );
    report.note("One client, one call at a time; selection = every enabled account; `max_staleness` 1 h for the snapshot reads. The monitor interval is 4 min so health checks stay out of the figures. The latency is injected by the simulator (`Fault::Latency`) on every endpoint.");
    sim.shutdown().await;
    Ok(report)
}
