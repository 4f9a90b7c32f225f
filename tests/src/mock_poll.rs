//! A poll handle (`ZmqPoll`) on the mock backend driven by a random
//! [`Step`] schedule: its callback receives and sends through
//! `handle.socket()` as a user would, within a per-call budget, and checks
//! each call against the socket's true state (level-triggered delivery).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use uzmq_core::mock::{MockKind, MockPeer, MockProbe, mock_pair};
use uzmq_core::{Error, Events, Io, RunMode, Socket};

use crate::mock_harness::{
    ApiFlag, Knobs, Lp, Msg, Poll, Step, Violations, frame_refs, message, new_loop, settle, show,
};

/// Everything the poll callback shares with the test.
pub struct PollTraffic {
    /// Raised during API calls.
    pub api: ApiFlag,
    /// What the callback saw go wrong.
    pub v: Violations,
    /// Started, as the test asked.
    pub started: Cell<bool>,
    /// The mask it was started with.
    pub mask: Events,
    /// How many messages each call may receive (and send), cycled; 0
    /// leaves the socket as ready as it was.
    pub budgets: Vec<usize>,
    /// Once set, every call consumes all it can.
    pub drain: Cell<bool>,
    /// Callback calls so far.
    pub calls: Cell<usize>,
    /// Messages the peer delivered, in order.
    pub delivered: RefCell<Vec<Msg>>,
    /// Messages the callback received, in order.
    pub read: RefCell<Vec<Msg>>,
    /// Messages the callback sent, in order.
    pub sent: RefCell<Vec<Msg>>,
    /// Messages the peer received, in order.
    pub peer_got: RefCell<Vec<Msg>>,
    /// The socket's probe.
    pub probe: MockProbe,
}

impl PollTraffic {
    fn on_poll(&self, h: &Poll, ev: Events, err: Option<Error>) {
        if self.api.inside() {
            self.v.push("poll callback ran inside an API call");
        }
        if let Some(e) = err {
            self.v.push(format!("poll callback got error {e:?}"));
            return;
        }
        if !self.started.get() {
            self.v.push("poll callback while stopped");
        }
        if ev.is_empty() || !self.mask.contains(ev) {
            self.v.push(format!(
                "poll callback with {ev:?} for mask {:?}",
                self.mask
            ));
        }
        // The events were read just before the call: they are the truth.
        match self.probe.truly_events() {
            Ok(truly) if truly & self.mask == ev => {}
            other => self.v.push(format!(
                "poll callback with {ev:?} while the socket truly shows {other:?}"
            )),
        }
        let n = self.calls.get();
        self.calls.set(n + 1);
        let budget = if self.drain.get() {
            usize::MAX
        } else {
            self.budgets[n % self.budgets.len()]
        };
        if ev.contains(Events::READABLE) {
            self.recv_some(h, budget);
        }
        if ev.contains(Events::WRITABLE) {
            self.send_some(h, budget);
        }
    }

    /// Receives up to `budget` whole messages; the first must be there,
    /// since READABLE was just reported.
    fn recv_some(&self, h: &Poll, budget: usize) {
        for i in 0..budget {
            let mut msg = Vec::new();
            loop {
                let mut frame = zmq::Message::new();
                match h.socket().recv_frame(&mut frame) {
                    Ok(Io::Done(more)) => {
                        msg.push(frame.to_vec());
                        if !more {
                            break;
                        }
                    }
                    Ok(Io::WouldBlock) if msg.is_empty() => {
                        if i == 0 {
                            self.v.push("READABLE reported, yet recv would block");
                        }
                        return;
                    }
                    other => {
                        self.v.push(format!("recv in the poll callback: {other:?}"));
                        return;
                    }
                }
            }
            self.read.borrow_mut().push(msg);
        }
    }

    /// Sends up to `budget` messages; the first must go, since WRITABLE
    /// was just reported.
    fn send_some(&self, h: &Poll, budget: usize) {
        for i in 0..budget {
            let seq = self.sent.borrow().len();
            let msg = message('p', seq, 1 + seq % 3);
            for (k, f) in msg.iter().enumerate() {
                let more = k + 1 < msg.len();
                let mut frame = zmq::Message::from(f.as_slice());
                match h.socket().send_frame(&mut frame, more) {
                    Ok(Io::Done(())) => {}
                    Ok(Io::WouldBlock) if k == 0 => {
                        if i == 0 {
                            self.v.push("WRITABLE reported, yet send would block");
                        }
                        return;
                    }
                    other => {
                        self.v.push(format!("send in the poll callback: {other:?}"));
                        return;
                    }
                }
            }
            self.sent.borrow_mut().push(msg);
        }
    }
}

/// A poll handle, its peer and the model.
pub struct PollWorld {
    /// The mock loop.
    pub lp: Lp,
    /// The handle under test.
    pub h: Poll,
    /// The socket's peer.
    pub peer: MockPeer,
    /// The socket's type.
    pub kind: MockKind,
    /// Shared with the callback.
    pub t: Rc<PollTraffic>,
}

impl PollWorld {
    /// A stopped poll handle on a fresh `kind` socket, to be started with `mask`.
    pub fn new(kind: MockKind, mask: Events, budgets: Vec<usize>, knobs: Knobs, seed: u64) -> Self {
        assert!(!budgets.is_empty());
        let lp = new_loop(seed);
        let (socket, peer) = mock_pair(kind, knobs.config(), seed ^ 0x9011);
        let probe = socket.probe();
        let h = Poll::new(&lp, socket).expect("a poll handle on a mock socket");
        PollWorld {
            lp,
            h,
            peer,
            kind,
            t: Rc::new(PollTraffic {
                api: ApiFlag::default(),
                v: Violations::default(),
                started: Cell::new(false),
                mask,
                budgets,
                drain: Cell::new(false),
                calls: Cell::new(0),
                delivered: RefCell::default(),
                read: RefCell::default(),
                sent: RefCell::default(),
                peer_got: RefCell::default(),
                probe,
            }),
        }
    }

    /// `start(mask)` with the recording callback.
    pub fn start(&self) -> Result<(), String> {
        let t = self.t.clone();
        self.t
            .api
            .call(|| {
                self.h
                    .start(self.t.mask, move |h: &Poll, ev, err| t.on_poll(h, ev, err))
            })
            .map_err(|e| format!("start: {e:?}"))?;
        self.t.started.set(true);
        Ok(())
    }

    /// Whether the socket truly shows something the handle waits for.
    pub fn truly_ready(&self) -> bool {
        self.t
            .probe
            .truly_events()
            .is_ok_and(|e| !(e & self.t.mask).is_empty())
    }

    /// Applies one step; `Err` when the handle did something it must not.
    pub fn apply(&mut self, step: Step) -> Result<(), String> {
        let t = self.t.clone();
        match step {
            Step::Deliver(frames) => {
                if self.kind.can_recv() {
                    let seq = t.delivered.borrow().len();
                    let msg = message('d', seq, usize::from(frames));
                    if self.peer.send(&frame_refs(&msg)) {
                        t.delivered.borrow_mut().push(msg);
                    }
                }
            }
            Step::PeerRecv => {
                if let Some(m) = self.peer.recv() {
                    t.peer_got.borrow_mut().push(m);
                }
            }
            Step::Run(mode) => self.run_checked(mode)?,
            Step::StopRead | Step::Stop => {
                t.api
                    .call(|| self.h.stop())
                    .map_err(|e| format!("stop: {e:?}"))?;
                t.started.set(false);
            }
            Step::StartRead => self.start()?,
            Step::Spurious => self.peer.spurious_signal(),
            Step::Advance(ms) => self.lp.reactor().advance(ms),
            Step::TouchSocket => {
                let _ = self.h.socket().events();
            }
            Step::PeerServe
            | Step::Write { .. }
            | Step::Flush
            | Step::SetReadBatch(_)
            | Step::SetLimit(_)
            | Step::Reply => {}
        }
        self.check()
    }

    /// One iteration; level-triggered: a started handle whose socket is
    /// truly ready when the iteration begins is called in it.
    pub fn run_checked(&self, mode: RunMode) -> Result<(), String> {
        let due = self.t.started.get() && self.truly_ready();
        let calls = self.t.calls.get();
        self.lp.run(mode).map_err(|e| format!("run: {e:?}"))?;
        if due && self.t.calls.get() == calls {
            return Err(format!(
                "the socket was ready for {:?} and the handle started, yet an iteration \
                 ({mode:?}) passed without a callback",
                self.t.mask
            ));
        }
        Ok(())
    }

    /// The invariants that hold between any two steps.
    pub fn check(&self) -> Result<(), String> {
        let t = &self.t;
        t.v.check()?;
        let read = t.read.borrow();
        let delivered = t.delivered.borrow();
        if read.len() > delivered.len() || read[..] != delivered[..read.len()] {
            return Err(format!(
                "read {} is not a prefix of delivered {}",
                show(read.iter()),
                show(delivered.iter())
            ));
        }
        let got = t.peer_got.borrow();
        let sent = t.sent.borrow();
        if got.len() > sent.len() || got[..] != sent[..got.len()] {
            return Err(format!(
                "peer got {}, not a prefix of sent {}",
                show(got.iter()),
                show(sent.iter())
            ));
        }
        Ok(())
    }

    /// After the schedule: start (if stopped), consume everything, and run
    /// to quiescence.
    pub fn drain(&mut self) -> Result<(), String> {
        self.t.drain.set(true);
        if !self.t.started.get() {
            self.start()?;
        }
        settle(&self.lp)?;
        self.check()
    }
}
