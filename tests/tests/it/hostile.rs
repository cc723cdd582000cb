//! Reliability suite: hostile (being built).
