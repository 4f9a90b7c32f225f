//! `Timer`: a libuv timer whose callback gets the timer.

use std::time::Duration;

use uzmq_core::{Result, TimerHandle};
use uzmq_uv::UvLoop;

use crate::Loop;

/// A loop timer (`uv_timer_t`). Cloning makes another reference.
#[derive(Clone, Debug)]
pub struct Timer(TimerHandle<UvLoop>);

impl Timer {
    /// A stopped timer on `lp`.
    pub fn new(lp: &Loop) -> Result<Timer> {
        Ok(Timer(TimerHandle::new(&lp.0)?))
    }

    /// Calls `cb` after `timeout`, then every `repeat` (`Duration::ZERO`
    /// fires once). Restarts a started timer, replacing its callback.
    pub fn start(
        &self,
        timeout: Duration,
        repeat: Duration,
        mut cb: impl FnMut(&Timer) + 'static,
    ) -> Result<()> {
        self.0
            .start(timeout, repeat, move |h| cb(&Timer(h.clone())))
    }

    /// Stops the timer.
    pub fn stop(&self) -> Result<()> {
        self.0.stop()
    }

    /// Closes the timer; its callback is dropped.
    pub fn close(&self) {
        self.0.close()
    }

    /// Closes the timer; `cb` runs once, from the loop.
    pub fn close_with(&self, cb: impl FnOnce(&Timer) + 'static) {
        self.0.close_with(move |h| cb(&Timer(h.clone())))
    }

    /// Started and will fire.
    pub fn is_active(&self) -> bool {
        self.0.is_active()
    }

    /// True once closing began.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// The loop, or `Err(Error::Closed)` once it is gone.
    pub fn event_loop(&self) -> Result<Loop> {
        self.0.event_loop().map(Loop)
    }
}
