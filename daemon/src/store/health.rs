//! Health rows: current health per account (filled in by the health-monitoring work).
