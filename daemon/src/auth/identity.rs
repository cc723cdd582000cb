//! Who is calling: the caller of each request as handlers see it. (The identity in a connection's
//! verified leaf certificate is read once, at the handshake, by `conns`.)

use tonic::Status;

use crate::audit::Actor;
use crate::pki::Role;

/// The Subject CN of a DER certificate, escaped, if it has one (to name an unusable identity).
pub(super) fn subject_cn(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
    let cn: String = cn.chars().take(crate::pki::MAX_PRINCIPAL_BYTES).collect();
    Some(crate::escape::escape_untrusted(&cn).into_owned())
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
