//! Identity: who may do what, and that every refusal is recorded.
//!
//! - A viewer tries every write RPC (Create/Update/Delete/TestConnection, CheckNow, Backup,
//!   RotateEncryptionKey, ListAuditEvents) and an operator every admin RPC: each is
//!   PERMISSION_DENIED, changes nothing, and leaves an audit record naming the real principal.
//! - Identity claims in request metadata (`x-roster-principal: admin`, `x-roster-role: admin`,
//!   `authorization`, a forged `x-client-cert`) are ignored: the daemon still sees the viewer.
//! - Expired, not-yet-valid and revoked certificates are refused in the TLS handshake and
//!   audited under their (CA-signed) principal, once per reason and interval; no certificate and
//!   a foreign CA are refused in the handshake too (there is no verified principal to audit, so
//!   the daemon logs each refusal with the peer address) and leave no audit record.

use std::time::Duration;

use roster_proto::pbjson_types::FieldMask;
use roster_proto::v1 as pb;
use rosterd::pki::Role;
use tonic::Code;
use tonic::metadata::MetadataValue;

use crate::harness::{Daemon, DaemonOptions, Pki, new_account};

/// Adds forged identity claims to a request.
fn forged<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    let md = r.metadata_mut();
    for (k, v) in [
        ("x-roster-principal", "admin"),
        ("x-roster-role", "admin"),
        ("x-forwarded-client-cert", "Subject=\"CN=admin,OU=admin\""),
        ("x-client-cert", "CN=admin"),
        ("authorization", "Bearer admin"),
        ("x-ssl-client-s-dn", "CN=admin,OU=admin"),
    ] {
        md.insert(k, MetadataValue::from_static(v));
    }
    r
}

/// Every write/admin RPC as `profile`, with forged admin claims; returns (rpc, status) pairs.
async fn try_every_write(
    d: &Daemon,
    profile: &std::path::Path,
    id: &str,
) -> Vec<(String, tonic::Status)> {
    let mut a = d.accounts(profile).await;
    let mut m = d.monitor(profile).await;
    let mut ad = d.admin(profile).await;
    let mut out = Vec::new();
    let mut push = |rpc: &str, r: Result<(), tonic::Status>| match r {
        Ok(()) => panic!("{rpc} was allowed"),
        Err(s) => out.push((rpc.to_string(), s)),
    };
    push(
        "AccountService/CreateAccount",
        a.create_account(forged(new_account("intruder", "intruder-key-123456")))
            .await
            .map(|_| ()),
    );
    push(
        "AccountService/UpdateAccount",
        a.update_account(forged(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: id.into(),
                name: "renamed".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["name".into()],
            }),
            api_key: String::new(),
            ..Default::default()
        }))
        .await
        .map(|_| ()),
    );
    push(
        "AccountService/DeleteAccount",
        a.delete_account(forged(pb::DeleteAccountRequest {
            account: id.into(),
            etag: String::new(),
        }))
        .await
        .map(|_| ()),
    );
    push(
        "AccountService/TestConnection",
        a.test_connection(forged(pb::TestConnectionRequest {
            account: id.into(),
            ..Default::default()
        }))
        .await
        .map(|_| ()),
    );
    push(
        "MonitorService/CheckNow",
        m.check_now(forged(pb::CheckNowRequest { account: id.into() }))
            .await
            .map(|_| ()),
    );
    // A server stream: the refusal comes back as the call's status.
    let backup = match ad.backup(forged(pb::BackupRequest {})).await {
        Ok(mut s) => s.get_mut().message().await.map(|_| ()),
        Err(s) => Err(s),
    };
    push("AdminService/Backup", backup);
    push(
        "AdminService/RotateEncryptionKey",
        ad.rotate_encryption_key(forged(pb::RotateEncryptionKeyRequest {}))
            .await
            .map(|_| ()),
    );
    push(
        "AdminService/ListAuditEvents",
        ad.list_audit_events(forged(pb::ListAuditEventsRequest::default()))
            .await
            .map(|_| ()),
    );
    out
}

#[tokio::test]
async fn every_write_by_a_lesser_role_is_refused_audited_and_forged_claims_are_ignored() {
    let pki = Pki::new();
    let (viewer, _) = pki.issue("eve-viewer", Role::Viewer);
    let (operator, _) = pki.issue("oscar-operator", Role::Operator);
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let admin = pki.admin();
    let mut c = d.accounts(&admin).await;
    let acct = c
        .create_account(new_account("target-1", "target-key-abcdef123456"))
        .await
        .unwrap()
        .into_inner();
    let mut ad = d.admin(&admin).await;
    let status_before = ad
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let audit_before = d.all_audit(&admin).await.len();

    // Forged claims do not change who the daemon thinks is calling.
    let me = d
        .admin(&viewer)
        .await
        .get_status(forged(pb::GetStatusRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (me.principal.as_str(), me.role.as_str()),
        ("eve-viewer", "viewer")
    );

    let viewer_refusals = try_every_write(&d, &viewer, &acct.id).await;
    assert_eq!(viewer_refusals.len(), 8);
    for (rpc, s) in &viewer_refusals {
        assert_eq!(s.code(), Code::PermissionDenied, "viewer {rpc}: {s:?}");
        assert!(
            s.message().contains("role viewer"),
            "{rpc}: {}",
            s.message()
        );
    }
    // An operator may do the account writes and CheckNow, but not the admin RPCs.
    let mut ad_op = d.admin(&operator).await;
    let mut operator_refusals = Vec::new();
    match ad_op.backup(forged(pb::BackupRequest {})).await {
        Ok(mut s) => operator_refusals.push((
            "AdminService/Backup",
            s.get_mut().message().await.unwrap_err(),
        )),
        Err(s) => operator_refusals.push(("AdminService/Backup", s)),
    }
    operator_refusals.push((
        "AdminService/RotateEncryptionKey",
        ad_op
            .rotate_encryption_key(forged(pb::RotateEncryptionKeyRequest {}))
            .await
            .unwrap_err(),
    ));
    operator_refusals.push((
        "AdminService/ListAuditEvents",
        ad_op
            .list_audit_events(forged(pb::ListAuditEventsRequest::default()))
            .await
            .unwrap_err(),
    ));
    for (rpc, s) in &operator_refusals {
        assert_eq!(s.code(), Code::PermissionDenied, "operator {rpc}: {s:?}");
    }

    // Nothing changed: the account, the key id, no stray backup files, no new accounts.
    let after = c
        .get_account(pb::GetAccountRequest {
            account: acct.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after, acct);
    let status_after = ad
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status_after.active_key_id, status_before.active_key_id);
    assert_eq!(status_after.account_count, 1);
    assert!(
        std::fs::read_dir(state.path())
            .unwrap()
            .filter_map(Result::ok)
            .all(|e| !e.file_name().to_string_lossy().contains("backup-")),
        "a refused backup left a snapshot behind"
    );

    // Each refusal is audited under the real principal and role, naming the RPC.
    let audit = d.all_audit(&admin).await;
    let new: Vec<_> = audit[..audit.len() - audit_before].to_vec();
    assert_eq!(new.len(), 8 + 3, "{new:#?}");
    for (principal, role, rpcs) in [
        (
            "eve-viewer",
            "viewer",
            viewer_refusals
                .iter()
                .map(|(r, _)| r.as_str())
                .collect::<Vec<_>>(),
        ),
        (
            "oscar-operator",
            "operator",
            operator_refusals.iter().map(|(r, _)| *r).collect(),
        ),
    ] {
        for rpc in rpcs {
            let hit = new.iter().find(|e| {
                e.principal == principal
                    && e.outcome
                        .contains(&format!("{rpc}: refused: permission denied"))
            });
            let e =
                hit.unwrap_or_else(|| panic!("no audit record for {principal} {rpc}: {new:#?}"));
            assert_eq!(e.role, role);
        }
    }
    assert!(
        new.iter().all(|e| e.principal != "admin"),
        "a forged claim reached the audit trail"
    );
}

#[tokio::test]
async fn bad_certificates_are_refused_and_each_refusal_is_recorded() {
    let pki = Pki::new();
    let (revoked, serial) = pki.issue("rita-revoked", Role::Admin);
    let expired = pki.issue_expired("eddie-expired", Role::Admin);
    let future = pki.issue_not_yet_valid("fiona-future", Role::Admin);
    let other = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            revoked: vec![serial],
            ..Default::default()
        },
    );
    let admin = pki.admin();

    // Certificates that verify but may not be used: refused in the handshake, forged claims or
    // not, nothing is created, and the attempt is audited under the certificate's principal.
    for (name, profile, why) in [
        ("rita-revoked", &revoked, "refused: certificate revoked"),
        ("eddie-expired", &expired, "refused: certificate expired"),
        (
            "fiona-future",
            &future,
            "refused: certificate not valid yet",
        ),
    ] {
        for _ in 0..3 {
            let served = async {
                let ch = d.channel(profile).await?;
                pb::account_service_client::AccountServiceClient::new(ch)
                    .create_account(forged(new_account(
                        &format!("by-{name}"),
                        "bad-cert-key-123456",
                    )))
                    .await?;
                Ok::<_, Box<dyn std::error::Error>>(())
            }
            .await;
            assert!(served.is_err(), "{name} was served");
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let audit = d.all_audit(&admin).await;
            let mine: Vec<_> = audit.iter().filter(|e| e.principal == name).collect();
            if !mine.is_empty() {
                assert_eq!(
                    mine.len(),
                    1,
                    "one record per reason and interval: {mine:#?}"
                );
                assert!(mine[0].outcome.contains(why), "{name}: {mine:#?}");
                assert_eq!(mine[0].target, "TLS handshake", "{name}: {mine:#?}");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: not audited: {audit:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // No certificate, or one from another CA: refused in the handshake.
    let audit_before = d.all_audit(&admin).await.len();
    assert!(
        d.channel(&other.admin()).await.is_err() || {
            // The handshake error may surface on the first call instead.
            let ch = d.channel(&other.admin()).await.unwrap();
            pb::account_service_client::AccountServiceClient::new(ch)
                .list_accounts(pb::ListAccountsRequest::default())
                .await
                .is_err()
        }
    );
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(
            std::fs::read(pki.path().join("ca.pem")).unwrap(),
        ))
        .domain_name("localhost");
    let anon = async {
        let ch = tonic::transport::Channel::from_shared(d.url())
            .unwrap()
            .tls_config(tls)?
            .connect()
            .await?;
        pb::account_service_client::AccountServiceClient::new(ch)
            .create_account(forged(new_account("anon", "anon-key-1234567890")))
            .await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .await;
    assert!(anon.is_err(), "a client without a certificate was served");
    // Each handshake refusal is in the log with the peer address.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let refused = d.stderr().matches("TLS handshake refused").count();
        if refused >= 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "handshake refusals not logged ({refused}):\n{}",
            d.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let audit = d.all_audit(&admin).await;
    assert_eq!(
        audit.len(),
        audit_before,
        "no principal, no audit record: {audit:#?}"
    );
    let accounts = d.all_accounts(&admin).await;
    assert!(accounts.is_empty(), "{accounts:?}");
}
