//! Safe retries, against real servers on loopback that count exactly the connections and the
//! messages they received, through a real gRPC client: a call is sent again only when the API
//! cannot have processed it (the connection was never made, or the API's own JSON says it was rate
//! limited or not ready), never after an ambiguous failure, never past the caller's deadline, and
//! never more than the sender's retry budget allows.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::stack::{Options, Stack};
use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use whatsapp_grpc::Flavor;
use whatsapp_grpc::proto::{SendMessageRequest, SendMessageResponse};

/// Generous upper bound for any one test step, so a regression fails instead of hanging.
const BOUND: Duration = Duration::from_secs(30);

const SUCCESS: &str = r#"{"messaging_product":"whatsapp","contacts":[{"input":"15550001111","wa_id":"15550001111"}],"messages":[{"id":"wamid.retried"}]}"#;

/// How the scripted upstream answers one message.
#[derive(Clone, Debug)]
enum Reply {
    /// The API's success, with a message id.
    Success,
    /// An answer with this status, content type, body and optional `Retry-After`.
    Answer {
        status: u16,
        content_type: &'static str,
        body: String,
        retry_after: Option<&'static str>,
    },
    /// Reads the request, then resets the connection without answering.
    Reset,
    /// Reads the request and never answers.
    Hang,
}

fn cloud_error(status: u16, code: i64, retry_after: Option<&'static str>) -> Reply {
    Reply::Answer {
        status,
        content_type: "application/json",
        body: serde_json::json!({"error": {
            "message": "(#code) refused",
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "AbCdEf"
        }})
        .to_string(),
        retry_after,
    }
}

fn on_premises_error(status: u16, code: i64) -> Reply {
    Reply::Answer {
        status,
        content_type: "application/json",
        body: serde_json::json!({"errors": [{
            "code": code,
            "title": "Service not ready",
            "details": "the gateway is starting"
        }]})
        .to_string(),
        retry_after: None,
    }
}

/// What the scripted upstream saw.
#[derive(Debug, Default)]
struct Counts {
    connections: AtomicUsize,
    /// `POST`s: the messages sent.
    messages: AtomicUsize,
}

/// An upstream on loopback answering the n-th message with `script[n]` (the last reply repeats)
/// and any other request (a health probe) with a success.
struct Scripted {
    url: String,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

impl Scripted {
    async fn start(script: Vec<Reply>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Scripted::on(listener, script)
    }

    fn on(listener: TcpListener, script: Vec<Reply>) -> Scripted {
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        let script = Arc::new(script);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let counts = shared.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, &script, &counts).await;
                });
            }
        });
        Scripted { url, counts, task }
    }

    fn messages(&self) -> usize {
        self.counts.messages.load(Ordering::SeqCst)
    }

    fn connections(&self) -> usize {
        self.counts.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// HTTP/1.1 with keep-alive: each request, then its reply.
async fn serve(mut stream: TcpStream, script: &[Reply], counts: &Counts) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    while let Some(head) = common::upstream::read_request(&mut stream, &mut buffer).await? {
        let reply = if head.starts_with("post ") {
            let n = counts.messages.fetch_add(1, Ordering::SeqCst);
            script[n.min(script.len() - 1)].clone()
        } else {
            Reply::Success
        };
        let (status, content_type, body, retry_after) = match reply {
            Reply::Success => (200, "application/json", SUCCESS.to_owned(), None),
            Reply::Answer {
                status,
                content_type,
                body,
                retry_after,
            } => (status, content_type, body, retry_after),
            Reply::Reset => {
                stream.set_zero_linger()?;
                return Ok(());
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Ok(());
            }
        };
        let retry_after = retry_after
            .map(|value| format!("retry-after: {value}\r\n"))
            .unwrap_or_default();
        let answer = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\n{retry_after}content-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).await?;
    }
    Ok(())
}

async fn stack(flavor: Flavor, url: &str) -> Stack {
    stack_with(Options {
        upstream_url: Some(url.to_owned()),
        ..options(flavor)
    })
    .await
}

fn options(flavor: Flavor) -> Options {
    Options {
        // No timed probe during a test.
        health_interval: Duration::from_secs(3600),
        ..Options::new(flavor)
    }
}

async fn stack_with(options: Options) -> Stack {
    Stack::start_with(options).await
}

/// Sends one message with the caller's deadline `timeout`.
async fn send(stack: &Stack, timeout: Duration) -> Result<SendMessageResponse, Status> {
    send_with(stack, request(text("hello")), timeout).await
}

async fn send_with(
    stack: &Stack,
    message: SendMessageRequest,
    timeout: Duration,
) -> Result<SendMessageResponse, Status> {
    let mut call = tonic::Request::new(message);
    call.set_timeout(timeout);
    let mut client = stack.client.clone();
    tokio::time::timeout(BOUND, client.send_message(call))
        .await
        .unwrap_or_else(|_| panic!("the call did not end within {BOUND:?}"))
        .map(tonic::Response::into_inner)
}

fn info(status: &Status) -> tonic_types::ErrorInfo {
    status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("ErrorInfo in {status:?}"))
}

fn attempts(status: &Status) -> String {
    info(status)
        .metadata
        .get("attempts")
        .cloned()
        .unwrap_or_else(|| panic!("attempts in {status:?}"))
}

#[tokio::test]
async fn a_refused_connection_is_retried_until_the_api_is_up() {
    // A port that refuses connections until the upstream starts listening on it.
    let url = common::stack::closed_port_url().await;
    let address = url.trim_start_matches("http://").to_owned();
    let stack = stack_with(Options {
        upstream_url: Some(url),
        max_attempts: whatsapp_grpc::upstream::MAX_ATTEMPTS,
        ..options(Flavor::Cloud)
    })
    .await;
    let started = Instant::now();
    let call = tokio::spawn({
        let stack_client = stack.client.clone();
        async move {
            let mut client = stack_client;
            let mut call = tonic::Request::new(request(text("hello")));
            call.set_timeout(Duration::from_secs(20));
            client.send_message(call).await
        }
    });
    // The first attempt is made at once and refused; the upstream comes up a little later.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let listener = TcpListener::bind(&address).await.expect("rebind the port");
    let upstream = Scripted::on(listener, vec![Reply::Success]);
    let answer = tokio::time::timeout(BOUND, call)
        .await
        .expect("the call ends")
        .expect("the call task")
        .expect("sent once the API is up");
    assert_eq!(answer.get_ref().message_id, "wamid.retried");
    assert_eq!(upstream.messages(), 1, "exactly one message received");
    // The refused attempts never reached a listener; the one that did used one connection.
    assert_eq!(upstream.connections(), 1);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_rate_limit_with_retry_after_is_waited_for_then_sent() {
    let upstream = Scripted::start(vec![cloud_error(429, 130429, Some("1")), Reply::Success]).await;
    let stack = stack(Flavor::Cloud, &upstream.url).await;
    let started = Instant::now();
    let answer = send(&stack, Duration::from_secs(5))
        .await
        .expect("sent on the second attempt");
    assert_eq!(answer.message_id, "wamid.retried");
    assert_eq!(upstream.messages(), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_is_not_waited_for() {
    let upstream =
        Scripted::start(vec![cloud_error(429, 130429, Some("30")), Reply::Success]).await;
    let stack = stack(Flavor::Cloud, &upstream.url).await;
    let started = Instant::now();
    let status = send(&stack, Duration::from_secs(3))
        .await
        .expect_err("rate limited");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered at once"
    );
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(info(&status).reason, "130429");
    assert_eq!(info(&status).metadata["outcome"], "not_sent");
    assert_eq!(attempts(&status), "1");
    assert_eq!(
        status.get_details_retry_info().and_then(|r| r.retry_delay),
        Some(Duration::from_secs(30))
    );
    assert_eq!(upstream.messages(), 1);
}

#[tokio::test]
async fn a_persistent_rate_limit_is_tried_max_attempts_times() {
    for max_attempts in [3, 1] {
        let upstream = Scripted::start(vec![cloud_error(429, 130429, None)]).await;
        let stack = stack_with(Options {
            upstream_url: Some(upstream.url.clone()),
            max_attempts,
            ..options(Flavor::Cloud)
        })
        .await;
        let status = send(&stack, Duration::from_secs(10))
            .await
            .expect_err("rate limited");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert_eq!(attempts(&status), max_attempts.to_string());
        assert_eq!(upstream.messages(), max_attempts as usize);
    }
}

#[tokio::test]
async fn not_ready_is_retried_on_both_flavors() {
    for (flavor, not_ready) in [
        (Flavor::OnPremises, on_premises_error(503, 1011)),
        (Flavor::Cloud, cloud_error(503, 131016, None)),
    ] {
        let upstream = Scripted::start(vec![not_ready, Reply::Success]).await;
        let stack = stack(flavor, &upstream.url).await;
        let answer = send(&stack, Duration::from_secs(5))
            .await
            .unwrap_or_else(|status| panic!("{flavor:?}: sent on the second attempt: {status:?}"));
        assert_eq!(answer.message_id, "wamid.retried");
        assert_eq!(upstream.messages(), 2, "{flavor:?}");
    }
}

/// Failures after which the API may have taken the message, or that a retry cannot fix: one
/// request each, and the status says so.
#[tokio::test]
async fn ambiguous_or_final_failures_are_never_retried() {
    let rows: Vec<(&str, Reply, Code, &str, &str)> = vec![
        (
            "a 500 of the API",
            cloud_error(500, 131000, None),
            Code::Unavailable,
            "131000",
            "not_sent",
        ),
        (
            "the per-recipient pair limit",
            cloud_error(400, 131056, Some("1")),
            Code::ResourceExhausted,
            "131056",
            "not_sent",
        ),
        (
            "a reset after the body was read",
            Reply::Reset,
            Code::Unknown,
            "OUTCOME_UNKNOWN",
            "unknown",
        ),
        (
            "a 503 that is not the API's JSON",
            Reply::Answer {
                status: 503,
                content_type: "text/html",
                body: "<html>upstream connect error</html>".into(),
                retry_after: None,
            },
            Code::Unavailable,
            "UNEXPECTED_ANSWER",
            "unknown",
        ),
        (
            "a success that is not the API's JSON",
            Reply::Answer {
                status: 200,
                content_type: "application/json",
                body: "garbage".into(),
                retry_after: None,
            },
            Code::Unknown,
            "UNEXPECTED_ANSWER",
            "unknown",
        ),
    ];
    for (what, reply, code, reason, outcome) in rows {
        let upstream = Scripted::start(vec![reply, Reply::Success]).await;
        let stack = stack(Flavor::Cloud, &upstream.url).await;
        let status = send(&stack, Duration::from_secs(5)).await.expect_err(what);
        assert_eq!(status.code(), code, "{what}: {status:?}");
        assert_eq!(info(&status).reason, reason, "{what}");
        assert_eq!(info(&status).metadata["outcome"], outcome, "{what}");
        assert_eq!(attempts(&status), "1", "{what}");
        assert_eq!(upstream.messages(), 1, "{what}: no retry");
    }
}

#[tokio::test]
async fn an_answer_slower_than_the_upstream_timeout_is_not_retried() {
    let upstream = Scripted::start(vec![Reply::Hang, Reply::Success]).await;
    let stack = stack_with(Options {
        upstream_url: Some(upstream.url.clone()),
        upstream_timeout: Duration::from_millis(300),
        ..options(Flavor::Cloud)
    })
    .await;
    let status = send(&stack, Duration::from_secs(5))
        .await
        .expect_err("timed out");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(info(&status).reason, "OUTCOME_UNKNOWN");
    assert_eq!(info(&status).metadata["outcome"], "unknown");
    assert_eq!(attempts(&status), "1");
    assert_eq!(upstream.messages(), 1);
}

#[tokio::test]
async fn a_refused_connection_every_time_says_how_many_attempts_were_made() {
    let url = common::stack::closed_port_url().await;
    let stack = stack(Flavor::Cloud, &url).await;
    let status = send(&stack, Duration::from_secs(10))
        .await
        .expect_err("unreachable");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(info(&status).reason, "UPSTREAM_UNREACHABLE");
    assert_eq!(info(&status).metadata["outcome"], "not_sent");
    assert_eq!(attempts(&status), "3");
}

/// With every call answered 429, the sender's retry budget bounds what the API receives: the calls,
/// plus the floor, plus a fifth of the calls, far fewer than `calls × max_attempts`.
#[tokio::test]
async fn the_retry_budget_bounds_what_a_sick_api_receives() {
    const CALLS: usize = 100;
    let floor = whatsapp_grpc::upstream::RETRY_BUDGET_FLOOR as usize;
    let upstream = Scripted::start(vec![cloud_error(429, 130429, None)]).await;
    let stack = stack_with(Options {
        upstream_url: Some(upstream.url.clone()),
        max_in_flight: 2 * CALLS,
        ..options(Flavor::Cloud)
    })
    .await;
    let calls: Vec<_> = (0..CALLS)
        .map(|_| {
            let client = stack.client.clone();
            tokio::spawn(async move {
                let mut client = client;
                let mut call = tonic::Request::new(request(text("hello")));
                call.set_timeout(Duration::from_secs(15));
                client.send_message(call).await
            })
        })
        .collect();
    let mut attempts_made = 0;
    for call in calls {
        let status = tokio::time::timeout(BOUND, call)
            .await
            .expect("the call ends")
            .expect("the call task")
            .expect_err("rate limited");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        attempts_made += attempts(&status).parse::<usize>().expect("a number");
    }
    let received = upstream.messages();
    assert_eq!(received, attempts_made, "attempts says what was sent");
    let bound = CALLS + floor + CALLS / 5;
    assert!(
        received <= bound,
        "{received} requests for {CALLS} calls, over the budget's {bound}"
    );
    // The floor is always there: at least that many retries were made.
    assert!(received >= CALLS + floor, "{received}");
}

/// The renewal after a refused On-Premises token is not an attempt: a refused token, then an API
/// that is not ready, is one renewal and `max_attempts` attempts.
#[tokio::test]
async fn the_token_renewal_is_not_an_attempt() {
    let stack = stack_with(Options {
        login: true,
        ..options(Flavor::OnPremises)
    })
    .await;
    send(&stack, Duration::from_secs(5))
        .await
        .expect("sent with the first token");
    let logins = stack.stats().await["logins"].as_u64().expect("a count");
    stack.revoke_tokens().await;
    stack.clear_received().await;
    let mut message = request(text("after revocation"));
    message.to = "15550000503".into();
    let status = send_with(&stack, message, Duration::from_secs(5))
        .await
        .expect_err("not ready");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(info(&status).reason, "1011");
    assert_eq!(attempts(&status), "3");
    let stats = stack.stats().await;
    assert_eq!(stats["logins"].as_u64(), Some(logins + 1), "{stats}");
    assert_eq!(stats["unauthorized"], 1, "{stats}");
    // The refused request, then three attempts.
    assert_eq!(stack.received().await.len(), 4);
}
