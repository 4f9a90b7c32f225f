//! Looks at a socket asked for by a batch of tasks, held until the batch
//! ends.
//!
//! A socket call made outside its handle's step (a task's `recv()` or
//! `send()`, in its own poll) may consume the fd's edge, so the handle
//! must read `ZMQ_EVENTS` again before it sleeps: it asks for a look next
//! iteration. But a receive that finds nothing (`EAGAIN`) is such a look
//! for reading: libzmq processed every command before it answered, so the
//! next message raises the fd again. A task that receives, replies and
//! awaits the next message ends with exactly that receive, and its look
//! would cost a loop iteration (and an events read) for nothing.
//!
//! So while the executor runs a batch of tasks (or `block_on` polls its
//! future), a handle's look waits in this list, and the handle may call it
//! off when a later receive found nothing; the batch's end schedules the
//! looks still wanted, for the next iteration, as they would have been.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::event_loop::LoopHandle;

#[derive(Default)]
pub(crate) struct DeferredLooks {
    /// A batch runs.
    batching: Cell<bool>,
    /// Handles that asked for a look in this batch, each once.
    handles: RefCell<Vec<Rc<dyn LoopHandle>>>,
}

impl DeferredLooks {
    /// Holds `handle`'s look until the batch ends; outside a batch gives
    /// it back (the caller schedules the look at once).
    pub(crate) fn defer(&self, handle: Rc<dyn LoopHandle>) -> Result<(), Rc<dyn LoopHandle>> {
        if !self.batching.get() {
            return Err(handle);
        }
        self.handles.borrow_mut().push(handle);
        Ok(())
    }

    /// Runs `batch` with looks deferred, then hands `schedule` each
    /// handle that still wants its look ([`LoopHandle::take_deferred_look`]),
    /// also when `batch` panics (a look left behind would be lost for
    /// good). Inside a batch already, just runs `batch`.
    pub(crate) fn batch<T>(
        &self,
        batch: impl FnOnce() -> T,
        schedule: impl Fn(Rc<dyn LoopHandle>),
    ) -> T {
        if self.batching.replace(true) {
            return batch();
        }
        struct End<'a, F: Fn(Rc<dyn LoopHandle>)> {
            looks: &'a DeferredLooks,
            schedule: F,
        }
        impl<F: Fn(Rc<dyn LoopHandle>)> Drop for End<'_, F> {
            fn drop(&mut self) {
                self.looks.batching.set(false);
                // In the order asked, with no borrow held while scheduling
                // (nothing is deferred any more meanwhile); the emptied
                // list goes back, so it keeps its capacity.
                let mut handles = std::mem::take(&mut *self.looks.handles.borrow_mut());
                for handle in handles.drain(..) {
                    if handle.take_deferred_look() {
                        (self.schedule)(handle);
                    }
                }
                *self.looks.handles.borrow_mut() = handles;
            }
        }
        let _end = End {
            looks: self,
            schedule,
        };
        batch()
    }
}
