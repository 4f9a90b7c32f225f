//! CPU time of the whole process, without `unsafe` (no `getrusage`): the sum
//! over its threads of `/proc/self/task/*/schedstat` (nanoseconds on CPU,
//! user and system), else `/proc/self/stat` utime + stime in clock ticks.

use std::fs;
use std::process::Command;
use std::sync::OnceLock;

/// Where a CPU reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Sum of `/proc/self/task/*/schedstat`, nanoseconds.
    Schedstat,
    /// `/proc/self/stat` utime + stime, clock ticks (10 ms at `CLK_TCK` 100).
    Stat,
}

impl Source {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Source::Schedstat => "schedstat",
            Source::Stat => "stat",
        }
    }
}

/// CPU seconds the process (all its live threads) has used so far, and
/// where the figure came from; `None` without `/proc`.
///
/// Threads that have already exited are not counted by the schedstat sum,
/// so take both readings of an interval while the same threads live (as
/// the idle workload does: libzmq's threads live as long as the context).
pub fn process_cpu_s() -> Option<(f64, Source)> {
    schedstat_s()
        .map(|s| (s, Source::Schedstat))
        .or_else(|| stat_s().map(|s| (s, Source::Stat)))
}

fn schedstat_s() -> Option<f64> {
    let mut total_ns: u64 = 0;
    let mut threads = 0;
    for entry in fs::read_dir("/proc/self/task").ok()?.flatten() {
        // A thread may exit between the listing and the read: skip it.
        let Ok(text) = fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        total_ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
        threads += 1;
    }
    (threads > 0).then(|| total_ns as f64 / 1e9)
}

fn stat_s() -> Option<f64> {
    let text = fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name (which may hold spaces).
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); `rest` starts at field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / clock_ticks_per_s())
}

/// `getconf CLK_TCK`, asked once; 100 when it cannot be asked.
pub fn clock_ticks_per_s() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let (before, _) = process_cpu_s().expect("/proc");
        let mut x: u64 = 1;
        let start = std::time::Instant::now();
        while start.elapsed().as_millis() < 30 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let (after, _) = process_cpu_s().expect("/proc");
        assert!(after > before, "{before} -> {after}");
        assert!(stat_s().is_some());
        assert!(clock_ticks_per_s() >= 1.0);
    }
}
