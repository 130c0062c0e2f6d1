//! Webhooks in: the fixtures of the API's webhook reference parse into the typed events expected;
//! the receiver, over real HTTP on loopback, verifies, authenticates, stores once and answers as
//! the API needs; the sandbox posts the status webhooks of what it accepts and injects customer
//! messages; and the binary does it all end to end.

mod common;

use std::sync::Arc;
use std::time::Duration;

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use prost_types::Timestamp;
use serde_json::{Value, json};
use whatsapp_grpc::Flavor;
use whatsapp_grpc::events::config::EventStoreConfig;
use whatsapp_grpc::events::memory::MemoryStore;
use whatsapp_grpc::events::{WebhookConfig, parse, signature};
use whatsapp_grpc::proto::{
    self, DeliveryStatus, Event, event, inbound_message, interactive_answer,
};
use whatsapp_grpc::upstream::Secret;

use common::process::{BINARY, Service};
use common::stack::{Options, PHONE_NUMBER_ID, Stack};

const APP_SECRET: &str = "test-app-secret";
const VERIFY_TOKEN: &str = "test-verify-token";
const WEBHOOK_SECRET: &str = "test-webhook-secret-0123";
/// The business number of the fixtures (the reference's example).
const FIXTURE_PHONE_NUMBER_ID: &str = "106540352242922";

// ---------------------------------------------------------------------------------------------
// The fixtures.

fn pool() -> DescriptorPool {
    DescriptorPool::decode(proto::FILE_DESCRIPTOR_SET).expect("the descriptor set")
}

/// An event as Protobuf JSON with the proto's field names.
fn event_json(pool: &DescriptorPool, event: &Event) -> Value {
    let descriptor = pool
        .get_message_by_name("whatsapp.v1.Event")
        .expect("Event");
    let mut message = DynamicMessage::new(descriptor);
    message.transcode_from(event).expect("transcodes");
    message
        .serialize_with_options(
            serde_json::value::Serializer,
            &SerializeOptions::new().use_proto_field_name(true),
        )
        .expect("serializes")
}

fn struct_json(pool: &DescriptorPool, object: &prost_types::Struct) -> Value {
    let descriptor = pool
        .get_message_by_name("google.protobuf.Struct")
        .expect("Struct");
    let mut message = DynamicMessage::new(descriptor);
    message.transcode_from(object).expect("transcodes");
    serde_json::to_value(&message).expect("serializes")
}

/// `value` with every number a double, as a `google.protobuf.Struct` holds it.
fn as_doubles(value: Value) -> Value {
    match value {
        Value::Number(number) => json!(number.as_f64().expect("a number")),
        Value::Array(items) => Value::Array(items.into_iter().map(as_doubles).collect()),
        Value::Object(object) => Value::Object(
            object
                .into_iter()
                .map(|(key, value)| (key, as_doubles(value)))
                .collect(),
        ),
        other => other,
    }
}

fn now() -> Timestamp {
    Timestamp {
        seconds: 1_800_000_000,
        nanos: 0,
    }
}

/// The objects of a payload events are built from, in the parser's order (messages, statuses,
/// errors of each value).
fn payload_objects(flavor: &str, payload: &Value) -> Vec<Value> {
    let values: Vec<&Value> = match flavor {
        "cloud" => payload["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|entry| entry["changes"].as_array().into_iter().flatten())
            .map(|change| &change["value"])
            .collect(),
        _ => vec![payload],
    };
    values
        .into_iter()
        .flat_map(|value| {
            ["messages", "statuses", "errors"]
                .into_iter()
                .flat_map(move |key| value[key].as_array().cloned().unwrap_or_default())
        })
        .collect()
}

#[test]
fn every_fixture_parses_into_the_events_expected() {
    let pool = pool();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures_webhooks");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("the fixtures")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    for path in names {
        let name = path.display().to_string();
        let fixture: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("reads")).expect("JSON");
        assert!(
            fixture["source"]
                .as_str()
                .is_some_and(|url| url.starts_with("https://developers.facebook.com/")),
            "{name}: a source in Meta's reference"
        );
        let body = serde_json::to_vec(&fixture["payload"]).expect("JSON");
        let flavor = fixture["flavor"].as_str().expect("a flavor");
        let parsed = match flavor {
            "cloud" => parse::cloud(
                &body,
                |id| (id == FIXTURE_PHONE_NUMBER_ID).then(|| "default".to_owned()),
                now(),
            ),
            "on_premises" => parse::on_premises(&body, "default", now()),
            other => panic!("{name}: flavor {other}"),
        }
        .expect("parses");
        assert_eq!(parsed.unknown_sender, 0, "{name}");
        let objects = payload_objects(flavor, &fixture["payload"]);
        let expected = fixture["events"].as_array().expect("events");
        assert_eq!(parsed.events.len(), expected.len(), "{name}");
        for ((event, expected), object) in parsed.events.iter().zip(expected).zip(&objects) {
            // The raw object, whole.
            let raw = event.raw.as_ref().expect("raw");
            assert_eq!(
                struct_json(&pool, raw),
                as_doubles(object.clone()),
                "{name}: raw"
            );
            assert_eq!(event.receive_time, Some(now()), "{name}");
            let mut typed = event.clone();
            typed.raw = None;
            typed.receive_time = None;
            let actual = event_json(&pool, &typed);
            let mut expected = expected.clone();
            if expected["event_id"] == "error/DIGEST" {
                let id = actual["event_id"].as_str().expect("an id").to_owned();
                let digest = id.strip_prefix("error/").expect("an error id");
                assert!(
                    digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{name}: {id}"
                );
                expected["event_id"] = json!(id);
            }
            if actual != expected {
                panic!(
                    "{name}:\nactual   {}\nexpected {}",
                    serde_json::to_string_pretty(&actual).unwrap(),
                    serde_json::to_string_pretty(&expected).unwrap()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The receiver, in-process.

fn webhook_config() -> WebhookConfig {
    WebhookConfig {
        verify_token: Some(Secret::new(VERIFY_TOKEN)),
        app_secret: Some(Secret::new(APP_SECRET)),
        on_premises_secret: Some(Secret::new(WEBHOOK_SECRET)),
    }
}

/// A stack receiving webhooks into a store of `capacity` events, the sandbox posting its own to
/// it; metrics on.
async fn stack(flavor: Flavor, capacity: usize) -> (Stack, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new(capacity));
    let stack = Stack::start_with(Options {
        webhook_listener: true,
        webhooks: webhook_config(),
        events: EventStoreConfig::given(store.clone()),
        metrics: true,
        ..Options::new(flavor)
    })
    .await;
    (stack, store)
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn cloud_url(stack: &Stack) -> String {
    format!(
        "http://{}/webhooks/cloud",
        stack.webhook_address.expect("a webhook listener")
    )
}

/// A fixture's payload, for the stack's business number.
fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures_webhooks")
        .join(format!("{name}.json"));
    let fixture: Value =
        serde_json::from_slice(&std::fs::read(path).expect("reads")).expect("JSON");
    serde_json::to_string(&fixture["payload"])
        .expect("JSON")
        .replace(FIXTURE_PHONE_NUMBER_ID, PHONE_NUMBER_ID)
        .into_bytes()
}

/// POSTs `body` to the Cloud callback with `signature` (none if `None`); the status.
async fn post(stack: &Stack, body: &[u8], signature: Option<String>) -> u16 {
    let mut request = http()
        .post(cloud_url(stack))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    request.send().await.expect("answers").status().as_u16()
}

async fn post_signed(stack: &Stack, body: &[u8]) -> u16 {
    post(
        stack,
        body,
        Some(signature::sign(APP_SECRET.as_bytes(), body)),
    )
    .await
}

/// The Prometheus text of the stack's metrics.
async fn metrics(stack: &Stack) -> String {
    http()
        .get(format!(
            "http://{}/metrics",
            stack.metrics_address.expect("metrics")
        ))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text")
}

/// The value of the sample `line` starts with, or 0 when absent.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Waits (at most 20 s) until `store` holds `count` events; its events.
async fn wait_for_events(store: &MemoryStore, count: usize) -> Vec<Event> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while store.len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} events of {count}: {:?}",
            store.len(),
            store.events()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store.events()
}

#[tokio::test]
async fn the_verification_handshake_echoes_the_challenge_for_the_right_token_only() {
    let (stack, _store) = stack(Flavor::Cloud, 10).await;
    let verify = |mode: &str, token: &str| {
        let url = format!(
            "{}?hub.mode={mode}&hub.verify_token={token}&hub.challenge=1158201444",
            cloud_url(&stack)
        );
        async move {
            let answer = http().get(url).send().await.expect("answers");
            (answer.status().as_u16(), answer.text().await.expect("text"))
        }
    };
    assert_eq!(
        verify("subscribe", VERIFY_TOKEN).await,
        (200, "1158201444".to_owned())
    );
    assert_eq!(verify("subscribe", "wrong-token").await.0, 403);
    assert_eq!(verify("unsubscribe", VERIFY_TOKEN).await.0, 403);
    let missing = http()
        .get(format!("{}?hub.mode=subscribe", cloud_url(&stack)))
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status().as_u16(), 403);
    assert!(
        sample(
            &metrics(&stack).await,
            "whatsapp_grpc_webhooks_refused_total{reason=\"bad_verification\"}"
        ) >= 3.0
    );
}

#[tokio::test]
async fn a_signed_notification_is_stored_as_typed_events_of_its_sender() {
    let (stack, store) = stack(Flavor::Cloud, 10).await;
    assert_eq!(
        post_signed(&stack, &fixture("interactive_button_reply")).await,
        200
    );
    assert_eq!(post_signed(&stack, &fixture("status_failed")).await, 200);
    let events = store.events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|event| event.sender == "default"));
    let Some(event::Kind::Message(message)) = &events[0].kind else {
        panic!("a message: {:?}", events[0]);
    };
    let Some(inbound_message::Content::Interactive(interactive)) = &message.content else {
        panic!("interactive: {message:?}");
    };
    let Some(interactive_answer::Answer::ButtonReply(reply)) = &interactive.answer else {
        panic!("a button reply: {interactive:?}");
    };
    assert_eq!(reply.id, "cancel-button");
    let Some(event::Kind::Status(status)) = &events[1].kind else {
        panic!("a status: {:?}", events[1]);
    };
    assert_eq!(status.status, DeliveryStatus::Failed as i32);
    assert_eq!(status.errors[0].code, 131_050);
    let text = metrics(&stack).await;
    assert_eq!(
        sample(&text, "whatsapp_grpc_webhook_events_stored_total"),
        2.0
    );
    assert_eq!(
        sample(
            &text,
            "whatsapp_grpc_webhooks_received_total{flavor=\"cloud\"}"
        ),
        2.0
    );
}

#[tokio::test]
async fn unsigned_or_mis_signed_notifications_are_refused_and_store_nothing() {
    let (stack, store) = stack(Flavor::Cloud, 10).await;
    let body = fixture("text");
    assert_eq!(post(&stack, &body, None).await, 401);
    let other_key = signature::sign(b"another-secret", &body);
    assert_eq!(post(&stack, &body, Some(other_key)).await, 403);
    // Signed, then changed on the way.
    let signed = signature::sign(APP_SECRET.as_bytes(), &body);
    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    assert_eq!(post(&stack, &tampered, Some(signed)).await, 403);
    assert_eq!(post(&stack, &body, Some("sha256=00".into())).await, 403);
    assert!(store.is_empty(), "{:?}", store.events());
    let text = metrics(&stack).await;
    assert_eq!(
        sample(
            &text,
            "whatsapp_grpc_webhooks_refused_total{reason=\"unsigned\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "whatsapp_grpc_webhooks_refused_total{reason=\"bad_signature\"}"
        ),
        3.0
    );
    assert_eq!(
        sample(&text, "whatsapp_grpc_webhook_events_stored_total"),
        0.0
    );
}

#[tokio::test]
async fn a_redelivery_is_acknowledged_and_stored_once() {
    let (stack, store) = stack(Flavor::Cloud, 10).await;
    let body = fixture("status_delivered_read");
    for _ in 0..3 {
        assert_eq!(post_signed(&stack, &body).await, 200);
    }
    assert_eq!(store.len(), 2, "{:?}", store.events());
    let text = metrics(&stack).await;
    assert_eq!(
        sample(&text, "whatsapp_grpc_webhook_events_stored_total"),
        2.0
    );
    assert_eq!(
        sample(&text, "whatsapp_grpc_webhook_events_deduplicated_total"),
        4.0
    );
}

#[tokio::test]
async fn a_full_store_answers_503_so_the_api_delivers_again() {
    let (stack, store) = stack(Flavor::Cloud, 1).await;
    let body = fixture("status_delivered_read");
    assert_eq!(post_signed(&stack, &body).await, 503);
    assert!(store.is_empty());
    assert_eq!(
        sample(
            &metrics(&stack).await,
            "whatsapp_grpc_webhooks_refused_total{reason=\"store_unavailable\"}"
        ),
        1.0
    );
    // What fits is still taken.
    assert_eq!(post_signed(&stack, &fixture("text")).await, 200);
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn hostile_bodies_are_refused_with_what_is_wrong() {
    let (stack, store) = stack(Flavor::Cloud, 10).await;
    assert_eq!(post_signed(&stack, b"not json").await, 400);
    assert_eq!(post_signed(&stack, b"[1, 2]").await, 400);
    let large = vec![b' '; whatsapp_grpc::events::receiver::MAX_BODY_BYTES + 1];
    assert_eq!(post_signed(&stack, &large).await, 413);
    let statuses: Vec<Value> = (0..=parse::MAX_EVENTS)
        .map(|i| json!({"id": format!("wamid.{i}"), "status": "sent"}))
        .collect();
    let many = serde_json::to_vec(
        &json!({"entry": [{"changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": PHONE_NUMBER_ID}, "statuses": statuses}}]}]}),
    )
    .expect("JSON");
    assert_eq!(post_signed(&stack, &many).await, 413);
    // Another business number's events: acknowledged (or the API would retry them for a day),
    // not stored.
    let other = String::from_utf8(fixture("text"))
        .expect("UTF-8")
        .replace(PHONE_NUMBER_ID, "999999999");
    assert_eq!(post_signed(&stack, other.as_bytes()).await, 200);
    assert!(store.is_empty(), "{:?}", store.events());
    let wrong_method = http().put(cloud_url(&stack)).send().await.expect("answers");
    assert_eq!(wrong_method.status().as_u16(), 405);
    let elsewhere = http()
        .post(format!(
            "http://{}/elsewhere",
            stack.webhook_address.expect("webhooks")
        ))
        .send()
        .await
        .expect("answers");
    assert_eq!(elsewhere.status().as_u16(), 404);
}

#[tokio::test]
async fn on_premises_notifications_need_the_secret_in_their_path() {
    let (stack, store) = stack(Flavor::OnPremises, 10).await;
    let address = stack.webhook_address.expect("webhooks");
    let body = fixture("on_premises_text");
    let post = |path: String| {
        let body = body.clone();
        async move {
            http()
                .post(format!("http://{address}{path}"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("answers")
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        post("/webhooks/on-premises/default/wrong-secret".into()).await,
        403
    );
    assert_eq!(post("/webhooks/on-premises/default".into()).await, 403);
    assert_eq!(
        post(format!("/webhooks/on-premises/unknown/{WEBHOOK_SECRET}")).await,
        404
    );
    assert!(store.is_empty());
    assert_eq!(
        post(format!("/webhooks/on-premises/default/{WEBHOOK_SECRET}")).await,
        200
    );
    let events = store.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].sender, "default");
    assert!(matches!(
        &events[0].kind,
        Some(event::Kind::Message(message)) if message.profile_name == "Kerry Fisher"
    ));
    // A Cloud notification is not accepted for an On-Premises-only service's number.
    assert_eq!(post_signed(&stack, &fixture("text")).await, 200);
    assert_eq!(store.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// The sandbox's webhooks.

fn statuses_of(events: &[Event], message_id: &str) -> Vec<(i32, Vec<i64>)> {
    events
        .iter()
        .filter_map(|event| match &event.kind {
            Some(event::Kind::Status(status)) if status.message_id == message_id => Some((
                status.status,
                status.errors.iter().map(|error| error.code).collect(),
            )),
            _ => None,
        })
        .collect()
}

/// Sends a text through `stack`'s sandbox and checks that its webhooks bring it back sent,
/// delivered and read; answers the events stored.
async fn hello_comes_back_sent_delivered_and_read(
    stack: &mut Stack,
    store: &MemoryStore,
) -> Vec<Event> {
    let sent = stack
        .client
        .send_message(common::request(common::text("hello")))
        .await
        .expect("sent")
        .into_inner();
    let events = wait_for_events(store, 3).await;
    assert_eq!(
        statuses_of(&events, &sent.message_id),
        [
            (DeliveryStatus::Sent as i32, vec![]),
            (DeliveryStatus::Delivered as i32, vec![]),
            (DeliveryStatus::Read as i32, vec![]),
        ]
    );
    events
}

#[tokio::test]
async fn a_message_sent_through_the_sandbox_comes_back_sent_delivered_and_read() {
    let (mut stack, store) = stack(Flavor::Cloud, 100).await;
    let events = hello_comes_back_sent_delivered_and_read(&mut stack, &store).await;
    let Some(event::Kind::Status(first)) = &events[0].kind else {
        panic!("a status");
    };
    assert_eq!(first.recipient_id, common::TO);
    assert!(first.pricing.is_some() && first.conversation.is_some());

    // The recipient that fails after acceptance: one `failed`, with the API's error.
    let mut request = common::request(common::text("hello"));
    request.to = whatsapp_grpc::sandbox::recipients::FAILS_AFTER_ACCEPTANCE.into();
    let failing = stack
        .client
        .send_message(request)
        .await
        .expect("accepted")
        .into_inner();
    let events = wait_for_events(&store, 4).await;
    assert_eq!(
        statuses_of(&events, &failing.message_id),
        [(DeliveryStatus::Failed as i32, vec![131_026])]
    );
}

#[tokio::test]
async fn an_injected_reply_arrives_typed() {
    let (stack, store) = stack(Flavor::Cloud, 100).await;
    let injected = http()
        .post(format!("{}/sandbox/inject-message", stack.sandbox_url))
        .header("content-type", "application/json")
        .body(
            json!({
                "from": "15550001234",
                "context": "wamid.sent-earlier",
                "button_reply": {"id": "yes", "title": "Yes"},
            })
            .to_string(),
        )
        .send()
        .await
        .expect("answers");
    assert_eq!(injected.status().as_u16(), 202);
    let answer: Value = serde_json::from_str(&injected.text().await.expect("text")).expect("JSON");
    let message_id = answer["message_id"].as_str().expect("an id").to_owned();
    let events = wait_for_events(&store, 1).await;
    let Some(event::Kind::Message(message)) = &events[0].kind else {
        panic!("a message: {events:?}");
    };
    assert_eq!(events[0].event_id, format!("message/{message_id}"));
    assert_eq!(message.from, "15550001234");
    assert_eq!(
        message
            .context
            .as_ref()
            .map(|context| context.message_id.as_str()),
        Some("wamid.sent-earlier")
    );
    let Some(inbound_message::Content::Interactive(interactive)) = &message.content else {
        panic!("interactive: {message:?}");
    };
    assert_eq!(
        interactive.answer,
        Some(interactive_answer::Answer::ButtonReply(
            proto::ButtonReplyAnswer {
                id: "yes".into(),
                title: "Yes".into()
            }
        ))
    );
    // Bad requests are refused, and queue nothing.
    for bad in [
        json!({"from": "not digits", "text": "hi"}),
        json!({"from": "15550001234", "text": "hi", "button": {"payload": "p", "text": "t"}}),
        json!({"from": "15550001234"}),
        json!({"from": "15550001234", "text": "x".repeat(4097)}),
        json!({"from": "15550001234", "text": "hi", "unknown": 1}),
    ] {
        let answer = http()
            .post(format!("{}/sandbox/inject-message", stack.sandbox_url))
            .body(bad.to_string())
            .send()
            .await
            .expect("answers");
        assert_eq!(answer.status().as_u16(), 400, "{bad}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.len(), 1, "{:?}", store.events());
}

#[tokio::test]
async fn a_sandbox_without_a_webhook_url_refuses_to_inject() {
    let stack = Stack::start(Flavor::Cloud).await;
    let answer = http()
        .post(format!("{}/sandbox/inject-message", stack.sandbox_url))
        .body(json!({"from": "15550001234", "text": "hi"}).to_string())
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.status().as_u16(), 409);
}

// ---------------------------------------------------------------------------------------------
// The binary.

/// `key=value` of the service's log.
fn logged(log: &str, key: &str) -> String {
    log.split_whitespace()
        .find_map(|pair| pair.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} in the log:\n{log}"))
        .to_owned()
}

#[tokio::test]
async fn the_binary_refuses_a_webhook_listener_without_its_secrets() {
    let output = std::process::Command::new(BINARY)
        .args(["serve", "--sandbox", "--webhook-listen", "127.0.0.1:0"])
        .env_remove("WHATSAPP_GRPC_APP_SECRET")
        .env("WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN", VERIFY_TOKEN)
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("WHATSAPP_GRPC_APP_SECRET"), "{stderr}");
}

#[tokio::test]
async fn the_binary_receives_the_sandbox_statuses_and_an_injected_message() {
    let mut command = std::process::Command::new(BINARY);
    command
        .args([
            "serve",
            "--sandbox",
            "--webhook-listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .env("WHATSAPP_GRPC_APP_SECRET", APP_SECRET)
        .env("WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN", VERIFY_TOKEN);
    let service = Service::launch(command).await;
    let log = service.log();
    let metrics_url = format!("http://{}/metrics", logged(&log, "metrics_listen"));
    let sandbox_url = logged(&log, "sandbox_url");
    assert!(!log.contains(APP_SECRET), "{log}");
    let stored = || {
        let url = metrics_url.clone();
        async move {
            let text = http()
                .get(url)
                .send()
                .await
                .expect("answers")
                .text()
                .await
                .expect("text");
            sample(&text, "whatsapp_grpc_webhook_events_stored_total")
        }
    };
    let wait_for = |count: f64| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let now = stored().await;
            if now >= count {
                return now;
            }
            assert!(tokio::time::Instant::now() < deadline, "{now} of {count}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut client =
        proto::messaging_service_client::MessagingServiceClient::new(service.channel().await);
    client
        .send_message(common::request(common::text("hello")))
        .await
        .expect("sent");
    assert_eq!(wait_for(3.0).await, 3.0);

    let injected = std::process::Command::new(BINARY)
        .args([
            "sandbox",
            "inject-message",
            "--sandbox-url",
            &sandbox_url,
            "--from",
            "15550001234",
            "--button-payload",
            "STOP",
            "--button-text",
            "Stop promotions",
        ])
        .output()
        .expect("runs");
    assert!(
        injected.status.success(),
        "{}",
        String::from_utf8_lossy(&injected.stderr)
    );
    let id = String::from_utf8_lossy(&injected.stdout).trim().to_owned();
    assert!(id.starts_with("wamid."), "{id}");
    assert_eq!(wait_for(4.0).await, 4.0);
    let (_, log) = service.terminate().await;
    assert!(
        !log.contains("Stop promotions") && !log.contains("15550001234"),
        "{log}"
    );
}

#[tokio::test]
async fn an_on_premises_send_through_the_sandbox_comes_back_as_its_statuses() {
    let (mut stack, store) = stack(Flavor::OnPremises, 100).await;
    let events = hello_comes_back_sent_delivered_and_read(&mut stack, &store).await;
    assert!(events.iter().all(|event| event.sender == "default"));
}

// ---------------------------------------------------------------------------------------------
// Hostile payloads.

/// Any JSON value, a few levels deep, with the keys a webhook has (so the parser goes deep).
fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let key = prop::sample::select(vec![
        "entry",
        "changes",
        "value",
        "field",
        "metadata",
        "phone_number_id",
        "messages",
        "statuses",
        "errors",
        "contacts",
        "type",
        "text",
        "interactive",
        "button_reply",
        "context",
        "id",
        "timestamp",
        "status",
        "pricing",
        "conversation",
        "origin",
        "order",
        "product_items",
        "referral",
        "system",
        "unsupported",
        "error_data",
        "x",
    ])
    .prop_map(str::to_owned);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z0-9.]{0,12}".prop_map(Value::from),
        Just(json!("messages")),
        Just(json!(FIXTURE_PHONE_NUMBER_ID)),
    ];
    leaf.prop_recursive(6, 256, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    #[test]
    fn no_payload_makes_the_parser_panic(value in any_json(), bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
        let body = serde_json::to_vec(&value).expect("JSON");
        let known = |id: &str| (id == FIXTURE_PHONE_NUMBER_ID).then(|| "default".to_owned());
        if let Ok(parsed) = parse::cloud(&body, known, now()) {
            for event in &parsed.events {
                proptest::prop_assert!(!event.event_id.is_empty() && event.event_id.len() <= 512);
                proptest::prop_assert!(event.raw.is_some());
            }
        }
        let _ = parse::on_premises(&body, "default", now());
        let _ = parse::cloud(&bytes, known, now());
        let _ = parse::on_premises(&bytes, "default", now());
    }
}
