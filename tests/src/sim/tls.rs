//! Optional TLS for the simulator: a CA made at start-up and one server certificate from it for
//! `127.0.0.1` and `localhost`, shared by every instance of a [`Simulator`](super::Simulator).
//!
//! Why a CA rather than a self-signed leaf: clients that use the platform's trust store (the
//! daemon's rustls-platform-verifier reads `SSL_CERT_FILE` on Linux) are given the CA file, as an
//! operator would add a private CA; and webpki refuses a CA certificate as a server's own.

use std::sync::Arc;

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// The server side of the simulator's TLS.
pub(crate) struct SimTls {
    pub acceptor: TlsAcceptor,
    /// The CA certificate (PEM) that signed the server certificate.
    pub ca_pem: String,
}

impl SimTls {
    /// A fresh CA and a server certificate for `127.0.0.1` (an IP SAN) and `localhost`.
    pub fn generate() -> anyhow::Result<SimTls> {
        let ca_key = KeyPair::generate().context("CA key")?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "openalgo-sim test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = ca_params.self_signed(&ca_key).context("CA certificate")?;
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate().context("server key")?;
        // rcgen makes a string that parses as an IP address an IP SAN.
        let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "openalgo-sim");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &issuer)
            .context("server certificate")?;

        // The provider is chosen here rather than process-wide: the simulator runs inside test
        // and bench processes that may not have installed one.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )?;
        // The server speaks HTTP/1.1 only; a client offering h2 must not be told yes.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(SimTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            ca_pem: ca.pem(),
        })
    }
}
