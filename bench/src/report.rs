//! The figures: one [`Measurement`] per load, gathered into [`Results`], printed as tables with the
//! ratios, and written as JSON (every figure), Markdown (the README's tables) and SVG (the plot).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::load::{Schedule, Tally};
use crate::procstat::Machine;
use crate::run::{Settings, Subject, UpstreamProtocol, Usage};

/// How the load was offered.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Mode {
    /// `workers` calls in flight at all times.
    Closed { workers: usize },
    /// `offered` calls per second, whatever the answers.
    Open { offered: f64 },
}

/// One load against one server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measurement {
    pub target: String,
    pub shape: String,
    #[serde(flatten)]
    pub mode: Mode,
    pub window_s: f64,
    /// OK answers in the window.
    pub ok: u64,
    /// Answers that were not OK (warm-up included), by gRPC code or HTTP status.
    pub errors: BTreeMap<String, u64>,
    /// Open loop: calls due in the window but not sent, the target being too far behind.
    pub not_sent: u64,
    pub msgs_per_s: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub server_cpu_s: f64,
    /// The server's CPU time per OK answer, in microseconds.
    pub server_cpu_us_per_msg: f64,
    /// The stub's and the load generator's, for scale (the three share the machine's cores).
    pub stub_cpu_us_per_msg: f64,
    pub loadgen_cpu_us_per_msg: f64,
    /// The server's resident memory during the window: lowest, highest and at its end.
    pub rss_min_bytes: u64,
    pub rss_max_bytes: u64,
    pub rss_end_bytes: u64,
}

impl Measurement {
    pub fn new(
        subject: Subject,
        shape: &str,
        mode: Mode,
        schedule: Schedule,
        tally: &Tally,
        usage: &Usage,
    ) -> Measurement {
        let window = schedule.window().as_secs_f64();
        let per_msg = |cpu: f64| {
            if tally.ok == 0 {
                0.0
            } else {
                cpu / tally.ok as f64 * 1e6
            }
        };
        let quantile = |q: f64| {
            if tally.latency.is_empty() {
                0
            } else {
                tally.latency.value_at_quantile(q)
            }
        };
        Measurement {
            target: subject.name().to_string(),
            shape: shape.to_string(),
            mode,
            window_s: window,
            ok: tally.ok,
            errors: tally.errors.clone(),
            not_sent: tally.not_sent,
            msgs_per_s: tally.ok as f64 / window,
            p50_us: quantile(0.5),
            p99_us: quantile(0.99),
            p999_us: quantile(0.999),
            max_us: tally.latency.max(),
            server_cpu_s: usage.server_cpu_s,
            server_cpu_us_per_msg: per_msg(usage.server_cpu_s),
            stub_cpu_us_per_msg: per_msg(usage.stub_cpu_s),
            loadgen_cpu_us_per_msg: per_msg(usage.loadgen_cpu_s),
            rss_min_bytes: usage.rss_min,
            rss_max_bytes: usage.rss_max,
            rss_end_bytes: usage.rss_end,
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// One progress line on standard error.
    pub fn print(&self) {
        let load = match self.mode {
            Mode::Closed { workers } => format!("{workers} in flight"),
            Mode::Open { offered } => format!("{offered:.0}/s offered"),
        };
        let mut line = format!(
            "  {:<16} {:<16} {:>9.0} msg/s  p50 {:>6} µs  p99 {:>6} µs  p99.9 {:>6} µs  CPU {:>6.1} µs/msg",
            self.shape,
            load,
            self.msgs_per_s,
            self.p50_us,
            self.p99_us,
            self.p999_us,
            self.server_cpu_us_per_msg
        );
        if self.error_count() > 0 {
            let _ = write!(line, "  ERRORS {:?}", self.errors);
        }
        if self.not_sent > 0 {
            let _ = write!(line, "  ({} not sent: saturated)", self.not_sent);
        }
        eprintln!("{line}");
    }
}

/// One server's measurements.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetResult {
    pub name: String,
    pub description: String,
    /// Resident memory once started, before any connection.
    pub idle_rss_bytes: u64,
    /// The peak (`VmHWM`) after the short-text loads, full and at each rate.
    pub peak_rss_full_load_bytes: u64,
    /// The peak after every load, the large shapes included.
    pub peak_rss_bytes: u64,
    /// Short texts, closed loop: full throughput.
    pub full: Measurement,
    /// Short texts at each offered rate.
    pub open: Vec<Measurement>,
    /// The other shapes, closed loop.
    pub work: Vec<Measurement>,
}

impl TargetResult {
    /// The measurement at `rate` offered, if it ran.
    fn at_rate(&self, rate: f64) -> Option<&Measurement> {
        self.open
            .iter()
            .find(|m| matches!(m.mode, Mode::Open { offered } if offered == rate))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSettings {
    pub smoke: bool,
    pub profile: String,
    pub connections: usize,
    pub streams_per_connection: usize,
    pub warmup_s: f64,
    pub window_s: f64,
    pub point_warmup_s: f64,
    pub point_window_s: f64,
    pub rates: Vec<f64>,
    pub service_senders: usize,
    /// Extra arguments the service was started with (`--service-arg`).
    #[serde(default)]
    pub service_args: Vec<String>,
    /// The protocol the service spoke to the stub (runs before it was a setting spoke HTTP/1.1).
    #[serde(default = "http1")]
    pub service_upstream: UpstreamProtocol,
}

fn http1() -> UpstreamProtocol {
    UpstreamProtocol::Http1
}

/// The service's figures over a reference's.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Ratios {
    pub throughput_vs_hand_facade: Option<f64>,
    pub throughput_vs_bare_tonic: Option<f64>,
    pub cpu_per_msg_vs_hand_facade_full_load: Option<f64>,
    pub cpu_per_msg_vs_hand_facade_at_1000: Option<f64>,
    pub p99_us_at_1000: Option<u64>,
    /// The floor's CPU per message against the hand-written facade's (when both ran): the least
    /// any facade's ratio can be on this machine.
    #[serde(default)]
    pub floor_cpu_per_msg_vs_hand_facade_full_load: Option<f64>,
    #[serde(default)]
    pub floor_cpu_per_msg_vs_hand_facade_at_1000: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    pub version: String,
    pub unix_time: u64,
    pub duration_s: f64,
    pub machine: Machine,
    pub settings: RunSettings,
    pub targets: Vec<TargetResult>,
    pub ratios: Ratios,
    /// The ratios of every round (`--rounds`), the first run's first; one round by default.
    #[serde(default)]
    pub rounds: Vec<Ratios>,
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (a > 0.0 && b > 0.0).then(|| a / b)
}

impl Ratios {
    /// The ratios between `targets` (those it has).
    pub fn of(targets: &[TargetResult]) -> Ratios {
        let find = |subject: Subject| targets.iter().find(|t| t.name == subject.name());
        let mut ratios = Ratios::default();
        if let Some(service) = find(Subject::Service) {
            if let Some(facade) = find(Subject::HandFacade) {
                ratios.throughput_vs_hand_facade =
                    ratio(service.full.msgs_per_s, facade.full.msgs_per_s);
                (
                    ratios.cpu_per_msg_vs_hand_facade_full_load,
                    ratios.cpu_per_msg_vs_hand_facade_at_1000,
                ) = cpu_ratios(service, facade);
            }
            if let Some(bare) = find(Subject::BareTonic) {
                ratios.throughput_vs_bare_tonic =
                    ratio(service.full.msgs_per_s, bare.full.msgs_per_s);
            }
            ratios.p99_us_at_1000 = service.at_rate(1000.0).map(|m| m.p99_us);
        }
        if let (Some(floor), Some(facade)) = (find(Subject::Floor), find(Subject::HandFacade)) {
            (
                ratios.floor_cpu_per_msg_vs_hand_facade_full_load,
                ratios.floor_cpu_per_msg_vs_hand_facade_at_1000,
            ) = cpu_ratios(floor, facade);
        }
        ratios
    }
}

/// `target`'s CPU per message against `reference`'s: at full load, and at 1,000 msg/s.
fn cpu_ratios(target: &TargetResult, reference: &TargetResult) -> (Option<f64>, Option<f64>) {
    let full_load = ratio(
        target.full.server_cpu_us_per_msg,
        reference.full.server_cpu_us_per_msg,
    );
    let at_1000 = match (target.at_rate(1000.0), reference.at_rate(1000.0)) {
        (Some(t), Some(r)) => ratio(t.server_cpu_us_per_msg, r.server_cpu_us_per_msg),
        _ => None,
    };
    (full_load, at_1000)
}

impl Results {
    pub fn new(
        machine: Machine,
        settings: &Settings,
        targets: Vec<TargetResult>,
        rounds: Vec<Ratios>,
        took: Duration,
    ) -> Results {
        let ratios = Ratios::of(&targets);
        Results {
            version: git_version(),
            unix_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            duration_s: took.as_secs_f64(),
            machine,
            settings: RunSettings {
                smoke: settings.smoke,
                profile: if cfg!(debug_assertions) {
                    "dev"
                } else {
                    "release"
                }
                .to_string(),
                connections: settings.connections,
                streams_per_connection: settings.streams,
                warmup_s: settings.warmup.as_secs_f64(),
                window_s: settings.window.as_secs_f64(),
                point_warmup_s: settings.point_warmup.as_secs_f64(),
                point_window_s: settings.point_window.as_secs_f64(),
                rates: settings.rates.clone(),
                service_senders: settings.senders,
                service_args: settings.service_args.clone(),
                service_upstream: settings.service_upstream,
            },
            targets,
            ratios,
            rounds,
        }
    }

    /// Every measurement that had an answer other than OK.
    pub fn failures(&self) -> Vec<String> {
        self.targets
            .iter()
            .flat_map(|t| std::iter::once(&t.full).chain(&t.open).chain(&t.work))
            .filter(|m| m.error_count() > 0)
            .map(|m| format!("{} / {}: {:?}", m.target, m.shape, m.errors))
            .collect()
    }

    /// The tables, as Markdown (the README's), which also reads well in a terminal.
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let s = &self.settings;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Run of {} ({} profile{}), {:.0} s: {} ({} CPUs, {} GiB, Linux {}), load average {:.1} at the start and {:.1} at the end; {} connections × {} streams; closed loop {} s after {} s of warm-up, each rate and shape {} s after {} s.\n",
            self.version,
            s.profile,
            if s.smoke { ", smoke" } else { "" },
            self.duration_s,
            m.cpu_model,
            m.cpus,
            m.memory_gib,
            m.kernel,
            m.load_at_start,
            m.load_at_end,
            s.connections,
            s.streams_per_connection,
            s.window_s,
            s.warmup_s,
            s.point_window_s,
            s.point_warmup_s,
        );
        let _ = writeln!(
            out,
            "The service spoke {} to the stub; the hand-written facade and the floor spoke HTTP/1.1.\n",
            s.service_upstream.name()
        );
        if !s.service_args.is_empty() {
            let _ = writeln!(
                out,
                "The service was started with `{}`.\n",
                s.service_args.join(" ")
            );
        }
        let mib = |bytes: u64| bytes as f64 / 1024.0 / 1024.0;
        out.push_str("Full load (short text, closed loop):\n\n");
        out.push_str("| server | msg/s | p50 | p99 | p99.9 | server CPU/msg | stub CPU/msg | load generator CPU/msg | RSS idle | RSS steady | RSS peak |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for t in &self.targets {
            let f = &t.full;
            let _ = writeln!(
                out,
                "| {} | {:.0} | {} | {} | {} | {:.1} µs | {} | {:.1} µs | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
                t.name,
                f.msgs_per_s,
                us(f.p50_us),
                us(f.p99_us),
                us(f.p999_us),
                f.server_cpu_us_per_msg,
                if t.name == Subject::StubDirect.name() {
                    "(is the server)".to_string()
                } else if t.name == Subject::BareTonic.name() {
                    "(not called)".to_string()
                } else {
                    format!("{:.1} µs", f.stub_cpu_us_per_msg)
                },
                f.loadgen_cpu_us_per_msg,
                mib(t.idle_rss_bytes),
                mib(f.rss_end_bytes),
                mib(t.peak_rss_full_load_bytes),
            );
        }
        let rates: Vec<f64> = s.rates.clone();
        out.push_str(
            "\nOffered rates (short text, open loop; latency from when each call was due):\n\n",
        );
        out.push_str("| server | offered | achieved | p50 | p99 | p99.9 | server CPU/msg |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
        for t in &self.targets {
            for rate in &rates {
                match t.at_rate(*rate) {
                    Some(p) => {
                        let _ = writeln!(
                            out,
                            "| {} | {:.0}/s | {:.0}/s{} | {} | {} | {} | {:.1} µs |",
                            t.name,
                            rate,
                            p.msgs_per_s,
                            if p.not_sent > 0 { " (saturated)" } else { "" },
                            us(p.p50_us),
                            us(p.p99_us),
                            us(p.p999_us),
                            p.server_cpu_us_per_msg
                        );
                    }
                    None => {
                        let _ = writeln!(
                            out,
                            "| {} | {:.0}/s | above its full load | | | | |",
                            t.name, rate
                        );
                    }
                }
            }
        }
        out.push_str("\nHow cost grows with work (closed loop):\n\n");
        out.push_str("| server | message | msg/s | p99 | server CPU/msg | RSS peak |\n");
        out.push_str("|---|---|---:|---:|---:|---:|\n");
        for t in self.targets.iter().filter(|t| !t.work.is_empty()) {
            for w in std::iter::once(&t.full).chain(&t.work) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.0} | {} | {:.1} µs | {:.1} MiB |",
                    t.name,
                    w.shape,
                    w.msgs_per_s,
                    us(w.p99_us),
                    w.server_cpu_us_per_msg,
                    mib(w.rss_max_bytes),
                );
            }
        }
        let r = &self.ratios;
        let x = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.2}×"));
        let _ = writeln!(
            out,
            "\nRatios: whatsapp-grpc's throughput is {} the hand-written facade's and {} bare tonic's; its CPU per message {} the hand-written facade's at full load and {} at 1,000 msg/s; its p99 at 1,000 msg/s is {}.",
            x(r.throughput_vs_hand_facade),
            x(r.throughput_vs_bare_tonic),
            x(r.cpu_per_msg_vs_hand_facade_full_load),
            x(r.cpu_per_msg_vs_hand_facade_at_1000),
            r.p99_us_at_1000.map_or("n/a".into(), us),
        );
        if self.rounds.len() > 1 {
            out.push_str(&self.spread());
        }
        if r.floor_cpu_per_msg_vs_hand_facade_full_load.is_some() {
            let _ = writeln!(
                out,
                "\nThe floor's CPU per message (the least any facade can cost here) is {} the hand-written facade's at full load and {} at 1,000 msg/s.",
                x(r.floor_cpu_per_msg_vs_hand_facade_full_load),
                x(r.floor_cpu_per_msg_vs_hand_facade_at_1000),
            );
        }
        out
    }

    /// The ratios over the rounds, as min – median – max.
    fn spread(&self) -> String {
        let rows: [(&str, RatioOf); 6] = [
            ("throughput vs the hand-written facade", |r| {
                r.throughput_vs_hand_facade
            }),
            ("throughput vs bare tonic", |r| r.throughput_vs_bare_tonic),
            ("CPU/msg vs the hand-written facade, full load", |r| {
                r.cpu_per_msg_vs_hand_facade_full_load
            }),
            ("CPU/msg vs the hand-written facade, 1,000 msg/s", |r| {
                r.cpu_per_msg_vs_hand_facade_at_1000
            }),
            (
                "floor's CPU/msg vs the hand-written facade, full load",
                |r| r.floor_cpu_per_msg_vs_hand_facade_full_load,
            ),
            (
                "floor's CPU/msg vs the hand-written facade, 1,000 msg/s",
                |r| r.floor_cpu_per_msg_vs_hand_facade_at_1000,
            ),
        ];
        let mut out = format!(
            "\nRatios over {} rounds (min – median – max):\n\n| ratio | min | median | max |\n|---|---:|---:|---:|\n",
            self.rounds.len()
        );
        for (name, get) in rows {
            let mut values: Vec<f64> = self.rounds.iter().filter_map(get).collect();
            if values.is_empty() {
                continue;
            }
            values.sort_by(f64::total_cmp);
            let _ = writeln!(
                out,
                "| {name} | {:.2}× | {:.2}× | {:.2}× |",
                values[0],
                median(&values),
                values[values.len() - 1]
            );
        }
        out
    }

    /// Writes `results.json`, `results.md` and `latency.svg` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
        };
        write(
            "results.json",
            serde_json::to_string_pretty(self).map_err(|e| e.to_string())?,
        )?;
        write("results.md", self.markdown())?;
        write("latency.svg", crate::plot::svg(self))
    }
}

/// Reads one of the ratios.
type RatioOf = fn(&Ratios) -> Option<f64>;

/// The median of sorted, non-empty `values`.
fn median(values: &[f64]) -> f64 {
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

/// A latency for a table: µs below 10 ms, else ms.
fn us(value: u64) -> String {
    if value < 10_000 {
        format!("{value} µs")
    } else {
        format!("{:.1} ms", value as f64 / 1000.0)
    }
}

/// `git describe` of the workspace, when it is a git checkout.
fn git_version() -> String {
    std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_string())
        .unwrap_or_else(|| "an unknown revision".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of the committed run, `docs/bench/results.json`.
    fn committed() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/bench/results.json"
        ))
        .expect("docs/bench/results.json")
    }

    #[test]
    fn the_rounds_ratios_are_printed_as_min_median_max() {
        let text = committed();
        let mut results: Results = serde_json::from_str(&text).expect("a results file");
        assert!(!results.markdown().contains("rounds"));
        let round = |cpu: f64| Ratios {
            cpu_per_msg_vs_hand_facade_full_load: Some(cpu),
            ..Ratios::default()
        };
        results.rounds = vec![round(0.9), round(0.5), round(0.7), round(0.6)];
        let markdown = results.markdown();
        assert!(
            markdown.contains("Ratios over 4 rounds (min – median – max)"),
            "{markdown}"
        );
        assert!(
            markdown.contains(
                "| CPU/msg vs the hand-written facade, full load | 0.50× | 0.65× | 0.90× |"
            ),
            "{markdown}"
        );
        // A ratio no round has is left out.
        assert!(
            !markdown.contains("| throughput vs bare tonic |"),
            "{markdown}"
        );
    }

    #[test]
    fn the_committed_results_read_back_and_redraw() {
        let text = committed();
        let results: Results = serde_json::from_str(&text).expect("a results file");
        assert!(results.failures().is_empty());
        let markdown = results.markdown();
        // The committed run measured every server, the opt-in floor too.
        assert_eq!(results.targets.len(), Subject::ALL.len());
        for subject in Subject::ALL {
            assert!(
                markdown.contains(&format!("| {} |", subject.name())),
                "{markdown}"
            );
        }
        let svg = crate::plot::svg(&results);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2 * Subject::ALL.len());
        // The committed run measured the service as the bench does by default.
        assert_eq!(results.settings.service_upstream, UpstreamProtocol::H2c);
        assert!(markdown.contains("The service spoke HTTP/2 (h2c) to the stub"));
    }

    #[test]
    fn a_run_from_before_the_protocol_was_a_setting_reads_as_http1() {
        let text = committed();
        let mut value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let settings = value["settings"].as_object_mut().expect("settings");
        assert!(settings.remove("service_upstream").is_some());
        let results: Results = serde_json::from_value(value).expect("a results file");
        assert_eq!(results.settings.service_upstream, UpstreamProtocol::Http1);
        assert!(
            results
                .markdown()
                .contains("The service spoke HTTP/1.1 to the stub")
        );
    }
}
