//! Health as Kubernetes and callers see it: the server's own name (`""`) says the process serves;
//! `whatsapp.v1.MessagingService` follows the API's probes, never one caller's answers.

mod common;

use std::time::Duration;

use common::stack::{Options, Stack};
use common::*;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use whatsapp_grpc::Flavor;
use whatsapp_grpc::health::{MESSAGING, SERVER};
use whatsapp_grpc::proto;

fn health_checks(stats: &serde_json::Value) -> u64 {
    stats["health_checks"].as_u64().expect("health_checks")
}

#[tokio::test]
async fn the_messaging_name_follows_the_api_and_the_server_name_does_not() {
    for flavor in [Flavor::Cloud, Flavor::OnPremises] {
        let stack = Stack::start(flavor).await;
        stack
            .wait_for_health(MESSAGING, ServingStatus::Serving)
            .await;
        assert_eq!(stack.health(SERVER).await, ServingStatus::Serving);
        stack.set_upstream_healthy(false).await;
        stack
            .wait_for_health(MESSAGING, ServingStatus::NotServing)
            .await;
        // The process still serves: readiness must not follow one shared upstream.
        assert_eq!(stack.health(SERVER).await, ServingStatus::Serving);
        stack.set_upstream_healthy(true).await;
        stack
            .wait_for_health(MESSAGING, ServingStatus::Serving)
            .await;
    }
}

#[tokio::test]
async fn a_recipient_the_api_fails_on_leaves_health_serving() {
    let mut stack = Stack::start_with(Options {
        // No timed probe during the test: only the ones calls bring forward.
        health_interval: Duration::from_secs(3600),
        ..Options::new(Flavor::Cloud)
    })
    .await;
    stack
        .wait_for_health(MESSAGING, ServingStatus::Serving)
        .await;
    let probes_before = health_checks(&stack.stats().await);
    // A caller hammering the recipients the sandbox answers 500 and 503 for.
    for to in ["15550000500", "15550000503"].into_iter().cycle().take(12) {
        let mut message = request(text("hello"));
        message.to = to.into();
        let status = stack.client.send_message(message).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    // The down-signals brought a probe forward; the API answered it, so nothing changes.
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while health_checks(&stack.stats().await) == probes_before {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "no probe was brought forward");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stack.health(MESSAGING).await, ServingStatus::Serving);
    assert_eq!(stack.health(SERVER).await, ServingStatus::Serving);
}

#[tokio::test]
async fn local_failures_leave_health_serving() {
    let mut stack = Stack::start_with(Options {
        health_interval: Duration::from_secs(3600),
        ..Options::new(Flavor::OnPremises)
    })
    .await;
    stack
        .wait_for_health(MESSAGING, ServingStatus::Serving)
        .await;
    for _ in 0..10 {
        // Refused before sending: an id that cannot be a path segment, and an empty request.
        let status = stack
            .client
            .mark_message_read(proto::MarkMessageReadRequest {
                message_id: "x".repeat(70_000),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let status = stack
            .client
            .send_message(proto::SendMessageRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
    }
    assert_eq!(stack.received().await.len(), 0);
    assert_eq!(stack.health(MESSAGING).await, ServingStatus::Serving);
    assert_eq!(stack.health(SERVER).await, ServingStatus::Serving);
}

#[tokio::test]
async fn calls_to_an_api_that_stopped_bring_the_verdict_forward() {
    // An upstream that can be stopped: its own sandbox, outside the stack.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let upstream = tokio::spawn(whatsapp_grpc::sandbox::serve(
        listener,
        Default::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let mut stack = Stack::start_with(Options {
        upstream_url: Some(url),
        // The timed probe would take an hour: only calls can bring the news.
        health_interval: Duration::from_secs(3600),
        ..Options::new(Flavor::OnPremises)
    })
    .await;
    stack
        .wait_for_health(MESSAGING, ServingStatus::Serving)
        .await;
    let _ = stop.send(());
    upstream.await.unwrap().unwrap();
    let went_down = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let status = stack
                .client
                .send_message(request(text("hello")))
                .await
                .unwrap_err();
            assert_eq!(status.code(), Code::Unavailable, "{status:?}");
            if stack.health(MESSAGING).await == ServingStatus::NotServing {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(went_down.is_ok(), "health never turned NOT_SERVING");
    assert_eq!(stack.health(SERVER).await, ServingStatus::Serving);
}

#[tokio::test]
async fn an_unknown_name_is_not_found_on_check_and_service_unknown_on_watch() {
    let stack = Stack::start(Flavor::Cloud).await;
    let mut health = HealthClient::new(stack.channel.clone());
    let status = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let mut stream = health
        .watch(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = stream.next().await.expect("an answer").expect("ok");
    assert_eq!(first.status, ServingStatus::ServiceUnknown as i32);
}
