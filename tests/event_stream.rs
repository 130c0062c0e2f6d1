//! `EventService.StreamEvents` end to end: the real server on loopback, a real gRPC client over a
//! real socket, events published through `EventStore::publish` (as the webhook receiver does), for
//! both stores (the Redis one on a real `redis-server`): delivery and acknowledgement, redelivery
//! after the ack deadline and after a disconnect, competing consumers and independent groups, two
//! replicas sharing one Redis, bad requests, metrics.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use common::Kind;
use common::redis_server::RedisServer;
use common::soak::Soak;
use common::stack::{Options, Stack};
use common::subscriber::{WITHIN, first, id, ids, open, subscribe};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use whatsapp_grpc::Flavor;
use whatsapp_grpc::events::config::EventStoreConfig;
use whatsapp_grpc::events::memory::MemoryStore;
use whatsapp_grpc::events::redis::RedisStore;
use whatsapp_grpc::events::store::{EventStore, Published, Subscription};
use whatsapp_grpc::proto::event_service_client::EventServiceClient;
use whatsapp_grpc::proto::{Event, StreamEventsRequest};

/// Servers sharing one event store, and a handle on a store to publish into.
struct Setup {
    stacks: Vec<Stack>,
    /// Each stack's own store (the same one for memory), to publish "on" that replica.
    stores: Vec<Arc<dyn EventStore>>,
    _redis: Option<RedisServer>,
}

async fn setup(kind: Kind, replicas: usize, metrics: bool) -> Setup {
    let redis = matches!(kind, Kind::Redis).then(RedisServer::start);
    let mut stacks = Vec::new();
    let mut stores: Vec<Arc<dyn EventStore>> = Vec::new();
    let memory: Arc<dyn EventStore> = Arc::new(MemoryStore::new(100_000));
    for _ in 0..replicas {
        let store: Arc<dyn EventStore> = match &redis {
            None => memory.clone(),
            Some(redis) => Arc::new(
                RedisStore::new(&redis.url(), Duration::from_secs(3600), 100_000)
                    .expect("a Redis store"),
            ),
        };
        let mut options = Options::new(Flavor::Cloud);
        options.events = EventStoreConfig::given(store.clone());
        options.metrics = metrics;
        stacks.push(Stack::start_with(options).await);
        stores.push(store);
    }
    Setup {
        stacks,
        stores,
        _redis: redis,
    }
}

fn event(id: &str, sender: &str) -> Event {
    Event {
        event_id: id.into(),
        sender: sender.into(),
        ..Event::default()
    }
}

fn events(ids: impl IntoIterator<Item = usize>) -> Vec<Event> {
    ids.into_iter()
        .map(|i| event(&format!("status/wamid.{i}/sent"), "default"))
        .collect()
}

async fn receives_publishes_and_stops_after_the_ack(kind: Kind) {
    let setup = setup(kind, 1, false).await;
    let (stack, store) = (&setup.stacks[0], &setup.stores[0]);
    let mut subscriber = subscribe(stack, "billing", 600, 0).await;
    let published = store.publish(events(0..3)).await.expect("stored");
    assert_eq!(
        published,
        Published {
            stored: 3,
            duplicates: 0
        }
    );
    let received = subscriber.take(3).await;
    assert_eq!(ids(&received), ids_of(&events(0..3)));
    assert!(received.iter().all(|r| r.delivery_attempt == 1));
    subscriber.ack(&received).await;
    // A redelivered webhook is stored once.
    let again = store.publish(events(0..4)).await.expect("stored");
    assert_eq!(
        again,
        Published {
            stored: 1,
            duplicates: 3
        }
    );
    assert_eq!(id(&subscriber.next().await), ids_of(&events(3..4))[0]);
    // Closed and reopened: what was acknowledged does not come again, what was not does.
    subscriber.close().await;
    let mut reopened = subscribe(stack, "billing", 600, 0).await;
    let next = reopened.next().await;
    assert_eq!(id(&next), ids_of(&events(3..4))[0]);
    assert_eq!(next.delivery_attempt, 2);
}
with_memory_and_redis!(receives_publishes_and_stops_after_the_ack);

fn ids_of(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.event_id.clone()).collect()
}

async fn an_unacknowledged_event_comes_again_after_the_ack_deadline(kind: Kind) {
    let setup = setup(kind, 1, false).await;
    let (stack, store) = (&setup.stacks[0], &setup.stores[0]);
    let mut subscriber = subscribe(stack, "late", 2, 0).await;
    store.publish(events(0..1)).await.expect("stored");
    let first = subscriber.next().await;
    assert_eq!(first.delivery_attempt, 1);
    // Not acknowledged: the same stream gets it again once the deadline passed.
    let second = subscriber.next().await;
    assert_eq!(id(&second), id(&first));
    assert_eq!(second.ack_id, first.ack_id);
    assert_eq!(second.delivery_attempt, 2);
    subscriber.ack(&[second]).await;
    store.publish(events(1..2)).await.expect("stored");
    let next = subscriber.next().await;
    assert_eq!(
        id(&next),
        ids_of(&events(1..2))[0],
        "the acknowledged one did not come back"
    );
}
with_memory_and_redis!(an_unacknowledged_event_comes_again_after_the_ack_deadline);

async fn a_subscriber_that_disconnects_without_acking_gets_the_event_again(kind: Kind) {
    let setup = setup(kind, 1, false).await;
    let (stack, store) = (&setup.stacks[0], &setup.stores[0]);
    let mut subscriber = subscribe(stack, "crashy", 600, 0).await;
    store.publish(events(0..4)).await.expect("stored");
    let received = subscriber.take(4).await;
    subscriber.ack(&received[3..]).await;
    drop(subscriber);
    // Long before the 600 s ack deadline: the stream's end released them, every one.
    let mut reconnected = subscribe(stack, "crashy", 600, 0).await;
    let again = reconnected.take(3).await;
    assert_eq!(ids(&again), ids(&received[..3]));
    assert!(again.iter().all(|r| r.delivery_attempt == 2), "{again:?}");
}
with_memory_and_redis!(a_subscriber_that_disconnects_without_acking_gets_the_event_again);

async fn consumers_of_a_group_share_its_events_and_each_group_gets_all(kind: Kind) {
    let setup = setup(kind, 1, false).await;
    let (stack, store) = (&setup.stacks[0], &setup.stores[0]);
    // Windows of 10 and no acknowledgement: 20 events must split 10 and 10.
    let mut first = subscribe(stack, "workers", 600, 10).await;
    let mut second = subscribe(stack, "workers", 600, 10).await;
    let mut audit = subscribe(stack, "audit", 600, 0).await;
    store.publish(events(0..20)).await.expect("stored");
    let a: HashSet<String> = ids(&first.take(10).await).into_iter().collect();
    let b: HashSet<String> = ids(&second.take(10).await).into_iter().collect();
    assert!(a.is_disjoint(&b), "one event went to both consumers");
    let all: HashSet<String> = ids_of(&events(0..20)).into_iter().collect();
    assert_eq!(&a | &b, all);
    let audited: HashSet<String> = ids(&audit.take(20).await).into_iter().collect();
    assert_eq!(audited, all, "another group gets every event");
}
with_memory_and_redis!(consumers_of_a_group_share_its_events_and_each_group_gets_all);

/// Events a, b, c and d, of the senders support, sales, support and sales.
fn two_senders() -> Vec<Event> {
    vec![
        event("a", "support"),
        event("b", "sales"),
        event("c", "support"),
        event("d", "sales"),
    ]
}

async fn a_sender_filter_delivers_only_that_senders_events(kind: Kind) {
    let setup = setup(kind, 1, false).await;
    let (stack, store) = (&setup.stacks[0], &setup.stores[0]);
    let mut request = first("sales-only", 600, 0);
    request.sender = "sales".into();
    let mut subscriber = open(stack, request).await.expect("subscribed");
    store.publish(two_senders()).await.expect("stored");
    assert_eq!(ids(&subscriber.take(2).await), ["b", "d"]);
}
with_memory_and_redis!(a_sender_filter_delivers_only_that_senders_events);

/// Subscribers of one consumer group with different filters, or none, never take events from each
/// other: a filter acknowledges the other senders' events for itself only.
async fn a_filter_never_hides_events_from_another_filter_of_the_group(kind: Kind) {
    let setup = setup(kind, 1, false).await;
    let (stack, store) = (&setup.stacks[0], &setup.stores[0]);
    let filtered = |sender: &str| {
        let mut request = first("shared", 600, 0);
        request.sender = sender.into();
        request
    };
    let mut sales = open(stack, filtered("sales")).await.expect("subscribed");
    let mut support = open(stack, filtered("support")).await.expect("subscribed");
    let mut everything = open(stack, first("shared", 600, 0))
        .await
        .expect("subscribed");
    store.publish(two_senders()).await.expect("stored");
    assert_eq!(ids(&sales.take(2).await), ["b", "d"]);
    assert_eq!(ids(&support.take(2).await), ["a", "c"]);
    let mut all = ids(&everything.take(4).await);
    all.sort();
    assert_eq!(all, ["a", "b", "c", "d"]);
}
with_memory_and_redis!(a_filter_never_hides_events_from_another_filter_of_the_group);

/// A full store (of 2 events) refuses new events, storing none of them, until every group has
/// acknowledged the oldest; an event dropped to make room is still a duplicate when its webhook
/// comes again. The same in memory and in Redis.
async fn a_full_store_refuses_new_events_until_the_oldest_are_acknowledged(kind: Kind) {
    let redis = matches!(kind, Kind::Redis).then(RedisServer::start);
    let store: Arc<dyn EventStore> = match &redis {
        None => Arc::new(MemoryStore::new(2)),
        Some(redis) => Arc::new(
            RedisStore::new(&redis.url(), Duration::from_secs(3600), 2).expect("a Redis store"),
        ),
    };
    let subscription = |group: &str| Subscription {
        group: group.into(),
        sender: None,
        ack_deadline: Duration::from_secs(600),
    };
    assert_eq!(store.publish(events(0..2)).await.expect("stored").stored, 2);
    // No group has acknowledged anything: nothing makes room.
    assert!(store.publish(events(2..3)).await.is_err());
    let mut consumer = store
        .subscribe(subscription("g"))
        .await
        .expect("a consumer");
    let received = consumer
        .receive(10, Duration::from_secs(1))
        .await
        .expect("received");
    assert_eq!(received.len(), 2);
    // Delivered, not acknowledged: still no room, and nothing of a refused publish is stored.
    assert!(store.publish(events(2..4)).await.is_err());
    let acked = store
        .ack("g", &[received[0].ack_id.clone()])
        .await
        .expect("acknowledged");
    assert_eq!(acked, 1);
    assert!(
        store.publish(events(2..4)).await.is_err(),
        "room for one only"
    );
    assert_eq!(store.publish(events(2..3)).await.expect("stored").stored, 1);
    // The event dropped to make room, its webhook delivered again: a duplicate.
    assert_eq!(
        store.publish(events(0..1)).await.expect("stored"),
        Published {
            stored: 0,
            duplicates: 1
        }
    );
    // What is kept: the unacknowledged one and the new one, oldest first.
    let mut late = store
        .subscribe(subscription("late"))
        .await
        .expect("a consumer");
    let kept = late
        .receive(10, Duration::from_secs(1))
        .await
        .expect("received");
    let kept: Vec<String> = kept.into_iter().map(|d| d.event.event_id).collect();
    assert_eq!(kept, ids_of(&events(1..3)));
}
with_memory_and_redis!(a_full_store_refuses_new_events_until_the_oldest_are_acknowledged);

#[tokio::test]
async fn bad_requests_are_refused_with_the_field_named() {
    use tonic_types::StatusExt;
    let setup = setup(Kind::Memory, 1, false).await;
    let stack = &setup.stacks[0];
    for (request, field) in [
        (first("", 0, 0), "consumer_group"),
        (first("has space", 0, 0), "consumer_group"),
        (first("g", 601, 0), "ack_deadline_seconds"),
        (first("g", 0, 1001), "max_outstanding_events"),
        (
            StreamEventsRequest {
                ack_ids: vec!["x".into(); 1001],
                ..first("g", 0, 0)
            },
            "ack_ids",
        ),
    ] {
        let status = open(stack, request).await.err().expect("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        let violations = status
            .get_details_bad_request()
            .expect("a BadRequest")
            .field_violations;
        assert_eq!(violations[0].field, field);
    }
    // Later requests may only acknowledge, with ack ids this service handed out.
    let subscriber = subscribe(stack, "g", 0, 0).await;
    subscriber
        .requests
        .send(StreamEventsRequest {
            ack_ids: vec!["not-an-ack-id".into()],
            ..StreamEventsRequest::default()
        })
        .await
        .expect("sent");
    let status = subscriber.ended().await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let subscriber = subscribe(stack, "g", 0, 0).await;
    subscriber
        .requests
        .send(first("other", 0, 0))
        .await
        .expect("sent");
    assert_eq!(subscriber.ended().await.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn two_replicas_sharing_redis_deliver_each_event_of_a_group_once() {
    let setup = setup(Kind::Redis, 2, false).await;
    // Published on one replica, received on the other.
    let mut other = subscribe(&setup.stacks[1], "cross", 600, 0).await;
    setup.stores[0].publish(events(0..1)).await.expect("stored");
    assert_eq!(id(&other.next().await), ids_of(&events(0..1))[0]);
    drop(other);

    // One group with a subscriber on each replica, events published on both: each event reaches
    // exactly one of them.
    let mut subscribers = [
        subscribe(&setup.stacks[0], "shared", 600, 5).await,
        subscribe(&setup.stacks[1], "shared", 600, 5).await,
    ];
    const EVENTS: usize = 60;
    for i in 0..EVENTS {
        setup.stores[i % 2]
            .publish(events(100 + i..101 + i))
            .await
            .expect("stored");
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut per_replica = [0usize; 2];
    // Windows of 5 and acknowledgement as they come: both replicas take part.
    while seen.len() < EVENTS {
        let (a, b) = subscribers.split_at_mut(1);
        let (which, received) = tokio::select! {
            r = a[0].next() => (0, r),
            r = b[0].next() => (1, r),
        };
        per_replica[which] += 1;
        *seen.entry(id(&received)).or_default() += 1;
        subscribers[which].ack(&[received]).await;
    }
    assert!(seen.values().all(|&count| count == 1), "{seen:?}");
    assert_eq!(per_replica.iter().sum::<usize>(), EVENTS);
    assert!(per_replica.iter().all(|&n| n > 0), "{per_replica:?}");
}

#[tokio::test]
async fn the_metrics_count_deliveries_acknowledgements_and_subscribers() {
    let setup = setup(Kind::Memory, 1, true).await;
    let (stack, store) = (&setup.stacks[0], &setup.stores[0]);
    let mut subscriber = subscribe(stack, "metered", 600, 0).await;
    store.publish(events(0..2)).await.expect("stored");
    let received = subscriber.take(2).await;
    subscriber.ack(&received[..1]).await;
    subscriber.close().await;
    // The second comes again on the next stream.
    let mut subscriber = subscribe(stack, "metered", 600, 0).await;
    let again = subscriber.next().await;
    assert_eq!(again.delivery_attempt, 2);
    subscriber.ack(&[again]).await;
    let address = stack.metrics_address.expect("metrics");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let wanted = [
        "whatsapp_grpc_events_delivered_total{group=\"metered\"} 3",
        "whatsapp_grpc_events_redelivered_total{group=\"metered\"} 1",
        "whatsapp_grpc_events_acknowledged_total{group=\"metered\"} 2",
        "whatsapp_grpc_event_subscribers{group=\"metered\"} 1",
        "whatsapp_grpc_calls_in_flight{method=\"whatsapp.v1.EventService/StreamEvents\"} 1",
        "whatsapp_grpc_events_oldest_unacknowledged_age_seconds{group=\"metered\"}",
    ];
    let scrape = || async {
        reqwest::get(format!("http://{address}/metrics"))
            .await
            .expect("scraped")
            .text()
            .await
            .expect("a body")
    };
    let shown = tokio::time::timeout(WITHIN, async {
        loop {
            let text = scrape().await;
            if wanted.iter().all(|line| text.contains(line)) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let text = match shown {
        Ok(text) => text,
        Err(_) => panic!("the metrics never showed {wanted:?}:\n{}", scrape().await),
    };
    assert!(text.contains("# TYPE whatsapp_grpc_events_oldest_unacknowledged_age_seconds gauge"));
}

/// Events of the soak.
const SOAK_EVENTS: usize = 2000;

/// Thousands of events published in random batches with redeliveries, to two groups (three
/// competing subscribers and one), subscribers crashing and restarting; with Redis, two replicas.
/// Then: every event reached each group and was acknowledged (none lost), and an event was
/// delivered to its group more than once only after a delivery on a stream that crashed.
async fn soak(kind: Kind) {
    let seed = common::soak::seed("event soak");
    let replicas = match kind {
        Kind::Memory => 1,
        Kind::Redis => 2,
    };
    let setup = setup(kind, replicas, false).await;
    let soak = Soak::new(SOAK_EVENTS);
    let publisher = async {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut published = 0;
        let mut stored = 0;
        while published < SOAK_EVENTS {
            let size = rng.usize(1..=50).min(SOAK_EVENTS - published);
            let mut batch = events(published..published + size);
            // Webhooks delivered again: some events already stored, in the same batch or later.
            for _ in 0..rng.usize(0..5) {
                let again = rng.usize(0..published + size);
                batch.extend(events(again..again + 1));
            }
            let replica = rng.usize(0..replicas);
            let result = setup.stores[replica].publish(batch).await.expect("stored");
            stored += result.stored;
            published += size;
            tokio::time::sleep(Duration::from_millis(rng.u64(0..5))).await;
        }
        stored
    };
    let subscribers = soak.subscribers(&setup.stacks, seed);
    let (stored, ()) = tokio::time::timeout(Duration::from_secs(120), async {
        tokio::join!(publisher, subscribers)
    })
    .await
    .expect("the soak ends within its bound");
    assert_eq!(
        stored, SOAK_EVENTS,
        "each event stored once, whatever its redeliveries"
    );

    let all: HashSet<String> = ids_of(&events(0..SOAK_EVENTS)).into_iter().collect();
    let outcome = soak.check(&all);
    eprintln!(
        "event soak: {SOAK_EVENTS} events, 2 groups, {} streams ({} crashed), {} redeliveries after crashes",
        outcome.streams, outcome.crashed, outcome.redelivered
    );
}
with_memory_and_redis!(soak);

#[tokio::test]
async fn with_api_keys_a_stream_needs_one() {
    use whatsapp_grpc::api_keys::{ApiKeysConfig, hash_key};
    const KEY: &str = "events-subscriber-key-0123456789abcdef";
    let folder = std::env::temp_dir().join(format!("event-keys-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&folder).expect("a folder");
    let path = folder.join("keys.toml");
    std::fs::write(
        &path,
        format!(
            "[[key]]\nname = \"events\"\nsha256 = \"{}\"\n",
            hash_key(KEY.as_bytes()).expect("a key")
        ),
    )
    .expect("written");
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new(100));
    let mut options = Options::new(Flavor::Cloud);
    options.events = EventStoreConfig::given(store.clone());
    options.security.api_keys = Some(ApiKeysConfig::read(path).expect("valid keys"));
    let stack = Stack::start_with(options).await;

    let status = open(&stack, first("keyed", 0, 0))
        .await
        .err()
        .expect("refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    let (requests, outbound) = mpsc::channel(4);
    requests.send(first("keyed", 0, 0)).await.expect("sent");
    let mut call = tonic::Request::new(ReceiverStream::new(outbound));
    call.metadata_mut().insert(
        "authorization",
        format!("Bearer {KEY}").parse().expect("ASCII"),
    );
    let mut responses = EventServiceClient::new(stack.channel.clone())
        .stream_events(call)
        .await
        .expect("subscribed with the key")
        .into_inner();
    store.publish(events(0..1)).await.expect("stored");
    let batch = tokio::time::timeout(WITHIN, responses.message())
        .await
        .expect("in time")
        .expect("healthy")
        .expect("open");
    assert_eq!(ids(&batch.received_events), ids_of(&events(0..1)));
    let _ = std::fs::remove_dir_all(folder);
}

#[tokio::test]
async fn a_stream_ends_with_ok_at_its_deadline_and_its_events_come_again() {
    let setup = setup(Kind::Memory, 1, false).await;
    let (stack, store) = (&setup.stacks[0], &setup.stores[0]);
    store.publish(events(0..1)).await.expect("stored");
    let (requests, outbound) = mpsc::channel(4);
    requests
        .send(first("deadline", 600, 0))
        .await
        .expect("sent");
    let mut call = tonic::Request::new(ReceiverStream::new(outbound));
    call.set_timeout(Duration::from_secs(2));
    let mut responses = EventServiceClient::new(stack.channel.clone())
        .stream_events(call)
        .await
        .expect("subscribed")
        .into_inner();
    let batch = responses.message().await.expect("healthy").expect("open");
    assert_eq!(batch.received_events[0].delivery_attempt, 1);
    // Not acknowledged; the server ends the stream itself, before the client's deadline.
    loop {
        match responses.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(status) => panic!("the stream should end with OK: {status:?}"),
        }
    }
    drop(requests);
    let mut reopened = subscribe(stack, "deadline", 600, 0).await;
    assert_eq!(reopened.next().await.delivery_attempt, 2);
}

#[tokio::test]
async fn a_draining_server_ends_its_streams_with_ok() {
    let mut setup = setup(Kind::Memory, 1, false).await;
    let subscriber = subscribe(&setup.stacks[0], "draining", 600, 0).await;
    let server = setup.stacks[0].shut_down_server();
    // Ended by the server (not cut at the 20 s shutdown grace): the subscriber reopens elsewhere.
    let status = subscriber.ended().await;
    assert_eq!(status.code(), Code::Ok, "{status:?}");
    tokio::time::timeout(WITHIN, server)
        .await
        .expect("the server stopped without waiting for the stream")
        .expect("the server task");
}
