//! What every handle kind shares: its place on the loop (registry key,
//! turn scheduling, keep-alive while active) and the open/closing/closed life.

use std::cell::Cell;
use std::rc::{Rc, Weak};

use crate::event_loop::{EventLoop, LoopHandle, WeakLoop};
use crate::{Error, Reactor, Result};

/// A handle's link to its loop.
pub(crate) struct Base<R: Reactor> {
    lp: WeakLoop<R>,
    key: Cell<Option<usize>>,
    scheduled: Cell<bool>,
    kept: Cell<bool>,
}

impl<R: Reactor> Base<R> {
    pub(crate) fn new(lp: &EventLoop<R>) -> Self {
        Base {
            lp: lp.downgrade(),
            key: Cell::new(None),
            scheduled: Cell::new(false),
            kept: Cell::new(false),
        }
    }

    /// Enters the loop's registry, so the loop can close it when it goes.
    pub(crate) fn register(&self, me: Weak<dyn LoopHandle>) {
        if let Some(lp) = self.lp.upgrade() {
            self.key.set(Some(lp.register(me)));
        }
    }

    pub(crate) fn scheduled(&self) -> &Cell<bool> {
        &self.scheduled
    }

    /// Runs `me` in the loop's next check phase (once, however often asked).
    pub(crate) fn schedule(&self, me: impl FnOnce() -> Option<Rc<dyn LoopHandle>>) {
        if self.scheduled.get() {
            return;
        }
        if let (Some(lp), Some(me)) = (self.lp.upgrade(), me()) {
            lp.schedule(me);
        }
    }

    /// Keeps the handle alive from the loop while `active` (the loop
    /// keeps every active handle alive).
    pub(crate) fn set_active(&self, active: bool, me: impl FnOnce() -> Option<Rc<dyn LoopHandle>>) {
        if self.kept.get() == active {
            return;
        }
        let (Some(lp), Some(key)) = (self.lp.upgrade(), self.key.get()) else {
            return;
        };
        let keep = if active { me() } else { None };
        self.kept.set(keep.is_some());
        lp.keep_alive(key, keep);
    }

    /// The loop, or `Err(Closed)` once it is gone.
    pub(crate) fn event_loop(&self) -> Result<EventLoop<R>> {
        self.lp
            .upgrade()
            .map(EventLoop::from_shared)
            .ok_or(Error::Closed)
    }

    /// The loop is dropping this handle: forget the keep-alive flag.
    pub(crate) fn loop_gone(&self) {
        self.kept.set(false);
        self.key.set(None);
        self.scheduled.set(false);
    }
}

impl<R: Reactor> Drop for Base<R> {
    fn drop(&mut self) {
        if let (Some(lp), Some(key)) = (self.lp.upgrade(), self.key.get()) {
            lp.unregister(key);
        }
    }
}

/// Where a handle is in its life.
pub(crate) enum Life<C> {
    /// Usable.
    Open,
    /// `close()` was called; the loop will run the completions, then `C`.
    Closing(Option<C>),
    /// Closed; only the getters work.
    Closed,
}

impl<C> Life<C> {
    pub(crate) fn is_open(&self) -> bool {
        matches!(self, Life::Open)
    }
}
