//! The generated `whatsapp.v1` Protobuf model, client and server.

#![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]

tonic::include_proto!("whatsapp.v1");

/// The encoded `FileDescriptorSet` of `proto/`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/whatsapp_v1_descriptor.bin"));
