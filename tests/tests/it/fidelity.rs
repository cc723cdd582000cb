//! Fidelity with a real OpenAlgo (issue 18): the fields traders look at travel from the upstream
//! to the API, `cash` is the upstream's free cash, an account whose key was refused is neither
//! asked for books nor checked more often than its host's budget allows, and callers asking for
//! the same book at once share one upstream fetch. The real daemon against simulated instances on
//! loopback; every wait is bounded.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use roster_proto::v1 as pb;
use roster_tests::sim::{Fault, InstanceSpec, Mode, NumberStyle, Simulator};

use crate::harness::{Daemon, DaemonOptions, Pki, add_sim_account, health_by_name, text};

const UP: i32 = pb::HealthState::Up as i32;
const DOWN: i32 = pb::HealthState::Down as i32;
const REFUSED: i32 = pb::HealthReason::AuthRejected as i32;
const BOOKS: [&str; 5] = [
    "funds",
    "positionbook",
    "orderbook",
    "tradebook",
    "holdings",
];

fn s(v: &str) -> String {
    v.to_string()
}

fn refresh() -> pb::PortfolioRequest {
    pb::PortfolioRequest {
        refresh: true,
        ..Default::default()
    }
}

fn options(extra: &str) -> DaemonOptions {
    DaemonOptions {
        extra_config: format!("{extra}[upstream]\nrequests_per_second_per_endpoint = 100\n"),
        ..DaemonOptions::default()
    }
}

/// A zerodha-style live instance whose plugin passes the fill fields through.
fn live_fills() -> InstanceSpec {
    let mut spec = InstanceSpec::demo("live-fills", "key-live");
    let done = &mut spec.orders[0];
    done.average_price = s("1180.10");
    done.filled_quantity = s("1");
    done.pending_quantity = s("0");
    let rejected = &mut spec.orders[1];
    rejected.order_status = s("rejected");
    rejected.rejection_reason = s("RMS: Margin Exceeds, Required: 16.50, Available: 2.00");
    spec.trades[0].tradeid = s("25040800001");
    let yes = &mut spec.positions[2];
    yes.realized_pnl = s("1.00");
    yes.unrealized_pnl = s("-11.44");
    spec
}

/// The documented shape: none of those fields.
fn docs() -> InstanceSpec {
    InstanceSpec {
        number_style: NumberStyle::Strings,
        ..InstanceSpec::demo("docs", "key-docs")
    }
}

/// The analyzer: the sandbox sends all of them.
fn sandbox() -> InstanceSpec {
    InstanceSpec {
        mode: Mode::Analyze,
        ..InstanceSpec::demo("sandbox", "key-sandbox")
    }
}

fn section<'a, T>(sections: &'a [T], name: &str, name_of: impl Fn(&T) -> &str) -> &'a T {
    sections
        .iter()
        .find(|x| name_of(x) == name)
        .unwrap_or_else(|| panic!("no section for {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trader_fields_travel_from_the_upstream_to_the_api_and_unsent_ones_stay_empty() {
    let sim = Simulator::start(vec![live_fills(), docs(), sandbox()])
        .await
        .unwrap();
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &options(""));
    let mut accounts = d.accounts(&pki.admin()).await;
    for (i, (name, key)) in [
        ("live-fills", "key-live"),
        ("docs", "key-docs"),
        ("sandbox", "key-sandbox"),
    ]
    .into_iter()
    .enumerate()
    {
        add_sim_account(&mut accounts, name, &sim.instance(i).url(), key, &[]).await;
    }
    let mut p = d.portfolio(&pki.admin()).await;

    let orders = p.get_orders(refresh()).await.unwrap().into_inner();
    let rows = |name: &str| {
        section(&orders.accounts, name, |x| &x.account_name)
            .rows
            .clone()
    };
    let fills = |o: &pb::OrderRow| {
        (
            o.average_price.clone(),
            o.filled_quantity.clone(),
            o.pending_quantity.clone(),
            o.rejection_reason.clone(),
        )
    };
    let live = rows("live-fills");
    assert_eq!(fills(&live[0]), (s("1180.1"), s("1"), s("0"), s("")));
    assert_eq!(
        fills(&live[1]),
        (
            s(""),
            s(""),
            s(""),
            s("RMS: Margin Exceeds, Required: 16.50, Available: 2.00")
        )
    );
    // Not sent is empty, never "0": a trader must not read it as "filled at 0".
    assert!(
        rows("docs")
            .iter()
            .all(|o| fills(o) == (s(""), s(""), s(""), s(""))),
        "{:?}",
        rows("docs")
    );
    let sandbox_orders = rows("sandbox");
    assert_eq!(
        fills(&sandbox_orders[0]),
        (s("1186"), s("1"), s("0"), s(""))
    );
    assert_eq!(fills(&sandbox_orders[1]), (s("0"), s("0"), s("0"), s("")));

    let trades = p.get_trades(refresh()).await.unwrap().into_inner();
    let ids = |name: &str| -> Vec<String> {
        section(&trades.accounts, name, |x| &x.account_name)
            .rows
            .iter()
            .map(|t| t.trade_id.clone())
            .collect()
    };
    assert_eq!(ids("live-fills"), [s("25040800001"), s("")]);
    assert_eq!(ids("docs"), [s(""), s("")]);
    assert_eq!(
        ids("sandbox"),
        [s("T250408000989443001"), s("T250408001086129002")]
    );

    let holdings = p.get_holdings(refresh()).await.unwrap().into_inner();
    let first = |name: &str| {
        let h = &section(&holdings.accounts, name, |x| &x.account_name).rows[0];
        (
            h.symbol.clone(),
            h.average_price.clone(),
            h.ltp.clone(),
            h.current_value.clone(),
        )
    };
    // zerodha sends the buy price only; the documented shape nothing; the sandbox all three.
    assert_eq!(
        first("live-fills"),
        (s("RELIANCE"), s("1342"), s(""), s(""))
    );
    assert_eq!(first("docs"), (s("RELIANCE"), s(""), s(""), s("")));
    assert_eq!(
        first("sandbox"),
        (s("RELIANCE"), s("1342"), s("1193"), s("1193"))
    );

    let positions = p.get_positions(refresh()).await.unwrap().into_inner();
    let split = |name: &str| -> Vec<(String, String, String)> {
        section(&positions.accounts, name, |x| &x.account_name)
            .rows
            .iter()
            .map(|r| {
                (
                    r.symbol.clone(),
                    r.realized_pnl.clone(),
                    r.unrealized_pnl.clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        split("live-fills"),
        [
            (s("NHPC"), s(""), s("")),
            (s("RELIANCE"), s(""), s("")),
            (s("YESBANK"), s("1"), s("-11.44")),
        ]
    );
    assert!(
        split("docs")
            .iter()
            .all(|(_, r, u)| r.is_empty() && u.is_empty()),
        "{:?}",
        split("docs")
    );
    // The sandbox's split: unrealized (ltp - avg) x qty, realized the rest of the day's pnl.
    assert_eq!(
        split("sandbox"),
        [
            (s("NHPC"), s("0"), s("0.02")),
            (s("RELIANCE"), s("5.9"), s("0")),
            (s("YESBANK"), s("1"), s("-11.44")),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cash_is_the_upstreams_available_cash_with_the_collateral_not_subtracted_again() {
    let mut pledged = InstanceSpec::demo("pledged", "key-p");
    pledged.funds.available_cash = s("1500.25");
    pledged.funds.collateral = s("200.10");
    let sim = Simulator::start(vec![pledged, InstanceSpec::demo("plain", "key-q")])
        .await
        .unwrap();
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &options(""));
    let mut accounts = d.accounts(&pki.admin()).await;
    add_sim_account(
        &mut accounts,
        "pledged",
        &sim.instance(0).url(),
        "key-p",
        &[],
    )
    .await;
    add_sim_account(&mut accounts, "plain", &sim.instance(1).url(), "key-q", &[]).await;
    let mut p = d.portfolio(&pki.admin()).await;
    let f = p.get_funds(refresh()).await.unwrap().into_inner();
    let funds = section(&f.accounts, "pledged", |x| &x.account_name)
        .funds
        .clone()
        .unwrap();
    // zerodha's availablecash already leaves the pledged collateral out (OpenAlgo 7f9790ab4).
    assert_eq!(
        (funds.available_cash.as_str(), funds.collateral.as_str()),
        ("1500.25", "200.1")
    );
    assert_eq!(funds.cash, "1500.25", "{funds:?}");
    let t = f.totals.unwrap();
    assert_eq!(
        (t.available_cash.as_str(), t.cash.as_str()),
        ("1820.91", "1820.91")
    );
    assert_eq!(t.collateral, "200.1");
}

/// Waits until `name`'s health matches `want` (state, reason).
async fn wait_health(d: &Daemon, pki: &Pki, name: &str, want: (i32, i32)) -> pb::AccountHealth {
    let mut m = d.monitor(&pki.admin()).await;
    let start = Instant::now();
    loop {
        let h = health_by_name(&mut m).await;
        if let Some(x) = h.get(name)
            && (x.state, x.reason) == want
        {
            return x.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{name} never reached {want:?}: {:?}",
            h.get(name)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_is_not_asked_for_books_its_section_says_why_and_health_check_brings_it_back()
{
    let sim = Simulator::start(vec![InstanceSpec::demo("desk", "key-desk")])
        .await
        .unwrap();
    let desk = sim.instance(0);
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &options(
            "[monitor]\ninterval = \"200ms\"\ntimeout = \"200ms\"\nfailures_before_down = 1\n\
             successes_before_up = 1\nflush_interval = \"100ms\"\nauth_backoff_max = \"200ms\"\n",
        ),
    );
    let mut accounts = d.accounts(&pki.admin()).await;
    add_sim_account(&mut accounts, "desk", &desk.url(), "key-desk", &[]).await;
    wait_health(&d, &pki, "desk", (UP, 0)).await;
    let mut p = d.portfolio(&pki.admin()).await;
    let before = p.get_positions(refresh()).await.unwrap().into_inner();
    assert_eq!(before.accounts[0].rows.len(), 3);

    // The session is revoked upstream (a logout): the key is refused from now on.
    desk.set_api_keys(vec![s("someone-else")]);
    wait_health(&d, &pki, "desk", (DOWN, REFUSED)).await;
    desk.reset_requests();

    let positions = p.get_positions(refresh()).await.unwrap().into_inner();
    let orders = p.get_orders(refresh()).await.unwrap().into_inner();
    let trades = p.get_trades(refresh()).await.unwrap().into_inner();
    let holdings = p.get_holdings(refresh()).await.unwrap().into_inner();
    let funds = p.get_funds(refresh()).await.unwrap().into_inner();
    for book in BOOKS {
        assert_eq!(
            desk.request_count(book),
            0,
            "{book} was asked with a refused key"
        );
    }
    let heads = [
        (
            "positions",
            positions.accounts[0].error.clone(),
            positions.accounts[0].error_reason,
        ),
        (
            "orders",
            orders.accounts[0].error.clone(),
            orders.accounts[0].error_reason,
        ),
        (
            "trades",
            trades.accounts[0].error.clone(),
            trades.accounts[0].error_reason,
        ),
        (
            "holdings",
            holdings.accounts[0].error.clone(),
            holdings.accounts[0].error_reason,
        ),
        (
            "funds",
            funds.accounts[0].error.clone(),
            funds.accounts[0].error_reason,
        ),
    ];
    for (book, error, reason) in heads {
        assert_eq!(reason, REFUSED, "{book}: {error}");
        assert!(
            error.starts_with("AUTH_REJECTED: not fetched")
                && error.contains("rosterctl health check desk"),
            "{book}: {error}"
        );
    }
    // The last good positions are served, marked stale; the books never fetched have nothing.
    let p0 = &positions.accounts[0];
    assert!(p0.stale && p0.has_data && p0.rows.len() == 3, "{p0:?}");
    assert_eq!(positions.coverage.unwrap().stale, 1);
    assert!(!orders.accounts[0].has_data && orders.coverage.unwrap().failed == 1);

    // The operator logs in again; `health check` brings the account and its books back at once.
    desk.set_api_keys(vec![s("key-desk")]);
    let out = d
        .ctl_async(&pki.admin(), &["health", "check", "desk"], "")
        .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("UP"), "{stdout}");
    let again = p.get_positions(refresh()).await.unwrap().into_inner();
    let a0 = &again.accounts[0];
    assert!(
        a0.error.is_empty() && !a0.stale && a0.rows.len() == 3,
        "{a0:?}"
    );
    assert_eq!(desk.request_count("positionbook"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_key_checks_per_host_stay_within_the_budget_and_good_keys_keep_theirs() {
    // One OpenAlgo instance: three accounts whose keys it refuses and one it accepts, so they
    // share one host (one refused-key ration) and one per-endpoint request budget (10/s). A ration
    // of 86400 a day is one refused-key check a second: short enough to measure in seconds.
    let mut spec = InstanceSpec::demo("shared", "key-good");
    spec.rate_limit_per_second = 0;
    let sim = Simulator::start(vec![spec]).await.unwrap();
    let inst = sim.instance(0);
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            extra_config: "[monitor]\ninterval = \"600ms\"\ntimeout = \"600ms\"\n\
                           failures_before_down = 1\nsuccesses_before_up = 1\n\
                           flush_interval = \"100ms\"\ndown_backoff_max = \"600ms\"\n\
                           auth_backoff_max = \"600ms\"\n\
                           max_refused_key_checks_per_host_per_day = 86400\n\
                           [upstream]\nrequests_per_second_per_endpoint = 10\n"
                .into(),
            ..DaemonOptions::default()
        },
    );
    let mut accounts = d.accounts(&pki.admin()).await;
    for i in 0..3 {
        let (name, key) = (format!("dead-{i}"), format!("dead-key-{i}"));
        add_sim_account(&mut accounts, &name, &inst.url(), &key, &[]).await;
    }
    add_sim_account(&mut accounts, "good", &inst.url(), "key-good", &[]).await;
    for i in 0..3 {
        wait_health(&d, &pki, &format!("dead-{i}"), (DOWN, REFUSED)).await;
    }
    wait_health(&d, &pki, "good", (UP, 0)).await;

    inst.reset_requests();
    let window = Duration::from_secs(4);
    let started = Instant::now();
    let mut m = d.monitor(&pki.admin()).await;
    while started.elapsed() < window {
        let h = health_by_name(&mut m).await;
        let good = &h["good"];
        assert_eq!(
            (good.state, good.consecutive_failures),
            (UP, 0),
            "the good key lost its checks to the dead ones: {good:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let window = started.elapsed();
    let pings_with = |dead: bool| {
        inst.received()
            .iter()
            .filter(|r| r.endpoint.as_deref() == Some("ping"))
            .filter(|r| {
                r.body_json()
                    .and_then(|b| b["apikey"].as_str().map(|k| k.starts_with("dead-key")))
                    == Some(dead)
            })
            .count() as u64
    };
    let dead = pings_with(true);
    // One a second for the host: at most one per started second of the window (each account's
    // own backoff alone made about two a second per account here).
    let most = window.as_secs() + 1;
    assert!(
        (1..=most).contains(&dead),
        "{dead} refused-key checks to one host in {window:?} (budget: 1/s for the host)"
    );
    let good = pings_with(false);
    assert!(
        good >= 3,
        "the good key was checked only {good} times in {window:?}"
    );
    // When the next rationed check is due is shown.
    let h: HashMap<String, pb::AccountHealth> = health_by_name(&mut m).await;
    assert!(h["dead-0"].next_check_time.is_some(), "{:?}", h["dead-0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_parallel_refreshes_of_one_account_share_one_upstream_fetch() {
    let sim = Simulator::start(vec![InstanceSpec::demo("busy", "key-busy")])
        .await
        .unwrap();
    let busy = sim.instance(0);
    // The answer takes a while, as a broker's does: every call arrives while the first is out.
    busy.set_endpoint_fault("positionbook", Fault::Latency(Duration::from_millis(500)))
        .unwrap();
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            extra_config: "[upstream]\nrequest_timeout = \"4s\"\n".into(),
            ..DaemonOptions::default()
        },
    );
    let mut accounts = d.accounts(&pki.admin()).await;
    add_sim_account(&mut accounts, "busy", &busy.url(), "key-busy", &[]).await;
    let p = d.portfolio(&pki.admin()).await;
    busy.reset_requests();

    let calls: Vec<_> = (0..30)
        .map(|_| {
            let mut p = p.clone();
            tokio::spawn(async move { p.get_positions(refresh()).await })
        })
        .collect();
    let mut fetched = Vec::new();
    for c in calls {
        let v = tokio::time::timeout(Duration::from_secs(20), c)
            .await
            .expect("a refresh hung")
            .unwrap()
            .unwrap()
            .into_inner();
        let a = &v.accounts[0];
        assert!(a.error.is_empty() && a.rows.len() == 3, "{a:?}");
        fetched.push(a.fetched_at);
    }
    let asked = busy.request_count("positionbook");
    assert!(
        (1..=2).contains(&asked),
        "30 parallel refreshes made {asked} upstream positionbook requests"
    );
    if asked == 1 {
        assert!(fetched.iter().all(|f| *f == fetched[0]), "{fetched:?}");
    }
    // A refresh after they landed asks again: merging is only for fetches in the air.
    p.clone().get_positions(refresh()).await.unwrap();
    assert_eq!(busy.request_count("positionbook"), asked + 1);
}
