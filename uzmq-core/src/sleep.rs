//! [`Sleep`], the future of `TimerHandle::sleep`: a one-shot timer of its
//! own, closed when the future is dropped.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::{EventLoop, Reactor, TimerHandle};

#[derive(Default)]
struct Slot {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// The future of [`TimerHandle::sleep`].
#[must_use = "futures do nothing unless polled"]
pub struct Sleep<R: Reactor> {
    /// `None` when the loop was gone at the call: then it never ends.
    timer: Option<TimerHandle<R>>,
    slot: Rc<Slot>,
}

impl<R: Reactor> TimerHandle<R> {
    /// Resolves after `d` of loop time, counted from this call (the loop
    /// time is refreshed first). Pending, its timer keeps the loop alive;
    /// once the loop is gone it never resolves.
    pub fn sleep(lp: &EventLoop<R>, d: Duration) -> Sleep<R> {
        let slot = Rc::new(Slot::default());
        let s = slot.clone();
        let timer = TimerHandle::new(lp).ok().filter(|timer| {
            timer
                .start(d, Duration::ZERO, move |_| {
                    s.fired.set(true);
                    let waker = s.waker.borrow_mut().take();
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                })
                .is_ok()
        });
        Sleep { timer, slot }
    }
}

impl<R: Reactor> Future for Sleep<R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.slot.fired.get() {
            return Poll::Ready(());
        }
        *self.slot.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<R: Reactor> Drop for Sleep<R> {
    fn drop(&mut self) {
        if let Some(timer) = &self.timer {
            timer.close();
        }
    }
}
