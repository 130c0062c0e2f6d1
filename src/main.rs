//! The `whatsapp-grpc` binary: `serve`, `sandbox`, `send`, `senders`, `upload` and `hash-key`.

use std::net::SocketAddr;
use std::process::ExitCode;

use std::sync::Arc;
use tokio::net::TcpListener;

use whatsapp_grpc::Flavor;
use whatsapp_grpc::config::{
    Cli, Command, DEFAULT_SENDER, EnvCredentials, OldName, SandboxAction, SandboxArgs, ServeArgs,
    Upstream, old_names_in_use,
};
use whatsapp_grpc::senders::file::process_env;
use whatsapp_grpc::senders::{Reload, SenderConfig};
use whatsapp_grpc::upstream::display_url;
use whatsapp_grpc::{api_keys, client, sandbox, server, telemetry};

/// mimalloc, not glibc's allocator: under load glibc's arenas contend (futex wake-ups) and
/// consolidate, about a third of the service's CPU per message in the benchmark. Built without
/// transparent huge pages (`no_thp`), so that memory becomes resident 4 KiB at a time, as with
/// glibc, instead of 2 MiB at a time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One thread runs the commands; `serve` starts its own for the gRPC connections (`--threads`) and
/// keeps this one for accepting them and for the background work (health probes, metrics,
/// webhooks, reloads).
fn main() -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    let cli = Cli::parse_with_old_names(std::env::args_os(), &process_env);
    let old_names = old_names_in_use(&process_env);
    let result = match cli.command {
        Command::Serve(args) => serve(*args, &old_names).await,
        Command::Sandbox(SandboxArgs {
            action: Some(SandboxAction::InjectMessage(args)),
            ..
        }) => sandbox::inject_message(args)
            .await
            .map(|id| println!("{id}")),
        Command::Sandbox(args) => {
            telemetry::init_logs(args.log_format);
            warn_old_names(&old_names);
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

/// One warning per renamed variable still set under its old name.
fn warn_old_names(old_names: &[OldName]) {
    for name in old_names {
        tracing::warn!(old = name.old, new = name.new, "{name}");
    }
}

async fn serve(args: ServeArgs, old_names: &[OldName]) -> Result<(), String> {
    // Every problem of the configuration, one `error:` line each.
    let mut config = args
        .into_config(EnvCredentials::from_env())
        .map_err(|problems| problems.lines().collect::<Vec<_>>().join("\nerror: "))?;
    let telemetry = telemetry::init(config.log_format)?;
    warn_old_names(old_names);
    // Listen for SIGTERM before anything else: one arriving during start-up drains too.
    let shutdown = shutdown_signal()?;
    // Bound before the sandbox starts, which posts its webhooks to it by default.
    let (webhook_listener, webhook_address) =
        bind_optional(config.webhook_listen, "--webhook-listen").await?;

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
            let mut sandbox_config = sandbox_config.clone();
            sandbox_config.webhook = sandbox_webhook(&config, webhook_address);
            if let Some(webhook) = &sandbox_config.webhook {
                tracing::warn!(
                    webhook_url = %whatsapp_grpc::upstream::display_url(&webhook.url),
                    "SANDBOX MODE: the sandbox posts status webhooks to webhook_url; inject a customer message with `whatsapp-grpc sandbox inject-message --sandbox-url sandbox_url`"
                );
            }
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(sandbox::serve(listener, sandbox_config, async {
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
        webhook_listen = webhook_address.map(tracing::field::display),
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
        webhook: webhook_listener,
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

/// Where the in-process sandbox posts its webhooks: --sandbox-webhook-url, else this process's own
/// webhook listener (on loopback when it listens on every address); signed with the app secret.
fn sandbox_webhook(
    config: &whatsapp_grpc::config::ServeConfig,
    webhook_address: Option<SocketAddr>,
) -> Option<sandbox::SandboxWebhook> {
    use whatsapp_grpc::events::receiver::{CLOUD_PATH, ON_PREMISES_PREFIX};
    let webhooks = &config.server.webhooks;
    let own = webhook_address.map(|address| {
        let host = match address.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
            ip if ip.is_unspecified() => "[::1]".to_owned(),
            ip if ip.is_ipv6() => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        format!("http://{host}:{}", address.port())
    });
    let url = match (&config.sandbox_webhook_url, &own) {
        (Some(url), _) => Some(url.clone()),
        (None, Some(own)) => Some(format!("{own}{CLOUD_PATH}")),
        (None, None) => None,
    };
    // On-Premises installations post to this process's own listener, by the sender's name.
    let on_premises_url = own
        .zip(webhooks.on_premises_secret.as_ref())
        .map(|(own, secret)| {
            format!(
                "{own}{ON_PREMISES_PREFIX}{{installation}}/{}",
                secret.expose()
            )
        });
    let app_secret = webhooks
        .app_secret
        .as_ref()
        .map(|secret| secret.expose().to_owned());
    // A Cloud URL without the app secret is not signed: none is posted there.
    let url = url.filter(|_| app_secret.is_some());
    if url.is_none() && on_premises_url.is_none() {
        return None;
    }
    Some(sandbox::SandboxWebhook {
        url: url.unwrap_or_default(),
        app_secret: app_secret.unwrap_or_default(),
        on_premises_url,
    })
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

async fn run_sandbox(args: SandboxArgs) -> Result<(), String> {
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
    let mut config = args.sandbox_config();
    config.webhook = args.webhook(EnvCredentials::from_env().app_secret)?;
    if let Some(webhook) = &config.webhook {
        tracing::warn!(
            webhook_url = %whatsapp_grpc::upstream::display_url(&webhook.url),
            "SANDBOX: status webhooks of accepted sends are posted to webhook_url"
        );
    }
    sandbox::serve(listener, config, shutdown_signal()?)
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
