//! ZeroMQ sockets on a libuv event loop.
//!
//! uzmq gives a [`zmq::Socket`] two kinds of libuv handle:
//!
//! - [`ZmqPoll`], a poll handle: tells you when the socket can receive or
//!   send, like `uv_poll_t` does for a plain fd; you call `recv`/`send`.
//! - [`Zmq`], a stream handle: hands every whole message received to a
//!   callback, and sends the messages you queue, in order, exactly once,
//!   each with an optional completion callback.
//!
//! plus the [`Loop`] they run on, a [`Timer`] and a [`Signal`] handle.
//!
//! ```
//! use uzmq::{zmq, Loop, RunMode, Zmq};
//!
//! let ctx = zmq::Context::new();
//! let lp = Loop::new()?;
//! let pull = ctx.socket(zmq::PULL)?;
//! pull.bind("inproc://guide")?;
//! let push = ctx.socket(zmq::PUSH)?;
//! push.connect("inproc://guide")?;
//!
//! let reader = Zmq::new(&lp, pull)?;
//! reader.start_read(|h, msg| {
//!     let msg = msg.expect("receive");
//!     assert_eq!(&msg[0][..], b"hello");
//!     h.close(); // nothing left to do: the loop can end
//! })?;
//! let writer = Zmq::new(&lp, push)?;
//! writer.write("hello")?;
//! lp.run(RunMode::Default)?;
//! # Ok::<(), uzmq::Error>(())
//! ```
//!
//! # Edge triggering, and what uzmq promises
//!
//! libzmq gives each socket one file descriptor (`ZMQ_FD`). It does not
//! mean "readable": it signals, on edges only, that the socket's state may
//! have changed, and every send, receive or `ZMQ_EVENTS` read can consume
//! that signal. A loop that waits on the fd after a send or receive without
//! reading `ZMQ_EVENTS` again can sleep forever with messages waiting.
//!
//! uzmq handles that for you. Both handles read `ZMQ_EVENTS` after the last
//! send or receive before they let the loop sleep on the fd, and look at
//! the socket again on the next iteration after anything that may have
//! consumed the edge (a start, a write, a callback, or any access through
//! `socket()`). So:
//!
//! - [`ZmqPoll`] is level-triggered: while the socket stays ready and the
//!   handle is started, its callback runs again on every loop iteration.
//! - [`Zmq`] never leaves a message unread that it could read, never keeps
//!   a write queued that libzmq would take, and never burns CPU: a handle
//!   with nothing to do keeps nothing armed, and an idle loop blocks in the
//!   kernel.
//! - Reads are fair: a busy socket hands over at most
//!   [`Zmq::set_read_batch`] messages per loop iteration (1,000 by
//!   default), so timers and other handles still run.
//!
//! # Closing, and queued writes
//!
//! [`Zmq::close`] stops the handle at once: no read callback runs after it
//! returns. Writes that libzmq had not taken yet are cancelled: from the
//! loop, their completion callbacks get `Err(Error::Closed)` in queue
//! order, then the close callback runs. To send what is queued first, use
//! [`Zmq::shutdown`]. The socket itself is released once the close is done
//! and the last clone of the handle is gone (its `ZMQ_LINGER` applies).
//!
//! # Ownership
//!
//! Handles are `Clone` (a clone is another reference) and callbacks get the
//! handle as their first argument. The loop keeps every active handle
//! alive, so a started handle goes on working after you drop all its
//! clones; a handle that is neither active nor referenced is closed. A
//! [`Loop`] owns its handles: when its last clone is dropped every handle
//! on it is closed and its callbacks are dropped without being called.
//! Callbacks run only from the loop (or from [`Zmq::flush`]), never inside
//! another call, and each may stop, close, start or write to any handle.
#![forbid(unsafe_code)]

mod event_loop;
mod poll;
mod signal;
mod stream;
mod timer;

pub use event_loop::Loop;
pub use poll::ZmqPoll;
pub use signal::Signal;
pub use stream::Zmq;
pub use timer::Timer;
pub use uzmq_core::{DEFAULT_READ_BATCH, Error, Events, Multipart, Result, RunMode};
/// The `zmq` crate uzmq is built with: create contexts and sockets with it.
pub use zmq;
/// The `zmq-sys` crate (libzmq's C API) the `zmq` crate is built on, for
/// libzmq options the `zmq` crate has no setter for, such as raising the
/// context's socket limit (`ZMQ_MAX_SOCKETS`) or `ZMQ_XPUB_NODROP`.
pub use zmq_sys;
