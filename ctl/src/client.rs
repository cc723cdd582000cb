//! The connection to the daemon: resolves which CA/certificate/key to use (flags over profile),
//! builds a TLS 1.3 mTLS tonic channel, and hands out the typed roster.v1 clients.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use roster_proto::v1::account_service_client::AccountServiceClient;
use roster_proto::v1::admin_service_client::AdminServiceClient;
use roster_proto::v1::monitor_service_client::MonitorServiceClient;
use roster_proto::v1::portfolio_service_client::PortfolioServiceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::cli::ConnArgs;

/// How long to wait for TCP + TLS before giving up; a daemon on the LAN answers far faster.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Files to present and trust, after merging `--profile` with `--ca/--cert/--key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    /// Certificate and key; `None` connects without a client certificate (the daemon will
    /// refuse, and saying so clearly is more useful than refusing to try).
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// Merges the profile directory with explicit flags; explicit flags win file by file.
pub fn resolve_tls(conn: &ConnArgs) -> Result<TlsFiles> {
    let from_profile = |name: &str| conn.profile.as_ref().map(|d| d.join(name));
    let ca = conn.ca.clone().or_else(|| from_profile("ca.pem"));
    let cert = conn.cert.clone().or_else(|| from_profile("cert.pem"));
    let key = conn.key.clone().or_else(|| from_profile("key.pem"));
    if let Some(dir) = &conn.profile
        && !dir.is_dir()
    {
        bail!(
            "profile {} is not a directory (expected ca.pem, cert.pem and key.pem in it)",
            dir.display()
        );
    }
    let Some(ca) = ca else {
        bail!(
            "no CA to verify the daemon with: pass --profile DIR (e.g. .roster-dev/admin, as \
             `rosterd --dev` prints) or --ca FILE --cert FILE --key FILE"
        );
    };
    let identity = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        (Some(_), None) => bail!("--cert given without --key"),
        (None, Some(_)) => bail!("--key given without --cert"),
    };
    Ok(TlsFiles { ca, identity })
}

/// `https://host:port` from what the user typed; a bare `host:port` means https. Plain http is
/// refused because the daemon only speaks mTLS and a silent downgrade would hide that.
pub fn normalize_addr(addr: &str) -> Result<(String, String)> {
    let addr = addr.trim();
    let url = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("https://{addr}")
    };
    let uri: http::Uri = url
        .parse()
        .with_context(|| format!("invalid --addr {addr:?}"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some(other) => {
            bail!("invalid --addr {addr:?}: scheme {other} (the daemon only speaks https)")
        }
        None => bail!("invalid --addr {addr:?}"),
    }
    let host = uri
        .host()
        .ok_or_else(|| anyhow!("invalid --addr {addr:?}: no host"))?;
    // The TLS server name: an IPv6 literal without its URL brackets.
    let domain = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok((url, domain))
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// A connected channel plus the typed clients on top of it (cheap clones of one channel).
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    pub addr: String,
}

impl Client {
    /// Connects (TCP + TLS handshake) with a 5 s timeout.
    pub async fn connect(conn: &ConnArgs) -> Result<Self> {
        let (url, domain) = normalize_addr(&conn.addr)?;
        let files = resolve_tls(conn)?;
        let mut tls = ClientTlsConfig::new()
            .domain_name(domain)
            .ca_certificate(Certificate::from_pem(read(&files.ca, "CA certificate")?));
        if let Some((cert, key)) = &files.identity {
            tls = tls.identity(Identity::from_pem(
                read(cert, "client certificate")?,
                read(key, "client key")?,
            ));
        }
        let endpoint = Endpoint::from_shared(url.clone())
            .with_context(|| format!("invalid --addr {url:?}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tls_config(tls)
            .context("invalid TLS settings")?;
        let channel = tokio::time::timeout(CONNECT_TIMEOUT * 2, endpoint.connect())
            .await
            .map_err(|_| anyhow!("timed out after {}s", (CONNECT_TIMEOUT * 2).as_secs()))
            .and_then(|r| r.map_err(anyhow::Error::from))
            .with_context(|| format!("cannot connect to {url}"))?;
        Ok(Self { channel, addr: url })
    }

    pub fn accounts(&self) -> AccountServiceClient<Channel> {
        AccountServiceClient::new(self.channel.clone())
    }

    pub fn monitor(&self) -> MonitorServiceClient<Channel> {
        MonitorServiceClient::new(self.channel.clone())
    }

    pub fn portfolio(&self) -> PortfolioServiceClient<Channel> {
        PortfolioServiceClient::new(self.channel.clone())
    }

    pub fn admin(&self) -> AdminServiceClient<Channel> {
        AdminServiceClient::new(self.channel.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(
        profile: Option<&Path>,
        ca: Option<&str>,
        cert: Option<&str>,
        key: Option<&str>,
    ) -> ConnArgs {
        ConnArgs {
            addr: "https://127.0.0.1:50051".into(),
            profile: profile.map(Path::to_owned),
            ca: ca.map(PathBuf::from),
            cert: cert.map(PathBuf::from),
            key: key.map(PathBuf::from),
        }
    }

    #[test]
    fn profile_supplies_files_and_flags_override() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path();
        let files = resolve_tls(&conn(Some(p), None, None, None)).unwrap();
        assert_eq!(files.ca, p.join("ca.pem"));
        assert_eq!(
            files.identity,
            Some((p.join("cert.pem"), p.join("key.pem")))
        );
        let files = resolve_tls(&conn(Some(p), Some("/x/ca.pem"), None, Some("/x/k.pem"))).unwrap();
        assert_eq!(files.ca, PathBuf::from("/x/ca.pem"));
        assert_eq!(
            files.identity,
            Some((p.join("cert.pem"), PathBuf::from("/x/k.pem")))
        );
    }

    #[test]
    fn incomplete_settings_are_explained() {
        let e = resolve_tls(&conn(None, None, None, None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--profile"), "{e}");
        let e = resolve_tls(&conn(None, Some("/c"), Some("/x"), None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--key"), "{e}");
        let ok = resolve_tls(&conn(None, Some("/c"), None, None)).unwrap();
        assert_eq!(ok.identity, None);
        let e = resolve_tls(&conn(Some(Path::new("/nonexistent/p")), None, None, None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/p"), "{e}");
    }

    #[test]
    fn addresses_normalize() {
        assert_eq!(
            normalize_addr("127.0.0.1:50051").unwrap(),
            ("https://127.0.0.1:50051".into(), "127.0.0.1".into())
        );
        assert_eq!(normalize_addr("https://[::1]:5").unwrap().1, "::1");
        assert_eq!(
            normalize_addr("https://roster.internal").unwrap().1,
            "roster.internal"
        );
        assert!(
            normalize_addr("http://127.0.0.1:1")
                .unwrap_err()
                .to_string()
                .contains("https")
        );
        assert!(normalize_addr("https://").is_err());
    }
}
