//! Faults an instance can be switched into at run time.

use std::time::Duration;

/// A misbehaviour of one simulated server. Set with
/// [`InstanceHandle::set_fault`](crate::sim::InstanceHandle::set_fault) (all endpoints) or
/// [`InstanceHandle::set_endpoint_fault`](crate::sim::InstanceHandle::set_endpoint_fault) (one
/// endpoint; it wins over the instance-wide fault).
///
/// Request accounting ([`request_count`](crate::sim::InstanceHandle::request_count),
/// [`received`](crate::sim::InstanceHandle::received)) still happens for faulted requests, except
/// with `ConnectionRefused`, where nothing reaches the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// Normal behaviour.
    #[default]
    None,
    /// Answers normally after the delay.
    Latency(Duration),
    /// Reads the whole request and never answers (the connection stays open until the client
    /// gives up or the simulator shuts down).
    Hang,
    /// Sends status and headers (with the full `Content-Length`) at once, then trickles the
    /// normal body at about this rate.
    SlowBody {
        /// Body bytes per second (at least 1).
        bytes_per_sec: u64,
    },
    /// `500 {"message":"An unexpected error occurred","status":"error"}`.
    Http500,
    /// `200` with `Content-Type: application/json` and the normal body cut in half.
    MalformedJson,
    /// `403 {"message":"Invalid openalgo apikey","status":"error"}` even for a valid key.
    InvalidKey403,
    /// `403` `text/plain` `Access Denied: Your IP has been banned` (the WSGI-level ban page).
    IpBanned,
    /// Always `429 {"message": "<limit> per 1 second"}` (no `status` key, no `Retry-After`).
    RateLimited,
    /// The listener is closed, so connects fail with ECONNREFUSED, and open connections are
    /// dropped. Clearing the fault re-binds the **same** port. The switch happens on the
    /// instance's task; await [`settle`](crate::sim::InstanceHandle::settle) to be sure it is done.
    /// As a per-endpoint fault it closes the connection without an answer instead.
    ConnectionRefused,
    /// The broker session died while OpenAlgo still holds the token: ping stays 200, funds answer
    /// `200 {"data":{},"status":"success"}`, the other book endpoints answer 500 with a broker
    /// error. Same as `set_session_expired(true)`. Only affects live mode (the sandbox has no
    /// broker).
    SessionExpired,
    /// `200` with the normal JSON padded (a `"zpadding":"xxx…"` key, still valid JSON) to at least
    /// this many bytes; generated lazily, so large sizes cost no memory.
    HugeBody {
        /// Minimum total body size.
        bytes: u64,
    },
    /// Answers exactly this status and JSON body, whatever was asked: a hostile upstream (a
    /// million `{}` rows, values past any range, a body echoing the API key).
    Body {
        /// HTTP status.
        status: u16,
        /// The body, sent with `Content-Type: application/json`.
        body: bytes::Bytes,
    },
}

/// The fault names a `openalgo-sim --config` file uses: `none`, `hang`, `http500`,
/// `malformed_json`, `invalid_key`, `ip_banned`, `rate_limited`, `connection_refused`,
/// `session_expired`, and with a value `latency:500ms`, `slow_body:10` (bytes per second),
/// `huge_body:5000000` (bytes).
impl std::str::FromStr for Fault {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Fault> {
        let (name, value) = match s.split_once(':') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (s.trim(), None),
        };
        let number = |what: &str| -> anyhow::Result<u64> {
            let v = value.ok_or_else(|| anyhow::anyhow!("{name} needs a value: {name}:{what}"))?;
            v.parse()
                .map_err(|_| anyhow::anyhow!("{name}: {v:?} is not a whole number of {what}"))
        };
        Ok(match name {
            "none" => Fault::None,
            "hang" => Fault::Hang,
            "http500" => Fault::Http500,
            "malformed_json" => Fault::MalformedJson,
            "invalid_key" => Fault::InvalidKey403,
            "ip_banned" => Fault::IpBanned,
            "rate_limited" => Fault::RateLimited,
            "connection_refused" => Fault::ConnectionRefused,
            "session_expired" => Fault::SessionExpired,
            "latency" => {
                let v =
                    value.ok_or_else(|| anyhow::anyhow!("latency needs a value: latency:500ms"))?;
                Fault::Latency(
                    humantime::parse_duration(v)
                        .map_err(|e| anyhow::anyhow!("latency: {v:?}: {e}"))?,
                )
            }
            "slow_body" => Fault::SlowBody {
                bytes_per_sec: number("bytes per second")?.max(1),
            },
            "huge_body" => Fault::HugeBody {
                bytes: number("bytes")?,
            },
            other => anyhow::bail!(
                "unknown fault {other:?}: one of none, hang, http500, malformed_json, invalid_key, \
                 ip_banned, rate_limited, connection_refused, session_expired, latency:DUR, \
                 slow_body:BYTES_PER_SEC, huge_body:BYTES"
            ),
        })
    }
}
