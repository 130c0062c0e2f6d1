//! The sandbox: an emulator of the WhatsApp Business API for development and tests. It shares no
//! model or validation code with the facade, so what it receives can be compared with the
//! conformance fixtures without circularity.
//!
//! (Contract only: to be implemented.)

use std::future::Future;
use std::time::Duration;

/// How the sandbox behaves.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// The static bearer token the sandbox accepts on both flavors.
    pub access_token: String,
    /// The On-Premises login user (`POST /v1/users/login`, basic auth).
    pub username: String,
    /// The On-Premises login password.
    pub password: String,
    /// How long a login token stays valid.
    pub token_lifetime: Duration,
    /// How long the "slow answer" number makes the sandbox wait before answering.
    pub slow_answer: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            access_token: "sandbox-token".into(),
            username: "admin".into(),
            password: "sandbox-password".into(),
            token_lifetime: Duration::from_secs(7 * 24 * 3600),
            slow_answer: Duration::from_secs(30),
        }
    }
}

/// Serves the sandbox on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: SandboxConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _ = (listener, config);
    shutdown.await;
    Ok(())
}
