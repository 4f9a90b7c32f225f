//! uzmq on a loop the test creates with libuv itself (`Loop::from_raw`), run by `uv_run`: uzmq's handles and a `uv_timer_t` of the owner's both work, dropping the `Loop` closes uzmq's handles but never the owner's nor the loop (`uv_loop_close` is `UV_EBUSY` until the owner ran it again, then 0), two `Loop`s on one raw loop are independent, posts and senders from other threads work under `uv_run`, and a null loop is refused.
//!
//! The libuv calls are the test's own (the helper library forbids unsafe
//! code): [`RawLoop`] and [`UserTimer`] below, each unsafe block with the
//! reason it is sound.

use std::cell::{Cell, RefCell};
use std::ffi::c_int;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use tests::real::{Watchdog, inproc, limit, log, seq, seq_of, socket, spawn_peer};
use uzmq::{Error, Loop, Zmq, uv, zmq};

/// A `uv_loop_t` the test owns: initialised on creation; closed by
/// [`close`](RawLoop::close), or on drop after a few runs to let pending
/// closes complete. Its memory is freed only once the loop is closed (a
/// loop that cannot close is leaked, never freed under libuv's feet).
struct RawLoop {
    ptr: NonNull<uv::uv_loop_t>,
    closed: bool,
}

impl RawLoop {
    fn new() -> RawLoop {
        let ptr = NonNull::from(Box::leak(Box::new(MaybeUninit::<uv::uv_loop_t>::uninit()))).cast();
        // SAFETY: writable memory of the size and alignment of a
        // `uv_loop_t`, which stays in place until `drop` frees it.
        let rc = unsafe { uv::uv_loop_init(ptr.as_ptr()) };
        assert_eq!(rc, 0, "uv_loop_init");
        RawLoop { ptr, closed: false }
    }

    fn raw(&self) -> *mut uv::uv_loop_t {
        self.ptr.as_ptr()
    }

    /// uzmq on this loop.
    ///
    /// # Safety
    ///
    /// The returned `Loop`, its clones and its handles are dropped before
    /// this `RawLoop` (declare the `RawLoop` first: locals drop in reverse
    /// order, on unwind too).
    unsafe fn attach(&self) -> Loop {
        // SAFETY: an initialised loop of the libuv uzmq links (`uzmq::uv`),
        // used on this thread only (`RawLoop` is `!Send`: it holds a
        // `NonNull`); the caller keeps it alive longer than the `Loop`.
        unsafe { Loop::from_raw(self.raw()) }.expect("Loop::from_raw")
    }

    /// `uv_run` with `mode`; what it returned (non-zero: still alive).
    fn run(&self, mode: uv::uv_run_mode) -> c_int {
        // SAFETY: an initialised loop, on its thread; no test calls this
        // from one of the loop's callbacks.
        unsafe { uv::uv_run(self.raw(), mode) }
    }

    /// `uv_run(UV_RUN_ONCE)` until `done()`, under a uzmq watchdog timer
    /// on `lp` (a loop on this raw loop) that stops the run and fails the
    /// test after the time limit.
    fn run_until(&self, lp: &Loop, what: &str, mut done: impl FnMut() -> bool) {
        let dog = Watchdog::start(lp, limit(), what);
        while !done() {
            self.run(uv::uv_run_mode_UV_RUN_ONCE);
            if !done() {
                dog.check();
            }
        }
    }

    /// `uv_loop_close`; 0 once closed, `UV_EBUSY` while handles remain.
    fn close(&mut self) -> c_int {
        assert!(!self.closed, "closed twice");
        // SAFETY: an initialised loop, not closed yet.
        let rc = unsafe { uv::uv_loop_close(self.raw()) };
        self.closed = rc == 0;
        rc
    }
}

impl Drop for RawLoop {
    fn drop(&mut self) {
        if !self.closed {
            // A test that failed before closing: let pending closes finish.
            for _ in 0..10 {
                self.run(uv::uv_run_mode_UV_RUN_NOWAIT);
            }
            // SAFETY: an initialised loop, not closed yet.
            self.closed = unsafe { uv::uv_loop_close(self.raw()) } == 0;
        }
        if self.closed {
            // SAFETY: allocated in `new` as this very box; libuv is done
            // with a closed loop.
            drop(unsafe { Box::from_raw(self.ptr.cast::<MaybeUninit<uv::uv_loop_t>>().as_ptr()) });
        }
    }
}

/// What a [`UserTimer`]'s callbacks reach through the handle's data.
#[derive(Default)]
struct TimerData {
    ticks: Cell<u32>,
    /// The callback stops the timer at this many ticks (0: never).
    stop_at: Cell<u32>,
    closed: Cell<bool>,
}

/// A `uv_timer_t` of the owner's, with plain C callbacks. Its memory (and
/// its data) are freed on drop once its close callback ran, else leaked.
struct UserTimer {
    ptr: NonNull<uv::uv_timer_t>,
    data: NonNull<TimerData>,
}

extern "C" fn on_user_tick(timer: *mut uv::uv_timer_t) {
    // SAFETY: libuv calls back with the live handle, whose data is the
    // `TimerData` that `UserTimer` keeps until the handle is closed.
    let data = unsafe { &*uv::uv_handle_get_data(timer.cast()).cast::<TimerData>() };
    data.ticks.set(data.ticks.get() + 1);
    if data.ticks.get() == data.stop_at.get() {
        // SAFETY: the live, initialised timer of this callback.
        unsafe { uv::uv_timer_stop(timer) };
    }
}

extern "C" fn on_user_timer_closed(timer: *mut uv::uv_handle_t) {
    // SAFETY: as in `on_user_tick`: the data outlives the close callback.
    let data = unsafe { &*uv::uv_handle_get_data(timer).cast::<TimerData>() };
    data.closed.set(true);
}

impl UserTimer {
    /// An initialised timer on `raw`, not started.
    fn new(raw: &RawLoop) -> UserTimer {
        let ptr =
            NonNull::from(Box::leak(Box::new(MaybeUninit::<uv::uv_timer_t>::uninit()))).cast();
        let data = NonNull::from(Box::leak(Box::<TimerData>::default()));
        // SAFETY: `raw` is initialised; `ptr` is writable memory for a
        // `uv_timer_t` that stays in place until its close callback ran.
        let rc = unsafe { uv::uv_timer_init(raw.raw(), ptr.as_ptr()) };
        assert_eq!(rc, 0, "uv_timer_init");
        // SAFETY: an initialised handle; `data` lives as long as it.
        unsafe { uv::uv_handle_set_data(ptr.as_ptr().cast(), data.as_ptr().cast()) };
        UserTimer { ptr, data }
    }

    fn data(&self) -> &TimerData {
        // SAFETY: allocated in `new`, freed only in `drop`.
        unsafe { self.data.as_ref() }
    }

    /// Starts it every millisecond, stopping itself after `ticks` more ticks.
    fn start(&self, ticks: u32) {
        self.data().stop_at.set(self.data().ticks.get() + ticks);
        assert!(!self.is_closing(), "start after close");
        // SAFETY: an initialised timer, not closing (checked above:
        // starting a closing handle is undefined in libuv).
        let rc = unsafe { uv::uv_timer_start(self.ptr.as_ptr(), Some(on_user_tick), 1, 1) };
        assert_eq!(rc, 0, "uv_timer_start");
    }

    fn ticks(&self) -> u32 {
        self.data().ticks.get()
    }

    fn is_active(&self) -> bool {
        // SAFETY: an initialised handle whose memory is still ours.
        unsafe { uv::uv_is_active(self.ptr.as_ptr().cast()) != 0 }
    }

    fn is_closing(&self) -> bool {
        // SAFETY: an initialised handle whose memory is still ours.
        unsafe { uv::uv_is_closing(self.ptr.as_ptr().cast()) != 0 }
    }

    /// The owner closes it (`uv_close`); the close callback runs from the loop.
    fn close(&self) {
        assert!(!self.is_closing(), "closed twice");
        // SAFETY: an initialised timer not yet closing.
        unsafe { uv::uv_close(self.ptr.as_ptr().cast(), Some(on_user_timer_closed)) };
    }

    fn is_closed(&self) -> bool {
        self.data().closed.get()
    }
}

impl Drop for UserTimer {
    fn drop(&mut self) {
        if self.is_closed() {
            // SAFETY: both allocated in `new` as these very boxes; the
            // close callback ran, so libuv holds neither any more.
            unsafe {
                drop(Box::from_raw(
                    self.ptr.cast::<MaybeUninit<uv::uv_timer_t>>().as_ptr(),
                ));
                drop(Box::from_raw(self.data.as_ptr()));
            }
        }
    }
}

/// A PULL (bound) and a PUSH (connected) handle pair on `lp`.
fn pipe(lp: &Loop, ctx: &zmq::Context, tag: &str) -> (Zmq, Zmq) {
    let endpoint = inproc(tag);
    let pull = Zmq::new(lp, socket(ctx, zmq::PULL)).expect("PULL");
    pull.socket().bind(&endpoint).expect("bind");
    let push = Zmq::new(lp, socket(ctx, zmq::PUSH)).expect("PUSH");
    push.socket().connect(&endpoint).expect("connect");
    (pull, push)
}

/// Starts `pull` logging sequence numbers into the returned log.
fn logging(pull: &Zmq) -> Rc<RefCell<Vec<u64>>> {
    let got = log::<u64>();
    let g = got.clone();
    pull.start_read(move |_, msg| g.borrow_mut().push(seq_of(&msg.expect("message")[0])))
        .expect("start_read");
    got
}

/// On a loop created with `uv_loop_init` and run only by `uv_run`: a uzmq
/// PUSH/PULL pair carries messages while the owner's `uv_timer_t` ticks;
/// `uv_run(DEFAULT)` returns by itself once both are done.
#[test]
fn uzmq_handles_and_a_user_timer_under_uv_run() {
    let mut raw = RawLoop::new();
    let timer = UserTimer::new(&raw);
    let ctx = zmq::Context::new();
    // SAFETY: `raw` is declared before `lp` and its handles.
    let lp = unsafe { raw.attach() };
    let (pull, push) = pipe(&lp, &ctx, "raw-run");
    let got = log::<u64>();
    let g = got.clone();
    pull.start_read(move |h, msg| {
        g.borrow_mut().push(seq_of(&msg.expect("message")[0]));
        if g.borrow().len() == 100 {
            h.close();
        }
    })
    .expect("start_read");
    for i in 0..100 {
        push.write(seq(i)).expect("write");
    }
    timer.start(5);
    raw.run_until(&lp, "100 messages and 5 ticks under uv_run", || {
        got.borrow().len() == 100 && timer.ticks() == 5
    });
    assert_eq!(*got.borrow(), (0..100).collect::<Vec<_>>());
    assert!(pull.is_closed() && !push.is_active() && !timer.is_active());
    // Nothing is left active: one more run completes the closes and
    // `uv_run` reports the loop idle.
    assert_eq!(
        raw.run(uv::uv_run_mode_UV_RUN_NOWAIT),
        0,
        "the loop is idle"
    );
    assert_eq!(timer.ticks(), 5, "the timer stopped itself");

    timer.close();
    drop((pull, push, lp));
    assert_eq!(raw.run(uv::uv_run_mode_UV_RUN_NOWAIT), 0);
    assert!(timer.is_closed());
    assert_eq!(raw.close(), 0, "uv_loop_close once everything closed");
}

/// Dropping the `Loop` closes uzmq's handles, whose close callbacks run
/// only when the owner runs the loop again: until then `uv_loop_close`
/// refuses with `UV_EBUSY`, after one run it succeeds.
#[test]
fn loop_close_is_busy_until_the_owner_ran_the_loop_again() {
    let mut raw = RawLoop::new();
    let ctx = zmq::Context::new();
    {
        // SAFETY: `raw` is declared before `lp` and its handles.
        let lp = unsafe { raw.attach() };
        let (pull, push) = pipe(&lp, &ctx, "raw-busy");
        let got = logging(&pull);
        push.write(seq(7)).expect("write");
        let _remote = lp.remote();
        raw.run_until(&lp, "one message under uv_run", || !got.borrow().is_empty());
        // A handle still reading, one with a write queued, a timer armed.
        push.write(seq(8)).expect("write");
        let timer = uzmq::Timer::new(&lp).expect("timer");
        timer
            .start(
                std::time::Duration::from_secs(60),
                std::time::Duration::ZERO,
                |_| {},
            )
            .expect("start");
        drop((pull, push, timer, lp));
    }
    assert_eq!(
        raw.close(),
        uv::uv_errno_t_UV_EBUSY,
        "uzmq's handles are still closing before the owner ran the loop"
    );
    assert_eq!(
        raw.run(uv::uv_run_mode_UV_RUN_NOWAIT),
        0,
        "nothing left active"
    );
    assert_eq!(raw.close(), 0, "uv_loop_close after the owner ran the loop");
}

/// Two `Loop::from_raw` on one raw loop are two independent `Loop`s:
/// dropping one closes its handles (their callbacks dropped uncalled) and
/// leaves the other's working.
#[test]
fn two_loops_on_one_raw_loop_are_independent() {
    let mut raw = RawLoop::new();
    let ctx = zmq::Context::new();
    // SAFETY: `raw` is declared before both loops and their handles.
    let (first, second) = unsafe { (raw.attach(), raw.attach()) };
    assert!(first != second, "two Loop values");
    let (pull1, push1) = pipe(&first, &ctx, "raw-first");
    let (pull2, push2) = pipe(&second, &ctx, "raw-second");
    let got1 = logging(&pull1);
    let got2 = logging(&pull2);
    push1.write(seq(1)).expect("write");
    push2.write(seq(2)).expect("write");
    raw.run_until(&second, "a message on each loop", || {
        got1.borrow().len() == 1 && got2.borrow().len() == 1
    });

    drop(first);
    assert!(
        pull1.is_closed() && push1.is_closed(),
        "the first loop's handles closed"
    );
    assert_eq!(push1.write(seq(3)), Err(Error::Closed));
    assert!(
        !pull2.is_closed() && !push2.is_closed(),
        "the second loop's handles are untouched"
    );
    for i in 10..20 {
        push2.write(seq(i)).expect("write");
    }
    raw.run_until(
        &second,
        "the second loop's messages after the first went",
        || got2.borrow().len() == 11,
    );
    assert_eq!(
        *got2.borrow(),
        [2].into_iter().chain(10..20).collect::<Vec<_>>()
    );
    assert_eq!(*got1.borrow(), [1], "nothing more on the closed handles");

    drop((pull1, push1, pull2, push2, second));
    assert_eq!(raw.run(uv::uv_run_mode_UV_RUN_NOWAIT), 0);
    assert_eq!(raw.close(), 0);
}

/// Functions posted from another thread through `Remote`, and messages
/// handed over by a `Sender` there, run under the owner's `uv_run` while a
/// reading uzmq handle keeps the loop alive (so the loop sleeps in the
/// kernel between them and must be woken).
#[test]
fn remote_and_sender_from_another_thread_under_uv_run() {
    let mut raw = RawLoop::new();
    let ctx = zmq::Context::new();
    // SAFETY: `raw` is declared before `lp` and its handles.
    let lp = unsafe { raw.attach() };
    let (pull, push) = pipe(&lp, &ctx, "raw-remote");
    let got = logging(&pull);
    let sender = push.sender(10).expect("sender");
    drop(push);
    let posted = Arc::new(Mutex::new(Vec::new()));
    let remote = lp.remote();
    let p = posted.clone();
    let peer = spawn_peer("poster", move || {
        for i in 0..100u64 {
            let p = p.clone();
            remote
                .post(move |_| p.lock().expect("posted").push(i))
                .expect("post to a live loop");
            sender.send(seq(i)).expect("send to a live handle");
        }
    });
    raw.run_until(
        &lp,
        "100 posts and 100 messages from the other thread",
        || posted.lock().expect("posted").len() == 100 && got.borrow().len() == 100,
    );
    peer.join(limit());
    assert_eq!(
        *posted.lock().expect("posted"),
        (0..100).collect::<Vec<_>>()
    );
    assert_eq!(*got.borrow(), (0..100).collect::<Vec<_>>());
    assert!(pull.is_active(), "the reader still keeps the loop alive");

    let remote = lp.remote();
    drop((pull, lp));
    assert!(remote.is_closed());
    assert_eq!(remote.post(|_| {}), Err(Error::Closed));
    assert_eq!(raw.run(uv::uv_run_mode_UV_RUN_NOWAIT), 0);
    assert_eq!(raw.close(), 0);
}

/// uzmq's drop closes uzmq's handles only: the owner's timer on the same
/// loop stays initialised and active, goes on ticking, and is closed by
/// its owner.
#[test]
fn the_owners_handle_survives_uzmqs_drop() {
    let mut raw = RawLoop::new();
    let timer = UserTimer::new(&raw);
    let ctx = zmq::Context::new();
    {
        // SAFETY: `raw` is declared before `lp` and its handles.
        let lp = unsafe { raw.attach() };
        let (pull, push) = pipe(&lp, &ctx, "raw-owner");
        let got = logging(&pull);
        push.write(seq(0)).expect("write");
        timer.start(3);
        raw.run_until(&lp, "a message and 3 ticks", || {
            got.borrow().len() == 1 && timer.ticks() == 3
        });
        timer.start(1_000_000);
        drop((pull, push, lp));
    }
    raw.run(uv::uv_run_mode_UV_RUN_NOWAIT);
    assert!(
        timer.is_active() && !timer.is_closing(),
        "uzmq's drop left the owner's timer alone"
    );
    // It still ticks: run until it did twice more (bounded: 1 ms ticks).
    let from = timer.ticks();
    for _ in 0..10_000 {
        if timer.ticks() >= from + 2 {
            break;
        }
        raw.run(uv::uv_run_mode_UV_RUN_ONCE);
    }
    assert!(timer.ticks() >= from + 2, "the owner's timer kept ticking");
    timer.close();
    assert_eq!(raw.run(uv::uv_run_mode_UV_RUN_NOWAIT), 0);
    assert!(timer.is_closed(), "the owner closed its timer");
    assert_eq!(raw.close(), 0);
}

/// A null loop pointer is refused with `Err(Closed)`.
#[test]
fn from_raw_null_is_closed() {
    // SAFETY: a null pointer is checked before anything reads it.
    let lp = unsafe { Loop::from_raw(ptr::null_mut()) };
    assert!(matches!(lp, Err(Error::Closed)), "{lp:?}");
}
