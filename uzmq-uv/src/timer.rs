//! [`UvTimer`]: a `uv_timer_t`.

use std::fmt;

use uzmq_core::{RawTimer, Result};

use crate::sys::Timer;

/// A loop timer (a `uv_timer_t`), made by
/// [`Reactor::timer`](uzmq_core::Reactor::timer); its callback runs from
/// the timer phase.
///
/// It takes whole milliseconds (libuv's resolution); the core converts
/// durations, rounding up, so a nonzero duration never becomes zero.
///
/// Dropping the timer closes it; its callback is dropped once libuv has
/// finished with the handle, so a callback may drop its own timer. Once its
/// loop is gone the timer is inert: `start` and `again` return
/// `Err(Error::Closed)`, `stop`, `set_repeat` and drop do nothing,
/// `is_active` is false, `repeat` and `due_in` are zero.
pub struct UvTimer {
    timer: Timer,
}

impl UvTimer {
    pub(crate) fn from_sys(timer: Timer) -> UvTimer {
        UvTimer { timer }
    }
}

impl RawTimer for UvTimer {
    /// `uv_timer_start`: first fire after `timeout`, then every `repeat`
    /// (zero: once). Restarting a started timer reschedules it.
    fn start_ms(&mut self, timeout_ms: u64, repeat_ms: u64) -> Result<()> {
        self.timer.start(timeout_ms, repeat_ms)
    }

    /// `uv_timer_stop`; idempotent.
    fn stop(&mut self) {
        self.timer.stop();
    }

    /// `uv_is_active`: started and not yet fired (or repeating).
    fn is_active(&self) -> bool {
        self.timer.is_active()
    }

    /// `uv_timer_again`: `Err(Uv EINVAL)` when never started.
    fn again(&mut self) -> Result<()> {
        self.timer.again()
    }

    /// `uv_timer_set_repeat`.
    fn set_repeat_ms(&mut self, repeat_ms: u64) {
        self.timer.set_repeat(repeat_ms);
    }

    /// `uv_timer_get_repeat`.
    fn repeat_ms(&self) -> u64 {
        self.timer.repeat()
    }

    /// `uv_timer_get_due_in` (libuv reports what was left when a stopped
    /// timer was stopped; the core's `due_in` answers zero then).
    fn due_in_ms(&self) -> u64 {
        self.timer.due_in()
    }
}

impl fmt::Debug for UvTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UvTimer")
            .field("active", &self.is_active())
            .finish()
    }
}
