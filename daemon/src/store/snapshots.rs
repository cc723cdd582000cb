//! Portfolio snapshots: last good payload per (account, kind) (filled in by the portfolio work).
