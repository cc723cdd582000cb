//! Test infrastructure for Roster: the OpenAlgo simulator ([`sim`]) used by the end-to-end tests
//! and by the `openalgo-sim` binary, and the benchmark harness ([`bench`]) behind `roster-bench`.

pub mod alpaca_sim;
pub mod bench;
pub mod binance_sim;
pub mod coinbase_sim;
pub mod okx_sim;
pub mod sim;
