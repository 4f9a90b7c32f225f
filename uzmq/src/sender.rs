//! `Sender`: hands messages from any thread to a `Zmq` handle's write queue.

use std::fmt;

use uzmq_core::{Result, SenderHandle};
use uzmq_uv::UvLoop;

/// A channel from any thread into a [`Zmq`](crate::Zmq) handle's write
/// queue, made by [`Zmq::sender`](crate::Zmq::sender): `Clone + Send +
/// Sync`, its clones share the channel.
///
/// At most `capacity` of the channel's messages are handed over and not
/// yet taken by libzmq (or failed): [`send`](Sender::send) blocks while
/// that many are, [`try_send`](Sender::try_send) returns
/// `Err(Error::QueueFull)`. The channel's messages reach the write queue
/// whole and in the order they were handed over, then go out as every
/// write does (in order, exactly once, waiting at the head when libzmq
/// cannot take them yet).
///
/// A live `Sender` (any clone, on any thread) keeps its handle active,
/// like a queued write, so `run(RunMode::Default)` waits for it (not while
/// the handle is stopped). When the handle closes, or its loop goes,
/// messages not yet taken by libzmq are dropped and every call, a blocked
/// `send` included, returns `Err(Error::Closed)`; after a fatal error
/// (ETERM) they return that error. [`Zmq::shutdown`](crate::Zmq::shutdown)
/// sends what was handed over before it was called.
///
/// ```
/// use std::thread;
/// use uzmq::{zmq, Loop, RunMode, Zmq};
///
/// let ctx = zmq::Context::new();
/// let lp = Loop::new()?;
/// let pull = ctx.socket(zmq::PULL)?;
/// pull.bind("inproc://sender-doc")?;
/// let push = ctx.socket(zmq::PUSH)?;
/// push.connect("inproc://sender-doc")?;
///
/// let writer = Zmq::new(&lp, push)?;
/// let sender = writer.sender(100)?;
/// let producer = thread::spawn(move || -> uzmq::Result<()> {
///     for i in 0..1_000u32 {
///         sender.send(i.to_le_bytes().to_vec())?; // blocks at 100 in flight
///     }
///     Ok(()) // the last clone goes: the handle no longer waits for it
/// });
///
/// let reader = Zmq::new(&lp, pull)?;
/// let mut next = 0u32;
/// reader.start_read(move |h, msg| {
///     let msg = msg.expect("message");
///     assert_eq!(msg[0][..], next.to_le_bytes()); // in order
///     next += 1;
///     if next == 1_000 {
///         h.close();
///     }
/// })?;
/// lp.run(RunMode::Default)?;
/// producer.join().expect("producer")?;
/// # Ok::<(), uzmq::Error>(())
/// ```
#[derive(Clone)]
pub struct Sender(pub(crate) SenderHandle<UvLoop>);

impl Sender {
    /// Hands a one-frame message over, blocking the calling thread while
    /// `capacity` messages of this channel are handed over and not yet
    /// taken by libzmq. `Err(Error::Closed)` once the handle closed (or its
    /// loop went), or the error that stopped it for good.
    pub fn send(&self, msg: impl Into<zmq::Message>) -> Result<()> {
        self.0.send_one(msg.into())
    }

    /// As [`send`](Self::send), for a multipart message, handed over whole;
    /// zero parts is `Err(Zmq(EINVAL))`.
    pub fn send_multipart<I, M>(&self, parts: I) -> Result<()>
    where
        I: IntoIterator<Item = M>,
        M: Into<zmq::Message>,
    {
        self.0.send(parts.into_iter().map(Into::into).collect())
    }

    /// As [`send`](Self::send), without blocking: `Err(Error::QueueFull)`
    /// when the channel is at capacity (the message is dropped).
    pub fn try_send(&self, msg: impl Into<zmq::Message>) -> Result<()> {
        self.0.try_send_one(msg.into())
    }

    /// As [`send_multipart`](Self::send_multipart), without blocking:
    /// `Err(Error::QueueFull)` at capacity (the message is dropped).
    pub fn try_send_multipart<I, M>(&self, parts: I) -> Result<()>
    where
        I: IntoIterator<Item = M>,
        M: Into<zmq::Message>,
    {
        self.0.try_send(parts.into_iter().map(Into::into).collect())
    }

    /// Whether the handle closed (or its loop went, or it failed for good).
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
