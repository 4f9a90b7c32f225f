//! The fd watch: a `uv_poll_t` for `UV_READABLE` only.
//!
//! libuv allows one poll handle per fd: a `uv_poll_init` of an fd another
//! started handle watches fails with `EEXIST`, and of two handles of one fd
//! initialised before either started, only the first would ever be called.
//! The core creates one watch per socket.

use std::ffi::c_int;

use libuv_sys2::{self as uv, uv_poll_t};
use uzmq_core::{Error, LoopCallback, RawFd, Result};

use super::error::check;
use super::handle::{Handle, invoke};
use super::loop_state::{LoopState, Phase};
use std::rc::Rc;

/// A poll handle with its callback.
pub(crate) struct Poll(Handle<uv_poll_t>);

impl Poll {
    /// A stopped poll handle of `fd` (libuv makes `fd` non-blocking).
    pub(crate) fn new(state: &Rc<LoopState>, fd: RawFd, callback: LoopCallback) -> Result<Poll> {
        // SAFETY: `lp` is an initialised loop and `handle` the block's handle
        // at its final address; on failure libuv has not linked it.
        Handle::new(state, callback, |lp, handle| unsafe {
            uv::uv_poll_init(lp, handle, fd)
        })
        .map(Poll)
    }

    /// `uv_poll_start(UV_READABLE)`; `Err(Closed)` once the loop is gone.
    pub(crate) fn start(&self) -> Result<()> {
        let handle = self.0.raw().ok_or(Error::Closed)?;
        let readable = uv::uv_poll_event_UV_READABLE as c_int;
        // SAFETY: `raw()` returned the handle, so it is live (see
        // `Handle::raw`); starting a started poll handle just updates it.
        check(unsafe { uv::uv_poll_start(handle, readable, Some(poll_cb)) }).map(drop)
    }

    /// `uv_poll_stop`; nothing once the loop is gone.
    pub(crate) fn stop(&self) {
        if let Some(handle) = self.0.raw() {
            // SAFETY: live (see `Handle::raw`); stopping is idempotent and
            // cannot fail on an initialised handle.
            unsafe { uv::uv_poll_stop(handle) };
        }
    }
}

/// Poll phase: the fd is readable, or polling it failed.
///
/// On failure (`status < 0`, e.g. `EBADF` on `POLLERR`) libuv has already
/// stopped the handle; the callback still runs, because the core re-reads
/// the socket's state anyway and learns the error from there.
unsafe extern "C" fn poll_cb(handle: *mut uv_poll_t, _status: c_int, _events: c_int) {
    // SAFETY: libuv passes the handle this callback was started on, created
    // by `Poll::new` as a block of `uv_poll_t`, live until its close callback.
    unsafe { invoke(handle, Phase::Io) }
}
