//! `uzmq-bench --instructions`: instructions per message, counted by
//! valgrind's callgrind, which counts the same on every run where wall-clock
//! rates on a shared machine differ by tens of percent.
//!
//! W1 and W2 (100,000 x 64 B), W3 (5,000 round trips), W6 (100,000 x
//! 64 B from 4 producer threads), W7 (200,000 x 64 B over 1,000 sockets
//! from sender threads of the peer; valgrind runs one thread at a time, so
//! the batches a wake-up finds differ from a native run's) and W8 (W3 with
//! 10,000 idle handles beside it, compared with W3 per variant:
//! [`idle_growth`]) run once per variant that implements them
//! ([`Variant::runs`]) with the peer under
//!
//! ```text
//! valgrind --tool=callgrind --separate-threads=yes --collect-atstart=no \
//!          --toggle-collect='uzmq_bench::window::measured*' --toggle-collect=start_thread ...
//! ```
//!
//! and the counterpart running normally. Collection is per thread:
//! `measured` brackets the peer's measured window ([`crate::window`]), so
//! the main thread's file (`-01`, the loop thread) holds the window only,
//! without set-up and tear-down; `start_thread` (glibc's entry of every
//! other thread) collects libzmq's I/O and reaper threads over their whole
//! life, which adds their start-up and the connection handshake (a few
//! tens of thousands of instructions, under 1 % at these counts) and, for
//! W2, the linger that sends what is still queued after the window. The
//! whole process is the sum of every thread's file. In W6 the main thread
//! is the one that sends on the PUSH (uzmq's loop, raw's receiving end of
//! the channel); the producer threads are made before the window with
//! their messages and count whole, as libzmq's do.
//!
//! The variants are raw libzmq, the `floor` (W3 only: the REP served from a
//! bare fd watch of uzmq's libuv backend, no uzmq handle, with the fewest
//! libzmq calls a correct loop makes, see [`crate::peer::floor`]) and the
//! handle kinds `stream`, `frames`, `poll`, `async` and `sender`. The
//! floor's ratio to raw is what libuv and libzmq's mandatory calls cost
//! per round trip; a handle's ratio beyond it is the handle's own.

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::child::{self, Pair, Spec};
use super::{
    Cell, Options, Variant, W6_PRODUCERS, W7_SOCKETS, W8_IDLE, Workload, counterpart_spec,
    peer_spec,
};
use crate::json::Value;

/// The symbol of the measured window, as callgrind's `--toggle-collect`
/// pattern (the generic function has one symbol per caller, hence the `*`).
pub const WINDOW_SYMBOL: &str = "uzmq_bench::window::measured*";

/// glibc's entry of every thread but the main one.
pub const THREAD_SYMBOL: &str = "start_thread";

/// What to do when valgrind is missing.
pub const INSTALL_HINT: &str = "install it with `apt-get install valgrind` (Debian, Ubuntu; `dnf install valgrind` on Fedora) and run again";

/// Callgrind is about 50 times slower than the native run: every child
/// gets this long.
pub const TIMEOUT_S: f64 = 300.0;

/// The counts of one variant in one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// Instructions of the loop thread inside the measured window.
    pub loop_thread: u64,
    /// Instructions of the whole process: the loop thread's window and
    /// every other thread's whole life.
    pub process: u64,
    /// Messages (W1, W2, W6) or round trips (W3) in the window.
    pub n: u64,
}

impl Count {
    /// Loop-thread instructions per message.
    pub fn loop_per_msg(&self) -> f64 {
        self.loop_thread as f64 / self.n.max(1) as f64
    }

    /// Whole-process instructions per message.
    pub fn process_per_msg(&self) -> f64 {
        self.process as f64 / self.n.max(1) as f64
    }
}

/// One cell measured for every variant.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The cell (`n` is the count per message divides by).
    pub cell: Cell,
    /// Per variant, its count or why it failed.
    pub counts: Vec<(Variant, Result<Count, String>)>,
}

impl Measured {
    /// The count of `variant`, if it succeeded.
    pub fn count(&self, variant: Variant) -> Option<Count> {
        self.counts
            .iter()
            .find(|(v, _)| *v == variant)
            .and_then(|(_, c)| c.as_ref().ok().copied())
    }

    /// `variant` per message over raw per message, loop thread and process.
    pub fn ratios(&self, variant: Variant) -> Option<(f64, f64)> {
        let raw = self.count(Variant::RAW)?;
        let c = self.count(variant)?;
        Some((
            c.loop_per_msg() / raw.loop_per_msg().max(1e-9),
            c.process_per_msg() / raw.process_per_msg().max(1e-9),
        ))
    }
}

/// Checks that valgrind runs; its version, or what to do.
pub fn check_valgrind() -> Result<String, String> {
    match Command::new("valgrind").arg("--version").output() {
        Ok(out) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
        Ok(out) => Err(format!(
            "`valgrind --version` failed ({}): {INSTALL_HINT}",
            out.status
        )),
        Err(e) => Err(format!(
            "valgrind not found ({e}); `--instructions` counts with its callgrind tool: {INSTALL_HINT}"
        )),
    }
}

/// The cells: W1, W2 and W6 with `n` x 64 B, W3 with `n / 20` round trips
/// (100,000 and 5,000 by default; a fifth with `--quick`).
pub fn plan(options: &Options) -> Vec<Cell> {
    let n: u64 = if options.quick { 20_000 } else { 100_000 };
    let cell = |workload: Workload, n: u64| Cell {
        id: format!("{}-64", workload.name()),
        workload,
        size: 64,
        n,
        hwm: options.hwm,
        warmup: 0,
        idle_s: 0.0,
        reps: 1,
        timeout_s: options.timeout_s.unwrap_or(TIMEOUT_S),
        idle_handles: 0,
    };
    // W8: W3 with that many idle handles (raw: idle sockets) beside it.
    let idle = Cell {
        id: "w8-rt-64".into(),
        idle_handles: W8_IDLE,
        ..cell(Workload::W3, n / 20)
    };
    [
        cell(Workload::W1, n),
        cell(Workload::W2, n),
        cell(Workload::W3, n / 20),
        cell(Workload::W6, n),
        cell(Workload::W7, n * 2),
        idle,
    ]
    .into_iter()
    .filter(|c| options.only.is_empty() || options.only.iter().any(|w| w == c.group()))
    .collect()
}

/// The callgrind options before the peer's command line; the output goes
/// to `<out_prefix>-NN`, one file per thread (`-01` is the main thread).
pub fn callgrind_args(out_prefix: &Path) -> Vec<String> {
    vec![
        "--tool=callgrind".into(),
        "--separate-threads=yes".into(),
        "--collect-atstart=no".into(),
        format!("--toggle-collect={WINDOW_SYMBOL}"),
        format!("--toggle-collect={THREAD_SYMBOL}"),
        format!("--callgrind-out-file={}", out_prefix.display()),
    ]
}

/// The `totals:` (or else `summary:`) figure of a callgrind output file:
/// the first event, instructions.
pub fn parse_totals(text: &str) -> Option<u64> {
    let find = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    find("totals:").or_else(|| find("summary:"))
}

/// Reads the per-thread files `<prefix>-NN` in `dir`: the main thread's
/// count (`-01`) and the sum over all of them.
pub fn read_counts(dir: &Path, prefix: &str) -> Result<(u64, u64), String> {
    let mut main = None;
    let mut all = 0u64;
    let mut files = 0;
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(thread) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|t| t.parse::<u32>().ok())
        else {
            continue;
        };
        let text = fs::read_to_string(entry.path()).map_err(|e| format!("{name}: {e}"))?;
        let total = parse_totals(&text).ok_or_else(|| format!("{name}: no totals line"))?;
        files += 1;
        all += total;
        if thread == 1 {
            main = Some(total);
        }
    }
    match main {
        Some(main) if main > 0 => Ok((main, all)),
        Some(_) => Err(format!(
            "{prefix}-01 counted nothing: is `{WINDOW_SYMBOL}` in the binary (built with symbols)?"
        )),
        None => Err(format!(
            "no callgrind output {prefix}-01 in {} ({files} thread files)",
            dir.display()
        )),
    }
}

/// Runs every cell for every variant under callgrind, printing progress.
pub fn run(options: &Options, variants: &[Variant], log: &fs::File) -> Vec<Measured> {
    let dir = options.out.join("callgrind");
    if let Err(e) = fs::create_dir_all(&dir) {
        eprintln!("uzmq-bench: cannot create {}: {e}", dir.display());
    }
    let cells = plan(options);
    let total: usize = cells
        .iter()
        .map(|c| variants.iter().filter(|v| v.runs(c)).count())
        .sum();
    let mut done = 0;
    let mut measured = Vec::new();
    for cell in cells {
        let mut counts = Vec::new();
        for variant in variants.iter().filter(|v| v.runs(&cell)) {
            done += 1;
            let prefix = format!("{}.{}.out", cell.id, variant.name());
            let t0 = std::time::Instant::now();
            let count = measure(options, &cell, *variant, &dir, &prefix, log);
            let line = match &count {
                Ok(c) => format!(
                    "{:.0} instructions per message on the loop thread, {:.0} in the process",
                    c.loop_per_msg(),
                    c.process_per_msg()
                ),
                Err(e) => format!("FAILED: {e}"),
            };
            eprintln!(
                "[{done:>2}/{total}] {:<6} {:<6} {line}  ({:.1} s)",
                cell.id,
                variant.name(),
                t0.elapsed().as_secs_f64()
            );
            counts.push((*variant, count));
        }
        measured.push(Measured { cell, counts });
    }
    measured
}

fn measure(
    options: &Options,
    cell: &Cell,
    variant: Variant,
    dir: &Path,
    prefix: &str,
    log: &fs::File,
) -> Result<Count, String> {
    // Old files of the same name would be counted too.
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    let native = peer_spec(options, cell, variant);
    let mut args = callgrind_args(&dir.join(prefix));
    args.push(native.program.display().to_string());
    args.extend(native.args);
    let peer = Spec {
        program: "valgrind".into(),
        args,
        timeout: native.timeout,
    };
    // W7's senders are threads of the peer; the others have a counterpart.
    let counterpart = counterpart_spec(options, cell);
    let _ = writeln!(
        &*log,
        "=== driver (instructions): {} {} : valgrind {} | {}",
        cell.id,
        variant.name(),
        peer.args.join(" "),
        Spec::describe(counterpart.as_ref())
    );
    let Pair { peer, counterpart } = child::run_pair(
        &peer,
        counterpart.as_ref(),
        Duration::from_secs(30),
        false,
        log,
    );
    if !peer.ok() {
        return Err(format!("peer: {}", peer.problem));
    }
    if let Some(c) = counterpart.filter(|c| !c.ok()) {
        return Err(format!("counterpart: {}", c.problem));
    }
    let (loop_thread, process) = read_counts(dir, prefix)?;
    Ok(Count {
        loop_thread,
        process,
        n: cell.n,
    })
}

/// W8's point: per variant, loop-thread instructions per round trip with
/// the idle handles over those without (the cost of an event should not
/// grow with idle handles; target 1.05 or less). Empty unless both W3 and
/// W8 were counted.
pub fn idle_growth(measured: &[Measured], variants: &[Variant]) -> Vec<(Variant, f64)> {
    let find = |idle: bool| {
        measured
            .iter()
            .find(|m| m.cell.workload == Workload::W3 && (m.cell.idle_handles > 0) == idle)
    };
    let (Some(w3), Some(w8)) = (find(false), find(true)) else {
        return Vec::new();
    };
    variants
        .iter()
        .filter_map(|v| {
            let (a, b) = (w3.count(*v)?, w8.count(*v)?);
            Some((*v, b.loop_per_msg() / a.loop_per_msg().max(1.0)))
        })
        .collect()
}

/// [`idle_growth`] as one line: `W8 / W3 (loop thread): raw 1.00, ...`.
pub fn idle_growth_line(measured: &[Measured], variants: &[Variant]) -> Option<String> {
    let growth = idle_growth(measured, variants);
    if growth.is_empty() {
        return None;
    }
    let cells: Vec<String> = growth
        .iter()
        .map(|(v, r)| format!("{} {r:.2}", v.name()))
        .collect();
    Some(format!(
        "W8 / W3, instructions per round trip with {W8_IDLE} idle handles over none (loop thread; target <= 1.05): {}",
        cells.join(", ")
    ))
}

/// Thousands separated by commas: `3,920`.
pub fn grouped(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The two tables (loop thread, whole process) as lines of cells: a header
/// (workloads), then raw's instructions per message, then each uzmq
/// variant's ratio to raw with its own count in parentheses (`-` where the
/// variant does not run the cell).
pub fn grid(measured: &[Measured], process: bool) -> (Vec<String>, Vec<Vec<String>>) {
    let what = if process {
        "whole process"
    } else {
        "loop thread"
    };
    let mut header = vec![format!("instructions per message ({what})")];
    header.extend(measured.iter().map(|m| label(&m.cell)));
    let variants: Vec<Variant> = Variant::ALL
        .into_iter()
        .filter(|v| {
            measured
                .iter()
                .any(|m| m.counts.iter().any(|(x, _)| x == v))
        })
        .collect();
    let per_msg = |c: Count| {
        if process {
            c.process_per_msg()
        } else {
            c.loop_per_msg()
        }
    };
    let lines = variants
        .iter()
        .map(|v| {
            let mut line = vec![if v.is_raw() {
                format!("{} (per message)", v.title())
            } else {
                format!("{} (ratio to raw)", v.title())
            }];
            for m in measured {
                let ran = m.counts.iter().any(|(x, _)| x == v);
                line.push(match (m.count(*v), m.ratios(*v)) {
                    (None, _) if !ran => "-".into(),
                    (None, _) => "FAILED".into(),
                    (Some(c), _) if v.is_raw() => grouped(per_msg(c)),
                    (Some(c), Some((l, p))) => {
                        format!(
                            "{:.2} ({})",
                            if process { p } else { l },
                            grouped(per_msg(c))
                        )
                    }
                    (Some(c), None) => format!("- ({})", grouped(per_msg(c))),
                });
            }
            line
        })
        .collect();
    (header, lines)
}

fn label(cell: &Cell) -> String {
    match cell.workload {
        Workload::W1 => format!("W1 receive (n={})", cell.n),
        Workload::W2 => format!("W2 send (n={})", cell.n),
        Workload::W3 if cell.idle_handles > 0 => {
            format!("W8 round trip, {} idle (r={})", cell.idle_handles, cell.n)
        }
        Workload::W3 => format!("W3 round trip (r={})", cell.n),
        Workload::W6 => format!("W6 {W6_PRODUCERS} threads send (n={})", cell.n),
        Workload::W7 => format!("W7 fan-in, {W7_SOCKETS} sockets (n={})", cell.n),
        other => other.name().to_uppercase(),
    }
}

/// The counts as JSON, for `report.json`.
pub fn json(measured: &[Measured]) -> Value {
    let cells: Vec<Value> = measured
        .iter()
        .map(|m| {
            let variants = m.counts.iter().fold(Value::object(), |o, (v, c)| {
                let entry = match c {
                    Ok(c) => {
                        let ratios = m.ratios(*v);
                        Value::object()
                            .with("loop_thread", c.loop_thread)
                            .with("process", c.process)
                            .with("loop_per_msg", c.loop_per_msg())
                            .with("process_per_msg", c.process_per_msg())
                            .with("loop_ratio", ratios.map(|r| r.0))
                            .with("process_ratio", ratios.map(|r| r.1))
                    }
                    Err(e) => Value::object().with("error", e.as_str()),
                };
                o.with(v.name(), entry)
            });
            Value::object()
                .with("id", m.cell.id.as_str())
                .with("workload", m.cell.workload.name())
                .with("size", m.cell.size)
                .with("n", m.cell.n)
                .with("variants", variants)
        })
        .collect();
    Value::object()
        .with("tool", "callgrind")
        .with("window_symbol", WINDOW_SYMBOL)
        .with("cells", cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(workload: Workload, n: u64) -> Cell {
        Cell {
            id: workload.name().into(),
            workload,
            size: 64,
            n,
            hwm: 1000,
            warmup: 0,
            idle_s: 0.0,
            reps: 1,
            timeout_s: 1.0,
            idle_handles: 0,
        }
    }

    #[test]
    fn totals_come_from_the_totals_line() {
        let text = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 77\nfn=x\n1 2\ntotals: 46881195\n";
        assert_eq!(parse_totals(text), Some(46_881_195));
        assert_eq!(parse_totals("summary: 12\n"), Some(12));
        assert_eq!(parse_totals("events: Ir\n"), None);
    }

    #[test]
    fn counts_read_per_thread_files() {
        let dir = std::env::temp_dir().join(format!("uzmq-bench-cg-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("w1.raw.out-01"), "totals: 1000\n").unwrap();
        fs::write(dir.join("w1.raw.out-02"), "totals: 0\n").unwrap();
        fs::write(dir.join("w1.raw.out-03"), "totals: 500\n").unwrap();
        fs::write(dir.join("w1.raw.out"), "totals: 99999\n").unwrap();
        fs::write(dir.join("w1.poll.out-01"), "totals: 0\n").unwrap();
        assert_eq!(read_counts(&dir, "w1.raw.out"), Ok((1000, 1500)));
        assert!(
            read_counts(&dir, "w1.poll.out")
                .unwrap_err()
                .contains("nothing")
        );
        assert!(read_counts(&dir, "w2.raw.out").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tables_show_raw_counts_and_ratios() {
        let m = Measured {
            cell: cell(Workload::W1, 100),
            counts: vec![
                (
                    Variant::RAW,
                    Ok(Count {
                        loop_thread: 51_200,
                        process: 100_000,
                        n: 100,
                    }),
                ),
                (
                    Variant::STREAM,
                    Ok(Count {
                        loop_thread: 98_304,
                        process: 150_000,
                        n: 100,
                    }),
                ),
                (Variant::POLL, Err("boom".into())),
            ],
        };
        let w6 = Measured {
            cell: cell(Workload::W6, 10),
            counts: vec![
                (
                    Variant::RAW,
                    Ok(Count {
                        loop_thread: 1000,
                        process: 4000,
                        n: 10,
                    }),
                ),
                (
                    Variant::SENDER,
                    Ok(Count {
                        loop_thread: 1500,
                        process: 5000,
                        n: 10,
                    }),
                ),
            ],
        };
        let (header, lines) = grid(&[m.clone(), w6.clone()], false);
        assert_eq!(header[1], "W1 receive (n=100)");
        assert_eq!(header[2], "W6 4 threads send (n=10)");
        assert_eq!(lines[0][1], "512");
        assert_eq!(lines[0][2], "100");
        assert_eq!(lines[1][1], "1.92 (983)");
        assert_eq!(lines[1][2], "-", "stream does not run W6");
        assert_eq!(lines[2][1], "FAILED");
        assert_eq!(lines[3][0], "uzmq Sender (ratio to raw)");
        assert_eq!(lines[3][1], "-");
        assert_eq!(lines[3][2], "1.50 (150)");
        let (_, lines) = grid(&[w6], true);
        assert_eq!(lines[1][1], "1.25 (500)");
        let (_, lines) = grid(std::slice::from_ref(&m), true);
        assert_eq!(lines[0][1], "1,000");
        assert_eq!(lines[1][1], "1.50 (1,500)");
        let j = json(&[m]).to_string();
        assert!(j.contains(r#""loop_ratio":1.92"#), "{j}");
        assert!(j.contains(r#""error":"boom""#), "{j}");
        assert_eq!(grouped(3920.4), "3,920");
        assert_eq!(grouped(1_234_567.0), "1,234,567");
    }

    #[test]
    fn idle_growth_divides_w8_by_w3_per_variant() {
        let count = |loop_thread| {
            Ok(Count {
                loop_thread,
                process: 0,
                n: 10,
            })
        };
        let w3 = Measured {
            cell: cell(Workload::W3, 10),
            counts: vec![
                (Variant::RAW, count(30_000)),
                (Variant::STREAM, count(60_000)),
            ],
        };
        let w8 = Measured {
            cell: Cell {
                idle_handles: W8_IDLE,
                ..cell(Workload::W3, 10)
            },
            counts: vec![
                (Variant::RAW, count(30_300)),
                (Variant::STREAM, count(63_000)),
                (Variant::POLL, count(1)),
            ],
        };
        assert_eq!(label(&w8.cell), "W8 round trip, 10000 idle (r=10)");
        let growth = idle_growth(&[w3.clone(), w8.clone()], &Variant::ALL);
        assert_eq!(growth.len(), 2, "poll has no W3 count");
        assert!((growth[0].1 - 1.01).abs() < 1e-9);
        assert!((growth[1].1 - 1.05).abs() < 1e-9);
        let line = idle_growth_line(&[w3.clone(), w8], &Variant::ALL).unwrap();
        assert!(line.ends_with("raw 1.01, stream 1.05"), "{line}");
        assert_eq!(idle_growth_line(&[w3], &Variant::ALL), None);
    }

    #[test]
    fn callgrind_toggles_the_window_and_the_other_threads() {
        let args = callgrind_args(Path::new("/tmp/x.out"));
        assert!(args.contains(&"--collect-atstart=no".to_string()));
        assert!(args.contains(&format!("--toggle-collect={WINDOW_SYMBOL}")));
        assert!(args.contains(&"--separate-threads=yes".to_string()));
        assert!(args.last().unwrap().ends_with("/tmp/x.out"));
    }
}
