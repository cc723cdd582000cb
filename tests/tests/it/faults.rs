//! Reliability suite: faults (being built).
