//! `uzmq-peer w3 --handle floor`: W3's REP echo served from a bare fd watch
//! of uzmq's libuv backend, with no uzmq handle at all.
//!
//! What it is for: the least a correct libuv-driven loop costs per round
//! trip, measured in every run beside the handles, so that the report
//! tells how much of a handle's cost is libuv and libzmq's mandatory calls
//! (this variant) and how much is the handle's own (the rest). It is not a
//! pattern for users: it serves one socket, stops at the first error, and
//! keeps none of the handles' guarantees (closing from a callback, panics
//! kept from C, fairness between sockets, writes queued past the HWM).
//!
//! The loop is a [`UvLoop`] driven through the [`Reactor`] trait: one
//! [`Watch`] of the socket's `ZMQ_FD` and one [`RawTimer`] for the
//! `--timeout-s` deadline, nothing else (no turn, no handle state). The
//! watch's callback runs the step, the fewest calls a correct loop over
//! libzmq's edge-triggered `ZMQ_FD` makes:
//!
//! ```text
//! loop {
//!     ZMQ_EVENTS; no POLLIN -> return        // sleep on the fd
//!     recv one message, DONTWAIT
//!     send it back, DONTWAIT; served += 1
//! }
//! ```
//!
//! Why each call:
//!
//! - `ZMQ_EVENTS` (`getsockopt`) first: the fd only says that libzmq has
//!   commands for the socket, not that a message is there; reading the
//!   events processes those commands and says whether one is.
//! - `ZMQ_EVENTS` last: `ZMQ_FD` signals edges only, so the loop may sleep
//!   on it only after a libzmq call that found nothing to do. The receive
//!   and the send process libzmq's commands too, and may take the signal
//!   of the next request (and a REP's send makes a request already queued
//!   readable with no signal at all): the events read that finds no
//!   `POLLIN` is that last call. Per round trip this makes two events
//!   reads, one receive, one send and one `epoll_wait` of the libuv
//!   iteration, what `ZmqPoll` makes.
//! - The receive and the send with `DONTWAIT`: a loop never blocks in
//!   libzmq. A receive refused with `EAGAIN` after `POLLIN` should not
//!   happen; it is counted (`eagain` in the JSON) and the step gives up
//!   after [`REFUSED_IN_A_ROW`] in a row, so it cannot spin (the refused
//!   receive processed the commands too, and the watch is level-triggered
//!   on the fd). Any other error ends the run with that error.
//! - A REP takes no reply before the whole request is read: a multipart
//!   request is received whole, then sent back (W3's are one frame: one
//!   receive, one send).
//!
//! The step runs once right after the watch starts, before the loop: a
//! request may already be waiting, and its edge may be gone. Once `n`
//! requests are served, the step stops the watch and the loop
//! ([`Reactor::stop`]); the socket's linger sends the last reply. The
//! timer does the same at the deadline and marks the run timed out.
//!
//! The loop's time goes through the same [`Window`] as the other variants,
//! so `cpu_s` and callgrind's counts cover the same code: the first step
//! and the loop's run.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use uzmq_core::{RawTimer, Reactor, RunMode, Watch};
use uzmq_uv::{UvLoop, UvWatch};

use super::{Echo, Failure, Outcome, bind};
use crate::json::Value;
use crate::window::Window;

/// Receives refused with `EAGAIN` in a row after which a step gives up
/// (and waits for the fd, or the next iteration).
pub const REFUSED_IN_A_ROW: u32 = 3;

/// What the callbacks share. Nothing is borrowed across a call that could
/// call back: libzmq and the watch's `stop` call nothing of ours.
struct Server {
    socket: zmq::Socket,
    /// Requests to serve.
    n: u64,
    served: Cell<u64>,
    /// Receives refused with `EAGAIN` (after `POLLIN`).
    eagain: Cell<u64>,
    timed_out: Cell<bool>,
    /// Set once the run is over (served, failed or timed out).
    finished: Cell<bool>,
    /// The first error, for the JSON.
    error: RefCell<Option<String>>,
    /// The watch of the socket's fd, stopped at the end. Held here, not
    /// in its own callback, and taken out after the run.
    watch: RefCell<Option<UvWatch>>,
    /// The loop, to stop it. Weak: the loop owns the callbacks that hold
    /// this, so a strong reference would keep it alive for ever.
    lp: Weak<UvLoop>,
}

impl Server {
    /// The step (see the module doc).
    fn step(&self) {
        let mut refused = 0;
        while !self.finished.get() {
            match self.socket.get_events() {
                Ok(events) if events.contains(zmq::POLLIN) => {}
                // Nothing to read: this was the last libzmq call, sleep on the fd.
                Ok(_) => return,
                Err(e) => return self.fail(e),
            }
            let frame = match self.socket.recv_msg(zmq::DONTWAIT) {
                Ok(frame) => {
                    refused = 0;
                    frame
                }
                Err(zmq::Error::EAGAIN) => {
                    self.eagain.set(self.eagain.get() + 1);
                    refused += 1;
                    if refused >= REFUSED_IN_A_ROW {
                        return;
                    }
                    continue;
                }
                Err(e) => return self.fail(e),
            };
            if let Err(e) = self.echo(frame) {
                return self.fail(e);
            }
            self.served.set(self.served.get() + 1);
            if self.served.get() == self.n {
                // The reply is in libzmq; the socket's linger sends it.
                self.finish();
            }
        }
    }

    /// Sends back the request whose first frame is `first`. A REP takes
    /// no reply before the whole request is read, so the frames of a
    /// multipart request (all there once the first is: libzmq delivers a
    /// message whole) are received first; a one-frame request, W3's, is
    /// sent straight back.
    fn echo(&self, first: zmq::Message) -> Result<(), zmq::Error> {
        if !first.get_more() {
            return self.socket.send(first, zmq::DONTWAIT);
        }
        let mut parts = vec![first];
        loop {
            let frame = self.socket.recv_msg(zmq::DONTWAIT)?;
            let more = frame.get_more();
            parts.push(frame);
            if !more {
                break;
            }
        }
        let last = parts.len() - 1;
        for (i, frame) in parts.into_iter().enumerate() {
            let more = if i < last { zmq::SNDMORE } else { 0 };
            self.socket.send(frame, zmq::DONTWAIT | more)?;
        }
        Ok(())
    }

    fn fail(&self, error: impl std::fmt::Display) {
        self.error
            .borrow_mut()
            .get_or_insert_with(|| error.to_string());
        self.finish();
    }

    /// Stops the watch and the loop (its `run` returns after this
    /// iteration; before the run, `w3` does not run it).
    fn finish(&self) {
        self.finished.set(true);
        if let Some(watch) = self.watch.borrow_mut().as_mut() {
            watch.stop();
        }
        if let Some(lp) = self.lp.upgrade() {
            lp.stop();
        }
    }
}

/// W3 on a bare fd watch: a bound REP echoing `n` requests.
pub fn w3(p: &Echo) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::REP)?;
    socket.set_linger(crate::millis_i32(p.timeout))?;
    bind(&socket, p.port)?;
    let fd = socket.get_fd()?;
    let lp = Rc::new(UvLoop::new()?);
    let server = Rc::new(Server {
        socket,
        n: p.n,
        served: Cell::new(0),
        eagain: Cell::new(0),
        timed_out: Cell::new(false),
        finished: Cell::new(false),
        error: RefCell::new(None),
        watch: RefCell::new(None),
        lp: Rc::downgrade(&lp),
    });
    let s = server.clone();
    let mut watch = lp.watch(fd, Box::new(move |_| s.step()))?;
    watch.start()?;
    *server.watch.borrow_mut() = Some(watch);
    let s = server.clone();
    let mut timer = lp.timer(Box::new(move |_| {
        s.timed_out.set(true);
        s.finish();
    }))?;
    // Timers count from the cached loop time: refresh it after the set-up.
    lp.update_time();
    timer.start(p.timeout, Duration::ZERO)?;
    let window = Window::new();
    let run = window.run(|| {
        // A request may be waiting already, its edge gone.
        server.step();
        if server.finished.get() {
            Ok(false)
        } else {
            lp.run(RunMode::Default)
        }
    });
    // Close the watch before the socket (the callbacks hold the socket,
    // and the loop drops them when it goes), then the timer and the loop.
    let watch = server.watch.borrow_mut().take();
    drop(watch);
    drop(timer);
    drop(lp);
    run?;
    let error = server.error.borrow_mut().take();
    let served = server.served.get();
    let complete = served == p.n && error.is_none();
    Ok(Outcome {
        json: Value::object()
            .with("workload", "w3")
            .with("served", served)
            .with("timed_out", server.timed_out.get())
            .with("error", error)
            .with("eagain", server.eagain.get()),
        complete,
        cpu_s: window.cpu_s(),
    })
}
