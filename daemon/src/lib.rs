//! rosterd: the Roster daemon as a library; `main.rs` only parses arguments and calls in here.
#![forbid(unsafe_code)]

pub mod connector;
pub mod pki;
pub mod secret;
