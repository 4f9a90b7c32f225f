//! What completes a queued write: the user's callback, a `send()`
//! future's slot, or, for a message handed over through a channel, one
//! unit of that channel's capacity.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;

use super::channel::Channel;
use super::{StreamHandle, WriteCb};
use crate::{Error, Reactor, Result, Socket};

pub(super) enum Done<R: Reactor, S: Socket> {
    /// `write_with`'s callback.
    Callback(WriteCb<R, S>),
    /// A channel's message: its capacity comes back.
    Channel(Arc<Channel<R>>),
    /// A `send()` future's message.
    Future(SlotRef),
}

impl<R: Reactor, S: Socket> Done<R, S> {
    /// The write is done (taken by libzmq, failed, or cancelled).
    pub(super) fn complete(self, h: &StreamHandle<R, S>, result: Result<()>) {
        match self {
            Done::Callback(cb) => cb(h, result),
            Done::Channel(channel) => channel.note_done(),
            Done::Future(slot) => slot.finish(result),
        }
    }

    /// Whether user code is waiting for it (what keeps a closed handle active).
    pub(super) fn is_callback(&self) -> bool {
        matches!(self, Done::Callback(_))
    }
}

/// Where a `send()` future finds its result.
#[derive(Default)]
pub(crate) struct SendSlot {
    result: Cell<Option<Result<()>>>,
    waker: RefCell<Option<Waker>>,
}

impl SendSlot {
    /// The result, once the write is done; else remembers `waker`.
    pub(crate) fn poll(&self, waker: &Waker) -> Option<Result<()>> {
        let result = self.result.take();
        if result.is_none() {
            *self.waker.borrow_mut() = Some(waker.clone());
        }
        result
    }
}

/// The write queue's reference to a `send()` future's slot. Dropped
/// without completing (the loop went, or the message was dropped), it
/// resolves the future with `Err(Closed)`.
pub(crate) struct SlotRef {
    slot: Rc<SendSlot>,
    done: bool,
}

impl SlotRef {
    pub(crate) fn new(slot: Rc<SendSlot>) -> SlotRef {
        SlotRef { slot, done: false }
    }

    fn finish(mut self, result: Result<()>) {
        self.done = true;
        self.slot.result.set(Some(result));
        let waker = self.slot.waker.borrow_mut().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for SlotRef {
    fn drop(&mut self) {
        if !self.done {
            self.slot.result.set(Some(Err(Error::Closed)));
            let waker = self.slot.waker.borrow_mut().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}
