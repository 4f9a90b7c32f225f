//! Property tests of "no step without progress" on the mock backend: a
//! ROUTER stream handle whose writability depends on the message (one peer
//! reads, the other is slow) never goes round inside one loop iteration
//! without progress, whatever the socket answers; a write that libzmq
//! refuses although `ZMQ_EVENTS` shows POLLOUT waits for the fd without
//! spinning; and every message still reaches its peer exactly once, in
//! order, once that peer reads.
//!
//! The mock socket counts its operations per loop iteration and panics past
//! a bound derived from the read batch, so a step that loops without
//! progress fails the case instead of hanging it.

mod prop_support;

use std::cell::RefCell;
use std::rc::Rc;

use prop_support::config;
use proptest::prelude::*;
use tests::mock_harness::{Lp, Msg, Stream, mock_seed, new_loop, settle, show};
use uzmq_core::RunMode;
use uzmq_core::mock::{MockConfig, MockKind, MockPeer, mock_pair};

/// One step of a schedule.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Queue the next message for peer `0` or `1`.
    Write(u8),
    /// Peer `0` or `1` reads up to this many messages.
    PeerRead(u8, u8),
    /// The peer delivers a message to the ROUTER, which is reading.
    Deliver,
    /// One loop iteration without blocking.
    Run,
    /// A signal with nothing behind it.
    Spurious,
    /// User code touches the socket (may consume the fd's signal).
    TouchSocket,
}

fn schedule(max: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (0u8..=1).prop_map(Step::Write),
        // Peer 1 is the slow one: it reads rarely.
        3 => (1u8..=4).prop_map(|n| Step::PeerRead(0, n)),
        1 => (1u8..=4).prop_map(|n| Step::PeerRead(1, n)),
        1 => Just(Step::Deliver),
        6 => Just(Step::Run),
        1 => Just(Step::Spurious),
        1 => Just(Step::TouchSocket),
    ];
    prop::collection::vec(step, 0..=max)
}

/// Socket calls one step may make with read batch `batch`: each round of
/// the step reads `ZMQ_EVENTS` once and either moves a message, or marks a
/// direction refused, and every attempt (two frames per ROUTER message)
/// uses up the batch. Four times that is a generous bound; the unbounded
/// loop it guards against makes millions.
fn ops_bound(batch: usize) -> u64 {
    let per_round = 1 + 2 + 1;
    let rounds = 2 * batch + 4;
    4 * (per_round * rounds) as u64
}

struct World {
    lp: Lp,
    h: Stream,
    peer: MockPeer,
    next: [usize; 2],
    got: [Vec<Msg>; 2],
    received: Rc<RefCell<usize>>,
    delivered: usize,
}

impl World {
    fn new(seed: u64, sndhwm: usize, batch: usize, throttle: u32) -> World {
        let lp = new_loop(seed);
        let config = MockConfig {
            sndhwm,
            rcvhwm: 1000,
            send_throttle: throttle,
            routes: 2,
            max_ops_per_iteration: ops_bound(batch),
            ..MockConfig::default()
        };
        let (socket, peer) = mock_pair(MockKind::Router, config, seed);
        let h = Stream::new(&lp, socket).expect("stream handle");
        h.set_read_batch(batch);
        let received = Rc::new(RefCell::new(0));
        let count = received.clone();
        h.start_read(move |_h: &Stream, msg| {
            if msg.is_ok() {
                *count.borrow_mut() += 1;
            }
        })
        .expect("start_read");
        World {
            lp,
            h,
            peer,
            next: [0, 0],
            got: [Vec::new(), Vec::new()],
            received,
            delivered: 0,
        }
    }

    fn body(to: usize, seq: usize) -> Vec<u8> {
        format!("to{to}#{seq}").into_bytes()
    }

    fn read(&mut self, from: usize, n: usize) {
        for _ in 0..n {
            match self.peer.recv_from(from) {
                Some(msg) => self.got[from].push(msg),
                None => break,
            }
        }
    }

    fn apply(&mut self, step: Step) -> Result<(), String> {
        match step {
            Step::Write(to) => {
                let to = usize::from(to);
                let seq = self.next[to];
                self.next[to] += 1;
                self.h
                    .write_multipart([vec![to as u8], World::body(to, seq)])
                    .map_err(|e| format!("write: {e}"))?;
            }
            Step::PeerRead(from, n) => self.read(usize::from(from), usize::from(n)),
            Step::Deliver => {
                if self.peer.send(&[b"in"]) {
                    self.delivered += 1;
                }
            }
            Step::Run => {
                self.lp
                    .run(RunMode::NoWait)
                    .map_err(|e| format!("run: {e}"))?;
            }
            Step::Spurious => self.peer.spurious_signal(),
            Step::TouchSocket => {
                let _ = self.h.socket();
            }
        }
        Ok(())
    }

    /// While peer 1 does not read, the loop settles (a real one would
    /// block) and stays silent: a refused write costs no socket call.
    fn check_quiet(&self) -> Result<(), String> {
        settle(&self.lp)?;
        let probe = self.peer.probe();
        let before = probe.counts();
        for _ in 0..5 {
            self.lp
                .run(RunMode::NoWait)
                .map_err(|e| format!("run: {e}"))?;
        }
        let after = probe.counts();
        if after != before {
            return Err(format!(
                "socket calls while nothing changed: {before:?} -> {after:?}"
            ));
        }
        Ok(())
    }

    /// Both peers read until everything went out: each got its messages
    /// exactly once, in order, and every delivery was handed over.
    fn finish(mut self) -> Result<(), String> {
        for _ in 0..10_000 {
            self.read(0, usize::MAX);
            self.read(1, usize::MAX);
            settle(&self.lp)?;
            if self.h.write_queue_size() == 0 && self.peer.pending_outbound() == 0 {
                break;
            }
        }
        for to in 0..2 {
            let want: Vec<Msg> = (0..self.next[to])
                .map(|seq| vec![World::body(to, seq)])
                .collect();
            if self.got[to] != want {
                return Err(format!(
                    "peer {to} got {}, wanted {}",
                    show(&self.got[to]),
                    show(&want)
                ));
            }
        }
        let received = *self.received.borrow();
        if received != self.delivered {
            return Err(format!(
                "{received} messages handed over, {} delivered",
                self.delivered
            ));
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(config())]

    /// Random writes to a fast and a slow peer, reads, deliveries, spurious
    /// signals and socket accesses: no iteration exceeds the bound (the
    /// mock panics), the loop goes quiet while the slow peer does not read,
    /// and everything arrives exactly once in order at the end.
    #[test]
    fn no_step_goes_round_without_progress(
        seed: u64,
        sndhwm in 1usize..=4,
        batch in 1usize..=8,
        throttle in 0u32..=4,
        steps in schedule(80),
    ) {
        let seed = mock_seed(seed);
        let mut w = World::new(seed, sndhwm, batch, throttle);
        for (i, step) in steps.iter().enumerate() {
            w.apply(*step).map_err(|e| {
                TestCaseError::fail(format!("seed {seed}, step {i} {step:?}: {e}"))
            })?;
        }
        w.check_quiet()
            .map_err(|e| TestCaseError::fail(format!("seed {seed}, quiet: {e}")))?;
        w.finish()
            .map_err(|e| TestCaseError::fail(format!("seed {seed}, finish: {e}")))?;
    }
}

/// The setup that froze the loop, fixed: the head write is for the slow
/// peer (at its HWM) while the other peer has room, so POLLOUT stays set.
/// Iterations keep coming back, the loop settles, and the write goes out
/// once the slow peer reads.
#[test]
fn a_write_for_a_full_peer_waits_while_pollout_shows() {
    let mut w = World::new(7, 1, 4, 0);
    for step in [Step::Write(1), Step::Run, Step::Write(1), Step::Write(0)] {
        w.apply(step).expect("step");
    }
    w.check_quiet().expect("quiet while peer 1 does not read");
    assert_eq!(
        w.h.write_queue_size(),
        2,
        "the head waits, the rest behind it"
    );
    w.apply(Step::PeerRead(1, 1)).expect("read");
    w.check_quiet().expect("quiet again");
    assert_eq!(
        w.h.write_queue_size(),
        0,
        "the refused write went, and the one behind it"
    );
    w.finish().expect("all delivered");
}
