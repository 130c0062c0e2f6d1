//! Prometheus metrics on their own listener (`--metrics-listen`): after calls of different outcomes
//! a scrape over real HTTP shows each metric with the right labels and values, parsed from the
//! text format; nothing secret or personal appears in it; the listener is bounded to `GET /metrics`
//! and stops with the server.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::process::{BINARY, Service};
use common::stack::{Options, Stack};
use common::*;
use tonic::{Code, Request};
use tonic_health::pb::health_check_response::ServingStatus;
use whatsapp_grpc::Flavor;
use whatsapp_grpc::proto::messaging_service_client::MessagingServiceClient;
use whatsapp_grpc::proto::{self, ListSendersRequest, MarkMessageReadRequest};
use whatsapp_grpc::sandbox::SandboxConfig;

/// The sandbox's recipients with scripted answers.
const RATE_LIMITED: &str = "15550000429";
const NOT_READY: &str = "15550000503";
const SLOW: &str = "15550000408";

const SEND: &str = "whatsapp.v1.MessagingService/SendMessage";
const MARK_READ: &str = "whatsapp.v1.MessagingService/MarkMessageRead";
const LIST_SENDERS: &str = "whatsapp.v1.MessagingService/ListSenders";
const SENDER_HEALTH: &str = "whatsapp.v1.MessagingService/default";
const REQUEST_ID: &str = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

/// One sample of the text format: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape: the samples, and each family's `# TYPE`.
#[derive(Debug)]
struct Scrape {
    text: String,
    samples: Vec<Sample>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    /// The value of the sample `name` whose labels are exactly `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|sample| sample.name == name && sample.labels == wanted)
            .map(|sample| sample.value)
    }

    /// Like [`Scrape::value`], panicking with the scrape if the sample is absent.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in the scrape:\n{}", self.text))
    }
}

/// Parses the Prometheus text format (version 0.0.4): `# TYPE` lines and samples
/// `name{label="value",...} value`, label values with their `\\`, `\"` and `\n` escapes.
fn parse(text: &str) -> Scrape {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .expect("a TYPE line has a name and a type");
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(at) => line.split_at(at),
            None => panic!("a sample without a value: {line:?}"),
        };
        let mut labels = BTreeMap::new();
        let mut rest = rest;
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices();
            let mut key = String::new();
            let end = loop {
                let (at, c) = chars.next().expect("labels end with }");
                match c {
                    '}' => break at,
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                        let mut value = String::new();
                        loop {
                            match chars.next().expect("a closed label value").1 {
                                '"' => break,
                                '\\' => match chars.next().expect("an escape").1 {
                                    'n' => value.push('\n'),
                                    other => value.push(other),
                                },
                                other => value.push(other),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), value);
                    }
                    c => key.push(c),
                }
            };
            rest = &inner[end + 1..];
        }
        let value = rest.trim();
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            value => value
                .parse()
                .unwrap_or_else(|_| panic!("not a value: {line:?}")),
        };
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    Scrape {
        text: text.to_owned(),
        samples,
        types,
    }
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// `GET /metrics`, checked to be the Prometheus text format, parsed.
async fn scrape(address: SocketAddr) -> Scrape {
    let response = http()
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .expect("the metrics listener answers");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let scrape = parse(&response.text().await.expect("a body"));
    for sample in &scrape.samples {
        assert!(
            sample.name.starts_with("whatsapp_grpc_"),
            "{} has no whatsapp_grpc_ prefix",
            sample.name
        );
    }
    scrape
}

fn to(recipient: &str, body: &str) -> proto::SendMessageRequest {
    let mut message = request(text(body));
    message.to = recipient.into();
    message
}

fn with_request_id(body: &str, request_id: &str) -> proto::SendMessageRequest {
    let mut message = request(text(body));
    message.request_id = request_id.into();
    message
}

#[tokio::test]
async fn a_scrape_after_calls_of_every_outcome_shows_each_metric_with_its_labels() {
    let stack = Stack::start_with(Options {
        metrics: true,
        ..Options::new(Flavor::Cloud)
    })
    .await;
    let metrics = stack.metrics_address.expect("a metrics address");
    stack
        .wait_for_health(SENDER_HEALTH, ServingStatus::Serving)
        .await;

    // Rate-limited: 429 with Retry-After: 7; retried once within the 8 s deadline, then refused.
    let mut rate_limited = stack.client.clone();
    let rate_limited = tokio::spawn(async move {
        let mut call = Request::new(to(RATE_LIMITED, "hello metrics"));
        call.set_timeout(Duration::from_secs(8));
        rate_limited.send_message(call).await
    });

    let mut client = stack.client.clone();
    client
        .send_message(to(TO, "hello metrics"))
        .await
        .expect("OK");
    let invalid = client.send_message(to(TO, "")).await.unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    // Not ready: 503 without Retry-After; three attempts with backoff.
    let not_ready = client
        .send_message(to(NOT_READY, "hello metrics"))
        .await
        .unwrap_err();
    assert_eq!(not_ready.code(), Code::Unavailable);
    client
        .send_message(with_request_id("hello metrics", REQUEST_ID))
        .await
        .expect("OK");
    let replayed = client
        .send_message(with_request_id("hello metrics", REQUEST_ID))
        .await
        .expect("replayed");
    assert_eq!(
        replayed.metadata().get("replayed").map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let reused = client
        .send_message(with_request_id("another text", REQUEST_ID))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);
    client
        .mark_message_read(MarkMessageReadRequest {
            message_id: WAMID.into(),
            ..Default::default()
        })
        .await
        .expect("OK");
    client
        .list_senders(ListSendersRequest {})
        .await
        .expect("OK");
    let rate_limited = rate_limited.await.expect("joined").unwrap_err();
    assert_eq!(rate_limited.code(), Code::ResourceExhausted);

    let scrape = scrape(metrics).await;
    let calls = |method, message_type, grpc_code| {
        scrape.get(
            "whatsapp_grpc_calls_total",
            &[
                ("method", method),
                ("message_type", message_type),
                ("grpc_code", grpc_code),
            ],
        )
    };
    assert_eq!(scrape.types["whatsapp_grpc_calls_total"], "counter");
    assert_eq!(calls(SEND, "text", "OK"), 3.0);
    assert_eq!(calls(SEND, "text", "INVALID_ARGUMENT"), 1.0);
    assert_eq!(calls(SEND, "text", "UNAVAILABLE"), 1.0);
    assert_eq!(calls(SEND, "text", "RESOURCE_EXHAUSTED"), 1.0);
    assert_eq!(calls(SEND, "text", "ALREADY_EXISTS"), 1.0);
    assert_eq!(calls(MARK_READ, "read_receipt", "OK"), 1.0);
    assert_eq!(calls(LIST_SENDERS, "none", "OK"), 1.0);

    let send = [("method", SEND)];
    assert_eq!(
        scrape.types["whatsapp_grpc_call_duration_seconds"],
        "histogram"
    );
    assert_eq!(
        scrape.get("whatsapp_grpc_call_duration_seconds_count", &send),
        7.0
    );
    let mut bucket = send.to_vec();
    bucket.push(("le", "+Inf"));
    assert_eq!(
        scrape.get("whatsapp_grpc_call_duration_seconds_bucket", &bucket),
        7.0
    );
    // The rate-limited call alone waited 7 s for its retry.
    assert!(scrape.get("whatsapp_grpc_call_duration_seconds_sum", &send) >= 7.0);
    assert_eq!(scrape.get("whatsapp_grpc_calls_in_flight", &send), 0.0);
    for reason in ["overloaded", "draining", "deadline_exceeded"] {
        assert_eq!(
            scrape.get("whatsapp_grpc_calls_rejected_total", &[("reason", reason)]),
            0.0,
            "{reason}"
        );
    }

    let responses = |status, code| {
        scrape.get(
            "whatsapp_grpc_upstream_responses_total",
            &[
                ("sender", "default"),
                ("http_status", status),
                ("api_code", code),
            ],
        )
    };
    assert_eq!(
        responses("200", "none"),
        3.0,
        "two sends and a read receipt"
    );
    assert_eq!(responses("503", "131016"), 3.0);
    assert_eq!(responses("429", "130429"), 2.0);
    let sender = [("sender", "default")];
    assert_eq!(
        scrape.get(
            "whatsapp_grpc_upstream_request_duration_seconds_count",
            &sender
        ),
        8.0
    );
    let retries = |reason| {
        scrape.get(
            "whatsapp_grpc_upstream_retries_total",
            &[("sender", "default"), ("reason", reason)],
        )
    };
    assert_eq!(retries("not_ready"), 2.0);
    assert_eq!(retries("rate_limited"), 1.0);
    assert_eq!(
        scrape.get(
            "whatsapp_grpc_idempotent_replays_total",
            &[("sender", "default"), ("answer", "response")]
        ),
        1.0
    );
    assert_eq!(
        scrape.get(
            "whatsapp_grpc_duplicates_refused_total",
            &[("sender", "default"), ("reason", "reused")]
        ),
        1.0
    );
    assert_eq!(
        scrape.get("whatsapp_grpc_upstream_busy_total", &sender),
        0.0
    );
    // Fed by the send-rate limiter; present from the start.
    assert_eq!(scrape.get("whatsapp_grpc_rate_limited_total", &sender), 0.0);
    assert_eq!(
        scrape.get("whatsapp_grpc_rate_limit_wait_seconds_count", &sender),
        0.0
    );
    assert_eq!(scrape.types["whatsapp_grpc_upstream_up"], "gauge");
    assert_eq!(scrape.get("whatsapp_grpc_upstream_up", &sender), 1.0);
    assert_eq!(scrape.get("whatsapp_grpc_senders_configured", &[]), 1.0);
    // A static token: no login.
    assert!(
        !scrape
            .samples
            .iter()
            .any(|sample| sample.name == "whatsapp_grpc_upstream_logins_total")
    );

    // Nothing secret or personal: the token, the recipients, the texts, the request id.
    for secret in [
        SandboxConfig::default().access_token.as_str(),
        TO,
        RATE_LIMITED,
        NOT_READY,
        "hello metrics",
        "another text",
        REQUEST_ID,
        WAMID,
    ] {
        assert!(
            !scrape.text.contains(secret),
            "{secret:?} is in the scrape:\n{}",
            scrape.text
        );
    }
}

#[tokio::test]
async fn the_metrics_listener_serves_only_get_metrics() {
    let stack = Stack::start_with(Options {
        metrics: true,
        ..Options::new(Flavor::Cloud)
    })
    .await;
    let metrics = stack.metrics_address.expect("a metrics address");
    let http = http();
    for path in ["/", "/metrics/", "/other", "/metrics2"] {
        let response = http
            .get(format!("http://{metrics}{path}"))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 404, "{path}");
    }
    let response = http
        .post(format!("http://{metrics}/metrics"))
        .body("x")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
    // A query string is no other path.
    let response = http
        .get(format!("http://{metrics}/metrics?name=x"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn calls_in_flight_and_calls_refused_at_the_limit_are_counted_and_the_listener_stops_with_the_server()
 {
    let mut stack = Stack::start_with(Options {
        metrics: true,
        sandbox: SandboxConfig {
            slow_answer: Duration::from_secs(2),
            ..Default::default()
        },
        limits: whatsapp_grpc::server::ServerLimits {
            max_calls: 1,
            ..Default::default()
        },
        ..Options::new(Flavor::Cloud)
    })
    .await;
    let metrics = stack.metrics_address.expect("a metrics address");
    let mut held = stack.client.clone();
    let held = tokio::spawn(async move { held.send_message(to(SLOW, "slow")).await });
    let in_flight = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let scrape = scrape(metrics).await;
            if scrape.value("whatsapp_grpc_calls_in_flight", &[("method", SEND)]) == Some(1.0) {
                return scrape;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the held call is in flight");
    assert_eq!(
        in_flight.value(
            "whatsapp_grpc_call_duration_seconds_count",
            &[("method", SEND)]
        ),
        None,
        "no call has finished yet"
    );
    let refused = stack
        .client
        .clone()
        .send_message(to(TO, "refused"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    held.await.expect("joined").expect("the held call succeeds");

    let scrape = scrape(metrics).await;
    assert_eq!(
        scrape.get(
            "whatsapp_grpc_calls_rejected_total",
            &[("reason", "overloaded")]
        ),
        1.0
    );
    // Refused before the service read it: its type is unknown.
    assert_eq!(
        scrape.get(
            "whatsapp_grpc_calls_total",
            &[
                ("method", SEND),
                ("message_type", "unknown"),
                ("grpc_code", "RESOURCE_EXHAUSTED")
            ]
        ),
        1.0
    );
    assert_eq!(
        scrape.get(
            "whatsapp_grpc_calls_total",
            &[
                ("method", SEND),
                ("message_type", "text"),
                ("grpc_code", "OK")
            ]
        ),
        1.0
    );
    assert_eq!(
        scrape.get("whatsapp_grpc_calls_in_flight", &[("method", SEND)]),
        0.0
    );

    stack
        .shut_down_server()
        .await
        .expect("the server stops cleanly");
    let after = tokio::net::TcpStream::connect(metrics).await;
    assert!(
        after.is_err(),
        "the metrics listener still accepts after the server stopped"
    );
}

#[tokio::test]
async fn requests_without_an_answer_and_shed_calls_are_counted() {
    // Nothing listens at the upstream's address: every attempt is refused, retried, and the API
    // is never seen up.
    let stack = Stack::start_with(Options {
        metrics: true,
        upstream_url: Some(common::stack::closed_port_url().await),
        ..Options::new(Flavor::Cloud)
    })
    .await;
    let metrics = stack.metrics_address.expect("a metrics address");
    let status = stack
        .client
        .clone()
        .send_message(to(TO, "hello metrics"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    let unreachable = scrape(metrics).await;
    let sender = [("sender", "default")];
    assert_eq!(
        unreachable.get(
            "whatsapp_grpc_upstream_request_errors_total",
            &[("sender", "default"), ("error", "unreachable")]
        ),
        3.0
    );
    assert_eq!(
        unreachable.get(
            "whatsapp_grpc_upstream_retries_total",
            &[("sender", "default"), ("reason", "unreachable")]
        ),
        2.0
    );
    assert_eq!(
        unreachable.get(
            "whatsapp_grpc_upstream_request_duration_seconds_count",
            &sender
        ),
        3.0
    );
    assert!(
        !unreachable
            .samples
            .iter()
            .any(|sample| sample.name == "whatsapp_grpc_upstream_responses_total"),
        "no answer came"
    );
    assert_eq!(unreachable.get("whatsapp_grpc_upstream_up", &sender), 0.0);

    // One call in flight to the API and no queue: a second call is shed. One probe, at start,
    // so none takes the slot meanwhile.
    let mut stack = Stack::start_with(Options {
        metrics: true,
        sandbox: SandboxConfig {
            slow_answer: Duration::from_secs(2),
            ..Default::default()
        },
        max_in_flight: 1,
        max_queued: 0,
        health_interval: Duration::from_secs(3600),
        ..Options::new(Flavor::Cloud)
    })
    .await;
    let metrics = stack.metrics_address.expect("a metrics address");
    stack
        .wait_for_health(SENDER_HEALTH, ServingStatus::Serving)
        .await;
    let mut held = stack.client.clone();
    let held = tokio::spawn(async move { held.send_message(to(SLOW, "slow")).await });
    // The sandbox has it: the call holds the only slot until the slow answer.
    stack.wait_until_received(1).await;
    let shed = stack
        .client
        .clone()
        .send_message(to(TO, "hello metrics"))
        .await
        .unwrap_err();
    assert_eq!(shed.code(), Code::ResourceExhausted);
    held.await.expect("joined").expect("the held call succeeds");
    let scrape = scrape(metrics).await;
    assert_eq!(
        scrape.get("whatsapp_grpc_upstream_busy_total", &sender),
        1.0
    );
}

#[tokio::test]
async fn on_premises_logins_and_renewals_are_counted_by_result() {
    // One probe at start (it logs in); no later probe races the calls below.
    let stack = Stack::start_with(Options {
        metrics: true,
        login: true,
        health_interval: Duration::from_secs(3600),
        ..Options::new(Flavor::OnPremises)
    })
    .await;
    let metrics = stack.metrics_address.expect("a metrics address");
    stack
        .wait_for_health(SENDER_HEALTH, ServingStatus::Serving)
        .await;
    let mut client = stack.client.clone();
    client
        .send_message(to(TO, "hello metrics"))
        .await
        .expect("OK");
    // The API refuses the token: the service logs in again and sends once more.
    stack.revoke_tokens().await;
    client
        .send_message(to(TO, "hello metrics"))
        .await
        .expect("OK after a new login");

    let scrape = scrape(metrics).await;
    let logins = |result| {
        scrape.value(
            "whatsapp_grpc_upstream_logins_total",
            &[("sender", "default"), ("result", result)],
        )
    };
    assert_eq!(logins("ok"), Some(2.0));
    assert_eq!(logins("refused"), None);
    let responses = |status| {
        scrape.get(
            "whatsapp_grpc_upstream_responses_total",
            &[
                ("sender", "default"),
                ("http_status", status),
                ("api_code", "none"),
            ],
        )
    };
    // On-Premises answers a sent message 201 Created.
    assert_eq!(responses("201"), 2.0);
    assert_eq!(responses("401"), 1.0);
    let sandbox = SandboxConfig::default();
    for secret in [sandbox.password.as_str(), sandbox.username.as_str(), TO] {
        assert!(!scrape.text.contains(secret), "{secret:?} is in the scrape");
    }
}

#[tokio::test]
async fn a_refused_login_is_counted_as_refused() {
    let stack = Stack::start_with(Options {
        metrics: true,
        login: true,
        password: Some("not-the-password".into()),
        health_interval: Duration::from_secs(3600),
        ..Options::new(Flavor::OnPremises)
    })
    .await;
    let metrics = stack.metrics_address.expect("a metrics address");
    let status = stack
        .client
        .clone()
        .send_message(to(TO, "hello metrics"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    let scrape = scrape(metrics).await;
    let refused = scrape.get(
        "whatsapp_grpc_upstream_logins_total",
        &[("sender", "default"), ("result", "refused")],
    );
    // The call's login, and the start-up probe's if it came first.
    assert!((1.0..=2.0).contains(&refused), "{refused}");
    assert_eq!(
        scrape.value(
            "whatsapp_grpc_upstream_logins_total",
            &[("sender", "default"), ("result", "ok")]
        ),
        None
    );
    assert!(!scrape.text.contains("not-the-password"));
}

/// The address the binary logged for its metrics in its "whatsapp-grpc serving" line.
fn logged_metrics_address(serving: &str) -> SocketAddr {
    serving
        .split(' ')
        .find_map(|pair| pair.strip_prefix("metrics_listen="))
        .unwrap_or_else(|| panic!("no metrics address in {serving}"))
        .parse()
        .expect("a socket address")
}

/// The binary's "whatsapp-grpc serving" line, once its log reader has it (at most 10 s).
async fn serving_line(service: &Service) -> String {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(line) = service
                .log()
                .lines()
                .find(|line| line.contains("whatsapp-grpc serving"))
            {
                return line.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no serving line in the log:\n{}", service.log()))
}

#[tokio::test]
async fn the_binary_serves_metrics_on_the_port_it_logs() {
    let service = Service::start(&["--sandbox", "--metrics-listen", "127.0.0.1:0"]).await;
    let metrics = logged_metrics_address(&serving_line(&service).await);
    let mut client = MessagingServiceClient::new(service.channel().await);
    client
        .send_message(to(TO, "hello metrics"))
        .await
        .expect("OK");
    let scrape = scrape(metrics).await;
    assert_eq!(
        scrape.get(
            "whatsapp_grpc_calls_total",
            &[
                ("method", SEND),
                ("message_type", "text"),
                ("grpc_code", "OK")
            ]
        ),
        1.0
    );
    assert_eq!(
        scrape.get(
            "whatsapp_grpc_upstream_responses_total",
            &[
                ("sender", "default"),
                ("http_status", "200"),
                ("api_code", "none")
            ]
        ),
        1.0
    );
    assert_eq!(scrape.get("whatsapp_grpc_senders_configured", &[]), 1.0);
    for secret in [
        "test-token",
        SandboxConfig::default().access_token.as_str(),
        TO,
        "hello metrics",
    ] {
        assert!(!scrape.text.contains(secret), "{secret:?} is in the scrape");
    }
    let (status, _) = service.terminate().await;
    assert!(status.success());
}

#[tokio::test]
async fn without_the_flag_no_metrics_address_is_logged() {
    let service = Service::start(&["--sandbox"]).await;
    let serving = serving_line(&service).await;
    assert!(!serving.contains("metrics_listen="), "{serving}");
}

/// `serve` with `args`, expected to refuse them before listening; its error output.
fn refused(args: &[&str]) -> String {
    let output = Command::new(BINARY)
        .arg("serve")
        .arg("--sandbox")
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(!output.status.success(), "{args:?} was accepted");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_bad_metrics_address_is_refused_naming_the_flag() {
    let error = refused(&["--metrics-listen", "localhost-ish"]);
    assert!(error.contains("--metrics-listen"), "{error}");
    let error = refused(&[
        "--listen",
        "0.0.0.0:50999",
        "--metrics-listen",
        "127.0.0.1:50999",
    ]);
    assert!(
        error.contains("--metrics-listen 127.0.0.1:50999 takes the port of --listen"),
        "{error}"
    );
}

/// The send-rate limit: a call that waited for its slot is timed, one refused for it is counted.
#[tokio::test]
async fn send_rate_waits_and_refusals_are_counted_per_sender() {
    let stack = Stack::start_with(Options {
        metrics: true,
        max_messages_per_second: 1,
        ..Options::new(Flavor::Cloud)
    })
    .await;
    let metrics = stack.metrics_address.expect("a metrics address");
    let mut client = stack.client.clone();
    let call = |text_body: &str, deadline: Duration| {
        let mut call = tonic::Request::new(common::request(common::text(text_body)));
        call.set_timeout(deadline);
        call
    };
    client
        .send_message(call("first", Duration::from_secs(5)))
        .await
        .expect("the first slot is free");
    let status = client
        .send_message(call("too soon", Duration::from_millis(400)))
        .await
        .expect_err("the next slot is after the deadline");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    client
        .send_message(call("waits", Duration::from_secs(5)))
        .await
        .expect("sent once its slot came");

    let scrape = scrape(metrics).await;
    let sender = [("sender", "default")];
    assert_eq!(scrape.get("whatsapp_grpc_rate_limited_total", &sender), 1.0);
    // Only the call that waited is timed (the first left at once), and it waited under a second.
    assert_eq!(
        scrape.get("whatsapp_grpc_rate_limit_wait_seconds_count", &sender),
        1.0
    );
    let waited = scrape.get("whatsapp_grpc_rate_limit_wait_seconds_sum", &sender);
    assert!(waited > 0.0 && waited <= 1.0, "{waited}");
}
