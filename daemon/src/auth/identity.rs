//! Who is calling: the identity in a connection's verified leaf certificate (read once, at the
//! handshake), and the caller of each request as handlers see it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tonic::Status;

use crate::audit::Actor;
use crate::conns::ConnControl;
use crate::pki::{ClientIdentity, Role};

/// The Subject CN of a DER certificate, escaped, if it has one (to name an unusable identity).
pub(super) fn subject_cn(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
    let cn: String = cn.chars().take(crate::pki::MAX_PRINCIPAL_BYTES).collect();
    Some(crate::escape::escape_untrusted(&cn).into_owned())
}

/// (not before, not after) of a DER certificate.
pub(super) fn validity(der: &[u8]) -> Option<(SystemTime, SystemTime)> {
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
