//! The `roster.v1` API, generated from `proto/roster/v1/*.proto`.
//!
//! Both the daemon and `rosterctl` build on these types; the descriptor set lets the daemon serve
//! gRPC reflection so stock tools (grpcurl, any generated client) can discover the API.

/// Generated code: lints that the workspace enforces on hand-written code do not apply here.
#[allow(clippy::all, clippy::pedantic, clippy::unwrap_used, clippy::expect_used, missing_docs)]
pub mod v1 {
    tonic::include_proto!("roster.v1");
}

/// Encoded `FileDescriptorSet` of every roster.v1 file, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("roster_descriptor");

pub use prost_types;
