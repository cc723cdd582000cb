//! Who is calling, and may they: the mTLS acceptor, the caller's identity from the verified client
//! certificate, roles per RPC, revocation, and the per-principal rate limit.
//!
//! TLS is terminated here rather than inside tonic so that (1) a stalled handshake is cut off by a
//! timeout in its own task and never blocks the accept loop, (2) the server certificate and client
//! CA can be swapped on reload without dropping live connections, (3) the client certificate is
//! parsed once per connection, not once per request, and (4) the answers to a connection's
//! concurrent requests leave together, in one TLS record and one syscall (`AuthedConn::corked`).
//!
//! Identity comes only from the verified leaf certificate (never from metadata): its Subject CN is
//! the principal and its Subject OU the role (see `pki`). A single certificate is revoked by
//! listing its serial in `[tls] revoked_serials`; the check runs on every request, so revocation
//! also cuts off connections that were open before the reload.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use futures::future::BoxFuture;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::{Instrument, debug, info, warn};

use crate::accounts::Accounts;
use crate::audit::Actor;
use crate::config::{LimitsConfig, TlsConfig};
use crate::pki::{ClientIdentity, Role, normalize_serial_hex};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("tls: {what} {path}: {message}")]
    File {
        what: &'static str,
        path: String,
        message: String,
    },
    #[error("tls: {0}")]
    Config(String),
}

fn file_err(what: &'static str, path: &Path, e: impl std::fmt::Display) -> AuthError {
    AuthError::File {
        what,
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// TLS 1.3 only, client certificate required and verified against `client_ca`, ALPN h2.
pub fn server_tls_config(
    cert: &Path,
    key: &Path,
    client_ca: &Path,
) -> Result<Arc<ServerConfig>, AuthError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_err("server certificate", cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err("server certificate", cert, e))?;
    if certs.is_empty() {
        return Err(file_err(
            "server certificate",
            cert,
            "no certificate in file",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err("server key", key, e))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in
        CertificateDer::pem_file_iter(client_ca).map_err(|e| file_err("client CA", client_ca, e))?
    {
        let ca = ca.map_err(|e| file_err("client CA", client_ca, e))?;
        roots
            .add(ca)
            .map_err(|e| file_err("client CA", client_ca, e))?;
    }
    if roots.is_empty() {
        return Err(file_err("client CA", client_ca, "no certificate in file"));
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| AuthError::Config(e.to_string()))?;
    let verifier = Arc::new(ValidityDeferred(verifier));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| AuthError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| AuthError::Config(format!("server certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Verifies the client's chain like webpki does, except that a certificate that is only outside
/// its validity window is let through the handshake (its chain and signatures still verified at a
/// moment inside the window). The request layer then refuses it with UNAUTHENTICATED and a
/// message that names the expiry, instead of a TLS alert that clients tend to report as
/// "broken pipe". No request is ever served on such a certificate.
#[derive(Debug)]
struct ValidityDeferred(Arc<dyn rustls::server::danger::ClientCertVerifier>);

impl rustls::server::danger::ClientCertVerifier for ValidityDeferred {
    fn offer_client_auth(&self) -> bool {
        self.0.offer_client_auth()
    }
    fn client_auth_mandatory(&self) -> bool {
        self.0.client_auth_mandatory()
    }
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.0.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        use rustls::CertificateError as E;
        match self.0.verify_client_cert(end_entity, intermediates, now) {
            Err(rustls::Error::InvalidCertificate(
                E::Expired
                | E::NotValidYet
                | E::ExpiredContext { .. }
                | E::NotValidYetContext { .. },
            )) => {
                let (not_before, _) = validity(end_entity.as_ref())
                    .ok_or(rustls::Error::InvalidCertificate(E::BadEncoding))?;
                let inside = not_before + Duration::from_secs(1);
                let secs = inside
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                self.0.verify_client_cert(
                    end_entity,
                    intermediates,
                    rustls::pki_types::UnixTime::since_unix_epoch(Duration::from_secs(secs)),
                )
            }
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// (not before, not after) of a DER certificate.
fn validity(der: &[u8]) -> Option<(SystemTime, SystemTime)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let at = |t: x509_parser::time::ASN1Time| {
        u64::try_from(t.timestamp())
            .ok()
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
    };
    Some((
        at(cert.validity().not_before)?,
        at(cert.validity().not_after)?,
    ))
}

/// Loads the TLS settings of a config, with paths already resolved.
pub fn tls_from_config(tls: &TlsConfig) -> Result<Arc<ServerConfig>, AuthError> {
    let need = |p: &Option<std::path::PathBuf>, name: &str| {
        p.clone()
            .ok_or_else(|| AuthError::Config(format!("[tls] {name} is not set")))
    };
    server_tls_config(
        &need(&tls.cert, "cert")?,
        &need(&tls.key, "key")?,
        &need(&tls.client_ca, "client_ca")?,
    )
}

// ---------------------------------------------------------------------------------------------
// Connections.

/// What the daemon knows about the peer of a connection, fixed at handshake time.
#[derive(Debug)]
pub struct PeerInfo {
    pub remote: SocketAddr,
    /// Why the (chain-verified) certificate gives no identity, if it does not.
    pub identity: Result<ClientIdentity, String>,
    /// Validity window of the leaf (checked per request; see `ValidityDeferred`).
    pub not_before: SystemTime,
}

/// The connection info tonic puts into every request's extensions.
#[derive(Debug, Clone)]
pub struct Peer(pub Arc<PeerInfo>);

/// A TLS connection whose client certificate has been verified; holds a connection slot.
/// (Generic over the byte stream only so that tests can drive the write coalescing.)
pub struct AuthedConn<IO = TlsStream<TcpStream>> {
    io: IO,
    peer: Peer,
    /// Set once the current burst of writes has waited its one turn (see [`AuthedConn::corked`]).
    uncorked: bool,
    _slot: OwnedSemaphorePermit,
}

impl<IO> AuthedConn<IO> {
    /// Write coalescing. Every HTTP/2 stream is answered by its own task, and each answer wakes
    /// the connection task, which would encrypt and `writev` it at once: one TLS record and one
    /// syscall per response, even when the answers to the other requests of the same read are
    /// only a task away. So the first write after a flush gives way once (wakes itself and
    /// returns `Pending`; tokio puts a self-woken task at the back of the run queue): the
    /// connection task then runs again after the tasks that were already runnable, h2 keeps
    /// its frames buffered meanwhile and adds the answers that became ready, and they all leave
    /// in one record and one syscall. An idle connection pays one extra poll, not a delay.
    fn corked(&mut self, cx: &mut Context<'_>) -> bool {
        if self.uncorked {
            return false;
        }
        self.uncorked = true;
        cx.waker().wake_by_ref();
        true
    }
}

impl<IO> Connected for AuthedConn<IO> {
    type ConnectInfo = Peer;
    fn connect_info(&self) -> Peer {
        self.peer.clone()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for AuthedConn<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for AuthedConn<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.corked(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let flushed = Pin::new(&mut self.io).poll_flush(cx);
        if flushed.is_ready() {
            // The burst is out: the next write starts a new one, and waits its turn again.
            self.uncorked = false;
        }
        flushed
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if self.corked(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Accepts TCP connections and completes each TLS handshake in its own task, bounded by
/// `handshake_timeout`; finished connections come out of the returned stream. The accept loop
/// ends when the stream is dropped.
pub fn incoming(
    listener: TcpListener,
    tls: Arc<ArcSwap<ServerConfig>>,
    handshake_timeout: Duration,
    max_connections: usize,
) -> ReceiverStream<Result<AuthedConn, std::io::Error>> {
    let (tx, rx) = mpsc::channel(128);
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    tokio::spawn(async move {
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot,
                () = tx.closed() => return,
            };
            let Ok(slot) = slot else { return };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tx.closed() => return,
            };
            let (tcp, remote) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = TlsAcceptor::from(tls.load_full());
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(io)) => {
                        let (identity, not_before) = peer_identity(&io);
                        let peer = Peer(Arc::new(PeerInfo {
                            remote,
                            identity,
                            not_before,
                        }));
                        let _ = tx
                            .send(Ok(AuthedConn {
                                io,
                                peer,
                                uncorked: false,
                                _slot: slot,
                            }))
                            .await;
                    }
                    Ok(Err(e)) => info!(%remote, error = %e, "TLS handshake refused"),
                    Err(_) => {
                        info!(%remote, timeout = ?handshake_timeout, "TLS handshake timed out")
                    }
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

fn peer_identity(io: &TlsStream<TcpStream>) -> (Result<ClientIdentity, String>, SystemTime) {
    let (_, conn) = io.get_ref();
    let Some(leaf) = conn.peer_certificates().and_then(|chain| chain.first()) else {
        return (Err("no client certificate".into()), SystemTime::UNIX_EPOCH);
    };
    let not_before = validity(leaf.as_ref()).map_or(SystemTime::UNIX_EPOCH, |(nb, _)| nb);
    (
        ClientIdentity::from_der(leaf.as_ref()).map_err(|e| e.to_string()),
        not_before,
    )
}

// ---------------------------------------------------------------------------------------------
// Per-request authorization.

/// The authenticated caller of one request; handlers read it from the request extensions.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: String,
    pub role: Role,
    pub request_id: String,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor {
            principal: self.principal.clone(),
            role: self.role.to_string(),
            request_id: self.request_id.clone(),
        }
    }

    /// The caller of a request that went through [`AuthLayer`].
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Status::unauthenticated("no authenticated caller"))
    }
}

/// What an RPC needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    Read,
    Operate,
    Admin,
}

/// The role each RPC requires. Anything not listed (health, reflection) needs only a verified
/// certificate; unknown methods fall through to tonic's UNIMPLEMENTED.
pub fn need_for(path: &str) -> Need {
    let method = path.rsplit('/').next().unwrap_or_default();
    let service = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    match (service, method) {
        (
            "roster.v1.AccountService",
            "CreateAccount" | "UpdateAccount" | "DeleteAccount" | "TestConnection",
        )
        | ("roster.v1.MonitorService", "CheckNow") => Need::Operate,
        ("roster.v1.AdminService", "Backup" | "RotateEncryptionKey" | "ListAuditEvents") => {
            Need::Admin
        }
        _ => Need::Read,
    }
}

pub fn role_allows(role: Role, need: Need) -> bool {
    match role {
        Role::Admin => true,
        Role::Operator => need <= Need::Operate,
        Role::Viewer => need == Need::Read,
    }
}

/// Access rules that a reload replaces as a whole.
pub struct AccessPolicy {
    revoked: HashSet<String>,
    limiter: DefaultKeyedRateLimiter<String>,
}

impl AccessPolicy {
    pub fn new(tls: &TlsConfig, limits: &LimitsConfig) -> Self {
        let per_second = NonZeroU32::new(limits.requests_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.burst).unwrap_or(NonZeroU32::MIN);
        Self {
            revoked: tls
                .revoked_serials
                .iter()
                .filter_map(|s| normalize_serial_hex(s))
                .collect(),
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
        }
    }
}

#[derive(Debug)]
struct Refusal {
    status: Status,
    /// Refusals worth a durable audit record (not rate limiting: that would let a noisy client
    /// turn its own refusals into disk writes).
    audit: Option<(Actor, String)>,
}

pub struct AuthState {
    pub policy: ArcSwap<AccessPolicy>,
    pub accounts: Accounts,
}

impl AccessPolicy {
    /// Decides one request at `now`. The identity was read from the verified leaf certificate
    /// once, at the handshake ([`PeerInfo`]); what can change while a connection stays open is
    /// checked here, on every request: the revocation list (replaced by a reload), the clock
    /// against the certificate's validity window, and the rate budget.
    fn authorize<B>(&self, req: &http::Request<B>, now: SystemTime) -> Result<Caller, Refusal> {
        let path = req.uri().path();
        let peer = req
            .extensions()
            .get::<Peer>()
            .ok_or_else(|| refuse(Status::unauthenticated("no TLS peer information")))?;
        let identity = peer.0.identity.as_ref().map_err(|why| {
            refuse(Status::unauthenticated(format!(
                "client certificate not usable: {why}"
            )))
        })?;
        let request_id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
            .map_or_else(assign_request_id, str::to_string);
        let caller = Caller {
            principal: identity.principal.clone(),
            role: identity.role,
            request_id,
        };
        if let Err(not_until) = self.limiter.check_key(&caller.principal) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(refuse(Status::with_error_details(
                Code::ResourceExhausted,
                format!(
                    "rate limit for {} exceeded; retry in {} ms",
                    caller.principal,
                    wait.as_millis().max(1)
                ),
                ErrorDetails::with_retry_info(Some(wait)),
            )));
        }
        let rpc = rpc_name(path);
        let audited = |status: Status, outcome: &str| Refusal {
            status,
            audit: Some((caller.actor(), format!("{rpc}: {outcome}"))),
        };
        if self.revoked.contains(&identity.serial_hex) {
            return Err(audited(
                Status::unauthenticated(format!(
                    "client certificate {} (serial {}) has been revoked",
                    caller.principal, identity.serial_hex
                )),
                "refused: revoked certificate",
            ));
        }
        if identity.not_after < now || peer.0.not_before > now {
            let (what, when) = if identity.not_after < now {
                ("expired", identity.not_after)
            } else {
                ("is not valid yet; valid from", peer.0.not_before)
            };
            return Err(audited(
                Status::unauthenticated(format!(
                    "client certificate {} {what} {}",
                    caller.principal,
                    humantime::format_rfc3339_seconds(when)
                )),
                &format!("refused: certificate {what}"),
            ));
        }
        let need = need_for(path);
        if !role_allows(caller.role, need) {
            return Err(audited(
                Status::permission_denied(format!(
                    "role {} may not call {rpc} (needs {})",
                    caller.role,
                    match need {
                        Need::Read => "viewer",
                        Need::Operate => "operator",
                        Need::Admin => "admin",
                    }
                )),
                "refused: permission denied",
            ));
        }
        Ok(caller)
    }
}

/// The RPC's name as logs, metrics and audit records spell it: the path without its leading '/'.
fn rpc_name(path: &str) -> &str {
    path.trim_start_matches('/')
}

/// A request id for a request that brought none: a random prefix drawn once per process (unique
/// across restarts) and a counter (unique within this run), 32 hex digits like a UUID. It only
/// ties log lines and audit records together and is no secret, so drawing a random UUID for
/// every request (a getrandom syscall each) would buy nothing.
fn assign_request_id() -> String {
    static PREFIX: LazyLock<u64> = LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:016x}{:016x}",
        *PREFIX,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn refuse(status: Status) -> Refusal {
    Refusal {
        status,
        audit: None,
    }
}

/// Tower layer that authenticates, rate-limits and authorizes every request before any service.
#[derive(Clone)]
pub struct AuthLayer {
    pub state: Arc<AuthState>,
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    state: Arc<AuthState>,
}

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The clone that was polled ready is the one that serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        let decision = state.policy.load().authorize(&req, SystemTime::now());
        // The request moves into the service; its path is needed after (a refcount, no copy).
        let uri = req.uri().clone();
        Box::pin(async move {
            let rpc = rpc_name(uri.path());
            match decision {
                Ok(caller) => {
                    let span = tracing::info_span!(
                        "rpc",
                        rpc = %rpc,
                        request_id = %caller.request_id,
                        principal = %caller.principal,
                    );
                    req.extensions_mut().insert(caller);
                    let started = Instant::now();
                    let response = inner.call(req).instrument(span.clone()).await?;
                    let status = grpc_status(&response);
                    crate::metrics::get().record_rpc(rpc, status);
                    span.in_scope(|| {
                        debug!(
                            status,
                            duration_us = started.elapsed().as_micros(),
                            "rpc done"
                        );
                    });
                    Ok(response)
                }
                Err(refusal) => {
                    crate::metrics::get().record_rpc(rpc, refusal.status.code() as i32);
                    info!(rpc = %rpc, code = ?refusal.status.code(), message = refusal.status.message(), "request refused");
                    if let Some((actor, outcome)) = refusal.audit
                        && let Err(e) = state
                            .accounts
                            .record_audit(&actor, "auth", rpc, &outcome)
                            .await
                    {
                        warn!(error = %e, "could not audit a refused request");
                    }
                    Ok(refusal.status.into_http())
                }
            }
        })
    }
}

/// The grpc-status a response carries in its headers (errors are trailers-only); OK otherwise.
fn grpc_status(response: &http::Response<tonic::body::Body>) -> i32 {
    response
        .headers()
        .get("grpc-status")
        .map_or(Code::Ok, |v| Code::from_bytes(v.as_bytes())) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    /// A connection's peer as the acceptor leaves it: identity read once from the certificate.
    fn peer(role: Role, serial_hex: &str, not_before: SystemTime, not_after: SystemTime) -> Peer {
        Peer(Arc::new(PeerInfo {
            remote: SocketAddr::from(([127, 0, 0, 1], 40000)),
            identity: Ok(ClientIdentity {
                principal: "alice".into(),
                role,
                serial_hex: serial_hex.into(),
                not_after,
            }),
            not_before,
        }))
    }

    /// One request on that connection.
    fn request(peer: &Peer, path: &str) -> http::Request<()> {
        let mut req = http::Request::builder().uri(path).body(()).unwrap();
        req.extensions_mut().insert(peer.clone());
        req
    }

    fn policy(revoked: &[&str]) -> AccessPolicy {
        let tls = TlsConfig {
            revoked_serials: revoked.iter().map(|s| (*s).to_string()).collect(),
            ..TlsConfig::default()
        };
        AccessPolicy::new(&tls, &LimitsConfig::default())
    }

    fn refused(decision: Result<Caller, Refusal>) -> Refusal {
        match decision {
            Ok(caller) => panic!("served {caller:?}"),
            Err(refusal) => refusal,
        }
    }

    const GET: &str = "/roster.v1.AccountService/GetAccount";

    #[test]
    fn a_serial_revoked_after_connect_is_refused_on_the_next_request() {
        let now = SystemTime::now();
        let conn = peer(Role::Viewer, "1a2b", now - HOUR, now + HOUR);
        let caller = policy(&[]).authorize(&request(&conn, GET), now).unwrap();
        assert_eq!(
            (caller.principal.as_str(), caller.role),
            ("alice", Role::Viewer)
        );
        // A reload swaps the policy; the connection and its cached identity stay.
        let refusal = refused(policy(&["1A:2B"]).authorize(&request(&conn, GET), now));
        assert_eq!(refusal.status.code(), Code::Unauthenticated);
        assert!(
            refusal.status.message().contains("revoked"),
            "{:?}",
            refusal.status
        );
        let (actor, outcome) = refusal.audit.expect("revocation refusals are audited");
        assert_eq!(actor.principal, "alice");
        assert_eq!(
            outcome,
            "roster.v1.AccountService/GetAccount: refused: revoked certificate"
        );
    }

    #[test]
    fn a_certificate_that_expires_while_connected_is_refused_from_then_on() {
        let now = SystemTime::now();
        let conn = peer(Role::Admin, "01", now - HOUR, now + HOUR);
        let policy = policy(&[]);
        assert!(policy.authorize(&request(&conn, GET), now).is_ok());
        let later = now + 2 * HOUR;
        let refusal = refused(policy.authorize(&request(&conn, GET), later));
        assert_eq!(refusal.status.code(), Code::Unauthenticated);
        assert!(
            refusal.status.message().contains("expired"),
            "{:?}",
            refusal.status
        );
        assert!(refusal.audit.is_some());
    }

    #[test]
    fn a_certificate_not_valid_yet_is_refused() {
        let now = SystemTime::now();
        let conn = peer(Role::Admin, "01", now + HOUR, now + 2 * HOUR);
        let refusal = refused(policy(&[]).authorize(&request(&conn, GET), now));
        assert_eq!(refusal.status.code(), Code::Unauthenticated);
        assert!(
            refusal.status.message().contains("not valid yet"),
            "{:?}",
            refusal.status
        );
    }

    #[test]
    fn no_identity_and_no_peer_are_refused() {
        let now = SystemTime::now();
        let policy = policy(&[]);
        let unusable = Peer(Arc::new(PeerInfo {
            remote: SocketAddr::from(([127, 0, 0, 1], 40000)),
            identity: Err("no Subject OU (role)".into()),
            not_before: now - HOUR,
        }));
        let refusal = refused(policy.authorize(&request(&unusable, GET), now));
        assert_eq!(refusal.status.code(), Code::Unauthenticated);
        let bare = http::Request::builder().uri(GET).body(()).unwrap();
        let refusal = refused(policy.authorize(&bare, now));
        assert_eq!(refusal.status.code(), Code::Unauthenticated);
    }

    #[test]
    fn roles_are_enforced_per_request() {
        let now = SystemTime::now();
        let conn = peer(Role::Viewer, "01", now - HOUR, now + HOUR);
        let refusal = refused(policy(&[]).authorize(
            &request(&conn, "/roster.v1.AccountService/CreateAccount"),
            now,
        ));
        assert_eq!(refusal.status.code(), Code::PermissionDenied);
    }

    #[test]
    fn request_ids_are_kept_when_sane_and_assigned_otherwise() {
        let now = SystemTime::now();
        let conn = peer(Role::Viewer, "01", now - HOUR, now + HOUR);
        let policy = policy(&[]);
        let mut req = request(&conn, GET);
        req.headers_mut()
            .insert("x-request-id", http::HeaderValue::from_static("req-42"));
        assert_eq!(policy.authorize(&req, now).unwrap().request_id, "req-42");
        let a = policy
            .authorize(&request(&conn, GET), now)
            .unwrap()
            .request_id;
        let b = policy
            .authorize(&request(&conn, GET), now)
            .unwrap()
            .request_id;
        assert_ne!(a, b);
        assert!(
            a.len() == 32 && a.chars().all(|c| c.is_ascii_hexdigit()),
            "{a}"
        );
    }

    /// A byte stream that counts the writes reaching it.
    #[derive(Default)]
    struct Counted {
        writes: usize,
    }

    impl AsyncWrite for Counted {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.writes += 1;
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A waker that counts how often the writing task was woken.
    #[derive(Default)]
    struct CountWakes(AtomicU64);
    impl futures::task::ArcWake for CountWakes {
        fn wake_by_ref(me: &Arc<Self>) {
            me.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn the_first_write_of_a_burst_gives_way_once_and_never_stalls() {
        let wakes = Arc::new(CountWakes::default());
        let waker = futures::task::waker(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let now = SystemTime::now();
        let mut conn = AuthedConn {
            io: Counted::default(),
            peer: peer(Role::Viewer, "01", now - HOUR, now + HOUR),
            uncorked: false,
            _slot: Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap(),
        };
        let mut conn = Pin::new(&mut conn);
        // Gives way: nothing written, and the task is woken so that it comes back.
        assert!(conn.as_mut().poll_write(&mut cx, b"a").is_pending());
        assert_eq!((conn.io.writes, wakes.0.load(Ordering::Relaxed)), (0, 1));
        // Back again: this write and the rest of the burst go straight through.
        assert!(matches!(
            conn.as_mut().poll_write(&mut cx, b"ab"),
            Poll::Ready(Ok(2))
        ));
        assert!(conn.as_mut().poll_write(&mut cx, b"c").is_ready());
        assert!(conn.as_mut().poll_flush(&mut cx).is_ready());
        assert_eq!(conn.io.writes, 2);
        // A flush ends the burst: the next write gives way again, once.
        assert!(conn.as_mut().poll_write(&mut cx, b"d").is_pending());
        assert!(conn.as_mut().poll_write(&mut cx, b"d").is_ready());
        assert_eq!((conn.io.writes, wakes.0.load(Ordering::Relaxed)), (3, 2));
    }

    #[test]
    fn roles_per_rpc() {
        let create = need_for("/roster.v1.AccountService/CreateAccount");
        let list = need_for("/roster.v1.AccountService/ListAccounts");
        let backup = need_for("/roster.v1.AdminService/Backup");
        assert_eq!(
            (create, list, backup),
            (Need::Operate, Need::Read, Need::Admin)
        );
        assert!(!role_allows(Role::Viewer, create));
        assert!(role_allows(Role::Viewer, list));
        assert!(role_allows(Role::Operator, create));
        assert!(!role_allows(Role::Operator, backup));
        assert!(role_allows(Role::Admin, backup));
        assert_eq!(need_for("/grpc.health.v1.Health/Check"), Need::Read);
        assert_eq!(
            need_for("/roster.v1.MonitorService/CheckNow"),
            Need::Operate
        );
    }
}
