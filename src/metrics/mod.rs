//! Prometheus metrics: one [`Metrics`] handle, cheap to clone, created by the server and handed to
//! what it observes (the RPC layer, each sender's upstream through its [`Observer`] hook, the
//! service for idempotent replays); [`exporter`] serves them as the Prometheus text format on
//! `--metrics-listen`. Without that flag the handle is [`Metrics::disabled`] and every recording
//! is one branch.
//!
//! Every name starts with `whatsapp_grpc_`; the README's "Metrics" section lists them. Labels come
//! from the closed sets of [`labels`]; the only open one is the sender's name, which the operator
//! chooses (at most [`crate::senders::registry::SENDERS_MAX`]).
//!
//! For the send-rate limiter, the recorder API is [`SenderMetrics::rate_limit_waited`] and
//! [`SenderMetrics::rate_limited`] (or the same on [`Metrics`] by sender name).

pub mod events;
pub mod exporter;
pub mod labels;
pub mod webhooks;

pub use events::{EventMetrics, GroupMetrics};

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::upstream::{Observer, RequestOutcome, RetryReason, UpstreamError};
use labels::{
    ApiCode, CallLabels, DuplicateLabels, DuplicateReason, GrpcCode, HttpStatus, LoginLabels,
    LoginResult, MessageType, Method, MethodLabels, RejectLabels, RejectReason, ReplayLabels,
    ReplayedAnswer, RequestError, RequestErrorLabels, ResponseLabels, RetryLabels,
    RetryReasonLabel, SenderLabels, SenderName,
};

/// Every name's prefix.
pub const PREFIX: &str = "whatsapp_grpc";

/// The buckets of call and upstream latencies, in seconds: 5 ms to a minute (the default
/// deadline).
const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// The buckets of rate-limit waits, in seconds: a millisecond to ten seconds.
const WAIT_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

fn wait_histogram() -> Histogram {
    Histogram::new(WAIT_BUCKETS)
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The metrics of a server; `None` inside when disabled.
#[derive(Clone, Default)]
pub struct Metrics {
    families: Option<Arc<Families>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.families.is_some())
            .finish()
    }
}

struct Families {
    calls: Family<CallLabels, Counter>,
    call_duration: Histograms<MethodLabels>,
    calls_in_flight: Family<MethodLabels, Gauge>,
    calls_rejected: Family<RejectLabels, Counter>,
    upstream_duration: Histograms<SenderLabels>,
    upstream_responses: Family<ResponseLabels, Counter>,
    upstream_errors: Family<RequestErrorLabels, Counter>,
    upstream_busy: Family<SenderLabels, Counter>,
    retries: Family<RetryLabels, Counter>,
    logins: Family<LoginLabels, Counter>,
    replays: Family<ReplayLabels, Counter>,
    duplicates: Family<DuplicateLabels, Counter>,
    rate_limit_wait: Histograms<SenderLabels>,
    rate_limited: Family<SenderLabels, Counter>,
    webhooks: webhooks::WebhookFamilies,
    events: events::EventFamilies,
}

impl Metrics {
    /// Metrics that are recorded, to be served by an [`exporter`].
    pub fn new() -> Metrics {
        let families = Families {
            calls: Family::default(),
            call_duration: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            calls_in_flight: Family::default(),
            calls_rejected: Family::default(),
            upstream_duration: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            upstream_responses: Family::default(),
            upstream_errors: Family::default(),
            upstream_busy: Family::default(),
            retries: Family::default(),
            logins: Family::default(),
            replays: Family::default(),
            duplicates: Family::default(),
            rate_limit_wait: Family::new_with_constructor(wait_histogram as fn() -> Histogram),
            rate_limited: Family::default(),
            webhooks: webhooks::WebhookFamilies::new(),
            events: events::EventFamilies::default(),
        };
        // Known at start, so they read 0 rather than being absent until the first one.
        for reason in RejectReason::ALL {
            families
                .calls_rejected
                .get_or_create(&RejectLabels { reason })
                .get();
        }
        Metrics {
            families: Some(Arc::new(families)),
        }
    }

    /// Metrics that record nothing.
    pub fn disabled() -> Metrics {
        Metrics { families: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.families.is_some()
    }

    /// The registry of these metrics (none when disabled), to which the exporter adds its own
    /// collectors.
    pub fn registry(&self) -> Option<Registry> {
        let families = self.families.as_ref()?;
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register(
            "calls",
            "gRPC calls finished, by method, message type and gRPC status code",
            families.calls.clone(),
        );
        registry.register_with_unit(
            "call_duration",
            "Time from a call's arrival to its status, by method",
            Unit::Seconds,
            families.call_duration.clone(),
        );
        registry.register(
            "calls_in_flight",
            "gRPC calls in progress, by method",
            families.calls_in_flight.clone(),
        );
        registry.register(
            "calls_rejected",
            "Calls answered by the server itself without reaching the service: overloaded (--max-calls reached), draining (shutting down), deadline_exceeded (abandoned at the caller's deadline)",
            families.calls_rejected.clone(),
        );
        registry.register_with_unit(
            "upstream_request_duration",
            "Time of one request to the API of a message call, answered or not, by sender",
            Unit::Seconds,
            families.upstream_duration.clone(),
        );
        registry.register(
            "upstream_responses",
            "Answers of the API to message requests, by sender, HTTP status and the API's error code (none when it named none; other for a code outside the known list)",
            families.upstream_responses.clone(),
        );
        registry.register(
            "upstream_request_errors",
            "Message requests to the API that got no answer, by sender and why",
            families.upstream_errors.clone(),
        );
        registry.register(
            "upstream_busy",
            "Message calls refused because the sender's calls in flight to the API and its queue were full (UPSTREAM_BUSY), by sender",
            families.upstream_busy.clone(),
        );
        registry.register(
            "upstream_retries",
            "Message calls sent again because the API cannot have processed them, by sender and reason",
            families.retries.clone(),
        );
        registry.register(
            "upstream_logins",
            "Logins to the On-Premises API (first logins and token renewals), by sender and result",
            families.logins.clone(),
        );
        registry.register(
            "idempotent_replays",
            "Calls answered from the idempotency store for their request_id without sending, by sender and what was replayed",
            families.replays.clone(),
        );
        registry.register(
            "duplicates_refused",
            "Calls refused for their request_id (its first call still in progress, or the id reused for another request), by sender",
            families.duplicates.clone(),
        );
        registry.register_with_unit(
            "rate_limit_wait",
            "Time calls waited for the sender's send-rate limit, by sender",
            Unit::Seconds,
            families.rate_limit_wait.clone(),
        );
        registry.register(
            "rate_limited",
            "Calls refused by the sender's send-rate limit (the wait would have passed their deadline), by sender",
            families.rate_limited.clone(),
        );
        families.webhooks.register(&mut registry);
        families.events.register(&mut registry);
        Some(registry)
    }

    /// The recorder of one sender's metrics, its label sets built once.
    pub fn sender(&self, name: &str) -> SenderMetrics {
        SenderMetrics {
            families: self.families.as_ref().map(|families| {
                let sender: SenderName = Arc::from(name);
                let labels = SenderLabels {
                    sender: sender.clone(),
                };
                SenderFamilies {
                    upstream_duration: families.upstream_duration.get_or_create_owned(&labels),
                    upstream_busy: families.upstream_busy.get_or_create_owned(&labels),
                    rate_limit_wait: families.rate_limit_wait.get_or_create_owned(&labels),
                    rate_limited: families.rate_limited.get_or_create_owned(&labels),
                    sender,
                    families: families.clone(),
                }
            }),
        }
    }

    /// The recorder of the event streams' metrics.
    pub fn events(&self) -> EventMetrics {
        EventMetrics {
            families: self.families.clone(),
        }
    }

    /// A call to `method` began: it is in flight until [`Metrics::call_finished`].
    pub fn call_started(&self, method: Method) {
        if let Some(families) = &self.families {
            families
                .calls_in_flight
                .get_or_create(&MethodLabels { method })
                .inc();
        }
    }

    /// A call to `method` carrying `message_type` ended with `grpc_code` after `latency`.
    pub fn call_finished(
        &self,
        method: Method,
        message_type: MessageType,
        grpc_code: GrpcCode,
        latency: Duration,
    ) {
        if let Some(families) = &self.families {
            let labels = MethodLabels { method };
            families.calls_in_flight.get_or_create(&labels).dec();
            families
                .call_duration
                .get_or_create(&labels)
                .observe(latency.as_secs_f64());
            families
                .calls
                .get_or_create(&CallLabels {
                    method,
                    message_type,
                    grpc_code,
                })
                .inc();
        }
    }

    /// A layer answered a call itself, for `reason`.
    pub fn call_rejected(&self, reason: RejectReason) {
        if let Some(families) = &self.families {
            families
                .calls_rejected
                .get_or_create(&RejectLabels { reason })
                .inc();
        }
    }

    /// A call to `sender` waited `waited` for its send-rate limit. For the rate limiter; prefer
    /// [`SenderMetrics::rate_limit_waited`] where the sender is at hand (no lookup).
    pub fn rate_limit_waited(&self, sender: &str, waited: Duration) {
        if let Some(families) = &self.families {
            families
                .rate_limit_wait
                .get_or_create(&SenderLabels {
                    sender: Arc::from(sender),
                })
                .observe(waited.as_secs_f64());
        }
    }

    /// A call to `sender` was refused by its send-rate limit. See [`Metrics::rate_limit_waited`].
    pub fn rate_limited(&self, sender: &str) {
        if let Some(families) = &self.families {
            families
                .rate_limited
                .get_or_create(&SenderLabels {
                    sender: Arc::from(sender),
                })
                .inc();
        }
    }
}

/// One sender's recorder: its label sets built once, so recording allocates nothing. Cheap to
/// clone. It observes the sender's upstream as an [`Observer`].
#[derive(Clone, Default)]
pub struct SenderMetrics {
    families: Option<SenderFamilies>,
}

#[derive(Clone)]
struct SenderFamilies {
    sender: SenderName,
    upstream_duration: Histogram,
    upstream_busy: Counter,
    rate_limit_wait: Histogram,
    rate_limited: Counter,
    families: Arc<Families>,
}

impl std::fmt::Debug for SenderMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderMetrics")
            .field(
                "sender",
                &self.families.as_ref().map(|families| &families.sender),
            )
            .finish()
    }
}

impl SenderMetrics {
    /// A call waited `waited` for the sender's send-rate limit (record it only when it waited).
    pub fn rate_limit_waited(&self, waited: Duration) {
        if let Some(families) = &self.families {
            families.rate_limit_wait.observe(waited.as_secs_f64());
        }
    }

    /// A call was refused by the sender's send-rate limit.
    pub fn rate_limited(&self) {
        if let Some(families) = &self.families {
            families.rate_limited.inc();
        }
    }

    /// A call was answered from the idempotency store with `answer`, without sending.
    pub fn replayed(&self, answer: ReplayedAnswer) {
        if let Some(families) = &self.families {
            families
                .families
                .replays
                .get_or_create(&ReplayLabels {
                    sender: families.sender.clone(),
                    answer,
                })
                .inc();
        }
    }

    /// A call was refused for its `request_id`, for `reason`.
    pub fn duplicate_refused(&self, reason: DuplicateReason) {
        if let Some(families) = &self.families {
            families
                .families
                .duplicates
                .get_or_create(&DuplicateLabels {
                    sender: families.sender.clone(),
                    reason,
                })
                .inc();
        }
    }
}

impl Observer for SenderMetrics {
    fn call_finished(&self, outcome: Result<(), &UpstreamError>) {
        if let (Some(families), Err(UpstreamError::Busy { .. })) = (&self.families, outcome) {
            families.upstream_busy.inc();
        }
    }

    fn request_finished(&self, latency: Duration, outcome: RequestOutcome<'_>) {
        let Some(families) = &self.families else {
            return;
        };
        families.upstream_duration.observe(latency.as_secs_f64());
        let sender = families.sender.clone();
        match outcome {
            RequestOutcome::Answered {
                http_status,
                api_code,
            } => {
                families
                    .families
                    .upstream_responses
                    .get_or_create(&ResponseLabels {
                        sender,
                        http_status: HttpStatus::new(http_status),
                        api_code: ApiCode::new(api_code),
                    })
                    .inc();
            }
            RequestOutcome::NoAnswer(error) => {
                let error = RequestError(match error {
                    UpstreamError::Unreachable(_) => "unreachable",
                    UpstreamError::TimedOut(_) => "timeout",
                    UpstreamError::Interrupted(_) => "interrupted",
                    UpstreamError::DeadlineExceeded { .. } => "deadline_exceeded",
                    UpstreamError::Local(_) => "not_built",
                    // Not the outcomes of a request; named should they ever be.
                    UpstreamError::Api(_) => "api_error",
                    UpstreamError::UnexpectedAnswer { .. } => "unexpected_answer",
                    UpstreamError::Login { .. } => "login",
                    UpstreamError::Busy { .. } => "busy",
                });
                families
                    .families
                    .upstream_errors
                    .get_or_create(&RequestErrorLabels { sender, error })
                    .inc();
            }
        }
    }

    fn retrying(&self, reason: RetryReason) {
        if let Some(families) = &self.families {
            families
                .families
                .retries
                .get_or_create(&RetryLabels {
                    sender: families.sender.clone(),
                    reason: RetryReasonLabel(reason),
                })
                .inc();
        }
    }

    fn login_finished(&self, outcome: Result<(), &UpstreamError>) {
        let Some(families) = &self.families else {
            return;
        };
        let result = LoginResult(match outcome {
            Ok(()) => "ok",
            Err(UpstreamError::DeadlineExceeded { .. }) => "deadline_exceeded",
            Err(UpstreamError::Login {
                api_down: false, ..
            }) => "refused",
            Err(_) => "failed",
        });
        families
            .families
            .logins
            .get_or_create(&LoginLabels {
                sender: families.sender.clone(),
                result,
            })
            .inc();
    }
}
