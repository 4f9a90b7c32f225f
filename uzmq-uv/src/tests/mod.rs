//! Tests of the libuv backend on real fds (Unix socket pairs), each bounded:
//! loops run with `Once`/`NoWait` a bounded number of times, and a watchdog
//! turns a `run(Default)` that should return but hangs into a failure.

mod basics;
mod panics;
mod signal;
mod teardown;
mod timer;
mod turn;
mod watch;

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use uzmq_core::{LoopCallback, Reactor, RunMode};

use crate::UvLoop;

/// A connected pair: writing to `.1` makes `.0` readable.
pub(crate) struct Pair(pub UnixStream, pub UnixStream);

impl Pair {
    pub(crate) fn new() -> Pair {
        let (a, b) = UnixStream::pair().expect("socketpair");
        Pair(a, b)
    }

    /// The fd that becomes readable.
    pub(crate) fn fd(&self) -> i32 {
        self.0.as_raw_fd()
    }

    /// Makes `fd()` readable.
    pub(crate) fn poke(&mut self) {
        self.1.write_all(&[1]).expect("write");
    }

    /// Reads the byte `poke` wrote (the watch has made the fd non-blocking).
    pub(crate) fn drain(&mut self) {
        let mut byte = [0u8; 1];
        self.0.read_exact(&mut byte).expect("read");
    }
}

/// How often a callback ran, and whether (how often) it was dropped.
#[derive(Clone, Default)]
pub(crate) struct Probe {
    pub calls: Rc<Cell<usize>>,
    pub drops: Rc<Cell<usize>>,
}

/// Counts its own drop.
struct DropFlag(Rc<Cell<usize>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

impl Probe {
    /// A callback counting its calls and its drop.
    pub(crate) fn callback(&self) -> LoopCallback {
        self.callback_with(|| {})
    }

    /// A callback counting its calls and its drop, that also runs `then`.
    pub(crate) fn callback_with(&self, mut then: impl FnMut() + 'static) -> LoopCallback {
        let calls = self.calls.clone();
        let flag = DropFlag(self.drops.clone());
        Box::new(move |_| {
            let _keep = &flag;
            calls.set(calls.get() + 1);
            then();
        })
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls.get()
    }

    pub(crate) fn drops(&self) -> usize {
        self.drops.get()
    }
}

/// Runs `lp` with `mode` until `done()`, at most `max` times.
pub(crate) fn run_until(
    lp: &UvLoop,
    mode: RunMode,
    max: usize,
    what: &str,
    done: impl Fn() -> bool,
) {
    for _ in 0..max {
        if done() {
            return;
        }
        lp.run(mode).expect("run");
    }
    assert!(done(), "{what}: not reached after {max} runs with {mode:?}");
}

/// Aborts the test process if not dropped within a generous bound: turns a
/// `run(Default)` that should return, but blocks, into a failure.
pub(crate) struct Watchdog(Option<mpsc::Sender<()>>);

impl Watchdog {
    pub(crate) fn new(what: &'static str) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            // Disconnected (the guard was dropped) or signalled: fine.
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(120))
            {
                eprintln!("watchdog: `{what}` did not return within 120 s");
                std::process::abort();
            }
        });
        Watchdog(Some(tx))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.0.take());
    }
}

/// `run(Default)`, failing the test (by abort) if it does not return.
pub(crate) fn run_default(lp: &UvLoop) -> bool {
    let _dog = Watchdog::new("run(Default)");
    lp.run(RunMode::Default).expect("run")
}

/// Handle blocks of this thread not freed yet.
pub(crate) fn live_blocks() -> isize {
    crate::sys::live_blocks()
}
