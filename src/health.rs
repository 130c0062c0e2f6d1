//! Whether the upstream is healthy, as the gRPC health service reports it: the overall service ("")
//! and `whatsapp.v1.MessagingService` are SERVING only while the last probe of the API succeeded and
//! no request since has found the API down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::server::NamedService;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::proto::messaging_service_server::MessagingServiceServer;
use crate::service::Messaging;
use crate::upstream::{Upstream, UpstreamError};

/// The names reported by the health service: the whole server and the messaging service.
const SERVICES: [&str; 2] = [
    "",
    <MessagingServiceServer<Messaging> as NamedService>::NAME,
];

/// What the service knows of the upstream's health. Cheap to update from the hot path: two atomics
/// and a watch channel that only wakes the reporter when the verdict changes.
#[derive(Debug)]
pub struct UpstreamHealth {
    probe_ok: AtomicBool,
    requests_ok: AtomicBool,
    serving: watch::Sender<bool>,
}

impl UpstreamHealth {
    /// Not serving until the first probe succeeds.
    pub fn new() -> Arc<UpstreamHealth> {
        Arc::new(UpstreamHealth {
            probe_ok: AtomicBool::new(false),
            requests_ok: AtomicBool::new(true),
            serving: watch::channel(false).0,
        })
    }

    /// Records the outcome of a request to the API.
    pub fn record_request<T>(&self, result: &Result<T, UpstreamError>) {
        let up = match result {
            Ok(_) => true,
            // Busy, the caller's deadline, a request not built: no news of the API.
            Err(error) if error.is_inconclusive() => return,
            Err(error) => !error.says_api_is_down(),
        };
        self.requests_ok.store(up, Ordering::Relaxed);
        self.update();
    }

    /// Records the outcome of a probe; a successful probe is newer news than a failed request.
    fn record_probe(&self, up: bool) {
        self.probe_ok.store(up, Ordering::Relaxed);
        if up {
            self.requests_ok.store(true, Ordering::Relaxed);
        }
        self.update();
    }

    fn update(&self) {
        let serving =
            self.probe_ok.load(Ordering::Relaxed) && self.requests_ok.load(Ordering::Relaxed);
        self.serving.send_if_modified(|current| {
            let changed = *current != serving;
            *current = serving;
            changed
        });
    }

    /// Whether the service currently reports SERVING.
    pub fn is_serving(&self) -> bool {
        *self.serving.borrow()
    }
}

/// Probes the upstream every `interval` and keeps `reporter` in step with `health`, until dropped.
pub struct HealthTasks {
    probe: JoinHandle<()>,
    report: JoinHandle<()>,
}

impl HealthTasks {
    pub fn start(
        upstream: Arc<Upstream>,
        health: Arc<UpstreamHealth>,
        reporter: HealthReporter,
        interval: Duration,
    ) -> HealthTasks {
        let probe_health = health.clone();
        let probe = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let up = match upstream.check_health().await {
                    Ok(up) => up,
                    // No slot free for the probe: inconclusive, the verdict stays.
                    Err(error) if error.is_inconclusive() => {
                        tracing::debug!(%error, "health probe skipped");
                        continue;
                    }
                    Err(error) => {
                        tracing::debug!(%error, "health probe failed");
                        false
                    }
                };
                probe_health.record_probe(up);
            }
        });
        let mut serving = health.serving.subscribe();
        let report = tokio::spawn(async move {
            loop {
                let status = if *serving.borrow_and_update() {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                tracing::info!(?status, "upstream health changed");
                for service in SERVICES {
                    reporter.set_service_status(service, status).await;
                }
                if serving.changed().await.is_err() {
                    break;
                }
            }
        });
        HealthTasks { probe, report }
    }
}

impl Drop for HealthTasks {
    fn drop(&mut self) {
        self.probe.abort();
        self.report.abort();
    }
}
