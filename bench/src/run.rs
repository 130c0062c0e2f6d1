//! One run: the stub, then each server under test in turn (its own process, so its CPU and memory
//! are its own), measured under the same loads, then the results.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tonic::transport::{Channel, Endpoint};

use crate::children::Process;
use crate::load::{self, Payload, RequestIds, Schedule, Target};
use crate::procstat::{self, Machine, Pid};
use crate::report::{Measurement, Mode, Ratios, Results, TargetResult};
use crate::workloads::{self, Shape};

/// How long building the service may take (a release build from scratch on two busy cores).
const BUILD_TIMEOUT: Duration = Duration::from_secs(40 * 60);
/// The per-sender send rate the service is given: its maximum, so that with [`Settings::senders`]
/// senders the limiter runs on every call but never makes one wait.
const PER_SENDER_RATE: u32 = 10_000;
/// How often resident memory is sampled during a measurement.
const MEMORY_SAMPLE: Duration = Duration::from_millis(200);

/// What to run, from the command line.
#[derive(Clone, Debug)]
pub struct Settings {
    pub smoke: bool,
    /// Warm-up and measurement of the full-throughput (closed-loop) measurements.
    pub warmup: Duration,
    pub window: Duration,
    /// Warm-up and measurement of each offered rate and of each shape.
    pub point_warmup: Duration,
    pub point_window: Duration,
    pub connections: usize,
    pub streams: usize,
    pub rates: Vec<f64>,
    pub senders: usize,
    pub out: PathBuf,
    pub service_binary: Option<PathBuf>,
    /// The servers measured, in [`Subject::ALL`]'s order.
    pub only: Vec<Subject>,
    /// The protocol the service speaks to the stub.
    pub service_upstream: UpstreamProtocol,
    /// Extra arguments for the service's `serve`.
    pub service_args: Vec<String>,
    /// How many times the ratios are measured: the whole run once, then again this many times
    /// less one, each server's full load and 1,000 msg/s only.
    pub rounds: usize,
}

/// The protocol the service speaks to the stub; in `results.json` as its [`name`](Self::name).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum UpstreamProtocol {
    /// HTTP/2 without TLS, with prior knowledge (`--upstream-http2-prior-knowledge`).
    #[serde(rename = "HTTP/2 (h2c)")]
    H2c,
    /// HTTP/1.1.
    #[serde(rename = "HTTP/1.1")]
    Http1,
}

impl UpstreamProtocol {
    /// As the results name it.
    pub fn name(self) -> &'static str {
        match self {
            UpstreamProtocol::H2c => "HTTP/2 (h2c)",
            UpstreamProtocol::Http1 => "HTTP/1.1",
        }
    }
}

/// The servers measured, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Service,
    HandFacade,
    BareTonic,
    StubDirect,
    /// The floor of any facade (`bench/src/floor.rs`): measured only when `--only` names it.
    Floor,
}

impl Subject {
    /// Every server, in the order they run.
    pub const ALL: [Subject; 5] = [
        Subject::Service,
        Subject::HandFacade,
        Subject::Floor,
        Subject::BareTonic,
        Subject::StubDirect,
    ];
    /// The servers measured when `--only` names none.
    pub const DEFAULT: [Subject; 4] = [
        Subject::Service,
        Subject::HandFacade,
        Subject::BareTonic,
        Subject::StubDirect,
    ];

    /// `--only`'s names.
    pub fn parse(name: &str) -> Result<Subject, String> {
        match name {
            "service" => Ok(Subject::Service),
            "facade" => Ok(Subject::HandFacade),
            "bare" => Ok(Subject::BareTonic),
            "stub" => Ok(Subject::StubDirect),
            "floor" => Ok(Subject::Floor),
            other => Err(format!(
                "{other:?} is not a server: service, facade, bare, stub or floor"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Subject::Service => "whatsapp-grpc",
            Subject::HandFacade => "hand-written facade",
            Subject::BareTonic => "bare tonic",
            Subject::StubDirect => "stub over HTTP",
            Subject::Floor => "floor (any facade)",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Subject::Service => {
                "the service (Cloud flavor, senders file, validation, JSON logs, in-memory idempotency with a request_id on every call, send-rate limiter, call and connection limits) sending to the stub"
            }
            Subject::HandFacade => {
                "tonic + serde_json::json! + a default reqwest::Client, text only, no validation, no tracing, sending to the stub"
            }
            Subject::BareTonic => "a tonic server answering SendMessage at once, no upstream",
            Subject::StubDirect => {
                "the stub called directly with the message's JSON over HTTP/1.1 (reqwest): the upstream's own cost"
            }
            Subject::Floor => {
                "tonic on one thread forwarding one constant JSON body with hyper's pooled client: no JSON built or read, no validation, no tracing; the least any facade can cost"
            }
        }
    }

    /// Whether the work-growth shapes run against it (the hand facade sends text only; the stub
    /// does no work per shape beyond reading the body).
    fn runs_shapes(self) -> bool {
        matches!(self, Subject::Service | Subject::BareTonic)
    }

    /// Whether a later round measures it again: the servers a ratio compares.
    fn in_rounds(self) -> bool {
        matches!(
            self,
            Subject::Service | Subject::HandFacade | Subject::BareTonic | Subject::Floor
        )
    }
}

pub async fn run(settings: Settings) -> Result<Results, String> {
    std::fs::create_dir_all(&settings.out)
        .map_err(|e| format!("--out {}: {e}", settings.out.display()))?;
    let binary = service_binary(settings.service_binary.as_deref())?;
    // The run proper, the build aside.
    let started = Instant::now();
    let mut machine = Machine::read();
    let shapes = workloads::all();
    let ids = Arc::new(RequestIds::new());

    let mut stub = Process::helper("stub", &["stub"])?;
    let stub_url = format!("http://{}", stub.address);
    eprintln!("stub listening on {}", stub.address);

    let targets = measure_each(&settings, &binary, &mut stub, &stub_url, &shapes, &ids).await?;
    // Later rounds: the ratios again, the servers one after the other as in the first, each at
    // full load and at 1,000 msg/s (when that rate is run) only: the short text alone.
    let mut rounds = vec![Ratios::of(&targets)];
    let round_settings = Settings {
        rates: settings
            .rates
            .iter()
            .copied()
            .filter(|r| *r == 1000.0)
            .collect(),
        only: settings
            .only
            .iter()
            .copied()
            .filter(|subject| subject.in_rounds())
            .collect(),
        ..settings.clone()
    };
    for round in 2..=settings.rounds {
        eprintln!("\n== round {round} of {}", settings.rounds);
        let again = measure_each(
            &round_settings,
            &binary,
            &mut stub,
            &stub_url,
            &shapes[..1],
            &ids,
        )
        .await?;
        rounds.push(Ratios::of(&again));
    }
    drop(stub);
    machine.load_at_end = procstat::load_average();
    Ok(Results::new(
        machine,
        &settings,
        targets,
        rounds,
        started.elapsed(),
    ))
}

/// Measures the servers `settings.only` names, in [`Subject::ALL`]'s order, checking after each
/// that the stub still runs.
async fn measure_each(
    settings: &Settings,
    binary: &Path,
    stub: &mut Process,
    stub_url: &str,
    shapes: &[Shape],
    ids: &Arc<RequestIds>,
) -> Result<Vec<TargetResult>, String> {
    let mut targets = Vec::new();
    for subject in Subject::ALL {
        if settings.only.contains(&subject) {
            targets.push(
                measure_subject(subject, settings, binary, stub, stub_url, shapes, ids).await?,
            );
            stub.check_alive()?;
        }
    }
    Ok(targets)
}

/// Measures one server: full load and each offered rate with `shapes[0]` (the short text), then
/// how cost grows with the other `shapes`.
async fn measure_subject(
    subject: Subject,
    settings: &Settings,
    binary: &Path,
    stub: &Process,
    stub_url: &str,
    shapes: &[Shape],
    ids: &Arc<RequestIds>,
) -> Result<TargetResult, String> {
    eprintln!("\n== {}", subject.name());
    let mut server = match subject {
        Subject::Service => Some(start_service(binary, settings, stub_url)?),
        Subject::HandFacade => Some(Process::helper(
            "hand-written facade",
            &["facade", "--upstream", stub_url],
        )?),
        Subject::BareTonic => Some(Process::helper("bare tonic", &["bare"])?),
        Subject::Floor => Some(Process::helper(
            "floor",
            &["floor", "--upstream", stub_url],
        )?),
        Subject::StubDirect => None,
    };
    let server_pid = Pid::Of(server.as_ref().map_or(stub.pid(), Process::pid));
    // Idle: started, connected to nothing yet.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = procstat::memory(server_pid)?;

    let workers = settings.connections * settings.streams;
    let target = Arc::new(match &server {
        Some(server) => Target::Grpc {
            channels: connect(server, settings.connections).await?,
            senders: match subject {
                Subject::Service => (0..settings.senders).map(sender_name).collect(),
                _ => Vec::new(),
            },
        },
        None => Target::Http {
            client: reqwest::Client::new(),
            url: format!("{stub_url}/v24.0/{}/messages", crate::PHONE_NUMBER_ID),
        },
    });
    let payload = |shape: &Shape| -> Result<Arc<Payload>, String> {
        Ok(Arc::new(match subject {
            Subject::StubDirect => Payload::Http(Bytes::from(shape.cloud_json()?)),
            _ => Payload::Grpc(Box::new(shape.request.clone())),
        }))
    };
    let meter = Meter {
        server: server_pid,
        stub: Pid::Of(stub.pid()),
    };
    let short = &shapes[0];

    let schedule = Schedule::new(settings.warmup, settings.window);
    let tally = load::closed_loop(
        target.clone(),
        payload(short)?,
        ids.clone(),
        workers,
        schedule,
    );
    let (tally, usage) = meter.during(schedule, tally).await?;
    let full = Measurement::new(
        subject,
        short.name,
        Mode::Closed { workers },
        schedule,
        &tally,
        &usage,
    );
    full.print();

    let mut open = Vec::new();
    for &rate in &settings.rates {
        if rate > full.msgs_per_s {
            eprintln!(
                "  {rate:.0}/s offered: skipped, above the {:.0}/s measured at full load",
                full.msgs_per_s
            );
            continue;
        }
        let schedule = Schedule::new(settings.point_warmup, settings.point_window);
        let tally = load::open_loop(
            target.clone(),
            payload(short)?,
            ids.clone(),
            rate,
            workers * 8,
            schedule,
        );
        let (tally, usage) = meter.during(schedule, tally).await?;
        let point = Measurement::new(
            subject,
            short.name,
            Mode::Open { offered: rate },
            schedule,
            &tally,
            &usage,
        );
        point.print();
        open.push(point);
    }
    let peak_at_full_load = procstat::memory(server_pid)?.peak;

    let mut work = Vec::new();
    if subject.runs_shapes() {
        for shape in &shapes[1..] {
            let schedule = Schedule::new(settings.point_warmup, settings.point_window);
            let tally = load::closed_loop(
                target.clone(),
                payload(shape)?,
                ids.clone(),
                workers,
                schedule,
            );
            let (tally, usage) = meter.during(schedule, tally).await?;
            let point = Measurement::new(
                subject,
                shape.name,
                Mode::Closed { workers },
                schedule,
                &tally,
                &usage,
            );
            point.print();
            work.push(point);
        }
    }
    let end = procstat::memory(server_pid)?;
    if let Some(server) = server.as_mut() {
        server.check_alive()?;
    }
    Ok(TargetResult {
        name: subject.name().to_string(),
        description: subject.description().to_string(),
        idle_rss_bytes: idle.rss,
        peak_rss_full_load_bytes: peak_at_full_load,
        peak_rss_bytes: end.peak,
        full,
        open,
        work,
    })
}

fn sender_name(i: usize) -> String {
    format!("bench-{i}")
}

/// The service, as production runs it but for the addresses: a senders file of `senders` Cloud
/// senders on the stub, each limited to [`PER_SENDER_RATE`] messages per second; logs as JSON at
/// the default level; idempotency in memory (the default); every limit at its default.
fn start_service(binary: &Path, settings: &Settings, stub_url: &str) -> Result<Process, String> {
    let mut file = format!("[defaults]\nmax_messages_per_second = {PER_SENDER_RATE}\n");
    for i in 0..settings.senders {
        file.push_str(&format!(
            "\n[[sender]]\nname = \"{}\"\nflavor = \"cloud\"\nphone_number_id = \"{}\"\nbase_url = \"{stub_url}\"\ntoken_env = \"{}\"\n",
            sender_name(i),
            crate::PHONE_NUMBER_ID.parse::<u64>().unwrap_or(0) + i as u64,
            crate::facade::TOKEN_ENV,
        ));
    }
    let path = settings.out.join("service-senders.toml");
    std::fs::write(&path, file).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut args = vec![
        "--listen".to_string(),
        "127.0.0.1:0".into(),
        "--log-format".into(),
        "json".into(),
        "--senders".into(),
        path.display().to_string(),
    ];
    if settings.service_upstream == UpstreamProtocol::H2c {
        args.push("--upstream-http2-prior-knowledge".into());
    }
    args.extend(settings.service_args.iter().cloned());
    Process::service(binary, &args, &[(crate::facade::TOKEN_ENV, "bench-token")])
}

/// One HTTP/2 connection per channel.
async fn connect(server: &Process, connections: usize) -> Result<Vec<Channel>, String> {
    let mut channels = Vec::new();
    for _ in 0..connections {
        let endpoint = Endpoint::from_shared(format!("http://{}", server.address))
            .map_err(|e| e.to_string())?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        let channel = tokio::time::timeout(Duration::from_secs(10), endpoint.connect())
            .await
            .map_err(|_| format!("{}: no connection within 10 s", server.name))?
            .map_err(|e| format!("{}: cannot connect: {e}", server.name))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// What the processes used during a measurement's window.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub server_cpu_s: f64,
    pub stub_cpu_s: f64,
    pub loadgen_cpu_s: f64,
    pub rss_min: u64,
    pub rss_max: u64,
    pub rss_end: u64,
}

struct Meter {
    server: Pid,
    stub: Pid,
}

impl Meter {
    /// Runs `load` while a thread reads the processes' CPU time at the window's start and end, and
    /// their memory every [`MEMORY_SAMPLE`] in between.
    async fn during(
        &self,
        schedule: Schedule,
        load: impl Future<Output = Result<load::Tally, String>>,
    ) -> Result<(load::Tally, Usage), String> {
        let (server, stub) = (self.server, self.stub);
        let sampler = std::thread::spawn(move || -> Result<Usage, String> {
            sleep_until(schedule.window_start);
            let cpu = || -> Result<[f64; 3], String> {
                Ok([
                    procstat::cpu_seconds(server)?,
                    procstat::cpu_seconds(stub)?,
                    procstat::cpu_seconds(Pid::Myself)?,
                ])
            };
            let before = cpu()?;
            let mut usage = Usage {
                rss_min: u64::MAX,
                ..Usage::default()
            };
            loop {
                let rss = procstat::memory(server)?.rss;
                usage.rss_min = usage.rss_min.min(rss);
                usage.rss_max = usage.rss_max.max(rss);
                usage.rss_end = rss;
                let next = Instant::now() + MEMORY_SAMPLE;
                if next >= schedule.window_end {
                    break;
                }
                sleep_until(next);
            }
            sleep_until(schedule.window_end);
            let after = cpu()?;
            usage.server_cpu_s = after[0] - before[0];
            usage.stub_cpu_s = after[1] - before[1];
            usage.loadgen_cpu_s = after[2] - before[2];
            Ok(usage)
        });
        let tally = load.await?;
        let usage = tokio::task::spawn_blocking(move || sampler.join())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|_| "the sampling thread panicked".to_string())??;
        Ok((tally, usage))
    }
}

fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        std::thread::sleep(at - now);
    }
}

/// The `whatsapp-grpc` binary: the one named, or the workspace's, built now with the profile the
/// bench itself was built with (`cargo run --release` → release).
fn service_binary(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let exe = std::env::current_exe().map_err(|e| format!("the bench's own path: {e}"))?;
    let dir = exe
        .parent()
        .ok_or("the bench's own path has no folder")?
        .to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "--locked",
            "-p",
            "whatsapp-grpc",
            // With the bench's package selected too, features unify as in the bench's own build,
            // so the library and its dependencies are the ones `cargo run` just built (alone, the
            // service would build its library again: the bench turns on one crate's `default`
            // feature, num-traits', which only names `std`, on anyway).
            "-p",
            "whatsapp-grpc-bench",
            "--bin",
            "whatsapp-grpc",
        ])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"));
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    // `cargo run` describes the bench to it in these variables (and `OUT_DIR`, the bench having a
    // build script); build scripts that read them (ring's) would see them change and rebuild, with
    // everything above them, on every run.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_BIN_NAME",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "OUT_DIR",
            ]
            .contains(&&*key)
        {
            build.env_remove(&*key);
        }
    }
    eprintln!("building the service: {build:?}");
    let mut child = build
        .spawn()
        .map_err(|e| format!("cannot run cargo to build the service: {e}"))?;
    let deadline = Instant::now() + BUILD_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "building the service took more than {BUILD_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if !status.success() {
        return Err(format!("building the service failed ({status})"));
    }
    let binary = dir.join("whatsapp-grpc");
    if !binary.is_file() {
        return Err(format!(
            "the service's binary is not at {}",
            binary.display()
        ));
    }
    Ok(binary)
}
