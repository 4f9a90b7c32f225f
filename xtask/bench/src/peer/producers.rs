//! W6: `producers` threads each send their share of `n` messages to the
//! bound PUSH of W2's layout (the counterpart receives and times them, as
//! in W2). uzmq: the threads send through clones of one [`Sender`](uzmq::Sender) of the
//! PUSH's `Zmq` handle, whose loop runs on the measured thread. Raw: the
//! threads hand messages through one bounded `std::sync::mpsc` channel to
//! the measured thread, which owns a blocking PUSH.
//!
//! Clones of one `Sender` rather than a `sender()` each: that is the shape
//! of the raw variant (clones of one `mpsc::SyncSender`, one capacity for
//! all), so both measure one shared channel into one thread; the channel's
//! capacity is the same in both (`--capacity`, 1,000 by default).
//!
//! The messages are made before the window (in the measured thread, so
//! that the producers' whole life, which callgrind counts, is sending);
//! the producers wait at a barrier the measured thread releases from
//! inside its window, so the window holds all of the sending.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use uzmq::{Loop, RunMode, Timer, Zmq, zmq};

use super::{Failure, Outcome, bind};
use crate::json::Value;
use crate::window::Window;

/// How long one blocking send of the raw variant waits before the
/// deadline is checked again.
const SLICE_MS: i32 = 100;

/// Parameters of W6.
#[derive(Debug, Clone)]
pub struct Producers {
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    /// Messages in total, over all producers.
    pub n: u64,
    /// Bytes per message.
    pub size: usize,
    /// Producer threads.
    pub producers: usize,
    /// Messages the channel holds (the `Sender`'s capacity, the
    /// `sync_channel`'s bound).
    pub capacity: usize,
    /// `ZMQ_SNDHWM` of the PUSH.
    pub hwm: i32,
    /// Give up after this long.
    pub timeout: Duration,
}

/// Each producer's messages, made up front; the first also sends the
/// remainder of `n / producers`.
fn batches(p: &Producers) -> Vec<Vec<zmq::Message>> {
    let payload = vec![0xa5u8; p.size];
    let per = p.n / p.producers as u64;
    (0..p.producers)
        .map(|t| {
            let n = per + if t == 0 { p.n % p.producers as u64 } else { 0 };
            (0..n).map(|_| zmq::Message::from(&payload[..])).collect()
        })
        .collect()
}

/// What a producer thread did: messages handed over, and the error that
/// stopped it, if any.
type Produced = thread::JoinHandle<(u64, Option<String>)>;

/// Joins the producers: messages handed over in total, and the first error.
fn join(producers: Vec<Produced>) -> (u64, Option<String>) {
    let mut sent = 0;
    let mut error = None;
    for producer in producers {
        match producer.join() {
            Ok((n, e)) => {
                sent += n;
                error = error.or(e);
            }
            Err(_) => error = error.or(Some("a producer thread panicked".into())),
        }
    }
    (sent, error)
}

fn outcome(
    p: &Producers,
    sent: u64,
    accepted_s: f64,
    timed_out: bool,
    error: Option<String>,
    window: &Window,
) -> Outcome {
    let complete = sent == p.n && !timed_out && error.is_none();
    Outcome {
        json: Value::object()
            .with("workload", "w6")
            .with("sent", sent)
            .with("accepted_s", accepted_s)
            .with("producers", p.producers)
            .with("capacity", p.capacity)
            .with("timed_out", timed_out)
            .with("error", error),
        complete,
        cpu_s: window.cpu_s(),
    }
}

fn push(ctx: &zmq::Context, p: &Producers) -> Result<zmq::Socket, Failure> {
    let socket = ctx.socket(zmq::PUSH)?;
    socket.set_sndhwm(p.hwm)?;
    socket.set_linger(crate::millis_i32(p.timeout))?;
    bind(&socket, p.port)?;
    Ok(socket)
}

/// W6 through uzmq: the producers `send` through clones of one `Sender`;
/// the loop runs until the last of them is done and libzmq took every
/// message.
pub fn uzmq(p: &Producers) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = push(&ctx, p)?;
    let lp = Loop::new()?;
    let h = Zmq::new(&lp, socket)?;
    let sender = h.sender(p.capacity)?;
    let go = Arc::new(Barrier::new(p.producers + 1));
    let left = Arc::new(AtomicUsize::new(p.producers));
    let remote = lp.remote();
    let producers: Vec<Produced> = batches(p)
        .into_iter()
        .map(|batch| {
            let (sender, go, left, remote) =
                (sender.clone(), go.clone(), left.clone(), remote.clone());
            thread::spawn(move || {
                go.wait();
                let mut sent = 0;
                let mut error = None;
                for msg in batch {
                    if let Err(e) = sender.send(msg) {
                        error = Some(e.to_string());
                        break;
                    }
                    sent += 1;
                }
                drop(sender);
                // The last one out stops the loop's first run: no event of
                // the loop's own says that the producers are done.
                if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    let _ = remote.post(|lp| lp.stop());
                }
                (sent, error)
            })
        })
        .collect();
    // Only the producers' clones keep the handle waiting for more.
    drop(sender);
    let timer = Timer::new(&lp)?;
    let timed_out = Rc::new(Cell::new(false));
    let (to, closing) = (timed_out.clone(), h.clone());
    // Closing the handle releases blocked producers with `Err(Closed)`.
    timer.start(p.timeout, Duration::ZERO, move |t| {
        to.set(true);
        closing.close();
        t.close();
    })?;
    let started = Instant::now();
    let window = Window::new();
    window.run(|| -> Result<(), Failure> {
        go.wait();
        lp.run(RunMode::Default)?;
        if !timed_out.get() {
            // The producers are done: what they handed over is in the
            // write queue or the channel; run until libzmq took it all.
            timer.close();
            lp.run(RunMode::Default)?;
        }
        Ok(())
    })?;
    let accepted_s = started.elapsed().as_secs_f64();
    let (sent, error) = join(producers);
    let error = error.filter(|_| !timed_out.get());
    h.close();
    drop(lp);
    Ok(outcome(
        p,
        sent,
        accepted_s,
        timed_out.get(),
        error,
        &window,
    ))
}

/// W6's baseline: the producers hand messages through one bounded
/// `std::sync::mpsc` channel to this thread, which sends them on a
/// blocking PUSH.
pub fn raw(p: &Producers) -> Result<Outcome, Failure> {
    let ctx = zmq::Context::new();
    let socket = push(&ctx, p)?;
    socket.set_sndtimeo(SLICE_MS)?;
    let (tx, rx) = mpsc::sync_channel::<zmq::Message>(p.capacity);
    let go = Arc::new(Barrier::new(p.producers + 1));
    let producers: Vec<Produced> = batches(p)
        .into_iter()
        .map(|batch| {
            let (tx, go) = (tx.clone(), go.clone());
            thread::spawn(move || {
                go.wait();
                let mut sent = 0;
                for msg in batch {
                    // Refused only when the receiving end gave up.
                    if tx.send(msg).is_err() {
                        break;
                    }
                    sent += 1;
                }
                (sent, None)
            })
        })
        .collect();
    drop(tx);
    let payload = vec![0xa5u8; p.size];
    let started = Instant::now();
    let deadline = started + p.timeout;
    let mut error = None;
    let mut timed_out = false;
    let window = Window::new();
    window.run(|| {
        go.wait();
        // Ends when every producer is done and the channel is empty.
        'messages: while let Ok(mut msg) = rx.recv() {
            loop {
                match socket.send(msg, 0) {
                    Ok(()) => break,
                    // The `zmq` crate drops a refused message: a copy
                    // (same bytes) takes its place.
                    Err(zmq::Error::EAGAIN) if Instant::now() < deadline => {
                        msg = zmq::Message::from(&payload[..]);
                    }
                    Err(zmq::Error::EAGAIN) => {
                        timed_out = true;
                        break 'messages;
                    }
                    Err(e) => {
                        error = Some(e.to_string());
                        break 'messages;
                    }
                }
            }
        }
    });
    let accepted_s = started.elapsed().as_secs_f64();
    // Producers blocked on a full channel are released by its end.
    drop(rx);
    let (sent, _) = join(producers);
    drop(socket); // the context's end waits for the messages to go out
    Ok(outcome(p, sent, accepted_s, timed_out, error, &window))
}
