//! `Loop`: a libuv loop (`uv_loop_t`) with uzmq's handle bookkeeping.

use std::cell::RefCell;

use uzmq_core::{EventLoop, Result, RunMode};
use uzmq_uv::UvLoop;

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

    /// Whether anything is active or closing (`uv_loop_alive`).
    pub fn alive(&self) -> bool {
        self.0.alive()
    }
}

impl PartialEq for Loop {
    fn eq(&self, other: &Loop) -> bool {
        self.0.ptr_eq(&other.0)
    }
}

impl Eq for Loop {}
