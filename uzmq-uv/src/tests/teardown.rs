//! Dropping the last `UvLoop` with handles still open: everything is closed
//! and freed, callbacks are dropped, never called; handles left over are inert.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use uzmq_core::{Error, RawTimer, Reactor, RunMode, Watch};

use super::{Pair, Probe, live_blocks};
use crate::{UvLoop, UvTimer, UvWatch};

#[test]
fn open_handles_are_closed_and_callbacks_dropped_uncalled() {
    let lp = UvLoop::new().unwrap();
    let mut pair = Pair::new();
    let probe = Probe::default();
    let mut watch = lp.watch(pair.fd(), probe.callback()).unwrap();
    watch.start().unwrap();
    pair.poke(); // readable: a run would call it
    let mut started = lp.timer(probe.callback()).unwrap();
    started.start(Duration::ZERO, Duration::ZERO).unwrap(); // due: a run would call it
    let stopped = lp.timer(probe.callback()).unwrap();
    lp.set_turn_hook(probe.callback());
    lp.arm_turn(true);
    assert_eq!(live_blocks(), 5); // 3 + check + idle

    drop(lp);
    assert_eq!(probe.calls(), 0, "a callback ran during teardown");
    assert_eq!(probe.drops(), 4);
    assert_eq!(live_blocks(), 0);

    // Left-over handles are inert.
    assert!(matches!(watch.start(), Err(Error::Closed)));
    watch.stop();
    assert!(matches!(
        started.start(Duration::ZERO, Duration::ZERO),
        Err(Error::Closed)
    ));
    assert!(!started.is_active());
    drop((watch, started, stopped));
    assert_eq!(probe.calls(), 0);
}

#[test]
fn callbacks_owning_their_own_and_other_handles() {
    let lp = UvLoop::new().unwrap();
    let pairs = [Pair::new(), Pair::new()];
    let probe = Probe::default();
    // A callback owning its own watch (a cycle only teardown can break), and
    // a timer's callback owning a watch and another timer: dropping those in
    // a close callback finds their loop gone and does nothing.
    let own: Rc<RefCell<Option<UvWatch>>> = Rc::default();
    let mut first = {
        let own = own.clone();
        lp.watch(
            pairs[0].fd(),
            probe.callback_with(move || {
                let _own = &own;
            }),
        )
        .unwrap()
    };
    first.start().unwrap();
    *own.borrow_mut() = Some(first);
    drop(own);

    let second = lp.watch(pairs[1].fd(), probe.callback()).unwrap();
    let third = lp.timer(probe.callback()).unwrap();
    let owned = RefCell::new(Some((second, third)));
    let mut owner: UvTimer = lp
        .timer(probe.callback_with(move || drop(owned.borrow_mut().take())))
        .unwrap();
    owner
        .start(Duration::from_secs(3_600), Duration::ZERO)
        .unwrap();
    // Forget our side of `owner` (its block stays in the loop until teardown).
    let owner_slot: Rc<RefCell<Option<UvTimer>>> = Rc::new(RefCell::new(Some(owner)));
    let keep = owner_slot.clone();
    drop(owner_slot);

    drop(lp);
    assert_eq!(probe.calls(), 0);
    assert_eq!(probe.drops(), 4);
    assert_eq!(live_blocks(), 0);
    drop(keep);
}

#[test]
fn a_closing_handle_is_finished_by_teardown() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    let timer = lp.timer(probe.callback()).unwrap();
    // Closed but its close callback not run yet: teardown must not close it
    // twice, and must still free it.
    drop(timer);
    drop(lp);
    assert_eq!(probe.drops(), 1);
    assert_eq!(live_blocks(), 0);
}

#[test]
fn a_panicking_drop_during_teardown_still_frees_everything() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("bomb");
        }
    }
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    let bomb = Bomb;
    let _a = lp
        .timer(Box::new(move |_| {
            let _ = &bomb;
        }))
        .unwrap();
    let _b = lp.timer(probe.callback()).unwrap();
    let payload = panic::catch_unwind(AssertUnwindSafe(move || drop(lp))).unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"bomb"));
    assert_eq!(probe.drops(), 1);
    assert_eq!(live_blocks(), 0);
}

#[test]
fn many_create_and_drop_cycles() {
    let mut pairs: Vec<Pair> = (0..4).map(|_| Pair::new()).collect();
    let probe = Probe::default();
    let mut made = 0;
    for round in 0..200 {
        let lp = UvLoop::new().unwrap();
        lp.set_turn_hook(probe.callback());
        lp.arm_turn(round % 2 == 0);
        let mut watches = Vec::new();
        let mut timers = Vec::new();
        for (i, pair) in pairs.iter_mut().enumerate() {
            let mut w = lp.watch(pair.fd(), probe.callback()).unwrap();
            let mut t = lp.timer(probe.callback()).unwrap();
            made += 2;
            if (round + i) % 3 != 0 {
                w.start().unwrap();
                t.start(Duration::ZERO, Duration::from_millis(1)).unwrap();
            }
            if (round + i) % 2 == 0 {
                pair.poke();
            }
            watches.push(w);
            timers.push(t);
        }
        // Drop some before running, some after, leave the rest to teardown.
        watches.truncate(round % 4);
        lp.run(RunMode::NoWait).unwrap();
        timers.truncate(round % 3);
        lp.run(RunMode::NoWait).unwrap();
        drop(lp);
        drop((watches, timers));
        assert_eq!(live_blocks(), 0, "round {round}");
        for pair in &mut pairs {
            while std::io::Read::read(&mut pair.0, &mut [0u8; 16]).is_ok_and(|n| n > 0) {}
        }
    }
    assert_eq!(probe.drops(), made + 200);
}
