//! Test infrastructure for Roster: the OpenAlgo simulator ([`sim`]) used by the end-to-end tests
//! and by the `openalgo-sim` binary.

pub mod sim;
