//! The OKX simulator against the reference: it verifies signatures, passphrases, timestamps and
//! environments as OKX does, with OKX's statuses and bodies, counts per-uid limits, pages, and
//! fails as told. Requests are signed here from the reference (A2), not by the connector.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine as _;
use roster_tests::okx_sim::{OkxAccountSpec, OkxFault, OkxSim, order};
use serde_json::Value;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `ms` as OKX's `OK-ACCESS-TIMESTAMP`.
fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

fn sign(secret: &str, prehash: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, prehash.as_bytes()).as_ref())
}

struct Call<'a> {
    key: &'a str,
    secret: &'a str,
    passphrase: &'a str,
    ts: String,
    demo: bool,
}

impl<'a> Call<'a> {
    fn of(spec: &'a OkxAccountSpec) -> Self {
        Self {
            key: &spec.api_key,
            secret: &spec.secret_key,
            passphrase: &spec.passphrase,
            ts: iso(now_ms()),
            demo: spec.demo,
        }
    }

    async fn get(&self, sim: &OkxSim, path_and_query: &str) -> (u16, Value) {
        let signature = sign(self.secret, &format!("{}GET{path_and_query}", self.ts));
        let mut req = reqwest::Client::new()
            .get(format!("{}{path_and_query}", sim.url()))
            .timeout(Duration::from_secs(5))
            .header("OK-ACCESS-KEY", self.key)
            .header("OK-ACCESS-SIGN", signature)
            .header("OK-ACCESS-TIMESTAMP", &self.ts)
            .header("OK-ACCESS-PASSPHRASE", self.passphrase);
        if self.demo {
            req = req.header("x-simulated-trading", "1");
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }
}

const BALANCE: &str = "/api/v5/account/balance";

#[test]
fn the_simulators_signer_matches_the_reference_vectors() {
    // okx-coinbase-api.md A2.
    let secret = "22582BD0CFF14C41EDBF1AB98506286D";
    assert_eq!(
        roster_tests::okx_sim::expected_sign(
            secret,
            "2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC"
        ),
        "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="
    );
    assert_eq!(iso(1_607_418_537_715), "2020-12-08T09:08:57.715Z");
    assert_eq!(
        roster_tests::okx_sim::parse_timestamp("2020-12-08T09:08:57.715Z"),
        Some(1_607_418_537_715)
    );
    assert_eq!(
        roster_tests::okx_sim::parse_timestamp("2020-12-08T09:08:57Z"),
        None
    );
    assert_eq!(
        roster_tests::okx_sim::parse_timestamp("2020-12-08T09:08:57.71Z"),
        None
    );
}

#[tokio::test]
async fn a_signed_request_gets_the_envelope_with_string_numbers() {
    let spec = OkxAccountSpec::demo(1);
    let sim = OkxSim::start(vec![spec.clone()]).await.unwrap();
    let (status, body) = Call::of(&spec).get(&sim, BALANCE).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], "0");
    let details = body["data"][0]["details"].as_array().unwrap();
    assert_eq!(details[0]["ccy"], "USDT");
    assert_eq!(details[0]["availBal"], "5000.25");
    assert_eq!(details[0]["availEq"], "");
    let (_, config) = Call::of(&spec).get(&sim, "/api/v5/account/config").await;
    assert_eq!(config["data"][0]["uid"], spec.uid.as_str());
    // The public time needs no credential and is ms as a string.
    let t: Value = reqwest::get(format!("{}/api/v5/public/time", sim.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ts: i64 = t["data"][0]["ts"].as_str().unwrap().parse().unwrap();
    assert!((ts - now_ms()).abs() < 5_000);
}

#[tokio::test]
async fn each_wrong_credential_part_has_okxs_code_and_status_without_data() {
    let spec = OkxAccountSpec::demo(2);
    let sim = OkxSim::start(vec![spec.clone()]).await.unwrap();
    let cases: [(Call<'_>, &str); 4] = [
        (
            Call {
                secret: "not-the-secret",
                ..Call::of(&spec)
            },
            "50113",
        ),
        (
            Call {
                passphrase: "not-the-passphrase",
                ..Call::of(&spec)
            },
            "50105",
        ),
        (
            Call {
                key: "00000000-dead-beef-0000-000000000000",
                ..Call::of(&spec)
            },
            "50119",
        ),
        (
            Call {
                demo: true,
                ..Call::of(&spec)
            },
            "50101",
        ),
    ];
    for (call, code) in cases {
        let (status, body) = call.get(&sim, BALANCE).await;
        assert_eq!((status, body["code"].as_str()), (401, Some(code)), "{body}");
        assert!(body.get("data").is_none(), "{body}");
    }
    let (_, body) = Call::of(&spec).get(&sim, BALANCE).await;
    assert_eq!(body["code"], "0");
    // A revoked key no longer exists.
    sim.account(&spec.api_key).unwrap().set_revoked(true);
    let (status, body) = Call::of(&spec).get(&sim, BALANCE).await;
    assert_eq!(
        (status, body["msg"].as_str()),
        (401, Some("API key doesn't exist"))
    );
    // The signature covers the query: signing one path and sending another is refused.
    let spec3 = OkxAccountSpec::demo(3);
    sim.add_account(spec3.clone());
    let call = Call::of(&spec3);
    let signature = sign(&spec3.secret_key, &format!("{}GET{BALANCE}", call.ts));
    let resp = reqwest::Client::new()
        .get(format!("{}{BALANCE}?ccy=BTC", sim.url()))
        .header("OK-ACCESS-KEY", &spec3.api_key)
        .header("OK-ACCESS-SIGN", signature)
        .header("OK-ACCESS-TIMESTAMP", &call.ts)
        .header("OK-ACCESS-PASSPHRASE", &spec3.passphrase)
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "50113");
    assert_eq!(sim.answers_by_code().get("50113"), Some(&2));
}

#[tokio::test]
async fn demo_keys_need_the_demo_header() {
    let spec = OkxAccountSpec::demo(4).in_demo();
    let sim = OkxSim::start(vec![spec.clone()]).await.unwrap();
    assert_eq!(Call::of(&spec).get(&sim, BALANCE).await.1["code"], "0");
    let live = Call {
        demo: false,
        ..Call::of(&spec)
    };
    assert_eq!(live.get(&sim, BALANCE).await.1["code"], "50101");
}

#[tokio::test]
async fn the_timestamp_window_is_thirty_seconds_on_the_simulators_settable_clock() {
    let spec = OkxAccountSpec::demo(5);
    let sim = OkxSim::start(vec![spec.clone()]).await.unwrap();
    let at = |offset_ms: i64| Call {
        ts: iso(now_ms() + offset_ms),
        ..Call::of(&spec)
    };
    assert_eq!(at(25_000).get(&sim, BALANCE).await.1["code"], "0");
    let (status, body) = at(-35_000).get(&sim, BALANCE).await;
    assert_eq!(
        (status, body["msg"].as_str()),
        (401, Some("Timestamp request expired"))
    );
    assert_eq!(at(35_000).get(&sim, BALANCE).await.1["code"], "50102");
    // Its clock 40 s ahead: our wall clock is now too old, the simulator's own time is not.
    sim.set_clock_offset_ms(40_000);
    assert_eq!(at(0).get(&sim, BALANCE).await.1["code"], "50102");
    assert_eq!(at(40_000).get(&sim, BALANCE).await.1["code"], "0");
    // Malformed timestamps: seconds only, and epoch ms.
    let bad = Call {
        ts: "2020-12-08T09:08:57Z".into(),
        ..Call::of(&spec)
    };
    assert_eq!(bad.get(&sim, BALANCE).await.1["code"], "50112");
    let epoch = Call {
        ts: now_ms().to_string(),
        ..Call::of(&spec)
    };
    assert_eq!(epoch.get(&sim, BALANCE).await.1["code"], "50112");
}

#[tokio::test]
async fn limits_are_per_uid_and_endpoint_in_a_rolling_two_seconds() {
    let spec = OkxAccountSpec::demo(6);
    let sim = OkxSim::start(vec![spec.clone()]).await.unwrap();
    let mut codes = Vec::new();
    for _ in 0..12 {
        let (status, body) = Call::of(&spec).get(&sim, BALANCE).await;
        codes.push((status, body["code"].as_str().unwrap().to_owned()));
    }
    // 10 a 2 s for balance; past it, HTTP 200 with 50011.
    assert_eq!(codes.iter().filter(|c| c.1 == "0").count(), 10, "{codes:?}");
    assert!(
        codes[10..].iter().all(|c| *c == (200, "50011".to_owned())),
        "{codes:?}"
    );
    assert_eq!(sim.busiest_window(&spec.uid, BALANCE), 10);
    assert_eq!(sim.rate_limited(), 2);
    // Another endpoint of the same uid has its own limit.
    assert_eq!(
        Call::of(&spec).get(&sim, "/api/v5/trade/fills").await.1["code"],
        "0"
    );
    // The 429 form.
    sim.account(&spec.api_key)
        .unwrap()
        .set_rate_limit_as_429(true);
    let (status, body) = Call::of(&spec).get(&sim, BALANCE).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("50011")));
}

#[tokio::test]
async fn permission_freezes_ip_whitelists_and_faults() {
    let spec = OkxAccountSpec::demo(7);
    let sim = OkxSim::start(vec![spec.clone()]).await.unwrap();
    let acct = sim.account(&spec.api_key).unwrap();
    acct.set_read(false);
    let (status, body) = Call::of(&spec).get(&sim, BALANCE).await;
    assert_eq!((status, body["code"].as_str()), (200, Some("50120")));
    assert_eq!(body["data"], Value::Array(vec![]));
    acct.set_read(true);
    acct.set_frozen(Some("50007"));
    assert_eq!(
        Call::of(&spec).get(&sim, BALANCE).await,
        (200, body_code("50007"))
    );
    acct.set_frozen(None);
    acct.set_ip_blocked(true);
    assert_eq!(Call::of(&spec).get(&sim, BALANCE).await.1["code"], "50110");
    acct.set_ip_blocked(false);
    acct.set_fault(OkxFault::Status500);
    assert_eq!(Call::of(&spec).get(&sim, BALANCE).await.0, 500);
    acct.set_fault(OkxFault::None);
    sim.set_fault(OkxFault::Status429);
    assert_eq!(Call::of(&spec).get(&sim, BALANCE).await.0, 429);
    sim.set_fault(OkxFault::Hang);
    let hung = reqwest::Client::new()
        .get(format!("{}/api/v5/public/time", sim.url()))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());
}

fn body_code(code: &str) -> Value {
    serde_json::json!({"code": code, "msg": "Account is frozen or restricted", "data": []})
}

#[tokio::test]
async fn orders_page_newest_first_after_an_id() {
    let spec = OkxAccountSpec::demo(8);
    let sim = OkxSim::start(vec![spec.clone()]).await.unwrap();
    let rows = (0..150)
        .map(|i| order(&format!("{}", 1000 - i), "BTC-USDT", "buy", "1", "1"))
        .collect();
    sim.account(&spec.api_key).unwrap().set_orders(rows);
    let (_, first) = Call::of(&spec)
        .get(&sim, "/api/v5/trade/orders-pending?limit=100")
        .await;
    let first = first["data"].as_array().unwrap().clone();
    assert_eq!(first.len(), 100);
    let last = first[99]["ordId"].as_str().unwrap().to_owned();
    let (_, second) = Call::of(&spec)
        .get(
            &sim,
            &format!("/api/v5/trade/orders-pending?after={last}&limit=100"),
        )
        .await;
    let second = second["data"].as_array().unwrap();
    assert_eq!(second.len(), 50);
    assert_eq!(second[0]["ordId"], "900");
    let (_, bad) = Call::of(&spec)
        .get(&sim, "/api/v5/trade/orders-pending?limit=500")
        .await;
    assert_eq!(bad["code"], "51000");
}

#[tokio::test]
async fn the_binary_prints_its_url_and_credentials_and_serves_them() {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_okx-sim"))
        .args(["--demo", "--accounts", "2", "--clock-offset-ms", "-60000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    };
    let url = next().await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let live = next().await;
    let demo = next().await;
    let fields: Vec<&str> = live.split('\t').collect();
    assert_eq!(fields.len(), 4, "{live}");
    assert_eq!(fields[0], "live");
    assert!(demo.starts_with("demo\t"), "{demo}");
    // Signed with the simulator's own clock (a minute behind ours), it answers.
    let t: Value = reqwest::get(format!("{url}/api/v5/public/time"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ts: i64 = t["data"][0]["ts"].as_str().unwrap().parse().unwrap();
    assert!((now_ms() - 60_000 - ts).abs() < 5_000, "{ts}");
    let ts = iso(ts);
    let signature = sign(fields[2], &format!("{ts}GET{BALANCE}"));
    let body: Value = reqwest::Client::new()
        .get(format!("{url}{BALANCE}"))
        .header("OK-ACCESS-KEY", fields[1])
        .header("OK-ACCESS-SIGN", signature)
        .header("OK-ACCESS-TIMESTAMP", ts)
        .header("OK-ACCESS-PASSPHRASE", fields[3])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["code"], "0", "{body}");
    child.kill().await.unwrap();
}
