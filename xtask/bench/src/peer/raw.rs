//! The baseline: the same workloads with plain blocking libzmq calls and no
//! loop. Blocking calls use a short `ZMQ_RCVTIMEO`/`ZMQ_SNDTIMEO` only so
//! that the overall timeout is honoured; libzmq reads the clock for that
//! only when a call would block, so the fast path is untouched.

use std::time::{Duration, Instant};

use super::{Echo, Failure, Flow, Idle, Outcome, RecvCount, bind};
use crate::cpu;
use crate::json::Value;
use crate::window::Window;

/// How long one blocking call waits before the deadline is checked again.
const SLICE_MS: i32 = 100;

/// W1: a bound PULL; `recv` until `n` messages arrived.
pub fn w1(p: &Flow) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PULL)?;
    socket.set_rcvhwm(p.hwm)?;
    socket.set_linger(0)?;
    socket.set_rcvtimeo(SLICE_MS)?;
    bind(&socket, p.port)?;
    let deadline = Instant::now() + p.timeout;
    let mut count = RecvCount::new(p.n);
    let mut frame = zmq::Message::new();
    let mut error = None;
    let window = Window::new();
    window.run(|| {
        while !count.done() {
            match socket.recv(&mut frame, 0) {
                Ok(()) => {
                    count.frame(frame.len(), frame.get_more());
                }
                Err(zmq::Error::EAGAIN) if Instant::now() < deadline => {}
                Err(zmq::Error::EAGAIN) => break,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
    });
    let complete = count.done() && error.is_none();
    Ok(Outcome {
        json: count
            .json("w1")
            .with("timed_out", !count.done() && error.is_none())
            .with("error", error),
        complete,
        cpu_s: window.cpu_s(),
    })
}

/// W2: a bound PUSH; `send` `n` messages, then close with linger (up to the
/// timeout) so they reach the receiver.
pub fn w2(p: &Flow) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PUSH)?;
    socket.set_sndhwm(p.hwm)?;
    socket.set_linger(crate::millis_i32(p.timeout))?;
    socket.set_sndtimeo(SLICE_MS)?;
    bind(&socket, p.port)?;
    let mut prepared = super::Prepared::new(p.n, p.size);
    let started = Instant::now();
    let deadline = started + p.timeout;
    let mut error = None;
    let window = Window::new();
    window.run(|| {
        while !prepared.done() {
            match prepared.send_next(&socket, 0) {
                Ok(true) => {}
                Ok(false) if Instant::now() < deadline => {}
                Ok(false) => break,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
    });
    let sent = prepared.sent();
    let accepted_s = started.elapsed().as_secs_f64();
    drop(socket); // the context's end waits for the messages to go out
    let complete = sent == p.n && error.is_none();
    Ok(Outcome {
        json: Value::object()
            .with("workload", "w2")
            .with("sent", sent)
            .with("accepted_s", accepted_s)
            .with("timed_out", sent < p.n && error.is_none())
            .with("error", error),
        complete,
        cpu_s: window.cpu_s(),
    })
}

/// W3: a bound REP; `recv` a request, `send` it back, `n` times.
pub fn w3(p: &Echo) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::REP)?;
    socket.set_linger(crate::millis_i32(p.timeout))?;
    socket.set_rcvtimeo(SLICE_MS)?;
    bind(&socket, p.port)?;
    // W8: idle sockets beside the measured one (closed before their context).
    let idle_ctx = super::idle::context(p.idle_handles)?;
    let _idle = super::idle::sockets(idle_ctx.as_ref(), p.idle_handles)?;
    let deadline = Instant::now() + p.timeout;
    let mut served = 0u64;
    let mut frame = zmq::Message::new();
    let mut error = None;
    let mut timed_out = false;
    let window = Window::new();
    window.run(|| {
        while served < p.n {
            match socket.recv(&mut frame, 0) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) if Instant::now() < deadline => continue,
                Err(zmq::Error::EAGAIN) => {
                    timed_out = true;
                    break;
                }
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
            let more = frame.get_more();
            let reply = std::mem::replace(&mut frame, zmq::Message::new());
            if let Err(e) = socket.send(reply, if more { zmq::SNDMORE } else { 0 }) {
                error = Some(e.to_string());
                break;
            }
            if !more {
                served += 1;
            }
        }
    });
    drop(socket);
    let complete = served == p.n && error.is_none();
    Ok(Outcome {
        json: Value::object()
            .with("workload", "w3")
            .with("served", served)
            .with("timed_out", timed_out)
            .with("error", error),
        complete,
        cpu_s: window.cpu_s(),
    })
}

/// W4: a bound PULL in a blocking `recv` (the floor: libzmq's own
/// threads, no loop); the CPU time over `idle`, after `settle`.
pub fn w4(p: &Idle) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PULL)?;
    socket.set_linger(0)?;
    bind(&socket, p.port)?;
    // W8: idle sockets beside the measured one (closed before their context).
    let idle_ctx = super::idle::context(p.idle_handles)?;
    let _idle = super::idle::sockets(idle_ctx.as_ref(), p.idle_handles)?;
    let mut frame = zmq::Message::new();
    let mut received = 0u64;
    let mut wait_until = |deadline: Instant| -> Result<(), Failure> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            socket.set_rcvtimeo(crate::millis_i32(left.max(Duration::from_millis(1))))?;
            if socket.recv(&mut frame, 0).is_ok() && !frame.get_more() {
                received += 1;
            }
        }
    };
    wait_until(Instant::now() + p.settle)?;
    let no_proc = || Failure::Other("cannot read the CPU time (no /proc?)".into());
    let (cpu0, source) = cpu::process_cpu_s().ok_or_else(no_proc)?;
    let wall0 = Instant::now();
    wait_until(wall0 + p.idle)?;
    let (cpu1, _) = cpu::process_cpu_s().ok_or_else(no_proc)?;
    let wall = wall0.elapsed().as_secs_f64();
    Ok(Outcome {
        json: super::uzmq_side::idle_json(cpu1 - cpu0, wall, source, received, p.settle),
        complete: true,
        cpu_s: None,
    })
}
