//! rosterd: the Roster daemon as a library; `main.rs` only parses arguments and calls in here.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod api;
pub mod audit;
pub mod auth;
pub mod config;
pub mod connector;
pub mod coredump;
pub mod dev;
pub mod logging;
pub mod metrics;
pub mod monitor;
pub mod pki;
pub mod portfolio;
pub mod runtime;
pub mod seal;
pub mod secret;
pub mod store;
pub mod supervisor;
pub mod systemd;
