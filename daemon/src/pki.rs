//! PKI (temporary interface stub; the full module lands from the `ctl` branch).

use std::time::SystemTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Operator,
    Viewer,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PkiError(String);

#[derive(Debug, Clone)]
pub struct ClientIdentity {
    pub principal: String,
    pub role: Role,
    pub serial_hex: String,
    pub not_after: SystemTime,
}

impl ClientIdentity {
    pub fn from_der(_der: &[u8]) -> Result<Self, PkiError> {
        Err(PkiError("stub".into()))
    }
}
