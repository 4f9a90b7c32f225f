//! Property tests of the write queue on the mock backend:
//! writes drain FIFO exactly once (the peer gets every queued message in
//! order, multipart intact), a message libzmq refuses with EAGAIN stays at
//! the head, each completion runs exactly once with `Ok` in write order,
//! `write_queue_size` matches, `QueueFull` queues nothing, and a REQ's
//! queued second write waits for the reply (never an error), a REP's
//! replies go out in order.

mod prop_support;

use prop_support::{advance, config, deliver, knobs, run_step, send_kind, set_batch, write};
use proptest::prelude::*;
use tests::mock_harness::{Step, mock_seed};
use tests::mock_stream::{Role, StreamWorld};
use uzmq_core::mock::MockKind;

fn write_schedule(max: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        8 => write(60),
        4 => Just(Step::PeerRecv),
        6 => run_step(),
        1 => Just(Step::Stop),
        1 => Just(Step::StartRead),
        1 => Just(Step::StopRead),
        2 => Just(Step::Flush),
        1 => Just(Step::Spurious),
        2 => prop::option::of(0usize..=4).prop_map(Step::SetLimit),
        1 => set_batch(),
        2 => deliver(),
        1 => advance(),
    ];
    prop::collection::vec(step, 0..=max)
}

fn req_schedule(max: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        6 => write(100),
        4 => Just(Step::PeerServe),
        2 => Just(Step::PeerRecv),
        8 => run_step(),
        2 => Just(Step::StartRead),
        1 => Just(Step::StopRead),
        1 => Just(Step::Stop),
        1 => Just(Step::Flush),
        1 => Just(Step::Spurious),
        1 => set_batch(),
        1 => advance(),
    ];
    prop::collection::vec(step, 0..=max)
}

fn rep_schedule(max: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        6 => deliver(),
        4 => Just(Step::PeerRecv),
        8 => run_step(),
        2 => Just(Step::StartRead),
        1 => Just(Step::StopRead),
        1 => Just(Step::Stop),
        1 => Just(Step::Flush),
        2 => Just(Step::Reply),
        1 => Just(Step::Spurious),
        1 => set_batch(),
        1 => advance(),
    ];
    prop::collection::vec(step, 0..=max)
}

fn run(mut w: StreamWorld, seed: u64, steps: &[Step]) -> Result<(), TestCaseError> {
    for (i, step) in steps.iter().enumerate() {
        w.apply(*step)
            .map_err(|e| TestCaseError::fail(format!("seed {seed}, step {i} {step:?}: {e}")))?;
    }
    w.drain()
        .map_err(|e| TestCaseError::fail(format!("seed {seed}, drain: {e}")))?;
    w.check_complete()
        .map_err(|e| TestCaseError::fail(format!("seed {seed}: {e}")))
}

proptest! {
    #![proptest_config(config())]

    /// PAIR/DEALER/PUSH with small HWMs, a peer that reads at random
    /// moments, stop/flush/limits: FIFO, exactly once, completions in order.
    #[test]
    fn writes_drain_in_order_exactly_once(
        seed: u64,
        kind in send_kind(),
        knobs in knobs(),
        steps in write_schedule(60),
    ) {
        let seed = mock_seed(seed);
        run(StreamWorld::new(kind, Role::Plain, knobs, seed, None), seed, &steps)?;
    }

    /// A REQ handle with several requests queued: each waits for the
    /// previous reply (the peer never holds two), none fails with EFSM,
    /// replies are read in order.
    #[test]
    fn req_second_write_waits_for_the_reply(
        seed: u64,
        knobs in knobs(),
        reading_at_start: bool,
        steps in req_schedule(60),
    ) {
        let seed = mock_seed(seed);
        let w = StreamWorld::new(MockKind::Req, Role::Req, knobs, seed, None);
        if reading_at_start {
            w.start_read().map_err(TestCaseError::fail)?;
        }
        run(w, seed, &steps)?;
    }

    /// A REP handle answering from its read callback (or later): every
    /// reply goes out once, in order, and no receive or send fails.
    #[test]
    fn rep_replies_go_out_in_order(
        seed: u64,
        knobs in knobs(),
        defer: bool,
        reading_at_start: bool,
        steps in rep_schedule(60),
    ) {
        let seed = mock_seed(seed);
        let w = StreamWorld::new(MockKind::Rep, Role::Rep { defer }, knobs, seed, None);
        if reading_at_start {
            w.start_read().map_err(TestCaseError::fail)?;
        }
        run(w, seed, &steps)?;
    }
}
