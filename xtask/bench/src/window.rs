//! The measured window of a workload: the code between its set-up and its
//! tear-down, run through [`measured`] so that callgrind can count it alone,
//! and timed in CPU seconds of the whole process with `getrusage`.
//!
//! `cargo xtask bench --instructions` runs the peer under
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=<measured>`:
//! collection is switched on when a thread enters [`measured`] and off when
//! it leaves, so the count is the loop thread's instructions inside the
//! window (the callbacks, uzmq, libuv, libzmq's API calls, the allocator)
//! and nothing of socket creation, binding, preparing W2's messages or
//! closing. Callgrind's collection state is per thread; libzmq's own
//! threads are counted by a second toggle on their thread routine (see
//! the driver's instructions module).

use std::cell::Cell;

use nix::sys::resource::{UsageWho, getrusage};

/// The function callgrind toggles collection on; its symbol must stay
/// (never inlined) and its name must match
/// [`crate::driver::instructions::WINDOW_SYMBOL`].
#[inline(never)]
pub fn measured<R>(f: impl FnOnce() -> R) -> R {
    std::hint::black_box(f())
}

/// User plus system CPU seconds of the whole process (every thread) so far,
/// from `getrusage(RUSAGE_SELF)`; `None` when the call fails.
pub fn process_cpu_s() -> Option<f64> {
    let usage = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Some(secs(usage.user_time()) + secs(usage.system_time()))
}

/// Sums the CPU time of the process over every measured window of a run
/// (W2 through `Zmq` has two: queueing the writes, then the loop).
#[derive(Debug, Default)]
pub struct Window {
    cpu_s: Cell<f64>,
    failed: Cell<bool>,
}

impl Window {
    /// A window that has measured nothing yet.
    pub fn new() -> Window {
        Window::default()
    }

    /// Runs `f` as (part of) the measured window.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let before = process_cpu_s();
        let result = measured(f);
        match (before, process_cpu_s()) {
            (Some(before), Some(after)) => self.cpu_s.set(self.cpu_s.get() + (after - before)),
            _ => self.failed.set(true),
        }
        result
    }

    /// CPU seconds of the whole process inside the windows so far; `None`
    /// when `getrusage` failed.
    pub fn cpu_s(&self) -> Option<f64> {
        (!self.failed.get()).then(|| self.cpu_s.get().max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_add_up_cpu_time() {
        let w = Window::new();
        assert_eq!(w.cpu_s(), Some(0.0));
        let spin = || {
            let start = std::time::Instant::now();
            let mut x: u64 = 1;
            while start.elapsed().as_millis() < 30 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            x
        };
        std::hint::black_box(w.run(spin));
        let one = w.cpu_s().unwrap();
        assert!(one > 0.0, "{one}");
        std::hint::black_box(w.run(spin));
        assert!(w.cpu_s().unwrap() > one);
    }
}
