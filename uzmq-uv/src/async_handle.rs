//! [`UvAsync`] and [`UvWake`]: a `uv_async_t`, the door other threads
//! wake the loop through.

use std::fmt;
use std::sync::Arc;

use uzmq_core::{AsyncWake, RawAsync};

use crate::sys::{Async, Target};

/// An async handle (a `uv_async_t`), made by
/// [`Reactor::async_handle`](uzmq_core::Reactor::async_handle): its
/// callback runs from the poll phase after one or more wakes. Unref'd
/// unless [`keep_alive`](RawAsync::keep_alive) says otherwise. Dropping
/// it closes it; its wakers then do nothing.
pub struct UvAsync {
    handle: Async,
    keep: bool,
}

impl UvAsync {
    pub(crate) fn from_sys(handle: Async) -> UvAsync {
        UvAsync {
            handle,
            keep: false,
        }
    }
}

impl RawAsync for UvAsync {
    type Wake = UvWake;

    fn waker(&self) -> UvWake {
        UvWake(self.handle.target())
    }

    fn keep_alive(&mut self, keep: bool) {
        if self.keep != keep {
            self.keep = keep;
            self.handle.keep_alive(keep);
        }
    }
}

impl fmt::Debug for UvAsync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UvAsync")
            .field("keep_alive", &self.keep)
            .finish()
    }
}

/// Wakes a [`UvAsync`]'s loop from any thread (`uv_async_send`, under a
/// lock that the handle's close takes first, so a wake never touches a
/// closed handle).
#[derive(Clone)]
pub struct UvWake(Arc<Target>);

impl AsyncWake for UvWake {
    fn wake(&self) {
        self.0.wake();
    }
}

impl fmt::Debug for UvWake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UvWake")
    }
}
