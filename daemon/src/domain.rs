//! The health vocabulary every layer shares: an account's health state, why an upstream call
//! failed, and whether an upstream serves live or analyzer data.
//!
//! A leaf: it imports nothing of the crate, so `store` (which persists these), `connector`
//! (which classifies failures into them), `monitor` and `api` can all use them without
//! depending on each other.

use serde::{Deserialize, Serialize};

/// The health states of ARCHITECTURE.md ("Health semantics").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthState {
    /// Never checked (or not since it was enabled).
    #[default]
    Unknown,
    Up,
    /// Failing, but fewer consecutive failures than `failures_before_down`.
    Degraded,
    Down,
    /// Disabled accounts are never contacted.
    Disabled,
}

impl HealthState {
    pub const ALL: [HealthState; 5] = [
        Self::Unknown,
        Self::Up,
        Self::Degraded,
        Self::Down,
        Self::Disabled,
    ];

    /// The name used in events and in `counts` maps, e.g. `"DOWN"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::Up => "UP",
            Self::Degraded => "DEGRADED",
            Self::Down => "DOWN",
            Self::Disabled => "DISABLED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// Whether an account's data is real or simulated. OpenAlgo: instance-wide, live or its analyzer
/// ("sandbox"), which marks its answers with a top-level `"mode":"analyze"` (an answer without it
/// is live). Alpaca: its environment, live or paper (separate accounts with separate keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Live,
    Analyze,
    Paper,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Analyze => "analyze",
            Self::Paper => "paper",
        }
    }
}

/// Why a call to an upstream failed. The names (see [`FailureReason::as_str`]) are the ones the
/// health model in ARCHITECTURE.md uses, so events and snapshots carry them verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureReason {
    /// No complete answer within the request timeout (includes a slow or trickling body).
    #[serde(rename = "TIMEOUT")]
    Timeout,
    /// TCP connect refused/reset, DNS failure, or the connection dropped before an answer.
    #[serde(rename = "CONNECT")]
    Connect,
    /// The TLS handshake failed (bad certificate, not TLS on the other end, ...).
    #[serde(rename = "TLS")]
    Tls,
    /// The upstream answered 5xx (OpenAlgo uses 500 for broker-side failures).
    #[serde(rename = "HTTP_5XX")]
    Http5xx,
    /// 403 with a JSON body: bad API key, or no stored, non-revoked broker session.
    #[serde(rename = "AUTH_REJECTED")]
    AuthRejected,
    /// 429 from the upstream, or our own per-endpoint budget had no slot before the deadline.
    #[serde(rename = "RATE_LIMITED")]
    RateLimited,
    /// Anything we cannot use: 400/404, non-JSON, wrong shape, oversized, redirected.
    #[serde(rename = "BAD_RESPONSE")]
    BadResponse,
    /// Ping works but funds answers empty `data`: the broker token died upstream.
    #[serde(rename = "SESSION_EXPIRED")]
    SessionExpired,
    /// 403 that is not JSON: OpenAlgo's WSGI-level IP ban page (`text/plain`).
    #[serde(rename = "IP_BANNED")]
    IpBanned,
    /// The venue says the account is blocked, suspended or not active (Alpaca's
    /// `account_blocked`, a status other than ACTIVE; with trading blocked but reads working,
    /// the account is DEGRADED without failing).
    #[serde(rename = "ACCOUNT_RESTRICTED")]
    AccountRestricted,
    /// A signed request fell outside the venue's time window.
    #[serde(rename = "CLOCK_SKEW")]
    ClockSkew,
    /// The credential works but lacks a permission the call needs (read access).
    #[serde(rename = "PERMISSION_DENIED")]
    PermissionDenied,
}

impl FailureReason {
    pub const ALL: [FailureReason; 12] = [
        Self::Timeout,
        Self::Connect,
        Self::Tls,
        Self::Http5xx,
        Self::AuthRejected,
        Self::RateLimited,
        Self::BadResponse,
        Self::SessionExpired,
        Self::IpBanned,
        Self::AccountRestricted,
        Self::ClockSkew,
        Self::PermissionDenied,
    ];

    /// The reason named `s` (as [`FailureReason::as_str`] spells it), e.g. from a stored event.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The wire/event name, e.g. `"HTTP_5XX"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "TIMEOUT",
            Self::Connect => "CONNECT",
            Self::Tls => "TLS",
            Self::Http5xx => "HTTP_5XX",
            Self::AuthRejected => "AUTH_REJECTED",
            Self::RateLimited => "RATE_LIMITED",
            Self::BadResponse => "BAD_RESPONSE",
            Self::SessionExpired => "SESSION_EXPIRED",
            Self::IpBanned => "IP_BANNED",
            Self::AccountRestricted => "ACCOUNT_RESTRICTED",
            Self::ClockSkew => "CLOCK_SKEW",
            Self::PermissionDenied => "PERMISSION_DENIED",
        }
    }
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_listed_once_and_parses_back() {
        // A new variant must join ALL: this match stops compiling until it is handled here.
        let listed = |r: FailureReason| match r {
            FailureReason::Timeout
            | FailureReason::Connect
            | FailureReason::Tls
            | FailureReason::Http5xx
            | FailureReason::AuthRejected
            | FailureReason::RateLimited
            | FailureReason::BadResponse
            | FailureReason::SessionExpired
            | FailureReason::IpBanned
            | FailureReason::AccountRestricted
            | FailureReason::ClockSkew
            | FailureReason::PermissionDenied => {
                FailureReason::ALL.iter().filter(|x| **x == r).count()
            }
        };
        for r in FailureReason::ALL {
            assert_eq!(listed(r), 1, "{r}");
            assert_eq!(FailureReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(FailureReason::parse("timeout"), None);
        for s in HealthState::ALL {
            assert_eq!(HealthState::parse(s.as_str()), Some(s));
        }
    }
}
