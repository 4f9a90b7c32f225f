//! The stream handle behind uzmq's `Zmq`: reads handed to a callback one
//! whole message at a time, an ordered write queue with completions, stop,
//! flush, close and graceful shutdown, all over an edge-triggered `ZMQ_FD`.

mod channel;
mod completion;
mod drive;
mod feeds;
mod readers;
mod recv;
mod retry;
mod send;
mod state;
mod write_queue;

use std::cell::{Cell, RefMut};
use std::rc::Rc;

use crate::callback_slot::Slot;
use crate::event_loop::EventLoop;
use crate::fd_watch::FdWatch;
use crate::handle_shell::{Kind, Shell};
use crate::monitor::Watched;
use crate::{Error, Events, Multipart, Reactor, Result, Socket};
pub(crate) use channel::Channel;
pub use channel::SenderHandle;
use completion::Done;
use feeds::Feeds;
use readers::{Readers, Wakers};
pub use recv::Recv;
use retry::Retry;
pub use send::Send;
use state::{Flow, State, Stream};
use write_queue::WriteQueue;

/// Default [`StreamHandle::set_read_batch`]: messages handed over per loop
/// iteration before other handles run.
pub const DEFAULT_READ_BATCH: usize = 1000;

/// The read callback, as stored: it gets the handle's receive buffer,
/// which it may take (`start_read`) or only look at (`start_read_frames`,
/// whose frames are then reused for the next message).
type ReadCb<R, S> = dyn FnMut(&StreamHandle<R, S>, Result<&mut Multipart>);
type WriteCb<R, S> = Box<dyn FnOnce(&StreamHandle<R, S>, Result<()>)>;
type ShutdownCb<R, S> = Box<dyn FnOnce(&StreamHandle<R, S>, Result<()>)>;
/// A cancelled write: its completion (if any) and the result it gets.
type Cancelled<R, S> = (Option<Done<R, S>>, Result<()>);

/// The stream kind's fixed part.
struct StreamKind<S: Socket> {
    /// Set while [`Inner::drive`] runs: it re-reads `ZMQ_EVENTS` before it
    /// returns, so calls made from its callbacks need not queue a re-check.
    driving: Cell<bool>,
    socket: S,
}

type Inner<R, S> = Shell<R, StreamKind<S>>;

/// What leaves the state (at close, when the close completes, or when the
/// loop goes), dropped outside the borrow in this order.
#[expect(dead_code, reason = "never read: only dropped, after the borrow")]
struct Taken<R: Reactor, S: Socket> {
    /// A shutdown's callback, when the loop goes during one.
    stream: Stream<R, S>,
    read_cb: Option<Box<ReadCb<R, S>>>,
    partial: Multipart,
    queued: Vec<Option<Done<R, S>>>,
    cancelled: Vec<Cancelled<R, S>>,
    watch: Option<R::Watch>,
    retry: Option<R::Timer>,
    /// Pending `recv()` futures, woken (after the borrow) to find out.
    readers: Wakers,
}

impl<R: Reactor, S: Socket> Default for Taken<R, S> {
    fn default() -> Self {
        Taken {
            stream: Stream::Closed,
            read_cb: None,
            partial: Vec::new(),
            queued: Vec::new(),
            cancelled: Vec::new(),
            watch: None,
            retry: None,
            readers: Wakers::default(),
        }
    }
}

impl<R: Reactor, S: Socket> Kind<R> for StreamKind<S> {
    type State = State<R, S>;
    type Handle = StreamHandle<R, S>;
    type Taken = Taken<R, S>;

    fn handle(inner: Rc<Inner<R, S>>) -> StreamHandle<R, S> {
        StreamHandle { inner }
    }

    fn is_active(st: &State<R, S>) -> bool {
        st.is_active()
    }

    /// A shutdown closes the handle to its user while it still sends.
    fn closing_early(st: &State<R, S>) -> bool {
        matches!(st.stream, Stream::ShuttingDown { .. })
    }

    /// No read callback from now on; queued writes are cancelled, their
    /// completions left for the loop.
    fn close(st: &mut State<R, S>) -> Taken<R, S> {
        st.stream = Stream::Closed;
        st.feeds.refuse_all(Error::Closed);
        let cancelled: Vec<_> = st.queue.drain().map(|c| (c, Err(Error::Closed))).collect();
        st.cancelled.extend(cancelled);
        Taken {
            read_cb: st.read_cb.clear(),
            partial: std::mem::take(&mut st.partial),
            readers: st.readers.take_all(),
            ..Taken::default()
        }
    }

    fn turn(inner: Rc<Inner<R, S>>) {
        inner.drive(drive::Mode::Turn);
    }

    fn release(st: &mut State<R, S>) -> Taken<R, S> {
        Taken {
            watch: st.watch.as_mut().and_then(FdWatch::close),
            retry: st.retry.close(),
            ..Taken::default()
        }
    }

    /// The cancelled writes' completions, in queue order.
    fn before_close_callback(inner: &Rc<Inner<R, S>>, h: &StreamHandle<R, S>) {
        let cancelled = std::mem::take(&mut inner.st.borrow_mut().cancelled);
        for (done, result) in cancelled {
            if let Some(done) = done {
                done.complete(h, result);
            }
        }
    }

    fn loop_gone(st: &mut State<R, S>) -> Taken<R, S> {
        st.feeds.refuse_all(Error::Closed);
        Taken {
            stream: std::mem::replace(&mut st.stream, Stream::Closed),
            read_cb: st.read_cb.clear(),
            partial: Vec::new(),
            queued: st.queue.drain().collect(),
            cancelled: std::mem::take(&mut st.cancelled),
            watch: st.watch.as_mut().and_then(FdWatch::close),
            retry: st.retry.close(),
            readers: st.readers.take_all(),
        }
    }

    fn settle(inner: &Inner<R, S>) {
        inner.changed(false);
    }

    /// A monitor must not outlive its reader's interest: monitoring ends
    /// with the handle, so the monitor gets `MonitorStopped`.
    fn closed(&self) {
        self.socket.stop_monitor(None);
    }
}

impl<R: Reactor, S: Socket> Watched<S> for Inner<R, S> {
    fn watched_socket(&self) -> &S {
        &self.kind.socket
    }
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
        let inner = Shell::new(
            lp,
            StreamKind {
                driving: Cell::new(false),
                socket,
            },
            State {
                stream: Stream::Open(Flow::Writing),
                refused: Events::empty(),
                retry: Retry::default(),
                read_cb: Slot::default(),
                queue: WriteQueue::default(),
                cancelled: Vec::new(),
                partial: Vec::new(),
                watch: None,
                read_batch: DEFAULT_READ_BATCH,
                queue_limit: None,
                feeds: Feeds::default(),
                readers: Readers::default(),
                rx: Vec::new(),
            },
        );
        // The fd only says "look again": the turn reads ZMQ_EVENTS.
        let watch = lp.reactor().watch(fd, inner.fd_callback())?;
        inner.st.borrow_mut().watch = Some(FdWatch::new(watch));
        inner.register();
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
            st.readers.told_readable = false;
            st.wants_watch()
        };
        if wants {
            self.inner.recheck();
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

    /// Hands every whole message received to `cb`, from the loop; replaces
    /// the callback if already reading; resumes writing after `stop`.
    pub fn start_read(&self, mut cb: impl FnMut(&Self, Result<Multipart>) + 'static) -> Result<()> {
        self.start_reading(Box::new(move |h, msg| cb(h, msg.map(std::mem::take))))
    }

    /// As [`start_read`](Self::start_read), but lends each message's frames
    /// to `cb`: the handle keeps them and receives the next message into
    /// the same frames (no allocation per message).
    pub fn start_read_frames(
        &self,
        mut cb: impl FnMut(&Self, Result<&[zmq::Message]>) + 'static,
    ) -> Result<()> {
        self.start_reading(Box::new(move |h, msg| cb(h, msg.map(|m| &m[..]))))
    }

    fn start_reading(&self, cb: Box<ReadCb<R, S>>) -> Result<()> {
        let old = {
            let mut st = self.inner.open_mut()?;
            if !self.inner.kind.socket.can_recv() {
                return Err(Error::Zmq(zmq::Error::ENOTSUP));
            }
            st.usable()?;
            if st.readers.is_waiting() {
                // One reader at a time: `recv()` futures are pending.
                return Err(Error::Zmq(zmq::Error::EBUSY));
            }
            st.stream = Stream::Open(Flow::Reading);
            st.read_cb.replace(cb)
        };
        drop(old);
        self.inner.changed(true);
        Ok(())
    }

    /// No more read callbacks, from the next message on.
    pub fn stop_read(&self) -> Result<()> {
        let old = {
            let mut st = self.inner.open_mut()?;
            if let Stream::Open(flow) = &mut st.stream {
                *flow = flow.stop_read();
            }
            // Never called again (reading resumes only with a new one):
            // dropped, so that `recv()` is no longer refused with EBUSY.
            st.read_cb.clear()
        };
        drop(old);
        self.inner.changed(false);
        Ok(())
    }

    /// Stops reading and pauses writing; queued writes stay queued.
    pub fn stop(&self) -> Result<()> {
        let old = {
            let mut st = self.inner.open_mut()?;
            if let Stream::Open(flow) = &mut st.stream {
                *flow = Flow::Paused;
            }
            // As in `stop_read`: the read callback is done with.
            st.read_cb.clear()
        };
        drop(old);
        self.inner.changed(false);
        Ok(())
    }

    /// Queues a one-frame message.
    pub fn write(&self, msg: impl Into<zmq::Message>) -> Result<()> {
        self.inner.queue_one(msg.into())
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
        self.inner
            .queue_write(frames(parts), Some(Done::Callback(Box::new(cb))))
    }

    /// A new channel into the write queue for other threads: at most
    /// `capacity` of its messages handed over and not yet taken by libzmq.
    /// `Err(Closed)` on a closed handle, `Err(Zmq(ENOTSUP))` on a socket
    /// type that cannot send, `Err(Zmq(EINVAL))` for a zero capacity, the
    /// error that stopped the handle after a fatal one.
    pub fn sender(&self, capacity: usize) -> Result<SenderHandle<R>> {
        let lp = self.inner.event_loop()?;
        {
            let st = self.inner.open_mut()?;
            if !self.inner.kind.socket.can_send() {
                return Err(Error::Zmq(zmq::Error::ENOTSUP));
            }
            if capacity == 0 {
                return Err(Error::Zmq(zmq::Error::EINVAL));
            }
            st.usable()?;
        }
        let door = lp.door();
        if door.is_closed() {
            // The backend could not make the loop's async handle.
            return Err(Error::Closed);
        }
        let channel = Channel::new(capacity, door);
        lp.shared()
            .own_channel(&channel, self.inner.weak_loop_handle());
        self.inner.st.borrow_mut().feeds.add(channel.clone());
        self.inner.changed(false);
        Ok(SenderHandle::new(channel))
    }

    /// Sends and receives now, bypassing the loop, up to one read batch
    /// each way; returns how many messages were sent plus handed over.
    pub fn flush(&self) -> Result<usize> {
        {
            let mut st = self.inner.open_mut()?;
            st.usable()?;
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
        let mut st = self.inner.st.borrow_mut();
        st.read_batch = n.max(1);
        // What `recv()`/`send()` futures may still do directly before the
        // next turn shrinks with it (the turn renews it to the new batch).
        st.readers.budget = st.readers.budget.min(st.read_batch);
    }

    /// Whether read callbacks are to come.
    pub fn is_reading(&self) -> bool {
        self.inner.st.borrow().is_reading()
    }

    /// Reading, or writes queued and not stopped, or completions still to
    /// run, or shutting down: what keeps `Loop::run` going.
    pub fn is_active(&self) -> bool {
        self.inner.is_active()
    }

    /// True once closing began (`close`, `close_with` or `shutdown`).
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
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

/// A message's frames, converted (user code: `Into<zmq::Message>`) outside
/// any borrow, each with the buffer the parts came in once it is emptied:
/// a `Vec` of messages written back (an echo, a forward) is the buffer the
/// next message is received into, so such a handler allocates no frame
/// list per message. Other parts leave an empty buffer that holds no
/// memory.
pub(super) enum Frames {
    /// The commonest message: one frame, and the emptied buffer.
    One(zmq::Message, Multipart),
    /// Any other count, zero included (refused when queued), still in
    /// their buffer.
    Many(Multipart),
}

/// `parts` as [`Frames`]. Parts whose iterator says it holds exactly one
/// are taken one by one, with no `Vec` collected; the count is confirmed
/// by the iterator running out, so one that miscounts only costs the
/// collect. Anything else is collected. Both collects reuse the `Vec` a
/// `Multipart` came in, the emptied one of a one-frame message too (std
/// collects a `Vec`'s own iterator in place).
pub(super) fn frames<I, M>(parts: I) -> Frames
where
    I: IntoIterator<Item = M>,
    M: Into<zmq::Message>,
{
    let mut parts = parts.into_iter();
    if parts.size_hint() != (1, Some(1)) {
        return Frames::Many(parts.map(Into::into).collect());
    }
    let mut taken = Vec::new();
    match (parts.next(), parts.next()) {
        (Some(only), None) => return Frames::One(only.into(), emptied::<I, M>(parts)),
        (first, second) => taken.extend(first.into_iter().chain(second).map(Into::into)),
    }
    taken.extend(parts.map(Into::into));
    Frames::Many(taken)
}

/// The buffer `parts`, a run-out iterator of `I`, came in: a `Multipart`'s
/// emptied `Vec`, collected in place, else an empty one. Only a `Vec` of
/// messages can give its buffer back, so other parts (an array of
/// messages, byte strings), told apart by their sizes at compile time,
/// skip the collect, which would cost them about 60 instructions for
/// nothing. A type the sizes mistake for a `Vec` only pays that collect.
pub(super) fn emptied<I, M>(parts: I::IntoIter) -> Multipart
where
    I: IntoIterator<Item = M>,
    M: Into<zmq::Message>,
{
    use std::mem::{align_of, size_of};
    let may_be_a_vec = size_of::<I>() == size_of::<Multipart>()
        && size_of::<M>() == size_of::<zmq::Message>()
        && align_of::<M>() == align_of::<zmq::Message>();
    if may_be_a_vec {
        parts.map(Into::into).collect()
    } else {
        Vec::new()
    }
}

impl<R: Reactor, S: Socket> Inner<R, S> {
    /// Looks at the socket again next iteration, unless a drive is under
    /// way (it re-reads `ZMQ_EVENTS` before it lets the handle sleep).
    #[inline]
    pub(super) fn recheck(&self) {
        if !self.kind.driving.get() {
            self.look_again();
        }
    }

    /// Queues a message already converted to frames: user conversions
    /// (`Into<zmq::Message>`) run before the state is borrowed, and a
    /// refused callback is dropped after the borrow ends, since either may
    /// run user code.
    #[inline]
    pub(super) fn queue_write(&self, frames: Frames, done: Option<Done<R, S>>) -> Result<()> {
        // `done`, a parameter, drops after every local: after the borrow.
        let (mut st, buffer) = match frames {
            Frames::One(frame, buffer) => {
                let mut st = self.writable(1)?;
                st.queue.push_one(frame, done);
                (st, buffer)
            }
            Frames::Many(mut frames) => {
                let mut st = self.writable(frames.len())?;
                st.queue.push(frames.drain(..), done);
                (st, frames)
            }
        };
        if self.kind.socket.can_recv() {
            st.keep_buffer(buffer);
        }
        drop(st);
        // The step that sends it also arms the watch and keeps the handle
        // alive to match (at the end of the drive under way, if this write
        // comes from one of its callbacks; else in the next turn, which
        // holds the handle until then).
        self.recheck();
        Ok(())
    }

    /// `write`'s one frame with no completion: the same as
    /// [`queue_write`](Self::queue_write) with no iterator to go through.
    #[inline]
    pub(super) fn queue_one(&self, frame: zmq::Message) -> Result<()> {
        self.writable(1)?.queue.push_one(frame, None);
        self.recheck();
        Ok(())
    }

    /// The emptied buffer of a message `send()` handed to libzmq itself,
    /// on a socket that can receive: kept as
    /// [`queue_write`](Self::queue_write) keeps a queued one's.
    pub(super) fn keep_written(&self, buffer: Multipart) {
        if buffer.capacity() > 0 {
            self.st.borrow_mut().keep_buffer(buffer);
        }
    }

    /// The state, ready to queue a message of `frames` frames (the flow
    /// set to writing), or why it may not be queued.
    #[inline]
    fn writable(&self, frames: usize) -> Result<RefMut<'_, State<R, S>>> {
        let mut st = self.st.borrow_mut();
        let s = &mut *st;
        // One match says what the shell's `open_mut` would: the stream is
        // open only while the handle is (`close`, a finished shutdown and
        // the loop's end all end it, in the borrow that ends the life).
        if let Stream::Open(flow) = &mut s.stream
            && self.kind.socket.can_send()
            && s.queue.refusal(frames, s.queue_limit).is_none()
        {
            debug_assert!(self.life_is_open(), "an open stream on a closing handle");
            *flow = flow.write();
            return Ok(st);
        }
        drop(st);
        Err(self.unwritable(frames))
    }

    /// Why a message of `frames` frames may not be queued, in the order
    /// every call answers: closed, then a socket type that cannot send,
    /// then a failed socket, then the queue's own refusal.
    #[cold]
    fn unwritable(&self, frames: usize) -> Error {
        let st = match self.open_mut() {
            Ok(st) => st,
            Err(e) => return e,
        };
        if !self.kind.socket.can_send() {
            return Error::Zmq(zmq::Error::ENOTSUP);
        }
        if let Err(e) = st.usable() {
            return e;
        }
        // The fast path refused for one of these reasons, and nothing ran
        // in between: the queue's refusal is the one left.
        st.queue
            .refusal(frames, st.queue_limit)
            .unwrap_or(Error::Closed)
    }

    /// After any change: arm the fd watch to match, keep the handle alive
    /// while active, and with `recheck` look at the socket next iteration,
    /// because events may be pending with no edge to come.
    fn changed(&self, recheck: bool) {
        let (wants, watched, active, hold, retired) = {
            let mut st = self.st.borrow_mut();
            let wants = st.wants_watch();
            let watched = st.watch.as_mut().is_none_or(|w| w.set(wants));
            if !wants {
                st.retry.disarm(true);
            }
            // Waiting for other threads and nothing else: the fd watch may
            // be stopped, so the loop's async handle keeps the loop alive.
            let holds = st.holds_loop();
            let hold = (holds != st.feeds.holding).then_some(holds);
            st.feeds.holding = holds;
            (
                wants,
                watched,
                st.is_active(),
                hold,
                st.feeds.take_retired(),
            )
        };
        if hold.is_some() || !retired.is_empty() {
            if let Ok(lp) = self.event_loop() {
                for channel in &retired {
                    lp.shared().forget_channel(channel);
                }
                if let Some(hold) = hold {
                    lp.shared().hold(hold);
                }
            }
        }
        if (recheck && wants) || !watched {
            // A refused watch start is reported from the turn.
            self.recheck();
        }
        // While queued for a turn the loop holds the handle anyway (which
        // covers a close still to complete).
        self.keep_alive(active);
    }

    /// Graceful close: the handle is closed to its user from now on, and
    /// the loop sends what is queued, then ends it (`end_shutdown`).
    fn shutdown(&self, cb: ShutdownCb<R, S>) {
        let dropped = {
            let Ok(mut st) = self.open_mut() else {
                drop(cb);
                return;
            };
            // Open or failed (the shell refused the rest): a failed one has
            // nothing left to send. What other threads handed over before
            // this call is sent; their channels refuse from now on.
            let failed = matches!(st.stream, Stream::Failed(_));
            if !failed {
                let st = &mut *st;
                st.feeds.take_into(&mut st.queue);
            }
            st.feeds.refuse_all(Error::Closed);
            st.stream = Stream::ShuttingDown { cb, failed };
            // Closed to its user: pending `recv()` futures find out.
            (st.read_cb.clear(), st.readers.take_all())
        };
        drop(dropped);
        self.schedule();
        self.changed(false);
    }
}
