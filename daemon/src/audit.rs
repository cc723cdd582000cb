//! Audit records: who did what to which target, and how it ended.
//!
//! A record for a mutation is written in the same transaction as the mutation itself, so if the
//! audit record cannot be written the mutation does not happen. Records never carry a secret.

use crate::escape::escape_untrusted;
use crate::store::{AuditRecord, now_millis};

/// The caller of an operation, as established by the verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub principal: String,
    pub role: String,
    /// The request id the client sent, or one the daemon assigned.
    pub request_id: String,
}

impl Actor {
    /// The daemon acting on its own behalf (scheduler, startup tasks).
    pub fn system() -> Self {
        Self {
            principal: "rosterd".into(),
            role: "system".into(),
            request_id: String::new(),
        }
    }

    pub fn record(&self, action: &str, target: &str, outcome: &str) -> AuditRecord {
        AuditRecord {
            sequence: 0,
            time: now_millis(),
            // Every field may quote client-supplied text: none reaches the table unescaped.
            principal: escape_untrusted(&self.principal).into_owned(),
            role: escape_untrusted(&self.role).into_owned(),
            action: escape_untrusted(action).into_owned(),
            target: escape_untrusted(target).into_owned(),
            outcome: escape_untrusted(outcome).into_owned(),
            request_id: escape_untrusted(&self.request_id).into_owned(),
        }
    }
}
