//! The loop state shared by every handle: the per-iteration turn queue, the
//! handle registry, re-entrancy guard, the rule that keeps active handles
//! alive, and the door other threads reach the loop through.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use crate::deferred_looks::DeferredLooks;
use crate::executor::{self, Executor};
use crate::remote::{Door, Remote, Work};
use crate::stream::Channel;
use crate::{DEFAULT_READ_BATCH, Error, RawAsync, Reactor, Result, RunMode};

/// What the loop needs from a handle, type-erased.
pub(crate) trait LoopHandle: 'static {
    /// Set while the handle sits in the turn queue, so it is queued once.
    fn scheduled(&self) -> &Cell<bool>;
    /// Claims the step of iteration `iteration`: false if the handle had
    /// it already (it stepped in this iteration's poll phase, when its fd
    /// was signalled), so the turn leaves it for the next iteration.
    fn claim_step(&self, iteration: u64) -> bool {
        let _ = iteration;
        true
    }
    /// Runs the handle's step for this loop iteration.
    fn on_turn(self: Rc<Self>);
    /// At the end of a batch of tasks: whether the handle still wants the
    /// look it deferred ([`DeferredLooks`]), which it forgets. Default: no
    /// handle of this kind defers one.
    fn take_deferred_look(&self) -> bool {
        false
    }
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
    turn: RefCell<VecDeque<Rc<dyn LoopHandle>>>,
    members: RefCell<Members>,
    /// The door for other threads, made on first use.
    remote: RefCell<Option<RemotePart<R>>>,
    /// Which handle each channel feeds (by the channel's address; an entry
    /// lives while its channel is open, so addresses are not reused).
    channel_owners: RefCell<HashMap<usize, Weak<dyn LoopHandle>>>,
    /// Handles that keep the loop alive through the async handle (a live
    /// `Sender` with nothing else to wait on).
    holds: Cell<usize>,
    /// The executor, made on first use.
    executor: RefCell<Option<Rc<Executor<R>>>>,
    /// Looks asked for by the batch of tasks under way.
    looks: DeferredLooks,
}

/// The loop side of the door: the async handle and the turn that drains
/// the inbox.
struct RemotePart<R: Reactor> {
    door: Arc<Door<R>>,
    handle: Option<R::Async>,
    drain: Rc<DoorTurn<R>>,
}

/// Runs posted work from the check phase, as one more member of the turn.
struct DoorTurn<R: Reactor> {
    lp: WeakLoop<R>,
    scheduled: Cell<bool>,
}

impl<R: Reactor> LoopHandle for DoorTurn<R> {
    fn scheduled(&self) -> &Cell<bool> {
        &self.scheduled
    }

    fn on_turn(self: Rc<Self>) {
        if let Some(shared) = self.lp.upgrade() {
            shared.drain_door();
        }
    }

    fn loop_gone(&self) {}
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
            turn: RefCell::new(VecDeque::new()),
            members: RefCell::new(Members::default()),
            remote: RefCell::new(None),
            channel_owners: RefCell::new(HashMap::new()),
            holds: Cell::new(0),
            executor: RefCell::new(None),
            looks: DeferredLooks::default(),
        });
        let weak = Rc::downgrade(&shared);
        shared.reactor.set_turn_hook(Box::new(move |_| {
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
        // Work posted while the loop did not run: the armed turn keeps
        // `run` from returning before it ran (the async handle alone does
        // not keep the loop alive).
        self.shared.schedule_door_if_pending();
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

    /// Whether anything is active or closing, or posted work waits.
    pub fn alive(&self) -> bool {
        self.shared.reactor.alive() || self.shared.door_pending()
    }

    /// Runs `fut` on this loop: first polled from the next turn (never
    /// inside this call), then whenever it is woken. A task that is ready
    /// to be polled is work for `run`; one that waits keeps nothing alive
    /// by itself. When the loop goes, its tasks are cancelled (their
    /// futures dropped, on this thread). A panic in a task resumes from
    /// `run`.
    pub fn spawn_local(&self, fut: impl std::future::Future<Output = ()> + 'static) -> Result<()> {
        let door = self.door();
        self.executor().spawn(fut, door);
        Ok(())
    }

    /// Runs the loop until `fut` completes, and returns its output.
    /// `Err(Reentrant)` from inside a callback or task of this loop.
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> Result<F::Output> {
        executor::block_on(self, fut)
    }

    pub(crate) fn executor(&self) -> Rc<Executor<R>> {
        self.shared.executor()
    }

    /// See [`LoopShared::batch`].
    pub(crate) fn batch<T>(&self, batch: impl FnOnce() -> T) -> T {
        self.shared.batch(batch)
    }

    /// Whether `run` (or a `block_on` poll) is under way.
    pub(crate) fn is_running(&self) -> bool {
        self.shared.running.get()
    }

    /// Runs `f` as if inside `run`: `run` and `block_on` from it are
    /// `Err(Reentrant)`.
    pub(crate) fn while_running<T>(&self, f: impl FnOnce() -> T) -> Result<T> {
        if self.shared.running.replace(true) {
            return Err(Error::Reentrant);
        }
        struct Reset<'a>(&'a Cell<bool>);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _reset = Reset(&self.shared.running);
        Ok(f())
    }

    /// Keeps the loop alive through its async handle until the guard goes.
    pub(crate) fn hold_while(&self) -> impl Drop + '_ {
        struct Held<'a, R: Reactor>(&'a LoopShared<R>);
        impl<R: Reactor> Drop for Held<'_, R> {
            fn drop(&mut self) {
                self.0.hold(false);
            }
        }
        let _ = self.shared.door();
        self.shared.hold(true);
        Held(&self.shared)
    }

    /// A door into this loop for other threads. Made on first use (one
    /// async handle per loop, which keeps nothing alive by itself); should
    /// the backend fail to make it, the `Remote` is closed from the start.
    pub fn remote(&self) -> Remote<R> {
        Remote::new(self.shared.door())
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

    /// How many `sender()` channels into this loop's handles the loop
    /// knows of: each from its creation until its handle let it go (its
    /// senders gone and its messages taken, or the handle closed); for
    /// diagnostics and tests, as [`registered_handles`](Self::registered_handles).
    pub fn open_channels(&self) -> usize {
        self.shared.channel_owners.borrow().len()
    }

    pub(crate) fn downgrade(&self) -> WeakLoop<R> {
        Rc::downgrade(&self.shared)
    }

    pub(crate) fn from_shared(shared: Rc<LoopShared<R>>) -> Self {
        EventLoop { shared }
    }

    /// The door, made on first use.
    pub(crate) fn door(&self) -> Arc<Door<R>> {
        self.shared.door()
    }

    pub(crate) fn shared(&self) -> &Rc<LoopShared<R>> {
        &self.shared
    }
}

impl<R: Reactor> LoopShared<R> {
    fn door(self: &Rc<Self>) -> Arc<Door<R>> {
        if let Some(part) = &*self.remote.borrow() {
            return part.door.clone();
        }
        let weak = Rc::downgrade(self);
        let handle = self
            .reactor
            .async_handle(Box::new(move |_| {
                if let Some(shared) = weak.upgrade() {
                    shared.door_woken();
                }
            }))
            .ok();
        let door = Arc::new(Door::new(handle.as_ref().map(RawAsync::waker)));
        let drain = Rc::new(DoorTurn {
            lp: Rc::downgrade(self),
            scheduled: Cell::new(false),
        });
        let mut handle = handle;
        if let Some(handle) = &mut handle {
            handle.keep_alive(self.holds.get() > 0);
        }
        *self.remote.borrow_mut() = Some(RemotePart {
            door: door.clone(),
            handle,
            drain,
        });
        door
    }

    fn executor(self: &Rc<Self>) -> Rc<Executor<R>> {
        if let Some(exec) = &*self.executor.borrow() {
            return exec.clone();
        }
        let exec = Executor::new(Rc::downgrade(self));
        *self.executor.borrow_mut() = Some(exec.clone());
        exec
    }

    fn door_pending(&self) -> bool {
        self.remote
            .borrow()
            .as_ref()
            .is_some_and(|part| part.door.pending())
    }

    /// The async handle's callback: a wake arrived.
    fn door_woken(&self) {
        let drain = {
            let remote = self.remote.borrow();
            let Some(part) = &*remote else { return };
            part.door.woken().then(|| part.drain.clone())
        };
        if let Some(drain) = drain {
            self.schedule(drain);
        }
    }

    fn schedule_door_if_pending(&self) {
        let drain = {
            let remote = self.remote.borrow();
            let Some(part) = &*remote else { return };
            part.door.pending().then(|| part.drain.clone())
        };
        if let Some(drain) = drain {
            self.schedule(drain);
        }
    }

    /// Runs posted work, oldest first, at most a read batch's worth per
    /// iteration (the rest next iteration, like a busy handle). A panic in
    /// a posted function leaves the rest for the next run.
    fn drain_door(self: &Rc<Self>) {
        let Some((door, drain)) = self
            .remote
            .borrow()
            .as_ref()
            .map(|part| (part.door.clone(), part.drain.clone()))
        else {
            return;
        };
        /// Queues the drain again while work is left, also on unwind.
        struct Again<'a, R: Reactor> {
            shared: &'a LoopShared<R>,
            door: &'a Door<R>,
            drain: Rc<DoorTurn<R>>,
        }
        impl<R: Reactor> Drop for Again<'_, R> {
            fn drop(&mut self) {
                if self.door.pending() {
                    self.shared.schedule(self.drain.clone());
                }
            }
        }
        let _again = Again {
            shared: self,
            door: &door,
            drain,
        };
        let lp = EventLoop::from_shared(self.clone());
        for _ in 0..DEFAULT_READ_BATCH {
            match door.pop() {
                None => break,
                Some(Work::Call(f)) => f(&lp),
                Some(Work::Channel(channel)) => self.poke_owner(&channel),
                Some(Work::Task(runnable)) => self.executor().arrived(runnable),
                Some(Work::Nudge) => {}
            }
        }
    }

    /// A channel has news: its handle takes a look in this turn.
    fn poke_owner(&self, channel: &Arc<Channel<R>>) {
        let owner = self
            .channel_owners
            .borrow()
            .get(&channel_key(channel))
            .and_then(Weak::upgrade);
        if let Some(owner) = owner {
            self.schedule(owner);
        }
    }

    /// Records which handle `channel` feeds.
    pub(crate) fn own_channel(&self, channel: &Arc<Channel<R>>, owner: Weak<dyn LoopHandle>) {
        self.channel_owners
            .borrow_mut()
            .insert(channel_key(channel), owner);
    }

    /// Forgets a channel that closed.
    pub(crate) fn forget_channel(&self, channel: &Arc<Channel<R>>) {
        let old = self
            .channel_owners
            .borrow_mut()
            .remove(&channel_key(channel));
        drop(old);
    }

    /// A handle starts (or stops) keeping the loop alive through the async
    /// handle: it waits for other threads.
    pub(crate) fn hold(&self, on: bool) {
        let holds = if on {
            self.holds.get() + 1
        } else {
            self.holds.get().saturating_sub(1)
        };
        self.holds.set(holds);
        if let Some(part) = &mut *self.remote.borrow_mut() {
            if let Some(handle) = &mut part.handle {
                handle.keep_alive(holds > 0);
            }
        }
    }

    /// Queues `handle` for the next check phase, once.
    pub(crate) fn schedule(&self, handle: Rc<dyn LoopHandle>) {
        if handle.scheduled().replace(true) {
            return;
        }
        self.turn.borrow_mut().push_back(handle);
        if !self.armed.replace(true) {
            self.reactor.arm_turn(true);
        }
    }

    /// Runs `batch` (tasks, or a `block_on` poll) with the looks its socket
    /// calls ask for held until it ends ([`DeferredLooks`]).
    pub(crate) fn batch<T>(&self, batch: impl FnOnce() -> T) -> T {
        self.looks.batch(batch, |handle| self.schedule(handle))
    }

    /// A look at `handle`'s socket next iteration: held until the end of
    /// the batch of tasks under way, if one is (then true; the handle
    /// remembers it, see [`LoopHandle::take_deferred_look`]), else
    /// scheduled now.
    pub(crate) fn look_next_iteration(&self, handle: Rc<dyn LoopHandle>) -> bool {
        match self.looks.defer(handle) {
            Ok(()) => true,
            Err(handle) => {
                self.schedule(handle);
                false
            }
        }
    }

    /// The check phase: each queued handle runs once. Handles that queue
    /// themselves again (more work than one batch) run next iteration, so a
    /// busy handle cannot starve timers and other handles.
    ///
    /// Only the handles queued when the phase began run, each taken from
    /// the front as it goes: those queued meanwhile wait behind them, and
    /// after a panic the ones not run keep their place. A handle that
    /// stepped in this iteration already (from its fd) goes back in line,
    /// still queued, for the next.
    fn run_turn(&self) {
        let iteration = self.reactor.iteration();
        let queued = self.turn.borrow().len();
        for _ in 0..queued {
            let Some(handle) = self.turn.borrow_mut().pop_front() else {
                break;
            };
            if !handle.claim_step(iteration) {
                self.turn.borrow_mut().push_back(handle);
                continue;
            }
            handle.scheduled().set(false);
            handle.on_turn();
        }
        if self.turn.borrow().is_empty() && self.armed.replace(false) {
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

impl<R: Reactor> Drop for LoopShared<R> {
    fn drop(&mut self) {
        // Close every handle still on this loop; their callbacks are
        // dropped uncalled. Taken out first: dropping a callback may drop
        // other handles, which then find the loop gone and leave it alone.
        // First the tasks: cancelled, their futures dropped here, while
        // the door still takes the wakes that cancelling may cause.
        let executor = self.executor.borrow_mut().take();
        if let Some(executor) = executor {
            executor.shut_down();
        }
        // Then the door: other threads are refused from now on, and the
        // async handle is closed (its backend makes sure no thread is
        // inside a wake by then). Posted work is dropped uncalled.
        let remote = self.remote.borrow_mut().take();
        if let Some(part) = remote {
            let waiting = part.door.close();
            drop(part);
            drop(waiting);
        }
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

/// A channel's key in the owners' map: its address.
fn channel_key<R: Reactor>(channel: &Arc<Channel<R>>) -> usize {
    Arc::as_ptr(channel).addr()
}
