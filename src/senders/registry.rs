//! The configured senders, live: each with its own upstream client (login, connection pool, call
//! slots), health and probe. The whole set is replaced on reload; a sender whose configuration did
//! not change is carried over as it is (its token, its connections, its health), a new or changed
//! one starts afresh, and a removed one is dropped once the calls that hold it have finished.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::flavor::Flavor;
use crate::health::{self, HealthBoard, UpstreamHealth, upstream::Prober};
use crate::metrics::{Metrics, SenderMetrics};
use crate::ratelimit::{Limiter, Rate, SenderLimit};
use crate::upstream::{Observer, Observers, Upstream};

use super::SenderConfig;

/// At most this many senders may be configured.
pub const SENDERS_MAX: usize = 1000;

/// One sender, ready to send.
pub struct Sender {
    pub name: String,
    pub flavor: Flavor,
    /// Cloud: the business phone number's id; empty for On-Premises.
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub upstream: Arc<Upstream>,
    /// The health name of its API.
    pub health_name: String,
    /// Its send-rate limit; `None` for no limit.
    pub limit: Option<SenderLimit>,
    /// Its metrics' recorder (which also observes its upstream).
    pub metrics: SenderMetrics,
}

/// Why a request's `sender` names no sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PickError {
    /// The request names none, and several are configured.
    #[error(
        "the request names no sender, and {configured} are configured: set `sender` to one of their names or phone number ids (ListSenders lists them)"
    )]
    Required { configured: usize },
    /// No sender has that name or phone number id.
    #[error("no sender is configured with that name or phone number id (ListSenders lists them)")]
    Unknown,
}

struct Entry {
    config: SenderConfig,
    sender: Arc<Sender>,
    /// Shared with the next registry when the sender is carried over; the probe stops when the
    /// last registry holding it is dropped.
    prober: Option<Arc<Prober>>,
}

/// One generation of senders.
struct Registry {
    entries: Vec<Entry>,
    /// Names and Cloud phone number ids, each to its entry.
    by_key: HashMap<String, usize>,
}

/// The senders of a server, replaceable while calls are in flight.
pub struct Senders {
    current: RwLock<Arc<Registry>>,
    board: Arc<HealthBoard>,
    health_interval: Duration,
    limiter: Arc<dyn Limiter>,
    metrics: Metrics,
}

impl Senders {
    /// Starts every sender of `configs` (probing its API every `health_interval`, pacing its sends
    /// with `limiter`, its calls observed by `metrics`), or says which cannot start.
    pub fn new(
        configs: Vec<SenderConfig>,
        board: Arc<HealthBoard>,
        health_interval: Duration,
        limiter: Arc<dyn Limiter>,
        metrics: Metrics,
    ) -> Result<Senders, String> {
        let senders = Senders {
            current: RwLock::new(Arc::new(Registry {
                entries: Vec::new(),
                by_key: HashMap::new(),
            })),
            board,
            health_interval,
            limiter,
            metrics,
        };
        senders.replace(configs)?;
        Ok(senders)
    }

    /// The sender a request names (`requested`: a name or a Cloud phone number id; empty when
    /// exactly one sender is configured).
    pub fn pick(&self, requested: &str) -> Result<Arc<Sender>, PickError> {
        let registry = self.registry();
        if requested.is_empty() {
            return match registry.entries.as_slice() {
                [only] => Ok(only.sender.clone()),
                entries => Err(PickError::Required {
                    configured: entries.len(),
                }),
            };
        }
        registry
            .by_key
            .get(requested)
            .map(|&index| registry.entries[index].sender.clone())
            .ok_or(PickError::Unknown)
    }

    /// Every sender, in the configuration's order.
    pub fn list(&self) -> Vec<Arc<Sender>> {
        self.registry()
            .entries
            .iter()
            .map(|entry| entry.sender.clone())
            .collect()
    }

    /// The health board the senders report on.
    pub fn board(&self) -> &HealthBoard {
        &self.board
    }

    /// Replaces the senders with `configs`: unchanged ones are kept as they are, new and changed
    /// ones started, removed ones dropped (calls in flight keep theirs until they finish). Nothing
    /// changes if any sender cannot start.
    pub fn replace(&self, configs: Vec<SenderConfig>) -> Result<(), String> {
        check(&configs)?;
        let old = self.registry();
        let mut entries = Vec::with_capacity(configs.len());
        let mut fresh = Vec::new();
        for config in configs {
            let kept = old
                .entries
                .iter()
                .find(|entry| entry.config.name == config.name && entry.config == config);
            match kept {
                Some(entry) => entries.push(Entry {
                    config,
                    sender: entry.sender.clone(),
                    prober: entry.prober.clone(),
                }),
                None => {
                    let upstream = Upstream::new(&config.upstream)
                        .map_err(|error| format!("sender {:?}: {error}", config.name))?;
                    fresh.push(entries.len());
                    entries.push(Entry {
                        sender: Arc::new(Sender {
                            name: config.name.clone(),
                            flavor: config.upstream.flavor,
                            phone_number_id: match config.upstream.flavor {
                                Flavor::Cloud => config.upstream.phone_number_id.clone(),
                                Flavor::OnPremises => String::new(),
                            },
                            display_phone_number: config.display_phone_number.clone(),
                            upstream: Arc::new(upstream),
                            health_name: health_name(&config.name),
                            limit: Rate::per_second(config.max_messages_per_second).map(|rate| {
                                SenderLimit::new(self.limiter.clone(), limit_key(&config), rate)
                            }),
                            metrics: self.metrics.sender(&config.name),
                        }),
                        config,
                        // Started below, once every sender of the new set could be built.
                        prober: None,
                    });
                }
            }
        }
        // Every sender could be built: start the new ones' health and probes.
        for &index in &fresh {
            let entry = &mut entries[index];
            let health = UpstreamHealth::new(self.board.clone(), entry.sender.health_name.clone());
            let observer: Arc<dyn Observer> = if self.metrics.is_enabled() {
                Arc::new(Observers(vec![
                    health.clone(),
                    Arc::new(entry.sender.metrics.clone()),
                ]))
            } else {
                health.clone()
            };
            entry.sender.upstream.observe_with(observer);
            let probe_timeout = entry
                .config
                .upstream
                .request_timeout
                .clamp(Duration::from_millis(100), Duration::from_secs(5));
            entry.prober = Some(Arc::new(health.start_probing(
                entry.sender.upstream.clone(),
                self.health_interval,
                probe_timeout,
            )));
        }
        let mut by_key = HashMap::new();
        for (index, entry) in entries.iter().enumerate() {
            by_key.insert(entry.sender.name.clone(), index);
            if !entry.sender.phone_number_id.is_empty() {
                by_key.insert(entry.sender.phone_number_id.clone(), index);
            }
        }
        let removed: Vec<String> = old
            .entries
            .iter()
            .filter(|entry| {
                !entries
                    .iter()
                    .any(|new| new.sender.name == entry.sender.name)
            })
            .map(|entry| entry.sender.health_name.clone())
            .collect();
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Arc::new(Registry { entries, by_key });
        for name in removed {
            self.board.remove(&name);
        }
        Ok(())
    }

    fn registry(&self) -> Arc<Registry> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// A sender's key in the limiter: its business number, so replicas (and reloads that rename the
/// sender) share one pace. A Cloud sender's phone number id; an On-Premises installation sends from
/// one number, named by its sender's name.
fn limit_key(config: &SenderConfig) -> String {
    match config.upstream.flavor {
        Flavor::Cloud => format!("cloud:{}", config.upstream.phone_number_id),
        Flavor::OnPremises => format!("on-premises:{}", config.name),
    }
}

/// The health name of the sender `name`'s API.
pub fn health_name(name: &str) -> String {
    format!("{}/{name}", health::MESSAGING)
}

/// The rules a set of senders must follow: at least one, at most [`SENDERS_MAX`], names valid and
/// unique, Cloud phone number ids unique and distinct from every name.
fn check(configs: &[SenderConfig]) -> Result<(), String> {
    if configs.is_empty() {
        return Err("no sender is configured".into());
    }
    if configs.len() > SENDERS_MAX {
        return Err(format!(
            "{} senders are configured; at most {SENDERS_MAX}",
            configs.len()
        ));
    }
    let mut keys: HashMap<&str, &str> = HashMap::new();
    for config in configs {
        if !super::valid_name(&config.name) {
            return Err(format!(
                "sender name {:?} must be lowercase letters, digits and '-', at most {} characters",
                config.name,
                super::config::NAME_MAX
            ));
        }
        let mut own = vec![config.name.as_str()];
        if config.upstream.flavor == Flavor::Cloud {
            own.push(config.upstream.phone_number_id.as_str());
        }
        for key in own {
            if let Some(other) = keys.insert(key, &config.name) {
                return Err(format!(
                    "senders {other:?} and {:?} share the name or phone number id {key:?}",
                    config.name
                ));
            }
        }
    }
    Ok(())
}
