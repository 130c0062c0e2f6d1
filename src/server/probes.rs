//! A listener for Kubernetes probes (`--health-listen`): only `grpc.health.v1.Health`, in plaintext,
//! beside a main listener that speaks TLS. The kubelet's gRPC probe cannot do TLS (before
//! Kubernetes 1.37) and never presents a client certificate, so without it a TLS pod could only be
//! probed by TCP, which says nothing of draining. It answers from the same health board, so the
//! names and the shutdown sequence are the main listener's; it serves until the server returns.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::ConnectionLimits;
use super::connections;
use super::tower_util::MapRequest;
use crate::health::{HealthBoard, HealthService};

/// Probes come from one kubelet: a few connections are plenty, and more are refused.
const MAX_CONNECTIONS: usize = 16;
/// How long the listener's last connections get to close once the server is done.
const CLOSE_WITHIN: Duration = Duration::from_secs(1);

/// The probe listener, serving until dropped or [`Probes::close`]d.
pub struct Probes {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Probes {
    /// Serves `board`'s health on `listener`, with the main listener's HTTP/2 limits but a cap of
    /// [`MAX_CONNECTIONS`].
    pub fn start(
        listener: TcpListener,
        board: Arc<HealthBoard>,
        limits: ConnectionLimits,
    ) -> Probes {
        let service = MapRequest::new(
            tonic::service::Routes::new(HealthService::new(board).into_server()).prepare(),
        );
        let limits = ConnectionLimits {
            max_connections: MAX_CONNECTIONS,
            ..limits
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let drained = connections::accept(listener, limits, None, None, service, async {
                let _ = stopped.await;
            })
            .await;
            let _ = tokio::time::timeout(CLOSE_WITHIN, drained.wait()).await;
        });
        Probes {
            stop: Some(stop),
            task,
        }
    }

    /// Stops listening and closes the connections, within a second.
    pub async fn close(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Probes {
    fn drop(&mut self) {
        self.task.abort();
    }
}
