//! W7 fan-in: `sockets` PULL sockets, each bound to its own `inproc://`
//! endpoint, fed round-robin by `senders` threads of blocking PUSH sockets
//! in the same process; the measured side receives `n` messages in total
//! on one thread. uzmq reads them through one handle per socket on one
//! loop; raw libzmq does the same job with `zmq_poll` over all the sockets
//! and non-blocking `recv`s, bounded per socket like the handles' batches.
//!
//! `inproc` keeps TCP and libzmq's I/O thread out of the way: what differs
//! between the variants is only how the receiving thread learns which of
//! the 1,000 sockets has messages.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use uzmq::{Events, Loop, RunMode, Timer, Zmq, ZmqPoll};
use uzmq_zmq::LargeContext;

use super::idle::Closer;
use super::uzmq_side::POLL_BATCH;
use super::{Failure, HandleKind, Outcome, RecvCount};
use crate::scale::ensure_fds;
use crate::window::Window;

/// Parameters of W7.
#[derive(Debug, Clone)]
pub struct FanIn {
    /// Messages in total, over all sockets.
    pub n: u64,
    /// Bytes per message.
    pub size: usize,
    /// PULL sockets on the measured thread.
    pub sockets: usize,
    /// Threads that send, each to its share of the sockets in turn.
    pub senders: usize,
    /// High-water mark of every socket.
    pub hwm: i32,
    /// Give up after this long.
    pub timeout: Duration,
}

/// The PULL sockets, bound, and the sender threads, started.
struct Rig {
    pulls: Vec<zmq::Socket>,
    senders: Vec<thread::JoinHandle<Result<u64, String>>>,
    stop: Arc<AtomicBool>,
}

impl Rig {
    fn new(ctx: &LargeContext, p: &FanIn) -> Result<Rig, Failure> {
        let mut pulls = Vec::with_capacity(p.sockets);
        let mut pushes: Vec<Vec<zmq::Socket>> = (0..p.senders).map(|_| Vec::new()).collect();
        for i in 0..p.sockets {
            let endpoint = format!("inproc://uzmq-w7-{i}");
            let pull = ctx.socket(zmq::PULL)?;
            pull.set_rcvhwm(p.hwm)?;
            pull.set_linger(0)?;
            pull.bind(&endpoint)?;
            let push = ctx.socket(zmq::PUSH)?;
            push.set_sndhwm(p.hwm)?;
            push.set_linger(0)?;
            push.set_sndtimeo(100)?;
            push.connect(&endpoint)?;
            pulls.push(pull);
            pushes[i % p.senders].push(push);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let per_sender = p.n / p.senders as u64;
        let senders = pushes
            .into_iter()
            .enumerate()
            .map(|(t, sockets)| {
                // The first sender also sends the remainder.
                let n = per_sender + if t == 0 { p.n % p.senders as u64 } else { 0 };
                let (stop, size) = (stop.clone(), p.size);
                thread::spawn(move || send_round_robin(&sockets, n, size, &stop))
            })
            .collect();
        Ok(Rig {
            pulls,
            senders,
            stop,
        })
    }

    /// Stops the senders (they may be blocked on a full socket) and
    /// returns how many messages they sent, or the first error.
    fn finish(self) -> Result<u64, String> {
        self.stop.store(true, Ordering::Relaxed);
        let mut sent = 0;
        for sender in self.senders {
            sent += sender
                .join()
                .map_err(|_| "a sender thread panicked".to_string())??;
        }
        Ok(sent)
    }
}

fn send_round_robin(
    sockets: &[zmq::Socket],
    n: u64,
    size: usize,
    stop: &AtomicBool,
) -> Result<u64, String> {
    let payload = vec![0x5au8; size];
    let mut sent = 0;
    let mut next = 0;
    while sent < n && !sockets.is_empty() {
        match sockets[next].send(&payload[..], 0) {
            Ok(()) => {
                sent += 1;
                next = (next + 1) % sockets.len();
            }
            Err(zmq::Error::EAGAIN) if !stop.load(Ordering::Relaxed) => {}
            Err(zmq::Error::EAGAIN) => break,
            Err(e) => return Err(format!("send: {e}")),
        }
    }
    Ok(sent)
}

fn outcome(
    p: &FanIn,
    count: &RecvCount,
    sent: Result<u64, String>,
    timed_out: bool,
    error: Option<String>,
    window: &Window,
) -> Outcome {
    let (sent, error) = match sent {
        Ok(sent) => (Some(sent), error),
        Err(e) => (None, error.or(Some(e))),
    };
    let complete = count.done() && error.is_none();
    Outcome {
        json: count
            .json("w7")
            .with("sockets", p.sockets)
            .with("senders", p.senders)
            .with("sent", sent)
            .with("timed_out", timed_out)
            .with("error", error),
        complete,
        cpu_s: window.cpu_s(),
    }
}

fn context(p: &FanIn) -> Result<LargeContext, Failure> {
    ensure_fds(2 * p.sockets).map_err(Failure::Other)?;
    Ok(LargeContext::new(2 * p.sockets + 64)?)
}

/// W7 through uzmq: one handle per PULL socket on one loop.
pub fn uzmq(kind: HandleKind, p: &FanIn) -> Result<Outcome, Failure> {
    let ctx = context(p)?;
    let mut rig = Rig::new(&ctx, p)?;
    let pulls = std::mem::take(&mut rig.pulls);
    let lp = Loop::new()?;
    let count = Rc::new(RefCell::new(RecvCount::new(p.n)));
    let error: Rc<RefCell<Option<String>>> = Rc::default();
    let timed_out = Rc::new(std::cell::Cell::new(false));
    let timer = Timer::new(&lp)?;
    // Every handle, closed after the window: the last message (or the
    // timeout) only stops the loop, so that tearing 1,000 handles down is
    // not counted as the cost of the messages (raw's sockets close after
    // its window too).
    let closers: Rc<RefCell<Vec<Closer>>> = Rc::default();
    let stop: Rc<dyn Fn()> = {
        let lp = lp.clone();
        Rc::new(move || lp.stop())
    };
    for socket in pulls {
        let (c, e, done) = (count.clone(), error.clone(), stop.clone());
        match kind {
            HandleKind::Stream | HandleKind::Frames => {
                let h = Zmq::new(&lp, socket)?;
                // The same count for both read APIs: owned frames or lent ones.
                let on_message = move |msg: uzmq::Result<&[zmq::Message]>| match msg {
                    Ok(parts) => {
                        let last = parts.len() - 1;
                        let mut finished = false;
                        {
                            let mut c = c.borrow_mut();
                            for (i, frame) in parts.iter().enumerate() {
                                finished = c.frame(frame.len(), i < last);
                            }
                        }
                        if finished {
                            done();
                        }
                    }
                    Err(err) => {
                        e.borrow_mut().get_or_insert_with(|| err.to_string());
                        done();
                    }
                };
                if kind == HandleKind::Frames {
                    h.start_read_frames(move |_, frames| on_message(frames))?;
                } else {
                    h.start_read(move |_, msg| on_message(msg.as_deref().map_err(|e| *e)))?;
                }
                closers.borrow_mut().push(Box::new(move || h.close()));
            }
            HandleKind::Poll => {
                let h = ZmqPoll::new(&lp, socket)?;
                let mut frame = zmq::Message::new();
                h.start(Events::READABLE, move |h, _events, err| {
                    if let Some(err) = err {
                        e.borrow_mut().get_or_insert_with(|| err.to_string());
                        done();
                        return;
                    }
                    for _ in 0..POLL_BATCH {
                        match h.socket().recv(&mut frame, zmq::DONTWAIT) {
                            Ok(()) => {
                                let finished = c.borrow_mut().frame(frame.len(), frame.get_more());
                                if finished {
                                    done();
                                    return;
                                }
                            }
                            Err(zmq::Error::EAGAIN) => return,
                            Err(err) => {
                                e.borrow_mut().get_or_insert_with(|| err.to_string());
                                done();
                                return;
                            }
                        }
                    }
                })?;
                closers.borrow_mut().push(Box::new(move || h.close()));
            }
        }
    }
    let (to, done) = (timed_out.clone(), stop.clone());
    timer.start(p.timeout, Duration::ZERO, move |_| {
        to.set(true);
        done();
    })?;
    let window = Window::new();
    window.run(|| lp.run(RunMode::Default))?;
    // Taken out first: no borrow is held while the handles close.
    let closers = std::mem::take(&mut *closers.borrow_mut());
    for close in closers {
        close();
    }
    timer.close();
    // Until the closes complete: the handles' sockets close with them,
    // before the context ends.
    lp.run(RunMode::Default)?;
    // The last clone of the loop besides `lp` (the callbacks' went with
    // their handles and the timer): the loop ends here, before the senders.
    drop(stop);
    drop(lp);
    let sent = rig.finish();
    let count = count.borrow();
    let error = error.borrow_mut().take();
    Ok(outcome(p, &count, sent, timed_out.get(), error, &window))
}

/// W7 on raw libzmq: `zmq_poll` over every PULL socket in one thread.
pub fn raw(p: &FanIn) -> Result<Outcome, Failure> {
    let ctx = context(p)?;
    let mut rig = Rig::new(&ctx, p)?;
    let pulls = std::mem::take(&mut rig.pulls);
    let mut count = RecvCount::new(p.n);
    let mut frame = zmq::Message::new();
    let mut error = None;
    let mut timed_out = false;
    let deadline = Instant::now() + p.timeout;
    let window = Window::new();
    window.run(|| {
        let mut items: Vec<zmq::PollItem> =
            pulls.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
        'run: while !count.done() {
            if Instant::now() >= deadline {
                timed_out = true;
                break;
            }
            match zmq::poll(&mut items, 100) {
                Ok(_) => {}
                Err(e) => {
                    error = Some(format!("zmq_poll: {e}"));
                    break;
                }
            }
            for (item, socket) in items.iter().zip(&pulls) {
                if !item.is_readable() {
                    continue;
                }
                for _ in 0..POLL_BATCH {
                    match socket.recv(&mut frame, zmq::DONTWAIT) {
                        Ok(()) => {
                            if count.frame(frame.len(), frame.get_more()) {
                                break 'run;
                            }
                        }
                        Err(zmq::Error::EAGAIN) => break,
                        Err(e) => {
                            error = Some(e.to_string());
                            break 'run;
                        }
                    }
                }
            }
        }
    });
    drop(pulls);
    let sent = rig.finish();
    Ok(outcome(p, &count, sent, timed_out, error, &window))
}
