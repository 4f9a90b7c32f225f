//! uzmq's zmq backend: [`ZmqSocket`] implements `uzmq_core::Socket` for a
//! `zmq::Socket` (`ZMQ_FD`, `ZMQ_EVENTS`, non-blocking frame send/receive).
//!
//! The `zmq` crate's `send` consumes its message even when libzmq refuses
//! it with `EAGAIN`, which would lose a queued write. So sends go through
//! `zmq_msg_send` on the caller's message directly (module `raw`): libzmq
//! leaves a refused message untouched, and the caller keeps it.
//!
//! [`LargeContext`] is a libzmq context for more sockets than libzmq's
//! default 1,023, which the `zmq` crate cannot raise.

// Unsafe code is denied but in the one module that calls libzmq directly.
#![deny(unsafe_code)]

mod context;
#[allow(unsafe_code)]
mod raw;

use std::cell::RefCell;

pub use context::LargeContext;
use uzmq_core::{Error, Events, Io, RawFd, Result, Socket};

/// A `zmq::Socket` as the handles drive it.
pub struct ZmqSocket {
    socket: zmq::Socket,
    raw: raw::RawSocket,
    can_send: bool,
    can_recv: bool,
    alternates: bool,
    /// The endpoint of the monitor in place, if any.
    monitor: RefCell<Option<String>>,
}

impl std::fmt::Debug for ZmqSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZmqSocket")
            .field("can_send", &self.can_send)
            .field("can_recv", &self.can_recv)
            .finish_non_exhaustive()
    }
}

impl ZmqSocket {
    /// Takes `socket`; reads its type once, to refuse impossible directions
    /// (`ENOTSUP`) without asking libzmq every time.
    pub fn new(mut socket: zmq::Socket) -> Result<Self> {
        let kind = socket.get_socket_type()?;
        let raw = raw::RawSocket::new(&mut socket);
        Ok(ZmqSocket {
            socket,
            raw,
            can_send: !matches!(kind, zmq::PULL | zmq::SUB),
            can_recv: !matches!(kind, zmq::PUSH | zmq::PUB),
            alternates: matches!(kind, zmq::REQ | zmq::REP),
            monitor: RefCell::new(None),
        })
    }

    /// The socket, for bind/connect/setsockopt and direct sends/receives.
    pub fn get(&self) -> &zmq::Socket {
        &self.socket
    }

    /// `zmq_unbind`: stops listening at `endpoint` (the `zmq` crate has no
    /// call for it).
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        let endpoint =
            std::ffi::CString::new(endpoint).map_err(|_| Error::Zmq(zmq::Error::EINVAL))?;
        self.raw.unbind(&endpoint).map_err(Error::Zmq)
    }
}

/// Sets an `int` option the `zmq` crate has no setter for, such as
/// `zmq_sys::ZMQ_XPUB_NODROP`, on `socket` (before it goes into a handle).
/// libzmq checks the value's size against the option, so a wrong option
/// number is `EINVAL`, never a bad read.
pub fn set_int_option(socket: &mut zmq::Socket, option: u32, value: i32) -> Result<()> {
    raw::set_int_option(socket, option, value).map_err(Error::Zmq)
}

/// `EAGAIN` is "not now"; so is `EFSM`, which REQ/REP return exactly when
/// `ZMQ_EVENTS` would not show that direction (the handles rely on it to
/// let a REQ's second write wait for the reply).
fn would_block(e: zmq::Error) -> bool {
    matches!(e, zmq::Error::EAGAIN | zmq::Error::EFSM)
}

impl Socket for ZmqSocket {
    fn fd(&self) -> Result<RawFd> {
        Ok(self.socket.get_fd()?)
    }

    #[inline]
    fn events(&self) -> Result<Events> {
        let ev = self.raw.events()?;
        let mut out = Events::empty();
        if ev & i32::from(zmq::POLLIN.bits()) != 0 {
            out |= Events::READABLE;
        }
        if ev & i32::from(zmq::POLLOUT.bits()) != 0 {
            out |= Events::WRITABLE;
        }
        Ok(out)
    }

    #[inline]
    fn send_frame(&self, frame: &mut zmq::Message, more: bool) -> Result<Io<()>> {
        match self.raw.send(frame, more) {
            Ok(()) => Ok(Io::Done(())),
            Err(e) if would_block(e) => Ok(Io::WouldBlock),
            Err(e) => Err(Error::Zmq(e)),
        }
    }

    #[inline]
    fn recv_frame(&self, frame: &mut zmq::Message) -> Result<Io<bool>> {
        match self.raw.recv(frame) {
            Ok(more) => Ok(Io::Done(more)),
            Err(e) if would_block(e) => Ok(Io::WouldBlock),
            Err(e) => Err(Error::Zmq(e)),
        }
    }

    /// A zero-timeout `zmq_poll` of `ZMQ_FD` for readability, which reads
    /// nothing from it; a failure counts as signalled.
    fn is_signalled(&self) -> bool {
        let Ok(fd) = self.socket.get_fd() else {
            return true;
        };
        let mut item = [zmq::PollItem::from_fd(fd, zmq::POLLIN)];
        zmq::poll(&mut item, 0).map_or(true, |n| n > 0)
    }

    fn can_send(&self) -> bool {
        self.can_send
    }

    fn can_recv(&self) -> bool {
        self.can_recv
    }

    fn alternates(&self) -> bool {
        self.alternates
    }

    /// `zmq_socket_monitor` for every event.
    fn monitor(&self, endpoint: &str) -> Result<()> {
        self.socket
            .monitor(endpoint, zmq::SocketEvent::ALL as i32)?;
        *self.monitor.borrow_mut() = Some(endpoint.to_owned());
        Ok(())
    }

    fn stop_monitor(&self, endpoint: Option<&str>) {
        let mut current = self.monitor.borrow_mut();
        let matches = match (current.as_deref(), endpoint) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(cur), Some(ep)) => cur == ep,
        };
        if matches {
            *current = None;
            // A failure (ETERM: the context is gone, and its monitors with
            // it) leaves nothing to switch off.
            let _ = self.raw.monitor_off();
        }
    }
}

impl Drop for ZmqSocket {
    /// Monitoring is switched off here, on the owning thread, rather than
    /// by libzmq's reaper after `zmq_close`: the monitor's reader may be
    /// gone by then, and libzmq's monitor sends block.
    fn drop(&mut self) {
        self.stop_monitor(None);
    }
}
