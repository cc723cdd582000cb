//! PortfolioService end to end: the real daemon against simulated OpenAlgo instances on loopback.
//! Every expected figure below is computed by hand from the books the test sets up, and compared
//! as the exact decimal string the daemon sends.

use std::time::{Duration, Instant};

use roster_proto::pbjson_types::Duration as PbDuration;
use roster_proto::v1 as pb;
use roster_tests::sim::{
    Fault, Funds, Holding, InstanceSpec, Mode, NumberStyle, Order, Position, Simulator, Trade,
};
use tonic::Code;

use crate::harness::{Daemon, DaemonOptions, Pki, add_sim_account, text};

const CONFIG: &str = "[portfolio]\nmax_staleness = \"2s\"\n[upstream]\nrequest_timeout = \"1s\"\n";

fn opts() -> DaemonOptions {
    DaemonOptions {
        extra_config: CONFIG.into(),
        ..Default::default()
    }
}

fn s(v: &str) -> String {
    v.to_string()
}

fn pos(sym: &str, product: &str, q: &str, pnl: &str) -> Position {
    Position {
        symbol: s(sym),
        exchange: s("NSE"),
        product: s(product),
        quantity: s(q),
        average_price: s("100.5"),
        ltp: s("101.25"),
        pnl: s(pnl),
        ..Position::default()
    }
}

fn order(action: &str, id: &str, status: &str, ts: &str) -> Order {
    Order {
        action: s(action),
        symbol: s("SBIN"),
        exchange: s("NSE"),
        orderid: s(id),
        product: s("CNC"),
        quantity: s("2"),
        price: s("500.5"),
        trigger_price: s("0"),
        pricetype: s("LIMIT"),
        order_status: s(status),
        timestamp: s(ts),
        ..Order::default()
    }
}

fn trade(action: &str, sym: &str, q: &str, avg: &str, ts: &str) -> Trade {
    Trade {
        action: s(action),
        symbol: s(sym),
        exchange: s("NSE"),
        orderid: s("1"),
        product: s("MIS"),
        quantity: s(q),
        average_price: s(avg),
        timestamp: s(ts),
        ..Trade::default()
    }
}

fn holding(sym: &str, q: &str, avg: &str, ltp: &str) -> Holding {
    Holding {
        symbol: s(sym),
        exchange: s("NSE"),
        product: s("CNC"),
        quantity: s(q),
        average_price: s(avg),
        ltp: s(ltp),
    }
}

/// A: the documented books, numbers as strings.
fn book_a() -> InstanceSpec {
    InstanceSpec {
        number_style: NumberStyle::Strings,
        ..InstanceSpec::demo("a-strings", "key-a")
    }
}

/// B: a floats broker (fyers/shoonya style).
fn book_b() -> InstanceSpec {
    InstanceSpec {
        name: s("b-floats"),
        api_keys: vec![s("key-b")],
        number_style: NumberStyle::Floats,
        funds: Funds {
            available_cash: s("1500.25"),
            collateral: s("200.10"),
            m2m_realized: s("-12.5"),
            m2m_unrealized: s("40.05"),
            utilised_debits: s("99.99"),
        },
        positions: vec![
            pos("NHPC", "MIS", "10", "2.2"),
            pos("YESBANK", "MIS", "50", "5.5"),
            pos("TATASTEEL", "CNC", "3", "-1.25"),
        ],
        orders: vec![
            order("SELL", "b1", "open", "garbage time"),
            order("SELL", "b2", "rejected", "2025-04-08 09:15:00"),
            order("BUY", "b3", "trigger pending", "08-Apr-2025 09:16:00"),
        ],
        trades: vec![
            trade("BUY", "YESBANK", "50", "17.25", "09:20:00"),
            trade("SELL", "NHPC", "3", "83.7", "09:21:00"),
        ],
        holdings: vec![holding("RELIANCE", "2", "1200", "1250")],
        ..InstanceSpec::default()
    }
}

/// C: an instance in analyzer mode (sandbox floats, "mode":"analyze").
fn book_c() -> InstanceSpec {
    InstanceSpec {
        name: s("c-analyze"),
        api_keys: vec![s("key-c")],
        mode: Mode::Analyze,
        funds: Funds {
            available_cash: s("10000000"),
            collateral: s("0"),
            m2m_realized: s("0.5"),
            m2m_unrealized: s("-0.25"),
            utilised_debits: s("500"),
        },
        positions: vec![
            pos("NHPC", "MIS", "-4", "0.08"),
            pos("RELIANCE", "MIS", "2", "1.1"),
        ],
        orders: vec![order("BUY", "c1", "open", "2026-11-26 00:20:41")],
        trades: vec![trade("BUY", "SBIN", "2", "500.5", "2026-11-26 00:21:00")],
        holdings: vec![],
        ..InstanceSpec::default()
    }
}

fn req() -> pb::PortfolioRequest {
    pb::PortfolioRequest::default()
}

fn refresh() -> pb::PortfolioRequest {
    pb::PortfolioRequest {
        refresh: true,
        ..Default::default()
    }
}

fn age_of(d: Option<&PbDuration>) -> Duration {
    let d = d.expect("age is set");
    Duration::new(d.seconds as u64, d.nanos as u32)
}

#[tokio::test]
async fn known_books_consolidate_to_the_hand_computed_decimals() {
    let sim = Simulator::start(vec![book_a(), book_b(), book_c()])
        .await
        .unwrap();
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &opts());
    let mut accounts = d.accounts(&pki.admin()).await;
    let a = add_sim_account(
        &mut accounts,
        "a-strings",
        &sim.instance(0).url(),
        "key-a",
        &[("desk", "x")],
    )
    .await;
    let b = add_sim_account(
        &mut accounts,
        "b-floats",
        &sim.instance(1).url(),
        "key-b",
        &[("desk", "x")],
    )
    .await;
    let c = add_sim_account(
        &mut accounts,
        "c-analyze",
        &sim.instance(2).url(),
        "key-c",
        &[("desk", "y")],
    )
    .await;
    let mut p = d.portfolio(&pki.admin()).await;

    // Funds. available 320.66 + 1500.25 + 10000000; collateral 0 + 200.10 + 0;
    // realized 3.27 - 12.5 + 0.5; unrealized -7.88 + 40.05 - 0.25; debits 679.34 + 99.99 + 500.
    let f = p.get_funds(req()).await.unwrap().into_inner();
    let t = f.totals.clone().unwrap();
    assert_eq!(t.available_cash, "10001820.91");
    assert_eq!(t.collateral, "200.1");
    // Cash is the upstream's available cash: the collateral is not subtracted a second time.
    assert_eq!(t.cash, "10001820.91");
    assert_eq!(t.m2m_realized, "-8.73");
    assert_eq!(t.m2m_unrealized, "31.92");
    assert_eq!(t.m2m_pnl, "23.19");
    assert_eq!(t.utilised_debits, "1279.33");
    assert_eq!(
        f.coverage,
        Some(pb::Coverage {
            selected: 3,
            fresh: 3,
            stale: 0,
            failed: 0,
            ..Default::default()
        })
    );
    let names: Vec<_> = f.accounts.iter().map(|x| x.account_name.as_str()).collect();
    assert_eq!(names, ["a-strings", "b-floats", "c-analyze"]);
    let fa = &f.accounts[0];
    assert_eq!(
        (fa.account_id.as_str(), fa.mode.as_str()),
        (a.as_str(), "live")
    );
    assert!(fa.has_data && !fa.stale && fa.error.is_empty() && fa.fetched_at.is_some());
    let fa = fa.funds.clone().unwrap();
    assert_eq!((fa.cash.as_str(), fa.m2m_pnl.as_str()), ("320.66", "-4.61"));
    let fb = f.accounts[1].funds.clone().unwrap();
    assert_eq!(
        (fb.cash.as_str(), fb.m2m_pnl.as_str()),
        ("1500.25", "27.55")
    );
    assert_eq!(f.accounts[2].mode, "analyze");
    assert_eq!(f.accounts[2].funds.clone().unwrap().cash, "10000000");

    // Positions: every row tagged; net per (symbol, exchange, product).
    let v = p.get_positions(req()).await.unwrap().into_inner();
    let rows: usize = v.accounts.iter().map(|x| x.rows.len()).sum();
    assert_eq!(rows, 8);
    assert!(
        v.accounts
            .iter()
            .all(|x| x.rows.iter().all(|r| r.account_id == x.account_id))
    );
    let closed = v.accounts[0]
        .rows
        .iter()
        .find(|r| r.symbol == "RELIANCE")
        .unwrap();
    assert_eq!(
        (closed.quantity.as_str(), closed.pnl.as_str()),
        ("0", "5.9")
    );
    let net: Vec<_> = v
        .net
        .iter()
        .map(|n| {
            (
                n.symbol.as_str(),
                n.product.as_str(),
                n.net_quantity.as_str(),
                n.long_quantity.as_str(),
                n.short_quantity.as_str(),
                n.pnl.as_str(),
                n.account_count,
            )
        })
        .collect();
    assert_eq!(
        net,
        [
            // -1 (A) + 10 (B) - 4 (C); pnl 0.02 + 2.2 + 0.08
            ("NHPC", "MIS", "5", "10", "5", "2.3", 3),
            // 0 (A, closed, 5.90) + 2 (C, 1.1)
            ("RELIANCE", "MIS", "2", "2", "0", "7", 2),
            ("TATASTEEL", "CNC", "3", "3", "0", "-1.25", 1),
            // -104 (A, -10.44) + 50 (B, 5.5)
            ("YESBANK", "MIS", "-54", "50", "104", "-4.94", 2),
        ]
    );
    // 0.02 + 5.90 - 10.44 + 2.2 + 5.5 - 1.25 + 0.08 + 1.1
    assert_eq!(v.total_pnl, "3.11");

    // Orders: statistics recomputed across accounts, status filter, timestamps.
    let o = p.get_orders(req()).await.unwrap().into_inner();
    let st = o.statistics.unwrap();
    assert_eq!(
        (
            st.total_buy_orders,
            st.total_sell_orders,
            st.total_completed_orders,
            st.total_open_orders,
            st.total_rejected_orders,
            st.total_trigger_pending_orders
        ),
        (4, 2, 1, 2, 1, 1)
    );
    let all: Vec<&pb::OrderRow> = o.accounts.iter().flat_map(|x| x.rows.iter()).collect();
    assert_eq!(all.len(), 6);
    let by_id = |id: &str| *all.iter().find(|r| r.order_id == id).unwrap();
    let docs = by_id("250408000989443");
    assert_eq!(docs.raw_timestamp, "08-Apr-2025 13:58:03");
    assert_eq!(docs.time.as_ref().unwrap().seconds, 1_744_100_883); // 08:28:03Z
    assert_eq!(by_id("c1").time.as_ref().unwrap().seconds, 1_795_632_641); // 2026-11-25T18:50:41Z
    assert_eq!(by_id("b2").time.as_ref().unwrap().seconds, 1_744_083_900); // 03:45:00Z
    let garbage = by_id("b1");
    assert!(garbage.time.is_none());
    assert_eq!(garbage.raw_timestamp, "garbage time");
    assert_eq!(
        (garbage.quantity.as_str(), garbage.price.as_str()),
        ("2", "500.5")
    );
    let open = p
        .get_orders(pb::PortfolioRequest {
            status: s("open"),
            ..req()
        })
        .await
        .unwrap()
        .into_inner();
    let mut open_ids: Vec<_> = open
        .accounts
        .iter()
        .flat_map(|x| x.rows.iter().map(|r| r.order_id.clone()))
        .collect();
    open_ids.sort();
    assert_eq!(open_ids, ["b1", "c1"]);
    assert_eq!(
        open.statistics.unwrap().total_buy_orders,
        4,
        "stats cover the whole book"
    );

    // Trades: value per side. BUY 1180.1 (A) + 50 * 17.25 (B) + 2 * 500.5 (C);
    // SELL 83.74 (A) + 3 * 83.7 (B).
    let tr = p.get_trades(req()).await.unwrap().into_inner();
    assert_eq!(
        (tr.buy_value.as_str(), tr.sell_value.as_str()),
        ("3043.6", "334.84")
    );
    let time_only = tr.accounts[0]
        .rows
        .iter()
        .find(|r| r.raw_timestamp == "13:58:03")
        .unwrap();
    assert!(
        time_only.time.is_some(),
        "time-only stamps take the fetch date"
    );

    // Holdings: A = docs (value 1193 + 129.1 + 445, investment 1342 + 144.1 + 514, pnl -233),
    // B = 2 RELIANCE @1200 now 1250 (2500, 2400, 100), C empty.
    let h = p.get_holdings(req()).await.unwrap().into_inner();
    let hs = h.statistics.unwrap();
    assert_eq!(hs.total_holding_value, "4267.1");
    assert_eq!(hs.total_investment_value, "4400.1");
    assert_eq!(hs.total_profit_and_loss, "-133");
    // -133 / 4400.1 * 100 = -3.0226...; the mean of -11.65, 4.17 and 0 would be something else.
    assert_eq!(hs.total_pnl_percentage, "-3.02");
    let net: Vec<_> = h
        .net
        .iter()
        .map(|n| {
            (
                n.symbol.as_str(),
                n.quantity.as_str(),
                n.pnl.as_str(),
                n.account_count,
            )
        })
        .collect();
    assert_eq!(
        net,
        [
            ("CANBK", "5", "-69", 1),
            ("RELIANCE", "3", "-49", 2),
            ("TATASTEEL", "1", "-15", 1)
        ]
    );

    // Selection: by name and id, by label, unknown names and bad selectors.
    let sel = p
        .get_funds(pb::PortfolioRequest {
            accounts: vec![s("b-floats"), c.clone()],
            ..req()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        sel.accounts
            .iter()
            .map(|x| x.account_id.clone())
            .collect::<Vec<_>>(),
        [b.clone(), c.clone()]
    );
    let sel = p
        .get_funds(pb::PortfolioRequest {
            label_selector: s("desk=x"),
            ..req()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sel.totals.unwrap().cash, "1820.91"); // 320.66 + 1500.25
    let err = p
        .get_funds(pb::PortfolioRequest {
            accounts: vec![s("nope")],
            ..req()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = p
        .get_funds(pb::PortfolioRequest {
            label_selector: s("desk"),
            ..req()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = p
        .get_funds(pb::PortfolioRequest {
            max_staleness: Some(PbDuration {
                seconds: -1,
                nanos: 0,
            }),
            ..req()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn failing_hanging_and_expired_accounts_are_marked_and_snapshots_survive_a_restart() {
    let sim = Simulator::start(vec![
        InstanceSpec::demo("good-1", "k1"),
        InstanceSpec::demo("good-2", "k2"),
        InstanceSpec::demo("http500", "k3"),
        InstanceSpec::demo("hang", "k4"),
        InstanceSpec::demo("expired", "k5"),
    ])
    .await
    .unwrap();
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &opts());
    let mut accounts = d.accounts(&pki.admin()).await;
    for (i, name) in ["good-1", "good-2", "http500", "hang", "expired"]
        .iter()
        .enumerate()
    {
        add_sim_account(
            &mut accounts,
            name,
            &sim.instance(i).url(),
            &format!("k{}", i + 1),
            &[],
        )
        .await;
    }
    let fault = |on: bool| {
        if on {
            sim.instance(2).set_fault(Fault::Http500);
            sim.instance(3).set_fault(Fault::Hang);
            sim.instance(4).set_fault(Fault::SessionExpired);
        } else {
            for i in 2..5 {
                sim.instance(i).clear_fault();
            }
        }
    };
    let reason = |v: &pb::FundsView, name: &str| {
        let a = v.accounts.iter().find(|a| a.account_name == name).unwrap();
        (
            pb::HealthReason::try_from(a.error_reason).unwrap(),
            a.has_data,
            a.stale,
        )
    };
    let mut p = d.portfolio(&pki.admin()).await;

    // 1. No snapshots yet: the bad accounts have no data at all; the good ones stay exact.
    fault(true);
    let started = Instant::now();
    let v = p.get_funds(refresh()).await.unwrap().into_inner();
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "one hanging upstream cost {took:?}"
    );
    assert_eq!(
        reason(&v, "http500"),
        (pb::HealthReason::Http5xx, false, false)
    );
    assert_eq!(
        reason(&v, "hang"),
        (pb::HealthReason::Timeout, false, false)
    );
    assert_eq!(
        reason(&v, "expired"),
        (pb::HealthReason::SessionExpired, false, false)
    );
    assert_eq!(
        reason(&v, "good-1"),
        (pb::HealthReason::Unspecified, true, false)
    );
    let t = v.totals.unwrap();
    // Two demo accounts: 2 * 320.66, 2 * (3.27 - 7.88).
    assert_eq!(
        (
            t.cash.as_str(),
            t.m2m_pnl.as_str(),
            t.utilised_debits.as_str()
        ),
        ("641.32", "-9.22", "1358.68")
    );
    assert_eq!(
        v.coverage,
        Some(pb::Coverage {
            selected: 5,
            fresh: 2,
            stale: 0,
            failed: 3,
            ..Default::default()
        })
    );
    let bad = v
        .accounts
        .iter()
        .find(|a| a.account_name == "http500")
        .unwrap();
    assert!(bad.error.contains("HTTP_5XX") && bad.funds.is_none());

    // 2. Everyone answers once, so everyone has a snapshot.
    fault(false);
    let primed = Instant::now();
    let v = p.get_funds(refresh()).await.unwrap().into_inner();
    assert_eq!(
        v.coverage,
        Some(pb::Coverage {
            selected: 5,
            fresh: 5,
            stale: 0,
            failed: 0,
            ..Default::default()
        })
    );
    assert_eq!(v.totals.unwrap().cash, "1603.3"); // 5 * 320.66

    // 3. Failing again: each shows its last good snapshot, marked stale with its reason, and the
    //    totals say how many accounts they cover.
    tokio::time::sleep(Duration::from_millis(300)).await;
    fault(true);
    let started = Instant::now();
    let v = p.get_funds(refresh()).await.unwrap().into_inner();
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert_eq!(
        reason(&v, "http500"),
        (pb::HealthReason::Http5xx, true, true)
    );
    assert_eq!(reason(&v, "hang"), (pb::HealthReason::Timeout, true, true));
    assert_eq!(
        reason(&v, "expired"),
        (pb::HealthReason::SessionExpired, true, true)
    );
    assert_eq!(
        v.coverage,
        Some(pb::Coverage {
            selected: 5,
            fresh: 2,
            stale: 3,
            failed: 0,
            ..Default::default()
        })
    );
    assert_eq!(v.totals.unwrap().cash, "1603.3");
    let stale = v
        .accounts
        .iter()
        .find(|a| a.account_name == "http500")
        .unwrap();
    assert!(age_of(stale.age.as_ref()) >= Duration::from_millis(300));
    assert_eq!(stale.funds.clone().unwrap().cash, "320.66");

    // 4. After a restart the snapshots are still there, with their true age.
    d.restart();
    let mut p = d.portfolio(&pki.admin()).await;
    let v = p.get_funds(refresh()).await.unwrap().into_inner();
    let stale = v
        .accounts
        .iter()
        .find(|a| a.account_name == "expired")
        .unwrap();
    assert!(stale.stale && stale.has_data);
    let age = age_of(stale.age.as_ref());
    // Fetched after `primed` and at least the 300ms pause before the faults ago.
    let since_primed = primed.elapsed();
    assert!(
        age >= Duration::from_millis(300) && age <= since_primed + Duration::from_millis(50),
        "age {age:?}, primed {since_primed:?} ago"
    );
    assert_eq!(v.totals.unwrap().cash, "1603.3");
}

#[tokio::test]
async fn max_staleness_serves_snapshots_and_refresh_always_fetches() {
    let sim = Simulator::start(vec![InstanceSpec::demo("one", "k1")])
        .await
        .unwrap();
    let inst = sim.instance(0);
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &opts());
    let mut accounts = d.accounts(&pki.admin()).await;
    add_sim_account(&mut accounts, "one", &inst.url(), "k1", &[]).await;
    let mut p = d.portfolio(&pki.admin()).await;

    let v = p.get_positions(req()).await.unwrap().into_inner();
    assert_eq!(inst.request_count("positionbook"), 1);
    assert_eq!(v.total_pnl, "-4.52"); // 0.02 + 5.90 - 10.44
    // Within the configured 2s: from the snapshot, fresh, no upstream request.
    for _ in 0..3 {
        let v = p.get_positions(req()).await.unwrap().into_inner();
        assert!(!v.accounts[0].stale && v.accounts[0].has_data);
        assert_eq!(v.total_pnl, "-4.52");
    }
    assert_eq!(inst.request_count("positionbook"), 1);
    // refresh always fetches.
    for n in 2..=3 {
        p.get_positions(refresh()).await.unwrap();
        assert_eq!(inst.request_count("positionbook"), n);
    }
    // A per-request max_staleness overrides the default.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let short = pb::PortfolioRequest {
        max_staleness: Some(PbDuration {
            seconds: 0,
            nanos: 100_000_000,
        }),
        ..req()
    };
    p.get_positions(short).await.unwrap();
    assert_eq!(inst.request_count("positionbook"), 4);
    // Kinds have separate snapshots.
    p.get_funds(req()).await.unwrap();
    assert_eq!(inst.request_count("funds"), 1);
}

#[tokio::test]
async fn two_hundred_accounts_are_fetched_in_parallel() {
    const N: usize = 200;
    const LATENCY: Duration = Duration::from_millis(200);
    let specs = (0..N)
        .map(|i| InstanceSpec::demo(format!("acct-{i}"), format!("key-{i}")))
        .collect();
    let sim = Simulator::start(specs).await.unwrap();
    for inst in sim.instances() {
        inst.set_fault(Fault::Latency(LATENCY));
    }
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            extra_config: "[upstream]\nrequest_timeout = \"10s\"\n".into(),
            ..Default::default()
        },
    );
    let mut accounts = d.accounts(&pki.admin()).await;
    for (i, inst) in sim.instances().iter().enumerate() {
        add_sim_account(
            &mut accounts,
            &format!("acct-{i:03}"),
            &inst.url(),
            &format!("key-{i}"),
            &[],
        )
        .await;
    }
    let mut p = d.portfolio(&pki.admin()).await;
    let started = Instant::now();
    let v = p.get_funds(refresh()).await.unwrap().into_inner();
    let took = started.elapsed();
    assert_eq!(
        v.coverage.unwrap().fresh,
        N as u32,
        "{:?}",
        v.accounts.iter().find(|a| !a.error.is_empty())
    );
    assert_eq!(v.totals.unwrap().cash, "64132"); // 200 * 320.66
    // Sequentially this is 200 * 200ms = 40s; in parallel about one latency. Generous bound for
    // a shared 2-core machine.
    assert!(took < Duration::from_secs(8), "200 accounts took {took:?}");
    eprintln!("200 accounts x {LATENCY:?} latency: GetFunds took {took:?}");
}

// Multi-threaded: `d.ctl` blocks this thread while the simulator must keep answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rosterctl_renders_funds_net_positions_and_json() {
    let sim = Simulator::start(vec![book_a(), book_b(), InstanceSpec::demo("down", "kd")])
        .await
        .unwrap();
    sim.instance(2).set_fault(Fault::Http500);
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &opts());
    let mut accounts = d.accounts(&pki.admin()).await;
    add_sim_account(
        &mut accounts,
        "a-strings",
        &sim.instance(0).url(),
        "key-a",
        &[],
    )
    .await;
    add_sim_account(
        &mut accounts,
        "b-floats",
        &sim.instance(1).url(),
        "key-b",
        &[],
    )
    .await;
    add_sim_account(&mut accounts, "down", &sim.instance(2).url(), "kd", &[]).await;
    let admin = pki.admin();

    // One account fails, so every answer below is partial: exit 3, the book printed anyway.
    let out = d.ctl(&admin, &["funds"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let total = stdout
        .lines()
        .find(|l| l.starts_with("TOTAL"))
        .unwrap_or_else(|| panic!("{stdout}"));
    // cash and available both 320.66 + 1500.25 (the collateral is not subtracted again)
    assert!(
        total.contains("1820.91") && !total.contains("1620.81"),
        "{stdout}"
    );
    let down = stdout.lines().find(|l| l.starts_with("down")).unwrap();
    assert!(down.contains("FAILED: HTTP_5XX"), "{stdout}");
    assert!(
        stdout.contains("accounts: 3 selected, 2 fresh, 0 stale, 1 failed"),
        "{stdout}"
    );

    let out = d.ctl(&admin, &["positions", "--net"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let yes = stdout
        .lines()
        .find(|l| l.starts_with("YESBANK"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let cols: Vec<&str> = yes.split_whitespace().collect();
    // net -104 + 50, long 50, short 104, pnl -10.44 + 5.5, 2 accounts
    assert_eq!(
        cols,
        [
            "YESBANK", "NSE", "MIS", "INR", "-54", "50", "104", "-4.94", "2"
        ],
        "{stdout}"
    );
    // 0.02 + 5.90 - 10.44 + 2.2 + 5.5 - 1.25
    assert!(stdout.contains("total pnl: 1.93"), "{stdout}");
    assert!(stdout.contains("! down: FAILED: HTTP_5XX"), "{stdout}");

    let out = d.ctl(&admin, &["-o", "json", "funds"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["totals"]["cash"], "1820.91", "{stdout}");
    assert_eq!(doc["totals"]["m2mPnl"], "22.94", "{stdout}"); // -4.61 + 27.55
    assert_eq!(doc["coverage"]["failed"], 1, "{stdout}");
    let accounts = doc["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3);
    assert_eq!(
        accounts[2]["errorReason"], "HEALTH_REASON_HTTP_5XX",
        "{stdout}"
    );
}

#[tokio::test]
async fn background_refresh_keeps_snapshots_warm() {
    let sim = Simulator::start(vec![
        InstanceSpec::demo("warm", "k1"),
        InstanceSpec::demo("failing", "k2"),
    ])
    .await
    .unwrap();
    let inst = sim.instance(0);
    let failing = sim.instance(1);
    failing.set_fault(Fault::Http500);
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            // Background refresh covers UP accounts: a fast monitor makes the account UP quickly.
            extra_config: "[portfolio]\nmax_staleness = \"10s\"\nrefresh_interval = \"300ms\"\n\
                           [monitor]\ninterval = \"300ms\"\ntimeout = \"200ms\"\n"
                .into(),
            ..Default::default()
        },
    );
    let mut accounts = d.accounts(&pki.admin()).await;
    add_sim_account(&mut accounts, "warm", &inst.url(), "k1", &[]).await;
    add_sim_account(&mut accounts, "failing", &failing.url(), "k2", &[]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let endpoints = [
        "funds",
        "positionbook",
        "orderbook",
        "tradebook",
        "holdings",
    ];
    while endpoints.iter().any(|e| inst.request_count(e) == 0) {
        assert!(
            Instant::now() < deadline,
            "no background refresh within 10s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Served from what the background refresh stored: no request of its own.
    let before = inst.request_count("funds");
    let mut p = d.portfolio(&pki.admin()).await;
    let v = p.get_funds(req()).await.unwrap().into_inner();
    assert_eq!(v.totals.unwrap().cash, "320.66");
    assert_eq!(v.coverage.unwrap().fresh, 1);
    assert!(inst.request_count("funds") <= before + 1);
    // An account that is not UP is left to the health monitor: no background book fetches.
    for e in ["positionbook", "orderbook", "tradebook", "holdings"] {
        assert_eq!(
            failing.request_count(e),
            0,
            "{e} fetched for a failing account"
        );
    }
}

/// Account sections come in the order people count names: `desk-2` before `desk-10`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sections_are_in_natural_name_order() {
    let names = ["desk-10", "desk-2", "desk-1"];
    let sim = Simulator::start(
        names
            .iter()
            .map(|n| InstanceSpec::demo(*n, format!("key-{n}-0123456789")))
            .collect(),
    )
    .await
    .unwrap();
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
    let v = d
        .portfolio(&pki.admin())
        .await
        .get_funds(refresh())
        .await
        .unwrap()
        .into_inner();
    let order: Vec<&str> = v.accounts.iter().map(|a| a.account_name.as_str()).collect();
    assert_eq!(order, ["desk-1", "desk-2", "desk-10"]);
}
