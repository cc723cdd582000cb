//! Every venue in one daemon: an OpenAlgo, an Alpaca, a Binance, an OKX and a Coinbase account,
//! each on its own simulator, checked UP through its own connector, and `balances` totalling
//! every asset across them exactly (never one asset into another).

use roster_proto::v1 as pb;
use roster_tests::alpaca_sim::{self, AlpacaAccountSpec, AlpacaSim};
use roster_tests::binance_sim::{self, BinanceAccountSpec, BinanceSim};
use roster_tests::coinbase_sim::{CdpKey, CoinbaseAccountSpec, CoinbaseSim};
use roster_tests::okx_sim::{OkxAccountSpec, OkxSim};
use roster_tests::sim::{InstanceSpec, Simulator};

use crate::harness::{Daemon, Pki, quiet_monitor, text, venue_account};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balances_over_five_venues_total_each_asset_exactly() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let openalgo = Simulator::start(vec![InstanceSpec::demo("oa", "oa-key-1")])
        .await
        .unwrap();
    let (alp_key, alp_secret) = alpaca_sim::demo_keys(alpaca_sim::Environment::Paper, 1);
    let alpaca = AlpacaSim::start(
        alpaca_sim::Environment::Paper,
        vec![AlpacaAccountSpec::demo(alp_key.clone(), alp_secret.clone())],
    )
    .await
    .unwrap();
    let (bn_key, bn_secret) = binance_sim::demo_keys(1);
    let binance = BinanceSim::start(vec![BinanceAccountSpec::demo(
        bn_key.clone(),
        bn_secret.clone(),
    )])
    .await
    .unwrap();
    let okx_spec = OkxAccountSpec::demo(1);
    let okx = OkxSim::start(vec![okx_spec.clone()]).await.unwrap();
    let cdp = CdpKey::generate("org-1", "key-1");
    let coinbase = CoinbaseSim::start(vec![CoinbaseAccountSpec::demo(cdp.clone())])
        .await
        .unwrap();

    let d = Daemon::start(&pki, &dir.path().join("s"), &quiet_monitor(3_000));
    let mut c = d.accounts(&pki.admin()).await;
    for req in [
        venue_account(
            "oa",
            "openalgo",
            "",
            &openalgo.instance(0).url(),
            &[("api_key", "oa-key-1")],
        ),
        venue_account(
            "alp",
            "alpaca",
            "paper",
            &alpaca.url(),
            &[("key_id", &alp_key), ("secret_key", &alp_secret)],
        ),
        venue_account(
            "bn",
            "binance",
            "live",
            &binance.url(),
            &[("api_key", &bn_key), ("secret_key", &bn_secret)],
        ),
        venue_account(
            "okx",
            "okx",
            "live",
            &okx.url(),
            &[
                ("api_key", &okx_spec.api_key),
                ("secret_key", &okx_spec.secret_key),
                ("passphrase", &okx_spec.passphrase),
            ],
        ),
        venue_account(
            "cb",
            "coinbase",
            "live",
            &coinbase.url(),
            &[
                ("key_name", &cdp.name),
                ("private_key", &cdp.private_key_pem),
            ],
        ),
    ] {
        c.create_account(req).await.unwrap();
    }
    let mut m = d.monitor(&pki.admin()).await;
    for name in ["oa", "alp", "bn", "okx", "cb"] {
        let h = m
            .check_now(pb::CheckNowRequest {
                account: name.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(h.state, pb::HealthState::Up as i32, "{name}: {h:?}");
    }

    let mut p = d.portfolio(&pki.admin()).await;
    let view = p
        .get_balances(pb::PortfolioRequest {
            refresh: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for s in &view.accounts {
        let section = s.section.as_ref().unwrap();
        assert!(section.error.is_empty(), "{section:?}");
    }
    let totals: Vec<_> = view
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
    // By hand from each simulator's demo account:
    // BTC: Binance 0.018431 + OKX 0.4 (0.1 frozen) + Coinbase 0.5 (0.1 held; its vault is not
    // a trading balance); USDT: Binance 1520.4481 (250 locked) + OKX 5000.25 (100 frozen);
    // USD: Alpaca cash 91880.10 + Coinbase 1000.25 (20 held); INR: OpenAlgo 320.66 free,
    // 679.34 in use; BNB from Binance; ETH from Coinbase's two ETH wallets.
    assert_eq!(
        totals,
        [
            ("BNB", "0.31207411", "0", "0.31207411", 1),
            ("BTC", "0.918431", "0.2", "1.118431", 3),
            ("ETH", "2", "0", "2", 1),
            ("INR", "320.66", "679.34", "1000", 1),
            ("USD", "92880.35", "20", "92900.35", 2),
            ("USDT", "6520.6981", "350", "6870.6981", 2),
        ],
        "{view:?}"
    );

    let o = d.ctl_async(&pki.admin(), &["balances"], "").await;
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out} {err}");
    for asset in ["BNB", "BTC", "ETH", "INR", "USD", "USDT"] {
        assert!(
            out.lines()
                .any(|l| l.contains("TOTAL") && l.contains(asset)),
            "{asset}: {out}"
        );
    }
    let o = d.ctl_async(&pki.admin(), &["venues"], "").await;
    let (out, _) = text(&o);
    for kind in ["openalgo", "alpaca", "binance", "okx", "coinbase"] {
        assert!(out.contains(kind), "{kind}: {out}");
    }
}
