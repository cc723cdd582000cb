//! End-to-end tests: the real `rosterd` and `rosterctl` binaries, real mTLS with certificates made
//! in the test, a real redb file in a temp dir, everything on 127.0.0.1.
//!
//! The binaries must be built first (`cargo build --workspace --bins`), which the README's test
//! command does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod admin;
mod all_venues;
mod binance;
mod bulk;
mod cli;
mod cli_output;
mod coinbase;
mod crash;
mod faults;
mod fidelity;
mod harness;
mod health;
mod hostile;
mod hostile_clients;
mod hostile_disk;
mod hostile_input;
mod hostile_upstream;
mod identity;
mod metrics;
mod okx;
mod operations;
mod packaging;
mod portfolio;
mod secrets;
mod security;
mod soak;
mod systemd;
mod tenants;
mod upgrade;
mod upstream_tls;
mod venues;
