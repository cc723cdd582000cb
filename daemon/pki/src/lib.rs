//! Roster's private PKI: a CA, the daemon's server certificate and role-bearing client
//! certificates, made with rcgen and read back with x509-parser.
//!
//! Both `rosterctl pki` and `rosterd --dev` use this module, so a directory made by one is
//! usable by the other.
//!
//! # How a client certificate carries its identity
//!
//! * Subject **CN** (commonName) is the principal name: 1-64 characters of `[A-Za-z0-9._@-]`.
//! * Subject **OU** (organizationalUnitName) is the role: exactly one OU, exactly one of `admin`,
//!   `operator` or `viewer`. A missing, repeated or unknown OU is rejected (fail closed: a
//!   certificate that does not say what it may do may do nothing).
//! * A URI subject alternative name `urn:roster:tenant:NAME` is the tenant (NAME: 1-64 of
//!   `[a-z0-9._-]`, starting alphanumeric). Without one the holder is in tenant `default` (an
//!   admin without one is global); two tenant names or a malformed one make the certificate
//!   unusable, like a missing role (fail closed).
//! * Extended key usage is `clientAuth` only, so a client certificate cannot serve TLS.
//! * The serial number is 16 random bytes with the high bit cleared (a positive DER INTEGER) and
//!   a non-zero first byte (so its DER form is exactly those 16 bytes). It is shown as 32
//!   lowercase hex digits without separators; that string is what `[tls] revoked_serials` holds,
//!   and what [`ClientIdentity::serial_hex`] returns for a connected client.
//!
//! # Directory layout (the contract)
//!
//! ```text
//! DIR/ca.pem          CA certificate (ECDSA P-256, 10 years)
//! DIR/ca.key          CA private key (0600)
//! DIR/server.pem      daemon certificate, SANs localhost, 127.0.0.1, ::1 plus extras (1 year)
//! DIR/server.key      daemon private key (0600)
//! DIR/admin/ca.pem    admin client profile: the CA to trust,
//! DIR/admin/cert.pem  the client certificate (CN admin, OU admin, 1 year),
//! DIR/admin/key.pem   and its private key (0600)
//! ```
//!
//! A client *profile* directory always holds `ca.pem`, `cert.pem` and `key.pem`; it is what
//! `rosterctl --profile DIR` reads and what [`issue_client`] writes.
//!
//! Files holding private keys are created with mode 0600 from the start (never chmod-ed after
//! the fact, which would leave a window where the key is readable), and every file is written to
//! a temporary name and renamed, so a crash never leaves half a key behind.

pub mod escape;
pub mod file;

use std::fmt;
use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use time::OffsetDateTime;

/// CA certificate file name inside a PKI directory (and inside a profile).
pub const CA_CERT: &str = "ca.pem";
/// CA private key file name inside a PKI directory.
pub const CA_KEY: &str = "ca.key";
/// Server certificate file name inside a PKI directory.
pub const SERVER_CERT: &str = "server.pem";
/// Server private key file name inside a PKI directory.
pub const SERVER_KEY: &str = "server.key";
/// The admin client profile directory inside a PKI directory.
pub const ADMIN_PROFILE: &str = "admin";
/// Client certificate file name inside a profile.
pub const PROFILE_CERT: &str = "cert.pem";
/// Client private key file name inside a profile.
pub const PROFILE_KEY: &str = "key.pem";
/// CA certificate file name inside a profile.
pub const PROFILE_CA: &str = "ca.pem";

/// Validity of a new CA.
pub const CA_DAYS: u32 = 3650;
/// Default validity of server and client certificates.
pub const DEFAULT_DAYS: u32 = 365;
/// SANs every server certificate carries, so the loopback defaults always verify.
pub const DEFAULT_SANS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// Principal name of the admin profile that `init` and `ensure_dev` create.
pub const ADMIN_NAME: &str = "admin";

/// Certificates are backdated a little so a client whose clock runs slightly behind the
/// machine that issued them can still use them right away.
const BACKDATE: Duration = Duration::from_secs(5 * 60);
const DAY: Duration = Duration::from_secs(86_400);

/// What a client may do. Carried in the client certificate's Subject OU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Everything.
    Admin,
    /// Account writes, checks, all reads.
    Operator,
    /// Reads only.
    Viewer,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Operator, Role::Viewer];

    /// The OU string: `admin`, `operator` or `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = PkiError;

    /// Exact, case-sensitive match: the OU is compared byte for byte so that "Admin" on a
    /// certificate made by some other tool does not silently grant admin.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "operator" => Ok(Role::Operator),
            "viewer" => Ok(Role::Viewer),
            other => Err(PkiError::UnknownRole(other.to_owned())),
        }
    }
}

/// Everything that can go wrong here, each saying which file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not found ({what}); create it with `rosterctl pki init --dir {}`", path.display(), dir.display())]
    Missing {
        path: PathBuf,
        dir: PathBuf,
        what: &'static str,
    },
    #[error(
        "{}: a CA already exists; pass --force to replace it (every certificate it issued stops working)",
        path.display()
    )]
    CaExists { path: PathBuf },
    #[error("{}: already exists; pass --force to overwrite it", path.display())]
    ProfileExists { path: PathBuf },
    #[error("{}: not a usable certificate: {detail}", path.display())]
    BadCert { path: PathBuf, detail: String },
    #[error("{}: not a usable private key: {detail}", path.display())]
    BadKey { path: PathBuf, detail: String },
    #[error("{}: this key does not belong to the certificate {}", key.display(), cert.display())]
    KeyMismatch { key: PathBuf, cert: PathBuf },
    #[error("{}: the CA certificate expired at {}; create a new CA", path.display(), humantime::format_rfc3339_seconds(*not_after))]
    CaExpired {
        path: PathBuf,
        not_after: SystemTime,
    },
    #[error("invalid principal name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("invalid tenant name {name:?}: {reason}")]
    InvalidTenant { name: String, reason: &'static str },
    #[error("unknown role {0:?} (expected admin, operator or viewer)")]
    UnknownRole(String),
    #[error("invalid subject alternative name {san:?}: {reason}")]
    InvalidSan { san: String, reason: String },
    #[error("invalid validity window: {0}")]
    InvalidValidity(String),
    #[error("client certificate rejected: {0}")]
    Identity(String),
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

/// What [`init`] / [`ensure_dev`] did, with every path so callers can print them.
#[derive(Debug, Clone)]
pub struct InitReport {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// The admin client profile directory (`DIR/admin`).
    pub admin_profile: PathBuf,
    /// Files written by this call.
    pub created: Vec<PathBuf>,
    /// Files that already existed and were kept (only [`ensure_dev`] keeps files).
    pub reused: Vec<PathBuf>,
    /// Expiry of the server certificate now in place.
    pub server_not_after: SystemTime,
}

/// A client certificate written by [`issue_client`].
#[derive(Debug, Clone)]
pub struct IssuedCert {
    pub principal: String,
    pub role: Role,
    /// The tenant named in the certificate, if any.
    pub tenant: Option<String>,
    /// Lowercase hex, no separators: the value for `[tls] revoked_serials`.
    pub serial_hex: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// The profile directory written (`ca.pem`, `cert.pem`, `key.pem`).
    pub profile: PathBuf,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub ca_path: PathBuf,
}

/// Longest Subject CN accepted as a principal (X.520 bounds a CN at 64 characters; this leaves
/// room for other issuers while keeping a principal short enough to be a log field and a key).
pub const MAX_PRINCIPAL_BYTES: usize = 256;

/// Who is on the other end of a verified mTLS connection, taken from its leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// Subject CN.
    pub principal: String,
    /// Subject OU.
    pub role: Role,
    /// The tenant of the URI SAN `urn:roster:tenant:NAME`; `None` without one (tenant `default`,
    /// or every tenant for an admin).
    pub tenant: Option<String>,
    /// Lowercase hex of the serial, leading zero bytes removed (matches `revoked_serials`).
    pub serial_hex: String,
    pub not_after: SystemTime,
}

impl ClientIdentity {
    /// Reads the identity out of a DER client certificate. The caller (rustls) has already
    /// verified the chain; this only extracts and insists on exactly one CN and one known OU.
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| PkiError::Identity(format!("cannot parse certificate: {e}")))?;
        let subject = cert.subject();
        let principal = single_attr(subject.iter_common_name(), "Subject CN (principal)")?;
        if principal.is_empty() {
            return Err(PkiError::Identity("Subject CN (principal) is empty".into()));
        }
        if principal.len() > MAX_PRINCIPAL_BYTES {
            return Err(PkiError::Identity(format!(
                "Subject CN (principal) is longer than {MAX_PRINCIPAL_BYTES} bytes"
            )));
        }
        // A CA-signed CN is still client-supplied text: the principal is kept escaped, so every
        // log line, span, audit record and message that names it is safe as it stands.
        let principal = crate::escape::escape_untrusted(&principal).into_owned();
        let ou = single_attr(subject.iter_organizational_unit(), "Subject OU (role)")?;
        let role = ou.parse::<Role>().map_err(|_| {
            PkiError::Identity(format!(
                "Subject OU {ou:?} is not a role (expected admin, operator or viewer)"
            ))
        })?;
        let tenant = tenant_of(&cert)?;
        Ok(Self {
            principal,
            role,
            tenant,
            serial_hex: serial_hex(cert.raw_serial()),
            not_after: asn1_to_system(cert.validity().not_after),
        })
    }
}

/// The prefix of the URI SAN that names a certificate's tenant.
pub const TENANT_URI_PREFIX: &str = "urn:roster:tenant:";

/// The tenant of every account and certificate that names none.
pub const DEFAULT_TENANT: &str = "default";

/// Checks a tenant name: 1-64 characters of `[a-z0-9._-]`, starting with a letter or digit. The
/// charset keeps a tenant safe in logs, config section names (`[tenants.NAME]`) and index keys
/// (it never holds the `/` the account name index separates it with).
pub fn validate_tenant(name: &str) -> Result<(), PkiError> {
    let err = |reason| PkiError::InvalidTenant {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() || name.len() > 64 {
        return Err(err("must be 1-64 characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return Err(err("must start with a lowercase letter or digit"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    {
        return Err(err("may hold only a-z, 0-9, '.', '_' and '-'"));
    }
    Ok(())
}

/// The tenant a certificate names in its URI SANs: none, or exactly one well-formed name.
fn tenant_of(
    cert: &x509_parser::certificate::X509Certificate<'_>,
) -> Result<Option<String>, PkiError> {
    let san = cert
        .subject_alternative_name()
        .map_err(|e| PkiError::Identity(format!("unreadable subject alternative names: {e}")))?;
    let mut tenants = san.into_iter().flat_map(|ext| {
        ext.value.general_names.iter().filter_map(|n| match n {
            x509_parser::extensions::GeneralName::URI(uri) => uri.strip_prefix(TENANT_URI_PREFIX),
            _ => None,
        })
    });
    let Some(first) = tenants.next() else {
        return Ok(None);
    };
    if tenants.next().is_some() {
        return Err(PkiError::Identity("more than one tenant URI SAN".into()));
    }
    validate_tenant(first).map_err(|_| {
        PkiError::Identity(format!(
            "tenant URI SAN {:?} is malformed (expected {TENANT_URI_PREFIX}NAME, NAME 1-64 of [a-z0-9._-])",
            crate::escape::escape_untrusted(first)
        ))
    })?;
    Ok(Some(first.to_owned()))
}

fn single_attr<'a, 'b: 'a>(
    mut it: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'b>>,
    what: &str,
) -> Result<String, PkiError> {
    let first = it
        .next()
        .ok_or_else(|| PkiError::Identity(format!("no {what}")))?;
    if it.next().is_some() {
        return Err(PkiError::Identity(format!("more than one {what}")));
    }
    first
        .as_str()
        .map(str::to_owned)
        .map_err(|e| PkiError::Identity(format!("{what} is not a string: {e}")))
}

/// Lowercase hex of a DER serial without its sign-padding zero bytes, so a serial reads the
/// same whether or not the encoder needed a leading 0x00.
pub fn serial_hex(raw: &[u8]) -> String {
    let start = raw
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    hex::encode(raw.get(start..).unwrap_or(raw))
}

/// Normalises a serial as an operator might paste it (`AB:CD:...`, upper case, leading zeros)
/// into the form [`ClientIdentity::serial_hex`] uses, or `None` when it is not hex.
pub fn normalize_serial_hex(s: &str) -> Option<String> {
    let cleaned: String = s
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    let bytes = hex::decode(if cleaned.len() % 2 == 1 {
        format!("0{cleaned}")
    } else {
        cleaned
    })
    .ok()?;
    if bytes.is_empty() {
        return None;
    }
    Some(serial_hex(&bytes))
}

/// Facts about a certificate file, for `status` output and diagnostics.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub subject_cn: Option<String>,
    pub serial_hex: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

/// Reads the first certificate of a PEM file.
pub fn cert_info(pem_path: &Path) -> Result<CertInfo, PkiError> {
    let der = read_cert_der(pem_path)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| PkiError::BadCert {
        path: pem_path.to_owned(),
        detail: e.to_string(),
    })?;
    Ok(CertInfo {
        subject_cn: cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .map(str::to_owned),
        serial_hex: serial_hex(cert.raw_serial()),
        not_before: asn1_to_system(cert.validity().not_before),
        not_after: asn1_to_system(cert.validity().not_after),
    })
}

/// Expiry of the first certificate in a PEM file (the daemon reports its own in `status`).
pub fn cert_not_after(pem_path: &Path) -> Result<SystemTime, PkiError> {
    cert_info(pem_path).map(|i| i.not_after)
}

/// Creates a complete PKI in `dir` (CA, server certificate, admin profile). Refuses when a CA
/// is already there; see [`init_with`] to replace it.
pub fn init(dir: &Path, sans: &[String]) -> Result<InitReport, PkiError> {
    init_with(dir, sans, false)
}

/// [`init`], replacing an existing CA (and everything it signed) when `force` is set.
pub fn init_with(dir: &Path, sans: &[String], force: bool) -> Result<InitReport, PkiError> {
    let server_sans = server_sans(sans)?;
    let ca_cert = dir.join(CA_CERT);
    let ca_key = dir.join(CA_KEY);
    if !force {
        for p in [&ca_cert, &ca_key] {
            if p.exists() {
                return Err(PkiError::CaExists { path: p.clone() });
            }
        }
    }
    create_dir(dir)?;
    let mut report = empty_report(dir);
    create_ca(dir)?;
    report.created.extend([ca_cert, ca_key]);
    let ca = load_ca(dir)?;
    report.server_not_after = write_server(dir, &ca, &server_sans, DEFAULT_DAYS)?;
    report
        .created
        .extend([report.server_cert.clone(), report.server_key.clone()]);
    write_admin(dir, &ca, &mut report)?;
    Ok(report)
}

/// Makes sure `dir` holds a dev PKI, creating only what is missing: the first run creates
/// everything, later runs reuse it (so profiles handed out earlier keep working). A server or
/// admin certificate that has expired is renewed; a new CA forces new leaf certificates.
pub fn ensure_dev(dir: &Path) -> Result<InitReport, PkiError> {
    create_dir(dir)?;
    let mut report = empty_report(dir);
    let ca_present = (report.ca_cert.exists(), report.ca_key.exists());
    let new_ca = match ca_present {
        (true, true) => {
            report
                .reused
                .extend([report.ca_cert.clone(), report.ca_key.clone()]);
            false
        }
        (false, false) => {
            create_ca(dir)?;
            report
                .created
                .extend([report.ca_cert.clone(), report.ca_key.clone()]);
            true
        }
        // Half a CA cannot be repaired without invalidating whatever it issued: say so.
        (true, false) => {
            return Err(PkiError::Missing {
                path: report.ca_key.clone(),
                dir: dir.to_owned(),
                what: "CA key next to an existing CA certificate",
            });
        }
        (false, true) => {
            return Err(PkiError::Missing {
                path: report.ca_cert.clone(),
                dir: dir.to_owned(),
                what: "CA certificate next to an existing CA key",
            });
        }
    };
    let ca = load_ca(dir)?;

    let server_ok =
        !new_ca && report.server_key.exists() && still_valid(&report.server_cert).is_some();
    if server_ok {
        report.server_not_after = cert_not_after(&report.server_cert)?;
        report
            .reused
            .extend([report.server_cert.clone(), report.server_key.clone()]);
    } else {
        let sans = server_sans(&[])?;
        report.server_not_after = write_server(dir, &ca, &sans, DEFAULT_DAYS)?;
        report
            .created
            .extend([report.server_cert.clone(), report.server_key.clone()]);
    }

    let admin = &report.admin_profile;
    let admin_ok = !new_ca
        && admin.join(PROFILE_KEY).exists()
        && admin.join(PROFILE_CA).exists()
        && still_valid(&admin.join(PROFILE_CERT)).is_some();
    if admin_ok {
        report.reused.push(admin.clone());
    } else {
        write_admin(dir, &ca, &mut report)?;
    }
    Ok(report)
}

/// Issues a client certificate for `name` with `role`, valid from now for `days`, signed by the
/// CA in `dir`, into the profile directory `out`. Refuses to overwrite an existing profile.
pub fn issue_client(
    dir: &Path,
    name: &str,
    role: Role,
    out: &Path,
    days: u32,
) -> Result<IssuedCert, PkiError> {
    let now = SystemTime::now();
    let not_after = now + DAY * days.max(1);
    issue_client_opts(dir, name, role, None, out, now - BACKDATE, not_after, false)
}

/// Like [`issue_client`], in `tenant` (`None`: no tenant SAN, i.e. tenant `default`, or a global
/// admin).
pub fn issue_client_in_tenant(
    dir: &Path,
    name: &str,
    role: Role,
    tenant: Option<&str>,
    out: &Path,
    days: u32,
) -> Result<IssuedCert, PkiError> {
    let now = SystemTime::now();
    let not_after = now + DAY * days.max(1);
    issue_client_opts(
        dir,
        name,
        role,
        tenant,
        out,
        now - BACKDATE,
        not_after,
        false,
    )
}

/// Issues a client certificate with these URI SANs as they stand, unchecked: tests use it to
/// make certificates with two tenants or a malformed one, which the daemon must refuse.
pub fn issue_client_with_uris(
    dir: &Path,
    name: &str,
    role: Role,
    uris: &[&str],
    out: &Path,
) -> Result<IssuedCert, PkiError> {
    validate_name(name)?;
    let now = SystemTime::now();
    let ca = load_ca(dir)?;
    write_client(&ca, name, role, uris, out, now - BACKDATE, now + DAY)
}

/// Like [`issue_client`] with an explicit validity window, which may lie in the past or the
/// future: tests use it to make expired and not-yet-valid certificates.
pub fn issue_client_with_validity(
    dir: &Path,
    name: &str,
    role: Role,
    out: &Path,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<IssuedCert, PkiError> {
    issue_client_opts(dir, name, role, None, out, not_before, not_after, false)
}

/// The general form: `tenant` names the holder's tenant (see [`issue_client_in_tenant`]),
/// `overwrite` replaces an existing `cert.pem`/`key.pem` in `out`.
#[allow(clippy::too_many_arguments)]
pub fn issue_client_opts(
    dir: &Path,
    name: &str,
    role: Role,
    tenant: Option<&str>,
    out: &Path,
    not_before: SystemTime,
    not_after: SystemTime,
    overwrite: bool,
) -> Result<IssuedCert, PkiError> {
    validate_name(name)?;
    if let Some(tenant) = tenant {
        validate_tenant(tenant)?;
    }
    if not_after <= not_before {
        return Err(PkiError::InvalidValidity(
            "not_after must be later than not_before".into(),
        ));
    }
    if !overwrite {
        for f in [PROFILE_CERT, PROFILE_KEY] {
            let p = out.join(f);
            if p.exists() {
                return Err(PkiError::ProfileExists { path: p });
            }
        }
    }
    let ca = load_ca(dir)?;
    let uri = tenant.map(|t| format!("{TENANT_URI_PREFIX}{t}"));
    let uris: Vec<&str> = uri.as_deref().into_iter().collect();
    write_client(&ca, name, role, &uris, out, not_before, not_after)
}

/// Creates only a CA (`DIR/ca.pem`, `DIR/ca.key`), replacing any existing one. Tests use it
/// to make a CA the daemon does not trust.
pub fn create_ca(dir: &Path) -> Result<(), PkiError> {
    create_dir(dir)?;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    // A unique CA name: two unrelated Roster CAs then differ by subject, so a peer presenting a
    // certificate from the wrong one fails as "unknown issuer" rather than "bad signature".
    let cn = format!("Roster CA {:08x}", rand::random::<u32>());
    params.distinguished_name = dn(&[
        (DnType::OrganizationName, "Roster"),
        (DnType::CommonName, &cn),
    ]);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = SystemTime::now();
    params.not_before = to_offset(now - BACKDATE)?;
    params.not_after = to_offset(now + DAY * CA_DAYS)?;
    params.serial_number = Some(random_serial().0);
    let cert = params.self_signed(&key)?;
    // Key first: a CA certificate without its key is the state `ensure_dev` refuses to repair.
    write_file(&dir.join(CA_KEY), key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&dir.join(CA_CERT), cert.pem().as_bytes(), 0o644)?;
    Ok(())
}

/// A loaded CA, ready to sign.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn load_ca(dir: &Path) -> Result<Ca, PkiError> {
    let cert_path = dir.join(CA_CERT);
    let key_path = dir.join(CA_KEY);
    let pem = read_to_string(&cert_path, dir, "CA certificate")?;
    let key_pem = read_to_string(&key_path, dir, "CA key")?;
    let key = KeyPair::from_pem(&key_pem).map_err(|e| PkiError::BadKey {
        path: key_path.clone(),
        detail: e.to_string(),
    })?;
    let der = pem_to_der(&cert_path, pem.as_bytes())?;
    let (_, x509) = x509_parser::parse_x509_certificate(&der).map_err(|e| PkiError::BadCert {
        path: cert_path.clone(),
        detail: e.to_string(),
    })?;
    if x509.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(PkiError::KeyMismatch {
            key: key_path,
            cert: cert_path,
        });
    }
    let ca_not_after = asn1_to_system(x509.validity().not_after);
    if ca_not_after <= SystemTime::now() {
        return Err(PkiError::CaExpired {
            path: cert_path,
            not_after: ca_not_after,
        });
    }
    let issuer =
        Issuer::from_ca_cert_der(&der.clone().into(), key).map_err(|e| PkiError::BadCert {
            path: cert_path.clone(),
            detail: e.to_string(),
        })?;
    Ok(Ca { issuer, pem })
}

fn write_server(dir: &Path, ca: &Ca, sans: &[SanType], days: u32) -> Result<SystemTime, PkiError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(&[
        (DnType::OrganizationName, "Roster"),
        (DnType::CommonName, "rosterd"),
    ]);
    params.subject_alt_names = sans.to_vec();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = SystemTime::now();
    let not_after = now + DAY * days.max(1);
    params.not_before = to_offset(now - BACKDATE)?;
    params.not_after = to_offset(not_after)?;
    params.serial_number = Some(random_serial().0);
    let cert = params.signed_by(&key, &ca.issuer)?;
    write_file(&dir.join(SERVER_KEY), key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&dir.join(SERVER_CERT), cert.pem().as_bytes(), 0o644)?;
    Ok(truncate_to_secs(not_after))
}

fn write_admin(dir: &Path, ca: &Ca, report: &mut InitReport) -> Result<(), PkiError> {
    let now = SystemTime::now();
    let issued = write_client(
        ca,
        ADMIN_NAME,
        Role::Admin,
        &[],
        &dir.join(ADMIN_PROFILE),
        now - BACKDATE,
        now + DAY * DEFAULT_DAYS,
    )?;
    report
        .created
        .extend([issued.ca_path, issued.cert_path, issued.key_path]);
    Ok(())
}

fn write_client(
    ca: &Ca,
    name: &str,
    role: Role,
    uris: &[&str],
    out: &Path,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<IssuedCert, PkiError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(&[
        (DnType::OrganizationName, "Roster"),
        (DnType::OrganizationalUnitName, role.as_str()),
        (DnType::CommonName, name),
    ]);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.subject_alt_names = uris
        .iter()
        .map(|u| {
            Ok(SanType::URI((*u).try_into().map_err(|_| {
                PkiError::InvalidSan {
                    san: (*u).to_owned(),
                    reason: "not an IA5 string".into(),
                }
            })?))
        })
        .collect::<Result<_, PkiError>>()?;
    params.use_authority_key_identifier_extension = true;
    params.not_before = to_offset(not_before)?;
    params.not_after = to_offset(not_after)?;
    let (serial, serial_hex) = random_serial();
    params.serial_number = Some(serial);
    let cert = params.signed_by(&key, &ca.issuer)?;

    create_dir(out)?;
    let ca_path = out.join(PROFILE_CA);
    let cert_path = out.join(PROFILE_CERT);
    let key_path = out.join(PROFILE_KEY);
    write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&cert_path, cert.pem().as_bytes(), 0o644)?;
    write_file(&ca_path, ca.pem.as_bytes(), 0o644)?;
    let tenant = uris
        .iter()
        .find_map(|u| u.strip_prefix(TENANT_URI_PREFIX))
        .map(str::to_owned);
    Ok(IssuedCert {
        principal: name.to_owned(),
        role,
        tenant,
        serial_hex,
        not_before: truncate_to_secs(not_before),
        not_after: truncate_to_secs(not_after),
        profile: out.to_owned(),
        cert_path,
        key_path,
        ca_path,
    })
}

/// Checks a principal name: 1-64 characters of `[A-Za-z0-9._@-]`. The charset keeps names safe
/// to print in logs and audit records and unambiguous inside a Subject DN.
pub fn validate_name(name: &str) -> Result<(), PkiError> {
    let err = |reason| PkiError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(err("must not be empty"));
    }
    if name.len() > 64 {
        return Err(err("must be at most 64 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
    {
        return Err(err("may only contain A-Z a-z 0-9 . _ @ -"));
    }
    Ok(())
}

/// The default loopback SANs plus `extra` (each an IP address or a DNS name), deduplicated.
fn server_sans(extra: &[String]) -> Result<Vec<SanType>, PkiError> {
    let mut out: Vec<SanType> = Vec::new();
    for s in DEFAULT_SANS
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
    {
        let s = s.trim();
        let san = match IpAddr::from_str(s) {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => {
                let valid = !s.is_empty()
                    && s.len() <= 253
                    && s.split('.').all(|label| {
                        !label.is_empty()
                            && label.len() <= 63
                            && label
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
                    });
                if !valid {
                    return Err(PkiError::InvalidSan {
                        san: s.to_owned(),
                        reason: "not an IP address or a DNS name".into(),
                    });
                }
                let name =
                    s.to_owned()
                        .try_into()
                        .map_err(|e: rcgen::Error| PkiError::InvalidSan {
                            san: s.to_owned(),
                            reason: e.to_string(),
                        })?;
                SanType::DnsName(name)
            }
        };
        if !out.contains(&san) {
            out.push(san);
        }
    }
    Ok(out)
}

fn empty_report(dir: &Path) -> InitReport {
    InitReport {
        dir: dir.to_owned(),
        ca_cert: dir.join(CA_CERT),
        ca_key: dir.join(CA_KEY),
        server_cert: dir.join(SERVER_CERT),
        server_key: dir.join(SERVER_KEY),
        admin_profile: dir.join(ADMIN_PROFILE),
        created: Vec::new(),
        reused: Vec::new(),
        server_not_after: UNIX_EPOCH,
    }
}

/// `Some(not_after)` when the certificate file parses and has not expired.
fn still_valid(path: &Path) -> Option<SystemTime> {
    cert_not_after(path).ok().filter(|t| *t > SystemTime::now())
}

fn dn(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (ty, v) in parts {
        dn.push(ty.clone(), *v);
    }
    dn
}

/// 16 random bytes, high bit cleared (positive) and first byte non-zero (so the DER INTEGER is
/// exactly 16 bytes and its hex is always 32 digits).
fn random_serial() -> (SerialNumber, String) {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f;
    if bytes[0] == 0 {
        bytes[0] = 0x01;
    }
    (SerialNumber::from_slice(&bytes), hex::encode(bytes))
}

fn to_offset(t: SystemTime) -> Result<OffsetDateTime, PkiError> {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok(),
        Err(e) => i64::try_from(e.duration().as_secs()).ok().map(|s| -s),
    };
    secs.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| PkiError::InvalidValidity("time out of range".into()))
}

fn truncate_to_secs(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => t,
    }
}

/// Certificate times before 1970 are clamped to the epoch: for expiry checks they mean
/// "long ago" either way, and it keeps every time printable.
fn asn1_to_system(t: x509_parser::time::ASN1Time) -> SystemTime {
    u64::try_from(t.timestamp())
        .ok()
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .unwrap_or(UNIX_EPOCH)
}

fn read_to_string(path: &Path, dir: &Path, what: &'static str) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            PkiError::Missing {
                path: path.to_owned(),
                dir: dir.to_owned(),
                what,
            }
        } else {
            PkiError::Io {
                path: path.to_owned(),
                source,
            }
        }
    })
}

fn read_cert_der(path: &Path) -> Result<Vec<u8>, PkiError> {
    let bytes = fs::read(path).map_err(|source| PkiError::Io {
        path: path.to_owned(),
        source,
    })?;
    pem_to_der(path, &bytes)
}

fn pem_to_der(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, PkiError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(bytes).map_err(|e| PkiError::BadCert {
        path: path.to_owned(),
        detail: format!("not PEM: {e}"),
    })?;
    if pem.label != "CERTIFICATE" {
        return Err(PkiError::BadCert {
            path: path.to_owned(),
            detail: format!("expected a CERTIFICATE block, found {}", pem.label),
        });
    }
    Ok(pem.contents)
}

fn create_dir(dir: &Path) -> Result<(), PkiError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| PkiError::Io {
            path: dir.to_owned(),
            source,
        })
}

/// Writes `bytes` to `path` whole, with `mode` from the start (see [`file::write_whole`]).
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    file::write_whole(path, bytes, mode, file::Existing::Replace).map_err(|source| PkiError::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn der_of(p: &Path) -> Vec<u8> {
        read_cert_der(p).unwrap()
    }

    #[test]
    fn role_parses_and_prints() {
        for r in Role::ALL {
            assert_eq!(r.to_string().parse::<Role>().unwrap(), r);
        }
        assert_eq!("viewer".parse::<Role>().unwrap(), Role::Viewer);
        assert!("Admin".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
        let e = "root".parse::<Role>().unwrap_err().to_string();
        assert!(e.contains("root") && e.contains("viewer"), "{e}");
    }

    #[test]
    fn names_are_validated() {
        validate_name("alice@desk-1.example_x").unwrap();
        validate_name(&"a".repeat(64)).unwrap();
        assert!(validate_name("").is_err());
        assert!(validate_name(&"a".repeat(65)).is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name("a,OU=admin").is_err());
    }

    #[test]
    fn init_issue_and_identity_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let report = init(&dir, &["roster.example.com".into(), "10.0.0.7".into()]).unwrap();
        for p in [
            &report.ca_cert,
            &report.ca_key,
            &report.server_cert,
            &report.server_key,
        ] {
            assert!(p.exists(), "{}", p.display());
        }
        for f in [PROFILE_CA, PROFILE_CERT, PROFILE_KEY] {
            assert!(report.admin_profile.join(f).exists());
        }
        let admin = ClientIdentity::from_der(&der_of(&dir.join("admin/cert.pem"))).unwrap();
        assert_eq!(admin.principal, "admin");
        assert_eq!(admin.role, Role::Admin);

        let out = tmp.path().join("viewer");
        let issued = issue_client(&dir, "viewer-1", Role::Viewer, &out, 30).unwrap();
        assert_eq!(issued.serial_hex.len(), 32);
        assert!(
            issued
                .serial_hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        let id = ClientIdentity::from_der(&der_of(&out.join(PROFILE_CERT))).unwrap();
        assert_eq!(id.principal, "viewer-1");
        assert_eq!(id.role, Role::Viewer);
        assert_eq!(id.serial_hex, issued.serial_hex);
        assert_eq!(id.not_after, issued.not_after);
        let days = id
            .not_after
            .duration_since(SystemTime::now())
            .unwrap()
            .as_secs()
            / 86_400;
        assert!((29..=30).contains(&days), "{days}");
        assert_eq!(
            fs::read(out.join(PROFILE_CA)).unwrap(),
            fs::read(dir.join(CA_CERT)).unwrap()
        );
        assert_eq!(
            cert_not_after(&out.join(PROFILE_CERT)).unwrap(),
            id.not_after
        );

        // A second init refuses; force replaces.
        let e = init(&dir, &[]).unwrap_err();
        assert!(matches!(e, PkiError::CaExists { .. }), "{e}");
        // Issuing over an existing profile refuses.
        let e = issue_client(&dir, "viewer-1", Role::Viewer, &out, 30).unwrap_err();
        assert!(matches!(e, PkiError::ProfileExists { .. }), "{e}");
        let old_ca = fs::read(dir.join(CA_CERT)).unwrap();
        init_with(&dir, &[], true).unwrap();
        assert_ne!(old_ca, fs::read(dir.join(CA_CERT)).unwrap());
    }

    #[test]
    fn certificates_verify_with_rustls() {
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        init(dir, &["roster.internal".into()]).unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(der_of(&dir.join(CA_CERT))))
            .unwrap();
        let roots = std::sync::Arc::new(roots);
        let now = UnixTime::now();

        let server = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )
        .build()
        .unwrap();
        let server_der = CertificateDer::from(der_of(&dir.join(SERVER_CERT)));
        for name in ["localhost", "127.0.0.1", "::1", "roster.internal"] {
            server
                .verify_server_cert(
                    &server_der,
                    &[],
                    &ServerName::try_from(name).unwrap(),
                    &[],
                    now,
                )
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }

        let client =
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .unwrap();
        let client_der = CertificateDer::from(der_of(&dir.join("admin").join(PROFILE_CERT)));
        client.verify_client_cert(&client_der, &[], now).unwrap();

        // An expired certificate from the same CA is refused by rustls.
        let expired = tmp.path().join("expired");
        let t = SystemTime::now();
        issue_client_with_validity(dir, "old", Role::Viewer, &expired, t - DAY * 10, t - DAY)
            .unwrap();
        let e = client
            .verify_client_cert(
                &CertificateDer::from(der_of(&expired.join(PROFILE_CERT))),
                &[],
                now,
            )
            .unwrap_err();
        assert!(e.to_string().to_lowercase().contains("expired"), "{e}");

        // A certificate from an unrelated CA is refused.
        let other = tmp.path().join("other");
        init(&other, &[]).unwrap();
        let e = client
            .verify_client_cert(
                &CertificateDer::from(der_of(&other.join("admin").join(PROFILE_CERT))),
                &[],
                now,
            )
            .unwrap_err();
        assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    }

    #[test]
    fn second_ensure_dev_reuses_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("dev");
        let first = ensure_dev(&dir).unwrap();
        assert!(first.reused.is_empty());
        assert_eq!(first.created.len(), 7);
        let before: Vec<Vec<u8>> = [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY, "admin/cert.pem"]
            .iter()
            .map(|f| fs::read(dir.join(f)).unwrap())
            .collect();
        let second = ensure_dev(&dir).unwrap();
        assert!(second.created.is_empty(), "{:?}", second.created);
        let after: Vec<Vec<u8>> = [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY, "admin/cert.pem"]
            .iter()
            .map(|f| fs::read(dir.join(f)).unwrap())
            .collect();
        assert_eq!(before, after);

        // A missing server key is recreated without touching the CA.
        fs::remove_file(dir.join(SERVER_KEY)).unwrap();
        let third = ensure_dev(&dir).unwrap();
        assert!(third.created.contains(&dir.join(SERVER_KEY)));
        assert_eq!(fs::read(dir.join(CA_KEY)).unwrap(), before[1]);
        // Half a CA is an error, not a silent new CA.
        fs::remove_file(dir.join(CA_KEY)).unwrap();
        assert!(matches!(
            ensure_dev(&dir).unwrap_err(),
            PkiError::Missing { .. }
        ));
    }

    #[test]
    fn the_tenant_is_written_and_read_back_and_a_bad_one_is_unusable() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        init(&dir, &[]).unwrap();
        let id = |p: &Path| ClientIdentity::from_der(&der_of(&p.join(PROFILE_CERT)));
        let a = tmp.path().join("a");
        let issued =
            issue_client_in_tenant(&dir, "ann", Role::Operator, Some("acme-1"), &a, 1).unwrap();
        assert_eq!(issued.tenant.as_deref(), Some("acme-1"));
        assert_eq!(id(&a).unwrap().tenant.as_deref(), Some("acme-1"));
        // Issued so far: no tenant SAN.
        assert_eq!(id(&dir.join("admin")).unwrap().tenant, None);
        for bad in ["", "Acme", "-acme", "a/b", &"x".repeat(65)] {
            assert!(
                matches!(
                    issue_client_in_tenant(
                        &dir,
                        "bob",
                        Role::Viewer,
                        Some(bad),
                        &tmp.path().join("b"),
                        1
                    ),
                    Err(PkiError::InvalidTenant { .. })
                ),
                "{bad:?}"
            );
        }
        let two = tmp.path().join("two");
        issue_client_with_uris(
            &dir,
            "two",
            Role::Viewer,
            &["urn:roster:tenant:a", "urn:roster:tenant:b"],
            &two,
        )
        .unwrap();
        let e = id(&two).unwrap_err().to_string();
        assert!(e.contains("more than one tenant"), "{e}");
        let bad = tmp.path().join("bad");
        issue_client_with_uris(
            &dir,
            "bad",
            Role::Viewer,
            &["urn:roster:tenant:Not/Ok"],
            &bad,
        )
        .unwrap();
        let e = id(&bad).unwrap_err().to_string();
        assert!(e.contains("malformed"), "{e}");
        // Other URI SANs say nothing about the tenant.
        let other = tmp.path().join("other");
        issue_client_with_uris(
            &dir,
            "oth",
            Role::Viewer,
            &["https://example.com/x"],
            &other,
        )
        .unwrap();
        assert_eq!(id(&other).unwrap().tenant, None);
    }

    #[test]
    fn key_files_are_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        init(&dir, &[]).unwrap();
        issue_client(&dir, "op", Role::Operator, &tmp.path().join("op"), 1).unwrap();
        for p in [
            dir.join(CA_KEY),
            dir.join(SERVER_KEY),
            dir.join("admin").join(PROFILE_KEY),
            tmp.path().join("op").join(PROFILE_KEY),
        ] {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn identity_requires_cn_and_known_ou() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let make = |parts: &[(DnType, &str)]| {
            let mut p = CertificateParams::default();
            p.distinguished_name = dn(parts);
            p.self_signed(&key).unwrap().der().to_vec()
        };
        let ok = make(&[
            (DnType::OrganizationalUnitName, "operator"),
            (DnType::CommonName, "bob"),
        ]);
        let id = ClientIdentity::from_der(&ok).unwrap();
        assert_eq!((id.principal.as_str(), id.role), ("bob", Role::Operator));
        let no_ou = make(&[(DnType::CommonName, "bob")]);
        assert!(
            ClientIdentity::from_der(&no_ou)
                .unwrap_err()
                .to_string()
                .contains("OU")
        );
        let bad_ou = make(&[
            (DnType::OrganizationalUnitName, "root"),
            (DnType::CommonName, "bob"),
        ]);
        assert!(
            ClientIdentity::from_der(&bad_ou)
                .unwrap_err()
                .to_string()
                .contains("root")
        );
        let no_cn = make(&[(DnType::OrganizationalUnitName, "admin")]);
        assert!(
            ClientIdentity::from_der(&no_cn)
                .unwrap_err()
                .to_string()
                .contains("CN")
        );
        assert!(ClientIdentity::from_der(b"garbage").is_err());
    }

    #[test]
    fn serial_hex_normalises() {
        assert_eq!(serial_hex(&[0x00, 0x8a, 0x01]), "8a01");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(normalize_serial_hex("00:8A:01").as_deref(), Some("8a01"));
        assert_eq!(normalize_serial_hex("zz"), None);
    }

    #[test]
    fn bad_inputs_have_clear_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let e = issue_client(tmp.path(), "x", Role::Admin, &tmp.path().join("o"), 1).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("ca.pem") && msg.contains("pki init"), "{msg}");
        let e = init(&tmp.path().join("p"), &["not a name".into()]).unwrap_err();
        assert!(matches!(e, PkiError::InvalidSan { .. }), "{e}");
        init(&tmp.path().join("p"), &[]).unwrap();
        let e = issue_client(
            &tmp.path().join("p"),
            "bad name",
            Role::Admin,
            &tmp.path().join("o"),
            1,
        )
        .unwrap_err();
        assert!(matches!(e, PkiError::InvalidName { .. }), "{e}");
    }
}
