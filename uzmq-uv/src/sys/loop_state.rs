//! The `uv_loop_t`: allocation (or borrowing one someone else owns),
//! `uv_run`, the context its callbacks reach through their handle's
//! `data`, and the teardown when the last `UvLoop` goes.

use std::any::Any;
use std::cell::Cell;
use std::ffi::c_void;
use std::mem::{self, MaybeUninit};
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;
use std::rc::Rc;

use libuv_sys2::{self as uv, uv_check_t, uv_handle_t, uv_idle_t, uv_loop_t};
use uzmq_core::{Error, LoopCallback, Result, RunMode};

use super::error::check;
use super::handle::detach_and_close;
use super::turn;

/// Where in a `uv_run` iteration a callback of this crate runs, as far as
/// the turn cares.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    /// An I/O callback (a poll, async or signal handle's): libuv runs the
    /// check phase after the poll phase, before it can block again.
    Io,
    /// Anything else: a timer, the check phase, or outside any callback.
    Other,
}

/// A caught panic payload.
type Payload = Box<dyn Any + Send>;

/// What callbacks need of their loop, reached from C through the `data` of
/// each handle of this crate (see `handle::ctx_of`): the loop's own `data`
/// is left to its owner.
///
/// A heap block of its own, apart from the `Rc` the Rust side shares, so
/// that C callbacks run during teardown (inside `RawLoop::drop`, which holds
/// `&mut RawLoop`) only ever borrow this block, shared, through `Cell`s.
/// One per `UvLoop`, so two of them on one `uv_loop_t` stay apart.
pub(crate) struct LoopCtx {
    raw: *mut uv_loop_t,
    /// The turn hook; taken out while it runs so no borrow is held then.
    hook: Cell<Option<LoopCallback>>,
    /// Whether the check phase runs the hook.
    armed: Cell<bool>,
    /// The turn's idle handle (see `turn`), once made.
    idle: Cell<Option<NonNull<uv_idle_t>>>,
    /// Whether that idle handle is started.
    idle_started: Cell<bool>,
    /// The turn's check handle (see `turn`), once made.
    check: Cell<Option<NonNull<uv_check_t>>>,
    /// Whether that check handle is started.
    check_started: Cell<bool>,
    /// Where libuv keeps its `loop_count`, on a libuv whose private layout
    /// is known ([`loop_count_field`]); `None`: asked of libuv each time.
    loop_count_field: Option<NonNull<u64>>,
    /// Which phase the callback of ours that is running belongs to.
    phase: Cell<Phase>,
    /// Inside `uv_run` (libuv forbids running a loop from its own callback).
    running: Cell<bool>,
    /// Teardown has begun: no user callback may run any more.
    tearing_down: Cell<bool>,
    /// The first panic caught in a callback, resumed by `run`.
    panic: Cell<Option<Payload>>,
}

impl LoopCtx {
    /// Runs user code `f` from a C callback: a panic must not unwind into C
    /// (that aborts), so it is caught, kept (first one wins), and the loop
    /// told to stop; `run` resumes it once `uv_run` has returned.
    // Always: it wraps every callback, and as a call of its own it costs
    // as much as the little it does.
    #[inline(always)]
    pub(crate) fn guard(&self, f: impl FnOnce()) {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
            match self.panic.take() {
                None => self.panic.set(Some(payload)),
                Some(first) => {
                    self.panic.set(Some(first));
                    drop_quietly(payload);
                }
            }
            // SAFETY: `raw` is this context's loop, initialised and not
            // closed while its context is reachable; `uv_stop` only sets a
            // flag and may be called from a callback.
            unsafe { uv::uv_stop(self.raw) }
        }
    }

    /// Whether teardown has begun (then no user callback may run).
    pub(crate) fn tearing_down(&self) -> bool {
        self.tearing_down.get()
    }

    /// Arms or disarms the turn.
    pub(crate) fn set_armed(&self, armed: bool) {
        self.armed.set(armed);
    }

    /// Whether the turn is armed.
    pub(crate) fn armed(&self) -> bool {
        self.armed.get()
    }

    /// The turn's idle handle and whether it is started.
    pub(crate) fn idle(&self) -> (Option<NonNull<uv_idle_t>>, &Cell<bool>) {
        (self.idle.get(), &self.idle_started)
    }

    /// Records the turn's idle handle, made (stopped) after this context.
    pub(crate) fn set_idle(&self, idle: NonNull<uv_idle_t>) {
        self.idle.set(Some(idle));
    }

    /// The turn's check handle and whether it is started.
    pub(crate) fn check(&self) -> (Option<NonNull<uv_check_t>>, &Cell<bool>) {
        (self.check.get(), &self.check_started)
    }

    /// libuv's count of loop iterations (`uv_metrics_info`'s `loop_count`).
    /// libuv moves it on just before each poll phase, so it is the same
    /// number all through one iteration's poll and check phases.
    ///
    /// Read where libuv keeps it when its place is known: the core asks on
    /// every fd signal, and `uv_metrics_info` copies 128 bytes each time.
    #[inline]
    pub(crate) fn iteration(&self) -> u64 {
        match self.loop_count_field {
            // SAFETY: the field lies in the loop's internal block, which
            // libuv allocates in `uv_loop_init` and frees in
            // `uv_loop_close`; the loop is open while its context is
            // reachable. Only this thread (the loop's) writes it, between
            // our callbacks, so the read races with nothing.
            Some(field) => unsafe { field.read() },
            None => self.loop_count(),
        }
    }

    /// libuv's `loop_count`, asked of libuv.
    pub(crate) fn loop_count(&self) -> u64 {
        loop_count_of(self.raw)
    }

    /// Records the turn's check handle, made (stopped) after this context.
    pub(crate) fn set_check(&self, check: NonNull<uv_check_t>) {
        self.check.set(Some(check));
    }

    /// Marks a callback of `phase` as running; returns the phase to
    /// restore after it.
    pub(crate) fn enter_phase(&self, phase: Phase) -> Phase {
        self.phase.replace(phase)
    }

    /// The phase of the callback of ours that is running ([`Phase::Other`]
    /// outside any).
    pub(crate) fn phase(&self) -> Phase {
        self.phase.get()
    }

    /// The check phase: runs the turn hook if armed.
    pub(crate) fn run_turn(&self) {
        if !self.armed.get() || self.tearing_down() {
            return;
        }
        // Taken out of its cell while it runs: the hook may arm/disarm the
        // turn, or even install another hook, without any borrow conflict.
        let Some(mut hook) = self.hook.take() else {
            return;
        };
        self.guard(|| hook(self.iteration()));
        match self.hook.take() {
            None => self.hook.set(Some(hook)),
            // Replaced while it ran: keep the new one.
            Some(newer) => {
                self.hook.set(Some(newer));
                self.guard(move || drop(hook));
            }
        }
    }
}

/// libuv's `loop_count` of the initialised loop `raw`, through its API.
fn loop_count_of(raw: *mut uv_loop_t) -> u64 {
    let mut metrics = MaybeUninit::<uv::uv_metrics_t>::uninit();
    // SAFETY: the caller's loop is initialised and open, and
    // `uv_metrics_info` only copies the loop's metrics into `metrics` (it
    // always succeeds), which initialises it.
    unsafe {
        uv::uv_metrics_info(raw, metrics.as_mut_ptr());
        metrics.assume_init().loop_count
    }
}

/// The start of libuv's private `uv__loop_internal_fields_t` (in
/// `src/uv-common.h`), which the public `internal_fields` of a `uv_loop_t`
/// points to: `unsigned int flags`, then the loop's metrics, whose first
/// field is the `uv_metrics_t` that begins with `loop_count`.
#[repr(C)]
struct InternalFieldsStart {
    flags: std::ffi::c_uint,
    loop_count: u64,
}

/// The libuv minor versions (of 1.x) whose internal fields start as
/// [`InternalFieldsStart`] says, checked against their sources: the one
/// `libuv-sys2` builds (its `pkg-config` probe takes no other). Another
/// libuv is asked through `uv_metrics_info`, slower but always right, and
/// a unit test says so, to have the new sources checked.
const KNOWN_LAYOUTS: std::ops::RangeInclusive<u32> = 53..=53;

/// Where the initialised loop `raw` keeps its `loop_count`, when the libuv
/// running is one of [`KNOWN_LAYOUTS`] and the field there reads what
/// `uv_metrics_info` says.
fn loop_count_field(raw: *mut uv_loop_t) -> Option<NonNull<u64>> {
    // SAFETY: `uv_version` only returns a constant.
    let version = unsafe { uv::uv_version() };
    let (major, minor) = (version >> 16, (version >> 8) & 0xff);
    if major != 1 || !KNOWN_LAYOUTS.contains(&minor) {
        return None;
    }
    // SAFETY: `raw` is an initialised loop (the caller's), whose public
    // `internal_fields` `uv_loop_init` set to its internal block, which
    // starts as `InternalFieldsStart` on these versions (above).
    let start = NonNull::new(unsafe { (*raw).internal_fields }.cast::<InternalFieldsStart>())?;
    // SAFETY: a field of that live block.
    let field = unsafe { NonNull::new_unchecked(&raw mut (*start.as_ptr()).loop_count) };
    // SAFETY: as in `LoopCtx::iteration`.
    (unsafe { field.read() } == loop_count_of(raw)).then_some(field)
}

/// Drops a second panic payload without letting its own `Drop` unwind.
fn drop_quietly(payload: Payload) {
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        mem::forget(again);
    }
}

/// An initialised `uv_loop_t` and its context; dropping it closes every
/// handle of this crate still open on it and, for a loop it owns, runs
/// their close callbacks and closes the loop.
pub(crate) struct RawLoop {
    raw: NonNull<uv_loop_t>,
    ctx: NonNull<LoopCtx>,
    /// Created here (closed and freed by teardown), or someone else's.
    owned: bool,
}

impl RawLoop {
    fn new() -> Result<RawLoop> {
        let raw = Box::into_raw(Box::new(MaybeUninit::<uv_loop_t>::uninit())).cast::<uv_loop_t>();
        // SAFETY: `raw` is writable, aligned memory of `uv_loop_t`'s size
        // that never moves (its own heap block), as `uv_loop_init` requires.
        if let Err(e) = check(unsafe { uv::uv_loop_init(raw) }) {
            // SAFETY: a failed `uv_loop_init` undoes its own work and keeps
            // no pointer to the loop, which must then not be closed: free it.
            drop(unsafe { Box::from_raw(raw.cast::<MaybeUninit<uv_loop_t>>()) });
            return Err(e);
        }
        // SAFETY: from `Box::into_raw`, never null.
        let raw = unsafe { NonNull::new_unchecked(raw) };
        Ok(RawLoop::attach(raw, true))
    }

    /// Puts this crate's context on an initialised loop.
    fn attach(raw: NonNull<uv_loop_t>, owned: bool) -> RawLoop {
        let ctx = NonNull::from(Box::leak(Box::new(LoopCtx {
            raw: raw.as_ptr(),
            hook: Cell::new(None),
            armed: Cell::new(false),
            idle: Cell::new(None),
            idle_started: Cell::new(false),
            phase: Cell::new(Phase::Other),
            check: Cell::new(None),
            check_started: Cell::new(false),
            loop_count_field: loop_count_field(raw.as_ptr()),
            running: Cell::new(false),
            tearing_down: Cell::new(false),
            panic: Cell::new(None),
        })));
        RawLoop { raw, ctx, owned }
    }

    /// The context, as handles carry it in their `data`.
    pub(crate) fn ctx_ptr(&self) -> *const LoopCtx {
        self.ctx.as_ptr()
    }

    /// The loop, for `uv_*_init` calls.
    pub(crate) fn as_ptr(&self) -> *mut uv_loop_t {
        self.raw.as_ptr()
    }

    /// The loop's context.
    #[inline]
    pub(crate) fn ctx(&self) -> &LoopCtx {
        // SAFETY: freed only at the end of `drop`, after every borrow of
        // `self` has ended.
        unsafe { self.ctx.as_ref() }
    }
}

impl Drop for RawLoop {
    fn drop(&mut self) {
        let lp = self.as_ptr();
        {
            let ctx = self.ctx();
            ctx.tearing_down.set(true);
            // The hook is user code: dropped now, never called again.
            let hook = ctx.hook.take();
            ctx.guard(move || drop(hook));
        }
        // Detach and close every handle of ours: their callbacks are taken
        // out and dropped here, uncalled, and their close callbacks, which
        // find no context, only free the blocks. A callback dropped here
        // may own handles of this loop: their `Drop` finds the loop gone
        // (teardown starts only once its last `Rc` is gone) and leaves them
        // to this walk, which sees every handle, closing ones included.
        let ctx = self.ctx_ptr();
        // SAFETY: the loop is initialised and not closed; `detach_ours`
        // matches `uv_walk_cb` and gets `ctx`, live until the end of this
        // function; uv_walk tolerates `uv_close` from its callback (it
        // walks a detached copy of the handle queue).
        unsafe { uv::uv_walk(lp, Some(detach_ours), ctx.cast_mut().cast()) };
        if self.owned {
            // Let the loop run the close callbacks, which free the blocks,
            // then close it. A few rounds bound the loop should libuv ever
            // disagree.
            for _ in 0..16 {
                // SAFETY: the loop is initialised and not closed.
                if unsafe { uv::uv_loop_alive(lp) } == 0 {
                    break;
                }
                // SAFETY: not re-entrant: teardown runs only when the last
                // `Rc` is dropped, which cannot happen inside `run` (it
                // borrows one). NOWAIT: only close callbacks are left.
                unsafe { uv::uv_run(lp, uv::uv_run_mode_UV_RUN_NOWAIT) };
            }
            // SAFETY: no callback of the loop can run any more (none is
            // inside `uv_run`); `uv_loop_close` is called once.
            let rc = unsafe { uv::uv_loop_close(lp) };
            debug_assert_eq!(rc, 0, "uzmq-uv: uv_loop_close failed in teardown");
            if rc == 0 {
                // SAFETY: the loop is closed: libuv holds no pointer into it
                // any more, and it came from `Box<MaybeUninit<uv_loop_t>>`.
                drop(unsafe { Box::from_raw(lp.cast::<MaybeUninit<uv_loop_t>>()) });
            }
            // else leak it: libuv may still point into it, freeing would be worse.
        }
        // A borrowed loop is its owner's: never closed here. Its owner's
        // next run calls the close callbacks, which need no context.

        // SAFETY: from `Box::into_raw` in `new`; no callback can borrow it
        // any more (the loop no longer runs) and `ctx()` borrows have ended.
        let ctx = unsafe { Box::from_raw(self.ctx.as_ptr()) };
        let panic = ctx.panic.take();
        drop(ctx);
        // A user Drop panicked during teardown: pass it on, unless this
        // drop is itself part of an unwind (a second panic would abort).
        if let Some(payload) = panic {
            if std::thread::panicking() {
                drop_quietly(payload);
            } else {
                panic::resume_unwind(payload);
            }
        }
    }
}

/// `uv_walk` callback of teardown: detaches and closes the handles of the
/// context `arg`, dropping their callbacks uncalled.
unsafe extern "C" fn detach_ours(handle: *mut uv_handle_t, arg: *mut c_void) {
    let ctx = arg.cast_const().cast::<LoopCtx>();
    // SAFETY: uv_walk passes live handles of the walked loop; `arg` is the
    // context of the `RawLoop` being torn down, live for the whole walk.
    let callback = unsafe { detach_and_close(handle, ctx) };
    if let Some(callback) = callback {
        // SAFETY: as above. User code runs in the callback's Drop: never
        // let it unwind into C.
        unsafe { &*ctx }.guard(move || drop(callback));
    }
}

/// The loop as the Rust side shares it (inside the `Rc` of `UvLoop`): the
/// raw loop and its turn. Handles hold a `Weak` to it as a liveness token.
pub(crate) struct LoopState {
    raw: RawLoop,
}

impl LoopState {
    /// A fresh loop with its turn handles.
    pub(crate) fn new() -> Result<Rc<LoopState>> {
        LoopState::with(RawLoop::new()?)
    }

    /// This crate's context and turn handles on a loop someone else owns.
    ///
    /// # Safety
    ///
    /// `raw` is an initialised loop of the libuv this crate links, used on
    /// this thread only, that outlives the returned state and every handle
    /// made on it (their memory is freed by the owner's next run after the
    /// state is gone).
    pub(crate) unsafe fn borrowed(raw: NonNull<uv_loop_t>) -> Result<Rc<LoopState>> {
        LoopState::with(RawLoop::attach(raw, false))
    }

    fn with(raw: RawLoop) -> Result<Rc<LoopState>> {
        // On failure `raw` is dropped, and its teardown closes whatever
        // turn handle was already initialised.
        turn::create(&raw)?;
        Ok(Rc::new(LoopState { raw }))
    }

    /// The loop, for `uv_*_init` calls.
    pub(crate) fn loop_ptr(&self) -> *mut uv_loop_t {
        self.raw.as_ptr()
    }

    /// The context handles carry in their `data`.
    pub(crate) fn ctx_ptr(&self) -> *const LoopCtx {
        self.raw.ctx_ptr()
    }

    /// `uv_run`; resumes a panic caught in a callback of this run.
    pub(crate) fn run(&self, mode: RunMode) -> Result<bool> {
        let ctx = self.raw.ctx();
        if ctx.running.replace(true) {
            return Err(Error::Reentrant);
        }
        let mode = match mode {
            RunMode::Default => uv::uv_run_mode_UV_RUN_DEFAULT,
            RunMode::Once => uv::uv_run_mode_UV_RUN_ONCE,
            RunMode::NoWait => uv::uv_run_mode_UV_RUN_NOWAIT,
        };
        // SAFETY: the loop is initialised and open while `self` lives, and
        // not already running (the flag above): libuv forbids calling
        // `uv_run` from a callback of the same loop. Trampolines catch
        // every panic, so nothing unwinds through it.
        let rc = unsafe { uv::uv_run(self.loop_ptr(), mode) };
        ctx.running.set(false);
        if let Some(payload) = ctx.panic.take() {
            panic::resume_unwind(payload);
        }
        Ok(rc != 0)
    }

    /// `uv_stop`.
    pub(crate) fn stop(&self) {
        // SAFETY: the loop is initialised and open while `self` lives.
        unsafe { uv::uv_stop(self.loop_ptr()) }
    }

    /// `uv_now`.
    pub(crate) fn now(&self) -> u64 {
        // SAFETY: the loop is initialised and open while `self` lives.
        unsafe { uv::uv_now(self.loop_ptr()) }
    }

    /// `uv_update_time`.
    pub(crate) fn update_time(&self) {
        // SAFETY: the loop is initialised and open while `self` lives;
        // `uv_update_time` only refreshes `loop->time` from the clock.
        unsafe { uv::uv_update_time(self.loop_ptr()) }
    }

    /// `uv_loop_alive`.
    pub(crate) fn alive(&self) -> bool {
        // SAFETY: the loop is initialised and open while `self` lives.
        unsafe { uv::uv_loop_alive(self.loop_ptr()) != 0 }
    }

    /// Installs the turn hook, dropping the previous one.
    pub(crate) fn set_turn_hook(&self, hook: LoopCallback) {
        drop(self.raw.ctx().hook.replace(Some(hook)));
    }

    /// The number of the iteration under way (see `LoopCtx::iteration`).
    #[inline]
    pub(crate) fn iteration(&self) -> u64 {
        self.raw.ctx().iteration()
    }

    /// Whether the turn's check handle is started.
    #[cfg(test)]
    pub(crate) fn checking(&self) -> bool {
        self.raw.ctx().check().1.get()
    }

    /// libuv's `loop_count`, asked of libuv.
    #[cfg(test)]
    pub(crate) fn loop_count(&self) -> u64 {
        self.raw.ctx().loop_count()
    }

    /// Whether the iteration's number is read where libuv keeps it.
    #[cfg(test)]
    pub(crate) fn reads_loop_count_directly(&self) -> bool {
        self.raw.ctx().loop_count_field.is_some()
    }

    /// Arms or disarms the turn.
    pub(crate) fn arm_turn(&self, armed: bool) {
        turn::arm(self.raw.ctx(), armed);
    }
}
