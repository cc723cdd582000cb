//! OpenAlgo connector (being built).
