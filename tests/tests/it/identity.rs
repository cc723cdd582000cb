//! Reliability suite: identity (being built).
