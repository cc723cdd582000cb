//! Two daemons in one process keep their own metrics: nothing the daemon records is
//! process-global, so what one daemon counts never shows in the other's scrape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use rosterd::config::Config;
use rosterd::runtime::{self, Running};

/// A daemon on 127.0.0.1:0 with its metrics on 127.0.0.1:0, a store and master key in `state`,
/// and the server certificate of `pki`.
async fn start(pki: &Path, state: &Path) -> Running {
    let key = state.join("master-key");
    rosterd::seal::create_key_file(&key).unwrap();
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\
         [tls]\ncert = {}\nkey = {}\nclient_ca = {}\n\
         [store]\npath = {}\n[keys]\nmaster_key_file = {}\n\
         [metrics]\nlisten = \"127.0.0.1:0\"\n",
        q(&pki.join("server.pem")),
        q(&pki.join("server.key")),
        q(&pki.join("ca.pem")),
        q(&state.join("roster.redb")),
        q(&key),
    );
    let config = Config::from_toml(&text, &state.join("rosterd.toml")).unwrap();
    runtime::start(config, |_| {}).await.unwrap()
}

async fn scrape(daemon: &Running) -> String {
    let addr = daemon.metrics_addr.expect("metrics are on");
    let resp = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert!(resp.status().is_success());
    resp.text().await.unwrap()
}

/// The `roster_refusals_total` samples of a scrape.
fn refusals(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("roster_refusals_total"))
        .collect()
}

#[tokio::test]
async fn what_one_daemon_counts_is_not_in_the_other_daemons_scrape() {
    let pki = tempfile::tempdir().unwrap();
    rosterd::pki::init(pki.path(), &[]).unwrap();
    let (state_a, state_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(pki.path(), state_a.path()).await;
    let b = start(pki.path(), state_b.path()).await;

    // Something only daemon A sees: a client that speaks plain text where TLS belongs, whose
    // handshake A refuses and counts.
    let mut tcp = tokio::net::TcpStream::connect(a.local_addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut counted = Vec::new();
    for _ in 0..100 {
        counted = refusals(&scrape(&a).await)
            .into_iter()
            .map(str::to_owned)
            .collect();
        if !counted.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        counted
            .iter()
            .any(|l| l.starts_with("roster_refusals_total{kind=\"handshake\"")),
        "daemon A did not count the refused handshake: {counted:?}"
    );

    let other = scrape(&b).await;
    assert!(
        refusals(&other).is_empty(),
        "daemon B shows daemon A's refusal:\n{other}"
    );
    // B's scrape is whole, with its own accounts gauge (read from B's monitor at scrape time).
    assert!(other.contains("roster_accounts{state=\"UP\"} 0"), "{other}");
    assert!(other.ends_with("# EOF\n"), "{other}");

    drop(tcp);
    a.shutdown(Duration::from_secs(2)).await.unwrap();
    b.shutdown(Duration::from_secs(2)).await.unwrap();
}
