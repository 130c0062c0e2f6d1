//! Generates the `MessagingService` server trait for the bench's reference servers (the bare tonic
//! server and the hand-written facade) with tonic-prost's own codec, as any team would: the
//! service's generated code uses its own codec (field counting, size limits), which the references
//! must not pay for. The messages themselves are the service's (`whatsapp_grpc::proto`).

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../proto");
    let descriptors = protox::compile(["whatsapp/v1/messaging_service.proto"], ["../proto"])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .extern_path(".whatsapp.v1", "::whatsapp_grpc::proto")
        .out_dir(PathBuf::from(env::var("OUT_DIR")?))
        .compile_fds(descriptors)?;
    Ok(())
}
