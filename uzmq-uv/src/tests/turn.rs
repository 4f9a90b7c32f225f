//! The turn: the hook runs once per iteration while armed, never while
//! disarmed, and a disarmed loop is not kept alive; its check handle runs
//! only while there is work.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use uzmq_core::{RawTimer, Reactor, RunMode, Watch};

use super::{Probe, live_blocks, run_default};
use crate::UvLoop;

#[test]
fn hook_runs_once_per_iteration_while_armed() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    lp.set_turn_hook(probe.callback());
    for _ in 0..3 {
        assert!(!lp.run(RunMode::NoWait).unwrap());
    }
    assert_eq!(probe.calls(), 0, "ran while disarmed");

    lp.arm_turn(true);
    lp.arm_turn(true); // idempotent
    assert!(lp.alive());
    for n in 1..=5 {
        assert!(
            lp.run(RunMode::NoWait).unwrap(),
            "armed turn keeps the loop alive"
        );
        assert_eq!(probe.calls(), n);
    }
    // Armed, `Once` does not block in poll: one iteration, one call.
    {
        let _dog = super::Watchdog::new("run(Once) while armed");
        assert!(lp.run(RunMode::Once).unwrap());
    }
    assert_eq!(probe.calls(), 6);

    lp.arm_turn(false);
    assert!(!lp.alive());
    for _ in 0..3 {
        assert!(!lp.run(RunMode::NoWait).unwrap());
    }
    assert_eq!(probe.calls(), 6, "ran while disarmed");
    assert!(!run_default(&lp));
    assert_eq!(probe.calls(), 6);
}

/// The check handle starts with the turn's first arming and stops in the
/// first check phase that finds the turn disarmed: a loop whose handles
/// are served from their I/O callbacks runs no check callback.
#[test]
fn the_check_handle_runs_only_while_the_turn_has_work() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    lp.set_turn_hook(probe.callback());
    // Something else keeps the loop iterating once the turn rests.
    let mut timer = lp.timer(Box::new(|_| {})).unwrap();
    timer
        .start(Duration::from_secs(60), Duration::ZERO)
        .unwrap();
    assert!(!lp.checking(), "a new loop checks nothing");
    lp.arm_turn(true);
    assert!(lp.checking(), "armed");
    assert!(lp.run(RunMode::NoWait).unwrap());
    assert_eq!(probe.calls(), 1);
    assert!(lp.checking(), "still armed");
    lp.arm_turn(false);
    assert!(
        lp.checking(),
        "stopped by the next check phase, not at once"
    );
    assert!(lp.run(RunMode::NoWait).unwrap(), "the timer keeps it alive");
    assert!(!lp.checking(), "a resting turn's check handle stops");
    assert_eq!(probe.calls(), 1, "ran while disarmed");
    lp.arm_turn(true);
    assert!(lp.checking(), "armed again");
    assert!(lp.run(RunMode::NoWait).unwrap());
    assert_eq!(probe.calls(), 2);
    timer.stop();
}

/// The iteration's number is libuv's own count, read where libuv keeps it
/// on this libuv (a libuv of unknown layout is asked through the API, and
/// that would be a cost to notice), the same in every check phase as
/// `uv_metrics_info` says there, with the check handle running or not.
#[test]
fn the_iteration_number_is_libuvs_whether_the_check_handle_runs_or_not() {
    let lp = UvLoop::new().unwrap();
    assert!(
        lp.reads_loop_count_directly(),
        "the libuv linked is not among the layouts `sys::loop_state` knows"
    );
    // The hook reaches the loop through a cell emptied at the end (a hook
    // owning a `UvLoop` would keep its loop alive for ever).
    let cell: Rc<RefCell<Option<UvLoop>>> = Rc::new(RefCell::new(Some(lp.clone())));
    let seen: Rc<RefCell<Vec<(u64, u64)>>> = Rc::default();
    let (hook_cell, hook_seen) = (cell.clone(), seen.clone());
    lp.set_turn_hook(Box::new(move |_| {
        if let Some(lp) = hook_cell.borrow().as_ref() {
            hook_seen
                .borrow_mut()
                .push((lp.iteration(), lp.loop_count()));
        }
    }));
    // Something else keeps the loop iterating while the turn rests.
    let mut timer = lp.timer(Box::new(|_| {})).unwrap();
    timer
        .start(Duration::from_secs(60), Duration::ZERO)
        .unwrap();
    for _ in 0..3 {
        lp.arm_turn(true);
        for _ in 0..3 {
            assert!(lp.run(RunMode::NoWait).unwrap());
        }
        lp.arm_turn(false);
        // The first check phase that finds the turn disarmed stops the
        // check handle; then iterations pass with none.
        for _ in 0..3 {
            assert!(lp.run(RunMode::NoWait).unwrap());
        }
        assert!(!lp.checking());
    }
    let seen = seen.take();
    assert_eq!(seen.len(), 9, "one turn per armed iteration");
    for (kept, libuv) in &seen {
        assert_eq!(kept, libuv, "the iteration's number went astray: {seen:?}");
    }
    timer.stop();
    cell.borrow_mut().take();
}

/// Every callback is told the iteration it runs in, libuv's count there:
/// an fd's callback (poll phase), a timer's (timer phase, where libuv's
/// count is still the last iteration's) and the turn hook (check phase).
#[test]
fn callbacks_are_told_libuvs_iteration() {
    let lp = UvLoop::new().unwrap();
    let cell: Rc<RefCell<Option<UvLoop>>> = Rc::new(RefCell::new(Some(lp.clone())));
    // (callback, iteration told, libuv's count when told)
    type Told = Vec<(&'static str, u64, u64)>;
    let told: Rc<RefCell<Told>> = Rc::default();
    let teller = |what: &'static str| -> uzmq_core::LoopCallback {
        let (cell, told) = (cell.clone(), told.clone());
        Box::new(move |iteration| {
            if let Some(lp) = cell.borrow().as_ref() {
                told.borrow_mut().push((what, iteration, lp.loop_count()));
            }
        })
    };
    lp.set_turn_hook(teller("turn"));
    let mut pair = super::Pair::new();
    let mut watch = lp.watch(pair.fd(), teller("fd")).unwrap();
    watch.start().unwrap();
    pair.poke();
    let mut timer = lp.timer(teller("timer")).unwrap();
    timer
        .start(Duration::ZERO, Duration::from_millis(1))
        .unwrap();
    lp.arm_turn(true);
    // Three iterations with the fd readable, then three without (the
    // armed turn keeps each from blocking).
    for n in 0..6 {
        if n == 3 {
            pair.drain();
        }
        let _dog = super::Watchdog::new("run(Once)");
        assert!(lp.run(RunMode::Once).unwrap());
    }
    timer.stop();
    watch.stop();
    cell.borrow_mut().take();
    let told = told.take();
    for what in ["fd", "timer", "turn"] {
        assert!(
            told.iter().any(|(w, ..)| *w == what),
            "{what} never ran: {told:?}"
        );
    }
    for (what, iteration, libuv) in &told {
        assert_eq!(
            iteration, libuv,
            "{what} was told another iteration: {told:?}"
        );
    }
    assert!(
        told.windows(2).any(|w| w[0].1 != w[1].1),
        "the iteration never moved: {told:?}"
    );
}

#[test]
fn hook_may_disarm_itself_and_default_run_returns() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    // The hook reaches the loop through a cell the test empties at the end:
    // a hook owning a `UvLoop` would keep its loop alive for ever.
    let cell: Rc<RefCell<Option<UvLoop>>> = Rc::new(RefCell::new(Some(lp.clone())));
    let hook = {
        let cell = cell.clone();
        let calls = probe.calls.clone();
        probe.callback_with(move || {
            if calls.get() == 4 {
                cell.borrow().as_ref().unwrap().arm_turn(false);
            }
        })
    };
    lp.set_turn_hook(hook);
    lp.arm_turn(true);
    assert!(!run_default(&lp));
    assert_eq!(probe.calls(), 4);
    drop(cell.borrow_mut().take());
    drop(lp);
    assert_eq!(probe.drops(), 1);
    assert_eq!(live_blocks(), 0);
}

#[test]
fn replacing_the_hook_drops_the_old_one() {
    let lp = UvLoop::new().unwrap();
    let (first, second) = (Probe::default(), Probe::default());
    lp.set_turn_hook(first.callback());
    lp.set_turn_hook(second.callback());
    assert_eq!(first.drops(), 1);
    lp.arm_turn(true);
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!((first.calls(), second.calls()), (0, 1));
}

#[test]
fn alive_tracks_armed_turn_and_active_handles() {
    use std::time::Duration;
    use uzmq_core::RawTimer;
    let lp = UvLoop::new().unwrap();
    assert!(!lp.alive());
    lp.arm_turn(true);
    assert!(lp.alive());
    lp.arm_turn(false);
    assert!(!lp.alive());
    let mut timer = lp.timer(Probe::default().callback()).unwrap();
    assert!(!lp.alive(), "a stopped timer is not active");
    timer
        .start(Duration::from_secs(3_600), Duration::ZERO)
        .unwrap();
    assert!(lp.alive());
    timer.stop();
    assert!(!lp.alive());
}
