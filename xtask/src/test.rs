//! `cargo xtask test`: the one command that sets up and tests a fresh machine: prerequisites, fmt, clippy, tests, docs, packaging and the leak check, then a timed summary.

use std::env;
use std::time::{Duration, Instant};

use crate::cmd::{self, Result};
use crate::{leakcheck, package, prereq, racecheck};

/// The `test` command. Arguments after `--` are passed to `cargo test`
/// (`cargo xtask test -- -p uzmq-core`, `cargo xtask test -- -- --nocapture`).
pub fn run(args: &[String]) -> Result {
    let test_args = match args {
        [] => &[][..],
        [dashes, rest @ ..] if dashes == "--" => rest,
        [other, ..] => {
            return Err(format!(
                "test: unexpected argument `{other}` (usage: cargo xtask test [-- <cargo test args>])"
            ));
        }
    };

    let mut steps = Steps::default();
    steps.run("prerequisites", || {
        prereq::ensure()?;
        prereq::ensure_iproute2()?;
        prereq::ensure_components()
    })?;
    steps.run("fmt", || {
        cmd::run(cmd::cargo().args(["fmt", "--all", "--check"]))
    })?;
    steps.run("clippy", || {
        cmd::run(cmd::cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    // PROPTEST_CASES is left alone: the tests choose their own case counts.
    let mut tally = Tally::default();
    steps.run("test", || {
        tally.run(cmd::cargo().args(["test", "--workspace"]).args(test_args))
    })?;
    steps.run("doc", || {
        cmd::run(
            cmd::cargo()
                .args(["doc", "--workspace", "--no-deps"])
                .env("RUSTDOCFLAGS", rustdocflags()),
        )
    })?;
    steps.run("package", package::check)?;
    if prereq::has_valgrind() {
        steps.run("leakcheck", || leakcheck::check(&[]))?;
    } else {
        steps.skip(
            "leakcheck",
            "valgrind is not on PATH (apt-get install valgrind)",
        );
    }
    // A nightly toolchain is a large download: installed for you in CI
    // (`CI=true`, where the check must run), else only used when present.
    let ready = if env::var("CI").is_ok_and(|ci| ci == "true") {
        racecheck::ensure_toolchain()
    } else {
        racecheck::available()
    };
    match ready {
        Ok(()) => steps.run("racecheck", || racecheck::check(&[]))?,
        Err(why) => steps.skip("racecheck", why),
    }
    steps.print_summary();
    eprintln!("xtask test: all steps passed");
    // One plain closing line for whoever reads the log: the whole count of
    // `cargo test`, not just its last binary's.
    println!(
        "{} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.ignored
    );
    Ok(())
}

/// The sum of every `test result:` line `cargo test` printed.
#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Tally {
    /// Runs `command` with its output streamed through, adding up the
    /// libtest result lines on the way.
    fn run(&mut self, command: &mut std::process::Command) -> Result {
        use std::io::{BufRead, BufReader, Write};
        let shown = cmd::display(command);
        eprintln!("$ {shown}");
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot run `{shown}`: {err}"))?;
        let stdout = child.stdout.take().expect("stdout was piped");
        let mut out = std::io::stdout().lock();
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|err| format!("reading `{shown}`: {err}"))?;
            self.add(&line);
            // A closed stdout must not stop the tests: ignore write errors.
            let _ = writeln!(out, "{line}");
        }
        let status = child
            .wait()
            .map_err(|err| format!("waiting for `{shown}`: {err}"))?;
        cmd::check_status(&shown, status)
    }

    /// `test result: ok. 3 passed; 0 failed; 1 ignored; ...`
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(kind), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
                continue;
            };
            match kind {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                "ignored" => self.ignored += count,
                _ => {}
            }
        }
    }
}

/// `-D warnings` added to whatever `RUSTDOCFLAGS` the caller set.
fn rustdocflags() -> String {
    match env::var("RUSTDOCFLAGS") {
        Ok(flags) if !flags.trim().is_empty() => format!("{flags} -D warnings"),
        _ => "-D warnings".into(),
    }
}

/// How a step ended.
enum Outcome {
    Passed,
    Failed,
    Skipped(String),
}

/// The steps run so far, with their outcomes and durations.
#[derive(Default)]
struct Steps {
    done: Vec<(&'static str, Outcome, Duration)>,
}

impl Steps {
    /// Runs step `name`, timing it; on failure prints the summary and fails
    /// with "step `name` failed".
    fn run(&mut self, name: &'static str, step: impl FnOnce() -> Result) -> Result {
        eprintln!("\n==> [{}] {name}", self.done.len() + 1);
        let start = Instant::now();
        let result = step();
        let outcome = if result.is_ok() {
            Outcome::Passed
        } else {
            Outcome::Failed
        };
        self.done.push((name, outcome, start.elapsed()));
        result.map_err(|err| {
            self.print_summary();
            format!("step `{name}` failed: {err}")
        })
    }

    /// Records step `name` as skipped, saying why.
    fn skip(&mut self, name: &'static str, why: impl Into<String>) {
        let why = why.into();
        eprintln!("\n==> [{}] {name}: skipped, {why}", self.done.len() + 1);
        self.done
            .push((name, Outcome::Skipped(why), Duration::ZERO));
    }

    fn print_summary(&self) {
        let total: Duration = self.done.iter().map(|(_, _, took)| *took).sum();
        eprintln!("\nxtask test summary:");
        for (name, outcome, took) in &self.done {
            let (word, note) = match outcome {
                Outcome::Passed => ("ok", ""),
                Outcome::Failed => ("FAILED", ""),
                Outcome::Skipped(why) => ("skipped", why.as_str()),
            };
            let line = format!(
                "  {word:<8} {name:<14} {:>8.1}s  {note}",
                took.as_secs_f64()
            );
            eprintln!("{}", line.trim_end());
        }
        eprintln!("  {:<8} {:<14} {:>8.1}s", "", "total", total.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::Tally;

    #[test]
    fn adds_up_libtest_result_lines() {
        let mut t = Tally::default();
        t.add("test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        t.add("test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
        t.add("running 3 tests");
        assert_eq!((t.passed, t.failed, t.ignored), (5, 1, 1));
    }
}
