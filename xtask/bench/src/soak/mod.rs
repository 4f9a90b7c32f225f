//! The soak run behind `cargo xtask soak`: a mixed workload on one uzmq
//! loop for a given time, sampling the process's RSS and fd count every
//! second, with a verdict on whether they stayed flat.
//!
//! ```text
//! uzmq-soak (--minutes M | --seconds S) [--csv PATH]
//! ```
//!
//! The workload, all on one [`Loop`] in one process, is made of parts
//! driven by a 10 ms tick ([`TICK`]):
//!
//! - streams: `Zmq` PUSH→PULL pipelines over tcp and inproc, and REQ→REP
//!   round trips over tcp and inproc (`streams`);
//! - polls: `ZmqPoll` PUSH→PULL with send/recv in the callbacks, and a
//!   REP served from a `ZmqPoll` callback (`polls`, `streams`);
//! - timers: repeating `Timer`s started and stopped in turn (`timers`);
//! - handle churn: handles and sockets created and closed all the time,
//!   through `close_with`, with writes cancelled by the close (`churn`);
//! - reconnects: a PUSH side closed and recreated, or disconnected and
//!   connected again, every half second (`reconnect`).
//!
//! Every flow numbers its messages and checks them in order, exactly once.
//! The sampler is itself a 1 s `Timer` on the loop, so the gap between two
//! samples also shows whether the loop ever stalled. At the end the parts
//! finish their round in flight, close, and the loop must return by
//! itself. The verdict on RSS and fds is in [`verdict`].
//!
//! Output: a line per minute on stderr, the figures on stdout, the samples
//! as CSV when `--csv` is given. Exit status 0 when every check passed and
//! RSS and fds are flat, 1 otherwise (the reasons are printed), 2 on a
//! usage error, 3 when the loop did not finish in time.

mod churn;
mod part;
mod polls;
pub mod probe;
mod reconnect;
mod report;
mod streams;
mod tally;
mod timers;
pub mod verdict;
mod wire;

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use uzmq::{Loop, RunMode, Timer, zmq};

use crate::args::Args;
use part::Part;
use tally::Tally;
use verdict::{Figures, Sample};
use wire::{SetupResult, Transport};

/// The parts' tick.
pub const TICK: Duration = Duration::from_millis(10);
/// The sampler's period.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// A gap between two samples longer than this means the loop stalled.
pub const STALL_LIMIT: Duration = Duration::from_secs(5);
/// How long the parts get, after the end, to finish the round in flight.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long the workload runs.
    pub run: Duration,
    /// Where to write the samples as CSV, if anywhere.
    pub csv: Option<PathBuf>,
}

/// What a run found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The configured run time.
    pub run: Duration,
    /// The warm-up excluded from the verdict.
    pub warmup: Duration,
    /// Every sample, in order.
    pub samples: Vec<Sample>,
    /// The figures after the warm-up (`None`: too short to judge).
    pub figures: Option<Figures>,
    /// Messages received by the workload.
    pub messages: u64,
    /// Churned handles whose close completed.
    pub churned: u64,
    /// The longest gap between two samples.
    pub max_gap: Duration,
    /// The count checks that failed (and set-up or sampling failures).
    pub checks_failed: Vec<String>,
    /// Why the loop counts as stalled, if it does.
    pub stall: Option<String>,
    /// Why RSS or fds are not flat (empty when flat or not judged).
    pub not_flat: Vec<String>,
}

impl Report {
    /// Every reason the run failed.
    pub fn failures(&self) -> Vec<String> {
        let stall = self.stall.iter().cloned();
        let checks = self.checks_failed.iter().cloned();
        checks
            .chain(stall)
            .chain(self.not_flat.iter().cloned())
            .collect()
    }

    /// Every check passed, RSS and fds are flat, the loop never stalled.
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }
}

/// `uzmq-soak`'s entry point.
pub fn main() -> ExitCode {
    let config = match parse(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(err) => {
            eprintln!(
                "uzmq-soak: {err}\nusage: uzmq-soak (--minutes M | --seconds S) [--csv PATH]"
            );
            return ExitCode::from(2);
        }
    };
    let report = match run(&config) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("uzmq-soak: error: {err}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report::summary(&report));
    if let Some(path) = &config.csv {
        match report::write_csv(path, &report.samples) {
            Ok(()) => println!("  samples: {}", path.display()),
            Err(err) => {
                eprintln!("uzmq-soak: cannot write {}: {err}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if report.passed() {
        let flat = match report.figures {
            Some(_) => "RSS and fds flat",
            None => "too short to judge flatness",
        };
        println!("soak: PASS (every count check passed, no stall, {flat})");
        ExitCode::SUCCESS
    } else {
        println!("soak: FAIL");
        for reason in report.failures() {
            println!("  - {reason}");
        }
        ExitCode::FAILURE
    }
}

/// `--minutes M` or `--seconds S` (fractions allowed), and `--csv PATH`.
fn parse(words: impl IntoIterator<Item = String>) -> Result<Config, String> {
    let mut args = Args::parse(words)?;
    if let Some(command) = &args.command {
        return Err(format!("unexpected argument `{command}`"));
    }
    let minutes: Option<f64> = args.take_opt("minutes")?;
    let seconds: Option<f64> = args.take_opt("seconds")?;
    let csv: Option<PathBuf> = args.take_opt("csv")?;
    args.finish()?;
    let secs = match (minutes, seconds) {
        (Some(m), None) => m * 60.0,
        (None, Some(s)) => s,
        _ => return Err("give exactly one of --minutes and --seconds".into()),
    };
    if !(secs.is_finite() && secs >= 1.0) {
        return Err("the run must last at least one second".into());
    }
    Ok(Config {
        run: Duration::from_secs_f64(secs),
        csv,
    })
}

/// Where the run is.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// The parts tick.
    Running,
    /// The run is over since then: the parts finish their round in flight.
    Draining(Instant),
}

/// Runs the workload for `config.run`; `Err` only when it cannot be set up.
pub fn run(config: &Config) -> SetupResult<Report> {
    let lp = Loop::new()?;
    let ctx = zmq::Context::new();
    let tally = Rc::new(Tally::default());
    let parts: Rc<Vec<Box<dyn Part>>> = Rc::new(vec![
        Box::new(streams::Pipeline::new(&lp, &ctx, &tally, Transport::Tcp)?),
        Box::new(streams::Pipeline::new(
            &lp,
            &ctx,
            &tally,
            Transport::Inproc,
        )?),
        Box::new(streams::ReqRep::new(
            &lp,
            &ctx,
            &tally,
            Transport::Tcp,
            false,
        )?),
        Box::new(streams::ReqRep::new(
            &lp,
            &ctx,
            &tally,
            Transport::Inproc,
            false,
        )?),
        Box::new(streams::ReqRep::new(
            &lp,
            &ctx,
            &tally,
            Transport::Tcp,
            true,
        )?),
        Box::new(polls::PollPipeline::new(
            &lp,
            &ctx,
            &tally,
            Transport::Inproc,
        )?),
        Box::new(polls::PollPipeline::new(&lp, &ctx, &tally, Transport::Tcp)?),
        Box::new(timers::Timers::new(&lp, &tally)?),
        Box::new(churn::Churn::new(&lp, &ctx, &tally)),
        Box::new(reconnect::Reconnect::new(&lp, &ctx, &tally)?),
    ]);
    let phase = Rc::new(Cell::new(Phase::Running));
    let samples = Rc::new(RefCell::new(Vec::new()));
    let max_gap = Rc::new(Cell::new(Duration::ZERO));
    let start = Instant::now();

    let tick = Timer::new(&lp)?;
    let (p, ph, t) = (parts.clone(), phase.clone(), tally.clone());
    tick.start(TICK, TICK, move |timer| match ph.get() {
        Phase::Running => p.iter().for_each(|part| part.tick()),
        Phase::Draining(since) => {
            let busy: Vec<String> = p.iter().filter(|p| !p.idle()).map(|p| p.name()).collect();
            if !busy.is_empty() {
                if since.elapsed() < DRAIN_LIMIT {
                    return;
                }
                t.fail(format!(
                    "still in flight {DRAIN_LIMIT:?} after the end: {}",
                    busy.join(", ")
                ));
            }
            p.iter().for_each(|part| part.close());
            timer.close();
        }
    })?;

    let sampler = Timer::new(&lp)?;
    let (s, g, t, ph, run) = (
        samples.clone(),
        max_gap.clone(),
        tally.clone(),
        phase.clone(),
        config.run,
    );
    let mut last = Instant::now();
    sampler.start(SAMPLE_EVERY, SAMPLE_EVERY, move |timer| {
        let now = Instant::now();
        g.set(g.get().max(now - last));
        last = now;
        let sample = match (probe::rss_kib(), probe::fd_count()) {
            (Ok(rss_kib), Ok(fds)) => Sample {
                t: (now - start).as_secs_f64(),
                rss_kib,
                fds,
                messages: t.messages(),
                churned: t.churned_count(),
            },
            (Err(err), _) | (_, Err(err)) => {
                t.fail(format!("cannot sample the process: {err}"));
                return;
            }
        };
        let minute = |sample: &Sample| (sample.t / 60.0) as u64;
        let mut s = s.borrow_mut();
        if s.last()
            .is_some_and(|previous| minute(previous) < minute(&sample))
        {
            eprintln!(
                "{}",
                report::minute_line(&sample, run, g.get(), t.failure_count())
            );
        }
        s.push(sample);
        // The last sample is the one nearest the end of the run.
        if now - start + SAMPLE_EVERY / 2 >= run {
            ph.set(Phase::Draining(now));
            timer.close();
        }
    })?;

    // The loop's own timers cannot catch a loop that never returns: a
    // thread does, and ends the process with a clear message.
    let limit = config.run + DRAIN_LIMIT + Duration::from_secs(60);
    let (finished, wait) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(limit) {
            eprintln!("uzmq-soak: the loop has not finished {limit:?} after the start: stalled");
            std::process::exit(3);
        }
    });
    lp.run(RunMode::Default)?;
    drop(finished);

    parts.iter().for_each(|part| part.check());
    let samples = samples.take();
    let warmup = verdict::warmup(config.run);
    let (figures, reasons) = verdict::judge(&samples, warmup);
    let mut checks_failed = tally.failures();
    let unkept = tally.failure_count() - checks_failed.len() as u64;
    if unkept > 0 {
        checks_failed.push(format!("and {unkept} more failed checks"));
    }
    let stall = (max_gap.get() > STALL_LIMIT).then(|| {
        format!(
            "the loop stalled: {:.1} s between two samples (limit {STALL_LIMIT:?})",
            max_gap.get().as_secs_f64()
        )
    });
    Ok(Report {
        run: config.run,
        warmup,
        samples,
        figures,
        messages: tally.messages(),
        churned: tally.churned_count(),
        max_gap: max_gap.get(),
        checks_failed,
        stall,
        not_flat: reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_minutes_or_seconds() {
        assert_eq!(
            parse(words("--minutes 10")).unwrap().run,
            Duration::from_secs(600)
        );
        let c = parse(words("--seconds 3 --csv x.csv")).unwrap();
        assert_eq!(c.run, Duration::from_secs(3));
        assert_eq!(c.csv, Some(PathBuf::from("x.csv")));
        assert!(parse(words("--minutes 1 --seconds 3")).is_err());
        assert!(parse(words("")).is_err());
        assert!(parse(words("--seconds 0")).is_err());
        assert!(parse(words("--seconds 3 --bogus 1")).is_err());
    }

    /// A few seconds of the whole workload: every count check passes and
    /// the loop winds down by itself (too short to judge flatness; the
    /// stall limit is a timing matter, left to the soak itself).
    #[test]
    fn a_short_run_passes_its_count_checks() {
        let report = run(&Config {
            run: Duration::from_secs(3),
            csv: None,
        })
        .expect("set up the workload");
        assert!(
            report.checks_failed.is_empty(),
            "{:?}",
            report.checks_failed
        );
        assert!(report.figures.is_none(), "3 s are too short to judge");
        assert!(report.messages > 0 && report.churned > 0, "{report:?}");
        assert!(!report.samples.is_empty(), "the run ends on a sample");
    }
}
