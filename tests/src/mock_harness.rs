//! Shared pieces of the mock-backend property tests: handle type aliases,
//! sequence-numbered messages, the random schedule step vocabulary, a
//! bounded "run to quiescence", a violation log, and a flag that tells a
//! callback whether it runs inside an API call.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use uzmq_core::mock::{MockConfig, MockReactor, MockSocket, seed_from_env};
use uzmq_core::{EventLoop, Multipart, PollHandle, RunMode, StreamHandle, TimerHandle};

/// A loop on the mock backend.
pub type Lp = EventLoop<MockReactor>;
/// A stream handle (`Zmq`) on the mock backend.
pub type Stream = StreamHandle<MockReactor, MockSocket>;
/// A poll handle (`ZmqPoll`) on the mock backend.
pub type Poll = PollHandle<MockReactor, MockSocket>;
/// A timer on the mock backend.
pub type Timer = TimerHandle<MockReactor>;
/// A message as plain bytes, one `Vec` per frame.
pub type Msg = Vec<Vec<u8>>;

/// How many loop iterations [`settle`] allows before it calls it a spin.
/// The schedules are short (at most ~60 steps, ~50 messages, batch >= 1),
/// so any honest quiescence comes far earlier.
pub const SETTLE_BOUND: u64 = 2_000;

/// The mock seed of a case: `UZMQ_SEED` when set (a fixed replay), else
/// the one proptest generated (printed with the failing case).
pub fn mock_seed(generated: u64) -> u64 {
    seed_from_env(generated)
}

/// A fresh mock loop drawing its poll order from `seed`.
pub fn new_loop(seed: u64) -> Lp {
    EventLoop::new(MockReactor::new(seed))
}

/// A mock configuration for schedules: small high-water marks, random
/// command-processing throttle and spurious signals.
#[derive(Debug, Clone, Copy)]
pub struct Knobs {
    /// `ZMQ_SNDHWM` (1..=5 in the properties).
    pub sndhwm: usize,
    /// `ZMQ_RCVHWM` (1..=5 in the properties).
    pub rcvhwm: usize,
    /// Every n-th send processes commands (0: never by count).
    pub send_throttle: u32,
    /// Chance per mille that any other send processes commands.
    pub send_process_per_mille: u32,
    /// Chance per mille that a peer action raises a spurious signal.
    pub spurious_signal_per_mille: u32,
}

impl Knobs {
    /// The [`MockConfig`] these knobs describe.
    pub fn config(self) -> MockConfig {
        MockConfig {
            sndhwm: self.sndhwm,
            rcvhwm: self.rcvhwm,
            send_throttle: self.send_throttle,
            send_process_per_mille: self.send_process_per_mille,
            spurious_signal_per_mille: self.spurious_signal_per_mille,
            ..MockConfig::default()
        }
    }
}

/// One random step of a schedule. Each property picks the steps it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The peer delivers the next sequence-numbered message (1-3 frames).
    Deliver(u8),
    /// The peer receives one message, if the socket sent one.
    PeerRecv,
    /// The peer answers the oldest request it received and has not
    /// answered (REQ/REP schedules; receives one first if it has none).
    PeerServe,
    /// One loop iteration, `RunMode::NoWait` or `RunMode::Once`.
    Run(RunMode),
    /// `stop_read()` (stream) or `stop()` (poll).
    StopRead,
    /// `start_read()` (stream) or `start()` (poll).
    StartRead,
    /// `write_with` (with a completion) or `write_multipart` (without) of
    /// the next sequence-numbered message.
    Write {
        /// Frames, 1-3.
        frames: u8,
        /// Whether it carries a completion callback.
        cb: bool,
    },
    /// `stop()`.
    Stop,
    /// `flush()`.
    Flush,
    /// The socket's fd is signalled with nothing behind it.
    Spurious,
    /// `set_read_batch(n)`.
    SetReadBatch(usize),
    /// `set_write_queue_limit(limit)`.
    SetLimit(Option<usize>),
    /// Virtual time moves on by this many milliseconds.
    Advance(u64),
    /// Writes the replies a REP handle's read callback deferred.
    Reply,
    /// User code reads `ZMQ_EVENTS` through `handle.socket()`, which
    /// consumes the fd's signal: the handle must look again itself.
    TouchSocket,
}

/// Message `seq` of a stream tagged `tag`, with `frames` frames, each
/// naming its sequence number and position, so loss, duplication,
/// reordering and frame mix-ups all show.
pub fn message(tag: char, seq: usize, frames: usize) -> Msg {
    (0..frames)
        .map(|i| format!("{tag}{seq}.{i}/{frames}").into_bytes())
        .collect()
}

/// The frames of a received multipart message, as bytes.
pub fn to_bytes(m: &Multipart) -> Msg {
    m.iter().map(|f| f.to_vec()).collect()
}

/// Borrowed frames, as `MockPeer::send` takes them.
pub fn frame_refs(msg: &[Vec<u8>]) -> Vec<&[u8]> {
    msg.iter().map(Vec::as_slice).collect()
}

/// Runs single non-blocking iterations until the mock loop is quiescent
/// (turn disarmed, no started watch on a readable fd: a real loop would
/// block), then `run(RunMode::Default)`, which must then return at once
/// because it would block forever. `Err` when it does not get there
/// within [`SETTLE_BOUND`] iterations: something spins.
pub fn settle(lp: &Lp) -> Result<(), String> {
    let r = lp.reactor();
    let start = r.iterations();
    while !r.is_quiescent() {
        if r.iterations() - start > SETTLE_BOUND {
            return Err(format!(
                "the loop did not become quiescent within {SETTLE_BOUND} iterations \
                 (turn armed: {}): something spins",
                r.turn_armed()
            ));
        }
        lp.run(RunMode::NoWait).map_err(|e| format!("run: {e}"))?;
    }
    if r.next_deadline().is_none() {
        let before = r.iterations();
        lp.run(RunMode::Default).map_err(|e| format!("run: {e}"))?;
        if r.iterations() - before > 1 {
            return Err(format!(
                "run(Default) on a quiescent loop ran {} iterations",
                r.iterations() - before
            ));
        }
    }
    Ok(())
}

/// Violations seen inside callbacks, where a failed assertion would
/// unwind through the handle under test: they are recorded and checked
/// after each step instead.
#[derive(Clone, Default)]
pub struct Violations(Rc<RefCell<Vec<String>>>);

impl Violations {
    /// Records one.
    pub fn push(&self, what: impl Into<String>) {
        self.0.borrow_mut().push(what.into());
    }

    /// `Err` with every violation so far (and forgets them).
    pub fn check(&self) -> Result<(), String> {
        let v = std::mem::take(&mut *self.0.borrow_mut());
        if v.is_empty() {
            Ok(())
        } else {
            Err(v.join("; "))
        }
    }
}

/// Raised while the test is inside a handle's API call (other than
/// `flush` and `run`, whose job is to dispatch): callbacks must
/// never run there.
#[derive(Clone, Default)]
pub struct ApiFlag(Rc<Cell<bool>>);

impl ApiFlag {
    /// Runs `f` with the flag raised.
    pub fn call<T>(&self, f: impl FnOnce() -> T) -> T {
        let old = self.0.replace(true);
        let out = f();
        self.0.set(old);
        out
    }

    /// Whether an API call is under way.
    pub fn inside(&self) -> bool {
        self.0.get()
    }
}

/// A shared, growable log.
pub type Shared<T> = Rc<RefCell<Vec<T>>>;

/// A fresh [`Shared`] log.
pub fn shared<T>() -> Shared<T> {
    Rc::new(RefCell::new(Vec::new()))
}

/// Messages as readable text for failure reports: frames joined by `|`,
/// messages by `, `.
pub fn show<'a>(msgs: impl IntoIterator<Item = &'a Msg>) -> String {
    let shown: Vec<String> = msgs
        .into_iter()
        .map(|m| {
            m.iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    format!("[{}]", shown.join(", "))
}
