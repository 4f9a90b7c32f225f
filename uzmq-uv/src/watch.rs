//! [`UvWatch`]: readability of one fd, on a `uv_poll_t`.

use std::fmt;

use uzmq_core::{Result, Watch};

use crate::sys::Poll;

/// A watch of one fd for readability (a `uv_poll_t` for `UV_READABLE`),
/// made by [`Reactor::watch`](uzmq_core::Reactor::watch).
///
/// Level-triggered: while started and the fd is readable, the callback runs
/// once per loop iteration, from the poll phase. When libuv reports a
/// polling error it stops the watch itself; the callback is still called
/// (the core re-reads the socket's state, which tells it what went wrong),
/// and the core may `start` again.
///
/// libuv allows one poll handle per fd: the core makes one watch per socket.
/// Keep the fd open until the watch is stopped or dropped (libuv may
/// otherwise report an error, or poll whatever fd reuses the number).
///
/// Dropping the watch closes it; its callback is dropped once libuv has
/// finished with the handle, so a callback may drop its own watch. Once its
/// loop is gone the watch is inert: `start` returns `Err(Error::Closed)`,
/// `stop` and drop do nothing.
pub struct UvWatch {
    poll: Poll,
}

impl UvWatch {
    pub(crate) fn from_sys(poll: Poll) -> UvWatch {
        UvWatch { poll }
    }
}

impl Watch for UvWatch {
    /// `uv_poll_start(UV_READABLE)`; idempotent.
    fn start(&mut self) -> Result<()> {
        self.poll.start()
    }

    /// `uv_poll_stop`; idempotent.
    fn stop(&mut self) {
        self.poll.stop();
    }
}

impl fmt::Debug for UvWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UvWatch").finish_non_exhaustive()
    }
}
