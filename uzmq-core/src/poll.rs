//! The poll handle behind uzmq's `ZmqPoll`: level-triggered readiness of a
//! zmq socket, like `uv_poll_t` gives for a plain fd, although libzmq's
//! `ZMQ_FD` only signals edges.
//!
//! How: the fd is watched for READABLE only and means "look again"; the
//! truth is `ZMQ_EVENTS`, read in the handle's step (from the fd's callback,
//! or from the loop's check phase when nothing signalled). After a callback
//! (which may have sent or received, consuming the edge) the handle looks
//! again next iteration, and only an events read that shows nothing of
//! interest lets it sleep on the fd.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use crate::callback_slot::{Lent, Slot};
use crate::event_loop::EventLoop;
use crate::fd_watch::FdWatch;
use crate::handle_shell::{Kind, Shell};
use crate::monitor::Watched;
use crate::{Error, Events, RawTimer, Reactor, Result, Socket};

type PollCb<R, S> = dyn FnMut(&PollHandle<R, S>, Events, Option<Error>);

/// What the handle does while open (`close()` leaves it `Stopped`).
#[derive(Clone, Copy, Debug)]
enum Poll {
    /// No callbacks until `start`.
    Stopped,
    /// Reports `mask` when ready, and with a timeout, `Events::empty()`
    /// each time it passes with no callback.
    Started {
        mask: Events,
        timeout: Option<Duration>,
    },
    /// The socket's state could not be read: reported once, and every
    /// `start` gets the error (ETERM).
    Failed(Error),
}

struct State<R: Reactor, S: Socket> {
    poll: Poll,
    cb: Slot<PollCb<R, S>>,
    watch: Option<FdWatch<R::Watch>>,
    /// The timeout's timer, made on first need.
    timer: Option<R::Timer>,
}

/// The poll kind's fixed part.
struct PollKind<S: Socket> {
    /// Set while the callback runs from the drive.
    in_callback: Cell<bool>,
    socket: S,
}

type Inner<R, S> = Shell<R, PollKind<S>>;

impl<R: Reactor, S: Socket> Kind<R> for PollKind<S> {
    type State = State<R, S>;
    type Handle = PollHandle<R, S>;
    type Taken = (
        Option<Box<PollCb<R, S>>>,
        Option<R::Watch>,
        Option<R::Timer>,
    );

    fn handle(inner: Rc<Inner<R, S>>) -> PollHandle<R, S> {
        PollHandle { inner }
    }

    /// Started. A failed or closing handle is not (`uv_is_active` after
    /// `uv_close`; the pending close is kept alive by the turn queue).
    fn is_active(st: &State<R, S>) -> bool {
        match st.poll {
            Poll::Started { .. } => true,
            Poll::Stopped | Poll::Failed(_) => false,
        }
    }

    fn close(st: &mut State<R, S>) -> Self::Taken {
        st.poll = Poll::Stopped;
        (st.cb.clear(), None, None)
    }

    /// The step: report what is ready now, level-triggered.
    fn turn(inner: Rc<Inner<R, S>>) {
        let h = PollHandle { inner };
        h.inner.report_ready(&h);
    }

    fn release(st: &mut State<R, S>) -> Self::Taken {
        (
            None,
            st.watch.as_mut().and_then(FdWatch::close),
            st.timer.take(),
        )
    }

    fn loop_gone(st: &mut State<R, S>) -> Self::Taken {
        st.poll = Poll::Stopped;
        (
            st.cb.clear(),
            st.watch.as_mut().and_then(FdWatch::close),
            st.timer.take(),
        )
    }

    fn settle(inner: &Inner<R, S>) {
        inner.changed(false);
    }

    /// Monitoring ends with the handle (see the stream kind).
    fn closed(&self) {
        self.socket.stop_monitor(None);
    }
}

impl<R: Reactor, S: Socket> Watched<S> for Inner<R, S> {
    fn watched_socket(&self) -> &S {
        &self.kind.socket
    }
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
        let inner = Shell::new(
            lp,
            PollKind {
                in_callback: Cell::new(false),
                socket,
            },
            State {
                poll: Poll::Stopped,
                cb: Slot::default(),
                watch: None,
                timer: None,
            },
        );
        let watch = lp.reactor().watch(fd, inner.fd_callback())?;
        inner.st.borrow_mut().watch = Some(FdWatch::new(watch));
        inner.register();
        Ok(PollHandle { inner })
    }

    /// The socket. Anything done with it may consume the fd's edge, so a
    /// started handle also re-reads `ZMQ_EVENTS` next iteration.
    pub fn socket(&self) -> &S {
        // The callback's own use needs no look of its own, and no borrow.
        if !self.inner.kind.in_callback.get()
            && matches!(self.inner.st.borrow().poll, Poll::Started { .. })
        {
            self.inner.schedule();
        }
        &self.inner.kind.socket
    }

    /// The loop, or `Err(Closed)` once it is gone.
    pub fn event_loop(&self) -> Result<EventLoop<R>> {
        self.inner.event_loop()
    }

    /// This handle held weakly, for a monitor of its socket.
    pub(crate) fn watched(&self) -> std::rc::Weak<dyn Watched<S>> {
        let weak: std::rc::Weak<Inner<R, S>> = Rc::downgrade(&self.inner);
        weak
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
        {
            let mut st = self.inner.open_mut()?;
            st.poll = match st.poll {
                Poll::Started { .. } | Poll::Stopped => Poll::Stopped,
                // Failed for good: `start` still reports the error.
                Poll::Failed(e) => Poll::Failed(e),
            };
        }
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
        self.inner.is_active()
    }

    /// True once closing began.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl<R: Reactor, S: Socket> Inner<R, S> {
    fn start(
        &self,
        events: Events,
        timeout: Option<Duration>,
        cb: Box<PollCb<R, S>>,
    ) -> Result<()> {
        // Which error wins: closed, then a direction the socket type can
        // never have, then the rest.
        let poll = self.open_mut()?.poll;
        let socket = &self.kind.socket;
        let events = events & Events::all();
        if (events.contains(Events::READABLE) && !socket.can_recv())
            || (events.contains(Events::WRITABLE) && !socket.can_send())
        {
            return Err(Error::Zmq(zmq::Error::ENOTSUP));
        }
        if let Poll::Failed(e) = poll {
            return Err(e);
        }
        if events.is_empty() || timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::Zmq(zmq::Error::EINVAL));
        }
        // Everything that can fail comes before any change: a refused start
        // keeps the old mask and callback.
        if timeout.is_some() {
            // As for a timer: measure the timeout from this call, not from a
            // loop time that went stale during work outside the loop.
            self.event_loop()?.update_time();
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
            st.poll = Poll::Started {
                mask: events,
                timeout,
            };
            st.cb.replace(cb)
        };
        drop(old);
        self.changed(true);
        Ok(())
    }

    fn make_timer(&self, timeout: Duration) -> Result<R::Timer> {
        let lp = self.event_loop()?;
        let mut timer = lp
            .reactor()
            .timer(self.loop_callback(|inner| inner.timed_out()))?;
        timer.start(timeout, timeout)?;
        Ok(timer)
    }

    /// After any change: watch the fd and run the timer only while started,
    /// keep the handle alive while active, and with `recheck` look at the
    /// socket next iteration (events may be pending with no edge to come).
    fn changed(&self, recheck: bool) {
        let (started, watched) = {
            let mut st = self.st.borrow_mut();
            let started = PollKind::is_active(&st);
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
        self.keep_alive(started);
    }

    /// Reads `ZMQ_EVENTS` and calls back with what is ready, then reads
    /// them again: still ready, it comes back next iteration (level-
    /// triggered, once per iteration); not ready, that read was the last
    /// socket call and the handle sleeps on the fd.
    ///
    /// One borrow of the state before the callback and one after, each
    /// with its events read (a socket call, no user code) and the
    /// bookkeeping around it.
    fn report_ready(self: &Rc<Self>, h: &PollHandle<R, S>) {
        let (ready, lent) = {
            let mut st = self.st.borrow_mut();
            let ready = match self.look_before(&mut st) {
                Before::Ready(ready) => ready,
                Before::Stopped => return,
                Before::Asleep => {
                    drop(st);
                    // This events read was the last socket call: sleep on
                    // the fd.
                    return self.changed(false);
                }
                Before::Failed(e) => {
                    drop(st);
                    return self.fail(h, e);
                }
            };
            (ready, Lent::take_in(&self.st, &mut st, |st| &mut st.cb))
        };
        // The callback may send or receive (consuming the edge), or leave
        // the socket ready: look again below, or next iteration if it panics.
        let after = match lent {
            Some(mut cb) => {
                let in_callback = InCallback::enter(self);
                (cb.get())(h, ready, None);
                in_callback.leave();
                let (rejected, after) = {
                    let mut st = self.st.borrow_mut();
                    (cb.put_back(&mut st.cb), self.look_after(&st))
                };
                drop(rejected);
                after
            }
            None => self.look_after(&self.st.borrow()),
        };
        match after {
            // The common end of a step: a started handle with its watch
            // started is kept alive already (its start settled it), so
            // there is nothing to change.
            After::Settled => {}
            After::Asleep | After::Stopped => self.changed(false),
            After::Ready => self.changed(true),
            After::Failed(e) => self.fail(h, e),
        }
    }

    /// The step's look before the callback, inside its first borrow. A
    /// ready socket restarts the timeout.
    fn look_before(&self, st: &mut State<R, S>) -> Before {
        let Poll::Started { mask, timeout } = st.poll else {
            return Before::Stopped;
        };
        if let Some(e) = st.watch.as_mut().and_then(FdWatch::take_error) {
            return Before::Failed(e);
        }
        let ready = match self.kind.socket.events() {
            Ok(ev) => ev & mask,
            Err(e) => return Before::Failed(e),
        };
        if ready.is_empty() {
            return Before::Asleep;
        }
        if let (Some(t), Some(timer)) = (timeout, st.timer.as_mut()) {
            // The timeout counts from the last callback. A failed restart
            // leaves the timer as it was, so timeouts still come.
            let _ = timer.start(t, t);
        }
        Before::Ready(ready)
    }

    /// The step's look after the callback, inside its second borrow.
    fn look_after(&self, st: &State<R, S>) -> After {
        let Poll::Started { mask, .. } = st.poll else {
            return After::Stopped;
        };
        match self.kind.socket.events() {
            Ok(ev) if (ev & mask).is_empty() => {
                if st.watch.as_ref().is_none_or(FdWatch::is_started) {
                    After::Settled
                } else {
                    After::Asleep
                }
            }
            Ok(_) => After::Ready,
            Err(e) => After::Failed(e),
        }
    }

    fn timed_out(self: &Rc<Self>) {
        if !self.is_active() {
            return;
        }
        let h = self.handle();
        if let Some(mut cb) = Lent::take(&self.st, |st| &mut st.cb) {
            (cb.get())(&h, Events::empty(), None);
        }
    }

    /// The socket's state cannot be read: report once, stop for good.
    fn fail(self: &Rc<Self>, h: &PollHandle<R, S>, e: Error) {
        self.st.borrow_mut().poll = Poll::Failed(e);
        if let Some(mut cb) = Lent::take(&self.st, |st| &mut st.cb) {
            (cb.get())(h, Events::empty(), Some(e));
        }
        self.changed(false);
    }
}

/// What the events read before the callback found.
enum Before {
    /// Something of interest is ready: this.
    Ready(Events),
    /// Nothing of interest is ready.
    Asleep,
    /// The watch or the events read failed.
    Failed(Error),
    /// Not started: no step.
    Stopped,
}

/// Where a step leaves the handle, from the events read after its callback.
/// Fieldless but for the error, and the common end first: telling it from
/// the rest is one comparison.
enum After {
    /// Nothing of interest is ready, and the watch is started already: the
    /// handle sleeps on the fd as it is.
    Settled,
    /// Nothing of interest is ready: sleep on the fd, once it is watched.
    Asleep,
    /// Still ready: look again next iteration.
    Ready,
    /// Stopped or failed meanwhile, by the callback.
    Stopped,
    /// The events read failed.
    Failed(Error),
}

/// Marks the handle's callback as running: `socket()` then needs no
/// re-check of its own (the step reads `ZMQ_EVENTS` right after). The step
/// ends it with [`leave`](Self::leave); dropped instead, the callback
/// panicked, and the handle is queued for another look.
struct InCallback<'a, R: Reactor, S: Socket>(&'a Inner<R, S>);

impl<'a, R: Reactor, S: Socket> InCallback<'a, R, S> {
    fn enter(inner: &'a Inner<R, S>) -> Self {
        inner.kind.in_callback.set(true);
        InCallback(inner)
    }

    /// The callback returned: the flag goes, and there is nothing for
    /// `Drop` to do (no test of whether a panic unwinds).
    fn leave(self) {
        self.0.kind.in_callback.set(false);
        std::mem::forget(self);
    }
}

impl<R: Reactor, S: Socket> Drop for InCallback<'_, R, S> {
    /// Only reached by unwinding (see [`leave`](InCallback::leave)).
    fn drop(&mut self) {
        self.0.kind.in_callback.set(false);
        self.0.schedule();
    }
}
