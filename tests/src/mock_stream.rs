//! A stream handle (`Zmq`) on the mock backend driven by a random
//! [`Step`] schedule, with a model of what the test asked for (reading,
//! writes paused, queue limit) and a record of all traffic both ways, so
//! the properties can compare what went in with what came out.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use uzmq_core::mock::{MockKind, MockPeer, MockProbe, mock_pair};
use uzmq_core::{Error, Multipart, Result as CoreResult, Socket};

use crate::mock_harness::{
    ApiFlag, Knobs, Lp, Msg, Step, Stream, Violations, frame_refs, message, new_loop, settle, show,
    to_bytes,
};

/// What the handle's socket plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// No request/reply turns: PAIR, DEALER, PUSH, PULL, SUB.
    Plain,
    /// A REQ handle; the peer plays REP ([`Step::PeerServe`]).
    Req,
    /// A REP handle whose read callback writes the reply, at once or (with
    /// `defer`) later, from a [`Step::Reply`]; the peer plays REQ clients.
    Rep {
        /// Replies wait for a [`Step::Reply`] instead of being written
        /// from the read callback.
        defer: bool,
    },
}

/// One write the handle accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The attempt number it was given (unique, also for refused writes).
    pub id: usize,
    /// Its frames.
    pub msg: Msg,
    /// Whether it carries a completion callback.
    pub cb: bool,
}

/// Everything the callbacks share with the test.
pub struct Traffic {
    /// Raised during API calls.
    pub api: ApiFlag,
    /// What callbacks saw go wrong.
    pub v: Violations,
    /// Reading, as the test asked (start_read / stop_read / stop).
    pub reading: Cell<bool>,
    /// Writing paused by `stop()`, as the test asked.
    pub paused: Cell<bool>,
    /// The read callback stops reading after every this many messages.
    pub stop_every: Option<usize>,
    /// The socket's role.
    pub role: Role,
    /// Messages the peer delivered into the socket, in order.
    pub delivered: RefCell<Vec<Msg>>,
    /// Messages handed to the read callback, in order.
    pub read: RefCell<Vec<Msg>>,
    /// Writes the handle accepted, in order.
    pub accepted: RefCell<Vec<Accepted>>,
    /// Completions run: (write id, result), in order.
    pub completions: RefCell<Vec<(usize, CoreResult<()>)>>,
    /// Messages the peer received from the socket, in order.
    pub peer_got: RefCell<Vec<Msg>>,
    /// Requests the peer (as REP) received and has not answered yet.
    pub unanswered: RefCell<Vec<Msg>>,
    /// Replies the peer (as REP) sent, in order.
    pub replies: RefCell<Vec<Msg>>,
    /// Replies a deferring REP handle still has to write.
    pub deferred: RefCell<Vec<Msg>>,
    /// Write attempts so far (the next write's id).
    pub next_write: Cell<usize>,
    /// The peer's end.
    pub peer: MockPeer,
    /// The socket's probe.
    pub probe: MockProbe,
}

/// A reply to `request`: every frame prefixed with `re:`.
pub fn reply_to(request: &[Vec<u8>]) -> Msg {
    request
        .iter()
        .map(|f| [b"re:".as_slice(), f].concat())
        .collect()
}

/// `buffer` emptied and filled with `msg`'s frames.
fn refill(mut buffer: Multipart, msg: &Msg) -> Multipart {
    buffer.clear();
    buffer.extend(msg.iter().map(|f| zmq::Message::from(f.as_slice())));
    buffer
}

impl Traffic {
    /// Messages libzmq took from the handle: read by the peer or waiting
    /// in the pipe to it.
    pub fn taken(&self) -> usize {
        self.peer_got.borrow().len() + self.peer.pending_outbound()
    }

    /// Queues `msg` on `h` as the test (or a callback) does, keeping the
    /// model in step; returns what the handle said.
    pub fn write(self: &Rc<Self>, h: &Stream, msg: Msg, cb: bool) -> CoreResult<()> {
        self.write_from(h, msg, cb, None)
    }

    /// As [`write`](Self::write), the frames put in `buffer` when given: a
    /// `Multipart` the handle handed to the read callback, written back.
    pub fn write_from(
        self: &Rc<Self>,
        h: &Stream,
        msg: Msg,
        cb: bool,
        buffer: Option<Multipart>,
    ) -> CoreResult<()> {
        let id = self.next_write.get();
        self.next_write.set(id + 1);
        let res = self.api.call(|| match (cb, buffer) {
            (true, buffer) => {
                let t = self.clone();
                let done = move |_h: &Stream, r| t.completed(id, r);
                match buffer {
                    Some(buffer) => h.write_with(refill(buffer, &msg), done),
                    None => h.write_with(msg.clone(), done),
                }
            }
            (false, Some(buffer)) => h.write_multipart(refill(buffer, &msg)),
            // One frame and no completion: `write`'s own path.
            (false, None) if let [frame] = msg.as_slice() => h.write(frame.clone()),
            (false, None) => h.write_multipart(msg.clone()),
        });
        if res.is_ok() {
            self.accepted.borrow_mut().push(Accepted { id, msg, cb });
            self.paused.set(false);
        }
        res
    }

    /// A completion ran: exactly once, in write order, with `Ok`, after
    /// libzmq took the message, never inside an API call.
    fn completed(&self, id: usize, r: CoreResult<()>) {
        if self.api.inside() {
            self.v
                .push(format!("completion of write {id} ran inside an API call"));
        }
        if let Err(e) = r {
            self.v
                .push(format!("completion of write {id} got Err({e:?})"));
        }
        let done = self.completions.borrow().len();
        let accepted = self.accepted.borrow();
        let mut with_cb = accepted.iter().enumerate().filter(|(_, a)| a.cb);
        match with_cb.nth(done) {
            Some((pos, a)) if a.id == id => {
                if pos >= self.taken() {
                    self.v.push(format!(
                        "completion of write {id} (position {pos}) ran before libzmq took it \
                         (taken: {})",
                        self.taken()
                    ));
                }
            }
            Some((_, a)) => self.v.push(format!(
                "completion of write {id} ran where write {} was next in order",
                a.id
            )),
            None => self.v.push(format!(
                "completion of write {id} ran but no completion is due (duplicate or refused)"
            )),
        }
        drop(accepted);
        self.completions.borrow_mut().push((id, r));
    }

    /// The read callback, whichever API delivered the message (`start_read`
    /// also hands over its buffer, which a REP writes its reply back in).
    fn on_read(self: &Rc<Self>, h: &Stream, r: CoreResult<Msg>, buffer: Option<Multipart>) {
        if self.api.inside() {
            self.v.push("read callback ran inside an API call");
        }
        let m = match r {
            Ok(m) => m,
            Err(e) => {
                self.v.push(format!("read callback got Err({e:?})"));
                return;
            }
        };
        if !self.reading.get() {
            self.v.push(format!(
                "read callback with {} while not reading (after stop_read/stop)",
                show([&m])
            ));
        }
        self.read.borrow_mut().push(m.clone());
        match self.role {
            Role::Rep { defer: false } => {
                if let Err(e) = self.write_from(h, reply_to(&m), true, buffer) {
                    self.v.push(format!("REP reply refused: {e:?}"));
                }
            }
            Role::Rep { defer: true } => self.deferred.borrow_mut().push(reply_to(&m)),
            Role::Plain | Role::Req => {}
        }
        let count = self.read.borrow().len();
        if self.stop_every.is_some_and(|k| count.is_multiple_of(k)) {
            match self.api.call(|| h.stop_read()) {
                Ok(()) => self.reading.set(false),
                Err(e) => self
                    .v
                    .push(format!("stop_read in the read callback: {e:?}")),
            }
        }
    }
}

/// A stream handle, its peer and the model.
pub struct StreamWorld {
    /// The mock loop.
    pub lp: Lp,
    /// The handle under test.
    pub h: Stream,
    /// The socket's type.
    pub kind: MockKind,
    /// Shared with the callbacks.
    pub t: Rc<Traffic>,
    /// The queue limit the test set.
    pub limit: Option<usize>,
    /// Reading through `start_read_frames` (frames lent, received into
    /// again) rather than `start_read`.
    pub lent: bool,
}

impl StreamWorld {
    /// A handle on a fresh `kind` socket (not reading yet).
    pub fn new(
        kind: MockKind,
        role: Role,
        knobs: Knobs,
        seed: u64,
        stop_every: Option<usize>,
    ) -> StreamWorld {
        let lp = new_loop(seed);
        let (socket, peer) = mock_pair(kind, knobs.config(), seed ^ 0x5EED);
        let probe = socket.probe();
        let h = Stream::new(&lp, socket).expect("a stream handle on a mock socket");
        StreamWorld {
            lp,
            h,
            kind,
            limit: None,
            lent: seed % 2 == 1,
            t: Rc::new(Traffic {
                api: ApiFlag::default(),
                v: Violations::default(),
                reading: Cell::new(false),
                paused: Cell::new(false),
                stop_every,
                role,
                delivered: RefCell::default(),
                read: RefCell::default(),
                accepted: RefCell::default(),
                completions: RefCell::default(),
                peer_got: RefCell::default(),
                unanswered: RefCell::default(),
                replies: RefCell::default(),
                deferred: RefCell::default(),
                next_write: Cell::new(0),
                peer,
                probe,
            }),
        }
    }

    /// `start_read` with the recording callback (`start_read_frames`, the
    /// lending API, for a world made with an odd seed).
    pub fn start_read(&self) -> Result<(), String> {
        if !self.kind.can_recv() {
            return Ok(());
        }
        let t = self.t.clone();
        let res = self.t.api.call(|| {
            if self.lent {
                self.h.start_read_frames(move |h: &Stream, r| {
                    t.on_read(
                        h,
                        r.map(|frames| frames.iter().map(|f| f.to_vec()).collect()),
                        None,
                    );
                })
            } else {
                self.h.start_read(move |h: &Stream, r| match r {
                    Ok(m) => t.on_read(h, Ok(to_bytes(&m)), Some(m)),
                    Err(e) => t.on_read(h, Err(e), None),
                })
            }
        });
        res.map_err(|e| format!("start_read: {e:?}"))?;
        self.t.reading.set(true);
        self.t.paused.set(false);
        Ok(())
    }

    /// Whether the handle is to read or to write now, as the test asked.
    pub fn wants(&self) -> (bool, bool) {
        let reading = self.t.reading.get();
        let writing = self.h.write_queue_size() > 0 && !self.t.paused.get();
        (reading, writing)
    }

    fn peer_recv(&self) {
        if let Some(m) = self.t.peer.recv() {
            self.t.peer_got.borrow_mut().push(m.clone());
            if self.t.role == Role::Req {
                self.t.unanswered.borrow_mut().push(m);
            }
        }
    }

    fn peer_serve(&self) {
        if self.t.unanswered.borrow().is_empty() {
            self.peer_recv();
        }
        let Some(request) = self.t.unanswered.borrow().first().cloned() else {
            return;
        };
        let reply = reply_to(&request);
        if self.t.peer.send(&frame_refs(&reply)) {
            self.t.unanswered.borrow_mut().remove(0);
            self.t.replies.borrow_mut().push(reply);
        }
    }

    /// Applies one step; `Err` when the handle did something it must not.
    pub fn apply(&mut self, step: Step) -> Result<(), String> {
        let t = self.t.clone();
        match step {
            Step::Deliver(frames) => {
                if self.kind.can_recv() && t.role != Role::Req {
                    let seq = t.delivered.borrow().len();
                    let msg = message('d', seq, usize::from(frames));
                    if t.peer.send(&frame_refs(&msg)) {
                        t.delivered.borrow_mut().push(msg);
                    }
                }
            }
            Step::PeerRecv => self.peer_recv(),
            Step::PeerServe => {
                if t.role == Role::Req {
                    self.peer_serve();
                }
            }
            Step::Run(mode) => {
                self.lp.run(mode).map_err(|e| format!("run: {e:?}"))?;
            }
            Step::StopRead => {
                t.api
                    .call(|| self.h.stop_read())
                    .map_err(|e| format!("stop_read: {e:?}"))?;
                t.reading.set(false);
            }
            Step::StartRead => self.start_read()?,
            Step::Write { frames, cb } => {
                if self.kind.can_send() {
                    let size = self.h.write_queue_size();
                    let msg = message('w', t.next_write.get(), usize::from(frames));
                    let res = t.write(&self.h, msg, cb);
                    let full = self.limit.is_some_and(|n| size >= n);
                    match (full, res) {
                        (false, Ok(())) => {}
                        (true, Err(Error::QueueFull)) => {
                            if self.h.write_queue_size() != size {
                                return Err(
                                    "a write refused with QueueFull queued something".into()
                                );
                            }
                        }
                        (full, res) => {
                            return Err(format!(
                                "write with {size} queued, limit {:?} (full: {full}): {res:?}",
                                self.limit
                            ));
                        }
                    }
                }
            }
            Step::Stop => {
                t.api
                    .call(|| self.h.stop())
                    .map_err(|e| format!("stop: {e:?}"))?;
                t.reading.set(false);
                t.paused.set(true);
            }
            Step::Flush => {
                let (taken, read) = (t.taken(), t.read.borrow().len());
                let n = self.h.flush().map_err(|e| format!("flush: {e:?}"))?;
                let moved = t.taken() - taken + t.read.borrow().len() - read;
                if n != moved {
                    return Err(format!(
                        "flush returned {n}, but {moved} messages were sent or handed over"
                    ));
                }
            }
            Step::Spurious => t.peer.spurious_signal(),
            Step::SetReadBatch(n) => self.h.set_read_batch(n),
            Step::SetLimit(limit) => {
                self.h.set_write_queue_limit(limit);
                self.limit = limit;
            }
            Step::Advance(ms) => self.lp.reactor().advance(ms),
            Step::Reply => self.write_deferred()?,
            Step::TouchSocket => {
                let _ = self.h.socket().events();
            }
        }
        self.check()
    }

    fn write_deferred(&self) -> Result<(), String> {
        let replies = std::mem::take(&mut *self.t.deferred.borrow_mut());
        for reply in replies {
            self.t
                .write(&self.h, reply, true)
                .map_err(|e| format!("deferred REP reply refused: {e:?}"))?;
        }
        Ok(())
    }

    /// The invariants that hold between any two steps.
    pub fn check(&self) -> Result<(), String> {
        let t = &self.t;
        t.v.check()?;
        let accepted = t.accepted.borrow();
        let taken = t.taken();
        if self.h.write_queue_size() + taken != accepted.len() {
            return Err(format!(
                "write_queue_size {} + taken {taken} != accepted {}",
                self.h.write_queue_size(),
                accepted.len()
            ));
        }
        let got = t.peer_got.borrow();
        for (i, (g, a)) in got.iter().zip(accepted.iter()).enumerate() {
            if *g != a.msg {
                return Err(format!(
                    "peer received {} as message {i}, expected write {}",
                    show([g]),
                    show([&a.msg])
                ));
            }
        }
        let read = t.read.borrow();
        let sent_in = match t.role {
            Role::Req => t.replies.borrow().clone(),
            Role::Plain | Role::Rep { .. } => t.delivered.borrow().clone(),
        };
        if read.len() > sent_in.len() || read[..] != sent_in[..read.len()] {
            return Err(format!(
                "read {} is not a prefix of what the peer sent {}",
                show(read.iter()),
                show(sent_in.iter())
            ));
        }
        if t.role == Role::Req {
            let outstanding = t.unanswered.borrow().len() + t.peer.pending_outbound();
            if outstanding > 1 {
                return Err(format!(
                    "the REQ has {outstanding} requests out at once (the second must wait)"
                ));
            }
        }
        Ok(())
    }

    /// After the schedule: reads and writes resumed, the peer takes and
    /// answers everything, until nothing moves any more. Then everything
    /// must have gone through.
    pub fn drain(&mut self) -> Result<(), String> {
        self.h.set_write_queue_limit(None);
        self.limit = None;
        if self.kind.can_recv() {
            self.start_read()?;
        } else if self.t.paused.get() && self.h.write_queue_size() > 0 {
            // A write resumes writing after stop().
            let msg = message('w', self.t.next_write.get(), 1);
            self.t
                .write(&self.h, msg, true)
                .map_err(|e| format!("write after stop: {e:?}"))?;
        }
        for _ in 0..200 {
            // The read callback may stop reading (`stop_every`): resume.
            if self.kind.can_recv() && !self.t.reading.get() {
                self.start_read()?;
            }
            settle(&self.lp)?;
            self.check()?;
            let before = self.progress();
            self.write_deferred()?;
            while self.t.peer.pending_outbound() > 0 {
                self.peer_recv();
                if self.t.role == Role::Req {
                    self.peer_serve();
                }
            }
            if self.t.role == Role::Req {
                self.peer_serve();
            }
            self.check()?;
            let idle = !self.kind.can_recv() || self.t.reading.get();
            if self.progress() == before && self.h.write_queue_size() == 0 && idle {
                settle(&self.lp)?;
                return self.check();
            }
        }
        Err("the traffic did not end after 200 rounds of settle + peer".into())
    }

    fn progress(&self) -> (usize, usize, usize, usize) {
        let t = &self.t;
        (
            t.read.borrow().len(),
            t.peer_got.borrow().len(),
            t.replies.borrow().len(),
            t.accepted.borrow().len(),
        )
    }

    /// After [`drain`](Self::drain): every message went through exactly
    /// once, in order, frames intact, and every completion ran once, `Ok`.
    pub fn check_complete(&self) -> Result<(), String> {
        let t = &self.t;
        let read = t.read.borrow();
        let expected_in = match t.role {
            Role::Req => t.replies.borrow().clone(),
            Role::Plain | Role::Rep { .. } => t.delivered.borrow().clone(),
        };
        if *read != expected_in {
            return Err(format!(
                "read {}\n  != sent by the peer {}",
                show(read.iter()),
                show(expected_in.iter())
            ));
        }
        if t.peer.pending_inbound() != 0 {
            return Err(format!(
                "{} delivered messages never read",
                t.peer.pending_inbound()
            ));
        }
        let accepted = t.accepted.borrow();
        let got = t.peer_got.borrow();
        let written: Vec<&Msg> = accepted.iter().map(|a| &a.msg).collect();
        if got.iter().collect::<Vec<_>>() != written {
            return Err(format!(
                "peer got {}\n  != written {}",
                show(got.iter()),
                show(written.iter().copied())
            ));
        }
        let due: Vec<usize> = accepted.iter().filter(|a| a.cb).map(|a| a.id).collect();
        let done: Vec<usize> = t.completions.borrow().iter().map(|c| c.0).collect();
        if due != done {
            return Err(format!(
                "completions {done:?} != writes with callbacks {due:?}"
            ));
        }
        if self.h.write_queue_size() != 0 {
            return Err(format!(
                "write_queue_size {} after everything was sent",
                self.h.write_queue_size()
            ));
        }
        Ok(())
    }
}
