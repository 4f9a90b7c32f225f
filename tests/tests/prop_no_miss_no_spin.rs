//! Property tests of "nothing missed, nothing spins" on the mock backend:
//! after any schedule, running the loop to quiescence leaves nothing the
//! handle was asked for in `ZMQ_EVENTS` (nothing missed), the turn
//! disarmed (nothing spins), no started watch on a stopped handle, and an
//! events read as the last socket call before sleeping; a poll handle is
//! called in every iteration while ready (level-triggered) and sleeps once
//! not ready.

mod prop_support;

use prop_support::{config, knobs, plain_kind, poll_schedule, stream_schedule};
use proptest::prelude::*;
use tests::mock_harness::{Knobs, Step, frame_refs, message, mock_seed, settle};
use tests::mock_poll::PollWorld;
use tests::mock_stream::{Role, StreamWorld};
use uzmq_core::mock::{MockKind, Op};
use uzmq_core::{Events, RunMode};

/// The idle checks of a stream handle after `settle`.
fn stream_idle(w: &StreamWorld, when: &str) -> Result<(), TestCaseError> {
    let r = w.lp.reactor();
    let probe = &w.t.probe;
    let (reading, writing) = w.wants();
    let ctx = format!(
        "{when}: reading {reading}, writing {writing}, ops {:?}",
        probe.ops()
    );
    prop_assert_eq!(w.h.is_reading(), reading, "{}", ctx);
    prop_assert!(!r.turn_armed(), "turn still armed when idle: {}", ctx);
    if reading {
        prop_assert!(
            !probe.truly_readable(),
            "asleep while ZMQ_EVENTS shows POLLIN: {}",
            ctx
        );
    }
    if writing {
        prop_assert!(
            !probe.truly_writable(),
            "asleep with writes queued while ZMQ_EVENTS shows POLLOUT: {}",
            ctx
        );
    }
    if reading || writing {
        prop_assert_eq!(
            probe.last_op(),
            Some(Op::Events),
            "the last socket call before sleeping was not an events read: {}",
            ctx
        );
        prop_assert_eq!(
            r.active_watches(),
            1,
            "a handle waiting for work does not watch its fd: {}",
            ctx
        );
    } else {
        prop_assert_eq!(
            r.active_watches(),
            0,
            "a stopped handle keeps its watch started: {}",
            ctx
        );
    }
    prop_assert_eq!(w.h.is_active(), reading || writing, "is_active: {}", ctx);
    prop_assert_eq!(w.lp.alive(), reading || writing, "loop alive: {}", ctx);
    Ok(())
}

/// The idle checks of a poll handle after `settle`.
fn poll_idle(w: &PollWorld, when: &str) -> Result<(), TestCaseError> {
    let r = w.lp.reactor();
    let probe = &w.t.probe;
    let started = w.t.started.get();
    let ctx = format!(
        "{when}: started {started}, mask {:?}, ops {:?}",
        w.t.mask,
        probe.ops()
    );
    prop_assert!(!r.turn_armed(), "turn still armed when idle: {}", ctx);
    if started {
        prop_assert!(
            !w.truly_ready(),
            "asleep while ZMQ_EVENTS shows {:?}: {}",
            probe.truly_events(),
            ctx
        );
        prop_assert_eq!(
            probe.last_op(),
            Some(Op::Events),
            "the last socket call before sleeping was not an events read: {}",
            ctx
        );
        prop_assert_eq!(r.active_watches(), 1, "{}", ctx);
    } else {
        prop_assert_eq!(
            r.active_watches(),
            0,
            "a stopped poll handle keeps its watch started: {}",
            ctx
        );
    }
    prop_assert_eq!(w.h.is_active(), started, "{}", ctx);
    Ok(())
}

/// What happens to the handle at the very end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Keep,
    Stop,
    Close,
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![Just(End::Keep), Just(End::Stop), Just(End::Close)]
}

fn fail(seed: u64, what: String) -> TestCaseError {
    TestCaseError::fail(format!("seed {seed}, {what}"))
}

/// A stream handle case.
#[derive(Debug, Clone)]
struct StreamCase {
    seed: u64,
    kind: MockKind,
    knobs: Knobs,
    reading_at_start: bool,
    steps: Vec<Step>,
    end: End,
}

/// A poll handle case.
#[derive(Debug, Clone)]
struct PollCase {
    seed: u64,
    kind: MockKind,
    mask: Events,
    knobs: Knobs,
    started_at_start: bool,
    budgets: Vec<usize>,
    steps: Vec<Step>,
    extra_iterations: usize,
    end: End,
}

/// Stream handle: idle means truly idle, and work that comes later
/// (a delivery, the peer making room) still wakes it.
fn stream_case(c: StreamCase) -> Result<(), TestCaseError> {
    let StreamCase {
        seed,
        kind,
        knobs,
        reading_at_start,
        steps,
        end,
    } = c;
    let seed = mock_seed(seed);
    let mut w = StreamWorld::new(kind, Role::Plain, knobs, seed, None);
    if reading_at_start {
        w.start_read().map_err(|e| fail(seed, e))?;
    }
    for (i, step) in steps.iter().enumerate() {
        w.apply(*step)
            .map_err(|e| fail(seed, format!("step {i} {step:?}: {e}")))?;
    }
    settle(&w.lp).map_err(|e| fail(seed, e))?;
    w.check().map_err(|e| fail(seed, e))?;
    stream_idle(&w, &format!("seed {seed}, after the schedule"))?;

    // Nothing missed later either: a new message is read...
    let (reading, writing) = w.wants();
    if reading {
        let read = w.t.read.borrow().len();
        let msg = message('z', 0, 2);
        if w.t.peer.send(&frame_refs(&msg)) {
            w.t.delivered.borrow_mut().push(msg);
            settle(&w.lp).map_err(|e| fail(seed, e))?;
            w.check().map_err(|e| fail(seed, e))?;
            prop_assert_eq!(
                w.t.read.borrow().len(),
                read + 1,
                "seed {}: a later delivery was not read",
                seed
            );
            stream_idle(&w, &format!("seed {seed}, after a later delivery"))?;
        }
    }
    // ...and room made by the peer lets queued writes go.
    if writing {
        let queued = w.h.write_queue_size();
        w.apply(Step::PeerRecv).map_err(|e| fail(seed, e))?;
        while w.t.peer.pending_outbound() > 0 {
            w.apply(Step::PeerRecv).map_err(|e| fail(seed, e))?;
        }
        settle(&w.lp).map_err(|e| fail(seed, e))?;
        w.check().map_err(|e| fail(seed, e))?;
        prop_assert!(
            w.h.write_queue_size() < queued,
            "seed {}: the peer made room, yet no queued write went out",
            seed
        );
        stream_idle(&w, &format!("seed {seed}, after the peer made room"))?;
    }
    // Stopped or closed: nothing watched, nothing armed, loop not alive.
    match end {
        End::Stop => w.apply(Step::Stop).map_err(|e| fail(seed, e))?,
        End::Close => w.h.close(),
        End::Keep => {}
    }
    if end != End::Keep {
        w.t.peer.spurious_signal();
        settle(&w.lp).map_err(|e| fail(seed, e))?;
        let r = w.lp.reactor();
        prop_assert!(!r.turn_armed(), "seed {}: turn armed after {:?}", seed, end);
        prop_assert_eq!(
            r.active_watches(),
            0,
            "seed {}: a watch still started after {:?}",
            seed,
            end
        );
        prop_assert!(!w.lp.alive(), "seed {}: loop alive after {:?}", seed, end);
    }
    Ok(())
}

/// Poll handle: called in every iteration while started and ready
/// (checked on each run step), asleep with the turn disarmed once
/// not ready.
fn poll_case(c: PollCase) -> Result<(), TestCaseError> {
    let PollCase {
        seed,
        kind,
        mask,
        knobs,
        started_at_start,
        budgets,
        steps,
        extra_iterations,
        end,
    } = c;
    let seed = mock_seed(seed);
    let mut w = PollWorld::new(kind, mask, budgets, knobs, seed);
    if started_at_start {
        w.start().map_err(|e| fail(seed, e))?;
    }
    for (i, step) in steps.iter().enumerate() {
        w.apply(*step)
            .map_err(|e| fail(seed, format!("step {i} {step:?}: {e}")))?;
    }
    // Level-triggered: a callback that consumes nothing is called again
    // in each following iteration.
    w.t.drain.set(false);
    for _ in 0..extra_iterations {
        w.run_checked(RunMode::NoWait).map_err(|e| fail(seed, e))?;
        w.check().map_err(|e| fail(seed, e))?;
    }
    w.drain().map_err(|e| fail(seed, format!("drain: {e}")))?;
    poll_idle(&w, &format!("seed {seed}, after the schedule"))?;
    if mask.contains(Events::READABLE) {
        let calls = w.t.calls.get();
        let msg = message('z', 0, 1);
        if w.peer.send(&frame_refs(&msg)) {
            w.t.delivered.borrow_mut().push(msg);
            settle(&w.lp).map_err(|e| fail(seed, e))?;
            w.check().map_err(|e| fail(seed, e))?;
            prop_assert!(
                w.t.calls.get() > calls,
                "seed {}: a later delivery did not wake the poll handle",
                seed
            );
            poll_idle(&w, &format!("seed {seed}, after a later delivery"))?;
        }
    }
    match end {
        End::Stop => w.apply(Step::Stop).map_err(|e| fail(seed, e))?,
        End::Close => w.h.close(),
        End::Keep => {}
    }
    if end != End::Keep {
        // Whatever happens on the socket now wakes nothing.
        let calls = w.t.calls.get();
        w.peer.spurious_signal();
        if w.kind.can_recv() {
            w.peer.send(&[b"late"]);
        }
        settle(&w.lp).map_err(|e| fail(seed, e))?;
        let r = w.lp.reactor();
        prop_assert_eq!(
            w.t.calls.get(),
            calls,
            "seed {}: poll callback after {:?}",
            seed,
            end
        );
        prop_assert!(!r.turn_armed(), "seed {}: turn armed after {:?}", seed, end);
        prop_assert_eq!(
            r.active_watches(),
            0,
            "seed {}: a watch still started after {:?}",
            seed,
            end
        );
        prop_assert!(!w.lp.alive(), "seed {}: loop alive after {:?}", seed, end);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn stream_never_sleeps_on_work_and_never_spins(
        seed: u64,
        kind in plain_kind(),
        knobs in knobs(),
        reading_at_start: bool,
        steps in stream_schedule(60),
        end in end(),
    ) {
        stream_case(StreamCase { seed, kind, knobs, reading_at_start, steps, end })?;
    }

    #[test]
    fn poll_is_level_triggered_and_sleeps_when_not_ready(
        seed: u64,
        (kind, mask) in prop_oneof![
            Just((MockKind::Pair, Events::READABLE)),
            Just((MockKind::Pair, Events::WRITABLE)),
            Just((MockKind::Pair, Events::READABLE | Events::WRITABLE)),
            Just((MockKind::Dealer, Events::READABLE | Events::WRITABLE)),
            Just((MockKind::Pull, Events::READABLE)),
            Just((MockKind::Push, Events::WRITABLE)),
        ],
        knobs in knobs(),
        started_at_start: bool,
        budgets in prop::collection::vec(0usize..=3, 1..=4),
        steps in poll_schedule(60),
        extra_iterations in 0usize..=4,
        end in end(),
    ) {
        poll_case(PollCase {
            seed,
            kind,
            mask,
            knobs,
            started_at_start,
            budgets,
            steps,
            extra_iterations,
            end,
        })?;
    }
}
