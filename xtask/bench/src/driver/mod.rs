//! `uzmq-bench`, the driver behind `cargo xtask bench [--quick]`: runs every
//! workload for uzmq (each handle kind that implements it, see
//! [`Variant::runs`]) and for the raw libzmq baseline in the same run, alternating their order, several repetitions each; shows
//! progress on stderr; prints the table of medians and ratios to raw; and
//! writes `report.md`, `report.json` and `ratios.svg` under `target/bench/`.
//! Beside raw, W3 also runs the `floor`: `uzmq-peer --handle floor`, the REP
//! served from a bare libuv fd watch with no uzmq handle
//! ([`crate::peer::floor`]), the least a loop costs per round trip.
//!
//! ```text
//! uzmq-bench [--quick] [--instructions] [--reps N] [--only w1,w3,...] [--variants raw,floor,stream,frames,poll,async,sender]
//!            [--out DIR] [--bin-dir DIR] [--hwm H] [--timeout-s T] [--quiet-wait-s S] [--help]
//! ```
//!
//! Each measurement is a pair of processes, `uzmq-peer` (or `raw-peer`),
//! which binds, and `uzmq-counterpart`, which connects, on a port found
//! free just before (see [`child`]). Each has a deadline; a child still
//! running then is killed and the measurement counts as failed. Before each
//! measurement the driver waits (up to `--quiet-wait-s`, 3 s) for other
//! load on the machine to calm down, and records how busy it was
//! ([`quiet`]); the report counts the measurements that began busy.
//!
//! `--instructions` runs W1-W3, W6, W7 and W8's round trip once per variant
//! with the peer under callgrind instead and reports instructions per
//! message ([`instructions`]).

pub mod child;
pub mod instructions;
pub mod plot;
pub mod quiet;
pub mod report;

use std::env;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::args::Args;
use crate::json::Value;
use crate::stats;
use child::{Pair, Spec};

/// One of the things measured in each cell: raw libzmq, or `uzmq-peer`
/// with one handle kind. A new handle kind of the peer (its `--handle`
/// name) is one more line in [`Variant::ALL`], with the workload groups
/// it implements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Variant {
    name: &'static str,
    title: &'static str,
    /// `None` for raw libzmq (`raw-peer`), else the `--handle` of `uzmq-peer`.
    handle: Option<&'static str>,
    /// The cell groups ([`Cell::group`]) it runs.
    groups: &'static [&'static str],
    /// W3's target: its mean round trip over raw's at most this.
    round_trip_target: f64,
}

/// Every cell group: what raw libzmq runs.
const ALL_GROUPS: &[&str] = &["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"];

/// The groups of the callback handles: all but W6, which is about other
/// threads handing messages over.
const CALLBACK_GROUPS: &[&str] = &["w1", "w2", "w3", "w4", "w5", "w7", "w8"];

impl Variant {
    /// `raw-peer`: blocking libzmq, no loop (the ceiling).
    pub const RAW: Variant = Variant {
        name: "raw",
        title: "raw libzmq",
        handle: None,
        groups: ALL_GROUPS,
        round_trip_target: 1.0,
    };
    /// `uzmq-peer --handle stream`: the `Zmq` handle.
    pub const STREAM: Variant = Variant::uzmq("stream", "uzmq Zmq", CALLBACK_GROUPS, 1.05);
    /// `uzmq-peer --handle poll`: the `ZmqPoll` handle.
    pub const POLL: Variant = Variant::uzmq("poll", "uzmq ZmqPoll", CALLBACK_GROUPS, 1.05);
    /// `uzmq-peer --handle async`: `Zmq::recv()`/`send()` awaited in a task
    /// (a future costs a little more per round trip: 1.10).
    pub const ASYNC: Variant =
        Variant::uzmq("async", "uzmq async", &["w1", "w2", "w3", "w4", "w5"], 1.10);
    /// `uzmq-peer --handle frames`: `Zmq` read with lent, reused frames.
    pub const FRAMES: Variant =
        Variant::uzmq("frames", "uzmq Zmq frames", &["w1", "w5", "w7"], 1.05);
    /// `uzmq-peer --handle sender`: W6's producer threads through a `Sender`.
    pub const SENDER: Variant = Variant::uzmq("sender", "uzmq Sender", &["w6"], 1.05);
    /// `uzmq-peer --handle floor`: W3 served from a bare libuv fd watch, no
    /// uzmq handle (the least a loop costs; held to the handles' target).
    pub const FLOOR: Variant =
        Variant::uzmq("floor", "floor: libuv fd watch, no handle", &["w3"], 1.05);

    /// All variants, in table order; raw first, then the floor, then the
    /// handles.
    pub const ALL: [Variant; 7] = [
        Variant::RAW,
        Variant::FLOOR,
        Variant::STREAM,
        Variant::FRAMES,
        Variant::POLL,
        Variant::ASYNC,
        Variant::SENDER,
    ];

    /// `uzmq-peer --handle <handle>`, shown as `title`, run in the cells of
    /// `groups`, its W3 mean round trip held to `round_trip_target` x raw's.
    pub const fn uzmq(
        handle: &'static str,
        title: &'static str,
        groups: &'static [&'static str],
        round_trip_target: f64,
    ) -> Variant {
        Variant {
            name: handle,
            title,
            handle: Some(handle),
            groups,
            round_trip_target,
        }
    }

    /// W3's target for this variant: mean round trip / raw's at most this.
    pub fn round_trip_target(self) -> f64 {
        self.round_trip_target
    }

    /// Whether the peer implements `cell` with this variant.
    pub fn runs(self, cell: &Cell) -> bool {
        self.groups.contains(&cell.group())
    }

    /// `raw`, `floor`, `stream`, `frames`, `poll`, `async`, `sender`.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// The column title.
    pub fn title(self) -> &'static str {
        self.title
    }

    /// Whether this is the raw libzmq baseline.
    pub fn is_raw(self) -> bool {
        self.handle.is_none()
    }

    /// The peer program: `raw-peer` or `uzmq-peer`.
    pub fn program(self) -> &'static str {
        if self.is_raw() {
            "raw-peer"
        } else {
            "uzmq-peer"
        }
    }

    /// The uzmq variants (every one but raw, the floor included), in
    /// table order.
    pub fn uzmq_all() -> impl Iterator<Item = Variant> {
        Variant::ALL.into_iter().filter(|v| !v.is_raw())
    }
}

/// The workloads the bench measures, each also run on raw libzmq as the ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Receive throughput (PULL through uzmq).
    W1,
    /// Send throughput (PUSH through uzmq), measured at the receiver.
    W2,
    /// Round-trip latency (REP echo through uzmq).
    W3,
    /// Idle CPU.
    W4,
    /// No loss: W1 with 200,000 x 64 B and high-water marks of 1,000.
    W5,
    /// Other threads: [`W6_PRODUCERS`] threads send through one channel
    /// into the PUSH of W2's layout, measured at the receiver.
    W6,
    /// Fan-in: [`W7_SOCKETS`] PULL sockets on one thread fed by
    /// [`W7_SENDERS`] threads, total receive throughput.
    W7,
    /// Memory of idle handles over their libzmq sockets (W8; W8's round
    /// trip and idle CPU are W3 and W4 cells with idle handles).
    W8Mem,
}

/// W6's producer threads.
pub const W6_PRODUCERS: usize = 4;

/// W7's PULL sockets.
pub const W7_SOCKETS: usize = 1000;

/// W7's sending threads.
pub const W7_SENDERS: usize = 2;

/// W8's idle handles.
pub const W8_IDLE: usize = 10_000;

impl Workload {
    /// `w1` ... `w5`.
    pub fn name(self) -> &'static str {
        match self {
            Workload::W1 => "w1",
            Workload::W2 => "w2",
            Workload::W3 => "w3",
            Workload::W4 => "w4",
            Workload::W5 => "w5",
            Workload::W6 => "w6",
            Workload::W7 => "w7",
            Workload::W8Mem => "w8mem",
        }
    }
}

/// One cell of the plan: a workload with its sizes, run for every variant.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Short id, like `w1-64`.
    pub id: String,
    /// The workload.
    pub workload: Workload,
    /// Message size in bytes (64 for W3).
    pub size: usize,
    /// Messages (W1, W2, W5, W6, W7) or round trips (W3); 0 for W4.
    pub n: u64,
    /// High-water mark on both ends (W1, W2, W5).
    pub hwm: i32,
    /// W3 round trips left out of the statistics.
    pub warmup: u64,
    /// W4 idle seconds.
    pub idle_s: f64,
    /// Repetitions per variant.
    pub reps: usize,
    /// Timeout passed to the children, seconds.
    pub timeout_s: f64,
    /// Idle handles (uzmq) or sockets (raw) the peer keeps open beside
    /// the measured one (W8).
    pub idle_handles: usize,
}

impl Cell {
    /// The workload's name as `--only` takes it: `w8` for the W3, W4 and
    /// memory cells of W8, else the workload's own.
    pub fn group(&self) -> &'static str {
        if self.idle_handles > 0 {
            "w8"
        } else {
            self.workload.name()
        }
    }
}

/// What the driver was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The short plan (about a minute).
    pub quick: bool,
    /// Repetitions override.
    pub reps: Option<usize>,
    /// Only these workloads (`w1` ... `w5`); empty is all.
    pub only: Vec<String>,
    /// Only these variants; empty is all.
    pub variants: Vec<Variant>,
    /// Where the report goes.
    pub out: PathBuf,
    /// Where `uzmq-peer`, `raw-peer` and `uzmq-counterpart` are.
    pub bin_dir: PathBuf,
    /// High-water mark of W1/W2 (W5 is always 1,000).
    pub hwm: i32,
    /// Timeout of each child, seconds (default: 30 quick, 60 full; the
    /// driver kills a child 5 s after it).
    pub timeout_s: Option<f64>,
    /// Before each measurement, wait up to this long for other load on
    /// the machine to drop below [`quiet::QUIET`].
    pub quiet_wait: Duration,
    /// Count instructions per message under callgrind
    /// ([`instructions`]) instead of running the timed plan.
    pub instructions: bool,
}

/// The measurements of one variant in one cell.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// Metrics of each successful repetition.
    pub runs: Vec<Vec<(String, f64)>>,
    /// Why each failed repetition failed.
    pub failures: Vec<String>,
}

impl Samples {
    /// `metric` of the successful repetition of round `rep`.
    pub fn in_round(&self, rep: usize, metric: &str) -> Option<f64> {
        let run = self
            .runs
            .iter()
            .find(|run| run.iter().any(|(k, v)| k == "rep" && *v as usize == rep))?;
        run.iter().find(|(k, _)| k == metric).map(|(_, v)| *v)
    }

    /// The median of `metric` over the successful repetitions.
    pub fn median(&self, metric: &str) -> Option<f64> {
        let values: Vec<f64> = self
            .runs
            .iter()
            .filter_map(|run| run.iter().find(|(k, _)| k == metric).map(|(_, v)| *v))
            .collect();
        stats::median(&values)
    }
}

/// Everything measured: the plan and, per cell and variant, the samples.
#[derive(Debug, Clone)]
pub struct Results {
    /// The options of the run.
    pub options: Options,
    /// The cells with their samples, in `Variant::ALL` order.
    pub cells: Vec<(Cell, Vec<(Variant, Samples)>)>,
    /// When the run started (Unix seconds).
    pub started_unix: u64,
    /// How long it took.
    pub duration: Duration,
    /// The instruction counts of an `--instructions` run (else empty).
    pub instructions: Vec<instructions::Measured>,
}

impl Results {
    /// The samples of `variant` in the cell `id`.
    pub fn samples(&self, id: &str, variant: Variant) -> Option<&Samples> {
        self.cells
            .iter()
            .find(|(cell, _)| cell.id == id)?
            .1
            .iter()
            .find(|(v, _)| *v == variant)
            .map(|(_, s)| s)
    }
}

/// What `--help` prints, and a usage error points to.
const USAGE: &str = "\
usage: uzmq-bench [options]        (as cargo xtask bench [options])
  --quick              the short plan: about a minute
  --instructions       count instructions per message under callgrind (valgrind)
                       instead of timing: W1-W3, W6, W7 and W8's round trip
  --reps N             repetitions of each measurement
  --only w1,w3,...     only these workloads (w1 ... w8)
  --variants raw,...   only these variants: raw, floor, stream, frames, poll, async, sender
  --out DIR            where the report goes (default: target/bench)
  --bin-dir DIR        where uzmq-peer, raw-peer and uzmq-counterpart are
                       (default: beside uzmq-bench)
  --hwm H              high-water mark of W1 and W2 (default: 1000)
  --timeout-s T        deadline of each child process (default: 30 quick, 60 full)
  --quiet-wait-s S     wait up to S seconds for other load to calm down before
                       each measurement (default: 3)
  --help               print this text";

/// Runs the `uzmq-bench` command line.
pub fn main() -> ExitCode {
    let words: Vec<String> = env::args().skip(1).collect();
    if words.iter().any(|w| w == "--help" || w == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run(words.into_iter()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("uzmq-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(words: impl Iterator<Item = String>) -> Result<(), String> {
    let options = parse_options(words)?;
    for program in ["uzmq-peer", "raw-peer", "uzmq-counterpart"] {
        let path = options.bin_dir.join(program);
        if !path.is_file() {
            return Err(format!(
                "{} not found: build the package first (cargo build --release -p uzmq-bench --bins)",
                path.display()
            ));
        }
    }
    fs::create_dir_all(&options.out)
        .map_err(|e| format!("cannot create {}: {e}", options.out.display()))?;
    let log_path = options.out.join("children.log");
    let log = File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;

    let variants: Vec<Variant> = if options.variants.is_empty() {
        Variant::ALL.to_vec()
    } else {
        options.variants.clone()
    };
    if options.instructions {
        let version = instructions::check_valgrind()?;
        eprintln!(
            "uzmq-bench: counting instructions with {version} (about 50 times slower than a native run)"
        );
    }
    let cells = if options.instructions {
        Vec::new()
    } else {
        plan(&options)
    };
    let total: usize = cells
        .iter()
        .map(|c| c.reps * variants.iter().filter(|v| v.runs(c)).count())
        .sum();
    eprintln!(
        "uzmq-bench: {} run ({} measurements; children's stderr in {})",
        if options.instructions {
            "instructions"
        } else if options.quick {
            "quick"
        } else {
            "full"
        },
        if options.instructions {
            instructions::plan(&options)
                .iter()
                .map(|c| variants.iter().filter(|v| v.runs(c)).count())
                .sum()
        } else {
            total
        },
        log_path.display()
    );
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let started = Instant::now();
    let mut done = 0;
    let mut measured = Vec::new();
    for cell in cells {
        let ran: Vec<Variant> = variants.iter().copied().filter(|v| v.runs(&cell)).collect();
        if ran.is_empty() {
            continue;
        }
        let mut samples: Vec<(Variant, Samples)> =
            ran.iter().map(|v| (*v, Samples::default())).collect();
        for rep in 0..cell.reps {
            // Rotate the order every repetition: each variant runs first,
            // second and third in turn, so drift over time hits all alike.
            let mut order = ran.clone();
            let len = order.len();
            order.rotate_left(rep % len);
            for variant in order {
                done += 1;
                let background = quiet::wait_quiet(options.quiet_wait);
                let t0 = Instant::now();
                let mut outcome = measure(&options, &cell, variant, &log);
                let took = t0.elapsed().as_secs_f64();
                let mut line = match &outcome {
                    Ok(metrics) => headline(cell.workload, metrics),
                    Err(problem) => format!("FAILED: {problem}"),
                };
                if let Ok(metrics) = outcome.as_mut() {
                    // The round, so that variants can be compared pairwise.
                    metrics.push(("rep".into(), rep as f64));
                }
                if let Some(busy) = background {
                    if let Ok(metrics) = outcome.as_mut() {
                        metrics.push(("background_busy".into(), busy));
                    }
                    if busy >= quiet::QUIET {
                        line.push_str(&format!("  [machine {:.0}% busy before]", busy * 100.0));
                    }
                }
                eprintln!(
                    "[{done:>3}/{total}] {:<7} {:<6} rep {}/{}  {line}  ({took:.1} s)",
                    cell.id,
                    variant.name(),
                    rep + 1,
                    cell.reps
                );
                let slot = &mut samples.iter_mut().find(|(v, _)| *v == variant).unwrap().1;
                match outcome {
                    Ok(metrics) => slot.runs.push(metrics),
                    Err(problem) => slot.failures.push(problem),
                }
            }
        }
        measured.push((cell, samples));
    }
    let counted = if options.instructions {
        instructions::run(&options, &variants, &log)
    } else {
        Vec::new()
    };
    let results = Results {
        options: options.clone(),
        cells: measured,
        started_unix,
        duration: started.elapsed(),
        instructions: counted,
    };
    let rows = report::rows(&results);
    if !rows.is_empty() {
        println!("{}", report::text_table(&rows));
        println!("{}", report::paired_text(&rows));
        println!("other load: {}", report::background_summary(&results));
    }
    if !results.instructions.is_empty() {
        for process in [false, true] {
            let (header, lines) = instructions::grid(&results.instructions, process);
            println!("{}", report::align(&header, &lines));
        }
        if let Some(line) = instructions::idle_growth_line(&results.instructions, &variants) {
            println!("{line}\n");
        }
    }
    let md = options.out.join("report.md");
    let json = options.out.join("report.json");
    let svg = options.out.join("ratios.svg");
    write(&md, &report::markdown(&results, &rows))?;
    write(&json, &format!("{}\n", report::json(&results, &rows)))?;
    write(&svg, &report::svg(&results, &rows)?)?;
    eprintln!(
        "uzmq-bench: done in {:.0} s; wrote {}, {} and {}",
        results.duration.as_secs_f64(),
        md.display(),
        json.display(),
        svg.display()
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn parse_options(words: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut args = Args::parse(words)?;
    if let Some(command) = &args.command {
        return Err(format!("unexpected argument `{command}`\n{USAGE}"));
    }
    let exe_dir = env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    // target/release/uzmq-bench -> target/bench
    let default_out = exe_dir
        .parent()
        .map_or_else(|| PathBuf::from("bench"), |target| target.join("bench"));
    let quick = args.flag("quick")?;
    let instructions = args.flag("instructions")?;
    let reps = args.take_opt::<usize>("reps")?.map(|r| r.max(1));
    let only = args
        .take_opt::<String>("only")?
        .map(|s| s.split(',').map(|w| w.trim().to_lowercase()).collect())
        .unwrap_or_default();
    let variants = match args.take_opt::<String>("variants")? {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|name| {
                Variant::ALL
                    .into_iter()
                    .find(|v| v.name() == name.trim())
                    .ok_or_else(|| format!("--variants: unknown `{name}`"))
            })
            .collect::<Result<_, _>>()?,
    };
    let out = args.take_or("out", default_out)?;
    let bin_dir = args.take_or("bin-dir", exe_dir)?;
    let hwm = args.take_or("hwm", crate::peer::DEFAULT_HWM)?;
    let quiet_wait = crate::secs(args.take_or("quiet-wait-s", 3.0)?);
    let timeout_s = args.take_opt::<f64>("timeout-s")?.map(|t| t.max(0.1));
    args.finish()
        .map_err(|e| format!("{e} (--help lists the options)"))?;
    Ok(Options {
        quick,
        reps,
        only,
        variants,
        out,
        bin_dir,
        hwm,
        timeout_s,
        quiet_wait,
        instructions,
    })
}

/// The cells to run: sizes chosen so that a full run takes a few minutes
/// and `--quick` about a minute on a 2-core machine.
pub fn plan(options: &Options) -> Vec<Cell> {
    let q = options.quick;
    let reps = |full: usize, quick: usize| options.reps.unwrap_or(if q { quick } else { full });
    let timeout_s = options.timeout_s.unwrap_or(if q { 30.0 } else { 60.0 });
    let flow = |workload: Workload, size: usize, full_n: u64, quick_n: u64| Cell {
        id: format!(
            "{}-{}",
            workload.name(),
            if size >= 1024 {
                format!("{}k", size / 1024)
            } else {
                size.to_string()
            }
        ),
        workload,
        size,
        n: if q { quick_n } else { full_n },
        hwm: options.hwm,
        warmup: 0,
        idle_s: 0.0,
        reps: reps(5, 3),
        timeout_s,
        idle_handles: 0,
    };
    let cells = vec![
        flow(Workload::W1, 64, 4_000_000, 1_000_000),
        flow(Workload::W1, 1024, 1_000_000, 300_000),
        flow(Workload::W2, 64, 3_000_000, 1_000_000),
        flow(Workload::W2, 1024, 600_000, 300_000),
        flow(Workload::W6, 64, 2_000_000, 500_000),
        Cell {
            id: "w3-64".into(),
            workload: Workload::W3,
            size: 64,
            // Round-trip times differ by up to 25 % from one pair of
            // processes to the next (where the scheduler puts the four
            // threads on two cores), more than the effect measured: many
            // short repetitions give a steadier median than a few long ones.
            n: if q { 5_000 } else { 10_000 },
            hwm: options.hwm,
            warmup: 500,
            idle_s: 0.0,
            reps: reps(11, 5),
            timeout_s,
            idle_handles: 0,
        },
        Cell {
            id: "w4".into(),
            workload: Workload::W4,
            size: 0,
            n: 0,
            hwm: options.hwm,
            warmup: 0,
            idle_s: if q { 2.0 } else { 3.0 },
            reps: reps(3, 1),
            timeout_s,
            idle_handles: 0,
        },
        Cell {
            id: "w5-64".into(),
            workload: Workload::W5,
            size: 64,
            n: 200_000,
            hwm: 1000,
            warmup: 0,
            idle_s: 0.0,
            reps: reps(3, 1),
            timeout_s,
            idle_handles: 0,
        },
        Cell {
            id: "w7-64".into(),
            workload: Workload::W7,
            size: 64,
            n: if q { 300_000 } else { 2_000_000 },
            hwm: options.hwm,
            warmup: 0,
            idle_s: 0.0,
            reps: reps(5, 1),
            timeout_s,
            idle_handles: 0,
        },
        Cell {
            id: "w8-rt-64".into(),
            workload: Workload::W3,
            size: 64,
            n: if q { 5_000 } else { 10_000 },
            hwm: options.hwm,
            warmup: 500,
            idle_s: 0.0,
            reps: reps(11, 3),
            timeout_s,
            idle_handles: W8_IDLE,
        },
        Cell {
            id: "w8-idle".into(),
            workload: Workload::W4,
            size: 0,
            n: 0,
            hwm: options.hwm,
            warmup: 0,
            idle_s: if q { 2.0 } else { 3.0 },
            reps: reps(3, 1),
            timeout_s,
            idle_handles: W8_IDLE,
        },
        Cell {
            id: "w8-mem".into(),
            workload: Workload::W8Mem,
            size: 0,
            n: 0,
            hwm: options.hwm,
            warmup: 0,
            idle_s: 0.0,
            reps: 1,
            timeout_s,
            idle_handles: W8_IDLE,
        },
    ];
    cells
        .into_iter()
        .filter(|c| options.only.is_empty() || options.only.iter().any(|w| w == c.group()))
        .collect()
}

fn peer_spec(options: &Options, cell: &Cell, variant: Variant) -> Spec {
    let program = options.bin_dir.join(variant.program());
    let t = cell.timeout_s.to_string();
    let mut args: Vec<String> = match cell.workload {
        Workload::W6 => vec![
            "w6".into(),
            "--n".into(),
            cell.n.to_string(),
            "--size".into(),
            cell.size.to_string(),
            "--producers".into(),
            W6_PRODUCERS.to_string(),
            "--hwm".into(),
            cell.hwm.to_string(),
            "--timeout-s".into(),
            t,
        ],
        Workload::W1 | Workload::W5 | Workload::W2 => {
            let command = if cell.workload == Workload::W2 {
                "w2"
            } else {
                "w1"
            };
            vec![
                command.into(),
                "--n".into(),
                cell.n.to_string(),
                "--size".into(),
                cell.size.to_string(),
                "--hwm".into(),
                cell.hwm.to_string(),
                "--timeout-s".into(),
                t,
            ]
        }
        Workload::W3 => vec![
            "w3".into(),
            "--n".into(),
            cell.n.to_string(),
            "--timeout-s".into(),
            t,
        ],
        Workload::W4 => vec!["w4".into(), "--idle-s".into(), cell.idle_s.to_string()],
        Workload::W7 => vec![
            "w7".into(),
            "--n".into(),
            cell.n.to_string(),
            "--size".into(),
            cell.size.to_string(),
            "--sockets".into(),
            W7_SOCKETS.to_string(),
            "--senders".into(),
            W7_SENDERS.to_string(),
            "--hwm".into(),
            cell.hwm.to_string(),
            "--timeout-s".into(),
            t,
        ],
        Workload::W8Mem => vec!["w8mem".into()],
    };
    if cell.idle_handles > 0 {
        args.extend(["--idle-handles".into(), cell.idle_handles.to_string()]);
    }
    if let Some(handle) = variant.handle {
        args.extend(["--handle".into(), handle.into()]);
    }
    Spec {
        program,
        args,
        timeout: Duration::from_secs_f64(cell.timeout_s + cell.idle_s + 5.0),
    }
}

/// The counterpart of `cell`; `None` for the workloads that have none
/// (W7's senders are threads of the peer; W8's memory needs no traffic).
fn counterpart_spec(options: &Options, cell: &Cell) -> Option<Spec> {
    let t = cell.timeout_s.to_string();
    let args: Vec<String> = match cell.workload {
        Workload::W7 | Workload::W8Mem => return None,
        Workload::W1 | Workload::W5 => vec![
            "w1".into(),
            "--n".into(),
            cell.n.to_string(),
            "--size".into(),
            cell.size.to_string(),
            "--hwm".into(),
            cell.hwm.to_string(),
            "--timeout-s".into(),
            t,
        ],
        Workload::W2 | Workload::W6 => vec![
            "w2".into(),
            "--n".into(),
            cell.n.to_string(),
            "--hwm".into(),
            cell.hwm.to_string(),
            "--timeout-s".into(),
            t,
        ],
        Workload::W3 => vec![
            "w3".into(),
            "--n".into(),
            cell.n.to_string(),
            "--size".into(),
            cell.size.to_string(),
            "--warmup".into(),
            cell.warmup.to_string(),
            "--timeout-s".into(),
            t,
        ],
        Workload::W4 => vec![
            "w4".into(),
            "--idle-s".into(),
            (cell.idle_s + 30.0).to_string(),
        ],
    };
    Some(Spec {
        program: options.bin_dir.join("uzmq-counterpart"),
        args,
        timeout: Duration::from_secs_f64(cell.timeout_s + cell.idle_s + 8.0),
    })
}

/// Runs one measurement and extracts its metrics, or says why it failed.
fn measure(
    options: &Options,
    cell: &Cell,
    variant: Variant,
    log: &File,
) -> Result<Vec<(String, f64)>, String> {
    use std::io::Write;
    let peer = peer_spec(options, cell, variant);
    let counterpart = counterpart_spec(options, cell);
    let _ = writeln!(
        &*log,
        "=== driver: {} {} : {} {} | {}",
        cell.id,
        variant.name(),
        peer.program.display(),
        peer.args.join(" "),
        Spec::describe(counterpart.as_ref())
    );
    let with_counterpart = counterpart.is_some();
    let Pair { peer, counterpart } = child::run_pair(
        &peer,
        counterpart.as_ref(),
        Duration::from_secs(10),
        cell.workload == Workload::W4,
        log,
    );
    let counterpart = match counterpart {
        Some(c) => c,
        None if with_counterpart => return Err("the counterpart did not run".into()),
        // Nothing to check: `need` passes an empty end.
        None => child::Ended::nothing(),
    };
    let pj = peer.json.as_ref();
    let cj = counterpart.json.as_ref();
    // CPU of the peer process per message in its measured window, ns.
    let cpu_per = |n: u64| -> Vec<(String, f64)> {
        pj.and_then(|j| j.num("cpu_s"))
            .map(|c| ("cpu_ns_per_msg".to_string(), c * 1e9 / n.max(1) as f64))
            .into_iter()
            .collect()
    };
    let need = |ended: &child::Ended, who: &str| -> Result<(), String> {
        if ended.ok() {
            Ok(())
        } else {
            Err(format!("{who}: {}", ended.problem))
        }
    };
    let num = |json: Option<&Value>, key: &str, who: &str| -> Result<f64, String> {
        json.and_then(|j| j.num(key))
            .ok_or_else(|| format!("{who}: no `{key}` in its JSON"))
    };
    let metrics = match cell.workload {
        Workload::W1 => {
            need(&peer, "peer")?;
            need(&counterpart, "counterpart")?;
            let rate = num(pj, "msgs_per_s", "peer")?;
            let mut m = vec![
                ("msgs_per_s".into(), rate),
                ("mib_per_s".into(), rate * cell.size as f64 / 1_048_576.0),
            ];
            m.extend(cpu_per(cell.n));
            m
        }
        Workload::W7 => {
            need(&peer, "peer")?;
            let rate = num(pj, "msgs_per_s", "peer")?;
            let mut m = vec![("msgs_per_s".into(), rate)];
            m.extend(cpu_per(cell.n));
            m
        }
        Workload::W8Mem => {
            need(&peer, "peer")?;
            vec![
                ("handle_bytes".into(), num(pj, "handle_bytes", "peer")?),
                ("socket_bytes".into(), num(pj, "socket_bytes", "peer")?),
            ]
        }
        Workload::W2 | Workload::W6 => {
            need(&peer, "peer")?;
            need(&counterpart, "counterpart")?;
            let rate = num(cj, "msgs_per_s", "counterpart")?;
            let mut m = vec![
                ("msgs_per_s".into(), rate),
                ("mib_per_s".into(), rate * cell.size as f64 / 1_048_576.0),
                ("accepted_s".into(), num(pj, "accepted_s", "peer")?),
            ];
            m.extend(cpu_per(cell.n));
            m
        }
        Workload::W3 => {
            need(&peer, "peer")?;
            need(&counterpart, "counterpart")?;
            let mut m = vec![
                ("mean_us".into(), num(cj, "mean_us", "counterpart")?),
                ("p50_us".into(), num(cj, "p50_us", "counterpart")?),
                ("p99_us".into(), num(cj, "p99_us", "counterpart")?),
            ];
            m.extend(cpu_per(cell.n));
            m
        }
        Workload::W4 => {
            need(&peer, "peer")?;
            let cpu = num(pj, "cpu_s", "peer")?;
            let wall = num(pj, "wall_s", "peer")?;
            vec![
                ("cpu_ms".into(), cpu * 1e3),
                ("cpu_ms_per_3s".into(), cpu * 1e3 * 3.0 / wall.max(1e-9)),
                ("wall_s".into(), wall),
            ]
        }
        Workload::W5 => {
            // A timed-out peer still reports what it received: that is the
            // measurement (less than 1), not a failure of the harness.
            let received =
                num(pj, "received", "peer").map_err(|e| format!("{e} ({})", peer.problem))?;
            let sent = cj.and_then(|j| j.num("sent")).unwrap_or(cell.n as f64);
            let mut m = vec![
                ("received_over_sent".into(), received / sent.max(1.0)),
                ("received".into(), received),
                ("sent".into(), sent),
            ];
            if let Some(rate) = pj.and_then(|j| j.num("msgs_per_s")) {
                m.push(("msgs_per_s".into(), rate));
            }
            m
        }
    };
    Ok(metrics)
}

/// The one-line summary of a measurement, for the progress line.
fn headline(workload: Workload, metrics: &[(String, f64)]) -> String {
    let get = |k: &str| {
        metrics
            .iter()
            .find(|(m, _)| m == k)
            .map_or(f64::NAN, |(_, v)| *v)
    };
    match workload {
        Workload::W7 => format!(
            "{} msg/s over {W7_SOCKETS} sockets",
            report::si(get("msgs_per_s"))
        ),
        Workload::W8Mem => format!(
            "{:.0} B per handle over {:.0} B per libzmq socket",
            get("handle_bytes"),
            get("socket_bytes")
        ),
        Workload::W1 | Workload::W2 | Workload::W6 => format!(
            "{} msg/s, {:.0} MiB/s",
            report::si(get("msgs_per_s")),
            get("mib_per_s")
        ),
        Workload::W3 => format!(
            "mean {:.1} us, p50 {:.1} us, p99 {:.1} us",
            get("mean_us"),
            get("p50_us"),
            get("p99_us")
        ),
        Workload::W4 => format!(
            "{:.3} ms CPU in {:.2} s ({:.3} ms per 3 s)",
            get("cpu_ms"),
            get("wall_s"),
            get("cpu_ms_per_3s")
        ),
        Workload::W5 => format!(
            "received/sent {:.6} ({} of {})",
            get("received_over_sent"),
            get("received"),
            get("sent")
        ),
    }
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(quick: bool) -> Options {
        Options {
            quick,
            reps: None,
            only: Vec::new(),
            variants: Vec::new(),
            out: PathBuf::from("out"),
            bin_dir: PathBuf::from("bin"),
            hwm: 1000,
            timeout_s: None,
            quiet_wait: Duration::ZERO,
            instructions: false,
        }
    }

    #[test]
    fn plans_cover_every_workload_and_filter() {
        let full = plan(&options(false));
        for w in ["w1", "w2", "w3", "w4", "w5", "w6"] {
            assert!(full.iter().any(|c| c.workload.name() == w), "{w}");
        }
        let w5 = full.iter().find(|c| c.workload == Workload::W5).unwrap();
        assert_eq!((w5.n, w5.size, w5.hwm), (200_000, 64, 1000));
        let mut only = options(true);
        only.only = vec!["w3".into()];
        let cells = plan(&only);
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].reps, 5);
    }

    #[test]
    fn specs_follow_the_contract() {
        let o = options(false);
        let cell = &plan(&o)[0];
        let spec = peer_spec(&o, cell, Variant::POLL);
        assert!(spec.program.ends_with("uzmq-peer"));
        assert_eq!(spec.args[0], "w1");
        assert!(spec.args.windows(2).any(|w| w == ["--handle", "poll"]));
        let raw = peer_spec(&o, cell, Variant::RAW);
        assert!(raw.program.ends_with("raw-peer"));
        assert!(!raw.args.iter().any(|a| a == "--handle"));
    }

    #[test]
    fn scale_cells_and_their_specs() {
        let mut o = options(true);
        o.only = vec!["w8".into()];
        let cells = plan(&o);
        let ids: Vec<&str> = cells.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["w8-rt-64", "w8-idle", "w8-mem"]);
        let rt = peer_spec(&o, &cells[0], Variant::STREAM);
        assert_eq!(rt.args[0], "w3");
        assert!(rt.args.windows(2).any(|w| w == ["--idle-handles", "10000"]));
        assert!(counterpart_spec(&o, &cells[0]).is_some());
        assert!(counterpart_spec(&o, &cells[2]).is_none());
        o.only = vec!["w7".into()];
        let w7 = &plan(&o)[0];
        let spec = peer_spec(&o, w7, Variant::RAW);
        assert!(spec.program.ends_with("raw-peer"));
        assert!(spec.args.windows(2).any(|w| w == ["--sockets", "1000"]));
        assert!(counterpart_spec(&o, w7).is_none());
        o.instructions = true;
        o.only = Vec::new();
        let counted = instructions::plan(&o);
        assert_eq!(counted.len(), 6);
        assert_eq!(counted[2].n, counted[0].n / 20);
        assert_eq!(counted[3].workload, Workload::W6);
        assert_eq!(counted[4].workload, Workload::W7);
        assert_eq!(
            (counted[5].workload, counted[5].idle_handles),
            (Workload::W3, W8_IDLE)
        );
        o.only = vec!["w8".into()];
        let ids: Vec<String> = instructions::plan(&o).into_iter().map(|c| c.id).collect();
        assert_eq!(ids, ["w8-rt-64"], "--only w8 picks W8's round trip alone");
    }

    #[test]
    fn variants_run_the_cells_they_implement() {
        let o = options(false);
        let cells = plan(&o);
        let cell = |id: &str| cells.iter().find(|c| c.id == id).unwrap();
        for v in Variant::ALL {
            assert_eq!(
                v.runs(cell("w1-64")),
                ![Variant::SENDER, Variant::FLOOR].contains(&v),
                "{v:?}"
            );
            assert_eq!(
                v.runs(cell("w3-64")),
                v != Variant::SENDER && v != Variant::FRAMES,
                "{v:?}"
            );
            assert_eq!(v.runs(cell("w6-64")), v.is_raw() || v == Variant::SENDER);
            assert_eq!(
                v.runs(cell("w8-rt-64")),
                [Variant::RAW, Variant::STREAM, Variant::POLL].contains(&v)
            );
        }
        let w6 = cell("w6-64");
        let spec = peer_spec(&o, w6, Variant::SENDER);
        assert_eq!(spec.args[0], "w6");
        assert!(spec.args.windows(2).any(|w| w == ["--handle", "sender"]));
        assert!(spec.args.windows(2).any(|w| w == ["--producers", "4"]));
        let counterpart = counterpart_spec(&o, w6).unwrap();
        assert_eq!(counterpart.args[0], "w2");
        let w3 = peer_spec(&o, cell("w3-64"), Variant::ASYNC);
        assert!(w3.args.windows(2).any(|w| w == ["--handle", "async"]));
        let floor = peer_spec(&o, cell("w3-64"), Variant::FLOOR);
        assert!(floor.program.ends_with("uzmq-peer"));
        assert_eq!(floor.args[0], "w3");
        assert!(floor.args.windows(2).any(|w| w == ["--handle", "floor"]));
        assert!(!floor.args.iter().any(|a| a == "--idle-handles"));
        let order: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
        assert_eq!(
            order,
            [
                "raw", "floor", "stream", "frames", "poll", "async", "sender"
            ]
        );
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
}
