//! The signal watch: a `uv_signal_t` with its callback.
//!
//! libuv installs one process-wide handler per signal number while any
//! handle of any loop watches it, and restores the default disposition
//! when the last one stops; the handler only writes to each watching
//! loop's signal pipe, and the loop calls back from its poll phase.

use std::ffi::c_int;
use std::rc::Rc;

use libuv_sys2::{self as uv, uv_signal_t};
use uzmq_core::{Error, LoopCallback, Result};

use super::error::check;
use super::handle::{Handle, invoke};
use super::loop_state::{LoopState, Phase};

/// A signal handle with its callback.
pub(crate) struct Signal(Handle<uv_signal_t>);

impl Signal {
    /// A stopped signal handle (libuv creates the loop's signal pipe on the
    /// first one, which may fail with `EMFILE`).
    pub(crate) fn new(state: &Rc<LoopState>, callback: LoopCallback) -> Result<Signal> {
        // SAFETY: `lp` is an initialised loop and `handle` the block's handle
        // at its final address; `uv_signal_init` links the handle into the
        // loop only once the signal pipe exists, so on failure it is unlinked.
        Handle::new(state, callback, |lp, handle| unsafe {
            uv::uv_signal_init(lp, handle)
        })
        .map(Signal)
    }

    /// `uv_signal_start`; `Err(Uv EINVAL)` for a number `sigaction` refuses
    /// (then a handle started for another signal is left stopped, as libuv
    /// stops it first); `Err(Closed)` once the loop is gone.
    pub(crate) fn start(&self, signum: c_int) -> Result<()> {
        let handle = self.0.raw().ok_or(Error::Closed)?;
        // SAFETY: live (see `Handle::raw`) and not closing (only `Drop` and
        // loop teardown close it, after which `raw()` is never reached),
        // which `uv_signal_start` asserts; restarting with the same signal
        // only replaces the callback, with another it re-registers.
        check(unsafe { uv::uv_signal_start(handle, Some(signal_cb), signum) }).map(drop)
    }

    /// `uv_signal_stop`; nothing once the loop is gone.
    pub(crate) fn stop(&self) {
        if let Some(handle) = self.0.raw() {
            // SAFETY: live and not closing (see `start`); stopping a stopped
            // handle is a no-op and it always returns 0.
            unsafe { uv::uv_signal_stop(handle) };
        }
    }

    /// `uv_is_active`; false once the loop is gone.
    pub(crate) fn is_active(&self) -> bool {
        self.0.raw().is_some_and(|handle| {
            // SAFETY: live (see `Handle::raw`).
            unsafe { uv::uv_is_active(handle.cast()) != 0 }
        })
    }
}

/// Poll phase: the watched signal arrived. libuv passes the handle's
/// current signal, which is the one the core started it with; messages of
/// a signal the handle no longer watches never get here.
unsafe extern "C" fn signal_cb(handle: *mut uv_signal_t, _signum: c_int) {
    // SAFETY: libuv passes the handle this callback was started on, created
    // by `Signal::new` as a block of `uv_signal_t`, live until its close
    // callback (a stopped or closing handle gets no more calls).
    unsafe { invoke(handle, Phase::Io) }
}
