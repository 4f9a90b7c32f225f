//! ZeroMQ sockets on a libuv event loop.
//!
//! uzmq gives a [`zmq::Socket`](https://docs.rs/zmq/0.9.2/zmq/struct.Socket.html)
//! two kinds of libuv handle:
//!
//! - [`ZmqPoll`], a poll handle: tells you when the socket can receive or
//!   send, like `uv_poll_t` does for a plain fd; you call `recv`/`send`.
//! - [`Zmq`], a stream handle: hands every whole message received to a
//!   callback, and sends the messages you queue, in order, exactly once,
//!   each with an optional completion callback.
//!
//! plus the [`Loop`] they run on, a [`Timer`] and a [`Signal`] handle;
//! [`Remote`] and [`Sender`] reach a loop from other threads, and
//! [`uv`] with [`Loop::as_raw`] / [`Loop::from_raw`] share it with other
//! libuv code; for security, a [`Monitor`] of connection events and an
//! [`Authenticator`] (see the security section below).
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
//!
//! # Threads: a loop and its handles live on one thread
//!
//! [`Loop`] and every handle ([`Zmq`], [`ZmqPoll`], [`Timer`], [`Signal`])
//! are `!Send` and `!Sync`: they share their state through `Rc`s, without
//! locks, so they never leave the thread they were created on. When one is
//! moved into `std::thread::spawn` (or captured by anything that must be
//! `Send`), the compiler refuses with an error naming an internal type,
//! along the lines of "`Rc<uzmq_core::event_loop::LoopShared<UvLoop>>`
//! cannot be sent between threads safely". It means: this value stays on
//! its thread. What to do instead:
//!
//! - Create the loop, and every handle on it, inside the thread that runs
//!   the loop. Hand that thread the data it needs to build them (endpoints,
//!   settings), not the handles.
//! - A [`zmq::Socket`](https://docs.rs/zmq/0.9.2/zmq/struct.Socket.html) is
//!   `Send`: create, bind or connect it wherever is convenient, move it
//!   into the loop's thread, and wrap it there with [`Zmq::new`] or
//!   [`ZmqPoll::new`].
//! - To hand work or messages to the loop from other threads, use its
//!   door: [`Loop::remote`] gives a [`Remote`] (`Send + Sync`) whose
//!   [`post`](Remote::post) runs a function on the loop's thread, and
//!   [`Zmq::sender`] gives a [`Sender`] (`Send + Sync`) that hands
//!   messages to a handle's write queue, with a bounded capacity. Nothing
//!   else of a loop may be touched from another thread.
//! - Data can also cross through zmq sockets: an `inproc://` PUSH in the
//!   producing thread and a PULL read by a [`Zmq`] handle on the loop
//!   (each thread owns its socket; sockets of one context connect across
//!   threads).
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use std::thread;
//!
//! use uzmq::{zmq, Loop, RunMode, Zmq};
//!
//! let ctx = zmq::Context::new();
//! let pull = ctx.socket(zmq::PULL)?; // a zmq::Socket is Send
//! pull.bind("inproc://to-the-loop")?;
//! let push = ctx.socket(zmq::PUSH)?;
//! push.connect("inproc://to-the-loop")?;
//!
//! let loop_thread = thread::spawn(move || -> uzmq::Result<Vec<u8>> {
//!     // The loop and its handles are made here, where they run.
//!     let lp = Loop::new()?;
//!     let reader = Zmq::new(&lp, pull)?;
//!     let got = Rc::new(RefCell::new(Vec::new()));
//!     let g = got.clone();
//!     reader.start_read(move |h, msg| {
//!         *g.borrow_mut() = msg.expect("a message")[0].to_vec();
//!         h.close();
//!     })?;
//!     lp.run(RunMode::Default)?;
//!     Ok(got.take())
//! });
//! // Data, not handles, crosses the threads: here through the sockets.
//! push.send("hello", 0)?;
//! assert_eq!(loop_thread.join().expect("the loop thread")?, b"hello");
//! # Ok::<(), uzmq::Error>(())
//! ```
//!
//! A loop cannot be sent to another thread:
//!
//! ```compile_fail
//! let lp = uzmq::Loop::new()?;
//! std::thread::spawn(move || lp.run(uzmq::RunMode::Default));
//! # Ok::<(), uzmq::Error>(())
//! ```
//!
//! nor can a handle:
//!
//! ```compile_fail
//! fn needs_send<T: Send>(_: T) {}
//! let lp = uzmq::Loop::new()?;
//! let ctx = uzmq::zmq::Context::new();
//! let handle = uzmq::Zmq::new(&lp, ctx.socket(uzmq::zmq::PULL)?)?;
//! needs_send(handle);
//! # Ok::<(), uzmq::Error>(())
//! ```
//!
//! # Security: who may connect, and who did
//!
//! [`Authenticator`] answers libzmq's ZAP requests (RFC 27) for every
//! socket of a context, from the loop: address rules
//! ([`allow`](Authenticator::allow), [`deny`](Authenticator::deny)), PLAIN
//! users ([`set_plain`](Authenticator::set_plain)) and CURVE client keys
//! ([`set_curve`](Authenticator::set_curve)) per ZAP domain. A [`Monitor`]
//! ([`Zmq::monitor`], [`ZmqPoll::monitor`]) reports a socket's connection
//! events, handshake failures included ([`EventKind::HandshakeFailedAuth`]
//! with the ZAP status, 400 for a refused client).
//!
//! Fail closed:
//!
//! - The authenticator is the only gate. With no ZAP handler bound,
//!   libzmq 4.3.4 lets CURVE clients, and NULL clients of a socket with a
//!   ZAP domain, in unauthenticated (only PLAIN fails). Create the
//!   [`Authenticator`] before binding the servers, and keep it open as
//!   long as they are.
//! - To shut everyone out, call [`Authenticator::deny_all`] with `true`;
//!   closing the authenticator would open the CURVE doors instead.
//! - A fresh authenticator refuses every PLAIN and CURVE client: nothing
//!   passes that you did not list. [`CurveKeys::Any`] lets in any client
//!   that knows the server's public key; prefer an allow list.
//! - Messages from an authenticated client carry its user id as the
//!   `User-Id` property (`zmq::Message::gets("User-Id")`): the PLAIN user
//!   name or the Z85 text of the CURVE public key.
//!
//! The examples `curve_server` and `curve_client` put it together.
// `deny`, not `forbid`: the one exception is `Loop::from_raw`, an `unsafe
// fn` by nature (it trusts a raw libuv loop), which only delegates to
// uzmq-uv, where all unsafe code lives.
#![deny(unsafe_code)]

mod auth;
mod event_loop;
mod monitor;
mod poll;
mod remote;
mod sender;
mod signal;
mod stream;
mod stream_async;
mod timer;

pub use auth::Authenticator;
pub use event_loop::Loop;
pub use monitor::Monitor;
pub use poll::ZmqPoll;
pub use remote::Remote;
pub use sender::Sender;
pub use signal::Signal;
pub use stream::Zmq;
pub use stream_async::{Messages, SINK_BUFFER, ZmqSink};
pub use timer::Timer;
// Inlined, so that these items are documented in this crate and links to
// them resolve also when only this crate's docs are built (`--no-deps`).
/// The `libuv-sys2` crate uzmq is built with (libuv's C API), so other
/// libuv handles can live on a uzmq loop: see [`Loop::as_raw`] and
/// [`Loop::from_raw`].
pub use libuv_sys2 as uv;
#[doc(inline)]
pub use uzmq_core::zap::CurveKeys;
#[doc(inline)]
pub use uzmq_core::{
    DEFAULT_READ_BATCH, Error, EventKind, Events, Multipart, Result, RunMode, SocketEvent,
};
#[doc(inline)]
pub use uzmq_zmq::LargeContext;
pub use uzmq_zmq::set_int_option;
/// The `zmq` crate uzmq is built with: create contexts and sockets with it
/// (or with a [`LargeContext`], for more than libzmq's default 1,023
/// sockets in one context).
pub use zmq;
/// The `zmq-sys` crate (libzmq's C API) the `zmq` crate is built on, for
/// libzmq option numbers the `zmq` crate has no setter for, such as
/// `ZMQ_XPUB_NODROP` (set with [`set_int_option`]).
pub use zmq_sys;
