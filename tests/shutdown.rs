//! Stopping as Kubernetes stops a pod: on SIGTERM every health name turns NOT_SERVING at once and
//! `Watch` streams end, calls are served through the pre-stop delay, calls in flight finish within
//! the grace period, new calls get UNAVAILABLE, and the process exits 0 whatever clients hold open.

mod common;

use std::process::Command;
use std::time::Duration;

use common::process::{BINARY, Service};
use common::stack::{Options, Stack};
use common::*;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;
use whatsapp_grpc::Flavor;
use whatsapp_grpc::health::{MESSAGING, SERVER};
use whatsapp_grpc::proto::messaging_service_client::MessagingServiceClient;
use whatsapp_grpc::sandbox::SandboxConfig;
use whatsapp_grpc::server::ShutdownConfig;

/// The sandbox answers this recipient late, by its `slow_answer`.
const SLOW: &str = "15550000408";

fn slow_request() -> whatsapp_grpc::proto::SendMessageRequest {
    let mut message = request(text("hello"));
    message.to = SLOW.into();
    message
}

#[tokio::test]
async fn sigterm_ends_watch_streams_and_exits_zero_within_the_grace_period() {
    let mut command = Command::new(BINARY);
    command
        .args(["serve", "--sandbox"])
        .args(["--health-interval", "100ms", "--shutdown-grace", "2s"])
        .env_remove("WHATSAPP_ACCESS_TOKEN")
        .env_remove("WHATSAPP_GRPC_ACCESS_TOKEN");
    let mut service = Service::launch(command).await;
    let channel = service.channel().await;

    // Two watchers, as grpc-go's client-side health checking holds them.
    let mut streams = Vec::new();
    for name in [SERVER, MESSAGING] {
        let mut stream = HealthClient::new(channel.clone())
            .watch(HealthCheckRequest {
                service: name.into(),
            })
            .await
            .expect("watch")
            .into_inner();
        let first = stream.next().await.expect("a status").expect("ok");
        if name == SERVER {
            assert_eq!(first.status, ServingStatus::Serving as i32);
        }
        streams.push(stream);
    }

    service.signal("TERM");

    for mut stream in streams {
        let ended = tokio::time::timeout(Duration::from_secs(10), async {
            let mut last = None;
            while let Some(Ok(answer)) = stream.next().await {
                last = Some(answer.status);
            }
            last
        })
        .await
        .expect("the Watch stream ends");
        assert_eq!(ended, Some(ServingStatus::NotServing as i32));
    }

    // Exits by itself, although this test still holds its connection open.
    let (status, log) = service.exit_within(Duration::from_secs(10)).await;
    assert!(status.success(), "exit {status:?}: {log}");
    drop(channel);
}

#[tokio::test]
async fn calls_in_flight_finish_and_new_calls_are_refused() {
    let mut stack = Stack::start_with(Options {
        sandbox: SandboxConfig {
            slow_answer: Duration::from_millis(800),
            ..Default::default()
        },
        shutdown: ShutdownConfig {
            pre_stop_delay: Duration::from_millis(300),
            grace: Duration::from_secs(10),
        },
        ..Options::new(Flavor::Cloud)
    })
    .await;
    stack
        .wait_for_health(MESSAGING, ServingStatus::Serving)
        .await;
    let mut slow_client = stack.client.clone();
    let in_flight = tokio::spawn(async move { slow_client.send_message(slow_request()).await });
    // Let the slow call reach the sandbox before the signal.
    stack.wait_until_received(1).await;

    let server = stack.shut_down_server();
    // During the pre-stop delay: health NOT_SERVING at once, calls still served.
    stack
        .wait_for_health(SERVER, ServingStatus::NotServing)
        .await;
    assert_eq!(stack.health(MESSAGING).await, ServingStatus::NotServing);
    stack
        .client
        .send_message(request(text("during the pre-stop delay")))
        .await
        .expect("served during the pre-stop delay");

    let answer = in_flight.await.unwrap();
    assert!(answer.is_ok(), "the call in flight finished: {answer:?}");

    // After the delay: new calls are refused, on a new connection too.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let status = stack
        .client
        .send_message(request(text("too late")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    if let Some(info) = status.get_details_error_info() {
        assert_eq!(info.reason, "DRAINING");
        assert_eq!(info.metadata["outcome"], "not_sent");
    }
    let fresh = tonic::transport::Endpoint::from_shared(format!("http://{}", stack.grpc_address))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = fresh {
        let status = MessagingServiceClient::new(channel)
            .send_message(request(text("too late")))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    let received = stack.received().await;
    assert!(
        received
            .iter()
            .all(|r| r["body"]["text"]["body"] != "too late"),
        "{received:?}"
    );
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns once the calls are done")
        .unwrap();
}

#[tokio::test]
async fn a_call_outlasting_the_grace_period_does_not_hold_the_server() {
    let mut stack = Stack::start_with(Options {
        sandbox: SandboxConfig {
            slow_answer: Duration::from_secs(60),
            ..Default::default()
        },
        upstream_timeout: Duration::from_secs(120),
        shutdown: ShutdownConfig {
            pre_stop_delay: Duration::ZERO,
            grace: Duration::from_millis(300),
        },
        ..Options::new(Flavor::Cloud)
    })
    .await;
    let mut slow_client = stack.client.clone();
    let in_flight = tokio::spawn(async move { slow_client.send_message(slow_request()).await });
    stack.wait_until_received(1).await;
    let server = stack.shut_down_server();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns after the grace period, the slow call still in flight")
        .unwrap();
    in_flight.abort();
}
