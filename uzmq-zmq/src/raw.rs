//! The libzmq calls made directly: `zmq_msg_send` on a message the
//! caller keeps when libzmq refuses it, `zmq_msg_recv` and the
//! `ZMQ_EVENTS` read of the hot path (one call each, where the `zmq`
//! crate's wrappers add a layer of their own per message),
//! `zmq_setsockopt` of an `int` option, `zmq_socket_monitor` with a NULL
//! endpoint, `zmq_unbind`, and a context of our own (`zmq_ctx_new`,
//! `zmq_ctx_get`, `zmq_ctx_set`, `zmq_socket`, `zmq_ctx_term`) for a
//! socket limit the crate cannot set.

use std::ffi::c_void;
use std::mem::{align_of, size_of};

// `zmq::Message` (zmq 0.9.2, pinned exactly in the workspace) is a struct
// whose only field is a `zmq_sys::zmq_msg_t`. With equal size and
// alignment that field must span the whole struct at offset 0, so a
// pointer to the message is a valid pointer to its `zmq_msg_t`. This
// assertion fails the build if a zmq upgrade ever changes that.
const _: () = assert!(
    size_of::<zmq::Message>() == size_of::<zmq_sys::zmq_msg_t>()
        && align_of::<zmq::Message>() == align_of::<zmq_sys::zmq_msg_t>()
);

/// The raw libzmq socket pointer of a `zmq::Socket` owned next to it.
pub(crate) struct RawSocket(*mut c_void);

impl RawSocket {
    /// Reads the pointer; valid as long as `socket` is alive, which the
    /// owner (`ZmqSocket`, holding both) guarantees.
    pub(crate) fn new(socket: &mut zmq::Socket) -> Self {
        RawSocket(socket.as_mut_ptr())
    }

    /// `zmq_msg_send(frame, ZMQ_DONTWAIT [| ZMQ_SNDMORE])`. On success libzmq
    /// took the content and left `frame` empty; on failure `frame` is
    /// untouched and still ours.
    #[inline]
    pub(crate) fn send(&self, frame: &mut zmq::Message, more: bool) -> Result<(), zmq::Error> {
        let flags =
            zmq_sys::ZMQ_DONTWAIT as i32 | if more { zmq_sys::ZMQ_SNDMORE as i32 } else { 0 };
        let msg = (frame as *mut zmq::Message).cast::<zmq_sys::zmq_msg_t>();
        // SAFETY: `msg` points to the `zmq_msg_t` inside `frame` (layout
        // asserted above), initialised because a `zmq::Message` always is,
        // and exclusively borrowed for this call. `self.0` is a live socket
        // (see `new`), used from the one thread that owns it. libzmq's
        // contract: on success the message is re-initialised empty (so the
        // later zmq_msg_close in Message's Drop is valid), on failure it is
        // left as it was.
        let rc = unsafe { zmq_sys::zmq_msg_send(msg, self.0, flags) };
        if rc == -1 { Err(last_error()) } else { Ok(()) }
    }
}

impl RawSocket {
    /// `zmq_msg_recv(frame, ZMQ_DONTWAIT)`, then whether more frames of the
    /// message follow. On failure `frame` is as it was.
    #[inline]
    pub(crate) fn recv(&self, frame: &mut zmq::Message) -> Result<bool, zmq::Error> {
        let msg = (frame as *mut zmq::Message).cast::<zmq_sys::zmq_msg_t>();
        // SAFETY: as in `send`: `msg` is the initialised `zmq_msg_t` inside
        // `frame`, exclusively borrowed; `self.0` is a live socket used from
        // its one thread. libzmq closes the old content before it stores
        // the new one, and on failure leaves the message as it was.
        let rc = unsafe { zmq_sys::zmq_msg_recv(msg, self.0, zmq_sys::ZMQ_DONTWAIT as i32) };
        if rc == -1 {
            return Err(last_error());
        }
        // SAFETY: `msg` is still the valid message libzmq just filled; this
        // only reads its flags.
        Ok(unsafe { zmq_sys::zmq_msg_more(msg) } != 0)
    }

    /// `ZMQ_EVENTS`: the `ZMQ_POLLIN`/`ZMQ_POLLOUT` bits.
    #[inline]
    pub(crate) fn events(&self) -> Result<i32, zmq::Error> {
        let mut events: i32 = 0;
        let mut len = size_of::<i32>();
        let option = zmq_sys::ZMQ_EVENTS as i32;
        // SAFETY: `self.0` is a live socket used from its one thread;
        // libzmq writes at most `len` (4) bytes to `events`, our `i32`, and
        // the actual length to `len`.
        let rc = unsafe {
            zmq_sys::zmq_getsockopt(
                self.0,
                option,
                (&mut events as *mut i32).cast::<c_void>(),
                &mut len,
            )
        };
        if rc == -1 {
            Err(last_error())
        } else {
            Ok(events)
        }
    }
}

impl RawSocket {
    /// `zmq_socket_monitor(socket, NULL, 0)`: switches monitoring off, and
    /// libzmq sends `MONITOR_STOPPED` to the monitor that was in place (the
    /// `zmq` crate's `monitor` takes an endpoint string, never NULL).
    pub(crate) fn monitor_off(&self) -> Result<(), zmq::Error> {
        // SAFETY: `self.0` is a live socket (see `new`), used from the one
        // thread that owns it. libzmq documents a NULL endpoint as "stop
        // monitoring"; it reads nothing through it, and the event mask is
        // ignored then.
        let rc = unsafe { zmq_sys::zmq_socket_monitor(self.0, std::ptr::null(), 0) };
        if rc == -1 { Err(last_error()) } else { Ok(()) }
    }
}

impl RawSocket {
    /// `zmq_unbind(socket, endpoint)`, which the `zmq` crate lacks.
    pub(crate) fn unbind(&self, endpoint: &std::ffi::CStr) -> Result<(), zmq::Error> {
        // SAFETY: `self.0` is a live socket (see `new`), used from the one
        // thread that owns it; `endpoint` is a NUL-terminated string that
        // outlives the call, which libzmq only reads.
        let rc = unsafe { zmq_sys::zmq_unbind(self.0, endpoint.as_ptr()) };
        if rc == -1 { Err(last_error()) } else { Ok(()) }
    }
}

/// `zmq_setsockopt` of an `int` option on `socket`.
pub(crate) fn set_int_option(
    socket: &mut zmq::Socket,
    option: u32,
    value: i32,
) -> Result<(), zmq::Error> {
    let option = i32::try_from(option).map_err(|_| zmq::Error::EINVAL)?;
    let optval = (&value as *const i32).cast::<c_void>();
    // SAFETY: `socket.as_mut_ptr()` is the live socket `socket` owns,
    // exclusively borrowed for this call. libzmq reads at most `optvallen`
    // bytes from `optval` (4 here, the `i32` on our stack) and checks that
    // length against what the option expects, failing with EINVAL when it
    // differs, so no option number can make it read past `value`.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            option,
            optval,
            std::mem::size_of::<i32>(),
        )
    };
    if rc == -1 { Err(last_error()) } else { Ok(()) }
}

/// A libzmq context made and terminated here, for options the `zmq` crate
/// cannot set on its own contexts (`ZMQ_MAX_SOCKETS`). Its sockets are
/// plain `zmq::Socket`s that hold no reference to it.
pub(crate) struct RawContext(*mut c_void);

impl RawContext {
    /// `zmq_ctx_new`.
    pub(crate) fn new() -> Result<Self, zmq::Error> {
        // SAFETY: zmq_ctx_new takes no arguments; it returns a new context
        // or null, checked here.
        let ctx = unsafe { zmq_sys::zmq_ctx_new() };
        if ctx.is_null() {
            Err(last_error())
        } else {
            Ok(RawContext(ctx))
        }
    }

    /// `zmq_ctx_set(option, value)`.
    pub(crate) fn set(&self, option: u32, value: i32) -> Result<(), zmq::Error> {
        let option = i32::try_from(option).map_err(|_| zmq::Error::EINVAL)?;
        // SAFETY: `self.0` is the live context this value owns (terminated
        // only by its drop); every context option takes an int by value,
        // and libzmq refuses an unknown one with EINVAL.
        let rc = unsafe { zmq_sys::zmq_ctx_set(self.0, option, value) };
        if rc == -1 { Err(last_error()) } else { Ok(()) }
    }

    /// `zmq_ctx_get(option)`.
    pub(crate) fn get(&self, option: u32) -> Result<i32, zmq::Error> {
        let option = i32::try_from(option).map_err(|_| zmq::Error::EINVAL)?;
        // SAFETY: as in `set`; zmq_ctx_get only reads the context.
        let value = unsafe { zmq_sys::zmq_ctx_get(self.0, option) };
        if value == -1 {
            Err(last_error())
        } else {
            Ok(value)
        }
    }

    /// `zmq_socket`, owned by the `zmq::Socket` returned (closed when it
    /// drops).
    pub(crate) fn socket(&self, kind: zmq::SocketType) -> Result<zmq::Socket, zmq::Error> {
        // The `zmq` crate keeps its own mapping to libzmq's numbers private.
        let raw = match kind {
            zmq::PAIR => zmq_sys::ZMQ_PAIR,
            zmq::PUB => zmq_sys::ZMQ_PUB,
            zmq::SUB => zmq_sys::ZMQ_SUB,
            zmq::REQ => zmq_sys::ZMQ_REQ,
            zmq::REP => zmq_sys::ZMQ_REP,
            zmq::DEALER => zmq_sys::ZMQ_DEALER,
            zmq::ROUTER => zmq_sys::ZMQ_ROUTER,
            zmq::PULL => zmq_sys::ZMQ_PULL,
            zmq::PUSH => zmq_sys::ZMQ_PUSH,
            zmq::XPUB => zmq_sys::ZMQ_XPUB,
            zmq::XSUB => zmq_sys::ZMQ_XSUB,
            zmq::STREAM => zmq_sys::ZMQ_STREAM,
        };
        let raw = i32::try_from(raw).map_err(|_| zmq::Error::EINVAL)?;
        // SAFETY: `self.0` is a live context (see `set`); zmq_socket
        // returns a new socket or null, checked here.
        let socket = unsafe { zmq_sys::zmq_socket(self.0, raw) };
        if socket.is_null() {
            return Err(last_error());
        }
        // SAFETY: `socket` was just created and nothing else owns it; the
        // `zmq::Socket` closes it once, when it drops.
        Ok(unsafe { zmq::Socket::from_raw(socket) })
    }
}

impl Drop for RawContext {
    /// `zmq_ctx_term`, again while a signal interrupts it (as the `zmq`
    /// crate's contexts do). It returns once every socket of the context
    /// is closed.
    fn drop(&mut self) {
        loop {
            // SAFETY: `self.0` is the live context this value owns, never
            // used after this loop.
            let rc = unsafe { zmq_sys::zmq_ctx_term(self.0) };
            if rc == 0 || last_error() != zmq::Error::EINTR {
                break;
            }
        }
    }
}

/// The error of the libzmq call that just failed on this thread.
#[inline]
fn last_error() -> zmq::Error {
    // SAFETY: zmq_errno only reads the calling thread's errno.
    zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() })
}
