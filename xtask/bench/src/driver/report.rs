//! The report: rows of medians with their ratio to raw libzmq and the
//! target, as a terminal table, `report.md` and `report.json`; the SVG
//! plot of the ratios is drawn by [`super::plot`].

use std::fmt::Write as _;
use std::fs;

use super::{Cell, Results, Variant, Workload, utc};
use crate::json::Value;

/// What a row's figure is held to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// uzmq / raw must be at least this (throughput).
    RatioAtLeast(f64),
    /// uzmq / raw must be at most this (latency).
    RatioAtMost(f64),
    /// uzmq / raw shown, no target.
    RatioInfo,
    /// The value itself must be below this (W4, ms of CPU).
    Below(f64),
    /// The value itself must be exactly this (W5).
    Exactly(f64),
    /// The value itself must be at most this (W8's round trip over W3's).
    AtMost(f64),
    /// uzmq / raw shown, no target, lower is better (CPU per message).
    CostInfo,
    /// The value only, no target (W8's memory).
    ValueInfo,
}

impl Goal {
    /// The target as text.
    pub fn describe(self) -> String {
        match self {
            Goal::RatioAtLeast(t) => format!("ratio >= {t:.2}"),
            Goal::RatioAtMost(t) => format!("ratio <= {t:.2}"),
            Goal::RatioInfo => "-".into(),
            Goal::Below(t) => format!("< {t} ms"),
            Goal::Exactly(t) => format!("= {t}"),
            Goal::AtMost(t) => format!("<= {t:.2}"),
            Goal::CostInfo | Goal::ValueInfo => "-".into(),
        }
    }
}

/// One line of the table: a metric of a cell, the median of each variant.
#[derive(Debug, Clone)]
pub struct Row {
    /// The cell id (`w1-64`).
    pub cell: String,
    /// What the row shows.
    pub label: String,
    /// Short label for the plot.
    pub short: String,
    /// The metric key in the samples.
    pub metric: &'static str,
    /// Its unit.
    pub unit: &'static str,
    /// The target.
    pub goal: Goal,
    /// Variants held to another target than `goal` (W3's async).
    pub overrides: Vec<(Variant, Goal)>,
    /// The median per variant (`None`: no successful repetition).
    pub medians: Vec<(Variant, Option<f64>)>,
    /// Successful and total repetitions per variant.
    pub counts: Vec<(Variant, usize, usize)>,
    /// Per variant, the median over rounds of variant / raw within the
    /// same round (the runs were adjacent in time, so slow drift of the
    /// machine cancels out); `None` without a common successful round.
    pub paired: Vec<(Variant, Option<f64>)>,
}

impl Row {
    /// The median of `variant`.
    pub fn median(&self, variant: Variant) -> Option<f64> {
        self.medians
            .iter()
            .find(|(v, _)| *v == variant)
            .and_then(|(_, m)| *m)
    }

    /// `variant` / raw.
    pub fn ratio(&self, variant: Variant) -> Option<f64> {
        let raw = self.median(Variant::RAW)?;
        let value = self.median(variant)?;
        (raw != 0.0).then(|| value / raw)
    }

    /// The paired ratio of `variant` (see [`Row::paired`]).
    pub fn paired_ratio(&self, variant: Variant) -> Option<f64> {
        self.paired
            .iter()
            .find(|(v, _)| *v == variant)
            .and_then(|(_, r)| *r)
    }

    /// The target of `variant`: its override, else the row's.
    pub fn goal_for(&self, variant: Variant) -> Goal {
        self.overrides
            .iter()
            .find(|(v, _)| *v == variant)
            .map_or(self.goal, |(_, g)| *g)
    }

    /// The target column: the row's goal and each override.
    pub fn target_text(&self) -> String {
        let mut text = self.goal.describe();
        for (v, g) in &self.overrides {
            let _ = write!(text, "; {}: {}", v.name(), g.describe());
        }
        text
    }

    /// Whether `variant` ran in this row's cell.
    pub fn ran(&self, variant: Variant) -> bool {
        self.medians.iter().any(|(v, _)| *v == variant)
    }

    /// Whether `variant` meets the goal (`None` when unknown or no goal).
    pub fn met(&self, variant: Variant) -> Option<bool> {
        match self.goal_for(variant) {
            Goal::RatioAtLeast(t) => self.ratio(variant).map(|r| r >= t),
            Goal::RatioAtMost(t) => self.ratio(variant).map(|r| r <= t),
            Goal::RatioInfo => None,
            Goal::Below(t) => self.median(variant).map(|v| v < t),
            Goal::Exactly(t) => self.median(variant).map(|v| v == t),
            Goal::AtMost(t) => self.median(variant).map(|v| v <= t),
            Goal::CostInfo | Goal::ValueInfo => None,
        }
    }

    /// What the plot shows for `variant` (higher is better) and its target:
    /// the ratio for throughput, raw/uzmq for latency and CPU per message,
    /// the value for W5 and for W8's round trip over W3's (inverted).
    pub fn plotted(&self, variant: Variant) -> Option<(f64, Option<f64>)> {
        match self.goal_for(variant) {
            Goal::RatioAtLeast(t) => self.ratio(variant).map(|r| (r, Some(t))),
            Goal::RatioAtMost(t) => self.ratio(variant).map(|r| (1.0 / r, Some(1.0 / t))),
            Goal::Exactly(t) => self.median(variant).map(|v| (v, Some(t))),
            Goal::AtMost(t) => self.median(variant).map(|v| (1.0 / v, Some(1.0 / t))),
            Goal::CostInfo => self.ratio(variant).map(|r| (1.0 / r, None)),
            Goal::RatioInfo | Goal::Below(_) | Goal::ValueInfo => None,
        }
    }
}

fn size_text(size: usize) -> String {
    if size >= 1024 && size % 1024 == 0 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

/// The median over rounds of `samples`' `metric` / raw's in the same round.
fn paired_ratio(
    cell: &Cell,
    all: &[(Variant, super::Samples)],
    samples: &super::Samples,
    metric: &str,
) -> Option<f64> {
    let raw = &all.iter().find(|(v, _)| *v == Variant::RAW)?.1;
    let ratios: Vec<f64> = (0..cell.reps)
        .filter_map(|rep| {
            let r = raw.in_round(rep, metric)?;
            let x = samples.in_round(rep, metric)?;
            (r != 0.0).then(|| x / r)
        })
        .collect();
    crate::stats::median(&ratios)
}

/// The rows of the table, in plan order.
pub fn rows(results: &Results) -> Vec<Row> {
    let mut rows = Vec::new();
    for (cell, samples) in &results.cells {
        let make = |label: String, short: String, metric: &'static str, unit, goal| Row {
            cell: cell.id.clone(),
            label,
            short,
            metric,
            unit,
            goal,
            overrides: Vec::new(),
            medians: samples
                .iter()
                .map(|(v, s)| (*v, s.median(metric)))
                .collect(),
            counts: samples
                .iter()
                .map(|(v, s)| (*v, s.runs.len(), s.runs.len() + s.failures.len()))
                .collect(),
            paired: samples
                .iter()
                .map(|(v, s)| (*v, paired_ratio(cell, samples, s, metric)))
                .collect(),
        };
        let size = size_text(cell.size);
        let cpu = |name: &str| {
            make(
                format!("{name} CPU per message"),
                format!("{name} CPU"),
                "cpu_ns_per_msg",
                "ns",
                Goal::CostInfo,
            )
        };
        match cell.workload {
            Workload::W1 => {
                rows.push(make(
                    format!("W1 receive {size} (n={})", cell.n),
                    format!("W1 {size}"),
                    "msgs_per_s",
                    "msg/s",
                    Goal::RatioAtLeast(0.90),
                ));
                rows.push(cpu(&format!("W1 {size}")));
            }
            Workload::W2 => {
                rows.push(make(
                    format!("W2 send {size} (n={})", cell.n),
                    format!("W2 {size}"),
                    "msgs_per_s",
                    "msg/s",
                    Goal::RatioAtLeast(0.90),
                ));
                rows.push(cpu(&format!("W2 {size}")));
            }
            Workload::W6 => {
                rows.push(make(
                    format!(
                        "W6 {} threads send {size} (n={})",
                        super::W6_PRODUCERS,
                        cell.n
                    ),
                    format!("W6 {size}"),
                    "msgs_per_s",
                    "msg/s",
                    Goal::RatioAtLeast(0.90),
                ));
                rows.push(cpu(&format!("W6 {size}")));
            }
            Workload::W3 if cell.idle_handles > 0 => {
                rows.push(make(
                    format!(
                        "W8 echo {size} mean, {} idle handles (r={})",
                        cell.idle_handles, cell.n
                    ),
                    "W8 mean".into(),
                    "mean_us",
                    "us",
                    Goal::RatioInfo,
                ));
                rows.push(cpu("W8 echo"));
            }
            Workload::W4 if cell.idle_handles > 0 => rows.push(make(
                format!(
                    "W8 idle CPU per 3 s, {} idle handles (idle {} s)",
                    cell.idle_handles, cell.idle_s
                ),
                "W8 idle".into(),
                "cpu_ms_per_3s",
                "ms",
                Goal::Below(1.0),
            )),
            Workload::W7 => {
                rows.push(make(
                    format!(
                        "W7 fan-in {size}, {} sockets (n={})",
                        super::W7_SOCKETS,
                        cell.n
                    ),
                    "W7 fan-in".into(),
                    "msgs_per_s",
                    "msg/s",
                    Goal::RatioAtLeast(1.0),
                ));
                rows.push(cpu("W7"));
            }
            Workload::W8Mem => {
                rows.push(make(
                    format!(
                        "W8 memory per idle handle, uzmq's share ({})",
                        cell.idle_handles
                    ),
                    "W8 handle".into(),
                    "handle_bytes",
                    "B",
                    Goal::ValueInfo,
                ));
                rows.push(make(
                    "W8 memory per libzmq socket".into(),
                    "W8 socket".into(),
                    "socket_bytes",
                    "B",
                    Goal::ValueInfo,
                ));
            }
            Workload::W3 => {
                let mut mean = make(
                    format!("W3 echo {size} mean (r={})", cell.n),
                    "W3 mean".into(),
                    "mean_us",
                    "us",
                    Goal::RatioAtMost(1.05),
                );
                // Each variant's own target where it differs.
                mean.overrides = samples
                    .iter()
                    .map(|(v, _)| (*v, Goal::RatioAtMost(v.round_trip_target())))
                    .filter(|(v, g)| !v.is_raw() && *g != mean.goal)
                    .collect();
                rows.push(mean);
                rows.push(make(
                    "W3 echo p50".into(),
                    "W3 p50".into(),
                    "p50_us",
                    "us",
                    Goal::RatioInfo,
                ));
                rows.push(make(
                    "W3 echo p99".into(),
                    "W3 p99".into(),
                    "p99_us",
                    "us",
                    Goal::RatioInfo,
                ));
                rows.push(cpu("W3 echo"));
            }
            Workload::W4 => rows.push(make(
                format!("W4 idle CPU per 3 s (idle {} s)", cell.idle_s),
                "W4".into(),
                "cpu_ms_per_3s",
                "ms",
                Goal::Below(1.0),
            )),
            Workload::W5 => rows.push(make(
                format!("W5 received/sent ({} x {size}, HWM {})", cell.n, cell.hwm),
                "W5 recv/sent".into(),
                "received_over_sent",
                "",
                Goal::Exactly(1.0),
            )),
        }
    }
    if let Some(row) = idle_over_busy(&rows) {
        rows.push(row);
    }
    rows
}

/// W8's target row: per variant, the mean round trip with the idle
/// handles over the mean without (W3), when both ran.
fn idle_over_busy(rows: &[Row]) -> Option<Row> {
    let with = rows
        .iter()
        .find(|r| r.metric == "mean_us" && r.cell.starts_with("w8"))?;
    let without = rows
        .iter()
        .find(|r| r.metric == "mean_us" && !r.cell.starts_with("w8"))?;
    let medians = with
        .medians
        .iter()
        .map(|(v, m)| {
            let base = without.median(*v);
            let ratio = match (m, base) {
                (Some(m), Some(b)) if b != 0.0 => Some(m / b),
                _ => None,
            };
            (*v, ratio)
        })
        .collect();
    Some(Row {
        cell: with.cell.clone(),
        label: "W8 mean / W3 mean (same handle)".into(),
        short: "W8/W3".into(),
        metric: "w8_over_w3",
        unit: "x",
        goal: Goal::AtMost(1.05),
        overrides: Vec::new(),
        medians,
        counts: with.counts.clone(),
        paired: Vec::new(),
    })
}

/// A sample for the list of repetitions: whole numbers as they are,
/// large ones with an SI suffix, others with three decimals.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else if x.abs() >= 1e4 {
        si(x)
    } else {
        format!("{x:.3}")
    }
}

/// A number with an SI suffix: `1.23 M`.
pub fn si(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let (v, suffix) = if x.abs() >= 1e9 {
        (x / 1e9, " G")
    } else if x.abs() >= 1e6 {
        (x / 1e6, " M")
    } else if x.abs() >= 1e3 {
        (x / 1e3, " k")
    } else {
        (x, "")
    };
    format!("{v:.3}{suffix}")
}

fn value_text(row: &Row, value: Option<f64>) -> String {
    let Some(v) = value else {
        return "FAILED".into();
    };
    match row.unit {
        "msg/s" => format!("{} msg/s", si(v)),
        "us" => format!("{v:.1} us"),
        "ms" => format!("{v:.3} ms"),
        "ns" => format!("{v:.0} ns"),
        "B" => format!("{v:.0} B"),
        "x" => format!("{v:.3}"),
        _ => format!("{v:.6}"),
    }
}

fn with_failures(row: &Row, variant: Variant, text: String) -> String {
    match row.counts.iter().find(|(v, _, _)| *v == variant) {
        Some((_, ok, total)) if ok < total => format!("{text} [{ok}/{total} ok]"),
        _ => text,
    }
}

fn verdict_text(row: &Row, variant: Variant) -> String {
    let mark = match row.met(variant) {
        Some(true) => " ok",
        Some(false) => " MISS",
        None => "",
    };
    match row.goal_for(variant) {
        Goal::RatioAtLeast(_) | Goal::RatioAtMost(_) | Goal::RatioInfo | Goal::CostInfo => {
            match row.ratio(variant) {
                Some(r) => format!("{r:.3}{mark}"),
                None => "-".into(),
            }
        }
        Goal::Below(_) | Goal::Exactly(_) | Goal::AtMost(_) | Goal::ValueInfo => {
            mark.trim().to_string()
        }
    }
}

/// The variants present in the rows, in table order.
fn variants(rows: &[Row]) -> Vec<Variant> {
    Variant::ALL
        .into_iter()
        .filter(|v| rows.iter().any(|r| r.medians.iter().any(|(x, _)| x == v)))
        .collect()
}

/// The uzmq variants present in the rows, in table order.
fn uzmq_variants(rows: &[Row]) -> Vec<Variant> {
    variants(rows).into_iter().filter(|v| !v.is_raw()).collect()
}

/// A paired ratio for a table cell.
fn paired_cell(row: &Row, variant: Variant) -> String {
    row.paired_ratio(variant)
        .map_or("-".to_string(), |r| format!("{r:.3}"))
}

/// The table as cells: a header and one line per row.
fn grid(rows: &[Row]) -> (Vec<String>, Vec<Vec<String>>) {
    let vs = variants(rows);
    let mut header = vec!["workload".to_string()];
    for v in &vs {
        header.push(v.title().to_string());
        if !v.is_raw() {
            header.push("vs raw".into());
        }
    }
    header.push("target".into());
    let lines = rows
        .iter()
        .map(|row| {
            let mut line = vec![row.label.clone()];
            for v in &vs {
                if !row.ran(*v) {
                    // Not a failure: the variant does not run this cell.
                    line.push("-".into());
                    if !v.is_raw() {
                        line.push("-".into());
                    }
                    continue;
                }
                line.push(with_failures(row, *v, value_text(row, row.median(*v))));
                if !v.is_raw() {
                    line.push(verdict_text(row, *v));
                }
            }
            line.push(row.target_text());
            line
        })
        .collect();
    (header, lines)
}

/// The table for the terminal, columns aligned.
pub fn text_table(rows: &[Row]) -> String {
    let (header, lines) = grid(rows);
    align(&header, &lines)
}

/// A header and lines of cells as a terminal table: the first column
/// left-aligned, the others right-aligned.
pub fn align(header: &[String], lines: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for line in lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let fmt_line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = String::new();
    out.push_str(&fmt_line(header));
    out.push('\n');
    out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
    out.push('\n');
    for line in lines {
        out.push_str(&fmt_line(line));
        out.push('\n');
    }
    out
}

/// The paired ratios (see [`Row::paired`]) as lines for the terminal.
pub fn paired_text(rows: &[Row]) -> String {
    let mut out = String::from("paired ratios (median of uzmq/raw within each round):\n");
    for row in rows
        .iter()
        .filter(|r| matches!(r.goal, Goal::RatioAtLeast(_) | Goal::RatioAtMost(_)))
    {
        let cells: Vec<String> = uzmq_variants(rows)
            .into_iter()
            .map(|v| format!("{} {}", v.title(), paired_cell(row, v)))
            .collect();
        let _ = writeln!(out, "  {:<40} {}", row.label, cells.join("  "));
    }
    out
}

/// The table in Markdown.
pub fn markdown_table(rows: &[Row]) -> String {
    let (header, lines) = grid(rows);
    markdown_grid(&header, &lines)
}

/// A header and lines of cells as a Markdown table.
pub fn markdown_grid(header: &[String], lines: &[Vec<String>]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
            .collect::<String>()
    );
    for line in lines {
        let _ = writeln!(out, "| {} |", line.join(" | "));
    }
    out
}

/// Facts about this machine for the report.
pub fn machine() -> Vec<(&'static str, String)> {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |k| k.trim().to_string());
    let (a, b, c) = zmq::version();
    // The workspace this binary was built from: xtask/bench/../..
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let commit = std::process::Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map_or_else(
            || "unknown".into(),
            |out| String::from_utf8_lossy(&out.stdout).trim().to_string(),
        );
    vec![
        ("cpus", cpus.to_string()),
        ("cpu_model", model),
        ("kernel", kernel),
        ("libzmq", format!("{a}.{b}.{c}")),
        ("uzmq", env!("CARGO_PKG_VERSION").to_string()),
        ("commit", commit),
    ]
}

fn cell_json(cell: &Cell) -> Value {
    Value::object()
        .with("id", cell.id.as_str())
        .with("workload", cell.workload.name())
        .with("size", cell.size)
        .with("n", cell.n)
        .with("hwm", cell.hwm)
        .with("warmup", cell.warmup)
        .with("idle_s", cell.idle_s)
        .with("reps", cell.reps)
}

/// How busy the machine was before the measurements, from their
/// `background_busy` figures.
pub fn background_summary(results: &Results) -> String {
    let busy: Vec<f64> = results
        .cells
        .iter()
        .flat_map(|(_, samples)| samples.iter())
        .flat_map(|(_, s)| s.runs.iter())
        .filter_map(|run| {
            run.iter()
                .find(|(k, _)| k == "background_busy")
                .map(|(_, v)| *v)
        })
        .collect();
    if busy.is_empty() {
        return "not measured".into();
    }
    let noisy = busy.iter().filter(|b| **b >= super::quiet::QUIET).count();
    format!(
        "{noisy} of {} measurements began with the machine {:.0}% or more busy with something else (median {:.0}%, max {:.0}%)",
        busy.len(),
        super::quiet::QUIET * 100.0,
        crate::stats::median(&busy).unwrap_or(0.0) * 100.0,
        busy.iter().copied().fold(0.0, f64::max) * 100.0
    )
}

/// The whole run as JSON: machine, plan, every sample, and the rows.
pub fn json(results: &Results, rows: &[Row]) -> Value {
    let machine = machine()
        .into_iter()
        .fold(Value::object(), |o, (k, v)| o.with(k, v));
    let cells: Vec<Value> = results
        .cells
        .iter()
        .map(|(cell, samples)| {
            let variants = samples.iter().fold(Value::object(), |o, (v, s)| {
                let runs: Vec<Value> = s
                    .runs
                    .iter()
                    .map(|run| run.iter().fold(Value::object(), |o, (k, x)| o.with(k, *x)))
                    .collect();
                o.with(
                    v.name(),
                    Value::object()
                        .with("runs", runs)
                        .with("failures", s.failures.clone()),
                )
            });
            cell_json(cell).with("variants", variants)
        })
        .collect();
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut o = Value::object()
                .with("cell", row.cell.as_str())
                .with("label", row.label.as_str())
                .with("metric", row.metric)
                .with("unit", row.unit)
                .with("target", row.target_text());
            for (v, m) in &row.medians {
                o = o.with(&format!("{}_median", v.name()), *m);
                if !v.is_raw() {
                    o = o
                        .with(&format!("{}_ratio", v.name()), row.ratio(*v))
                        .with(&format!("{}_paired_ratio", v.name()), row.paired_ratio(*v))
                        .with(&format!("{}_met", v.name()), row.met(*v));
                }
            }
            o
        })
        .collect();
    let out = Value::object()
        .with("generated_by", "uzmq-bench")
        .with(
            "mode",
            if results.options.quick {
                "quick"
            } else {
                "full"
            },
        )
        .with("started", utc(results.started_unix))
        .with("duration_s", results.duration.as_secs_f64())
        .with("machine", machine)
        .with("other_load", background_summary(results))
        .with("cells", cells)
        .with("rows", rows);
    if results.instructions.is_empty() {
        out
    } else {
        out.with(
            "instructions",
            super::instructions::json(&results.instructions),
        )
    }
}

/// `report.md`: what ran where, the table, the targets, every sample and
/// every failure.
pub fn markdown(results: &Results, rows: &[Row]) -> String {
    let mut md = String::new();
    let mode = if results.options.instructions {
        "instructions"
    } else if results.options.quick {
        "quick"
    } else {
        "full"
    };
    let _ = writeln!(md, "# uzmq benchmark report ({mode} run)\n");
    let _ = writeln!(
        md,
        "Started {}, took {:.0} s. Every figure is the median over the repetitions; \"vs raw\" is uzmq / raw libzmq in the same run. ![ratios](ratios.svg)\n",
        utc(results.started_unix),
        results.duration.as_secs_f64()
    );
    for (k, v) in machine() {
        let _ = writeln!(md, "- {k}: {v}");
    }
    let _ = writeln!(md, "- other load: {}", background_summary(results));
    let _ = writeln!(md);
    if !results.instructions.is_empty() {
        let _ = writeln!(
            md,
            "## Instructions per message (callgrind)\n\nCounted by valgrind's callgrind on the peer (the counterpart runs natively): the loop thread inside the measured window only, and the whole process (that window plus every other thread, libzmq's I/O thread included, over the run). Raw is instructions per message; uzmq is the ratio to raw with its own count in parentheses.\n"
        );
        for process in [false, true] {
            let (header, lines) = super::instructions::grid(&results.instructions, process);
            md.push_str(&markdown_grid(&header, &lines));
            md.push('\n');
        }
        if let Some(line) =
            super::instructions::idle_growth_line(&results.instructions, &Variant::ALL)
        {
            let _ = writeln!(md, "{line}\n");
        }
        if rows.is_empty() {
            return md;
        }
    }
    md.push_str(&markdown_table(rows));
    let _ = writeln!(
        md,
        "\nPaired ratios (median over rounds of uzmq / raw measured in the same round, one right after the other; less sensitive to slow drift of the machine than the ratio of medians above):\n"
    );
    let vs = uzmq_variants(rows);
    let titles: Vec<&str> = vs.iter().map(|v| v.title()).collect();
    let _ = writeln!(md, "| workload | {} |", titles.join(" | "));
    let _ = writeln!(md, "|---|{}", "---:|".repeat(vs.len()));
    for row in rows.iter().filter(|r| {
        !matches!(
            r.goal,
            Goal::Below(_) | Goal::Exactly(_) | Goal::AtMost(_) | Goal::ValueInfo
        )
    }) {
        let cells: Vec<String> = vs.iter().map(|v| paired_cell(row, *v)).collect();
        let _ = writeln!(md, "| {} | {} |", row.label, cells.join(" | "));
    }
    let _ = writeln!(
        md,
        "\nTargets: W1/W2 uzmq/raw >= 0.90; W3 mean uzmq/raw <= 1.05 (async: <= 1.10); W4 under 1 ms of CPU per 3 s idle (whole process, all threads); W5 received/sent exactly 1; W6 uzmq `Sender`/raw (raw: the producer threads hand messages through one `std::sync::mpsc` channel to a thread that owns a blocking PUSH) >= 0.90; W7 fan-in uzmq/raw (raw: `zmq_poll` over the same sockets in one thread) >= 1.0; W8 round trip with the idle handles / without (W3) <= 1.05 per handle kind, and idle CPU with them under 1 ms per 3 s. \
         CPU per message is the peer process's CPU time (`getrusage`, every thread) inside its measured window over the messages (W3, W8: round trips); its \"vs raw\" is uzmq / raw, lower is better. W8 memory is the growth of the resident set when the idle sockets are opened (libzmq) and then wrapped in started handles (uzmq), per socket. \
         W1 is timed by the uzmq side from its first to its last message, W2 and W6 by the receiving counterpart; `-` marks a variant that does not run a cell (async: W1-W5; frames: W1, W5, W7; Sender: W6 only; floor: W3 only); W3 round trips are timed by the blocking REQ counterpart. \
         The floor is no uzmq handle: W3's REP served from a bare fd watch of uzmq's libuv backend with the fewest libzmq calls a correct loop makes, the least a libuv-driven loop costs per round trip; a handle's cost beyond it is the handle's own.\n"
    );
    let _ = writeln!(md, "## Plan\n");
    let _ = writeln!(md, "| cell | workload | size | n | HWM | reps |");
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|");
    for (cell, _) in &results.cells {
        let n = match cell.workload {
            Workload::W4 => format!("{} s idle", cell.idle_s),
            Workload::W3 => format!("{} (+{} warm-up incl.)", cell.n, cell.warmup),
            _ => cell.n.to_string(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {n} | {} | {} |",
            cell.id,
            cell.workload.name(),
            cell.size,
            cell.hwm,
            cell.reps
        );
    }
    let _ = writeln!(md, "\n## Every repetition\n");
    for (cell, samples) in &results.cells {
        for (v, s) in samples {
            let runs: Vec<String> = s
                .runs
                .iter()
                .map(|run| {
                    run.iter()
                        .map(|(k, x)| format!("{k}={}", number(*x)))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            let _ = writeln!(md, "- {} {}: {}", cell.id, v.name(), runs.join("; "));
            for f in &s.failures {
                let _ = writeln!(md, "  - FAILED: {f}");
            }
        }
    }
    md
}

/// The plot ([`super::plot`]), titled with the run's mode.
pub fn svg(results: &Results, rows: &[Row]) -> Result<String, String> {
    let mode = if results.options.quick {
        "quick"
    } else {
        "full"
    };
    super::plot::svg(mode, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{Options, Samples};
    use std::path::PathBuf;
    use std::time::Duration;

    fn results() -> Results {
        let options = Options {
            quick: true,
            reps: None,
            only: Vec::new(),
            variants: Vec::new(),
            out: PathBuf::from("o"),
            bin_dir: PathBuf::from("b"),
            hwm: 1000,
            timeout_s: None,
            quiet_wait: Duration::ZERO,
            instructions: false,
        };
        let cells = super::super::plan(&options)
            .into_iter()
            .map(|cell| {
                let samples = Variant::ALL
                    .into_iter()
                    .filter(|v| v.runs(&cell))
                    .map(|v| {
                        let x = match v.name() {
                            "raw" => 100.0,
                            "stream" => 95.0,
                            "async" => 108.0,
                            "sender" => 92.0,
                            "floor" => 90.0,
                            _ => 50.0,
                        };
                        let run: Vec<(String, f64)> = [
                            "msgs_per_s",
                            "mean_us",
                            "p50_us",
                            "p99_us",
                            "cpu_ms_per_3s",
                            "cpu_ns_per_msg",
                            "handle_bytes",
                        ]
                        .iter()
                        .map(|k| (k.to_string(), x))
                        .chain([
                            ("received_over_sent".to_string(), 1.0),
                            ("rep".to_string(), 0.0),
                        ])
                        .collect();
                        let mut s = Samples::default();
                        s.runs.push(run);
                        if v == Variant::POLL {
                            s.failures.push("boom".into());
                        }
                        (v, s)
                    })
                    .collect();
                (cell, samples)
            })
            .collect();
        Results {
            options,
            cells,
            started_unix: 0,
            duration: Duration::from_secs(1),
            instructions: Vec::new(),
        }
    }

    #[test]
    fn rows_ratios_and_verdicts() {
        let r = results();
        let rows = rows(&r);
        let w1 = &rows[0];
        assert_eq!(w1.ratio(Variant::STREAM), Some(0.95));
        assert_eq!(w1.met(Variant::STREAM), Some(true));
        assert_eq!(w1.met(Variant::POLL), Some(false));
        assert_eq!(w1.paired_ratio(Variant::STREAM), Some(0.95));
        let w3 = rows.iter().find(|r| r.metric == "mean_us").unwrap();
        assert_eq!(w3.met(Variant::STREAM), Some(true)); // 0.95 <= 1.05
        let w5 = rows
            .iter()
            .find(|r| r.metric == "received_over_sent")
            .unwrap();
        assert_eq!(w5.met(Variant::POLL), Some(true));
        let table = text_table(&rows);
        assert!(table.contains("0.950 ok"), "{table}");
        assert!(table.contains("[1/2 ok]"), "{table}");
        assert!(paired_text(&rows).contains("Zmq 0.950"));
        let md = markdown(&r, &rows);
        assert!(md.contains("| workload |"));
        assert!(md.contains("FAILED: boom"));
        let j = json(&r, &rows).to_string();
        assert!(Value::parse(&j).is_ok());
        let svg = svg(&r, &rows).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(
            svg.contains("W1 64 B") && svg.contains("uzmq ZmqPoll"),
            "{svg}"
        );
        assert!(svg.contains("0.95"), "{svg}");
    }

    #[test]
    fn scale_and_cpu_rows() {
        let r = results();
        let rows = rows(&r);
        let w7 = rows.iter().find(|r| r.cell == "w7-64").unwrap();
        assert_eq!(w7.goal, Goal::RatioAtLeast(1.0));
        assert_eq!(w7.met(Variant::STREAM), Some(false)); // 0.95 < 1.0
        let cpu = rows
            .iter()
            .find(|r| r.cell == "w1-64" && r.metric == "cpu_ns_per_msg")
            .unwrap();
        assert_eq!(cpu.ratio(Variant::POLL), Some(0.5));
        assert_eq!(cpu.met(Variant::POLL), None);
        // Lower CPU is better: the plot shows raw/uzmq.
        assert_eq!(cpu.plotted(Variant::POLL), Some((2.0, None)));
        let idle = rows.iter().find(|r| r.metric == "w8_over_w3").unwrap();
        assert_eq!(idle.median(Variant::STREAM), Some(1.0));
        assert_eq!(idle.met(Variant::STREAM), Some(true));
        let mem = rows.iter().find(|r| r.metric == "handle_bytes").unwrap();
        assert_eq!(mem.median(Variant::POLL), Some(50.0));
        assert_eq!(mem.met(Variant::POLL), None);
        let table = text_table(&rows);
        assert!(table.contains("W8 mean / W3 mean"), "{table}");
        assert!(table.contains("50 B"), "{table}");
    }

    #[test]
    fn new_handle_kinds_rows() {
        let r = results();
        let rows = rows(&r);
        let w6 = rows
            .iter()
            .find(|r| r.cell == "w6-64" && r.metric == "msgs_per_s")
            .unwrap();
        assert_eq!(w6.ratio(Variant::SENDER), Some(0.92));
        assert_eq!(w6.met(Variant::SENDER), Some(true));
        assert!(!w6.ran(Variant::STREAM) && !w6.ran(Variant::ASYNC));
        // W3: async is held to 1.10, the callback handles to 1.05.
        let w3 = rows.iter().find(|r| r.metric == "mean_us").unwrap();
        assert_eq!(w3.goal_for(Variant::ASYNC), Goal::RatioAtMost(1.10));
        assert_eq!(w3.goal_for(Variant::STREAM), Goal::RatioAtMost(1.05));
        assert_eq!(w3.met(Variant::ASYNC), Some(true)); // 1.08 <= 1.10
        assert!(w3.target_text().contains("async: ratio <= 1.10"));
        let w1 = &rows[0];
        assert_eq!(w1.met(Variant::ASYNC), Some(true)); // 1.08 >= 0.90
        assert!(!w1.ran(Variant::SENDER));
        let table = text_table(&rows);
        assert!(table.contains("uzmq async") && table.contains("uzmq Sender"));
        let w6_line = table
            .lines()
            .find(|l| l.starts_with("W6 4 threads"))
            .unwrap();
        assert!(!w6_line.contains("FAILED"), "{w6_line}");
        assert!(w6_line.contains("0.920 ok"), "{w6_line}");
        let j = json(&r, &rows).to_string();
        assert!(j.contains(r#""sender_ratio":0.92"#), "{j}");
        // The floor runs W3 only, right after raw.
        assert!(j.contains(r#""floor_ratio":0.9"#), "{j}");
        assert!(w3.ran(Variant::FLOOR) && !w1.ran(Variant::FLOOR));
        assert_eq!(w3.met(Variant::FLOOR), Some(true)); // 0.90 <= 1.05
        let header = table.lines().next().unwrap();
        let raw_at = header.find("raw libzmq").unwrap();
        let floor_at = header.find("floor: libuv fd watch, no handle").unwrap();
        assert!(raw_at < floor_at && floor_at < header.find("uzmq Zmq").unwrap());
        let w3_line = table.lines().find(|l| l.starts_with("W3 echo")).unwrap();
        assert!(w3_line.contains("0.900 ok"), "{w3_line}");
        let md = markdown(&r, &rows);
        assert!(md.contains("| floor: libuv fd watch, no handle |"), "{md}");
        assert!(md.contains("- w3-64 floor: "), "{md}");
        let svg = svg(&r, &rows).unwrap();
        assert!(
            svg.contains("uzmq Sender") && svg.contains("W6 64 B"),
            "{svg}"
        );
        assert!(svg.contains("floor: libuv fd watch, no handle"), "{svg}");
    }

    #[test]
    fn si_suffixes() {
        assert_eq!(si(1_234_567.0), "1.235 M");
        assert_eq!(si(12.0), "12.000");
        assert_eq!(si(f64::NAN), "-");
    }
}
