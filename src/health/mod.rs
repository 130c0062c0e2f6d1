//! Health as the gRPC health service reports it, with two meanings kept apart:
//!
//! - the overall service (`""`) says whether this process can serve: it is SERVING once started and
//!   turns NOT_SERVING when it starts draining. It is what a Kubernetes readiness probe should ask:
//!   it does not depend on the API, so a sick API never takes every pod out of the Service at once;
//! - `whatsapp.v1.MessagingService` says whether the API is up, as [`upstream`] judges it from
//!   probes of the API alone, so nothing a caller sends can flip it.
//!
//! [`board`] holds the statuses, [`service`] serves them over `grpc.health.v1.Health`, and
//! [`upstream`] probes the API and decides, with hysteresis, what the messaging name says.

pub mod board;
pub mod service;
pub mod upstream;

pub use board::HealthBoard;
pub use service::HealthService;
pub use upstream::{Evidence, UpstreamHealth};

/// The health name of the whole server: whether this process can serve.
pub const SERVER: &str = "";
/// The health name of the messaging service: whether the API it sends to is up.
pub const MESSAGING: &str = crate::proto::messaging_service_server::SERVICE_NAME;
