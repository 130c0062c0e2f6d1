//! Stopping as Kubernetes stops a pod: on SIGTERM every health name turns NOT_SERVING at once and
//! `Watch` streams end, calls are served through the pre-stop delay, calls in flight finish within
//! the grace period, new calls get UNAVAILABLE, and the process exits 0 whatever clients hold open.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

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

const BINARY: &str = env!("CARGO_BIN_EXE_whatsapp-grpc");
/// The sandbox answers this recipient late, by its `slow_answer`.
const SLOW: &str = "15550000408";

fn slow_request() -> whatsapp_grpc::proto::SendMessageRequest {
    let mut message = request(text("hello"));
    message.to = SLOW.into();
    message
}

async fn free_address() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().to_string()
}

#[tokio::test]
async fn sigterm_ends_watch_streams_and_exits_zero_within_the_grace_period() {
    let listen = free_address().await;
    let mut child = Command::new(BINARY)
        .args(["serve", "--sandbox", "--listen", &listen])
        .args(["--health-interval", "100ms", "--shutdown-grace", "2s"])
        .env_remove("WHATSAPP_ACCESS_TOKEN")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let channel = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(channel) = tonic::transport::Endpoint::from_shared(format!("http://{listen}"))
                .unwrap()
                .connect()
                .await
            {
                return channel;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the service listens");

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

    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());

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
    let exited = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(status) = child.try_wait().expect("waits") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let status = match exited {
        Ok(status) => status,
        Err(_) => {
            let _ = child.kill();
            panic!("the service did not exit after SIGTERM");
        }
    };
    assert!(status.success(), "exit {status:?}");
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
