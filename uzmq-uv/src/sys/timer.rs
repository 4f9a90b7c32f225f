//! The timer: a `uv_timer_t` with its callback.

use std::rc::Rc;

use libuv_sys2::{self as uv, uv_timer_t};
use uzmq_core::{Error, LoopCallback, Result};

use super::error::check;
use super::handle::{Handle, invoke};
use super::loop_state::{LoopState, Phase};

/// A timer handle with its callback.
pub(crate) struct Timer(Handle<uv_timer_t>);

impl Timer {
    /// A stopped timer.
    pub(crate) fn new(state: &Rc<LoopState>, callback: LoopCallback) -> Result<Timer> {
        // SAFETY: `lp` is an initialised loop and `handle` the block's handle
        // at its final address.
        Handle::new(state, callback, |lp, handle| unsafe {
            uv::uv_timer_init(lp, handle)
        })
        .map(Timer)
    }

    /// `uv_timer_start` in loop milliseconds; `Err(Closed)` once the loop is gone.
    pub(crate) fn start(&self, timeout_ms: u64, repeat_ms: u64) -> Result<()> {
        let handle = self.0.raw().ok_or(Error::Closed)?;
        // SAFETY: live (see `Handle::raw`); restarting a started timer is
        // allowed and reschedules it.
        check(unsafe { uv::uv_timer_start(handle, Some(timer_cb), timeout_ms, repeat_ms) })
            .map(drop)
    }

    /// `uv_timer_stop`; nothing once the loop is gone.
    pub(crate) fn stop(&self) {
        if let Some(handle) = self.0.raw() {
            // SAFETY: live (see `Handle::raw`); idempotent, cannot fail.
            unsafe { uv::uv_timer_stop(handle) };
        }
    }

    /// `uv_timer_again`: `Err(Uv EINVAL)` when never started (libuv knows no
    /// callback yet); `Err(Closed)` once the loop is gone.
    pub(crate) fn again(&self) -> Result<()> {
        let handle = self.0.raw().ok_or(Error::Closed)?;
        // SAFETY: live (see `Handle::raw`); libuv itself refuses a timer
        // that has no callback yet (never started) with UV_EINVAL.
        check(unsafe { uv::uv_timer_again(handle) }).map(drop)
    }

    /// `uv_timer_set_repeat`; nothing once the loop is gone.
    pub(crate) fn set_repeat(&self, repeat_ms: u64) {
        if let Some(handle) = self.0.raw() {
            // SAFETY: live (see `Handle::raw`); only stores the field read
            // when the timer next fires.
            unsafe { uv::uv_timer_set_repeat(handle, repeat_ms) };
        }
    }

    /// `uv_timer_get_repeat` in ms; 0 once the loop is gone.
    pub(crate) fn repeat(&self) -> u64 {
        self.0.raw().map_or(0, |handle| {
            // SAFETY: live (see `Handle::raw`); a plain field read.
            unsafe { uv::uv_timer_get_repeat(handle) }
        })
    }

    /// `uv_timer_get_due_in` in ms (from the loop's cached time); 0 once
    /// the loop is gone.
    pub(crate) fn due_in(&self) -> u64 {
        self.0.raw().map_or(0, |handle| {
            // SAFETY: live (see `Handle::raw`), and so is its loop, which
            // libuv reads the cached time from.
            unsafe { uv::uv_timer_get_due_in(handle) }
        })
    }

    /// `uv_is_active`; false once the loop is gone.
    pub(crate) fn is_active(&self) -> bool {
        self.0.raw().is_some_and(|handle| {
            // SAFETY: live (see `Handle::raw`).
            unsafe { uv::uv_is_active(handle.cast()) != 0 }
        })
    }
}

/// Timer phase: the timer is due.
unsafe extern "C" fn timer_cb(handle: *mut uv_timer_t) {
    // SAFETY: libuv passes the handle this callback was started on, created
    // by `Timer::new` as a block of `uv_timer_t`, live until its close callback.
    unsafe { invoke(handle, Phase::Other) }
}
