//! The Coinbase simulator against the reference (`okx-coinbase-api.md` part B), with tokens
//! minted here by hand (not by the daemon's connector): exact JWT checks, one 401 `Unauthorized`
//! for every refusal, scopes, cursor paging, the per-user budget and its HTML 429, faults.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use roster_tests::coinbase_sim::{
    CdpKey, CoinbaseAccountSpec, CoinbaseFault, CoinbaseSim, PER_USER_PER_SECOND, Refusal,
    WalletSpec,
};
use serde_json::{Value, json};

const PREFIX: &str = "/api/v3/brokerage";

fn now_s() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token as B2 describes it, with every part overridable.
fn token(key: &CdpKey, header: Value, claims: Value) -> String {
    let pem = key
        .private_key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>();
    let der = base64::engine::general_purpose::STANDARD
        .decode(pem)
        .unwrap();
    let pair = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &der).unwrap();
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).unwrap()),
        b64(&serde_json::to_vec(&claims).unwrap())
    );
    let sig = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", b64(sig.as_ref()))
}

fn header(key: &CdpKey) -> Value {
    json!({"alg":"ES256","kid":key.name,"nonce":"ab12","typ":"JWT"})
}

fn claims(key: &CdpKey, host: &str, path: &str, nbf: i64) -> Value {
    json!({"sub":key.name,"iss":"cdp","nbf":nbf,"exp":nbf + 120,"uri":format!("GET {host}{path}")})
}

struct Fixture {
    sim: CoinbaseSim,
    key: CdpKey,
    host: String,
    http: reqwest::Client,
}

async fn fixture() -> Fixture {
    let key = CdpKey::generate("org-1", "key-1");
    let sim = CoinbaseSim::start(vec![CoinbaseAccountSpec::demo(key.clone())])
        .await
        .unwrap();
    let host = sim.url().trim_start_matches("http://").to_owned();
    Fixture {
        sim,
        key,
        host,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap(),
    }
}

impl Fixture {
    async fn get(&self, path_and_query: &str, bearer: Option<&str>) -> (u16, String) {
        let mut r = self.http.get(format!("{}{path_and_query}", self.sim.url()));
        if let Some(b) = bearer {
            r = r.header("Authorization", format!("Bearer {b}"));
        }
        let resp = r.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// A good token for `path`, signed by `key` at the simulator's time.
    fn good(&self, key: &CdpKey, path: &str) -> String {
        token(key, header(key), claims(key, &self.host, path, now_s()))
    }

    async fn signed(&self, path: &str, query: &str) -> (u16, String) {
        let t = self.good(&self.key, path);
        self.get(&format!("{path}{query}"), Some(&t)).await
    }
}

#[tokio::test]
async fn time_is_public_with_string_epochs_on_the_simulators_clock() {
    let f = fixture().await;
    let (status, body) = f.get(&format!("{PREFIX}/time"), None).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let secs: i64 = v["epochSeconds"].as_str().unwrap().parse().unwrap();
    let ms: i64 = v["epochMillis"].as_str().unwrap().parse().unwrap();
    assert_eq!(ms / 1000, secs);
    assert!((secs - now_s()).abs() <= 2);
    assert!(v["iso"].as_str().unwrap().ends_with('Z'));
    f.sim.set_clock_offset_ms(10_000);
    let (_, body) = f.get(&format!("{PREFIX}/time"), None).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    let secs: i64 = v["epochSeconds"].as_str().unwrap().parse().unwrap();
    assert!((secs - now_s() - 10).abs() <= 2, "{secs}");
}

#[tokio::test]
async fn a_good_token_reads_and_every_flaw_is_the_same_plain_401() {
    let f = fixture().await;
    let path = format!("{PREFIX}/key_permissions");
    let (status, body) = f.signed(&path, "").await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["can_view"], true);
    assert_eq!(v["portfolio_type"], "DEFAULT");

    let k = &f.key;
    let other = CdpKey::generate("org-1", "key-1");
    let now = now_s();
    let mut h_alg = header(k);
    h_alg["alg"] = json!("HS256");
    let mut h_nonce = header(k);
    h_nonce.as_object_mut().unwrap().remove("nonce");
    let mut c_iss = claims(k, &f.host, &path, now);
    c_iss["iss"] = json!("coinbase-cloud");
    let mut c_sub = claims(k, &f.host, &path, now);
    c_sub["sub"] = json!("organizations/org-1/apiKeys/other");
    let mut c_long = claims(k, &f.host, &path, now);
    c_long["exp"] = json!(now + 600);
    let stranger = CdpKey::generate("org-9", "key-9");
    let cases: Vec<(String, Refusal)> = vec![
        // The uri binds method, host and path; no query, no other host.
        (
            token(
                k,
                header(k),
                claims(k, &f.host, &format!("{PREFIX}/accounts"), now),
            ),
            Refusal::WrongUri,
        ),
        (
            token(k, header(k), claims(k, "api.coinbase.com", &path, now)),
            Refusal::WrongUri,
        ),
        (
            token(
                k,
                header(k),
                claims(k, &f.host, &format!("{path}?limit=1"), now),
            ),
            Refusal::WrongUri,
        ),
        // The window: not before nbf, not at or after exp.
        (
            token(k, header(k), claims(k, &f.host, &path, now + 10)),
            Refusal::NotYetValid,
        ),
        (
            token(k, header(k), claims(k, &f.host, &path, now - 121)),
            Refusal::Expired,
        ),
        (token(k, header(k), c_long), Refusal::WrongClaims),
        (token(k, header(k), c_iss), Refusal::WrongClaims),
        (token(k, header(k), c_sub), Refusal::WrongClaims),
        (
            token(k, h_alg, claims(k, &f.host, &path, now)),
            Refusal::WrongAlg,
        ),
        (
            token(k, h_nonce, claims(k, &f.host, &path, now)),
            Refusal::Malformed,
        ),
        // Signed by another private key under this key's name.
        (
            token(&other, header(k), claims(k, &f.host, &path, now)),
            Refusal::BadSignature,
        ),
        (f.good(&stranger, &path), Refusal::UnknownKey),
        ("not.a.jwt".to_owned(), Refusal::Malformed),
    ];
    for (i, (t, why)) in cases.iter().enumerate() {
        let before = f.sim.refusals(*why);
        let (status, body) = f.get(&path, Some(t)).await;
        assert_eq!((status, body.as_str()), (401, "Unauthorized\n"), "case {i}");
        assert_eq!(f.sim.refusals(*why), before + 1, "case {i}: {why:?}");
    }
    let (status, _) = f.get(&path, None).await;
    assert_eq!(status, 401);
    assert_eq!(f.sim.refusals(Refusal::NoBearer), 1);

    // A revoked key is refused; restored, it works again.
    f.sim.set_revoked(&k.name, true);
    assert_eq!(f.signed(&path, "").await.0, 401);
    assert_eq!(f.sim.refusals(Refusal::Revoked), 1);
    f.sim.set_revoked(&k.name, false);
    assert_eq!(f.signed(&path, "").await.0, 200);

    // The simulator's clock 10 s behind: a token dated by the caller's clock is not yet valid,
    // one dated by the simulator's is. 10 s ahead, the caller's token is still inside its window;
    // 130 s ahead, it has expired.
    f.sim.set_clock_offset_ms(-10_000);
    assert_eq!(f.signed(&path, "").await.0, 401);
    let t = token(k, header(k), claims(k, &f.host, &path, now_s() - 10));
    assert_eq!(f.get(&path, Some(&t)).await.0, 200);
    f.sim.set_clock_offset_ms(10_000);
    assert_eq!(f.signed(&path, "").await.0, 200);
    f.sim.set_clock_offset_ms(130_000);
    assert_eq!(f.signed(&path, "").await.0, 401);
}

#[tokio::test]
async fn a_key_without_view_scope_reads_nothing() {
    let f = fixture().await;
    f.sim.set_can_view(&f.key.name, false);
    let (status, body) = f.signed(&format!("{PREFIX}/key_permissions"), "").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["can_view"],
        false
    );
    let (status, body) = f.signed(&format!("{PREFIX}/accounts"), "").await;
    assert_eq!(status, 403);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error_details"], "Missing required scopes");
    assert_eq!(v["error"], "PERMISSION_DENIED");
}

#[tokio::test]
async fn lists_page_by_cursor_and_orders_filter_by_status() {
    let key = CdpKey::generate("org-2", "key-2");
    let mut spec = CoinbaseAccountSpec::demo(key.clone());
    spec.wallets = (0..5)
        .map(|i| WalletSpec::new(&format!("C{i}"), "1", "0"))
        .collect();
    let f = Fixture {
        sim: CoinbaseSim::start(vec![spec]).await.unwrap(),
        key,
        host: String::new(),
        http: reqwest::Client::new(),
    };
    let f = Fixture {
        host: f.sim.url().trim_start_matches("http://").to_owned(),
        ..f
    };
    let path = format!("{PREFIX}/accounts");
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    for _ in 0..5 {
        let (status, body) = f.signed(&path, &query).await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        for a in v["accounts"].as_array().unwrap() {
            seen.push(a["currency"].as_str().unwrap().to_owned());
            assert!(a["available_balance"]["value"].is_string());
        }
        if v["has_next"] == false {
            assert_eq!(v["cursor"], "");
            break;
        }
        query = format!("?limit=2&cursor={}", v["cursor"].as_str().unwrap());
    }
    assert_eq!(seen, ["C0", "C1", "C2", "C3", "C4"]);
    let (_, body) = f
        .signed(
            &format!("{PREFIX}/orders/historical/batch"),
            "?order_status=OPEN",
        )
        .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<_> = v["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].clone())
        .collect();
    assert_eq!(ids, [json!("o-open-1")]);
    let (_, body) = f
        .signed(&format!("{PREFIX}/orders/historical/fills"), "")
        .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["fills"].as_array().unwrap().len(), 2);
    assert_eq!(v["cursor"], "");
    assert_eq!(
        f.sim
            .requests_to(&format!("{PREFIX}/orders/historical/fills")),
        1
    );
}

#[tokio::test]
async fn past_thirty_a_second_per_user_is_an_html_429_and_faults_answer_as_set() {
    let f = fixture().await;
    // A second key of the same organization spends the same user's budget.
    let sibling = CdpKey::generate("org-1", "key-2");
    f.sim
        .add_account(CoinbaseAccountSpec::demo(sibling.clone()));
    let path = format!("{PREFIX}/key_permissions");
    let tokens: Vec<String> = (0..40)
        .map(|i| f.good(if i % 2 == 0 { &f.key } else { &sibling }, &path))
        .collect();
    let answers = futures::future::join_all(tokens.iter().map(|t| f.get(&path, Some(t)))).await;
    let limited: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    // All 40 arrive within well under a second on loopback; at least 10 are refused.
    assert!(
        limited.len() >= 40 - PER_USER_PER_SECOND,
        "{}",
        limited.len()
    );
    assert!(limited[0].1.starts_with("<html>"), "{}", limited[0].1);
    assert_eq!(f.sim.max_per_second(&f.key.name), PER_USER_PER_SECOND);
    assert_eq!(f.sim.rate_limited(), limited.len() as u64);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    f.sim.set_fault(CoinbaseFault::RateLimitedHtml);
    let (status, body) = f.signed(&path, "").await;
    assert_eq!(status, 429);
    assert!(body.contains("Too Many Requests"));
    f.sim.set_fault(CoinbaseFault::Http500);
    assert_eq!(f.signed(&path, "").await.0, 500);
    f.sim.set_fault(CoinbaseFault::Hang);
    let hung = tokio::time::timeout(Duration::from_millis(300), f.signed(&path, "")).await;
    assert!(hung.is_err());
    f.sim.set_fault(CoinbaseFault::None);
    assert_eq!(f.signed(&path, "").await.0, 200);
}
