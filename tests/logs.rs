//! Secrets and personal data never reach the logs: with every line of this crate enabled (and debug
//! for its dependencies), a run that logs in, sends, fails and is refused writes no token, password,
//! phone number or message text.

mod common;

use common::stack::{Options, Stack};
use common::*;
use whatsapp_grpc::Flavor;

#[tokio::test]
async fn no_secret_or_personal_data_in_any_log_line() {
    let captured = common::logs::capture("debug,whatsapp_grpc=trace");

    const RECIPIENT: &str = "15557654321";
    const TEXT: &str = "my secret order details";
    let sandbox = whatsapp_grpc::sandbox::SandboxConfig {
        password: "pa55-w0rd-never-logged".into(),
        access_token: "t0ken-never-logged".into(),
        ..Default::default()
    };
    for login in [true, false] {
        let mut stack = Stack::start_with(Options {
            login,
            sandbox: sandbox.clone(),
            ..Options::new(Flavor::OnPremises)
        })
        .await;
        let mut message = request(text(TEXT));
        message.to = RECIPIENT.into();
        stack.client.send_message(message).await.expect("sent");
        // Failures are logged too: a refused token, an API error, an invalid request.
        stack.revoke_tokens().await;
        let mut failing = request(text(TEXT));
        failing.to = "15550000131".into();
        let _ = stack.client.send_message(failing).await;
        let mut invalid = request(text(&format!("{TEXT}{}", "x".repeat(4096))));
        invalid.to = RECIPIENT.into();
        let _ = stack.client.send_message(invalid).await;
    }

    let logs = captured.text();
    assert!(logs.contains("rpc"), "the run logged nothing: {logs}");
    for secret in [
        RECIPIENT,
        TEXT,
        "pa55-w0rd-never-logged",
        "t0ken-never-logged",
    ] {
        assert!(!logs.contains(secret), "{secret:?} is in the logs");
    }
    // Nor the header forms of the login's basic credentials or the token it issued.
    for header in ["Bearer ", "Basic "] {
        assert!(
            !logs.contains(header),
            "an Authorization value is in the logs"
        );
    }
}

/// Runs the binary (`serve --sandbox`, logs in `format` to a pipe, as under Kubernetes), sends one
/// message the API refuses, stops it with SIGTERM and returns everything it logged.
async fn log_of_a_refused_call(format: &str) -> String {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let mut child = Command::new(common::process::BINARY)
        .args(["serve", "--sandbox", "--listen", "127.0.0.1:0"])
        .args(["--log-format", format, "--pre-stop-delay", "0s"])
        .env("WHATSAPP_GRPC_ACCESS_TOKEN", "test-token")
        .env("RUST_LOG", "whatsapp_grpc=info")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().expect("piped");
    let (found, listening) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("whatsapp-grpc serving") {
                let address = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|event| event["listen"].as_str().map(str::to_owned))
                    .or_else(|| {
                        line.split_whitespace()
                            .find_map(|word| word.strip_prefix("listen="))
                            .map(str::to_owned)
                    });
                let _ = found.send(address.unwrap_or_default());
            }
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    let address =
        tokio::task::spawn_blocking(move || listening.recv_timeout(Duration::from_secs(30)))
            .await
            .expect("the log reader")
            .expect("the service listens");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .expect("a URL")
        .connect()
        .await
        .expect("connects");
    let mut client =
        whatsapp_grpc::proto::messaging_service_client::MessagingServiceClient::new(channel);
    let mut refused = request(text("hello"));
    refused.to = "15550000131".into();
    client
        .send_message(refused)
        .await
        .expect_err("the API refuses it");

    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("waits").is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the service did not stop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::task::spawn_blocking(move || reader.join().expect("the log reader"))
        .await
        .expect("the log reader")
}

#[tokio::test]
async fn json_lines_carry_values_as_fields_and_the_span_once() {
    let log = log_of_a_refused_call("json").await;
    let events: Vec<(String, serde_json::Value)> = log
        .lines()
        .map(|line| (line.to_owned(), serde_json::from_str(line).expect(line)))
        .collect();
    let find = |message: &str| {
        events
            .iter()
            .find(|(_, event)| {
                event["message"]
                    .as_str()
                    .is_some_and(|text| text.starts_with(message))
            })
            .unwrap_or_else(|| panic!("no {message:?} line in:\n{log}"))
    };

    // Start-up: the values are fields, the messages constant sentences.
    let (_, sending) = find("sending from");
    assert_eq!(sending["sender"], "default");
    assert_eq!(sending["flavor"], "cloud");
    assert!(sending["upstream"].is_string(), "{sending}");
    let (_, sandbox) = find("SANDBOX MODE");
    assert!(
        sandbox["sandbox_url"]
            .as_str()
            .is_some_and(|url| url.starts_with("http://127.0.0.1:")),
        "{sandbox}"
    );
    assert!(
        !sandbox["message"]
            .as_str()
            .unwrap_or("")
            .contains("127.0.0.1"),
        "{sandbox}"
    );
    assert!(find("whatsapp-grpc serving").1["listen"].is_string());

    // The failed call: the RPC's span once, as `span`, with its fields.
    let (line, refused) = find("upstream refused the call");
    assert!(refused.get("spans").is_none(), "{line}");
    let span = &refused["span"];
    assert_eq!(span["name"], "rpc");
    assert_eq!(span["method"], "SendMessage");
    assert_eq!(span["sender"], "default");
    assert_eq!(span["flavor"], "cloud");
    assert_eq!(span["message_type"], "text");
    assert_eq!(span["http_status"], 400);
    assert_eq!(line.matches("\"sender\"").count(), 1, "{line}");
    assert_eq!(line.matches("\"message_type\"").count(), 1, "{line}");
}

#[tokio::test]
async fn text_lines_to_a_pipe_have_no_colours_and_the_span_once() {
    let log = log_of_a_refused_call("text").await;
    assert!(!log.contains("\x1b["), "ANSI escapes in:\n{log}");
    let refused = log
        .lines()
        .find(|line| line.contains("upstream refused the call"))
        .unwrap_or_else(|| panic!("no refused call in:\n{log}"));
    assert_eq!(refused.matches("sender=").count(), 1, "{refused}");
    assert_eq!(refused.matches("message_type=").count(), 1, "{refused}");
    assert!(refused.contains("flavor=\"cloud\""), "{refused}");
}
