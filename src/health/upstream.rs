//! Whether the API is up, as the `whatsapp.v1.MessagingService` health name says it.
//!
//! Only probes of the API change the verdict, never a call's answer: a caller could otherwise flip
//! the health of every pod by sending to a recipient the API fails on. Calls are evidence that
//! brings the next probe forward: after [`SUSPECT_AFTER`] consecutive down-signals (5xx, "not
//! ready", unreachable, no answer) the API is probed at once, at most once per [`MIN_PROBE_GAP`].
//! The verdict has hysteresis: NOT_SERVING after [`DOWN_AFTER_PROBES`] consecutive failed probes,
//! SERVING again after [`UP_AFTER_PROBES`] consecutive good ones (the first good probe after
//! start is enough). Changes and failed probes are logged at `warn` with the reason.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic_health::ServingStatus;

use super::HealthBoard;
use crate::upstream::{Observer, Upstream, UpstreamError};

/// Consecutive down-signals from calls that bring the next probe forward.
pub const SUSPECT_AFTER: u32 = 3;
/// The shortest time between two probes brought forward by calls.
pub const MIN_PROBE_GAP: Duration = Duration::from_secs(1);
/// Consecutive failed probes that turn the messaging health NOT_SERVING.
pub const DOWN_AFTER_PROBES: u32 = 2;
/// Consecutive good probes that turn it SERVING again.
pub const UP_AFTER_PROBES: u32 = 2;

/// What one call or probe says about the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// The API answered as an API does (a success, or its own refusal of one message).
    Up,
    /// The API is unreachable, not answering, failing on its side or not ready.
    Down,
    /// Nothing about the API (a local failure, a caller's deadline, this service's overload).
    Neutral,
}

impl Evidence {
    /// What the outcome of a call to the API says about it.
    pub fn of(outcome: Result<(), &UpstreamError>) -> Evidence {
        match outcome {
            Ok(()) => Evidence::Up,
            Err(error) if error.says_api_is_down() => Evidence::Down,
            Err(UpstreamError::Api(_)) => Evidence::Up,
            Err(_) => Evidence::Neutral,
        }
    }
}

/// The API's health, fed by calls and decided by probes.
#[derive(Debug)]
pub struct UpstreamHealth {
    board: Arc<HealthBoard>,
    name: String,
    /// Consecutive down-signals from calls since the last good one.
    suspect_streak: AtomicU32,
    probe_now: Notify,
    probes: Mutex<Probes>,
}

#[derive(Debug, Default)]
struct Probes {
    failed: u32,
    good: u32,
    ever_up: bool,
    /// A probe has been recorded: the first one's outcome is always logged at `info` or `warn`.
    ever_probed: bool,
}

impl UpstreamHealth {
    /// The health of the API reported under `name` on `board` (a member of its aggregate);
    /// NOT_SERVING until a probe succeeds.
    pub fn new(board: Arc<HealthBoard>, name: String) -> Arc<UpstreamHealth> {
        board.add_member(&name);
        Arc::new(UpstreamHealth {
            board,
            name,
            suspect_streak: AtomicU32::new(0),
            probe_now: Notify::new(),
            probes: Mutex::new(Probes::default()),
        })
    }

    /// Records what a call's outcome says. Cheap: one atomic on the common path.
    pub fn record(&self, evidence: Evidence) {
        match evidence {
            Evidence::Up => {
                if self.suspect_streak.load(Ordering::Relaxed) != 0 {
                    self.suspect_streak.store(0, Ordering::Relaxed);
                }
            }
            Evidence::Down => {
                if self.suspect_streak.fetch_add(1, Ordering::Relaxed) + 1 >= SUSPECT_AFTER {
                    self.suspect_streak.store(0, Ordering::Relaxed);
                    self.probe_now.notify_one();
                }
            }
            Evidence::Neutral => {}
        }
    }

    /// Records a probe's verdict and changes the reported status when the hysteresis says so.
    pub fn record_probe(&self, evidence: Evidence, reason: &str) {
        let mut probes = match self.probes.lock() {
            Ok(probes) => probes,
            Err(poisoned) => poisoned.into_inner(),
        };
        let serving = self.board.status(&self.name) == Some(ServingStatus::Serving);
        let first = !std::mem::replace(&mut probes.ever_probed, true);
        match evidence {
            Evidence::Up => {
                probes.failed = 0;
                probes.good = probes.good.saturating_add(1);
                if !serving && (probes.good >= UP_AFTER_PROBES || !probes.ever_up) {
                    let first = !std::mem::replace(&mut probes.ever_up, true);
                    if self.board.set(&self.name, ServingStatus::Serving) {
                        if first {
                            tracing::info!(service = %self.name, "the API answers: health SERVING");
                        } else {
                            tracing::warn!(
                                service = %self.name,
                                "the API is up again: health SERVING"
                            );
                        }
                    }
                }
            }
            Evidence::Down => {
                probes.good = 0;
                probes.failed = probes.failed.saturating_add(1);
                tracing::warn!(
                    service = %self.name,
                    failed_in_a_row = probes.failed,
                    reason,
                    "health probe of the API failed"
                );
                if serving
                    && probes.failed >= DOWN_AFTER_PROBES
                    && self.board.set(&self.name, ServingStatus::NotServing)
                {
                    tracing::warn!(
                        service = %self.name,
                        reason,
                        "the API is down: health NOT_SERVING"
                    );
                }
            }
            // At start, a refusal (a wrong password or token, a missing permission) is what an
            // operator most needs to hear of; it says nothing of the API's health.
            Evidence::Neutral if first => {
                tracing::warn!(
                    service = %self.name,
                    reason,
                    "the first health probe of the API did not succeed: calls will likely fail the same way"
                );
            }
            Evidence::Neutral => {
                tracing::debug!(service = %self.name, reason, "health probe inconclusive");
            }
        }
    }

    /// The health name it reports under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Probes `upstream` every `interval`, and sooner when calls bring a probe forward, until the
    /// returned guard is dropped. A probe gets at most `timeout`.
    pub fn start_probing(
        self: &Arc<Self>,
        upstream: Arc<Upstream>,
        interval: Duration,
        timeout: Duration,
    ) -> Prober {
        let health = self.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_probe: Option<Instant> = None;
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = health.probe_now.notified() => {
                        if let Some(last) = last_probe {
                            tokio::time::sleep_until(last + MIN_PROBE_GAP).await;
                        }
                        ticks.reset();
                    }
                }
                last_probe = Some(Instant::now());
                let (evidence, reason) =
                    match tokio::time::timeout(timeout, upstream.check_health()).await {
                        Ok(Ok(true)) => (Evidence::Up, String::new()),
                        Ok(Ok(false)) => (
                            Evidence::Down,
                            "the API says its gateway is not connected".to_owned(),
                        ),
                        Ok(Err(error)) => {
                            let reason = error.to_string();
                            let evidence = match Evidence::of(Err(&error)) {
                                Evidence::Down => Evidence::Down,
                                // A refused probe (credentials, permissions) is no news of the
                                // API being down; this service's overload neither.
                                Evidence::Up | Evidence::Neutral => Evidence::Neutral,
                            };
                            (evidence, reason)
                        }
                        Err(_) => (Evidence::Down, format!("no answer within {timeout:?}")),
                    };
                health.record_probe(evidence, &reason);
            }
        });
        Prober { task }
    }
}

impl Observer for UpstreamHealth {
    fn call_finished(&self, outcome: Result<(), &UpstreamError>) {
        self.record(Evidence::of(outcome));
    }
}

/// The probing task; it stops when this is dropped.
#[derive(Debug)]
pub struct Prober {
    task: JoinHandle<()>,
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health() -> (Arc<HealthBoard>, Arc<UpstreamHealth>) {
        let board = Arc::new(HealthBoard::new(&[], None));
        let health = UpstreamHealth::new(board.clone(), "api".to_owned());
        (board, health)
    }

    #[test]
    fn probes_decide_with_hysteresis() {
        let (board, health) = health();
        let status = || board.status("api");
        assert_eq!(
            status(),
            Some(ServingStatus::NotServing),
            "until a probe succeeds"
        );
        health.record_probe(Evidence::Up, "");
        assert_eq!(
            status(),
            Some(ServingStatus::Serving),
            "the first good probe is enough"
        );
        health.record_probe(Evidence::Down, "refused");
        assert_eq!(
            status(),
            Some(ServingStatus::Serving),
            "one failed probe is not enough"
        );
        health.record_probe(Evidence::Neutral, "busy");
        health.record_probe(Evidence::Down, "refused");
        assert_eq!(status(), Some(ServingStatus::NotServing));
        health.record_probe(Evidence::Up, "");
        assert_eq!(
            status(),
            Some(ServingStatus::NotServing),
            "one good probe is not enough"
        );
        health.record_probe(Evidence::Up, "");
        assert_eq!(status(), Some(ServingStatus::Serving));
        health.record_probe(Evidence::Down, "refused");
        health.record_probe(Evidence::Up, "");
        health.record_probe(Evidence::Down, "refused");
        assert_eq!(
            status(),
            Some(ServingStatus::Serving),
            "failures must be consecutive"
        );
    }

    #[test]
    fn calls_never_change_the_verdict() {
        let (board, health) = health();
        health.record_probe(Evidence::Up, "");
        for _ in 0..100 {
            health.record(Evidence::Down);
        }
        assert_eq!(board.status("api"), Some(ServingStatus::Serving));
    }

    #[tokio::test]
    async fn consecutive_down_signals_bring_a_probe_forward() {
        let (_board, health) = health();
        let probe_asked = || {
            let health = health.clone();
            async move {
                tokio::time::timeout(Duration::from_millis(50), health.probe_now.notified())
                    .await
                    .is_ok()
            }
        };
        health.record(Evidence::Down);
        health.record(Evidence::Down);
        health.record(Evidence::Up);
        health.record(Evidence::Down);
        health.record(Evidence::Neutral);
        health.record(Evidence::Down);
        assert!(
            !probe_asked().await,
            "a good call in between resets the count"
        );
        health.record(Evidence::Down);
        assert!(probe_asked().await, "three in a row ask for a probe");
    }
}
