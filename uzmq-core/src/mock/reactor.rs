//! [`MockReactor`]: libuv's loop phases, in libuv's order, in virtual time.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::fd_table;
use super::rng::SeededRng;
use crate::{
    AsyncWake, Error, LoopCallback, RawAsync, RawFd, RawSignal, RawTimer, Reactor, Result, RunMode,
    Watch,
};

/// `run(RunMode::Default)` panics after this many consecutive iterations in
/// which virtual time did not move: the loop never blocks, something spins.
pub const SPIN_LIMIT: u64 = 1_000_000;

/// `run(RunMode::Default)` panics after this many iterations in one call
/// even while time moves (a repeating timer keeps a loop alive forever).
pub const RUN_LIMIT: u64 = 10_000_000;

/// `uv_poll_init` of an fd that is not open.
const UV_EBADF: Error = Error::Uv {
    code: -9,
    name: "EBADF",
};

/// `uv_timer_again` of a timer never started.
const UV_EINVAL: Error = Error::Uv {
    code: -22,
    name: "EINVAL",
};

/// A second started watch on one fd (libuv malfunctions then; we refuse).
const UV_EEXIST: Error = Error::Uv {
    code: -17,
    name: "EEXIST",
};

/// A deterministic loop in virtual time.
///
/// One iteration (`uv_run`'s loop body, in the classic order libuv
/// documents in "Design overview"):
///
/// 0. the loop time (`now`) catches up with the virtual clock
///    (`uv__update_time`; they differ only after
///    [`MockReactor::advance_clock`], time spent outside the loop);
/// 1. timers: every timer due at the loop time runs, in (deadline, start
///    order) order; a repeating one is rescheduled at `now + repeat` just
///    before its callback runs (`uv_timer_again`);
/// 2. idle/prepare: nothing (the armed turn is modelled as the idle+check
///    pair: the idle half only keeps poll from blocking);
/// 3. poll: the started watches whose fd is readable run, and the signals
///    raised since the last poll are delivered, in an order drawn
///    from the seeded RNG. Readiness is sampled once, before the first
///    callback (as `epoll_wait` returns a batch): a callback may consume
///    another fd's signal and that watch still runs, exactly as with libuv.
///    When nothing is readable, poll "waits" as libuv computes it: not at all
///    in `NoWait`, with the turn armed, with closes pending, after `stop`, or
///    when a timer callback ran in this iteration; otherwise virtual time jumps to the next timer deadline, or, with no
///    timer, a real loop would block forever for outside events and `run`
///    returns instead (so the test can drive a peer and call `run` again);
///    Async handles woken since their last call are ready too (one call
///    however many wakes: they coalesce, as `uv_async_send` does). Right
///    before the loop would wait, the foreign hook runs with
///    [`MockPoint::Sleep`] (other threads acting as the loop goes to
///    sleep): a wake from it is seen and the loop does not wait;
/// 4. check: the turn hook, once, if the turn is armed;
/// 5. closing: callbacks of watches and timers dropped since the last
///    closing phase are dropped here, never called again.
///
/// In `Once` mode the timers run once more at the end (libuv's forward
/// progress rule for `UV_RUN_ONCE`). No callback is ever called while a
/// borrow of the loop state is held, so callbacks may create, start, stop
/// and drop any watch or timer (their own included), arm the turn, or
/// `stop` the loop; a panic in a callback leaves through `run` and the loop
/// stays usable.
///
/// Cheap to clone (a clone is the same loop); not `Send`. Watches and timers
/// do not keep it alive.
#[derive(Clone)]
pub struct MockReactor {
    st: Rc<RefCell<State>>,
}

struct State {
    seed: u64,
    rng: SeededRng,
    /// The loop's cached time (`loop->time`): what timers are measured from.
    now: u64,
    /// The virtual clock (`uv_hrtime`): never behind `now`; it runs ahead
    /// when time passes outside the loop ([`MockReactor::advance_clock`]),
    /// until the next iteration or `update_time` catches `now` up.
    clock: u64,
    iterations: u64,
    running: bool,
    stop_flag: bool,
    turn_armed: bool,
    hook: Option<LoopCallback>,
    /// Bumped by `set_turn_hook`, so a hook replaced while it runs is not
    /// put back over its replacement.
    hook_gen: u64,
    next_id: u64,
    /// libuv's `timer_counter`: breaks deadline ties in start order.
    timer_seq: u64,
    watches: BTreeMap<u64, WatchSlot>,
    timers: BTreeMap<u64, TimerSlot>,
    signals: BTreeMap<u64, SignalSlot>,
    /// Signals raised and not delivered yet, one per watch that was started
    /// for it when it was raised (libuv's signal pipe messages).
    raised: Vec<(u64, i32)>,
    /// Callbacks of dropped handles, dropped in the next closing phase.
    closing: Vec<LoopCallback>,
    asyncs: BTreeMap<u64, AsyncSlot>,
    /// Other threads, played by the test (see [`MockReactor::set_foreign`]).
    foreign: Option<Box<dyn FnMut(MockPoint)>>,
}

struct AsyncSlot {
    /// Woken and not called back yet (libuv's `pending` flag).
    pending: Arc<AtomicBool>,
    /// Ref'd: keeps the loop alive.
    keep: bool,
    /// `None` while the callback runs.
    cb: Option<LoopCallback>,
}

/// Where in an iteration the foreign hook runs: the points at which other
/// threads' actions interleave with the loop's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MockPoint {
    /// The start of an iteration, before the timers.
    Iteration,
    /// Nothing is ready and the loop is about to wait: a wake now must
    /// still be seen (the race of a post with the loop going to sleep).
    Sleep,
}

struct WatchSlot {
    fd: RawFd,
    started: bool,
    /// `None` while the callback runs (it is on the caller's stack).
    cb: Option<LoopCallback>,
}

struct SignalSlot {
    /// The signal watched; 0 while stopped (as libuv's `handle->signum`).
    signum: i32,
    /// `None` while the callback runs.
    cb: Option<LoopCallback>,
}

struct TimerSlot {
    /// Started and in the timer heap.
    active: bool,
    /// Due in the current timer phase and not run yet (libuv's ready queue:
    /// such a timer is inactive, and stopping or restarting it unqueues it).
    ready: bool,
    deadline: u64,
    repeat: u64,
    seq: u64,
    /// Ever started (libuv's `timer_cb != NULL`): `again` needs it.
    started: bool,
    cb: Option<LoopCallback>,
}

/// Where a running callback goes back to.
#[derive(Clone, Copy)]
enum Slot {
    Hook(u64),
    Watch(u64),
    Timer(u64),
    Signal(u64),
    Async(u64),
}

/// What the poll phase found ready.
#[derive(Clone, Copy)]
enum Ready {
    Watch(u64),
    Async(u64),
    /// The signal pipe: raised signals wait for delivery.
    Signals,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Continue,
    /// Nothing to do and nothing due: a real loop would block for outside events.
    BlockedForever,
}

impl State {
    fn alive(&self) -> bool {
        self.turn_armed
            || !self.closing.is_empty()
            || self.watches.values().any(|w| w.started)
            || self.timers.values().any(|t| t.active)
            || self.signals.values().any(|sig| sig.signum != 0)
            || self.asyncs.values().any(|a| a.keep)
    }

    fn woken_asyncs(&self) -> impl Iterator<Item = Ready> + '_ {
        self.asyncs
            .iter()
            .filter(|(_, a)| a.pending.load(Ordering::SeqCst))
            .map(|(id, _)| Ready::Async(*id))
    }

    fn next_deadline(&self) -> Option<u64> {
        self.timers
            .values()
            .filter(|t| t.active)
            .map(|t| t.deadline)
            .min()
    }

    fn take(&mut self, slot: Slot) -> Option<LoopCallback> {
        match slot {
            Slot::Hook(_) => self.hook.take(),
            Slot::Watch(id) => self.watches.get_mut(&id).and_then(|w| w.cb.take()),
            Slot::Timer(id) => self.timers.get_mut(&id).and_then(|t| t.cb.take()),
            Slot::Signal(id) => self.signals.get_mut(&id).and_then(|sig| sig.cb.take()),
            Slot::Async(id) => self.asyncs.get_mut(&id).and_then(|a| a.cb.take()),
        }
    }

    /// Returns a callback that ran to its slot, or, when its handle was
    /// dropped (or the hook replaced) meanwhile, to the closing list: never
    /// dropped here, because dropping user code may re-enter the loop.
    fn put_back(&mut self, slot: Slot, cb: LoopCallback) {
        let home = match slot {
            Slot::Hook(generation) if generation == self.hook_gen => Some(&mut self.hook),
            Slot::Hook(_) => None,
            Slot::Watch(id) => self.watches.get_mut(&id).map(|w| &mut w.cb),
            Slot::Timer(id) => self.timers.get_mut(&id).map(|t| &mut t.cb),
            Slot::Signal(id) => self.signals.get_mut(&id).map(|sig| &mut sig.cb),
            Slot::Async(id) => self.asyncs.get_mut(&id).map(|a| &mut a.cb),
        };
        match home {
            Some(home) if home.is_none() => *home = Some(cb),
            _ => self.closing.push(cb),
        }
    }
}

/// Holds a callback while it runs and puts it back when the call returns or
/// unwinds, so a panicking callback is not lost and no borrow is held.
struct PutBack<'a> {
    st: &'a RefCell<State>,
    slot: Slot,
    cb: Option<LoopCallback>,
}

impl Drop for PutBack<'_> {
    fn drop(&mut self) {
        if let Some(cb) = self.cb.take() {
            match self.st.try_borrow_mut() {
                Ok(mut st) => st.put_back(self.slot, cb),
                // Only reachable through a bug of this module (a borrow held
                // across a call): leak rather than drop user code under it.
                Err(_) => std::mem::forget(cb),
            }
        }
    }
}

/// Clears the running and stop flags when `run` returns or unwinds.
struct RunGuard<'a>(&'a RefCell<State>);

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut st) = self.0.try_borrow_mut() {
            st.running = false;
            // uv_run resets the stop flag on the way out.
            st.stop_flag = false;
        }
    }
}

impl MockReactor {
    /// A fresh loop at virtual time 0 whose poll order is drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        MockReactor {
            st: Rc::new(RefCell::new(State {
                seed,
                rng: SeededRng::new(seed),
                now: 0,
                clock: 0,
                iterations: 0,
                running: false,
                stop_flag: false,
                turn_armed: false,
                hook: None,
                hook_gen: 0,
                next_id: 0,
                timer_seq: 0,
                watches: BTreeMap::new(),
                timers: BTreeMap::new(),
                signals: BTreeMap::new(),
                raised: Vec::new(),
                closing: Vec::new(),
                asyncs: BTreeMap::new(),
                foreign: None,
            })),
        }
    }

    /// The seed this loop was created with.
    pub fn seed(&self) -> u64 {
        self.st.borrow().seed
    }

    /// Iterations run so far, over all calls of `run`.
    pub fn iterations(&self) -> u64 {
        self.st.borrow().iterations
    }

    /// Whether the turn is armed.
    pub fn turn_armed(&self) -> bool {
        self.st.borrow().turn_armed
    }

    /// Started watches (each keeps the loop alive).
    pub fn active_watches(&self) -> usize {
        self.st
            .borrow()
            .watches
            .values()
            .filter(|w| w.started)
            .count()
    }

    /// Watches not closed yet, started or not (a handle's watch is closed
    /// when the handle's close completes).
    pub fn open_watches(&self) -> usize {
        self.st.borrow().watches.len()
    }

    /// Timers not closed yet, started or not.
    pub fn open_timers(&self) -> usize {
        self.st.borrow().timers.len()
    }

    /// Signal watches not closed yet, started or not.
    pub fn open_signals(&self) -> usize {
        self.st.borrow().signals.len()
    }

    /// Async handles not closed yet.
    pub fn open_asyncs(&self) -> usize {
        self.st.borrow().asyncs.len()
    }

    /// Installs what other threads do, played by the test: `hook` runs at
    /// each [`MockPoint`] of every iteration (with no borrow of the loop
    /// held), and may post, send through channels or wake async handles;
    /// a seeded RNG in the hook decides whether and what. Replaces any
    /// previous hook.
    pub fn set_foreign(&self, hook: impl FnMut(MockPoint) + 'static) {
        self.st.borrow_mut().foreign = Some(Box::new(hook));
    }

    /// Removes the foreign hook.
    pub fn clear_foreign(&self) {
        drop(self.st.borrow_mut().foreign.take());
    }

    /// Started timers (each keeps the loop alive).
    pub fn active_timers(&self) -> usize {
        self.st
            .borrow()
            .timers
            .values()
            .filter(|t| t.active)
            .count()
    }

    /// Started signal watches (each keeps the loop alive).
    pub fn active_signals(&self) -> usize {
        self.st
            .borrow()
            .signals
            .values()
            .filter(|sig| sig.signum != 0)
            .count()
    }

    /// Sends `signum` to the process, as far as this loop sees it: every
    /// watch started for it now gets it, from the poll phase of the next
    /// iteration (which then does not block), as libuv delivers through its
    /// signal pipe; a watch stopped or switched to another signal before
    /// then does not. Returns whether a watch caught it: a real process
    /// with no handler for the signal would take its default action (for
    /// SIGINT, end); the mock just drops it.
    pub fn raise(&self, signum: i32) -> bool {
        let mut st = self.st.borrow_mut();
        let st = &mut *st;
        let before = st.raised.len();
        for (id, sig) in &st.signals {
            if sig.signum == signum && signum != 0 {
                st.raised.push((*id, signum));
            }
        }
        st.raised.len() > before
    }

    /// The earliest deadline of a started timer, in loop time.
    pub fn next_deadline(&self) -> Option<u64> {
        self.st.borrow().next_deadline()
    }

    /// Moves virtual time forward by `ms` without running anything, the
    /// loop time with it (as if the loop had waited that long); due timers
    /// fire in the next iteration.
    pub fn advance(&self, ms: u64) {
        let mut st = self.st.borrow_mut();
        st.clock = st.clock.saturating_add(ms);
        st.now = st.clock;
    }

    /// Lets `ms` pass outside the loop (blocking work between two `run`
    /// calls, or inside a callback): the clock moves, the loop's cached time
    /// ([`Reactor::now`]) does not, until the next iteration or
    /// [`Reactor::update_time`]. A timer started meanwhile with a bare
    /// [`RawTimer::start`] is measured from the stale time, as in libuv.
    pub fn advance_clock(&self, ms: u64) {
        let mut st = self.st.borrow_mut();
        st.clock = st.clock.saturating_add(ms);
    }

    /// The virtual clock in milliseconds (`uv_hrtime`), at or ahead of the
    /// loop time.
    pub fn clock(&self) -> u64 {
        self.st.borrow().clock
    }

    /// True when the loop has nothing to do now: the turn is disarmed, no
    /// async handle was woken, and no started watch has a readable fd (a real loop would block in poll,
    /// costing no CPU, until a timer or an outside event).
    pub fn is_quiescent(&self) -> bool {
        let st = self.st.borrow();
        !st.turn_armed
            && !st
                .watches
                .values()
                .any(|w| w.started && fd_table::is_readable(w.fd) == Some(true))
            && st.woken_asyncs().next().is_none()
    }

    /// Runs the callback in `slot`, with no borrow held during the call.
    fn call(&self, slot: Slot) {
        let (cb, iteration) = {
            let mut st = self.st.borrow_mut();
            (st.take(slot), st.iterations)
        };
        let Some(cb) = cb else { return };
        let mut running = PutBack {
            st: &self.st,
            slot,
            cb: Some(cb),
        };
        if let Some(cb) = running.cb.as_mut() {
            cb(iteration);
        }
    }

    /// Runs the due timers; returns whether any callback ran.
    fn run_timers(&self) -> bool {
        // Like uv__run_timers since libuv 1.46: first move every due timer to
        // a ready queue, then run them; a timer started with timeout 0 from a
        // timer callback waits for the next timer phase.
        let ready: Vec<u64> = {
            let mut st = self.st.borrow_mut();
            let now = st.now;
            let mut due: Vec<(u64, u64, u64)> = st
                .timers
                .iter()
                .filter(|(_, t)| t.active && t.deadline <= now)
                .map(|(id, t)| (t.deadline, t.seq, *id))
                .collect();
            due.sort_unstable();
            for (_, _, id) in &due {
                if let Some(t) = st.timers.get_mut(id) {
                    t.active = false;
                    t.ready = true;
                }
            }
            due.into_iter().map(|(_, _, id)| id).collect()
        };
        let mut ran = false;
        for id in ready {
            let fire = {
                let mut st = self.st.borrow_mut();
                let now = st.now;
                let seq = st.timer_seq;
                match st.timers.get_mut(&id) {
                    Some(t) if t.ready => {
                        t.ready = false;
                        if t.repeat > 0 {
                            // uv_timer_again: next = now + repeat, before the call.
                            t.active = true;
                            t.deadline = now.saturating_add(t.repeat);
                            t.seq = seq;
                            st.timer_seq += 1;
                        }
                        true
                    }
                    _ => false,
                }
            };
            if fire {
                ran = true;
                self.call(Slot::Timer(id));
            }
        }
        ran
    }

    fn run_poll(&self, mode: RunMode, timers_ran: bool) -> Step {
        let (mut ready, dead) = {
            let st = self.st.borrow();
            let mut ready = Vec::new();
            let mut dead = None;
            for (id, w) in st.watches.iter().filter(|(_, w)| w.started) {
                match fd_table::is_readable(w.fd) {
                    Some(true) => ready.push(Ready::Watch(*id)),
                    Some(false) => {}
                    None => dead = Some(w.fd),
                }
            }
            if !st.raised.is_empty() {
                // The signal pipe is one more readable fd of the batch.
                ready.push(Ready::Signals);
            }
            // libuv's async eventfd, one more readable fd of the batch.
            ready.extend(st.woken_asyncs());
            (ready, dead)
        };
        if let Some(fd) = dead {
            panic!(
                "mock reactor: fd {fd} was closed (its socket dropped) while a started watch \
                 still polls it; libuv would then poll a dead or reused fd. Stop or drop the \
                 watch before dropping the socket."
            );
        }
        if ready.is_empty() {
            // uv_backend_timeout: zero unless the loop could really sleep.
            // Also zero after a timer callback in this iteration, so that
            // `Once` makes one step of progress, not two (libuv >= 1.45 runs
            // timers after poll: `Once` with a due timer never waits).
            let may_block = {
                let st = self.st.borrow();
                mode != RunMode::NoWait
                    && !timers_ran
                    && !st.stop_flag
                    && !st.turn_armed
                    && st.closing.is_empty()
                    && st.alive()
            };
            if may_block {
                // Other threads act as the loop goes to sleep; their wakes
                // are seen (epoll returns at once for an eventfd written
                // meanwhile).
                self.foreign(MockPoint::Sleep);
                ready.extend(self.st.borrow().woken_asyncs());
            }
            if ready.is_empty() {
                if may_block {
                    let mut st = self.st.borrow_mut();
                    match st.next_deadline() {
                        // The wait: nothing readable comes from outside, so
                        // the next thing to happen is the earliest timer.
                        Some(deadline) => {
                            st.now = st.now.max(deadline);
                            st.clock = st.clock.max(st.now);
                        }
                        None => return Step::BlockedForever,
                    }
                }
                return Step::Continue;
            }
        }
        self.st.borrow_mut().rng.shuffle(&mut ready);
        for item in ready {
            match item {
                Ready::Watch(id) => {
                    // An earlier callback may have stopped or dropped this watch.
                    let started = self.st.borrow().watches.get(&id).is_some_and(|w| w.started);
                    if started {
                        self.call(Slot::Watch(id));
                    }
                }
                Ready::Signals => self.deliver_signals(),
                Ready::Async(id) => {
                    // uv__async_io: clear the flag, then call: a wake from
                    // the callback itself calls it again next iteration.
                    let woken = self
                        .st
                        .borrow()
                        .asyncs
                        .get(&id)
                        .is_some_and(|a| a.pending.swap(false, Ordering::SeqCst));
                    if woken {
                        self.call(Slot::Async(id));
                    }
                }
            }
        }
        Step::Continue
    }

    /// Reads the signal pipe: each message reaches its watch if it still
    /// watches that signal (uv__signal_event); signals raised by these
    /// callbacks wait for the next poll phase.
    fn deliver_signals(&self) {
        let raised = std::mem::take(&mut self.st.borrow_mut().raised);
        for (id, signum) in raised {
            let watching = self
                .st
                .borrow()
                .signals
                .get(&id)
                .is_some_and(|sig| sig.signum == signum);
            if watching {
                self.call(Slot::Signal(id));
            }
        }
    }

    /// Runs the foreign hook, if any, with no borrow held.
    fn foreign(&self, point: MockPoint) {
        let Some(mut hook) = self.st.borrow_mut().foreign.take() else {
            return;
        };
        hook(point);
        let mut st = self.st.borrow_mut();
        if st.foreign.is_none() {
            st.foreign = Some(hook);
        }
    }

    fn run_check(&self) {
        let slot = {
            let st = self.st.borrow();
            st.turn_armed.then_some(Slot::Hook(st.hook_gen))
        };
        if let Some(slot) = slot {
            self.call(slot);
        }
    }

    fn run_closing(&self) {
        // Dropping a callback may drop handles it captured, which queue their
        // own callbacks here: repeat until none is left, never under a borrow.
        loop {
            let dropped = std::mem::take(&mut self.st.borrow_mut().closing);
            if dropped.is_empty() {
                break;
            }
            drop(dropped);
        }
    }

    fn iterate(&self, mode: RunMode) -> Step {
        {
            let mut st = self.st.borrow_mut();
            st.iterations += 1;
            // uv__update_time: each iteration starts from the clock.
            st.now = st.clock;
        }
        fd_table::next_iteration();
        self.foreign(MockPoint::Iteration);
        let timers_ran = self.run_timers();
        if self.run_poll(mode, timers_ran) == Step::BlockedForever {
            // Blocking forever: check has nothing (the turn is disarmed) and
            // closing nothing (else poll would not have blocked).
            return Step::BlockedForever;
        }
        self.run_check();
        self.run_closing();
        if mode == RunMode::Once {
            self.run_timers();
        }
        Step::Continue
    }
}

impl fmt::Debug for MockReactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.st.try_borrow() {
            Ok(st) => f
                .debug_struct("MockReactor")
                .field("seed", &st.seed)
                .field("now", &st.now)
                .field("iterations", &st.iterations)
                .field("turn_armed", &st.turn_armed)
                .field("watches", &st.watches.len())
                .field("timers", &st.timers.len())
                .field("signals", &st.signals.len())
                .finish(),
            Err(_) => f.write_str("MockReactor { <borrowed> }"),
        }
    }
}

impl Reactor for MockReactor {
    fn iteration(&self) -> u64 {
        self.st.borrow().iterations
    }

    type Watch = MockWatch;
    type Timer = MockTimer;
    type Signal = MockSignal;
    type Async = MockAsync;

    /// An unref'd [`MockAsync`].
    fn async_handle(&self, on_wake: LoopCallback) -> Result<MockAsync> {
        let mut st = self.st.borrow_mut();
        let id = st.next_id;
        st.next_id += 1;
        let pending = Arc::new(AtomicBool::new(false));
        st.asyncs.insert(
            id,
            AsyncSlot {
                pending: pending.clone(),
                keep: false,
                cb: Some(on_wake),
            },
        );
        Ok(MockAsync {
            st: Rc::downgrade(&self.st),
            id,
            wake: MockWake(pending),
        })
    }

    fn set_turn_hook(&self, hook: LoopCallback) {
        let mut st = self.st.borrow_mut();
        st.hook_gen += 1;
        if let Some(old) = st.hook.replace(hook) {
            st.closing.push(old);
        }
    }

    fn arm_turn(&self, armed: bool) {
        self.st.borrow_mut().turn_armed = armed;
    }

    /// `Err(Uv EBADF)` when `fd` is not an open fake fd (see
    /// [`super::fd_table`]), as `uv_poll_init` checks the fd.
    fn watch(&self, fd: RawFd, on_readable: LoopCallback) -> Result<MockWatch> {
        if !fd_table::is_open(fd) {
            return Err(UV_EBADF);
        }
        let mut st = self.st.borrow_mut();
        let id = st.next_id;
        st.next_id += 1;
        st.watches.insert(
            id,
            WatchSlot {
                fd,
                started: false,
                cb: Some(on_readable),
            },
        );
        Ok(MockWatch {
            st: Rc::downgrade(&self.st),
            id,
        })
    }

    fn timer(&self, on_fire: LoopCallback) -> Result<MockTimer> {
        let mut st = self.st.borrow_mut();
        let id = st.next_id;
        st.next_id += 1;
        st.timers.insert(
            id,
            TimerSlot {
                active: false,
                ready: false,
                deadline: 0,
                repeat: 0,
                seq: 0,
                started: false,
                cb: Some(on_fire),
            },
        );
        Ok(MockTimer {
            st: Rc::downgrade(&self.st),
            id,
        })
    }

    /// A stopped [`MockSignal`]; deliver signals with [`MockReactor::raise`].
    fn signal(&self, on_signal: LoopCallback) -> Result<MockSignal> {
        let mut st = self.st.borrow_mut();
        let id = st.next_id;
        st.next_id += 1;
        st.signals.insert(
            id,
            SignalSlot {
                signum: 0,
                cb: Some(on_signal),
            },
        );
        Ok(MockSignal {
            st: Rc::downgrade(&self.st),
            id,
        })
    }

    /// Runs iterations as described on [`MockReactor`]: `NoWait` and
    /// `Once` run one, `Default` runs until the loop is not alive, `stop` is
    /// called, or it would block forever. `Err(Reentrant)` from inside one
    /// of this loop's callbacks.
    ///
    /// # Panics
    ///
    /// In `Default` mode, after [`SPIN_LIMIT`] iterations in a row with no
    /// progress of virtual time (a spinning handle), or [`RUN_LIMIT`]
    /// iterations in all. A panic in a callback propagates.
    fn run(&self, mode: RunMode) -> Result<bool> {
        {
            let mut st = self.st.borrow_mut();
            if st.running {
                return Err(Error::Reentrant);
            }
            st.running = true;
        }
        let _running = RunGuard(&self.st);
        let mut alive = self.alive();
        let (mut stalled, mut count) = (0u64, 0u64);
        while alive && !self.st.borrow().stop_flag {
            let before = self.now();
            let step = self.iterate(mode);
            alive = self.alive();
            if step == Step::BlockedForever || mode != RunMode::Default {
                break;
            }
            count += 1;
            stalled = if self.now() == before { stalled + 1 } else { 0 };
            assert!(
                stalled < SPIN_LIMIT,
                "mock reactor: {SPIN_LIMIT} iterations without the loop ever blocking \
                 (virtual time stuck at {} ms): something spins (a turn armed for good, or a \
                 readable fd nobody clears)",
                self.now()
            );
            assert!(
                count < RUN_LIMIT,
                "mock reactor: run(Default) did not finish after {RUN_LIMIT} iterations \
                 (a repeating timer keeps it alive forever?); call stop()"
            );
        }
        Ok(alive)
    }

    fn stop(&self) {
        self.st.borrow_mut().stop_flag = true;
    }

    fn now(&self) -> u64 {
        self.st.borrow().now
    }

    /// Catches the loop time up with the clock (see [`MockReactor::advance_clock`]).
    fn update_time(&self) {
        let mut st = self.st.borrow_mut();
        st.now = st.clock;
    }

    fn alive(&self) -> bool {
        self.st.borrow().alive()
    }
}

/// A [`Watch`] of a [`MockReactor`]. Dropping it closes it: its callback is
/// dropped in the next closing phase, never called again.
#[derive(Debug)]
pub struct MockWatch {
    st: Weak<RefCell<State>>,
    id: u64,
}

impl Watch for MockWatch {
    /// `Err(Closed)` when the loop is gone; `Err(Uv EEXIST)` when another
    /// started watch polls the same fd (libuv allows one `uv_poll_t` per fd
    /// and malfunctions otherwise; the mock refuses so the bug shows).
    fn start(&mut self) -> Result<()> {
        let rc = self.st.upgrade().ok_or(Error::Closed)?;
        let mut st = rc.borrow_mut();
        let fd = st.watches.get(&self.id).ok_or(Error::Closed)?.fd;
        let taken = st
            .watches
            .iter()
            .any(|(id, w)| *id != self.id && w.started && w.fd == fd);
        if taken {
            return Err(UV_EEXIST);
        }
        if let Some(w) = st.watches.get_mut(&self.id) {
            w.started = true;
        }
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(rc) = self.st.upgrade() {
            if let Some(w) = rc.borrow_mut().watches.get_mut(&self.id) {
                w.started = false;
            }
        }
    }
}

impl Drop for MockWatch {
    fn drop(&mut self) {
        let Some(rc) = self.st.upgrade() else { return };
        // try_borrow: a Drop must not panic, and the loop never holds a borrow
        // while user code (which may drop a watch) runs.
        if let Ok(mut st) = rc.try_borrow_mut() {
            if let Some(cb) = st.watches.remove(&self.id).and_then(|w| w.cb) {
                st.closing.push(cb);
            }
        }
    }
}

/// A [`RawTimer`] of a [`MockReactor`]. Dropping it closes it: its callback
/// is dropped in the next closing phase, never called again.
#[derive(Debug)]
pub struct MockTimer {
    st: Weak<RefCell<State>>,
    id: u64,
}

impl RawTimer for MockTimer {
    /// `uv_timer_start`: due at `now + timeout_ms`, then every `repeat_ms`.
    /// `Err(Closed)` when the loop is gone.
    fn start_ms(&mut self, timeout_ms: u64, repeat_ms: u64) -> Result<()> {
        let rc = self.st.upgrade().ok_or(Error::Closed)?;
        let mut st = rc.borrow_mut();
        let (now, seq) = (st.now, st.timer_seq);
        st.timer_seq += 1;
        let t = st.timers.get_mut(&self.id).ok_or(Error::Closed)?;
        t.active = true;
        t.ready = false;
        t.deadline = now.saturating_add(timeout_ms);
        t.repeat = repeat_ms;
        t.seq = seq;
        t.started = true;
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(rc) = self.st.upgrade() {
            if let Some(t) = rc.borrow_mut().timers.get_mut(&self.id) {
                t.active = false;
                t.ready = false;
            }
        }
    }

    fn is_active(&self) -> bool {
        self.st
            .upgrade()
            .is_some_and(|rc| rc.borrow().timers.get(&self.id).is_some_and(|t| t.active))
    }

    /// `uv_timer_again`: `Err(Uv EINVAL)` when never started; with a
    /// nonzero repeat, due at `now + repeat` (stale loop time included);
    /// with a zero repeat, nothing. `Err(Closed)` when the loop is gone.
    fn again(&mut self) -> Result<()> {
        let rc = self.st.upgrade().ok_or(Error::Closed)?;
        let mut st = rc.borrow_mut();
        let (now, seq) = (st.now, st.timer_seq);
        let t = st.timers.get_mut(&self.id).ok_or(Error::Closed)?;
        if !t.started {
            return Err(UV_EINVAL);
        }
        if t.repeat > 0 {
            t.active = true;
            t.ready = false;
            t.deadline = now.saturating_add(t.repeat);
            t.seq = seq;
            st.timer_seq += 1;
        }
        Ok(())
    }

    /// `uv_timer_set_repeat`.
    fn set_repeat_ms(&mut self, repeat_ms: u64) {
        if let Some(rc) = self.st.upgrade() {
            if let Some(t) = rc.borrow_mut().timers.get_mut(&self.id) {
                t.repeat = repeat_ms;
            }
        }
    }

    fn repeat_ms(&self) -> u64 {
        self.st.upgrade().map_or(0, |rc| {
            rc.borrow().timers.get(&self.id).map_or(0, |t| t.repeat)
        })
    }

    /// `uv_timer_get_due_in` from the loop's cached time; zero when not active.
    fn due_in_ms(&self) -> u64 {
        self.st.upgrade().map_or(0, |rc| {
            let st = rc.borrow();
            st.timers
                .get(&self.id)
                .filter(|t| t.active)
                .map_or(0, |t| t.deadline.saturating_sub(st.now))
        })
    }
}

impl Drop for MockTimer {
    fn drop(&mut self) {
        let Some(rc) = self.st.upgrade() else { return };
        if let Ok(mut st) = rc.try_borrow_mut() {
            if let Some(cb) = st.timers.remove(&self.id).and_then(|t| t.cb) {
                st.closing.push(cb);
            }
        }
    }
}

/// A [`RawSignal`] of a [`MockReactor`], delivered by
/// [`MockReactor::raise`]. Dropping it closes it: its callback is dropped
/// in the next closing phase, never called again.
#[derive(Debug)]
pub struct MockSignal {
    st: Weak<RefCell<State>>,
    id: u64,
}

/// Signal numbers a Linux process can watch: 1..=64 but SIGKILL and
/// SIGSTOP, which `sigaction` refuses.
fn valid_signum(signum: i32) -> bool {
    (1..=64).contains(&signum) && signum != 9 && signum != 19
}

impl RawSignal for MockSignal {
    /// `uv_signal_start`, with its failure modes: 0 is `Err(Uv EINVAL)` at
    /// once; another invalid number is `Err(Uv EINVAL)` after a started
    /// watch was stopped (libuv stops it before it registers the new
    /// signal); the same signal again changes nothing. `Err(Closed)` when
    /// the loop is gone.
    fn start(&mut self, signum: i32) -> Result<()> {
        let rc = self.st.upgrade().ok_or(Error::Closed)?;
        let mut st = rc.borrow_mut();
        let sig = st.signals.get_mut(&self.id).ok_or(Error::Closed)?;
        if signum == 0 {
            return Err(UV_EINVAL);
        }
        if signum == sig.signum {
            return Ok(());
        }
        sig.signum = 0;
        if !valid_signum(signum) {
            return Err(UV_EINVAL);
        }
        sig.signum = signum;
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(rc) = self.st.upgrade() {
            if let Some(sig) = rc.borrow_mut().signals.get_mut(&self.id) {
                sig.signum = 0;
            }
        }
    }

    fn is_active(&self) -> bool {
        self.st.upgrade().is_some_and(|rc| {
            rc.borrow()
                .signals
                .get(&self.id)
                .is_some_and(|sig| sig.signum != 0)
        })
    }
}

impl Drop for MockSignal {
    fn drop(&mut self) {
        let Some(rc) = self.st.upgrade() else { return };
        if let Ok(mut st) = rc.try_borrow_mut() {
            if let Some(cb) = st.signals.remove(&self.id).and_then(|sig| sig.cb) {
                st.closing.push(cb);
            }
        }
    }
}

#[cfg(test)]
#[path = "reactor_tests.rs"]
mod tests;

/// A [`RawAsync`] of a [`MockReactor`]. Dropping it closes it: its
/// callback is dropped in the next closing phase, and its wakers do nothing.
#[derive(Debug)]
pub struct MockAsync {
    st: Weak<RefCell<State>>,
    id: u64,
    wake: MockWake,
}

impl RawAsync for MockAsync {
    type Wake = MockWake;

    fn waker(&self) -> MockWake {
        self.wake.clone()
    }

    fn keep_alive(&mut self, keep: bool) {
        if let Some(rc) = self.st.upgrade() {
            if let Some(slot) = rc.borrow_mut().asyncs.get_mut(&self.id) {
                slot.keep = keep;
            }
        }
    }
}

impl Drop for MockAsync {
    fn drop(&mut self) {
        let Some(rc) = self.st.upgrade() else {
            return;
        };
        let mut st = rc.borrow_mut();
        if let Some(slot) = st.asyncs.remove(&self.id) {
            // Not woken again: the loop forgot the handle.
            if let Some(cb) = slot.cb {
                st.closing.push(cb);
            }
        }
    }
}

/// Wakes a [`MockAsync`] (the flag its loop reads in the poll phase).
#[derive(Clone, Debug)]
pub struct MockWake(Arc<AtomicBool>);

impl AsyncWake for MockWake {
    fn wake(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}
