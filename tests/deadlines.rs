//! The caller's deadline, as a caller sets it (`grpc-timeout`), bounds what the service does for the
//! call, and the caller gets a typed `DEADLINE_EXCEEDED` that says whether the message may have been
//! sent; a call the caller abandons is logged.

mod common;

use std::time::Duration;

use common::stack::{Options, Stack};
use common::*;
use tonic::{Code, Request};
use tonic_types::StatusExt;
use whatsapp_grpc::Flavor;
use whatsapp_grpc::sandbox::SandboxConfig;

/// The sandbox answers this recipient late, by its `slow_answer`.
const SLOW: &str = "15550000408";

fn slow_stack_options() -> Options {
    Options {
        sandbox: SandboxConfig {
            slow_answer: Duration::from_secs(3),
            ..Default::default()
        },
        upstream_timeout: Duration::from_secs(30),
        ..Options::new(Flavor::Cloud)
    }
}

fn to_slow() -> whatsapp_grpc::proto::SendMessageRequest {
    let mut message = request(text("hello"));
    message.to = SLOW.into();
    message
}

#[tokio::test]
async fn a_deadline_that_passes_after_sending_says_the_outcome_is_unknown() {
    let mut stack = Stack::start_with(slow_stack_options()).await;
    let mut call = Request::new(to_slow());
    call.set_timeout(Duration::from_millis(800));
    let status = stack.client.send_message(call).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("the service's status, not the client's own: {status:?}"));
    assert_eq!(info.reason, "DEADLINE_EXCEEDED");
    assert_eq!(info.metadata["outcome"], "unknown");
    assert_eq!(stack.received().await.len(), 1);
}

#[tokio::test]
async fn a_call_without_a_deadline_gets_the_default_one() {
    let mut stack = Stack::start_with(Options {
        limits: whatsapp_grpc::server::ServerLimits {
            default_deadline: Some(Duration::from_millis(700)),
            ..Default::default()
        },
        ..slow_stack_options()
    })
    .await;
    let status = stack.client.send_message(to_slow()).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.metadata["outcome"], "unknown");
    assert_eq!(stack.received().await.len(), 1);
}

#[tokio::test]
async fn a_deadline_that_passes_while_waiting_for_a_slot_says_nothing_was_sent() {
    let mut stack = Stack::start_with(Options {
        max_in_flight: 1,
        ..slow_stack_options()
    })
    .await;
    // One slow call holds the only slot to the API.
    let mut holder = stack.client.clone();
    let holding = tokio::spawn(async move { holder.send_message(to_slow()).await });
    stack.wait_until_received(1).await;

    let mut call = Request::new(request(text("hello")));
    call.set_timeout(Duration::from_millis(500));
    let status = stack.client.send_message(call).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("the service's status, not the client's own: {status:?}"));
    assert_eq!(info.metadata["outcome"], "not_sent");
    assert_eq!(
        stack.received().await.len(),
        1,
        "only the slow call was sent"
    );
    holding.abort();
}

#[tokio::test]
async fn a_call_the_caller_abandons_is_logged() {
    let captured = common::logs::capture("warn");
    let mut stack = Stack::start_with(slow_stack_options()).await;
    let mut caller = stack.client.clone();
    let call = tokio::spawn(async move { caller.send_message(to_slow()).await });
    stack.wait_until_received(1).await;
    // The caller goes away: its client cancels the stream.
    call.abort();
    let logged = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let logs = captured.text();
            if let Some(line) = logs.lines().find(|line| line.contains("call abandoned")) {
                return line.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the abandoned call is logged");
    assert!(logged.contains(r#""outcome":"unknown""#), "{logged}");
    assert!(logged.contains(r#""method":"SendMessage""#), "{logged}");
}
