//! `cargo xtask bench [--quick]`: checks the prerequisites, then runs the `uzmq-bench` binary in release mode with the given arguments.

use crate::cmd::{self, Result};
use crate::{demo, prereq};

/// The `bench` command; its arguments (such as `--quick`) are passed on to `uzmq-bench`.
pub fn run(args: &[String]) -> Result {
    prereq::ensure()?;
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
