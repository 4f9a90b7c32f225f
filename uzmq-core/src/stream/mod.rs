//! The stream handle behind uzmq's `Zmq`: reads handed to a callback one
//! whole message at a time, an ordered write queue with completions, stop,
//! flush, close and graceful shutdown, all over an edge-triggered `ZMQ_FD`.

mod drive;
mod retry;
mod write_queue;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use crate::callback_slot::Slot;
use crate::event_loop::{EventLoop, LoopHandle};
use crate::fd_watch::FdWatch;
use crate::handle_base::Base;
use crate::{Error, Events, Multipart, Reactor, Result, Socket};
use retry::Retry;
use write_queue::WriteQueue;

/// Default [`StreamHandle::set_read_batch`]: messages handed over per loop
/// iteration before other handles run.
pub const DEFAULT_READ_BATCH: usize = 1000;

type ReadCb<R, S> = dyn FnMut(&StreamHandle<R, S>, Result<Multipart>);
type WriteCb<R, S> = Box<dyn FnOnce(&StreamHandle<R, S>, Result<()>)>;
type CloseCb<R, S> = Box<dyn FnOnce(&StreamHandle<R, S>)>;
type ShutdownCb<R, S> = Box<dyn FnOnce(&StreamHandle<R, S>, Result<()>)>;
/// A cancelled write: its completion (if any) and the result it gets.
type Cancelled<R, S> = (Option<WriteCb<R, S>>, Result<()>);

/// Where a stream handle is in its life.
enum Life<R: Reactor, S: Socket> {
    Open,
    /// `shutdown()`: sending what is queued, then closing.
    ShuttingDown(ShutdownCb<R, S>),
    /// `close()`: the loop will run the completions, then the callback.
    Closing(Option<CloseCb<R, S>>),
    Closed,
}

struct State<R: Reactor, S: Socket> {
    life: Life<R, S>,
    reading: bool,
    /// `stop()` pauses writing until a new write or `start_read`.
    writes_paused: bool,
    /// Set once the socket failed for good (ETERM): later calls get it.
    failed: Option<Error>,
    /// Directions libzmq refused although `ZMQ_EVENTS` showed them: they
    /// wait for the fd (or for anything else that may change the answer)
    /// instead of being tried again in the same step.
    refused: Events,
    /// Tries a refused direction again if its signal may have been consumed.
    retry: Retry<R::Timer>,
    read_cb: Slot<ReadCb<R, S>>,
    queue: WriteQueue<WriteCb<R, S>>,
    /// Completions (and their results) the loop still has to run: queued
    /// writes cancelled by close.
    cancelled: Vec<Cancelled<R, S>>,
    /// Frames of a message whose first frames came and the rest did not
    /// (libzmq delivers whole messages, so this stays empty in practice).
    partial: Multipart,
    watch: Option<FdWatch<R::Watch>>,
    read_batch: usize,
    queue_limit: Option<usize>,
}

struct Inner<R: Reactor, S: Socket> {
    me: Weak<Inner<R, S>>,
    base: Base<R>,
    /// Set while [`Inner::drive`] runs: it re-reads `ZMQ_EVENTS` before it
    /// returns, so calls made from its callbacks need not queue a re-check.
    driving: Cell<bool>,
    socket: S,
    st: RefCell<State<R, S>>,
}

/// A stream handle on socket `S` and loop `R`. Cloning makes another
/// reference to the same handle.
pub struct StreamHandle<R: Reactor, S: Socket> {
    inner: Rc<Inner<R, S>>,
}

impl<R: Reactor, S: Socket> Clone for StreamHandle<R, S> {
    fn clone(&self) -> Self {
        StreamHandle {
            inner: self.inner.clone(),
        }
    }
}

impl<R: Reactor, S: Socket> std::fmt::Debug for StreamHandle<R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamHandle")
            .field("reading", &self.is_reading())
            .field("active", &self.is_active())
            .field("closed", &self.is_closed())
            .field("write_queue_size", &self.write_queue_size())
            .finish()
    }
}

impl<R: Reactor, S: Socket> StreamHandle<R, S> {
    /// A stopped handle owning `socket`.
    pub fn new(lp: &EventLoop<R>, socket: S) -> Result<Self> {
        let fd = socket.fd()?;
        let inner = Rc::new_cyclic(|me: &Weak<Inner<R, S>>| Inner {
            me: me.clone(),
            base: Base::new(lp),
            driving: Cell::new(false),
            socket,
            st: RefCell::new(State {
                life: Life::Open,
                reading: false,
                writes_paused: false,
                failed: None,
                refused: Events::empty(),
                retry: Retry::default(),
                read_cb: Slot::default(),
                queue: WriteQueue::default(),
                cancelled: Vec::new(),
                partial: Vec::new(),
                watch: None,
                read_batch: DEFAULT_READ_BATCH,
                queue_limit: None,
            }),
        });
        let weak = inner.me.clone();
        // The fd only says "look again": the turn reads ZMQ_EVENTS.
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
        Ok(StreamHandle { inner })
    }

    /// The socket. Anything done with it may consume the fd's edge, so
    /// this also makes the handle re-read `ZMQ_EVENTS` next iteration.
    pub fn socket(&self) -> &S {
        let wants = {
            let mut st = self.inner.st.borrow_mut();
            // The caller may consume the very signal a refused direction
            // waits for: try it again rather than wait for that signal.
            st.refused = Events::empty();
            self.inner.wants_watch(&st)
        };
        if wants {
            self.inner.recheck();
        }
        &self.inner.socket
    }

    /// The loop, or `Err(Closed)` once it is gone.
    pub fn event_loop(&self) -> Result<EventLoop<R>> {
        self.inner.base.event_loop()
    }

    /// Hands every whole message received to `cb`, from the loop; replaces
    /// the callback if already reading; resumes writing after `stop`.
    pub fn start_read(&self, cb: impl FnMut(&Self, Result<Multipart>) + 'static) -> Result<()> {
        if !self.inner.socket.can_recv() {
            return Err(Error::Zmq(zmq::Error::ENOTSUP));
        }
        let old = {
            let mut st = self.inner.st.borrow_mut();
            self.inner.check_usable(&st)?;
            st.reading = true;
            st.writes_paused = false;
            st.read_cb.replace(Box::new(cb))
        };
        drop(old);
        self.inner.changed(true);
        Ok(())
    }

    /// No more read callbacks, from the next message on.
    pub fn stop_read(&self) -> Result<()> {
        self.inner.check_open()?;
        self.inner.st.borrow_mut().reading = false;
        self.inner.changed(false);
        Ok(())
    }

    /// Stops reading and pauses writing; queued writes stay queued.
    pub fn stop(&self) -> Result<()> {
        self.inner.check_open()?;
        {
            let mut st = self.inner.st.borrow_mut();
            st.reading = false;
            st.writes_paused = true;
        }
        self.inner.changed(false);
        Ok(())
    }

    /// Queues a one-frame message.
    pub fn write(&self, msg: impl Into<zmq::Message>) -> Result<()> {
        self.inner.queue_write(std::iter::once(msg.into()), None)
    }

    /// Queues a multipart message, sent atomically.
    pub fn write_multipart<I, M>(&self, parts: I) -> Result<()>
    where
        I: IntoIterator<Item = M>,
        M: Into<zmq::Message>,
    {
        self.inner.queue_write(frames(parts), None)
    }

    /// Queues a multipart message; `cb` runs once, from the loop (or
    /// `flush`), when libzmq took it or it failed.
    pub fn write_with<I, M>(
        &self,
        parts: I,
        cb: impl FnOnce(&Self, Result<()>) + 'static,
    ) -> Result<()>
    where
        I: IntoIterator<Item = M>,
        M: Into<zmq::Message>,
    {
        self.inner.queue_write(frames(parts), Some(Box::new(cb)))
    }

    /// Sends and receives now, bypassing the loop, up to one read batch
    /// each way; returns how many messages were sent plus handed over.
    pub fn flush(&self) -> Result<usize> {
        {
            let mut st = self.inner.st.borrow_mut();
            self.inner.check_usable(&st)?;
            // An explicit request: what libzmq refused before is tried once more.
            st.refused = Events::empty();
        }
        Ok(self.inner.drive(drive::Mode::Flush))
    }

    /// Messages queued and not yet taken by libzmq.
    pub fn write_queue_size(&self) -> usize {
        self.inner.st.borrow().queue.len()
    }

    /// With `Some(n)`, a write that would make the queue longer than `n`
    /// is refused with `Err(Error::QueueFull)`.
    pub fn set_write_queue_limit(&self, limit: Option<usize>) {
        self.inner.st.borrow_mut().queue_limit = limit;
    }

    /// At most `n` messages per loop iteration (0 is taken as 1).
    pub fn set_read_batch(&self, n: usize) {
        self.inner.st.borrow_mut().read_batch = n.max(1);
    }

    /// Whether read callbacks are to come.
    pub fn is_reading(&self) -> bool {
        let st = self.inner.st.borrow();
        st.reading && matches!(st.life, Life::Open) && st.failed.is_none()
    }

    /// Reading, or writes queued and not stopped, or completions still to
    /// run, or shutting down: what keeps `Loop::run` going.
    pub fn is_active(&self) -> bool {
        self.inner.is_active(&self.inner.st.borrow())
    }

    /// True once closing began (`close`, `close_with` or `shutdown`).
    pub fn is_closed(&self) -> bool {
        !matches!(self.inner.st.borrow().life, Life::Open)
    }

    /// Closes: no read callback after this returns; the loop then runs the
    /// queued writes' completions (`Err(Closed)`) in order.
    pub fn close(&self) {
        self.inner.close(None);
    }

    /// As [`close`](Self::close), then `cb` runs once, from the loop.
    pub fn close_with(&self, cb: impl FnOnce(&Self) + 'static) {
        self.inner.close(Some(Box::new(cb)));
    }

    /// Graceful close: stop reading, send what is queued, then close;
    /// `cb` runs last with `Ok(())` or the first write error.
    pub fn shutdown(&self, cb: impl FnOnce(&Self, Result<()>) + 'static) {
        self.inner.shutdown(Box::new(cb));
    }
}

/// A multipart message's frames, converted outside any borrow.
fn frames<I, M>(parts: I) -> std::vec::IntoIter<zmq::Message>
where
    I: IntoIterator<Item = M>,
    M: Into<zmq::Message>,
{
    parts
        .into_iter()
        .map(Into::into)
        .collect::<Vec<_>>()
        .into_iter()
}

impl<R: Reactor, S: Socket> Inner<R, S> {
    fn handle(self: &Rc<Self>) -> StreamHandle<R, S> {
        StreamHandle {
            inner: self.clone(),
        }
    }

    fn as_loop_handle(&self) -> Option<Rc<dyn LoopHandle>> {
        self.me.upgrade().map(|rc| rc as Rc<dyn LoopHandle>)
    }

    fn schedule(&self) {
        self.base.schedule(|| self.as_loop_handle());
    }

    /// Looks at the socket again next iteration, unless a drive is under
    /// way (it re-reads `ZMQ_EVENTS` before it lets the handle sleep).
    fn recheck(&self) {
        if !self.driving.get() {
            self.schedule();
        }
    }

    fn check_open(&self) -> Result<()> {
        match self.st.borrow().life {
            Life::Open => Ok(()),
            _ => Err(Error::Closed),
        }
    }

    /// Open and not failed for good.
    fn check_usable(&self, st: &State<R, S>) -> Result<()> {
        match (&st.life, st.failed) {
            (Life::Open, None) => Ok(()),
            (Life::Open, Some(e)) => Err(e),
            _ => Err(Error::Closed),
        }
    }

    /// Queues a message already converted to frames: user conversions
    /// (`Into<zmq::Message>`) run before the state is borrowed, and a
    /// refused callback is dropped after the borrow ends, since either may
    /// run user code.
    fn queue_write(
        &self,
        frames: impl ExactSizeIterator<Item = zmq::Message>,
        mut done: Option<WriteCb<R, S>>,
    ) -> Result<()> {
        if !self.socket.can_send() {
            return Err(Error::Zmq(zmq::Error::ENOTSUP));
        }
        let refused = {
            let mut st = self.st.borrow_mut();
            let refused = self
                .check_usable(&st)
                .err()
                .or_else(|| st.queue.refusal(frames.len(), st.queue_limit));
            if refused.is_none() {
                st.queue.push(frames, done.take());
                st.writes_paused = false;
            }
            refused
        };
        if let Some(e) = refused {
            drop(done);
            return Err(e);
        }
        self.changed(true);
        Ok(())
    }

    /// Whether the fd must be watched: there is something we wait for.
    fn wants_watch(&self, st: &State<R, S>) -> bool {
        let writing = !st.queue.is_empty() && !st.writes_paused;
        match st.life {
            Life::Open => st.failed.is_none() && (st.reading || writing),
            Life::ShuttingDown(_) => st.failed.is_none() && !st.queue.is_empty(),
            Life::Closing(_) | Life::Closed => false,
        }
    }

    /// Active means: reading, or writes queued and not stopped, or
    /// completion callbacks still to run, or shutting down.
    fn is_active(&self, st: &State<R, S>) -> bool {
        self.wants_watch(st)
            || match st.life {
                Life::ShuttingDown(_) => true,
                Life::Closing(_) => st.cancelled.iter().any(|(done, _)| done.is_some()),
                Life::Open | Life::Closed => false,
            }
    }

    /// After any change: arm the fd watch to match, keep the handle alive
    /// while active, and with `recheck` look at the socket next iteration,
    /// because events may be pending with no edge to come.
    fn changed(&self, recheck: bool) {
        let (wants, watched, active) = {
            let mut st = self.st.borrow_mut();
            let wants = self.wants_watch(&st);
            let watched = st.watch.as_mut().is_none_or(|w| w.set(wants));
            if !wants {
                st.retry.disarm(true);
            }
            (wants, watched, self.is_active(&st))
        };
        if (recheck && wants) || !watched {
            // A refused watch start is reported from the turn.
            self.recheck();
        }
        // While queued for a turn the loop holds the handle anyway (which
        // covers a close still to complete).
        self.base.set_active(active, || self.as_loop_handle());
    }

    fn close(self: &Rc<Self>, cb: Option<CloseCb<R, S>>) {
        let dropped = {
            let mut st = self.st.borrow_mut();
            if !matches!(st.life, Life::Open) {
                drop(st);
                drop(cb);
                return;
            }
            st.life = Life::Closing(cb);
            st.reading = false;
            let cancelled: Vec<_> = st.queue.drain().map(|c| (c, Err(Error::Closed))).collect();
            st.cancelled.extend(cancelled);
            (st.read_cb.clear(), std::mem::take(&mut st.partial))
        };
        drop(dropped);
        // Completions and the close callback run from the loop, never in here.
        self.schedule();
        self.changed(false);
    }

    fn shutdown(self: &Rc<Self>, cb: ShutdownCb<R, S>) {
        let dropped = {
            let mut st = self.st.borrow_mut();
            if !matches!(st.life, Life::Open) {
                drop(st);
                drop(cb);
                return;
            }
            st.life = Life::ShuttingDown(cb);
            st.reading = false;
            st.writes_paused = false;
            st.read_cb.clear()
        };
        drop(dropped);
        self.schedule();
        self.changed(false);
    }
}

impl<R: Reactor, S: Socket> LoopHandle for Inner<R, S> {
    fn scheduled(&self) -> &Cell<bool> {
        self.base.scheduled()
    }

    fn on_turn(self: Rc<Self>) {
        self.drive(drive::Mode::Turn);
    }

    fn loop_gone(&self) {
        self.base.loop_gone();
        let dropped = {
            let mut st = self.st.borrow_mut();
            let life = std::mem::replace(&mut st.life, Life::Closed);
            st.reading = false;
            let queued: Vec<_> = st.queue.drain().collect();
            (
                life,
                st.read_cb.clear(),
                queued,
                std::mem::take(&mut st.cancelled),
                st.watch.as_mut().and_then(FdWatch::close),
                st.retry.close(),
            )
        };
        drop(dropped);
    }
}
