//! mTLS identity, roles, revocation and rate limiting, through the gRPC client.

use std::time::Duration;

use roster_proto::v1 as pb;
use rosterd::pki::Role;
use tonic::Code;

use crate::harness::{Daemon, DaemonOptions, Pki, new_account};

/// The whole source chain of an error, so assertions see the TLS cause under "transport error".
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// A refusal during the TLS handshake. The client sees the daemon's alert (UnknownCA,
/// CertificateRequired) or, when its first write races the alert, a closed connection; the CLI
/// tests check that `rosterctl` still names the real cause.
fn refused_in_handshake(err: &str) -> bool {
    let err = err.to_lowercase();
    [
        "unknownca",
        "certificaterequired",
        "certificateexpired",
        "certificaterevoked",
        "broken pipe",
        "connection reset",
        "connection closed",
    ]
    .iter()
    .any(|s| err.contains(s))
}

/// Connects with `profile` and makes one read call; returns the failure text, if any.
async fn try_read(d: &Daemon, profile: &std::path::Path) -> Result<(), String> {
    let channel = match d.channel(profile).await {
        Ok(c) => c,
        Err(e) => return Err(chain(&e)),
    };
    let mut c = roster_proto::v1::account_service_client::AccountServiceClient::new(channel);
    c.list_accounts(pb::ListAccountsRequest::default())
        .await
        .map(|_| ())
        .map_err(|s| {
            format!(
                "{:?}: {}: {}",
                s.code(),
                s.message(),
                std::error::Error::source(&s).map(chain).unwrap_or_default()
            )
        })
}

#[tokio::test]
async fn certificates_that_are_missing_foreign_expired_or_revoked_are_refused() {
    let pki = Pki::new();
    let (revoked_profile, revoked_serial) = pki.issue("revoked-op", Role::Operator);
    let (good_profile, _) = pki.issue("good-op", Role::Operator);
    let expired = pki.issue_expired("expired", Role::Admin);
    let future = pki.issue_not_yet_valid("future", Role::Admin);
    let other = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            revoked: vec![revoked_serial.to_uppercase()],
            ..Default::default()
        },
    );

    assert_eq!(try_read(&d, &good_profile).await, Ok(()));

    let err = try_read(&d, &other.admin()).await.unwrap_err();
    assert!(refused_in_handshake(&err), "other CA: {err}");
    // Expired, not yet valid and revoked certificates are refused in the handshake too, so they
    // never hold a connection.
    let err = try_read(&d, &expired).await.unwrap_err();
    assert!(refused_in_handshake(&err), "expired: {err}");
    let err = try_read(&d, &future).await.unwrap_err();
    assert!(refused_in_handshake(&err), "not yet valid: {err}");
    let err = try_read(&d, &revoked_profile).await.unwrap_err();
    assert!(refused_in_handshake(&err), "revoked: {err}");

    // No client certificate at all.
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(
            std::fs::read(pki.path().join("ca.pem")).unwrap(),
        ))
        .domain_name("localhost");
    let result = async {
        let ch = tonic::transport::Channel::from_shared(d.url())
            .unwrap()
            .tls_config(tls)?
            .connect()
            .await?;
        let mut c = roster_proto::v1::account_service_client::AccountServiceClient::new(ch);
        Ok::<_, Box<dyn std::error::Error>>(
            c.list_accounts(pb::ListAccountsRequest::default()).await?,
        )
    }
    .await;
    let err = result.map(|_| ()).unwrap_err();
    let text = chain(err.as_ref());
    assert!(refused_in_handshake(&text), "no cert: {text}");

    // The refusals happened at the door; the daemon still serves good clients.
    assert_eq!(try_read(&d, &good_profile).await, Ok(()));
}

#[tokio::test]
async fn a_viewer_can_read_but_every_write_is_permission_denied() {
    let pki = Pki::new();
    let (viewer, _) = pki.issue("viewer-1", Role::Viewer);
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let mut admin = d.accounts(&pki.admin()).await;
    let a = admin
        .create_account(new_account("acct-1", "key-acct-1-xyz"))
        .await
        .unwrap()
        .into_inner();

    let mut v = d.accounts(&viewer).await;
    assert_eq!(
        v.list_accounts(pb::ListAccountsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .accounts
            .len(),
        1
    );
    v.get_account(pb::GetAccountRequest {
        account: a.id.clone(),
    })
    .await
    .unwrap();
    let mut va = d.admin(&viewer).await;
    let status = va
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (status.principal.as_str(), status.role.as_str()),
        ("viewer-1", "viewer")
    );

    let denied = [
        v.create_account(new_account("acct-2", "k2"))
            .await
            .unwrap_err(),
        v.update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: a.id.clone(),
                enabled: false,
                ..Default::default()
            }),
            update_mask: Some(roster_proto::pbjson_types::FieldMask {
                paths: vec!["enabled".into()],
            }),
            api_key: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err(),
        v.delete_account(pb::DeleteAccountRequest {
            account: a.id.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err(),
        v.test_connection(pb::TestConnectionRequest {
            account: a.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err(),
    ];
    for s in denied {
        assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");
        assert!(s.message().contains("role viewer"), "{}", s.message());
    }
    let after = admin
        .get_account(pb::GetAccountRequest {
            account: a.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after, a, "denied writes changed nothing");
}

#[tokio::test]
async fn a_client_over_its_rate_limit_is_refused_while_others_are_served() {
    let pki = Pki::new();
    let (noisy, _) = pki.issue("noisy", Role::Viewer);
    let (quiet, _) = pki.issue("quiet", Role::Viewer);
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            requests_per_second: 5,
            burst: 10,
            ..Default::default()
        },
    );
    let mut n = d.accounts(&noisy).await;
    let mut exhausted = None;
    for _ in 0..60 {
        if let Err(s) = n.list_accounts(pb::ListAccountsRequest::default()).await {
            exhausted = Some(s);
            break;
        }
    }
    let s = exhausted.expect("60 calls at once must exceed a burst of 10");
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    use tonic_types::StatusExt;
    let retry = s.get_details_retry_info().expect("retry info detail");
    assert!(
        retry
            .retry_delay
            .is_some_and(|d| d > Duration::ZERO && d <= Duration::from_secs(1)),
        "{retry:?}"
    );

    // The quiet client is unaffected by the noisy one.
    let mut q = d.accounts(&quiet).await;
    for _ in 0..5 {
        q.list_accounts(pb::ListAccountsRequest::default())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn stalled_handshakes_are_cut_off_and_never_block_other_clients() {
    use tokio::io::AsyncReadExt;
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            extra_config: "[server]\nhandshake_timeout = \"1s\"\n".into(),
            ..Default::default()
        },
    );
    // 100 connections that never send a ClientHello.
    let mut stalled = Vec::new();
    for _ in 0..100 {
        stalled.push(tokio::net::TcpStream::connect(d.addr).await.unwrap());
    }
    // A real client is served right away regardless.
    let started = std::time::Instant::now();
    let mut c = d.accounts(&pki.admin()).await;
    c.list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "served in {:?}",
        started.elapsed()
    );
    // The daemon closes each stalled connection after the handshake timeout.
    for mut s in stalled {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "stalled connection still open: {read:?}"
        );
    }
}

#[tokio::test]
async fn oversized_requests_are_refused_and_standard_services_answer() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let mut c = d.accounts(&pki.admin()).await;
    let huge = new_account(&"x".repeat(2 * 1024 * 1024), "k");
    let err = c.create_account(huge).await.unwrap_err();
    assert!(
        matches!(err.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{err:?}"
    );
    assert!(
        c.list_accounts(pb::ListAccountsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .accounts
            .is_empty()
    );

    // grpc.health.v1 reports SERVING; it is behind mTLS like everything else.
    let mut health =
        tonic_health::pb::health_client::HealthClient::new(d.channel(&pki.admin()).await.unwrap());
    let resp = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        resp.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test]
async fn sighup_revokes_a_certificate_on_live_connections_and_refuses_a_bad_config() {
    let pki = Pki::new();
    let (op, serial) = pki.issue("soon-revoked", Role::Operator);
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let mut live = d.accounts(&op).await;
    live.list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap();

    // An invalid config is refused; the daemon keeps serving with the old one.
    let good = std::fs::read_to_string(d.config_path()).unwrap();
    std::fs::write(
        d.config_path(),
        format!("{good}\n[monitor]\nno_such_key = 1\n"),
    )
    .unwrap();
    d.hup();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(d.is_running());
    live.list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap();
    assert!(
        d.stderr().contains("new configuration refused"),
        "{}",
        d.stderr()
    );

    // Revoke the serial and reload: the open connection is closed, and a new one is refused in
    // the handshake, so every call from then on fails.
    let revoked = good.replace(
        "revoked_serials = []",
        &format!("revoked_serials = [\"{serial}\"]"),
    );
    assert_ne!(revoked, good);
    std::fs::write(d.config_path(), revoked).unwrap();
    d.hup();
    let mut refused = None;
    for _ in 0..50 {
        match live.list_accounts(pb::ListAccountsRequest::default()).await {
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(s) => {
                refused = Some(s);
                break;
            }
        }
    }
    let s = refused.expect("revoked within 5 s of SIGHUP");
    // The reload closes the revoked certificate's connections: a call in flight at that moment
    // sees its stream cancelled, a later one a closed connection or a refusal.
    assert!(
        matches!(
            s.code(),
            Code::Unauthenticated | Code::Unavailable | Code::Unknown | Code::Cancelled
        ),
        "{s:?}"
    );
    let err = try_read(&d, &op).await.unwrap_err();
    assert!(refused_in_handshake(&err), "{err}");
    // Others are unaffected.
    let mut admin = d.admin(&pki.admin()).await;
    let status = admin
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        status.config_generation >= 2,
        "{}",
        status.config_generation
    );
}

#[tokio::test]
async fn sighup_swaps_the_server_certificate_and_client_ca_without_dropping_live_clients() {
    let old = Pki::new();
    let new = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&old, state.path(), &DaemonOptions::default());
    let mut live = d.accounts(&old.admin()).await;
    live.list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap();

    // Replace the files the config names with the new PKI's, then reload.
    for f in ["server.pem", "server.key", "ca.pem"] {
        std::fs::copy(new.path().join(f), old.path().join(f)).unwrap();
    }
    d.hup();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if try_read(&d, &new.admin()).await.is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new PKI was not accepted after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The connection made before the reload keeps working.
    live.list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap();
    // A new connection with a client certificate of the old CA is refused.
    let err = try_read(&d, &old.admin()).await.unwrap_err();
    assert!(refused_in_handshake(&err), "{err}");
}
