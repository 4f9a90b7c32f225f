//! `UvSignal`: libuv's refusals, and teardown of started signal handles
//! (no signal is sent here: the tests of the `tests` crate do that, one at
//! a time).

use uzmq_core::{RawSignal, Reactor, RunMode};

use super::{Probe, live_blocks};
use crate::UvLoop;

const SIGUSR2: i32 = 12;
const SIGKILL: i32 = 9;

#[test]
fn invalid_numbers_are_einval_and_a_switch_to_one_stops_the_watch() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    let mut signal = lp.signal(probe.callback()).unwrap();
    for bad in [0, -1, SIGKILL, 4096] {
        assert!(
            matches!(
                signal.start(bad),
                Err(uzmq_core::Error::Uv { name: "EINVAL", .. })
            ),
            "signal {bad}"
        );
        assert!(!signal.is_active());
    }
    signal.start(SIGUSR2).unwrap();
    assert!(signal.is_active());
    assert!(lp.alive());
    // libuv stops the watch before it tries the new number.
    assert!(signal.start(SIGKILL).is_err());
    assert!(!signal.is_active());
    signal.start(SIGUSR2).unwrap();
    signal.stop();
    assert!(!signal.is_active());
    assert!(!lp.alive());
    assert_eq!(probe.calls(), 0);
}

#[test]
fn dropping_the_loop_frees_started_signal_handles() {
    let lp = UvLoop::new().unwrap();
    let probe = Probe::default();
    let mut signal = lp.signal(probe.callback()).unwrap();
    signal.start(SIGUSR2).unwrap();
    lp.run(RunMode::NoWait).unwrap();
    drop(lp);
    assert_eq!(probe.drops(), 1, "callback dropped uncalled at teardown");
    assert_eq!(probe.calls(), 0);
    assert!(!signal.is_active());
    assert!(
        signal.start(SIGUSR2).is_err(),
        "inert once the loop is gone"
    );
    drop(signal);
    assert_eq!(live_blocks(), 0);
}
