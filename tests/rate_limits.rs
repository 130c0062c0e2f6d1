//! Send-rate limits per business number: the limiter itself with the in-memory and the Redis
//! backends against the same cases (a real `redis-server`), then through a real gRPC client: a
//! caller over the rate waits for its slot within its deadline, or gets RESOURCE_EXHAUSTED with
//! RetryInfo and nothing is sent; two instances sharing Redis share one rate.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::redis_server::RedisServer;
use common::stack::{Options, Stack};
use common::*;
use tonic::Code;
use tonic_types::StatusExt;
use whatsapp_grpc::Flavor;
use whatsapp_grpc::ratelimit::{Limiter, LimiterConfig, Rate, Reservation};

/// The limiter under test; a Redis one comes with its server, stopped when dropped.
struct Backend {
    config: LimiterConfig,
    redis: Option<RedisServer>,
}

impl Backend {
    fn new(kind: Kind) -> Backend {
        match kind {
            Kind::Memory => Backend {
                config: LimiterConfig::Memory,
                redis: None,
            },
            Kind::Redis => {
                let redis = RedisServer::start();
                Backend {
                    config: LimiterConfig::Redis { url: redis.url() },
                    redis: Some(redis),
                }
            }
        }
    }

    fn limiter(&self) -> Arc<dyn Limiter> {
        self.config.build().expect("a limiter")
    }
}

fn granted(reservation: Reservation) -> Duration {
    match reservation {
        Reservation::Granted { wait } => wait,
        Reservation::Refused { retry_after } => {
            panic!("refused, retry after {retry_after:?}")
        }
    }
}

/// One message a second: each reservation is a second after the one before (less the moments
/// the calls themselves take, far under the half-second tolerance).
fn assert_about(wait: Duration, expected: Duration) {
    assert!(
        wait <= expected && wait + Duration::from_millis(500) >= expected,
        "waited {wait:?}, expected about {expected:?}"
    );
}

async fn slots_come_one_interval_apart_and_a_wait_too_long_is_refused(kind: Kind) {
    let backend = Backend::new(kind);
    let limiter = backend.limiter();
    let rate = Rate::per_second(1).expect("a rate");
    let long = Duration::from_secs(30);
    for k in 0..3u32 {
        let wait = granted(
            limiter
                .reserve("cloud:1", rate, long)
                .await
                .expect("reserves"),
        );
        assert_about(wait, Duration::from_secs(k.into()));
    }
    // The fourth slot is three seconds away: a caller that can wait 1.5 s is refused, told when.
    match limiter
        .reserve("cloud:1", rate, Duration::from_millis(1500))
        .await
        .expect("answers")
    {
        Reservation::Refused { retry_after } => assert_about(retry_after, Duration::from_secs(3)),
        granted => panic!("{granted:?}"),
    }
    // The refusal reserved nothing: the next caller that can wait gets that same slot.
    let wait = granted(
        limiter
            .reserve("cloud:1", rate, long)
            .await
            .expect("reserves"),
    );
    assert_about(wait, Duration::from_secs(3));
    // Another business number has its own pace.
    let wait = granted(
        limiter
            .reserve("cloud:2", rate, long)
            .await
            .expect("reserves"),
    );
    assert_eq!(wait, Duration::ZERO);
}
with_memory_and_redis!(slots_come_one_interval_apart_and_a_wait_too_long_is_refused);

async fn a_burst_of_a_tenth_of_a_second_leaves_at_once(kind: Kind) {
    let backend = Backend::new(kind);
    let limiter = backend.limiter();
    // 100 a second: 10 at once, then one each 10 ms.
    let rate = Rate::per_second(100).expect("a rate");
    let started = std::time::Instant::now();
    let mut immediate = 0u128;
    for _ in 0..12 {
        match limiter
            .reserve("cloud:1", rate, Duration::ZERO)
            .await
            .expect("answers")
        {
            Reservation::Granted { wait } => {
                assert_eq!(wait, Duration::ZERO);
                immediate += 1;
            }
            Reservation::Refused { retry_after } => {
                assert!(retry_after <= Duration::from_millis(10), "{retry_after:?}")
            }
        }
    }
    // The burst of ten, plus one for each 10 ms the calls themselves took (a loaded machine),
    // and never more.
    let earned = started.elapsed().as_millis() / 10;
    assert!(
        immediate >= 10 && immediate <= 10 + earned + 1,
        "{immediate} left at once in {:?}",
        started.elapsed()
    );
}
with_memory_and_redis!(a_burst_of_a_tenth_of_a_second_leaves_at_once);

#[tokio::test]
async fn two_replicas_sharing_redis_share_one_pace() {
    let backend = Backend::new(Kind::Redis);
    let (one, two) = (backend.limiter(), backend.limiter());
    let rate = Rate::per_second(1).expect("a rate");
    let long = Duration::from_secs(30);
    assert_eq!(
        granted(one.reserve("cloud:1", rate, long).await.unwrap()),
        Duration::ZERO
    );
    assert_about(
        granted(two.reserve("cloud:1", rate, long).await.unwrap()),
        Duration::from_secs(1),
    );
    assert_about(
        granted(one.reserve("cloud:1", rate, long).await.unwrap()),
        Duration::from_secs(2),
    );
}

#[tokio::test]
async fn without_redis_the_limiter_says_so() {
    let mut backend = Backend::new(Kind::Redis);
    let limiter = backend.limiter();
    let rate = Rate::per_second(1).expect("a rate");
    limiter
        .reserve("cloud:1", rate, Duration::ZERO)
        .await
        .expect("reserves");
    backend.redis.as_mut().expect("a Redis").stop();
    let error = limiter
        .reserve("cloud:1", rate, Duration::ZERO)
        .await
        .expect_err("Redis is gone");
    assert!(error.to_string().contains("unavailable"), "{error}");
}

fn limited(per_second: u32, config: LimiterConfig) -> Options {
    Options {
        max_messages_per_second: per_second,
        rate_limit: config,
        ..Options::new(Flavor::Cloud)
    }
}

fn with_deadline<T>(message: T, deadline: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(deadline);
    request
}

/// A call whose deadline leaves room to wait for its slot is sent; one whose deadline does not is
/// refused at once with RetryInfo and outcome not_sent, and nothing is sent for it.
#[tokio::test]
async fn a_caller_waits_for_its_slot_within_its_deadline_or_is_told_when_to_retry() {
    let stack = Stack::start_with(limited(1, LimiterConfig::Memory)).await;
    let mut client = stack.client.clone();
    client
        .send_message(with_deadline(
            request(text("first")),
            Duration::from_secs(5),
        ))
        .await
        .expect("the first slot is free");

    let status = client
        .send_message(with_deadline(
            request(text("too soon")),
            Duration::from_millis(400),
        ))
        .await
        .expect_err("the next slot is a second away, after the deadline");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "SEND_RATE_LIMITED");
    assert_eq!(info.metadata["outcome"], "not_sent");
    let retry = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .expect("RetryInfo");
    assert!(
        retry <= Duration::from_secs(1) && retry >= Duration::from_millis(400),
        "{retry:?}"
    );
    assert!(
        status.message().contains("1 messages per second"),
        "{status:?}"
    );
    assert_eq!(stack.received().await.len(), 1, "nothing was sent for it");

    // With a deadline past the next slot, the caller waits for it and its message is sent.
    client
        .send_message(with_deadline(
            request(text("second")),
            Duration::from_secs(5),
        ))
        .await
        .expect("sent once its slot came");
    let received = stack.received().await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[1]["body"]["text"]["body"], "second");
}

/// Two instances of the service sending from one business number, sharing Redis, share its rate.
#[tokio::test]
async fn two_instances_sharing_redis_share_the_senders_rate() {
    let backend = Backend::new(Kind::Redis);
    let one = Stack::start_with(limited(1, backend.config.clone())).await;
    let two = Stack::start_with(limited(1, backend.config.clone())).await;
    one.client
        .clone()
        .send_message(with_deadline(request(text("one")), Duration::from_secs(5)))
        .await
        .expect("the first slot is free");
    let status = two
        .client
        .clone()
        .send_message(with_deadline(
            request(text("two")),
            Duration::from_millis(400),
        ))
        .await
        .expect_err("the other instance took this second's slot");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(two.received().await.len(), 0);
}

/// Redis down: nothing is sent, and the caller is told it may retry (UNAVAILABLE, not_sent).
#[tokio::test]
async fn without_redis_nothing_is_sent() {
    let mut backend = Backend::new(Kind::Redis);
    let stack = Stack::start_with(limited(100, backend.config.clone())).await;
    let mut client = stack.client.clone();
    client
        .send_message(request(text("before")))
        .await
        .expect("sent");
    backend.redis.as_mut().expect("a Redis").stop();
    let status = client
        .send_message(request(text("after")))
        .await
        .expect_err("no slot without Redis");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "RATE_LIMIT_STORE_UNAVAILABLE");
    assert_eq!(info.metadata["outcome"], "not_sent");
    assert_eq!(stack.received().await.len(), 1, "nothing more was sent");
}
