//! What an account request may hold: names, venue kinds and environments, URLs (stored in one
//! normal form), credentials (the venue's fields, each within its bounds), labels and label
//! selectors. Each check adds its violation to a list, so a request reports every bad
//! field at once.

use std::collections::BTreeMap;

use reqwest::Url;

use super::{AccountError, FieldViolation};
use crate::connector::{VENUES, Venue, venue};
use crate::secret::Credential;
use crate::store::AccountRecord;

pub const NAME_MAX: usize = 64;
pub const URL_MAX: usize = 2048;
pub const LABELS_MAX: usize = 32;
pub const LABEL_KEY_MAX: usize = 63;
pub const LABEL_VALUE_MAX: usize = 63;
pub const DEFAULT_CONNECTOR: &str = "openalgo";

/// A validated request to create an account.
#[derive(Debug)]
pub struct NewAccount {
    pub request_id: String,
    pub name: String,
    /// The owning tenant (the API sets it from the caller, see `api::accounts`).
    pub tenant: String,
    pub connector: String,
    /// Empty: the venue's default ("live" where it has one).
    pub environment: String,
    /// Empty: the venue's host for the environment (required for OpenAlgo, which has none).
    pub host_url: String,
    pub ws_url: String,
    pub credential: Credential,
    pub labels: BTreeMap<String, String>,
    pub enabled: bool,
}

/// The fields an update changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct AccountPatch {
    pub name: Option<String>,
    /// A move to another tenant (global admins only; the API checks who asks).
    pub tenant: Option<String>,
    pub host_url: Option<String>,
    pub ws_url: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub enabled: Option<bool>,
    /// A whole new credential: every field of the account's venue (checked against it in
    /// `writes::update`, where the account is known).
    pub credential: Option<Credential>,
}

/// A tenant is named as certificates name it (`pki::validate_tenant`).
pub fn check_tenant(field: &str, tenant: &str, out: &mut Vec<FieldViolation>) {
    if let Err(e) = crate::pki::validate_tenant(tenant) {
        out.push(FieldViolation::new(field, e.to_string()));
    }
}

pub fn check_name(field: &str, name: &str, out: &mut Vec<FieldViolation>) {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty() || name.len() > NAME_MAX {
        out.push(FieldViolation::new(
            field,
            format!("must be 1-{NAME_MAX} characters"),
        ));
    } else if !ok_chars || !starts_ok {
        out.push(FieldViolation::new(
            field,
            "may contain only A-Z a-z 0-9 . _ - and must start with a letter or digit",
        ));
    } else if uuid::Uuid::try_parse(name).is_ok() {
        // Clients (rosterctl) take an id or a name in one argument, ids first: a name in an id's
        // shape could pass for, or hide behind, another account.
        out.push(FieldViolation::new(
            field,
            "must not look like an account id (a UUID)",
        ));
    }
}

/// The form of a URL that is stored and called: `scheme://host[:port][/path]`, scheme and host
/// lowercase, a default port dropped, the path as the URL parser normalises it without a
/// trailing slash. `None`, with a violation in `out`, when `url` is not acceptable.
///
/// Accepted is only what every parser reads the same way: visible ASCII (no whitespace or
/// control characters, which some parsers strip and others keep), no `\` (some read it as `/`),
/// `scheme://` written out (some accept `http:host`), no user info (`user:pass@`, which would
/// also land in logs), no query or fragment (the connector would drop them silently).
pub fn normalize_url(
    field: &str,
    url: &str,
    schemes: &[&str],
    out: &mut Vec<FieldViolation>,
) -> Option<String> {
    let mut refuse = |why: String| {
        out.push(FieldViolation::new(field, why));
        None
    };
    if url.len() > URL_MAX {
        return refuse(format!("must be at most {URL_MAX} characters"));
    }
    if let Some(c) = url.chars().find(|c| !c.is_ascii_graphic()) {
        return refuse(format!(
            "must be visible ASCII only (found {}; write international host names in punycode)",
            c.escape_default()
        ));
    }
    if url.contains('\\') {
        return refuse("must not contain a backslash".into());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return refuse(format!("must start with {}://", schemes.join(":// or ")));
    };
    let scheme = scheme.to_ascii_lowercase();
    if !schemes.contains(&scheme.as_str()) {
        return refuse(format!(
            "scheme must be {} (got {scheme:?})",
            schemes.join(" or ")
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return refuse("must not carry credentials (user info before @)".into());
    }
    if url.contains(['?', '#']) {
        return refuse("must not have a query or fragment".into());
    }
    let parsed = match Url::parse(url) {
        Ok(u) => u,
        Err(e) => return refuse(format!("is not a valid URL ({e})")),
    };
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return refuse("must name a host".into());
    };
    // `Url` has already lowercased the scheme and host and dropped a default port.
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = parsed.path().trim_end_matches('/');
    Some(format!("{}://{host}{port}{path}", parsed.scheme()))
}

/// A credential value: 1-`max` visible ASCII characters; a multi-line field (a PEM private key)
/// may also hold spaces and line breaks.
fn check_secret(
    field: &str,
    value: &str,
    max: usize,
    multiline: bool,
    out: &mut Vec<FieldViolation>,
) {
    if value.is_empty() || value.len() > max {
        out.push(FieldViolation::new(
            field,
            format!("must be 1-{max} characters"),
        ));
    } else if !value
        .bytes()
        .all(|b| b.is_ascii_graphic() || (multiline && matches!(b, b' ' | b'\n' | b'\r')))
    {
        out.push(FieldViolation::new(
            field,
            "must be visible ASCII characters only (no spaces or control characters)",
        ));
    }
}

/// Every field `venue` declares, each within its bounds, and no other. The violations name the
/// expected fields, never a value.
pub fn check_credential(
    field: &str,
    venue: &Venue,
    credential: &Credential,
    out: &mut Vec<FieldViolation>,
) {
    let expected = venue.field_names().join(", ");
    for name in credential.field_names() {
        if !venue.credential_fields.iter().any(|f| f.name == name) {
            out.push(FieldViolation::new(
                format!("{field}.{}", shown(name)),
                format!(
                    "is not a {} credential field (expected: {expected})",
                    venue.kind
                ),
            ));
        }
    }
    for f in venue.credential_fields {
        match credential.get(f.name) {
            None => out.push(FieldViolation::new(
                format!("{field}.{}", f.name),
                format!("is missing ({} needs: {expected})", venue.kind),
            )),
            Some(v) => check_secret(
                &format!("{field}.{}", f.name),
                v.expose(),
                f.max_len,
                f.multiline,
                out,
            ),
        }
    }
}

/// Client text quoted back in a violation: cut to 64 characters, controls made visible.
fn shown(text: &str) -> String {
    let cut: String = text.chars().take(64).collect();
    crate::escape::escape_untrusted(&cut).into_owned()
}

/// The venue of kind `connector`, or a violation naming the kinds there are.
pub fn check_connector(
    field: &str,
    connector: &str,
    out: &mut Vec<FieldViolation>,
) -> Option<&'static Venue> {
    let found = venue(connector);
    if found.is_none() {
        let kinds: Vec<&str> = VENUES.iter().map(|v| v.kind).collect();
        out.push(FieldViolation::new(
            field,
            format!(
                "unknown connector {:?}; supported: {}",
                shown(connector),
                kinds.join(", ")
            ),
        ));
    }
    found
}

/// The environment an account of `venue` is in (`environment`, or the venue's default), or a
/// violation naming the venue's environments.
pub fn check_environment(
    field: &str,
    venue: &Venue,
    environment: &str,
    out: &mut Vec<FieldViolation>,
) -> Option<&'static crate::connector::VenueEnvironment> {
    let name = if environment.is_empty() {
        venue.default_environment()
    } else {
        environment
    };
    let found = venue.environment(name);
    if found.is_none() {
        let names: Vec<&str> = venue.environments.iter().map(|e| e.name).collect();
        out.push(FieldViolation::new(
            field,
            format!(
                "{} has no environment {:?}; it has: {}",
                venue.kind,
                shown(name),
                names.join(", ")
            ),
        ));
    }
    found
}

pub fn check_labels(field: &str, labels: &BTreeMap<String, String>, out: &mut Vec<FieldViolation>) {
    if labels.len() > LABELS_MAX {
        out.push(FieldViolation::new(
            field,
            format!("at most {LABELS_MAX} labels"),
        ));
    }
    for (k, v) in labels {
        let key_ok = !k.is_empty()
            && k.len() <= LABEL_KEY_MAX
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
        if !key_ok {
            out.push(FieldViolation::new(
                format!("{field}[{k}]"),
                format!("label key must be 1-{LABEL_KEY_MAX} characters of A-Z a-z 0-9 . _ - /"),
            ));
        }
        let value_ok = v.len() <= LABEL_VALUE_MAX
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !value_ok {
            out.push(FieldViolation::new(
                format!("{field}[{k}]"),
                format!("label value must be 0-{LABEL_VALUE_MAX} characters of A-Z a-z 0-9 . _ -"),
            ));
        }
    }
}

fn check_request_id(request_id: &str, out: &mut Vec<FieldViolation>) {
    if request_id.len() > 128 || request_id.chars().any(char::is_control) {
        out.push(FieldViolation::new(
            "request_id",
            "must be at most 128 characters, no control characters",
        ));
    }
}

fn finish(violations: Vec<FieldViolation>) -> Result<(), AccountError> {
    if violations.is_empty() {
        Ok(())
    } else {
        Err(AccountError::Invalid(violations))
    }
}

impl NewAccount {
    /// Checks every field, and puts the URLs in their stored form.
    pub fn validate(&mut self) -> Result<(), AccountError> {
        let mut v = Vec::new();
        check_request_id(&self.request_id, &mut v);
        check_name("name", &self.name, &mut v);
        check_tenant("tenant", &self.tenant, &mut v);
        let venue = check_connector("connector", &self.connector, &mut v);
        if let Some(venue) = venue
            && let Some(env) = check_environment("environment", venue, &self.environment, &mut v)
        {
            self.environment = env.name.to_string();
            if self.host_url.is_empty() {
                match env.default_host {
                    Some(host) => self.host_url = host.to_string(),
                    None => v.push(FieldViolation::new(
                        "host_url",
                        format!("is required for {} (its instance's URL)", venue.kind),
                    )),
                }
            }
        }
        if !self.host_url.is_empty()
            && let Some(url) = normalize_url("host_url", &self.host_url, &["http", "https"], &mut v)
        {
            self.host_url = url;
        }
        if let Some(venue) = venue {
            check_credential("credentials", venue, &self.credential, &mut v);
        }
        if !self.ws_url.is_empty()
            && let Some(url) = normalize_url("ws_url", &self.ws_url, &["ws", "wss"], &mut v)
        {
            self.ws_url = url;
        }
        check_labels("labels", &self.labels, &mut v);
        finish(v)
    }
}

impl AccountPatch {
    /// Checks every field it changes, and puts the URLs in their stored form.
    pub fn validate(&mut self) -> Result<(), AccountError> {
        let mut v = Vec::new();
        if let Some(name) = &self.name {
            check_name("account.name", name, &mut v);
        }
        if let Some(tenant) = &self.tenant {
            check_tenant("account.tenant", tenant, &mut v);
        }
        if let Some(url) = self.host_url.as_mut()
            && let Some(normal) = normalize_url("account.host_url", url, &["http", "https"], &mut v)
        {
            *url = normal;
        }
        if let Some(url) = self.ws_url.as_mut().filter(|u| !u.is_empty())
            && let Some(normal) = normalize_url("account.ws_url", url, &["ws", "wss"], &mut v)
        {
            *url = normal;
        }
        if let Some(labels) = &self.labels {
            check_labels("account.labels", labels, &mut v);
        }
        finish(v)
    }

    /// The fields this patch changes on `r`, named as the update event lists them.
    pub(super) fn changed_fields(&self, r: &AccountRecord) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.name.as_ref().is_some_and(|n| *n != r.name) {
            out.push("name");
        }
        if self.tenant.as_ref().is_some_and(|t| *t != r.tenant) {
            out.push("tenant");
        }
        if self.host_url.as_ref().is_some_and(|u| *u != r.host_url) {
            out.push("host_url");
        }
        if self.ws_url.as_ref().is_some_and(|u| *u != r.ws_url) {
            out.push("ws_url");
        }
        if self.labels.as_ref().is_some_and(|l| *l != r.labels) {
            out.push("labels");
        }
        if self.enabled.is_some_and(|e| e != r.enabled) {
            out.push("enabled");
        }
        // A new credential always counts as a change: comparing would mean unsealing the old.
        if self.credential.is_some() {
            out.push("credentials");
        }
        out
    }
}

/// "k=v,k2=v2": an account matches when every pair is among its labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<(String, String)>);

impl LabelSelector {
    pub fn parse(field: &str, text: &str) -> Result<Self, AccountError> {
        let mut pairs = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(AccountError::invalid(
                    field,
                    format!("{part:?} is not KEY=VALUE"),
                ));
            };
            pairs.push((k.trim().to_string(), v.trim().to_string()));
        }
        Ok(Self(pairs))
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|(k, v)| labels.get(k) == Some(v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The order people expect of account names (shared with rosterctl, which sorts what it lists).
pub use roster_proto::names::natural_order;

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts what `normalize_url` accepts.
    fn check_url(field: &str, url: &str, schemes: &[&str], out: &mut Vec<FieldViolation>) {
        let _ = normalize_url(field, url, schemes, out);
    }

    fn violations(f: impl Fn(&mut Vec<FieldViolation>)) -> Vec<FieldViolation> {
        let mut v = Vec::new();
        f(&mut v);
        v
    }

    #[test]
    fn names() {
        assert!(violations(|v| check_name("n", "desk-a.01_x", v)).is_empty());
        for bad in [
            "",
            "-lead",
            "has space",
            "ünï",
            &"x".repeat(65),
            // Account ids are UUIDs; no name may look like one, in any of its spellings.
            "0190b6a4-7c2e-7d3f-9a1b-2c3d4e5f6a7b",
            "0190B6A47C2E7D3F9A1B2C3D4E5F6A7B",
        ] {
            assert_eq!(violations(|v| check_name("n", bad, v)).len(), 1, "{bad:?}");
        }
    }

    #[test]
    fn urls() {
        let web = ["http", "https"];
        assert!(violations(|v| check_url("u", "http://127.0.0.1:5000", &web, v)).is_empty());
        assert!(
            violations(|v| check_url("u", "https://algo.example.com/base", &web, v)).is_empty()
        );
        for bad in [
            "javascript:alert(1)",
            "ftp://x",
            "127.0.0.1:5000",
            "http://user:pw@host",
            "http://h/?apikey=1",
            "",
            "ws://h",
        ] {
            assert_eq!(
                violations(|v| check_url("u", bad, &web, v)).len(),
                1,
                "{bad:?}"
            );
        }
        assert!(violations(|v| check_url("u", "wss://h:8765", &["ws", "wss"], v)).is_empty());
    }

    #[test]
    fn urls_are_stored_normalised_and_tricks_refused() {
        let web = ["http", "https"];
        let normal = |url: &str| {
            let mut v = Vec::new();
            let n = normalize_url("u", url, &web, &mut v);
            assert!(v.is_empty() || n.is_none(), "{url:?}");
            n
        };
        for (given, stored) in [
            ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
            ("HTTP://Algo.Example.COM:80/", "http://algo.example.com"),
            (
                "https://algo.example.com:443/Base/",
                "https://algo.example.com/Base",
            ),
            (
                "https://algo.example.com:8443/a/./b/../c",
                "https://algo.example.com:8443/a/c",
            ),
            ("http://[::1]:5000/", "http://[::1]:5000"),
        ] {
            assert_eq!(normal(given).as_deref(), Some(stored), "{given:?}");
        }
        assert_eq!(
            normalize_url("w", "WSS://H:443/ws/", &["ws", "wss"], &mut Vec::new()).as_deref(),
            Some("wss://h/ws")
        );
        for bad in [
            "http://h\r\n.example.com",
            "http://h/\nX-Injected: 1",
            " http://h",
            "http://h ",
            "http://h\t/",
            "http://h/a b",
            "http:\\\\h\\",
            "http://h\\@evil/",
            "http://user:pass@h",
            "http://@h",
            "http://user@h",
            "http:h",
            "http:/h",
            "http://h#frag",
            "http://h/#",
            "http://h/?",
            "http://h?x=1",
            "http://",
            "http://h\u{202e}",
            "http://ünï.example",
        ] {
            let mut v = Vec::new();
            assert_eq!(normalize_url("u", bad, &web, &mut v), None, "{bad:?}");
            assert_eq!(v.len(), 1, "{bad:?}");
            assert_eq!(v[0].field, "u");
        }
    }

    #[test]
    fn api_keys_and_labels() {
        assert!(violations(|v| check_secret("k", "abc-123_XYZ", 256, false, v)).is_empty());
        for bad in ["", "has space", "tab\t", &"k".repeat(257), "ключ"] {
            assert_eq!(
                violations(|v| check_secret("k", bad, 256, false, v)).len(),
                1,
                "{bad:?}"
            );
        }
        let mut labels = BTreeMap::new();
        labels.insert("desk".to_string(), "a".to_string());
        assert!(violations(|v| check_labels("l", &labels, v)).is_empty());
        labels.insert("bad key".to_string(), "x".to_string());
        labels.insert("k".to_string(), "<script>".to_string());
        assert_eq!(violations(|v| check_labels("l", &labels, v)).len(), 2);
    }

    #[test]
    fn selectors() {
        let s = LabelSelector::parse("f", "desk=a, env=prod").unwrap();
        let mut l = BTreeMap::new();
        l.insert("desk".to_string(), "a".to_string());
        assert!(!s.matches(&l));
        l.insert("env".to_string(), "prod".to_string());
        assert!(s.matches(&l));
        assert!(LabelSelector::parse("f", "desk").is_err());
        assert!(LabelSelector::parse("f", "").unwrap().is_empty());
    }
}
