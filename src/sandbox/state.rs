//! What the sandbox remembers between requests: the log of requests received on the messages
//! endpoints, the counters of `/sandbox/stats`, the Cloud health switch, and the On-Premises
//! installations (each with its login tokens and health switch).
//!
//! Every lock is taken and released inside one synchronous call, never across an `.await`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::http::{HeaderMap, Method, Uri};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::SandboxConfig;
use super::answers::Flavor;
use super::installations::{Installation, Installations};
use super::webhooks::Outbox;

/// How many requests the received log keeps: the newest, so a long-running sandbox (a benchmark,
/// a day of development) stays small. `stats.received` keeps counting past it.
pub const RECEIVED_LOG_MAX: usize = 10_000;

/// One request received on a messages endpoint (send or mark read, either flavor), as listed by
/// `GET /sandbox/received`. Requests refused for their token are listed too: they reached the
/// endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReceivedRequest {
    /// The HTTP method, e.g. `POST`.
    pub method: String,
    /// The request path, without the query string, e.g. `/v1/messages` or
    /// `/installations/legacy/v1/messages`.
    pub path: String,
    /// The Cloud phone number id the request was for; `None` for On-Premises.
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// The named On-Premises installation the request was for (`/installations/{installation}/…`);
    /// `None` for the root installation (`/v1/…`) and for Cloud.
    #[serde(default)]
    pub installation: Option<String>,
    /// The W3C `traceparent` header, if the request had a readable one.
    pub traceparent: Option<String>,
    /// The W3C `tracestate` header, if the request had a readable one.
    pub tracestate: Option<String>,
    /// The JSON body as received, or `None` if the body was not JSON.
    pub body: Option<Value>,
}

/// The counters of `GET /sandbox/stats`. They count from the sandbox's start; clearing the
/// received log does not reset them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxStats {
    /// Successful On-Premises logins.
    pub logins: u64,
    /// Requests received on the messages endpoints (including refused ones).
    pub received: u64,
    /// Requests received on the On-Premises health endpoint and the Cloud probe.
    pub health_checks: u64,
    /// 401 answers, on any endpoint.
    pub unauthorized: u64,
}

/// Whom a request to the API is for: a Cloud phone number id, or an On-Premises installation.
#[derive(Clone, Copy)]
pub(crate) enum Account<'a> {
    Cloud { phone_number_id: &'a str },
    OnPremises(&'a Installation),
}

impl Account<'_> {
    pub(crate) fn flavor(self) -> Flavor {
        match self {
            Account::Cloud { .. } => Flavor::Cloud,
            Account::OnPremises(_) => Flavor::OnPremises,
        }
    }
}

/// The state shared by all handlers.
pub(crate) struct Sandbox {
    pub config: SandboxConfig,
    pub installations: Installations,
    /// The uploaded media held (see `media`).
    pub media: super::media::MediaStore,
    received: Mutex<VecDeque<ReceivedRequest>>,
    logins: AtomicU64,
    received_count: AtomicU64,
    health_checks: AtomicU64,
    unauthorized: AtomicU64,
    /// The Cloud probe's health.
    healthy: AtomicBool,
    /// The webhooks to post, when a callback URL is configured.
    pub webhooks: Option<Outbox>,
}

/// Locks `mutex`, carrying on with the data if a previous holder panicked: every update here
/// leaves the data consistent, so poisoning carries no information.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The value of header `name`, if present and visible ASCII.
pub(crate) fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

impl Sandbox {
    pub(crate) fn new(config: SandboxConfig) -> Sandbox {
        Sandbox {
            webhooks: config.webhook.clone().map(Outbox::start),
            config,
            installations: Installations::new(),
            media: super::media::MediaStore::default(),
            received: Mutex::new(VecDeque::new()),
            logins: AtomicU64::new(0),
            received_count: AtomicU64::new(0),
            health_checks: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            healthy: AtomicBool::new(true),
        }
    }

    /// Appends a messages-endpoint request to the received log; its body parsed as JSON, if it
    /// is JSON.
    pub(crate) fn receive(
        &self,
        account: Account<'_>,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<Value> {
        let body = serde_json::from_slice::<Value>(body).ok();
        let (phone_number_id, installation) = match account {
            Account::Cloud { phone_number_id } => (Some(phone_number_id.to_owned()), None),
            Account::OnPremises(installation) => (None, installation.name.clone()),
        };
        let entry = ReceivedRequest {
            method: method.as_str().to_owned(),
            path: uri.path().to_owned(),
            phone_number_id,
            installation,
            traceparent: header_text(headers, "traceparent").map(str::to_owned),
            tracestate: header_text(headers, "tracestate").map(str::to_owned),
            body: body.clone(),
        };
        self.received_count.fetch_add(1, Ordering::Relaxed);
        let mut received = lock(&self.received);
        if received.len() >= RECEIVED_LOG_MAX {
            received.pop_front();
        }
        received.push_back(entry);
        body
    }

    /// The received log (at most the newest [`RECEIVED_LOG_MAX`]), oldest first.
    pub(crate) fn received(&self) -> Vec<ReceivedRequest> {
        lock(&self.received).iter().cloned().collect()
    }

    /// Empties the received log.
    pub(crate) fn clear_received(&self) {
        lock(&self.received).clear();
    }

    pub(crate) fn count_login(&self) {
        self.logins.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_health_check(&self) {
        self.health_checks.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_unauthorized(&self) {
        self.unauthorized.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> SandboxStats {
        SandboxStats {
            logins: self.logins.load(Ordering::Relaxed),
            received: self.received_count.load(Ordering::Relaxed),
            health_checks: self.health_checks.load(Ordering::Relaxed),
            unauthorized: self.unauthorized.load(Ordering::Relaxed),
        }
    }

    /// Whether the Cloud probe answers healthy.
    pub(crate) fn cloud_is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Sets the health of Cloud and of every On-Premises installation (`PUT /sandbox/health`).
    pub(crate) fn set_all_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
        self.installations.set_all_healthy(healthy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_received_log_keeps_the_newest() {
        let sandbox = Sandbox::new(SandboxConfig::default());
        let headers = HeaderMap::new();
        let uri: Uri = "/v1/messages".parse().unwrap();
        let root = sandbox.installations.root();
        for i in 0..RECEIVED_LOG_MAX + 5 {
            sandbox.receive(
                Account::OnPremises(&root),
                &Method::POST,
                &uri,
                &headers,
                format!("{{\"n\":{i}}}").as_bytes(),
            );
        }
        let received = sandbox.received();
        assert_eq!(received.len(), RECEIVED_LOG_MAX);
        assert_eq!(received[0].body, Some(serde_json::json!({"n": 5})));
        assert_eq!(sandbox.stats().received, (RECEIVED_LOG_MAX + 5) as u64);
    }
}
