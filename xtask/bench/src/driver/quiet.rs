//! Other load on the machine: the benchmark shares two cores with whatever
//! else runs, so before each measurement the driver samples how busy the
//! machine is with nothing of its own running, waits a little for it to
//! calm down, and records the figure with the measurement.

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

/// One sampling window.
const WINDOW: Duration = Duration::from_millis(100);

/// Below this busy fraction the machine counts as quiet.
pub const QUIET: f64 = 0.10;

/// Busy and total jiffies of all CPUs, from the `cpu` line of `/proc/stat`.
fn jiffies() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// The busy fraction (0..=1) of the whole machine over `window`.
pub fn busy_fraction(window: Duration) -> Option<f64> {
    let (b0, t0) = jiffies()?;
    thread::sleep(window);
    let (b1, t1) = jiffies()?;
    let total = t1.saturating_sub(t0);
    (total > 0).then(|| b1.saturating_sub(b0) as f64 / total as f64)
}

/// Samples until the machine is quiet or `max_wait` has passed; returns
/// the last busy fraction (`None` without `/proc/stat`).
pub fn wait_quiet(max_wait: Duration) -> Option<f64> {
    let start = Instant::now();
    loop {
        let busy = busy_fraction(WINDOW)?;
        if busy < QUIET || start.elapsed() >= max_wait {
            return Some(busy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_fraction_is_a_fraction() {
        let busy = busy_fraction(Duration::from_millis(30)).expect("/proc/stat");
        assert!((0.0..=1.0).contains(&busy), "{busy}");
    }
}
