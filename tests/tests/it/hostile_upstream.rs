//! Hostile upstreams against the real daemon (issue 13, items 1, 3 and 10): values past any
//! decimal range, a million empty rows, and an upstream that echoes the API key back. Each fails
//! its own account's section with a reason; the other accounts are served, the daemon stays up,
//! its memory and its redb file stay bounded, and the key is never stored or shown.

use std::time::{Duration, Instant};

use bytes::Bytes;
use roster_proto::v1 as pb;
use roster_tests::sim::{Fault, InstanceSpec, Simulator};

use crate::harness::{Daemon, DaemonOptions, Pki, add_sim_account, contains_bytes, health_by_name};

/// rust_decimal's largest value: one more and any sum with it overflows.
const MAX: &str = "79228162514264337593543950335";

/// `portfolio`, `upstream`: extra keys of those tables.
fn opts(portfolio: &str, upstream: &str) -> DaemonOptions {
    DaemonOptions {
        extra_config: format!(
            "[portfolio]\nmax_staleness = \"0s\"\n{portfolio}[upstream]\nrequest_timeout = \"5s\"\n\
             requests_per_second_per_endpoint = 100\n{upstream}"
        ),
        ..Default::default()
    }
}

fn refresh() -> pb::PortfolioRequest {
    pb::PortfolioRequest {
        refresh: true,
        ..Default::default()
    }
}

fn body(status: u16, json: String) -> Fault {
    Fault::Body {
        status,
        body: Bytes::from(json),
    }
}

/// (account name, error, has_data) of each section.
macro_rules! sections {
    ($view:expr) => {
        $view
            .accounts
            .iter()
            .map(|a| (a.account_name.clone(), a.error.clone(), a.has_data))
            .collect::<Vec<_>>()
    };
}

fn assert_failed(sections: &[(String, String, bool)], name: &str, needle: &str) {
    let (_, error, has_data) = sections
        .iter()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("no section for {name}: {sections:?}"));
    assert!(
        error.starts_with("BAD_RESPONSE") && error.contains(needle) && !has_data,
        "{name}: {error:?} (want BAD_RESPONSE naming {needle:?})"
    );
}

fn assert_fine(sections: &[(String, String, bool)], name: &str) {
    assert!(
        sections
            .iter()
            .any(|(n, e, has)| n == name && e.is_empty() && *has),
        "{name} should be served: {sections:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_past_the_decimal_range_fail_their_section_and_the_daemon_stays_up() {
    let hostile = |name: &str, key: &str| InstanceSpec::demo(name, key);
    let sim = Simulator::start(vec![
        InstanceSpec::demo("normal", "key-n"),
        hostile("huge-1", "key-h1"),
        hostile("huge-2", "key-h2"),
    ])
    .await
    .unwrap();
    for i in [1, 2] {
        let inst = sim.instance(i);
        let funds = format!(
            r#"{{"data":{{"availablecash":"{MAX}","collateral":"-1","m2mrealized":"0","m2munrealized":"0","utiliseddebits":"0"}},"status":"success"}}"#
        );
        inst.set_endpoint_fault("funds", body(200, funds)).unwrap();
        let row = format!(
            r#"{{"symbol":"NHPC","exchange":"NSE","product":"MIS","quantity":"1","average_price":"1","ltp":"1","pnl":"{MAX}"}}"#
        );
        inst.set_endpoint_fault(
            "positionbook",
            body(
                200,
                format!(r#"{{"data":[{row},{row}],"status":"success"}}"#),
            ),
        )
        .unwrap();
        let trade = format!(
            r#"{{"action":"BUY","symbol":"NHPC","exchange":"NSE","product":"MIS","quantity":"1","average_price":"{MAX}","trade_value":"{MAX}"}}"#
        );
        inst.set_endpoint_fault(
            "tradebook",
            body(
                200,
                format!(r#"{{"data":[{trade},{trade}],"status":"success"}}"#),
            ),
        )
        .unwrap();
        let holding = format!(
            r#"{{"symbol":"NHPC","exchange":"NSE","product":"CNC","quantity":"{MAX}","pnl":"{MAX}","pnlpercent":"0"}}"#
        );
        inst.set_endpoint_fault(
            "holdings",
            body(
                200,
                format!(
                    r#"{{"data":{{"holdings":[{holding},{holding}],"statistics":{{"totalholdingvalue":"{MAX}","totalinvvalue":"-1","totalprofitandloss":"{MAX}","totalpnlpercentage":"0"}}}},"status":"success"}}"#
                ),
            ),
        )
        .unwrap();
    }
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &opts("", ""));
    let mut accounts = d.accounts(&pki.admin()).await;
    for (i, (name, key)) in [
        ("normal", "key-n"),
        ("huge-1", "key-h1"),
        ("huge-2", "key-h2"),
    ]
    .into_iter()
    .enumerate()
    {
        add_sim_account(&mut accounts, name, &sim.instance(i).url(), key, &[]).await;
    }
    let mut p = d.portfolio(&pki.admin()).await;
    // Twice: the second round reads what the first one stored (nothing, for the hostile ones).
    for _ in 0..2 {
        let funds = p
            .get_funds(refresh())
            .await
            .expect("GetFunds answers")
            .into_inner();
        let s = sections!(funds);
        assert_fine(&s, "normal");
        assert_failed(&s, "huge-1", "data.availablecash");
        assert_failed(&s, "huge-2", "data.availablecash");
        // The totals are the normal account's alone (demo funds), and say nothing overflowed.
        let totals = funds.totals.unwrap();
        let normal = funds.accounts.iter().find(|a| a.account_name == "normal");
        assert_eq!(Some(&totals), normal.and_then(|a| a.funds.as_ref()));
        assert!(funds.totals_error.is_empty());
        assert_eq!(funds.coverage.unwrap().failed, 2);

        let positions = p
            .get_positions(refresh())
            .await
            .expect("GetPositions")
            .into_inner();
        let s = sections!(positions);
        assert_fine(&s, "normal");
        assert_failed(&s, "huge-1", "data[0].pnl");
        assert_failed(&s, "huge-2", "out of range");

        let trades = p
            .get_trades(refresh())
            .await
            .expect("GetTrades")
            .into_inner();
        let s = sections!(trades);
        assert_fine(&s, "normal");
        assert_failed(&s, "huge-1", "data[0].average_price");

        let holdings = p
            .get_holdings(refresh())
            .await
            .expect("GetHoldings")
            .into_inner();
        let s = sections!(holdings);
        assert_fine(&s, "normal");
        assert_failed(&s, "huge-2", "totalholdingvalue");
    }
    assert!(d.is_running(), "the daemon died");
    let log = d.stderr();
    assert!(!log.contains("panicked"), "a panic was logged:\n{log}");
    // The CLI shows the failed sections with their reason, and exits 3: the answer is partial.
    let out = d.ctl_async(&pki.admin(), &["funds"], "").await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(stdout.contains("BAD_RESPONSE"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_empty_rows_fail_one_section_without_growing_memory_or_the_store() {
    let sim = Simulator::start(vec![
        InstanceSpec::demo("normal-1", "key-1"),
        InstanceSpec::demo("normal-2", "key-2"),
        InstanceSpec::demo("million", "key-m"),
        InstanceSpec::demo("one-empty-row", "key-e"),
        InstanceSpec::demo("many-rows", "key-r"),
        InstanceSpec::demo("too-many-rows", "key-t"),
    ])
    .await
    .unwrap();
    // ~3 MB: under the 4 MiB response cap, so only the row bound stops it.
    let mut rows = String::with_capacity(3_000_100);
    rows.push_str(r#"{"data":["#);
    for i in 0..1_000_000 {
        if i > 0 {
            rows.push(',');
        }
        rows.push_str("{}");
    }
    rows.push_str(r#"],"status":"success"}"#);
    sim.instance(2)
        .set_endpoint_fault("positionbook", body(200, rows))
        .unwrap();
    sim.instance(3)
        .set_endpoint_fault(
            "positionbook",
            body(200, r#"{"data":[{}],"status":"success"}"#.into()),
        )
        .unwrap();
    // 50 ordinary rows: under max_rows_per_book, over a 4 KiB max_snapshot_bytes.
    let row = r#"{"symbol":"NHPC","exchange":"NSE","product":"MIS","quantity":"1","average_price":"83.72","ltp":"83.74","pnl":"0.02"}"#;
    let many = format!(
        r#"{{"data":[{}],"status":"success"}}"#,
        vec![row; 50].join(",")
    );
    sim.instance(4)
        .set_endpoint_fault("positionbook", body(200, many))
        .unwrap();
    // 150 ordinary rows: over max_rows_per_book (100 here).
    let too_many = format!(
        r#"{{"data":[{}],"status":"success"}}"#,
        vec![row; 150].join(",")
    );
    sim.instance(5)
        .set_endpoint_fault("positionbook", body(200, too_many))
        .unwrap();

    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(
        &pki,
        state.path(),
        &opts("max_snapshot_bytes = 4096\n", "max_rows_per_book = 100\n"),
    );
    let mut accounts = d.accounts(&pki.admin()).await;
    let names = [
        "normal-1",
        "normal-2",
        "million",
        "one-empty-row",
        "many-rows",
        "too-many-rows",
    ];
    let keys = ["key-1", "key-2", "key-m", "key-e", "key-r", "key-t"];
    for (i, (name, key)) in names.iter().zip(keys).enumerate() {
        add_sim_account(&mut accounts, name, &sim.instance(i).url(), key, &[]).await;
    }
    let mut p = d.portfolio(&pki.admin()).await;
    let first = p
        .get_positions(refresh())
        .await
        .expect("GetPositions")
        .into_inner();
    let db_after_first = std::fs::metadata(state.path().join("roster.redb"))
        .map(|m| m.len())
        .unwrap_or(0);
    for round in 0..4 {
        let view = if round == 0 {
            first.clone()
        } else {
            p.get_positions(refresh())
                .await
                .expect("GetPositions")
                .into_inner()
        };
        let s = sections!(view);
        assert_fine(&s, "normal-1");
        assert_fine(&s, "normal-2");
        // The first `{}` already fails it: nothing of the million rows is kept.
        assert_failed(&s, "million", "row 0 is an empty object");
        assert_failed(&s, "one-empty-row", "empty object");
        assert_failed(&s, "many-rows", "max_snapshot_bytes");
        assert_failed(&s, "too-many-rows", "max_rows_per_book");
        // The net view covers the normal accounts only.
        assert!(view.net.iter().all(|n| n.account_count <= 2));
    }
    assert!(d.is_running());
    let hwm_mib = d.status_kib("VmHWM") / 1024;
    assert!(hwm_mib < 300, "peak RSS {hwm_mib} MiB");
    let db_after = std::fs::metadata(state.path().join("roster.redb"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(
        db_after <= db_after_first + 4 * 1024 * 1024,
        "redb grew from {db_after_first} to {db_after} bytes over three reads"
    );
    assert!(
        !d.stderr().contains("panicked"),
        "a panic was logged:\n{}",
        d.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_echoing_the_key_never_gets_it_stored_logged_or_shown() {
    let key = "echoKEY-0123456789abcdef0123456789abcdef0123456789abcdef0123";
    let prefix = &key[..16];
    let sim = Simulator::start(vec![
        InstanceSpec::demo("echo-broker", key),
        InstanceSpec::demo("echo-errors", key),
    ])
    .await
    .unwrap();
    // The broker name is the key (stored on the account and in health).
    sim.instance(0).set_broker(key);
    let books = sim.instance(0);
    let row = format!(
        r#"{{"symbol":"{key}","exchange":"NSE","product":"MIS","quantity":"1","average_price":"1","ltp":"1","pnl":"1"}}"#
    );
    books
        .set_endpoint_fault(
            "positionbook",
            body(200, format!(r#"{{"data":[{row}],"status":"success"}}"#)),
        )
        .unwrap();
    // Error text with the key across the 200-character display cut, and JSON-escaped.
    let errors = sim.instance(1);
    let straddle = format!("{}{key} trailing", "x".repeat(190));
    errors
        .set_endpoint_fault(
            "funds",
            body(
                500,
                format!(r#"{{"message":"{straddle}","status":"error"}}"#),
            ),
        )
        .unwrap();
    let escaped: String = key
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    errors
        .set_endpoint_fault(
            "positionbook",
            body(
                400,
                format!(
                    r#"{{"message":{{"apikey":["{}{escaped}"]}},"status":"error"}}"#,
                    "y".repeat(185)
                ),
            ),
        )
        .unwrap();
    errors
        .set_endpoint_fault(
            "orderbook",
            body(
                200,
                format!(r#"{{"message":"bad key {key}","status":"error"}}"#),
            ),
        )
        .unwrap();

    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut o = crate::harness::fast_monitor(300, 300);
    o.extra_config.push_str("[log]\nfilter = \"debug\"\n");
    let mut d = Daemon::start(&pki, state.path(), &o);
    let mut accounts = d.accounts(&pki.admin()).await;
    add_sim_account(
        &mut accounts,
        "echo-broker",
        &sim.instance(0).url(),
        key,
        &[],
    )
    .await;
    add_sim_account(
        &mut accounts,
        "echo-errors",
        &sim.instance(1).url(),
        key,
        &[],
    )
    .await;

    // Wait until the monitor has learned a broker and checked the failing account a few times.
    let mut monitor = d.monitor(&pki.admin()).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = health_by_name(&mut monitor).await;
        let learned = h.get("echo-broker").is_some_and(|h| !h.broker.is_empty());
        let failed = h
            .get("echo-errors")
            .is_some_and(|h| h.consecutive_failures >= 2);
        if learned && failed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "monitor did not get there: {h:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut p = d.portfolio(&pki.admin()).await;
    let mut seen = Vec::new();
    seen.push(format!(
        "{:?}",
        p.get_funds(refresh()).await.unwrap().into_inner()
    ));
    let positions = p.get_positions(refresh()).await.unwrap().into_inner();
    // The echoing row is still shown, with the key scrubbed out of its symbol.
    assert!(
        positions
            .accounts
            .iter()
            .flat_map(|a| &a.rows)
            .any(|r| r.symbol == "[redacted]"),
        "{positions:?}"
    );
    seen.push(format!("{positions:?}"));
    seen.push(format!(
        "{:?}",
        p.get_orders(refresh()).await.unwrap().into_inner()
    ));
    seen.push(format!("{:?}", health_by_name(&mut monitor).await));
    seen.push(format!("{:?}", d.all_accounts(&pki.admin()).await));
    seen.push(format!(
        "{:?}",
        d.stored_events(&pki.admin(), Duration::from_millis(300), |_| false)
            .await
    ));
    for args in [
        &["funds"][..],
        &["positions"],
        &["orders"],
        &["health", "list"],
        &["account", "get", "echo-broker"],
    ] {
        let out = d.ctl_async(&pki.admin(), args, "").await;
        seen.push(String::from_utf8_lossy(&out.stdout).into_owned());
        seen.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    for text in &seen {
        assert!(
            !text.contains(prefix),
            "the key (or its first 16 characters) is shown: {text}"
        );
    }
    assert!(
        seen.iter().any(|t| t.contains("[redacted]")),
        "nothing was scrubbed, so the test did not see the echo"
    );
    let log = d.stderr();
    assert!(!log.contains(prefix), "the key is in the daemon's log");
    d.stop();
    let db = d.db_bytes();
    assert!(
        !contains_bytes(&db, prefix.as_bytes()),
        "the key is in the redb file"
    );
}
