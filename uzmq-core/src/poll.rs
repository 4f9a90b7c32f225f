//! The poll handle behind uzmq's `ZmqPoll`: level-triggered readiness of a
//! zmq socket, like `uv_poll_t` gives for a plain fd, although libzmq's
//! `ZMQ_FD` only signals edges.
//!
//! How: the fd is watched for READABLE only and means "look again"; the
//! truth is `ZMQ_EVENTS`, read in the loop's check phase. After a callback
//! (which may have sent or received, consuming the edge) the handle looks
//! again next iteration, and only an events read that shows nothing of
//! interest lets it sleep on the fd.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::callback_slot::{Lent, Slot};
use crate::event_loop::{EventLoop, LoopHandle};
use crate::fd_watch::FdWatch;
use crate::handle_base::{Base, Life};
use crate::{Error, Events, RawTimer, Reactor, Result, Socket};

type PollCb<R, S> = dyn FnMut(&PollHandle<R, S>, Events, Option<Error>);
type CloseCb<R, S> = Box<dyn FnOnce(&PollHandle<R, S>)>;

struct State<R: Reactor, S: Socket> {
    life: Life<CloseCb<R, S>>,
    started: bool,
    mask: Events,
    failed: Option<Error>,
    cb: Slot<PollCb<R, S>>,
    watch: Option<FdWatch<R::Watch>>,
    timeout: Option<Duration>,
    timer: Option<R::Timer>,
}

struct Inner<R: Reactor, S: Socket> {
    me: Weak<Inner<R, S>>,
    base: Base<R>,
    /// Set while the callback runs from the drive.
    in_callback: Cell<bool>,
    socket: S,
    st: RefCell<State<R, S>>,
}

/// A poll handle on socket `S` and loop `R`. Cloning makes another
/// reference to the same handle.
pub struct PollHandle<R: Reactor, S: Socket> {
    inner: Rc<Inner<R, S>>,
}

impl<R: Reactor, S: Socket> Clone for PollHandle<R, S> {
    fn clone(&self) -> Self {
        PollHandle {
            inner: self.inner.clone(),
        }
    }
}

impl<R: Reactor, S: Socket> std::fmt::Debug for PollHandle<R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollHandle")
            .field("active", &self.is_active())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<R: Reactor, S: Socket> PollHandle<R, S> {
    /// A stopped handle owning `socket`.
    pub fn new(lp: &EventLoop<R>, socket: S) -> Result<Self> {
        let fd = socket.fd()?;
        let inner = Rc::new_cyclic(|me: &Weak<Inner<R, S>>| Inner {
            me: me.clone(),
            base: Base::new(lp),
            in_callback: Cell::new(false),
            socket,
            st: RefCell::new(State {
                life: Life::Open,
                started: false,
                mask: Events::empty(),
                failed: None,
                cb: Slot::default(),
                watch: None,
                timeout: None,
                timer: None,
            }),
        });
        let weak = inner.me.clone();
        let watch = lp.reactor().watch(
            fd,
            Box::new(move || {
                if let Some(inner) = weak.upgrade() {
                    inner.schedule();
                }
            }),
        )?;
        inner.st.borrow_mut().watch = Some(FdWatch::new(watch));
        let me: Weak<dyn LoopHandle> = inner.me.clone();
        inner.base.register(me);
        Ok(PollHandle { inner })
    }

    /// The socket. Anything done with it may consume the fd's edge, so a
    /// started handle also re-reads `ZMQ_EVENTS` next iteration.
    pub fn socket(&self) -> &S {
        if self.inner.st.borrow().started && !self.inner.in_callback.get() {
            self.inner.schedule();
        }
        &self.inner.socket
    }

    /// The loop, or `Err(Closed)` once it is gone.
    pub fn event_loop(&self) -> Result<EventLoop<R>> {
        self.inner.base.event_loop()
    }

    /// Starts, or updates the mask and callback of a started handle.
    ///
    /// Refusals, the first that applies wins: `Err(Closed)` on a closed
    /// handle (or one whose loop is gone); `Err(Zmq(ENOTSUP))` for a
    /// direction the socket type can never have (READABLE on PUSH/PUB,
    /// WRITABLE on PULL/SUB); the error that stopped the handle for good
    /// (ETERM); `Err(Zmq(EINVAL))` for an empty mask. A refused start keeps
    /// the old mask and callback.
    pub fn start(
        &self,
        events: Events,
        cb: impl FnMut(&Self, Events, Option<Error>) + 'static,
    ) -> Result<()> {
        self.inner.start(events, None, Box::new(cb))
    }

    /// As [`start`](Self::start); also calls `cb` with `Events::empty()`
    /// each time `timeout` passes with no callback. A zero timeout is
    /// `Err(Zmq(EINVAL))`, after the refusals of `start` that come first
    /// (closed, ENOTSUP).
    pub fn start_with_timeout(
        &self,
        events: Events,
        timeout: Duration,
        cb: impl FnMut(&Self, Events, Option<Error>) + 'static,
    ) -> Result<()> {
        self.inner.start(events, Some(timeout), Box::new(cb))
    }

    /// No more callbacks until `start`.
    pub fn stop(&self) -> Result<()> {
        if !self.inner.st.borrow().life.is_open() {
            return Err(Error::Closed);
        }
        self.inner.st.borrow_mut().started = false;
        self.inner.changed(false);
        Ok(())
    }

    /// Closes: no callback after this returns but the close callback.
    pub fn close(&self) {
        self.inner.close(None);
    }

    /// As [`close`](Self::close), then `cb` runs once, from the loop.
    pub fn close_with(&self, cb: impl FnOnce(&Self) + 'static) {
        self.inner.close(Some(Box::new(cb)));
    }

    /// Started and not closed.
    pub fn is_active(&self) -> bool {
        self.inner.is_active(&self.inner.st.borrow())
    }

    /// True once closing began.
    pub fn is_closed(&self) -> bool {
        !self.inner.st.borrow().life.is_open()
    }
}

impl<R: Reactor, S: Socket> Inner<R, S> {
    fn handle(self: &Rc<Self>) -> PollHandle<R, S> {
        PollHandle {
            inner: self.clone(),
        }
    }

    fn as_loop_handle(&self) -> Option<Rc<dyn LoopHandle>> {
        self.me.upgrade().map(|rc| rc as Rc<dyn LoopHandle>)
    }

    fn schedule(&self) {
        self.base.schedule(|| self.as_loop_handle());
    }

    fn check_usable(&self) -> Result<()> {
        let st = self.st.borrow();
        match (&st.life, st.failed) {
            (Life::Open, None) => Ok(()),
            (Life::Open, Some(e)) => Err(e),
            _ => Err(Error::Closed),
        }
    }

    fn start(
        &self,
        events: Events,
        timeout: Option<Duration>,
        cb: Box<PollCb<R, S>>,
    ) -> Result<()> {
        // Which error wins: closed, then a direction the socket type can
        // never have, then the rest.
        if !self.st.borrow().life.is_open() {
            return Err(Error::Closed);
        }
        let events = events & Events::all();
        if (events.contains(Events::READABLE) && !self.socket.can_recv())
            || (events.contains(Events::WRITABLE) && !self.socket.can_send())
        {
            return Err(Error::Zmq(zmq::Error::ENOTSUP));
        }
        self.check_usable()?;
        if events.is_empty() || timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::Zmq(zmq::Error::EINVAL));
        }
        // Everything that can fail comes before any change: a refused start
        // keeps the old mask and callback.
        if timeout.is_some() {
            // As for a timer: measure the timeout from this call, not from a
            // loop time that went stale during work outside the loop.
            self.base.event_loop()?.update_time();
        }
        let new_timer = match timeout {
            Some(t) if self.st.borrow().timer.is_none() => Some(self.make_timer(t)?),
            Some(t) => {
                let mut st = self.st.borrow_mut();
                st.timer
                    .as_mut()
                    .map(|timer| timer.start(t, t))
                    .transpose()?;
                None
            }
            None => None,
        };
        let old = {
            let mut st = self.st.borrow_mut();
            if new_timer.is_some() {
                st.timer = new_timer;
            }
            if timeout.is_none() {
                if let Some(timer) = st.timer.as_mut() {
                    timer.stop();
                }
            }
            st.timeout = timeout;
            st.mask = events;
            st.started = true;
            st.cb.replace(cb)
        };
        drop(old);
        self.changed(true);
        Ok(())
    }

    fn make_timer(&self, timeout: Duration) -> Result<R::Timer> {
        let weak = self.me.clone();
        let lp = self.base.event_loop()?;
        let mut timer = lp.reactor().timer(Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.timed_out();
            }
        }))?;
        timer.start(timeout, timeout)?;
        Ok(timer)
    }

    fn is_active(&self, st: &State<R, S>) -> bool {
        match st.life {
            Life::Open => st.started && st.failed.is_none(),
            // As `uv_is_active` after `uv_close`. The pending close is kept
            // alive by the loop's turn queue.
            Life::Closing(_) | Life::Closed => false,
        }
    }

    /// After any change: watch the fd and run the timer only while started,
    /// keep the handle alive while active, and with `recheck` look at the
    /// socket next iteration (events may be pending with no edge to come).
    fn changed(&self, recheck: bool) {
        let (started, watched) = {
            let mut st = self.st.borrow_mut();
            let started = self.is_active(&st);
            let watched = st.watch.as_mut().is_none_or(|w| w.set(started));
            if !started {
                if let Some(timer) = st.timer.as_mut() {
                    timer.stop();
                }
            }
            (started, watched)
        };
        if (recheck && started) || !watched {
            // A refused watch start is reported from the turn.
            self.schedule();
        }
        self.base.set_active(started, || self.as_loop_handle());
    }

    /// The check phase: report what is ready now, level-triggered.
    fn drive(self: &Rc<Self>) {
        if matches!(self.st.borrow().life, Life::Closing(_)) {
            self.finish_close();
            return;
        }
        let mask = {
            let st = self.st.borrow();
            if !self.is_active(&st) {
                return;
            }
            st.mask
        };
        let h = self.handle();
        self.report_ready(&h, mask);
    }

    /// Reads `ZMQ_EVENTS` and calls back with what is ready, then reads
    /// them again: still ready, it comes back next iteration (level-
    /// triggered, once per iteration); not ready, that read was the last
    /// socket call and the handle sleeps on the fd.
    fn report_ready(self: &Rc<Self>, h: &PollHandle<R, S>, mask: Events) {
        let watch_error = self
            .st
            .borrow_mut()
            .watch
            .as_mut()
            .and_then(FdWatch::take_error);
        if let Some(e) = watch_error {
            return self.fail(h, e);
        }
        let ready = match self.socket.events() {
            Ok(ev) => ev & mask,
            Err(e) => return self.fail(h, e),
        };
        if ready.is_empty() {
            // This events read was the last socket call: sleep on the fd.
            return self.changed(false);
        }
        {
            let mut st = self.st.borrow_mut();
            if let (Some(t), Some(timer)) = (st.timeout, st.timer.as_mut()) {
                // The timeout counts from the last callback. A failed
                // restart leaves the timer as it was, so timeouts still come.
                let _ = timer.start(t, t);
            }
        }
        // The callback may send or receive (consuming the edge), or leave
        // the socket ready: look again below, or next iteration if it panics.
        let in_callback = InCallback::enter(self);
        if let Some(mut cb) = Lent::take(&self.st, |st| &mut st.cb) {
            (cb.get())(h, ready, None);
        }
        drop(in_callback);
        let mask = {
            let st = self.st.borrow();
            if !self.is_active(&st) {
                drop(st);
                return self.changed(false);
            }
            st.mask
        };
        match self.socket.events() {
            Ok(ev) if (ev & mask).is_empty() => self.changed(false),
            Ok(_) => self.changed(true),
            Err(e) => self.fail(h, e),
        }
    }

    fn timed_out(self: &Rc<Self>) {
        if !self.is_active(&self.st.borrow()) {
            return;
        }
        let h = self.handle();
        if let Some(mut cb) = Lent::take(&self.st, |st| &mut st.cb) {
            (cb.get())(&h, Events::empty(), None);
        }
    }

    /// The socket's state cannot be read: report once, stop for good.
    fn fail(self: &Rc<Self>, h: &PollHandle<R, S>, e: Error) {
        {
            let mut st = self.st.borrow_mut();
            st.failed = Some(e);
            st.started = false;
        }
        if let Some(mut cb) = Lent::take(&self.st, |st| &mut st.cb) {
            (cb.get())(h, Events::empty(), Some(e));
        }
        self.changed(false);
    }

    fn close(&self, cb: Option<CloseCb<R, S>>) {
        let dropped = {
            let mut st = self.st.borrow_mut();
            if !st.life.is_open() {
                drop(st);
                drop(cb);
                return;
            }
            st.life = Life::Closing(cb);
            st.started = false;
            st.cb.clear()
        };
        drop(dropped);
        self.schedule();
        self.changed(false);
    }

    fn finish_close(self: &Rc<Self>) {
        let (cb, watch, timer) = {
            let mut st = self.st.borrow_mut();
            let Life::Closing(cb) = std::mem::replace(&mut st.life, Life::Closed) else {
                return;
            };
            (
                cb,
                st.watch.as_mut().and_then(FdWatch::close),
                st.timer.take(),
            )
        };
        drop((watch, timer));
        if let Some(cb) = cb {
            cb(&self.handle());
        }
        self.changed(false);
    }
}

/// Marks the handle's callback as running: `socket()` then needs no
/// re-check of its own (the drive reads `ZMQ_EVENTS` right after). If the
/// callback panics, queues the handle for another look instead.
struct InCallback<'a, R: Reactor, S: Socket>(&'a Inner<R, S>);

impl<'a, R: Reactor, S: Socket> InCallback<'a, R, S> {
    fn enter(inner: &'a Inner<R, S>) -> Self {
        inner.in_callback.set(true);
        InCallback(inner)
    }
}

impl<R: Reactor, S: Socket> Drop for InCallback<'_, R, S> {
    fn drop(&mut self) {
        self.0.in_callback.set(false);
        if std::thread::panicking() {
            self.0.schedule();
        }
    }
}

impl<R: Reactor, S: Socket> LoopHandle for Inner<R, S> {
    fn scheduled(&self) -> &Cell<bool> {
        self.base.scheduled()
    }

    fn on_turn(self: Rc<Self>) {
        self.drive();
    }

    fn loop_gone(&self) {
        self.base.loop_gone();
        let dropped = {
            let mut st = self.st.borrow_mut();
            let life = std::mem::replace(&mut st.life, Life::Closed);
            st.started = false;
            let watch = st.watch.as_mut().and_then(FdWatch::close);
            (life, st.cb.clear(), watch, st.timer.take())
        };
        drop(dropped);
    }
}
