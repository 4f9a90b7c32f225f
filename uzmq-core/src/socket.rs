//! The socket boundary: what a handle needs from a zmq socket.
//!
//! Implemented for `zmq::Socket` by `uzmq-zmq` and by `mock::MockSocket`.
//! All methods take `&self` because libzmq sockets are shared with user code
//! (`handle.socket()`), as in the `zmq` crate; every call may still change the
//! socket's state, and in particular may consume the edge on its fd.

use crate::{Error, Events, Result};

/// A raw file descriptor, as `ZMQ_FD` returns it.
pub type RawFd = i32;

/// What a non-blocking send or receive of one frame did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Io<T> {
    /// libzmq took the frame (send) or handed one over (receive).
    Done(T),
    /// Not now: `EAGAIN`, or `EFSM` (the pattern forbids it in this state,
    /// which `ZMQ_EVENTS` also reports as not ready). The frame is untouched.
    WouldBlock,
}

/// A zmq socket driven without blocking.
pub trait Socket: 'static {
    /// The `ZMQ_FD` signaller: readable (level) means "state may have
    /// changed", raised only on edges; never a statement about data.
    fn fd(&self) -> Result<RawFd>;

    /// Reads `ZMQ_EVENTS`. Processes the socket's pending commands, and so
    /// consumes the fd signal: after a send or receive, this is the only way
    /// to know the socket is quiet.
    fn events(&self) -> Result<Events>;

    /// Sends one frame with `ZMQ_DONTWAIT` (and `ZMQ_SNDMORE` when `more`).
    /// On `Done` the frame's content was moved into libzmq and `frame` is
    /// left empty, owning nothing (as libzmq leaves a sent message), so the
    /// caller may forget it without closing it; on `WouldBlock` or `Err`
    /// the caller still owns it intact.
    fn send_frame(&self, frame: &mut zmq::Message, more: bool) -> Result<Io<()>>;

    /// Receives one frame with `ZMQ_DONTWAIT` into `frame`;
    /// `Done(more)` tells whether more frames of the message follow.
    fn recv_frame(&self, frame: &mut zmq::Message) -> Result<Io<bool>>;

    /// Whether `ZMQ_FD` is readable now, asked without consuming anything
    /// (a zero-timeout `poll`): commands are waiting that the next events
    /// read will process. A send or receive that libzmq refused although
    /// `ZMQ_EVENTS` allowed it is tried again only after such commands
    /// (or the handle's own progress the other way) may have changed the
    /// answer; see the stream handle's step. When the fd cannot be asked,
    /// answer `true`: one more attempt is always safe.
    fn is_signalled(&self) -> bool;

    /// Whether this socket type can send at all (false for PULL, SUB).
    fn can_send(&self) -> bool;

    /// Whether this socket type can receive at all (false for PUSH, PUB).
    fn can_recv(&self) -> bool;

    /// Whether sends and receives strictly alternate (REQ, REP): once a
    /// reply went out nothing can be received before a new request comes
    /// from the wire, so after a send the handle reads `ZMQ_EVENTS` instead
    /// of trying a receive that would almost always find nothing. A hint
    /// for speed only: `false` is always correct.
    fn alternates(&self) -> bool {
        false
    }

    /// Starts reporting every event of this socket to a PAIR socket that
    /// `zmq_socket_monitor` binds at the `inproc://` `endpoint`, replacing
    /// the monitor in place (libzmq sends that one `MONITOR_STOPPED`).
    /// Default: `Err(Zmq(ENOTSUP))`, for a backend with no monitoring (the
    /// mock).
    fn monitor(&self, _endpoint: &str) -> Result<()> {
        Err(Error::Zmq(zmq::Error::ENOTSUP))
    }

    /// Switches monitoring off (libzmq then sends `MONITOR_STOPPED` to the
    /// monitor) when the monitor in place is the one at `endpoint`, or
    /// whichever is with `None`; otherwise does nothing. Called when the
    /// handle owning the socket closes: libzmq's monitor sends block, so a
    /// monitor must never outlive its reader. Default: nothing.
    fn stop_monitor(&self, _endpoint: Option<&str>) {}
}
