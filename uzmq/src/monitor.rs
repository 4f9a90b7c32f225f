//! `Monitor`: a socket's connection events (`zmq_socket_monitor`) on the
//! loop, and the `monitor` calls of `Zmq` and `ZmqPoll` that make one.

use ref_cast::{RefCastCustom, ref_cast_custom};
use uzmq_core::{MonitorHandle, Result};
use uzmq_uv::UvLoop;
use uzmq_zmq::ZmqSocket;

use crate::{Loop, SocketEvent, Zmq, ZmqPoll};

/// A monitor of a socket's connection events: who connects, who leaves,
/// whose handshake fails, reported to a callback from the loop, in the
/// order libzmq emitted them. Made by [`Zmq::monitor`] or
/// [`ZmqPoll::monitor`]; cloning makes another reference.
///
/// A monitor is active from its creation until monitoring stops: when the
/// monitored handle closes (even while you still hold a clone of it), or
/// a later `monitor()` on the same handle replaces it, its callback gets
/// [`EventKind::MonitorStopped`](crate::EventKind::MonitorStopped) as the last event and the monitor closes
/// itself. [`close`](Self::close) switches monitoring off; no callback runs
/// after it returns. When the context is terminated the callback gets the
/// error once and the monitor stops.
///
/// libzmq sends monitor events with blocking sends from its own threads,
/// so a reader that fell behind would stall the monitored socket. The
/// monitor's PAIR socket has an unlimited receive high-water mark for that
/// reason, and is read like any [`Zmq`] handle, in batches.
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use uzmq::{zmq, EventKind, Loop, RunMode, Zmq};
///
/// let ctx = zmq::Context::new();
/// let lp = Loop::new()?;
/// let server = Zmq::new(&lp, ctx.socket(zmq::PULL)?)?;
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let log = seen.clone();
/// // Before bind, so that `Listening` is seen.
/// server.monitor(&ctx, move |_monitor, event| {
///     log.borrow_mut().push(event.expect("an event").kind);
/// })?;
/// server.socket().bind("tcp://127.0.0.1:*")?;
/// server.close(); // monitoring ends with the handle: MonitorStopped comes last
/// lp.run(RunMode::Default)?;
/// assert_eq!(seen.borrow().first(), Some(&EventKind::Listening));
/// assert_eq!(seen.borrow().last(), Some(&EventKind::MonitorStopped));
/// # Ok::<(), uzmq::Error>(())
/// ```
#[derive(Clone, Debug, RefCastCustom)]
#[repr(transparent)]
pub struct Monitor(MonitorHandle<UvLoop, ZmqSocket>);

impl Monitor {
    /// The handle a core callback got, as this type: a view of the same
    /// memory, so no reference count is touched per callback.
    #[ref_cast_custom]
    fn wrap(h: &MonitorHandle<UvLoop, ZmqSocket>) -> &Self;
}

/// The PAIR that reads a monitor's events: an unlimited receive high-water
/// mark (set before it connects, so the inproc pipe gets it) and linger 0.
fn connect_pair(ctx: &zmq::Context, endpoint: &str) -> Result<ZmqSocket> {
    let pair = ctx.socket(zmq::PAIR)?;
    pair.set_rcvhwm(0)?;
    pair.set_linger(0)?;
    pair.connect(endpoint)?;
    ZmqSocket::new(pair)
}

impl Monitor {
    /// The loop this handle runs on (`Err(Error::Closed)` once it is gone).
    pub fn event_loop(&self) -> Result<Loop> {
        self.0.event_loop().map(Loop)
    }

    /// From creation until monitoring stops or the handle closes.
    pub fn is_active(&self) -> bool {
        self.0.is_active()
    }

    /// True once closing began: by [`close`](Self::close), or by itself
    /// after `MonitorStopped` or an error.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// The `inproc://` endpoint libzmq's monitor socket is bound at (unique
    /// in the process).
    pub fn endpoint(&self) -> &str {
        self.0.endpoint()
    }

    /// Switches monitoring off (if this monitor is still the one in place)
    /// and closes the handle: no callback runs after this returns.
    pub fn close(&self) {
        self.0.close()
    }

    /// As [`close`](Self::close); `cb` runs once, from the loop, after it
    /// closed.
    pub fn close_with(&self, cb: impl FnOnce(&Monitor) + 'static) {
        self.0.close_with(move |h| cb(Monitor::wrap(h)))
    }
}

impl Zmq {
    /// Starts reporting this socket's events (all of them) to `cb`, from
    /// the loop, in the order libzmq emitted them; see [`Monitor`]. `ctx`
    /// is the context the socket was created in. Events before the call are
    /// not seen: call it before `bind`/`connect`. A later `monitor` replaces
    /// this one (which gets `MonitorStopped`). `Err(Error::Closed)` on a
    /// closed handle.
    ///
    /// ```
    /// use uzmq::{zmq, EventKind, Loop, RunMode, Zmq};
    ///
    /// let ctx = zmq::Context::new();
    /// let lp = Loop::new()?;
    /// let server = Zmq::new(&lp, ctx.socket(zmq::REP)?)?;
    /// server.monitor(&ctx, |monitor, event| {
    ///     let event = event.expect("an event");
    ///     if event.kind == EventKind::Listening {
    ///         println!("listening on {}", event.endpoint);
    ///         monitor.close();
    ///     }
    /// })?;
    /// server.socket().bind("tcp://127.0.0.1:*")?;
    /// lp.run(RunMode::Default)?;
    /// # Ok::<(), uzmq::Error>(())
    /// ```
    pub fn monitor(
        &self,
        ctx: &zmq::Context,
        cb: impl FnMut(&Monitor, Result<SocketEvent>) + 'static,
    ) -> Result<Monitor> {
        self.0
            .monitor(|endpoint| connect_pair(ctx, endpoint), as_monitor(cb))
            .map(Monitor)
    }
}

impl ZmqPoll {
    /// As [`Zmq::monitor`], for a poll handle's socket.
    pub fn monitor(
        &self,
        ctx: &zmq::Context,
        cb: impl FnMut(&Monitor, Result<SocketEvent>) + 'static,
    ) -> Result<Monitor> {
        self.0
            .monitor(|endpoint| connect_pair(ctx, endpoint), as_monitor(cb))
            .map(Monitor)
    }
}

/// A user's monitor callback, as the core handle calls it.
fn as_monitor(
    mut cb: impl FnMut(&Monitor, Result<SocketEvent>) + 'static,
) -> impl FnMut(&MonitorHandle<UvLoop, ZmqSocket>, Result<SocketEvent>) + 'static {
    move |h, ev| cb(Monitor::wrap(h), ev)
}
