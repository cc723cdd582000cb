//! Faults a simulated Alpaca server or one of its accounts can be switched into at run time.

use std::time::Duration;

/// A misbehaviour, for the whole server ([`AlpacaSim::set_fault`](super::AlpacaSim::set_fault),
/// checked before authentication, so it hits every request) or for one account
/// ([`AlpacaAccount::set_fault`](super::AlpacaAccount::set_fault), checked after its key pair
/// is verified, so only that account's requests see it).
///
/// Requests are counted (per account and per path) before any fault applies, except under a
/// server-wide `ConnectionRefused`, where nothing reaches the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AlpacaFault {
    /// Normal behaviour.
    #[default]
    None,
    /// Answers normally after the delay.
    Latency(Duration),
    /// Accepts the request and never answers (until the client gives up or the simulator stops).
    Hang,
    /// `500 {"code":50010000,"message":"internal server error"}` (the code is the reference's
    /// inference from Alpaca's code scheme).
    Status500,
    /// `429 {"code":42910000,"message":"rate limit exceeded"}` on every request, whatever the
    /// budget says.
    RateLimited,
    /// `403 {"message": "forbidden."}` (no code), the gateway's answer to bad auth headers, even
    /// for a correct key pair.
    Forbidden,
    /// Server-wide: the listener closes (connects get ECONNREFUSED, open connections drop) and
    /// clearing the fault re-binds the same port; await
    /// [`AlpacaSim::settle`](super::AlpacaSim::settle). For one account: its connections are
    /// closed without an answer.
    ConnectionRefused,
    /// Exactly this status and JSON body: a hostile or broken upstream.
    Body {
        /// HTTP status.
        status: u16,
        /// Sent with `content-type: application/json; charset=UTF-8`.
        body: bytes::Bytes,
    },
}
