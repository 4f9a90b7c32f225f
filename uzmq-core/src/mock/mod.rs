//! The deterministic mock backend: a loop in virtual time and a socket that
//! models libzmq's edge signalling faithfully and adversarially.
//!
//! Everything here is single-threaded and driven by seeds: the same seed
//! replays the same schedule (read it with [`seed_from_env`] and print it on
//! failure).
//!
//! # The loop: [`MockReactor`]
//!
//! Implements [`crate::Reactor`]. One iteration runs libuv's phases in
//! libuv's order (timers, idle/prepare, level-triggered poll, check, closing)
//! with virtual time in milliseconds that only moves when the loop would
//! block on a timer, or by [`MockReactor::advance`]; time spent outside the
//! loop ([`MockReactor::advance_clock`]) moves the clock but not the loop's
//! cached time, as with libuv, until the next iteration or
//! `update_time`. Simultaneously readable
//! watches run in an order drawn from the seed. Where a real loop would block
//! forever waiting for outside events, `run` returns instead, so a test can
//! act as the outside (deliver through a [`MockPeer`]) and run again. Fds are
//! fake (see [`fd_table`]); [`FakeFd`] makes one with a hand-set level.
//! Signals are raised by the test ([`MockReactor::raise`]) and delivered in
//! the next poll phase, as libuv delivers them through its signal pipe.
//!
//! # The socket: [`MockSocket`] and its [`MockPeer`]
//!
//! [`mock_pair`] connects a [`MockSocket`] (a [`crate::Socket`]) to a
//! [`MockPeer`] that plays the remote socket and the context. The model is
//! libzmq's own state, so that every trap of `ZMQ_FD` is there:
//!
//! - a **mailbox** of commands with libzmq's `active` and reader-asleep
//!   flags and a **signal** (the fd's readable level): only a command that
//!   arrives at a passive mailbox raises the signal, and processing commands
//!   consumes it. `events()` always processes; `send_frame` only now and then
//!   (throttled), `recv_frame` every 100 calls and after finding nothing;
//! - an **inbound pipe** whose messages are invisible while the pipe is
//!   inactive: a reader that found it empty sleeps, and only the
//!   `activate_read` command (sent by the peer's next delivery) wakes it; a
//!   reader that is awake gets new messages with no command and no edge;
//! - an **outbound pipe** with SNDHWM accounting from what the writer
//!   *knows* the peer read, updated only by `activate_write` commands the peer
//!   sends every low-water-mark reads; a send at the HWM fails with EAGAIN
//!   and marks the pipe inactive until then. Multipart messages are atomic;
//! - REQ/REP turns (EFSM, reported as [`crate::Io::WouldBlock`]),
//!   termination (ETERM once the `Term` command is processed), spurious
//!   signals, and ENOTSUP for a direction the type lacks.
//!
//! So: the fd may be readable with nothing to do; messages may wait with the
//! fd silent; and after any send or receive only a fresh `events()` tells the
//! truth. A [`MockProbe`] (from the socket or the peer) tells it without side
//! effects ([`MockProbe::truly_events`]) and logs the socket's operations,
//! for property tests.

pub mod fd_table;
mod mailbox;
mod model;
mod pattern;
mod peer;
mod pipe;
mod probe;
mod reactor;
mod rng;
mod socket;

pub use fd_table::FakeFd;
pub use pattern::MockKind;
pub use peer::MockPeer;
pub use probe::{MockProbe, Op, OpCounts};
pub use reactor::{
    MockAsync, MockPoint, MockReactor, MockSignal, MockTimer, MockWake, MockWatch, RUN_LIMIT,
    SPIN_LIMIT,
};
pub use rng::{SEED_ENV, SeededRng, seed_from_env};
pub use socket::{MockConfig, MockSocket, mock_pair};

#[cfg(test)]
mod socket_tests;
