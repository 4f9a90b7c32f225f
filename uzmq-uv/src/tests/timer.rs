//! `UvTimer`: one-shot, repeat, stop and drop from its own callback.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use uzmq_core::{RawTimer, Reactor, RunMode};

use super::{Probe, live_blocks, run_default, run_until};
use crate::{UvLoop, UvTimer};

const MS: Duration = Duration::from_millis(1);

#[test]
fn one_shot_fires_once() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    let mut timer = lp.timer(probe.callback()).unwrap();
    assert!(!timer.is_active());
    timer.start(MS, Duration::ZERO).unwrap();
    assert!(timer.is_active());
    assert!(lp.alive());
    // `Once` blocks until the timer is due (about 1 ms).
    run_until(&lp, RunMode::Once, 1_000, "one-shot fired", || {
        probe.calls() == 1
    });
    assert!(!timer.is_active());
    assert!(!lp.alive());
    assert!(!lp.run(RunMode::NoWait).unwrap());
    assert_eq!(probe.calls(), 1);
    drop(timer);
    drop(lp);
    assert_eq!(probe.drops(), 1);
    assert_eq!(live_blocks(), 0);
}

#[test]
fn zero_timeout_fires_in_the_next_iteration() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    let mut timer = lp.timer(probe.callback()).unwrap();
    timer.start(Duration::ZERO, Duration::ZERO).unwrap();
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(probe.calls(), 1);
}

#[test]
fn repeat_until_stopped_from_its_own_callback() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    let slot: Rc<RefCell<Option<UvTimer>>> = Rc::default();
    let callback = {
        let slot = slot.clone();
        let calls = probe.calls.clone();
        probe.callback_with(move || {
            if calls.get() == 3 {
                slot.borrow_mut().as_mut().unwrap().stop();
            }
        })
    };
    let mut timer = lp.timer(callback).unwrap();
    // A sub-millisecond repeat must not become 0 (which would mean "once").
    timer
        .start(Duration::ZERO, Duration::from_micros(1))
        .unwrap();
    *slot.borrow_mut() = Some(timer);
    // Returns once the callback stopped the timer.
    assert!(!run_default(&lp));
    assert_eq!(probe.calls(), 3);
    assert!(!slot.borrow().as_ref().unwrap().is_active());
    // Break the cycle (callback -> slot -> timer -> callback).
    drop(slot.borrow_mut().take());
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(probe.drops(), 1);
}

#[test]
fn dropped_inside_its_own_callback() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    let slot: Rc<RefCell<Option<UvTimer>>> = Rc::default();
    let callback = {
        let slot = slot.clone();
        probe.callback_with(move || drop(slot.borrow_mut().take()))
    };
    let mut timer = lp.timer(callback).unwrap();
    timer.start(Duration::ZERO, MS).unwrap();
    *slot.borrow_mut() = Some(timer);
    assert!(!run_default(&lp));
    assert_eq!((probe.calls(), probe.drops()), (1, 1));
    drop(lp);
    assert_eq!(live_blocks(), 0);
}

/// Two timers due in one timer phase, each callback dropping the other:
/// the first runs, and the other, closed while due, is not called (see the
/// watch's test of the same name).
#[test]
fn a_timer_closed_by_a_callback_of_the_same_timer_phase_is_not_called() {
    let lp = UvLoop::new().unwrap();
    let probes = [Probe::default(), Probe::default()];
    let timers: [Rc<RefCell<Option<UvTimer>>>; 2] = Default::default();
    for i in 0..2 {
        let other = timers[1 - i].clone();
        let callback = probes[i].callback_with(move || drop(other.borrow_mut().take()));
        let mut timer = lp.timer(callback).unwrap();
        timer.start(Duration::ZERO, Duration::ZERO).unwrap();
        *timers[i].borrow_mut() = Some(timer);
    }
    lp.run(RunMode::NoWait).unwrap();
    let calls = [probes[0].calls(), probes[1].calls()];
    assert_eq!(
        calls,
        [1, 0],
        "the timer started first runs first, and alone"
    );
    for timer in &timers {
        drop(timer.borrow_mut().take());
    }
    drop(lp);
    assert_eq!(live_blocks(), 0);
}

#[test]
fn restart_reschedules() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    let mut timer = lp.timer(probe.callback()).unwrap();
    timer
        .start(Duration::from_secs(3_600), Duration::ZERO)
        .unwrap();
    timer.start(Duration::ZERO, Duration::ZERO).unwrap();
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(probe.calls(), 1);
    timer
        .start(Duration::from_secs(3_600), Duration::ZERO)
        .unwrap();
    timer.stop();
    timer.stop();
    assert!(!timer.is_active());
    assert!(!run_default(&lp));
    assert_eq!(probe.calls(), 1);
}

#[test]
fn inert_once_its_loop_is_gone() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    let mut timer = lp.timer(probe.callback()).unwrap();
    timer.start(Duration::ZERO, MS).unwrap();
    drop(lp);
    assert_eq!((probe.calls(), probe.drops()), (0, 1));
    assert!(!timer.is_active());
    assert!(matches!(timer.start(MS, MS), Err(uzmq_core::Error::Closed)));
    timer.stop();
    drop(timer);
    assert_eq!(live_blocks(), 0);
}
