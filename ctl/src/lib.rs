//! rosterctl: the command-line client for the Roster daemon, as a library so that the pieces
//! (argument parsing, request building, rendering, error formatting) are unit-tested; `main.rs`
//! only wires them together.
#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod commands;
pub mod complete;
pub mod errors;
pub mod output;

pub use commands::run;
