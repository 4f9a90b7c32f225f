//! Whether RSS and the fd count stayed flat, from the per-second samples.
//!
//! The criterion, over the samples taken after the warm-up:
//!
//! - warm-up: the first 20 % of the run, at least [`MIN_WARMUP`]; before it
//!   allocator pools, libzmq's threads and the workload's queues grow to
//!   their working size, which is not a leak;
//! - RSS is *growing* when both the least-squares slope, projected over an
//!   hour, exceeds [`RSS_SLOPE_LIMIT_KIB_PER_HOUR`], and the median of the
//!   last tenth of the samples exceeds the median of the first tenth by more
//!   than [`RSS_STEP_LIMIT_KIB`]. The slope catches a steady leak; the
//!   second condition keeps the allocator's excursions from failing a
//!   short run, where one alone makes a steep line: with this workload
//!   glibc's RSS wanders by up to about 800 KiB for tens of seconds and
//!   comes back. A 10-minute run judges 8 minutes, over which a leak at
//!   the slope limit grows about 2 MiB, so both conditions hold;
//! - fds are *not flat* when their max minus their min exceeds
//!   [`FD_SPREAD_LIMIT`] (the churn keeps a few sockets open at any time,
//!   and libzmq closes fds from its own threads, so a sample may catch a
//!   handful in passing; a leak grows without bound);
//! - fewer than [`MIN_JUDGED_SAMPLES`] samples after the warm-up are not
//!   judged (the run is too short), which is said, and is not a failure.

use std::time::Duration;

use crate::stats;

/// The shortest warm-up.
pub const MIN_WARMUP: Duration = Duration::from_secs(30);
/// RSS growth per hour, by the least-squares slope, that counts as a leak.
pub const RSS_SLOPE_LIMIT_KIB_PER_HOUR: f64 = 16.0 * 1024.0;
/// Growth between the first and last tenth (medians) that counts as a leak.
pub const RSS_STEP_LIMIT_KIB: f64 = 1024.0;
/// The largest max minus min of the fd count after the warm-up.
pub const FD_SPREAD_LIMIT: u64 = 16;
/// Fewer samples after the warm-up than this are not judged.
pub const MIN_JUDGED_SAMPLES: usize = 20;

/// One sample of the process, taken each second by the sampler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds since the workload started.
    pub t: f64,
    /// Resident set size, KiB.
    pub rss_kib: u64,
    /// Open file descriptors.
    pub fds: u64,
    /// Messages received by the workload so far.
    pub messages: u64,
    /// Churned handles closed so far.
    pub churned: u64,
}

/// The warm-up of a run of `run`: 20 %, at least [`MIN_WARMUP`].
pub fn warmup(run: Duration) -> Duration {
    (run / 5).max(MIN_WARMUP)
}

/// The figures of the judged (post warm-up) samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// How many samples were judged.
    pub judged: usize,
    /// RSS min, median, max, KiB.
    pub rss_min: u64,
    /// See `rss_min`.
    pub rss_median: f64,
    /// See `rss_min`.
    pub rss_max: u64,
    /// The least-squares slope of RSS, projected over an hour, KiB.
    pub rss_slope_kib_per_hour: f64,
    /// Median of the last tenth minus median of the first tenth, KiB.
    pub rss_step_kib: f64,
    /// Fd count min and max.
    pub fds_min: u64,
    /// See `fds_min`.
    pub fds_max: u64,
}

/// The verdict: the figures (`None` when too few samples were judged) and
/// the reasons it is not flat (empty when it is, or was not judged).
pub fn judge(samples: &[Sample], warmup: Duration) -> (Option<Figures>, Vec<String>) {
    let after: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t >= warmup.as_secs_f64())
        .collect();
    if after.len() < MIN_JUDGED_SAMPLES {
        return (None, Vec::new());
    }
    let rss: Vec<f64> = after.iter().map(|s| s.rss_kib as f64).collect();
    let t: Vec<f64> = after.iter().map(|s| s.t).collect();
    let tenth = (after.len() / 10).max(5);
    let step = stats::median(&rss[rss.len() - tenth..]).unwrap_or(0.0)
        - stats::median(&rss[..tenth]).unwrap_or(0.0);
    let figures = Figures {
        judged: after.len(),
        rss_min: after.iter().map(|s| s.rss_kib).min().unwrap_or(0),
        rss_median: stats::median(&rss).unwrap_or(0.0),
        rss_max: after.iter().map(|s| s.rss_kib).max().unwrap_or(0),
        rss_slope_kib_per_hour: slope(&t, &rss) * 3600.0,
        rss_step_kib: step,
        fds_min: after.iter().map(|s| s.fds).min().unwrap_or(0),
        fds_max: after.iter().map(|s| s.fds).max().unwrap_or(0),
    };
    let mut reasons = Vec::new();
    if figures.rss_slope_kib_per_hour > RSS_SLOPE_LIMIT_KIB_PER_HOUR
        && figures.rss_step_kib > RSS_STEP_LIMIT_KIB
    {
        reasons.push(format!(
            "RSS grows: {:.0} KiB/hour by the slope (limit {RSS_SLOPE_LIMIT_KIB_PER_HOUR:.0}) \
             and {:.0} KiB from the first to the last tenth (limit {RSS_STEP_LIMIT_KIB:.0})",
            figures.rss_slope_kib_per_hour, figures.rss_step_kib
        ));
    }
    if figures.fds_max - figures.fds_min > FD_SPREAD_LIMIT {
        reasons.push(format!(
            "fd count not flat: from {} to {} (spread limit {FD_SPREAD_LIMIT})",
            figures.fds_min, figures.fds_max
        ));
    }
    (Some(figures), reasons)
}

/// The least-squares slope of `y` over `x` (0 when `x` does not vary).
pub fn slope(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len()) as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (xi, yi) in x.iter().zip(y) {
        sxy += (xi - mx) * (yi - my);
        sxx += (xi - mx) * (xi - mx);
    }
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rss: impl Fn(f64) -> u64, fds: impl Fn(f64) -> u64) -> Vec<Sample> {
        (1..=600)
            .map(|i| {
                let t = f64::from(i);
                Sample {
                    t,
                    rss_kib: rss(t),
                    fds: fds(t),
                    messages: 0,
                    churned: 0,
                }
            })
            .collect()
    }

    #[test]
    fn slope_of_a_line() {
        assert_eq!(slope(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]), 2.0);
        assert_eq!(slope(&[1.0, 1.0], &[1.0, 3.0]), 0.0);
    }

    #[test]
    fn warmup_is_a_fifth_but_at_least_30_s() {
        assert_eq!(warmup(Duration::from_secs(600)), Duration::from_secs(120));
        assert_eq!(warmup(Duration::from_secs(60)), MIN_WARMUP);
    }

    #[test]
    fn flat_with_noise_and_a_step_passes() {
        let samples = run(
            |t| 20_000 + (t as u64 % 7) * 50 + u64::from(t > 300.0) * 300,
            |t| 40 + t as u64 % 5,
        );
        let (figures, reasons) = judge(&samples, Duration::from_secs(120));
        assert!(reasons.is_empty(), "{reasons:?}");
        assert_eq!(figures.unwrap().judged, 481);
    }

    #[test]
    fn a_steady_leak_fails() {
        // 8 KiB/s is about 28 MiB/hour.
        let samples = run(|t| 20_000 + (t * 8.0) as u64, |_| 40);
        let (_, reasons) = judge(&samples, Duration::from_secs(120));
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].starts_with("RSS grows"));
    }

    #[test]
    fn an_fd_leak_fails() {
        let samples = run(|_| 20_000, |t| 40 + t as u64 / 20);
        let (_, reasons) = judge(&samples, Duration::from_secs(120));
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].starts_with("fd count"));
    }

    #[test]
    fn too_short_is_not_judged() {
        let samples: Vec<Sample> = run(|_| 1, |_| 1).into_iter().take(40).collect();
        assert_eq!(judge(&samples, Duration::from_secs(30)), (None, Vec::new()));
    }
}
