//! The timer handle behind uzmq's `Timer`: a loop timer with a callback
//! that gets the handle, close callbacks run from the loop, and the loop's
//! keep-alive rule (a started timer keeps working without user clones).
//!
//! Unlike a bare `uv_timer_start`, `start` and `again` refresh the loop's
//! cached time first: libuv measures a timer from the time it cached at the
//! start of the iteration, so a timer started after long work outside the
//! loop would fire early by the length of that work.

use std::rc::Rc;
use std::time::Duration;

use crate::callback_slot::{Lent, Slot};
use crate::event_loop::EventLoop;
use crate::handle_shell::{Kind, Shell};
use crate::{Error, RawTimer, Reactor, Result};

type FireCb<R> = dyn FnMut(&TimerHandle<R>);

/// Whether the timer was ever started: libuv's `timer_cb != NULL`, which
/// `again` needs. Whether a started timer will fire is the backend's to
/// say (a one-shot stops itself when it fires).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Timer {
    /// Never started: `again` is `Err(Zmq(EINVAL))`.
    Fresh,
    /// Started at least once.
    Started,
}

struct State<R: Reactor> {
    timer: Timer,
    cb: Slot<FireCb<R>>,
    /// The backend timer; `None` once closed.
    raw: Option<R::Timer>,
    /// The repeat interval as the backend keeps it; kept here too so that
    /// `repeat()` still answers once the raw timer is gone (closed).
    repeat: Duration,
}

/// The timer kind: all its state is in [`State`].
struct TimerKind;

type Inner<R> = Shell<R, TimerKind>;

impl<R: Reactor> Kind<R> for TimerKind {
    type State = State<R>;
    type Handle = TimerHandle<R>;
    type Taken = (Option<Box<FireCb<R>>>, Option<R::Timer>);

    fn handle(inner: Rc<Inner<R>>) -> TimerHandle<R> {
        TimerHandle { inner }
    }

    /// Started and due to fire. `close()` stopped the backend timer, so a
    /// closing timer is not active, as `uv_is_active` after `uv_close`.
    fn is_active(st: &State<R>) -> bool {
        match (st.timer, &st.raw) {
            (Timer::Started, Some(raw)) => raw.is_active(),
            (Timer::Started, None) | (Timer::Fresh, _) => false,
        }
    }

    fn close(st: &mut State<R>) -> Self::Taken {
        if let Some(raw) = st.raw.as_mut() {
            raw.stop();
        }
        (st.cb.clear(), None)
    }

    fn release(st: &mut State<R>) -> Self::Taken {
        (None, st.raw.take())
    }

    fn loop_gone(st: &mut State<R>) -> Self::Taken {
        (st.cb.clear(), st.raw.take())
    }
}

/// A timer on loop `R`. Cloning makes another reference to the same timer.
pub struct TimerHandle<R: Reactor> {
    inner: Rc<Inner<R>>,
}

impl<R: Reactor> Clone for TimerHandle<R> {
    fn clone(&self) -> Self {
        TimerHandle {
            inner: self.inner.clone(),
        }
    }
}

impl<R: Reactor> std::fmt::Debug for TimerHandle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerHandle")
            .field("active", &self.is_active())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<R: Reactor> TimerHandle<R> {
    /// A stopped timer.
    pub fn new(lp: &EventLoop<R>) -> Result<Self> {
        let inner = Shell::new(
            lp,
            TimerKind,
            State {
                timer: Timer::Fresh,
                cb: Slot::default(),
                raw: None,
                repeat: Duration::ZERO,
            },
        );
        let raw = lp.reactor().timer(inner.loop_callback(fire))?;
        inner.st.borrow_mut().raw = Some(raw);
        inner.register();
        Ok(TimerHandle { inner })
    }

    /// Starts (or restarts) the timer: `cb` after `timeout`, then every
    /// `repeat` unless it is zero. The loop time is refreshed first, so the
    /// first fire comes no earlier than `timeout` after this call.
    pub fn start(
        &self,
        timeout: Duration,
        repeat: Duration,
        cb: impl FnMut(&Self) + 'static,
    ) -> Result<()> {
        let old = {
            let mut st = self.inner.open_mut()?;
            let st = &mut *st;
            let Some(raw) = st.raw.as_mut() else {
                return Err(Error::Closed);
            };
            self.update_time()?;
            raw.start(timeout, repeat)?;
            st.timer = Timer::Started;
            st.repeat = raw.repeat();
            st.cb.replace(Box::new(cb))
        };
        drop(old);
        TimerKind::settle(&self.inner);
        Ok(())
    }

    /// `uv_timer_again`: restarts a repeating timer to fire `repeat()`
    /// from now (the loop time is refreshed first), keeping its callback;
    /// with a zero repeat it changes nothing. `Err(Zmq(EINVAL))` when the
    /// timer was never started, `Err(Closed)` once it is closed.
    pub fn again(&self) -> Result<()> {
        {
            let mut st = self.inner.open_mut()?;
            let st = &mut *st;
            let raw = match (st.timer, st.raw.as_mut()) {
                (Timer::Started, Some(raw)) => raw,
                (Timer::Fresh, Some(_)) => return Err(Error::Zmq(zmq::Error::EINVAL)),
                (_, None) => return Err(Error::Closed),
            };
            self.update_time()?;
            raw.again()?;
        }
        TimerKind::settle(&self.inner);
        Ok(())
    }

    /// Sets the repeat interval; it takes effect at the next fire, which
    /// schedules the one after it with the new interval (a fire schedules
    /// the next one before its callback runs, as libuv does).
    /// `Err(Closed)` once closed.
    pub fn set_repeat(&self, repeat: Duration) -> Result<()> {
        let mut st = self.inner.open_mut()?;
        let st = &mut *st;
        let Some(raw) = st.raw.as_mut() else {
            return Err(Error::Closed);
        };
        raw.set_repeat(repeat);
        st.repeat = raw.repeat();
        Ok(())
    }

    /// The repeat interval in loop resolution (whole milliseconds, rounded
    /// up, on every backend). On a closed timer, the last one it had.
    pub fn repeat(&self) -> Duration {
        self.inner.st.borrow().repeat
    }

    /// Time left before the next fire, measured from the loop time
    /// ([`EventLoop::now`], which lags behind the clock until the next
    /// iteration or [`EventLoop::update_time`]); zero when the timer is
    /// not active, closed included.
    pub fn due_in(&self) -> Duration {
        let st = self.inner.st.borrow();
        match &st.raw {
            Some(raw) if TimerKind::is_active(&st) => raw.due_in(),
            _ => Duration::ZERO,
        }
    }

    /// Stops the timer.
    pub fn stop(&self) -> Result<()> {
        {
            let mut st = self.inner.open_mut()?;
            match st.raw.as_mut() {
                Some(raw) => raw.stop(),
                None => return Err(Error::Closed),
            }
        }
        TimerKind::settle(&self.inner);
        Ok(())
    }

    /// Closes the timer.
    pub fn close(&self) {
        self.inner.close(None);
    }

    /// Closes the timer; `cb` runs once, from the loop.
    pub fn close_with(&self, cb: impl FnOnce(&Self) + 'static) {
        self.inner.close(Some(Box::new(cb)));
    }

    /// Started, will fire, and not closed.
    pub fn is_active(&self) -> bool {
        self.inner.is_active()
    }

    /// True once closing began.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The loop, or `Err(Closed)` once it is gone.
    pub fn event_loop(&self) -> Result<EventLoop<R>> {
        self.inner.event_loop()
    }

    /// Refreshes the loop's cached time; `Err(Closed)` when the loop is gone.
    fn update_time(&self) -> Result<()> {
        self.inner.event_loop().map(|lp| lp.update_time())
    }
}

/// The backend timer fired: the callback, then let the loop drop a
/// one-shot timer that is inactive now.
fn fire<R: Reactor>(inner: &Rc<Inner<R>>) {
    if inner.is_closed() {
        return;
    }
    let h = inner.handle();
    if let Some(mut cb) = Lent::take(&inner.st, |st| &mut st.cb) {
        (cb.get())(&h);
    }
    TimerKind::settle(inner);
}
