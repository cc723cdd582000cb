//! Health checks of an https upstream: the real daemon trusts the simulator's CA only through
//! `SSL_CERT_FILE` (the platform verifier reads it on Linux), as an operator would add a private
//! CA. Trusted, the account is UP and every check reuses one kept-alive TLS connection;
//! untrusted, it is DOWN with reason TLS and no request ever reaches the upstream.

use std::time::{Duration, Instant};

use roster_proto::v1 as pb;
use roster_proto::v1::monitor_service_client::MonitorServiceClient;
use roster_tests::sim::{InstanceHandle, InstanceSpec, Simulator};
use tonic::transport::Channel;

use crate::harness::{Daemon, DaemonOptions, Pki, add_sim_account, fast_monitor, health_by_name};

const KEY: &str = "KEY-tls-upstream-5c4b3a291807";

/// Polls ListHealth until `name` is in `state`; panics with the last answer after `limit`.
pub(crate) async fn wait_for_state(
    m: &mut MonitorServiceClient<Channel>,
    name: &str,
    state: pb::HealthState,
    limit: Duration,
) -> pb::AccountHealth {
    let start = Instant::now();
    loop {
        let now = health_by_name(m).await;
        if let Some(h) = now.get(name).filter(|h| h.state == state as i32) {
            return h.clone();
        }
        assert!(
            start.elapsed() < limit,
            "{name} not {state:?} within {limit:?}: {now:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the upstream has seen `n` more pings than `from`.
async fn wait_for_pings(up: &InstanceHandle, from: u64, n: u64, limit: Duration) {
    let start = Instant::now();
    while up.request_count("ping") < from + n {
        assert!(
            start.elapsed() < limit,
            "{} of {n} pings within {limit:?}",
            up.request_count("ping") - from
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A daemon checking every 500 ms (timeout 500 ms: a debug build's handshake fits many times
/// over) with `env` added to its environment, and the account "tls" on `up`.
async fn monitoring(
    pki: &Pki,
    state: &std::path::Path,
    env: Vec<(String, String)>,
    up: &InstanceHandle,
) -> (Daemon, MonitorServiceClient<Channel>) {
    let d = Daemon::start(
        pki,
        state,
        &DaemonOptions {
            env,
            ..fast_monitor(500, 500)
        },
    );
    add_sim_account(
        &mut d.accounts(&pki.admin()).await,
        "tls",
        &up.url(),
        KEY,
        &[],
    )
    .await;
    let m = d.monitor(&pki.admin()).await;
    (d, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstream_trusted_through_ssl_cert_file_is_up_on_one_kept_alive_connection() {
    let sim = Simulator::start_https(vec![InstanceSpec::demo("tls", KEY)])
        .await
        .unwrap();
    let up = sim.instance(0);
    assert!(up.url().starts_with("https://127.0.0.1:"), "{}", up.url());
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let ca_file = state.path().join("upstream-ca.pem");
    std::fs::write(&ca_file, sim.ca_pem().unwrap()).unwrap();
    let (_d, mut m) = monitoring(
        &pki,
        &state.path().join("daemon"),
        vec![("SSL_CERT_FILE".into(), ca_file.display().to_string())],
        &up,
    )
    .await;

    let h = wait_for_state(&mut m, "tls", pb::HealthState::Up, Duration::from_secs(20)).await;
    assert_eq!(h.reason, 0, "{h:?}");
    assert_eq!(h.broker, "zerodha");
    assert!(
        h.latency.is_some() && h.last_success_time.is_some(),
        "{h:?}"
    );

    // Eight more checks (4 s at 500 ms), each a ping and a funds probe, and still the first
    // connection: one accept, one handshake.
    let pings = up.request_count("ping");
    let funds = up.request_count("funds");
    wait_for_pings(&up, pings, 8, Duration::from_secs(20)).await;
    assert!(up.request_count("funds") >= funds + 7);
    assert_eq!(
        (up.connections_accepted(), up.tls_handshakes()),
        (1, 1),
        "the checks did not reuse one kept-alive TLS connection ({} pings)",
        up.request_count("ping")
    );
    let h = health_by_name(&mut m).await.remove("tls").unwrap();
    assert_eq!(
        (h.state, h.reason),
        (pb::HealthState::Up as i32, 0),
        "{h:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstream_signed_by_an_unknown_ca_is_down_with_reason_tls() {
    let sim = Simulator::start_https(vec![InstanceSpec::demo("tls", KEY)])
        .await
        .unwrap();
    let up = sim.instance(0);
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    // No SSL_CERT_FILE of ours: the daemon has the environment's trust store, which cannot hold
    // a CA made a moment ago.
    let (_d, mut m) = monitoring(&pki, state.path(), Vec::new(), &up).await;

    let h = wait_for_state(
        &mut m,
        "tls",
        pb::HealthState::Down,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(h.reason, pb::HealthReason::Tls as i32, "{h:?}");
    assert!(h.message.contains("TLS"), "{h:?}");
    assert!(h.consecutive_failures >= 2, "{h:?}");
    // The daemon connected and gave up in the handshake: nothing reached HTTP.
    assert!(
        up.connections_accepted() >= 2,
        "{}",
        up.connections_accepted()
    );
    assert_eq!(up.tls_handshakes(), 0);
    assert_eq!(up.total_requests(), 0);
}

/// With no trust store at all, https upstreams could never be verified: the daemon refuses to
/// start and says how to fix it, rather than serving with every https account DOWN.
#[tokio::test]
async fn without_any_trusted_ca_the_daemon_refuses_to_start_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let mut d = Daemon::start(&pki, &dir.path().join("state"), &DaemonOptions::default());
    d.stop();
    let missing = dir.path().join("no-such-ca.pem").display().to_string();
    let mut child = std::process::Command::new(crate::harness::bin("rosterd"))
        .arg("--config")
        .arg(d.config_path())
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env("SSL_CERT_FILE", &missing)
        .env("SSL_CERT_DIR", &missing)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("rosterd kept running without a trust store");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{status:?}");
    assert!(
        stderr.contains("cannot load the CA certificates") && stderr.contains("SSL_CERT_FILE"),
        "{stderr}"
    );
}
