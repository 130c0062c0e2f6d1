//! When a failed message call may be sent again, how long to wait first, and how many retries one
//! sender may add: the API is asked again only when it cannot have processed the request.
//!
//! - **Retried**: the connection was never made ([`UpstreamError::Unreachable`]: refused, DNS, TLS
//!   handshake; or the connection failed before the request was written on it: over HTTP/2, not
//!   yet queued, or its stream refused unprocessed; over HTTP/1.1, its body not yet asked for);
//!   the API's own JSON saying it rate-limited the request (HTTP 429, or codes 4, 80007, 130429,
//!   131048, 133016); the API's own JSON saying it is not ready (codes 1011, 131016, or HTTP 503).
//! - **Never retried**: code 131056 (the per-recipient pair limit: the same recipient again within
//!   seconds only extends the limit), any failure after which the API may have taken the message
//!   (no answer in time, a connection broken after sending, an answer that is not the API's JSON,
//!   a 429 without it included, another 5xx), any other answer of the API, and this service's own
//!   refusals.
//! - **Waits**: the answer's `Retry-After` when it has one, else exponential backoff with full
//!   jitter (a uniform wait up to [`BACKOFF_BASE`] × 2^retry, capped at [`BACKOFF_CAP`]).
//! - **Budget**: per sender, retries in the last [`BUDGET_WINDOW`] may number at most
//!   [`BUDGET_RATIO_PERCENT`] of the calls begun in it plus [`BUDGET_FLOOR`], so a sick API sees at most
//!   about 20% more requests than callers make, not `max_attempts` times as many.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::error::UpstreamError;

/// The default of [`super::UpstreamConfig::max_attempts`]: the first request and two retries.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// The most attempts accepted in configuration.
pub const MAX_ATTEMPTS: u32 = 10;

/// The backoff before the first retry (without `Retry-After`) is uniform in `[0, BACKOFF_BASE]`.
pub const BACKOFF_BASE: Duration = Duration::from_millis(100);

/// The longest backoff ceiling: the ceiling doubles with each retry up to this.
pub const BACKOFF_CAP: Duration = Duration::from_secs(2);

/// A retry is made only if this much time is left for it after its wait: an attempt with less
/// would most likely run out of time after sending, turning a clean "not sent" into "unknown".
pub const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(100);

/// The window over which the retry budget counts calls and retries.
pub const BUDGET_WINDOW: Duration = Duration::from_secs(10);

/// Retries may add this fraction to the calls begun in the window, in percent.
pub const BUDGET_RATIO_PERCENT: u64 = 20;

/// Retries always allowed in a window whatever the traffic (3 a second on average), so a quiet
/// sender can still retry a lone failure.
pub const BUDGET_FLOOR: u64 = 30;

/// Why a message call may be sent again.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum RetryReason {
    /// The connection was never made.
    Unreachable,
    /// The API's own JSON said it rate-limited the request.
    RateLimited,
    /// The API's own JSON said it is not ready.
    NotReady,
}

/// Why `error` proves the API did not process the request, so that sending it again cannot
/// deliver it twice; `None` if it does not.
pub fn retry_reason(error: &UpstreamError) -> Option<RetryReason> {
    match error {
        UpstreamError::Unreachable(_) => Some(RetryReason::Unreachable),
        UpstreamError::Api(api) => {
            let rate_limited = api.http_status == 429
                || matches!(api.code, Some(4 | 80007 | 130429 | 131048 | 133016));
            let not_ready = api.http_status == 503 || matches!(api.code, Some(1011 | 131016));
            let pair_limit = api.code == Some(131056);
            if pair_limit {
                None
            } else if rate_limited {
                Some(RetryReason::RateLimited)
            } else if not_ready {
                Some(RetryReason::NotReady)
            } else {
                None
            }
        }
        UpstreamError::UnexpectedAnswer { .. }
        | UpstreamError::TimedOut(_)
        | UpstreamError::Interrupted(_)
        | UpstreamError::Login { .. }
        | UpstreamError::Busy { .. }
        | UpstreamError::DeadlineExceeded { .. }
        | UpstreamError::Local(_) => None,
    }
}

/// Whether `error` proves the API did not process the request (see [`retry_reason`]): `Some(wait)`
/// if so, with the wait the API asked for (`Retry-After`), if any.
pub fn safe_to_retry(error: &UpstreamError) -> Option<Option<Duration>> {
    retry_reason(error)?;
    Some(match error {
        UpstreamError::Api(api) => api.retry_after,
        _ => None,
    })
}

/// The ceiling of the backoff before retry number `retry` (0 for the first retry):
/// `BACKOFF_BASE × 2^retry`, at most [`BACKOFF_CAP`].
pub fn backoff_ceiling(retry: u32) -> Duration {
    BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(retry.min(16)))
        .min(BACKOFF_CAP)
}

/// The backoff before retry number `retry`, with full jitter: uniform in `[0, ceiling]`.
pub fn backoff(retry: u32) -> Duration {
    let ceiling = backoff_ceiling(retry).as_millis() as u64;
    Duration::from_millis(fastrand::u64(0..=ceiling))
}

/// How many seconds the budget's window is cut into.
const BUCKETS: usize = BUDGET_WINDOW.as_secs() as usize;

/// One second of the window: which second (since the budget began) and what happened in it.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    second: u64,
    calls: u64,
    retries: u64,
}

/// The retries a sender may still make: a sliding window of one-second buckets counting calls and
/// retries. The lock is held only to count, never across an `.await`.
#[derive(Debug)]
pub struct RetryBudget {
    began: Instant,
    buckets: Mutex<[Bucket; BUCKETS]>,
}

impl RetryBudget {
    pub fn new() -> RetryBudget {
        RetryBudget::starting(Instant::now())
    }

    fn starting(began: Instant) -> RetryBudget {
        RetryBudget {
            began,
            buckets: Mutex::new([Bucket::default(); BUCKETS]),
        }
    }

    /// The bucket for `now`, emptied if it last counted an older second.
    fn bucket<'a>(&self, buckets: &'a mut [Bucket; BUCKETS], now: Instant) -> &'a mut Bucket {
        let second = now.saturating_duration_since(self.began).as_secs();
        let bucket = &mut buckets[(second % BUCKETS as u64) as usize];
        if bucket.second != second {
            *bucket = Bucket {
                second,
                calls: 0,
                retries: 0,
            };
        }
        bucket
    }

    /// A call began (its first attempt).
    pub fn call_began(&self, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        self.bucket(&mut buckets, now).calls += 1;
    }

    /// Takes one retry from the budget if there is one left; false if the budget is spent.
    pub fn try_retry(&self, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let second = now.saturating_duration_since(self.began).as_secs();
        let (calls, retries) = buckets
            .iter()
            .filter(|bucket| bucket.second + (BUCKETS as u64) > second && bucket.second <= second)
            .fold((0, 0), |(calls, retries), bucket| {
                (calls + bucket.calls, retries + bucket.retries)
            });
        if (retries + 1) * 100 > calls * BUDGET_RATIO_PERCENT + BUDGET_FLOOR * 100 {
            return false;
        }
        self.bucket(&mut buckets, now).retries += 1;
        true
    }
}

impl Default for RetryBudget {
    fn default() -> RetryBudget {
        RetryBudget::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(http_status: u16, code: Option<i64>, retry_after: Option<Duration>) -> UpstreamError {
        UpstreamError::api_for_test(http_status, code, retry_after)
    }

    #[test]
    fn only_failures_the_api_cannot_have_processed_are_retried() {
        let seven = Some(Duration::from_secs(7));
        for (error, wait) in [
            (UpstreamError::Unreachable("refused".into()), None),
            (api(429, None, None), None),
            (api(429, Some(1015), seven), seven),
            (api(400, Some(4), None), None),
            (api(400, Some(80007), None), None),
            (api(429, Some(130429), seven), seven),
            (api(400, Some(131048), None), None),
            (api(400, Some(133016), None), None),
            (api(503, Some(1011), None), None),
            (api(503, Some(131016), None), None),
            (api(400, Some(131016), None), None),
            (api(503, None, seven), seven),
        ] {
            assert_eq!(safe_to_retry(&error), Some(wait), "{error:?}");
        }
        for error in [
            api(400, Some(131056), None),
            api(429, Some(131056), Some(Duration::from_secs(1))),
            api(500, Some(131000), None),
            api(500, Some(1000), None),
            api(502, None, None),
            api(400, Some(100), None),
            api(401, Some(190), None),
            UpstreamError::UnexpectedAnswer {
                http_status: 429,
                content_type: "text/html".into(),
                retry_after: Some(Duration::from_secs(1)),
            },
            UpstreamError::UnexpectedAnswer {
                http_status: 503,
                content_type: "text/html".into(),
                retry_after: None,
            },
            UpstreamError::UnexpectedAnswer {
                http_status: 200,
                content_type: "a success without a message id".into(),
                retry_after: None,
            },
            UpstreamError::TimedOut(Duration::from_secs(1)),
            UpstreamError::Interrupted("reset".into()),
            UpstreamError::Login {
                message: String::new(),
                api_down: true,
            },
            UpstreamError::Busy {
                retry_after: Duration::from_secs(1),
            },
            UpstreamError::DeadlineExceeded { sent: false },
            UpstreamError::DeadlineExceeded { sent: true },
            UpstreamError::Local(String::new()),
        ] {
            assert_eq!(safe_to_retry(&error), None, "{error:?}");
        }
    }

    #[test]
    fn each_retry_has_its_reason() {
        assert_eq!(
            retry_reason(&UpstreamError::Unreachable("refused".into())),
            Some(RetryReason::Unreachable)
        );
        assert_eq!(
            retry_reason(&api(429, Some(130429), None)),
            Some(RetryReason::RateLimited)
        );
        assert_eq!(
            retry_reason(&api(400, Some(4), None)),
            Some(RetryReason::RateLimited)
        );
        assert_eq!(
            retry_reason(&api(503, Some(131016), None)),
            Some(RetryReason::NotReady)
        );
        assert_eq!(
            retry_reason(&api(400, Some(1011), None)),
            Some(RetryReason::NotReady)
        );
        assert_eq!(retry_reason(&api(429, Some(131056), None)), None);
        assert_eq!(retry_reason(&api(500, Some(131000), None)), None);
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_full_jitter() {
        let ceilings: Vec<_> = (0..7).map(backoff_ceiling).collect();
        assert_eq!(
            ceilings,
            [100, 200, 400, 800, 1600, 2000, 2000].map(Duration::from_millis)
        );
        assert_eq!(backoff_ceiling(u32::MAX), BACKOFF_CAP);
        for retry in 0..8 {
            let waits: Vec<_> = (0..200).map(|_| backoff(retry)).collect();
            assert!(waits.iter().all(|wait| *wait <= backoff_ceiling(retry)));
            // Full jitter: spread over the range, not clustered at the ceiling.
            assert!(
                waits.iter().any(|wait| *wait < backoff_ceiling(retry) / 2),
                "{waits:?}"
            );
        }
    }

    #[test]
    fn the_budget_allows_the_floor_then_a_fifth_of_the_calls() {
        let start = Instant::now();
        let budget = RetryBudget::starting(start);
        // No calls yet: the floor only.
        let granted = (0..100).filter(|_| budget.try_retry(start)).count();
        assert_eq!(granted as u64, BUDGET_FLOOR);
        // 100 calls in the same window earn 20 more.
        for _ in 0..100 {
            budget.call_began(start);
        }
        let granted = (0..100).filter(|_| budget.try_retry(start)).count();
        assert_eq!(granted, 20);
        // Still spent a few seconds later, within the window.
        assert!(!budget.try_retry(start + Duration::from_secs(5)));
        // Once the window has passed, the old calls and retries no longer count.
        let later = start + BUDGET_WINDOW + Duration::from_secs(1);
        let granted = (0..100).filter(|_| budget.try_retry(later)).count();
        assert_eq!(granted as u64, BUDGET_FLOOR);
    }

    #[test]
    fn the_window_slides_second_by_second() {
        let start = Instant::now();
        let budget = RetryBudget::starting(start);
        // Retries spent at second 0 free up after the window, those at second 5 later.
        for _ in 0..BUDGET_FLOOR / 2 {
            assert!(budget.try_retry(start));
        }
        let five = start + Duration::from_secs(5);
        for _ in 0..BUDGET_FLOOR / 2 {
            assert!(budget.try_retry(five));
        }
        assert!(!budget.try_retry(five));
        let ten = start + BUDGET_WINDOW;
        let granted = (0..100).filter(|_| budget.try_retry(ten)).count() as u64;
        assert_eq!(granted, BUDGET_FLOOR / 2);
    }
}
