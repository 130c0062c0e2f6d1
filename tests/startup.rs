//! What the real binary says as it starts, before and after it listens: every configuration
//! problem at once (and nothing bound), one line per sender whose API refuses it or cannot be
//! reached, and a warning for each variable still set under its old name.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::process::{BINARY, Service};
use tokio::net::TcpListener;
use whatsapp_grpc::sandbox::{self, SandboxConfig};

/// Every variable the service reads credentials or sender settings from, old names included.
const SERVICE_VARIABLES: [&str; 10] = [
    "WHATSAPP_GRPC_ACCESS_TOKEN",
    "WHATSAPP_GRPC_USERNAME",
    "WHATSAPP_GRPC_PASSWORD",
    "WHATSAPP_GRPC_PHONE_NUMBER_ID",
    "WHATSAPP_GRPC_UPSTREAM_URL",
    "WHATSAPP_ACCESS_TOKEN",
    "WHATSAPP_USERNAME",
    "WHATSAPP_PASSWORD",
    "WHATSAPP_PHONE_NUMBER_ID",
    "WHATSAPP_API_VERSION",
];

/// `whatsapp-grpc serve` with `args`, none of the service's variables inherited.
fn serve(args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command.arg("serve").args(args);
    for variable in SERVICE_VARIABLES {
        command.env_remove(variable);
    }
    command
}

/// Runs `command` to its end off the runtime: (success, stderr).
async fn run(mut command: Command) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        let output = command.output().expect("the binary runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .expect("joined")
}

/// A temporary directory of files, removed when dropped.
struct Files(PathBuf);

impl Files {
    fn new(name: &str) -> Files {
        let dir = std::env::temp_dir().join(format!(
            "whatsapp-grpc-startup-{}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("a directory");
        Files(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("writes");
        path.to_str().expect("UTF-8").to_owned()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA certificate in PEM.
fn certificate_pem() -> String {
    let key = rcgen::KeyPair::generate().expect("a key");
    rcgen::CertificateParams::new(vec!["wa.example.internal".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("a certificate")
        .pem()
}

/// A port this test holds: a service that got as far as listening on it would say so.
fn held_port() -> (std::net::TcpListener, String) {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = held.local_addr().expect("an address").to_string();
    (held, address)
}

/// Asserts the run failed before listening: no `serving` line, no complaint about the held
/// port, and every line an `error:` line.
fn assert_refused_before_listening(ok: bool, stderr: &str) {
    assert!(!ok, "{stderr}");
    assert!(!stderr.contains("serving"), "{stderr}");
    assert!(!stderr.contains("--listen"), "it tried to listen: {stderr}");
    for line in stderr.lines() {
        assert!(line.starts_with("error: "), "{line:?} in {stderr}");
    }
}

/// A Cloud service given a truncated CA file, an upstream URL with a space, a zero limit, no
/// thread, and neither a phone number id nor a token reports all six, each naming its flag or
/// variable, and never listens.
#[tokio::test]
async fn every_single_sender_problem_is_reported_at_once_before_listening() {
    let files = Files::new("single");
    let pem = certificate_pem();
    let truncated = files.write("truncated.pem", &pem[..pem.len() / 2]);
    let (_held, listen) = held_port();
    let (ok, stderr) = run(serve(&[
        "--listen",
        &listen,
        "--upstream-url",
        "https://graph facebook.com",
        "--upstream-ca-file",
        &truncated,
        "--max-calls",
        "0",
        "--threads",
        "0",
    ]))
    .await;
    assert_refused_before_listening(ok, &stderr);
    for expected in [
        format!("--upstream-ca-file {truncated}: is not whole"),
        "--upstream-url (WHATSAPP_GRPC_UPSTREAM_URL) \"https://graph facebook.com\" contains a space".to_owned(),
        "--phone-number-id (WHATSAPP_GRPC_PHONE_NUMBER_ID) is required".to_owned(),
        "WHATSAPP_GRPC_ACCESS_TOKEN is required".to_owned(),
        "--max-calls must be at least 1".to_owned(),
        "--threads must be between 1 and 256, or unset for one per CPU".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "{expected:?} in:\n{stderr}");
    }
    assert_eq!(stderr.lines().count(), 6, "{stderr}");
}

/// A CA file whose PEM is whole but whose certificate is damaged, an On-Premises URL with
/// credentials in it, and half a login are named too; the password never shows.
#[tokio::test]
async fn a_damaged_ca_and_half_a_login_are_named_without_the_secret() {
    let files = Files::new("damaged");
    let pem = certificate_pem();
    let lines: Vec<&str> = pem.lines().collect();
    // The first and last lines of base64 kept: PEM still, DER no longer.
    let damaged = files.write(
        "damaged.pem",
        &format!(
            "{}\n{}\n{}\n{}\n",
            lines[0],
            lines[1],
            lines[lines.len() - 2],
            lines[lines.len() - 1]
        ),
    );
    let (_held, listen) = held_port();
    let mut command = serve(&[
        "--listen",
        &listen,
        "--flavor",
        "on-premises",
        "--upstream-url",
        "https://admin:hunter2@wa.example.internal",
        "--upstream-ca-file",
        &damaged,
    ]);
    command.env("WHATSAPP_GRPC_PASSWORD", "hunter2");
    let (ok, stderr) = run(command).await;
    assert_refused_before_listening(ok, &stderr);
    for expected in [
        format!("--upstream-ca-file {damaged}: certificate 1 is not a readable CA certificate"),
        "--upstream-url (WHATSAPP_GRPC_UPSTREAM_URL)".to_owned(),
        "must not carry a user or password".to_owned(),
        "WHATSAPP_GRPC_PASSWORD is set but WHATSAPP_GRPC_USERNAME is not".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "{expected:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// A senders file's senders are checked as deeply: a truncated `ca_file` and a `base_url` with a
/// space, in two senders, both reported with their place in the file.
#[tokio::test]
async fn a_senders_file_is_checked_as_deeply() {
    let files = Files::new("senders");
    let pem = certificate_pem();
    let truncated = files.write("truncated.pem", &pem[..pem.len() - 40]);
    let senders = files.write(
        "senders.toml",
        &format!(
            r#"
            [[sender]]
            name = "cut"
            flavor = "on-premises"
            base_url = "https://wa.example.internal"
            username = "admin"
            password_env = "STARTUP_TEST_PASSWORD"
            ca_file = {truncated:?}

            [[sender]]
            name = "spaced"
            phone_number_id = "100000000000002"
            base_url = "https://graph.facebook.com /"
            token_env = "STARTUP_TEST_TOKEN"
            "#
        ),
    );
    let (_held, listen) = held_port();
    let mut command = serve(&["--listen", &listen, "--senders", &senders]);
    command
        .env("STARTUP_TEST_PASSWORD", "pw")
        .env("STARTUP_TEST_TOKEN", "token");
    let (ok, stderr) = run(command).await;
    assert_refused_before_listening(ok, &stderr);
    for expected in [
        format!("\"cut\": ca_file {truncated}: is not whole"),
        "\"spaced\": base_url \"https://graph.facebook.com /\" contains a space".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "{expected:?} in:\n{stderr}");
    }
}

/// The sandbox emulator on a loopback port, as the real API, until dropped.
struct Api {
    url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn api() -> Api {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(sandbox::serve(listener, SandboxConfig::default(), async {
        let _ = stopped.await;
    }));
    Api { url, _stop: stop }
}

/// A start-up case: its name, the flags, the variables set, and the words of the line expected.
type Case<'a> = (
    &'a str,
    &'a [&'a str],
    &'a [(&'a str, &'a str)],
    &'a [&'a str],
);

/// With a wrong password, a wrong token or an API that cannot be reached, the service still
/// starts, and its log says, per sender, what is wrong: one `WARN` line naming the sender, with
/// no secret in it.
#[tokio::test]
async fn a_refused_or_unreachable_api_is_said_at_start_per_sender() {
    let api = api().await;
    let sandbox = SandboxConfig::default();
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        format!("http://{}", listener.local_addr().expect("an address"))
    };
    let cases: [Case; 3] = [
        (
            "a wrong password",
            &["--flavor", "on-premises", "--upstream-url", &api.url],
            &[
                ("WHATSAPP_GRPC_USERNAME", &sandbox.username),
                ("WHATSAPP_GRPC_PASSWORD", "wrong-password-123"),
            ],
            &["could not log in", "401"],
        ),
        (
            "a wrong token",
            &[
                "--phone-number-id",
                "100000000000001",
                "--upstream-url",
                &api.url,
            ],
            &[("WHATSAPP_GRPC_ACCESS_TOKEN", "wrong-token-456")],
            &["HTTP 401"],
        ),
        (
            "an unreachable API",
            &[
                "--phone-number-id",
                "100000000000001",
                "--upstream-url",
                &closed,
            ],
            &[("WHATSAPP_GRPC_ACCESS_TOKEN", &sandbox.access_token)],
            &["could not be reached"],
        ),
    ];
    for (case, args, env, reason) in cases {
        let mut command = serve(args);
        command.envs(env.iter().copied());
        let service = Service::launch(command).await;
        let mut words = vec!["level=WARN", "MessagingService/default"];
        words.extend_from_slice(reason);
        let line = service
            .wait_for_log_line(&words, Duration::from_secs(20))
            .await;
        for (_, secret) in env {
            if *secret != sandbox.username {
                assert!(!line.contains(secret), "{case}: a secret in {line}");
            }
        }
        let (_, log) = service.terminate().await;
        for (_, secret) in env {
            if *secret != sandbox.username && *secret != sandbox.access_token {
                assert!(!log.contains(secret), "{case}: a secret in the log:\n{log}");
            }
        }
    }
}

/// The old names of renamed variables still work, each with a warning that names the new one;
/// when both names are set the new one wins and the old one is said to be ignored.
#[tokio::test]
async fn old_variable_names_are_read_with_a_warning() {
    let api = api().await;
    let sandbox = SandboxConfig::default();
    let mut command = serve(&["--upstream-url", &api.url]);
    command
        .env("WHATSAPP_ACCESS_TOKEN", &sandbox.access_token)
        .env("WHATSAPP_PHONE_NUMBER_ID", "100000000000001")
        .env("WHATSAPP_API_VERSION", "v1.0")
        .env("WHATSAPP_GRPC_API_VERSION", "v24.0");
    let service = Service::launch(command).await;
    // The old token and phone number id reached the API: its health probe succeeds.
    service
        .wait_for_log_line(&["the API answers"], Duration::from_secs(20))
        .await;
    let (status, log) = service.terminate().await;
    assert!(status.success(), "{log}");
    for expected in [
        "WHATSAPP_ACCESS_TOKEN is the old name of WHATSAPP_GRPC_ACCESS_TOKEN",
        "WHATSAPP_PHONE_NUMBER_ID is the old name of WHATSAPP_GRPC_PHONE_NUMBER_ID",
        "WHATSAPP_API_VERSION is ignored: WHATSAPP_GRPC_API_VERSION is set too",
    ] {
        assert!(log.contains(expected), "{expected:?} in:\n{log}");
    }
}

/// Every variable the command line reads is a `WHATSAPP_GRPC_*` one, and what an operator reads
/// (README, chart, examples, Dockerfile, CI) names no other `WHATSAPP_*` variable except in a
/// paragraph about old names.
#[test]
fn every_variable_is_named_whatsapp_grpc() {
    use clap::CommandFactory;
    let command = whatsapp_grpc::config::Cli::command();
    let mut variables = 0;
    for sub in command.get_subcommands() {
        for arg in sub.get_arguments() {
            if let Some(env) = arg.get_env() {
                variables += 1;
                let env = env.to_str().expect("ASCII");
                assert!(
                    env.starts_with("WHATSAPP_GRPC_"),
                    "{} --{}: {env}",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
    }
    assert!(variables > 40, "{variables} variables");

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![
        root.join("README.md"),
        root.join("Dockerfile"),
        root.join(".ci/run"),
    ];
    let mut folders = vec![root.join("helm"), root.join("examples")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("a folder") {
            let path = entry.expect("an entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                // Installed packages and generated stubs are not ours.
                if !["node_modules", ".venv", "whatsapp", "__pycache__"].contains(&name) {
                    folders.push(path);
                }
            } else if !name.ends_with(".json") || name == "values.schema.json" {
                files.push(path);
            }
        }
    }
    for file in &files {
        let text = std::fs::read_to_string(file).expect("UTF-8 text");
        for paragraph in text.split("\n\n") {
            if paragraph.contains("old name") {
                continue;
            }
            if let Some(name) = old_variable_in(paragraph) {
                panic!(
                    "{}: {name} is not a WHATSAPP_GRPC_ variable",
                    file.display()
                );
            }
        }
    }
}

/// The first `WHATSAPP_X…` word of `text` that is not `WHATSAPP_GRPC_…`.
fn old_variable_in(text: &str) -> Option<String> {
    text.match_indices("WHATSAPP_").find_map(|(at, _)| {
        let word: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        (!word.starts_with("WHATSAPP_GRPC_") && word.len() > "WHATSAPP_".len()).then_some(word)
    })
}
