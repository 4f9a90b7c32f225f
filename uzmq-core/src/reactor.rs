//! The loop boundary: the few libuv primitives the handles are built on.
//!
//! Implemented by `uzmq-uv` on a real `uv_loop_t` and by
//! `mock::MockReactor` in virtual time. Handles never talk to a
//! backend directly; they go through [`crate::EventLoop`].

use std::time::Duration;

use crate::{RawFd, Result};

/// How [`Reactor::run`] runs the loop (`uv_run_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Until nothing is active (`UV_RUN_DEFAULT`).
    Default,
    /// One iteration, blocking for events if there are none (`UV_RUN_ONCE`).
    Once,
    /// One iteration without blocking (`UV_RUN_NOWAIT`).
    NoWait,
}

/// A callback the backend runs from its loop, told the iteration it runs
/// in (the [`Reactor::iteration`] number): an fd's callback learns whether
/// its handle stepped in this iteration already without asking the loop.
pub type LoopCallback = Box<dyn FnMut(u64)>;

/// A loop backend.
///
/// Phases run in libuv's order: timers, idle, poll (level-triggered fd
/// watches), check (the turn hook), then close callbacks.
pub trait Reactor: 'static {
    /// An fd watch (a `uv_poll_t` for `UV_READABLE`).
    type Watch: Watch;
    /// A timer (a `uv_timer_t`).
    type Timer: RawTimer;
    /// A signal watch (a `uv_signal_t`).
    type Signal: RawSignal;
    /// The door other threads wake the loop through (a `uv_async_t`).
    type Async: RawAsync;

    /// Installs the function run once per iteration in the check phase
    /// while the turn is armed. Called once, when the loop is created.
    fn set_turn_hook(&self, hook: LoopCallback);

    /// Arms or disarms the turn. While armed the loop does not block in
    /// poll and counts as alive; disarmed, it costs nothing.
    fn arm_turn(&self, armed: bool);

    /// A number that stays the same through one iteration's poll and check
    /// phases and differs in the next iteration's: what tells a handle
    /// whether it already stepped in this iteration.
    fn iteration(&self) -> u64;

    /// A stopped watch of `fd` for readability; `on_readable` runs from the
    /// poll phase, once per iteration while the fd is readable and the
    /// watch started. Dropping the watch closes it; the callback is dropped
    /// only once the backend no longer runs it (so a callback may drop its
    /// own watch).
    fn watch(&self, fd: RawFd, on_readable: LoopCallback) -> Result<Self::Watch>;

    /// A stopped timer whose `on_fire` runs from the timer phase. Dropping
    /// it closes it, with the same rule for the callback as [`Reactor::watch`].
    fn timer(&self, on_fire: LoopCallback) -> Result<Self::Timer>;

    /// A stopped signal watch whose `on_signal` runs from the poll phase
    /// each time the signal it watches arrives. Dropping it closes it, with
    /// the same rule for the callback as [`Reactor::watch`].
    fn signal(&self, on_signal: LoopCallback) -> Result<Self::Signal>;

    /// An async handle whose `on_wake` runs from the poll phase after one
    /// or more [`AsyncWake::wake`] calls from any thread (wakes coalesce:
    /// several before the loop gets to it run `on_wake` once). It starts
    /// unref'd: it keeps the loop alive only while
    /// [`RawAsync::keep_alive`] says so. Dropping it closes it, with the
    /// same rule for the callback as [`Reactor::watch`]; its wakers then do
    /// nothing.
    fn async_handle(&self, on_wake: LoopCallback) -> Result<Self::Async>;

    /// Runs the loop (`uv_run`); `Ok(true)` when active handles remain.
    /// A panic in a callback stops the run and resumes from here.
    fn run(&self, mode: RunMode) -> Result<bool>;

    /// Makes `run` return after this iteration (`uv_stop`).
    fn stop(&self);

    /// Loop time in milliseconds (`uv_now`): cached, refreshed at the start
    /// of each iteration and by [`Reactor::update_time`].
    fn now(&self) -> u64;

    /// Refreshes the cached loop time (`uv_update_time`). Timers are
    /// measured from the cached time, so work done outside the loop since
    /// the last refresh would otherwise shorten a timer started now.
    fn update_time(&self);

    /// Whether the loop has active handles or closing ones (`uv_loop_alive`).
    fn alive(&self) -> bool;
}

/// A readability watch on one fd.
pub trait Watch: 'static {
    /// Starts watching (idempotent).
    fn start(&mut self) -> Result<()>;
    /// Stops watching (idempotent); a stopped watch keeps no loop alive.
    fn stop(&mut self);
}

/// A loop timer.
///
/// Backends implement the `_ms` methods, in whole loop milliseconds (the
/// `uint64_t` libuv takes). The `Duration` methods are provided and are
/// the only place a `Duration` becomes loop milliseconds
/// ([`millis_ceil`]: rounded up, so a nonzero duration never becomes zero,
/// which as a repeat would mean "once"), so every backend sees the same
/// values; backends do not override them.
pub trait RawTimer: 'static {
    /// (Re)starts: first fire after `timeout_ms`, then every `repeat_ms`
    /// unless zero, measured from the cached loop time.
    fn start_ms(&mut self, timeout_ms: u64, repeat_ms: u64) -> Result<()>;
    /// Stops (idempotent).
    fn stop(&mut self);
    /// Whether the timer is started and will fire.
    fn is_active(&self) -> bool;
    /// `uv_timer_again`: with a nonzero repeat, restarts the timer to fire
    /// after `repeat` from the cached loop time; with a zero repeat,
    /// nothing. An error when it was never started.
    fn again(&mut self) -> Result<()>;
    /// Sets the repeat interval, used from the next fire on.
    fn set_repeat_ms(&mut self, repeat_ms: u64);
    /// The repeat interval.
    fn repeat_ms(&self) -> u64;
    /// Milliseconds from the cached loop time to the next fire, while
    /// active (what it answers when not active does not matter).
    fn due_in_ms(&self) -> u64;

    /// [`start_ms`](Self::start_ms) with durations rounded up to whole
    /// milliseconds.
    fn start(&mut self, timeout: Duration, repeat: Duration) -> Result<()> {
        self.start_ms(millis_ceil(timeout), millis_ceil(repeat))
    }
    /// [`set_repeat_ms`](Self::set_repeat_ms) with `repeat` rounded up to
    /// whole milliseconds.
    fn set_repeat(&mut self, repeat: Duration) {
        self.set_repeat_ms(millis_ceil(repeat));
    }
    /// The repeat interval, as the backend keeps it (whole milliseconds).
    fn repeat(&self) -> Duration {
        Duration::from_millis(self.repeat_ms())
    }
    /// Time from the cached loop time to the next fire; zero when not
    /// active.
    fn due_in(&self) -> Duration {
        if self.is_active() {
            Duration::from_millis(self.due_in_ms())
        } else {
            Duration::ZERO
        }
    }
}

/// Whole loop milliseconds for a `Duration`, rounded up, so that a nonzero
/// duration never becomes 0 (a zero repeat would mean "once"); saturates.
/// The one conversion of timer durations, for every backend.
pub fn millis_ceil(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// A watch of one process signal.
pub trait RawSignal: 'static {
    /// Starts watching `signum`, or switches a started watch to it (while
    /// started it keeps the loop alive). An invalid signal number is an
    /// error; as in libuv, a watch switched to an invalid one may be left
    /// stopped.
    fn start(&mut self, signum: i32) -> Result<()>;
    /// Stops (idempotent); a signal that arrives now is not reported.
    fn stop(&mut self);
    /// Whether the watch is started.
    fn is_active(&self) -> bool;
}

/// The loop side of an async handle (a `uv_async_t`).
pub trait RawAsync: 'static {
    /// What other threads hold to wake the loop.
    type Wake: AsyncWake;
    /// A waker for other threads.
    fn waker(&self) -> Self::Wake;
    /// Whether the handle keeps the loop alive (`uv_ref`/`uv_unref`); it
    /// starts not to.
    fn keep_alive(&mut self, keep: bool);
}

/// Wakes a loop from any thread (`uv_async_send`).
pub trait AsyncWake: Clone + Send + Sync + 'static {
    /// Makes the async handle's callback run from the loop soon; several
    /// wakes before it runs coalesce into one call. Once the handle is
    /// closed, nothing. Never blocks for long: at most for another wake
    /// or for the handle's close.
    fn wake(&self);
}
