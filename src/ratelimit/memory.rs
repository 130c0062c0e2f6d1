//! The in-process limiter: one theoretical arrival time per sender, behind a mutex held for a few
//! arithmetic operations (never across an `.await`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::{Limiter, LimiterError, Rate, Reservation, decide, micros};

/// Past this many keys (senders come and go on reloads), keys whose slots have all passed are
/// dropped: they hold nothing a new call would not.
const PRUNE_ABOVE: usize = 4096;

pub struct MemoryLimiter {
    /// The clock's origin: times are µs since it.
    origin: Instant,
    arrivals: Mutex<HashMap<String, u64>>,
}

impl MemoryLimiter {
    pub fn new() -> MemoryLimiter {
        MemoryLimiter {
            origin: Instant::now(),
            arrivals: Mutex::new(HashMap::new()),
        }
    }
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        MemoryLimiter::new()
    }
}

#[tonic::async_trait]
impl Limiter for MemoryLimiter {
    async fn reserve(
        &self,
        key: &str,
        rate: Rate,
        max_wait: Duration,
    ) -> Result<Reservation, LimiterError> {
        let now = micros(self.origin.elapsed());
        let mut arrivals = self
            .arrivals
            .lock()
            .map_err(|_| LimiterError("the in-memory limiter is poisoned".into()))?;
        let decision = decide(
            arrivals.get(key).copied(),
            now,
            micros(rate.interval()),
            micros(rate.burst_tolerance()),
            micros(max_wait),
        );
        Ok(match decision {
            Ok((wait, tat)) => {
                if arrivals.len() >= PRUNE_ABOVE && !arrivals.contains_key(key) {
                    arrivals.retain(|_, tat| *tat > now);
                }
                arrivals.insert(key.to_owned(), tat);
                Reservation::Granted {
                    wait: Duration::from_micros(wait),
                }
            }
            Err(wait) => Reservation::Refused {
                retry_after: Duration::from_micros(wait),
            },
        })
    }
}
