//! whatsapp-grpc: a typed gRPC facade for the WhatsApp Business API messages endpoint.
//!
//! A request flows one way through the modules: [`proto`] (the gRPC model) → [`translate`], which
//! checks it against [`validate`]'s rules while building the REST body of [`wire`] for one
//! [`flavor`] of the API → the upstream. Failures become a `tonic::Status` in [`error`].

pub mod error;
pub mod flavor;
pub mod proto;
pub mod sandbox;
pub mod telemetry;
pub mod translate;
pub mod upstream;
pub mod validate;
pub mod wire;

pub use error::Error;
pub use flavor::Flavor;
