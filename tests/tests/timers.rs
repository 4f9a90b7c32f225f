//! Timers keep their word: a timer started after work outside the loop fires no earlier than its timeout after `start`; `again`, `set_repeat`/`repeat`, `due_in`, and what a closed timer answers; on libuv and on the mock loop in virtual time.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tests::real::{limit, run_to_end, run_until_stopped};
use uzmq::{Error, Loop, Timer, zmq};
use uzmq_core::mock::MockReactor;
use uzmq_core::{EventLoop, RawTimer, Reactor, RunMode, TimerHandle};

const MS: Duration = Duration::from_millis(1);

/// libuv keeps loop time in whole milliseconds, truncated, read from a
/// clock that may be the coarse one (1 ms resolution): a deadline can be
/// up to this much before the same instant measured with `Instant`.
const UV_RESOLUTION: Duration = Duration::from_millis(2);

fn is_einval(r: uzmq::Result<()>) -> bool {
    matches!(r, Err(Error::Zmq(zmq::Error::EINVAL)))
}

/// The bug this guards against: the loop time is cached, and a bare
/// `uv_timer_start` after 400 ms of work outside the loop is measured from
/// the stale time, so a 200 ms timer fires at once. The sleep *is* that
/// work; the assertion is a lower bound (correctness), not a timing target.
#[test]
fn timer_started_after_blocking_work_waits_its_full_timeout() {
    let lp = Loop::new().expect("loop");
    let timer = Timer::new(&lp).expect("timer");
    // Let the loop cache its time once, then work outside it.
    lp.run(uzmq::RunMode::NoWait).expect("run");
    std::thread::sleep(Duration::from_millis(400));

    let timeout = Duration::from_millis(200);
    let fired_at: Rc<Cell<Option<Instant>>> = Rc::default();
    let f = fired_at.clone();
    let started = Instant::now();
    timer
        .start(timeout, Duration::ZERO, move |t| {
            f.set(Some(Instant::now()));
            t.event_loop().expect("loop").stop();
        })
        .expect("start");
    // `Default`: libuv's `uv_run(DEFAULT)` runs due timers before it polls,
    // which is where a deadline computed from the stale time shows.
    run_until_stopped(&lp, limit(), "the 200 ms timer");
    let elapsed = fired_at.get().expect("fired") - started;
    assert!(
        elapsed + UV_RESOLUTION >= timeout,
        "a {timeout:?} timer started after work outside the loop fired after {elapsed:?}"
    );
}

#[test]
fn again_restarts_a_repeating_timer_from_now() {
    let lp = Loop::new().expect("loop");
    let t = Timer::new(&lp).expect("timer");
    let fires = Rc::new(Cell::new(0));
    let f = fires.clone();
    t.start(Duration::from_secs(3600), 20 * MS, move |t| {
        f.set(f.get() + 1);
        if f.get() == 2 {
            t.close();
        }
    })
    .expect("start");
    assert_eq!(t.due_in(), Duration::from_secs(3600));
    t.again().expect("again");
    // The loop time was refreshed by `again` and not since: exactly `repeat`.
    assert_eq!(t.due_in(), 20 * MS);
    assert!(t.is_active());
    run_to_end(&lp, limit(), "two fires of the restarted timer");
    assert_eq!(fires.get(), 2);
}

#[test]
fn again_starts_a_stopped_repeating_timer_and_leaves_a_one_shot_alone() {
    let lp = Loop::new().expect("loop");
    let t = Timer::new(&lp).expect("timer");
    t.start(Duration::from_secs(3600), 5 * MS, |t| t.close())
        .expect("start");
    t.stop().expect("stop");
    assert!(!t.is_active());
    t.again().expect("again on a stopped repeating timer");
    assert!(t.is_active());
    assert_eq!(t.due_in(), 5 * MS);
    run_to_end(&lp, limit(), "the restarted timer to close itself");
    assert!(t.is_closed());

    let once = Timer::new(&lp).expect("timer");
    once.start(Duration::from_secs(3600), Duration::ZERO, |_| {})
        .expect("start");
    once.stop().expect("stop");
    once.again().expect("again with a zero repeat");
    assert!(!once.is_active(), "a zero repeat: again changes nothing");
    once.close();
}

#[test]
fn again_on_a_never_started_timer_is_einval_and_changes_nothing() {
    let lp = Loop::new().expect("loop");
    let t = Timer::new(&lp).expect("timer");
    t.set_repeat(10 * MS).expect("set_repeat");
    assert!(is_einval(t.again()), "{:?}", t.again());
    assert!(!t.is_active());
    assert!(!lp.alive());
    assert_eq!(t.repeat(), 10 * MS);
}

/// As `uv_timer_set_repeat`: a fire schedules the next one with the
/// interval set at that moment, so a repeat set inside the callback counts
/// from the fire after the next.
#[test]
fn set_repeat_takes_effect_at_the_next_fire() {
    let lp = Loop::new().expect("loop");
    let t = Timer::new(&lp).expect("timer");
    let fires = Rc::new(Cell::new(0));
    let f = fires.clone();
    t.start(MS, Duration::ZERO, move |t| {
        f.set(f.get() + 1);
        if f.get() == 3 {
            // The fourth fire is already scheduled: it is the last.
            t.set_repeat(Duration::ZERO).expect("set_repeat");
        }
    })
    .expect("start");
    assert_eq!(t.repeat(), Duration::ZERO);
    // A one-shot given a repeat before it fires goes on firing.
    t.set_repeat(MS).expect("set_repeat");
    assert_eq!(t.repeat(), MS);
    run_to_end(&lp, limit(), "four fires, then the timer to stop");
    assert_eq!(fires.get(), 4);
    assert!(!t.is_active());
    assert_eq!(t.due_in(), Duration::ZERO);
    // libuv's resolution: whole milliseconds, rounded up.
    t.set_repeat(Duration::from_micros(1500))
        .expect("set_repeat");
    assert_eq!(t.repeat(), 2 * MS);
}

#[test]
fn due_in_counts_down_and_is_zero_when_not_active() {
    let lp = Loop::new().expect("loop");
    let t = Timer::new(&lp).expect("timer");
    assert_eq!(t.due_in(), Duration::ZERO, "never started");
    t.start(Duration::from_secs(10), Duration::ZERO, |_| {})
        .expect("start");
    assert_eq!(t.due_in(), Duration::from_secs(10));
    std::thread::sleep(5 * MS);
    lp.update_time();
    let left = t.due_in();
    assert!(
        left < Duration::from_secs(10) && left > Duration::from_secs(9),
        "{left:?}"
    );
    t.stop().expect("stop");
    assert_eq!(t.due_in(), Duration::ZERO, "stopped");
}

#[test]
fn a_closed_timer_refuses_calls_and_keeps_its_getters() {
    let lp = Loop::new().expect("loop");
    let t = Timer::new(&lp).expect("timer");
    t.start(Duration::from_secs(10), 7 * MS, |_| {})
        .expect("start");
    t.close();
    let noop = |_: &Timer| {};
    assert!(matches!(t.start(MS, MS, noop), Err(Error::Closed)));
    assert!(matches!(t.stop(), Err(Error::Closed)));
    assert!(matches!(t.again(), Err(Error::Closed)));
    assert!(matches!(t.set_repeat(MS), Err(Error::Closed)));
    assert_eq!(t.repeat(), 7 * MS, "the last repeat it had");
    assert_eq!(t.due_in(), Duration::ZERO, "a closed timer is not active");
    run_to_end(&lp, limit(), "the close");
    assert_eq!(t.repeat(), 7 * MS);
    drop(lp);
    assert!(matches!(t.again(), Err(Error::Closed)), "loop gone");
    assert_eq!(t.due_in(), Duration::ZERO);
}

// ---- the same rules on the mock loop, in virtual time ----

type MockTimer = TimerHandle<MockReactor>;

fn mock_loop() -> EventLoop<MockReactor> {
    EventLoop::new(MockReactor::new(0))
}

/// A timer that logs the loop time of each fire.
fn logging_timer(lp: &EventLoop<MockReactor>) -> (MockTimer, Rc<RefCell<Vec<u64>>>) {
    (
        TimerHandle::new(lp).expect("timer"),
        Rc::new(RefCell::new(Vec::new())),
    )
}

fn logger(
    lp: &EventLoop<MockReactor>,
    log: &Rc<RefCell<Vec<u64>>>,
) -> impl FnMut(&MockTimer) + 'static {
    let (r, log) = (lp.reactor().clone(), log.clone());
    move |_| log.borrow_mut().push(r.now())
}

#[test]
fn mock_loop_time_lags_until_updated() {
    let lp = mock_loop();
    let r = lp.reactor();
    r.advance_clock(500);
    assert_eq!((r.now(), r.clock()), (0, 500), "work outside the loop");
    lp.update_time();
    assert_eq!(r.now(), 500);

    // A bare backend timer started on the stale time fires early, as in
    // libuv; the next iteration's time update catches the loop up anyway.
    r.advance_clock(500);
    let fired = Rc::new(Cell::new(None));
    let (f, rr) = (fired.clone(), r.clone());
    let mut raw = r
        .timer(Box::new(move |_| f.set(Some(rr.now()))))
        .expect("raw timer");
    raw.start(Duration::from_millis(200), Duration::ZERO)
        .expect("start");
    assert_eq!(raw.due_in(), Duration::from_millis(200));
    r.run(RunMode::Default).expect("run");
    assert_eq!(
        fired.get(),
        Some(1000),
        "due at stale 500 + 200: fired at once"
    );
}

#[test]
fn mock_timer_started_after_work_fires_its_timeout_after_start() {
    let lp = mock_loop();
    let (t, log) = logging_timer(&lp);
    lp.run(RunMode::NoWait).expect("run");
    lp.reactor().advance_clock(500);
    t.start(
        Duration::from_millis(200),
        Duration::ZERO,
        logger(&lp, &log),
    )
    .expect("start");
    assert_eq!(lp.now(), 500, "start refreshed the loop time");
    assert_eq!(t.due_in(), Duration::from_millis(200));
    lp.run(RunMode::Default).expect("run");
    assert_eq!(*log.borrow(), vec![700]);
    assert!(!t.is_active());
    assert_eq!(t.due_in(), Duration::ZERO);
}

#[test]
fn mock_again_restarts_from_the_refreshed_time() {
    let lp = mock_loop();
    let (t, log) = logging_timer(&lp);
    assert!(matches!(
        t.again(),
        Err(uzmq_core::Error::Zmq(zmq::Error::EINVAL))
    ));
    let mut cb = logger(&lp, &log);
    t.start(
        Duration::from_millis(1000),
        Duration::from_millis(100),
        move |t| {
            cb(t);
            if t.event_loop().expect("loop").now() >= 350 {
                t.close();
            }
        },
    )
    .expect("start");
    lp.reactor().advance_clock(50);
    t.again().expect("again");
    assert_eq!(lp.now(), 50);
    assert_eq!(t.due_in(), Duration::from_millis(100));
    lp.run(RunMode::Default).expect("run");
    assert_eq!(*log.borrow(), vec![150, 250, 350]);
    assert!(matches!(t.again(), Err(uzmq_core::Error::Closed)));
}

#[test]
fn mock_set_repeat_applies_from_the_next_fire() {
    let lp = mock_loop();
    let (t, log) = logging_timer(&lp);
    let mut cb = logger(&lp, &log);
    t.start(Duration::from_millis(10), Duration::ZERO, move |t| {
        cb(t);
        if t.event_loop().expect("loop").now() == 50 {
            t.set_repeat(Duration::ZERO).expect("set_repeat");
        }
    })
    .expect("start");
    t.set_repeat(Duration::from_millis(20)).expect("set_repeat");
    assert_eq!(t.repeat(), Duration::from_millis(20));
    lp.run(RunMode::Default).expect("run");
    // Set at 50, the zero repeat applies from the fire after (70).
    assert_eq!(*log.borrow(), vec![10, 30, 50, 70]);
    assert!(!t.is_active());
    assert!(!lp.alive());
    t.close();
    lp.run(RunMode::Default).expect("run");
    assert!(matches!(
        t.set_repeat(Duration::from_millis(5)),
        Err(uzmq_core::Error::Closed)
    ));
    assert_eq!(t.repeat(), Duration::ZERO, "the last repeat it had");
}

#[test]
fn mock_due_in_follows_the_loop_time() {
    let lp = mock_loop();
    let (t, _log) = logging_timer(&lp);
    t.start(Duration::from_millis(100), Duration::ZERO, |_| {})
        .expect("start");
    lp.reactor().advance_clock(30);
    assert_eq!(t.due_in(), Duration::from_millis(100), "stale loop time");
    lp.update_time();
    assert_eq!(t.due_in(), Duration::from_millis(70));
    lp.reactor().advance(200);
    assert_eq!(t.due_in(), Duration::ZERO, "overdue");
    t.stop().expect("stop");
    assert_eq!(t.due_in(), Duration::ZERO);
}
