//! [`UvTimer`]: a `uv_timer_t`.

use std::fmt;
use std::time::Duration;

use uzmq_core::{RawTimer, Result};

use crate::sys::Timer;
use crate::uv_loop::millis_ceil;

/// A loop timer (a `uv_timer_t`), made by
/// [`Reactor::timer`](uzmq_core::Reactor::timer); its callback runs from
/// the timer phase.
///
/// Durations are rounded up to whole milliseconds (libuv's resolution), so
/// a nonzero duration never becomes zero.
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
    fn start(&mut self, timeout: Duration, repeat: Duration) -> Result<()> {
        self.timer.start(millis_ceil(timeout), millis_ceil(repeat))
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

    /// `uv_timer_set_repeat`, rounded up to whole milliseconds.
    fn set_repeat(&mut self, repeat: Duration) {
        self.timer.set_repeat(millis_ceil(repeat));
    }

    /// `uv_timer_get_repeat`.
    fn repeat(&self) -> Duration {
        Duration::from_millis(self.timer.repeat())
    }

    /// `uv_timer_get_due_in`, zero when not active (libuv would report
    /// what was left when a stopped timer was stopped).
    fn due_in(&self) -> Duration {
        if self.timer.is_active() {
            Duration::from_millis(self.timer.due_in())
        } else {
            Duration::ZERO
        }
    }
}

impl fmt::Debug for UvTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UvTimer")
            .field("active", &self.is_active())
            .finish()
    }
}
