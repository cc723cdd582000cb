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

/// Which tenants' data a request may see: decided once per request from the caller's
/// certificate (and, for a global admin, the `x-roster-tenant` metadata that narrows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A global admin (an admin certificate without a tenant): every tenant.
    Global,
    /// One tenant and nothing else.
    Tenant(String),
}

impl Scope {
    /// Whether data of `tenant` exists for this caller. Anything it does not see is answered as
    /// if it did not exist (NOT_FOUND, never PERMISSION_DENIED: existence does not leak).
    pub fn sees(&self, tenant: &str) -> bool {
        match self {
            Scope::Global => true,
            Scope::Tenant(own) => own == tenant,
        }
    }

    /// The tenant a new account of this caller belongs to unless a global admin names another.
    pub fn home(&self) -> &str {
        match self {
            Scope::Global => crate::pki::DEFAULT_TENANT,
            Scope::Tenant(own) => own,
        }
    }

    pub fn is_global(&self) -> bool {
        matches!(self, Scope::Global)
    }
}

/// The authenticated caller of one request; handlers read it from the request extensions.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: String,
    pub role: Role,
    pub request_id: String,
    /// What this request may see.
    pub scope: Scope,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor {
            principal: self.principal.clone(),
            role: self.role.to_string(),
            request_id: self.request_id.clone(),
            tenant: match &self.scope {
                Scope::Global => String::new(),
                Scope::Tenant(t) => t.clone(),
            },
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
