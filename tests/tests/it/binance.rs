//! Binance spot accounts in the real daemon against `binance-sim` on loopback: UP with good
//! credentials (a venue clock 10 s ahead included), balances per asset exact, orders and fills,
//! no positions; each refusal with its reason; an IP ban reported on every Binance account; and
//! no credential field in plain text anywhere.

use roster_proto::v1 as pb;
use roster_tests::binance_sim::{BinanceAccountSpec, BinanceSim, demo_keys};

use crate::harness::{
    Daemon, Pki, assert_no_secret, books_request, check_now, checks_and_books, cli_views,
    fast_monitor, quiet_monitor, text, venue_account,
};

/// A Binance account in the daemon, created over gRPC with its credential fields.
fn binance_account(name: &str, url: &str, api_key: &str, secret: &str) -> pb::CreateAccountRequest {
    venue_account(
        name,
        "binance",
        "testnet",
        url,
        &[("api_key", api_key), ("secret_key", secret)],
    )
}

struct Fleet {
    pki: Pki,
    dir: tempfile::TempDir,
    d: Daemon,
    sim: BinanceSim,
    keys: Vec<(String, String)>,
}

/// `n` Binance testnet accounts (`bn-1`...) on one simulator.
async fn fleet(n: usize) -> Fleet {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<_> = (1..=n).map(demo_keys).collect();
    let sim = BinanceSim::start(
        keys.iter()
            .map(|(k, s)| BinanceAccountSpec::demo(k.clone(), s.clone()))
            .collect(),
    )
    .await
    .unwrap();
    let d = Daemon::start(&pki, &dir.path().join("s"), &quiet_monitor(2_000));
    let mut c = d.accounts(&pki.admin()).await;
    for (i, (k, s)) in keys.iter().enumerate() {
        c.create_account(binance_account(&format!("bn-{}", i + 1), &sim.url(), k, s))
            .await
            .unwrap();
    }
    Fleet {
        pki,
        dir,
        d,
        sim,
        keys,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_accounts_are_up_with_exact_balances_orders_and_fills() {
    let f = fleet(2).await;
    let (d, pki) = (&f.d, &f.pki);
    for name in ["bn-1", "bn-2"] {
        let h = check_now(d, pki, name).await;
        assert_eq!(h.state, pb::HealthState::Up as i32, "{name}: {h:?}");
        assert_eq!((h.broker.as_str(), h.mode.as_str()), ("binance", "paper"));
    }
    // A venue whose clock runs 10 s ahead of ours: the offset is learnt, the account is UP.
    let (k, s) = demo_keys(3);
    let ahead = BinanceSim::start(vec![BinanceAccountSpec::demo(k.clone(), s.clone())])
        .await
        .unwrap();
    ahead.set_clock_offset_ms(10_000);
    let mut c = d.accounts(&pki.admin()).await;
    c.create_account(binance_account("bn-ahead", &ahead.url(), &k, &s))
        .await
        .unwrap();
    let h = check_now(d, pki, "bn-ahead").await;
    assert_eq!(h.state, pb::HealthState::Up as i32, "{h:?}");
    assert_eq!(ahead.account(&k).unwrap().account_requests(), 1);

    let mut p = d.portfolio(&pki.admin()).await;
    let balances = p
        .get_balances(books_request(&["bn-1", "bn-2"], true))
        .await
        .unwrap()
        .into_inner();
    let totals: Vec<_> = balances
        .totals
        .iter()
        .map(|t| {
            (
                t.asset.as_str(),
                t.free.as_str(),
                t.locked.as_str(),
                t.total.as_str(),
                t.account_count,
            )
        })
        .collect();
    // 2 x the demo account: BTC 0.018431, USDT 1520.4481 free + 250 locked, BNB 0.31207411;
    // XRP is zero and not listed.
    let mut totals = totals;
    totals.sort();
    assert_eq!(
        totals,
        [
            ("BNB", "0.62414822", "0", "0.62414822", 2),
            ("BTC", "0.036862", "0", "0.036862", 2),
            ("USDT", "3040.8962", "500", "3540.8962", 2),
        ],
        "{balances:?}"
    );
    let orders = p
        .get_orders(books_request(&["bn-1"], true))
        .await
        .unwrap()
        .into_inner();
    let row = &orders.accounts[0].rows[0];
    assert_eq!(
        (row.symbol.as_str(), row.quantity.as_str()),
        ("BTCUSDT", "0.005")
    );
    let trades = p
        .get_trades(books_request(&["bn-1"], true))
        .await
        .unwrap()
        .into_inner();
    let fills: Vec<_> = trades.accounts[0]
        .rows
        .iter()
        .map(|r| r.symbol.as_str())
        .collect();
    assert_eq!(fills, ["BTCUSDT"], "{trades:?}");
    // Spot has no positions: unsupported, not failed.
    let positions = p
        .get_positions(books_request(&["bn-1"], true))
        .await
        .unwrap()
        .into_inner();
    let coverage = positions.coverage.unwrap();
    assert_eq!(
        (coverage.failed, coverage.unsupported),
        (0, 1),
        "{positions:?}"
    );

    // The CLI lists the venue and shows the balances.
    let o = d.ctl_async(&pki.admin(), &["venues"], "").await;
    let (out, _) = text(&o);
    assert!(out.contains("binance") && out.contains("testnet"), "{out}");
    let o = d.ctl_async(&pki.admin(), &["balances"], "").await;
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out} {err}");
    // Three accounts now (bn-ahead too): 3 x 1770.4481 USDT.
    assert!(out.contains("5311.3443"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_refusals_restrictions_and_bans_have_their_reasons() {
    let f = fleet(4).await;
    let (d, pki) = (&f.d, &f.pki);
    let mut c = d.accounts(&pki.admin()).await;
    let (k1, _) = &f.keys[0];
    c.create_account(binance_account(
        "wrong-secret",
        &f.sim.url(),
        k1,
        "not-the-secret",
    ))
    .await
    .unwrap();
    let (unknown, s) = demo_keys(99);
    c.create_account(binance_account("unknown-key", &f.sim.url(), &unknown, &s))
        .await
        .unwrap();
    f.sim.account(&f.keys[1].0).unwrap().revoke();
    f.sim.account(&f.keys[2].0).unwrap().set_can_read(false);
    for (name, code) in [
        ("wrong-secret", "-1022"),
        ("unknown-key", "-2015"),
        ("bn-2", "-2015"),
        ("bn-3", "-2015"),
    ] {
        let h = check_now(d, pki, name).await;
        assert_eq!(
            h.reason,
            pb::HealthReason::AuthRejected as i32,
            "{name}: {h:?}"
        );
        assert_ne!(h.state, pb::HealthState::Up as i32);
        assert!(h.message.contains(code), "{name}: {}", h.message);
    }
    // Trading blocked on the account: reads work, DEGRADED without failing.
    f.sim.account(&f.keys[3].0).unwrap().set_can_trade(false);
    let h = check_now(d, pki, "bn-4").await;
    assert_eq!(
        (h.state, h.reason, h.consecutive_failures),
        (
            pb::HealthState::Degraded as i32,
            pb::HealthReason::AccountRestricted as i32,
            0
        ),
        "{h:?}"
    );
    assert!(h.message.contains("canTrade"), "{}", h.message);

    // The venue's clock jumps 10 s after we synced: one -1021, one resync, UP.
    assert_eq!(
        check_now(d, pki, "bn-1").await.state,
        pb::HealthState::Up as i32
    );
    f.sim.set_clock_offset_ms(10_000);
    let h = check_now(d, pki, "bn-1").await;
    assert_eq!(h.state, pb::HealthState::Up as i32, "{h:?}");
    // A time endpoint that keeps disagreeing with the venue's checks: CLOCK_SKEW.
    f.sim.set_time_endpoint_lag_ms(-20_000);
    f.sim.set_clock_offset_ms(-30_000);
    let h = check_now(d, pki, "bn-1").await;
    assert_eq!(h.reason, pb::HealthReason::ClockSkew as i32, "{h:?}");
    assert!(h.message.contains("-1021"), "{}", h.message);
    f.sim.set_time_endpoint_lag_ms(0);
    f.sim.set_clock_offset_ms(0);

    // An IP ban: the account that meets it and every other Binance account report IP_BANNED,
    // and nothing more is sent while it lasts.
    f.sim.ban_for(300);
    let h = check_now(d, pki, "bn-1").await;
    assert_eq!(h.reason, pb::HealthReason::IpBanned as i32, "{h:?}");
    let sent = f.sim.requests();
    let h = check_now(d, pki, "bn-4").await;
    assert_eq!(h.reason, pb::HealthReason::IpBanned as i32, "{h:?}");
    assert_eq!(f.sim.requests(), sent, "nothing sent during the ban");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_binance_credential_field_in_plain_text_anywhere() {
    let mut f = fleet(2).await;
    let pki = &f.pki;
    let (k1, s1) = f.keys[0].clone();
    let (k2, s2) = f.keys[1].clone();
    // A third account added through the CLI.
    let (k3, s3) = demo_keys(3);
    let extra = BinanceSim::start(vec![BinanceAccountSpec::demo(k3.clone(), s3.clone())])
        .await
        .unwrap();
    let creds = format!("{{\"api_key\":\"{k3}\",\"secret_key\":\"{s3}\"}}");
    let o =
        f.d.ctl_async(
            &pki.admin(),
            &[
                "account",
                "add",
                "--name",
                "bn-cli",
                "--connector",
                "binance",
                "--env",
                "testnet",
                "--host",
                &extra.url(),
                "--credentials-stdin",
            ],
            &creds,
        )
        .await;
    let mut seen = vec![text(&o).0, text(&o).1];
    assert!(o.status.success(), "{seen:?}");
    f.sim.account(&k2).unwrap().revoke();
    seen.extend(checks_and_books(&f.d, pki, &["bn-1", "bn-2", "bn-cli"]).await);
    let mut c = f.d.accounts(&pki.admin()).await;
    seen.push(format!(
        "{:?}",
        c.test_connection(pb::TestConnectionRequest {
            connector: "binance".into(),
            environment: "testnet".into(),
            host_url: f.sim.url(),
            credentials: [
                ("api_key".to_string(), k1.clone()),
                (
                    "secret_key".to_string(),
                    "wrong-secret-value-123".to_string()
                ),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        })
        .await
    ));
    seen.extend(cli_views(&f.d, pki, "bn-1").await);
    let backup = f.dir.path().join("b.redb");
    let o =
        f.d.ctl_async(
            &pki.admin(),
            &["backup", "--out", backup.to_str().unwrap()],
            "",
        )
        .await;
    assert!(o.status.success(), "{:?}", text(&o));
    f.d.restart();
    seen.push(format!("{:?}", check_now(&f.d, pki, "bn-1").await));
    seen.push(f.d.stderr());
    let files = [f.d.db_bytes(), std::fs::read(&backup).unwrap()];
    assert_no_secret(&[&k1, &s1, &k2, &s2, &k3, &s3], &seen, &files);
    let h = check_now(&f.d, pki, "bn-1").await;
    assert_eq!(h.state, pb::HealthState::Up as i32, "{h:?}");
}

/// 2,000 Binance accounts behind one simulated IP at a 10 s interval. Binance's real 6,000
/// weight a minute would stretch the interval to 8m20s and the test to minutes, so both the
/// simulator's limit and `binance_weight_per_minute` are scaled to 150,000: 80% of it for checks
/// is 6,000 checks of weight 20 a minute, so 2,000 accounts are checked every 20 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_accounts_behind_one_ip_fit_the_weight_at_a_stretched_interval() {
    const ACCOUNTS: usize = 2_000;
    const WEIGHT: u32 = 150_000;
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let sim = BinanceSim::start_many(
        ACCOUNTS,
        roster_tests::binance_sim::BinanceSimOptions {
            weight_per_minute: WEIGHT,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut options = fast_monitor(10_000, 2_000);
    // fast_monitor's config ends in its [upstream] table.
    options.extra_config.push_str(&format!(
        "binance_weight_per_minute = {WEIGHT}\n[metrics]\nlisten = \"127.0.0.1:0\"\n"
    ));
    let d = Daemon::start(&pki, &dir.path().join("s"), &options);
    let metrics_url = d
        .stdout_line("rosterd metrics on ")
        .expect("the daemon prints the metrics address");
    // Created by 8 clients side by side.
    let url = sim.url();
    let mut creators = tokio::task::JoinSet::new();
    for part in 0..8 {
        let mut c = d.accounts(&pki.admin()).await;
        let url = url.clone();
        creators.spawn(async move {
            for i in (1..=ACCOUNTS).filter(|i| i % 8 == part) {
                let (k, s) = demo_keys(i);
                c.create_account(binance_account(&format!("bn-{i}"), &url, &k, &s))
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = creators.join_next().await {
        r.unwrap();
    }

    // The effective interval, in status and in rosterctl status.
    let status = d
        .admin(&pki.admin())
        .await
        .get_status(pb::GetStatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    let cadence = status
        .venue_cadence
        .iter()
        .find(|c| c.connector == "binance")
        .unwrap();
    assert_eq!(
        (cadence.accounts, cadence.checks_per_minute),
        (2_000, 6_000)
    );
    let effective = cadence.effective_interval.as_ref().unwrap();
    assert_eq!((effective.seconds, effective.nanos), (20, 0), "{cadence:?}");
    let o = d.ctl_async(&pki.admin(), &["status"], "").await;
    let (out, _) = text(&o);
    assert!(
        out.contains("2000 binance every 20s (stretched from 10s to fit 6000 checks/min)"),
        "{out}"
    );

    let metrics = reqwest::get(&metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let interval = metrics
        .lines()
        .find(|l| l.contains("check_interval_seconds{connector=\"binance\"}"))
        .unwrap_or_else(|| panic!("no Binance interval in {metrics}"));
    assert!(
        interval.ends_with(" 20.0") || interval.ends_with(" 20"),
        "{interval}"
    );

    // Every account is checked (bounded generously: the check rate is the daemon's, and the
    // machine running the tests may be loaded), and each is scheduled again within the effective
    // interval of its last check, with no 429 at the simulator.
    let accounts = sim.accounts();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let pending = loop {
        let pending = accounts
            .iter()
            .filter(|a| a.account_requests() == 0)
            .count();
        if pending == 0 || std::time::Instant::now() > deadline {
            break pending;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert_eq!(pending, 0, "accounts never checked");
    let health = d
        .monitor(&pki.admin())
        .await
        .list_health(pb::ListHealthRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.accounts.len(), ACCOUNTS);
    for h in &health.accounts {
        let (last, next) = (
            h.last_check_time.as_ref().unwrap(),
            h.next_check_time.as_ref().unwrap(),
        );
        let gap_ms =
            (next.seconds - last.seconds) * 1_000 + i64::from(next.nanos - last.nanos) / 1_000_000;
        assert!(
            gap_ms <= 21_000,
            "{}: next check {gap_ms} ms after the last",
            h.account_name
        );
    }
    assert_eq!(sim.answered_429(), 0);
    assert_eq!(sim.answered_418(), 0);
    assert!(sim.max_weight_per_minute() <= WEIGHT);
    let h = check_now(&d, &pki, "bn-1999").await;
    assert_eq!(h.state, pb::HealthState::Up as i32, "{h:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_pauses_every_binance_account_and_never_becomes_a_ban() {
    let f = fleet(2).await;
    let (d, pki) = (&f.d, &f.pki);
    // The simulator's weight count starts over each minute: stay clear of the turn.
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 60_000;
    if ms > 50_000 {
        tokio::time::sleep(std::time::Duration::from_millis((60_100 - ms) as u64)).await;
    }
    // Room for one clock sync (1) and one check (20) this minute.
    f.sim.set_weight_limit(25);
    assert_eq!(
        check_now(d, pki, "bn-1").await.state,
        pb::HealthState::Up as i32
    );
    let h = check_now(d, pki, "bn-2").await;
    assert_eq!(h.reason, pb::HealthReason::RateLimited as i32, "{h:?}");
    assert!(h.message.contains("-1003"), "{}", h.message);
    assert_eq!(f.sim.answered_429(), 1);
    // Every Binance account waits out the Retry-After: nothing more reaches the simulator.
    let sent = f.sim.requests();
    for name in ["bn-1", "bn-2", "bn-1"] {
        let h = check_now(d, pki, name).await;
        assert_eq!(
            h.reason,
            pb::HealthReason::RateLimited as i32,
            "{name}: {h:?}"
        );
    }
    assert_eq!(f.sim.requests(), sent);
    assert_eq!(f.sim.answered_418(), 0);
    assert!(!f.sim.is_banned());
}
