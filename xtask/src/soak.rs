//! `cargo xtask soak (--minutes N | --seconds S)`: checks the prerequisites,
//! builds the `uzmq-soak` binary of the `uzmq-bench` package in release
//! mode, and runs it: a mixed uzmq workload for that long, failing when a
//! count check fails, the loop stalls, or RSS or the fd count grow after
//! the warm-up. The samples land in `target/soak/samples.csv`.

use crate::cmd::{self, Result};
use crate::{demo, prereq};

/// The `soak` command; its arguments (`--minutes N` or `--seconds S`) are
/// passed on to `uzmq-soak`, with the CSV path.
pub fn run(args: &[String]) -> Result {
    let args = demo::forwarded(args);
    if args.is_empty() {
        return Err("soak needs --minutes N (or --seconds S)".into());
    }
    prereq::ensure()?;
    let csv = cmd::workspace_root().join("target/soak/samples.csv");
    let mut command = cmd::cargo();
    command
        .args([
            "run",
            "--release",
            "--package",
            "uzmq-bench",
            "--bin",
            "uzmq-soak",
            "--",
        ])
        .args(args)
        .arg("--csv")
        .arg(csv);
    cmd::run(&mut command)
}
