//! Stop/close/shutdown/start/write/flush (and refused calls, and a nested
//! `run`) from inside every kind of callback, on the same or another
//! handle, on the mock backend: two stream handles, a poll
//! handle and a timer on one loop, each callback running the next action
//! of a random script, checked against a model of every handle's life
//! (the stop/close rule of `ARCHITECTURE.md`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::Duration;

use uzmq_core::mock::{MockConfig, MockKind, MockPeer, mock_pair};
use uzmq_core::{Error, Events, Io, Multipart, Result as CoreResult, RunMode, Socket};

use crate::mock_harness::{
    ApiFlag, Lp, Msg, Poll, Stream, Timer, Violations, frame_refs, message, new_loop, settle, show,
    to_bytes,
};

/// Handle numbers: streams 0 and 1, the poll handle, the timer.
pub const POLL: usize = 2;
/// The timer's number.
pub const TIMER: usize = 3;
/// How many handles there are.
pub const HANDLES: usize = 4;

/// What a callback (or the test, from outside) does to a handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Nothing.
    Nothing,
    /// `stop()`.
    Stop(usize),
    /// `stop_read()` (streams; `stop()` for the others).
    StopRead(usize),
    /// `start_read` / `start(READABLE)` (with a timeout of `p % 3 + 1` ms
    /// when `p & 0x10`) / timer `start(p % 4 ms, p / 4 % 4 ms)`.
    Start(usize, u8),
    /// `write_with` of 1-3 frames (streams; nothing for the others).
    Write(usize, u8),
    /// `close_with`.
    Close(usize),
    /// `shutdown` (streams; `close_with` for the others).
    Shutdown(usize),
    /// `flush()` (streams; nothing for the others).
    Flush(usize),
    /// A call that must be refused, with a callback that must never run:
    /// `write_with` of no frame (streams), `start` with an empty mask
    /// (poll), `start_with_timeout` with a zero timeout (timer: the poll
    /// handle's); `Err(EINVAL)` on an open handle, `Err(Closed)` else,
    /// and the handle left as it was.
    Refused(usize),
    /// `run(NoWait)` of the loop: `Err(Reentrant)` inside a callback the
    /// loop runs (nothing is done outside a loop run).
    RunLoop,
}

/// One step of the schedule, from outside the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChaosStep {
    /// The peer of stream 0, stream 1 or the poll handle delivers a message.
    Deliver(usize),
    /// The peer of stream 0 or 1 receives a message.
    PeerRecv(usize),
    /// One loop iteration.
    Run(RunMode),
    /// Virtual time moves on.
    Advance(u64),
    /// An action from outside the loop.
    Do(Act),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    Open,
    /// `shutdown` was called (streams); its callback has not run yet.
    ShuttingDown,
    /// `close` was called; the close callback has not run yet.
    Closing,
    /// The close (or shutdown) callback ran.
    Closed,
}

/// The test's belief about one handle.
#[derive(Debug)]
struct Model {
    life: Life,
    /// Reading (streams), started (poll), started and due to fire (timer).
    active: bool,
    /// Writing paused by `stop()` (streams).
    paused: bool,
    /// A repeating timer (stays active after firing).
    repeating: bool,
    /// A poll handle started with a timeout.
    timeout: bool,
    /// Writes whose completion has not run, oldest first (streams).
    queued: VecDeque<usize>,
    /// `flush()` calls under way on this handle.
    flushing: usize,
    close_cbs: usize,
}

impl Model {
    fn new() -> Self {
        Model {
            life: Life::Open,
            active: false,
            paused: false,
            repeating: false,
            timeout: false,
            queued: VecDeque::new(),
            flushing: 0,
            close_cbs: 0,
        }
    }
}

/// The four handles, their peers, the model and the action script.
pub struct Chaos {
    me: Weak<Chaos>,
    /// The mock loop.
    pub lp: Lp,
    streams: [Stream; 2],
    poll: Poll,
    timer: Timer,
    /// Peers of stream 0, stream 1 and the poll handle.
    peers: [MockPeer; 3],
    m: RefCell<[Model; HANDLES]>,
    script: Vec<Act>,
    next_act: Cell<usize>,
    v: Violations,
    api: ApiFlag,
    next_write: Cell<usize>,
    next_delivery: Cell<usize>,
    /// Per stream: (write id, frames) of accepted writes, in order.
    written: [RefCell<Vec<(usize, Msg)>>; 2],
    /// Per stream: write ids whose completion got `Ok`, in order.
    ok: [RefCell<Vec<usize>>; 2],
    /// Per stream: what its peer received.
    peer_got: [RefCell<Vec<Msg>>; 2],
    /// Callbacks run so far, for the report.
    pub callbacks: Cell<usize>,
    /// Loop runs under way (the test's own).
    in_run: Cell<usize>,
}

fn name(i: usize) -> &'static str {
    ["stream 0", "stream 1", "poll", "timer"][i % HANDLES]
}

impl Chaos {
    /// The handles on a fresh loop; `script` is what callbacks do, in turn.
    pub fn new(seed: u64, config: MockConfig, script: Vec<Act>) -> Rc<Chaos> {
        let lp = new_loop(seed);
        let (s0, p0) = mock_pair(MockKind::Pair, config.clone(), seed ^ 1);
        let (s1, p1) = mock_pair(MockKind::Pair, config.clone(), seed ^ 2);
        let (s2, p2) = mock_pair(MockKind::Pair, config, seed ^ 3);
        let streams = [
            Stream::new(&lp, s0).expect("stream 0"),
            Stream::new(&lp, s1).expect("stream 1"),
        ];
        let poll = Poll::new(&lp, s2).expect("poll handle");
        let timer = Timer::new(&lp).expect("timer");
        let script = if script.is_empty() {
            vec![Act::Nothing]
        } else {
            script
        };
        Rc::new_cyclic(|me| Chaos {
            me: me.clone(),
            lp,
            streams,
            poll,
            timer,
            peers: [p0, p1, p2],
            m: RefCell::new([Model::new(), Model::new(), Model::new(), Model::new()]),
            script,
            next_act: Cell::new(0),
            v: Violations::default(),
            api: ApiFlag::default(),
            next_write: Cell::new(0),
            next_delivery: Cell::new(0),
            written: Default::default(),
            ok: Default::default(),
            peer_got: Default::default(),
            callbacks: Cell::new(0),
            in_run: Cell::new(0),
        })
    }

    fn weak(&self) -> Weak<Chaos> {
        self.me.clone()
    }

    fn life(&self, i: usize) -> Life {
        self.m.borrow()[i].life
    }

    /// Checks a call's result against the model: `Ok` on an open handle,
    /// `Err(Closed)` once closing began. Returns whether it was `Ok`.
    fn expect(&self, what: &str, i: usize, res: CoreResult<()>) -> bool {
        match (self.life(i), res) {
            (Life::Open, Ok(())) => true,
            (Life::ShuttingDown | Life::Closing | Life::Closed, Err(Error::Closed)) => false,
            (life, res) => {
                self.v
                    .push(format!("{what} on {} ({life:?}) returned {res:?}", name(i)));
                res.is_ok()
            }
        }
    }

    /// A callback starts: it must be allowed now. Then runs the next action.
    fn callback_prologue(&self, what: &str, i: usize) {
        self.callbacks.set(self.callbacks.get() + 1);
        if self.api.inside() {
            self.v
                .push(format!("{what} of {} ran inside an API call", name(i)));
        }
    }

    fn next_action(&self) {
        let n = self.next_act.get();
        self.next_act.set(n + 1);
        self.act(self.script[n % self.script.len()]);
    }

    fn on_read(&self, i: usize, r: CoreResult<Multipart>) {
        self.callback_prologue("read callback", i);
        {
            let m = self.m.borrow();
            if m[i].life != Life::Open || !m[i].active {
                self.v.push(format!(
                    "read callback of {} while {:?}, reading {}: {:?}",
                    name(i),
                    m[i].life,
                    m[i].active,
                    r.as_ref().map(to_bytes)
                ));
            }
        }
        if let Err(e) = r {
            self.v
                .push(format!("read callback of {} got {e:?}", name(i)));
        }
        self.next_action();
    }

    fn on_written(&self, i: usize, id: usize, r: CoreResult<()>) {
        self.callback_prologue("write completion", i);
        {
            let mut m = self.m.borrow_mut();
            let model = &mut m[i];
            match model.queued.front() {
                Some(&front) if front == id => {
                    model.queued.pop_front();
                }
                other => self.v.push(format!(
                    "completion of write {id} on {} ({:?}) out of order or repeated; next due: {other:?}",
                    name(i),
                    model.life
                )),
            }
            match (model.life, r) {
                (Life::Open, Ok(())) if !model.paused || model.flushing > 0 => {
                    self.ok[i].borrow_mut().push(id);
                }
                (Life::ShuttingDown, Ok(())) => {
                    self.ok[i].borrow_mut().push(id);
                }
                (Life::Closing, Err(Error::Closed)) => {}
                (life, r) => self.v.push(format!(
                    "completion of write {id} on {} got {r:?} while {life:?}, paused {}, flushing {}",
                    name(i),
                    model.paused,
                    model.flushing
                )),
            }
        }
        self.next_action();
    }

    fn on_poll(&self, h: &Poll, ev: Events, err: Option<Error>) {
        self.callback_prologue("poll callback", POLL);
        {
            let m = self.m.borrow();
            if m[POLL].life != Life::Open || !m[POLL].active {
                self.v.push(format!(
                    "poll callback while {:?}, started {}",
                    m[POLL].life, m[POLL].active
                ));
            }
        }
        if ev.is_empty() && err.is_none() {
            if !self.m.borrow()[POLL].timeout {
                self.v.push("poll timeout callback without a timeout");
            }
            return self.next_action();
        }
        if ev != Events::READABLE || err.is_some() {
            self.v.push(format!(
                "poll callback with {ev:?}, {err:?} for mask READABLE"
            ));
        }
        // Receive one whole message, so a ready socket does not stay ready for ever.
        loop {
            let mut frame = zmq::Message::new();
            match h.socket().recv_frame(&mut frame) {
                Ok(Io::Done(true)) => {}
                Ok(Io::Done(false) | Io::WouldBlock) => break,
                Err(e) => {
                    self.v.push(format!("recv in the poll callback: {e:?}"));
                    break;
                }
            }
        }
        self.next_action();
    }

    fn on_timer(&self) {
        self.callback_prologue("timer callback", TIMER);
        {
            let mut m = self.m.borrow_mut();
            if m[TIMER].life != Life::Open || !m[TIMER].active {
                self.v.push(format!(
                    "timer callback while {:?}, started {}",
                    m[TIMER].life, m[TIMER].active
                ));
            }
            if !m[TIMER].repeating {
                m[TIMER].active = false;
            }
        }
        self.next_action();
    }

    fn on_close(&self, i: usize) {
        self.callback_prologue("close callback", i);
        {
            let mut m = self.m.borrow_mut();
            let model = &mut m[i];
            if model.life != Life::Closing || model.close_cbs != 0 || !model.queued.is_empty() {
                self.v.push(format!(
                    "close callback of {} while {:?}, {} close callbacks before, writes {:?} \
                     still without completion",
                    name(i),
                    model.life,
                    model.close_cbs,
                    model.queued
                ));
            }
            model.close_cbs += 1;
            model.life = Life::Closed;
        }
        self.next_action();
    }

    /// Does `a`, checking the result against the model and updating it.
    pub fn act(&self, a: Act) {
        match a {
            Act::Nothing => {}
            Act::Stop(i) | Act::StopRead(i) => {
                let i = i % HANDLES;
                let stop_read = matches!(a, Act::StopRead(_));
                let res = self.api.call(|| match i {
                    0 | 1 if stop_read => self.streams[i].stop_read(),
                    0 | 1 => self.streams[i].stop(),
                    POLL => self.poll.stop(),
                    _ => self.timer.stop(),
                });
                if self.expect(if stop_read { "stop_read" } else { "stop" }, i, res) {
                    let mut m = self.m.borrow_mut();
                    m[i].active = false;
                    m[i].paused |= i < 2 && !stop_read;
                }
            }
            Act::Start(i, p) => self.start(i % HANDLES, p),
            Act::Write(i, frames) => {
                let i = i % HANDLES;
                if i < 2 {
                    self.write(i, frames);
                }
            }
            Act::Close(i) => self.close(i % HANDLES),
            Act::Refused(i) => self.refused(i % HANDLES),
            Act::RunLoop => {
                if self.in_run.get() > 0 {
                    match self.lp.run(RunMode::NoWait) {
                        Err(Error::Reentrant) => {}
                        other => self.v.push(format!(
                            "run from inside a callback returned {other:?}, not Err(Reentrant)"
                        )),
                    }
                }
            }
            Act::Shutdown(i) => match i % HANDLES {
                i @ (0 | 1) => self.shutdown(i),
                i => self.close(i),
            },
            Act::Flush(i) => {
                let i = i % HANDLES;
                if i < 2 {
                    // Judged by the life before the call: the callbacks
                    // flush runs may close the handle meanwhile.
                    let before = self.life(i);
                    self.m.borrow_mut()[i].flushing += 1;
                    let res = self.streams[i].flush().map(|_| ());
                    self.m.borrow_mut()[i].flushing -= 1;
                    match (before, res) {
                        (Life::Open, Ok(()))
                        | (Life::ShuttingDown | Life::Closing | Life::Closed, Err(Error::Closed)) =>
                            {}
                        (life, res) => self
                            .v
                            .push(format!("flush on {} ({life:?}) returned {res:?}", name(i))),
                    }
                }
            }
        }
    }

    fn start(&self, i: usize, p: u8) {
        let weak = self.weak();
        let res = self.api.call(|| match i {
            0 | 1 => self.streams[i].start_read(move |_h: &Stream, r| {
                if let Some(w) = weak.upgrade() {
                    w.on_read(i, r);
                }
            }),
            POLL => {
                let cb = move |h: &Poll, ev, err| {
                    if let Some(w) = weak.upgrade() {
                        w.on_poll(h, ev, err);
                    }
                };
                let res = if p & 0x10 != 0 {
                    let timeout = Duration::from_millis(u64::from(p % 3 + 1));
                    self.poll.start_with_timeout(Events::READABLE, timeout, cb)
                } else {
                    self.poll.start(Events::READABLE, cb)
                };
                if res.is_ok() {
                    self.m.borrow_mut()[POLL].timeout = p & 0x10 != 0;
                }
                res
            }
            _ => {
                let timeout = Duration::from_millis(u64::from(p % 4));
                let repeat = Duration::from_millis(u64::from(p / 4 % 4));
                let res = self.timer.start(timeout, repeat, move |_t: &Timer| {
                    if let Some(w) = weak.upgrade() {
                        w.on_timer();
                    }
                });
                if res.is_ok() {
                    self.m.borrow_mut()[TIMER].repeating = !repeat.is_zero();
                }
                res
            }
        });
        if self.expect("start", i, res) {
            let mut m = self.m.borrow_mut();
            m[i].active = true;
            m[i].paused = false;
        }
    }

    fn refused(&self, i: usize) {
        let weak = self.weak();
        let doomed = move || {
            if let Some(w) = weak.upgrade() {
                w.v.push(format!("the callback of a refused call on {} ran", name(i)));
            }
        };
        let res = self.api.call(|| match i {
            0 | 1 => {
                self.streams[i].write_with(Vec::<Vec<u8>>::new(), move |_h: &Stream, _r| doomed())
            }
            POLL => self
                .poll
                .start(Events::empty(), move |_h: &Poll, _ev, _err| doomed()),
            _ => self.poll.start_with_timeout(
                Events::READABLE,
                Duration::ZERO,
                move |_h: &Poll, _ev, _err| doomed(),
            ),
        });
        let life = self.life(i.min(POLL));
        match (life, res) {
            (Life::Open, Err(Error::Zmq(zmq::Error::EINVAL)))
            | (Life::ShuttingDown | Life::Closing | Life::Closed, Err(Error::Closed)) => {}
            (life, res) => self.v.push(format!(
                "a call that must be refused on {} ({life:?}) returned {res:?}",
                name(i)
            )),
        }
    }

    fn write(&self, i: usize, frames: u8) {
        let id = self.next_write.get();
        self.next_write.set(id + 1);
        let msg = message('w', id, usize::from(frames.clamp(1, 3)));
        let weak = self.weak();
        let res = self.api.call(|| {
            self.streams[i].write_with(msg.clone(), move |_h: &Stream, r| {
                if let Some(w) = weak.upgrade() {
                    w.on_written(i, id, r);
                }
            })
        });
        let refused = res.is_err();
        if self.expect("write", i, res) {
            let mut m = self.m.borrow_mut();
            m[i].queued.push_back(id);
            m[i].paused = false;
            drop(m);
            self.written[i].borrow_mut().push((id, msg));
        } else if refused {
            // Its callback must never run: it would find no queued entry.
        }
    }

    fn shutdown(&self, i: usize) {
        let weak = self.weak();
        let was_open = self.life(i) == Life::Open;
        self.api.call(|| {
            self.streams[i].shutdown(move |_h: &Stream, r| {
                if let Some(w) = weak.upgrade() {
                    if was_open {
                        w.on_shutdown(i, r);
                    } else {
                        w.v.push(format!(
                            "the shutdown callback given to an already closed {} ran",
                            name(i)
                        ));
                    }
                }
            })
        });
        if !self.streams[i].is_closed() {
            self.v
                .push(format!("{} not closed after shutdown", name(i)));
        }
        if was_open {
            let mut m = self.m.borrow_mut();
            m[i].life = Life::ShuttingDown;
            m[i].active = false;
        }
    }

    fn on_shutdown(&self, i: usize, r: CoreResult<()>) {
        self.callback_prologue("shutdown callback", i);
        {
            let mut m = self.m.borrow_mut();
            let model = &mut m[i];
            if model.life != Life::ShuttingDown
                || model.close_cbs != 0
                || !model.queued.is_empty()
                || r.is_err()
            {
                self.v.push(format!(
                    "shutdown callback of {} with {r:?} while {:?}, {} close callbacks before, \
                     writes {:?} still without completion",
                    name(i),
                    model.life,
                    model.close_cbs,
                    model.queued
                ));
            }
            model.close_cbs += 1;
            model.life = Life::Closed;
        }
        self.next_action();
    }

    fn close(&self, i: usize) {
        let weak = self.weak();
        let was_open = self.life(i) == Life::Open;
        let cb = move || {
            if let Some(w) = weak.upgrade() {
                if was_open {
                    w.on_close(i);
                } else {
                    w.v.push(format!(
                        "the close callback given to an already closed {} ran",
                        name(i)
                    ));
                }
            }
        };
        self.api.call(|| match i {
            0 | 1 => self.streams[i].close_with(move |_h: &Stream| cb()),
            POLL => self.poll.close_with(move |_h: &Poll| cb()),
            _ => self.timer.close_with(move |_t: &Timer| cb()),
        });
        let closed = match i {
            0 | 1 => self.streams[i].is_closed(),
            POLL => self.poll.is_closed(),
            _ => self.timer.is_closed(),
        };
        if !closed {
            self.v
                .push(format!("{} not closed after close_with", name(i)));
        }
        if was_open {
            let mut m = self.m.borrow_mut();
            m[i].life = Life::Closing;
            m[i].active = false;
        }
    }

    /// Runs `f` (which runs the loop) with [`Chaos::in_run`] raised.
    fn running<T>(&self, f: impl FnOnce() -> T) -> T {
        self.in_run.set(self.in_run.get() + 1);
        let out = f();
        self.in_run.set(self.in_run.get() - 1);
        out
    }

    /// Applies one step of the schedule; `Err` when anything went wrong.
    pub fn apply(&self, step: ChaosStep) -> Result<(), String> {
        match step {
            ChaosStep::Deliver(i) => {
                let i = i % 3;
                let seq = self.next_delivery.get();
                self.next_delivery.set(seq + 1);
                self.peers[i].send(&frame_refs(&message('d', seq, 1 + seq % 3)));
            }
            ChaosStep::PeerRecv(i) => {
                let i = i % 2;
                if let Some(m) = self.peers[i].recv() {
                    self.peer_got[i].borrow_mut().push(m);
                }
            }
            ChaosStep::Run(mode) => {
                self.running(|| self.lp.run(mode))
                    .map_err(|e| format!("run: {e:?}"))?;
            }
            ChaosStep::Advance(ms) => self.lp.reactor().advance(ms),
            ChaosStep::Do(a) => self.act(a),
        }
        self.check()
    }

    /// What holds between steps: no violation, and the getters agree
    /// with the model.
    pub fn check(&self) -> Result<(), String> {
        self.v.check()?;
        let m = self.m.borrow();
        for i in 0..2 {
            let h = &self.streams[i];
            if h.is_closed() != (m[i].life != Life::Open) {
                return Err(format!(
                    "{} is_closed {} while {:?}",
                    name(i),
                    h.is_closed(),
                    m[i].life
                ));
            }
            if m[i].life == Life::Open && h.is_reading() != m[i].active {
                return Err(format!(
                    "{} is_reading {} but the model says {}",
                    name(i),
                    h.is_reading(),
                    m[i].active
                ));
            }
            // What the peer got is the writes libzmq took, in order.
            let got = self.peer_got[i].borrow();
            let written = self.written[i].borrow();
            let ok = self.ok[i].borrow();
            for (k, g) in got.iter().enumerate() {
                let expected = ok
                    .get(k)
                    .and_then(|id| written.iter().find(|(w, _)| w == id))
                    .map(|(_, msg)| msg);
                if expected != Some(g) {
                    return Err(format!(
                        "peer of {} got {} as message {k}; writes completed Ok: {ok:?}",
                        name(i),
                        show([g])
                    ));
                }
            }
        }
        if self.poll.is_closed() != (m[POLL].life != Life::Open) {
            return Err("poll is_closed disagrees with the model".into());
        }
        if m[POLL].life == Life::Open && self.poll.is_active() != m[POLL].active {
            return Err(format!(
                "poll is_active {} but the model says {}",
                self.poll.is_active(),
                m[POLL].active
            ));
        }
        if self.timer.is_closed() != (m[TIMER].life != Life::Open) {
            return Err("timer is_closed disagrees with the model".into());
        }
        if m[TIMER].life == Life::Open && self.timer.is_active() != m[TIMER].active {
            return Err(format!(
                "timer is_active {} but the model says {}",
                self.timer.is_active(),
                m[TIMER].active
            ));
        }
        Ok(())
    }

    /// After the schedule: close everything from outside, run to the end,
    /// and check every handle closed exactly once after all its writes
    /// completed; then every call on them returns `Err(Closed)` and
    /// nothing runs any more.
    pub fn finish(&self) -> Result<(), String> {
        for i in 0..HANDLES {
            self.close(i);
        }
        self.check()?;
        // A shutdown waits for its writes to go out: the peers read.
        for _ in 0..100 {
            self.running(|| settle(&self.lp))?;
            self.check()?;
            let mut moved = false;
            for (i, p) in self.peers.iter().enumerate().take(2) {
                while let Some(m) = p.recv() {
                    self.peer_got[i].borrow_mut().push(m);
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        {
            let m = self.m.borrow();
            for (i, model) in m.iter().enumerate() {
                if model.life != Life::Closed || model.close_cbs != 1 || !model.queued.is_empty() {
                    return Err(format!(
                        "{} ended {:?} with {} close callbacks and writes {:?} never completed",
                        name(i),
                        model.life,
                        model.close_cbs,
                        model.queued
                    ));
                }
            }
        }
        for i in 0..HANDLES {
            self.act(Act::Stop(i));
            self.act(Act::StopRead(i));
            self.act(Act::Start(i, 5));
            self.act(Act::Write(i, 2));
            self.act(Act::Flush(i));
            self.close(i);
        }
        for h in &self.streams {
            if h.write_queue_size() != 0 || h.is_active() || h.is_reading() {
                return Err(format!("a closed stream handle still looks busy: {h:?}"));
            }
        }
        for (i, p) in self.peers.iter().enumerate().take(2) {
            p.send(&[b"late"]);
            while let Some(m) = p.recv() {
                self.peer_got[i].borrow_mut().push(m);
            }
        }
        self.peers[2].send(&[b"late"]);
        self.running(|| settle(&self.lp))?;
        self.check()?;
        let r = self.lp.reactor();
        if r.turn_armed() || r.active_watches() != 0 || r.active_timers() != 0 || self.lp.alive() {
            return Err(format!("everything closed, yet the loop is busy: {r:?}"));
        }
        for i in 0..2 {
            let ok = self.ok[i].borrow();
            if self.peer_got[i].borrow().len() != ok.len() {
                return Err(format!(
                    "peer of {} got {} messages, {} writes completed Ok",
                    name(i),
                    self.peer_got[i].borrow().len(),
                    ok.len()
                ));
            }
        }
        Ok(())
    }
}
