//! Compiles `proto/roster/v1/*.proto` with protox (pure Rust: no system protoc), writes the
//! descriptor set used by gRPC reflection, generates prost/tonic code from it, and generates
//! serde impls that follow the proto3 JSON mapping (pbjson) for `rosterctl -o json`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/roster/v1/account.proto",
        "proto/roster/v1/monitor.proto",
        "proto/roster/v1/portfolio.proto",
        "proto/roster/v1/admin.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out.join("roster_descriptor.bin");
    let descriptor_bytes = prost::Message::encode_to_vec(&fds);
    std::fs::write(&descriptor_path, &descriptor_bytes)?;
    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor_path)
        .skip_protoc_run()
        .generate_default_stubs(true)
        .codec_path("crate::codec::RosterCodec")
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_fds(fds)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        .build(&[".roster"])?;
    Ok(())
}
