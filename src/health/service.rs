//! `grpc.health.v1.Health` over a [`HealthBoard`]: `Check` answers the current status, `Watch`
//! streams every change and ends once the server drains, so a client holding a `Watch` stream
//! (grpc-go's client-side health checking holds one) never keeps the process from stopping.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse, health_check_response};

use super::HealthBoard;

/// How many `Watch` streams may be open at once, across all callers; each holds a little memory
/// for as long as the caller keeps it.
pub const MAX_WATCH_STREAMS: usize = 1024;

/// The gRPC health service.
#[derive(Clone, Debug)]
pub struct HealthService {
    board: Arc<HealthBoard>,
    watches: Arc<Semaphore>,
}

impl HealthService {
    pub fn new(board: Arc<HealthBoard>) -> HealthService {
        HealthService {
            board,
            watches: Arc::new(Semaphore::new(MAX_WATCH_STREAMS)),
        }
    }

    /// The tonic server of this service.
    pub fn into_server(self) -> HealthServer<HealthService> {
        HealthServer::new(self)
    }
}

fn answer(status: ServingStatus) -> HealthCheckResponse {
    let status = match status {
        ServingStatus::Unknown => health_check_response::ServingStatus::Unknown,
        ServingStatus::Serving => health_check_response::ServingStatus::Serving,
        ServingStatus::NotServing => health_check_response::ServingStatus::NotServing,
    };
    HealthCheckResponse {
        status: status as i32,
    }
}

/// The stream of one `Watch` call.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

/// What a `Watch` stream waits on: the name's status (none for an unknown name), the drain, and
/// its permit among [`MAX_WATCH_STREAMS`].
struct Watching {
    status: Option<watch::Receiver<ServingStatus>>,
    draining: watch::Receiver<bool>,
    first: bool,
    ended: bool,
    _permit: OwnedSemaphorePermit,
}

impl Watching {
    /// The next answer to send, or `None` when the stream ends.
    async fn next(&mut self) -> Option<HealthCheckResponse> {
        if std::mem::take(&mut self.first) {
            return Some(match &mut self.status {
                Some(status) => answer(*status.borrow_and_update()),
                None => HealthCheckResponse {
                    status: health_check_response::ServingStatus::ServiceUnknown as i32,
                },
            });
        }
        if self.ended {
            return None;
        }
        let changed = async {
            match &mut self.status {
                Some(status) => status.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        let draining = self.draining.wait_for(|draining| *draining);
        tokio::select! {
            biased;
            alive = changed => {
                match (&mut self.status, alive) {
                    (Some(status), true) => Some(answer(*status.borrow_and_update())),
                    _ => None,
                }
            }
            _ = draining => {
                // Say NOT_SERVING once more if this stream has not seen it, then end.
                self.ended = true;
                match &mut self.status {
                    Some(status) if status.has_changed().unwrap_or(false) => {
                        Some(answer(*status.borrow_and_update()))
                    }
                    _ => None,
                }
            }
        }
    }
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        match self.board.status(&request.get_ref().service) {
            Some(status) => Ok(Response::new(answer(status))),
            None => Err(Status::not_found("no such service in this server's health")),
        }
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let permit = self.watches.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "this server already serves {MAX_WATCH_STREAMS} health Watch streams; use Check, or watch another replica"
            ))
        })?;
        let watching = Watching {
            status: self.board.watch(&request.get_ref().service),
            draining: self.board.draining(),
            // A stream opened while draining gets the current status once, then ends.
            first: true,
            ended: self.board.is_draining(),
            _permit: permit,
        };
        let stream = futures_util::stream::unfold(watching, |mut watching| async move {
            let next = watching.next().await?;
            Some((Ok(next), watching))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
