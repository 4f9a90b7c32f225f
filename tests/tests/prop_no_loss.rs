//! Property tests of "no loss, no duplicates, order kept" on the mock backend:
//! every message the peer delivered reaches the read callback exactly once,
//! in order, frames intact, under random interleavings of arrivals, loop
//! iterations, writes and stop_read/start_read toggles (also from inside
//! the read callback), through a `Zmq` stream handle and a `ZmqPoll` handle.

mod prop_support;

use prop_support::{config, knobs, poll_schedule, recv_kind, stream_schedule};
use proptest::prelude::*;
use tests::mock_harness::mock_seed;
use tests::mock_poll::PollWorld;
use tests::mock_stream::{Role, StreamWorld};
use uzmq_core::Events;
use uzmq_core::mock::MockKind;

proptest! {
    #![proptest_config(config())]

    /// Stream handle: after the schedule, `start_read` and run to
    /// quiescence; then all delivered == all read.
    #[test]
    fn stream_reads_every_message_once_in_order(
        seed: u64,
        kind in recv_kind(),
        knobs in knobs(),
        reading_at_start: bool,
        stop_every in prop::option::weighted(0.3, 1usize..=7),
        steps in stream_schedule(60),
    ) {
        let seed = mock_seed(seed);
        let mut w = StreamWorld::new(kind, Role::Plain, knobs, seed, stop_every);
        if reading_at_start {
            w.start_read().map_err(TestCaseError::fail)?;
        }
        for (i, step) in steps.iter().enumerate() {
            w.apply(*step)
                .map_err(|e| TestCaseError::fail(format!("seed {seed}, step {i} {step:?}: {e}")))?;
        }
        w.drain().map_err(|e| TestCaseError::fail(format!("seed {seed}, drain: {e}")))?;
        w.check_complete().map_err(|e| TestCaseError::fail(format!("seed {seed}: {e}")))?;
    }

    /// Poll handle whose callback receives (a random budget of messages
    /// per call, sometimes none): after the schedule, start and run to
    /// quiescence; then all delivered == all received, in order.
    #[test]
    fn poll_callback_receives_every_message_once_in_order(
        seed: u64,
        kind in prop_oneof![Just(MockKind::Pair), Just(MockKind::Pull), Just(MockKind::Dealer)],
        knobs in knobs(),
        started_at_start: bool,
        budgets in prop::collection::vec(0usize..=3, 1..=4),
        steps in poll_schedule(60),
    ) {
        let seed = mock_seed(seed);
        let mut w = PollWorld::new(kind, Events::READABLE, budgets, knobs, seed);
        if started_at_start {
            w.start().map_err(TestCaseError::fail)?;
        }
        for (i, step) in steps.iter().enumerate() {
            w.apply(*step)
                .map_err(|e| TestCaseError::fail(format!("seed {seed}, step {i} {step:?}: {e}")))?;
        }
        w.drain().map_err(|e| TestCaseError::fail(format!("seed {seed}, drain: {e}")))?;
        let read = w.t.read.borrow();
        let delivered = w.t.delivered.borrow();
        prop_assert_eq!(&*read, &*delivered, "seed {}", seed);
        prop_assert_eq!(w.peer.pending_inbound(), 0, "seed {}", seed);
    }
}
