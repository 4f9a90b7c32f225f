//! [`UvSignal`]: a `uv_signal_t`.

use std::fmt;

use uzmq_core::{RawSignal, Result};

use crate::sys::Signal;

/// A watch of one process signal (a `uv_signal_t`), made by
/// [`Reactor::signal`](uzmq_core::Reactor::signal); its callback runs from
/// the poll phase, once per arrival.
///
/// While any handle of any loop watches a signal, libuv's handler is
/// installed for it process-wide; when the last one stops, the default
/// disposition is back (a handler installed by other code before is not
/// restored).
///
/// Dropping the watch closes it; its callback is dropped once libuv has
/// finished with the handle, so a callback may drop its own watch. Once its
/// loop is gone the watch is inert: `start` returns `Err(Error::Closed)`,
/// `stop` and drop do nothing, `is_active` is false.
pub struct UvSignal {
    signal: Signal,
}

impl UvSignal {
    pub(crate) fn from_sys(signal: Signal) -> UvSignal {
        UvSignal { signal }
    }
}

impl RawSignal for UvSignal {
    /// `uv_signal_start`: `Err(Uv EINVAL)` for 0, a number out of range,
    /// SIGKILL or SIGSTOP.
    fn start(&mut self, signum: i32) -> Result<()> {
        self.signal.start(signum)
    }

    /// `uv_signal_stop`; idempotent.
    fn stop(&mut self) {
        self.signal.stop();
    }

    /// `uv_is_active`: started.
    fn is_active(&self) -> bool {
        self.signal.is_active()
    }
}

impl fmt::Debug for UvSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UvSignal")
            .field("active", &self.is_active())
            .finish()
    }
}
