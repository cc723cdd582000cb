//! OKX end to end: the real daemon checks and reads OKX accounts (live and demo keys on one
//! simulated host) through its `okx` connector: UP with good credentials, each refusal with its
//! reason, clock offsets tracked and one resync tried before CLOCK_SKEW, balances per asset
//! exact, positions, orders and fills, the per-uid budget never exceeded at the venue, and no
//! credential field in plain text anywhere.

use roster_proto::v1 as pb;
use roster_tests::okx_sim::{OkxAccountSpec, OkxFault, OkxSim, balance};

use crate::harness::{
    Daemon, DaemonOptions, Pki, assert_no_secret, books_request, check_now, checks_and_books,
    cli_views, quiet_monitor, text, venue_account,
};

const BALANCE: &str = "/api/v5/account/balance";
const TIME: &str = "/api/v5/public/time";

fn okx_account(
    name: &str,
    env: &str,
    url: &str,
    spec: &OkxAccountSpec,
) -> pb::CreateAccountRequest {
    okx_with(
        name,
        env,
        url,
        &spec.api_key,
        &spec.secret_key,
        &spec.passphrase,
    )
}

fn okx_with(
    name: &str,
    env: &str,
    url: &str,
    key: &str,
    secret: &str,
    passphrase: &str,
) -> pb::CreateAccountRequest {
    venue_account(
        name,
        "okx",
        env,
        url,
        &[
            ("api_key", key),
            ("secret_key", secret),
            ("passphrase", passphrase),
        ],
    )
}

struct Fleet {
    pki: Pki,
    dir: tempfile::TempDir,
    d: Daemon,
    sim: OkxSim,
    live: OkxAccountSpec,
    demo: OkxAccountSpec,
}

/// A live and a demo OKX account on one simulated host whose clock is `offset_ms` off ours.
async fn fleet(offset_ms: i64, options: DaemonOptions) -> Fleet {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let live = OkxAccountSpec::demo(1);
    let demo = OkxAccountSpec::demo(2).in_demo();
    let sim = OkxSim::start(vec![live.clone(), demo.clone()])
        .await
        .unwrap();
    sim.set_clock_offset_ms(offset_ms);
    let d = Daemon::start(&pki, &dir.path().join("s"), &options);
    let mut c = d.accounts(&pki.admin()).await;
    c.create_account(okx_account("okx-live", "live", &sim.url(), &live))
        .await
        .unwrap();
    c.create_account(okx_account("okx-demo", "demo", &sim.url(), &demo))
        .await
        .unwrap();
    Fleet {
        pki,
        dir,
        d,
        sim,
        live,
        demo,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_accounts_are_up_with_exact_balances_per_asset_and_their_books() {
    let f = fleet(0, quiet_monitor(2_000)).await;
    let (d, pki) = (&f.d, &f.pki);
    f.sim
        .account(&f.demo.api_key)
        .unwrap()
        .set_balances(vec![
            balance("USDT", "1000.5", "0.25", "1000.75"),
            // availBal "" (does not apply): free is cashBal - frozenBal, never zero.
            serde_json::json!({"ccy":"ETH","eq":"2.1","cashBal":"2","availBal":"","frozenBal":"0.5","upl":"0.1"}),
        ]);
    for (name, mode) in [("okx-live", "live"), ("okx-demo", "paper")] {
        let h = check_now(d, pki, name).await;
        assert_eq!(h.state, pb::HealthState::Up as i32, "{name}: {h:?}");
        assert_eq!((h.broker.as_str(), h.mode.as_str()), ("okx", mode));
    }
    // The deep check read the config (the uid that keys the budget), then the balance.
    assert_eq!(f.sim.requests("/api/v5/account/config"), 2);
    assert_eq!(f.sim.requests(BALANCE), 2);

    let mut p = d.portfolio(&pki.admin()).await;
    let both = ["okx-live", "okx-demo"];
    let balances = p
        .get_balances(books_request(&both, true))
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
            )
        })
        .collect();
    assert_eq!(
        totals,
        [
            ("BTC", "0.4", "0.1", "0.5"),
            ("ETH", "1.5", "0.5", "2"),
            ("USDT", "6000.75", "100.25", "6101")
        ],
        "{balances:?}"
    );
    let positions = p
        .get_positions(books_request(&both, false))
        .await
        .unwrap()
        .into_inner();
    let swap = positions
        .accounts
        .iter()
        .flat_map(|s| &s.rows)
        .find(|r| r.symbol == "BTC-USDT-SWAP")
        .unwrap();
    assert_eq!(swap.quantity, "-3", "net-mode short is negative");
    let orders = p
        .get_orders(books_request(&both, false))
        .await
        .unwrap()
        .into_inner();
    for s in &orders.accounts {
        assert_eq!(s.rows.len(), 1, "{s:?}");
    }
    let trades = p
        .get_trades(books_request(&both, false))
        .await
        .unwrap()
        .into_inner();
    for s in &trades.accounts {
        assert_eq!(s.rows.len(), 1, "{s:?}");
    }
    // No holdings book: unsupported, not failed.
    let holdings = p
        .get_holdings(books_request(&both, false))
        .await
        .unwrap()
        .into_inner();
    let coverage = holdings.coverage.unwrap();
    assert_eq!((coverage.failed, coverage.unsupported), (0, 2));
    let o = d.ctl_async(&pki.admin(), &["venues"], "").await;
    let (out, _) = text(&o);
    assert!(out.contains("okx") && out.contains("passphrase"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_venue_clock_ahead_or_behind_is_tracked_and_a_jump_is_resynced_once() {
    // 10 s ahead (inside OKX's window), then 60 s ahead and behind (outside it): all UP, since
    // the connector signs with the venue's time.
    let f = fleet(10_000, quiet_monitor(2_000)).await;
    let (d, pki) = (&f.d, &f.pki);
    assert_eq!(
        check_now(d, pki, "okx-live").await.state,
        pb::HealthState::Up as i32
    );
    for offset in [60_000, -60_000] {
        f.sim.set_clock_offset_ms(offset);
        let before = f.sim.requests(TIME);
        let h = check_now(d, pki, "okx-live").await;
        assert_eq!(h.state, pb::HealthState::Up as i32, "{offset}: {h:?}");
        // The jump was answered 50102 once, the clock resynced once, the retry passed.
        assert_eq!(f.sim.requests(TIME), before + 1, "{offset}");
    }
    assert_eq!(f.sim.answers_by_code().get("50102"), Some(&2));
    // A time service that disagrees with the signature check: one resync, then CLOCK_SKEW
    // with OKX's code and message.
    f.sim.set_time_endpoint_skew_ms(45_000);
    f.sim.set_clock_offset_ms(0);
    let before = f.sim.requests(TIME);
    let h = check_now(d, pki, "okx-demo").await;
    assert_eq!(
        h.reason,
        pb::HealthReason::ClockSkew as i32,
        "{h:?} {:?} {:?} {}",
        f.sim.requests_by_path(),
        f.sim.answers_by_code(),
        d.stderr()
    );
    assert!(
        h.message.contains("50102") && h.message.contains("Timestamp request expired"),
        "{h:?}"
    );
    assert!(h.message.contains("resync"), "{h:?}");
    assert_eq!(f.sim.requests(TIME), before + 1, "one resync, not a loop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_has_its_reason_and_okxs_code() {
    let f = fleet(0, quiet_monitor(2_000)).await;
    let (d, pki) = (&f.d, &f.pki);
    let url = f.sim.url();
    let l = &f.live;
    let mut c = d.accounts(&pki.admin()).await;
    let cases = [
        (
            "wrong-secret",
            okx_with(
                "wrong-secret",
                "live",
                &url,
                &l.api_key,
                "WRONG-secret-0",
                &l.passphrase,
            ),
            pb::HealthReason::AuthRejected,
            "50113",
        ),
        (
            "wrong-pass",
            okx_with(
                "wrong-pass",
                "live",
                &url,
                &l.api_key,
                &l.secret_key,
                "wrong-passphrase",
            ),
            pb::HealthReason::AuthRejected,
            "50105",
        ),
        (
            "unknown-key",
            okx_with(
                "unknown-key",
                "live",
                &url,
                "ffffffff-0000-4000-8000-000000000000",
                &l.secret_key,
                &l.passphrase,
            ),
            pb::HealthReason::AuthRejected,
            "50119",
        ),
        (
            "live-on-demo",
            okx_account("live-on-demo", "demo", &url, l),
            pb::HealthReason::AuthRejected,
            "50101",
        ),
    ];
    for (name, req, _, _) in &cases {
        c.create_account(req.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    for (name, _, reason, code) in &cases {
        let h = check_now(d, pki, name).await;
        assert_eq!(h.reason, *reason as i32, "{name}: {h:?}");
        assert!(h.message.contains(code), "{name}: {h:?}");
        assert_ne!(h.state, pb::HealthState::Up as i32);
    }
    // Revoked, read-less, frozen, IP not whitelisted: on the working live account.
    let acct = f.sim.account(&l.api_key).unwrap();
    acct.set_revoked(true);
    let h = check_now(d, pki, "okx-live").await;
    assert_eq!(h.reason, pb::HealthReason::AuthRejected as i32, "{h:?}");
    assert!(h.message.contains("doesn't exist"), "{h:?}");
    acct.set_revoked(false);
    acct.set_read(false);
    let h = check_now(d, pki, "okx-live").await;
    assert_eq!(h.reason, pb::HealthReason::PermissionDenied as i32, "{h:?}");
    assert!(h.message.contains("50120"), "{h:?}");
    acct.set_read(true);
    acct.set_frozen(Some("50007"));
    let h = check_now(d, pki, "okx-live").await;
    assert_eq!(
        h.reason,
        pb::HealthReason::AccountRestricted as i32,
        "{h:?}"
    );
    acct.set_frozen(None);
    acct.set_ip_blocked(true);
    let h = check_now(d, pki, "okx-live").await;
    assert_eq!(h.reason, pb::HealthReason::IpBanned as i32, "{h:?}");
    acct.set_ip_blocked(false);
    // A 429 and a hang.
    acct.set_fault(OkxFault::Status429);
    assert_eq!(
        check_now(d, pki, "okx-live").await.reason,
        pb::HealthReason::RateLimited as i32
    );
    acct.set_fault(OkxFault::Hang);
    assert_eq!(
        check_now(d, pki, "okx-live").await.reason,
        pb::HealthReason::Timeout as i32
    );
    acct.set_fault(OkxFault::None);
    // Two successes to be UP again.
    check_now(d, pki, "okx-live").await;
    let h = check_now(d, pki, "okx-live").await;
    assert_eq!(h.state, pb::HealthState::Up as i32, "{h:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_one_user_share_its_budget_and_never_exceed_okxs_limit() {
    // Eight API keys of one OKX user (one uid): OKX counts their balance calls together, 10 per
    // 2 s. Parallel refreshes of all eight, wave after wave: our budget keys them by the uid
    // their config named, so the venue never refuses, and calls past it are refused locally.
    let mut options = quiet_monitor(2_000);
    options.extra_config.push_str("request_timeout = \"1s\"\n");
    let f = fleet(0, options).await;
    let (d, pki) = (&f.d, &f.pki);
    let uid = "555000111222333";
    let mut c = d.accounts(&pki.admin()).await;
    let names: Vec<String> = (0..8).map(|i| format!("sub-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let spec = OkxAccountSpec {
            uid: uid.into(),
            ..OkxAccountSpec::demo(10 + i)
        };
        f.sim.add_account(spec.clone());
        c.create_account(okx_account(name, "live", &f.sim.url(), &spec))
            .await
            .unwrap();
    }
    // Each key's first check reads its config, which tells its uid; paced, since keys whose uid
    // is not known yet cannot be counted together.
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    for name in &names {
        check_now(d, pki, name).await;
        tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let refused_before = f.sim.rate_limited();
    let client = d.portfolio(&pki.admin()).await;
    let mut refused_locally = 0;
    let mut served = 0;
    for _ in 0..4 {
        let wave = names.iter().map(|name| {
            let mut p = client.clone();
            async move {
                p.get_balances(books_request(&[name.as_str()], true))
                    .await
                    .unwrap()
                    .into_inner()
                    .accounts
                    .iter()
                    .map(|s| s.section.as_ref().unwrap().error_reason)
                    .collect::<Vec<_>>()
            }
        });
        for reasons in futures::future::join_all(wave).await {
            refused_locally += reasons
                .iter()
                .filter(|r| **r == pb::HealthReason::RateLimited as i32)
                .count();
            served += reasons.iter().filter(|r| **r == 0).count();
        }
    }
    assert!(refused_locally > 0, "the local budget never engaged");
    assert!(served >= 4, "only {served} served");
    assert_eq!(
        f.sim.rate_limited(),
        refused_before,
        "OKX refused calls of the shared uid: {:?}, busiest config {}, balance {}",
        f.sim.answers_by_code(),
        f.sim.busiest_window(uid, "/api/v5/account/config"),
        f.sim.busiest_window(uid, BALANCE)
    );
    let busiest = f.sim.busiest_window(uid, BALANCE);
    // At most OKX's 10 (the budget lets 9 leave in any 2 s; a loaded machine may delay one
    // into the next one's window), and more than a trickle.
    assert!(
        (4..=10).contains(&busiest),
        "{busiest} balance requests in 2 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_okx_credential_field_in_plain_text_anywhere() {
    let mut f = fleet(0, quiet_monitor(2_000)).await;
    let pki = &f.pki;
    let (l, m) = (f.live.clone(), f.demo.clone());
    // One more through the CLI, and an upstream that echoes the credential back.
    let extra = OkxAccountSpec::demo(3);
    f.sim.add_account(extra.clone());
    let creds = format!(
        "{{\"api_key\":\"{}\",\"secret_key\":\"{}\",\"passphrase\":\"{}\"}}",
        extra.api_key, extra.secret_key, extra.passphrase
    );
    let url = f.sim.url();
    let o =
        f.d.ctl_async(
            pki.admin().as_path(),
            &[
                "account",
                "add",
                "--name",
                "okx-cli",
                "--connector",
                "okx",
                "--env",
                "live",
                "--host",
                &url,
                "--credentials-stdin",
            ],
            &creds,
        )
        .await;
    let mut seen = vec![text(&o).0, text(&o).1];
    assert!(o.status.success(), "{seen:?}");
    f.sim
        .account(&m.api_key)
        .unwrap()
        .set_fault(OkxFault::Body {
            status: 200,
            body: format!(
                "{{\"code\":\"50000\",\"msg\":\"key {} secret {} pass {}\",\"data\":[]}}",
                m.api_key, m.secret_key, m.passphrase
            ),
        });
    seen.extend(checks_and_books(&f.d, pki, &["okx-live", "okx-demo", "okx-cli"]).await);
    let mut c = f.d.accounts(&pki.admin()).await;
    seen.push(format!(
        "{:?}",
        c.test_connection(pb::TestConnectionRequest {
            connector: "okx".into(),
            environment: "live".into(),
            host_url: url.clone(),
            credentials: [
                ("api_key".to_string(), l.api_key.clone()),
                ("secret_key".to_string(), l.secret_key.clone()),
                (
                    "passphrase".to_string(),
                    "a-wrong-passphrase-77".to_string()
                ),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        })
        .await
    ));
    seen.extend(cli_views(&f.d, pki, "okx-live").await);
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
    seen.push(format!("{:?}", check_now(&f.d, pki, "okx-live").await));
    seen.push(f.d.stderr());
    let files = [f.d.db_bytes(), std::fs::read(&backup).unwrap()];
    let secrets = [
        &l.api_key,
        &l.secret_key,
        &l.passphrase,
        &m.api_key,
        &m.secret_key,
        &m.passphrase,
        &extra.api_key,
        &extra.secret_key,
        &extra.passphrase,
    ];
    assert_no_secret(&secrets, &seen, &files);
    assert!(
        seen.iter().any(|s| s.contains("50000")),
        "the echoing answer was seen"
    );
    let h = check_now(&f.d, pki, "okx-live").await;
    assert_eq!(h.state, pb::HealthState::Up as i32, "{h:?}");
}
