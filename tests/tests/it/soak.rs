//! Reliability suite: soak (being built).
