//! whatsapp-grpc: a typed gRPC facade for the WhatsApp Business API messages endpoint.
//!
//! A request flows one way through the modules: [`server`] accepts it, bounded (over TLS when
//! configured), on one of the event loops of [`lanes`], where the rest of the call runs, through the [`layers`] (caller authentication by [`api_keys`], deadline,
//! admission) for [`service`], whose [`codec`] decodes it; the service hands
//! the [`proto`] request to [`translate`]; translate checks it against [`validate`]'s rules while
//! building the REST body of [`wire`] for one [`flavor`] of the API; [`upstream`] sends it and reads
//! the answer back; failures become a `tonic::Status` in [`error`]. [`health`] observes the upstream
//! through a hook and probes it, [`metrics`] counts the calls and the upstream's answers through
//! hooks and serves them to Prometheus, [`telemetry`] carries the trace, and [`sandbox`] emulates
//! the API for development and tests.

pub mod api_keys;
pub mod client;
pub mod codec;
pub mod config;
pub mod error;
pub mod events;
pub mod flavor;
pub mod health;
pub mod http_listener;
pub mod idempotency;
pub mod lanes;
pub mod layers;
pub mod media;
pub mod metrics;
pub mod proto;
pub mod ratelimit;
pub mod redis_connection;
pub mod sandbox;
pub mod senders;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod translate;
pub mod upstream;
pub mod validate;
pub mod wire;

pub use error::Error;
pub use flavor::Flavor;
