//! Venues: OpenAlgo and Alpaca accounts side by side in one daemon, each checked and read
//! through its own connector against its simulator on loopback: health, money kept apart by
//! currency, balances per asset, books a venue has and books it does not, Alpaca's failure
//! states, its per-key budget under parallel refreshes, bad venue input, and no credential field
//! in plain text anywhere.

use roster_proto::section::PortfolioSection;
use roster_proto::v1 as pb;
use roster_tests::alpaca_sim::{AlpacaAccountSpec, AlpacaFault, AlpacaSim, Environment, demo_keys};
use roster_tests::sim::{InstanceSpec, Simulator};
use tonic_types::StatusExt;

use crate::harness::{
    Daemon, DaemonOptions, Pki, assert_no_secret, books_request, check_now, checks_and_books,
    cli_views, new_account, quiet_monitor, text, venue_account,
};

/// An Alpaca account in the daemon, created over gRPC with its credential fields.
fn alpaca_account(
    name: &str,
    env: &str,
    url: &str,
    key_id: &str,
    secret: &str,
) -> pb::CreateAccountRequest {
    venue_account(
        name,
        "alpaca",
        env,
        url,
        &[("key_id", key_id), ("secret_key", secret)],
    )
}

/// Each section's failure reason.
fn reasons<S: PortfolioSection>(sections: &[S]) -> Vec<i32> {
    sections
        .iter()
        .map(|s| s.account_section().error_reason)
        .collect()
}

struct Fleet {
    pki: Pki,
    _dir: tempfile::TempDir,
    d: Daemon,
    openalgo: Simulator,
    paper: AlpacaSim,
    keys: Vec<(String, String)>,
}

/// Two OpenAlgo accounts (INR) and two Alpaca paper accounts (USD) on their simulators.
async fn fleet() -> Fleet {
    fleet_with(quiet_monitor(2_000)).await
}

async fn fleet_with(options: DaemonOptions) -> Fleet {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let openalgo = Simulator::start(vec![
        InstanceSpec::demo("oa-1", "oa-key-1"),
        InstanceSpec::demo("oa-2", "oa-key-2"),
    ])
    .await
    .unwrap();
    let keys: Vec<_> = (1..=2).map(|i| demo_keys(Environment::Paper, i)).collect();
    let paper = AlpacaSim::start(
        Environment::Paper,
        keys.iter()
            .map(|(k, s)| AlpacaAccountSpec::demo(k.clone(), s.clone()))
            .collect(),
    )
    .await
    .unwrap();
    let d = Daemon::start(&pki, &dir.path().join("s"), &options);
    let mut c = d.accounts(&pki.admin()).await;
    for (i, (k, s)) in keys.iter().enumerate() {
        let mut oa = new_account(&format!("oa-{}", i + 1), &format!("oa-key-{}", i + 1));
        oa.host_url = openalgo.instance(i).url();
        c.create_account(oa).await.unwrap();
        c.create_account(alpaca_account(
            &format!("alp-{}", i + 1),
            "paper",
            &paper.url(),
            k,
            s,
        ))
        .await
        .unwrap();
    }
    Fleet {
        pki,
        _dir: dir,
        d,
        openalgo,
        paper,
        keys,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openalgo_and_alpaca_accounts_side_by_side_keep_their_currencies_apart() {
    let f = fleet().await;
    let (d, pki) = (&f.d, &f.pki);
    for name in ["oa-1", "oa-2", "alp-1", "alp-2"] {
        let h = check_now(d, pki, name).await;
        assert_eq!(h.state, pb::HealthState::Up as i32, "{name}: {h:?}");
    }
    let alp = check_now(d, pki, "alp-1").await;
    assert_eq!(
        (alp.broker.as_str(), alp.mode.as_str()),
        ("alpaca", "paper")
    );
    let mut c = d.accounts(&pki.admin()).await;
    let a = c
        .get_account(pb::GetAccountRequest {
            account: "alp-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (a.connector.as_str(), a.environment.as_str()),
        ("alpaca", "paper")
    );
    assert_eq!(a.host_url, f.paper.url());
    let mut hints: Vec<_> = a.credential_hints.keys().map(String::as_str).collect();
    hints.sort();
    assert_eq!(hints, ["key_id", "secret_key"]);
    assert!(a.api_key_hint.is_empty());

    let mut p = d.portfolio(&pki.admin()).await;
    let all = ["oa-1", "oa-2", "alp-1", "alp-2"];
    // Funds: one total per currency, and no single total across two currencies.
    let funds = p
        .get_funds(books_request(&all, true))
        .await
        .unwrap()
        .into_inner();
    assert!(funds.totals.is_none(), "{:?}", funds.totals);
    let by: Vec<_> = funds
        .totals_by_currency
        .iter()
        .map(|t| (t.currency.as_str(), t.available_cash.as_str()))
        .collect();
    // 2 x 320.66 rupees; 2 x 91880.10 dollars (the Alpaca example's cash).
    assert_eq!(by, [("INR", "641.32"), ("USD", "183760.2")], "{funds:?}");
    let usd = &funds.totals_by_currency[1];
    assert_eq!(usd.buying_power, "368420.88");
    for s in &funds.accounts {
        let section = s.section.as_ref().unwrap();
        let want = if section.account_name.starts_with("oa") {
            "INR"
        } else {
            "USD"
        };
        assert_eq!(section.currency, want);
        assert_eq!(s.funds.as_ref().unwrap().currency, want);
        assert!(section.error.is_empty(), "{section:?}");
    }

    // Balances: per asset, totalled across venues, never across assets.
    let balances = p
        .get_balances(books_request(&all, false))
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
                t.total.as_str(),
                t.account_count,
            )
        })
        .collect();
    assert_eq!(
        totals,
        [
            ("INR", "641.32", "2000", 2),
            ("USD", "183760.2", "183760.2", 2)
        ],
        "{balances:?}"
    );

    // Positions and orders from both venues; P&L per currency.
    let positions = p
        .get_positions(books_request(&all, false))
        .await
        .unwrap()
        .into_inner();
    for s in &positions.accounts {
        assert!(!s.rows.is_empty(), "{s:?}");
    }
    assert!(positions.total_pnl.is_empty());
    let currencies: Vec<_> = positions
        .total_pnl_by_currency
        .iter()
        .map(|m| m.currency.as_str())
        .collect();
    assert_eq!(currencies, ["INR", "USD"]);
    let tsla = positions
        .accounts
        .iter()
        .flat_map(|s| &s.rows)
        .find(|r| r.symbol == "TSLA")
        .unwrap();
    assert_eq!(tsla.quantity, "-5", "a short position is negative");
    let orders = p
        .get_orders(books_request(&all, false))
        .await
        .unwrap()
        .into_inner();
    for s in &orders.accounts {
        assert!(!s.rows.is_empty(), "{s:?}");
    }
    let trades = p
        .get_trades(books_request(&all, false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(trades.values_by_currency.len(), 2, "{trades:?}");

    // Holdings: Alpaca has none apart from its positions: unsupported, not failed.
    let holdings = p
        .get_holdings(books_request(&all, false))
        .await
        .unwrap()
        .into_inner();
    let coverage = holdings.coverage.unwrap();
    assert_eq!(
        (coverage.failed, coverage.unsupported, coverage.fresh),
        (0, 2, 2)
    );
    for s in &holdings.accounts {
        let section = s.section.as_ref().unwrap();
        assert_eq!(section.unsupported, section.account_name.starts_with("alp"));
        assert!(section.error.is_empty());
    }
    assert!(f.paper.requests_by_path().contains_key("/v2/positions"));

    // The CLI: venues lists both; balances and holdings exit 0 (unsupported is not partial).
    let o = d.ctl_async(&pki.admin(), &["venues"], "").await;
    let (out, _) = text(&o);
    assert!(
        o.status.success() && out.contains("alpaca") && out.contains("key_id"),
        "{out}"
    );
    let o = d.ctl_async(&pki.admin(), &["balances"], "").await;
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out} {err}");
    assert!(out.contains("USD") && out.contains("INR"), "{out}");
    let o = d.ctl_async(&pki.admin(), &["status"], "").await;
    let (out, _) = text(&o);
    assert!(
        out.contains("2 alpaca every 1day; 2 openalgo every 1day"),
        "{out}"
    );
    let o = d.ctl_async(&pki.admin(), &["holdings"], "").await;
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out} {err}");
    assert!(out.contains("unsupported"), "{out}");
    drop(f.openalgo);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpaca_refusals_and_restrictions_have_their_reasons() {
    let f = fleet().await;
    let (d, pki) = (&f.d, &f.pki);
    let mut c = d.accounts(&pki.admin()).await;
    let (k1, _) = &f.keys[0];
    // A wrong secret, and a paper key pair sent to a live host: both refused.
    c.create_account(alpaca_account(
        "wrong-secret",
        "paper",
        &f.paper.url(),
        k1,
        "not-the-secret",
    ))
    .await
    .unwrap();
    let live = AlpacaSim::start(Environment::Live, Vec::new())
        .await
        .unwrap();
    let (k2, s2) = &f.keys[1];
    c.create_account(alpaca_account("paper-on-live", "live", &live.url(), k2, s2))
        .await
        .unwrap();
    for name in ["wrong-secret", "paper-on-live"] {
        let h = check_now(d, pki, name).await;
        assert_eq!(
            h.reason,
            pb::HealthReason::AuthRejected as i32,
            "{name}: {h:?}"
        );
        assert_ne!(h.state, pb::HealthState::Up as i32);
    }
    // Blocked: ACCOUNT_RESTRICTED, failing.
    f.paper.account(k1).unwrap().set_account_blocked(true);
    let h = check_now(d, pki, "alp-1").await;
    assert_eq!(
        h.reason,
        pb::HealthReason::AccountRestricted as i32,
        "{h:?}"
    );
    assert_eq!(h.consecutive_failures, 1);
    // Trading blocked: reads still work, so DEGRADED for that reason without failing, and its
    // funds are served fresh.
    f.paper.account(k2).unwrap().set_trading_blocked(true);
    let h = check_now(d, pki, "alp-2").await;
    assert_eq!(
        (h.state, h.reason),
        (
            pb::HealthState::Degraded as i32,
            pb::HealthReason::AccountRestricted as i32
        ),
        "{h:?}"
    );
    assert_eq!(h.consecutive_failures, 0);
    let mut p = d.portfolio(&pki.admin()).await;
    let funds = p
        .get_funds(books_request(&["alp-2"], true))
        .await
        .unwrap()
        .into_inner();
    assert!(funds.accounts[0].section.as_ref().unwrap().error.is_empty());
    // Lifted: UP again at the next check.
    f.paper.account(k2).unwrap().set_trading_blocked(false);
    let h = check_now(d, pki, "alp-2").await;
    assert_eq!(h.state, pb::HealthState::Up as i32, "{h:?}");
    // A hanging Alpaca host costs its own accounts one timeout, not the OpenAlgo accounts.
    f.paper.set_fault(AlpacaFault::Hang);
    let funds = p
        .get_funds(books_request(&["oa-1", "alp-1"], true))
        .await
        .unwrap()
        .into_inner();
    let errors: Vec<_> = funds
        .accounts
        .iter()
        .map(|s| s.section.as_ref().unwrap().error_reason)
        .collect();
    assert_eq!(errors, [0, pb::HealthReason::Timeout as i32]);
    f.paper.set_fault(AlpacaFault::None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_parallel_refreshes_never_exceed_alpacas_per_key_budget() {
    // A call waits for a budget slot until its 1 s deadline, then is refused without being sent.
    let mut options = quiet_monitor(2_000);
    options.extra_config.push_str("request_timeout = \"1s\"\n");
    let f = fleet_with(options).await;
    let (d, pki) = (&f.d, &f.pki);
    let mut rate_limited = 0;
    let client = d.portfolio(&pki.admin()).await;
    let other = f.paper.account(&f.keys[1].0).unwrap();
    let other_before = other.request_count();
    // Waves of 50 parallel refreshes of four books of one account, until the local budget
    // (under Alpaca's 200 a minute) has refused some; bounded at 120 waves.
    for _ in 0..120 {
        if rate_limited > 0 {
            break;
        }
        let waves = (0..50).map(|i| {
            let mut p = client.clone();
            async move {
                let r = books_request(&["alp-1"], true);
                match i % 4 {
                    0 => reasons(&p.get_funds(r).await.unwrap().into_inner().accounts),
                    1 => reasons(&p.get_positions(r).await.unwrap().into_inner().accounts),
                    2 => reasons(&p.get_orders(r).await.unwrap().into_inner().accounts),
                    _ => reasons(&p.get_trades(r).await.unwrap().into_inner().accounts),
                }
            }
        });
        for reasons in futures::future::join_all(waves).await {
            rate_limited += reasons
                .iter()
                .filter(|r| **r == pb::HealthReason::RateLimited as i32)
                .count();
        }
    }
    let account = f.paper.account(&f.keys[0].0).unwrap();
    let busiest = account.max_requests_per_minute();
    assert!(rate_limited > 0, "the local budget never engaged");
    assert!(
        busiest <= 200,
        "the simulator saw {busiest} requests in one minute"
    );
    assert!(busiest >= 10, "the burst was not even sent: {busiest}");
    // The other key's budget is its own: only its health checks were sent meanwhile.
    assert!(
        other.request_count() <= other_before + 2,
        "{}",
        other.request_count()
    );
    eprintln!(
        "busiest minute {busiest}, {} requests, {rate_limited} sections refused by the local budget",
        account.request_count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_venue_input_is_invalid_argument_naming_what_is_expected_and_changes_nothing() {
    let f = fleet().await;
    let (d, pki) = (&f.d, &f.pki);
    let mut c = d.accounts(&pki.admin()).await;
    let before = d.all_accounts(&pki.admin()).await.len();
    let (k, s) = &f.keys[0];
    let url = f.paper.url();
    let cases: Vec<(pb::CreateAccountRequest, &str, &str)> = vec![
        (
            pb::CreateAccountRequest {
                connector: "kraken".into(),
                ..alpaca_account("x1", "", &url, k, s)
            },
            "connector",
            "supported: openalgo, alpaca",
        ),
        (
            alpaca_account("x2", "testnet", &url, k, s),
            "environment",
            "it has: live, paper",
        ),
        (
            pb::CreateAccountRequest {
                credentials: [("key_id".to_string(), k.clone())].into_iter().collect(),
                ..alpaca_account("x3", "paper", &url, k, s)
            },
            "credentials.secret_key",
            "alpaca needs: key_id, secret_key",
        ),
        (
            pb::CreateAccountRequest {
                credentials: [
                    ("key_id".to_string(), k.clone()),
                    ("secret_key".to_string(), s.clone()),
                    ("passphrase".to_string(), "p".to_string()),
                ]
                .into_iter()
                .collect(),
                ..alpaca_account("x4", "paper", &url, k, s)
            },
            "credentials.passphrase",
            "expected: key_id, secret_key",
        ),
    ];
    for (req, field, says) in cases {
        let err = c.create_account(req).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
        let v = err.get_details_bad_request().unwrap().field_violations;
        let hit = v
            .iter()
            .find(|v| v.field == field)
            .unwrap_or_else(|| panic!("{field}: {v:?}"));
        assert!(hit.description.contains(says), "{hit:?}");
        assert!(
            !format!("{err:?}").contains(s.as_str()),
            "a secret in an error"
        );
    }
    // The CLI refuses what is not a JSON object of strings before sending anything.
    for bad in ["not json", "[\"a\"]", "{\"key_id\": 5}"] {
        let o = d
            .ctl_async(
                &pki.admin(),
                &[
                    "account",
                    "add",
                    "--name",
                    "x5",
                    "--connector",
                    "alpaca",
                    "--env",
                    "paper",
                    "--credentials-stdin",
                ],
                bad,
            )
            .await;
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{bad}: {out} {err}");
    }
    assert_eq!(
        d.all_accounts(&pki.admin()).await.len(),
        before,
        "nothing created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_alpaca_credential_field_in_plain_text_anywhere() {
    let mut f = fleet().await;
    let pki = &f.pki;
    let (k1, s1) = f.keys[0].clone();
    let (k2, s2) = f.keys[1].clone();
    // An Alpaca account added through the CLI too, and an upstream that echoes the secret back.
    let (k3, s3) = demo_keys(Environment::Paper, 3);
    f.paper
        .add_account(AlpacaAccountSpec::demo(k3.clone(), s3.clone()))
        .unwrap();
    let creds = format!("{{\"key_id\":\"{k3}\",\"secret_key\":\"{s3}\"}}");
    let o =
        f.d.ctl_async(
            pki.admin().as_path(),
            &[
                "account",
                "add",
                "--name",
                "alp-cli",
                "--connector",
                "alpaca",
                "--env",
                "paper",
                "--host",
                &f.paper.url(),
                "--credentials-stdin",
            ],
            &creds,
        )
        .await;
    let mut seen = vec![text(&o).0, text(&o).1];
    assert!(o.status.success(), "{seen:?}");
    f.paper.account(&k2).unwrap().set_fault(AlpacaFault::Body {
        status: 500,
        body: format!("{{\"code\":50010000,\"message\":\"bad key {k2} / {s2}\"}}").into(),
    });
    seen.extend(checks_and_books(&f.d, pki, &["alp-1", "alp-2", "alp-cli"]).await);
    let mut c = f.d.accounts(&pki.admin()).await;
    seen.push(format!(
        "{:?}",
        c.test_connection(pb::TestConnectionRequest {
            connector: "alpaca".into(),
            environment: "paper".into(),
            host_url: f.paper.url(),
            credentials: [
                ("key_id".to_string(), k1.clone()),
                (
                    "secret_key".to_string(),
                    "wrong-secret-value-123".to_string()
                )
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        })
        .await
    ));
    seen.extend(cli_views(&f.d, pki, "alp-1").await);
    let backup = f._dir.path().join("b.redb");
    let o =
        f.d.ctl_async(
            &pki.admin(),
            &["backup", "--out", backup.to_str().unwrap()],
            "",
        )
        .await;
    assert!(o.status.success(), "{:?}", text(&o));
    let o = f.d.ctl_async(&pki.admin(), &["key", "rotate"], "").await;
    assert!(o.status.success(), "{:?}", text(&o));
    f.d.restart();
    seen.push(format!("{:?}", check_now(&f.d, pki, "alp-1").await));
    seen.push(f.d.stderr());
    let files = [f.d.db_bytes(), std::fs::read(&backup).unwrap()];
    assert_no_secret(&[&k1, &s1, &k2, &s2, &k3, &s3], &seen, &files);
    // And it still works after the rotation and restart.
    let h = check_now(&f.d, pki, "alp-1").await;
    assert_eq!(h.state, pb::HealthState::Up as i32, "{h:?}");
}
