//! `cargo xtask bench [--quick] [options]`: checks the prerequisites, builds
//! every binary of the `uzmq-bench` package in release mode (the driver runs
//! `uzmq-peer`, `raw-peer` and `uzmq-counterpart` as child processes), then
//! runs the `uzmq-bench` driver with the given arguments. The report lands
//! in `target/bench/` (`report.md`, `report.json`, `ratios.svg`).
//!
//! `cargo xtask bench --instructions` counts instructions per message of
//! W1-W3, W6, W7 and W8's round trip under valgrind's callgrind instead
//! (valgrind must be installed: `apt-get install valgrind`); the driver
//! checks for it and says so. Beside raw libzmq and the handle kinds
//! (`stream`, `frames`, `poll`, `async`, `sender`), W3 also runs the
//! `floor`: the REP served from a bare libuv fd watch with no uzmq handle,
//! the least a libuv-driven loop costs per round trip (`--variants` picks
//! among `raw,floor,stream,frames,poll,async,sender`).
//!
//! `cargo xtask bench --micro [-- <criterion args>]` runs the criterion
//! micro-benchmarks instead (`cargo bench -p uzmq-bench`).

use crate::cmd::{self, Result};
use crate::{demo, prereq};

/// The `bench` command; its arguments (such as `--quick`) are passed on to
/// the `uzmq-bench` driver, or with `--micro` to criterion.
pub fn run(args: &[String]) -> Result {
    prereq::ensure()?;
    if args.first().is_some_and(|a| a == "--micro") {
        let mut command = cmd::cargo();
        command.args(["bench", "--package", "uzmq-bench"]);
        let rest = demo::forwarded(&args[1..]);
        if !rest.is_empty() {
            command.arg("--").args(rest);
        }
        return cmd::run(&mut command);
    }
    cmd::run(cmd::cargo().args(["build", "--release", "--package", "uzmq-bench", "--bins"]))?;
    let mut command = cmd::cargo();
    command
        .args([
            "run",
            "--release",
            "--package",
            "uzmq-bench",
            "--bin",
            "uzmq-bench",
            "--",
        ])
        .args(demo::forwarded(args));
    cmd::run(&mut command)
}
