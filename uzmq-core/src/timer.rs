//! The timer handle behind uzmq's `Timer`: a loop timer with a callback
//! that gets the handle, close callbacks run from the loop, and the loop's
//! keep-alive rule (a started timer keeps working without user clones).
//!
//! Unlike a bare `uv_timer_start`, `start` and `again` refresh the loop's
//! cached time first: libuv measures a timer from the time it cached at the
//! start of the iteration, so a timer started after long work outside the
//! loop would fire early by the length of that work.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::callback_slot::{Lent, Slot};
use crate::event_loop::{EventLoop, LoopHandle};
use crate::handle_base::{Base, Life};
use crate::{Error, RawTimer, Reactor, Result};

type FireCb<R> = dyn FnMut(&TimerHandle<R>);
type CloseCb<R> = Box<dyn FnOnce(&TimerHandle<R>)>;

struct State<R: Reactor> {
    life: Life<CloseCb<R>>,
    cb: Slot<FireCb<R>>,
    raw: Option<R::Timer>,
    /// Ever started (libuv's `timer_cb != NULL`): `again` needs it.
    started: bool,
    /// The repeat interval as the backend keeps it; kept here too so that
    /// `repeat()` still answers once the raw timer is gone (closed).
    repeat: Duration,
}

struct Inner<R: Reactor> {
    me: Weak<Inner<R>>,
    base: Base<R>,
    st: RefCell<State<R>>,
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
        let inner = Rc::new_cyclic(|me: &Weak<Inner<R>>| Inner {
            me: me.clone(),
            base: Base::new(lp),
            st: RefCell::new(State {
                life: Life::Open,
                cb: Slot::default(),
                raw: None,
                started: false,
                repeat: Duration::ZERO,
            }),
        });
        let weak = inner.me.clone();
        let raw = lp.reactor().timer(Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.fire();
            }
        }))?;
        inner.st.borrow_mut().raw = Some(raw);
        let me: Weak<dyn LoopHandle> = inner.me.clone();
        inner.base.register(me);
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
            let mut st = self.inner.st.borrow_mut();
            let st = &mut *st;
            let raw = match (&st.life, st.raw.as_mut()) {
                (Life::Open, Some(raw)) => raw,
                _ => return Err(Error::Closed),
            };
            self.inner.update_time()?;
            raw.start(timeout, repeat)?;
            st.started = true;
            st.repeat = raw.repeat();
            st.cb.replace(Box::new(cb))
        };
        drop(old);
        self.inner.changed();
        Ok(())
    }

    /// `uv_timer_again`: restarts a repeating timer to fire `repeat()`
    /// from now (the loop time is refreshed first), keeping its callback;
    /// with a zero repeat it changes nothing. `Err(Zmq(EINVAL))` when the
    /// timer was never started, `Err(Closed)` once it is closed.
    pub fn again(&self) -> Result<()> {
        {
            let mut st = self.inner.st.borrow_mut();
            let st = &mut *st;
            let raw = match (&st.life, st.raw.as_mut(), st.started) {
                (Life::Open, Some(raw), true) => raw,
                (Life::Open, Some(_), false) => return Err(Error::Zmq(zmq::Error::EINVAL)),
                _ => return Err(Error::Closed),
            };
            self.inner.update_time()?;
            raw.again()?;
        }
        self.inner.changed();
        Ok(())
    }

    /// Sets the repeat interval; it takes effect at the next fire, which
    /// schedules the one after it with the new interval (a fire schedules
    /// the next one before its callback runs, as libuv does).
    /// `Err(Closed)` once closed.
    pub fn set_repeat(&self, repeat: Duration) -> Result<()> {
        let mut st = self.inner.st.borrow_mut();
        let st = &mut *st;
        match (&st.life, st.raw.as_mut()) {
            (Life::Open, Some(raw)) => {
                raw.set_repeat(repeat);
                st.repeat = raw.repeat();
                Ok(())
            }
            _ => Err(Error::Closed),
        }
    }

    /// The repeat interval, in the backend's resolution (libuv: whole
    /// milliseconds, rounded up). On a closed timer, the last one it had.
    pub fn repeat(&self) -> Duration {
        self.inner.st.borrow().repeat
    }

    /// Time left before the next fire, measured from the loop time
    /// ([`EventLoop::now`], which lags behind the clock until the next
    /// iteration or [`EventLoop::update_time`]); zero when the timer is
    /// not active, closed included.
    pub fn due_in(&self) -> Duration {
        let st = self.inner.st.borrow();
        match (&st.life, st.raw.as_ref()) {
            (Life::Open, Some(raw)) if raw.is_active() => raw.due_in(),
            _ => Duration::ZERO,
        }
    }

    /// Stops the timer.
    pub fn stop(&self) -> Result<()> {
        {
            let mut st = self.inner.st.borrow_mut();
            let st = &mut *st;
            match (&st.life, st.raw.as_mut()) {
                (Life::Open, Some(raw)) => raw.stop(),
                _ => return Err(Error::Closed),
            }
        }
        self.inner.changed();
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
        !self.inner.st.borrow().life.is_open()
    }

    /// The loop, or `Err(Closed)` once it is gone.
    pub fn event_loop(&self) -> Result<EventLoop<R>> {
        self.inner.base.event_loop()
    }
}

impl<R: Reactor> Inner<R> {
    fn as_loop_handle(&self) -> Option<Rc<dyn LoopHandle>> {
        self.me.upgrade().map(|rc| rc as Rc<dyn LoopHandle>)
    }

    fn is_active(&self) -> bool {
        let st = self.st.borrow();
        match st.life {
            Life::Open => st.raw.as_ref().is_some_and(|raw| raw.is_active()),
            // As `uv_is_active` after `uv_close`. The pending close is kept
            // alive by the loop's turn queue.
            Life::Closing(_) | Life::Closed => false,
        }
    }

    /// Refreshes the loop's cached time; `Err(Closed)` when the loop is gone.
    fn update_time(&self) -> Result<()> {
        self.base.event_loop().map(|lp| lp.update_time())
    }

    fn changed(&self) {
        self.base
            .set_active(self.is_active(), || self.as_loop_handle());
    }

    fn fire(self: &Rc<Self>) {
        if !self.st.borrow().life.is_open() {
            return;
        }
        let h = TimerHandle {
            inner: self.clone(),
        };
        if let Some(mut cb) = Lent::take(&self.st, |st| &mut st.cb) {
            (cb.get())(&h);
        }
        // A one-shot timer is inactive now: let the loop drop it.
        self.changed();
    }

    fn close(&self, cb: Option<CloseCb<R>>) {
        let dropped = {
            let mut st = self.st.borrow_mut();
            if !st.life.is_open() {
                drop(st);
                drop(cb);
                return;
            }
            st.life = Life::Closing(cb);
            if let Some(raw) = st.raw.as_mut() {
                raw.stop();
            }
            st.cb.clear()
        };
        drop(dropped);
        self.base.schedule(|| self.as_loop_handle());
        self.changed();
    }
}

impl<R: Reactor> LoopHandle for Inner<R> {
    fn scheduled(&self) -> &Cell<bool> {
        self.base.scheduled()
    }

    /// The loop's part of `close()`: the close callback.
    fn on_turn(self: Rc<Self>) {
        let (cb, raw) = {
            let mut st = self.st.borrow_mut();
            let Life::Closing(cb) = std::mem::replace(&mut st.life, Life::Closed) else {
                return;
            };
            (cb, st.raw.take())
        };
        drop(raw);
        if let Some(cb) = cb {
            cb(&TimerHandle {
                inner: self.clone(),
            });
        }
        self.changed();
    }

    fn loop_gone(&self) {
        self.base.loop_gone();
        let dropped = {
            let mut st = self.st.borrow_mut();
            let life = std::mem::replace(&mut st.life, Life::Closed);
            (life, st.cb.clear(), st.raw.take())
        };
        drop(dropped);
    }
}
