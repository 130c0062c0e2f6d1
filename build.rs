//! Generates the `whatsapp.v1` messages, client and server from `proto/` with no `protoc`: `protox`
//! parses the files, `tonic-prost-build` generates the Rust code, and the encoded descriptor set is
//! kept for gRPC server reflection.

use std::{env, fs, path::PathBuf};

use prost::Message as _;

const PROTO_ROOT: &str = "proto";
/// The package's folder: every `.proto` file in it is compiled, so a new file needs no edit here.
const PROTO_PACKAGE: &str = "whatsapp/v1";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");

    let mut files = Vec::new();
    for entry in fs::read_dir(PathBuf::from(PROTO_ROOT).join(PROTO_PACKAGE))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".proto") {
            files.push(format!("{PROTO_PACKAGE}/{name}"));
        }
    }
    // Sorted, so the descriptor set (and reflection) is the same on every machine.
    files.sort();
    let descriptors = protox::compile(&files, [PROTO_ROOT])?;
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
