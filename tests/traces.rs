//! OpenTelemetry traces, as an operator turns them on: the real binary with the standard `OTEL_*`
//! variables, exporting over OTLP/gRPC to a collector (in-process, on loopback). The caller's trace
//! continues through the RPC's span to the call to the API, whose span is the `traceparent` the
//! API receives; the spans carry the call's fields and no personal data; SIGTERM flushes them.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::{BINARY, Service};
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tonic::{Request, Response, Status};
use whatsapp_grpc::proto::StreamEventsRequest;
use whatsapp_grpc::proto::event_service_client::EventServiceClient;
use whatsapp_grpc::proto::messaging_service_client::MessagingServiceClient;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";
const SEND: &str = "whatsapp.v1.MessagingService/SendMessage";
const TEXT: &str = "my secret order details";

/// One span as the collector received it, with its resource's attributes.
#[derive(Clone, Debug)]
struct Received {
    resource: Vec<KeyValue>,
    span: Span,
}

/// An OTLP/gRPC trace collector on loopback that keeps every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let resource = resource_spans
                .resource
                .map(|resource| resource.attributes)
                .unwrap_or_default();
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    spans.push(Received {
                        resource: resource.clone(),
                        span,
                    });
                }
            }
        }
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Collector {
    /// A collector listening on `127.0.0.1:0`, and its endpoint URL.
    async fn start() -> (Collector, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let collector = Collector::default();
        let service = TraceServiceServer::new(collector.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        (collector, endpoint)
    }

    fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }

    /// The spans of `trace_id`, once `ready` holds for them (within 30 s, else panics).
    async fn wait_for(&self, trace_id: &str, ready: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let spans: Vec<_> = self
                .spans()
                .into_iter()
                .filter(|received| hex(&received.span.trace_id) == trace_id)
                .collect();
            if ready(&spans) {
                return spans;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the spans of {trace_id} never arrived; got {:#?}",
                self.spans()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The value of attribute `key`, as text (strings unquoted, numbers as digits).
fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    match value.value.as_ref()? {
        any_value::Value::StringValue(text) => Some(text.clone()),
        any_value::Value::IntValue(number) => Some(number.to_string()),
        any_value::Value::BoolValue(flag) => Some(flag.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// `serve --sandbox` exporting traces to `endpoint`, with `env` on top.
async fn launch(endpoint: Option<&str>, env: &[(&str, &str)]) -> Service {
    let mut command = Command::new(BINARY);
    command
        .args(["serve", "--sandbox"])
        .args(["--pre-stop-delay", "0s"])
        .env("WHATSAPP_GRPC_ACCESS_TOKEN", "test-token");
    for name in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_TRACES_SAMPLER",
    ] {
        command.env_remove(name);
    }
    if let Some(endpoint) = endpoint {
        command.env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint);
    }
    command.envs(env.iter().copied());
    Service::launch(command).await
}

/// The in-process sandbox's URL, from the service's log.
fn sandbox_url(service: &Service) -> String {
    let log = service.log();
    log.split_whitespace()
        .find_map(|word| word.strip_prefix("sandbox_url="))
        .unwrap_or_else(|| panic!("no sandbox_url in the log:\n{log}"))
        .to_owned()
}

/// The `traceparent` of each request the sandbox received.
async fn traceparents_received(service: &Service) -> Vec<String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("{}/sandbox/received", sandbox_url(service));
    let body = reqwest::get(url)
        .await
        .expect("the sandbox answers")
        .bytes()
        .await
        .expect("a body");
    let received: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    received
        .as_array()
        .expect("an array")
        .iter()
        .map(|request| request["traceparent"].as_str().unwrap_or("none").to_owned())
        .collect()
}

/// Sends a text message as the caller's span `CALLER_SPAN_ID` of `trace_id`.
async fn send_in_trace(service: &Service, trace_id: &str) {
    let mut client = MessagingServiceClient::new(service.channel().await);
    let mut call = Request::new(request(text(TEXT)));
    call.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{CALLER_SPAN_ID}-01")
            .parse()
            .unwrap(),
    );
    call.metadata_mut()
        .insert("tracestate", "congo=t61rcWkgMzE".parse().unwrap());
    client.send_message(call).await.expect("sent");
}

#[tokio::test]
async fn the_callers_trace_continues_through_the_service_to_the_api() {
    let (collector, endpoint) = Collector::start().await;
    let service = launch(
        Some(&endpoint),
        &[
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=traces-test",
            ),
        ],
    )
    .await;
    assert!(service.log().contains("traces=true"), "{}", service.log());
    send_in_trace(&service, TRACE_ID).await;

    let spans = collector
        .wait_for(TRACE_ID, |spans| {
            spans.iter().any(|s| s.span.name == SEND)
                && spans.iter().any(|s| s.span.kind == SpanKind::Client as i32)
        })
        .await;
    let rpc = spans
        .iter()
        .find(|s| s.span.name == SEND)
        .expect("the RPC's span");
    assert_eq!(hex(&rpc.span.parent_span_id), CALLER_SPAN_ID);
    assert_eq!(rpc.span.kind, SpanKind::Server as i32);
    assert_eq!(rpc.span.trace_state, "congo=t61rcWkgMzE");
    let attributes = &rpc.span.attributes;
    assert_eq!(attribute(attributes, "sender").as_deref(), Some("default"));
    assert_eq!(attribute(attributes, "flavor").as_deref(), Some("cloud"));
    assert_eq!(
        attribute(attributes, "message_type").as_deref(),
        Some("text")
    );
    assert_eq!(attribute(attributes, "http_status").as_deref(), Some("200"));
    assert!(
        attribute(attributes, "message_id").is_some_and(|id| id.starts_with("wamid.")),
        "{attributes:?}"
    );
    assert!(attribute(attributes, "latency_us").is_some());
    for (key, expected) in [
        ("service.name", "whatsapp-grpc"),
        ("service.version", env!("CARGO_PKG_VERSION")),
        ("deployment.environment.name", "traces-test"),
    ] {
        assert_eq!(
            attribute(&rpc.resource, key).as_deref(),
            Some(expected),
            "{key}"
        );
    }

    let client = spans
        .iter()
        .find(|s| s.span.kind == SpanKind::Client as i32)
        .expect("the span of the call to the API");
    assert_eq!(client.span.parent_span_id, rpc.span.span_id);
    assert_eq!(
        attribute(&client.span.attributes, "http.response.status_code").as_deref(),
        Some("200")
    );
    // What the API received is the client span's context.
    assert_eq!(
        traceparents_received(&service).await,
        [format!("00-{TRACE_ID}-{}-01", hex(&client.span.span_id))]
    );

    // A call the API could not take (its 503) is an error span; one it refused as the caller's
    // fault (not a WhatsApp user) is not.
    let mut client = MessagingServiceClient::new(service.channel().await);
    for (to, trace_id) in [
        ("15550000503", "11111111111111111111111111111111"),
        ("15550000131", "22222222222222222222222222222222"),
    ] {
        let mut call = Request::new(request(text(TEXT)));
        call.get_mut().to = to.into();
        call.metadata_mut().insert(
            "traceparent",
            format!("00-{trace_id}-{CALLER_SPAN_ID}-01")
                .parse()
                .unwrap(),
        );
        client.send_message(call).await.expect_err("refused");
    }
    let status_of = async |trace_id: &str| {
        let spans = collector
            .wait_for(trace_id, |spans| spans.iter().any(|s| s.span.name == SEND))
            .await;
        let rpc = spans.into_iter().find(|s| s.span.name == SEND).unwrap();
        let code = rpc
            .span
            .status
            .map(|status| status.code)
            .unwrap_or_default();
        (code, attribute(&rpc.span.attributes, "http_status"))
    };
    assert_eq!(
        status_of("11111111111111111111111111111111").await,
        (StatusCode::Error as i32, Some("503".into()))
    );
    assert_eq!(
        status_of("22222222222222222222222222222222").await,
        (StatusCode::Unset as i32, Some("400".into()))
    );

    // No span carries the recipient or the text.
    let everything = format!("{:?}", collector.spans());
    assert!(!everything.contains(TO), "the recipient is in a span");
    assert!(!everything.contains(TEXT), "the text is in a span");
}

#[tokio::test]
async fn sigterm_flushes_the_spans_of_the_last_calls() {
    let (collector, endpoint) = Collector::start().await;
    // Batches every minute: only the flush at shutdown can send the span in time.
    let service = launch(
        Some(&endpoint),
        &[
            ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
            ("OTEL_SERVICE_NAME", "billing-whatsapp"),
        ],
    )
    .await;
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    send_in_trace(&service, trace_id).await;
    let (status, log) = service.terminate().await;
    assert!(status.success(), "{log}");

    // The process exited after the collector answered its export.
    let spans = collector
        .wait_for(trace_id, |spans| !spans.is_empty())
        .await;
    let rpc = spans
        .iter()
        .find(|s| s.span.name == SEND)
        .unwrap_or_else(|| panic!("no RPC span in {spans:#?}"));
    assert_eq!(hex(&rpc.span.parent_span_id), CALLER_SPAN_ID);
    assert_eq!(
        attribute(&rpc.resource, "service.name").as_deref(),
        Some("billing-whatsapp")
    );
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_exported_and_the_api_still_joins_the_trace() {
    let service = launch(None, &[]).await;
    assert!(service.log().contains("traces=false"), "{}", service.log());
    send_in_trace(&service, TRACE_ID).await;
    let received = traceparents_received(&service).await;
    let parts: Vec<_> = received[0].split('-').collect();
    assert_eq!(parts.len(), 4, "{received:?}");
    assert_eq!(parts[1], TRACE_ID, "same trace");
    assert_ne!(
        parts[2], CALLER_SPAN_ID,
        "this service's span is the parent"
    );
    assert_eq!(parts[3], "01");
}

#[tokio::test]
async fn a_protocol_other_than_grpc_is_refused_at_start() {
    let mut child = Command::new(BINARY)
        .args(["serve", "--sandbox", "--listen", "127.0.0.1:0"])
        .env("WHATSAPP_GRPC_ACCESS_TOKEN", "test-token")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .env_remove("OTEL_SDK_DISABLED")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the service started with an unsupported protocol");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("piped"), &mut stderr)
        .expect("stderr");
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf") && stderr.contains("grpc"),
        "{stderr}"
    );
}

#[tokio::test]
async fn each_webhook_and_each_event_stream_has_a_span_saying_what_became_of_it() {
    let (collector, endpoint) = Collector::start().await;
    // The sandbox posts its signed status webhooks to this process's own webhook listener.
    let service = launch(
        Some(&endpoint),
        &[
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("WHATSAPP_GRPC_WEBHOOK_LISTEN", "127.0.0.1:0"),
            ("WHATSAPP_GRPC_APP_SECRET", "traces-app-secret"),
            ("WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN", "traces-verify-token"),
        ],
    )
    .await;
    send_in_trace(&service, "5bf92f3577b34da6a3ce929d0e0e4737").await;

    // sent, delivered and read: one webhook each, each stored.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let webhooks = loop {
        let webhooks: Vec<Received> = collector
            .spans()
            .into_iter()
            .filter(|received| received.span.name == "webhook")
            .collect();
        if webhooks.len() >= 3 {
            break webhooks;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "three webhook spans never arrived; got {:#?}",
            collector.spans()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for webhook in &webhooks {
        let attributes = &webhook.span.attributes;
        assert_eq!(webhook.span.kind, SpanKind::Server as i32);
        assert_eq!(attribute(attributes, "flavor").as_deref(), Some("cloud"));
        assert_eq!(attribute(attributes, "http_status").as_deref(), Some("200"));
        assert_eq!(
            attribute(attributes, "events_stored").as_deref(),
            Some("1"),
            "{attributes:?}"
        );
        assert_eq!(attribute(attributes, "refused"), None);
        // A root span of its own: the API sends no trace context.
        assert!(webhook.span.parent_span_id.is_empty());
        let all = format!("{attributes:?}");
        assert!(!all.contains(TEXT) && !all.contains(TO), "{all}");
    }

    // A subscriber takes the three statuses, acknowledges them and stops: its stream's span says so.
    let (requests, outbound) = tokio::sync::mpsc::channel(4);
    requests
        .send(StreamEventsRequest {
            consumer_group: "traces".into(),
            ..StreamEventsRequest::default()
        })
        .await
        .unwrap();
    let mut responses = EventServiceClient::new(service.channel().await)
        .stream_events(tokio_stream::wrappers::ReceiverStream::new(outbound))
        .await
        .expect("subscribed")
        .into_inner();
    let mut ack_ids = Vec::new();
    while ack_ids.len() < 3 {
        let batch = tokio::time::timeout(Duration::from_secs(20), responses.message())
            .await
            .expect("events within the wait")
            .expect("a healthy stream")
            .expect("an open stream");
        ack_ids.extend(batch.received_events.into_iter().map(|r| r.ack_id));
    }
    requests
        .send(StreamEventsRequest {
            ack_ids,
            ..StreamEventsRequest::default()
        })
        .await
        .unwrap();
    drop(requests);
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(_)) = responses.message().await {}
    })
    .await
    .expect("the stream ends once the subscriber stops");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let stream = loop {
        let found = collector
            .spans()
            .into_iter()
            .find(|received| received.span.name == "whatsapp.v1.EventService/StreamEvents");
        if let Some(found) = found {
            break found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream's span never arrived; got {:#?}",
            collector.spans()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let attributes = &stream.span.attributes;
    assert_eq!(attribute(attributes, "group").as_deref(), Some("traces"));
    assert_eq!(attribute(attributes, "delivered").as_deref(), Some("3"));
    assert_eq!(attribute(attributes, "redelivered").as_deref(), Some("0"));
    assert_eq!(
        attribute(attributes, "acknowledged").as_deref(),
        Some("3"),
        "{attributes:?}"
    );
}
