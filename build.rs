//! Generates the `whatsapp.v1` messages, client and server from `proto/` with no `protoc`: `protox`
//! parses the files, `tonic-prost-build` generates the Rust code, and the encoded descriptor set is
//! kept for gRPC server reflection.

use std::{env, fs, path::PathBuf};

use prost::Message as _;

const PROTO_ROOT: &str = "proto";
const PROTO_FILES: &[&str] = &[
    "whatsapp/v1/messaging_service.proto",
    "whatsapp/v1/contacts.proto",
    "whatsapp/v1/interactive.proto",
    "whatsapp/v1/location.proto",
    "whatsapp/v1/media.proto",
    "whatsapp/v1/reaction.proto",
    "whatsapp/v1/senders.proto",
    "whatsapp/v1/template.proto",
    "whatsapp/v1/text.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");

    let descriptors = protox::compile(PROTO_FILES, [PROTO_ROOT])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("whatsapp_v1_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // A request that is not valid Protobuf is the caller's fault: INVALID_ARGUMENT, not INTERNAL.
        .codec_path("crate::codec::Codec")
        .compile_fds(descriptors)?;
    Ok(())
}
