//! The webhook receiver's metrics: deliveries received (by flavor) and refused (by reason), events
//! stored and deduplicated (a redelivery), and events of a business number no sender is
//! configured for. Labels are closed sets ([`WebhookFlavor`], [`RefusedReason`]).

use std::fmt::Write;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Which API's payload a delivery is.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum WebhookFlavor {
    Cloud,
    OnPremises,
}

impl WebhookFlavor {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFlavor::Cloud => "cloud",
            WebhookFlavor::OnPremises => "on_premises",
        }
    }
}

/// Why the receiver refused a request.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum RefusedReason {
    /// A Cloud notification without `X-Hub-Signature-256` (401).
    Unsigned,
    /// A Cloud notification whose signature does not match its body (403).
    BadSignature,
    /// An On-Premises notification without the shared secret, or with another (403).
    BadSecret,
    /// A verification request with the wrong token or mode (403).
    BadVerification,
    /// No secret configured for this flavor: nothing can be authenticated (403).
    NotConfigured,
    /// An On-Premises path naming no On-Premises sender (404).
    UnknownSender,
    /// A body over the size limit (413).
    TooLarge,
    /// A body that is not a JSON object, or not sent within the read timeout (400).
    BadBody,
    /// More events than one delivery may carry (413).
    TooManyEvents,
    /// The event store could not store the events (503: the API delivers them again).
    StoreUnavailable,
}

impl RefusedReason {
    pub const ALL: [RefusedReason; 10] = [
        RefusedReason::Unsigned,
        RefusedReason::BadSignature,
        RefusedReason::BadSecret,
        RefusedReason::BadVerification,
        RefusedReason::NotConfigured,
        RefusedReason::UnknownSender,
        RefusedReason::TooLarge,
        RefusedReason::BadBody,
        RefusedReason::TooManyEvents,
        RefusedReason::StoreUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusedReason::Unsigned => "unsigned",
            RefusedReason::BadSignature => "bad_signature",
            RefusedReason::BadSecret => "bad_secret",
            RefusedReason::BadVerification => "bad_verification",
            RefusedReason::NotConfigured => "not_configured",
            RefusedReason::UnknownSender => "unknown_sender",
            RefusedReason::TooLarge => "too_large",
            RefusedReason::BadBody => "bad_body",
            RefusedReason::TooManyEvents => "too_many_events",
            RefusedReason::StoreUnavailable => "store_unavailable",
        }
    }
}

impl EncodeLabelValue for WebhookFlavor {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

impl EncodeLabelValue for RefusedReason {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FlavorLabels {
    flavor: WebhookFlavor,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    reason: RefusedReason,
}

/// The webhook families, registered with the others.
#[derive(Default)]
pub(super) struct WebhookFamilies {
    received: Family<FlavorLabels, Counter>,
    refused: Family<RefusedLabels, Counter>,
    stored: Counter,
    duplicates: Counter,
    unknown_sender: Counter,
}

impl WebhookFamilies {
    pub(super) fn new() -> WebhookFamilies {
        let families = WebhookFamilies::default();
        for flavor in [WebhookFlavor::Cloud, WebhookFlavor::OnPremises] {
            families
                .received
                .get_or_create(&FlavorLabels { flavor })
                .get();
        }
        for reason in RefusedReason::ALL {
            families
                .refused
                .get_or_create(&RefusedLabels { reason })
                .get();
        }
        families
    }

    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "webhooks_received",
            "Webhook notifications (POSTs) received, authenticated or not, by flavor",
            self.received.clone(),
        );
        registry.register(
            "webhooks_refused",
            "Webhook requests refused, nothing stored, by reason (store_unavailable: answered 503 so the API delivers again)",
            self.refused.clone(),
        );
        registry.register(
            "webhook_events_stored",
            "Events of authenticated webhooks stored for the first time",
            self.stored.clone(),
        );
        registry.register(
            "webhook_events_deduplicated",
            "Events of authenticated webhooks already stored (a redelivery): not stored again",
            self.duplicates.clone(),
        );
        registry.register(
            "webhook_events_unknown_sender",
            "Events of a Cloud business number (phone number id) no sender is configured for: acknowledged, not stored",
            self.unknown_sender.clone(),
        );
    }
}

impl super::Metrics {
    /// A webhook notification of `flavor` arrived.
    pub fn webhook_received(&self, flavor: WebhookFlavor) {
        if let Some(families) = &self.families {
            families
                .webhooks
                .received
                .get_or_create(&FlavorLabels { flavor })
                .inc();
        }
    }

    /// A webhook request was refused for `reason`.
    pub fn webhook_refused(&self, reason: RefusedReason) {
        if let Some(families) = &self.families {
            families
                .webhooks
                .refused
                .get_or_create(&RefusedLabels { reason })
                .inc();
        }
    }

    /// A webhook's events were published: `stored` new, `duplicates` already stored, and
    /// `unknown_sender` skipped.
    pub fn webhook_events(&self, stored: usize, duplicates: usize, unknown_sender: usize) {
        if let Some(families) = &self.families {
            let webhooks = &families.webhooks;
            webhooks.stored.inc_by(stored as u64);
            webhooks.duplicates.inc_by(duplicates as u64);
            webhooks.unknown_sender.inc_by(unknown_sender as u64);
        }
    }
}
