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
