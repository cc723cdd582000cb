//! The connection to the daemon: resolves which CA/certificate/key to use (flags over profile),
//! opens a TLS 1.3 mTLS connection (rustls, ALPN h2) under a tonic channel, and hands out the
//! typed roster.v1 clients.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use hyper_util::rt::TokioIo;
use roster_proto::v1::account_service_client::AccountServiceClient;
use roster_proto::v1::admin_service_client::AdminServiceClient;
use roster_proto::v1::monitor_service_client::MonitorServiceClient;
use roster_proto::v1::portfolio_service_client::PortfolioServiceClient;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::{Channel, Endpoint};

use crate::cli::ConnArgs;

/// How long to wait for TCP + TLS before giving up; a daemon on the LAN answers far faster.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a post-failure probe waits for the daemon's verdict (see [`Client::diagnose`]).
const DIAGNOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Files to present and trust, after merging `--profile` with `--ca/--cert/--key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    /// Certificate and key; `None` connects without a client certificate (the daemon will
    /// refuse, and saying so clearly is more useful than refusing to try).
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// Merges the profile directory with explicit flags; explicit flags win file by file.
pub fn resolve_tls(conn: &ConnArgs) -> Result<TlsFiles> {
    let from_profile = |name: &str| conn.profile.as_ref().map(|d| d.join(name));
    let ca = conn.ca.clone().or_else(|| from_profile("ca.pem"));
    let cert = conn.cert.clone().or_else(|| from_profile("cert.pem"));
    let key = conn.key.clone().or_else(|| from_profile("key.pem"));
    if let Some(dir) = &conn.profile {
        // Say what is wrong: missing, unreadable and "a file, not a directory" need different fixes.
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => bail!(
                "profile {} is not a directory (expected ca.pem, cert.pem and key.pem in it)",
                dir.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "profile {} does not exist (`rosterd --dev` prints its admin profile; `rosterctl pki issue --out DIR` makes one)",
                dir.display()
            ),
            Err(e) => bail!("cannot read profile {}: {e}", dir.display()),
        }
    }
    let Some(ca) = ca else {
        bail!(
            "no CA to verify the daemon with: pass --profile DIR (e.g. .roster-dev/admin, as \
             `rosterd --dev` prints) or --ca FILE --cert FILE --key FILE"
        );
    };
    let identity = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        (Some(_), None) => bail!("--cert given without --key"),
        (None, Some(_)) => bail!("--key given without --cert"),
    };
    Ok(TlsFiles { ca, identity })
}

/// `https://host:port` from what the user typed; a bare `host:port` means https. Plain http is
/// refused because the daemon only speaks mTLS and a silent downgrade would hide that.
pub fn normalize_addr(addr: &str) -> Result<(String, String)> {
    let addr = addr.trim();
    let url = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("https://{addr}")
    };
    let uri: http::Uri = url
        .parse()
        .with_context(|| format!("invalid --addr {addr:?}"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some(other) => {
            bail!("invalid --addr {addr:?}: scheme {other} (the daemon only speaks https)")
        }
        None => bail!("invalid --addr {addr:?}"),
    }
    let host = uri
        .host()
        .ok_or_else(|| anyhow!("invalid --addr {addr:?}: no host"))?;
    // The TLS server name: an IPv6 literal without its URL brackets.
    let domain = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok((url, domain))
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// The rustls client settings: TLS 1.3 only (as the daemon), HTTP/2 via ALPN, the given CA as
/// the only trust anchor, and the client certificate when there is one.
pub fn tls_config(files: &TlsFiles) -> Result<rustls::ClientConfig> {
    let ca_pem = read(&files.ca, "CA certificate")?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca_pem) {
        let cert =
            cert.with_context(|| format!("CA certificate {}: not PEM", files.ca.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("CA certificate {}: not usable", files.ca.display()))?;
    }
    if roots.is_empty() {
        bail!(
            "CA certificate {}: no certificate in it",
            files.ca.display()
        );
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("TLS 1.3 is not available")?
        .with_root_certificates(roots);
    let mut config = match &files.identity {
        Some((cert, key)) => {
            let cert_pem = read(cert, "client certificate")?;
            let chain = CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("client certificate {}: not PEM", cert.display()))?;
            if chain.is_empty() {
                bail!(
                    "client certificate {}: no certificate in it",
                    cert.display()
                );
            }
            let key_pem = read(key, "client key")?;
            let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
                .with_context(|| format!("client key {}: no private key in it", key.display()))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .with_context(|| {
                    format!(
                        "client key {} does not fit certificate {}",
                        key.display(),
                        cert.display()
                    )
                })?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// The first I/O errors seen on the connection, shared between the connection and the caller.
/// Reads and writes are kept apart: a write can fail with "broken pipe" while the reason (the
/// peer's TLS alert) is still waiting to be read, so a read error is the better explanation.
#[derive(Debug, Default)]
struct Seen {
    read: Option<String>,
    write: Option<String>,
}

type Slot = Arc<Mutex<Seen>>;

/// A TLS stream that remembers its first errors. With TLS 1.3 the daemon's verdict on our
/// certificate (an alert such as UnknownCA or CertificateExpired) arrives on the first read,
/// inside hyper's connection task, and the RPC only sees "connection closed"; this keeps the
/// real cause so it can be reported.
struct Recorded<S> {
    inner: S,
    slot: Slot,
}

impl<S> Recorded<S> {
    fn record<T>(&self, r: Poll<std::io::Result<T>>, read: bool) -> Poll<std::io::Result<T>> {
        if let Poll::Ready(Err(e)) = &r
            && let Ok(mut seen) = self.slot.lock()
        {
            let place = if read {
                &mut seen.read
            } else {
                &mut seen.write
            };
            if place.is_none() {
                *place = Some(e.to_string());
            }
        }
        r
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.record(r, true)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.record(r, false)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.record(r, false)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.record(r, false)
    }
}

/// TCP + TLS done here rather than by tonic, so the stream can be [`Recorded`].
#[derive(Clone)]
struct Connector {
    host: String,
    port: u16,
    server_name: ServerName<'static>,
    tls: tokio_rustls::TlsConnector,
    slot: Slot,
}

type Io = TokioIo<Recorded<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>>;

impl tower::Service<http::Uri> for Connector {
    type Response = Io;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Io>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: http::Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let tcp = tokio::net::TcpStream::connect((this.host.as_str(), this.port)).await?;
            // gRPC is request/response: do not let Nagle hold back small frames.
            let _ = tcp.set_nodelay(true);
            let tls = this.tls.connect(this.server_name, tcp).await?;
            Ok(TokioIo::new(Recorded {
                inner: tls,
                slot: this.slot,
            }))
        })
    }
}

/// Largest answer accepted: the daemon's own limit (64 MiB). A consolidated order book of a
/// large fleet is several MiB, past tonic's default of 4 MiB.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// A connected channel plus the typed clients on top of it (cheap clones of one channel).
/// Adds `x-roster-tenant` to every request when `--tenant` is given: the daemon then scopes a
/// global admin to that tenant (and refuses any other tenant's certificate naming another).
#[derive(Clone, Default)]
pub struct TenantHeader(Option<tonic::metadata::AsciiMetadataValue>);

impl tonic::service::Interceptor for TenantHeader {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(t) = &self.0 {
            req.metadata_mut().insert("x-roster-tenant", t.clone());
        }
        Ok(req)
    }
}

type Scoped = tonic::codegen::InterceptedService<Channel, TenantHeader>;

#[derive(Clone)]
pub struct Client {
    channel: Channel,
    tenant: TenantHeader,
    slot: Slot,
    connector: Connector,
    pub addr: String,
}

impl Client {
    /// Connects (TCP + TLS handshake) with a 5 s timeout.
    pub async fn connect(conn: &ConnArgs) -> Result<Self> {
        let (url, domain) = normalize_addr(&conn.addr)?;
        let files = resolve_tls(conn)?;
        let tls = tls_config(&files)?;
        let uri: http::Uri = url
            .parse()
            .with_context(|| format!("invalid --addr {url:?}"))?;
        let port = uri.port_u16().unwrap_or(443);
        let server_name = ServerName::try_from(domain.clone())
            .with_context(|| format!("invalid --addr {url:?}: bad host name"))?;
        let slot: Slot = Arc::default();
        let connector = Connector {
            host: domain,
            port,
            server_name,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            slot: slot.clone(),
        };
        let diag = connector.clone();
        // TLS happens in the connector, so tonic sees plain http; `origin` keeps the request
        // URIs (`:scheme`, `:authority`) what the user asked for.
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        let endpoint = Endpoint::from_shared(format!("http://{authority}"))
            .with_context(|| format!("invalid --addr {url:?}"))?
            .origin(uri)
            .connect_timeout(CONNECT_TIMEOUT);
        let channel = tokio::time::timeout(
            CONNECT_TIMEOUT * 2,
            endpoint.connect_with_connector(connector),
        )
        .await
        .map_err(|_| anyhow!("timed out after {}s", (CONNECT_TIMEOUT * 2).as_secs()))
        .and_then(|r| r.map_err(anyhow::Error::from))
        .with_context(|| format!("cannot connect to {url}"))?;
        let tenant = match &conn.tenant {
            None => TenantHeader(None),
            Some(t) => {
                TenantHeader(Some(t.parse().map_err(|_| {
                    anyhow!("invalid --tenant {t:?}: 1-64 of [a-z0-9._-]")
                })?))
            }
        };
        Ok(Self {
            channel,
            tenant,
            slot,
            connector: diag,
            addr: url,
        })
    }

    /// Replaces a transport-level failure ("connection closed", "broken pipe") by what
    /// actually broke the connection. A status the daemon sent on purpose is returned unchanged.
    pub async fn explain(&self, err: anyhow::Error) -> anyhow::Error {
        let server_status = err
            .chain()
            .filter_map(|c| c.downcast_ref::<tonic::Status>())
            .any(|s| std::error::Error::source(s).is_none() && s.code() != tonic::Code::Cancelled);
        let transport = err.chain().any(|c| {
            c.downcast_ref::<tonic::Status>().is_some()
                || c.downcast_ref::<tonic::transport::Error>().is_some()
        });
        if server_status || !transport {
            return err;
        }
        let seen_read = self.slot.lock().ok().and_then(|s| s.read.clone());
        let cause = match seen_read {
            Some(c) => Some(c),
            None => self.diagnose().await,
        };
        match cause {
            Some(cause) => {
                anyhow!("{cause}").context(format!("connection to {} failed", self.addr))
            }
            None => err,
        }
    }

    /// Opens a fresh connection and, without sending anything, waits briefly for the daemon's
    /// verdict on our certificate. Needed because on the failed connection our first request
    /// can race the daemon's alert: the daemon closes with our request unread, the kernel
    /// answers with a reset, and the alert is discarded before anyone reads it. Used only
    /// after a failure, so the success path pays nothing.
    async fn diagnose(&self) -> Option<String> {
        use tokio::io::AsyncReadExt;
        let c = &self.connector;
        let probe = async {
            let tcp = tokio::net::TcpStream::connect((c.host.as_str(), c.port)).await?;
            let mut tls = c.tls.connect(c.server_name.clone(), tcp).await?;
            let mut buf = [0u8; 512];
            match tls.read(&mut buf).await {
                Ok(0) => Err(std::io::Error::other(
                    "the daemon closed the connection right after the TLS handshake",
                )),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            }
        };
        match tokio::time::timeout(DIAGNOSE_TIMEOUT, probe).await {
            Ok(Err(e)) => Some(e.to_string()),
            // Data arrived, or nothing within the timeout: the daemon accepted us this time.
            Ok(Ok(())) | Err(_) => None,
        }
    }

    pub fn accounts(&self) -> AccountServiceClient<Scoped> {
        AccountServiceClient::with_interceptor(self.channel.clone(), self.tenant.clone())
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
    }

    pub fn monitor(&self) -> MonitorServiceClient<Scoped> {
        MonitorServiceClient::with_interceptor(self.channel.clone(), self.tenant.clone())
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
    }

    pub fn portfolio(&self) -> PortfolioServiceClient<Scoped> {
        PortfolioServiceClient::with_interceptor(self.channel.clone(), self.tenant.clone())
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
    }

    pub fn admin(&self) -> AdminServiceClient<Scoped> {
        AdminServiceClient::with_interceptor(self.channel.clone(), self.tenant.clone())
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(
        profile: Option<&Path>,
        ca: Option<&str>,
        cert: Option<&str>,
        key: Option<&str>,
    ) -> ConnArgs {
        ConnArgs {
            addr: "https://127.0.0.1:50051".into(),
            profile: profile.map(Path::to_owned),
            ca: ca.map(PathBuf::from),
            cert: cert.map(PathBuf::from),
            key: key.map(PathBuf::from),
            tenant: None,
        }
    }

    #[test]
    fn profile_supplies_files_and_flags_override() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path();
        let files = resolve_tls(&conn(Some(p), None, None, None)).unwrap();
        assert_eq!(files.ca, p.join("ca.pem"));
        assert_eq!(
            files.identity,
            Some((p.join("cert.pem"), p.join("key.pem")))
        );
        let files = resolve_tls(&conn(Some(p), Some("/x/ca.pem"), None, Some("/x/k.pem"))).unwrap();
        assert_eq!(files.ca, PathBuf::from("/x/ca.pem"));
        assert_eq!(
            files.identity,
            Some((p.join("cert.pem"), PathBuf::from("/x/k.pem")))
        );
    }

    #[test]
    fn incomplete_settings_are_explained() {
        let e = resolve_tls(&conn(None, None, None, None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--profile"), "{e}");
        let e = resolve_tls(&conn(None, Some("/c"), Some("/x"), None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--key"), "{e}");
        let ok = resolve_tls(&conn(None, Some("/c"), None, None)).unwrap();
        assert_eq!(ok.identity, None);
        let e = resolve_tls(&conn(Some(Path::new("/nonexistent/p")), None, None, None))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/p") && e.contains("does not exist"),
            "{e}"
        );
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("cert.pem");
        std::fs::write(&file, "x").unwrap();
        let e = resolve_tls(&conn(Some(&file), None, None, None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a directory"), "{e}");
    }

    #[test]
    fn addresses_normalize() {
        assert_eq!(
            normalize_addr("127.0.0.1:50051").unwrap(),
            ("https://127.0.0.1:50051".into(), "127.0.0.1".into())
        );
        assert_eq!(normalize_addr("https://[::1]:5").unwrap().1, "::1");
        assert_eq!(
            normalize_addr("https://roster.internal").unwrap().1,
            "roster.internal"
        );
        assert!(
            normalize_addr("http://127.0.0.1:1")
                .unwrap_err()
                .to_string()
                .contains("https")
        );
        assert!(normalize_addr("https://").is_err());
    }
}
