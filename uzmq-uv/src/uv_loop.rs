//! [`UvLoop`]: the `Reactor` implementation on a `uv_loop_t`.

use std::fmt;
use std::ptr::NonNull;
use std::rc::Rc;

use libuv_sys2::uv_loop_t;

use uzmq_core::{LoopCallback, RawFd, Reactor, Result, RunMode};

use crate::sys::{Async, LoopState, Poll, Signal, Timer};
use crate::{UvAsync, UvSignal, UvTimer, UvWatch};

/// A libuv loop: a cheap handle (an `Rc`) to one `uv_loop_t`.
///
/// Clones share the loop. When the last clone is dropped, every handle still
/// open on it is closed and its callback dropped without being called, then
/// the loop is closed and freed; [`UvWatch`]es and [`UvTimer`]s still held
/// then are inert. Not `Send`: a loop and its handles live on one thread.
#[derive(Clone)]
pub struct UvLoop {
    state: Rc<LoopState>,
}

impl UvLoop {
    /// Whether the turn's check handle is started (see `sys::turn`).
    #[cfg(test)]
    pub(crate) fn checking(&self) -> bool {
        self.state.checking()
    }

    /// libuv's `loop_count`, asked of libuv.
    #[cfg(test)]
    pub(crate) fn loop_count(&self) -> u64 {
        self.state.loop_count()
    }

    /// Whether the iteration's number is read where libuv keeps it.
    #[cfg(test)]
    pub(crate) fn reads_loop_count_directly(&self) -> bool {
        self.state.reads_loop_count_directly()
    }

    /// A fresh loop (`uv_loop_init` on a new heap-allocated `uv_loop_t`).
    pub fn new() -> Result<UvLoop> {
        Ok(UvLoop {
            state: LoopState::new()?,
        })
    }

    /// This crate on a loop someone else created and owns. Dropping the
    /// last clone closes this crate's handles on it (their memory is freed
    /// by the owner's next run of the loop) and never closes the loop.
    /// Each call makes an independent `UvLoop`, with handles of its own.
    ///
    /// # Safety
    ///
    /// `raw` is an initialised loop of the libuv this crate links (through
    /// `libuv-sys2`), used on this thread only, that outlives the returned
    /// `UvLoop` and every handle made on it.
    // The one unsafe item outside `sys`: its contract is the caller's.
    #[allow(unsafe_code)]
    pub unsafe fn from_raw(raw: NonNull<uv_loop_t>) -> Result<UvLoop> {
        // SAFETY: the caller's contract is `borrowed`'s.
        let state = unsafe { LoopState::borrowed(raw) }?;
        Ok(UvLoop { state })
    }

    /// The `uv_loop_t`, for `uv_*_init` of handles of your own. Valid while
    /// this loop (or, for a borrowed one, its owner) lives.
    pub fn as_raw(&self) -> *mut uv_loop_t {
        self.state.loop_ptr()
    }
}

impl fmt::Debug for UvLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UvLoop")
            .field("loop", &self.state.loop_ptr())
            .finish()
    }
}

impl Reactor for UvLoop {
    type Watch = UvWatch;
    type Timer = UvTimer;
    type Signal = UvSignal;
    type Async = UvAsync;

    /// Installs the hook run in the check phase while the turn is armed
    /// (replacing and dropping any previous one).
    ///
    /// The loop owns the hook until it is torn down: a hook that captures a
    /// clone of this `UvLoop` keeps the loop alive for ever, so hold a weak
    /// reference to whatever owns the loop instead.
    fn set_turn_hook(&self, hook: LoopCallback) {
        self.state.set_turn_hook(hook);
    }

    /// Armed: the idle handle is started, so `uv_run` does not block in poll
    /// and counts the loop as alive, and the check runs the hook once per
    /// iteration. Disarmed: the idle handle is stopped and nothing is left
    /// armed.
    fn arm_turn(&self, armed: bool) {
        self.state.arm_turn(armed);
    }

    #[inline]
    fn iteration(&self) -> u64 {
        self.state.iteration()
    }

    /// A stopped [`UvWatch`] of `fd`; fails with `Error::Uv` when libuv
    /// refuses the fd (`EBADF`, `EPERM` for a regular file, `EEXIST` when
    /// another started watch has it).
    fn watch(&self, fd: RawFd, on_readable: LoopCallback) -> Result<UvWatch> {
        Poll::new(&self.state, fd, on_readable).map(UvWatch::from_sys)
    }

    /// A stopped [`UvTimer`].
    fn timer(&self, on_fire: LoopCallback) -> Result<UvTimer> {
        Timer::new(&self.state, on_fire).map(UvTimer::from_sys)
    }

    /// A stopped [`UvSignal`]; fails with `Error::Uv` when libuv cannot
    /// create the loop's signal pipe.
    fn signal(&self, on_signal: LoopCallback) -> Result<UvSignal> {
        Signal::new(&self.state, on_signal).map(UvSignal::from_sys)
    }

    /// An unref'd [`UvAsync`].
    fn async_handle(&self, on_wake: LoopCallback) -> Result<UvAsync> {
        Async::new(&self.state, on_wake).map(UvAsync::from_sys)
    }

    /// `uv_run`: `Ok(true)` when active handles remain.
    ///
    /// `Err(Error::Reentrant)` when called from a callback of this loop
    /// (libuv cannot run a loop inside itself). A panic caught in a callback
    /// stops the loop after the current iteration and is resumed here; the
    /// loop stays usable.
    fn run(&self, mode: RunMode) -> Result<bool> {
        self.state.run(mode)
    }

    fn stop(&self) {
        self.state.stop();
    }

    fn now(&self) -> u64 {
        self.state.now()
    }

    /// `uv_update_time`.
    fn update_time(&self) {
        self.state.update_time();
    }

    fn alive(&self) -> bool {
        self.state.alive()
    }
}

/// The core's one conversion of timer durations, for the tests here.
#[cfg(test)]
pub(crate) use uzmq_core::millis_ceil;
