//! The sandbox over a real socket: each test starts it on `127.0.0.1:0` with `serve` and talks to
//! it with reqwest, as the facade and its users would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use whatsapp_grpc::sandbox::{self, BAD_GATEWAY_PAGE, SandboxConfig, recipients};

const ACCESS_TOKEN: &str = "static-test-token";
const USERNAME: &str = "admin";
const PASSWORD: &str = "correct horse battery staple";
const PHONE_NUMBER_ID: &str = "106540352242922";
const CLOUD_MESSAGES: &str = "/v23.0/106540352242922/messages";
const CLOUD_PROBE: &str = "/v23.0/106540352242922";
const ON_PREMISES_MESSAGES: &str = "/v1/messages";
const TO: &str = "15550001111";

fn config() -> SandboxConfig {
    SandboxConfig {
        access_token: ACCESS_TOKEN.into(),
        cloud_tokens: HashMap::new(),
        username: USERNAME.into(),
        password: PASSWORD.into(),
        token_lifetime: Duration::from_secs(3600),
        slow_answer: Duration::from_millis(300),
        webhook: None,
    }
}

/// A sandbox serving on a loopback port, and a client for it.
struct Running {
    address: SocketAddr,
    client: reqwest::Client,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// An answer, read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {}", self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("header"))
    }
}

impl Running {
    async fn start(config: SandboxConfig) -> Running {
        // reqwest is built with `rustls-no-provider`: a client cannot be built without a
        // provider installed, even for plain HTTP. Another test may have installed it already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(sandbox::serve(listener, config, async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        Running {
            address,
            client,
            stop,
            task,
        }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("http://{}{path}", self.address))
    }

    /// `method path` with `body` as JSON and the static bearer token.
    async fn call(&self, method: Method, path: &str, body: &Value) -> Answer {
        send(with_json(
            self.request(method, path).bearer_auth(ACCESS_TOKEN),
            body,
        ))
        .await
    }

    async fn login(&self) -> String {
        self.login_at("").await
    }

    /// Logs in to the installation at `prefix` (`""` for the root one).
    async fn login_at(&self, prefix: &str) -> String {
        let answer = send(
            self.request(Method::POST, &format!("{prefix}/v1/users/login"))
                .basic_auth(USERNAME, Some(PASSWORD)),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.json()["users"][0]["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    async fn received(&self) -> Vec<Value> {
        let answer = send(self.request(Method::GET, "/sandbox/received")).await;
        assert_eq!(answer.status, StatusCode::OK);
        match answer.json() {
            Value::Array(entries) => entries,
            other => panic!("received log is not an array: {other}"),
        }
    }

    async fn stats(&self) -> Value {
        let answer = send(self.request(Method::GET, "/sandbox/stats")).await;
        assert_eq!(answer.status, StatusCode::OK);
        answer.json()
    }

    async fn set_healthy(&self, healthy: bool) {
        let answer = send(with_json(
            self.request(Method::PUT, "/sandbox/health"),
            &json!({"healthy": healthy}),
        ))
        .await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    }
}

fn with_json(request: RequestBuilder, body: &Value) -> RequestBuilder {
    request
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string())
}

async fn send(request: RequestBuilder) -> Answer {
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Answer {
        status,
        headers,
        text,
    }
}

fn text_to(to: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": "hello", "preview_url": false},
    })
}

fn on_premises_meta() -> Value {
    json!({"api_status": "stable", "version": "2.53.2"})
}

/// Checks the Cloud error shape; its `fbtrace_id` must equal the `x-fb-trace-id` header.
fn assert_cloud_error(answer: &Answer, status: StatusCode, code: u64, title: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    let body = answer.json();
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    assert_eq!(error["message"], format!("(#{code}) {title}"));
    assert_eq!(error["type"], "OAuthException");
    assert_eq!(error["error_data"]["messaging_product"], "whatsapp");
    assert!(
        error["error_data"]["details"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert_trace_id(answer);
}

/// The Cloud error's `fbtrace_id` is non-empty and equals the `x-fb-trace-id` header.
fn assert_trace_id(answer: &Answer) {
    let body = answer.json();
    let in_body = body["error"]["fbtrace_id"].as_str().expect("fbtrace_id");
    assert!(!in_body.is_empty());
    assert_eq!(answer.header("x-fb-trace-id"), Some(in_body));
}

/// Checks the On-Premises error shape (with `meta`).
fn assert_on_premises_error(answer: &Answer, status: StatusCode, code: u64, title: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    let body = answer.json();
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["code"], code, "{body}");
    assert_eq!(errors[0]["title"], title);
    assert!(
        errors[0]["details"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert_eq!(body["meta"], on_premises_meta());
}

fn assert_cloud_unauthorized(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
    let body = answer.json();
    let trace_id = body["error"]["fbtrace_id"].as_str().expect("fbtrace_id");
    assert_eq!(
        body,
        json!({"error": {
            "message": "Invalid OAuth access token - Cannot parse access token",
            "type": "OAuthException",
            "code": 190,
            "fbtrace_id": trace_id,
        }})
    );
    assert_trace_id(answer);
}

fn assert_on_premises_unauthorized(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
    assert_eq!(
        answer.json(),
        json!({"errors": [{"code": 1005, "title": "Access denied", "details": "Invalid or expired token"}]})
    );
}

/// Seconds since the epoch of `YYYY-MM-DD HH:MM:SS+00:00`, by counting days (independent of the
/// sandbox's conversion, which goes the other way).
fn parse_utc(text: &str) -> u64 {
    assert_eq!(text.len(), 25, "{text}");
    assert!(text.ends_with("+00:00"), "{text}");
    let field = |range: std::ops::Range<usize>| -> u64 { text[range].parse().expect(text) };
    let (year, month, day) = (field(0..4), field(5..7), field(8..10));
    let (hour, minute, second) = (field(11..13), field(14..16), field(17..19));
    assert_eq!(
        (
            &text[4..5],
            &text[7..8],
            &text[10..11],
            &text[13..14],
            &text[16..17]
        ),
        ("-", "-", " ", ":", ":")
    );
    let leap = |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let mut days: u64 = (1970..year).map(|y| if leap(y) { 366 } else { 365 }).sum();
    let month_lengths = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    days += month_lengths[..(month - 1) as usize].iter().sum::<u64>();
    days += day - 1;
    days * 86_400 + hour * 3600 + minute * 60 + second
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

#[tokio::test]
async fn login_issues_a_new_token_each_time_with_its_expiry() {
    let sandbox = Running::start(config()).await;
    let before = now_unix();
    let answer = send(
        sandbox
            .request(Method::POST, "/v1/users/login")
            .basic_auth(USERNAME, Some(PASSWORD)),
    )
    .await;
    let after = now_unix();
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = answer.json();
    let users = body["users"].as_array().expect("users");
    assert_eq!(users.len(), 1);
    let first = users[0]["token"].as_str().expect("token").to_owned();
    assert!(first.len() >= 32, "{first}");
    let expires_after = parse_utc(users[0]["expires_after"].as_str().expect("expires_after"));
    assert!(
        (before + 3600..=after + 3600).contains(&expires_after),
        "{expires_after} not within [{before}, {after}] + 3600"
    );

    let second = sandbox.login().await;
    assert_ne!(first, second);
    // Both stay valid.
    for token in [&first, &second] {
        let answer = send(
            sandbox
                .request(Method::GET, "/v1/health")
                .bearer_auth(token),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
    assert_eq!(sandbox.stats().await["logins"], 2);
}

#[tokio::test]
async fn login_refuses_wrong_or_missing_credentials() {
    let sandbox = Running::start(config()).await;
    let login = || sandbox.request(Method::POST, "/v1/users/login");
    let attempts = [
        login().basic_auth(USERNAME, Some("wrong")),
        login().basic_auth("someone", Some(PASSWORD)),
        login().basic_auth(USERNAME, None::<&str>),
        login(),
        login().header(AUTHORIZATION, "Basic !!not base64!!"),
        login().header(AUTHORIZATION, "Bearer static-test-token"),
        login().header(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Basic \xff\xfe").expect("header"),
        ),
    ];
    let count = attempts.len() as u64;
    for attempt in attempts {
        let answer = send(attempt).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
        assert_eq!(
            answer.json(),
            json!({"errors": [{"code": 1005, "title": "Access denied", "details": "Invalid credentials"}]})
        );
    }
    let stats = sandbox.stats().await;
    assert_eq!(stats["logins"], 0);
    assert_eq!(stats["unauthorized"], count);
}

#[tokio::test]
async fn static_and_login_tokens_are_accepted_where_they_apply() {
    let sandbox = Running::start(config()).await;
    let login_token = sandbox.login().await;

    let answer = sandbox
        .call(Method::POST, CLOUD_MESSAGES, &text_to(TO))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let answer = sandbox
        .call(Method::POST, ON_PREMISES_MESSAGES, &text_to(TO))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let answer = send(with_json(
        sandbox
            .request(Method::POST, ON_PREMISES_MESSAGES)
            .bearer_auth(&login_token),
        &text_to(TO),
    ))
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    assert_eq!(sandbox.stats().await["unauthorized"], 0);

    // A login token is an On-Premises thing: the Cloud paths refuse it.
    let answer = send(with_json(
        sandbox
            .request(Method::POST, CLOUD_MESSAGES)
            .bearer_auth(&login_token),
        &text_to(TO),
    ))
    .await;
    assert_cloud_unauthorized(&answer);
    assert_eq!(sandbox.stats().await["unauthorized"], 1);
}

#[tokio::test]
async fn bad_or_missing_bearer_tokens_are_refused_in_each_flavor_shape() {
    let sandbox = Running::start(config()).await;
    let bad_authorizations: [Option<HeaderValue>; 5] = [
        Some(HeaderValue::from_static("Bearer not-the-token")),
        Some(HeaderValue::from_static("Bearer")),
        Some(HeaderValue::from_static("Basic YWRtaW46eA==")),
        Some(HeaderValue::from_bytes(b"Bearer \xffstatic-test-token").expect("header")),
        None,
    ];
    let mut refused = 0;
    for authorization in bad_authorizations {
        let with = |request: RequestBuilder| match &authorization {
            Some(value) => request.header(AUTHORIZATION, value.clone()),
            None => request,
        };
        let cloud = send(with(with_json(
            sandbox.request(Method::POST, CLOUD_MESSAGES),
            &text_to(TO),
        )))
        .await;
        assert_cloud_unauthorized(&cloud);
        let probe = send(with(sandbox.request(Method::GET, CLOUD_PROBE))).await;
        assert_cloud_unauthorized(&probe);
        let on_premises = send(with(with_json(
            sandbox.request(Method::POST, ON_PREMISES_MESSAGES),
            &text_to(TO),
        )))
        .await;
        assert_on_premises_unauthorized(&on_premises);
        let mark_read = send(with(with_json(
            sandbox.request(Method::PUT, "/v1/messages/gBEGkYiEB1VXAglK1ZEqA1YKPrU"),
            &json!({"status": "read"}),
        )))
        .await;
        assert_on_premises_unauthorized(&mark_read);
        let health = send(with(sandbox.request(Method::GET, "/v1/health"))).await;
        assert_on_premises_unauthorized(&health);
        refused += 5;
    }
    assert_eq!(sandbox.stats().await["unauthorized"], refused);
}

#[tokio::test]
async fn login_tokens_expire() {
    let sandbox = Running::start(SandboxConfig {
        token_lifetime: Duration::from_secs(1),
        ..config()
    })
    .await;
    let token = sandbox.login().await;
    let health = || {
        sandbox
            .request(Method::GET, "/v1/health")
            .bearer_auth(&token)
    };
    assert_eq!(send(health()).await.status, StatusCode::OK);

    // Wait past the lifetime (this only lets time pass; nothing measures it).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_on_premises_unauthorized(&send(health()).await);

    // A new login gives a working token again.
    let fresh = sandbox.login().await;
    let answer = send(
        sandbox
            .request(Method::GET, "/v1/health")
            .bearer_auth(&fresh),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn revoking_stops_every_login_token_issued_so_far() {
    let sandbox = Running::start(config()).await;
    let tokens = [sandbox.login().await, sandbox.login().await];
    let answer = send(sandbox.request(Method::POST, "/sandbox/revoke-tokens")).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    for token in &tokens {
        let answer = send(with_json(
            sandbox
                .request(Method::POST, ON_PREMISES_MESSAGES)
                .bearer_auth(token),
            &text_to(TO),
        ))
        .await;
        assert_on_premises_unauthorized(&answer);
    }
    // The static token is not a login token.
    let answer = sandbox
        .call(Method::POST, ON_PREMISES_MESSAGES, &text_to(TO))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    // Tokens issued after the revocation work.
    let fresh = sandbox.login().await;
    let answer = send(
        sandbox
            .request(Method::GET, "/v1/health")
            .bearer_auth(&fresh),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn on_premises_send_answers_201_with_unique_ids() {
    let sandbox = Running::start(config()).await;
    let mut ids = std::collections::HashSet::new();
    for _ in 0..20 {
        let answer = sandbox
            .call(Method::POST, ON_PREMISES_MESSAGES, &text_to(TO))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        let body = answer.json();
        let id = body["messages"][0]["id"].as_str().expect("id").to_owned();
        assert!(id.starts_with("gBEG") && id.len() > 8, "{id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{id}"
        );
        assert_eq!(
            body,
            json!({"messages": [{"id": id}], "meta": on_premises_meta()})
        );
        assert!(ids.insert(id));
    }
}

/// Every body built from the Cloud API's current docs (`tests/fixtures_cloud_docs/`) is taken by the
/// Cloud endpoint; the On-Premises endpoint refuses the Cloud-only shapes among them as a parameter
/// error naming the shape, and takes the rest.
#[tokio::test]
async fn cloud_only_shapes_are_taken_on_cloud_and_refused_on_premises() {
    // The doc bodies both flavors take; every other Cloud one holds a Cloud-only shape.
    const BOTH_FLAVORS: &[&str] = &[
        "template_authentication_copy_code",
        "template_catalog_button",
    ];
    // Bodies for another Cloud endpoint than the messages endpoint.
    const OTHER_ENDPOINT: &[&str] = &["marketing_messages_template"];
    let sandbox = Running::start(config()).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures_cloud_docs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
        if fixture["flavor"] != "cloud" || OTHER_ENDPOINT.contains(&name.as_str()) {
            continue;
        }
        let body = &fixture["body"];
        let answer = sandbox.call(Method::POST, CLOUD_MESSAGES, body).await;
        assert_eq!(answer.status, StatusCode::OK, "{name}: {}", answer.text);

        let mut on_premises = body.clone();
        on_premises
            .as_object_mut()
            .expect("object")
            .remove("messaging_product");
        let answer = sandbox
            .call(Method::POST, ON_PREMISES_MESSAGES, &on_premises)
            .await;
        if BOTH_FLAVORS.contains(&name.as_str()) {
            assert_eq!(
                answer.status,
                StatusCode::CREATED,
                "{name}: {}",
                answer.text
            );
        } else {
            assert_on_premises_error(
                &answer,
                StatusCode::BAD_REQUEST,
                1009,
                "Parameter value is not valid",
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} doc fixtures");
}

/// A group's message is pinned (or unpinned) with a `pin` body to the group; the Cloud endpoint
/// refuses one to an individual as a parameter error, and the On-Premises endpoint refuses it as a
/// Cloud-only shape.
#[tokio::test]
async fn pins_are_taken_for_groups_only() {
    let sandbox = Running::start(config()).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures_cloud_docs");
    for name in ["group_pin", "group_unpin"] {
        let fixture: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("read"),
        )
        .expect("JSON");
        let answer = sandbox
            .call(Method::POST, CLOUD_MESSAGES, &fixture["body"])
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{name}: {}", answer.text);
        assert!(
            answer.json()["messages"][0]["id"].is_string(),
            "{name}: {}",
            answer.text
        );
        let mut to_individual = fixture["body"].clone();
        to_individual["recipient_type"] = Value::from("individual");
        to_individual["to"] = Value::from(TO);
        let answer = sandbox
            .call(Method::POST, CLOUD_MESSAGES, &to_individual)
            .await;
        assert_cloud_error(&answer, StatusCode::BAD_REQUEST, 100, "Invalid parameter");
        assert!(
            answer.text.contains("group only"),
            "{name}: {}",
            answer.text
        );
        to_individual
            .as_object_mut()
            .expect("object")
            .remove("messaging_product");
        let answer = sandbox
            .call(Method::POST, ON_PREMISES_MESSAGES, &to_individual)
            .await;
        assert_on_premises_error(
            &answer,
            StatusCode::BAD_REQUEST,
            1009,
            "Parameter value is not valid",
        );
        assert!(answer.text.contains("type pin"), "{name}: {}", answer.text);
    }
}

/// The Marketing Messages API takes template messages, and refuses anything else as a parameter
/// error.
#[tokio::test]
async fn the_marketing_messages_api_takes_templates_only() {
    let sandbox = Running::start(config()).await;
    let path = "/v23.0/106540352242922/marketing_messages";
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures_cloud_docs");
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("marketing_messages_template.json")).expect("read"),
    )
    .expect("JSON");
    let answer = sandbox.call(Method::POST, path, &fixture["body"]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(
        answer.json()["messages"][0]["id"].is_string(),
        "{}",
        answer.text
    );
    let answer = sandbox.call(Method::POST, path, &text_to(TO)).await;
    assert_cloud_error(&answer, StatusCode::BAD_REQUEST, 100, "Invalid parameter");
}

#[tokio::test]
async fn cloud_send_answers_contacts_and_unique_wamids() {
    let sandbox = Running::start(config()).await;
    let mut ids = std::collections::HashSet::new();
    for to in ["+1 (555) 000-1111", TO, "15550002222"] {
        let answer = sandbox
            .call(Method::POST, CLOUD_MESSAGES, &text_to(to))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let body = answer.json();
        let id = body["messages"][0]["id"].as_str().expect("id").to_owned();
        let encoded = id.strip_prefix("wamid.").expect("wamid. prefix");
        assert!(
            !encoded.is_empty()
                && encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)),
            "{id}"
        );
        let wa_id: String = to.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(
            body,
            json!({
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [{"id": id, "message_status": "accepted"}],
            })
        );
        assert!(ids.insert(id));
    }
}

#[tokio::test]
async fn mark_read_in_both_flavors() {
    let sandbox = Running::start(config()).await;
    let on_premises_path = "/v1/messages/gBEGkYiEB1VXAglK1ZEqA1YKPrU";
    let answer = sandbox
        .call(Method::PUT, on_premises_path, &json!({"status": "read"}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json(), json!({"meta": on_premises_meta()}));

    let cloud_body = json!({
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.HBgLMTU1NTAwMDExMTEVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
    });
    let answer = sandbox
        .call(Method::POST, CLOUD_MESSAGES, &cloud_body)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json(), json!({"success": true}));

    // An On-Premises PUT that does not mark read is a parameter error.
    let answer = sandbox
        .call(
            Method::PUT,
            on_premises_path,
            &json!({"status": "delivered"}),
        )
        .await;
    assert_on_premises_error(
        &answer,
        StatusCode::BAD_REQUEST,
        1008,
        "Required parameter is missing",
    );

    let received = sandbox.received().await;
    let seen: Vec<_> = received
        .iter()
        .map(|entry| (entry["method"].clone(), entry["path"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (json!("PUT"), json!(on_premises_path)),
            (json!("POST"), json!(CLOUD_MESSAGES)),
            (json!("PUT"), json!(on_premises_path)),
        ]
    );
    assert_eq!(received[1]["body"], cloud_body);
}

/// The special recipients that answer an API error: (to, Cloud status, code, title,
/// On-Premises status, code, title).
const FAILURES: [(&str, StatusCode, u64, &str, StatusCode, u64, &str); 6] = [
    (
        recipients::PARAMETER_ERROR,
        StatusCode::BAD_REQUEST,
        100,
        "Invalid parameter",
        StatusCode::BAD_REQUEST,
        1008,
        "Required parameter is missing",
    ),
    (
        recipients::NOT_A_WHATSAPP_USER,
        StatusCode::BAD_REQUEST,
        131_026,
        "Message undeliverable",
        StatusCode::NOT_FOUND,
        1013,
        "User is not valid",
    ),
    (
        recipients::WINDOW_CLOSED,
        StatusCode::BAD_REQUEST,
        131_047,
        "Re-engagement message",
        StatusCode::BAD_REQUEST,
        470,
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number",
    ),
    (
        recipients::RATE_LIMITED,
        StatusCode::TOO_MANY_REQUESTS,
        130_429,
        "Rate limit hit",
        StatusCode::TOO_MANY_REQUESTS,
        1015,
        "Too many requests",
    ),
    (
        recipients::INTERNAL_ERROR,
        StatusCode::INTERNAL_SERVER_ERROR,
        131_000,
        "Something went wrong",
        StatusCode::INTERNAL_SERVER_ERROR,
        1000,
        "Generic error",
    ),
    (
        recipients::UNAVAILABLE,
        StatusCode::SERVICE_UNAVAILABLE,
        131_016,
        "Service unavailable",
        StatusCode::SERVICE_UNAVAILABLE,
        1011,
        "Service not ready",
    ),
];

#[test]
fn the_special_recipients_are_the_documented_numbers() {
    assert_eq!(
        [
            recipients::PARAMETER_ERROR,
            recipients::NOT_A_WHATSAPP_USER,
            recipients::WINDOW_CLOSED,
            recipients::RATE_LIMITED,
            recipients::INTERNAL_ERROR,
            recipients::UNAVAILABLE,
            recipients::BAD_GATEWAY,
            recipients::SLOW_ANSWER,
        ],
        [
            "15550000100",
            "15550000131",
            "15550000470",
            "15550000429",
            "15550000500",
            "15550000503",
            "15550000502",
            "15550000408",
        ]
    );
}

#[tokio::test]
async fn special_recipients_answer_cloud_errors() {
    let sandbox = Running::start(config()).await;
    for (to, status, code, title, ..) in FAILURES {
        let answer = sandbox
            .call(Method::POST, CLOUD_MESSAGES, &text_to(to))
            .await;
        assert_cloud_error(&answer, status, code, title);
        let retry_after = (status == StatusCode::TOO_MANY_REQUESTS).then_some("7");
        assert_eq!(answer.header("retry-after"), retry_after, "{to}");
    }
}

#[tokio::test]
async fn special_recipients_answer_on_premises_errors() {
    let sandbox = Running::start(config()).await;
    for (to, .., status, code, title) in FAILURES {
        let answer = sandbox
            .call(Method::POST, ON_PREMISES_MESSAGES, &text_to(to))
            .await;
        assert_on_premises_error(&answer, status, code, title);
        let retry_after = (status == StatusCode::TOO_MANY_REQUESTS).then_some("7");
        assert_eq!(answer.header("retry-after"), retry_after, "{to}");
        assert_eq!(answer.header("x-fb-trace-id"), None);
    }
}

#[tokio::test]
async fn the_bad_gateway_recipient_gets_a_proxy_html_page_in_both_flavors() {
    let sandbox = Running::start(config()).await;
    for path in [CLOUD_MESSAGES, ON_PREMISES_MESSAGES] {
        let answer = sandbox
            .call(Method::POST, path, &text_to(recipients::BAD_GATEWAY))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{path}");
        assert!(
            answer
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{:?}",
            answer.headers
        );
        assert_eq!(answer.text, BAD_GATEWAY_PAGE);
        assert_eq!(
            answer.text,
            "<html><body><h1>502 Bad Gateway</h1></body></html>"
        );
    }
}

#[tokio::test]
async fn the_slow_recipient_still_gets_a_success() {
    let sandbox = Running::start(config()).await;
    let answer = sandbox
        .call(
            Method::POST,
            CLOUD_MESSAGES,
            &text_to(recipients::SLOW_ANSWER),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        answer.json()["contacts"][0]["wa_id"],
        recipients::SLOW_ANSWER
    );
    let answer = sandbox
        .call(
            Method::POST,
            ON_PREMISES_MESSAGES,
            &text_to(recipients::SLOW_ANSWER),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    assert!(answer.json()["messages"][0]["id"].is_string());
}

#[tokio::test]
async fn the_received_log_keeps_every_request_as_sent_until_cleared() {
    let sandbox = Running::start(config()).await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let tracestate = "congo=t61rcWkgMzE";
    // Key order, nesting and unusual values must survive (compared as JSON).
    let first = json!({
        "to": TO,
        "type": "template",
        "messaging_product": "whatsapp",
        "template": {"name": "hello_world", "language": {"code": "en_US"}, "components": []},
        "biz_opaque_callback_data": "ünïcödé ✓",
    });
    let answer = send(
        sandbox
            .request(Method::POST, CLOUD_MESSAGES)
            .bearer_auth(ACCESS_TOKEN)
            .header(CONTENT_TYPE, "application/json")
            .header("traceparent", traceparent)
            .header("tracestate", tracestate)
            .body(r#"{"to":"15550001111","type":"template","messaging_product":"whatsapp","template":{"name":"hello_world","language":{"code":"en_US"},"components":[]},"biz_opaque_callback_data":"\u00fcn\u00efc\u00f6d\u00e9 ✓"}"#),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let second = text_to(recipients::INTERNAL_ERROR);
    let answer = sandbox
        .call(Method::POST, ON_PREMISES_MESSAGES, &second)
        .await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    let answer = send(
        sandbox
            .request(Method::POST, ON_PREMISES_MESSAGES)
            .bearer_auth(ACCESS_TOKEN)
            .body("this is not JSON"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    // A refused request reached the endpoint too.
    let third = text_to(TO);
    let answer = send(with_json(
        sandbox
            .request(Method::POST, CLOUD_MESSAGES)
            .bearer_auth("wrong"),
        &third,
    ))
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    // Other endpoints are not logged.
    sandbox.login().await;
    send(
        sandbox
            .request(Method::GET, "/v1/health")
            .bearer_auth(ACCESS_TOKEN),
    )
    .await;

    let received = sandbox.received().await;
    assert_eq!(
        received,
        [
            json!({"method": "POST", "path": CLOUD_MESSAGES, "phone_number_id": PHONE_NUMBER_ID,
                   "installation": null, "traceparent": traceparent, "tracestate": tracestate,
                   "body": first}),
            json!({"method": "POST", "path": ON_PREMISES_MESSAGES, "phone_number_id": null,
                   "installation": null, "traceparent": null, "tracestate": null,
                   "body": second}),
            json!({"method": "POST", "path": ON_PREMISES_MESSAGES, "phone_number_id": null,
                   "installation": null, "traceparent": null, "tracestate": null, "body": null}),
            json!({"method": "POST", "path": CLOUD_MESSAGES, "phone_number_id": PHONE_NUMBER_ID,
                   "installation": null, "traceparent": null, "tracestate": null,
                   "body": third}),
        ]
    );
    let stats = sandbox.stats().await;
    assert_eq!(
        stats,
        json!({"logins": 1, "received": 4, "health_checks": 1, "unauthorized": 1})
    );

    let answer = send(sandbox.request(Method::DELETE, "/sandbox/received")).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(sandbox.received().await, Vec::<Value>::new());

    // Logging starts again after clearing; the counter keeps counting.
    let answer = sandbox.call(Method::POST, CLOUD_MESSAGES, &third).await;
    assert_eq!(answer.status, StatusCode::OK);
    let received = sandbox.received().await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["body"], third);
    assert_eq!(sandbox.stats().await["received"], 5);
}

#[tokio::test]
async fn received_log_entries_deserialize_into_the_public_type() {
    let sandbox = Running::start(config()).await;
    let body = text_to(TO);
    sandbox.call(Method::POST, CLOUD_MESSAGES, &body).await;
    let answer = send(sandbox.request(Method::GET, "/sandbox/received")).await;
    let entries: Vec<sandbox::ReceivedRequest> =
        serde_json::from_str(&answer.text).expect("received log");
    assert_eq!(
        entries,
        [sandbox::ReceivedRequest {
            method: "POST".into(),
            path: CLOUD_MESSAGES.into(),
            phone_number_id: Some(PHONE_NUMBER_ID.into()),
            installation: None,
            traceparent: None,
            tracestate: None,
            body: Some(body),
        }]
    );
    let answer = send(sandbox.request(Method::GET, "/sandbox/stats")).await;
    let stats: sandbox::SandboxStats = serde_json::from_str(&answer.text).expect("stats");
    assert_eq!(
        stats,
        sandbox::SandboxStats {
            logins: 0,
            received: 1,
            health_checks: 0,
            unauthorized: 0,
        }
    );
}

#[tokio::test]
async fn on_premises_health_follows_the_switch() {
    let sandbox = Running::start(config()).await;
    let health = || {
        send(
            sandbox
                .request(Method::GET, "/v1/health")
                .bearer_auth(ACCESS_TOKEN),
        )
    };
    let gateway = |status: &str| json!({"health": {"gateway_status": status}});

    let answer = health().await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), gateway("connected"));
    sandbox.set_healthy(false).await;
    let answer = health().await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), gateway("disconnected"));
    sandbox.set_healthy(true).await;
    assert_eq!(health().await.json(), gateway("connected"));
    assert_eq!(sandbox.stats().await["health_checks"], 3);
}

#[tokio::test]
async fn cloud_probe_follows_the_switch() {
    let sandbox = Running::start(config()).await;
    let probe = || {
        send(
            sandbox
                .request(Method::GET, CLOUD_PROBE)
                .bearer_auth(ACCESS_TOKEN),
        )
    };
    let healthy = json!({
        "id": "106540352242922",
        "display_phone_number": "+1 555-000-0000",
        "verified_name": "Sandbox",
        "quality_rating": "GREEN",
    });

    let answer = probe().await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json(), healthy);
    sandbox.set_healthy(false).await;
    assert_cloud_error(
        &probe().await,
        StatusCode::SERVICE_UNAVAILABLE,
        131_016,
        "Service unavailable",
    );
    sandbox.set_healthy(true).await;
    assert_eq!(probe().await.json(), healthy);
    assert_eq!(sandbox.stats().await["health_checks"], 3);
}

#[tokio::test]
async fn the_health_switch_refuses_a_bad_body() {
    let sandbox = Running::start(config()).await;
    for body in ["", "{\"healthy\": \"yes\"}", "not json", "{}"] {
        let answer = send(
            sandbox
                .request(Method::PUT, "/sandbox/health")
                .body(body.to_owned()),
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer.json()["error"].is_string());
    }
    // Still healthy.
    let answer = send(
        sandbox
            .request(Method::GET, "/v1/health")
            .bearer_auth(ACCESS_TOKEN),
    )
    .await;
    assert_eq!(answer.json()["health"]["gateway_status"], "connected");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_400_in_each_flavor_shape() {
    let sandbox = Running::start(config()).await;
    for body in ["", "{\"to\": ", "to=15550001111&type=text", "\u{0}\u{1}"] {
        let answer = send(
            sandbox
                .request(Method::POST, CLOUD_MESSAGES)
                .bearer_auth(ACCESS_TOKEN)
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_owned()),
        )
        .await;
        assert_cloud_error(&answer, StatusCode::BAD_REQUEST, 100, "Invalid parameter");

        let answer = send(
            sandbox
                .request(Method::POST, ON_PREMISES_MESSAGES)
                .bearer_auth(ACCESS_TOKEN)
                .body(body.to_owned()),
        )
        .await;
        assert_on_premises_error(&answer, StatusCode::BAD_REQUEST, 1000, "Generic error");

        let answer = send(
            sandbox
                .request(Method::PUT, "/v1/messages/gBEGkYiEB1VXAglK1ZEqA1YKPrU")
                .bearer_auth(ACCESS_TOKEN)
                .body(body.to_owned()),
        )
        .await;
        assert_on_premises_error(&answer, StatusCode::BAD_REQUEST, 1000, "Generic error");
    }
    // Bytes that are not even UTF-8.
    let answer = send(
        sandbox
            .request(Method::POST, CLOUD_MESSAGES)
            .bearer_auth(ACCESS_TOKEN)
            .body(vec![0xff, 0xfe, 0x7b]),
    )
    .await;
    assert_cloud_error(&answer, StatusCode::BAD_REQUEST, 100, "Invalid parameter");
}

#[tokio::test]
async fn a_send_without_recipient_is_a_parameter_error() {
    let sandbox = Running::start(config()).await;
    let body = json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "hi"}});
    let answer = sandbox.call(Method::POST, CLOUD_MESSAGES, &body).await;
    assert_cloud_error(&answer, StatusCode::BAD_REQUEST, 100, "Invalid parameter");
    let answer = sandbox
        .call(Method::POST, ON_PREMISES_MESSAGES, &body)
        .await;
    assert_on_premises_error(
        &answer,
        StatusCode::BAD_REQUEST,
        1008,
        "Required parameter is missing",
    );
    let answer = sandbox
        .call(
            Method::POST,
            ON_PREMISES_MESSAGES,
            &json!(["not", "an", "object"]),
        )
        .await;
    assert_on_premises_error(
        &answer,
        StatusCode::BAD_REQUEST,
        1008,
        "Required parameter is missing",
    );
}

#[tokio::test]
async fn unknown_paths_are_404_and_not_logged() {
    let sandbox = Running::start(config()).await;
    let unknown = [
        (Method::GET, "/"),
        (Method::GET, "/nope"),
        (Method::GET, "/v1/users"),
        (Method::POST, "/v1/messages/gBEG/extra"),
        (Method::GET, "/sandbox/unknown"),
        (Method::POST, "/sandbox/received/1"),
        // Not a Graph API version: not a Cloud path.
        (Method::POST, "/latest/106540352242922/messages"),
        (Method::POST, "/v1/106540352242922/messages"),
        (Method::GET, "/sandbox/106540352242922"),
        (Method::GET, "/v23.0/106540352242922/messages/extra"),
        (Method::GET, "/installations/legacy"),
        (Method::POST, "/installations/legacy/messages"),
        (Method::POST, "/installations/legacy/v2/messages"),
        (Method::GET, "/installations/legacy/v1/users"),
        (Method::PUT, "/sandbox/installations/legacy"),
    ];
    for (method, path) in unknown {
        let answer = sandbox.call(method.clone(), path, &text_to(TO)).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(
            answer.json(),
            json!({"error": "not found"}),
            "{method} {path}"
        );
    }
    // A known path with the wrong method is not a 404.
    let answer = sandbox
        .call(Method::GET, ON_PREMISES_MESSAGES, &text_to(TO))
        .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(sandbox.received().await.is_empty());
    assert_eq!(sandbox.stats().await["health_checks"], 0);
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_then_stops_accepting() {
    let sandbox = Running::start(SandboxConfig {
        slow_answer: Duration::from_secs(1),
        ..config()
    })
    .await;
    let Running {
        address,
        client,
        stop,
        task,
    } = sandbox;

    // Start a slow request, and wait until the sandbox has it.
    let slow = tokio::spawn(
        client
            .post(format!("http://{address}{ON_PREMISES_MESSAGES}"))
            .bearer_auth(ACCESS_TOKEN)
            .body(text_to(recipients::SLOW_ANSWER).to_string())
            .send(),
    );
    let log = format!("http://{address}/sandbox/received");
    loop {
        let entries = client
            .get(&log)
            .send()
            .await
            .expect("log")
            .text()
            .await
            .expect("log");
        if entries != "[]" {
            break;
        }
        tokio::task::yield_now().await;
    }

    stop.send(()).expect("sandbox still running");
    let answer = slow.await.expect("join").expect("slow answer");
    assert_eq!(answer.status(), StatusCode::CREATED);
    // A guard against hanging, not a timing assertion.
    tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("serve did not return after shutdown")
        .expect("join")
        .expect("serve");
    assert!(
        TcpStream::connect(address).await.is_err(),
        "the sandbox still accepts connections on {address}"
    );
}

const LEGACY: &str = "/installations/legacy";
const EU: &str = "/installations/eu-1";

/// `PUT /sandbox/installations/{name}/health`.
async fn set_installation_healthy(sandbox: &Running, name: &str, healthy: bool) -> Answer {
    send(with_json(
        sandbox.request(
            Method::PUT,
            &format!("/sandbox/installations/{name}/health"),
        ),
        &json!({"healthy": healthy}),
    ))
    .await
}

/// The gateway status of the installation at `prefix`, asked with the static token.
async fn gateway_status(sandbox: &Running, prefix: &str) -> String {
    let answer = send(
        sandbox
            .request(Method::GET, &format!("{prefix}/v1/health"))
            .bearer_auth(ACCESS_TOKEN),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{prefix}: {}", answer.text);
    answer.json()["health"]["gateway_status"]
        .as_str()
        .expect("gateway_status")
        .to_owned()
}

#[tokio::test]
async fn cloud_phone_number_ids_each_accept_only_their_own_token() {
    let (first, second, unlisted) = ("111111111111111", "222222222222222", "333333333333333");
    let sandbox = Running::start(SandboxConfig {
        cloud_tokens: HashMap::from([
            (first.to_owned(), "token-of-first".to_owned()),
            (second.to_owned(), "token-of-second".to_owned()),
        ]),
        ..config()
    })
    .await;
    let messages = |id: &str, token: &str| {
        send(with_json(
            sandbox
                .request(Method::POST, &format!("/v23.0/{id}/messages"))
                .bearer_auth(token),
            &text_to(TO),
        ))
    };
    let probe = |id: &str, token: &str| {
        send(
            sandbox
                .request(Method::GET, &format!("/v24.0/{id}"))
                .bearer_auth(token),
        )
    };

    let cases = [
        (first, "token-of-first", "token-of-second"),
        (second, "token-of-second", "token-of-first"),
        (unlisted, ACCESS_TOKEN, "token-of-first"),
    ];
    for (id, own, other) in cases {
        let answer = messages(id, own).await;
        assert_eq!(answer.status, StatusCode::OK, "{id}: {}", answer.text);
        let answer = probe(id, own).await;
        assert_eq!(answer.status, StatusCode::OK, "{id}: {}", answer.text);
        assert_eq!(answer.json()["id"], id);
        assert_cloud_unauthorized(&messages(id, other).await);
        assert_cloud_unauthorized(&probe(id, other).await);
    }
    // A phone number id with its own token no longer takes the static one.
    assert_cloud_unauthorized(&messages(first, ACCESS_TOKEN).await);
    assert_cloud_unauthorized(&probe(second, ACCESS_TOKEN).await);
    assert_eq!(sandbox.stats().await["unauthorized"], 8);

    // Each entry of the received log names its phone number id.
    let seen: Vec<_> = sandbox
        .received()
        .await
        .iter()
        .map(|entry| {
            (
                entry["phone_number_id"].clone(),
                entry["installation"].clone(),
                entry["path"].clone(),
            )
        })
        .collect();
    let entry = |id: &str| {
        (
            json!(id),
            Value::Null,
            json!(format!("/v23.0/{id}/messages")),
        )
    };
    assert_eq!(
        seen,
        [
            entry(first),
            entry(first),
            entry(second),
            entry(second),
            entry(unlisted),
            entry(unlisted),
            entry(first),
        ]
    );
}

#[tokio::test]
async fn installations_log_in_separately_and_refuse_each_others_tokens() {
    let sandbox = Running::start(config()).await;
    let prefixes = ["", LEGACY, EU];
    let mut tokens = Vec::new();
    for prefix in prefixes {
        tokens.push(sandbox.login_at(prefix).await);
    }
    assert_eq!(sandbox.stats().await["logins"], 3);

    let mark_read = "/v1/messages/gBEGkYiEB1VXAglK1ZEqA1YKPrU";
    for (issuer, token) in prefixes.iter().zip(&tokens) {
        for prefix in prefixes {
            let health = send(
                sandbox
                    .request(Method::GET, &format!("{prefix}/v1/health"))
                    .bearer_auth(token),
            )
            .await;
            let sent = send(with_json(
                sandbox
                    .request(Method::POST, &format!("{prefix}/v1/messages"))
                    .bearer_auth(token),
                &text_to(TO),
            ))
            .await;
            let read = send(with_json(
                sandbox
                    .request(Method::PUT, &format!("{prefix}{mark_read}"))
                    .bearer_auth(token),
                &json!({"status": "read"}),
            ))
            .await;
            if prefix == *issuer {
                assert_eq!(health.status, StatusCode::OK, "{prefix}: {}", health.text);
                assert_eq!(sent.status, StatusCode::CREATED, "{prefix}: {}", sent.text);
                assert_eq!(read.status, StatusCode::OK, "{prefix}: {}", read.text);
            } else {
                assert_on_premises_unauthorized(&health);
                assert_on_premises_unauthorized(&sent);
                assert_on_premises_unauthorized(&read);
            }
        }
    }
    // The static token works for every installation.
    for prefix in prefixes {
        let answer = sandbox
            .call(Method::POST, &format!("{prefix}/v1/messages"), &text_to(TO))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::CREATED,
            "{prefix}: {}",
            answer.text
        );
    }

    // Each entry of the received log names its installation (none for the root one), and its
    // path keeps the prefix.
    let received = sandbox.received().await;
    assert_eq!(received.len(), 3 * 3 * 2 + 3);
    for entry in &received {
        let path = entry["path"].as_str().expect("path");
        let expected = if path.starts_with(LEGACY) {
            json!("legacy")
        } else if path.starts_with(EU) {
            json!("eu-1")
        } else {
            assert!(path.starts_with("/v1/messages"), "{path}");
            Value::Null
        };
        assert_eq!(entry["installation"], expected, "{entry}");
        assert_eq!(entry["phone_number_id"], Value::Null, "{entry}");
    }
    let legacy_sends = received
        .iter()
        .filter(|entry| entry["method"] == "POST" && entry["installation"] == "legacy")
        .count();
    assert_eq!(legacy_sends, 4);

    // Revoking stops the login tokens of every installation.
    let answer = send(sandbox.request(Method::POST, "/sandbox/revoke-tokens")).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    for (prefix, token) in prefixes.iter().zip(&tokens) {
        let answer = send(
            sandbox
                .request(Method::GET, &format!("{prefix}/v1/health"))
                .bearer_auth(token),
        )
        .await;
        assert_on_premises_unauthorized(&answer);
    }
}

#[tokio::test]
async fn each_installation_has_its_own_health_switch() {
    let sandbox = Running::start(config()).await;
    let cloud_probe = || {
        send(
            sandbox
                .request(Method::GET, CLOUD_PROBE)
                .bearer_auth(ACCESS_TOKEN),
        )
    };
    // Switched before its first request: the switch tracks the installation.
    let answer = set_installation_healthy(&sandbox, "legacy", false).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert_eq!(gateway_status(&sandbox, LEGACY).await, "disconnected");
    assert_eq!(gateway_status(&sandbox, EU).await, "connected");
    assert_eq!(gateway_status(&sandbox, "").await, "connected");
    assert_eq!(cloud_probe().await.status, StatusCode::OK);

    // The global switch sets every installation, Cloud and those tracked later.
    sandbox.set_healthy(false).await;
    for prefix in ["", LEGACY, EU, "/installations/later"] {
        assert_eq!(
            gateway_status(&sandbox, prefix).await,
            "disconnected",
            "{prefix}"
        );
    }
    assert_eq!(cloud_probe().await.status, StatusCode::SERVICE_UNAVAILABLE);
    let answer = set_installation_healthy(&sandbox, "eu-1", true).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert_eq!(gateway_status(&sandbox, EU).await, "connected");
    assert_eq!(gateway_status(&sandbox, LEGACY).await, "disconnected");
    assert_eq!(gateway_status(&sandbox, "").await, "disconnected");

    sandbox.set_healthy(true).await;
    for prefix in ["", LEGACY, EU, "/installations/later"] {
        assert_eq!(
            gateway_status(&sandbox, prefix).await,
            "connected",
            "{prefix}"
        );
    }

    // A bad body or name changes nothing.
    for body in ["", "{}", "{\"healthy\": 0}"] {
        let answer = send(
            sandbox
                .request(Method::PUT, "/sandbox/installations/legacy/health")
                .body(body.to_owned()),
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer.json()["error"].is_string());
    }
    let too_long = "x".repeat(sandbox::MAX_INSTALLATION_NAME_LEN + 1);
    for name in ["a.b", "%C3%A9", too_long.as_str()] {
        let answer = set_installation_healthy(&sandbox, name, false).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{name}: {}",
            answer.text
        );
        assert!(answer.json()["error"].is_string());
    }
    assert_eq!(gateway_status(&sandbox, LEGACY).await, "connected");
}

#[tokio::test]
async fn the_number_of_installations_is_bounded() {
    let sandbox = Running::start(config()).await;
    for i in 0..sandbox::MAX_INSTALLATIONS {
        assert_eq!(
            gateway_status(&sandbox, &format!("/installations/n{i}")).await,
            "connected"
        );
    }
    let one_too_many = "/installations/one-too-many";
    let too_long = format!(
        "/installations/{}",
        "x".repeat(sandbox::MAX_INSTALLATION_NAME_LEN + 1)
    );
    for prefix in [one_too_many, too_long.as_str(), "/installations/a.b"] {
        let attempts = [
            sandbox
                .request(Method::POST, &format!("{prefix}/v1/users/login"))
                .basic_auth(USERNAME, Some(PASSWORD)),
            with_json(
                sandbox
                    .request(Method::POST, &format!("{prefix}/v1/messages"))
                    .bearer_auth(ACCESS_TOKEN),
                &text_to(TO),
            ),
            with_json(
                sandbox
                    .request(Method::PUT, &format!("{prefix}/v1/messages/gBEG"))
                    .bearer_auth(ACCESS_TOKEN),
                &json!({"status": "read"}),
            ),
            sandbox
                .request(Method::GET, &format!("{prefix}/v1/health"))
                .bearer_auth(ACCESS_TOKEN),
        ];
        for attempt in attempts {
            let answer = send(attempt).await;
            assert_on_premises_error(&answer, StatusCode::NOT_FOUND, 1006, "Resource not found");
        }
    }
    let answer = set_installation_healthy(&sandbox, "one-too-many", false).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text);

    // The tracked ones, and the root one, keep working; nothing refused was logged or counted.
    let answer = sandbox
        .call(Method::POST, "/installations/n0/v1/messages", &text_to(TO))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    sandbox.login_at("/installations/n63").await;
    sandbox.login().await;
    let received = sandbox.received().await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["installation"], "n0");
    let stats = sandbox.stats().await;
    assert_eq!(stats["logins"], 2);
    assert_eq!(stats["health_checks"], sandbox::MAX_INSTALLATIONS as u64);
}
