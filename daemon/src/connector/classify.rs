//! Turns what an OpenAlgo instance answered (HTTP status, content type, body bytes) into a
//! domain value or an [`UpstreamError`] with the right [`FailureReason`].
//!
//! The rules follow the observed behaviour in `shared/reference/openalgo-api.md`:
//! - 403 with a JSON body is OpenAlgo rejecting the key (or no stored broker session):
//!   `AUTH_REJECTED`. A 403 that is not JSON comes from the WSGI ban middleware (`text/plain`
//!   "Access Denied: Your IP has been banned") or something in front of OpenAlgo: `IP_BANNED`.
//! - 429 is `RATE_LIMITED` by status alone (its body is flask-restx's, without `status`).
//! - 400 (`message` a string *or* an object) and 404 are `BAD_RESPONSE`; so is any other
//!   unexpected status, a redirect (we never follow one: a 307/308 would resend the key to
//!   wherever it points), a non-JSON or wrongly shaped success body.
//! - 5xx is `HTTP_5XX`, with the upstream `message` when the body is JSON.
//! - A 2xx with `"status":"error"` is classified from its message.
//! - 401 is not something OpenAlgo sends, but an authenticating proxy might: `AUTH_REJECTED`.
//!
//! Both HTTP clients (`http1` for the probes, reqwest in `openalgo` for the books) hand their
//! answers over as an [`Answer`], and tell a TLS failure from a plain connect failure with
//! [`chain_has_tls_error`], so neither client depends on the other.

use std::error::Error as StdError;

use serde_json::Value;

use super::decode::{
    FromEnvelope, Limits, flatten_message, parse_envelope, raw_detail, short_detail,
};
use super::{FailureReason, UpstreamError};

/// What an upstream answered.
#[derive(Debug, Default)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The response headers the caller asked to keep (a venue's rate-limit headers), by their
    /// lowercase names; empty from the `http1` client, which keeps none.
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    /// The kept header `name`, if the upstream sent it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes one upstream answer for endpoint `T::ENDPOINT`; a book past `limits` is
/// `BAD_RESPONSE`. Error text is kept a little longer than it is shown: the connector scrubs the
/// key from it and then cuts it (see `connector::scrub`).
pub fn interpret_within<T: FromEnvelope>(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    limits: Limits,
) -> Result<T, UpstreamError> {
    if (200..300).contains(&status) {
        let env = parse_envelope(body).map_err(|e| {
            UpstreamError::new(
                FailureReason::BadResponse,
                raw_detail(&format!(
                    "{}: upstream answered {status} with a body that is not a JSON object ({e})",
                    T::ENDPOINT
                )),
                Some(status),
            )
        })?;
        if env.is_error() {
            return Err(classify_error_message(status, env.message.as_ref()));
        }
        return T::from_envelope(env, limits).map_err(|mut e| {
            e.http_status = Some(status);
            e
        });
    }
    Err(classify_status(status, content_type, body))
}

/// A non-2xx answer.
pub fn classify_status(status: u16, content_type: Option<&str>, body: &[u8]) -> UpstreamError {
    let json = parse_json(body);
    let detail = match &json {
        Some(v) => v.get("message").map(flatten_message).unwrap_or_default(),
        None => text_detail(content_type, body),
    };
    let with_detail = |what: String| {
        if detail.is_empty() {
            what
        } else {
            format!("{what}: {detail}")
        }
    };
    let (reason, message) = match status {
        401 => (
            FailureReason::AuthRejected,
            with_detail("upstream answered 401 (authentication required)".into()),
        ),
        403 if json.is_some() => (
            FailureReason::AuthRejected,
            with_detail("upstream rejected the API key or has no broker session (403)".into()),
        ),
        403 => (
            FailureReason::IpBanned,
            with_detail("upstream refused this client's IP (403, not JSON)".into()),
        ),
        429 => (
            FailureReason::RateLimited,
            with_detail("upstream rate limit hit (429)".into()),
        ),
        400 => (
            FailureReason::BadResponse,
            with_detail("upstream rejected the request (400)".into()),
        ),
        404 => (
            FailureReason::BadResponse,
            with_detail("upstream has no such endpoint or broker module (404)".into()),
        ),
        300..=399 => (
            FailureReason::BadResponse,
            format!(
                "upstream redirected ({status}); redirects are not followed, set host_url to the final address"
            ),
        ),
        500..=599 => (
            FailureReason::Http5xx,
            with_detail(format!("upstream answered {status}")),
        ),
        _ => (
            FailureReason::BadResponse,
            with_detail(format!("unexpected HTTP status {status}")),
        ),
    };
    UpstreamError::new(reason, message, Some(status))
}

/// A 2xx whose body says `"status":"error"`. OpenAlgo normally pairs errors with a 4xx/5xx, so
/// this is rare; the message is all there is to go on.
fn classify_error_message(status: u16, message: Option<&Value>) -> UpstreamError {
    let detail = message.map(flatten_message).unwrap_or_default();
    let lower = detail.to_ascii_lowercase();
    let reason = if lower.contains("apikey") || lower.contains("api key") {
        FailureReason::AuthRejected
    } else if lower.contains("rate limit") || lower.contains("too many requests") {
        FailureReason::RateLimited
    } else if (lower.contains("session") || lower.contains("token"))
        && (lower.contains("expired") || lower.contains("invalid"))
    {
        FailureReason::SessionExpired
    } else {
        FailureReason::BadResponse
    };
    let message = if detail.is_empty() {
        format!("upstream answered {status} with status \"error\"")
    } else {
        format!("upstream answered {status} with status \"error\": {detail}")
    };
    UpstreamError::new(reason, message, Some(status))
}

/// The body as JSON if it parses as a JSON object. The content type is not trusted either way:
/// flask-restx error bodies are JSON whatever the header says.
fn parse_json(body: &[u8]) -> Option<Value> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Some(v),
        _ => None,
    }
}

/// A short excerpt of a non-JSON body, only for plain text: an HTML error page is noise.
fn text_detail(content_type: Option<&str>, body: &[u8]) -> String {
    let is_html = content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("html"));
    if is_html {
        return String::new();
    }
    raw_detail(&String::from_utf8_lossy(body))
}

/// The next error down the chain. A custom `io::Error`'s `source()` returns its wrapped error's
/// *source*, skipping the wrapped error itself; tokio-rustls wraps `rustls::Error` exactly like
/// that (and reqwest wraps that `io::Error` in another), so look inside with `get_ref` instead.
fn next_in_chain<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(io) = e.downcast_ref::<std::io::Error>()
        && let Some(inner) = io.get_ref()
    {
        return Some(inner);
    }
    e.source()
}

/// Whether a transport failure was the TLS handshake (a `rustls::Error` anywhere in its chain)
/// rather than the connection itself.
pub(super) fn chain_has_tls_error(err: &(dyn StdError + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.is::<rustls::Error>() {
            return true;
        }
        cur = next_in_chain(e);
    }
    false
}

/// The most specific message in the chain (e.g. "Connection refused (os error 111)"). The top
/// error is skipped on purpose: reqwest's Display includes the URL.
pub(super) fn innermost_detail(err: &(dyn StdError + 'static)) -> String {
    let mut last: Option<&(dyn StdError + 'static)> = None;
    let mut cur = next_in_chain(err);
    while let Some(e) = cur {
        last = Some(e);
        cur = next_in_chain(e);
    }
    last.map(|e| short_detail(&e.to_string()))
        .unwrap_or_default()
}
