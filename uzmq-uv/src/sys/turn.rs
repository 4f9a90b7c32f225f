//! The turn: a `uv_check_t` that runs the turn hook in the check phase
//! while armed, and a `uv_idle_t` that, started only while armed, keeps
//! `uv_run` alive and the poll phase from blocking.
//!
//! Both handles are stopped while the turn rests, so a loop whose handles
//! are served straight from their I/O callbacks runs no callback of the
//! turn at all, and an idle loop blocks in the kernel (zero CPU);
//! `run(Default)` returns when nothing else is active (the check handle is
//! unref'd). The check handle starts when the turn is armed and stops in
//! the first check phase that finds the turn disarmed, so a loop armed
//! every iteration does not start and stop it every time.
//!
//! Armed from an I/O callback, the turn needs no idle handle yet: libuv runs
//! the check phase right after the poll phase, before it can block again.
//! The idle handle starts only if the turn is still armed after that phase
//! (a handle with more than one batch of work), so an event that the turn
//! serves in one go costs no start and stop of it.

use std::cell::Cell;
use std::ffi::c_int;
use std::ptr::NonNull;

use libuv_sys2::{self as uv, uv_check_t, uv_idle_t};
use uzmq_core::Result;

use super::handle::{alloc, close, ctx_of, raw_of};
use super::loop_state::{LoopCtx, Phase, RawLoop};

/// Creates the (unref'd) check handle and the idle handle, both stopped,
/// whose addresses the loop's context keeps. Both belong to the loop and
/// are closed and freed by its teardown.
pub(crate) fn create(lp: &RawLoop) -> Result<()> {
    let ctx = lp.ctx_ptr();
    let raw = lp.as_ptr();
    // SAFETY: `raw` is an initialised loop; `handle` is the block's handle
    // at its final address. `uv_unref` keeps the check handle from holding
    // the loop alive whenever it is started.
    let check = alloc::<uv_check_t>(ctx, None, |handle| unsafe {
        let rc = uv::uv_check_init(raw, handle);
        if rc == 0 {
            uv::uv_unref(handle.cast());
        }
        rc
    })?;
    // A block's handle is its first field, so never null.
    if let Some(check) = NonNull::new(raw_of(check)) {
        lp.ctx().set_check(check);
    }
    // SAFETY: as above, for `uv_idle_init`.
    let idle = alloc::<uv_idle_t>(ctx, None, |handle| unsafe { uv::uv_idle_init(raw, handle) });
    match idle {
        Ok(idle) => {
            // A block's handle is its first field, so never null.
            if let Some(idle) = NonNull::new(raw_of(idle)) {
                lp.ctx().set_idle(idle);
            }
            Ok(())
        }
        Err(e) => {
            // The check handle is initialised and nobody else knows it:
            // close it here; the loop's teardown (the caller drops the loop
            // on this error) runs its close callback.
            // SAFETY: `check` came from `alloc` and was never closed.
            unsafe { close(check) };
            Err(e)
        }
    }
}

/// Arms or disarms the turn: the check phase runs the hook while armed,
/// and the idle handle keeps the loop from blocking before it does (unless
/// an I/O callback armed it: see the module doc).
pub(crate) fn arm(ctx: &LoopCtx, armed: bool) {
    ctx.set_armed(armed);
    if armed {
        set_checking(ctx, true);
    }
    if !(armed && ctx.phase() == Phase::Io) {
        keep_polling(ctx, armed);
    }
}

/// Starts (or stops) the check handle, if it is not already.
fn set_checking(ctx: &LoopCtx, on: bool) {
    switch(
        ctx.check(),
        on,
        uv::uv_check_start,
        check_cb,
        uv::uv_check_stop,
    );
}

/// Starts (or stops) the idle handle, if it is not already.
fn keep_polling(ctx: &LoopCtx, on: bool) {
    switch(ctx.idle(), on, uv::uv_idle_start, idle_cb, uv::uv_idle_stop);
}

/// Starts one of the turn's two handles with `callback`, or stops it, to
/// match `on`, unless it does already.
fn switch<H>(
    (handle, started): (Option<NonNull<H>>, &Cell<bool>),
    on: bool,
    start: unsafe extern "C" fn(*mut H, Option<unsafe extern "C" fn(*mut H)>) -> c_int,
    callback: unsafe extern "C" fn(*mut H),
    stop: unsafe extern "C" fn(*mut H) -> c_int,
) {
    let Some(handle) = handle else {
        return;
    };
    if started.replace(on) == on {
        return;
    }
    // SAFETY: the turn's blocks are live while their context is reachable:
    // only teardown closes them, and teardown detaches every handle of the
    // loop first (no callback reaches the context after), while the Rust
    // side arms through the loop state it borrows. Starting and stopping
    // cannot fail on an initialised handle with a callback given.
    unsafe {
        if on {
            start(handle.as_ptr(), Some(callback));
        } else {
            stop(handle.as_ptr());
        }
    }
}

/// Check phase: the turn hook, when armed; disarmed, the check handle
/// stops until the turn is armed again.
unsafe extern "C" fn check_cb(handle: *mut uv_check_t) {
    // SAFETY: libuv passes the live check handle, made by `alloc`, whose
    // context (while attached) outlives it.
    if let Some(ctx) = unsafe { ctx_of(handle.cast()) } {
        if !ctx.armed() {
            set_checking(ctx, false);
            return;
        }
        ctx.run_turn();
        // Still armed after the turn (a capped step, or a handle its fd
        // stepped this iteration): the next poll phase must not block, and
        // an I/O callback's arming left the idle handle stopped.
        if ctx.armed() && !ctx.tearing_down() {
            keep_polling(ctx, true);
        }
    }
}

/// Idle phase: nothing to do; the idle handle exists only to keep the loop
/// from blocking in poll (libuv refuses to start an idle without callback).
unsafe extern "C" fn idle_cb(_handle: *mut uv_idle_t) {}
