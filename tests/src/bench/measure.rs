//! Measurements: the daemon's own process accounting from /proc, latency percentiles, and a
//! description of the machine the numbers came from.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;

/// Clock ticks per second for /proc/<pid>/stat (`getconf CLK_TCK`; 100 on every Linux we know).
fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100)
    })
}

/// One reading of a process's CPU time and memory.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    /// utime + stime.
    pub cpu: Duration,
    /// Resident set size now (VmRSS).
    pub rss_bytes: u64,
    /// Peak resident set size (VmHWM).
    pub hwm_bytes: u64,
    pub threads: u64,
    pub at: std::time::Instant,
}

impl ProcSample {
    pub fn read(pid: u32) -> anyhow::Result<ProcSample> {
        let at = std::time::Instant::now();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("read /proc/{pid}/stat"))?;
        // The command name (field 2) may contain spaces: fields are counted after its ')'.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .context("bad /proc stat")?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        // After ')': index 0 is field 3 (state), so utime (14) is 11 and stime (15) is 12.
        let num = |i: usize| -> anyhow::Result<u64> {
            f.get(i)
                .context("short /proc stat")?
                .parse::<u64>()
                .context("bad /proc stat field")
        };
        let ticks = num(11)? + num(12)?;
        let cpu = Duration::from_micros(ticks * 1_000_000 / clock_ticks());
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kb = |key: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(ProcSample {
            cpu,
            rss_bytes: kb("VmRSS:") * 1024,
            hwm_bytes: kb("VmHWM:") * 1024,
            threads: kb("Threads:"),
            at,
        })
    }

    /// CPU used between `earlier` and `self`, and the share of one core over the wall time.
    pub fn cpu_since(&self, earlier: &ProcSample) -> (Duration, f64) {
        let cpu = self.cpu.saturating_sub(earlier.cpu);
        let wall = self.at.duration_since(earlier.at).as_secs_f64();
        (cpu, 100.0 * cpu.as_secs_f64() / wall.max(1e-9))
    }
}

/// Sorted latencies with nearest-rank percentiles.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    pub fn new(mut v: Vec<Duration>) -> Self {
        v.sort_unstable();
        Latencies { sorted: v }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// `p` in 0..=100.
    pub fn pct(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }

    /// `p50 / p99 / max` in milliseconds, for a table cell.
    pub fn p50_p99_max(&self) -> String {
        format!(
            "{} / {} / {}",
            ms(self.pct(50.0)),
            ms(self.pct(99.0)),
            ms(self.max())
        )
    }
}

/// Milliseconds with two decimals, for tables.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Binary megabytes with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn sh(cmd: &str) -> String {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// `nproc`, the head of `lscpu`, memory, kernel: for BENCHMARKS.md.
pub fn machine() -> String {
    format!(
        "nproc: {}\n{}\n{}\nkernel: {}",
        sh("nproc"),
        sh("lscpu | head -n 15"),
        sh("grep -E '^(MemTotal|MemAvailable)' /proc/meminfo"),
        sh("uname -sr"),
    )
}

/// Starts a flat `perf record -e cpu-clock` of `pid` for `secs` seconds into `out` (the release
/// build has symbols but no frame info, so call graphs are not asked for). Wait on the child.
pub fn perf_record(pid: u32, out: &Path, secs: u64) -> anyhow::Result<std::process::Child> {
    Command::new("perf")
        .args(["record", "-q", "-e", "cpu-clock", "-F", "999", "-p"])
        .arg(pid.to_string())
        .arg("-o")
        .arg(out)
        .args(["--", "sleep"])
        .arg(secs.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("run perf")
}

/// The 1-minute load average: how busy the shared machine was (other builds run on it).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_default()
}
