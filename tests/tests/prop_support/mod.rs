//! Proptest strategies shared by the `prop_*` property tests: mock knobs,
//! socket kinds and schedules of [`Step`]s with per-property weights.
#![allow(dead_code)]

use proptest::prelude::*;
use tests::mock_harness::{Knobs, Step};
use uzmq_core::RunMode;
use uzmq_core::mock::MockKind;

/// The configuration of every property: 1,000 cases unless
/// `PROPTEST_CASES` says otherwise (the mutation run asks for fewer); no
/// regression files written into the source tree (a failure prints the
/// minimal case with its seed; found bugs become explicit regression tests).
pub fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Random mock knobs: high-water marks 1..=5, throttled command
/// processing on sends, spurious signals.
pub fn knobs() -> impl Strategy<Value = Knobs> {
    (
        1usize..=5,
        1usize..=5,
        0u32..=8,
        prop_oneof![Just(0u32), 1u32..=1000],
        prop_oneof![Just(0u32), 1u32..=500],
    )
        .prop_map(
            |(sndhwm, rcvhwm, send_throttle, send_process_per_mille, spurious_signal_per_mille)| {
                Knobs {
                    sndhwm,
                    rcvhwm,
                    send_throttle,
                    send_process_per_mille,
                    spurious_signal_per_mille,
                }
            },
        )
}

/// One loop iteration, `NoWait` or `Once`.
pub fn run_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Run(RunMode::NoWait)),
        Just(Step::Run(RunMode::Once))
    ]
}

/// A delivery of 1-3 frames.
pub fn deliver() -> impl Strategy<Value = Step> {
    (1u8..=3).prop_map(Step::Deliver)
}

/// A write of 1-3 frames, with or without completion.
pub fn write(cb_weight: u32) -> impl Strategy<Value = Step> {
    (1u8..=3, prop::bool::weighted(f64::from(cb_weight) / 100.0))
        .prop_map(|(frames, cb)| Step::Write { frames, cb })
}

/// `set_read_batch` with 0..=20 (0 is taken as 1).
pub fn set_batch() -> impl Strategy<Value = Step> {
    (0usize..=20).prop_map(Step::SetReadBatch)
}

/// Virtual time moves by 0..=20 ms.
pub fn advance() -> impl Strategy<Value = Step> {
    (0u64..=20).prop_map(Step::Advance)
}

/// A schedule for a stream handle that reads and writes: every kind of
/// step there is, reads and runs weighted up.
pub fn stream_schedule(max: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        6 => deliver(),
        3 => Just(Step::PeerRecv),
        8 => run_step(),
        2 => Just(Step::StopRead),
        3 => Just(Step::StartRead),
        3 => write(70),
        1 => Just(Step::Stop),
        1 => Just(Step::Flush),
        1 => Just(Step::Spurious),
        1 => Just(Step::TouchSocket),
        1 => set_batch(),
        1 => advance(),
    ];
    prop::collection::vec(step, 0..=max)
}

/// A schedule for a poll handle.
pub fn poll_schedule(max: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        6 => deliver(),
        3 => Just(Step::PeerRecv),
        8 => run_step(),
        2 => Just(Step::StopRead),
        3 => Just(Step::StartRead),
        1 => Just(Step::Spurious),
        1 => Just(Step::TouchSocket),
        1 => advance(),
    ];
    prop::collection::vec(step, 0..=max)
}

/// A socket kind that can receive.
pub fn recv_kind() -> impl Strategy<Value = MockKind> {
    prop_oneof![
        Just(MockKind::Pair),
        Just(MockKind::Dealer),
        Just(MockKind::Pull),
        Just(MockKind::Sub),
    ]
}

/// A socket kind that can send and has no REQ/REP turns.
pub fn send_kind() -> impl Strategy<Value = MockKind> {
    prop_oneof![
        Just(MockKind::Pair),
        Just(MockKind::Dealer),
        Just(MockKind::Push),
    ]
}

/// Any kind without REQ/REP turns (PUB excluded: it drops at the HWM).
pub fn plain_kind() -> impl Strategy<Value = MockKind> {
    prop_oneof![
        Just(MockKind::Pair),
        Just(MockKind::Dealer),
        Just(MockKind::Push),
        Just(MockKind::Pull),
        Just(MockKind::Sub),
    ]
}
