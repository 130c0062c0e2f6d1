//! Webhooks in, events out, end to end: the real server on loopback with its webhook listener, the
//! sandbox posting its signed status webhooks to it (and the customer messages injected into it),
//! a real gRPC client subscribed to `EventService.StreamEvents` over a real socket, and, for Redis,
//! two service instances sharing one real `redis-server`. Then a bounded soak driven by signed
//! webhooks over HTTP, with redeliveries and subscribers crashing.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::redis_server::RedisServer;
use common::soak::Soak;
use common::stack::{Options, PHONE_NUMBER_ID, Stack};
use common::subscriber::{WITHIN, id, subscribe};
use serde_json::{Value, json};
use whatsapp_grpc::Flavor;
use whatsapp_grpc::events::config::{EventStoreConfig, EventStoreKind};
use whatsapp_grpc::events::{WebhookConfig, signature};
use whatsapp_grpc::proto::{DeliveryStatus, ReceivedEvent, event, inbound_message};
use whatsapp_grpc::upstream::Secret;

const APP_SECRET: &str = "end-to-end-app-secret";
const VERIFY_TOKEN: &str = "end-to-end-verify-token";
fn webhooks() -> WebhookConfig {
    WebhookConfig {
        verify_token: Some(Secret::new(VERIFY_TOKEN)),
        app_secret: Some(Secret::new(APP_SECRET)),
        on_premises_secret: None,
    }
}

/// A Cloud stack receiving webhooks (its sandbox posts its own to it) into the store `events`
/// names, with metrics.
async fn stack(events: EventStoreConfig) -> Stack {
    Stack::start_with(Options {
        webhook_listener: true,
        webhooks: webhooks(),
        events,
        metrics: true,
        ..Options::new(Flavor::Cloud)
    })
    .await
}

fn redis_store(redis: &RedisServer) -> EventStoreConfig {
    EventStoreConfig {
        kind: EventStoreKind::Redis { url: redis.url() },
        retention: Duration::from_secs(3600),
        max_events: 100_000,
    }
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A Cloud notification carrying one `status` of each message id, as the API posts them.
fn statuses_webhook(statuses: &[(String, &str)]) -> Vec<u8> {
    let statuses: Vec<Value> = statuses
        .iter()
        .map(|(id, status)| {
            json!({
                "id": id,
                "status": status,
                "timestamp": "1800000000",
                "recipient_id": common::TO,
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "100000000000000",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {
                        "display_phone_number": "15550000000",
                        "phone_number_id": PHONE_NUMBER_ID,
                    },
                    "statuses": statuses,
                },
            }],
        }],
    }))
    .expect("JSON")
}

/// POSTs `body`, signed with the app secret, to `stack`'s Cloud callback; the HTTP status.
async fn post_signed(http: &reqwest::Client, stack: &Stack, body: &[u8]) -> u16 {
    http.post(format!(
        "http://{}/webhooks/cloud",
        stack.webhook_address.expect("a webhook listener")
    ))
    .header("content-type", "application/json")
    .header(
        "x-hub-signature-256",
        signature::sign(APP_SECRET.as_bytes(), body),
    )
    .body(body.to_vec())
    .send()
    .await
    .expect("the receiver answers")
    .status()
    .as_u16()
}

/// The (message id, status) of a status event; panics on any other.
fn status_of(received: &ReceivedEvent) -> (String, DeliveryStatus) {
    let event = received.event.as_ref().expect("an event");
    let Some(event::Kind::Status(status)) = &event.kind else {
        panic!("a status: {event:?}");
    };
    (
        status.message_id.clone(),
        DeliveryStatus::try_from(status.status).expect("a known status"),
    )
}

async fn send_text(stack: &Stack, body: &str) -> String {
    stack
        .client
        .clone()
        .send_message(common::request(common::text(body)))
        .await
        .expect("sent")
        .into_inner()
        .message_id
}

/// Asks the sandbox to post a customer's text replying to `context`; the new message's id.
async fn inject_reply(stack: &Stack, from: &str, text: &str, context: &str) -> String {
    let answer = http()
        .post(format!("{}/sandbox/inject-message", stack.sandbox_url))
        .header("content-type", "application/json")
        .body(json!({"from": from, "text": text, "context": context}).to_string())
        .send()
        .await
        .expect("the sandbox answers");
    assert_eq!(answer.status().as_u16(), 202);
    let answer: Value = serde_json::from_str(&answer.text().await.expect("text")).expect("JSON");
    answer["message_id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn a_sent_message_comes_back_as_its_statuses_and_the_reply_arrives_typed() {
    // The store the server builds from its configuration, as `serve` does: in memory.
    let stack = stack(EventStoreConfig::default()).await;
    let mut subscriber = subscribe(&stack, "orders", 600, 0).await;
    let message_id = send_text(&stack, "Your order has shipped").await;
    let statuses = subscriber.take(3).await;
    assert_eq!(
        statuses.iter().map(status_of).collect::<Vec<_>>(),
        [
            (message_id.clone(), DeliveryStatus::Sent),
            (message_id.clone(), DeliveryStatus::Delivered),
            (message_id.clone(), DeliveryStatus::Read),
        ]
    );
    for received in &statuses {
        assert_eq!(received.delivery_attempt, 1);
        assert_eq!(received.event.as_ref().expect("an event").sender, "default");
    }
    subscriber.ack(&statuses).await;
    // Acknowledged, then the stream closed: a new stream of the group does not get them again; its
    // first event is the customer's reply, typed, pointing at the message sent.
    subscriber.close().await;
    let mut subscriber = subscribe(&stack, "orders", 600, 0).await;
    let reply_id = inject_reply(&stack, "15550001234", "Thanks!", &message_id).await;
    let reply = subscriber.next().await;
    assert_eq!(reply.delivery_attempt, 1);
    let event = reply.event.as_ref().expect("an event");
    assert_eq!(event.event_id, format!("message/{reply_id}"));
    let Some(event::Kind::Message(message)) = &event.kind else {
        panic!("a message: {event:?}");
    };
    assert_eq!(message.from, "15550001234");
    assert_eq!(message.message_id, reply_id);
    assert_eq!(
        message.context.as_ref().map(|c| c.message_id.as_str()),
        Some(message_id.as_str())
    );
    let Some(inbound_message::Content::Text(text)) = &message.content else {
        panic!("a text: {message:?}");
    };
    assert_eq!(text.body, "Thanks!");
    subscriber.ack(&[reply]).await;
    subscriber.close().await;
    // Another group, subscribing later, gets all four from the start.
    let mut audit = subscribe(&stack, "audit", 600, 0).await;
    let all: Vec<String> = audit.take(4).await.iter().map(id).collect();
    assert_eq!(
        all,
        [
            format!("status/{message_id}/sent"),
            format!("status/{message_id}/delivered"),
            format!("status/{message_id}/read"),
            format!("message/{reply_id}"),
        ]
    );
}

#[tokio::test]
async fn an_unacknowledged_status_comes_again_on_the_next_stream() {
    let stack = stack(EventStoreConfig::default()).await;
    let mut subscriber = subscribe(&stack, "forgetful", 600, 0).await;
    let message_id = send_text(&stack, "hello").await;
    let statuses = subscriber.take(3).await;
    // Only `sent` is acknowledged; the stream drops (a crash).
    subscriber.ack(&statuses[..1]).await;
    subscriber.close().await;
    let mut again = subscribe(&stack, "forgetful", 600, 0).await;
    let redelivered = again.take(2).await;
    assert_eq!(
        redelivered.iter().map(status_of).collect::<Vec<_>>(),
        [
            (message_id.clone(), DeliveryStatus::Delivered),
            (message_id.clone(), DeliveryStatus::Read),
        ]
    );
    assert!(redelivered.iter().all(|r| r.delivery_attempt == 2));
}

#[tokio::test]
async fn with_redis_a_webhook_received_by_one_instance_reaches_a_subscriber_of_the_other() {
    let redis = RedisServer::start();
    let a = stack(redis_store(&redis)).await;
    let b = stack(redis_store(&redis)).await;
    let mut on_b = subscribe(&b, "cross", 600, 0).await;
    // Sent through A: A's sandbox posts the statuses to A's receiver; B's subscriber gets them.
    let message_id = send_text(&a, "hello from A").await;
    let statuses = on_b.take(3).await;
    assert_eq!(
        statuses.iter().map(status_of).collect::<Vec<_>>(),
        [
            (message_id.clone(), DeliveryStatus::Sent),
            (message_id.clone(), DeliveryStatus::Delivered),
            (message_id.clone(), DeliveryStatus::Read),
        ]
    );
    on_b.ack(&statuses).await;
    // An injected reply on A's sandbox, too.
    let reply_id = inject_reply(&a, "15550001234", "Got it", &message_id).await;
    let reply = on_b.next().await;
    assert_eq!(id(&reply), format!("message/{reply_id}"));
    on_b.ack(&[reply]).await;
    on_b.close().await;

    // One group, one subscriber on each instance; webhooks posted over HTTP to both receivers,
    // each delivery also redelivered to the other instance: each event reaches exactly one
    // subscriber, once.
    let mut subscribers = [
        subscribe(&a, "shared", 600, 5).await,
        subscribe(&b, "shared", 600, 5).await,
    ];
    let http = http();
    const WEBHOOKS: usize = 40;
    let mut expected: HashSet<String> = [
        format!("status/{message_id}/sent"),
        format!("status/{message_id}/delivered"),
        format!("status/{message_id}/read"),
        format!("message/{reply_id}"),
    ]
    .into();
    for i in 0..WEBHOOKS {
        let wamid = format!("wamid.shared.{i}");
        let body = statuses_webhook(&[(wamid.clone(), "delivered")]);
        let (first, second) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        assert_eq!(post_signed(&http, first, &body).await, 200);
        assert_eq!(post_signed(&http, second, &body).await, 200);
        expected.insert(format!("status/{wamid}/delivered"));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut per_instance = [0usize; 2];
    let waited = tokio::time::timeout(WITHIN, async {
        while seen.values().sum::<usize>() < expected.len() {
            let (first, second) = subscribers.split_at_mut(1);
            let (which, received) = tokio::select! {
                r = first[0].next() => (0, r),
                r = second[0].next() => (1, r),
            };
            per_instance[which] += 1;
            *seen.entry(id(&received)).or_default() += 1;
            subscribers[which].ack(&[received]).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "{} of {} events",
        seen.len(),
        expected.len()
    );
    assert_eq!(seen.keys().cloned().collect::<HashSet<_>>(), expected);
    assert!(seen.values().all(|&count| count == 1), "{seen:?}");
    assert!(per_instance.iter().all(|&n| n > 0), "{per_instance:?}");
    // Redelivered webhooks were stored once: the two receivers together stored each event once.
    let stored = stored_total(&a).await + stored_total(&b).await;
    assert_eq!(stored as usize, expected.len());
}

#[tokio::test]
async fn with_redis_a_full_store_answers_503_and_takes_the_redelivery_once_there_is_room() {
    let redis = RedisServer::start();
    let mut config = redis_store(&redis);
    config.max_events = 2;
    let stack = stack(config).await;
    let mut subscriber = subscribe(&stack, "slow", 600, 0).await;
    let http = http();
    let first = statuses_webhook(&[
        ("wamid.full.1".to_owned(), "sent"),
        ("wamid.full.2".to_owned(), "sent"),
    ]);
    assert_eq!(post_signed(&http, &stack, &first).await, 200);
    // Full of events the group has not acknowledged: refused, not trimmed away.
    let second = statuses_webhook(&[("wamid.full.3".to_owned(), "sent")]);
    assert_eq!(post_signed(&http, &stack, &second).await, 503);
    let received = subscriber.take(2).await;
    assert_eq!(
        received.iter().map(id).collect::<Vec<_>>(),
        ["status/wamid.full.1/sent", "status/wamid.full.2/sent"]
    );
    subscriber.ack(&received).await;
    // The API delivers it again until it is taken (the acknowledgements travel on the stream).
    let taken = tokio::time::timeout(WITHIN, async {
        while post_signed(&http, &stack, &second).await != 200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(taken.is_ok(), "never taken after the acknowledgements");
    let next = subscriber.next().await;
    assert_eq!(id(&next), "status/wamid.full.3/sent");
    assert_eq!(next.delivery_attempt, 1);
}

/// `whatsapp_grpc_webhook_events_stored_total` of `stack`'s metrics.
async fn stored_total(stack: &Stack) -> f64 {
    let text = http()
        .get(format!(
            "http://{}/metrics",
            stack.metrics_address.expect("metrics")
        ))
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| {
            line.strip_prefix("whatsapp_grpc_webhook_events_stored_total ")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

/// Events of the soak.
const SOAK_EVENTS: usize = 3000;

fn soak_id(i: usize) -> String {
    format!("wamid.soak.{i}")
}

/// Thousands of events arriving in about a thousand signed webhooks over HTTP (deliveries of 1 to
/// 4 statuses, a few of up to 50), with the API's redeliveries (the same delivery posted again, to
/// any instance, and events of earlier deliveries carried again), while two groups (three
/// competing subscribers and one) receive them, subscribers crashing and restarting; with Redis,
/// two instances. Then: every event reached each group and was acknowledged (none lost), the
/// receivers stored each event once, and an event was delivered to its group more than once only
/// after a delivery on a stream that crashed. `WHATSAPP_GRPC_SOAK_SEED` replays a run.
async fn webhook_soak(kind: common::Kind) {
    let seed = common::soak::seed("webhook soak");
    let redis = matches!(kind, common::Kind::Redis).then(RedisServer::start);
    let mut stacks = Vec::new();
    match &redis {
        None => stacks.push(stack(EventStoreConfig::default()).await),
        Some(redis) => {
            for _ in 0..2 {
                stacks.push(stack(redis_store(redis)).await);
            }
        }
    }
    let replicas = stacks.len();
    let soak = Soak::new(SOAK_EVENTS);
    let publisher = async {
        let http = http();
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut posted: Vec<Vec<u8>> = Vec::new();
        let (mut published, mut posts, mut redelivered) = (0, 0, 0);
        while published < SOAK_EVENTS {
            let size = match rng.u8(0..20) {
                0 => rng.usize(5..=50),
                _ => rng.usize(1..=4),
            }
            .min(SOAK_EVENTS - published);
            let mut statuses: Vec<(String, &str)> = (published..published + size)
                .map(|i| (soak_id(i), "sent"))
                .collect();
            // Events of earlier deliveries carried again.
            for _ in 0..rng.usize(0..3) {
                statuses.push((soak_id(rng.usize(0..published + size)), "sent"));
            }
            let body = statuses_webhook(&statuses);
            let replica = rng.usize(0..replicas);
            assert_eq!(post_signed(&http, &stacks[replica], &body).await, 200);
            posts += 1;
            posted.push(body);
            published += size;
            // A delivery posted again, to any instance.
            if rng.u8(0..3) == 0 {
                let again = &posted[rng.usize(0..posted.len())];
                let replica = rng.usize(0..replicas);
                assert_eq!(post_signed(&http, &stacks[replica], again).await, 200);
                redelivered += 1;
            }
            if rng.u8(0..10) == 0 {
                tokio::time::sleep(Duration::from_millis(rng.u64(1..5))).await;
            }
        }
        (posts, redelivered)
    };
    let subscribers = soak.subscribers(&stacks, seed);
    let ((posts, redelivered), ()) = tokio::time::timeout(Duration::from_secs(180), async {
        tokio::join!(publisher, subscribers)
    })
    .await
    .expect("the soak ends within its bound");

    let mut stored = 0.0;
    for stack in &stacks {
        stored += stored_total(stack).await;
    }
    assert_eq!(
        stored as usize, SOAK_EVENTS,
        "each event stored once, whatever its redeliveries"
    );
    let all: HashSet<String> = (0..SOAK_EVENTS)
        .map(|i| format!("status/{}/sent", soak_id(i)))
        .collect();
    let outcome = soak.check(&all);
    eprintln!(
        "webhook soak: {SOAK_EVENTS} events in {posts} webhooks and {redelivered} redelivered ones to {replicas} instance(s), 2 groups, {} streams ({} crashed), {} redeliveries after crashes",
        outcome.streams, outcome.crashed, outcome.redelivered
    );
}
with_memory_and_redis!(webhook_soak);
