//! The measured side through `Zmq`'s futures (`--handle async`): each
//! workload is one task on a fresh [`Loop`] (`spawn_local`, then
//! `run(RunMode::Default)` as the callback variants do, so that the
//! difference measured is the futures and the executor, not a different
//! way of running the loop), awaiting `recv()` and `send()` one message at
//! a time. A [`Timer`] closes the handle at the timeout: the pending
//! future then ends with `Err(Closed)` and the task with it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use uzmq::{Error, Loop, RunMode, Timer, Zmq, zmq};

use super::uzmq_side::idle_json;
use super::{Echo, Failure, Flow, Idle, Outcome, Prepared, RecvCount, bind};
use crate::cpu;
use crate::json::Value;
use crate::window::Window;

/// What the task ended with: `None` when it did all it was asked, else
/// the error (`Closed` after the timeout closed the handle).
type Ended = Rc<RefCell<Option<Error>>>;

/// Closes `h` at the timeout and notes that it fired.
fn timeout(lp: &Loop, h: &Zmq, after: Duration) -> Result<(Timer, Rc<Cell<bool>>), Failure> {
    let timer = Timer::new(lp)?;
    let fired = Rc::new(Cell::new(false));
    let (f, h) = (fired.clone(), h.clone());
    timer.start(after, Duration::ZERO, move |t| {
        f.set(true);
        h.close();
        t.close();
    })?;
    Ok((timer, fired))
}

/// The error for the report: none when the timeout closed the handle
/// (that is `timed_out`, not an error).
fn error_text(ended: &Ended, timed_out: bool) -> Option<String> {
    match *ended.borrow() {
        Some(Error::Closed) if timed_out => None,
        Some(e) => Some(e.to_string()),
        None => None,
    }
}

/// W1 (and W5): a bound PULL; one task awaits `recv()` until `n`
/// messages arrived.
pub fn w1(p: &Flow) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PULL)?;
    socket.set_rcvhwm(p.hwm)?;
    socket.set_linger(0)?;
    bind(&socket, p.port)?;
    let lp = Loop::new()?;
    let h = Zmq::new(&lp, socket)?;
    let (timer, timed_out) = timeout(&lp, &h, p.timeout)?;
    let count = Rc::new(RefCell::new(RecvCount::new(p.n)));
    let ended: Ended = Rc::default();
    let (c, e, t) = (count.clone(), ended.clone(), timer.clone());
    lp.spawn_local(async move {
        loop {
            match h.recv().await {
                Ok(parts) => {
                    let mut c = c.borrow_mut();
                    let last = parts.len() - 1;
                    let mut done = false;
                    for (i, frame) in parts.iter().enumerate() {
                        done = c.frame(frame.len(), i < last);
                    }
                    if done {
                        break;
                    }
                }
                Err(err) => {
                    *e.borrow_mut() = Some(err);
                    break;
                }
            }
        }
        h.close();
        t.close();
    })?;
    let window = Window::new();
    window.run(|| lp.run(RunMode::Default))?;
    let count = count.borrow();
    let error = error_text(&ended, timed_out.get());
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

/// W2: a bound PUSH; one task awaits `send()` of each prepared message in
/// turn (a send goes to libzmq at once when it can take it, so the task
/// waits on the loop only when the high-water mark is reached).
pub fn w2(p: &Flow) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PUSH)?;
    socket.set_sndhwm(p.hwm)?;
    socket.set_linger(crate::millis_i32(p.timeout))?;
    bind(&socket, p.port)?;
    let lp = Loop::new()?;
    let h = Zmq::new(&lp, socket)?;
    let (timer, timed_out) = timeout(&lp, &h, p.timeout)?;
    let msgs = Prepared::new(p.n, p.size).take_all();
    let sent = Rc::new(Cell::new(0u64));
    let ended: Ended = Rc::default();
    let (s, e, t) = (sent.clone(), ended.clone(), timer.clone());
    lp.spawn_local(async move {
        for msg in msgs {
            if let Err(err) = h.send([msg]).await {
                *e.borrow_mut() = Some(err);
                break;
            }
            s.set(s.get() + 1);
        }
        // Everything sent is in libzmq: the socket's linger delivers it.
        h.close();
        t.close();
    })?;
    let started = Instant::now();
    let window = Window::new();
    window.run(|| lp.run(RunMode::Default))?;
    let accepted_s = started.elapsed().as_secs_f64();
    drop(lp);
    let error = error_text(&ended, timed_out.get());
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

/// W3: a bound REP; one task awaits `recv()` of a request, then `send()`
/// of it back, `n` times.
pub fn w3(p: &Echo) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::REP)?;
    socket.set_linger(crate::millis_i32(p.timeout))?;
    bind(&socket, p.port)?;
    let lp = Loop::new()?;
    let h = Zmq::new(&lp, socket)?;
    let (timer, timed_out) = timeout(&lp, &h, p.timeout)?;
    let served = Rc::new(Cell::new(0u64));
    let ended: Ended = Rc::default();
    let (s, e, t, n) = (served.clone(), ended.clone(), timer.clone(), p.n);
    lp.spawn_local(async move {
        while s.get() < n {
            let echoed = match h.recv().await {
                Ok(request) => h.send(request).await,
                Err(err) => Err(err),
            };
            if let Err(err) = echoed {
                *e.borrow_mut() = Some(err);
                break;
            }
            s.set(s.get() + 1);
        }
        h.close();
        t.close();
    })?;
    let window = Window::new();
    window.run(|| lp.run(RunMode::Default))?;
    drop(lp);
    let error = error_text(&ended, timed_out.get());
    let complete = served.get() == p.n && error.is_none();
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

/// W4: a bound PULL with a `recv()` pending through the idle period; a
/// second task sleeps (`Timer::sleep`) through the settle time and the
/// idle window, reads the CPU time at both ends, and closes the handle.
pub fn w4(p: &Idle) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PULL)?;
    socket.set_linger(0)?;
    bind(&socket, p.port)?;
    let lp = Loop::new()?;
    let h = Zmq::new(&lp, socket)?;
    let received = Rc::new(Cell::new(0u64));
    let ended: Ended = Rc::default();
    let (r, e, reader) = (received.clone(), ended.clone(), h.clone());
    lp.spawn_local(async move {
        loop {
            match reader.recv().await {
                Ok(_) => r.set(r.get() + 1),
                // The closing at the end of the window.
                Err(Error::Closed) => break,
                Err(err) => {
                    *e.borrow_mut() = Some(err);
                    break;
                }
            }
        }
    })?;
    type Reading = Option<(f64, cpu::Source, Instant)>;
    let readings: Rc<Cell<(Reading, Reading)>> = Rc::default();
    let read = || cpu::process_cpu_s().map(|(c, s)| (c, s, Instant::now()));
    let (rd, sleeper, settle, idle) = (readings.clone(), lp.clone(), p.settle, p.idle);
    lp.spawn_local(async move {
        Timer::sleep(&sleeper, settle).await;
        let start = read();
        Timer::sleep(&sleeper, idle).await;
        rd.set((start, read()));
        h.close();
    })?;
    lp.run(RunMode::Default)?;
    let (Some((cpu0, source, wall0)), Some((cpu1, _, wall1))) = readings.get() else {
        return Err(Failure::Other(
            "cannot read the CPU time (no /proc?)".into(),
        ));
    };
    let error = ended.borrow().map(|e| e.to_string());
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
