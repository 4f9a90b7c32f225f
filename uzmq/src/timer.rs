//! `Timer`: a libuv timer whose callback gets the timer.

use ref_cast::{RefCastCustom, ref_cast_custom};
use std::future::Future;
use std::time::Duration;

use uzmq_core::{Result, TimerHandle};
use uzmq_uv::UvLoop;

use crate::Loop;

/// A loop timer (`uv_timer_t`). Cloning makes another reference.
///
/// Durations are rounded up to whole milliseconds (libuv's resolution).
/// Unlike a bare `uv_timer_start`, [`start`](Timer::start) and
/// [`again`](Timer::again) refresh the loop time first, so a timer started
/// right after long work outside the loop fires no earlier than its
/// timeout after the call.
///
/// ```
/// use std::time::Duration;
/// use uzmq::{Loop, RunMode, Timer};
///
/// let lp = Loop::new()?;
/// let timer = Timer::new(&lp)?;
/// let mut ticks = 0;
/// timer.start(Duration::from_millis(1), Duration::from_millis(1), move |t| {
///     ticks += 1;
///     if ticks == 3 {
///         t.close(); // the loop has nothing left: `run` returns
///     }
/// })?;
/// assert_eq!(timer.repeat(), Duration::from_millis(1));
/// lp.run(RunMode::Default)?;
/// assert!(timer.is_closed());
/// # Ok::<(), uzmq::Error>(())
/// ```
#[derive(Clone, Debug, RefCastCustom)]
#[repr(transparent)]
pub struct Timer(TimerHandle<UvLoop>);

impl Timer {
    /// The handle a core callback got, as this type: a view of the same
    /// memory, so no reference count is touched per callback.
    #[ref_cast_custom]
    fn wrap(h: &TimerHandle<UvLoop>) -> &Self;
}

impl Timer {
    /// Resolves after `d` of loop time, counted from this call (the loop
    /// time is refreshed first). A pending sleep keeps the loop alive (its
    /// own timer is started); dropped, its timer is closed. Once the loop
    /// is gone it never resolves.
    ///
    /// ```
    /// use std::time::Duration;
    /// use uzmq::{Loop, Timer};
    ///
    /// let lp = Loop::new()?;
    /// let before = lp.now();
    /// lp.block_on(Timer::sleep(&lp, Duration::from_millis(5)))?;
    /// assert!(lp.now() >= before + 5);
    /// # Ok::<(), uzmq::Error>(())
    /// ```
    pub fn sleep(lp: &Loop, d: Duration) -> impl Future<Output = ()> + use<> {
        TimerHandle::sleep(&lp.0, d)
    }

    /// A stopped timer on `lp`.
    pub fn new(lp: &Loop) -> Result<Timer> {
        Ok(Timer(TimerHandle::new(&lp.0)?))
    }

    /// Calls `cb` after `timeout`, then every `repeat` (`Duration::ZERO`
    /// fires once). Restarts a started timer, replacing its callback. The
    /// loop time is refreshed first (`uv_update_time`), so the first fire
    /// comes no earlier than `timeout` after this call.
    pub fn start(
        &self,
        timeout: Duration,
        repeat: Duration,
        mut cb: impl FnMut(&Timer) + 'static,
    ) -> Result<()> {
        self.0.start(timeout, repeat, move |h| cb(Timer::wrap(h)))
    }

    /// Stops the timer.
    pub fn stop(&self) -> Result<()> {
        self.0.stop()
    }

    /// `uv_timer_again`: restarts a repeating timer so that it next fires
    /// [`repeat`](Timer::repeat) from now (the loop time is refreshed
    /// first), keeping its callback; a stopped timer with a repeat starts
    /// again. With a zero repeat it changes nothing.
    /// `Err(Error::Zmq(zmq::Error::EINVAL))` when the timer was never
    /// started, `Err(Error::Closed)` once it is closed.
    pub fn again(&self) -> Result<()> {
        self.0.again()
    }

    /// Sets the repeat interval (`uv_timer_set_repeat`), taking effect at
    /// the next fire, which schedules the one after it with the new
    /// interval: a one-shot timer given a repeat goes on firing, a
    /// repeating one given `Duration::ZERO` stops after its next fire.
    /// Inside the callback the current fire has already scheduled the next
    /// one with the old interval, so the change shows one fire later.
    /// `Err(Error::Closed)` once the timer is closed.
    pub fn set_repeat(&self, repeat: Duration) -> Result<()> {
        self.0.set_repeat(repeat)
    }

    /// The repeat interval, in whole milliseconds (rounded up); zero for a
    /// one-shot timer. On a closed timer, the last interval it had.
    pub fn repeat(&self) -> Duration {
        self.0.repeat()
    }

    /// Time left before the next fire, counted from the loop time
    /// ([`Loop::now`], refreshed each iteration and by
    /// [`Loop::update_time`]); zero when the timer is not active (stopped,
    /// fired for the last time, or closed).
    pub fn due_in(&self) -> Duration {
        self.0.due_in()
    }

    /// Closes the timer; its callback is dropped.
    pub fn close(&self) {
        self.0.close()
    }

    /// Closes the timer; `cb` runs once, from the loop.
    pub fn close_with(&self, cb: impl FnOnce(&Timer) + 'static) {
        self.0.close_with(move |h| cb(Timer::wrap(h)))
    }

    /// Started and will fire.
    pub fn is_active(&self) -> bool {
        self.0.is_active()
    }

    /// True once closing began.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// The loop, or `Err(Error::Closed)` once it is gone.
    pub fn event_loop(&self) -> Result<Loop> {
        self.0.event_loop().map(Loop)
    }
}
