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
