//! The turn: a `uv_check_t` that runs the turn hook once per iteration while
//! armed, and a `uv_idle_t` that, started only while armed, keeps `uv_run`
//! alive and the poll phase from blocking.
//!
//! Disarmed, the idle handle is stopped and the check handle is unref'd, so
//! an idle loop blocks in the kernel (zero CPU) and `run(Default)` returns
//! when nothing else is active.

use std::ptr::NonNull;

use libuv_sys2::{self as uv, uv_check_t, uv_idle_t};
use uzmq_core::Result;

use super::handle::{HandleBlock, alloc, close, ctx_of, raw_of};
use super::loop_state::{LoopCtx, RawLoop};

/// The loop's check and idle handles. No `Drop`: both belong to the loop and
/// are closed and freed by its teardown.
pub(crate) struct Turn {
    idle: NonNull<HandleBlock<uv_idle_t>>,
}

impl Turn {
    /// Creates and starts the (unref'd) check handle, and the idle handle,
    /// stopped.
    pub(crate) fn new(lp: &RawLoop) -> Result<Turn> {
        let ctx = lp.ctx_ptr();
        let lp = lp.as_ptr();
        // SAFETY: `lp` is an initialised loop; `handle` is the block's handle
        // at its final address. `uv_check_start` cannot fail with a callback
        // given, and `uv_unref` of the started check keeps it from holding
        // the loop alive.
        let check = alloc::<uv_check_t>(ctx, None, |handle| unsafe {
            let rc = uv::uv_check_init(lp, handle);
            if rc == 0 {
                uv::uv_check_start(handle, Some(check_cb));
                uv::uv_unref(handle.cast());
            }
            rc
        })?;
        // SAFETY: as above, for `uv_idle_init`.
        let idle = alloc::<uv_idle_t>(ctx, None, |handle| unsafe { uv::uv_idle_init(lp, handle) });
        match idle {
            Ok(idle) => Ok(Turn { idle }),
            Err(e) => {
                // The check handle is initialised and nobody else knows it:
                // close it here; the loop's teardown (the caller drops the
                // loop on this error) runs its close callback.
                // SAFETY: `check` came from `alloc` and was never closed.
                unsafe { close(check) };
                Err(e)
            }
        }
    }

    /// Arms (starts the idle handle) or disarms (stops it) the turn.
    pub(crate) fn arm(&self, ctx: &LoopCtx, armed: bool) {
        ctx.set_armed(armed);
        let idle = raw_of(self.idle);
        // SAFETY: the idle block is live while its loop is (only teardown
        // closes it, and `self` belongs to the loop's state, which is not
        // being torn down while borrowed). Both calls are idempotent and
        // cannot fail on an initialised handle with a callback given.
        unsafe {
            if armed {
                uv::uv_idle_start(idle, Some(idle_cb));
            } else {
                uv::uv_idle_stop(idle);
            }
        }
    }
}

/// Check phase: the turn hook, when armed.
unsafe extern "C" fn check_cb(handle: *mut uv_check_t) {
    // SAFETY: libuv passes the live check handle, made by `alloc`, whose
    // context (while attached) outlives it.
    if let Some(ctx) = unsafe { ctx_of(handle.cast()) } {
        ctx.run_turn();
    }
}

/// Idle phase: nothing to do; the idle handle exists only to keep the loop
/// from blocking in poll (libuv refuses to start an idle without callback).
unsafe extern "C" fn idle_cb(_handle: *mut uv_idle_t) {}
