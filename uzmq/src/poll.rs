//! `ZmqPoll`: readiness of a zmq socket on the loop, level-triggered.

use ref_cast::{RefCastCustom, ref_cast_custom};
use std::future::Future;
use std::time::Duration;

use uzmq_core::{Error, Events, PollHandle, Result};
use uzmq_uv::UvLoop;
use uzmq_zmq::ZmqSocket;

use crate::Loop;

/// A poll handle: reports when its zmq socket can receive
/// ([`Events::READABLE`]) or send ([`Events::WRITABLE`]), like `uv_poll_t`
/// for a plain fd. You do the `recv`/`send` through [`socket`](Self::socket).
///
/// Level-triggered: while the socket stays ready and the handle is
/// started, the callback runs again once per loop iteration, although
/// libzmq's `ZMQ_FD` only signals edges. A handle whose socket is not ready
/// costs nothing while the loop waits. Cloning makes another reference.
///
/// ```
/// use uzmq::{zmq, Events, Loop, RunMode, ZmqPoll};
///
/// let ctx = zmq::Context::new();
/// let lp = Loop::new()?;
/// let rep = ctx.socket(zmq::REP)?;
/// rep.bind("tcp://127.0.0.1:*")?;
/// let endpoint = rep.get_last_endpoint()?.expect("utf-8 endpoint");
/// let req = ctx.socket(zmq::REQ)?;
/// req.connect(&endpoint)?;
/// req.send("ping", 0)?;
///
/// let server = ZmqPoll::new(&lp, rep)?;
/// server.start(Events::READABLE, |h, events, err| {
///     assert!(err.is_none() && events.contains(Events::READABLE));
///     let request = h.socket().recv_bytes(zmq::DONTWAIT).expect("ready");
///     h.socket().send(&request, zmq::DONTWAIT).expect("reply");
///     h.close();
/// })?;
/// lp.run(RunMode::Default)?;
/// assert_eq!(req.recv_bytes(0)?, b"ping");
/// # Ok::<(), uzmq::Error>(())
/// ```
#[derive(Clone, Debug, RefCastCustom)]
#[repr(transparent)]
pub struct ZmqPoll(pub(crate) PollHandle<UvLoop, ZmqSocket>);

impl ZmqPoll {
    /// The handle a core callback got, as this type: a view of the same
    /// memory, so no reference count is touched per callback.
    #[ref_cast_custom]
    fn wrap(h: &PollHandle<UvLoop, ZmqSocket>) -> &Self;
}

impl ZmqPoll {
    /// Takes `socket`; nothing is watched until [`start`](Self::start).
    pub fn new(lp: &Loop, socket: zmq::Socket) -> Result<ZmqPoll> {
        Ok(ZmqPoll(PollHandle::new(&lp.0, ZmqSocket::new(socket)?)?))
    }

    /// The socket, to send, receive or set options from callbacks. Using it
    /// may consume libzmq's edge, so a started handle looks at the socket
    /// again on the next loop iteration.
    #[inline]
    pub fn socket(&self) -> &zmq::Socket {
        self.0.socket().get()
    }

    /// The loop this handle runs on (`Err(Error::Closed)` once it is gone).
    pub fn event_loop(&self) -> Result<Loop> {
        self.0.event_loop().map(Loop)
    }

    /// Starts, or updates the mask and callback of a started handle.
    ///
    /// `cb` gets the events both requested and true now (`ZMQ_EVENTS` read
    /// just before the call), never an empty set. When the socket's state
    /// cannot be read it gets the error and no events, once, and the handle
    /// stops for good (a later `start` returns that error; close it to
    /// release the socket).
    ///
    /// Refusals, the first that applies wins, and each leaves the handle
    /// as it was (old mask and callback): `Err(Error::Closed)` on a closed
    /// handle or one whose loop is gone; `Err(Zmq(ENOTSUP))` for a
    /// direction the socket type can never have (WRITABLE on PULL/SUB,
    /// READABLE on PUSH/PUB); the error that stopped the handle for good
    /// (ETERM); `Err(Zmq(EINVAL))` for an empty mask.
    pub fn start(
        &self,
        events: Events,
        mut cb: impl FnMut(&ZmqPoll, Events, Option<Error>) + 'static,
    ) -> Result<()> {
        self.0
            .start(events, move |h, ev, err| cb(ZmqPoll::wrap(h), ev, err))
    }

    /// As [`start`](Self::start); also calls `cb` with `Events::empty()`
    /// each time `timeout` passes with no callback (measured from this
    /// call: the loop time is refreshed first). A zero timeout is
    /// `Err(Zmq(EINVAL))`, after the refusals of `start` that come first
    /// (a closed handle, ENOTSUP).
    pub fn start_with_timeout(
        &self,
        events: Events,
        timeout: Duration,
        mut cb: impl FnMut(&ZmqPoll, Events, Option<Error>) + 'static,
    ) -> Result<()> {
        self.0
            .start_with_timeout(events, timeout, move |h, ev, err| {
                cb(ZmqPoll::wrap(h), ev, err)
            })
    }

    /// Resolves with the requested `events` that are true, once one is
    /// (`ZMQ_EVENTS`, as a callback would get them). The handle must not be
    /// started: the future starts it for one report when first polled and
    /// stops it when it resolves or is dropped. The refusals of
    /// [`start`](Self::start) apply, and `Err(Zmq(EBUSY))` on a started
    /// handle. Pending, it keeps the handle active; if the handle closes
    /// meanwhile it resolves with `Err(Closed)`.
    ///
    /// ```
    /// use uzmq::{zmq, Events, Loop, ZmqPoll};
    ///
    /// let ctx = zmq::Context::new();
    /// let lp = Loop::new()?;
    /// let pull = ctx.socket(zmq::PULL)?;
    /// pull.bind("inproc://ready")?;
    /// let push = ctx.socket(zmq::PUSH)?;
    /// push.connect("inproc://ready")?;
    /// push.send("ping", 0)?;
    /// let h = ZmqPoll::new(&lp, pull)?;
    /// let ready = lp.block_on(h.ready(Events::READABLE))??;
    /// assert_eq!(ready, Events::READABLE);
    /// assert_eq!(h.socket().recv_bytes(zmq::DONTWAIT)?, b"ping");
    /// # Ok::<(), uzmq::Error>(())
    /// ```
    pub fn ready(&self, events: Events) -> impl Future<Output = Result<Events>> + use<> {
        self.0.ready(events)
    }

    /// No more callbacks until `start`.
    pub fn stop(&self) -> Result<()> {
        self.0.stop()
    }

    /// Closes the handle: no callback runs after this returns.
    pub fn close(&self) {
        self.0.close()
    }

    /// Closes the handle; `cb` runs once, from the loop, after it closed.
    pub fn close_with(&self, cb: impl FnOnce(&ZmqPoll) + 'static) {
        self.0.close_with(move |h| cb(ZmqPoll::wrap(h)))
    }

    /// Started, not stopped or closed.
    pub fn is_active(&self) -> bool {
        self.0.is_active()
    }

    /// True once closing has begun.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}
