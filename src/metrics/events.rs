//! The event streams' metrics, by consumer group: events delivered, delivered again and
//! acknowledged, the age of the group's oldest unacknowledged event, the subscribers connected.
//!
//! A group's name is chosen by the subscriber, so the label set is bounded: the first
//! [`MAX_GROUP_LABELS`] groups this process serves get their own label, later ones share `other`.
//! Group names are validated identifiers (letters, digits, `-`, `_`, `.`), nothing personal.

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// Groups with a label of their own; the others are counted as `other`.
pub const MAX_GROUP_LABELS: usize = 64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupLabels {
    pub group: Arc<str>,
}

#[derive(Default)]
pub(super) struct EventFamilies {
    delivered: Family<GroupLabels, Counter>,
    redelivered: Family<GroupLabels, Counter>,
    acknowledged: Family<GroupLabels, Counter>,
    oldest_unacked: Family<GroupLabels, Gauge<f64, AtomicU64>>,
    subscribers: Family<GroupLabels, Gauge>,
    labelled: Mutex<HashSet<Arc<str>>>,
}

impl EventFamilies {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "events_delivered",
            "Events sent to subscribers (first deliveries and redeliveries), by consumer group",
            self.delivered.clone(),
        );
        registry.register(
            "events_redelivered",
            "Events sent to subscribers again because an earlier delivery was not acknowledged in time or its stream ended, by consumer group",
            self.redelivered.clone(),
        );
        registry.register(
            "events_acknowledged",
            "Events acknowledged by subscribers, by consumer group",
            self.acknowledged.clone(),
        );
        registry.register_with_unit(
            "events_oldest_unacknowledged_age",
            "Age of the oldest event a consumer group has not acknowledged (0 when none), sampled by its subscribers on this replica",
            Unit::Seconds,
            self.oldest_unacked.clone(),
        );
        registry.register(
            "event_subscribers",
            "Event streams connected to this replica, by consumer group",
            self.subscribers.clone(),
        );
    }

    fn labels(&self, group: &str) -> GroupLabels {
        let mut labelled = self
            .labelled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let group: Arc<str> = match labelled.get(group) {
            Some(known) => known.clone(),
            None if labelled.len() < MAX_GROUP_LABELS => {
                let name: Arc<str> = Arc::from(group);
                labelled.insert(name.clone());
                name
            }
            None => Arc::from("other"),
        };
        GroupLabels { group }
    }
}

/// The recorder of the event streams' metrics; records nothing when metrics are off.
#[derive(Clone, Default)]
pub struct EventMetrics {
    pub(super) families: Option<Arc<super::Families>>,
}

impl EventMetrics {
    /// The recorder of one group's metrics, its series made once.
    pub fn group(&self, group: &str) -> GroupMetrics {
        GroupMetrics {
            series: self.families.as_ref().map(|families| {
                let events = &families.events;
                let labels = events.labels(group);
                GroupSeries {
                    delivered: events.delivered.get_or_create_owned(&labels),
                    redelivered: events.redelivered.get_or_create_owned(&labels),
                    acknowledged: events.acknowledged.get_or_create_owned(&labels),
                    oldest_unacked: events.oldest_unacked.get_or_create_owned(&labels),
                    subscribers: events.subscribers.get_or_create_owned(&labels),
                }
            }),
        }
    }
}

/// One group's series.
pub struct GroupMetrics {
    series: Option<GroupSeries>,
}

struct GroupSeries {
    delivered: Counter,
    redelivered: Counter,
    acknowledged: Counter,
    oldest_unacked: Gauge<f64, AtomicU64>,
    subscribers: Gauge,
}

impl GroupMetrics {
    pub fn is_enabled(&self) -> bool {
        self.series.is_some()
    }

    /// `count` events were sent, `redelivered` of them not for the first time.
    pub fn delivered(&self, count: usize, redelivered: usize) {
        if let Some(series) = &self.series {
            series.delivered.inc_by(count as u64);
            series.redelivered.inc_by(redelivered as u64);
        }
    }

    pub fn acknowledged(&self, count: usize) {
        if let Some(series) = &self.series {
            series.acknowledged.inc_by(count as u64);
        }
    }

    /// The group's oldest unacknowledged event is `age` old (`None`: there is none).
    pub fn oldest_unacked(&self, age: Option<Duration>) {
        if let Some(series) = &self.series {
            series
                .oldest_unacked
                .set(age.map_or(0.0, |age| age.as_secs_f64()));
        }
    }

    pub fn subscriber_connected(&self) {
        if let Some(series) = &self.series {
            series.subscribers.inc();
        }
    }

    pub fn subscriber_disconnected(&self) {
        if let Some(series) = &self.series {
            series.subscribers.dec();
        }
    }
}
