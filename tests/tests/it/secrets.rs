//! Reliability suite: secrets (being built).
