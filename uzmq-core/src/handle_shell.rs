//! The shell every handle kind lives in: its place on the loop (registry
//! key, turn scheduling, keep-alive while active) and its
//! `Open → Closing → Closed` life, written once for all kinds.
//!
//! A kind ([`Kind`]) brings only its own state and transitions: the public
//! handle made from the shell, whether it is active, what `close()` stops
//! and clears, its turn while open, what the loop runs before the close
//! callback, and what goes when the close completes or the loop goes. The
//! shell does the rest, the same way for every kind:
//!
//! - `close()`/`close_with()` on an open handle: the life becomes
//!   `Closing`, the kind stops and clears ([`Kind::close`]), and the loop's
//!   next turn finishes the close ([`Kind::release`], then
//!   [`Kind::before_close_callback`], then the close callback, once). The
//!   callback never runs inside `close()`. On a handle closed already the
//!   new callback is dropped uncalled.
//! - Calls on a closed handle give `Err(Closed)` ([`Shell::open_mut`]).
//! - The loop going away closes the handle at once and drops its callbacks
//!   uncalled, running no user code ([`Kind::loop_gone`]).
//! - After any change the kind settles its loop side ([`Kind::settle`]),
//!   which ends with [`Shell::keep_alive`]: the loop holds an active
//!   handle, so it keeps working without user clones.
//!
//! A stream's graceful `shutdown` closes the handle to its user at once
//! (`is_closed()` true, calls `Err(Closed)`, `close()` a no-op) while it
//! still sends, then ends with its own callback and no close callback.
//! That is the stream's business: its state has a `ShuttingDown` of its
//! own, which the shell sees through [`Kind::closing_early`] and so treats
//! as closed for the user, while its life stays `Open` (the stream still
//! takes turns). The stream ends it with [`Shell::closed_early`], straight
//! to `Closed`. One flag rather than a fourth life for every kind: only a
//! kind that needs it says so.
//!
//! Every user callback runs with no borrow of the state held: hooks that
//! take something out of the state return it, and the shell drops it after
//! the borrow ends (dropping a user closure is user code too).

use std::cell::{Cell, RefCell, RefMut};
use std::rc::{Rc, Weak};

use crate::event_loop::{EventLoop, LoopHandle, WeakLoop};
use crate::{Error, LoopCallback, Reactor, Result};

/// What one handle kind adds to the [`Shell`]: its state and transitions.
///
/// `Self` is the kind's fixed part (what needs no `RefCell`, such as the
/// socket), [`Kind::State`] the part in the shell's `RefCell`.
pub(crate) trait Kind<R: Reactor>: Sized + 'static {
    /// The kind's changing state.
    type State: 'static;
    /// The public handle: the shell, shared.
    type Handle: 'static;
    /// What a hook takes out of the state, to be dropped outside the borrow.
    type Taken;

    /// The public handle on `shell`.
    fn handle(shell: Rc<Shell<R, Self>>) -> Self::Handle;

    /// Whether the handle is active (the loop holds it, `is_active()`).
    /// Asked in every life: `close()` leaves a kind inactive unless it has
    /// work of its own left for the close turn.
    fn is_active(st: &Self::State) -> bool;

    /// Whether the kind closed itself to its user while its life is still
    /// `Open` (a stream shutting down). Default: never.
    fn closing_early(_st: &Self::State) -> bool {
        false
    }

    /// `close()` on an open handle: stop, clear the callbacks, and hand
    /// them back.
    fn close(st: &mut Self::State) -> Self::Taken;

    /// The loop's turn while the life is `Open`. The shell comes by value,
    /// so a kind can make its public handle of it without another count.
    /// Default: nothing.
    fn turn(_shell: Rc<Shell<R, Self>>) {}

    /// The close completes: the loop resources the kind owns (watches,
    /// timers), closed before the close callback runs.
    fn release(st: &mut Self::State) -> Self::Taken;

    /// What the loop runs just before the close callback (no borrow held).
    /// Default: nothing.
    fn before_close_callback(_shell: &Rc<Shell<R, Self>>, _h: &Self::Handle) {}

    /// The loop is gone: everything, callbacks included, to be dropped
    /// uncalled.
    fn loop_gone(st: &mut Self::State) -> Self::Taken;

    /// The handle closed to its user for good (`close()`, the end of a
    /// kind's early close, or the loop gone): the fixed part's last word,
    /// with no borrow held and no user code run (a socket kind switches
    /// its socket's monitoring off). Default: nothing.
    fn closed(&self) {}

    /// After any change: bring the loop side in line with the state (fd
    /// watches, timers) and end with [`Shell::keep_alive`]. Default: the
    /// keep-alive alone.
    fn settle(shell: &Shell<R, Self>) {
        shell.keep_alive(shell.is_active());
    }
}

/// Where a handle is in its life.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Life {
    /// Usable (unless the kind is [closing early](Kind::closing_early)).
    Open,
    /// `close()` was called; the loop's next turn finishes it.
    Closing,
    /// Closed; only the getters work.
    Closed,
}

/// The step iteration of a handle that never stepped: no loop counts that
/// far (a plain number rather than an `Option`: one comparison on every
/// fd signal).
const NOT_YET: u64 = u64::MAX;

type CloseCb<R, K> = Box<dyn FnOnce(&<K as Kind<R>>::Handle)>;

/// One handle: its link to the loop, its life, and its kind's parts.
pub(crate) struct Shell<R: Reactor, K: Kind<R>> {
    me: Weak<Self>,
    lp: WeakLoop<R>,
    key: Cell<Option<usize>>,
    scheduled: Cell<bool>,
    /// A look at the socket waits for the end of the batch of tasks under
    /// way ([`look_again`](Self::look_again)).
    look_deferred: Cell<bool>,
    /// The iteration of the last step ([`NOT_YET`] before the first).
    stepped: Cell<u64>,
    kept: Cell<bool>,
    life: Cell<Life>,
    close_cb: Cell<Option<CloseCb<R, K>>>,
    /// The kind's fixed part.
    pub(crate) kind: K,
    /// The kind's state. Never borrowed across user code.
    pub(crate) st: RefCell<K::State>,
}

impl<R: Reactor, K: Kind<R>> Shell<R, K> {
    /// An open handle, not yet on the loop's registry: the kind attaches
    /// its loop resources (made with [`loop_callback`](Self::loop_callback))
    /// and then calls [`register`](Self::register).
    pub(crate) fn new(lp: &EventLoop<R>, kind: K, st: K::State) -> Rc<Self> {
        Rc::new_cyclic(|me| Shell {
            me: me.clone(),
            lp: lp.downgrade(),
            key: Cell::new(None),
            scheduled: Cell::new(false),
            look_deferred: Cell::new(false),
            stepped: Cell::new(NOT_YET),
            kept: Cell::new(false),
            life: Cell::new(Life::Open),
            close_cb: Cell::new(None),
            kind,
            st: RefCell::new(st),
        })
    }

    /// Enters the loop's registry, so the loop can close it when it goes.
    pub(crate) fn register(&self) {
        let me: Weak<dyn LoopHandle> = self.me.clone();
        if let Some(lp) = self.lp.upgrade() {
            self.key.set(Some(lp.register(me)));
        }
    }

    /// A backend callback that runs `f` on this handle while it exists (it
    /// holds the handle weakly: a backend resource does not keep it alive).
    pub(crate) fn loop_callback(&self, f: impl Fn(&Rc<Self>) + 'static) -> LoopCallback {
        let me = self.me.clone();
        Box::new(move |_| {
            if let Some(shell) = me.upgrade() {
                f(&shell);
            }
        })
    }

    /// The backend callback of the handle's fd watch: held weakly, as
    /// [`loop_callback`](Self::loop_callback)'s, and told the iteration, so
    /// the fd's way in asks the loop nothing.
    pub(crate) fn fd_callback(&self) -> LoopCallback {
        let me = self.me.clone();
        Box::new(move |iteration| {
            if let Some(shell) = me.upgrade() {
                shell.fd_signalled(iteration);
            }
        })
    }

    /// The public handle.
    pub(crate) fn handle(self: &Rc<Self>) -> K::Handle {
        K::handle(self.clone())
    }

    /// The handle as the loop knows it, weakly (what the loop pokes when
    /// another thread has news for it).
    pub(crate) fn weak_loop_handle(&self) -> Weak<dyn LoopHandle> {
        self.me.clone()
    }

    fn as_loop_handle(&self) -> Option<Rc<dyn LoopHandle>> {
        self.me.upgrade().map(|rc| rc as Rc<dyn LoopHandle>)
    }

    /// Runs the handle's turn in the loop's next check phase (once, however
    /// often asked).
    #[inline]
    pub(crate) fn schedule(&self) {
        // Inlined, so a handle asked again (a write behind others) costs
        // only this test.
        if !self.scheduled.get() {
            self.queue_turn();
        }
    }

    /// The fd was signalled (poll phase of `iteration`): the step runs
    /// right here, unless the handle is queued for this iteration's turn
    /// anyway, or stepped in this iteration already (then the turn runs it
    /// next iteration). Either way at most one step per handle per
    /// iteration.
    fn fd_signalled(self: Rc<Self>, iteration: u64) {
        if self.scheduled.get() {
            return;
        }
        if self.claim_step(iteration) {
            self.step();
        } else if let Some(lp) = self.lp.upgrade() {
            lp.schedule(self);
        }
    }

    /// The socket was called outside the handle's step, which may have
    /// consumed the fd's edge: the step looks at it next iteration. From a
    /// batch of tasks the look waits for the batch's end, and a later call
    /// that made it needless can call it off ([`call_off_look`]).
    ///
    /// [`call_off_look`]: Self::call_off_look
    #[inline]
    pub(crate) fn look_again(&self) {
        // Inlined, so a handle asked again (a write behind others) costs
        // only these tests.
        if !self.scheduled.get() && !self.look_deferred.get() {
            self.queue_look();
        }
    }

    fn queue_look(&self) {
        if let (Some(lp), Some(me)) = (self.lp.upgrade(), self.as_loop_handle()) {
            self.look_deferred.set(lp.look_next_iteration(me));
        }
    }

    /// The look deferred by [`look_again`](Self::look_again) is not needed
    /// any more (the kind's last socket call was one).
    pub(crate) fn call_off_look(&self) {
        self.look_deferred.set(false);
    }

    fn queue_turn(&self) {
        if let (Some(lp), Some(me)) = (self.lp.upgrade(), self.as_loop_handle()) {
            lp.schedule(me);
        }
    }

    /// Keeps the handle alive from the loop while `active` (the loop keeps
    /// every active handle alive).
    pub(crate) fn keep_alive(&self, active: bool) {
        if self.kept.get() == active {
            return;
        }
        let (Some(lp), Some(key)) = (self.lp.upgrade(), self.key.get()) else {
            return;
        };
        let keep = if active { self.as_loop_handle() } else { None };
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

    /// Whether the handle's life is still open: no `close()` yet, and no
    /// loop lost (the kind may be closing early all the same).
    pub(crate) fn life_is_open(&self) -> bool {
        self.life.get() == Life::Open
    }

    /// True once closing began (`close`, or the kind closing early).
    pub(crate) fn is_closed(&self) -> bool {
        self.life.get() != Life::Open || K::closing_early(&self.st.borrow())
    }

    /// Whether the handle is active.
    pub(crate) fn is_active(&self) -> bool {
        K::is_active(&self.st.borrow())
    }

    /// The state of a handle still open to its user, or `Err(Closed)`.
    pub(crate) fn open_mut(&self) -> Result<RefMut<'_, K::State>> {
        let st = self.st.borrow_mut();
        if self.life.get() == Life::Open && !K::closing_early(&st) {
            Ok(st)
        } else {
            Err(Error::Closed)
        }
    }

    /// Closes: the kind stops now; the loop's next turn finishes the close
    /// and then runs `cb`. On a closed handle, `cb` is dropped uncalled.
    pub(crate) fn close(&self, cb: Option<CloseCb<R, K>>) {
        let taken = {
            let Ok(mut st) = self.open_mut() else {
                drop(cb);
                return;
            };
            self.life.set(Life::Closing);
            self.close_cb.set(cb);
            K::close(&mut st)
        };
        drop(taken);
        self.kind.closed();
        self.schedule();
        K::settle(self);
    }

    /// A kind that was closing early is done: straight to `Closed`, no
    /// close callback.
    pub(crate) fn closed_early(&self) {
        self.life.set(Life::Closed);
        self.kind.closed();
    }

    /// The handle's step: its kind's turn while open, the end of a close.
    // Always: the fd's way in and the turn each call it once, and LLVM
    // kept it a call of its own once it took the shell by value.
    #[inline(always)]
    fn step(self: Rc<Self>) {
        match self.life.get() {
            Life::Open => K::turn(self),
            Life::Closing => self.finish_close(),
            Life::Closed => {}
        }
    }

    /// The loop's part of `close()`: release, the kind's last work, then
    /// the close callback.
    fn finish_close(self: &Rc<Self>) {
        self.life.set(Life::Closed);
        let cb = self.close_cb.take();
        let released = K::release(&mut self.st.borrow_mut());
        drop(released);
        let h = self.handle();
        K::before_close_callback(self, &h);
        if let Some(cb) = cb {
            cb(&h);
        }
        K::settle(self);
    }
}

impl<R: Reactor, K: Kind<R>> LoopHandle for Shell<R, K> {
    fn scheduled(&self) -> &Cell<bool> {
        &self.scheduled
    }

    fn claim_step(&self, iteration: u64) -> bool {
        self.stepped.replace(iteration) != iteration
    }

    fn on_turn(self: Rc<Self>) {
        self.step();
    }

    fn take_deferred_look(&self) -> bool {
        self.look_deferred.replace(false)
    }

    fn loop_gone(&self) {
        self.kept.set(false);
        self.key.set(None);
        self.scheduled.set(false);
        let taken = {
            let mut st = self.st.borrow_mut();
            self.life.set(Life::Closed);
            (self.close_cb.take(), K::loop_gone(&mut st))
        };
        // Before the callbacks go: dropping them may drop other handles
        // (a monitor's reader, which must outlive the monitoring).
        self.kind.closed();
        drop(taken);
    }
}

impl<R: Reactor, K: Kind<R>> Drop for Shell<R, K> {
    fn drop(&mut self) {
        if let (Some(lp), Some(key)) = (self.lp.upgrade(), self.key.get()) {
            lp.unregister(key);
        }
    }
}
