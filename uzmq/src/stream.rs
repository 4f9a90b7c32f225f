//! `Zmq`: asynchronous reads and queued writes on a zmq socket.

use ref_cast::{RefCastCustom, ref_cast_custom};
use uzmq_core::{Multipart, Result, StreamHandle};
use uzmq_uv::UvLoop;
use uzmq_zmq::ZmqSocket;

use crate::{Loop, Sender};

/// A stream handle: every whole message received goes to the read
/// callback, in order; writes are queued and sent in order, exactly once.
///
/// A message is received only when libzmq says one can be (`ZMQ_POLLIN`)
/// and sent only when it says one can be (`ZMQ_POLLOUT`): a REQ handle's
/// second write waits for the reply instead of failing with `EFSM`, and a
/// write libzmq cannot take yet (high-water mark) waits at the head of the
/// queue. Cloning makes another reference.
///
/// ```
/// use uzmq::{zmq, Loop, RunMode, Zmq};
///
/// let ctx = zmq::Context::new();
/// let lp = Loop::new()?;
/// let rep = ctx.socket(zmq::REP)?;
/// rep.bind("tcp://127.0.0.1:*")?;
/// let endpoint = rep.get_last_endpoint()?.expect("utf-8 endpoint");
/// let req = ctx.socket(zmq::REQ)?;
/// req.connect(&endpoint)?;
///
/// let server = Zmq::new(&lp, rep)?;
/// server.start_read(|h, msg| {
///     h.write_multipart(msg.expect("request")).expect("queue reply"); // echo
/// })?;
/// let client = Zmq::new(&lp, req)?;
/// client.write("one")?;
/// client.write("two")?; // waits for the first reply, no EFSM
/// let mut replies = Vec::new();
/// client.start_read(move |h, msg| {
///     replies.push(msg.expect("reply")[0].to_vec());
///     if replies.len() == 2 {
///         assert_eq!(replies, [b"one".to_vec(), b"two".to_vec()]);
///         h.close();
///         h.event_loop().expect("loop").stop();
///     }
/// })?;
/// lp.run(RunMode::Default)?;
/// # Ok::<(), uzmq::Error>(())
/// ```
#[derive(Clone, Debug, RefCastCustom)]
#[repr(transparent)]
pub struct Zmq(pub(crate) StreamHandle<UvLoop, ZmqSocket>);

impl Zmq {
    /// The handle a core callback got, as this type: a view of the same
    /// memory, so no reference count is touched per callback.
    #[ref_cast_custom]
    fn wrap(h: &StreamHandle<UvLoop, ZmqSocket>) -> &Self;
}

impl Zmq {
    /// Takes `socket` (bound or connected, or to be, through
    /// [`socket`](Self::socket)).
    pub fn new(lp: &Loop, socket: zmq::Socket) -> Result<Zmq> {
        Ok(Zmq(StreamHandle::new(&lp.0, ZmqSocket::new(socket)?)?))
    }

    /// The socket, for bind/connect/setsockopt/getsockopt. Using it may
    /// consume libzmq's edge, so an active handle looks at the socket again
    /// on the next loop iteration.
    pub fn socket(&self) -> &zmq::Socket {
        self.0.socket().get()
    }

    /// The loop this handle runs on (`Err(Error::Closed)` once it is gone).
    pub fn event_loop(&self) -> Result<Loop> {
        self.0.event_loop().map(Loop)
    }

    /// Hands every whole message received to `cb`, in order, from the loop
    /// (never inside this call). Replaces the callback if already reading;
    /// also resumes writing after [`stop`](Self::stop). On a socket type
    /// that cannot receive (PUSH, PUB) it is `Err(Zmq(ENOTSUP))`. When a
    /// receive fails for good (ETERM), `cb` gets the error once and the
    /// handle stops: close it to release the socket.
    ///
    /// The [`Multipart`] is `cb`'s. A callback that writes the `Vec` itself
    /// back ([`write_multipart`](Self::write_multipart),
    /// [`write_with`](Self::write_with) or [`send`](Self::send): an echo, a
    /// forward, frames replaced in it) has the next message received into
    /// that `Vec`: the frame list then costs no allocation per message.
    /// A `Vec` with room for more than 16 frames is not kept.
    pub fn start_read(&self, mut cb: impl FnMut(&Zmq, Result<Multipart>) + 'static) -> Result<()> {
        self.0.start_read(move |h, msg| cb(Zmq::wrap(h), msg))
    }

    /// As [`start_read`](Self::start_read), but lends each message's
    /// frames to `cb` instead of giving them away: the handle receives the
    /// next message into the same frames, so reading costs no allocation
    /// per message. Copy out what you keep (`frame.to_vec()`), or use
    /// [`start_read`](Self::start_read) to own the frames.
    ///
    /// ```
    /// use uzmq::{zmq, Loop, RunMode, Zmq};
    ///
    /// let ctx = zmq::Context::new();
    /// let lp = Loop::new()?;
    /// let pull = ctx.socket(zmq::PULL)?;
    /// pull.bind("inproc://frames-doc")?;
    /// let push = ctx.socket(zmq::PUSH)?;
    /// push.connect("inproc://frames-doc")?;
    /// for i in 0..3u8 {
    ///     push.send(&[i][..], 0)?;
    /// }
    /// let h = Zmq::new(&lp, pull)?;
    /// let mut sum = 0u32;
    /// h.start_read_frames(move |h, frames| {
    ///     sum += u32::from(frames.expect("message")[0][0]);
    ///     if sum == 3 {
    ///         h.close();
    ///     }
    /// })?;
    /// lp.run(RunMode::Default)?;
    /// # Ok::<(), uzmq::Error>(())
    /// ```
    pub fn start_read_frames(
        &self,
        mut cb: impl FnMut(&Zmq, Result<&[zmq::Message]>) + 'static,
    ) -> Result<()> {
        self.0
            .start_read_frames(move |h, frames| cb(Zmq::wrap(h), frames))
    }

    /// No more read callbacks, from the next message on (even inside a
    /// batch); unread messages stay in the socket. The callback is dropped:
    /// [`recv`](Self::recv) can take over.
    pub fn stop_read(&self) -> Result<()> {
        self.0.stop_read()
    }

    /// Queues a one-frame message. `Err(Zmq(ENOTSUP))` on a socket type that
    /// cannot send (PULL, SUB); `Err(QueueFull)` at the queue limit.
    pub fn write(&self, msg: impl Into<zmq::Message>) -> Result<()> {
        self.0.write(msg)
    }

    /// Queues a multipart message, sent atomically; zero parts is
    /// `Err(Zmq(EINVAL))`.
    pub fn write_multipart<I, M>(&self, parts: I) -> Result<()>
    where
        I: IntoIterator<Item = M>,
        M: Into<zmq::Message>,
    {
        self.0.write_multipart(parts)
    }

    /// Queues a multipart message (zero parts is `Err(Zmq(EINVAL))`) and
    /// calls `cb` once, from the loop (or from [`flush`](Self::flush)), when
    /// libzmq took it (`Ok`) or it failed (`Err`; `Err(Closed)` when the
    /// handle closed first).
    pub fn write_with<I, M>(
        &self,
        parts: I,
        cb: impl FnOnce(&Zmq, Result<()>) + 'static,
    ) -> Result<()>
    where
        I: IntoIterator<Item = M>,
        M: Into<zmq::Message>,
    {
        self.0.write_with(parts, move |h, r| cb(Zmq::wrap(h), r))
    }

    /// A new channel from other threads into this handle's write queue: at
    /// most `capacity` of its messages handed over and not yet taken by
    /// libzmq. `Err(Zmq(EINVAL))` for a zero capacity, `Err(Zmq(ENOTSUP))`
    /// on a socket type that cannot send (PULL, SUB). See [`Sender`].
    pub fn sender(&self, capacity: usize) -> Result<Sender> {
        self.0.sender(capacity).map(Sender)
    }

    /// Now, bypassing the loop: sends what libzmq takes (also when
    /// stopped) and hands what can be received to the read callback (if
    /// reading), up to one read batch each way, running the completion
    /// callbacks of what it sent before it returns. Returns how many
    /// messages it sent plus handed over. A panic in a callback propagates
    /// from here.
    pub fn flush(&self) -> Result<usize> {
        self.0.flush()
    }

    /// Messages queued and not yet taken by libzmq.
    pub fn write_queue_size(&self) -> usize {
        self.0.write_queue_size()
    }

    /// With `Some(n)`, a write that would make the queue longer than `n`
    /// returns `Err(Error::QueueFull)` and queues nothing; `None` (the
    /// default) is unbounded.
    pub fn set_write_queue_limit(&self, limit: Option<usize>) {
        self.0.set_write_queue_limit(limit)
    }

    /// At most `n` messages handed to the read callback (and at most `n`
    /// sent) per loop iteration before other handles run; 0 is taken as 1.
    /// The default is [`DEFAULT_READ_BATCH`](crate::DEFAULT_READ_BATCH) (1,000).
    pub fn set_read_batch(&self, n: usize) {
        self.0.set_read_batch(n)
    }

    /// Whether read callbacks are to come.
    pub fn is_reading(&self) -> bool {
        self.0.is_reading()
    }

    /// Reading, or writes queued and not stopped, or completion callbacks
    /// still to run, or shutting down (the rule `Loop::run` uses).
    pub fn is_active(&self) -> bool {
        self.0.is_active()
    }

    /// Stops reading and pauses writing; queued writes stay queued. A new
    /// write resumes writing, `start_read` resumes both. The read callback
    /// is dropped, as by [`stop_read`](Self::stop_read).
    pub fn stop(&self) -> Result<()> {
        self.0.stop()
    }

    /// Closes the handle: no read callback runs after this returns. From the
    /// loop, queued writes then get `Err(Error::Closed)` in queue order.
    pub fn close(&self) {
        self.0.close()
    }

    /// As [`close`](Self::close), then `cb` runs once, from the loop.
    pub fn close_with(&self, cb: impl FnOnce(&Zmq) + 'static) {
        self.0.close_with(move |h| cb(Zmq::wrap(h)))
    }

    /// Graceful close: stops reading, sends what is queued (also if the
    /// handle was stopped), then closes. `cb` runs last, with `Ok(())` when
    /// every queued write went out, or with the first write error (the
    /// writes behind it get `Err(Closed)`, or that same error when it stops
    /// the socket for good, like ETERM). From this call on the handle is
    /// closing: calls other than the getters return `Err(Closed)`. A peer
    /// that never takes the messages keeps the shutdown waiting; dropping
    /// the loop ends it. On a handle that already failed for good (its
    /// queued writes got that error then), `cb` gets `Ok(())`.
    pub fn shutdown(&self, cb: impl FnOnce(&Zmq, Result<()>) + 'static) {
        self.0.shutdown(move |h, r| cb(Zmq::wrap(h), r))
    }

    /// True once closing began (`close`, `close_with` or `shutdown`).
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}
