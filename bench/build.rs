//! Generates the `whatsapp.v1` messages, the `MessagingService` client (the load generator's) and
//! server (the reference servers': the bare tonic server, the hand-written facade, the floor) from
//! the service's own `proto/`, with tonic-prost's default codec, as any team would. The bench does
//! not link the service's library: its binary then builds while the library does, and carries none
//! of the service's code (only its tests use the library, to check the bench's messages).

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../proto");
    let descriptors = protox::compile(["whatsapp/v1/messaging_service.proto"], ["../proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .out_dir(PathBuf::from(env::var("OUT_DIR")?))
        .compile_fds(descriptors)?;
    Ok(())
}
