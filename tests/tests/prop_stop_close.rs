//! Property tests of stop and close on the mock backend:
//! stop/close/shutdown/start/write/flush called from inside every kind of
//! callback (read, write completion, poll and poll timeout, timer, close,
//! shutdown), on the same or another handle, at random points: after
//! `stop` no more callbacks; after `close` only the queued writes'
//! `Err(Closed)` completions in order, then the close callback exactly
//! once, then nothing (after `shutdown`: the queued writes go out, `Ok`,
//! then its callback once, then nothing); `Err(Closed)` from calls on a
//! closed handle; a refused call never runs its callback and changes
//! nothing; `run` inside a callback is `Err(Reentrant)`; never a panic or
//! a `RefCell` borrow error.

mod prop_support;

use prop_support::{config, knobs};
use proptest::prelude::*;
use tests::mock_chaos::{Act, Chaos, ChaosStep, HANDLES};
use tests::mock_harness::mock_seed;
use uzmq_core::RunMode;

fn target() -> impl Strategy<Value = usize> {
    0..HANDLES
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        8 => Just(Act::Nothing),
        2 => target().prop_map(Act::Stop),
        1 => target().prop_map(Act::StopRead),
        3 => (target(), any::<u8>()).prop_map(|(i, p)| Act::Start(i, p)),
        3 => (target(), 1u8..=3).prop_map(|(i, f)| Act::Write(i, f)),
        2 => target().prop_map(Act::Close),
        1 => target().prop_map(Act::Shutdown),
        1 => target().prop_map(Act::Flush),
        1 => Just(Act::RunLoop),
        1 => target().prop_map(Act::Refused),
    ]
}

fn chaos_step() -> impl Strategy<Value = ChaosStep> {
    prop_oneof![
        4 => (0usize..3).prop_map(ChaosStep::Deliver),
        2 => (0usize..2).prop_map(ChaosStep::PeerRecv),
        6 => prop_oneof![Just(ChaosStep::Run(RunMode::NoWait)), Just(ChaosStep::Run(RunMode::Once))],
        1 => (0u64..=4).prop_map(ChaosStep::Advance),
        4 => act().prop_map(ChaosStep::Do),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn callbacks_may_stop_close_start_and_write_anything(
        seed: u64,
        knobs in knobs(),
        starts in prop::collection::vec((target(), any::<u8>()), 0..=4),
        script in prop::collection::vec(act(), 1..=24),
        steps in prop::collection::vec(chaos_step(), 0..=60),
    ) {
        let seed = mock_seed(seed);
        let w = Chaos::new(seed, knobs.config(), script);
        for (i, p) in starts {
            w.act(Act::Start(i, p));
        }
        for (i, step) in steps.iter().enumerate() {
            w.apply(*step)
                .map_err(|e| TestCaseError::fail(format!("seed {seed}, step {i} {step:?}: {e}")))?;
        }
        w.finish().map_err(|e| TestCaseError::fail(format!("seed {seed}, finish: {e}")))?;
    }
}
