//! The loop state shared by every handle: the per-iteration turn queue, the
//! handle registry, re-entrancy guard, and the rule that keeps active handles alive.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use crate::{Error, Reactor, Result, RunMode};

/// What the loop needs from a handle, type-erased.
pub(crate) trait LoopHandle: 'static {
    /// Set while the handle sits in the turn queue, so it is queued once.
    fn scheduled(&self) -> &Cell<bool>;
    /// Runs the handle's step for this loop iteration.
    fn on_turn(self: Rc<Self>);
    /// The loop is gone: close at once, drop every callback uncalled.
    fn loop_gone(&self);
}

/// A registry entry: every handle is known weakly (so the loop can close it
/// when the loop goes away), and strongly while it is active (so a started
/// handle keeps working after the user dropped all its clones).
struct Member {
    weak: Weak<dyn LoopHandle>,
    keep: Option<Rc<dyn LoopHandle>>,
}

#[derive(Default)]
struct Members {
    slots: Vec<Option<Member>>,
    free: Vec<usize>,
}

pub(crate) struct LoopShared<R: Reactor> {
    reactor: R,
    running: Cell<bool>,
    armed: Cell<bool>,
    /// Handles to run in the next check phase, in the order they asked.
    turn: RefCell<Vec<Rc<dyn LoopHandle>>>,
    /// The previous turn's buffer, kept to avoid an allocation per iteration.
    spare: RefCell<Vec<Rc<dyn LoopHandle>>>,
    members: RefCell<Members>,
}

/// A loop: a [`Reactor`] plus the state uzmq's handles share on it.
///
/// Cheap to clone; handles keep only a weak reference, so the loop goes
/// away with its last clone and takes its handles with it (`ARCHITECTURE.md`,
/// "Ownership and lifetime").
pub struct EventLoop<R: Reactor> {
    shared: Rc<LoopShared<R>>,
}

impl<R: Reactor> Clone for EventLoop<R> {
    fn clone(&self) -> Self {
        EventLoop {
            shared: self.shared.clone(),
        }
    }
}

impl<R: Reactor> std::fmt::Debug for EventLoop<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("running", &self.shared.running.get())
            .field("turn_armed", &self.shared.armed.get())
            .finish()
    }
}

/// A weak reference to an [`EventLoop`], as handles hold it.
pub(crate) type WeakLoop<R> = Weak<LoopShared<R>>;

impl<R: Reactor> EventLoop<R> {
    /// Wraps a fresh reactor; installs the turn hook on it.
    pub fn new(reactor: R) -> Self {
        let shared = Rc::new(LoopShared {
            reactor,
            running: Cell::new(false),
            armed: Cell::new(false),
            turn: RefCell::new(Vec::new()),
            spare: RefCell::new(Vec::new()),
            members: RefCell::new(Members::default()),
        });
        let weak = Rc::downgrade(&shared);
        shared.reactor.set_turn_hook(Box::new(move || {
            if let Some(shared) = weak.upgrade() {
                shared.run_turn();
            }
        }));
        EventLoop { shared }
    }

    /// The backend.
    pub fn reactor(&self) -> &R {
        &self.shared.reactor
    }

    /// Runs the loop; `Err(Error::Reentrant)` from inside one of its callbacks.
    pub fn run(&self, mode: RunMode) -> Result<bool> {
        if self.shared.running.replace(true) {
            return Err(Error::Reentrant);
        }
        // Reset on every exit, a resumed panic included.
        struct Running<'a>(&'a Cell<bool>);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _running = Running(&self.shared.running);
        self.shared.reactor.run(mode)
    }

    /// Makes `run` return after the current iteration.
    pub fn stop(&self) {
        self.shared.reactor.stop()
    }

    /// Loop time in milliseconds: cached, refreshed at the start of each
    /// iteration and by [`update_time`](Self::update_time).
    pub fn now(&self) -> u64 {
        self.shared.reactor.now()
    }

    /// Refreshes the cached loop time (`uv_update_time`).
    pub fn update_time(&self) {
        self.shared.reactor.update_time()
    }

    /// Whether anything is active or closing.
    pub fn alive(&self) -> bool {
        self.shared.reactor.alive()
    }

    /// Whether `self` and `other` are the same loop.
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.shared, &other.shared)
    }

    /// How many handles the loop knows of: every handle from its creation
    /// until its last reference is gone (for diagnostics and tests; a count
    /// that only grows is a leak).
    pub fn registered_handles(&self) -> usize {
        let members = self.shared.members.borrow();
        members.slots.len() - members.free.len()
    }

    pub(crate) fn downgrade(&self) -> WeakLoop<R> {
        Rc::downgrade(&self.shared)
    }

    pub(crate) fn from_shared(shared: Rc<LoopShared<R>>) -> Self {
        EventLoop { shared }
    }
}

impl<R: Reactor> LoopShared<R> {
    /// Queues `handle` for the next check phase, once.
    pub(crate) fn schedule(&self, handle: Rc<dyn LoopHandle>) {
        if handle.scheduled().replace(true) {
            return;
        }
        self.turn.borrow_mut().push(handle);
        if !self.armed.replace(true) {
            self.reactor.arm_turn(true);
        }
    }

    /// The check phase: each queued handle runs once. Handles that queue
    /// themselves again (more work than one batch) run next iteration, so a
    /// busy handle cannot starve timers and other handles.
    fn run_turn(&self) {
        let batch = {
            let mut turn = self.turn.borrow_mut();
            let mut spare = self.spare.borrow_mut();
            std::mem::swap(&mut *turn, &mut *spare);
            std::mem::take(&mut *spare)
        };
        let mut batch = TurnBatch {
            shared: self,
            items: batch,
            next: 0,
        };
        while let Some(handle) = batch.pop() {
            handle.scheduled().set(false);
            handle.on_turn();
        }
    }

    fn finish_turn(&self, mut rest: Vec<Rc<dyn LoopHandle>>) {
        let empty = {
            let mut turn = self.turn.borrow_mut();
            if !rest.is_empty() {
                // A callback panicked mid-batch: the handles not yet run keep
                // their place, ahead of those queued since.
                rest.append(&mut turn);
                std::mem::swap(&mut *turn, &mut rest);
            }
            turn.is_empty()
        };
        rest.clear();
        *self.spare.borrow_mut() = rest;
        if empty && self.armed.replace(false) {
            self.reactor.arm_turn(false);
        }
    }

    /// Registers a handle; returns its key.
    pub(crate) fn register(&self, weak: Weak<dyn LoopHandle>) -> usize {
        let mut m = self.members.borrow_mut();
        let member = Some(Member { weak, keep: None });
        match m.free.pop() {
            Some(key) => {
                m.slots[key] = member;
                key
            }
            None => {
                m.slots.push(member);
                m.slots.len() - 1
            }
        }
    }

    /// Forgets a handle that is being dropped.
    pub(crate) fn unregister(&self, key: usize) {
        let old = {
            let mut m = self.members.borrow_mut();
            let old = m.slots.get_mut(key).and_then(Option::take);
            if old.is_some() {
                m.free.push(key);
            }
            old
        };
        drop(old);
    }

    /// Holds (or releases) the strong reference that keeps an active
    /// handle alive without user clones.
    pub(crate) fn keep_alive(&self, key: usize, handle: Option<Rc<dyn LoopHandle>>) {
        let old = {
            let mut m = self.members.borrow_mut();
            match m.slots.get_mut(key).and_then(Option::as_mut) {
                Some(member) => std::mem::replace(&mut member.keep, handle),
                None => handle,
            }
        };
        // Dropped outside the borrow: this may be the handle's last
        // reference, and its Drop unregisters it.
        drop(old);
    }
}

/// The handles of one check phase; on unwind the rest go back to the queue.
struct TurnBatch<'a, R: Reactor> {
    shared: &'a LoopShared<R>,
    items: Vec<Rc<dyn LoopHandle>>,
    next: usize,
}

impl<R: Reactor> TurnBatch<'_, R> {
    fn pop(&mut self) -> Option<Rc<dyn LoopHandle>> {
        let item = self.items.get(self.next).cloned();
        self.next += 1;
        item
    }
}

impl<R: Reactor> Drop for TurnBatch<'_, R> {
    fn drop(&mut self) {
        let mut items = std::mem::take(&mut self.items);
        let done = self.next.min(items.len());
        items.drain(..done);
        self.shared.finish_turn(items);
    }
}

impl<R: Reactor> Drop for LoopShared<R> {
    fn drop(&mut self) {
        // Close every handle still on this loop; their callbacks are
        // dropped uncalled. Taken out first: dropping a callback may drop
        // other handles, which then find the loop gone and leave it alone.
        let members = std::mem::take(&mut *self.members.borrow_mut());
        let turn = std::mem::take(&mut *self.turn.borrow_mut());
        for member in members.slots.iter().flatten() {
            if let Some(handle) = member.weak.upgrade() {
                handle.loop_gone();
            }
        }
        drop(turn);
        drop(members);
    }
}
