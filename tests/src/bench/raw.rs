//! A cheap ListAccounts caller for the load generator: the real RPC, over its own mTLS HTTP/2
//! connections, spoken with the `h2` crate directly, and the answer kept as its encoded bytes.
//!
//! The load generator shares the daemon's two cores, so every microsecond it spends per page is
//! taken from the daemon. Through tonic a page cost the bench ~40 µs: a tower buffer task and a
//! per-request timer, a task that pipes each request body into its stream, a copy of the answer
//! into tonic's decode buffer, and prost decoding 100 accounts (`String`s and a map per account)
//! when the typed client is used. This caller sends the same gRPC request (path, `content-type`,
//! `te: trailers`, a length-prefixed protobuf message), with the same connection windows as
//! tonic's client, and checks what a gRPC client checks of every answer: HTTP status 200, one
//! length-prefixed uncompressed message of exactly the bytes received, and `grpc-status: 0` in the
//! trailers (or a Trailers-Only error). Every `VERIFY_EVERY`th answer is also decoded and checked
//! to be the page that was asked for.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, Method, Request};
use prost::Message as _;
use roster_proto::v1::{ListAccountsRequest, ListAccountsResponse};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tonic::Status;

/// One answer in this many is decoded and checked; the rest are checked as gRPC frames only.
pub const VERIFY_EVERY: u64 = 64;

const LIST_ACCOUNTS: &str = "https://localhost/roster.v1.AccountService/ListAccounts";

/// hyper's HTTP/2 client windows, which tonic's channels use: answers are never held back for
/// want of a WINDOW_UPDATE, in this client or in tonic's.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;

/// One mTLS HTTP/2 connection to the daemon; callers clone it to open streams on it.
#[derive(Clone)]
pub struct H2Connection {
    send: h2::client::SendRequest<Bytes>,
}

impl H2Connection {
    /// Connects with the admin profile in `pki` (`ca.pem`, `admin/cert.pem`, `admin/key.pem`),
    /// verifying the daemon's certificate for `localhost`, and drives the connection on a task.
    pub async fn connect(
        addr: std::net::SocketAddr,
        pki: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(pki.join("ca.pem")).context("ca.pem")? {
            roots.add(ca.context("ca.pem")?)?;
        }
        let chain = CertificateDer::pem_file_iter(pki.join("admin/cert.pem"))
            .context("admin/cert.pem")?
            .collect::<Result<Vec<_>, _>>()
            .context("admin/cert.pem")?;
        let key =
            PrivateKeyDer::from_pem_file(pki.join("admin/key.pem")).context("admin/key.pem")?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let tcp = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .context("connect timed out")??;
        tcp.set_nodelay(true)?;
        let io = tokio_rustls::TlsConnector::from(Arc::new(tls))
            .connect(ServerName::try_from("localhost")?, tcp)
            .await
            .context("TLS handshake with rosterd")?;
        let (send, connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .handshake(io)
            .await
            .context("HTTP/2 handshake with rosterd")?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("bench HTTP/2 connection ended: {e}");
            }
        });
        Ok(Self { send })
    }
}

/// A ListAccounts caller that checks every answer's framing and status, and decodes one answer
/// in `VERIFY_EVERY`.
pub struct ListAccountsRaw {
    conn: H2Connection,
    /// The gRPC message (5-byte prefix + protobuf), the same for every call.
    body: Bytes,
    page_size: i32,
    calls: u64,
}

impl ListAccountsRaw {
    pub fn new(conn: &H2Connection, page_size: i32) -> Self {
        let message = ListAccountsRequest {
            page_size,
            ..Default::default()
        }
        .encode_to_vec();
        let mut body = BytesMut::with_capacity(5 + message.len());
        body.put_u8(0); // not compressed
        body.put_u32(u32::try_from(message.len()).unwrap_or(u32::MAX));
        body.put_slice(&message);
        Self {
            conn: conn.clone(),
            body: body.freeze(),
            page_size,
            calls: 0,
        }
    }

    /// Asks for the first page; the answer must be a well-framed OK gRPC answer, and a sampled
    /// one must hold `page_size` accounts and a total of at least that many.
    pub async fn call(&mut self) -> Result<(), Status> {
        let h2 = |e: h2::Error| Status::unavailable(format!("HTTP/2: {e}"));
        let request = Request::builder()
            .method(Method::POST)
            .uri(LIST_ACCOUNTS)
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .map_err(|e| Status::internal(format!("building the request: {e}")))?;
        let mut send = self.conn.send.clone().ready().await.map_err(h2)?;
        let (answer, mut stream) = send.send_request(request, false).map_err(h2)?;
        stream.send_data(self.body.clone(), true).map_err(h2)?;
        let answer = answer.await.map_err(h2)?;
        if answer.status() != http::StatusCode::OK {
            return Err(Status::unknown(format!("HTTP status {}", answer.status())));
        }
        // Trailers-Only: an error answer carries its status in the headers and no body.
        if answer.headers().contains_key("grpc-status") {
            return grpc_status(answer.headers());
        }
        let mut body = answer.into_body();
        let sampled = (self.calls + 1).is_multiple_of(VERIFY_EVERY);
        let mut kept = BytesMut::new();
        let mut prefix = [0u8; 5];
        let mut received = 0usize;
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(h2)?;
            for (i, b) in chunk
                .iter()
                .take(5usize.saturating_sub(received))
                .enumerate()
            {
                prefix[received + i] = *b;
            }
            received += chunk.len();
            body.flow_control()
                .release_capacity(chunk.len())
                .map_err(h2)?;
            if sampled {
                kept.extend_from_slice(&chunk);
            }
        }
        let trailers = body.trailers().await.map_err(h2)?.unwrap_or_default();
        grpc_status(&trailers)?;
        let [flag, len @ ..] = prefix;
        let declared = u32::from_be_bytes(len) as usize;
        if received < 5 || flag != 0 || received != 5 + declared {
            return Err(Status::internal(format!(
                "answer is not one uncompressed gRPC message: {received} bytes, prefix {prefix:?}"
            )));
        }
        self.calls += 1;
        if sampled {
            verify(kept.freeze().slice(5..), self.page_size)?;
        }
        Ok(())
    }
}

/// `grpc-status` 0 is OK; anything else (or none) is the error a gRPC client would report.
fn grpc_status(headers: &HeaderMap) -> Result<(), Status> {
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok());
    match code {
        Some(0) => Ok(()),
        Some(code) => {
            let message = headers
                .get("grpc-message")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            Err(Status::new(tonic::Code::from(code), message.to_string()))
        }
        None => Err(Status::internal("answer without grpc-status")),
    }
}

fn verify(bytes: Bytes, page_size: i32) -> Result<(), Status> {
    let page = ListAccountsResponse::decode(bytes)
        .map_err(|e| Status::internal(format!("answer is not a ListAccountsResponse: {e}")))?;
    let want = usize::try_from(page_size).unwrap_or(0);
    let ok = page.accounts.len() == want
        && page.total_size >= page_size
        && page.accounts.iter().all(|a| !a.id.is_empty());
    if ok {
        Ok(())
    } else {
        Err(Status::internal(format!(
            "expected a page of {want} accounts, got {} (total_size {})",
            page.accounts.len(),
            page.total_size
        )))
    }
}
