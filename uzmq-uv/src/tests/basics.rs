//! Error mapping, duration rounding, and the loop's own calls.

use std::time::Duration;

use uzmq_core::{Error, Reactor, RunMode};

use super::{live_blocks, run_default};
use crate::UvLoop;
use crate::sys::uv_error;
use crate::uv_loop::millis_ceil;

#[test]
fn error_names_come_from_libuv() {
    assert!(matches!(
        uv_error(-9),
        Error::Uv {
            code: -9,
            name: "EBADF"
        }
    ));
    assert!(matches!(
        uv_error(-17),
        Error::Uv {
            code: -17,
            name: "EEXIST"
        }
    ));
    // Unknown to libuv: no allocation, libuv's generic name.
    assert!(matches!(
        uv_error(-987_654),
        Error::Uv {
            code: -987_654,
            name: "UNKNOWN"
        }
    ));
}

#[test]
fn durations_round_up_to_whole_millis() {
    assert_eq!(millis_ceil(Duration::ZERO), 0);
    assert_eq!(millis_ceil(Duration::from_nanos(1)), 1);
    assert_eq!(millis_ceil(Duration::from_micros(999)), 1);
    assert_eq!(millis_ceil(Duration::from_millis(1)), 1);
    assert_eq!(millis_ceil(Duration::from_micros(1_001)), 2);
    assert_eq!(millis_ceil(Duration::from_secs(3)), 3_000);
    assert_eq!(millis_ceil(Duration::MAX), u64::MAX);
}

#[test]
fn fresh_loop_is_not_alive_and_returns_at_once() {
    let lp = UvLoop::new().unwrap();
    assert!(!lp.alive());
    // Only the unref'd check exists: nothing keeps the loop running.
    assert!(!run_default(&lp));
    assert!(!lp.run(RunMode::Once).unwrap());
    assert!(!lp.run(RunMode::NoWait).unwrap());
    drop(lp);
    assert_eq!(live_blocks(), 0);
}

#[test]
fn now_is_loop_time_in_millis() {
    let lp = UvLoop::new().unwrap();
    let before = lp.now();
    lp.run(RunMode::NoWait).unwrap();
    assert!(lp.now() >= before);
}

#[test]
fn stop_before_run_makes_one_run_return_early() {
    let lp = UvLoop::new().unwrap();
    lp.arm_turn(true);
    lp.stop();
    // As `uv_run`: a pending stop makes the next run return at once, still alive.
    assert!(lp.run(RunMode::Default).unwrap());
    lp.arm_turn(false);
    assert!(!run_default(&lp));
}

#[test]
fn clones_share_the_loop() {
    let a = UvLoop::new().unwrap();
    let b = a.clone();
    a.arm_turn(true);
    assert!(b.alive());
    drop(a);
    assert!(b.alive());
    b.arm_turn(false);
    assert!(!b.alive());
}
