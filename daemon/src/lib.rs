//! rosterd: the Roster daemon as a library; `main.rs` only parses arguments and calls in here.
//! Only what other crates use (the binary, the end-to-end tests and benches) is `pub`; the rest
//! is crate-private, so the compiler reports what nothing uses.
#![forbid(unsafe_code)]

pub(crate) mod accounts;
pub(crate) mod api;
pub(crate) mod audit;
pub(crate) mod auth;
pub mod config;
pub mod connector;
pub(crate) mod conns;
pub mod coredump;
pub mod dev;
pub(crate) mod domain;
/// Client-supplied text made safe to log and store (a certificate CN is the first such text).
pub(crate) use roster_pki::escape;
pub mod logging;
pub(crate) mod maintenance;
pub(crate) mod metrics;
pub(crate) mod monitor;
/// The identity contract, shared with rosterctl through its own crate.
pub use roster_pki as pki;
pub(crate) mod portfolio;
pub(crate) mod refusals;
pub mod runtime;
pub mod seal;
pub mod secret;
pub mod store;
pub(crate) mod supervisor;
pub mod systemd;
