//! The Prometheus endpoint: scraped before and after a burst of checks and RPCs, the counters and
//! the histogram move, and the text parses as the OpenMetrics exposition format.

use std::collections::HashMap;

use roster_proto::v1 as pb;
use roster_tests::sim::{InstanceSpec, Simulator};

use crate::harness::{Daemon, DaemonOptions, Pki, add_sim_account};

/// Parses the exposition text into sample name{labels} -> value, checking every line's shape.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line == "# EOF" {
            assert!(lines.peek().is_none(), "nothing may follow # EOF");
            return samples;
        }
        if let Some(meta) = line.strip_prefix("# ") {
            assert!(
                meta.starts_with("HELP ") || meta.starts_with("TYPE ") || meta.starts_with("UNIT "),
                "bad comment line: {line}"
            );
            continue;
        }
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad sample line: {line}"));
        let name_end = key.find('{').unwrap_or(key.len());
        let name = &key[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line}"
        );
        if name_end < key.len() {
            assert!(key.ends_with('}'), "bad labels in {line}");
        }
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        samples.insert(key.to_string(), v);
    }
    panic!("exposition text does not end with # EOF");
}

fn sum(samples: &HashMap<String, f64>, prefix: &str) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v)
        .sum()
}

async fn scrape(url: &str) -> HashMap<String, f64> {
    let resp = reqwest::get(url).await.unwrap();
    assert!(resp.status().is_success());
    let ct = resp
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    parse(&resp.text().await.unwrap())
}

#[tokio::test]
async fn counters_and_histograms_move_with_checks_and_rpcs() {
    let sim = Simulator::start(vec![InstanceSpec::demo("m1", "metrics-key-1")])
        .await
        .unwrap();
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            extra_config: "[metrics]\nlisten = \"127.0.0.1:0\"\n".into(),
            ..Default::default()
        },
    );
    let url = d
        .stdout_line("rosterd metrics on ")
        .expect("the daemon prints the metrics address");
    let before = scrape(&url).await;

    let mut accounts = d.accounts(&pki.admin()).await;
    let id = add_sim_account(
        &mut accounts,
        "m1",
        &sim.instance(0).url(),
        "metrics-key-1",
        &[],
    )
    .await;
    let mut monitor = d.monitor(&pki.admin()).await;
    for _ in 0..3 {
        monitor
            .check_now(pb::CheckNowRequest {
                account: id.clone(),
            })
            .await
            .unwrap();
    }
    for _ in 0..5 {
        accounts
            .get_account(pb::GetAccountRequest {
                account: id.clone(),
            })
            .await
            .unwrap();
    }
    let after = scrape(&url).await;

    let checks = |s: &HashMap<String, f64>| sum(s, "roster_checks_total{result=\"ok\"");
    assert!(
        checks(&after) >= checks(&before) + 3.0,
        "checks: {} -> {}",
        checks(&before),
        checks(&after)
    );
    let hist = |s: &HashMap<String, f64>| sum(s, "roster_check_duration_seconds_count");
    assert!(hist(&after) >= hist(&before) + 3.0);
    let gets = |s: &HashMap<String, f64>| {
        sum(
            s,
            "roster_rpcs_total{method=\"roster.v1.AccountService/GetAccount\"",
        )
    };
    assert_eq!(gets(&after) - gets(&before), 5.0);
    assert!(sum(&after, "roster_upstream_requests_total{endpoint=\"ping\"") >= 3.0);
    assert_eq!(
        after.get("roster_accounts{state=\"UP\"}").copied(),
        Some(1.0),
        "{after:?}"
    );

    // An answer refused for what it holds (here an empty row, a bad row) is counted as
    // BAD_RESPONSE, not as the HTTP 200 it came with.
    sim.instance(0)
        .set_endpoint_fault(
            "positionbook",
            roster_tests::sim::Fault::Body {
                status: 200,
                body: bytes::Bytes::from_static(br#"{"status":"success","data":[{}]}"#),
            },
        )
        .unwrap();
    let view = d
        .portfolio(&pki.admin())
        .await
        .get_positions(pb::PortfolioRequest {
            refresh: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(view.accounts[0].error.contains("BAD_RESPONSE"), "{view:?}");
    let refused = scrape(&url).await;
    assert_eq!(
        refused
            .get(
                "roster_upstream_requests_total{endpoint=\"positionbook\",status=\"BAD_RESPONSE\"}"
            )
            .copied(),
        Some(1.0),
        "{refused:?}"
    );
}
