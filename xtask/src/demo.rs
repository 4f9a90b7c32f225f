//! `cargo xtask demo`: checks the prerequisites, then runs the `demo` example of `uzmq` in release mode.

use crate::cmd::{self, Result};
use crate::prereq;

/// The `demo` command; its arguments are passed on to the example.
pub fn run(args: &[String]) -> Result {
    prereq::ensure()?;
    let mut command = cmd::cargo();
    command.args(["run", "--release", "--package", "uzmq", "--example", "demo"]);
    if !args.is_empty() {
        command.arg("--").args(forwarded(args));
    }
    cmd::run(&mut command)
}

/// `args` without a leading `--` (both `demo x` and `demo -- x` pass `x`).
pub fn forwarded(args: &[String]) -> &[String] {
    match args {
        [dashes, rest @ ..] if dashes == "--" => rest,
        _ => args,
    }
}
