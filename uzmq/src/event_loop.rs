//! `Loop`: a libuv loop (`uv_loop_t`) with uzmq's handle bookkeeping.

use std::cell::RefCell;
use std::future::Future;
use std::ptr::NonNull;

use uzmq_core::{Error, EventLoop, Result, RunMode};
use uzmq_uv::UvLoop;

use crate::{Remote, uv};

/// A libuv event loop. Cheap to clone (a clone is another reference);
/// `!Send`: a loop and its handles live on one thread.
///
/// ```
/// use std::time::Duration;
/// use uzmq::{Loop, RunMode, Timer};
///
/// let lp = Loop::new()?;
/// let timer = Timer::new(&lp)?;
/// timer.start(Duration::from_millis(1), Duration::ZERO, |t| t.close())?;
/// assert!(lp.alive());
/// lp.run(RunMode::Default)?; // returns once nothing is active
/// assert!(!lp.alive());
/// # Ok::<(), uzmq::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Loop(pub(crate) EventLoop<UvLoop>);

thread_local! {
    static DEFAULT: RefCell<Option<Loop>> = const { RefCell::new(None) };
}

impl Loop {
    /// A fresh loop.
    pub fn new() -> Result<Loop> {
        Ok(Loop(EventLoop::new(UvLoop::new()?)))
    }

    /// The calling thread's default loop: every call on one thread returns
    /// the same loop, another thread gets another. It lives until its
    /// thread ends.
    pub fn default_loop() -> Result<Loop> {
        DEFAULT.with(|default| {
            if let Some(lp) = default.borrow().as_ref() {
                return Ok(lp.clone());
            }
            let lp = Loop::new()?;
            *default.borrow_mut() = Some(lp.clone());
            Ok(lp)
        })
    }

    /// Runs the loop (`uv_run`): `Ok(true)` when active handles or
    /// requests remain. `Err(Error::Reentrant)` from inside one of this
    /// loop's callbacks. A panic in a callback stops the run and resumes
    /// from here; the loop stays usable.
    pub fn run(&self, mode: RunMode) -> Result<bool> {
        self.0.run(mode)
    }

    /// Makes `run` return after this iteration (`uv_stop`).
    pub fn stop(&self) {
        self.0.stop()
    }

    /// Loop time in milliseconds (`uv_now`). It is cached: the loop
    /// refreshes it at the start of each iteration, and
    /// [`update_time`](Loop::update_time) on demand.
    pub fn now(&self) -> u64 {
        self.0.now()
    }

    /// Refreshes the cached loop time (`uv_update_time`), for instance
    /// after long work outside the loop. [`Timer::start`](crate::Timer::start)
    /// does it itself.
    pub fn update_time(&self) {
        self.0.update_time()
    }

    /// Whether anything is active or closing (`uv_loop_alive`), or
    /// posted work waits.
    pub fn alive(&self) -> bool {
        self.0.alive()
    }

    /// Runs the loop until `fut` completes and returns its output; other
    /// handles and tasks run meanwhile. `fut` is polled on this thread
    /// (it need not be `Send` or `'static`). `Err(Error::Reentrant)` from
    /// inside a callback or task of this loop; a panic in a callback or
    /// task resumes from here.
    ///
    /// ```
    /// use std::time::Duration;
    /// use uzmq::{zmq, Loop, Timer, Zmq};
    ///
    /// let ctx = zmq::Context::new();
    /// let lp = Loop::new()?;
    /// let pull = ctx.socket(zmq::PULL)?;
    /// pull.bind("inproc://block-on")?;
    /// let push = ctx.socket(zmq::PUSH)?;
    /// push.connect("inproc://block-on")?;
    /// let (reader, writer) = (Zmq::new(&lp, pull)?, Zmq::new(&lp, push)?);
    ///
    /// let got = lp.block_on(async {
    ///     Timer::sleep(&lp, Duration::from_millis(1)).await;
    ///     writer.send(["hello"]).await?;
    ///     reader.recv().await
    /// })??;
    /// assert_eq!(&got[0][..], b"hello");
    /// # Ok::<(), uzmq::Error>(())
    /// ```
    pub fn block_on<F: Future>(&self, fut: F) -> Result<F::Output> {
        self.0.block_on(fut)
    }

    /// Runs `fut` as a task on this loop: first polled from the loop's
    /// next turn (never inside this call), then each time it is woken, in
    /// the order tasks were woken, under the same per-iteration bound as
    /// handles. A wake on the loop's thread costs no system call; a wake
    /// from another thread goes through the loop's [`Remote`]. A task that
    /// is ready to be polled is work for `run(RunMode::Default)`; one that
    /// waits keeps the loop alive only through what it waits on (a pending
    /// `recv()`, `send()`, `ready()` or `sleep()` does). When the loop
    /// goes, its tasks are cancelled. A panic in a task resumes from
    /// [`run`](Self::run) (or [`block_on`](Self::block_on)).
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use uzmq::{Loop, RunMode};
    ///
    /// let lp = Loop::new()?;
    /// let done = Rc::new(Cell::new(false));
    /// let d = done.clone();
    /// lp.spawn_local(async move { d.set(true) })?;
    /// assert!(!done.get(), "never polled inside spawn_local");
    /// lp.run(RunMode::Default)?;
    /// assert!(done.get());
    /// # Ok::<(), uzmq::Error>(())
    /// ```
    pub fn spawn_local(&self, fut: impl Future<Output = ()> + 'static) -> Result<()> {
        self.0.spawn_local(fut)
    }

    /// A door into this loop for other threads (see [`Remote`]). Every
    /// call returns a door to the same `uv_async_t`, made on the first.
    pub fn remote(&self) -> Remote {
        Remote(self.0.remote())
    }

    /// The `uv_loop_t`, for `uv_*_init` of libuv handles of your own on
    /// this loop (through [`uzmq::uv`](crate::uv)). uzmq's handles keep
    /// working when the loop is run by `uv::uv_run` instead of
    /// [`run`](Self::run) (`run` is `uv_run` plus the re-entrancy guard and
    /// the panic resumption). The pointer is valid while the loop lives:
    /// for a loop made by [`new`](Self::new), until its last clone is
    /// dropped (then the loop is closed and freed); for one from
    /// [`from_raw`](Self::from_raw), as long as its owner keeps it.
    ///
    /// ```
    /// use uzmq::{uv, Loop};
    ///
    /// let lp = Loop::new()?;
    /// let raw = lp.as_raw();
    /// // SAFETY: `raw` is a live loop of the libuv uzmq links.
    /// assert_eq!(unsafe { uv::uv_loop_alive(raw) }, 0);
    /// # Ok::<(), uzmq::Error>(())
    /// ```
    pub fn as_raw(&self) -> *mut uv::uv_loop_t {
        self.0.reactor().as_raw()
    }

    /// uzmq on a loop someone else created and owns: its handles run when
    /// the owner runs the loop (with `uv::uv_run` or with
    /// [`run`](Self::run)). Dropping the last clone closes uzmq's handles
    /// on it, whose memory is freed once the owner runs the loop again,
    /// and never closes or frees the loop itself. Calling it twice for one
    /// loop gives two independent `Loop` values. `Err(Closed)` for a null
    /// pointer.
    ///
    /// A panic in a callback stops the owner's `uv_run` (it cannot unwind
    /// through libuv) and is resumed by the next [`run`](Self::run) of this
    /// `Loop`, or dropped with it. Do not call [`run`](Self::run) from a
    /// callback while the owner's `uv_run` runs the loop: libuv loops are
    /// not re-entrant, and this `Loop` cannot see that run.
    ///
    /// # Safety
    ///
    /// `raw` is an initialized loop of the libuv that uzmq links (the one
    /// [`uzmq::uv`](crate::uv) re-exports; another copy of libuv on the
    /// same loop is undefined behaviour), used on this thread only, that
    /// outlives the returned `Loop`, its clones and its handles (it may be
    /// closed once the owner has run it after dropping them, so that the
    /// close callbacks ran).
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    /// use uzmq::{uv, Loop, RunMode, Timer};
    /// use std::time::Duration;
    ///
    /// let mut raw = Box::new(MaybeUninit::<uv::uv_loop_t>::uninit());
    /// let raw = raw.as_mut_ptr();
    /// // SAFETY: writable memory of the right size that does not move.
    /// assert_eq!(unsafe { uv::uv_loop_init(raw) }, 0);
    /// // SAFETY: an initialised loop of uzmq's libuv, on this thread, that
    /// // outlives `lp` (closed below, after `lp` is dropped and it ran).
    /// let lp = unsafe { Loop::from_raw(raw) }?;
    /// let timer = Timer::new(&lp)?;
    /// timer.start(Duration::from_millis(1), Duration::ZERO, |t| t.close())?;
    /// // SAFETY: the owner runs its loop; uzmq's handles run with it.
    /// unsafe { uv::uv_run(raw, uv::uv_run_mode_UV_RUN_DEFAULT) };
    /// assert!(timer.is_closed());
    /// drop((timer, lp));
    /// // SAFETY: as above; uzmq left its handles closing: one more run
    /// // frees them, then the loop can be closed.
    /// unsafe { uv::uv_run(raw, uv::uv_run_mode_UV_RUN_NOWAIT) };
    /// assert_eq!(unsafe { uv::uv_loop_close(raw) }, 0);
    /// # Ok::<(), uzmq::Error>(())
    /// ```
    #[allow(unsafe_code)]
    pub unsafe fn from_raw(raw: *mut uv::uv_loop_t) -> Result<Loop> {
        let raw = NonNull::new(raw).ok_or(Error::Closed)?;
        // SAFETY: the caller's contract is `UvLoop::from_raw`'s, word for word.
        let reactor = unsafe { UvLoop::from_raw(raw) }?;
        Ok(Loop(EventLoop::new(reactor)))
    }
}

impl PartialEq for Loop {
    fn eq(&self, other: &Loop) -> bool {
        self.0.ptr_eq(&other.0)
    }
}

impl Eq for Loop {}
