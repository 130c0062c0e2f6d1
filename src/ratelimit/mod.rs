//! Send-rate limits per business number: each sender sends at most its `max_messages_per_second`,
//! paced evenly (GCRA, the generic cell rate algorithm) with a burst of a tenth of a second's worth.
//! A caller whose message would go over the rate reserves the next free slot and waits for it, if
//! it comes within the caller's deadline; otherwise nothing is sent and the caller learns when a
//! slot frees up (`RESOURCE_EXHAUSTED` with `RetryInfo`, outcome `not_sent`).
//!
//! The state is one "theoretical arrival time" per sender: in this process ([`memory`]), or in
//! Redis ([`redis`]) so that every replica of a deployment shares the sender's rate.

pub mod memory;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// The Cloud API's default throughput per business number, and this service's default limit.
pub const DEFAULT_PER_SECOND: u32 = 80;
/// The highest limit that can be configured (the Cloud API's top tier is 1,000).
pub const MAX_PER_SECOND: u32 = 10_000;
/// The longest a caller waits for a slot, whatever its deadline: past that the sender is
/// overloaded, and the caller is better told when to come back.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// The time kept back from a caller's deadline to send once its slot comes.
pub const SEND_MARGIN: Duration = Duration::from_millis(100);

/// A sender's rate: at most `per_second` messages each second, evenly paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    per_second: u32,
}

impl Rate {
    /// `per_second` messages each second; `None` for 0 (no limit).
    pub fn per_second(per_second: u32) -> Option<Rate> {
        (per_second > 0).then_some(Rate { per_second })
    }

    /// The time between two slots.
    pub fn interval(self) -> Duration {
        Duration::from_secs(1) / self.per_second
    }

    /// How far ahead of the even pace slots may be taken: a tenth of a second's worth of
    /// messages (at least one) may leave at once.
    pub fn burst_tolerance(self) -> Duration {
        let burst = self.per_second.div_ceil(10).max(1);
        self.interval() * (burst - 1)
    }
}

/// What a reservation got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// A slot is reserved `wait` from now (zero: now).
    Granted { wait: Duration },
    /// The next slot is `retry_after` from now, later than the caller can wait; nothing reserved.
    Refused { retry_after: Duration },
}

/// The limiter's state could not be read or written; nothing was sent.
#[derive(Debug, thiserror::Error)]
#[error("the rate-limit store is unavailable: {0}")]
pub struct LimiterError(pub String);

/// Why a message was not sent for its sender's rate.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// The sender's next free slot is later than the caller's deadline allows.
    #[error(
        "the sender is at its rate of {per_second} messages per second and its next free slot is in {retry_after:?}, after this call's deadline; nothing was sent: retry then"
    )]
    Exhausted {
        per_second: u32,
        retry_after: Duration,
    },
    /// The shared state (Redis) could not be reached.
    #[error("{0}; nothing was sent: retry later")]
    Unavailable(#[from] LimiterError),
}

/// Where the senders' slots are kept.
#[tonic::async_trait]
pub trait Limiter: Send + Sync + 'static {
    /// Reserves `key`'s next slot at `rate` if it is at most `max_wait` away.
    async fn reserve(
        &self,
        key: &str,
        rate: Rate,
        max_wait: Duration,
    ) -> Result<Reservation, LimiterError>;
}

/// Which limiter the server uses.
#[derive(Clone, PartialEq, Eq)]
pub enum LimiterConfig {
    /// In this process: each replica has its own slots.
    Memory,
    /// A Redis server, shared by every replica: `redis://host:port/db`.
    Redis { url: String },
}

/// Shown without the Redis URL's password.
impl std::fmt::Debug for LimiterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimiterConfig::Memory => f.write_str("Memory"),
            LimiterConfig::Redis { url } => f
                .debug_struct("Redis")
                .field("url", &crate::upstream::display_url(url))
                .finish(),
        }
    }
}

impl LimiterConfig {
    /// The limiter this config names. A Redis one connects lazily: a Redis that is down makes sends
    /// fail (nothing sent), not the server.
    pub fn build(&self) -> Result<Arc<dyn Limiter>, String> {
        match self {
            LimiterConfig::Memory => Ok(Arc::new(memory::MemoryLimiter::new())),
            LimiterConfig::Redis { url } => Ok(Arc::new(self::redis::RedisLimiter::new(url)?)),
        }
    }
}

/// One sender's limit: its key in the limiter and its rate.
#[derive(Clone)]
pub struct SenderLimit {
    limiter: Arc<dyn Limiter>,
    key: String,
    rate: Rate,
}

impl SenderLimit {
    pub fn new(limiter: Arc<dyn Limiter>, key: impl Into<String>, rate: Rate) -> SenderLimit {
        SenderLimit {
            limiter,
            key: key.into(),
            rate,
        }
    }

    /// Waits for a slot that comes before `deadline` (less [`SEND_MARGIN`]) and within
    /// [`MAX_WAIT`]; or says when one would come. Returns how long it waited.
    pub async fn acquire(&self, deadline: Option<Instant>) -> Result<Duration, RateLimitError> {
        let now = Instant::now();
        let max_wait = match deadline {
            Some(deadline) => deadline
                .saturating_duration_since(now)
                .saturating_sub(SEND_MARGIN)
                .min(MAX_WAIT),
            None => MAX_WAIT,
        };
        match self.limiter.reserve(&self.key, self.rate, max_wait).await? {
            Reservation::Granted { wait } => {
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                Ok(wait)
            }
            Reservation::Refused { retry_after } => Err(RateLimitError::Exhausted {
                per_second: self.rate.per_second,
                retry_after,
            }),
        }
    }
}

/// `duration` in whole microseconds, the limiters' unit.
pub(crate) fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The GCRA decision, shared by both limiters (the Redis script does the same in Lua): with the
/// stored theoretical arrival time `tat` (or none) at `now`, all in microseconds, either a slot
/// `wait` µs from now and the new `tat`, or a refusal with the µs until a slot would come.
pub(crate) fn decide(
    tat: Option<u64>,
    now: u64,
    interval: u64,
    tolerance: u64,
    max_wait: u64,
) -> Result<(u64, u64), u64> {
    let tat = tat.map_or(now, |tat| tat.max(now));
    let allowed_at = tat.saturating_sub(tolerance);
    let wait = allowed_at.saturating_sub(now);
    if wait > max_wait {
        return Err(wait);
    }
    Ok((wait, tat + interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_paces_evenly_with_a_tenth_of_a_second_of_burst() {
        let rate = Rate::per_second(80).expect("a rate");
        assert_eq!(rate.interval(), Duration::from_micros(12_500));
        // 8 messages may leave at once: 7 intervals ahead of the pace.
        assert_eq!(rate.burst_tolerance(), Duration::from_micros(87_500));
        let one = Rate::per_second(1).expect("a rate");
        assert_eq!(one.burst_tolerance(), Duration::ZERO);
        assert_eq!(Rate::per_second(0), None);
    }

    #[test]
    fn gcra_grants_the_burst_then_one_slot_per_interval_and_refuses_past_the_wait() {
        let (interval, tolerance) = (10, 20); // a burst of 3
        let mut tat = None;
        let mut waits = Vec::new();
        for _ in 0..5 {
            let (wait, next) = decide(tat, 1000, interval, tolerance, 100).expect("granted");
            waits.push(wait);
            tat = Some(next);
        }
        assert_eq!(waits, [0, 0, 0, 10, 20]);
        // The sixth would wait 30 µs: refused if the caller can wait only 25, nothing reserved.
        assert_eq!(decide(tat, 1000, interval, tolerance, 25), Err(30));
        assert_eq!(decide(tat, 1000, interval, tolerance, 30), Ok((30, 1060)));
        // Time passing frees the slots again.
        assert_eq!(decide(tat, 10_000, interval, tolerance, 0), Ok((0, 10_010)));
    }
}
