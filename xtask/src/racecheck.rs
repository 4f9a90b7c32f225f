//! `cargo xtask racecheck`: builds the `cross_thread` integration test of package `tests` with ThreadSanitizer (nightly, std and libuv instrumented too) and runs it, failing on any data race report.
//!
//! Why ThreadSanitizer and not valgrind's helgrind or DRD: std's `Mutex`,
//! `Condvar` and `Once` on Linux are built on the futex system call and
//! atomics, which neither valgrind tool models (they see only pthread
//! calls). Under both, every access to data behind a std `Mutex` shows as
//! a race: the loop's inbox and the `Sender` channels in uzmq-core, the
//! async handle's address in uzmq-uv. Suppressing those would suppress
//! exactly what this check is for. ThreadSanitizer instruments the atomics
//! themselves, so with std rebuilt under it (`-Zbuild-std`) it sees std's
//! locks as they are; libuv is compiled from source by `libuv-sys2` and is
//! instrumented as well (`CFLAGS`), so `uv_async_send` from other threads
//! against the loop's own use and close of the async handle is checked.
//! The system libzmq is not instrumented: its internal lock-free pipes are
//! invisible to the check (they produce no false reports either), and its
//! allocations are still tracked through the intercepted `malloc`/`free`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::cmd::{self, Result};
use crate::leakcheck::{TEST_PACKAGE, build_test};
use crate::prereq;

/// The integration test target (`tests/tests/cross_thread.rs`) run under
/// ThreadSanitizer: posts and `Sender`s from several threads, and posts
/// racing with the loop's drop.
pub const TEST_TARGET: &str = "cross_thread";

/// The toolchain ThreadSanitizer needs (`-Zsanitizer`, `-Zbuild-std`);
/// `UZMQ_RACECHECK_TOOLCHAIN` picks another (a dated nightly, say).
const DEFAULT_TOOLCHAIN: &str = "nightly";

/// The host target: `-Zbuild-std` needs it named, and the sanitizer
/// runtime exists for it.
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Its own target directory: the instrumented std and crates would
/// otherwise replace the normal build's artifacts on every switch.
const TARGET_DIR: &str = "target/racecheck";

/// Suppressions for known reports of third-party code, used when the file
/// exists (ThreadSanitizer's format: `race:<function>` lines, with a
/// comment saying why each is benign).
const SUPPRESSIONS: &str = "xtask/tsan.supp";

/// The `racecheck` command: prerequisites (the nightly toolchain and its
/// `rust-src`, added with rustup when missing), then [`check`]. Arguments
/// after `--` go to the test binary (a filter, for instance).
pub fn run(args: &[String]) -> Result {
    let test_args = match args {
        [] => &[][..],
        [dashes, rest @ ..] if dashes == "--" => rest,
        [other, ..] => {
            return Err(format!(
                "racecheck: unexpected argument `{other}` (usage: cargo xtask racecheck [-- <test binary args>])"
            ));
        }
    };
    prereq::ensure()?;
    ensure_toolchain()?;
    check(test_args)
}

/// The toolchain to build with.
fn toolchain() -> String {
    std::env::var("UZMQ_RACECHECK_TOOLCHAIN").unwrap_or_else(|_| DEFAULT_TOOLCHAIN.into())
}

/// Whether the race check can run here without installing anything:
/// rustup, the toolchain and its `rust-src`, on the one target it supports.
pub fn available() -> std::result::Result<(), String> {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return Err(format!("ThreadSanitizer is set up for {TARGET} only"));
    }
    if cmd::which("rustup").is_none() {
        return Err("rustup is not on PATH".into());
    }
    let toolchain = toolchain();
    let installed = cmd::output(Command::new("rustup").args([
        "component",
        "list",
        "--installed",
        "--toolchain",
        &toolchain,
    ]));
    match installed {
        Some(list) if list.lines().any(|line| line.starts_with("rust-src")) => Ok(()),
        Some(_) => Err(format!(
            "the {toolchain} toolchain has no rust-src (rustup component add rust-src --toolchain {toolchain})"
        )),
        None => Err(format!(
            "no {toolchain} toolchain (rustup toolchain install {toolchain} --profile minimal --component rust-src)"
        )),
    }
}

/// Installs the toolchain and its `rust-src` with rustup when missing.
pub fn ensure_toolchain() -> Result {
    if available().is_ok() {
        return Ok(());
    }
    if cmd::which("rustup").is_none() {
        return Err("racecheck needs rustup to install a nightly toolchain".into());
    }
    let toolchain = toolchain();
    cmd::run(
        Command::new("rustup")
            .args(["toolchain", "install", &toolchain, "--profile", "minimal"])
            .args(["--component", "rust-src"])
            .stdin(Stdio::null()),
    )?;
    available()
}

/// Builds the race-check test binary with ThreadSanitizer and runs it
/// with `test_args`; fails on any report (the sanitizer then exits
/// non-zero) or failed test.
pub fn check(test_args: &[String]) -> Result {
    let executable = build()?;
    let root = cmd::workspace_root();
    let mut options = String::from("halt_on_error=0 second_deadlock_stack=1");
    let suppressions = root.join(SUPPRESSIONS);
    if suppressions.is_file() {
        options.push_str(&format!(" suppressions={}", suppressions.display()));
    }
    let mut test = Command::new(&executable);
    test.args(test_args)
        // As `cargo test` runs it: from the package directory, with its manifest dir set.
        .current_dir(root.join(TEST_PACKAGE))
        .env("CARGO_MANIFEST_DIR", root.join(TEST_PACKAGE))
        .env("TSAN_OPTIONS", options)
        .stdin(Stdio::null());
    cmd::run(&mut test).map_err(|err| format!("race check failed: {err}"))
}

/// Builds the test target with std, the workspace and libuv instrumented.
fn build() -> Result<PathBuf> {
    let root = cmd::workspace_root();
    let mut command = Command::new("rustup");
    command
        .args(["run", &toolchain(), "cargo", "test", "-Zbuild-std"])
        .args(["--target", TARGET])
        .current_dir(&root)
        // The outer cargo's own settings must not leak into the nightly build.
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env("CARGO_TARGET_DIR", root.join(TARGET_DIR))
        .env("RUSTFLAGS", "-Zsanitizer=thread")
        .env("RUSTDOCFLAGS", "-Zsanitizer=thread")
        // libuv is compiled from source by its -sys crate: instrument it too.
        .env(
            format!("CFLAGS_{}", TARGET.replace('-', "_")),
            "-fsanitize=thread",
        );
    build_test(command, TEST_PACKAGE, TEST_TARGET)
}
