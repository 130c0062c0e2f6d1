//! The `whatsapp-grpc` binary: `serve`, `sandbox`, `send`, `senders`, `upload` and `hash-key`.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use std::sync::Arc;
use tokio::net::TcpListener;

use whatsapp_grpc::Flavor;
use whatsapp_grpc::config::{Cli, Command, DEFAULT_SENDER, EnvCredentials, ServeArgs, Upstream};
use whatsapp_grpc::senders::{Reload, SenderConfig};
use whatsapp_grpc::upstream::display_url;
use whatsapp_grpc::{api_keys, client, sandbox, server, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Sandbox(args) => {
            telemetry::init_logs(args.log_format);
            run_sandbox(args).await
        }
        Command::Send(args) => client::send(args).await.map(|line| println!("{line}")),
        Command::Senders(args) => client::senders(args).await.map(|lines| println!("{lines}")),
        Command::Upload(args) => client::upload(args).await.map(|line| println!("{line}")),
        Command::HashKey => hash_key().map(|digest| println!("{digest}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let mut config = args.into_config(EnvCredentials::from_env())?;
    let telemetry = telemetry::init(config.log_format)?;
    // Listen for SIGTERM before anything else: one arriving during start-up drains too.
    let shutdown = shutdown_signal()?;

    // With --sandbox, the emulator runs in-process on a loopback port and the service sends to it.
    let _sandbox = match &config.upstream {
        Upstream::Real => None,
        Upstream::Sandbox(sandbox_config) => {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| format!("the sandbox cannot listen on loopback: {e}"))?;
            let address = listener
                .local_addr()
                .map_err(|e| format!("the sandbox's address is unknown: {e}"))?;
            let url = format!("http://{address}");
            sandbox_senders(&mut config.server.senders, &url);
            let sandbox_url = url.clone();
            config.server.reload = config.server.reload.take().map(|reload| {
                Reload(Arc::new(move || {
                    (reload.0)().map(|mut senders| {
                        sandbox_senders(&mut senders, &sandbox_url);
                        senders
                    })
                }))
            });
            tracing::warn!(
                sandbox_url = %url,
                "SANDBOX MODE: messages go to an emulator at sandbox_url and are NOT delivered to \
                 anyone; what it received: GET sandbox_url/sandbox/received"
            );
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(sandbox::serve(listener, sandbox_config.clone(), async {
                let _ = stopped.await;
            }));
            Some((stop, task))
        }
    };

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("--listen {}: {e}", config.listen))?;
    // The bound address, not the flag: with `--listen 127.0.0.1:0` this is the port the OS chose.
    let address = listener
        .local_addr()
        .map_err(|e| format!("--listen {}: {e}", config.listen))?;
    // Bound before the server reports SERVING, so a scraper or the first probe finds them.
    let (metrics_listener, metrics_address) =
        bind_optional(config.metrics_listen, "--metrics-listen").await?;
    let (health_listener, health_address) =
        bind_optional(config.health_listen, "--health-listen").await?;
    tracing::info!(
        listen = %address,
        metrics_listen = metrics_address.map(tracing::field::display),
        health_listen = health_address.map(tracing::field::display),
        senders = config.server.senders.len(),
        tls = config.server.security.tls.is_some(),
        client_certificates = config
            .server
            .security
            .tls
            .as_ref()
            .is_some_and(|tls| tls.client_ca.is_some()),
        api_keys = config
            .server
            .security
            .api_keys
            .as_ref()
            .map_or(0, |keys| keys.keys.len()),
        traces = telemetry.exports_traces(),
        version = env!("CARGO_PKG_VERSION"),
        "whatsapp-grpc serving"
    );
    for sender in &config.server.senders {
        tracing::info!(
            sender = %sender.name,
            flavor = sender.upstream.flavor.as_str(),
            upstream = %display_url(&sender.upstream.base_url),
            "sending from"
        );
    }
    let listeners = server::Listeners {
        grpc: listener,
        metrics: metrics_listener,
        health: health_listener,
    };
    let served = server::serve_on(listeners, config.server, shutdown)
        .await
        .map_err(|e| e.to_string());
    // The spans of the last calls, still queued, go out before the process ends.
    telemetry.shutdown(telemetry::FLUSH_TIMEOUT).await;
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// The digest of the key on standard input, as the API keys file holds it.
fn hash_key() -> Result<String, String> {
    use std::io::Read as _;
    let mut key = Vec::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_end(&mut key)
        .map_err(|e| format!("cannot read the key from standard input: {e}"))?;
    api_keys::hash_key(&key)
}

/// A listener on `address` if one is configured, and the address it bound (with port 0, the one
/// the OS chose); `flag` names it in problems.
async fn bind_optional(
    address: Option<SocketAddr>,
    flag: &str,
) -> Result<(Option<TcpListener>, Option<SocketAddr>), String> {
    let Some(address) = address else {
        return Ok((None, None));
    };
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| format!("{flag} {address}: {e}"))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("{flag} {address}: {e}"))?;
    Ok((Some(listener), Some(bound)))
}

async fn run_sandbox(args: whatsapp_grpc::config::SandboxArgs) -> Result<(), String> {
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("--listen {}: {e}", args.listen))?;
    // The bound address: with `--listen 127.0.0.1:0` the port the OS chose.
    let address = listener
        .local_addr()
        .map_err(|e| format!("--listen {}: {e}", args.listen))?;
    tracing::warn!(
        listen = %address,
        "SANDBOX: an emulator of the WhatsApp Business API; nothing is delivered"
    );
    sandbox::serve(listener, args.sandbox_config(), shutdown_signal()?)
        .await
        .map_err(|e| e.to_string())
}

/// Points the senders that name no API at the in-process sandbox: Cloud senders at its root (it
/// serves any phone number id), On-Premises ones at an installation of their own (`default` at
/// its root).
fn sandbox_senders(senders: &mut [SenderConfig], sandbox_url: &str) {
    for sender in senders {
        if sender.upstream.base_url.is_empty() {
            sender.upstream.base_url = match sender.upstream.flavor {
                Flavor::OnPremises if sender.name != DEFAULT_SENDER => {
                    format!("{sandbox_url}/installations/{}", sender.name)
                }
                Flavor::Cloud | Flavor::OnPremises => sandbox_url.to_owned(),
            };
        }
    }
}

/// Completes on Ctrl-C or SIGTERM (what Kubernetes sends before it stops a pod). The handlers are
/// installed at once, so a signal that arrives before the future is first polled is not lost.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
    let interrupt = tokio::signal::ctrl_c();
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = interrupt.await;
        tracing::info!("shutting down");
    })
}
