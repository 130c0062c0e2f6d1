//! What a process has cost so far, read from `/proc`: CPU seconds (`utime + stime` of
//! `/proc/PID/stat`) and resident memory (`VmRSS`, and its peak `VmHWM`, of `/proc/PID/status`).

use std::sync::OnceLock;

/// `pid`, or `self` for the bench (the load generator).
#[derive(Clone, Copy, Debug)]
pub enum Pid {
    Of(u32),
    Myself,
}

impl Pid {
    fn path(self, file: &str) -> String {
        match self {
            Pid::Of(pid) => format!("/proc/{pid}/{file}"),
            Pid::Myself => format!("/proc/self/{file}"),
        }
    }
}

/// The user and system CPU time the process has used, in seconds.
pub fn cpu_seconds(pid: Pid) -> Result<f64, String> {
    let path = pid.path("stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    // The command name (field 2) may hold spaces and parentheses: count fields after its last `)`.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("{path}: no command name"))?;
    // Fields 3, 4, … follow; utime and stime are fields 14 and 15.
    let mut fields = rest.split_whitespace().skip(11);
    let mut tick = || -> Result<u64, String> {
        fields
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{path}: no utime/stime"))
    };
    let ticks = tick()? + tick()?;
    Ok(ticks as f64 / clock_ticks_per_second())
}

/// Resident memory now and at its peak, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub rss: u64,
    pub peak: u64,
}

pub fn memory(pid: Pid) -> Result<Memory, String> {
    let path = pid.path("status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let kib = |key: &str| -> Result<u64, String> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib * 1024)
            .ok_or_else(|| format!("{path}: no {key}"))
    };
    Ok(Memory {
        rss: kib("VmRSS:")?,
        peak: kib("VmHWM:")?,
    })
}

/// `getconf CLK_TCK` (100 on every Linux this runs on; asked once rather than assumed).
fn clock_ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse::<f64>().ok())
            .filter(|ticks| *ticks > 0.0)
            .unwrap_or(100.0)
    })
}

/// The machine the figures were measured on.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cpus: usize,
    pub memory_gib: f64,
    pub kernel: String,
    /// `/proc/loadavg`'s 1-minute load when the run started and when it ended: other work on the
    /// machine competes with the measured processes.
    pub load_at_start: f64,
    pub load_at_end: f64,
}

impl Machine {
    pub fn read() -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let meminfo = read("/proc/meminfo");
        Machine {
            cpu_model: cpuinfo
                .lines()
                .find_map(|line| line.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
                .unwrap_or_else(|| "unknown".into()),
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: meminfo
                .lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
                .map_or(0.0, |kib| (kib / 1024.0 / 1024.0 * 10.0).round() / 10.0),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            load_at_start: load_average(),
            load_at_end: 0.0,
        }
    }
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work_and_memory_is_read() {
        let before = cpu_seconds(Pid::Myself).expect("readable");
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let after = cpu_seconds(Pid::Myself).expect("readable");
        assert!(after > before, "{before} → {after}");
        let memory = memory(Pid::Myself).expect("readable");
        assert!(memory.rss > 0 && memory.peak >= memory.rss, "{memory:?}");
        assert!(cpu_seconds(Pid::Of(u32::MAX)).is_err());
    }
}
