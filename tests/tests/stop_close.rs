//! Stop and close, from anywhere: after `stop` no callbacks, after `close` none but the cancelled writes' `Err(Closed)` in order and the close callback; graceful `shutdown`; calls on closed handles. On libuv and libzmq; the same rule on the mock backend: `prop_stop_close.rs`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tests::real::{
    Drops, LIMIT, Log, Transport, blocking_socket, inproc, log, run_for, run_to_end, run_until,
    run_until_stopped, seq, seq_of, socket, spawn_peer,
};
use uzmq::{Error, Events, Loop, RunMode, Timer, Zmq, ZmqPoll, zmq};

/// A PULL socket with `n` sequence numbers waiting in it (inproc, no
/// high-water mark), and the PUSH that sent them (keep it).
fn prequeued(ctx: &zmq::Context, n: u64) -> (zmq::Socket, zmq::Socket) {
    let endpoint = inproc("closing");
    let pull = socket(ctx, zmq::PULL);
    pull.set_rcvhwm(0).expect("ZMQ_RCVHWM");
    pull.bind(&endpoint).expect("bind");
    let push = socket(ctx, zmq::PUSH);
    push.set_sndhwm(0).expect("ZMQ_SNDHWM");
    push.connect(&endpoint).expect("connect");
    for i in 0..n {
        push.send(seq(i), zmq::DONTWAIT).expect("queue");
    }
    (pull, push)
}

/// Logs `"read N"` for every message.
fn logging_reader(
    events: &Log<String>,
) -> impl FnMut(&Zmq, uzmq::Result<uzmq::Multipart>) + 'static {
    let events = events.clone();
    move |_, msg| {
        let n = seq_of(&msg.expect("message")[0]);
        events.borrow_mut().push(format!("read {n}"));
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// `close_with` from the read callback, in the middle of a batch: no read
/// callback after it, the close callback once, from the loop.
#[test]
fn close_in_read_callback() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let (pull, _push) = prequeued(&ctx, 100);
    let h = Zmq::new(&lp, pull).expect("handle");
    let events = log::<String>();
    let ev = events.clone();
    h.start_read(move |h, msg| {
        let n = seq_of(&msg.expect("message")[0]);
        ev.borrow_mut().push(format!("read {n}"));
        if n == 9 {
            let e = ev.clone();
            h.close_with(move |_| e.borrow_mut().push("close".into()));
            ev.borrow_mut().push("close() returned".into());
            assert!(h.is_closed() && !h.is_reading());
        }
    })
    .expect("start_read");
    run_to_end(&lp, LIMIT, "the handle to close");
    let mut expected: Vec<String> = (0..10).map(|n| format!("read {n}")).collect();
    expected.extend(strings(&["close() returned", "close"]));
    assert_eq!(*events.borrow(), expected);
    assert!(h.is_closed() && !h.is_active() && !h.is_reading());
}

/// `stop_read` from the read callback mid-batch: no more reads, the rest
/// stays in the socket, and a later `start_read` gets it all, in order.
#[test]
fn stop_read_in_read_callback_keeps_the_rest() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let (pull, _push) = prequeued(&ctx, 100);
    let h = Zmq::new(&lp, pull).expect("handle");
    let got = log::<u64>();
    let g = got.clone();
    h.start_read(move |h, msg| {
        let n = seq_of(&msg.expect("message")[0]);
        g.borrow_mut().push(n);
        if n == 9 {
            h.stop_read().expect("stop_read");
        }
    })
    .expect("start_read");
    run_until(&lp, LIMIT, "10 messages", || got.borrow().len() >= 10);
    assert!(!h.is_reading() && !h.is_active());
    run_for(&lp, Duration::from_millis(20));
    assert_eq!(
        got.borrow().len(),
        10,
        "a read callback ran after stop_read"
    );
    assert!(!lp.alive(), "a stopped handle keeps nothing armed");

    let g = got.clone();
    h.start_read(move |h, msg| {
        let n = seq_of(&msg.expect("message")[0]);
        g.borrow_mut().push(n);
        if n == 49 {
            h.stop().expect("stop (reading and writing)");
        }
    })
    .expect("start_read again");
    run_until(&lp, LIMIT, "50 messages", || got.borrow().len() >= 50);
    run_for(&lp, Duration::from_millis(20));
    assert_eq!(
        *got.borrow(),
        (0..50).collect::<Vec<_>>(),
        "no read after stop"
    );

    let g = got.clone();
    h.start_read(move |_, msg| g.borrow_mut().push(seq_of(&msg.expect("message")[0])))
        .expect("start_read again");
    run_until(&lp, LIMIT, "all 100 messages", || got.borrow().len() >= 100);
    assert_eq!(
        *got.borrow(),
        (0..100).collect::<Vec<_>>(),
        "nothing lost by stopping"
    );
    h.close();
    run_to_end(&lp, LIMIT, "the handle to close");
}

/// Ten writes with completions; the fourth's completion closes the handle:
/// the first four got `Ok`, the six still queued get `Err(Closed)` in order
/// (from the loop, after `close` returned), then the close callback.
#[test]
fn close_in_write_completion() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let pull = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL");
    let endpoint = Transport::Inproc.bind(pull.socket(), "close-in-completion");
    let push = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH");
    push.socket().connect(&endpoint).expect("connect");
    let events = log::<String>();
    for i in 0..10 {
        let ev = events.clone();
        push.write_with([seq(i)], move |h, r| {
            ev.borrow_mut().push(format!("done {i} {r:?}"));
            if i == 3 {
                let e = ev.clone();
                h.close_with(move |_| e.borrow_mut().push("close".into()));
                ev.borrow_mut().push("close() returned".into());
                assert_eq!(h.write(seq(99)), Err(Error::Closed));
            }
        })
        .expect("queue");
    }
    let got = log::<u64>();
    let g = got.clone();
    pull.start_read(move |_, msg| g.borrow_mut().push(seq_of(&msg.expect("message")[0])))
        .expect("start_read");
    run_until(&lp, LIMIT, "the PUSH to close", || {
        events.borrow().last().is_some_and(|e| e == "close")
    });
    let mut expected: Vec<String> = (0..4).map(|i| format!("done {i} Ok(())")).collect();
    expected.push("close() returned".into());
    expected.extend((4..10).map(|i| format!("done {i} Err(Closed)")));
    expected.push("close".into());
    assert_eq!(*events.borrow(), expected);
    run_until(&lp, LIMIT, "the 4 sent messages", || {
        got.borrow().len() >= 4
    });
    run_for(&lp, Duration::from_millis(10));
    assert_eq!(
        *got.borrow(),
        [0, 1, 2, 3],
        "only the writes completed Ok were sent"
    );
    pull.close();
    run_to_end(&lp, LIMIT, "the handles to close");
}

/// Queued writes (no peer, nothing can go) cancelled by `close_with`:
/// nothing runs inside `close_with`; from the loop, every completion gets
/// `Err(Closed)` in queue order, then the close callback, once.
#[test]
fn close_cancels_queued_writes_in_order() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let push = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH");
    Transport::Inproc.bind(push.socket(), "cancel");
    let events = log::<String>();
    for i in 0..5 {
        let ev = events.clone();
        push.write_with([seq(i)], move |_, r| {
            ev.borrow_mut().push(format!("done {i} {r:?}"))
        })
        .expect("queue");
    }
    push.write(seq(5)).expect("queue without callback");
    push.write_multipart([seq(6), seq(7)])
        .expect("queue without callback");
    let ev = events.clone();
    push.write_with([seq(8)], move |_, r| {
        ev.borrow_mut().push(format!("done 8 {r:?}"))
    })
    .expect("queue");
    lp.run(RunMode::NoWait).expect("run");
    assert_eq!(push.write_queue_size(), 8, "no peer: nothing sent");
    assert!(push.is_active());

    let ev = events.clone();
    push.close_with(move |h| {
        assert!(h.is_closed());
        ev.borrow_mut().push("close".into());
    });
    assert!(
        events.borrow().is_empty(),
        "a callback ran inside close_with"
    );
    assert!(push.is_closed() && !push.is_reading());
    assert!(push.is_active(), "completion callbacks are still to run");
    run_to_end(&lp, LIMIT, "the close to complete");
    let mut expected: Vec<String> = (0..5).map(|i| format!("done {i} Err(Closed)")).collect();
    expected.extend(strings(&["done 8 Err(Closed)", "close"]));
    assert_eq!(*events.borrow(), expected);
    assert!(!push.is_active());
    assert_eq!(push.write_queue_size(), 0);
}

/// `close` from a poll callback while the socket stays readable: no poll
/// callback after it, the close callback once. `stop` from a poll callback:
/// none until `start`.
#[test]
fn stop_and_close_in_poll_callback() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let (pull, _push) = prequeued(&ctx, 10);
    let h = ZmqPoll::new(&lp, pull).expect("poll handle");
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    h.start(Events::READABLE, move |h, ev, err| {
        assert!(err.is_none() && ev == Events::READABLE);
        c.set(c.get() + 1);
        h.stop().expect("stop");
        assert!(!h.is_active());
    })
    .expect("start");
    run_until(&lp, LIMIT, "the first poll callback", || calls.get() == 1);
    run_for(&lp, Duration::from_millis(20));
    assert_eq!(
        calls.get(),
        1,
        "a poll callback ran after stop (the socket is still readable)"
    );
    assert!(!lp.alive());

    let events = log::<String>();
    let ev = events.clone();
    h.start(Events::READABLE, move |h, _, _| {
        ev.borrow_mut().push("poll".into());
        let e = ev.clone();
        h.close_with(move |_| e.borrow_mut().push("close".into()));
    })
    .expect("start again");
    run_to_end(&lp, LIMIT, "the poll handle to close");
    assert_eq!(*events.borrow(), strings(&["poll", "close"]));
    assert!(h.is_closed());
}

/// A timer's third tick closes a reading `Zmq` (messages still pending),
/// itself, and stops the loop: no read callback after the close, no tick
/// after its own close, and `run(Default)` returns.
#[test]
fn close_and_stop_in_timer_callback() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let (pull, push) = prequeued(&ctx, 1);
    let reader = Zmq::new(&lp, pull).expect("handle");
    let events = log::<String>();
    reader
        .start_read(logging_reader(&events))
        .expect("start_read");
    let timer = Timer::new(&lp).expect("timer");
    let ticks = Rc::new(Cell::new(0));
    let (t, ev, r) = (ticks.clone(), events.clone(), reader.clone());
    timer
        .start(
            Duration::from_millis(1),
            Duration::from_millis(1),
            move |timer| {
                t.set(t.get() + 1);
                ev.borrow_mut().push(format!("tick {}", t.get()));
                if t.get() == 3 {
                    let e = ev.clone();
                    r.close_with(move |_| e.borrow_mut().push("reader closed".into()));
                    let e = ev.clone();
                    timer.close_with(move |_| e.borrow_mut().push("timer closed".into()));
                    timer.event_loop().expect("loop").stop();
                }
            },
        )
        .expect("start the timer");
    // More messages arrive while the timer runs.
    let still_alive = run_until_stopped(&lp, LIMIT, "the timer to stop the loop");
    assert!(
        still_alive,
        "the closes were still to complete when run returned"
    );
    for i in 1..50 {
        push.send(seq(i), zmq::DONTWAIT).expect("send");
    }
    run_to_end(&lp, LIMIT, "the closes to complete");
    let events = events.borrow();
    let close_at = events.iter().position(|e| e == "tick 3").expect("tick 3");
    assert_eq!(
        events[close_at + 1..],
        strings(&["reader closed", "timer closed"])
    );
    assert!(events.contains(&"read 0".to_string()));
    assert_eq!(ticks.get(), 3);
    assert!(timer.is_closed() && reader.is_closed());
}

/// `Loop::stop` from a read callback, a write completion and a poll
/// callback: each time `run(Default)` returns; the next run carries on.
#[test]
fn loop_stop_in_callbacks() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let (pull, push) = prequeued(&ctx, 0);
    let reader = Zmq::new(&lp, pull).expect("handle");
    let got = log::<u64>();
    let g = got.clone();
    reader
        .start_read(move |h, msg| {
            g.borrow_mut().push(seq_of(&msg.expect("message")[0]));
            h.event_loop().expect("loop").stop();
        })
        .expect("start_read");
    for k in 0..3 {
        push.send(seq(k), zmq::DONTWAIT).expect("send");
        assert!(run_until_stopped(
            &lp,
            LIMIT,
            "a read callback to stop the loop"
        ));
        assert_eq!(*got.borrow(), (0..=k).collect::<Vec<_>>());
    }
    reader.close();

    // From a write completion.
    let endpoint = inproc("stop-in-completion");
    let sink = socket(&ctx, zmq::PULL);
    sink.bind(&endpoint).expect("bind");
    let writer = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH");
    writer.socket().connect(&endpoint).expect("connect");
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    writer
        .write_with(["x"], move |h, r| {
            r.expect("write");
            d.set(true);
            h.event_loop().expect("loop").stop();
        })
        .expect("queue");
    run_until_stopped(&lp, LIMIT, "a completion to stop the loop");
    assert!(done.get());
    writer.close();

    // From a poll callback.
    let polled = ZmqPoll::new(&lp, socket(&ctx, zmq::PUB)).expect("poll");
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    polled
        .start(Events::WRITABLE, move |h, _, _| {
            c.set(c.get() + 1);
            h.event_loop().expect("loop").stop();
        })
        .expect("start");
    assert!(run_until_stopped(
        &lp,
        LIMIT,
        "a poll callback to stop the loop"
    ));
    assert_eq!(calls.get(), 1, "uv_stop: run returned after the iteration");
    assert!(run_until_stopped(
        &lp,
        LIMIT,
        "a poll callback to stop the loop"
    ));
    assert_eq!(calls.get(), 2);
    polled.close();
    drop(push);
    run_to_end(&lp, LIMIT, "the handles to close");
}

/// `shutdown` with writes queued before any peer exists: the handle is
/// closing at once (calls refused, getters work), sends everything once a
/// peer connects, runs every completion (`Ok`, in order), then its callback
/// with `Ok(())`; the peer received every message, in order.
#[test]
fn shutdown_drains_then_closes() {
    const N: u64 = 1_000;
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let push = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH");
    // Delivery after close: let libzmq flush what it took.
    push.socket().set_linger(5_000).expect("ZMQ_LINGER");
    push.socket().set_sndhwm(10).expect("ZMQ_SNDHWM");
    let endpoint = Transport::Tcp.bind(push.socket(), "shutdown");
    let events = log::<String>();
    for i in 0..N {
        let ev = events.clone();
        push.write_with([seq(i)], move |_, r| {
            ev.borrow_mut().push(format!("done {i} {r:?}"))
        })
        .expect("queue");
    }
    push.stop().expect("stop: shutdown sends even when stopped");
    let ev = events.clone();
    push.shutdown(move |h, r| {
        assert!(h.is_closed());
        ev.borrow_mut().push(format!("shutdown {r:?}"));
    });
    assert!(events.borrow().is_empty(), "a callback ran inside shutdown");
    assert!(push.is_closed() && push.is_active());
    assert_eq!(push.write_queue_size(), N as usize);
    assert_eq!(push.write(seq(N)), Err(Error::Closed));
    assert_eq!(push.stop(), Err(Error::Closed));
    assert_eq!(push.flush(), Err(Error::Closed));
    let drops = Drops::new();
    let token = drops.token();
    push.shutdown(move |_, _| drop(token));
    assert_eq!(
        drops.live(),
        0,
        "a second shutdown's callback is dropped uncalled"
    );

    let peer_socket = blocking_socket(&ctx, zmq::PULL);
    let peer = spawn_peer("shutdown peer", move || {
        peer_socket.connect(&endpoint).expect("connect");
        (0..N)
            .map(|_| seq_of(&peer_socket.recv_bytes(0).expect("receive (timed out?)")))
            .collect::<Vec<u64>>()
    });
    run_until(&lp, LIMIT, "the shutdown callback", || {
        events
            .borrow()
            .last()
            .is_some_and(|e| e.starts_with("shutdown"))
    });
    let mut expected: Vec<String> = (0..N).map(|i| format!("done {i} Ok(())")).collect();
    expected.push("shutdown Ok(())".into());
    assert_eq!(*events.borrow(), expected);
    assert_eq!(push.write_queue_size(), 0);
    assert_eq!(
        peer.join(LIMIT),
        (0..N).collect::<Vec<_>>(),
        "the peer got everything, in order"
    );
    run_to_end(&lp, LIMIT, "the shutdown to complete");
    assert!(!push.is_active() && push.is_closed());
}

/// `shutdown` with nothing queued: its callback runs from the loop (not
/// inside the call) with `Ok(())`.
#[test]
fn shutdown_with_nothing_queued() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let h = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("DEALER");
    h.start_read(|_, _| panic!("no message expected"))
        .expect("start_read");
    let result = log::<Result<(), Error>>();
    let r = result.clone();
    h.shutdown(move |_, res| r.borrow_mut().push(res));
    assert!(
        result.borrow().is_empty(),
        "shutdown called back inside the call"
    );
    assert!(!h.is_reading(), "shutdown stops reading");
    run_to_end(&lp, LIMIT, "the shutdown");
    assert_eq!(*result.borrow(), [Ok(())]);
}

/// Every call on a closed handle (closing, then closed) is `Err(Closed)`
/// and drops its callback uncalled; `close`, `close_with` and `shutdown`
/// again do nothing; the getters keep working.
#[test]
fn calls_after_close() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let h = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("DEALER");
    let closes = Rc::new(Cell::new(0));
    let c = closes.clone();
    h.close_with(move |_| c.set(c.get() + 1));
    let drops = Drops::new();

    let check = |stage: &str| {
        let t = drops.token();
        assert_eq!(h.write("x"), Err(Error::Closed), "{stage}: write");
        assert_eq!(
            h.write_multipart(["a", "b"]),
            Err(Error::Closed),
            "{stage}: write_multipart"
        );
        assert_eq!(
            h.write_with(["x"], move |_, _| drop(t)),
            Err(Error::Closed),
            "{stage}: write_with"
        );
        let t = drops.token();
        assert_eq!(
            h.start_read(move |_, _| {
                let _ = &t;
            }),
            Err(Error::Closed),
            "{stage}: start_read"
        );
        assert_eq!(h.stop_read(), Err(Error::Closed), "{stage}: stop_read");
        assert_eq!(h.stop(), Err(Error::Closed), "{stage}: stop");
        assert_eq!(h.flush(), Err(Error::Closed), "{stage}: flush");
        let t = drops.token();
        h.close_with(move |_| drop(t));
        h.close();
        let t = drops.token();
        h.shutdown(move |_, _| drop(t));
        assert_eq!(drops.live(), 0, "{stage}: a refused call kept its callback");
        // Getters.
        assert!(h.is_closed() && !h.is_reading(), "{stage}");
        assert_eq!(h.write_queue_size(), 0);
        assert_eq!(
            h.socket().get_socket_type().expect("socket type"),
            zmq::DEALER
        );
        assert!(h.event_loop().expect("the loop is there") == lp);
        h.set_read_batch(5);
        h.set_write_queue_limit(Some(1));
    };
    check("closing");
    run_to_end(&lp, LIMIT, "the close");
    assert_eq!(closes.get(), 1, "the close callback ran once");
    check("closed");
    run_to_end(&lp, LIMIT, "nothing");
    assert_eq!(closes.get(), 1);

    // On a closed handle, Closed wins over a socket-type refusal.
    let pull = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL");
    assert_eq!(pull.write("x"), Err(Error::Zmq(zmq::Error::ENOTSUP)));
    pull.close();
    assert_eq!(pull.write("x"), Err(Error::Closed));
    let push = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH");
    assert_eq!(
        push.start_read(|_, _| {}),
        Err(Error::Zmq(zmq::Error::ENOTSUP))
    );
    push.close();
    assert_eq!(push.start_read(|_, _| {}), Err(Error::Closed));

    // ZmqPoll and Timer.
    let p = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).expect("poll");
    let pcloses = Rc::new(Cell::new(0));
    let pc = pcloses.clone();
    p.close_with(move |_| pc.set(pc.get() + 1));
    let t = drops.token();
    p.close_with(move |_| drop(t));
    let t = drops.token();
    assert_eq!(
        p.start(Events::READABLE, move |_, _, _| {
            let _ = &t;
        }),
        Err(Error::Closed)
    );
    let t = drops.token();
    let r = p.start_with_timeout(
        Events::READABLE,
        Duration::from_millis(1),
        move |_, _, _| {
            let _ = &t;
        },
    );
    assert_eq!(r, Err(Error::Closed));
    assert_eq!(p.stop(), Err(Error::Closed));
    assert!(p.is_closed());
    assert_eq!(p.socket().get_socket_type().expect("type"), zmq::PULL);
    let timer = Timer::new(&lp).expect("timer");
    let tcloses = Rc::new(Cell::new(0));
    let tc = tcloses.clone();
    timer.close_with(move |_| tc.set(tc.get() + 1));
    timer.close();
    let t = drops.token();
    assert_eq!(
        timer.start(Duration::ZERO, Duration::ZERO, move |_| {
            let _ = &t;
        }),
        Err(Error::Closed)
    );
    assert_eq!(timer.stop(), Err(Error::Closed));
    assert!(timer.is_closed());
    assert_eq!(drops.live(), 0);
    run_to_end(&lp, LIMIT, "the closes");
    assert_eq!(
        (pcloses.get(), tcloses.get()),
        (1, 1),
        "close callbacks once each"
    );
    assert!(timer.event_loop().is_ok() && p.event_loop().is_ok());
}

/// `stop` pauses writing (queued writes stay queued, the handle is not
/// active); a new write resumes it; `start_read` resumes it too; `flush`
/// sends while stopped and runs the completions before it returns.
#[test]
fn stop_pauses_writes_until_write_or_start_read() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let a = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("DEALER a");
    let endpoint = Transport::Inproc.bind(a.socket(), "stop-writes");
    let b = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("DEALER b");
    b.socket().connect(&endpoint).expect("connect");
    let got = log::<u64>();
    let g = got.clone();
    b.start_read(move |_, msg| g.borrow_mut().push(seq_of(&msg.expect("message")[0])))
        .expect("start_read");

    for i in 0..5 {
        a.write(seq(i)).expect("queue");
    }
    a.stop().expect("stop");
    assert_eq!(a.write_queue_size(), 5);
    run_for(&lp, Duration::from_millis(20));
    assert!(got.borrow().is_empty(), "a stopped handle sent");
    assert_eq!(a.write_queue_size(), 5);
    assert!(!a.is_active(), "stopped, with writes queued: not active");

    a.write(seq(5)).expect("a write resumes writing");
    assert!(a.is_active());
    run_until(&lp, LIMIT, "6 messages", || got.borrow().len() == 6);
    assert_eq!(*got.borrow(), (0..6).collect::<Vec<_>>());

    for i in 6..9 {
        a.write(seq(i)).expect("queue");
    }
    a.stop().expect("stop");
    run_for(&lp, Duration::from_millis(20));
    assert_eq!(got.borrow().len(), 6);
    a.start_read(|_, _| {}).expect("start_read resumes writing");
    run_until(&lp, LIMIT, "9 messages", || got.borrow().len() == 9);
    assert_eq!(*got.borrow(), (0..9).collect::<Vec<_>>());

    a.stop().expect("stop");
    let done = log::<u64>();
    for i in 9..12 {
        let d = done.clone();
        a.write_with([seq(i)], move |_, r| {
            r.expect("write");
            d.borrow_mut().push(i);
        })
        .expect("queue");
    }
    a.stop().expect("stop again");
    let sent = a.flush().expect("flush");
    assert_eq!(sent, 3, "flush sends while stopped");
    assert_eq!(
        *done.borrow(),
        [9, 10, 11],
        "flush ran the completions before returning"
    );
    assert_eq!(a.write_queue_size(), 0);
    run_until(&lp, LIMIT, "12 messages", || got.borrow().len() == 12);
    assert_eq!(*got.borrow(), (0..12).collect::<Vec<_>>());
    a.close();
    b.close();
    run_to_end(&lp, LIMIT, "the handles to close");
}

/// `(is_reading, is_active, is_closed)`.
fn state(h: &Zmq) -> (bool, bool, bool) {
    (h.is_reading(), h.is_active(), h.is_closed())
}

/// `is_reading` / `is_active` / `is_closed` of a `Zmq` through its life,
/// each checked once the loop ran an iteration after the call.
#[test]
fn zmq_state_transitions() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let h = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("DEALER");
    let settled = |h: &Zmq| {
        lp.run(RunMode::NoWait).expect("run");
        state(h)
    };
    assert_eq!(state(&h), (false, false, false), "new");
    assert!(!lp.alive(), "a new handle keeps nothing armed");
    h.start_read(|_, _| {}).expect("start_read");
    assert_eq!(state(&h), (true, true, false), "reading");
    assert_eq!(settled(&h), (true, true, false), "reading");
    h.stop_read().expect("stop_read");
    assert_eq!(settled(&h), (false, false, false), "stopped reading");
    assert!(!lp.alive(), "a stopped handle keeps nothing armed");
    h.write("x").expect("queue (no peer: stays queued)");
    assert_eq!(state(&h), (false, true, false), "writes queued");
    assert_eq!(settled(&h), (false, true, false), "writes still queued");
    h.stop().expect("stop");
    assert_eq!(
        settled(&h),
        (false, false, false),
        "stopped with writes queued"
    );
    assert!(!lp.alive());
    h.start_read(|_, _| {}).expect("start_read");
    assert_eq!(settled(&h), (true, true, false));
    h.write_with(["y"], |_, _| {})
        .expect("queue with completion");
    h.close();
    assert!(!h.is_reading() && h.is_closed());
    assert!(h.is_active(), "completions still to run");
    run_to_end(&lp, LIMIT, "the close");
    assert_eq!(state(&h), (false, false, true), "closed");
}

/// `is_active` follows its documented rule as soon as the call returns: not
/// reading, and no write queued (or writes paused by `stop`), is inactive.
#[test]
fn zmq_inactive_right_after_stop() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let h = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("DEALER");
    h.start_read(|_, _| {}).expect("start_read");
    h.stop_read().expect("stop_read");
    assert_eq!(state(&h), (false, false, false), "right after stop_read");
    h.write("x").expect("queue (no peer: stays queued)");
    h.stop().expect("stop");
    assert_eq!(
        state(&h),
        (false, false, false),
        "right after stop with writes queued"
    );
    h.close();
    run_to_end(&lp, LIMIT, "the close");
}

/// `is_active` / `is_closed` of a `ZmqPoll` and a `Timer`, up to the close.
#[test]
fn poll_and_timer_state_transitions() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let p = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).expect("poll");
    assert_eq!((p.is_active(), p.is_closed()), (false, false));
    p.start(Events::READABLE, |_, _, _| {}).expect("start");
    assert_eq!((p.is_active(), p.is_closed()), (true, false));
    p.stop().expect("stop");
    assert_eq!((p.is_active(), p.is_closed()), (false, false));
    let t = Timer::new(&lp).expect("timer");
    assert_eq!((t.is_active(), t.is_closed()), (false, false));
    t.start(Duration::from_millis(1), Duration::ZERO, |_| {})
        .expect("start");
    assert_eq!((t.is_active(), t.is_closed()), (true, false));
    run_until(&lp, LIMIT, "the one-shot timer", || !t.is_active());
    assert!(
        !t.is_closed(),
        "a fired one-shot timer is inactive, not closed"
    );
    p.close();
    t.close();
    assert!(p.is_closed() && t.is_closed());
    run_to_end(&lp, LIMIT, "the closes");
    assert!(!p.is_active() && !t.is_active());
}

/// As in libuv (`uv_is_active` is false once `uv_close` was called): a
/// started `ZmqPoll` or `Timer` is not active any more once `close` returned.
#[test]
fn poll_and_timer_inactive_once_closing() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let p = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).expect("poll");
    p.start(Events::READABLE, |_, _, _| {}).expect("start");
    let t = Timer::new(&lp).expect("timer");
    t.start(Duration::from_secs(1), Duration::ZERO, |_| {})
        .expect("start");
    p.close();
    t.close();
    assert!(p.is_closed() && t.is_closed());
    assert_eq!(
        (p.is_active(), t.is_active()),
        (false, false),
        "(ZmqPoll::is_active(), Timer::is_active()) after close()"
    );
    run_to_end(&lp, LIMIT, "the closes");
}

/// A callback of one handle stops, closes, writes to and starts another.
#[test]
fn callbacks_drive_other_handles() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let (pull_a, push_a) = prequeued(&ctx, 3);
    let (pull_b, _push_b) = prequeued(&ctx, 1_000);
    let a = Zmq::new(&lp, pull_a).expect("a");
    let b = Zmq::new(&lp, pull_b).expect("b");
    let b_events = log::<String>();
    b.start_read(logging_reader(&b_events))
        .expect("b start_read");
    // One message per iteration each: b's stop, restart and close come in
    // different iterations, with b's turns in between.
    a.set_read_batch(1);
    b.set_read_batch(1);
    // A relay: a's callback writes what it reads to c, which a PULL reads.
    let endpoint = inproc("relay");
    let c = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("c");
    c.socket().bind(&endpoint).expect("bind");
    let d = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("d");
    d.socket().connect(&endpoint).expect("connect");
    let relayed = log::<u64>();

    let (b2, c2, d2, be, rel) = (
        b.clone(),
        c.clone(),
        d.clone(),
        b_events.clone(),
        relayed.clone(),
    );
    a.start_read(move |_, msg| {
        let msg = msg.expect("message");
        let n = seq_of(&msg[0]);
        c2.write_multipart(msg).expect("relay");
        match n {
            0 => {
                b2.stop_read().expect("stop b");
                be.borrow_mut().push("b stopped".into());
                let rel = rel.clone();
                d2.start_read(move |_, m| rel.borrow_mut().push(seq_of(&m.expect("relayed")[0])))
                    .expect("start d");
            }
            1 => {
                b2.start_read(logging_reader(&be)).expect("restart b");
                be.borrow_mut().push("b restarted".into());
            }
            _ => {
                let e = be.clone();
                b2.close_with(move |_| e.borrow_mut().push("b closed".into()));
                be.borrow_mut().push("close b returned".into());
            }
        }
    })
    .expect("a start_read");
    run_until(&lp, LIMIT, "3 relayed messages and b closed", || {
        relayed.borrow().len() == 3 && b_events.borrow().last().is_some_and(|e| e == "b closed")
    });
    assert_eq!(*relayed.borrow(), [0, 1, 2]);
    let events = b_events.borrow();
    let stopped = events
        .iter()
        .position(|e| e == "b stopped")
        .expect("stopped");
    let restarted = events
        .iter()
        .position(|e| e == "b restarted")
        .expect("restarted");
    let closing = events
        .iter()
        .position(|e| e == "close b returned")
        .expect("closing");
    assert!(
        events[stopped + 1..restarted].is_empty(),
        "b read while stopped: {:?}",
        &events[stopped + 1..restarted]
    );
    assert_eq!(
        events[closing + 1..],
        strings(&["b closed"]),
        "b read after close"
    );
    // b's reads are in order, without gaps, across the stop/start.
    let reads: Vec<u64> = events
        .iter()
        .filter_map(|e| e.strip_prefix("read ").map(|n| n.parse().expect("number")))
        .collect();
    assert_eq!(reads, (0..reads.len() as u64).collect::<Vec<_>>());
    drop(events);
    for h in [&a, &c, &d] {
        h.close();
    }
    drop(push_a);
    run_to_end(&lp, LIMIT, "the handles to close");
}
