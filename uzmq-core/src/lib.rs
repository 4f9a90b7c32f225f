//! uzmq's core: everything that must be right, with no FFI and no I/O.
//!
//! - [`Socket`]: what a handle needs from a zmq socket (`ZMQ_FD`,
//!   `ZMQ_EVENTS`, non-blocking frame send/receive that never loses a
//!   refused frame).
//! - [`Reactor`]: what it needs from a loop (fd watch, timer, signal watch,
//!   a "turn" run once per iteration in the check phase while armed).
//! - [`EventLoop`], [`PollHandle`], [`StreamHandle`], [`TimerHandle`],
//!   [`SignalHandle`]: the loop state and the handle state machines behind
//!   uzmq's `Loop`, `ZmqPoll`, `Zmq`, `Timer` and `Signal`, generic over
//!   both traits so the same code runs on libuv/libzmq and on the
//!   deterministic `mock` backend (feature `mock`). Each is one generic
//!   shell (its place on the loop, keep-alive, the open/closing/closed life
//!   with its close callback) plus its kind's own state enum and
//!   transitions.
#![forbid(unsafe_code)]

mod callback_slot;
mod deferred_looks;
mod error;
mod event_loop;
mod events;
mod executor;
mod fd_watch;
mod handle_shell;
mod monitor;
mod poll;
mod reactor;
mod ready;
mod remote;
mod signal;
mod sleep;
mod socket;
mod stream;
mod timer;
pub mod zap;

#[cfg(feature = "mock")]
pub mod mock;

pub use error::{Error, Result};
pub use event_loop::EventLoop;
pub use events::Events;
pub use monitor::{EventKind, MonitorHandle, SocketEvent};
pub use poll::PollHandle;
pub use reactor::{
    AsyncWake, LoopCallback, RawAsync, RawSignal, RawTimer, Reactor, RunMode, Watch, millis_ceil,
};
pub use ready::Ready;
pub use remote::Remote;
pub use signal::SignalHandle;
pub use sleep::Sleep;
pub use socket::{Io, RawFd, Socket};
pub use stream::{DEFAULT_READ_BATCH, Recv, Send, SenderHandle, StreamHandle};
pub use timer::TimerHandle;

/// A multipart message: the frames as libzmq gave them, no copy.
pub type Multipart = Vec<zmq::Message>;
