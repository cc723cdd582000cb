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
//!
//! - `verifier`: the TLS server config and the client-certificate verifier (the handshake);
//! - `identity`: the principal and role from the verified leaf, and the caller of a request;
//! - `policy`: the role table, revocation, validity and rate limits, decided per request;
//! - `layer`: the tower layer that applies the policy in front of every service;
//! - `target`: the account a refused request named, for its audit record.

use std::path::Path;

mod identity;
mod layer;
mod policy;
mod target;
mod verifier;

pub use identity::{Caller, Scope};
pub use layer::{AuthLayer, AuthState};
pub use policy::AccessPolicy;
pub use verifier::{HandshakePolicy, revoked_set, tls_from_config};

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
