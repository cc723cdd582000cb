//! Coinbase Advanced Trade accounts end to end: the real daemon signs an ES256 token per request
//! from each account's CDP key against the simulator, which checks it as Coinbase does. UP with a
//! good key, each refusal with its reason, clock offsets tracked (and one resync after a jump),
//! balances per asset exact, the books a spot key has, and no key name, private key or token
//! anywhere it could leak.

use roster_proto::v1 as pb;
use roster_tests::coinbase_sim::{
    CdpKey, CoinbaseAccountSpec, CoinbaseFault, CoinbaseSim, Refusal,
};

use crate::harness::{
    Daemon, Pki, books_request, check_now, checks_and_books, contains_bytes, quiet_monitor, text,
    venue_account,
};

fn coinbase_account(name: &str, url: &str, key_name: &str, pem: &str) -> pb::CreateAccountRequest {
    venue_account(
        name,
        "coinbase",
        "live",
        url,
        &[("key_name", key_name), ("private_key", pem)],
    )
}

struct Fleet {
    pki: Pki,
    dir: tempfile::TempDir,
    d: Daemon,
    sim: CoinbaseSim,
    keys: Vec<CdpKey>,
}

/// Two Coinbase accounts (two organizations) on one simulator whose clock runs 10 s behind
/// ours from the start: a token dated by our clock would be "not yet valid" there.
async fn fleet() -> Fleet {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<_> = (1..=2)
        .map(|i| CdpKey::generate(&format!("org-{i}"), &format!("key-{i}")))
        .collect();
    let sim = CoinbaseSim::start(
        keys.iter()
            .cloned()
            .map(CoinbaseAccountSpec::demo)
            .collect(),
    )
    .await
    .unwrap();
    sim.set_clock_offset_ms(-10_000);
    let d = Daemon::start(&pki, &dir.path().join("s"), &quiet_monitor(3_000));
    let mut c = d.accounts(&pki.admin()).await;
    for (i, k) in keys.iter().enumerate() {
        c.create_account(coinbase_account(
            &format!("cb-{}", i + 1),
            &sim.url(),
            &k.name,
            &k.private_key_pem,
        ))
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
async fn coinbase_accounts_are_up_and_their_balances_are_exact_per_asset() {
    let f = fleet().await;
    let (d, pki) = (&f.d, &f.pki);
    for name in ["cb-1", "cb-2"] {
        let h = check_now(d, pki, name).await;
        assert_eq!(h.state, pb::HealthState::Up as i32, "{name}: {h:?}");
        assert_eq!((h.broker.as_str(), h.mode.as_str()), ("coinbase", "live"));
    }
    // The simulator runs 10 s behind: no token was refused, because each was dated by its
    // clock, learnt from /time.
    assert_eq!(f.sim.refusals_total(), 0);
    assert!(f.sim.requests_to("/api/v3/brokerage/time") >= 1);

    let mut p = d.portfolio(&pki.admin()).await;
    let balances = p
        .get_balances(books_request(&["cb-1", "cb-2"], true))
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
    // Per account: BTC 0.5 + 0.1 held, ETH 1.5 + 0.5 in two wallets, USD 1000.25 + 20 held; the
    // zero SOL wallet and the BTC vault are not balances.
    assert_eq!(
        totals,
        [
            ("BTC", "1", "0.2", "1.2", 2),
            ("ETH", "4", "0", "4", 2),
            ("USD", "2000.5", "40", "2040.5", 2),
        ],
        "{balances:?}"
    );
    let rows: Vec<_> = balances.accounts[0]
        .rows
        .iter()
        .map(|r| (r.asset.as_str(), r.free.as_str(), r.locked.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("BTC", "0.5", "0.1"),
            ("ETH", "2", "0"),
            ("USD", "1000.25", "20")
        ]
    );

    // Open orders only, fills as trades (one sized in quote units), positions unsupported.
    let orders = p
        .get_orders(books_request(&["cb-1"], false))
        .await
        .unwrap()
        .into_inner();
    let o = &orders.accounts[0];
    assert!(o.section.as_ref().unwrap().error.is_empty(), "{o:?}");
    let got: Vec<_> = o
        .rows
        .iter()
        .map(|o| {
            (
                o.order_id.as_str(),
                o.symbol.as_str(),
                o.status.as_str(),
                o.quantity.as_str(),
                o.price.as_str(),
            )
        })
        .collect();
    assert_eq!(got, [("o-open-1", "ETH-USD", "open", "0.5", "2500")]);
    let trades = p
        .get_trades(books_request(&["cb-1"], false))
        .await
        .unwrap()
        .into_inner();
    let got: Vec<_> = trades.accounts[0]
        .rows
        .iter()
        .map(|t| {
            (
                t.trade_id.as_str(),
                t.quantity.as_str(),
                t.trade_value.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("t-1", "0.0046", "194.214944"), ("t-2", "0.05", "100")]
    );
    let positions = p
        .get_positions(books_request(&["cb-1"], false))
        .await
        .unwrap()
        .into_inner();
    assert!(positions.accounts[0].section.as_ref().unwrap().unsupported);
    assert_eq!(f.sim.refusals_total(), 0);
    assert_eq!(f.sim.rate_limited(), 0);

    let o = d.ctl_async(&pki.admin(), &["venues"], "").await;
    let (out, _) = text(&o);
    assert!(
        out.contains("coinbase") && out.contains("private_key"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_refusals_have_their_reasons_and_a_clock_jump_heals_with_one_resync() {
    let f = fleet().await;
    let (d, pki) = (&f.d, &f.pki);
    let mut c = d.accounts(&pki.admin()).await;
    let k1 = &f.keys[0];
    let stranger = CdpKey::generate("org-1", "key-1");
    let unknown = CdpKey::generate("org-7", "key-7");
    // A private key that is not this key's, a key the venue never issued, a PEM that is no key.
    c.create_account(coinbase_account(
        "wrong-private-key",
        &f.sim.url(),
        &k1.name,
        &stranger.private_key_pem,
    ))
    .await
    .unwrap();
    c.create_account(coinbase_account(
        "unknown-key",
        &f.sim.url(),
        &unknown.name,
        &unknown.private_key_pem,
    ))
    .await
    .unwrap();
    c.create_account(coinbase_account(
        "not-a-key",
        &f.sim.url(),
        &k1.name,
        "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----",
    ))
    .await
    .unwrap();
    for name in ["wrong-private-key", "unknown-key", "not-a-key"] {
        let h = check_now(d, pki, name).await;
        assert_eq!(
            h.reason,
            pb::HealthReason::AuthRejected as i32,
            "{name}: {h:?}"
        );
        assert_ne!(h.state, pb::HealthState::Up as i32);
    }
    assert!(
        f.sim.refusals(Refusal::BadSignature) >= 2,
        "a lone 401 is retried once"
    );
    assert!(f.sim.refusals(Refusal::UnknownKey) >= 2);

    // Revoked: AUTH_REJECTED; restored: UP.
    f.sim.set_revoked(&k1.name, true);
    let h = check_now(d, pki, "cb-1").await;
    assert_eq!(h.reason, pb::HealthReason::AuthRejected as i32, "{h:?}");
    assert!(h.message.contains("Unauthorized"), "{h:?}");
    f.sim.set_revoked(&k1.name, false);
    // One success after a failure: not failing any more (UP again after the second).
    let h = check_now(d, pki, "cb-1").await;
    assert_eq!(
        (h.consecutive_failures, h.consecutive_successes),
        (0, 1),
        "{h:?}"
    );

    // No view scope: PERMISSION_DENIED from key_permissions, and the books say 403.
    f.sim.set_can_view(&k1.name, false);
    let h = check_now(d, pki, "cb-1").await;
    assert_eq!(h.reason, pb::HealthReason::PermissionDenied as i32, "{h:?}");
    let mut p = d.portfolio(&pki.admin()).await;
    let b = p
        .get_balances(books_request(&["cb-1"], true))
        .await
        .unwrap()
        .into_inner();
    let section = b.accounts[0].section.as_ref().unwrap();
    assert_eq!(
        section.error_reason,
        pb::HealthReason::PermissionDenied as i32,
        "{section:?}"
    );
    assert!(
        section.error.contains("Missing required scopes"),
        "{section:?}"
    );
    f.sim.set_can_view(&k1.name, false);
    f.sim.set_can_view(&k1.name, true);

    // The venue's clock jumps 60 s back after we synced: the first token is refused, one resync
    // and one retry later the account is UP.
    let before = f.sim.refusals(Refusal::NotYetValid);
    f.sim.set_clock_offset_ms(-70_000);
    let h = check_now(d, pki, "cb-2").await;
    assert_eq!(h.state, pb::HealthState::Up as i32, "{h:?}");
    assert!(f.sim.refusals(Refusal::NotYetValid) > before);

    // An HTML 429: RATE_LIMITED.
    f.sim.set_fault(CoinbaseFault::RateLimitedHtml);
    let h = check_now(d, pki, "cb-2").await;
    assert_eq!(h.reason, pb::HealthReason::RateLimited as i32, "{h:?}");
    assert!(!h.message.contains("<html>"), "{h:?}");
    f.sim.set_fault(CoinbaseFault::None);

    // A venue whose time answer disagrees with its token check by 10 minutes: every token is
    // dated where the venue refuses it, twice, and the clock is what is reported.
    let skewed_key = CdpKey::generate("org-3", "key-3");
    let skewed = CoinbaseSim::start(vec![CoinbaseAccountSpec::demo(skewed_key.clone())])
        .await
        .unwrap();
    skewed.set_time_answer_offset_ms(600_000);
    c.create_account(coinbase_account(
        "skewed",
        &skewed.url(),
        &skewed_key.name,
        &skewed_key.private_key_pem,
    ))
    .await
    .unwrap();
    let h = check_now(d, pki, "skewed").await;
    assert_eq!(h.reason, pb::HealthReason::ClockSkew as i32, "{h:?}");
    assert!(
        h.message.contains("600") && h.message.contains("ahead"),
        "{h:?}"
    );
    assert!(skewed.refusals(Refusal::NotYetValid) >= 2);
    // Its time answer fixed: no longer failing at the next check after the resync.
    skewed.set_time_answer_offset_ms(0);
    let h = check_now(d, pki, "skewed").await;
    assert_eq!(
        (h.consecutive_failures, h.consecutive_successes),
        (0, 1),
        "{h:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_coinbase_key_name_private_key_or_token_in_plain_text_anywhere() {
    let mut f = fleet().await;
    let pki = &f.pki;
    let k1 = f.keys[0].clone();
    let k2 = f.keys[1].clone();
    // One more account through the CLI, and a venue that echoes a key name back.
    let k3 = CdpKey::generate("org-5", "key-5");
    f.sim.add_account(CoinbaseAccountSpec::demo(k3.clone()));
    let o =
        f.d.ctl_async(
            pki.admin().as_path(),
            &[
                "account",
                "add",
                "--name",
                "cb-cli",
                "--connector",
                "coinbase",
                "--env",
                "live",
                "--host",
                &f.sim.url(),
                "--credentials-stdin",
            ],
            &k3.credentials_json(),
        )
        .await;
    let mut seen = vec![text(&o).0, text(&o).1];
    assert!(o.status.success(), "{seen:?}");
    seen.extend(checks_and_books(&f.d, pki, &["cb-1", "cb-2", "cb-cli"]).await);
    let mut p = f.d.portfolio(&pki.admin()).await;
    f.sim.set_fault(CoinbaseFault::Body {
        status: 500,
        body: format!(
            "{{\"error\":\"INTERNAL\",\"message\":\"key {} / {}\"}}",
            k2.name,
            k2.private_key_pem.replace('\n', "\\n")
        ),
    });
    seen.push(format!("{:?}", check_now(&f.d, pki, "cb-2").await));
    seen.push(format!(
        "{:?}",
        p.get_balances(books_request(&["cb-2"], true)).await
    ));
    f.sim.set_fault(CoinbaseFault::None);
    let mut c = f.d.accounts(&pki.admin()).await;
    seen.push(format!(
        "{:?}",
        c.test_connection(pb::TestConnectionRequest {
            connector: "coinbase".into(),
            environment: "live".into(),
            host_url: f.sim.url(),
            credentials: [
                ("key_name".to_string(), k1.name.clone()),
                ("private_key".to_string(), k2.private_key_pem.clone()),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        })
        .await
    ));
    for args in [
        vec!["account", "list"],
        vec!["account", "get", "cb-1"],
        vec!["health"],
        vec!["audit"],
        vec!["status"],
        vec!["balances"],
    ] {
        let o = f.d.ctl_async(&pki.admin(), &args, "").await;
        seen.push(text(&o).0);
        seen.push(text(&o).1);
    }
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
    seen.push(format!("{:?}", check_now(&f.d, pki, "cb-1").await));
    seen.push(f.d.stderr());
    let files = [f.d.db_bytes(), std::fs::read(&backup).unwrap()];
    let mut needles: Vec<String> = Vec::new();
    for k in [&k1, &k2, &k3] {
        needles.push(k.name.clone());
        // Every line of the private key's body.
        needles.extend(
            k.private_key_pem
                .lines()
                .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                .map(str::to_owned),
        );
    }
    // A token or its signing input: every one starts with this header prefix.
    needles.push("eyJhbGciOiJFUzI1NiIs".to_owned());
    needles.push("Bearer ".to_owned());
    for needle in &needles {
        for (i, s) in seen.iter().enumerate() {
            assert!(!s.contains(needle.as_str()), "{needle} in output {i}: {s}");
        }
        for bytes in &files {
            assert!(
                !contains_bytes(bytes, needle.as_bytes()),
                "{needle} in a file"
            );
        }
    }
    let h = check_now(&f.d, pki, "cb-1").await;
    assert_eq!(h.state, pb::HealthState::Up as i32, "{h:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_refreshes_of_one_users_keys_never_exceed_its_thirty_a_second() {
    // A call waits for a budget slot until its 1 s deadline, then is refused without being sent.
    let mut options = quiet_monitor(2_000);
    options.extra_config.push_str("request_timeout = \"1s\"\n");
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    // Twelve keys of one organization (twelve portfolios of one user) and a key of another.
    let mut keys: Vec<CdpKey> = (0..12)
        .map(|i| CdpKey::generate("org-1", &format!("key-{i}")))
        .collect();
    keys.push(CdpKey::generate("org-2", "key-other"));
    let sim = CoinbaseSim::start(
        keys.iter()
            .cloned()
            .map(CoinbaseAccountSpec::demo)
            .collect(),
    )
    .await
    .unwrap();
    let d = Daemon::start(&pki, &dir.path().join("s"), &options);
    let mut c = d.accounts(&pki.admin()).await;
    let names: Vec<String> = (0..keys.len()).map(|i| format!("u{i}")).collect();
    for (name, k) in names.iter().zip(&keys) {
        c.create_account(coinbase_account(
            name,
            &sim.url(),
            &k.name,
            &k.private_key_pem,
        ))
        .await
        .unwrap();
    }
    let client = d.portfolio(&pki.admin()).await;
    let mut refused = 0;
    // Waves of parallel refreshes of three books of each of org-1's accounts (36 requests at
    // once), until the local budget has refused some; bounded at 10 waves.
    for _ in 0..10 {
        if refused > 0 {
            break;
        }
        let wave = (0..36).map(|i| {
            let mut p = client.clone();
            let name = names[i % 12].clone();
            async move {
                let r = books_request(&[name.as_str()], true);
                let sections: Vec<pb::AccountSection> = match i / 12 {
                    0 => p
                        .get_balances(r)
                        .await
                        .unwrap()
                        .into_inner()
                        .accounts
                        .into_iter()
                        .filter_map(|s| s.section)
                        .collect(),
                    1 => p
                        .get_orders(r)
                        .await
                        .unwrap()
                        .into_inner()
                        .accounts
                        .into_iter()
                        .filter_map(|s| s.section)
                        .collect(),
                    _ => p
                        .get_trades(r)
                        .await
                        .unwrap()
                        .into_inner()
                        .accounts
                        .into_iter()
                        .filter_map(|s| s.section)
                        .collect(),
                };
                sections
                    .iter()
                    .filter(|s| s.error_reason == pb::HealthReason::RateLimited as i32)
                    .count()
            }
        });
        refused += futures::future::join_all(wave).await.iter().sum::<usize>();
    }
    let busiest = sim.max_per_second(&keys[0].name);
    assert!(refused > 0, "the local budget never engaged");
    assert_eq!(sim.rate_limited(), 0, "the simulator answered 429");
    assert!(
        busiest <= 30,
        "the simulator saw {busiest} requests of one user in a second"
    );
    assert!(busiest >= 4, "the burst was not even sent: {busiest}");
    // The other user's budget is its own: its account is checked at once.
    let h = check_now(&d, &pki, "u12").await;
    assert_eq!(h.state, pb::HealthState::Up as i32, "{h:?}");
    eprintln!(
        "busiest second {busiest}, {} requests, {refused} sections refused by the local budget",
        sim.requests()
    );
}
