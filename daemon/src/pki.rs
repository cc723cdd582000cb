//! PKI (being built).
