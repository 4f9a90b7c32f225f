//! What `ZmqPoll::start` and `start_with_timeout` refuse, and which refusal wins: closed first, then a direction the socket type can never have (ENOTSUP), then the rest (a fatal error, an empty mask, a zero timeout); a refused start leaves the handle as it was. On libzmq and on the mock socket.

use std::time::Duration;

use tests::real::{limit, run_to_end, run_until, socket};
use uzmq::{Error, Events, Loop, ZmqPoll, zmq};
use uzmq_core::mock::{MockConfig, MockKind, MockReactor, mock_pair};
use uzmq_core::{EventLoop, PollHandle, RunMode};

const R: Events = Events::READABLE;
const W: Events = Events::WRITABLE;
const MS: Duration = Duration::from_millis(1);

fn enotsup<T: std::fmt::Debug>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::Zmq(zmq::Error::ENOTSUP)))
}

fn einval<T: std::fmt::Debug>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::Zmq(zmq::Error::EINVAL)))
}

/// Each socket type with the directions it never has.
fn impossible() -> [(zmq::SocketType, Events); 4] {
    [(zmq::PULL, W), (zmq::SUB, W), (zmq::PUSH, R), (zmq::PUB, R)]
}

#[test]
fn a_direction_the_socket_type_lacks_is_enotsup() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    for (kind, bad) in impossible() {
        let h = ZmqPoll::new(&lp, socket(&ctx, kind)).expect("handle");
        let cb = |_: &ZmqPoll, _, _| panic!("a refused callback is never called");
        assert!(enotsup(h.start(bad, cb)), "{kind:?} {bad:?}");
        assert!(enotsup(h.start(R | W, cb)), "{kind:?} both");
        assert!(enotsup(h.start_with_timeout(bad, MS, cb)), "{kind:?}");
        // ENOTSUP comes before the zero timeout's EINVAL.
        assert!(enotsup(h.start_with_timeout(bad, Duration::ZERO, cb)));
        assert!(!h.is_active(), "{kind:?}: left stopped");
        // The possible direction works; the empty mask stays EINVAL.
        assert!(einval(h.start(Events::empty(), cb)));
        let good = (R | W) & !bad;
        h.start(good, |_, _, _| {}).expect("the possible direction");
        // A refused restart keeps the started handle as it was.
        assert!(enotsup(h.start(bad, cb)));
        assert!(h.is_active(), "{kind:?}: still started");
        h.close();
        assert!(
            matches!(h.start(bad, cb), Err(Error::Closed)),
            "closed wins"
        );
    }
    run_to_end(&lp, limit(), "the closes");
}

#[test]
fn a_refused_restart_keeps_the_old_callback() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let endpoint = tests::real::inproc("poll-refusal");
    let pull = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL");
    pull.socket().bind(&endpoint).expect("bind");
    let got = std::rc::Rc::new(std::cell::Cell::new(0));
    let g = got.clone();
    pull.start(R, move |h, events, err| {
        assert!(err.is_none() && events == R);
        h.socket().recv_bytes(zmq::DONTWAIT).expect("recv");
        g.set(g.get() + 1);
    })
    .expect("start");
    assert!(enotsup(
        pull.start(W, |_, _, _| { panic!("the refused callback ran") })
    ));
    let push = socket(&ctx, zmq::PUSH);
    push.connect(&endpoint).expect("connect");
    push.send("one", 0).expect("send");
    run_until(&lp, limit(), "the message, at the old callback", || {
        got.get() == 1
    });
    pull.close();
    run_to_end(&lp, limit(), "the close");
}

#[test]
fn enotsup_comes_before_a_fatal_error() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let h = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL");
    let failed = std::rc::Rc::new(std::cell::Cell::new(false));
    let f = failed.clone();
    h.start(R, move |_, _, err| {
        if err.is_some() {
            f.set(true);
        }
    })
    .expect("start");
    let term = tests::real::terminate_in_thread(&ctx);
    drop(ctx);
    run_until(&lp, limit(), "the ETERM report", || failed.get());
    assert!(matches!(
        h.start(R, |_, _, _| {}),
        Err(Error::Zmq(zmq::Error::ETERM))
    ));
    assert!(enotsup(h.start(W, |_, _, _| {})));
    h.close();
    run_to_end(&lp, limit(), "the close");
    // The socket is released with the handle's last clone.
    drop(h);
    term.join(limit()).expect("zmq_ctx_term");
}

// ---- the same on the mock socket ----

type MockPoll = PollHandle<MockReactor, uzmq_core::mock::MockSocket>;

fn mock_handle(lp: &EventLoop<MockReactor>, kind: MockKind) -> MockPoll {
    let (socket, _peer) = mock_pair(kind, MockConfig::default(), 0);
    PollHandle::new(lp, socket).expect("handle")
}

#[test]
fn mock_a_direction_the_socket_type_lacks_is_enotsup() {
    let lp = EventLoop::new(MockReactor::new(0));
    let cases = [
        (MockKind::Pull, W),
        (MockKind::Sub, W),
        (MockKind::Push, R),
        (MockKind::Pub, R),
    ];
    for (kind, bad) in cases {
        let h = mock_handle(&lp, kind);
        let cb = |_: &MockPoll, _, _| panic!("a refused callback is never called");
        assert!(enotsup(h.start(bad, cb)), "{kind:?}");
        assert!(enotsup(h.start(R | W, cb)), "{kind:?}");
        assert!(enotsup(h.start_with_timeout(bad, MS, cb)), "{kind:?}");
        assert!(enotsup(h.start_with_timeout(bad, Duration::ZERO, cb)));
        assert!(!h.is_active());
        assert!(einval(h.start(Events::empty(), cb)));
        let good = (R | W) & !bad;
        assert!(einval(h.start_with_timeout(good, Duration::ZERO, cb)));
        h.start(good, |_, _, _| {}).expect("the possible direction");
        assert!(enotsup(h.start(bad, cb)));
        assert!(h.is_active());
        h.close();
        assert!(matches!(h.start(bad, cb), Err(Error::Closed)));
    }
    lp.run(RunMode::NoWait).expect("run");
    let h = mock_handle(&lp, MockKind::Pull);
    drop(lp);
    assert!(
        matches!(h.start(W, |_, _, _| {}), Err(Error::Closed)),
        "loop gone wins"
    );
}
