//! The life cycle every libuv handle of this crate shares: one heap block
//! holding the uv handle and its Rust callback, allocated before
//! `uv_*_init` and freed only in the `uv_close` callback.
//!
//! libuv keeps using a handle's memory after `uv_close` returns (the handle
//! sits in the loop's closing queue until the end of the iteration), so the
//! close callback is the only place a block libuv has seen may be freed. A
//! block whose init failed was never linked into the loop: it is freed at
//! once and never passed to `uv_close`.
//!
//! Every handle of this crate carries its loop context in its `data` field
//! (the loop's own `data` belongs to whoever owns the loop, which need not
//! be this crate). That field also marks the handle as ours, so teardown
//! closes only our handles, and teardown clears it: a close callback that
//! runs after the context is gone (on a loop someone else runs) finds no
//! context and only frees its block.

use std::ffi::c_int;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};
use std::rc::{Rc, Weak};

use libuv_sys2::{self as uv, uv_handle_t, uv_loop_t};
use uzmq_core::{LoopCallback, Result};

use super::error::check;
use super::loop_state::{LoopCtx, LoopState, Phase};

/// One handle's heap block.
///
/// `repr(C)` with the handle first, so the `*mut H` (or `*mut uv_handle_t`)
/// libuv hands to a callback is also a pointer to the block.
#[repr(C)]
pub(crate) struct HandleBlock<H> {
    /// The uv handle itself; only ever reached through raw pointers, since
    /// libuv writes to it behind Rust's back.
    raw: MaybeUninit<H>,
    /// The user's callback. Lives exactly as long as the block, so a callback
    /// that closes its own handle keeps running on valid memory: the block
    /// is freed in the close callback, later in the iteration.
    callback: Option<LoopCallback>,
}

/// The uv handle inside `block` (no dereference, just the first field).
pub(crate) fn raw_of<H>(block: NonNull<HandleBlock<H>>) -> *mut H {
    block.as_ptr().cast()
}

/// Allocates a block holding `callback`, initialises its handle with
/// `init`, which gets the handle's final address, and marks it as a handle
/// of the loop whose context is `ctx`.
pub(crate) fn alloc<H>(
    ctx: *const LoopCtx,
    callback: Option<LoopCallback>,
    init: impl FnOnce(*mut H) -> c_int,
) -> Result<NonNull<HandleBlock<H>>> {
    let block = NonNull::from(Box::leak(Box::new(HandleBlock {
        raw: MaybeUninit::uninit(),
        callback,
    })));
    match check(init(raw_of(block))) {
        Ok(_) => {
            // SAFETY: the handle was just initialised; `data` is ours to set.
            unsafe { uv::uv_handle_set_data(raw_of(block).cast(), ctx.cast_mut().cast()) };
            track(1);
            Ok(block)
        }
        Err(e) => {
            // SAFETY: `block` came from `Box::leak` above and its init failed.
            // Every `uv_*_init` links the handle into the loop only on
            // success, so libuv holds no pointer to it and it must not go to
            // `uv_close`: free it directly, dropping the callback uncalled.
            drop(unsafe { Box::from_raw(block.as_ptr()) });
            Err(e)
        }
    }
}

/// Starts closing `block`'s handle; `close_cb` frees the block later.
///
/// # Safety
///
/// `block` came from [`alloc`] and has not been closed yet (libuv forbids
/// closing a handle twice, and the block is freed by the first close).
pub(crate) unsafe fn close<H>(block: NonNull<HandleBlock<H>>) {
    // SAFETY: the handle is initialised and live (caller's contract); libuv
    // keeps the memory until it calls `close_cb::<H>`, which frees it as the
    // `HandleBlock<H>` it is.
    unsafe { uv::uv_close(raw_of(block).cast(), Some(close_cb::<H>)) }
}

/// The context of the loop `handle` belongs to, or `None` once teardown
/// detached it.
///
/// # Safety
///
/// `handle` is a live handle created by [`alloc`]. Its `data` is either
/// null or the context of its loop, which is freed only after teardown has
/// cleared the `data` of every handle of that loop.
pub(crate) unsafe fn ctx_of<'a>(handle: *mut uv_handle_t) -> Option<&'a LoopCtx> {
    // SAFETY: live handle (caller's contract); `data` as described above.
    // Read as the public field it is (`uv_handle_get_data` is only its
    // getter, a call on every callback).
    unsafe { (*handle).data.cast::<LoopCtx>().as_ref() }
}

/// Teardown of one handle of the loop whose context is `ctx`: takes its
/// callback out (returned, for the caller to drop), detaches it from the
/// context and starts closing it unless it is closing already. Handles of
/// other owners (another `UvLoop` on the same `uv_loop_t`, or code that is
/// not ours) are left alone and give `None`.
///
/// # Safety
///
/// `handle` is a live handle of the loop `ctx` belongs to (as `uv_walk`
/// passes them). Every handle whose `data` is `ctx` sits at the start of a
/// `HandleBlock` of its own handle type ([`alloc`] is the only way this
/// crate creates handles, and it marks them).
pub(crate) unsafe fn detach_and_close(
    handle: *mut uv_handle_t,
    ctx: *const LoopCtx,
) -> Option<LoopCallback> {
    // SAFETY: live handle (caller's contract).
    let data = unsafe { uv::uv_handle_get_data(handle) };
    if !ptr::eq(data.cast_const(), ctx.cast()) {
        return None;
    }
    // SAFETY: ours, so a block of the type its handle type names (above).
    let (callback, close_cb) = unsafe {
        match uv::uv_handle_get_type(handle) {
            uv::uv_handle_type_UV_POLL => detach::<uv::uv_poll_t>(handle),
            uv::uv_handle_type_UV_TIMER => detach::<uv::uv_timer_t>(handle),
            uv::uv_handle_type_UV_SIGNAL => detach::<uv::uv_signal_t>(handle),
            uv::uv_handle_type_UV_CHECK => detach::<uv::uv_check_t>(handle),
            uv::uv_handle_type_UV_IDLE => detach::<uv::uv_idle_t>(handle),
            uv::uv_handle_type_UV_ASYNC => detach::<uv::uv_async_t>(handle),
            // Unreachable: this crate creates no other kind. No assertion
            // (this runs under C, where a panic aborts); closing without a
            // callback leaks the block but lets `uv_loop_close` succeed.
            _ => (None, None),
        }
    };
    // SAFETY: live handle; from now on its callbacks find no context.
    unsafe {
        uv::uv_handle_set_data(handle, ptr::null_mut());
        if uv::uv_is_closing(handle) == 0 {
            uv::uv_close(handle, close_cb);
        }
    }
    callback
}

/// The callback of `handle`'s block, taken out, and the close callback that
/// frees a block of that type.
///
/// # Safety
///
/// `handle` is live and the first field of a `HandleBlock<H>`; no other
/// reference to its `callback` field exists (teardown runs no callback).
unsafe fn detach<H>(handle: *mut uv_handle_t) -> (Option<LoopCallback>, uv::uv_close_cb) {
    let block = handle.cast::<HandleBlock<H>>();
    // SAFETY: caller's contract.
    let callback = unsafe { (*block).callback.take() };
    (callback, Some(close_cb::<H>))
}

/// The close callback: frees the block, then drops the user's callback.
///
/// # Safety
///
/// Only passed to `uv_close` for a handle inside a `HandleBlock<H>` from
/// [`alloc`]. libuv calls it once, after the handle left the loop, so this
/// is the last use of the block.
unsafe extern "C" fn close_cb<H>(handle: *mut uv_handle_t) {
    // SAFETY: the handle is still valid for this call (libuv rule: memory
    // stays valid until the close callback returns, and we free it below).
    // A handle whose loop context is gone was detached by teardown, which
    // took its callback out: nothing below needs the context then.
    let ctx = unsafe { ctx_of(handle) }.map(ptr::from_ref);
    // SAFETY: `handle` is the first field of a `HandleBlock<H>` allocated by
    // `Box` in `alloc` (this function's contract), and libuv never touches a
    // handle again once its close callback runs: reclaim it.
    let block = unsafe { Box::from_raw(handle.cast::<HandleBlock<H>>()) };
    let HandleBlock { callback, .. } = *block;
    track(-1);
    match (callback, ctx) {
        // SAFETY: a handle not detached has its loop's context, which lives
        // until teardown (which detaches every handle before freeing it).
        // User code runs in the callback's Drop: never let it unwind into C.
        (Some(callback), Some(ctx)) => unsafe { &*ctx }.guard(move || drop(callback)),
        // A detached handle has no callback left (teardown took it).
        (callback, _) => drop(callback),
    }
}

/// The body of every trampoline of a handle that carries a user callback:
/// runs that callback, catching a panic.
///
/// # Safety
///
/// `handle` is the handle libuv passed to a callback of a handle created
/// with [`alloc`] as a `HandleBlock<H>`. libuv calls a handle's callbacks
/// only before its close callback, so the block is live for this call.
// Always: each trampoline is this call and nothing else.
#[inline(always)]
pub(crate) unsafe fn invoke<H>(handle: *mut H, phase: Phase) {
    let block = handle.cast::<HandleBlock<H>>();
    let handle = handle.cast::<uv_handle_t>();
    // SAFETY: the handle is live for this call (contract above), and its
    // context, while attached, outlives it (see `ctx_of`).
    let ctx = unsafe { ctx_of(handle) };
    // libuv does not call a closing handle back (`uv_close` stops it
    // first, and drops an fd's pending events), so there is no
    // `uv_is_closing` to ask on every callback. Teardown must never call
    // user code: it detaches every handle (no context, and no callback
    // left) before it closes them, and the flag is checked anyway.
    let Some(ctx) = ctx else {
        return;
    };
    if ctx.tearing_down() {
        return;
    }
    // SAFETY: the block is live (contract above), and this is the only
    // reference to its `callback` field while it runs: libuv does not call a
    // handle back re-entrantly (`run` refuses a nested `uv_run` on the
    // loop), and the Rust side of the handle (start/stop/Drop) touches only
    // the `raw` field. If the callback drops its own handle, `uv_close` only
    // queues it; the block is freed after this call, in `close_cb`.
    let callback = unsafe { &mut (*block).callback };
    if let Some(callback) = callback {
        let outer = ctx.enter_phase(phase);
        ctx.guard(|| callback(ctx.iteration()));
        ctx.enter_phase(outer);
    }
}

/// The Rust side's ownership of one handle: its block, and a liveness token
/// for its loop.
pub(crate) struct Handle<H> {
    block: NonNull<HandleBlock<H>>,
    owner: Weak<LoopState>,
}

impl<H> Handle<H> {
    /// A handle on `state`'s loop carrying `callback`; `init` gets the loop
    /// and the handle's final address and returns libuv's result.
    pub(crate) fn new(
        state: &Rc<LoopState>,
        callback: LoopCallback,
        init: impl FnOnce(*mut uv_loop_t, *mut H) -> c_int,
    ) -> Result<Self> {
        let lp = state.loop_ptr();
        let block = alloc(state.ctx_ptr(), Some(callback), |raw| init(lp, raw))?;
        Ok(Handle {
            block,
            owner: Rc::downgrade(state),
        })
    }

    /// The uv handle, or `None` once the loop is gone (its teardown freed
    /// the block then).
    ///
    /// Invariant making the returned pointer valid: a block is freed only
    /// in its close callback, after `uv_close`; `uv_close` is called either
    /// by this handle's `Drop` (after which `self` is gone) or by loop
    /// teardown, which starts only when the loop's last `Rc` is dropped, so
    /// strong count zero, and never goes back up. Strong count above zero
    /// therefore means the block is live.
    pub(crate) fn raw(&self) -> Option<*mut H> {
        (self.owner.strong_count() > 0).then(|| raw_of(self.block))
    }
}

impl<H> Drop for Handle<H> {
    fn drop(&mut self) {
        // Loop gone: teardown has closed and freed the block already.
        if self.raw().is_some() {
            // SAFETY: the block is live (see `raw`), and this is its only
            // close: `drop` runs once and teardown has not started.
            unsafe { close(self.block) }
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Blocks initialised and not yet freed on this thread (loops are
    /// `!Send`, so a block lives and dies on one thread).
    static LIVE_BLOCKS: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

/// Handle blocks of this thread not freed yet (tests check for leaks).
#[cfg(test)]
pub(crate) fn live_blocks() -> isize {
    LIVE_BLOCKS.with(std::cell::Cell::get)
}

fn track(_delta: isize) {
    #[cfg(test)]
    LIVE_BLOCKS.with(|n| n.set(n.get() + _delta));
}
