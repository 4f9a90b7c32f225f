//! The loop's door for other threads: a locked inbox of posted work, and
//! the async handle's waker that tells the loop to look at it.
//!
//! Memory ordering and lifetime: everything other threads share with the
//! loop is behind the inbox's `Mutex` (or a channel's, see `channel.rs`):
//! a push and the loop's pop are ordered by it, so what a thread wrote
//! before posting is visible to the loop when the work runs. The waker is
//! the backend's; it guarantees that a wake after the loop closed its async
//! handle does nothing (the libuv backend keeps the handle's address under
//! a lock that its close takes first). The door itself lives in an `Arc`
//! shared by every `Remote`, `Sender` and the loop, so no thread can reach
//! freed memory through it.
//!
//! No lost wake-up: a push that finds `woken` clear sets it and wakes the
//! loop; the loop clears it, under the lock, before it looks at the inbox,
//! so a push either sees it clear (and wakes again) or lands before that
//! look.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::stream::Channel;
use crate::{AsyncWake, EventLoop, RawAsync, Reactor};

/// A function posted from another thread.
pub(crate) type Posted<R> = Box<dyn FnOnce(&EventLoop<R>) + Send>;

/// One piece of work for the loop.
pub(crate) enum Work<R: Reactor> {
    /// Run this function.
    Call(Posted<R>),
    /// This channel has messages (or lost its last sender): its handle
    /// takes a look.
    Channel(Arc<Channel<R>>),
    /// A task of the loop's executor was woken on another thread.
    Task(async_task::Runnable),
    /// Nothing to do but wake the loop (a `block_on` future was woken).
    Nudge,
}

struct Inbox<R: Reactor> {
    /// Until the loop goes.
    open: bool,
    items: VecDeque<Work<R>>,
    /// A wake is on its way and the loop has not looked yet.
    woken: bool,
}

/// The inbox and the waker: shared by the loop and every thread that
/// reaches it.
pub(crate) struct Door<R: Reactor> {
    inbox: Mutex<Inbox<R>>,
    /// `None` when the backend could not make the async handle: the door
    /// is closed from the start then.
    wake: Option<<R::Async as RawAsync>::Wake>,
}

impl<R: Reactor> Door<R> {
    pub(crate) fn new(wake: Option<<R::Async as RawAsync>::Wake>) -> Door<R> {
        Door {
            inbox: Mutex::new(Inbox {
                open: wake.is_some(),
                items: VecDeque::new(),
                woken: false,
            }),
            wake,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inbox<R>> {
        // Nothing panics while holding it; should it happen, the inbox is
        // still consistent (each operation is one push or pop).
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `work` for the loop, waking it; hands `work` back when the
    /// loop is gone (for the caller to drop outside the lock).
    pub(crate) fn push(&self, work: Work<R>) -> Result<(), Work<R>> {
        let wake = {
            let mut inbox = self.lock();
            if !inbox.open {
                return Err(work);
            }
            inbox.items.push_back(work);
            !std::mem::replace(&mut inbox.woken, true)
        };
        if wake {
            if let Some(waker) = &self.wake {
                waker.wake();
            }
        }
        Ok(())
    }

    /// The loop got a wake: clears `woken`; whether work is waiting.
    pub(crate) fn woken(&self) -> bool {
        let mut inbox = self.lock();
        inbox.woken = false;
        !inbox.items.is_empty()
    }

    /// The next piece of work, oldest first.
    pub(crate) fn pop(&self) -> Option<Work<R>> {
        self.lock().items.pop_front()
    }

    /// Whether work is waiting.
    pub(crate) fn pending(&self) -> bool {
        !self.lock().items.is_empty()
    }

    /// The loop is going: refuses from now on; hands back what waits.
    pub(crate) fn close(&self) -> VecDeque<Work<R>> {
        let mut inbox = self.lock();
        inbox.open = false;
        std::mem::take(&mut inbox.items)
    }

    /// Whether the loop is gone.
    pub(crate) fn is_closed(&self) -> bool {
        !self.lock().open
    }
}
