//! The async handle: a `uv_async_t`, the one thing of a loop other threads
//! touch, and only through `uv_async_send`.
//!
//! The lifetime argument: the handle's address sits in an `Arc`-shared
//! `Mutex<Option<..>>` (the target). Every `uv_async_send` happens with
//! that lock held and only while the target is `Some`. The loop thread
//! clears the target, under the same lock, *before* it calls `uv_close`
//! (the Rust side's `Drop`, or teardown dropping the handle's callback,
//! which owns a guard that clears it). So once the target is cleared no
//! thread is inside `uv_async_send`, and none will enter it: the block
//! freed in the close callback later is never touched from another thread.
//! The mutex also orders memory: what a thread wrote before its wake is
//! visible to the loop thread once the callback runs (libuv's own atomics
//! and its eventfd write/read give that too).

use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};

use libuv_sys2::{self as uv, uv_async_t};
use uzmq_core::{LoopCallback, Result};

use super::handle::{Handle, invoke};
use super::loop_state::{LoopState, Phase};

/// The address of a live `uv_async_t`, shared with other threads.
struct AsyncPtr(*mut uv_async_t);

// SAFETY: the pointer is only used for `uv_async_send`, which libuv
// documents as safe to call from any thread, and only while the target
// holding it is `Some` (see the module docs for why it is live then).
unsafe impl Send for AsyncPtr {}

/// Where wakes go: the handle while it is open, nothing after.
#[derive(Default)]
pub(crate) struct Target(Mutex<Option<AsyncPtr>>);

impl Target {
    /// `uv_async_send`, if the handle is still open.
    pub(crate) fn wake(&self) {
        let target = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(AsyncPtr(handle)) = *target {
            // SAFETY: `Some` only while the handle is open: it is cleared
            // under this lock before `uv_close` (module docs), and we hold
            // the lock for the whole call. `uv_async_send` is thread-safe.
            unsafe { uv::uv_async_send(handle) };
        }
    }

    fn clear(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Clears the target when dropped: owned by the handle's callback, so that
/// teardown, which drops callbacks before it closes their handles, clears
/// it in time.
struct ClearOnDrop(Arc<Target>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.clear();
    }
}

/// An async handle with its callback.
pub(crate) struct Async {
    target: Arc<Target>,
    handle: Handle<uv_async_t>,
}

impl Async {
    /// An unref'd async handle whose callback runs `on_wake`.
    pub(crate) fn new(state: &Rc<LoopState>, on_wake: LoopCallback) -> Result<Async> {
        let target = Arc::new(Target::default());
        let guard = ClearOnDrop(target.clone());
        let mut on_wake = on_wake;
        let callback: LoopCallback = Box::new(move |iteration| {
            let _owned = &guard;
            on_wake(iteration);
        });
        // SAFETY: `lp` is an initialised loop and `handle` the block's handle
        // at its final address; `uv_async_init` links it only on success and
        // starts it (an async handle is active from its init), so it is
        // unref'd at once: it keeps the loop alive only when asked.
        let handle = Handle::new(state, callback, |lp, handle| unsafe {
            let rc = uv::uv_async_init(lp, handle, Some(async_cb));
            if rc == 0 {
                uv::uv_unref(handle.cast());
            }
            rc
        })?;
        if let Some(raw) = handle.raw() {
            *target.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(AsyncPtr(raw));
        }
        Ok(Async { target, handle })
    }

    /// What other threads wake the loop through.
    pub(crate) fn target(&self) -> Arc<Target> {
        self.target.clone()
    }

    /// `uv_ref` / `uv_unref`; nothing once the loop is gone.
    pub(crate) fn keep_alive(&self, keep: bool) {
        if let Some(handle) = self.handle.raw() {
            // SAFETY: live (see `Handle::raw`); both are idempotent flags.
            unsafe {
                if keep {
                    uv::uv_ref(handle.cast());
                } else {
                    uv::uv_unref(handle.cast());
                }
            }
        }
    }
}

impl Drop for Async {
    fn drop(&mut self) {
        // Before `self.handle` closes the handle (fields drop after this).
        self.target.clear();
    }
}

/// Poll phase: one or more wakes arrived.
unsafe extern "C" fn async_cb(handle: *mut uv_async_t) {
    // SAFETY: libuv passes the handle this callback was given to, created by
    // `Async::new` as a block of `uv_async_t`, live until its close callback.
    unsafe { invoke(handle, Phase::Io) }
}
