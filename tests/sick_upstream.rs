//! The service against hostile and sick upstreams, all real servers on loopback: one that echoes the
//! request into its errors, redirects, endless answers, a login that never answers, rate limits
//! without the API's JSON, and a slow upstream that counts the connections it is given. Calls go
//! through a real gRPC client over a real socket, or straight to the upstream client where the
//! caller's deadline is what is tested.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::stack::{Options, Stack};
use common::upstream::SlowUpstream;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use whatsapp_grpc::Flavor;
use whatsapp_grpc::telemetry::TraceContext;
use whatsapp_grpc::upstream::{
    Credentials, Secret, Upstream, UpstreamConfig, UpstreamError, UpstreamFailure,
};
use whatsapp_grpc::wire::response::SendAnswer;

/// Generous upper bound for any one test step, so a regression fails instead of hanging.
const BOUND: Duration = Duration::from_secs(20);

async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not end within {BOUND:?}"))
}

/// Serves `router` on a loopback port; answers its base URL.
async fn serve(router: Router) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serves");
    });
    (url, task)
}

fn outcome(status: &Status) -> String {
    status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("ErrorInfo in {status:?}"))
        .metadata["outcome"]
        .clone()
}

fn reason(status: &Status) -> String {
    status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("ErrorInfo in {status:?}"))
        .reason
}

// ---------------------------------------------------------------------------------------------
// Logs, captured for the whole test binary (other tests' lines are captured too; none may leak).

fn captured_logs() -> common::logs::Captured {
    common::logs::capture("debug,whatsapp_grpc=trace")
}

// ---------------------------------------------------------------------------------------------
// An upstream that echoes everything it was sent into its error answers.

const ECHO_TOKEN: &str = "st4tic-t0ken-echo";
const ECHO_PASSWORD: &str = "pa55-echo-w0rd";
const ISSUED_TOKEN: &str = "issued-t0ken-echo";
const ECHO_TO: &str = "15553141592";
const ECHO_TEXT: &str = "my secret order details";
/// The password of a base URL with userinfo, and its basic credentials (`admin:hunter2-url`).
const URL_PASSWORD: &str = "hunter2-url";
const URL_BASIC: &str = "YWRtaW46aHVudGVyMi11cmw=";

/// How the echoing upstream answers.
#[derive(Clone, Copy, Debug)]
enum Echo {
    /// Cloud 400, code 100, everything echoed in message, title, details, fbtrace_id.
    CloudJson,
    /// On-Premises 500, code 1000, echoed in title and details, and in `x-fb-trace-id`.
    OnPremisesJson,
    /// 502 with a content type that echoes the token, a phone number and the body it received.
    ContentType,
}

async fn echo_upstream(echo: Echo) -> (String, JoinHandle<()>) {
    let router = Router::new()
        .route(
            "/v1/users/login",
            axum::routing::post(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    serde_json::json!({"users": [{
                        "token": ISSUED_TOKEN,
                        "expires_after": "2100-01-01 00:00:00+00:00"
                    }]})
                    .to_string(),
                )
            }),
        )
        .fallback(move |headers: HeaderMap, body: Bytes| async move {
            // Every Authorization header (a URL with userinfo adds a basic one).
            let authorization = headers
                .get_all(header::AUTHORIZATION)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect::<Vec<_>>()
                .join(", ");
            let body = String::from_utf8_lossy(&body).into_owned();
            let token = authorization
                .split(", ")
                .find_map(|value| value.strip_prefix("Bearer "))
                .unwrap_or_default()
                .to_owned();
            let basic = authorization
                .split(", ")
                .find_map(|value| value.strip_prefix("Basic "))
                .unwrap_or_default()
                .to_owned();
            // A basic header decoded, as a hostile server could.
            let password = if basic == URL_BASIC { URL_PASSWORD } else { "" };
            let everything = format!(
                "you sent {authorization} (token {token}, basic {basic}, password {password}) \
                 to +1 (555) 314-1592: {body}"
            );
            match echo {
                Echo::CloudJson => (
                    StatusCode::BAD_REQUEST,
                    [(header::CONTENT_TYPE, "application/json")],
                    serde_json::json!({"error": {
                        "message": everything,
                        "error_user_title": everything,
                        "code": 100,
                        "error_data": {"details": body},
                        "fbtrace_id": ECHO_TO,
                    }})
                    .to_string(),
                )
                    .into_response(),
                Echo::OnPremisesJson => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [
                        (header::CONTENT_TYPE, "application/json".to_owned()),
                        (header::HeaderName::from_static("x-fb-trace-id"), token),
                    ],
                    serde_json::json!({"errors": [{
                        "code": 1000,
                        "title": everything,
                        "details": body,
                    }]})
                    .to_string(),
                )
                    .into_response(),
                Echo::ContentType => Response::builder()
                    .status(StatusCode::BAD_GATEWAY)
                    .header(
                        header::CONTENT_TYPE,
                        format!("text/html; auth={authorization}; to=+1 555 314 1592; sent={body}"),
                    )
                    .body(axum::body::Body::from("<html>bad gateway</html>"))
                    .expect("a response"),
            }
        });
    serve(router).await
}

#[tokio::test]
async fn what_an_upstream_echoes_never_reaches_the_caller_or_the_logs() {
    let logs = captured_logs();
    let secrets = [
        ECHO_TOKEN,
        ECHO_PASSWORD,
        ISSUED_TOKEN,
        ECHO_TO,
        "3141592",
        ECHO_TEXT,
        "secret order",
        "Bearer ",
        "Basic ",
        URL_PASSWORD,
        URL_BASIC,
    ];
    for (flavor, login, echo, userinfo) in [
        (Flavor::Cloud, false, Echo::CloudJson, false),
        (Flavor::Cloud, false, Echo::CloudJson, true),
        (Flavor::OnPremises, true, Echo::OnPremisesJson, false),
        (Flavor::OnPremises, false, Echo::OnPremisesJson, true),
        (Flavor::Cloud, false, Echo::ContentType, false),
    ] {
        let (mut url, upstream) = echo_upstream(echo).await;
        if userinfo {
            url = url.replacen("http://", &format!("http://admin:{URL_PASSWORD}@"), 1);
        }
        let mut stack = Stack::start_with(Options {
            login,
            upstream_url: Some(url),
            access_token: Some(ECHO_TOKEN.into()),
            password: Some(ECHO_PASSWORD.into()),
            health_interval: Duration::from_secs(3600),
            ..Options::new(flavor)
        })
        .await;
        let mut message = request(text(ECHO_TEXT));
        message.to = ECHO_TO.into();
        let status = bounded("the echoed call", stack.client.send_message(message))
            .await
            .expect_err("the upstream refused it");
        let info = status.get_details_error_info().expect("ErrorInfo");
        let mut shown = vec![status.message().to_owned(), info.reason.clone()];
        shown.extend(info.metadata.values().cloned());
        for text in &shown {
            for secret in secrets {
                assert!(
                    !text.contains(secret),
                    "{flavor:?}/{echo:?}: {secret:?} reached the caller: {text:?}"
                );
            }
        }
        // The echo did arrive (redacted), so the test tests something.
        match echo {
            Echo::CloudJson | Echo::OnPremisesJson => {
                assert!(status.message().contains("you sent"), "{status:?}");
                assert!(status.message().contains("[credential]"), "{status:?}");
                assert!(!info.metadata.contains_key("fbtrace_id"), "{info:?}");
            }
            Echo::ContentType => {
                assert!(status.message().contains("text/html"), "{status:?}")
            }
        }
        upstream.abort();
    }
    let logs = logs.text();
    assert!(
        logs.contains("upstream refused the call") || logs.contains("upstream call failed"),
        "the failures were not logged: {logs}"
    );
    for secret in secrets {
        let line = logs.lines().find(|line| line.contains(secret));
        assert!(line.is_none(), "{secret:?} is in the logs: {line:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Redirects are never followed.

#[tokio::test]
async fn redirects_are_not_followed_and_never_ok() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let (target, target_task) = serve(Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            (
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"messages":[{"id":"wamid.stolen"}]}"#,
            )
        }
    }))
    .await;
    for code in [307u16, 308, 302, 303, 301] {
        let location = format!("{target}/elsewhere");
        let (url, task) = serve(Router::new().fallback(move || {
            let location = location.clone();
            async move {
                (
                    StatusCode::from_u16(code).expect("a status"),
                    [(header::LOCATION, location)],
                )
            }
        }))
        .await;
        let mut stack = Stack::start_with(on_upstream(url)).await;
        let status = bounded(
            "the redirected call",
            stack.client.send_message(request(text("hi"))),
        )
        .await
        .expect_err("a redirect is not a success");
        assert_eq!(status.code(), Code::Unknown, "{code}: {status:?}");
        assert_eq!(reason(&status), "UNEXPECTED_ANSWER");
        assert_eq!(outcome(&status), "unknown");
        assert_eq!(
            status.get_details_error_info().expect("ErrorInfo").metadata["http_status"],
            code.to_string()
        );
        task.abort();
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the redirect target was reached"
    );
    target_task.abort();
}

// ---------------------------------------------------------------------------------------------
// Endless answers.

/// A raw server that answers every connection with `head` and then writes up to 100 MB of body,
/// counting what it managed to write before the service hung up.
async fn endless_upstream(head: &'static str) -> (String, Arc<AtomicUsize>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                if read_request(&mut socket).await.is_none() {
                    return;
                }
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunked = head.contains("chunked");
                let block = vec![b'x'; 64 * 1024];
                let mut frame = format!("{:x}\r\n", block.len()).into_bytes();
                frame.extend_from_slice(&block);
                frame.extend_from_slice(b"\r\n");
                let piece = if chunked { &frame } else { &block };
                for _ in 0..(100_000_000 / block.len()) {
                    if socket.write_all(piece).await.is_err() {
                        return;
                    }
                    counter.fetch_add(piece.len(), Ordering::SeqCst);
                }
            });
        }
    });
    (url, written, task)
}

#[tokio::test]
async fn a_100_mb_answer_is_refused_without_reading_it() {
    for (head, code) in [
        (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            Code::Unknown,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n",
            Code::Unknown,
        ),
        (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n",
            Code::Unavailable,
        ),
    ] {
        let (url, written, task) = endless_upstream(head).await;
        let mut stack = Stack::start_with(on_upstream(url)).await;
        let status = bounded(
            "the huge answer",
            stack.client.send_message(request(text("hi"))),
        )
        .await
        .expect_err("a huge answer is refused");
        assert_eq!(status.code(), code, "{head}: {status:?}");
        assert_eq!(reason(&status), "UNEXPECTED_ANSWER");
        assert_eq!(outcome(&status), "unknown");
        assert!(status.message().contains("larger than"), "{status:?}");
        // The service hung up: the upstream could not push the 100 MB (only what socket buffers
        // hold).
        tokio::time::sleep(Duration::from_millis(200)).await;
        let pushed = written.load(Ordering::SeqCst);
        assert!(
            pushed < 32 * 1024 * 1024,
            "{head}: {pushed} bytes were taken"
        );
        task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// A login that never answers.

/// A raw server that reads each request and never answers; answers its URL.
async fn silent_upstream() -> (String, Arc<AtomicUsize>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                while read_request(&mut socket).await.is_some() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    (url, requests, task)
}

#[tokio::test]
async fn a_hanging_login_fails_by_the_upstream_timeout_and_the_server_keeps_working() {
    let (url, requests, task) = silent_upstream().await;
    let mut stack = Stack::start_with(Options {
        login: true,
        upstream_url: Some(url),
        upstream_timeout: Duration::from_millis(300),
        ..Options::new(Flavor::OnPremises)
    })
    .await;
    for _ in 0..2 {
        let status = bounded(
            "the call behind a hanging login",
            stack.client.send_message(request(text("hi"))),
        )
        .await
        .expect_err("no token, no message");
        assert_eq!(status.code(), Code::Internal, "{status:?}");
        assert_eq!(reason(&status), "UPSTREAM_LOGIN_FAILED");
        assert_eq!(outcome(&status), "not_sent");
    }
    // Only logins reached the upstream (the health probe logs in too), never a message.
    assert!(requests.load(Ordering::SeqCst) >= 2);
    // The server still answers what needs no upstream.
    let invalid = bounded(
        "an invalid request",
        stack.client.send_message(request(text(""))),
    )
    .await
    .expect_err("invalid");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    task.abort();
}

fn direct_config(base_url: String, credentials: Credentials) -> UpstreamConfig {
    UpstreamConfig {
        flavor: Flavor::OnPremises,
        base_url,
        api_version: String::new(),
        phone_number_id: String::new(),
        credentials,
        extra_ca_pem: None,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        max_in_flight: 4,
        max_queued: 16,
        max_attempts: 3,
        http2_prior_knowledge: false,
    }
}

fn no_trace() -> TraceContext {
    TraceContext::from_metadata(&MetadataMap::new())
}

/// Asserts that `result` is the caller's deadline passing after `attempts` attempts, the message
/// `sent` (maybe) or not.
fn assert_deadline_passed(result: &Result<SendAnswer, UpstreamFailure>, sent: bool, attempts: u32) {
    match result {
        Err(UpstreamFailure {
            error: UpstreamError::DeadlineExceeded { sent: was_sent },
            attempts: made,
        }) => assert_eq!((*was_sent, *made), (sent, attempts), "sent, attempts"),
        other => panic!("{other:?}"),
    }
}

/// [`BODY`] sent by `upstream` with a deadline `within` from now (the call bounded by [`BOUND`]).
async fn send_within(upstream: &Upstream, within: Duration) -> Result<SendAnswer, UpstreamFailure> {
    let deadline = tokio::time::Instant::now() + within;
    bounded(
        "the call",
        upstream.send_message(BODY.to_vec(), &no_trace(), Some(deadline)),
    )
    .await
}

const BODY: &[u8] =
    br#"{"messaging_product":"whatsapp","to":"15550001111","type":"text","text":{"body":"hi"}}"#;

#[tokio::test]
async fn the_callers_deadline_cuts_a_hanging_login_and_nothing_was_sent() {
    let (url, _requests, task) = silent_upstream().await;
    let upstream = Upstream::new(&direct_config(
        url,
        Credentials::Login {
            username: "admin".into(),
            password: Secret::new("pw"),
        },
    ))
    .expect("a client");
    let result = send_within(&upstream, Duration::from_millis(300)).await;
    assert_deadline_passed(&result, false, 0);
    // A second caller, waiting for the first one's login, is cut by its own deadline as well.
    let upstream = Arc::new(upstream);
    let first = tokio::spawn({
        let upstream = upstream.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            upstream
                .send_message(BODY.to_vec(), &no_trace(), Some(deadline))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
    let second = bounded(
        "the waiting call",
        upstream.send_message(BODY.to_vec(), &no_trace(), Some(deadline)),
    )
    .await;
    assert_deadline_passed(&second, false, 0);
    first.abort();
    task.abort();
}

#[tokio::test]
async fn the_callers_deadline_cuts_a_slow_answer_and_the_outcome_is_unknown() {
    let (url, requests, task) = silent_upstream().await;
    let upstream = Upstream::new(&direct_config(
        url,
        Credentials::AccessToken(Secret::new("token")),
    ))
    .expect("a client");
    let result = send_within(&upstream, Duration::from_millis(300)).await;
    assert_deadline_passed(&result, true, 1);
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    task.abort();
}

/// A client for an `https` API that accepts TCP, then never answers the TLS hello (nor reads a
/// request out of it), connecting within `connect_timeout`; the requests it read, none.
async fn silent_tls_upstream(
    connect_timeout: Duration,
) -> (Upstream, UpstreamConfig, Arc<AtomicUsize>, JoinHandle<()>) {
    let (url, requests, task) = silent_upstream().await;
    let config = UpstreamConfig {
        connect_timeout,
        ..direct_config(
            url.replacen("http://", "https://", 1),
            Credentials::AccessToken(Secret::new("token")),
        )
    };
    let upstream = Upstream::new(&config).expect("a client");
    (upstream, config, requests, task)
}

#[tokio::test]
async fn a_tls_handshake_never_answered_ends_at_the_connect_timeout_as_not_sent() {
    let (upstream, config, requests, task) = silent_tls_upstream(Duration::from_millis(300)).await;
    // The caller's deadline is far away: the connect timeout, not the deadline, ends the call,
    // and the service knows the message was not sent.
    let result = send_within(&upstream, BOUND).await;
    match result {
        Err(UpstreamFailure {
            error: UpstreamError::Unreachable(text),
            attempts,
        }) => {
            assert!(text.contains("connect timeout (300ms)"), "{text}");
            assert_eq!(attempts, config.max_attempts, "not sent, so retried");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(requests.load(Ordering::SeqCst), 0);
    task.abort();
}

#[tokio::test]
async fn a_deadline_that_passes_while_connecting_sent_nothing() {
    // The API offers HTTP/2 in the TLS handshake, so the call waits for the HTTP/2 connection
    // being opened; the deadline passes first, before the request was handed to it.
    let (upstream, _config, requests, task) = silent_tls_upstream(Duration::from_secs(5)).await;
    let result = send_within(&upstream, Duration::from_millis(300)).await;
    assert_deadline_passed(&result, false, 1);
    assert_eq!(requests.load(Ordering::SeqCst), 0);
    task.abort();
}

#[tokio::test]
async fn a_deadline_that_passes_while_connecting_over_http1_sent_nothing() {
    // A plaintext API, so HTTP/1.1 through hyper's pool, that is never connected to: the deadline
    // passes while the pool is still connecting, before hyper could write anything.
    let api = common::unconnectable::unconnectable().await;
    let upstream = Upstream::new(&UpstreamConfig {
        connect_timeout: Duration::from_secs(5),
        ..direct_config(
            format!("http://{}", api.address),
            Credentials::AccessToken(Secret::new("token")),
        )
    })
    .expect("a client");
    let result = send_within(&upstream, Duration::from_millis(300)).await;
    assert_deadline_passed(&result, false, 1);
}

#[tokio::test]
async fn an_id_too_long_for_a_url_fails_here_as_not_sent() {
    let (url, requests, task) = silent_upstream().await;
    let upstream = Upstream::new(&direct_config(
        url,
        Credentials::AccessToken(Secret::new("token")),
    ))
    .expect("a client");
    let id = "w".repeat(70_000);
    let result = bounded(
        "the call",
        upstream.mark_read(&id, br#"{"status":"read"}"#.to_vec(), &no_trace(), None),
    )
    .await;
    let Err(
        error @ UpstreamFailure {
            error: UpstreamError::Local(_),
            attempts: 0,
        },
    ) = result
    else {
        panic!("a local failure, not {result:?}");
    };
    assert!(error.to_string().len() < 1000, "{error}");
    let status = Status::from(whatsapp_grpc::error::Error::Upstream(error));
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(outcome(&status), "not_sent");
    assert_eq!(requests.load(Ordering::SeqCst), 0);
    task.abort();
}

#[tokio::test]
async fn a_password_in_the_upstream_url_is_never_shown() {
    let url = common::stack::closed_port_url().await;
    let with_password = url.replacen("http://", "http://admin:hunter2@", 1);
    let upstream = Upstream::new(&direct_config(
        with_password,
        Credentials::AccessToken(Secret::new("token")),
    ))
    .expect("a client");
    let result = bounded(
        "the call",
        upstream.send_message(BODY.to_vec(), &no_trace(), None),
    )
    .await;
    let Err(
        error @ UpstreamFailure {
            error: UpstreamError::Unreachable(_),
            ..
        },
    ) = result
    else {
        panic!("unreachable, not {result:?}");
    };
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Rate limits without the API's JSON.

#[tokio::test]
async fn a_429_without_a_body_was_not_sent_and_says_when_to_come_back() {
    let in_two_minutes = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    for retry_after in [None, Some("7".to_owned()), Some(in_two_minutes)] {
        let header = retry_after.clone();
        let (url, task) = serve(Router::new().fallback(move || {
            let header = header.clone();
            async move {
                let mut response = StatusCode::TOO_MANY_REQUESTS.into_response();
                if let Some(value) = header {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, value.parse().expect("a header value"));
                }
                response
            }
        }))
        .await;
        let mut stack = Stack::start_with(on_upstream(url)).await;
        let status = bounded(
            "the limited call",
            stack.client.send_message(request(text("hi"))),
        )
        .await
        .expect_err("rate limited");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert_eq!(outcome(&status), "not_sent");
        let delay = status.get_details_retry_info().and_then(|r| r.retry_delay);
        match retry_after.as_deref() {
            None => assert_eq!(delay, None),
            Some("7") => assert_eq!(delay, Some(Duration::from_secs(7))),
            Some(_) => {
                let delay = delay.expect("RetryInfo from the date");
                assert!(
                    (Duration::from_secs(100)..=Duration::from_secs(120)).contains(&delay),
                    "{delay:?}"
                );
            }
        }
        task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// The connection cap.

/// Reads one HTTP/1.1 request (head and `Content-Length` body); its request line, or `None` at the
/// end of the connection.
async fn read_request(socket: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n\r\n") {
        if buffer.len() > 64 * 1024 || socket.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buffer.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buffer).into_owned();
    let length: usize = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    socket.read_exact(&mut body).await.ok()?;
    head.lines().next().map(str::to_owned)
}

/// A Cloud stack sending to `url`, with no timed health probe to disturb what the upstream counts.
fn on_upstream(url: String) -> Options {
    Options {
        upstream_url: Some(url),
        health_interval: Duration::from_secs(3600),
        ..Options::new(Flavor::Cloud)
    }
}

/// Sends `n` messages at once; answers each result.
async fn send_many(stack: &Stack, n: usize) -> Vec<Result<(), Status>> {
    let calls: Vec<_> = (0..n)
        .map(|_| {
            let mut client = stack.client.clone();
            tokio::spawn(async move { client.send_message(request(text("hi"))).await.map(|_| ()) })
        })
        .collect();
    let mut results = Vec::new();
    for call in calls {
        results.push(
            bounded("one of many calls", call)
                .await
                .expect("the call task"),
        );
    }
    results
}

#[tokio::test]
async fn no_more_connections_than_calls_in_flight() {
    let slow = SlowUpstream::start(Duration::from_millis(300)).await;
    let (url, seen) = (slow.url.clone(), slow.counts.clone());
    let stack = Stack::start_with(Options {
        upstream_timeout: Duration::from_secs(60),
        max_in_flight: 4,
        ..on_upstream(url)
    })
    .await;
    let results = send_many(&stack, 50).await;
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(seen.messages.load(Ordering::SeqCst), 50);
    assert!(
        seen.most_answering.load(Ordering::SeqCst) <= 4,
        "requests at once"
    );
    // At most 4 in use and at most 4 idle in the pool: a connection may open a moment before a
    // finished one is back in the pool, never more than that.
    let max_open = seen.most_open.load(Ordering::SeqCst);
    assert!(
        max_open <= 2 * 4,
        "{max_open} connections were open at once"
    );
}

#[tokio::test]
async fn callers_beyond_the_queue_are_told_the_service_is_busy() {
    let slow = SlowUpstream::start(Duration::from_millis(300)).await;
    let (url, seen) = (slow.url.clone(), slow.counts.clone());
    let stack = Stack::start_with(Options {
        upstream_timeout: Duration::from_secs(60),
        max_in_flight: 4,
        max_queued: 5,
        ..on_upstream(url)
    })
    .await;
    let results = send_many(&stack, 50).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let mut reasons = HashMap::new();
    for status in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert_eq!(reason(status), "UPSTREAM_BUSY");
        assert_eq!(outcome(status), "not_sent");
        assert_eq!(
            status.get_details_retry_info().and_then(|r| r.retry_delay),
            Some(Duration::from_secs(1))
        );
        *reasons.entry(reason(status)).or_insert(0) += 1;
    }
    assert!(
        reasons.get("UPSTREAM_BUSY").copied().unwrap_or(0) > 0,
        "none was refused"
    );
    // At least the queue was served (the health probe may have held one of the slots).
    assert!(ok >= 5, "the queue was not served: {ok}");
    // The upstream received exactly what was answered OK: no refused call was sent.
    assert_eq!(seen.messages.load(Ordering::SeqCst), ok);
}

/// A Cloud client with one slot, held by a call to an upstream that answers after `delay`; the
/// call's task, and what the upstream saw.
async fn one_slot_held(
    delay: Duration,
) -> (
    Arc<Upstream>,
    JoinHandle<Result<SendAnswer, UpstreamFailure>>,
    Arc<common::upstream::Counts>,
) {
    let slow = SlowUpstream::start(delay).await;
    let mut config = direct_config(
        slow.url.clone(),
        Credentials::AccessToken(Secret::new("token")),
    );
    config.flavor = Flavor::Cloud;
    config.max_in_flight = 1;
    let upstream = Arc::new(Upstream::new(&config).expect("a client"));
    let call = tokio::spawn({
        let upstream = upstream.clone();
        async move {
            upstream
                .send_message(BODY.to_vec(), &no_trace(), None)
                .await
        }
    });
    while slow.counts.messages.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (upstream, call, slow.counts)
}

#[tokio::test]
async fn a_queued_caller_waits_no_longer_than_its_deadline() {
    let (upstream, first, seen) = one_slot_held(Duration::from_secs(2)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
    let second = bounded(
        "the queued call",
        upstream.send_message(BODY.to_vec(), &no_trace(), Some(deadline)),
    )
    .await;
    assert_deadline_passed(&second, false, 0);
    assert_eq!(seen.messages.load(Ordering::SeqCst), 1);
    let first = bounded("the first call", first).await.expect("the task");
    assert!(first.is_ok(), "{first:?}");
}

#[tokio::test]
async fn a_health_probe_without_a_free_slot_is_inconclusive() {
    let (upstream, call, seen) = one_slot_held(Duration::from_secs(3)).await;
    let probe = bounded("the probe", upstream.check_health()).await;
    let Err(error) = probe else {
        panic!("the probe had no slot, yet answered {probe:?}");
    };
    assert!(matches!(error, UpstreamError::Busy { .. }), "{error:?}");
    assert!(error.is_inconclusive() && !error.says_api_is_down());
    // Only the message reached the upstream.
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    call.abort();
}
