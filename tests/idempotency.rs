//! `request_id` (AIP-155): a duplicate gets the first call's answer and nothing is sent twice, with
//! the in-memory store and with a real `redis-server`, through a real gRPC client and the sandbox.

mod common;

use std::time::Duration;

use common::redis_server::RedisServer;
use common::stack::{Options, Stack};
use common::*;
use tonic::Code;
use tonic_types::StatusExt;
use whatsapp_grpc::Flavor;
use whatsapp_grpc::idempotency::{IdempotencyConfig, StoreConfig};
use whatsapp_grpc::proto::SendMessageRequest;
use whatsapp_grpc::sandbox::SandboxConfig;

const REQUEST_ID: &str = "4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c";
const SLOW: &str = "15550000408";

/// The store under test; a Redis store comes with its server, stopped when dropped.
struct Store {
    config: IdempotencyConfig,
    redis: Option<RedisServer>,
}

impl Store {
    fn new(kind: Kind) -> Store {
        match kind {
            Kind::Memory => Store {
                config: IdempotencyConfig::default(),
                redis: None,
            },
            Kind::Redis => {
                let redis = RedisServer::start();
                Store {
                    config: IdempotencyConfig {
                        store: StoreConfig::Redis { url: redis.url() },
                        ..IdempotencyConfig::default()
                    },
                    redis: Some(redis),
                }
            }
        }
    }

    fn options(&self) -> Options {
        Options {
            idempotency: self.config.clone(),
            ..Options::new(Flavor::Cloud)
        }
    }
}

/// A Redis store on `redis`, used directly rather than through the service.
fn redis_store(redis: &RedisServer) -> std::sync::Arc<dyn whatsapp_grpc::idempotency::Store> {
    IdempotencyConfig {
        store: StoreConfig::Redis { url: redis.url() },
        ..IdempotencyConfig::default()
    }
    .build()
    .expect("a store")
}

fn hello(request_id: &str) -> SendMessageRequest {
    SendMessageRequest {
        request_id: request_id.into(),
        ..request(text("hello"))
    }
}

fn replayed(metadata: &tonic::metadata::MetadataMap) -> bool {
    metadata.get("replayed").and_then(|v| v.to_str().ok()) == Some("true")
}

fn outcome(status: &tonic::Status) -> String {
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("an ErrorInfo: {status:?}"));
    info.metadata["outcome"].clone()
}

async fn the_same_request_twice_is_sent_once(kind: Kind) {
    let store = Store::new(kind);
    let mut stack = Stack::start_with(store.options()).await;
    let first = stack.client.send_message(hello(REQUEST_ID)).await.unwrap();
    assert!(!replayed(first.metadata()));
    let second = stack.client.send_message(hello(REQUEST_ID)).await.unwrap();
    assert!(replayed(second.metadata()), "{:?}", second.metadata());
    assert_eq!(first.get_ref(), second.get_ref());
    assert!(!first.get_ref().message_id.is_empty());
    assert_eq!(stack.received().await.len(), 1);
    // Without a request_id nothing is deduplicated; another request_id is another message.
    stack.client.send_message(hello("")).await.unwrap();
    stack.client.send_message(hello("")).await.unwrap();
    let other = stack
        .client
        .send_message(hello("00000000-8c3a-4e7b-9a1d-2c5e6f7a8b9c"))
        .await
        .unwrap();
    assert_ne!(other.get_ref().message_id, first.get_ref().message_id);
    assert_eq!(stack.received().await.len(), 4);
}
with_memory_and_redis!(the_same_request_twice_is_sent_once);

async fn fifty_concurrent_duplicates_are_sent_once(kind: Kind) {
    let store = Store::new(kind);
    let stack = Stack::start_with(store.options()).await;
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let mut client = stack.client.clone();
            tokio::spawn(async move { client.send_message(hello(REQUEST_ID)).await })
        })
        .collect();
    let mut ids = Vec::new();
    let mut replays = 0;
    for call in calls {
        let response = call.await.unwrap().expect("every duplicate succeeds");
        if replayed(response.metadata()) {
            replays += 1;
        }
        ids.push(response.into_inner().message_id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one message id for all: {ids:?}");
    assert_eq!(replays, 49);
    assert_eq!(stack.received().await.len(), 1);
}
with_memory_and_redis!(fifty_concurrent_duplicates_are_sent_once);

async fn an_unknown_outcome_is_replayed_not_resent(kind: Kind) {
    let store = Store::new(kind);
    let mut stack = Stack::start_with(Options {
        upstream_timeout: Duration::from_millis(300),
        sandbox: SandboxConfig {
            slow_answer: Duration::from_secs(2),
            ..SandboxConfig::default()
        },
        ..store.options()
    })
    .await;
    let slow = SendMessageRequest {
        to: SLOW.into(),
        ..hello(REQUEST_ID)
    };
    let first = stack.client.send_message(slow.clone()).await.unwrap_err();
    assert_eq!(outcome(&first), "unknown", "{first:?}");
    stack.wait_until_received(1).await;
    let second = stack.client.send_message(slow).await.unwrap_err();
    assert_eq!(second.code(), first.code());
    assert_eq!(second.message(), first.message());
    assert_eq!(outcome(&second), "unknown");
    assert!(replayed(second.metadata()), "{second:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(stack.received().await.len(), 1, "never sent again");
}
with_memory_and_redis!(an_unknown_outcome_is_replayed_not_resent);

async fn a_request_id_reused_for_another_request_is_refused(kind: Kind) {
    let store = Store::new(kind);
    let stack = Stack::start_with(store.options()).await;
    stack
        .client
        .clone()
        .send_message(hello(REQUEST_ID))
        .await
        .unwrap();
    let other = SendMessageRequest {
        request_id: REQUEST_ID.into(),
        ..request(text("another text"))
    };
    let status = stack.client.clone().send_message(other).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "REQUEST_ID_REUSED");
    assert_eq!(info.metadata["outcome"], "not_sent");
    assert_eq!(stack.received().await.len(), 1);
    // An invalid request is answered without touching the store.
    let invalid = SendMessageRequest {
        to: String::new(),
        ..hello(REQUEST_ID)
    };
    let status = stack
        .client
        .clone()
        .send_message(invalid)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}
with_memory_and_redis!(a_request_id_reused_for_another_request_is_refused);

#[tokio::test]
async fn two_instances_sharing_one_redis_send_once() {
    let store = Store::new(Kind::Redis);
    let one = Stack::start_with(store.options()).await;
    let two = Stack::start_with(store.options()).await;
    let first = one
        .client
        .clone()
        .send_message(hello(REQUEST_ID))
        .await
        .unwrap();
    let second = two
        .client
        .clone()
        .send_message(hello(REQUEST_ID))
        .await
        .unwrap();
    assert!(replayed(second.metadata()));
    assert_eq!(first.get_ref().message_id, second.get_ref().message_id);
    assert_eq!(one.received().await.len() + two.received().await.len(), 1);
}

#[tokio::test]
async fn without_redis_nothing_is_sent() {
    let mut store = Store::new(Kind::Redis);
    let stack = Stack::start_with(store.options()).await;
    stack
        .client
        .clone()
        .send_message(hello(REQUEST_ID))
        .await
        .unwrap();
    store.redis.as_mut().expect("a Redis").stop();
    let status = stack
        .client
        .clone()
        .send_message(hello("00000000-8c3a-4e7b-9a1d-2c5e6f7a8b9c"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "IDEMPOTENCY_STORE_UNAVAILABLE");
    assert_eq!(info.metadata["outcome"], "not_sent");
    assert_eq!(stack.received().await.len(), 1, "nothing more was sent");
}

async fn a_call_cancelled_mid_send_is_not_resent(kind: Kind) {
    let store = Store::new(kind);
    let mut stack = Stack::start_with(Options {
        sandbox: SandboxConfig {
            slow_answer: Duration::from_secs(3),
            ..SandboxConfig::default()
        },
        ..store.options()
    })
    .await;
    let slow = |request_id: &str| SendMessageRequest {
        to: SLOW.into(),
        ..hello(request_id)
    };

    // The caller's deadline passes while the API holds the request: its answer (outcome unknown)
    // is the retry's.
    let mut call = tonic::Request::new(slow(REQUEST_ID));
    call.set_timeout(Duration::from_millis(300));
    let first = stack.client.send_message(call).await.unwrap_err();
    assert_eq!(first.code(), Code::DeadlineExceeded, "{first:?}");
    assert_eq!(outcome(&first), "unknown");
    stack.wait_until_received(1).await;
    let second = stack
        .client
        .send_message(slow(REQUEST_ID))
        .await
        .unwrap_err();
    assert_eq!(second.code(), Code::DeadlineExceeded, "{second:?}");
    assert_eq!(outcome(&second), "unknown");
    assert!(replayed(second.metadata()));

    // The caller goes away while the API holds the request: the call is dropped mid-send, and a
    // retry learns at once that the outcome is unknown.
    let other = "00000000-8c3a-4e7b-9a1d-2c5e6f7a8b9c";
    let mut client = stack.client.clone();
    let request = slow(other);
    let gone = tokio::spawn(async move { client.send_message(request).await });
    stack.wait_until_received(2).await;
    gone.abort();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let retry = tokio::time::timeout(
        Duration::from_secs(1),
        stack.client.send_message(slow(other)),
    )
    .await
    .expect("answered without waiting for the first call")
    .unwrap_err();
    assert_eq!(retry.code(), Code::Unknown, "{retry:?}");
    let info = retry.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "OUTCOME_UNKNOWN");
    assert_eq!(info.metadata["outcome"], "unknown");
    assert!(replayed(retry.metadata()));
    assert_eq!(stack.received().await.len(), 2, "never sent again");
}
with_memory_and_redis!(a_call_cancelled_mid_send_is_not_resent);

/// A claimant whose process died leaves a pending claim; once its lease ends, a duplicate learns
/// the outcome is unknown (and a waiter stops waiting), and the key is never free again.
#[tokio::test]
async fn an_expired_lease_in_redis_is_abandoned_never_free() {
    use std::time::Instant;
    use whatsapp_grpc::idempotency::{Claim, Fingerprint, Key};

    let redis = RedisServer::start();
    let store = redis_store(&redis);
    let key = Key::new("default", REQUEST_ID);
    let fingerprint = Fingerprint::of(&hello(REQUEST_ID));
    let lease = Duration::from_millis(300);
    assert_eq!(
        store.claim(&key, fingerprint, lease).await.unwrap(),
        Claim::New
    );
    assert_eq!(
        store.claim(&key, fingerprint, lease).await.unwrap(),
        Claim::Pending
    );
    let other = Fingerprint::of(&request(text("other")));
    assert_eq!(
        store.claim(&key, other, lease).await.unwrap(),
        Claim::Mismatch
    );
    let started = Instant::now();
    let until = started + Duration::from_secs(5);
    assert_eq!(
        store.wait(&key, fingerprint, until).await.unwrap(),
        Claim::Abandoned
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        store.claim(&key, fingerprint, lease).await.unwrap(),
        Claim::Abandoned
    );
}

async fn a_failure_that_sent_nothing_frees_the_request_id_for_a_retry(kind: Kind) {
    let store = Store::new(kind);
    let mut stack = Stack::start_with(Options {
        max_attempts: 1,
        ..store.options()
    })
    .await;
    // The sandbox answers this recipient "not ready": the API did not take the message.
    let not_ready = || SendMessageRequest {
        to: "15550000503".into(),
        ..hello(REQUEST_ID)
    };
    let status = stack.client.send_message(not_ready()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(outcome(&status), "not_sent");
    // A duplicate at once shares the failure…
    let status = stack.client.send_message(not_ready()).await.unwrap_err();
    assert!(replayed(status.metadata()), "{status:?}");
    assert_eq!(stack.received().await.len(), 1);
    // …and the caller's retry a moment later is sent: nothing was, so it cannot be twice.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let status = stack.client.send_message(not_ready()).await.unwrap_err();
    assert!(!replayed(status.metadata()), "{status:?}");
    assert_eq!(stack.received().await.len(), 2);
}
with_memory_and_redis!(a_failure_that_sent_nothing_frees_the_request_id_for_a_retry);

/// The Redis stores keep one connection per event loop, made on the loop's first command and used
/// again after, and one for every other thread: a command never wakes another thread.
#[tokio::test]
async fn each_event_loop_has_its_own_redis_connection() {
    use std::sync::Arc;
    use whatsapp_grpc::lanes::Lanes;
    use whatsapp_grpc::redis_connection::Connections;

    let redis = RedisServer::start();
    // The loops first, as `serve` starts them: per-loop connections are sized for them.
    let lanes = Lanes::start(2).expect("two loops");
    let connections =
        Arc::new(Connections::new(&redis.url(), "--idempotency-store").expect("a valid URL"));
    async fn ping(connections: Arc<Connections>) -> String {
        let mut connection = connections.get();
        redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .expect("PONG")
    }
    for _ in 0..3 {
        for _ in 0..lanes.len() {
            let (answer, answered) = tokio::sync::oneshot::channel();
            let connections = connections.clone();
            lanes.spawn(async move {
                let _ = answer.send(ping(connections).await);
            });
            assert_eq!(answered.await.expect("an answer from the loop"), "PONG");
        }
    }
    // Off the loops (this test's own runtime): the shared connection.
    assert_eq!(ping(connections.clone()).await, "PONG");
    let mut admin = redis.admin().await;
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut admin)
        .await
        .expect("CLIENT LIST");
    // One per loop, the shared one, and this one.
    assert_eq!(clients.lines().count(), 4, "{clients}");
}

/// A claim is sent by its script's SHA-1 (`EVALSHA`), not the script's text each time, and still
/// works after Redis has lost its scripts (a restart, `SCRIPT FLUSH`).
#[tokio::test]
async fn claims_are_sent_by_script_hash_and_survive_a_script_flush() {
    use whatsapp_grpc::idempotency::{Claim, Fingerprint, Key};

    let redis = RedisServer::start();
    let store = redis_store(&redis);
    let mut admin = redis.admin().await;
    let fingerprint = Fingerprint::of(&hello(REQUEST_ID));
    let lease = Duration::from_secs(30);
    let first = Key::new("default", REQUEST_ID);
    assert_eq!(
        store.claim(&first, fingerprint, lease).await.unwrap(),
        Claim::New
    );
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut admin)
        .await
        .expect("SCRIPT FLUSH");
    let second = Key::new("default", "00000000-8c3a-4e7b-9a1d-2c5e6f7a8b9c");
    assert_eq!(
        store.claim(&second, fingerprint, lease).await.unwrap(),
        Claim::New
    );
    assert_eq!(
        store.claim(&first, fingerprint, lease).await.unwrap(),
        Claim::Pending
    );
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut admin)
        .await
        .expect("INFO commandstats");
    let calls = |command: &str| {
        stats
            .lines()
            .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .and_then(|calls| calls.parse::<u32>().ok())
            .unwrap_or(0)
    };
    // Three claims by hash (one refused after the flush, then loaded again).
    assert!(calls("evalsha") >= 3, "{stats}");
    assert!(calls("eval") <= 1, "{stats}");
}
