//! The `roster.v1` API, generated from `proto/roster/v1/*.proto`.
//!
//! Both the daemon and `rosterctl` build on these types; the descriptor set lets the daemon serve
//! gRPC reflection so stock tools (grpcurl, any generated client) can discover the API. Every
//! message also has serde impls following the proto3 JSON mapping (`rosterctl -o json`).

pub mod codec;
pub mod names;
pub mod section;

/// Generated code: lints that the workspace enforces on hand-written code do not apply here.
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]
pub mod v1 {
    tonic::include_proto!("roster.v1");
    include!(concat!(env!("OUT_DIR"), "/roster.v1.serde.rs"));
}

/// Encoded `FileDescriptorSet` of every roster.v1 file, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("roster_descriptor");

/// Well-known types (Timestamp, Duration, FieldMask) with proto3 JSON serde support.
pub use pbjson_types;
