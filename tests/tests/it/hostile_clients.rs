//! Hostile clients (issue 13): connections that hold slots, certificates that may not be used,
//! a client hammering past its budget, and names made to forge log lines. Each test runs the real
//! daemon and asserts what an operator would notice: an admin still gets in, refusals are
//! bounded in the log and counted in metrics, and the audit trail names the attempt.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roster_proto::v1 as pb;
use rosterd::pki::Role;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::harness::{Daemon, DaemonOptions, Pki, text};

/// A raw TLS client for `profile` (or `cert`/`key` files), to hold connections the way an
/// attacker would: handshake, then nothing.
fn tls_client(ca: &Path, cert: &Path, key: &Path) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

fn profile_client(pki: &Pki, profile: &Path) -> tokio_rustls::TlsConnector {
    tls_client(
        &pki.path().join("ca.pem"),
        &profile.join("cert.pem"),
        &profile.join("key.pem"),
    )
}

/// Opens a TLS connection and completes the client side of the handshake (TLS 1.3: the
/// daemon's verdict on our certificate comes with the first read).
async fn open_tls(
    d: &Daemon,
    tls: &tokio_rustls::TlsConnector,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(d.addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tls.connect(name, tcp).await
}

/// What the first read of a silent connection gives within `wait`: Ok(0) = closed, Err = refused
/// (the error text, e.g. the TLS alert), or "open" if nothing happened.
async fn first_read<S: tokio::io::AsyncRead + Unpin>(s: &mut S, wait: Duration) -> String {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Ok(Ok(0)) => return "closed".into(),
            // The server's HTTP/2 preface (SETTINGS): the connection is being served.
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => return format!("error: {e}"),
            Err(_) => return "open".into(),
        }
    }
}

async fn list(d: &Daemon, profile: &Path) -> Result<(), String> {
    let channel = d
        .channel(profile)
        .await
        .map_err(|e| crate::security::chain(&e))?;
    pb::account_service_client::AccountServiceClient::new(channel)
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .map(|_| ())
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
}

/// Issues a client certificate for `name` into `out` (so two certificates may share a name).
fn issue_into(pki: &Pki, name: &str, role: Role, out: &str) -> (PathBuf, String) {
    let dir = pki.path().join(out);
    let issued = rosterd::pki::issue_client(pki.path(), name, role, &dir, 30).unwrap();
    (dir, issued.serial_hex)
}

#[tokio::test]
async fn revoked_and_expired_certificates_holding_connections_cannot_lock_out_an_admin() {
    let pki = Pki::new();
    let (revoked, serial) = pki.issue("mallory", Role::Admin);
    let expired = pki.issue_expired("old-admin", Role::Admin);
    let (viewer, _) = pki.issue("greedy", Role::Viewer);
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            revoked: vec![serial],
            extra_config: "[server]\nmax_connections = 24\nadmin_reserved_connections = 4\n\
                           max_connections_per_principal = 100\n"
                .into(),
            ..Default::default()
        },
    );
    // 40 connections each with a revoked and an expired certificate, held open.
    let mut held = Vec::new();
    for profile in [&revoked, &expired] {
        let tls = profile_client(&pki, profile);
        for _ in 0..40 {
            if let Ok(s) = open_tls(&d, &tls).await {
                held.push(s);
            }
        }
    }
    // Each is refused in the handshake, with the alert that says why.
    let mut verdicts = Vec::new();
    for s in held.iter_mut().step_by(10) {
        verdicts.push(first_read(s, Duration::from_secs(5)).await);
    }
    assert!(
        verdicts
            .iter()
            .all(|v| v.contains("CertificateRevoked") || v.contains("CertificateExpired")),
        "{verdicts:?}"
    );
    // A valid viewer takes every slot it can: it stops short of the admins' reserve.
    let tls = profile_client(&pki, &viewer);
    let mut greedy = Vec::new();
    for _ in 0..40 {
        let mut s = open_tls(&d, &tls).await.unwrap();
        if first_read(&mut s, Duration::from_millis(300)).await == "open" {
            greedy.push(s);
        }
    }
    assert!(
        (1..=20).contains(&greedy.len()),
        "the viewer holds {} connections",
        greedy.len()
    );
    // The admin still gets in, and is served.
    for _ in 0..3 {
        assert_eq!(list(&d, &pki.admin()).await, Ok(()));
    }
}

#[tokio::test]
async fn silent_tcp_and_tls_connections_are_closed_after_their_bounds() {
    let pki = Pki::new();
    let (viewer, _) = pki.issue("quiet", Role::Viewer);
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            extra_config: "[server]\nhandshake_timeout = \"1s\"\nfirst_request_timeout = \"1s\"\n\
                           idle_timeout = \"2s\"\n"
                .into(),
            ..Default::default()
        },
    );
    let mut tcp = TcpStream::connect(d.addr).await.unwrap();
    let mut tls = open_tls(&d, &profile_client(&pki, &viewer)).await.unwrap();
    let tcp_end = first_read(&mut tcp, Duration::from_secs(10)).await;
    let tls_end = first_read(&mut tls, Duration::from_secs(10)).await;
    assert!(tcp_end != "open", "silent TCP connection: {tcp_end}");
    assert!(tls_end != "open", "silent TLS connection: {tls_end}");
    // A client that made a request and then went quiet is closed too (idle), and a new call
    // on the same channel simply reconnects.
    let mut c = d.accounts(&viewer).await;
    c.list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !d.stderr().contains("reason=\"idle\"") && !d.stderr().contains("reason=idle") {
        assert!(Instant::now() < deadline, "idle connection not closed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(list(&d, &viewer).await, Ok(()));
}

#[tokio::test]
async fn idle_connections_without_a_certificate_cannot_starve_legitimate_clients() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            extra_config: "[server]\nmax_connections = 32\nhandshake_timeout = \"60s\"\n\
                           max_handshakes_per_ip = 1000\n"
                .into(),
            ..Default::default()
        },
    );
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(d.addr).await.unwrap());
    }
    // Every legitimate call gets in: the oldest idle connections make room.
    for _ in 0..7 {
        assert_eq!(list(&d, &pki.admin()).await, Ok(()));
    }
    // The first idle connections were shed (closed), long before their handshake timeout.
    let first = first_read(&mut idle[0], Duration::from_secs(5)).await;
    assert!(first != "open", "{first}");
    assert!(
        d.stderr()
            .contains("oldest unauthenticated connection shed"),
        "shedding not logged"
    );
}

#[tokio::test]
async fn connection_slots_are_sized_from_the_open_file_limit() {
    // prlimit(1) runs the daemon with 256 descriptors, soft and hard.
    if std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("prlimit is not installed; skipped");
        return;
    }
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            launcher: vec!["prlimit".into(), "--nofile=256:256".into()],
            ..Default::default()
        },
    );
    let log = d.stderr();
    let line = log
        .lines()
        .find(|l| l.contains("client connection slots sized from the open-file limit"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains("open_file_limit=\"256\"") && line.contains("max_connections=64"),
        "{line}"
    );
    // 150 idle connections, more than the slots: calls are still served, nothing fails to open.
    let mut idle = Vec::new();
    for _ in 0..150 {
        idle.push(TcpStream::connect(d.addr).await.unwrap());
    }
    for _ in 0..4 {
        assert_eq!(list(&d, &pki.admin()).await, Ok(()));
    }
    assert!(!d.stderr().contains("accept failed"), "{}", d.stderr());
}

#[tokio::test]
async fn revocation_on_sighup_ends_open_streams_and_refuses_new_connections() {
    let pki = Pki::new();
    let (viewer, serial) = pki.issue("watcher", Role::Viewer);
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let mut monitor =
        pb::monitor_service_client::MonitorServiceClient::new(d.channel(&viewer).await.unwrap());
    let mut stream = monitor
        .watch_events(pb::WatchEventsRequest {
            from_sequence: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let config = std::fs::read_to_string(d.config_path()).unwrap();
    let revoked = config.replace(
        "revoked_serials = []",
        &format!("revoked_serials = [\"{serial}\"]"),
    );
    assert_ne!(revoked, config);
    std::fs::write(d.config_path(), revoked).unwrap();
    d.hup();
    // The stream ends (error or end of stream) instead of waiting for the next event.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await;
    assert!(
        matches!(ended, Ok(Ok(None)) | Ok(Err(_))),
        "the revoked viewer's stream is still open: {ended:?}"
    );
    assert!(list(&d, &viewer).await.is_err());
    let mut again = open_tls(&d, &profile_client(&pki, &viewer)).await.unwrap();
    let verdict = first_read(&mut again, Duration::from_secs(5)).await;
    assert!(verdict.contains("CertificateRevoked"), "{verdict}");
    assert!(d.is_running());
    assert_eq!(list(&d, &pki.admin()).await, Ok(()));
}

#[tokio::test]
async fn a_revoked_alice_cannot_spend_the_budget_of_the_reissued_alice() {
    let pki = Pki::new();
    let (old, serial) = issue_into(&pki, "alice", Role::Viewer, "alice-old");
    let (new, _) = issue_into(&pki, "alice", Role::Viewer, "alice-new");
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            revoked: vec![serial],
            requests_per_second: 1,
            burst: 5,
            ..Default::default()
        },
    );
    // The revoked certificate hammers: every attempt is refused, and none spends a token.
    let mut c = d.channel(&old).await.ok();
    for _ in 0..30 {
        if let Some(ch) = c.take() {
            let _ = pb::account_service_client::AccountServiceClient::new(ch.clone())
                .list_accounts(pb::ListAccountsRequest::default())
                .await;
            c = Some(ch);
        }
    }
    for _ in 0..5 {
        assert!(list(&d, &old).await.is_err());
    }
    // The re-issued alice has her whole burst.
    let mut alice = d.accounts(&new).await;
    for i in 0..5 {
        alice
            .list_accounts(pb::ListAccountsRequest::default())
            .await
            .unwrap_or_else(|s| panic!("call {i} of the re-issued alice: {s:?}"));
    }
}

#[tokio::test]
async fn refusals_over_the_rate_limit_are_counted_and_logged_a_bounded_number_of_times() {
    let pki = Pki::new();
    let (noisy, _) = pki.issue("noisy", Role::Viewer);
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            requests_per_second: 1,
            burst: 2,
            extra_config: "[metrics]\nlisten = \"127.0.0.1:0\"\n".into(),
            ..Default::default()
        },
    );
    let mut c = d.accounts(&noisy).await;
    let mut refused = 0;
    for _ in 0..400 {
        if let Err(s) = c.list_accounts(pb::ListAccountsRequest::default()).await {
            assert_eq!(s.code(), tonic::Code::ResourceExhausted, "{s:?}");
            refused += 1;
        }
    }
    assert!(refused >= 390, "{refused}");
    let lines = d
        .stderr()
        .lines()
        .filter(|l| l.contains("noisy") && l.contains("rate limited"))
        .count();
    assert!(
        (1..=3).contains(&lines),
        "{lines} log lines for {refused} refusals"
    );
    let url = d
        .stdout_line("rosterd metrics on ")
        .expect("the daemon prints the metrics address");
    let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let counted: f64 = body
        .lines()
        .find(|l| {
            l.starts_with("roster_refusals_total{")
                && l.contains("kind=\"request\"")
                && l.contains("reason=\"rate limited\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{body}"));
    assert!(counted >= f64::from(refused), "{counted} < {refused}");
}

#[tokio::test]
async fn a_revoked_certificates_attempts_show_in_rosterctl_audit_without_flooding_it() {
    let pki = Pki::new();
    let (revoked, serial) = pki.issue("rita", Role::Operator);
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            revoked: vec![serial],
            ..Default::default()
        },
    );
    let tls = profile_client(&pki, &revoked);
    for _ in 0..50 {
        if let Ok(mut s) = open_tls(&d, &tls).await {
            let _ = first_read(&mut s, Duration::from_secs(2)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let o = d.ctl(&pki.admin(), &["audit", "--limit", "100"], "");
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out} {err}");
        let mine: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("rita") && l.contains("certificate revoked"))
            .collect();
        if !mine.is_empty() {
            assert!(mine.len() <= 2, "one record per interval: {out}");
            break;
        }
        assert!(Instant::now() < deadline, "no audit record: {out}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A certificate signed by the test CA with any CN at all (as a careless or hostile issuer
/// could make), with the viewer role.
fn issue_raw_cn(pki: &Pki, cn: &str, out: &str) -> PathBuf {
    use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair};
    let ca_pem = std::fs::read_to_string(pki.path().join("ca.pem")).unwrap();
    let ca_key =
        KeyPair::from_pem(&std::fs::read_to_string(pki.path().join("ca.key")).unwrap()).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Roster");
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, "viewer");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, &issuer).unwrap();
    let dir = pki.path().join(out);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_pem).unwrap();
    dir
}

#[tokio::test]
async fn newlines_and_bidi_controls_in_a_cn_are_escaped_in_the_log_and_the_audit() {
    let pki = Pki::new();
    let eve = issue_raw_cn(&pki, "eve\nFORGED line", "eve");
    let mallory = issue_raw_cn(&pki, "mal\u{202e}lory", "mallory");
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    // Refused writes are logged and audited under the principal.
    for profile in [&eve, &mallory] {
        let mut c = d.accounts(profile).await;
        let s = c
            .create_account(crate::harness::new_account("x", "key-0123456789"))
            .await
            .unwrap_err();
        assert_eq!(s.code(), tonic::Code::PermissionDenied, "{s:?}");
    }
    let log = d.stderr();
    assert!(
        !log.lines().any(|l| l.starts_with("FORGED")),
        "a CN forged a log line:\n{log}"
    );
    assert!(!log.contains('\u{202e}'), "U+202E reached the log");
    assert!(log.contains("eve\\nFORGED line"), "{log}");
    let audit = d.all_audit(&pki.admin()).await;
    let principals: Vec<&str> = audit.iter().map(|e| e.principal.as_str()).collect();
    assert!(principals.contains(&"eve\\nFORGED line"), "{principals:?}");
    assert!(principals.contains(&"mal\\u{202e}lory"), "{principals:?}");
    assert!(
        audit
            .iter()
            .all(|e| !e.principal.contains(['\n', '\u{202e}'])),
        "{audit:#?}"
    );
}
