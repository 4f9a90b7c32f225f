//! The safety net of a refused direction: a timer that tries it again
//! when the handle may have consumed the fd signal it waits for.
//!
//! A direction libzmq refused although `ZMQ_EVENTS` allowed it waits for
//! the fd. That is exact while the refused send or receive is the last
//! socket call: what it processed is in its answer, and any later command
//! raises an edge. A handle that also waits for the other direction must
//! read `ZMQ_EVENTS` again before it sleeps, though, and that read may
//! process the very command (an `activate_write`) the refused direction
//! waits for, consuming its edge. The fd is asked first, so this happens
//! only when the command arrives between that question and the read, a
//! window libzmq gives no way to close. For that case alone, the handle
//! tries again after a delay that doubles from [`FIRST`] to [`LONGEST`]
//! while nothing moves: no spin, and no write stranded for good.

use std::time::Duration;

use crate::{RawTimer, Result};

/// The first delay after an exposed refusal.
pub(super) const FIRST: Duration = Duration::from_millis(1);

/// The delay stops doubling here.
pub(super) const LONGEST: Duration = Duration::from_millis(128);

/// The timer (made on first need) and the delay of its next start.
pub(super) struct Retry<T: RawTimer> {
    timer: Option<T>,
    delay: Duration,
}

impl<T: RawTimer> Default for Retry<T> {
    fn default() -> Self {
        Retry {
            timer: None,
            delay: FIRST,
        }
    }
}

impl<T: RawTimer> Retry<T> {
    /// Starts the timer unless it runs already; `make` creates it the
    /// first time. The delay doubles with each start.
    pub(super) fn arm(&mut self, make: impl FnOnce() -> Result<T>) -> Result<()> {
        let timer = match &mut self.timer {
            Some(timer) => timer,
            empty => empty.insert(make()?),
        };
        if !timer.is_active() {
            timer.start(self.delay, Duration::ZERO)?;
            self.delay = (self.delay * 2).min(LONGEST);
        }
        Ok(())
    }

    /// Stops the timer; with `reset`, the next start waits [`FIRST`] again
    /// (the refused direction moved, or nothing is refused any more).
    pub(super) fn disarm(&mut self, reset: bool) {
        if let Some(timer) = &mut self.timer {
            timer.stop();
        }
        if reset {
            self.delay = FIRST;
        }
    }

    /// The timer, to be dropped (closed) outside any borrow of the handle.
    #[must_use]
    pub(super) fn close(&mut self) -> Option<T> {
        self.timer.take()
    }
}
