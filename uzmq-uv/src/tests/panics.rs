//! A panic in a callback never unwinds into C: it is resumed from `run`,
//! and the loop stays usable. Also: `run` inside a callback is refused.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use uzmq_core::{Error, RawTimer, Reactor, RunMode, Watch};

use super::{Pair, Probe, live_blocks, run_default};
use crate::UvLoop;

/// Runs `lp` once without blocking and returns the panic message it resumed.
fn panic_of(lp: &UvLoop) -> String {
    let payload = panic::catch_unwind(AssertUnwindSafe(|| lp.run(RunMode::NoWait)))
        .expect_err("run did not resume the callback's panic");
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// A callback that panics with `msg` on its first call only.
fn panics_once(probe: &Probe, msg: &'static str) -> uzmq_core::LoopCallback {
    let calls = probe.calls.clone();
    probe.callback_with(move || {
        if calls.get() == 1 {
            panic!("{msg}");
        }
    })
}

#[test]
fn watch_callback_panic_resumes_from_run() {
    let lp = UvLoop::new().unwrap();
    let mut pair = Pair::new();
    let probe = Probe::default();
    let mut watch = lp
        .watch(pair.fd(), panics_once(&probe, "watch boom"))
        .unwrap();
    watch.start().unwrap();
    pair.poke();
    assert_eq!(panic_of(&lp), "watch boom");
    assert_eq!(probe.calls(), 1);
    // The loop and the handle go on.
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(probe.calls(), 2);
    watch.stop();
    assert!(!run_default(&lp));
}

#[test]
fn timer_and_hook_panics_resume_from_run() {
    let lp = UvLoop::new().unwrap();
    let timer_probe = Probe::default();
    let mut timer = lp.timer(panics_once(&timer_probe, "timer boom")).unwrap();
    timer.start(Duration::ZERO, Duration::ZERO).unwrap();
    assert_eq!(panic_of(&lp), "timer boom");
    assert!(!timer.is_active());

    let hook_probe = Probe::default();
    lp.set_turn_hook(panics_once(&hook_probe, "hook boom"));
    lp.arm_turn(true);
    assert_eq!(panic_of(&lp), "hook boom");
    // The hook survived its panic and runs again.
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(hook_probe.calls(), 2);
    lp.arm_turn(false);
    assert!(!run_default(&lp));
}

#[test]
fn first_panic_wins_and_later_ones_are_dropped() {
    let lp = UvLoop::new().unwrap();
    let mut timers = Vec::new();
    for msg in ["first", "second"] {
        let mut t = lp.timer(Box::new(move |_| panic!("{msg}"))).unwrap();
        t.start(Duration::ZERO, Duration::ZERO).unwrap();
        timers.push(t);
    }
    // Both are due in the same timer phase; it stops the run after it.
    assert_eq!(panic_of(&lp), "first");
    // The second payload was not kept for a later run.
    assert!(!lp.run(RunMode::NoWait).unwrap());
    drop(timers);
    drop(lp);
    assert_eq!(live_blocks(), 0);
}

#[test]
fn panic_stops_run_default() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    let mut timer = lp.timer(panics_once(&probe, "stop")).unwrap();
    // Repeating: without the stop, `run(Default)` would never return.
    timer
        .start(Duration::ZERO, Duration::from_millis(1))
        .unwrap();
    let _dog = super::Watchdog::new("run(Default) with a panicking repeat timer");
    let payload = panic::catch_unwind(AssertUnwindSafe(|| lp.run(RunMode::Default))).unwrap_err();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("stop")
    );
    assert_eq!(probe.calls(), 1);
    assert!(timer.is_active());
}

#[test]
fn run_inside_a_callback_is_refused() {
    let lp = UvLoop::new().unwrap();
    let seen: Rc<Cell<Option<Result<bool, Error>>>> = Rc::default();
    let mut timer = {
        let inner = lp.clone(); // dropped with the callback when the timer closes
        let seen = seen.clone();
        lp.timer(Box::new(move |_| {
            seen.set(Some(inner.run(RunMode::NoWait)))
        }))
        .unwrap()
    };
    timer.start(Duration::ZERO, Duration::ZERO).unwrap();
    lp.run(RunMode::NoWait).unwrap();
    assert!(matches!(seen.take(), Some(Err(Error::Reentrant))));
    // Another loop may run inside a callback.
    drop(timer);
    lp.run(RunMode::NoWait).unwrap();
    drop(lp);
    assert_eq!(live_blocks(), 0);
}

#[test]
fn another_loop_may_run_inside_a_callback() {
    let outer = UvLoop::new().unwrap();
    let inner = UvLoop::new().unwrap();
    let inner_probe = Probe::default();
    let mut inner_timer = inner.timer(inner_probe.callback()).unwrap();
    inner_timer.start(Duration::ZERO, Duration::ZERO).unwrap();
    let mut timer = outer
        .timer(Box::new(move |_| {
            inner.run(RunMode::NoWait).unwrap();
        }))
        .unwrap();
    timer.start(Duration::ZERO, Duration::ZERO).unwrap();
    outer.run(RunMode::NoWait).unwrap();
    assert_eq!(inner_probe.calls(), 1);
    drop(timer);
    drop(inner_timer);
    drop(outer);
    assert_eq!(inner_probe.drops(), 1);
    assert_eq!(live_blocks(), 0);
}
