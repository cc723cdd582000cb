//! The TLS server config and the client-certificate verifier: what a handshake accepts.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use super::identity::subject_cn;
use super::{AuthError, file_err};
use crate::config::TlsConfig;
use crate::conns::validity;
use crate::pki::{ClientIdentity, normalize_serial_hex};
use crate::refusals::Refusals;

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
