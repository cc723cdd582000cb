//! Reliability suite: crash (being built).
