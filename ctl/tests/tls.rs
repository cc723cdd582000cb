//! The real `rosterctl` binary against a real mTLS (TLS 1.3) gRPC server built from the same
//! protos and PKI code as the daemon. The server here is a stub of `AdminService` only: it
//! exists to check what the CLI does with real TLS failures (which with TLS 1.3 arrive on the
//! first RPC, not on connect), real statuses and a real backup stream. The full daemon is
//! exercised by the end-to-end tests in `tests/`.

// Test-only helpers (outside #[test] fns) may fail loudly: a panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime};

use roster_proto::v1::admin_service_server::{AdminService, AdminServiceServer};
use roster_proto::v1::{
    BackupChunk, BackupRequest, GetStatusRequest, ListAuditEventsRequest, ListAuditEventsResponse,
    RotateEncryptionKeyRequest, RotateEncryptionKeyResponse, Status,
};
use rosterd::pki::{self, Role};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response};

/// Backup payload the stub streams; `BAD_SHA` makes it announce a wrong checksum.
const PAYLOAD: &[u8] = b"redb-backup-bytes-0123456789";

struct Stub {
    bad_sha: bool,
}

#[tonic::async_trait]
impl AdminService for Stub {
    async fn get_status(
        &self,
        _r: Request<GetStatusRequest>,
    ) -> Result<Response<Status>, tonic::Status> {
        Ok(Response::new(Status {
            version: "stub-1".into(),
            principal: "admin".into(),
            role: "admin".into(),
            ..Default::default()
        }))
    }

    type BackupStream = tokio_stream::Iter<std::vec::IntoIter<Result<BackupChunk, tonic::Status>>>;

    async fn backup(
        &self,
        _r: Request<BackupRequest>,
    ) -> Result<Response<Self::BackupStream>, tonic::Status> {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(PAYLOAD);
        let sha = if self.bad_sha {
            "00".repeat(32)
        } else {
            hex::encode(ctx.finish().as_ref())
        };
        let (a, b) = PAYLOAD.split_at(10);
        let chunks = vec![
            Ok(BackupChunk {
                data: a.to_vec(),
                ..Default::default()
            }),
            Ok(BackupChunk {
                data: b.to_vec(),
                total_size: PAYLOAD.len() as u64,
                sha256: sha,
            }),
        ];
        Ok(Response::new(tokio_stream::iter(chunks)))
    }

    async fn rotate_encryption_key(
        &self,
        _r: Request<RotateEncryptionKeyRequest>,
    ) -> Result<Response<RotateEncryptionKeyResponse>, tonic::Status> {
        Err(tonic::Status::permission_denied(
            "role viewer may not call RotateEncryptionKey",
        ))
    }

    async fn list_audit_events(
        &self,
        _r: Request<ListAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, tonic::Status> {
        Ok(Response::new(ListAuditEventsResponse::default()))
    }
}

/// Starts the stub with the PKI in `dir`; returns its https URL.
async fn serve(dir: &Path, bad_sha: bool) -> String {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(read("server.pem"), read("server.key")))
        .client_ca_root(Certificate::from_pem(read("ca.pem")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = Server::builder()
        .tls_config(tls)
        .unwrap()
        .add_service(AdminServiceServer::new(Stub { bad_sha }));
    tokio::spawn(server.serve_with_incoming(TcpListenerStream::new(listener)));
    format!("https://127.0.0.1:{port}")
}

async fn ctl(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_rosterctl"))
        .args(args)
        .env_remove("ROSTER_ADDR")
        .env_remove("ROSTER_PROFILE")
        .env_remove("ROSTER_CA")
        .env_remove("ROSTER_CERT")
        .env_remove("ROSTER_KEY")
        .output()
        .await
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 1 and exactly one `error: ` line.
fn assert_one_error_line(o: &Output) -> String {
    let e = stderr(o);
    eprintln!("{e}");
    assert_eq!(o.status.code(), Some(1), "stderr: {e}");
    let e = e.lines().last().unwrap_or_default().to_owned() + "\n";
    eprintln!("{}", stderr(o));
    assert!(e.starts_with("error: "), "{e}");
    e
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    addr: String,
}

async fn fixture(bad_sha: bool) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    pki::init(&dir, &[]).unwrap();
    let addr = serve(&dir, bad_sha).await;
    Fixture {
        _tmp: tmp,
        dir,
        addr,
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn a_good_profile_gets_answers_as_table_and_json() {
    let f = fixture(false).await;
    let admin = f.dir.join("admin");
    let o = ctl(&["--addr", &f.addr, "--profile", s(&admin), "status"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("stub-1") && out.contains("admin (admin)"),
        "{out}"
    );

    let o = ctl(&[
        "--addr",
        &f.addr,
        "--profile",
        s(&admin),
        "status",
        "-o",
        "json",
    ])
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], "stub-1");

    // Explicit files instead of a profile.
    let o = ctl(&[
        "--addr",
        &f.addr,
        "--ca",
        s(&f.dir.join("ca.pem")),
        "--cert",
        s(&admin.join("cert.pem")),
        "--key",
        s(&admin.join("key.pem")),
        "audit",
    ])
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
}

#[tokio::test]
async fn no_client_certificate_is_reported_as_such() {
    let f = fixture(false).await;
    let o = ctl(&[
        "--addr",
        &f.addr,
        "--ca",
        s(&f.dir.join("ca.pem")),
        "status",
    ])
    .await;
    let e = assert_one_error_line(&o);
    assert!(e.contains("CertificateRequired"), "{e}");
    assert!(!e.contains("transport error"), "{e}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_reported_as_unknown() {
    let f = fixture(false).await;
    let other = f.dir.parent().unwrap().join("other");
    pki::init(&other, &[]).unwrap();
    let o = ctl(&[
        "--addr",
        &f.addr,
        "--profile",
        s(&f.dir.join("admin")),
        "--cert",
        s(&other.join("admin/cert.pem")),
        "--key",
        s(&other.join("admin/key.pem")),
        "status",
    ])
    .await;
    let e = assert_one_error_line(&o);
    assert!(e.contains("UnknownCA"), "{e}");
}

#[tokio::test]
async fn an_expired_certificate_is_reported_as_expired() {
    let f = fixture(false).await;
    let out = f.dir.parent().unwrap().join("expired");
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    pki::issue_client_with_validity(&f.dir, "old", Role::Viewer, &out, now - day * 10, now - day)
        .unwrap();
    let o = ctl(&["--addr", &f.addr, "--profile", s(&out), "status"]).await;
    let e = assert_one_error_line(&o);
    assert!(e.to_lowercase().contains("expired"), "{e}");
}

#[tokio::test]
async fn a_server_from_another_ca_is_refused_by_the_client() {
    let f = fixture(false).await;
    let other = f.dir.parent().unwrap().join("other");
    pki::init(&other, &[]).unwrap();
    let o = ctl(&[
        "--addr",
        &f.addr,
        "--profile",
        s(&other.join("admin")),
        "status",
    ])
    .await;
    let e = assert_one_error_line(&o);
    assert!(e.contains("UnknownIssuer"), "{e}");
}

#[tokio::test]
async fn server_statuses_print_code_and_message() {
    let f = fixture(false).await;
    let o = ctl(&[
        "--addr",
        &f.addr,
        "--profile",
        s(&f.dir.join("admin")),
        "key",
        "rotate",
    ])
    .await;
    let e = assert_one_error_line(&o);
    assert_eq!(
        e.trim_end(),
        "error: PERMISSION_DENIED: role viewer may not call RotateEncryptionKey"
    );
    // A service the stub does not serve.
    let o = ctl(&[
        "--addr",
        &f.addr,
        "--profile",
        s(&f.dir.join("admin")),
        "funds",
    ])
    .await;
    let e = assert_one_error_line(&o);
    assert!(e.starts_with("error: UNIMPLEMENTED"), "{e}");
}

#[tokio::test]
async fn backup_is_verified_then_renamed() {
    let f = fixture(false).await;
    let out = f.dir.parent().unwrap().join("b.redb");
    let o = ctl(&[
        "--addr",
        &f.addr,
        "--profile",
        s(&f.dir.join("admin")),
        "backup",
        "--out",
        s(&out),
    ])
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), PAYLOAD);
    assert!(!out.with_file_name("b.redb.partial").exists());
    assert!(String::from_utf8_lossy(&o.stdout).contains("verified"));

    let bad = fixture(true).await;
    let out = bad.dir.parent().unwrap().join("c.redb");
    let o = ctl(&[
        "--addr",
        &bad.addr,
        "--profile",
        s(&bad.dir.join("admin")),
        "backup",
        "--out",
        s(&out),
    ])
    .await;
    let e = assert_one_error_line(&o);
    assert!(e.contains("corrupt"), "{e}");
    assert!(!out.exists());
    assert!(!out.with_file_name("c.redb.partial").exists());
}

#[tokio::test]
async fn connection_refused_is_plain() {
    let tmp = tempfile::tempdir().unwrap();
    pki::init(tmp.path(), &[]).unwrap();
    // Bind then drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = ctl(&[
        "--addr",
        &format!("https://127.0.0.1:{port}"),
        "--profile",
        s(&tmp.path().join("admin")),
        "status",
    ])
    .await;
    let e = assert_one_error_line(&o);
    assert!(e.to_lowercase().contains("connection refused"), "{e}");
}
