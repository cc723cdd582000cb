//! rosterd: the Roster daemon as a library; `main.rs` only parses arguments and calls in here.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod api;
pub mod audit;
pub mod auth;
pub mod config;
pub mod connector;
pub mod conns;
pub mod coredump;
pub mod dev;
pub mod domain;
/// Client-supplied text made safe to log and store (a certificate CN is the first such text).
pub use roster_pki::escape;
pub mod logging;
pub mod maintenance;
pub(crate) mod metrics;
pub mod monitor;
/// The identity contract, shared with rosterctl through its own crate.
pub use roster_pki as pki;
pub mod portfolio;
pub mod refusals;
pub mod runtime;
pub mod seal;
pub mod secret;
pub mod store;
pub mod supervisor;
pub mod systemd;
