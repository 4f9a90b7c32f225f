//! [`Ready`], the future of `PollHandle::ready`: the poll handle started
//! for one report, on the same state machine as a callback.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::{Error, Events, PollHandle, Reactor, Result, Socket};

/// Shared by the future and the callback it started the handle with.
#[derive(Default)]
struct Slot {
    result: Cell<Option<Result<Events>>>,
    waker: RefCell<Option<Waker>>,
    /// The callback reported (its result may have been taken since).
    reported: Cell<bool>,
    /// The callback is gone (the handle closed, was restarted by someone
    /// else, or its loop went) with no result.
    orphaned: Cell<bool>,
}

impl Slot {
    fn wake(&self) {
        let waker = self.waker.borrow_mut().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Owned by the callback: when the callback is dropped without having
/// reported, the future learns so.
struct Guard(Rc<Slot>);

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.0.reported.get() {
            self.0.orphaned.set(true);
            self.0.wake();
        }
    }
}

/// The future of [`PollHandle::ready`].
#[must_use = "futures do nothing unless polled"]
pub struct Ready<R: Reactor, S: Socket> {
    h: PollHandle<R, S>,
    events: Events,
    slot: Option<Rc<Slot>>,
    done: bool,
}

impl<R: Reactor, S: Socket> PollHandle<R, S> {
    /// Resolves with the requested `events` that are true, once one is:
    /// the handle is started for one report when the future is first
    /// polled, and stopped again when it resolves or is dropped. The
    /// handle must not be started (`Err(Zmq(EBUSY))`); `start`'s refusals
    /// apply (`Closed`, `ENOTSUP`, the fatal error, `EINVAL` for an empty
    /// mask). Pending, it keeps the handle active; when the handle closes
    /// (or is started by someone else) it resolves with `Err(Closed)` (or
    /// `Err(Zmq(EBUSY))`).
    pub fn ready(&self, events: Events) -> Ready<R, S> {
        Ready {
            h: self.clone(),
            events,
            slot: None,
            done: false,
        }
    }
}

impl<R: Reactor, S: Socket> Future for Ready<R, S> {
    type Output = Result<Events>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Events>> {
        let this = &mut *self;
        let slot = match &this.slot {
            Some(slot) => slot.clone(),
            None => {
                if this.h.is_closed() {
                    this.done = true;
                    return Poll::Ready(Err(Error::Closed));
                }
                if this.h.is_active() {
                    this.done = true;
                    return Poll::Ready(Err(Error::Zmq(zmq::Error::EBUSY)));
                }
                let slot = Rc::new(Slot::default());
                let guard = Guard(slot.clone());
                let started = this.h.start(this.events, move |h, events, error| {
                    let slot = &guard.0;
                    slot.reported.set(true);
                    slot.result.set(Some(match error {
                        Some(e) => Err(e),
                        None => Ok(events),
                    }));
                    // One report: stopped until the next `ready()`.
                    let _ = h.stop();
                    slot.wake();
                });
                if let Err(e) = started {
                    this.done = true;
                    return Poll::Ready(Err(e));
                }
                this.slot = Some(slot.clone());
                slot
            }
        };
        if let Some(result) = slot.result.take() {
            this.done = true;
            return Poll::Ready(result);
        }
        if slot.orphaned.get() {
            this.done = true;
            let e = if this.h.is_closed() {
                Error::Closed
            } else {
                Error::Zmq(zmq::Error::EBUSY)
            };
            return Poll::Ready(Err(e));
        }
        *slot.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<R: Reactor, S: Socket> Drop for Ready<R, S> {
    fn drop(&mut self) {
        // Pending, with the handle still started for it: stop it.
        if let (Some(slot), false) = (&self.slot, self.done) {
            if !slot.orphaned.get() {
                let _ = self.h.stop();
            }
        }
    }
}
