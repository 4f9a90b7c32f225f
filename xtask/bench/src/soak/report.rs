//! How a soak run is shown: the per-minute line, the final figures, and the
//! samples as CSV.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;
use std::time::Duration;

use super::Report;
use super::verdict::Sample;

/// The line printed as each minute of the run completes.
pub fn minute_line(sample: &Sample, run: Duration, max_gap: Duration, failed: u64) -> String {
    format!(
        "soak: minute {}/{}: rss {} KiB, fds {}, {} messages, {} handles churned, \
         longest sample gap {:.2} s, {failed} failed checks",
        (sample.t / 60.0) as u64,
        run.as_secs().div_ceil(60),
        sample.rss_kib,
        sample.fds,
        sample.messages,
        sample.churned,
        max_gap.as_secs_f64(),
    )
}

/// The figures at the end of the run.
pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    let samples = &report.samples;
    let _ = writeln!(
        out,
        "soak: ran {:.0} s, {} samples, warm-up {} s",
        report.run.as_secs_f64(),
        samples.len(),
        report.warmup.as_secs()
    );
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        let rss_min = samples.iter().map(|s| s.rss_kib).min().unwrap_or(0);
        let rss_max = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
        let fds_min = samples.iter().map(|s| s.fds).min().unwrap_or(0);
        let fds_max = samples.iter().map(|s| s.fds).max().unwrap_or(0);
        let _ = writeln!(
            out,
            "  whole run:   RSS first {} / last {} / min {} / max {} KiB; fds first {} / last {} / min {} / max {}",
            first.rss_kib, last.rss_kib, rss_min, rss_max, first.fds, last.fds, fds_min, fds_max
        );
    }
    match &report.figures {
        Some(f) => {
            let _ = writeln!(
                out,
                "  after warm-up ({} samples): RSS min {} / median {:.0} / max {} KiB, \
                 slope {:+.0} KiB/hour, last tenth vs first {:+.0} KiB; fds min {} / max {}",
                f.judged,
                f.rss_min,
                f.rss_median,
                f.rss_max,
                f.rss_slope_kib_per_hour,
                f.rss_step_kib,
                f.fds_min,
                f.fds_max
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  after warm-up: too few samples to judge flatness (run longer than {} s)",
                report.warmup.as_secs() + super::verdict::MIN_JUDGED_SAMPLES as u64
            );
        }
    }
    let _ = writeln!(
        out,
        "  messages exchanged {}, handles churned {}, longest gap between samples {:.2} s",
        report.messages,
        report.churned,
        report.max_gap.as_secs_f64()
    );
    out
}

/// Writes `samples` to `path` as CSV (creating its directory).
pub fn write_csv(path: &Path, samples: &[Sample]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut csv = String::from("t_s,rss_kib,fds,messages,churned\n");
    for s in samples {
        let _ = writeln!(
            csv,
            "{:.3},{},{},{},{}",
            s.t, s.rss_kib, s.fds, s.messages, s.churned
        );
    }
    fs::write(path, csv)
}
