//! The stream handle's step: read `ZMQ_EVENTS`, send and receive what it
//! allows within the batch caps, and sleep on the fd only once an events
//! read *after the last send/recv* showed nothing the handle waits for
//! (libzmq's `ZMQ_FD` signals edges only, and every send/recv may consume
//! one: sleeping on anything else can hang with messages waiting).

use std::cell::RefCell;
use std::rc::Rc;

use super::state::{Flow, State, Stream};
use super::{Inner, ReadCb, StreamHandle};
use crate::callback_slot::Lent;
use crate::fd_watch::FdWatch;
use crate::stream::write_queue::RunEnd;
use crate::{Error, Events, Io, Multipart, Reactor, Result, Socket};

/// Who asked for the step.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// The loop's step: from the fd's callback or the check phase.
    Turn,
    /// `flush()`: also sends while writing is paused.
    Flush,
}

/// What one direction's attempts in a step did.
#[derive(Clone, Copy, Default)]
struct Attempts {
    /// Messages sent plus handed over (what `flush` counts).
    moved: usize,
    /// The first attempt found libzmq unwilling, although `ZMQ_EVENTS`
    /// allowed that direction.
    refused: bool,
}

/// Sets the `driving` flag for a step's socket calls. The step ends it
/// with [`done`](Self::done); dropped instead, it was unwound (a callback
/// panicked), so it also queues the handle for another look, since the
/// step stopped midway and may have left work in the socket that no edge
/// will announce.
struct Driving<'a, R: Reactor, S: Socket> {
    inner: &'a Inner<R, S>,
    was: bool,
}

impl<'a, R: Reactor, S: Socket> Driving<'a, R, S> {
    fn start(inner: &'a Inner<R, S>) -> Self {
        Driving {
            inner,
            was: inner.kind.driving.replace(true),
        }
    }

    /// The step's socket calls are over: the flag goes back, and there is
    /// nothing for `Drop` to do (no test of whether a panic unwinds).
    fn done(self) {
        self.inner.kind.driving.set(self.was);
        std::mem::forget(self);
    }
}

impl<R: Reactor, S: Socket> Drop for Driving<'_, R, S> {
    /// Only reached by unwinding (see [`done`](Driving::done)).
    fn drop(&mut self) {
        self.inner.kind.driving.set(self.was);
        self.inner.schedule();
    }
}

impl<R: Reactor, S: Socket> Inner<R, S> {
    /// One step; returns how many messages were sent plus handed over.
    pub(super) fn drive(self: &Rc<Self>, mode: Mode) -> usize {
        let h = self.handle();
        let driving = Driving::start(self);
        let (watch_error, batch) = {
            let mut st = self.st.borrow_mut();
            let st = &mut *st;
            let watch_error = st.watch.as_mut().and_then(FdWatch::take_error);
            // What other threads handed over joins the write queue (an open
            // handle's channels; a closed or failed one has refused them,
            // as the watch error is about to).
            if let (None, Stream::Open(_)) = (watch_error, &st.stream) {
                st.feeds.take_into(&mut st.queue);
            }
            if mode == Mode::Turn {
                // The turn renews what `recv()`/`send()` futures may do
                // directly before the next one.
                st.readers.budget = st.read_batch;
            }
            st.readers.told_readable = false;
            (watch_error, st.read_batch)
        };
        if let Some(e) = watch_error {
            self.fail(&h, e);
        }
        // Attempts, not successes: a send or receive that libzmq refuses
        // uses one up too, so no step can go round without progress.
        let (mut reads_left, mut writes_left) = (batch, batch);
        let mut count = 0;
        // Whether a socket call was made, and whether the last one was an
        // events read made while a direction was refused (see `retry`).
        let (mut called, mut exposed) = (false, false);
        // A `recv()` future was told of a message this step.
        let mut told = false;
        let capped = loop {
            let (want, refused, capped) =
                self.wanted(mode, if told { 0 } else { reads_left }, writes_left, told);
            if want.is_empty() || want == refused {
                // Nothing to do, or every direction waits for the fd and the
                // last socket call was its own refused attempt: an events
                // read now could only consume the signal they wait for.
                break capped;
            }
            called = true;
            exposed = !refused.is_empty();
            let ready = match self.kind.socket.events() {
                // A refused direction waits for the fd, whatever it shows.
                Ok(ev) => ev & want & !refused,
                Err(e) => {
                    self.fail(&h, e);
                    break false;
                }
            };
            if ready.is_empty() {
                // The last socket call was this events read: any change
                // from now on raises a new edge on the fd. Safe to sleep.
                break capped;
            }
            exposed = false;
            if ready.contains(Events::WRITABLE) {
                let sent = self.send_ready(&h, mode, &mut writes_left);
                count += sent.moved;
                self.after_attempt(Events::WRITABLE, sent);
            }
            if ready.contains(Events::READABLE) {
                if let Some(handed) = self.recv_ready(&h, mode, &mut reads_left, &mut writes_left) {
                    count += handed.moved;
                    self.after_attempt(Events::READABLE, handed);
                } else if self.tell_first_reader() {
                    // The first `recv()` in line receives it, in its own
                    // poll: this step is done with reading (no events read
                    // may come between that tell and the receive).
                    told = true;
                }
            }
        };
        driving.done();
        let drained = {
            let mut st = self.st.borrow_mut();
            // Capacity of the channel messages libzmq took, in one go.
            st.feeds.release_done();
            if called {
                self.watch_refusals(&mut st, exposed);
            }
            st.shutdown_drained()
        };
        if capped {
            // More may be waiting, with no edge to come: next iteration.
            self.schedule();
        }
        if drained {
            self.end_shutdown(&h, Ok(()), Error::Closed);
        }
        self.changed(false);
        count
    }

    /// The directions the handle waits for and has attempts left for, those
    /// of them libzmq refused although `ZMQ_EVENTS` allowed them, and
    /// whether a batch cap (rather than a lack of work) held one back.
    ///
    /// A refused direction is tried again once the fd is signalled: the
    /// events read about to happen then processes new commands (the
    /// `activate_write` of a peer that read, say), which may change
    /// libzmq's answer. The fd is asked here, before that read, because
    /// the read consumes the signal. A direction the handle stopped waiting
    /// for forgets its refusal: when it comes back, it tries once more.
    fn wanted(
        &self,
        mode: Mode,
        reads_left: usize,
        writes_left: usize,
        told: bool,
    ) -> (Events, Events, bool) {
        let mut st = self.st.borrow_mut();
        let Some((readable, writable)) = st.directions(mode) else {
            return (Events::empty(), Events::empty(), false);
        };
        let mut waiting = Events::empty();
        let mut want = Events::empty();
        let mut capped = false;
        for (wanted, left, bit) in [
            (readable, reads_left, Events::READABLE),
            (writable, writes_left, Events::WRITABLE),
        ] {
            if wanted {
                waiting |= bit;
            }
            if wanted && left > 0 {
                want |= bit;
            }
            // A told reader holds reading back, not a cap.
            capped |= wanted && left == 0 && !(told && bit == Events::READABLE);
        }
        st.refused &= waiting;
        if !(st.refused & want).is_empty() && self.kind.socket.is_signalled() {
            st.refused = Events::empty();
        }
        (want, st.refused & want, capped)
    }

    /// After a step that called the socket: start the retry timer when the
    /// last call was an events read that may have consumed a refused
    /// direction's signal, else stop it (and start over from the shortest
    /// delay once nothing is refused).
    fn watch_refusals(&self, st: &mut State<R, S>, exposed: bool) {
        if exposed && !st.refused.is_empty() {
            // Fails only once the loop is gone, when nothing runs anyway.
            let _ = st.retry.arm(|| {
                self.event_loop()?
                    .reactor()
                    .timer(self.loop_callback(|inner| inner.retry_refused()))
            });
        } else {
            let reset = st.refused.is_empty();
            st.retry.disarm(reset);
        }
    }

    /// The retry timer fired: try the refused directions again.
    fn retry_refused(&self) {
        self.st.borrow_mut().refused = Events::empty();
        self.schedule();
    }

    /// Books what one direction's attempts did: when the first found libzmq
    /// unwilling although `ZMQ_EVENTS` allowed it (`ZMQ_POLLOUT` is "some
    /// message can be sent", not "this one": a ROUTER's peer at its HWM,
    /// an XPUB_NODROP subscriber that does not read), the direction waits
    /// for the fd instead of going round again.
    fn after_attempt(&self, dir: Events, outcome: Attempts) {
        if outcome.refused {
            self.st.borrow_mut().refused |= dir;
        }
    }

    /// Sends queued messages until libzmq pushes back or the cap is hit;
    /// each completion runs right after its message was taken.
    fn send_ready(
        self: &Rc<Self>,
        h: &StreamHandle<R, S>,
        mode: Mode,
        left: &mut usize,
    ) -> Attempts {
        let mut out = Attempts::default();
        let mut dequeued = false;
        while *left > 0 {
            let (plain, outcome) = {
                let mut st = self.st.borrow_mut();
                if !st.may_send(mode) {
                    break;
                }
                // Messages without a completion go out under this one
                // borrow: no user code runs between them, so nothing can
                // change what `may_send` said.
                st.queue.send_run(&self.kind.socket, *left)
            };
            *left -= plain;
            out.moved += plain;
            dequeued |= plain > 0;
            let Some(outcome) = outcome else {
                break;
            };
            match outcome {
                RunEnd::Sent(done) => {
                    *left -= 1;
                    out.moved += 1;
                    dequeued = true;
                    done.complete(h, Ok(()));
                }
                RunEnd::Blocked => {
                    // The end of a run that sent something; an attempt of
                    // its own (and a refusal) when it is the first.
                    if !dequeued {
                        *left -= 1;
                        out.refused = true;
                    }
                    break;
                }
                RunEnd::Failed(e, done) => {
                    *left -= 1;
                    dequeued = true;
                    if let Some(done) = done {
                        done.complete(h, Err(e));
                    }
                    if e.is_fatal() {
                        self.fail(h, e);
                        break;
                    }
                    let shutting_down =
                        matches!(self.st.borrow().stream, Stream::ShuttingDown { .. });
                    if shutting_down {
                        self.end_shutdown(h, Err(e), Error::Closed);
                        break;
                    }
                }
            }
        }
        out
    }

    /// Hands whole messages to the read callback until the socket has none,
    /// reading stops, or the cap is hit; `None` when no read callback is
    /// home (the handle reads for `recv()` futures, or this step runs from
    /// inside the callback). What the callback writes goes out before the
    /// next read, so a REP's reply precedes its next receive (a send libzmq
    /// cannot take yet just stays queued: no events read is needed to try,
    /// and the caller re-reads them before sleeping).
    fn recv_ready(
        self: &Rc<Self>,
        h: &StreamHandle<R, S>,
        mode: Mode,
        left: &mut usize,
        writes_left: &mut usize,
    ) -> Option<Attempts> {
        // The receive buffer, out of the state for the batch (home again
        // on every exit, unwind included), and the callback, lent.
        let (
            mut rx,
            ReadLent {
                mut cb,
                mut queued,
                mut reading,
                mut resume,
            },
        ) = {
            let mut st = self.st.borrow_mut();
            let lent = self.lend_read_cb(&mut st)?;
            (RxOut::take_in(&self.st, &mut st), lent)
        };
        let mut out = Attempts::default();
        while *left > 0 && reading {
            match self.recv_into(&mut rx.buf, resume) {
                Ok(true) => {}
                Ok(false) => {
                    // The end of a run that received something; an attempt
                    // of its own (and a refusal) when it is the first.
                    if out.moved == 0 {
                        *left -= 1;
                        out.refused = true;
                    }
                    break;
                }
                Err(e) => {
                    drop(rx);
                    // Home first: `fail` hands the error to the callback.
                    drop(cb);
                    self.fail(h, e);
                    return Some(out);
                }
            }
            *left -= 1;
            out.moved += 1;
            (cb.get())(h, Ok(&mut rx.buf));
            // One borrow after the callback: did it write, and may the
            // batch go on (a new callback, `close` or a failure from inside
            // it changed the slot, which ends the batch)?
            let mut st = self.st.borrow_mut();
            if st.queue.len() <= queued {
                reading = st.is_reading() && cb.is_current(&st.read_cb);
                resume = !st.partial.is_empty();
                continue;
            }
            // Home while sending: a send failing for good hands its error
            // to the read callback too.
            let rejected = cb.put_back(&mut st.read_cb);
            drop(st);
            drop(rejected);
            out.moved += self.send_ready(h, mode, writes_left).moved;
            if self.kind.socket.alternates() {
                // A REP that just replied has nothing to receive before the
                // next request: ask ZMQ_EVENTS (the caller's next step)
                // rather than try a receive to find that out.
                return Some(out);
            }
            let again = {
                let mut st = self.st.borrow_mut();
                if rx.buf.capacity() == 0 {
                    // The callback kept the buffer it was handed: the next
                    // message goes into the one it wrote, if the handle
                    // kept that (see `keep_buffer`).
                    std::mem::swap(&mut rx.buf, &mut st.rx);
                }
                self.lend_read_cb(&mut st)
            };
            match again {
                Some(again) => {
                    ReadLent {
                        cb,
                        queued,
                        reading,
                        resume,
                    } = again;
                }
                None => break,
            }
        }
        Some(out)
    }

    /// The read callback, lent out of `st` for a run of messages, with what
    /// the run needs to know of the state; `None` when it is not home.
    fn lend_read_cb<'a>(&'a self, st: &mut State<R, S>) -> Option<ReadLent<'a, R, S>> {
        let queued = st.queue.len();
        let reading = st.is_reading();
        let resume = !st.partial.is_empty();
        Lent::take_in(&self.st, st, |st| &mut st.read_cb).map(|cb| ReadLent {
            cb,
            queued,
            reading,
            resume,
        })
    }

    /// One whole message into `rx`, receiving into the frames it already
    /// holds (libzmq replaces their content) and dropping frames left over;
    /// `false` when libzmq has none now. With `resume`, the message's first
    /// frames came earlier (`partial`, which libzmq's atomic delivery
    /// leaves empty in practice) and it is completed the slow way.
    fn recv_into(&self, rx: &mut Multipart, resume: bool) -> Result<bool> {
        if resume {
            let partial = std::mem::take(&mut self.st.borrow_mut().partial);
            return Ok(match self.recv_message(partial)? {
                Some(msg) => {
                    *rx = msg;
                    true
                }
                None => false,
            });
        }
        let mut n = 0;
        loop {
            let Some(frame) = rx.get_mut(n) else {
                if rx.capacity() == 0 {
                    // Most messages have one frame: room for it, allocated
                    // straight (no growth step).
                    *rx = Vec::with_capacity(1);
                }
                rx.push(zmq::Message::new());
                continue;
            };
            match self.kind.socket.recv_frame(frame)? {
                Io::Done(more) => {
                    n += 1;
                    if !more {
                        // Lent frames usually fit the next message exactly.
                        if n < rx.len() {
                            rx.truncate(n);
                        }
                        return Ok(true);
                    }
                }
                Io::WouldBlock => {
                    if n > 0 {
                        self.st.borrow_mut().partial = rx.drain(..n).collect();
                    }
                    return Ok(false);
                }
            }
        }
    }

    /// One whole message (continuing `parts`, usually empty), or `None`
    /// when libzmq has none now.
    pub(super) fn recv_message(&self, mut parts: Multipart) -> Result<Option<Multipart>> {
        loop {
            let mut frame = zmq::Message::new();
            match self.kind.socket.recv_frame(&mut frame)? {
                Io::Done(more) => {
                    if parts.capacity() == 0 {
                        // Most messages have one frame: room for it,
                        // allocated straight (no growth step), and only
                        // once there is one (a `recv()` that finds nothing
                        // allocates nothing).
                        parts = Vec::with_capacity(1);
                    }
                    parts.push(frame);
                    if !more {
                        return Ok(Some(parts));
                    }
                }
                Io::WouldBlock => {
                    if parts.capacity() > 0 {
                        self.st.borrow_mut().put_back(parts);
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// The socket failed for good: the read callback gets the error once,
    /// queued writes get it too, a shutdown ends with it.
    pub(super) fn fail(self: &Rc<Self>, h: &StreamHandle<R, S>, e: Error) {
        let (was_reading, queued) = {
            let mut st = self.st.borrow_mut();
            let was_reading = match &mut st.stream {
                Stream::Open(flow) => {
                    let was_reading = *flow == Flow::Reading;
                    st.stream = Stream::Failed(e);
                    was_reading
                }
                // Sending the rest fails: the shutdown ends with the error
                // below, once the writes got it.
                Stream::ShuttingDown { failed, .. } if !*failed => {
                    *failed = true;
                    false
                }
                // Failed already (reported then), or done.
                Stream::ShuttingDown { .. } | Stream::Failed(_) | Stream::Closed => return,
            };
            st.feeds.refuse_all(e);
            let queued: Vec<_> = st.queue.drain().collect();
            (was_reading, (queued, st.readers.take_all()))
        };
        // Pending `recv()` futures find the error when polled.
        let (queued, readers) = queued;
        drop(readers);
        if was_reading {
            if let Some(mut cb) = Lent::take(&self.st, |st| &mut st.read_cb) {
                (cb.get())(h, Err(e));
            }
        }
        for done in queued.into_iter().flatten() {
            done.complete(h, Err(e));
        }
        let shutting_down = matches!(self.st.borrow().stream, Stream::ShuttingDown { .. });
        if shutting_down {
            self.end_shutdown(h, Err(e), e);
        }
        self.changed(false);
    }

    /// Ends a shutdown: writes still queued get `rest`, then `cb(result)`.
    fn end_shutdown(self: &Rc<Self>, h: &StreamHandle<R, S>, result: Result<()>, rest: Error) {
        let (cb, queued, watch) = {
            let mut st = self.st.borrow_mut();
            let Stream::ShuttingDown { cb, .. } = std::mem::replace(&mut st.stream, Stream::Closed)
            else {
                return;
            };
            self.closed_early();
            let queued: Vec<_> = st.queue.drain().collect();
            let timers = (st.watch.as_mut().and_then(FdWatch::close), st.retry.close());
            (cb, queued, timers)
        };
        drop(watch);
        for done in queued.into_iter().flatten() {
            done.complete(h, Err(rest));
        }
        cb(h, result);
        self.changed(false);
    }
}

/// The read callback lent out for a run of messages, and what the run
/// knows of the state since the last borrow.
struct ReadLent<'a, R: Reactor, S: Socket> {
    cb: Lent<'a, State<R, S>, ReadCb<R, S>>,
    /// Messages queued when it was lent or last called: more after a call
    /// means it wrote.
    queued: usize,
    /// The handle reads, with this callback.
    reading: bool,
    /// A message's first frames came earlier (see `recv_into`).
    resume: bool,
}

/// The read callback's receive buffer while a batch runs: out of the state
/// (so the callback can have it by reference with no borrow held), and
/// home again when dropped, also on unwind.
struct RxOut<'a, R: Reactor, S: Socket> {
    st: &'a RefCell<State<R, S>>,
    buf: Multipart,
}

impl<'a, R: Reactor, S: Socket> RxOut<'a, R, S> {
    /// The buffer, out of `st`, a borrow the caller holds of `state`.
    fn take_in(state: &'a RefCell<State<R, S>>, st: &mut State<R, S>) -> Self {
        RxOut {
            st: state,
            buf: std::mem::take(&mut st.rx),
        }
    }
}

impl<R: Reactor, S: Socket> Drop for RxOut<'_, R, S> {
    fn drop(&mut self) {
        // A callback that keeps the messages it is handed (the owned
        // `Multipart` of `start_read`) leaves nothing to give back, and
        // the state still holds the empty buffer `take_in` left there.
        if self.buf.capacity() == 0 {
            return;
        }
        if let Ok(mut st) = self.st.try_borrow_mut() {
            st.rx = std::mem::take(&mut self.buf);
        }
    }
}
