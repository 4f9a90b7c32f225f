//! The measured side through uzmq: each workload on a fresh [`Loop`], with a
//! [`Timer`] that ends the run at the timeout (or, for W4, at the end of
//! the idle period), through [`Zmq`] or [`ZmqPoll`].
//!
//! The poll variants do what a user of `ZmqPoll` would: recv/send with
//! `DONTWAIT` in the callback, draining in a loop bounded by
//! [`POLL_BATCH`] per callback, so that the loop stays fair. The REP of W3
//! serves one request per callback: it has nothing to read before its
//! reply is out, and the handle's own `ZMQ_EVENTS` read after the callback
//! is the look that a receive until `EAGAIN` would repeat.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use uzmq::{Events, Loop, RunMode, Timer, Zmq, ZmqPoll, zmq};

use super::idle::{self, Ender, IdleHandles};
use super::{Echo, Failure, Flow, HandleKind, Idle, Outcome, RecvCount, bind};
use crate::cpu;
use crate::json::Value;
use crate::window::Window;

/// At most this many recv/send calls per poll callback (the stream
/// handle's default read batch, `uzmq::DEFAULT_READ_BATCH`).
pub const POLL_BATCH: usize = uzmq::DEFAULT_READ_BATCH;

/// The first error seen by a callback, kept for the report.
type ErrorSlot = Rc<RefCell<Option<String>>>;

fn note(slot: &ErrorSlot, error: impl std::fmt::Display) {
    slot.borrow_mut().get_or_insert_with(|| error.to_string());
}

/// Starts `timer` to call `on_fire` once after `after`, then close itself.
fn arm(timer: &Timer, after: Duration, mut on_fire: impl FnMut() + 'static) -> Result<(), Failure> {
    timer.start(after, Duration::ZERO, move |t| {
        on_fire();
        t.close();
    })?;
    Ok(())
}

/// W1: a bound PULL read through the loop until `n` messages arrived.
pub fn w1(kind: HandleKind, p: &Flow) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PULL)?;
    socket.set_rcvhwm(p.hwm)?;
    socket.set_linger(0)?;
    bind(&socket, p.port)?;
    let lp = Loop::new()?;
    let timer = Timer::new(&lp)?;
    let count = Rc::new(RefCell::new(RecvCount::new(p.n)));
    let error: ErrorSlot = Rc::default();
    let timed_out = Rc::new(Cell::new(false));
    match kind {
        HandleKind::Stream | HandleKind::Frames => {
            let h = Zmq::new(&lp, socket)?;
            let (c, t, e) = (count.clone(), timer.clone(), error.clone());
            // The same count for both read APIs: owned frames or lent ones.
            let on_message = move |h: &Zmq, msg: uzmq::Result<&[zmq::Message]>| match msg {
                Ok(parts) => {
                    let mut c = c.borrow_mut();
                    let last = parts.len() - 1;
                    let mut done = false;
                    for (i, frame) in parts.iter().enumerate() {
                        done = c.frame(frame.len(), i < last);
                    }
                    if done {
                        h.close();
                        t.close();
                    }
                }
                Err(err) => {
                    note(&e, err);
                    h.close();
                    t.close();
                }
            };
            if kind == HandleKind::Frames {
                h.start_read_frames(on_message)?;
            } else {
                h.start_read(move |h, msg| on_message(h, msg.as_deref().map_err(|e| *e)))?;
            }
            let to = timed_out.clone();
            arm(&timer, p.timeout, move || {
                to.set(true);
                h.close();
            })?;
        }
        HandleKind::Poll => {
            let h = ZmqPoll::new(&lp, socket)?;
            let (c, t, e) = (count.clone(), timer.clone(), error.clone());
            let mut frame = zmq::Message::new();
            h.start(Events::READABLE, move |h, _events, err| {
                if let Some(err) = err {
                    note(&e, err);
                    h.close();
                    t.close();
                    return;
                }
                let socket = h.socket();
                let mut c = c.borrow_mut();
                for _ in 0..POLL_BATCH {
                    match socket.recv(&mut frame, zmq::DONTWAIT) {
                        Ok(()) => {
                            if c.frame(frame.len(), frame.get_more()) {
                                h.close();
                                t.close();
                                return;
                            }
                        }
                        Err(zmq::Error::EAGAIN) => return,
                        Err(err) => {
                            note(&e, err);
                            h.close();
                            t.close();
                            return;
                        }
                    }
                }
            })?;
            let to = timed_out.clone();
            arm(&timer, p.timeout, move || {
                to.set(true);
                h.close();
            })?;
        }
    }
    let window = Window::new();
    window.run(|| lp.run(RunMode::Default))?;
    let count = count.borrow();
    let error = error.borrow_mut().take();
    let complete = count.done() && error.is_none();
    Ok(Outcome {
        json: count
            .json("w1")
            .with("timed_out", timed_out.get())
            .with("error", error),
        complete,
        cpu_s: window.cpu_s(),
    })
}

/// W2: a bound PUSH; `n` writes queued, then the loop runs until libzmq
/// took them all; closing then lingers (up to the timeout) so they reach
/// the receiver.
pub fn w2(kind: HandleKind, p: &Flow) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PUSH)?;
    socket.set_sndhwm(p.hwm)?;
    socket.set_linger(crate::millis_i32(p.timeout))?;
    bind(&socket, p.port)?;
    let lp = Loop::new()?;
    let timer = Timer::new(&lp)?;
    let mut prepared = super::Prepared::new(p.n, p.size);
    let sent = Rc::new(Cell::new(0u64));
    let error: ErrorSlot = Rc::default();
    let timed_out = Rc::new(Cell::new(false));
    let window = Window::new();
    match kind {
        HandleKind::Stream | HandleKind::Frames => {
            let h = Zmq::new(&lp, socket)?;
            let mut msgs = prepared.take_all();
            let last = msgs.pop().expect("n >= 1");
            // Queueing is part of the send path: measured.
            window.run(|| msgs.into_iter().try_for_each(|msg| h.write(msg)))?;
            let (s, t, e, n) = (sent.clone(), timer.clone(), error.clone(), p.n);
            h.write_with([last], move |h, result| {
                match result {
                    Ok(()) => s.set(n),
                    Err(err) => note(&e, err),
                }
                h.close();
                t.close();
            })?;
            let (s, to, n) = (sent.clone(), timed_out.clone(), p.n);
            arm(&timer, p.timeout, move || {
                to.set(true);
                s.set(n - h.write_queue_size() as u64);
                h.close();
            })?;
        }
        HandleKind::Poll => {
            let h = ZmqPoll::new(&lp, socket)?;
            let (s, t, e) = (sent.clone(), timer.clone(), error.clone());
            h.start(Events::WRITABLE, move |h, _events, err| {
                if let Some(err) = err {
                    note(&e, err);
                    h.close();
                    t.close();
                    return;
                }
                let socket = h.socket();
                for _ in 0..POLL_BATCH {
                    match prepared.send_next(socket, zmq::DONTWAIT) {
                        Ok(true) if prepared.done() => {
                            h.close();
                            t.close();
                            break;
                        }
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(err) => {
                            note(&e, err);
                            h.close();
                            t.close();
                            break;
                        }
                    }
                }
                s.set(prepared.sent());
            })?;
            let to = timed_out.clone();
            arm(&timer, p.timeout, move || {
                to.set(true);
                h.close();
            })?;
        }
    }
    let started = Instant::now();
    window.run(|| lp.run(RunMode::Default))?;
    let accepted_s = started.elapsed().as_secs_f64();
    // Dropping the loop releases the socket; the context's end (when this
    // function returns) waits, up to ZMQ_LINGER, for the messages to go out.
    drop(lp);
    let error = error.borrow_mut().take();
    let complete = sent.get() == p.n && error.is_none();
    Ok(Outcome {
        json: Value::object()
            .with("workload", "w2")
            .with("sent", sent.get())
            .with("accepted_s", accepted_s)
            .with("timed_out", timed_out.get())
            .with("error", error),
        complete,
        cpu_s: window.cpu_s(),
    })
}

/// W3: a bound REP echoing `n` requests, the reply written from inside the
/// read (or poll) callback; the last reply is sent before the handle closes.
pub fn w3(kind: HandleKind, p: &Echo) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::REP)?;
    socket.set_linger(crate::millis_i32(p.timeout))?;
    bind(&socket, p.port)?;
    // Declared before the loop so that it ends after it (its sockets close
    // with the loop's handles).
    let idle_ctx = idle::context(p.idle_handles)?;
    let lp = Loop::new()?;
    let idle = IdleHandles::open(&lp, kind, idle::sockets(idle_ctx.as_ref(), p.idle_handles)?)?;
    if !idle.is_empty() {
        // One turn before the window: each idle handle's first look at its
        // socket is a one-time cost of opening it, not of the round trips.
        lp.run(RunMode::NoWait)?;
    }
    let timer = Timer::new(&lp)?;
    let ender = Ender::new(&lp, &timer, &idle);
    let served = Rc::new(Cell::new(0u64));
    let error: ErrorSlot = Rc::default();
    let timed_out = Rc::new(Cell::new(false));
    let n = p.n;
    match kind {
        HandleKind::Stream | HandleKind::Frames => {
            let h = Zmq::new(&lp, socket)?;
            let (s, t, e) = (served.clone(), ender.clone(), error.clone());
            h.start_read(move |h, msg| {
                let parts = match msg {
                    Ok(parts) => parts,
                    Err(err) => {
                        note(&e, err);
                        h.close();
                        t.close();
                        return;
                    }
                };
                if let Err(err) = h.write_multipart(parts) {
                    note(&e, err);
                    h.close();
                    t.close();
                    return;
                }
                s.set(s.get() + 1);
                if s.get() == n {
                    // Send the last reply, then close.
                    let (t, e) = (t.clone(), e.clone());
                    h.shutdown(move |_, result| {
                        if let Err(err) = result {
                            note(&e, err);
                        }
                        t.close();
                    });
                }
            })?;
            let to = timed_out.clone();
            arm(&timer, p.timeout, move || {
                to.set(true);
                h.close();
                idle.close_all();
            })?;
        }
        HandleKind::Poll => {
            let h = ZmqPoll::new(&lp, socket)?;
            let (s, t, e) = (served.clone(), ender.clone(), error.clone());
            let mut frame = zmq::Message::new();
            h.start(Events::READABLE, move |h, _events, err| {
                if let Some(err) = err {
                    note(&e, err);
                    h.close();
                    t.close();
                    return;
                }
                // One request per report: a REP has nothing more to read
                // until its reply is answered, and the handle reads
                // ZMQ_EVENTS after the callback anyway (and comes back if
                // something is ready), so receiving on until EAGAIN would
                // only repeat that look. The frames of one request are
                // bounded by the batch.
                let socket = h.socket();
                for _ in 0..POLL_BATCH {
                    match socket.recv(&mut frame, zmq::DONTWAIT) {
                        Ok(()) => {}
                        Err(zmq::Error::EAGAIN) => return,
                        Err(err) => {
                            note(&e, err);
                            h.close();
                            t.close();
                            return;
                        }
                    }
                    let more = frame.get_more();
                    let flags = zmq::DONTWAIT | if more { zmq::SNDMORE } else { 0 };
                    let reply = std::mem::replace(&mut frame, zmq::Message::new());
                    if let Err(err) = socket.send(reply, flags) {
                        note(&e, err);
                        h.close();
                        t.close();
                        return;
                    }
                    if !more {
                        s.set(s.get() + 1);
                        if s.get() == n {
                            // The reply is in libzmq; the socket's linger sends it.
                            h.close();
                            t.close();
                        }
                        return;
                    }
                }
            })?;
            let to = timed_out.clone();
            arm(&timer, p.timeout, move || {
                to.set(true);
                h.close();
                idle.close_all();
            })?;
        }
    }
    let window = Window::new();
    window.run(|| lp.run(RunMode::Default))?;
    ender.finish()?;
    drop(lp);
    let error = error.borrow_mut().take();
    let complete = served.get() == n && error.is_none();
    Ok(Outcome {
        json: Value::object()
            .with("workload", "w3")
            .with("served", served.get())
            .with("timed_out", timed_out.get())
            .with("error", error),
        complete,
        cpu_s: window.cpu_s(),
    })
}

/// W4: a bound PULL read through the loop with no traffic; the CPU time of
/// the whole process (every thread, libzmq's included) over `idle`, which
/// starts after `settle` (so start-up and the counterpart's connection are
/// not counted). Timers start and end the window; nothing polls.
pub fn w4(kind: HandleKind, p: &Idle) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PULL)?;
    socket.set_linger(0)?;
    bind(&socket, p.port)?;
    let idle_ctx = idle::context(p.idle_handles)?;
    let lp = Loop::new()?;
    let idle = IdleHandles::open(&lp, kind, idle::sockets(idle_ctx.as_ref(), p.idle_handles)?)?;
    let received = Rc::new(Cell::new(0u64));
    let error: ErrorSlot = Rc::default();
    let close: Box<dyn Fn()> = match kind {
        HandleKind::Stream | HandleKind::Frames => {
            let h = Zmq::new(&lp, socket)?;
            let (r, e) = (received.clone(), error.clone());
            h.start_read(move |_, msg| match msg {
                Ok(_) => r.set(r.get() + 1),
                Err(err) => note(&e, err),
            })?;
            let idle = idle.clone();
            Box::new(move || {
                h.close();
                idle.close_all();
            })
        }
        HandleKind::Poll => {
            let h = ZmqPoll::new(&lp, socket)?;
            let (r, e) = (received.clone(), error.clone());
            let mut frame = zmq::Message::new();
            h.start(Events::READABLE, move |h, _events, err| {
                if let Some(err) = err {
                    note(&e, err);
                    return;
                }
                let socket = h.socket();
                for _ in 0..POLL_BATCH {
                    match socket.recv(&mut frame, zmq::DONTWAIT) {
                        Ok(()) => r.set(r.get() + u64::from(!frame.get_more())),
                        Err(_) => break,
                    }
                }
            })?;
            let idle = idle.clone();
            Box::new(move || {
                h.close();
                idle.close_all();
            })
        }
    };
    type Reading = Option<(f64, cpu::Source, Instant)>;
    let start: Rc<Cell<Reading>> = Rc::default();
    let end: Rc<Cell<Reading>> = Rc::default();
    let read = || cpu::process_cpu_s().map(|(c, s)| (c, s, Instant::now()));
    let s = start.clone();
    arm(&Timer::new(&lp)?, p.settle, move || s.set(read()))?;
    let en = end.clone();
    arm(&Timer::new(&lp)?, p.settle + p.idle, move || {
        en.set(read());
        close();
    })?;
    lp.run(RunMode::Default)?;
    let (Some((cpu0, source, wall0)), Some((cpu1, _, wall1))) = (start.get(), end.get()) else {
        return Err(Failure::Other(
            "cannot read the CPU time (no /proc?)".into(),
        ));
    };
    let error = error.borrow_mut().take();
    let complete = error.is_none();
    Ok(Outcome {
        json: idle_json(
            cpu1 - cpu0,
            (wall1 - wall0).as_secs_f64(),
            source,
            received.get(),
            p.settle,
        )
        .with("error", error),
        complete,
        cpu_s: None,
    })
}

/// The W4 JSON: `cpu_s`, `wall_s`, then where the CPU figure came from and
/// how many messages arrived anyway (should be 0).
pub fn idle_json(
    cpu_s: f64,
    wall_s: f64,
    source: cpu::Source,
    received: u64,
    settle: Duration,
) -> Value {
    Value::object()
        .with("workload", "w4")
        .with("cpu_s", cpu_s.max(0.0))
        .with("wall_s", wall_s)
        .with("cpu_source", source.name())
        .with("settle_s", settle.as_secs_f64())
        .with("received", received)
}
