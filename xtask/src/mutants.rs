//! `cargo xtask mutants`: mutation testing of uzmq-core's handle logic (its mock backend excluded) with cargo-mutants, against the integration and property tests of package `tests`; missed mutants known to be equivalent are listed, with the reason, in `xtask/mutants-equivalent.txt`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::cmd::{self, Result};

/// The mutated package, and the part of it left alone: the mock is test
/// scaffolding, checked by the tests that use it.
const PACKAGE: &str = "uzmq-core";
const EXCLUDED: &str = "uzmq-core/src/mock/**";

/// The package whose tests judge each mutant.
const TEST_PACKAGE: &str = "tests";

/// Test targets left out: they need root and network namespaces, take
/// seconds each, and exercise no core rule the others miss.
const SLOW_TARGETS: [&str; 1] = ["network_faults"];

/// Seconds one mutant's tests may take before it counts as caught by a
/// timeout (a mutant that makes a step loop for ever): a few times what
/// the unmutated tests take on a loaded two-core machine.
const TEST_TIMEOUT: &str = "120";

/// The test targets besides `prop_*` that run on the mock backend (two of
/// them also on libzmq over `inproc://`, in milliseconds).
const MOCK_TARGETS: [&str; 3] = ["two_backends", "call_order", "receive_buffers"];

/// Missed mutants that cannot be caught, one per line:
/// `path: mutation  # why it is equivalent` (line and column left out, so
/// that edits elsewhere in the file do not invalidate the entry).
const EQUIVALENTS: &str = "xtask/mutants-equivalent.txt";

/// Where cargo-mutants writes `mutants.out/`.
const OUTPUT: &str = "target/mutants";

const USAGE: &str = "usage: cargo xtask mutants [--fast] [--jobs N] [-- <cargo mutants args>]";

/// The `mutants` command. `--fast` keeps only the mock-backend tests
/// (`prop_*`, `call_order`, `two_backends`, `receive_buffers`) with 128
/// property cases each.
pub fn run(args: &[String]) -> Result {
    let mut fast = false;
    let mut jobs = "2".to_owned();
    let mut extra: &[String] = &[];
    let mut rest = args;
    while let Some((arg, tail)) = rest.split_first() {
        match arg.as_str() {
            "--fast" => fast = true,
            "--jobs" => {
                let (n, tail) = tail
                    .split_first()
                    .ok_or_else(|| format!("mutants: --jobs needs a number ({USAGE})"))?;
                jobs.clone_from(n);
                rest = tail;
                continue;
            }
            "--" => {
                extra = tail;
                break;
            }
            other => return Err(format!("mutants: unexpected argument `{other}` ({USAGE})")),
        }
        rest = tail;
    }
    ensure_cargo_mutants()?;

    let root = cmd::workspace_root();
    let targets = test_targets(&root.join(TEST_PACKAGE).join("tests"), fast)?;
    let target_args: Vec<&str> = targets.iter().flat_map(|t| ["--test", t]).collect();
    let cases = if fast { "128" } else { "1000" };

    // The baseline, run here: cargo-mutants 27 runs its own with the tests
    // of the mutated package only, which has none of these targets.
    cmd::run(
        cmd::cargo()
            .args(["test", "--package", TEST_PACKAGE])
            .args(&target_args)
            .env("PROPTEST_CASES", cases),
    )?;
    let mut command = cmd::cargo();
    command
        .args(["mutants", "--package", PACKAGE, "--exclude", EXCLUDED])
        .args(["--test-package", TEST_PACKAGE, "--jobs", &jobs])
        .args(["--baseline", "skip", "--timeout", TEST_TIMEOUT])
        .args(["--output", OUTPUT])
        .args(extra)
        .arg("--")
        .args(&target_args)
        .env("PROPTEST_CASES", cases)
        // Each mutant relinks every test binary: without debug info that
        // takes a fraction of the time.
        .env("CARGO_PROFILE_DEV_DEBUG", "0");
    // cargo-mutants exits non-zero when any mutant is missed; the verdict
    // below also accounts for the listed equivalents (and fails when no
    // mutant was tested at all, e.g. a failing baseline).
    if let Err(e) = cmd::run(&mut command) {
        eprintln!("xtask mutants: {e}");
    }
    match judge(
        &root.join(OUTPUT).join("mutants.out"),
        &root.join(EQUIVALENTS),
    )? {
        Verdict::Clean => Ok(()),
        Verdict::Unexplained(missed) => Err(format!(
            "{} missed mutant(s) neither caught nor listed in {EQUIVALENTS}:\n  {}",
            missed.len(),
            missed.into_iter().collect::<Vec<_>>().join("\n  ")
        )),
    }
}

/// cargo-mutants, installed from crates.io when missing.
fn ensure_cargo_mutants() -> Result {
    if cmd::succeeds(cmd::cargo().args(["mutants", "--version"])) {
        return Ok(());
    }
    eprintln!("xtask mutants: cargo-mutants is missing; installing it from crates.io");
    cmd::run(cmd::cargo().args(["install", "--locked", "cargo-mutants"]))
}

/// The integration test targets of the test package (one per
/// `tests/*.rs`), without the slow ones; with `fast`, only the mock ones.
fn test_targets(dir: &Path, fast: bool) -> Result<Vec<String>> {
    let entries = fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut targets: Vec<String> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "rs").then_some(())?;
            Some(path.file_stem()?.to_str()?.to_owned())
        })
        .filter(|name| !SLOW_TARGETS.contains(&name.as_str()))
        .filter(|name| !fast || name.starts_with("prop_") || MOCK_TARGETS.contains(&name.as_str()))
        .collect();
    targets.sort();
    Ok(targets)
}

/// What the run leaves to explain.
enum Verdict {
    Clean,
    Unexplained(BTreeSet<String>),
}

/// Reads the run's outcome files, prints the figures, and names the missed
/// mutants that are not listed as equivalent.
fn judge(out: &Path, equivalents: &Path) -> Result<Verdict> {
    let read = |name: &str| -> Vec<String> {
        fs::read_to_string(out.join(name))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (caught, missed, timeout, unviable) = (
        read("caught.txt"),
        read("missed.txt"),
        read("timeout.txt"),
        read("unviable.txt"),
    );
    let listed: BTreeSet<String> = fs::read_to_string(equivalents)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    // Positions left out, two mutants of one function can read the same:
    // count them apart, list each name once.
    let unexplained_count = missed
        .iter()
        .filter(|m| !listed.contains(&without_position(m)))
        .count();
    let unexplained: BTreeSet<String> = missed
        .iter()
        .filter(|m| !listed.contains(&without_position(m)))
        .cloned()
        .collect();
    let viable = caught.len() + missed.len() + timeout.len();
    if viable == 0 {
        return Err(format!(
            "no mutant was tested; see {}",
            out.join("debug.log").display()
        ));
    }
    let percent = |n: usize| 100.0 * n as f64 / viable as f64;
    println!(
        "mutants: {viable} viable ({unviable} unviable): {} caught, {} timed out (caught), {} missed ({:.1} %), of which {} listed as equivalent and {} unexplained",
        caught.len(),
        timeout.len(),
        missed.len(),
        percent(missed.len()),
        missed.len() - unexplained_count,
        unexplained_count,
        unviable = unviable.len(),
    );
    Ok(if unexplained.is_empty() {
        Verdict::Clean
    } else {
        Verdict::Unexplained(unexplained)
    })
}

/// `path:line:col: mutation` as `path: mutation`.
fn without_position(mutant: &str) -> String {
    let mut parts = mutant.splitn(4, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(path), Some(_line), Some(_col), Some(what)) => format!("{path}:{what}"),
        _ => mutant.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_position;

    #[test]
    fn positions_are_dropped() {
        assert_eq!(
            without_position("uzmq-core/src/a.rs:30:9: replace f -> bool with true"),
            "uzmq-core/src/a.rs: replace f -> bool with true"
        );
        assert_eq!(without_position("odd line"), "odd line");
    }
}
