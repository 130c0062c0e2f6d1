//! whatsapp-grpc-bench: one command that measures whatsapp-grpc on this machine, and the references
//! it is judged against, under the same loads (see the README's "Performance" section).
//!
//! `cargo run --release -p whatsapp-grpc-bench -- [--smoke] [--duration 6s] [--out bench-results/]`
//! builds the service's release binary, starts an upstream stub, then in turn the service, a
//! hand-written facade, a bare tonic server (each its own process) and the stub alone, drives each
//! with its own gRPC (or HTTP) load, and prints and writes the figures. The same binary, with a
//! hidden subcommand, is the stub, the bare server and the facade.

mod bare;
mod children;
mod facade;
mod floor;
mod load;
mod plot;
mod procstat;
mod report;
mod run;
mod serve;
mod stub;
mod workloads;

/// The `whatsapp.v1` messages, client and server, generated from the service's `proto/` with
/// tonic-prost's default codec.
mod proto {
    #![allow(clippy::all)]
    tonic::include_proto!("whatsapp.v1");
}

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// The Cloud phone number id the facade and the stub-direct load send to (the service's senders
/// count up from it).
pub const PHONE_NUMBER_ID: &str = "100000000000001";

/// Measures whatsapp-grpc against a bare tonic server, a hand-written facade and its upstream.
#[derive(Debug, Parser)]
#[command(name = "whatsapp-grpc-bench", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    role: Option<Role>,
    #[command(flatten)]
    run: RunArgs,
}

/// The bench's own helper processes (started by the bench itself).
#[derive(Debug, Subcommand)]
enum Role {
    /// The upstream stub.
    #[command(hide = true)]
    Stub,
    /// The bare tonic server.
    #[command(hide = true)]
    Bare,
    /// The hand-written facade, sending to `--upstream`.
    #[command(hide = true)]
    Facade {
        #[arg(long)]
        upstream: String,
    },
    /// The floor of any facade, forwarding to `--upstream`.
    #[command(hide = true)]
    Floor {
        #[arg(long)]
        upstream: String,
    },
    /// Writes results.md and latency.svg again from a results.json, beside it.
    Replot { results: PathBuf },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// A few seconds per measurement and one offered rate: checks that everything starts and
    /// answers OK (CI), figures not meant to be read.
    #[arg(long, env = "WHATSAPP_GRPC_BENCH_SMOKE")]
    smoke: bool,

    /// How long each full-throughput measurement counts (each offered rate and each message shape
    /// counts half of it).
    #[arg(long, env = "WHATSAPP_GRPC_BENCH_DURATION", default_value = "6s", value_parser = humantime::parse_duration)]
    duration: Duration,

    /// The warm-up before each full-throughput measurement (half of it before the others).
    #[arg(long, env = "WHATSAPP_GRPC_BENCH_WARMUP", default_value = "1s", value_parser = humantime::parse_duration)]
    warmup: Duration,

    /// Where results.json, results.md and latency.svg are written.
    #[arg(long, env = "WHATSAPP_GRPC_BENCH_OUT", default_value = "bench-results")]
    out: PathBuf,

    /// gRPC connections to each server.
    #[arg(long, env = "WHATSAPP_GRPC_BENCH_CONNECTIONS", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    connections: u32,

    /// Calls in flight on each connection in the closed loop.
    #[arg(long, env = "WHATSAPP_GRPC_BENCH_STREAMS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=100))]
    streams: u32,

    /// The offered rates of the open-loop measurements, messages per second, comma-separated
    /// (a rate above a server's full-load throughput is skipped for it).
    #[arg(
        long,
        env = "WHATSAPP_GRPC_BENCH_RATES",
        value_delimiter = ',',
        default_value = "1000,2500,5000,10000,20000"
    )]
    rates: Vec<u32>,

    /// Cloud senders the service sends from, in turn, each limited to 10,000 messages per second
    /// (the limiter's maximum): enough senders that the limiter never makes a call wait.
    #[arg(long, env = "WHATSAPP_GRPC_BENCH_SENDERS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    senders: u32,

    /// The whatsapp-grpc binary to measure; by default the workspace's, built first with the
    /// bench's own profile.
    #[arg(long, env = "WHATSAPP_GRPC_BENCH_SERVICE_BINARY")]
    service_binary: Option<PathBuf>,

    /// Measure only these servers, comma-separated (service, facade, bare, stub; and floor, the
    /// least any facade can cost, measured only when named): to compare a change quickly, or to
    /// profile one server while it runs.
    #[arg(long, env = "WHATSAPP_GRPC_BENCH_ONLY", value_delimiter = ',', value_parser = run::Subject::parse)]
    only: Vec<run::Subject>,

    /// Measure the ratios this many times: after the whole run, each server again at full load
    /// and at 1,000 msg/s, in turn, this many times less one; the ratios are then printed as
    /// min – median – max (this machine's run-to-run noise is large).
    #[arg(long, env = "WHATSAPP_GRPC_BENCH_ROUNDS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    rounds: u32,

    /// How the service speaks to the stub: HTTP/2 (h2c with prior knowledge), as it speaks HTTP/2
    /// to the Cloud API (offered there in the TLS handshake); or HTTP/1.1, as to an API that offers
    /// nothing else. The facade and the floor speak HTTP/1.1 (their clients' default towards a
    /// plaintext URL, and the cheaper protocol for the facade's multi-threaded client).
    #[arg(long, env = "WHATSAPP_GRPC_BENCH_SERVICE_UPSTREAM", value_enum, default_value_t = run::UpstreamProtocol::H2c)]
    service_upstream: run::UpstreamProtocol,

    /// One more argument for the service's `serve`, repeatable (for example
    /// `--service-arg=--threads=1`).
    #[arg(
        long = "service-arg",
        env = "WHATSAPP_GRPC_BENCH_SERVICE_ARGS",
        value_delimiter = ' ',
        allow_hyphen_values = true
    )]
    service_args: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The floor runs on one thread, as the least a server can use.
    let runtime = match &cli.role {
        Some(Role::Floor { .. }) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Runtime::new(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: no tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.role {
            Some(Role::Stub) => stub::run().await,
            Some(Role::Bare) => bare::run().await,
            Some(Role::Facade { upstream }) => facade::run(&upstream).await,
            Some(Role::Floor { upstream }) => floor::run(&upstream).await,
            Some(Role::Replot { results }) => replot(&results),
            None => bench(cli.run).await,
        }
    });
    // Leftover tasks (connections, the stub's) are not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn replot(path: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let results: report::Results =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    results.write(dir)?;
    println!("{}", results.markdown());
    Ok(())
}

async fn bench(args: RunArgs) -> Result<(), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if args.rates.contains(&0) {
        return Err("--rates: every rate must be above 0".into());
    }
    let (warmup, window, point_warmup, point_window, rates) = if args.smoke {
        let ms = Duration::from_millis;
        (ms(500), ms(1500), ms(300), ms(1000), vec![100.0])
    } else {
        let half = |d: Duration| (d / 2).max(Duration::from_millis(500));
        (
            args.warmup,
            args.duration,
            half(args.warmup),
            half(args.duration),
            args.rates.iter().map(|r| f64::from(*r)).collect(),
        )
    };
    let settings = run::Settings {
        smoke: args.smoke,
        warmup,
        window,
        point_warmup,
        point_window,
        connections: args.connections as usize,
        streams: args.streams as usize,
        rates,
        senders: args.senders as usize,
        out: args.out,
        service_binary: args.service_binary,
        // The smoke run starts every server, the floor too, to check that each answers.
        only: if args.only.is_empty() && args.smoke {
            run::Subject::ALL.to_vec()
        } else if args.only.is_empty() {
            run::Subject::DEFAULT.to_vec()
        } else {
            args.only
        },
        service_upstream: args.service_upstream,
        service_args: args.service_args,
        rounds: if args.smoke { 1 } else { args.rounds as usize },
    };
    let out = settings.out.clone();
    // Ctrl-C or SIGTERM ends the run; the processes are killed as their handles drop.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("listening for SIGTERM: {e}"))?;
    let results = tokio::select! {
        results = run::run(settings) => results?,
        _ = tokio::signal::ctrl_c() => return Err("interrupted".into()),
        _ = terminate.recv() => return Err("terminated".into()),
    };
    results.write(&out)?;
    println!("{}", results.markdown());
    println!(
        "Written: {}, results.md and latency.svg",
        out.join("results.json").display()
    );
    let failures = results.failures();
    if !failures.is_empty() {
        return Err(format!(
            "answers other than OK (not counted as throughput):\n  {}",
            failures.join("\n  ")
        ));
    }
    Ok(())
}
