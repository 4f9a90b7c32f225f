//! uzmq's benchmark harness: the `uzmq-peer` command-line contract (workloads
//! W1-W5, W7 and W8 through uzmq's `Zmq` or `ZmqPoll`, W1-W5 through `Zmq`'s
//! futures, W6 through a `Sender` fed by other threads, W3 from a bare fd
//! watch of the libuv backend with no handle (the floor), or through plain
//! blocking libzmq calls as the baseline), the blocking counterpart that connects to it, and
//! the `uzmq-bench` driver that runs them side by side and writes the report.
//! It also holds the soak workload behind `cargo xtask soak` ([`soak`]).
//!
//! The binaries are thin: `uzmq-peer` and `raw-peer` call [`peer::main`],
//! `uzmq-counterpart` calls [`counterpart::main`], `uzmq-bench` calls
//! [`driver::main`], `uzmq-soak` calls [`soak::main`]. Every bench child prints exactly one JSON line on stdout
//! ([`json`]) and everything else on stderr.
#![forbid(unsafe_code)]

pub mod args;
pub mod counterpart;
pub mod cpu;
pub mod driver;
pub mod json;
pub mod peer;
pub mod scale;
pub mod soak;
pub mod stats;
pub mod window;

use std::time::Duration;

/// The endpoint every workload uses: `tcp://127.0.0.1:port`.
pub fn endpoint(port: u16) -> String {
    format!("tcp://127.0.0.1:{port}")
}

/// A timeout in seconds (fractions allowed) as a [`Duration`]; negative or
/// non-finite values are taken as zero.
pub fn secs(s: f64) -> Duration {
    if s.is_finite() && s > 0.0 {
        Duration::from_secs_f64(s)
    } else {
        Duration::ZERO
    }
}

/// A [`Duration`] as whole milliseconds for a zmq option (`ZMQ_LINGER`,
/// `ZMQ_RCVTIMEO`), clamped to `i32`.
pub fn millis_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
