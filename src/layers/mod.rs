//! Cross-cutting behaviour that wraps every gRPC call, one tower layer per file, outermost first:
//! [`metrics`] counts and times every call, [`auth`] checks the caller's API key, [`deadline`]
//! reads the caller's `grpc-timeout`, [`admit`] bounds the calls in progress and refuses new ones
//! while draining. The last three answer with a typed gRPC status ([`AuthFailure`] or
//! [`Rejection`], the latter also put in the response's extensions for the metrics) without
//! reaching the service.

pub mod admit;
pub mod auth;
pub mod deadline;
pub mod metrics;

pub use admit::{Admission, AdmitLayer};
pub use auth::AuthLayer;
pub use deadline::{Deadline, DeadlineLayer};
pub use metrics::{MessageTypeSlot, MetricsLayer};

use std::time::Duration;

use crate::api_keys::AuthFailure;
use tonic::body::Body;

/// Why a layer answered a call itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Too many calls in progress on this server; nothing was sent.
    #[error(
        "this server is handling its maximum of {limit} calls; nothing was sent, retry after {retry_after:?}"
    )]
    Overloaded { limit: usize, retry_after: Duration },
    /// The server is shutting down; nothing was sent.
    #[error("this server is shutting down; nothing was sent, retry on another replica")]
    Draining,
    /// The caller's deadline passed before the call finished.
    #[error(
        "the caller's deadline of {timeout:?} passed before the call finished; the message may have been sent"
    )]
    DeadlineExceeded { timeout: Duration },
    /// The call carries no valid API key; nothing was sent.
    #[error("{0}; nothing was sent")]
    Unauthenticated(AuthFailure),
}

impl Rejection {
    /// The answer to a call refused for this rejection: its status, and the rejection itself in
    /// the response's extensions.
    pub fn into_response(self) -> http::Response<Body> {
        let mut response = crate::error::rejection_status(self).into_http();
        response.extensions_mut().insert(self);
        response
    }
}
