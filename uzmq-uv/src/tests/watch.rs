//! `UvWatch`: level-triggered readability, stop, drop from its own callback,
//! refusals.

use std::cell::RefCell;
use std::rc::Rc;

use std::time::Duration;

use uzmq_core::{Error, RawTimer, Reactor, RunMode, Watch};

use super::{Pair, Probe, live_blocks, run_default, run_until};
use crate::{UvLoop, UvWatch};

#[test]
fn fires_while_readable_and_not_after_stop() {
    let lp = UvLoop::new().unwrap();
    let mut pair = Pair::new();
    let probe = Probe::default();
    let mut watch = lp.watch(pair.fd(), probe.callback()).unwrap();

    // Stopped: nothing, even though readable; a stopped watch keeps no loop alive.
    pair.poke();
    assert!(!lp.run(RunMode::NoWait).unwrap());
    assert_eq!(probe.calls(), 0);

    watch.start().unwrap();
    watch.start().unwrap(); // idempotent
    assert!(lp.alive());
    // Level-triggered: once per iteration while readable.
    for n in 1..=3 {
        lp.run(RunMode::NoWait).unwrap();
        assert_eq!(probe.calls(), n);
    }
    // Not readable any more: no call.
    pair.drain();
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(probe.calls(), 3);

    // Readable again, but stopped: no call, and nothing keeps the loop alive.
    pair.poke();
    watch.stop();
    watch.stop(); // idempotent
    assert!(!lp.alive());
    for _ in 0..3 {
        lp.run(RunMode::NoWait).unwrap();
    }
    assert_eq!(probe.calls(), 3);

    // Restartable.
    watch.start().unwrap();
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(probe.calls(), 4);

    drop(watch);
    assert_eq!(
        probe.drops(),
        0,
        "callback freed before libuv's close callback"
    );
    assert!(
        lp.alive(),
        "a closing handle keeps the loop alive until closed"
    );
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(probe.drops(), 1);
    assert_eq!(probe.calls(), 4, "no call after drop");
    assert!(!lp.alive());
}

#[test]
fn run_once_blocks_until_readable() {
    let lp = UvLoop::new().unwrap();
    let mut pair = Pair::new();
    let probe = Probe::default();
    let mut watch = lp.watch(pair.fd(), probe.callback()).unwrap();
    watch.start().unwrap();
    // Readable before the run: `Once` returns after handling it.
    pair.poke();
    let _dog = super::Watchdog::new("run(Once)");
    lp.run(RunMode::Once).unwrap();
    assert_eq!(probe.calls(), 1);
}

#[test]
fn dropped_inside_its_own_callback() {
    let lp = UvLoop::new().unwrap();
    let mut pair = Pair::new();
    let probe = Probe::default();
    let slot: Rc<RefCell<Option<UvWatch>>> = Rc::default();
    let seen_drops = Rc::new(std::cell::Cell::new(usize::MAX));
    let callback = {
        let slot = slot.clone();
        let drops = probe.drops.clone();
        let seen_drops = seen_drops.clone();
        probe.callback_with(move || {
            // Closes the handle from its own callback...
            drop(slot.borrow_mut().take());
            // ...while this very closure keeps running on live memory.
            seen_drops.set(drops.get());
        })
    };
    let mut watch = lp.watch(pair.fd(), callback).unwrap();
    watch.start().unwrap();
    *slot.borrow_mut() = Some(watch);
    pair.poke();

    // The loop exits: the handle closed, nothing else is active.
    assert!(!run_default(&lp));
    assert_eq!(probe.calls(), 1);
    assert_eq!(seen_drops.get(), 0, "callback dropped while it ran");
    assert_eq!(
        probe.drops(),
        1,
        "callback not dropped by the close callback"
    );
    drop(lp);
    assert_eq!(live_blocks(), 0);
}

/// Two fds readable in one poll phase, each watch's callback dropping the
/// other watch: whichever epoll reports first runs, and the other, closed
/// while its event was pending, is not called. The trampoline relies on
/// this instead of asking `uv_is_closing` on every callback.
#[test]
fn a_watch_closed_by_a_callback_of_the_same_poll_phase_is_not_called() {
    let lp = UvLoop::new().unwrap();
    let mut pairs = [Pair::new(), Pair::new()];
    let probes = [Probe::default(), Probe::default()];
    let watches: [Rc<RefCell<Option<UvWatch>>>; 2] = Default::default();
    for i in 0..2 {
        let other = watches[1 - i].clone();
        let callback = probes[i].callback_with(move || drop(other.borrow_mut().take()));
        let mut watch = lp.watch(pairs[i].fd(), callback).unwrap();
        watch.start().unwrap();
        *watches[i].borrow_mut() = Some(watch);
    }
    for pair in &mut pairs {
        pair.poke();
    }
    lp.run(RunMode::NoWait).unwrap();
    let calls = [probes[0].calls(), probes[1].calls()];
    assert_eq!(
        calls[0] + calls[1],
        1,
        "a watch closed while its event was pending was called: {calls:?}"
    );
    // The one that ran is still open and still readable: it runs again.
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(probes[0].calls() + probes[1].calls(), 2);
    for watch in &watches {
        drop(watch.borrow_mut().take());
    }
    drop(lp);
    assert_eq!(live_blocks(), 0);
}

#[test]
fn callback_may_create_start_stop_and_drop_other_handles() {
    let lp = UvLoop::new().unwrap();
    let mut pair = Pair::new();
    let mut other_pair = Pair::new();
    let other_probe = Probe::default();
    let other = Rc::new(RefCell::new(Some(
        lp.watch(other_pair.fd(), other_probe.callback()).unwrap(),
    )));
    other.borrow_mut().as_mut().unwrap().start().unwrap();
    other_pair.poke();

    let made: Rc<RefCell<Vec<crate::UvTimer>>> = Rc::default();
    let timer_probe = Probe::default();
    let hook_probe = Probe::default();
    lp.set_turn_hook(hook_probe.callback());
    let probe = Probe::default();
    let callback = {
        let lp = lp.clone(); // dropped with the callback, when the watch closes
        let other = other.clone();
        let made = made.clone();
        let timer_probe = timer_probe.clone();
        probe.callback_with(move || {
            drop(other.borrow_mut().take());
            let mut timer = lp.timer(timer_probe.callback()).unwrap();
            timer.start(Duration::ZERO, Duration::ZERO).unwrap();
            timer.stop();
            timer.start(Duration::ZERO, Duration::ZERO).unwrap();
            made.borrow_mut().push(timer);
            lp.arm_turn(true);
        })
    };
    let mut watch = lp.watch(pair.fd(), callback).unwrap();
    watch.start().unwrap();
    pair.poke();

    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(probe.calls(), 1);
    // Armed from the poll phase: the hook ran in the check phase of the same iteration.
    assert_eq!(hook_probe.calls(), 1);
    // `other` was dropped in this iteration; whether it ran first depends on
    // epoll's order, but once dropped it never runs again.
    let other_calls = other_probe.calls();
    assert!(other_calls <= 1);
    // Timers due now run at the end of the iteration.
    assert_eq!(timer_probe.calls(), 1);

    lp.arm_turn(false);
    drop(watch);
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(other_probe.calls(), other_calls);
    assert_eq!(other_probe.drops(), 1);
    assert_eq!(probe.drops(), 1);
    drop(made.borrow_mut().drain(..));
    drop(lp);
    assert_eq!(timer_probe.drops(), 1);
    assert_eq!(hook_probe.drops(), 1);
    assert_eq!(live_blocks(), 0);
}

#[test]
fn refusals_drop_the_callback_uncalled() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    let err = lp.watch(-1, probe.callback()).unwrap_err();
    assert!(matches!(err, Error::Uv { name: "EBADF", .. }), "{err:?}");
    assert_eq!((probe.calls(), probe.drops()), (0, 1));

    // One poll handle per fd: a second one of a watched fd is refused.
    let pair = Pair::new();
    let mut first = lp.watch(pair.fd(), Probe::default().callback()).unwrap();
    first.start().unwrap();
    let err = lp
        .watch(pair.fd(), Probe::default().callback())
        .unwrap_err();
    assert!(matches!(err, Error::Uv { name: "EEXIST", .. }), "{err:?}");
    drop(first);
    drop(lp);
    assert_eq!(live_blocks(), 0);
}

#[test]
fn many_readable_fds_each_fire() {
    let lp = UvLoop::new().unwrap();
    let mut pairs: Vec<Pair> = (0..16).map(|_| Pair::new()).collect();
    let probes: Vec<Probe> = (0..16).map(|_| Probe::default()).collect();
    let mut watches: Vec<UvWatch> = pairs
        .iter()
        .zip(&probes)
        .map(|(p, probe)| lp.watch(p.fd(), probe.callback()).unwrap())
        .collect();
    for (w, p) in watches.iter_mut().zip(pairs.iter_mut()) {
        w.start().unwrap();
        p.poke();
    }
    run_until(&lp, RunMode::NoWait, 10, "every watch fired", || {
        probes.iter().all(|p| p.calls() >= 1)
    });
}
