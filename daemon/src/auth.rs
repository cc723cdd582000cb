//! Who is calling, and may they: the TLS server config and client-certificate verifier, the
//! caller's identity from the verified client certificate, roles per RPC, revocation, and the
//! per-principal rate limit. (Connections, their slots and deadlines are `conns`.)
//!
//! TLS is terminated by the daemon rather than inside tonic so that (1) a stalled handshake is
//! cut off by a timeout in its own task and never blocks the accept loop, (2) the server
//! certificate and client CA can be swapped on reload without dropping live connections, (3) the
//! client certificate is parsed once per connection, not once per request, and (4) the answers to
//! a connection's concurrent requests leave together, in one TLS record and one syscall
//! (`conns::AuthedConn`).
//!
//! Identity comes only from the verified leaf certificate (never from metadata): its Subject CN is
//! the principal and its Subject OU the role (see `pki`). A single certificate is revoked by
//! listing its serial in `[tls] revoked_serials`: it is refused in the TLS handshake, a reload
//! closes its open connections, and the check also runs on every request.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
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
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::{Instrument, debug, warn};

use crate::accounts::Accounts;
use crate::audit::Actor;
use crate::config::{LimitsConfig, TlsConfig};
use crate::conns::{ConnControl, TrackedBody};
use crate::pki::{ClientIdentity, Role, normalize_serial_hex};
use crate::refusals::{Kind, Refusals};

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

/// What the handshake checks beyond the chain, shared by every TLS config a reload builds: the
/// revoked serials (swapped by a reload, read by each handshake) and where refusals are reported.
#[derive(Debug, Clone)]
pub struct HandshakePolicy {
    pub revoked: Arc<ArcSwap<HashSet<String>>>,
    pub refusals: Arc<Refusals>,
}

impl HandshakePolicy {
    pub fn new(tls: &TlsConfig, refusals: Arc<Refusals>) -> Self {
        Self {
            revoked: Arc::new(ArcSwap::from_pointee(revoked_set(tls))),
            refusals,
        }
    }
}

/// The revoked serials of a config, normalised as certificates spell them.
pub fn revoked_set(tls: &TlsConfig) -> HashSet<String> {
    tls.revoked_serials
        .iter()
        .filter_map(|s| normalize_serial_hex(s))
        .collect()
}

/// TLS 1.3 only, client certificate required and verified against `client_ca` (and refused in
/// the handshake when revoked, expired, not yet valid or without a usable identity), ALPN h2.
pub fn server_tls_config(
    cert: &Path,
    key: &Path,
    client_ca: &Path,
    policy: &HandshakePolicy,
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
    let verifier = Arc::new(ClientPolicyVerifier {
        chain: verifier,
        policy: policy.clone(),
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| AuthError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| AuthError::Config(format!("server certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Verifies the client's chain like webpki does, then refuses in the handshake what may never
/// be served: a certificate outside its validity window (webpki's verdict), a revoked serial,
/// or one without a usable identity (CN and a role OU). A refused certificate therefore never
/// holds a connection slot, never reaches the request layer and never spends anyone's rate
/// budget. The client gets the matching TLS alert (certificate_expired, certificate_revoked,
/// access_denied), which `rosterctl` turns into a sentence. A refusal of a certificate our CA
/// signed is audited under its CN (at a bounded rate, see `refusals`).
#[derive(Debug)]
struct ClientPolicyVerifier {
    chain: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    policy: HandshakePolicy,
}

impl ClientPolicyVerifier {
    /// The identity in `end_entity` if its chain verifies at a moment inside its validity window,
    /// i.e. if our CA signed it: only then is its CN worth an audit record.
    fn signed_identity(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Option<ClientIdentity> {
        let (not_before, _) = validity(end_entity.as_ref())?;
        let inside = (not_before + Duration::from_secs(1))
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()?;
        self.chain
            .verify_client_cert(
                end_entity,
                intermediates,
                rustls::pki_types::UnixTime::since_unix_epoch(inside),
            )
            .ok()?;
        ClientIdentity::from_der(end_entity.as_ref()).ok()
    }

    fn audit(&self, principal: &str, role: &str, reason: &'static str) {
        self.policy
            .refusals
            .audit(principal, role, "TLS handshake", reason);
    }
}

impl rustls::server::danger::ClientCertVerifier for ClientPolicyVerifier {
    fn offer_client_auth(&self) -> bool {
        self.chain.offer_client_auth()
    }
    fn client_auth_mandatory(&self) -> bool {
        self.chain.client_auth_mandatory()
    }
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.chain.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        use rustls::CertificateError as E;
        match self
            .chain
            .verify_client_cert(end_entity, intermediates, now)
        {
            Ok(verified) => match ClientIdentity::from_der(end_entity.as_ref()) {
                Ok(id) if self.policy.revoked.load().contains(&id.serial_hex) => {
                    self.audit(&id.principal, &id.role.to_string(), "certificate revoked");
                    Err(rustls::Error::InvalidCertificate(E::Revoked))
                }
                Ok(_) => Ok(verified),
                Err(_) => {
                    let cn = subject_cn(end_entity.as_ref());
                    self.audit(
                        cn.as_deref().unwrap_or("(no CN)"),
                        "unknown",
                        "unusable identity",
                    );
                    Err(rustls::Error::InvalidCertificate(
                        E::ApplicationVerificationFailure,
                    ))
                }
            },
            Err(
                e @ rustls::Error::InvalidCertificate(
                    E::Expired
                    | E::NotValidYet
                    | E::ExpiredContext { .. }
                    | E::NotValidYetContext { .. },
                ),
            ) => {
                if let Some(id) = self.signed_identity(end_entity, intermediates) {
                    let reason = match &e {
                        rustls::Error::InvalidCertificate(
                            E::NotValidYet | E::NotValidYetContext { .. },
                        ) => "certificate not valid yet",
                        _ => "certificate expired",
                    };
                    self.audit(&id.principal, &id.role.to_string(), reason);
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}

/// The Subject CN of a DER certificate, escaped, if it has one (to name an unusable identity).
fn subject_cn(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
    let cn: String = cn.chars().take(crate::pki::MAX_PRINCIPAL_BYTES).collect();
    Some(crate::escape::escape_untrusted(&cn).into_owned())
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
pub fn tls_from_config(
    tls: &TlsConfig,
    policy: &HandshakePolicy,
) -> Result<Arc<ServerConfig>, AuthError> {
    let need = |p: &Option<std::path::PathBuf>, name: &str| {
        p.clone()
            .ok_or_else(|| AuthError::Config(format!("[tls] {name} is not set")))
    };
    server_tls_config(
        &need(&tls.cert, "cert")?,
        &need(&tls.key, "key")?,
        &need(&tls.client_ca, "client_ca")?,
        policy,
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
    /// Start of the leaf's validity window (also checked per request, against a clock that moved).
    pub not_before: SystemTime,
    /// The connection itself: its slot, deadlines, requests in flight, and the way to close it.
    pub conn: Arc<ConnControl>,
}

/// The connection info tonic puts into every request's extensions.
#[derive(Debug, Clone)]
pub struct Peer(pub Arc<PeerInfo>);

/// The identity and validity start of a connection's verified leaf certificate.
pub(crate) fn peer_identity(
    io: &TlsStream<TcpStream>,
) -> (Result<ClientIdentity, String>, SystemTime) {
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

/// The role each RPC requires. The table fails closed: an RPC it does not list is refused for
/// every role (UNIMPLEMENTED), so a method added to the API without a role here is never
/// served by accident; a test walks the descriptor sets and insists each method is listed.
pub fn need_for(path: &str) -> Option<Need> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    Some(match (service, method) {
        ("roster.v1.AccountService", "GetAccount" | "ListAccounts") => Need::Read,
        (
            "roster.v1.AccountService",
            "CreateAccount" | "UpdateAccount" | "DeleteAccount" | "TestConnection",
        ) => Need::Operate,
        ("roster.v1.MonitorService", "GetHealth" | "ListHealth" | "WatchEvents") => Need::Read,
        ("roster.v1.MonitorService", "CheckNow") => Need::Operate,
        (
            "roster.v1.PortfolioService",
            "GetFunds" | "GetPositions" | "GetOrders" | "GetTrades" | "GetHoldings",
        ) => Need::Read,
        ("roster.v1.AdminService", "GetStatus") => Need::Read,
        ("roster.v1.AdminService", "Backup" | "RotateEncryptionKey" | "ListAuditEvents") => {
            Need::Admin
        }
        // The standard services: any verified certificate may ask whether the daemon serves
        // and what its API looks like.
        ("grpc.health.v1.Health", "Check" | "Watch")
        | ("grpc.reflection.v1.ServerReflection", "ServerReflectionInfo") => Need::Read,
        _ => return None,
    })
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
            revoked: revoked_set(tls),
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
        }
    }
}

/// How a refusal is recorded beyond the counter and the rate-limited log line.
#[derive(Debug)]
enum AuditAs {
    /// Not audited: rate limiting (a noisy client must not turn its refusals into disk writes)
    /// and refusals without a usable identity.
    Not,
    /// One record per refusal: a role refusal (bounded by the caller's rate budget, which it
    /// has already spent).
    Each(Actor, String),
    /// At most one record per principal and reason per interval (see `refusals`): a certificate
    /// that became invalid while its connection was open, refused until the connection closes.
    Summarised { principal: String, role: String },
}

#[derive(Debug)]
struct Refusal {
    status: Status,
    /// Who was refused: the principal, or the peer address when there is none.
    who: String,
    reason: &'static str,
    audit: AuditAs,
}

pub struct AuthState {
    pub policy: ArcSwap<AccessPolicy>,
    pub accounts: Accounts,
    pub refusals: Arc<Refusals>,
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
}

impl AccessPolicy {
    /// Decides one request at `now`. The identity was read from the verified leaf certificate
    /// once, at the handshake ([`PeerInfo`]); what can change while a connection stays open is
    /// checked here, on every request: the revocation list (replaced by a reload), the clock
    /// against the certificate's validity window, and the rate budget. The identity is checked
    /// before the budget is charged: a certificate that may not be used never spends the budget
    /// of its principal (which a re-issued certificate of the same name shares).
    // A refusal is the rare path: its size costs nothing on the served one.
    #[allow(clippy::result_large_err)]
    fn authorize<B>(&self, req: &http::Request<B>, now: SystemTime) -> Result<Caller, Refusal> {
        let path = req.uri().path();
        let peer = req.extensions().get::<Peer>().ok_or_else(|| Refusal {
            status: Status::unauthenticated("no TLS peer information"),
            who: "unknown peer".into(),
            reason: "no TLS peer",
            audit: AuditAs::Not,
        })?;
        let identity = peer.0.identity.as_ref().map_err(|why| Refusal {
            status: Status::unauthenticated(format!("client certificate not usable: {why}")),
            who: peer.0.remote.ip().to_string(),
            reason: "unusable identity",
            audit: AuditAs::Not,
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
        let rpc = rpc_name(path);
        let invalid = |status: Status, reason: &'static str| Refusal {
            status,
            who: caller.principal.clone(),
            reason,
            audit: AuditAs::Summarised {
                principal: caller.principal.clone(),
                role: caller.role.to_string(),
            },
        };
        if self.revoked.contains(&identity.serial_hex) {
            return Err(invalid(
                Status::unauthenticated(format!(
                    "client certificate {} (serial {}) has been revoked",
                    caller.principal, identity.serial_hex
                )),
                "certificate revoked",
            ));
        }
        if identity.not_after < now || peer.0.not_before > now {
            let (what, when, reason) = if identity.not_after < now {
                ("expired", identity.not_after, "certificate expired")
            } else {
                (
                    "is not valid yet; valid from",
                    peer.0.not_before,
                    "certificate not valid yet",
                )
            };
            return Err(invalid(
                Status::unauthenticated(format!(
                    "client certificate {} {what} {}",
                    caller.principal,
                    humantime::format_rfc3339_seconds(when)
                )),
                reason,
            ));
        }
        if let Err(not_until) = self.limiter.check_key(&caller.principal) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(Refusal {
                status: Status::with_error_details(
                    Code::ResourceExhausted,
                    format!(
                        "rate limit for {} exceeded; retry in {} ms",
                        caller.principal,
                        wait.as_millis().max(1)
                    ),
                    ErrorDetails::with_retry_info(Some(wait)),
                ),
                who: caller.principal.clone(),
                reason: "rate limited",
                audit: AuditAs::Not,
            });
        }
        let Some(need) = need_for(path) else {
            // Not in the role table: nobody may call it. UNIMPLEMENTED, as for a path no
            // service serves (and counted under the same metric label).
            return Err(Refusal {
                status: Status::unimplemented(format!("{rpc} is not an RPC of this daemon")),
                who: caller.principal.clone(),
                reason: "unknown RPC",
                audit: AuditAs::Not,
            });
        };
        if !role_allows(caller.role, need) {
            return Err(Refusal {
                status: Status::permission_denied(format!(
                    "role {} may not call {rpc} (needs {})",
                    caller.role,
                    match need {
                        Need::Read => "viewer",
                        Need::Operate => "operator",
                        Need::Admin => "admin",
                    }
                )),
                who: caller.principal.clone(),
                reason: "permission denied",
                audit: AuditAs::Each(caller.actor(), format!("{rpc}: refused: permission denied")),
            });
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
        // The request is in flight on its connection (which is then not idle) until its response
        // body is done.
        let in_flight = req
            .extensions()
            .get::<Peer>()
            .map(|peer| peer.0.conn.request_started());
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
                    state.metrics.record_rpc(rpc, status);
                    span.in_scope(|| {
                        debug!(
                            status,
                            duration_us = started.elapsed().as_micros(),
                            "rpc done"
                        );
                    });
                    Ok(match in_flight {
                        Some(guard) => response.map(|body| TrackedBody::wrap(body, guard)),
                        None => response,
                    })
                }
                Err(refusal) => {
                    state.metrics.record_rpc(rpc, refusal.status.code() as i32);
                    state.refusals.refused(
                        Kind::Request,
                        &refusal.who,
                        refusal.reason,
                        refusal.status.message(),
                    );
                    match refusal.audit {
                        AuditAs::Not => {}
                        AuditAs::Summarised { principal, role } => {
                            state.refusals.audit(&principal, &role, rpc, refusal.reason);
                        }
                        AuditAs::Each(actor, outcome) => {
                            if let Err(e) = state
                                .accounts
                                .record_audit(&actor, "auth", rpc, &outcome)
                                .await
                            {
                                warn!(error = %e, "could not audit a refused request");
                            }
                        }
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
            conn: ConnControl::detached(SocketAddr::from(([127, 0, 0, 1], 40000))),
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
        assert_eq!(refusal.reason, "certificate revoked");
        assert!(
            matches!(&refusal.audit, AuditAs::Summarised { principal, .. } if principal == "alice"),
            "{:?}",
            refusal.audit
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
        assert!(matches!(refusal.audit, AuditAs::Summarised { .. }));
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
            conn: ConnControl::detached(SocketAddr::from(([127, 0, 0, 1], 40000))),
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

    #[test]
    fn roles_per_rpc() {
        let need = |p: &str| need_for(p).unwrap();
        let create = need("/roster.v1.AccountService/CreateAccount");
        let list = need("/roster.v1.AccountService/ListAccounts");
        let backup = need("/roster.v1.AdminService/Backup");
        assert_eq!(
            (create, list, backup),
            (Need::Operate, Need::Read, Need::Admin)
        );
        assert!(!role_allows(Role::Viewer, create));
        assert!(role_allows(Role::Viewer, list));
        assert!(role_allows(Role::Operator, create));
        assert!(!role_allows(Role::Operator, backup));
        assert!(role_allows(Role::Admin, backup));
        assert_eq!(need("/grpc.health.v1.Health/Check"), Need::Read);
        assert_eq!(need("/roster.v1.MonitorService/CheckNow"), Need::Operate);
    }

    /// Every method of every service the daemon serves, from the descriptor sets it registers
    /// for reflection: (full service name, method name).
    fn served_methods() -> Vec<(String, String)> {
        use prost::Message as _;
        let mut out = Vec::new();
        for set in [
            roster_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        ] {
            let set = prost_types::FileDescriptorSet::decode(set).unwrap();
            for file in set.file {
                for service in &file.service {
                    for method in &service.method {
                        out.push((
                            format!("{}.{}", file.package(), service.name()),
                            method.name().to_string(),
                        ));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_served_rpc_has_a_role_and_anything_else_is_refused_for_everyone() {
        let methods = served_methods();
        assert!(methods.len() >= 20, "{methods:?}");
        let unclassified: Vec<String> = methods
            .iter()
            .map(|(service, method)| format!("/{service}/{method}"))
            .filter(|path| need_for(path).is_none())
            .collect();
        assert!(
            unclassified.is_empty(),
            "RPCs without a role in auth::need_for: {unclassified:?}"
        );
        let now = SystemTime::now();
        let admin = peer(Role::Admin, "01", now - HOUR, now + HOUR);
        for path in [
            "/roster.v1.AccountService/DropEverything",
            "/roster.v1.AccountService",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            "/roster.v1.AdminService/Backup/extra",
            "/",
        ] {
            assert_eq!(need_for(path), None, "{path}");
            let refusal = refused(policy(&[]).authorize(&request(&admin, path), now));
            assert_eq!(refusal.status.code(), Code::Unimplemented, "{path}");
        }
    }

    #[test]
    fn a_revoked_or_expired_certificate_never_spends_its_principals_budget() {
        let now = SystemTime::now();
        let limits = LimitsConfig {
            requests_per_second: 1,
            burst: 3,
            ..LimitsConfig::default()
        };
        let tls = TlsConfig {
            revoked_serials: vec!["0bad".into()],
            ..TlsConfig::default()
        };
        let policy = AccessPolicy::new(&tls, &limits);
        let revoked = peer(Role::Viewer, "0bad", now - HOUR, now + HOUR);
        let expired = peer(Role::Viewer, "0e", now - 2 * HOUR, now - HOUR);
        for _ in 0..100 {
            let r = refused(policy.authorize(&request(&revoked, GET), now));
            assert_eq!(r.status.code(), Code::Unauthenticated);
            let r = refused(policy.authorize(&request(&expired, GET), now));
            assert_eq!(r.status.code(), Code::Unauthenticated);
        }
        // The re-issued alice still has her whole burst.
        let reissued = peer(Role::Viewer, "0900d", now - HOUR, now + HOUR);
        for _ in 0..3 {
            policy.authorize(&request(&reissued, GET), now).unwrap();
        }
        let r = refused(policy.authorize(&request(&reissued, GET), now));
        assert_eq!(r.status.code(), Code::ResourceExhausted);
    }
}
