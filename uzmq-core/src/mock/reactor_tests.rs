//! Tests of [`MockReactor`]: libuv's phase order, virtual time, blocking,
//! seeded poll order, and callbacks that change the loop under it.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::mock::FakeFd;

type Log = Rc<RefCell<Vec<String>>>;

fn logger(log: &Log, what: &str) -> LoopCallback {
    let (log, what) = (log.clone(), what.to_owned());
    Box::new(move |_| log.borrow_mut().push(what.clone()))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Sets a flag when dropped: shows when a callback is dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn phases_run_in_libuv_order() {
    let r = MockReactor::new(1);
    let log = Log::default();
    let fd = FakeFd::new();
    fd.set_readable(true);
    let mut w = r.watch(fd.fd(), logger(&log, "poll")).unwrap();
    w.start().unwrap();
    let mut t = r.timer(logger(&log, "timer")).unwrap();
    t.start(ms(0), ms(0)).unwrap();
    r.set_turn_hook(logger(&log, "check"));
    r.arm_turn(true);
    assert_eq!(r.run(RunMode::NoWait), Ok(true));
    assert_eq!(*log.borrow(), ["timer", "poll", "check"]);
    assert_eq!(r.iterations(), 1);
}

#[test]
fn the_turn_runs_once_per_iteration_while_armed() {
    let r = MockReactor::new(1);
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    r.set_turn_hook(Box::new(move |_| c.set(c.get() + 1)));
    assert_eq!(r.run(RunMode::NoWait), Ok(false), "disarmed: nothing alive");
    assert_eq!(count.get(), 0);
    r.arm_turn(true);
    for _ in 0..3 {
        assert_eq!(r.run(RunMode::Once), Ok(true));
    }
    assert_eq!(count.get(), 3);
    assert_eq!(r.now(), 0, "an armed turn never lets the loop wait");
    // A hook that disarms itself after 5 turns: Default runs exactly 5 more.
    let (c, rr) = (count.clone(), r.clone());
    r.set_turn_hook(Box::new(move |_| {
        c.set(c.get() + 1);
        if c.get() == 8 {
            rr.arm_turn(false);
        }
    }));
    assert_eq!(r.run(RunMode::Default), Ok(false));
    assert_eq!(count.get(), 8);
    assert!(r.is_quiescent());
}

#[test]
fn virtual_time_jumps_to_the_next_timer() {
    let r = MockReactor::new(1);
    let fired = Rc::new(RefCell::new(Vec::new()));
    let mut timers = Vec::new();
    for (i, deadline) in [30u64, 10, 20].into_iter().enumerate() {
        let (f, rr) = (fired.clone(), r.clone());
        let mut t = r
            .timer(Box::new(move |_| f.borrow_mut().push((i, rr.now()))))
            .unwrap();
        t.start(ms(deadline), ms(0)).unwrap();
        timers.push(t);
    }
    assert_eq!(r.next_deadline(), Some(10));
    // NoWait never waits.
    assert_eq!(r.run(RunMode::NoWait), Ok(true));
    assert_eq!(r.now(), 0);
    assert!(fired.borrow().is_empty());
    // Once waits for the first timer and runs it (libuv's forward progress).
    assert_eq!(r.run(RunMode::Once), Ok(true));
    assert_eq!(*fired.borrow(), [(1, 10)]);
    // Default jumps from deadline to deadline until nothing is alive.
    assert_eq!(r.run(RunMode::Default), Ok(false));
    assert_eq!(*fired.borrow(), [(1, 10), (2, 20), (0, 30)]);
    assert_eq!(r.now(), 30);
    assert!(!timers[0].is_active());
}

#[test]
fn timers_with_one_deadline_fire_in_start_order_and_repeat_from_now() {
    let r = MockReactor::new(1);
    let log = Log::default();
    let mut b = r.timer(logger(&log, "b")).unwrap();
    let mut a = r.timer(logger(&log, "a")).unwrap();
    let mut c = r.timer(logger(&log, "c")).unwrap();
    b.start(ms(5), ms(0)).unwrap();
    a.start(ms(5), ms(0)).unwrap();
    c.start(ms(5), ms(0)).unwrap();
    b.start(ms(5), ms(0)).unwrap(); // a restart goes after the others
    r.run(RunMode::Default).unwrap();
    assert_eq!(*log.borrow(), ["a", "c", "b"]);

    let times = Rc::new(RefCell::new(Vec::new()));
    let (t2, rr) = (times.clone(), r.clone());
    let mut rep = r
        .timer(Box::new(move |_| t2.borrow_mut().push(rr.now())))
        .unwrap();
    rep.start(ms(10), ms(20)).unwrap();
    for _ in 0..3 {
        r.run(RunMode::Once).unwrap();
    }
    assert_eq!(*times.borrow(), [15, 35, 55]);
    assert!(rep.is_active());
    // Late: libuv reschedules at now + repeat, it does not catch up.
    r.advance(100);
    r.run(RunMode::NoWait).unwrap();
    assert_eq!(r.next_deadline(), Some(155 + 20));
}

#[test]
fn a_timer_started_from_a_timer_waits_for_the_next_timer_phase() {
    let r = MockReactor::new(1);
    let log = Log::default();
    let inner = Rc::new(RefCell::new(r.timer(logger(&log, "inner")).unwrap()));
    let (l, i) = (log.clone(), inner.clone());
    let mut outer = r
        .timer(Box::new(move |_| {
            l.borrow_mut().push("outer".into());
            i.borrow_mut().start(ms(0), ms(0)).unwrap();
        }))
        .unwrap();
    outer.start(ms(0), ms(0)).unwrap();
    r.run(RunMode::NoWait).unwrap();
    assert_eq!(*log.borrow(), ["outer"]);
    r.run(RunMode::NoWait).unwrap();
    assert_eq!(*log.borrow(), ["outer", "inner"]);
}

#[test]
fn a_stopped_due_timer_does_not_fire() {
    let r = MockReactor::new(1);
    let log = Log::default();
    let second = Rc::new(RefCell::new(r.timer(logger(&log, "second")).unwrap()));
    let s = second.clone();
    let mut first = r.timer(Box::new(move |_| s.borrow_mut().stop())).unwrap();
    first.start(ms(1), ms(0)).unwrap();
    second.borrow_mut().start(ms(1), ms(0)).unwrap();
    assert_eq!(r.run(RunMode::Default), Ok(false));
    assert!(log.borrow().is_empty());
}

#[test]
fn run_default_returns_when_it_would_block_forever() {
    let r = MockReactor::new(1);
    let fd = FakeFd::new();
    let log = Log::default();
    let mut w = r.watch(fd.fd(), logger(&log, "poll")).unwrap();
    w.start().unwrap();
    // Alive (a started watch) but nothing can happen: a real loop blocks.
    assert_eq!(r.run(RunMode::Default), Ok(true));
    assert_eq!(r.iterations(), 1);
    assert_eq!(r.now(), 0);
    assert!(r.is_quiescent());
    assert_eq!(r.run(RunMode::Once), Ok(true));
    assert!(log.borrow().is_empty());
    // The "outside event" arrives; poll is level-triggered.
    fd.set_readable(true);
    assert!(!r.is_quiescent());
    r.run(RunMode::NoWait).unwrap();
    r.run(RunMode::NoWait).unwrap();
    assert_eq!(log.borrow().len(), 2);
    w.stop();
    assert_eq!(r.active_watches(), 0);
    assert_eq!(r.run(RunMode::Default), Ok(false));
    assert_eq!(log.borrow().len(), 2);
}

fn poll_order(seed: u64) -> Vec<usize> {
    let r = MockReactor::new(seed);
    let order = Rc::new(RefCell::new(Vec::new()));
    let fds: Vec<FakeFd> = (0..8).map(|_| FakeFd::new()).collect();
    let _watches: Vec<MockWatch> = fds
        .iter()
        .enumerate()
        .map(|(i, fd)| {
            fd.set_readable(true);
            let o = order.clone();
            let mut w = r
                .watch(fd.fd(), Box::new(move |_| o.borrow_mut().push(i)))
                .unwrap();
            w.start().unwrap();
            w
        })
        .collect();
    r.run(RunMode::NoWait).unwrap();
    r.run(RunMode::NoWait).unwrap();
    order.take()
}

#[test]
fn simultaneous_events_run_in_an_order_drawn_from_the_seed() {
    let a = poll_order(7);
    assert_eq!(a.len(), 16);
    assert_eq!(a, poll_order(7), "same seed, same order");
    assert_ne!(a[..8], a[8..], "each iteration draws a new order");
    assert!(
        (8..40).any(|seed| poll_order(seed) != a),
        "the seed matters"
    );
}

#[test]
fn a_callback_may_stop_or_drop_watches_including_its_own() {
    let r = MockReactor::new(3);
    let (fd1, fd2) = (FakeFd::new(), FakeFd::new());
    fd1.set_readable(true);
    fd2.set_readable(true);
    let calls = Rc::new(Cell::new(0));
    let slots: [Rc<RefCell<Option<MockWatch>>>; 2] = Default::default();
    let dropped: [Rc<Cell<bool>>; 2] = Default::default();
    for (i, fd) in [&fd1, &fd2].into_iter().enumerate() {
        let (calls, slots2, flag) = (calls.clone(), slots.clone(), DropFlag(dropped[i].clone()));
        let cb: LoopCallback = Box::new(move |_| {
            let _keep = &flag;
            calls.set(calls.get() + 1);
            // Stop the other one and drop ourselves, while running.
            if let Some(other) = slots2[1 - i].borrow_mut().as_mut() {
                other.stop();
            }
            drop(slots2[i].borrow_mut().take());
        });
        let mut w = r.watch(fd.fd(), cb).unwrap();
        w.start().unwrap();
        *slots[i].borrow_mut() = Some(w);
    }
    r.run(RunMode::NoWait).unwrap();
    assert_eq!(calls.get(), 1, "the stopped watch must not run");
    let ran = usize::from(slots[1].borrow().is_none());
    let other = 1 - ran;
    assert!(
        dropped[ran].get(),
        "the self-dropped callback went in this closing phase"
    );
    assert!(!dropped[other].get());
    assert_eq!(
        r.run(RunMode::NoWait),
        Ok(false),
        "the stopped one keeps nothing alive"
    );
    assert_eq!(
        calls.get(),
        1,
        "the stopped one stays stopped, the dropped one is gone"
    );
    drop(slots[other].borrow_mut().take());
    assert!(
        !dropped[other].get(),
        "callbacks are dropped in the closing phase, not at once"
    );
    assert!(r.alive(), "a pending close keeps the loop alive");
    assert_eq!(r.run(RunMode::NoWait), Ok(false));
    assert!(dropped[other].get());
}

#[test]
fn a_dropped_timer_never_fires_and_its_callback_is_dropped_when_closing() {
    let r = MockReactor::new(1);
    let fired = Rc::new(Cell::new(false));
    let dropped = Rc::new(Cell::new(false));
    let (f, flag) = (fired.clone(), DropFlag(dropped.clone()));
    let mut t = r
        .timer(Box::new(move |_| {
            let _keep = &flag;
            f.set(true);
        }))
        .unwrap();
    t.start(ms(0), ms(0)).unwrap();
    drop(t);
    assert!(!dropped.get());
    assert_eq!(r.run(RunMode::Default), Ok(false));
    assert!(!fired.get());
    assert!(dropped.get());
}

#[test]
fn stop_ends_run_after_the_iteration() {
    let r = MockReactor::new(1);
    let count = Rc::new(Cell::new(0));
    let (c, rr) = (count.clone(), r.clone());
    r.set_turn_hook(Box::new(move |_| {
        c.set(c.get() + 1);
        if c.get() == 3 {
            rr.stop();
        }
    }));
    r.arm_turn(true);
    assert_eq!(r.run(RunMode::Default), Ok(true));
    assert_eq!(count.get(), 3);
    // Like uv_stop before uv_run: the next run does no iteration at all...
    r.stop();
    assert_eq!(r.run(RunMode::Default), Ok(true));
    assert_eq!(count.get(), 3);
    // ...and the flag is cleared for the one after.
    r.arm_turn(false);
    assert_eq!(r.run(RunMode::Once), Ok(false));
}

#[test]
fn run_from_a_callback_is_refused() {
    let r = MockReactor::new(1);
    let got = Rc::new(RefCell::new(None));
    let (g, rr) = (got.clone(), r.clone());
    let mut t = r
        .timer(Box::new(move |_| {
            *g.borrow_mut() = Some(rr.run(RunMode::NoWait))
        }))
        .unwrap();
    t.start(ms(0), ms(0)).unwrap();
    r.run(RunMode::Default).unwrap();
    assert_eq!(*got.borrow(), Some(Err(Error::Reentrant)));
}

#[test]
fn a_panicking_callback_leaves_the_loop_usable() {
    let r = MockReactor::new(1);
    let fd = FakeFd::new();
    fd.set_readable(true);
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let mut w = r
        .watch(
            fd.fd(),
            Box::new(move |_| {
                c.set(c.get() + 1);
                if c.get() == 1 {
                    panic!("boom");
                }
            }),
        )
        .unwrap();
    w.start().unwrap();
    let res = catch_unwind(AssertUnwindSafe(|| r.run(RunMode::NoWait)));
    assert!(res.is_err());
    // Not reentrant any more, and the callback was put back.
    assert_eq!(r.run(RunMode::NoWait), Ok(true));
    assert_eq!(calls.get(), 2);
}

#[test]
#[should_panic(expected = "something spins")]
fn a_turn_armed_for_good_is_reported_as_spinning() {
    let r = MockReactor::new(1);
    r.set_turn_hook(Box::new(|_| {}));
    r.arm_turn(true);
    let _ = r.run(RunMode::Default);
}

#[test]
#[should_panic(expected = "was closed")]
fn polling_a_closed_fd_is_reported() {
    let r = MockReactor::new(1);
    let fd = FakeFd::new();
    let mut w = r.watch(fd.fd(), Box::new(|_| {})).unwrap();
    w.start().unwrap();
    drop(fd);
    let _ = r.run(RunMode::NoWait);
}

#[test]
fn watch_checks_its_fd() {
    let r = MockReactor::new(1);
    let err = r.watch(1, Box::new(|_| {})).err();
    assert_eq!(
        err,
        Some(Error::Uv {
            code: -9,
            name: "EBADF"
        })
    );
    let fd = FakeFd::new();
    let mut a = r.watch(fd.fd(), Box::new(|_| {})).unwrap();
    let mut b = r.watch(fd.fd(), Box::new(|_| {})).unwrap();
    a.start().unwrap();
    assert_eq!(
        b.start(),
        Err(Error::Uv {
            code: -17,
            name: "EEXIST"
        })
    );
    a.stop();
    b.start().unwrap();
    assert_eq!(r.active_watches(), 1);
}

#[test]
fn handles_outlive_their_loop_harmlessly() {
    let r = MockReactor::new(1);
    let fd = FakeFd::new();
    let mut w = r.watch(fd.fd(), Box::new(|_| {})).unwrap();
    let mut t = r.timer(Box::new(|_| {})).unwrap();
    t.start(ms(1), ms(0)).unwrap();
    assert_eq!(r.active_timers(), 1);
    drop(r);
    assert_eq!(w.start(), Err(Error::Closed));
    assert!(!t.is_active());
    assert_eq!(t.start(ms(1), ms(0)), Err(Error::Closed));
}

#[test]
fn once_with_a_due_timer_does_not_wait_for_the_next() {
    let r = MockReactor::new(1);
    let log = Log::default();
    let mut a = r.timer(logger(&log, "a")).unwrap();
    let mut b = r.timer(logger(&log, "b")).unwrap();
    a.start(ms(0), ms(0)).unwrap();
    b.start(ms(10), ms(0)).unwrap();
    assert_eq!(r.run(RunMode::Once), Ok(true));
    assert_eq!(*log.borrow(), ["a"]);
    assert_eq!(r.now(), 0);
    assert_eq!(r.run(RunMode::Once), Ok(false));
    assert_eq!(*log.borrow(), ["a", "b"]);
    assert_eq!(r.now(), 10);
}
