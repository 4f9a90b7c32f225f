//! `Signal` handles: each arrival reaches the callback with its number, from the loop; a one-shot fires once; stop and close end the reports and let `run(Default)` return; a refused start leaves the handle as it was; the loop's drop closes them. Real tests signal this very process (SIGUSR1/SIGUSR2 only, through the `kill` command) and run one at a time; mock tests raise signals in virtual time.

use std::cell::{Cell, RefCell};
use std::process::Command;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};

use tests::real::{Drops, limit, run_until, settle};
use uzmq::{Error, Loop, RunMode, Signal};
use uzmq_core::mock::MockReactor;
use uzmq_core::{EventLoop, SignalHandle};

/// Linux's numbers (x86_64 and aarch64 alike).
const SIGUSR1: i32 = 10;
const SIGUSR2: i32 = 12;
const SIGKILL: i32 = 9;

/// Signals go to the whole process: the real tests take turns, and each
/// signals only while one of its own handles watches that signal (with no
/// handler installed, SIGUSR1 would end the test process).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends `signum` to this process with the `kill` command.
fn kill(signum: i32) {
    let status = Command::new("kill")
        .arg(format!("-{signum}"))
        .arg(std::process::id().to_string())
        .status()
        .expect("run the kill command");
    assert!(status.success(), "kill -{signum} failed: {status}");
}

fn is_uv_einval(r: uzmq::Result<()>) -> bool {
    matches!(r, Err(Error::Uv { name: "EINVAL", .. }))
}

/// Guards a plain `run(RunMode::Default)`, which must return on its own
/// (no watchdog timer may keep the loop alive): if it has not returned
/// within the limit, the test process ends with a message instead of
/// hanging.
struct Deadline(mpsc::Sender<()>);

impl Deadline {
    fn start(what: &'static str) -> Deadline {
        let (tx, rx) = mpsc::channel::<()>();
        let limit = limit();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("timed out after {limit:?} waiting for {what}");
                std::process::exit(101);
            }
        });
        Deadline(tx)
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// `run(Default)` under a [`Deadline`]; returns what `run` returned.
fn run_default(lp: &Loop, what: &'static str) -> bool {
    let _deadline = Deadline::start(what);
    lp.run(RunMode::Default).expect("Loop::run(Default)")
}

#[test]
fn each_arrival_reaches_the_callback_with_its_number() {
    let _turn = one_at_a_time();
    let lp = Loop::new().expect("loop");
    let s = Signal::new(&lp).expect("signal");
    let got: Rc<RefCell<Vec<i32>>> = Rc::default();
    let g = got.clone();
    s.start(SIGUSR1, move |s, signum| {
        g.borrow_mut().push(signum);
        if g.borrow().len() == 2 {
            s.close();
        }
    })
    .expect("start");
    assert!(s.is_active());
    assert_eq!(s.signum(), Some(SIGUSR1));
    assert!(lp.alive(), "a started signal handle keeps the loop alive");
    kill(SIGUSR1);
    run_until(&lp, limit(), "the first SIGUSR1", || {
        got.borrow().len() == 1
    });
    kill(SIGUSR1);
    // The callback closes the handle at the second arrival: nothing else
    // is active, so `run(Default)` returns.
    assert!(!run_default(&lp, "SIGUSR1 twice, then the close"));
    assert_eq!(*got.borrow(), vec![SIGUSR1, SIGUSR1]);
    assert!(s.is_closed());
    assert!(!s.is_active());
}

#[test]
fn a_oneshot_fires_once_and_stops() {
    let _turn = one_at_a_time();
    let lp = Loop::new().expect("loop");
    let once = Signal::new(&lp).expect("signal");
    let fired = Rc::new(Cell::new(0));
    let f = fired.clone();
    once.start_oneshot(SIGUSR2, move |s, signum| {
        assert_eq!(signum, SIGUSR2);
        assert!(!s.is_active(), "stopped before its callback runs");
        f.set(f.get() + 1);
    })
    .expect("start_oneshot");
    // Keeps the handler installed for the second signal, and counts.
    let keeper = Signal::new(&lp).expect("signal");
    let seen = Rc::new(Cell::new(0));
    let k = seen.clone();
    keeper
        .start(SIGUSR2, move |_, _| k.set(k.get() + 1))
        .expect("start");

    kill(SIGUSR2);
    run_until(&lp, limit(), "the first SIGUSR2", || seen.get() == 1);
    assert_eq!(fired.get(), 1);
    assert!(!once.is_active());
    assert_eq!(once.signum(), None);
    kill(SIGUSR2);
    run_until(&lp, limit(), "the second SIGUSR2", || seen.get() == 2);
    assert_eq!(fired.get(), 1, "a one-shot fires once");

    keeper.stop().expect("stop");
    assert!(
        !run_default(&lp, "the loop to end once both handles are stopped"),
        "nothing active is left"
    );
    once.close();
    keeper.close();
    assert!(!settle(&lp, 4));
}

#[test]
fn stop_ends_the_reports_and_lets_run_return() {
    let _turn = one_at_a_time();
    let lp = Loop::new().expect("loop");
    let s = Signal::new(&lp).expect("signal");
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    s.start(SIGUSR1, move |s, _| {
        c.set(c.get() + 1);
        s.stop().expect("stop from the callback");
    })
    .expect("start");
    kill(SIGUSR1);
    assert!(!run_default(&lp, "SIGUSR1, then the stop"));
    assert_eq!(calls.get(), 1);
    assert!(!s.is_active());
    assert!(!s.is_closed());

    // Stopped, it hears nothing; a second handle keeps a handler installed.
    let keeper = Signal::new(&lp).expect("signal");
    let seen = Rc::new(Cell::new(0));
    let k = seen.clone();
    keeper
        .start(SIGUSR1, move |s, _| {
            k.set(k.get() + 1);
            s.close();
        })
        .expect("start");
    kill(SIGUSR1);
    assert!(!run_default(&lp, "SIGUSR1 at the second handle"));
    assert_eq!(seen.get(), 1);
    assert_eq!(calls.get(), 1, "a stopped handle reports nothing");
}

#[test]
fn a_refused_start_leaves_the_handle_as_it_was() {
    let _turn = one_at_a_time();
    let lp = Loop::new().expect("loop");
    let s = Signal::new(&lp).expect("signal");
    let stopped = Signal::new(&lp).expect("signal");
    let refused = Drops::new();
    for bad in [0, -1, SIGKILL, 1000] {
        let token = refused.token();
        assert!(
            is_uv_einval(stopped.start(bad, move |_, _| {
                let _ = &token;
            })),
            "signal {bad}"
        );
        assert!(!stopped.is_active());
    }
    let got = Rc::new(Cell::new(0));
    let g = got.clone();
    s.start(SIGUSR1, move |s, signum| {
        g.set(signum);
        s.close();
    })
    .expect("start");
    for bad in [0, SIGKILL, 1000] {
        let token = refused.token();
        let r = s.start(bad, move |_, _| {
            let _ = &token;
        });
        assert!(is_uv_einval(r), "signal {bad}");
        assert!(s.is_active(), "still started after refusing {bad}");
        assert_eq!(s.signum(), Some(SIGUSR1));
    }
    assert_eq!(refused.live(), 0, "refused callbacks are dropped uncalled");
    // The old callback still gets the old signal.
    kill(SIGUSR1);
    stopped.close();
    assert!(!run_default(
        &lp,
        "SIGUSR1 at the handle that refused starts"
    ));
    assert_eq!(got.get(), SIGUSR1);
}

#[test]
fn close_runs_its_callback_from_the_loop_and_refuses_calls_after() {
    let _turn = one_at_a_time();
    let lp = Loop::new().expect("loop");
    let s = Signal::new(&lp).expect("signal");
    let drops = Drops::new();
    let token = drops.token();
    s.start(SIGUSR2, move |_, _| {
        let _ = &token;
    })
    .expect("start");
    let closed = Rc::new(Cell::new(0));
    let c = closed.clone();
    s.close_with(move |s| {
        assert!(s.is_closed());
        c.set(c.get() + 1);
    });
    assert_eq!(closed.get(), 0, "never inside close_with");
    assert_eq!(drops.live(), 0, "close drops the signal callback");
    assert!(s.is_closed() && !s.is_active());
    assert!(matches!(s.start(SIGUSR2, |_, _| {}), Err(Error::Closed)));
    assert!(matches!(
        s.start_oneshot(SIGUSR2, |_, _| {}),
        Err(Error::Closed)
    ));
    assert!(matches!(s.stop(), Err(Error::Closed)));
    s.close_with(|_| panic!("a second close's callback is dropped uncalled"));
    assert!(!run_default(&lp, "the close"));
    assert_eq!(closed.get(), 1);
    assert!(s.event_loop().is_ok_and(|l| l == lp));
}

#[test]
fn an_orphaned_started_handle_works_until_it_closes_itself() {
    let _turn = one_at_a_time();
    let lp = Loop::new().expect("loop");
    let s = Signal::new(&lp).expect("signal");
    let got = Rc::new(Cell::new(0));
    let g = got.clone();
    s.start(SIGUSR1, move |s, signum| {
        g.set(signum);
        s.close();
    })
    .expect("start");
    drop(s);
    assert!(lp.alive());
    kill(SIGUSR1);
    assert!(!run_default(&lp, "SIGUSR1 at the orphaned handle"));
    assert_eq!(got.get(), SIGUSR1);
}

#[test]
fn dropping_the_loop_closes_the_handle_and_drops_its_callbacks() {
    let _turn = one_at_a_time();
    let lp = Loop::new().expect("loop");
    let s = Signal::new(&lp).expect("signal");
    let drops = Drops::new();
    let (a, b) = (drops.token(), drops.token());
    s.start(SIGUSR1, move |_, _| {
        let _ = &a;
    })
    .expect("start");
    s.close_with(move |_| {
        let _ = &b;
    });
    let s2 = Signal::new(&lp).expect("signal");
    let c = drops.token();
    s2.start_oneshot(SIGUSR2, move |_, _| {
        let _ = &c;
    })
    .expect("start_oneshot");
    drop(lp);
    assert_eq!(drops.live(), 0, "callbacks dropped uncalled");
    assert!(s2.is_closed() && !s2.is_active());
    assert!(matches!(s2.start(SIGUSR2, |_, _| {}), Err(Error::Closed)));
    assert!(matches!(s2.event_loop(), Err(Error::Closed)));
}

// ---- the same rules on the mock loop ----

type MockSignal = SignalHandle<MockReactor>;

fn mock_loop() -> EventLoop<MockReactor> {
    EventLoop::new(MockReactor::new(0))
}

fn counting(got: &Rc<RefCell<Vec<i32>>>) -> impl FnMut(&MockSignal, i32) + 'static {
    let got = got.clone();
    move |_, signum| got.borrow_mut().push(signum)
}

#[test]
fn mock_a_raised_signal_arrives_from_the_next_poll_phase() {
    let lp = mock_loop();
    let s = SignalHandle::new(&lp).expect("signal");
    let got: Rc<RefCell<Vec<i32>>> = Rc::default();
    s.start(SIGUSR1, counting(&got)).expect("start");
    assert!(lp.alive());
    // Nothing raised: a real loop would wait for ever; the mock returns.
    assert!(lp.run(RunMode::Default).expect("run"));
    assert!(got.borrow().is_empty());
    assert!(lp.reactor().raise(SIGUSR1));
    assert!(lp.reactor().raise(SIGUSR1));
    assert!(!lp.reactor().raise(SIGUSR2), "nobody watches SIGUSR2");
    assert!(got.borrow().is_empty(), "never inside raise");
    lp.run(RunMode::NoWait).expect("run");
    assert_eq!(*got.borrow(), vec![SIGUSR1, SIGUSR1]);
    s.stop().expect("stop");
    assert!(!lp.alive());
    assert!(!lp.run(RunMode::Default).expect("run"));
}

#[test]
fn mock_oneshot_fires_once_then_the_loop_can_end() {
    let lp = mock_loop();
    let s = SignalHandle::new(&lp).expect("signal");
    let fired = Rc::new(Cell::new(0));
    let f = fired.clone();
    s.start_oneshot(SIGUSR2, move |s: &MockSignal, _| {
        assert!(!s.is_active());
        f.set(f.get() + 1);
    })
    .expect("start_oneshot");
    drop(s);
    assert!(lp.reactor().raise(SIGUSR2));
    // Two arrivals in one poll phase: the second finds the handle stopped.
    assert!(lp.reactor().raise(SIGUSR2));
    assert!(!lp.run(RunMode::Default).expect("run"));
    assert_eq!(fired.get(), 1);
    assert_eq!(lp.reactor().active_signals(), 0);
}

#[test]
fn mock_stop_or_restart_drops_signals_not_delivered_yet() {
    let lp = mock_loop();
    let s = SignalHandle::new(&lp).expect("signal");
    let got: Rc<RefCell<Vec<i32>>> = Rc::default();
    s.start(SIGUSR1, counting(&got)).expect("start");
    assert!(lp.reactor().raise(SIGUSR1));
    s.stop().expect("stop");
    lp.run(RunMode::NoWait).expect("run");
    assert!(got.borrow().is_empty(), "stopped before delivery");

    s.start(SIGUSR1, counting(&got)).expect("start");
    assert!(lp.reactor().raise(SIGUSR1));
    s.start(SIGUSR2, counting(&got)).expect("switch");
    assert!(lp.reactor().raise(SIGUSR2));
    lp.run(RunMode::NoWait).expect("run");
    assert_eq!(
        *got.borrow(),
        vec![SIGUSR2],
        "only the signal it watches now"
    );
}

#[test]
fn mock_a_refused_start_leaves_the_handle_as_it_was() {
    let lp = mock_loop();
    let s = SignalHandle::new(&lp).expect("signal");
    let got: Rc<RefCell<Vec<i32>>> = Rc::default();
    s.start(SIGUSR1, counting(&got)).expect("start");
    for bad in [0, -3, SIGKILL, 65] {
        let r = s.start(bad, |_, _| panic!("a refused callback is never called"));
        assert!(matches!(
            r,
            Err(uzmq_core::Error::Uv { name: "EINVAL", .. })
        ));
        assert!(s.is_active());
        assert_eq!(s.signum(), Some(SIGUSR1));
    }
    assert!(lp.reactor().raise(SIGUSR1));
    lp.run(RunMode::NoWait).expect("run");
    assert_eq!(*got.borrow(), vec![SIGUSR1]);
}

#[test]
fn mock_close_and_loop_drop() {
    let lp = mock_loop();
    let s = SignalHandle::new(&lp).expect("signal");
    let drops = Drops::new();
    let token = drops.token();
    s.start(SIGUSR1, move |_: &MockSignal, _| {
        let _ = &token;
    })
    .expect("start");
    let closed = Rc::new(Cell::new(false));
    let c = closed.clone();
    s.close_with(move |_| c.set(true));
    assert!(!closed.get());
    assert!(!lp.reactor().raise(SIGUSR1), "closed: nobody watches");
    assert!(matches!(
        s.start(SIGUSR1, |_, _| {}),
        Err(uzmq_core::Error::Closed)
    ));
    assert!(!lp.run(RunMode::Default).expect("run"));
    assert!(closed.get());
    assert_eq!(drops.live(), 0);

    let s2 = SignalHandle::new(&lp).expect("signal");
    let t = drops.token();
    s2.start(SIGUSR2, move |_: &MockSignal, _| {
        let _ = &t;
    })
    .expect("start");
    drop(lp);
    assert_eq!(drops.live(), 0, "the loop's drop drops callbacks uncalled");
    assert!(s2.is_closed());
    assert!(matches!(s2.stop(), Err(uzmq_core::Error::Closed)));
}

#[test]
fn mock_signal_raised_from_a_callback_waits_for_the_next_poll_phase() {
    let lp = mock_loop();
    let s = SignalHandle::new(&lp).expect("signal");
    let log: Rc<RefCell<Vec<u64>>> = Rc::default();
    let (l, r) = (log.clone(), lp.reactor().clone());
    s.start(SIGUSR1, move |s: &MockSignal, _| {
        l.borrow_mut().push(r.iterations());
        if l.borrow().len() < 3 {
            assert!(r.raise(SIGUSR1));
        } else {
            s.close();
        }
    })
    .expect("start");
    assert!(lp.reactor().raise(SIGUSR1));
    assert!(!lp.run(RunMode::Default).expect("run"));
    let log = log.borrow();
    assert_eq!(log.len(), 3);
    assert!(log.windows(2).all(|w| w[1] == w[0] + 1), "{log:?}");
}
