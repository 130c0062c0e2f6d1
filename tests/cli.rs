//! The binary as a person uses it: `send` against a running service, and `serve` refusing a bad
//! configuration with a line per problem that says what to fix.

mod common;

use std::process::Command;

use common::process::{BINARY, Service};
use common::stack::Stack;
use whatsapp_grpc::Flavor;

/// Runs the binary off the async runtime and returns (success, stdout, stderr).
async fn run(args: Vec<String>) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let output = Command::new(BINARY)
            .args(&args)
            .env_remove("WHATSAPP_ACCESS_TOKEN")
            .env_remove("WHATSAPP_PHONE_NUMBER_ID")
            .env_remove("WHATSAPP_GRPC_ACCESS_TOKEN")
            .env_remove("WHATSAPP_GRPC_PHONE_NUMBER_ID")
            .output()
            .expect("the binary runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .expect("joined")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn send_prints_the_message_id() {
    let stack = Stack::start(Flavor::Cloud).await;
    let server = format!("http://{}", stack.grpc_address);
    let (ok, stdout, stderr) = run(args(&[
        "send",
        "--server",
        &server,
        "--to",
        "15550001111",
        "--text",
        "hello",
    ]))
    .await;
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("wamid."), "{stdout}");
    assert!(stdout.contains("MESSAGE_STATUS_ACCEPTED"), "{stdout}");
    let received = stack.received().await;
    assert_eq!(received[0]["body"]["text"]["body"], "hello");
}

#[tokio::test]
async fn senders_lists_the_services_senders() {
    let stack = Stack::start(Flavor::Cloud).await;
    stack
        .wait_for_health(
            &whatsapp_grpc::senders::health_name("default"),
            tonic_health::pb::health_check_response::ServingStatus::Serving,
        )
        .await;
    let server = format!("http://{}", stack.grpc_address);
    let (ok, stdout, stderr) = run(args(&["senders", "--server", &server])).await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "default cloud 100000000000001 SERVING");
}

#[tokio::test]
async fn send_reads_any_request_in_protobuf_json() {
    let stack = Stack::start(Flavor::Cloud).await;
    let server = format!("http://{}", stack.grpc_address);
    let file = std::env::temp_dir().join(format!("whatsapp-grpc-cli-{}.json", std::process::id()));
    std::fs::write(
        &file,
        r#"{
          "to": "15550001111",
          "interactive": {"flow": {
            "body": {"text": "Book a table"},
            "flowToken": "AQAAAAACS5FpgQ_cAAAAAD0QI3s",
            "flowId": "1234567890",
            "flowCta": "Book!",
            "flowAction": "INTERACTIVE_FLOW_ACTION_NAVIGATE",
            "flowActionPayload": {"screen": "WELCOME", "data": {"guests": 2, "name": "Ana"}}
          }}
        }"#,
    )
    .unwrap();
    let (ok, stdout, stderr) = run(args(&[
        "send",
        "--server",
        &server,
        "--json",
        file.to_str().unwrap(),
    ]))
    .await;
    std::fs::remove_file(&file).ok();
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("wamid."), "{stdout}");
    let received = stack.received().await;
    let parameters = &received[0]["body"]["interactive"]["action"]["parameters"];
    assert_eq!(parameters["flow_action_payload"]["data"]["guests"], 2);
    assert_eq!(parameters["flow_message_version"], "3");
}

#[tokio::test]
async fn send_prints_the_status_and_its_details_on_failure() {
    let stack = Stack::start(Flavor::Cloud).await;
    let server = format!("http://{}", stack.grpc_address);
    let (ok, _, stderr) = run(args(&[
        "send",
        "--server",
        &server,
        "--to",
        "15550000131",
        "--text",
        "hello",
    ]))
    .await;
    assert!(!ok);
    assert!(stderr.contains("FailedPrecondition"), "{stderr}");
    assert!(
        stderr.contains("reason 131026 in graph.facebook.com"),
        "{stderr}"
    );
    assert!(stderr.contains("outcome: not_sent"), "{stderr}");

    let (ok, _, stderr) = run(args(&[
        "send",
        "--server",
        &server,
        "--to",
        "15550001111",
        "--text",
        "",
    ]))
    .await;
    assert!(!ok);
    assert!(
        stderr.contains("text.body: is required (REQUIRED)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_refuses_a_bad_configuration_one_line_a_problem() {
    let (ok, _, stderr) = run(args(&["serve", "--listen", "127.0.0.1:0"])).await;
    assert!(!ok);
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("error: --phone-number-id"), "{stderr}");
    assert!(
        lines[1].starts_with("error: WHATSAPP_GRPC_ACCESS_TOKEN is required"),
        "{stderr}"
    );
}

/// `serve --sandbox` needs no other flag or credential on either flavor, serves what `send` sends,
/// and stops cleanly on SIGTERM (what Kubernetes sends).
#[tokio::test]
async fn serve_with_the_sandbox_runs_on_either_flavor_and_stops_on_sigterm() {
    for flavor in ["cloud", "on-premises"] {
        let mut command = Command::new(BINARY);
        command
            .args(["serve", "--sandbox", "--flavor", flavor])
            .env_remove("WHATSAPP_ACCESS_TOKEN")
            .env_remove("WHATSAPP_USERNAME")
            .env_remove("WHATSAPP_PASSWORD");
        let service = Service::launch(command).await;
        let listen = service.address.clone();

        let (ok, stdout, stderr) = run(args(&[
            "send",
            "--server",
            &format!("http://{listen}"),
            "--to",
            "15550001111",
            "--text",
            "hello",
        ]))
        .await;
        assert!(ok, "{flavor}: {stderr}");
        assert!(!stdout.trim().is_empty(), "{flavor}: a message id");

        let output = service.terminate().await;
        assert!(output.0.success(), "{flavor}: exit {:?}", output.0);
        assert!(
            output.1.contains("SANDBOX MODE") && output.1.contains("NOT delivered"),
            "{flavor}: the loud warning: {}",
            output.1
        );
    }
}

/// `serve --sandbox --senders FILE` serves every sender of the file, requires `--from` when there
/// are several, and on SIGHUP takes a new file's senders or, if the file is broken, keeps its own.
#[tokio::test]
async fn serve_with_a_senders_file_sends_from_each_and_reloads_on_sighup() {
    let file = std::env::temp_dir().join(format!(
        "whatsapp-grpc-cli-senders-{}.toml",
        std::process::id()
    ));
    let two = "[[sender]]\nname = \"first\"\nphone_number_id = \"100000000000001\"\n\n\
               [[sender]]\nname = \"second\"\nphone_number_id = \"100000000000002\"\n";
    std::fs::write(&file, two).unwrap();
    let mut command = Command::new(BINARY);
    command
        .args(["serve", "--sandbox", "--senders", file.to_str().unwrap()])
        .env_remove("WHATSAPP_PHONE_NUMBER_ID")
        .env_remove("WHATSAPP_GRPC_UPSTREAM_URL")
        .env_remove("WHATSAPP_GRPC_UPSTREAM_CA_FILE");
    let service = Service::launch(command).await;
    let server = format!("http://{}", service.address);

    let send = |from: Option<&str>| {
        let mut list = args(&[
            "send",
            "--server",
            &server,
            "--to",
            "15550001111",
            "--text",
            "hi",
        ]);
        if let Some(from) = from {
            list.extend(args(&["--from", from]));
        }
        run(list)
    };
    let sends_from = |name: &'static str| {
        let send = send(Some(name));
        async move {
            let (ok, stdout, stderr) = send.await;
            ok && stdout.trim_end().ends_with(&format!("from {name}")) || {
                eprintln!("send --from {name}: {stdout}{stderr}");
                false
            }
        }
    };
    for name in ["first", "second"] {
        assert!(sends_from(name).await, "{name}");
    }
    let (ok, _, stderr) = send(None).await;
    assert!(!ok);
    assert!(
        stderr.contains("InvalidArgument") && stderr.contains("sender"),
        "{stderr}"
    );

    // A third sender, taken on SIGHUP: an On-Premises installation of the sandbox, which it logs
    // in to with the sandbox's user.
    let three = format!("{two}\n[[sender]]\nname = \"third\"\nflavor = \"on-premises\"\n");
    std::fs::write(&file, three).unwrap();
    service.signal("HUP");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if sends_from("third").await {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the third sender never appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // A broken file is refused; the three senders stay.
    std::fs::write(&file, "[[sender]]\nname = \"Broken\"\n").unwrap();
    service.signal("HUP");
    // The reload is refused with a warning (read below, once the process has stopped).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for name in ["first", "second", "third"] {
        assert!(sends_from(name).await, "{name} after a broken file");
    }

    let (status, stderr) = service.terminate().await;
    std::fs::remove_file(&file).ok();
    assert!(status.success(), "exit {status:?}");
    assert!(
        stderr.contains("was not reloaded") && stderr.contains("sender[0] \"Broken\""),
        "the refused reload is logged: {stderr}"
    );
}

/// `send --server host:port` works without a scheme; with no service there it says so (not an
/// answer of the service), and names how to start one.
#[tokio::test]
async fn send_takes_host_and_port_and_tells_no_service_from_an_answer() {
    let stack = Stack::start(Flavor::Cloud).await;
    let (ok, stdout, stderr) = run(args(&[
        "send",
        "--server",
        &stack.grpc_address.to_string(),
        "--to",
        "15550001111",
        "--text",
        "hello",
    ]))
    .await;
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("wamid."), "{stdout}");

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let (ok, _, stderr) = run(args(&[
        "send",
        "--server",
        &closed,
        "--to",
        "15550001111",
        "--text",
        "hello",
    ]))
    .await;
    assert!(!ok);
    assert!(
        stderr.contains(&format!("no service at http://{closed}"))
            && stderr.contains("serve --sandbox"),
        "{stderr}"
    );
}

/// `WHATSAPP_GRPC_SANDBOX=1`, as people write booleans in the environment, turns the sandbox on.
#[tokio::test]
async fn the_sandbox_variable_takes_1() {
    let mut command = Command::new(BINARY);
    command
        .arg("serve")
        .env("WHATSAPP_GRPC_SANDBOX", "1")
        .env_remove("WHATSAPP_GRPC_ACCESS_TOKEN")
        .env_remove("WHATSAPP_GRPC_PHONE_NUMBER_ID")
        .env_remove("WHATSAPP_ACCESS_TOKEN")
        .env_remove("WHATSAPP_PHONE_NUMBER_ID")
        .env_remove("WHATSAPP_GRPC_UPSTREAM_URL");
    let service = Service::launch(command).await;
    let (status, log) = service.terminate().await;
    assert!(status.success(), "{log}");
    assert!(log.contains("SANDBOX MODE"), "{log}");
}

/// The sample requests of `examples/requests/` (the README's `send --json`) are valid and sent as
/// the message kind their file names.
#[tokio::test]
async fn the_sample_request_files_are_sent() {
    let stack = Stack::start(Flavor::Cloud).await;
    let server = format!("http://{}", stack.grpc_address);
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/requests");
    let names = common::json_names(&samples);
    assert!(names.len() >= 3, "{names:?}");
    for (index, kind) in names.iter().enumerate() {
        let path = samples.join(format!("{kind}.json"));
        let (ok, stdout, stderr) = run(args(&[
            "send",
            "--server",
            &server,
            "--json",
            path.to_str().expect("UTF-8"),
        ]))
        .await;
        assert!(ok, "{}: {stderr}", path.display());
        assert!(stdout.starts_with("wamid."), "{stdout}");
        let received = stack.received().await;
        let body = &received[index]["body"];
        let expected = kind.split('_').next().expect("a kind");
        assert_eq!(body["type"], expected, "{}: {body}", path.display());
    }
}
