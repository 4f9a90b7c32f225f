//! Faults arrive as `Error` values, never as a panic or a hang: context termination (ETERM), peers gone and back, impossible directions (ENOTSUP), bad arguments (EINVAL), rejected writes, REQ's state machine, panics and re-entrant runs in callbacks; and which refusal of `ZmqPoll::start` wins (module `poll_refusals`, also on the mock socket).

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Duration;

use tests::real::{
    Drops, LIMIT, Transport, blocking_socket, inproc, log, run_to_end, run_until,
    run_until_stopped, seq, seq_of, socket, spawn_peer, terminate_in_thread,
};
use uzmq::{Error, Events, Loop, RunMode, Timer, Zmq, ZmqPoll, zmq};

const ETERM: Error = Error::Zmq(zmq::Error::ETERM);

/// A PUSH/PULL pair on its own context, the PULL read through a `Zmq` on
/// `lp`: to show that other handles keep working. Returns (reader, the PUSH
/// socket, what was read).
fn bystander(lp: &Loop, ctx: &zmq::Context) -> (Zmq, zmq::Socket, tests::real::Log<u64>) {
    let endpoint = inproc("bystander");
    let reader = Zmq::new(lp, socket(ctx, zmq::PULL)).expect("bystander PULL");
    reader.socket().bind(&endpoint).expect("bind");
    let push = socket(ctx, zmq::PUSH);
    push.connect(&endpoint).expect("connect");
    let got = log();
    let g = got.clone();
    reader
        .start_read(move |_, msg| {
            g.borrow_mut()
                .push(seq_of(&msg.expect("bystander message")[0]))
        })
        .expect("bystander start_read");
    (reader, push, got)
}

/// The context of a reading `Zmq` (a DEALER with writes queued, no peer) is
/// terminated by another thread: the read callback gets `Err(ETERM)` once,
/// the queued writes' completions get it too, later calls return it; the
/// callback closes the handle, and once it is dropped the termination
/// finishes. Another handle on the loop keeps working throughout.
#[test]
fn eterm_on_a_reading_stream() {
    let doomed = zmq::Context::new();
    let other = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let (by, by_push, by_got) = bystander(&lp, &other);

    let h = Zmq::new(&lp, socket(&doomed, zmq::DEALER)).expect("DEALER");
    h.socket().bind(&inproc("eterm")).expect("bind");
    let events = log::<String>();
    for i in 0..2 {
        let ev = events.clone();
        h.write_with([seq(i)], move |_, r| {
            ev.borrow_mut().push(format!("done {i} {r:?}"))
        })
        .expect("queue");
    }
    let ev = events.clone();
    h.start_read(move |h, msg| {
        let err = msg.expect_err("no message is sent to this socket");
        ev.borrow_mut().push(format!("read {err:?}"));
        assert!(!h.is_reading(), "stopped for good");
        assert_eq!(h.write("x"), Err(ETERM), "write after ETERM");
        assert_eq!(
            h.start_read(|_, _| {}),
            Err(ETERM),
            "start_read after ETERM"
        );
        assert_eq!(h.flush(), Err(ETERM), "flush after ETERM");
        let e = ev.clone();
        h.close_with(move |_| e.borrow_mut().push("close".into()));
    })
    .expect("start_read");
    lp.run(RunMode::NoWait)
        .expect("run: the handle waits on its fd");

    let term = terminate_in_thread(&doomed);
    drop(doomed);
    run_until(&lp, LIMIT, "ETERM and the close", || {
        events.borrow().last().is_some_and(|e| e == "close")
    });
    let events = events.borrow().clone();
    assert_eq!(
        events.iter().filter(|e| e.starts_with("read")).count(),
        1,
        "the read callback got the error once: {events:?}"
    );
    assert!(events.contains(&format!("read {ETERM:?}")), "{events:?}");
    let done: Vec<&String> = events.iter().filter(|e| e.starts_with("done")).collect();
    let eterm = Err::<(), _>(ETERM);
    assert_eq!(
        done,
        [&format!("done 0 {eterm:?}"), &format!("done 1 {eterm:?}")],
        "queued writes got ETERM, in order"
    );
    assert_eq!(events.last().map(String::as_str), Some("close"));

    assert!(
        !term.wait(Duration::from_millis(50)),
        "the context terminated while a handle clone held the socket"
    );
    drop(h);
    term.join(LIMIT).expect("zmq_ctx_term");

    by_push.send(seq(7), 0).expect("bystander send");
    run_until(&lp, LIMIT, "the bystander's message", || {
        !by_got.borrow().is_empty()
    });
    assert_eq!(*by_got.borrow(), [7]);
    by.close();
    run_to_end(&lp, LIMIT, "the bystander to close");
}

/// The context of a `Zmq` that only writes (a PUSH with writes queued and
/// no peer; not reading) is terminated: the queued completions get ETERM in
/// order, later writes return it, closing and dropping the handle lets the
/// termination finish. And the same for a handle in `shutdown`: its writes
/// and then its callback get ETERM.
#[test]
fn eterm_on_writing_and_shutting_down_streams() {
    let doomed = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let events = log::<String>();
    let writer = Zmq::new(&lp, socket(&doomed, zmq::PUSH)).expect("PUSH");
    writer.socket().bind(&inproc("eterm-writer")).expect("bind");
    let closing = Zmq::new(&lp, socket(&doomed, zmq::PUSH)).expect("PUSH");
    closing
        .socket()
        .bind(&inproc("eterm-shutdown"))
        .expect("bind");
    for (name, h) in [("w", &writer), ("s", &closing)] {
        for i in 0..3 {
            let ev = events.clone();
            h.write_with([seq(i)], move |_, r| {
                ev.borrow_mut().push(format!("{name}{i} {r:?}"))
            })
            .expect("queue");
        }
    }
    let ev = events.clone();
    closing.shutdown(move |_, r| ev.borrow_mut().push(format!("shutdown {r:?}")));
    lp.run(RunMode::NoWait).expect("run: both wait on their fd");
    assert!(events.borrow().is_empty());

    let term = terminate_in_thread(&doomed);
    drop(doomed);
    run_until(&lp, LIMIT, "ETERM on both handles", || {
        events.borrow().len() == 7
    });
    let eterm = format!("{:?}", Err::<(), _>(ETERM));
    let mine = |prefix: &str| -> Vec<String> {
        events
            .borrow()
            .iter()
            .filter(|e| e.starts_with(prefix))
            .cloned()
            .collect()
    };
    assert_eq!(
        mine("w"),
        (0..3).map(|i| format!("w{i} {eterm}")).collect::<Vec<_>>()
    );
    let mut expected: Vec<String> = (0..3).map(|i| format!("s{i} {eterm}")).collect();
    expected.push(format!("shutdown {eterm}"));
    assert_eq!(
        mine("s"),
        expected,
        "the shutdown's writes, then its callback"
    );
    assert_eq!(writer.write("x"), Err(ETERM));
    assert_eq!(writer.write_queue_size(), 0);
    writer.close();
    run_to_end(&lp, LIMIT, "the closes");
    drop((writer, closing));
    term.join(LIMIT).expect("zmq_ctx_term");
}

/// The context of a started `ZmqPoll` is terminated by another thread: the
/// callback gets `(Events::empty(), Some(ETERM))` once, the handle stops
/// for good (`start` returns ETERM), and closing and dropping it lets the
/// termination finish.
#[test]
fn eterm_on_a_poll_handle() {
    let doomed = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let p = ZmqPoll::new(&lp, socket(&doomed, zmq::PULL)).expect("poll");
    p.socket().bind(&inproc("eterm-poll")).expect("bind");
    let calls = log::<(Events, Option<Error>)>();
    let c = calls.clone();
    p.start(Events::READABLE, move |_, ev, err| {
        c.borrow_mut().push((ev, err))
    })
    .expect("start");
    let term = terminate_in_thread(&doomed);
    drop(doomed);
    run_until(&lp, LIMIT, "the poll callback's ETERM", || {
        !calls.borrow().is_empty()
    });
    // A few more iterations: it must not be called again.
    let ticker = Timer::new(&lp).expect("timer");
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    ticker
        .start(Duration::ZERO, Duration::from_millis(1), move |_| {
            t.set(t.get() + 1)
        })
        .expect("ticker");
    run_until(&lp, LIMIT, "10 more iterations", || ticks.get() >= 10);
    ticker.close();
    assert_eq!(*calls.borrow(), [(Events::empty(), Some(ETERM))]);
    assert!(!p.is_active(), "stopped for good");
    assert!(!p.is_closed());
    let drops = Drops::new();
    let tk = drops.token();
    assert_eq!(
        p.start(Events::READABLE, move |_, _, _| {
            let _ = &tk;
        }),
        Err(ETERM)
    );
    let tk = drops.token();
    let r = p.start_with_timeout(
        Events::READABLE,
        Duration::from_millis(5),
        move |_, _, _| {
            let _ = &tk;
        },
    );
    assert_eq!(r, Err(ETERM));
    assert_eq!(drops.live(), 0, "refused callbacks are dropped");
    p.close();
    run_to_end(&lp, LIMIT, "the close");
    drop(p);
    term.join(LIMIT).expect("zmq_ctx_term");
}

/// A REQ handle written twice at once: the second request waits for the
/// first reply (no EFSM); completions and replies interleave as REQ allows.
#[test]
fn req_second_write_waits_for_the_reply() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let rep = blocking_socket(&ctx, zmq::REP);
    let endpoint = Transport::Tcp.bind(&rep, "req-twice");
    let server = spawn_peer("REP echo", move || {
        for _ in 0..3 {
            let request = rep.recv_multipart(0).expect("request (timed out?)");
            rep.send_multipart(request, 0).expect("reply");
        }
    });
    let req = Zmq::new(&lp, socket(&ctx, zmq::REQ)).expect("REQ");
    req.socket().connect(&endpoint).expect("connect");
    let events = log::<String>();
    for i in 0..3 {
        let ev = events.clone();
        req.write_with([seq(i)], move |_, r| {
            ev.borrow_mut().push(format!("sent {i} {r:?}"))
        })
        .expect("queue (no EFSM)");
    }
    let ev = events.clone();
    req.start_read(move |_, msg| {
        let n = seq_of(&msg.expect("reply (no EFSM)")[0]);
        ev.borrow_mut().push(format!("reply {n}"));
    })
    .expect("start_read");
    run_until(&lp, LIMIT, "3 replies", || events.borrow().len() == 6);
    let expected = [
        "sent 0 Ok(())",
        "reply 0",
        "sent 1 Ok(())",
        "reply 1",
        "sent 2 Ok(())",
        "reply 2",
    ];
    assert_eq!(*events.borrow(), expected);
    server.join(LIMIT);
    req.close();
    run_to_end(&lp, LIMIT, "the close");
}

/// A REP handle that answers later (from a timer), with two REQ clients: it
/// is handed the next request only after it replied (no EFSM), and each
/// reply goes to the client that asked.
#[test]
fn rep_with_deferred_replies() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let rep = Zmq::new(&lp, socket(&ctx, zmq::REP)).expect("REP");
    let endpoint = Transport::Inproc.bind(rep.socket(), "deferred");
    let pending = Rc::new(Cell::new(false));
    let order = log::<Vec<u8>>();
    let reply_timer = Timer::new(&lp).expect("timer");
    let (p, o, t) = (pending.clone(), order.clone(), reply_timer.clone());
    rep.start_read(move |h, msg| {
        let msg = msg.expect("request (no EFSM)");
        assert!(
            !p.get(),
            "a request was handed over before the previous reply"
        );
        p.set(true);
        o.borrow_mut().push(msg[0].to_vec());
        let (h, p) = (h.clone(), p.clone());
        let mut msg = Some(msg);
        t.start(Duration::from_millis(1), Duration::ZERO, move |_| {
            p.set(false);
            h.write_multipart(msg.take().expect("once")).expect("reply");
        })
        .expect("start the reply timer");
    })
    .expect("start_read");
    let mut clients = Vec::new();
    for name in ["a", "b"] {
        let req = Zmq::new(&lp, socket(&ctx, zmq::REQ)).expect("REQ");
        req.socket().connect(&endpoint).expect("connect");
        for i in 0..5 {
            req.write(format!("{name}{i}").as_str()).expect("queue");
        }
        let got = log::<String>();
        let g = got.clone();
        req.start_read(move |_, m| {
            g.borrow_mut()
                .push(m.expect("reply")[0].as_str().expect("utf-8").to_owned())
        })
        .expect("start_read");
        clients.push((name, req, got));
    }
    run_until(&lp, LIMIT, "10 deferred replies", || {
        clients.iter().all(|(_, _, got)| got.borrow().len() == 5)
    });
    for (name, req, got) in &clients {
        let expected: Vec<String> = (0..5).map(|i| format!("{name}{i}")).collect();
        assert_eq!(*got.borrow(), expected);
        req.close();
    }
    assert_eq!(order.borrow().len(), 10);
    rep.close();
    reply_timer.close();
    run_to_end(&lp, LIMIT, "the handles to close");
}

/// `write*` on PULL and SUB is `Err(ENOTSUP)`; `start_read` on PUSH and PUB
/// too; nothing changes and the callbacks are dropped uncalled.
#[test]
fn impossible_directions_are_enotsup() {
    const ENOTSUP: Error = Error::Zmq(zmq::Error::ENOTSUP);
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let drops = Drops::new();
    for kind in [zmq::PULL, zmq::SUB] {
        let h = Zmq::new(&lp, socket(&ctx, kind)).expect("handle");
        assert_eq!(h.write("x"), Err(ENOTSUP), "{kind:?} write");
        assert_eq!(
            h.write_multipart(["a", "b"]),
            Err(ENOTSUP),
            "{kind:?} write_multipart"
        );
        let t = drops.token();
        assert_eq!(
            h.write_with(["x"], move |_, _| drop(t)),
            Err(ENOTSUP),
            "{kind:?} write_with"
        );
        // Zero parts on a socket that cannot send: the type is checked first.
        assert_eq!(h.write_multipart(Vec::<Vec<u8>>::new()), Err(ENOTSUP));
        assert_eq!(h.write_queue_size(), 0);
        assert!(!h.is_active());
        h.start_read(|_, _| {}).expect("but it can read");
        h.close();
    }
    for kind in [zmq::PUSH, zmq::PUB] {
        let h = Zmq::new(&lp, socket(&ctx, kind)).expect("handle");
        let t = drops.token();
        assert_eq!(
            h.start_read(move |_, _| {
                let _ = &t;
            }),
            Err(ENOTSUP),
            "{kind:?} start_read"
        );
        assert!(!h.is_reading() && !h.is_active());
        h.write("x").expect("but it can write");
        h.close();
    }
    assert_eq!(drops.live(), 0, "refused callbacks are dropped");
    run_to_end(&lp, LIMIT, "the closes");
}

/// A multipart write of zero parts is `Err(EINVAL)` and queues nothing.
#[test]
fn zero_parts_is_einval() {
    const EINVAL: Error = Error::Zmq(zmq::Error::EINVAL);
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let h = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("DEALER");
    let drops = Drops::new();
    assert_eq!(h.write_multipart(Vec::<&str>::new()), Err(EINVAL));
    let t = drops.token();
    assert_eq!(
        h.write_with(std::iter::empty::<Vec<u8>>(), move |_, _| drop(t)),
        Err(EINVAL)
    );
    assert_eq!(drops.live(), 0);
    assert_eq!(h.write_queue_size(), 0);
    assert!(!h.is_active());
    h.close();
    run_to_end(&lp, LIMIT, "the close");
}

/// `ZmqPoll::start` with an empty mask (or only unknown bits) and
/// `start_with_timeout` with a zero timeout are `Err(EINVAL)`: the handle
/// keeps its old mask and callback (or stays unstarted).
#[test]
fn poll_start_einval_keeps_the_old_mask_and_callback() {
    const EINVAL: Error = Error::Zmq(zmq::Error::EINVAL);
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let p = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).expect("poll");
    let endpoint = Transport::Inproc.bind(p.socket(), "einval");
    let drops = Drops::new();
    let t = drops.token();
    assert_eq!(
        p.start(Events::empty(), move |_, _, _| {
            let _ = &t;
        }),
        Err(EINVAL)
    );
    assert!(
        !p.is_active(),
        "a refused start leaves the handle unstarted"
    );

    let calls = log::<(char, Events)>();
    let c = calls.clone();
    p.start(Events::READABLE, move |h, ev, err| {
        assert!(err.is_none());
        c.borrow_mut().push(('A', ev));
        h.socket()
            .recv_bytes(zmq::DONTWAIT)
            .expect("READABLE: a message");
    })
    .expect("start A");
    for bad in [Events::empty(), Events::from_bits_truncate(0x10)] {
        let t = drops.token();
        assert_eq!(
            p.start(bad, move |_, _, _| {
                let _ = &t;
            }),
            Err(EINVAL),
            "mask {:#x}",
            bad.bits()
        );
    }
    let t = drops.token();
    // READABLE: on this PULL, WRITABLE would be ENOTSUP, which comes first.
    let r = p.start_with_timeout(Events::READABLE, Duration::ZERO, move |_, _, _| {
        let _ = &t;
    });
    assert_eq!(r, Err(EINVAL));
    assert_eq!(drops.live(), 0, "refused callbacks are dropped uncalled");
    assert!(p.is_active());

    let push = socket(&ctx, zmq::PUSH);
    push.connect(&endpoint).expect("connect");
    push.send("m", 0).expect("send");
    run_until(&lp, LIMIT, "callback A", || !calls.borrow().is_empty());
    assert_eq!(
        *calls.borrow(),
        [('A', Events::READABLE)],
        "the old callback and mask"
    );
    p.close();
    run_to_end(&lp, LIMIT, "the close");
}

/// `start_with_timeout` on an idle socket calls back with `Events::empty()`
/// every timeout, then with READABLE when a message comes.
#[test]
fn start_with_timeout_on_an_idle_socket() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let p = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).expect("poll");
    let endpoint = Transport::Inproc.bind(p.socket(), "timeout");
    let push = socket(&ctx, zmq::PUSH);
    push.connect(&endpoint).expect("connect");
    let calls = log::<(Events, Option<Error>)>();
    let c = calls.clone();
    p.start_with_timeout(
        Events::READABLE,
        Duration::from_millis(5),
        move |h, ev, err| {
            c.borrow_mut().push((ev, err));
            if ev.contains(Events::READABLE) {
                h.socket().recv_bytes(zmq::DONTWAIT).expect("a message");
                h.stop().expect("stop");
            } else if c.borrow().len() == 3 {
                push.send("wake", 0).expect("send");
            }
        },
    )
    .expect("start_with_timeout");
    let started = std::time::Instant::now();
    run_until(&lp, LIMIT, "3 timeouts and a message", || !p.is_active());
    // The first timeout counts from libuv's cached loop time (it may come
    // early by wall clock); the next two are whole periods (ms granularity).
    assert!(
        started.elapsed() >= Duration::from_millis(8),
        "3 timeouts of 5 ms took {:?}",
        started.elapsed()
    );
    let calls = calls.borrow();
    assert_eq!(calls[..3], [(Events::empty(), None); 3]);
    assert_eq!(calls[3..], [(Events::READABLE, None)]);
    p.close();
    run_to_end(&lp, LIMIT, "the close");
}

/// Peers gone and back: a bound PULL `Zmq` reads from a peer that then
/// closes, and from a new one that connects; a bound REP `Zmq` serves a
/// REQ that goes away, then a new one. Everything sent arrives.
#[test]
fn peer_gone_and_back() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let pull = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL");
    let endpoint = Transport::Tcp.bind(pull.socket(), "peers");
    let got = log::<u64>();
    let g = got.clone();
    pull.start_read(move |_, msg| g.borrow_mut().push(seq_of(&msg.expect("message")[0])))
        .expect("start_read");
    let rep = Zmq::new(&lp, socket(&ctx, zmq::REP)).expect("REP");
    let rep_endpoint = Transport::Tcp.bind(rep.socket(), "rep-peers");
    rep.start_read(|h, msg| h.write_multipart(msg.expect("request")).expect("reply"))
        .expect("start_read");

    for round in 0..3u64 {
        let (ctx2, ep, rep_ep) = (ctx.clone(), endpoint.clone(), rep_endpoint.clone());
        let peer = spawn_peer("pushing peer", move || {
            let push = blocking_socket(&ctx2, zmq::PUSH);
            push.set_linger(5_000)
                .expect("linger: deliver before the close completes");
            push.connect(&ep).expect("connect");
            for i in 0..10 {
                push.send(seq(round * 10 + i), 0).expect("send");
            }
            let req = blocking_socket(&ctx2, zmq::REQ);
            req.connect(&rep_ep).expect("connect");
            for i in 0..3 {
                req.send(seq(i), 0).expect("request");
                assert_eq!(seq_of(&req.recv_bytes(0).expect("reply (timed out?)")), i);
            }
            // Both sockets close here: the peer is gone.
        });
        run_until(&lp, LIMIT, &format!("round {round}'s messages"), || {
            got.borrow().len() == (round as usize + 1) * 10
        });
        // The loop must run while the peer waits for its replies.
        run_until(&lp, LIMIT, "the peer to finish", || {
            peer.wait(Duration::ZERO)
        });
        peer.join(LIMIT);
    }
    assert_eq!(*got.borrow(), (0..30).collect::<Vec<_>>());
    pull.close();
    rep.close();
    run_to_end(&lp, LIMIT, "the closes");
}

/// A write libzmq rejects (ROUTER_MANDATORY, unknown peer: EHOSTUNREACH)
/// gets the error in its completion and the queue moves on.
#[test]
fn rejected_write_gets_its_error_and_the_queue_moves_on() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let router = Zmq::new(&lp, socket(&ctx, zmq::ROUTER)).expect("ROUTER");
    router
        .socket()
        .set_router_mandatory(true)
        .expect("ZMQ_ROUTER_MANDATORY");
    let endpoint = Transport::Inproc.bind(router.socket(), "mandatory");
    let hellos = log::<Vec<Vec<u8>>>();
    let h = hellos.clone();
    router
        .start_read(move |_, m| h.borrow_mut().push(tests::real::frames(&m.expect("hello"))))
        .expect("start_read");
    let dealer = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("DEALER");
    dealer.socket().set_identity(b"known").expect("identity");
    dealer.socket().connect(&endpoint).expect("connect");
    let got = log::<Vec<u8>>();
    let g = got.clone();
    dealer
        .start_read(move |_, m| g.borrow_mut().push(m.expect("message")[0].to_vec()))
        .expect("start_read");
    dealer.write("hello").expect("hello");
    run_until(&lp, LIMIT, "the hello", || !hellos.borrow().is_empty());
    assert_eq!(hellos.borrow()[0], [b"known".to_vec(), b"hello".to_vec()]);

    let results = log::<(u8, Result<(), Error>)>();
    for (i, to) in [
        (0u8, &b"nobody"[..]),
        (1, b"known"),
        (2, b"nobody"),
        (3, b"known"),
    ] {
        let r = results.clone();
        router
            .write_with([to, &[i][..]], move |_, res| r.borrow_mut().push((i, res)))
            .expect("queue");
    }
    run_until(&lp, LIMIT, "the two routed messages", || {
        got.borrow().len() == 2
    });
    let unreachable = Err(Error::Zmq(zmq::Error::EHOSTUNREACH));
    assert_eq!(
        *results.borrow(),
        [(0, unreachable), (1, Ok(())), (2, unreachable), (3, Ok(()))]
    );
    assert_eq!(
        *got.borrow(),
        [vec![1], vec![3]],
        "nothing of the rejected writes went out"
    );
    router.close();
    dealer.close();
    run_to_end(&lp, LIMIT, "the closes");
}

/// A panic in a read callback resumes from `Loop::run`; the loop and the
/// handle keep working: every later message arrives, once, in order.
#[test]
fn panic_in_read_callback_resumes_from_run() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let h = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL");
    let endpoint = Transport::Inproc.bind(h.socket(), "panic");
    let push = socket(&ctx, zmq::PUSH);
    push.connect(&endpoint).expect("connect");
    for i in 0..10 {
        push.send(seq(i), 0).expect("send");
    }
    let got = log::<u64>();
    let g = got.clone();
    h.start_read(move |_, msg| {
        let n = seq_of(&msg.expect("message")[0]);
        g.borrow_mut().push(n);
        if n == 3 {
            panic!("boom at 3");
        }
    })
    .expect("start_read");
    let panic = catch_unwind(AssertUnwindSafe(|| {
        run_until_stopped(&lp, LIMIT, "the read callback's panic")
    }))
    .expect_err("the panic resumed from Loop::run");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"boom at 3"));
    assert_eq!(*got.borrow(), [0, 1, 2, 3]);
    assert!(h.is_reading());

    run_until(&lp, LIMIT, "the messages after the panic", || {
        got.borrow().len() == 10
    });
    for i in 10..20 {
        push.send(seq(i), 0).expect("send");
    }
    run_until(&lp, LIMIT, "messages sent after the panic", || {
        got.borrow().len() == 20
    });
    assert_eq!(*got.borrow(), (0..20).collect::<Vec<_>>());
    h.close();
    run_to_end(&lp, LIMIT, "the close");
}

/// A panic in a poll callback and in a timer callback resume from
/// `Loop::run` too; the handles keep being called afterwards.
#[test]
fn panic_in_poll_and_timer_callbacks() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let p = ZmqPoll::new(&lp, socket(&ctx, zmq::PUB)).expect("poll");
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    p.start(Events::WRITABLE, move |_, _, _| {
        c.set(c.get() + 1);
        if c.get() == 2 {
            panic!("poll boom");
        }
    })
    .expect("start");
    let panic = catch_unwind(AssertUnwindSafe(|| {
        run_until_stopped(&lp, LIMIT, "the poll panic")
    }))
    .expect_err("the panic resumed from Loop::run");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"poll boom"));
    run_until(&lp, LIMIT, "poll callbacks after the panic", || {
        calls.get() >= 5
    });
    p.close();

    let t = Timer::new(&lp).expect("timer");
    let ticks = Rc::new(Cell::new(0));
    let k = ticks.clone();
    t.start(Duration::ZERO, Duration::from_millis(1), move |_| {
        k.set(k.get() + 1);
        if k.get() == 2 {
            panic!("timer boom");
        }
    })
    .expect("start");
    let panic = catch_unwind(AssertUnwindSafe(|| {
        run_until_stopped(&lp, LIMIT, "the timer panic")
    }))
    .expect_err("the panic resumed from Loop::run");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"timer boom"));
    run_until(&lp, LIMIT, "ticks after the panic", || ticks.get() >= 5);
    t.close();
    run_to_end(&lp, LIMIT, "the closes");
}

/// A panic in a completion run by `flush()` propagates from `flush()`; the
/// handle keeps working.
#[test]
fn panic_in_completion_propagates_from_flush() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let pull = socket(&ctx, zmq::PULL);
    let endpoint = inproc("flush-panic");
    pull.bind(&endpoint).expect("bind");
    let push = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH");
    push.socket().connect(&endpoint).expect("connect");
    push.write_with(["a"], |_, _| panic!("completion boom"))
        .expect("queue");
    push.write("b").expect("queue");
    let panic = catch_unwind(AssertUnwindSafe(|| push.flush()))
        .expect_err("the panic propagated from flush");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"completion boom"));
    assert_eq!(pull.recv_bytes(zmq::DONTWAIT).expect("a"), b"a");
    push.write("c").expect("queue after the panic");
    run_until(&lp, LIMIT, "the queue to drain", || {
        push.write_queue_size() == 0
    });
    assert_eq!(pull.recv_bytes(zmq::DONTWAIT).expect("b"), b"b");
    assert_eq!(pull.recv_bytes(zmq::DONTWAIT).expect("c"), b"c");
    push.close();
    run_to_end(&lp, LIMIT, "the close");
}

/// `Loop::run` from inside a callback of that loop is `Err(Reentrant)`, in
/// every mode; running *another* loop from inside a callback works.
#[test]
fn run_inside_a_callback() {
    let lp = Loop::new().expect("loop");
    let t = Timer::new(&lp).expect("timer");
    let results = log::<String>();
    let r = results.clone();
    t.start(Duration::ZERO, Duration::ZERO, move |t| {
        let lp = t.event_loop().expect("loop");
        for mode in [RunMode::NoWait, RunMode::Once, RunMode::Default] {
            r.borrow_mut().push(format!("{:?}", lp.run(mode)));
        }
        // Another loop, with a timer of its own, run to the end in here.
        let inner = Loop::new().expect("inner loop");
        let it = Timer::new(&inner).expect("inner timer");
        let fired = Rc::new(Cell::new(false));
        let f = fired.clone();
        it.start(Duration::from_millis(1), Duration::ZERO, move |_| {
            f.set(true)
        })
        .expect("inner start");
        let res = inner.run(RunMode::Default);
        r.borrow_mut()
            .push(format!("inner {res:?} fired={}", fired.get()));
        lp.stop();
    })
    .expect("start");
    run_until_stopped(&lp, LIMIT, "the timer");
    assert_eq!(
        *results.borrow(),
        [
            "Err(Reentrant)",
            "Err(Reentrant)",
            "Err(Reentrant)",
            "inner Ok(false) fired=true"
        ]
    );
    // The outer loop still runs.
    let t2 = Timer::new(&lp).expect("timer");
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    t2.start(Duration::ZERO, Duration::ZERO, move |_| f.set(true))
        .expect("start");
    run_until(&lp, LIMIT, "a timer after the re-entrant calls", || {
        fired.get()
    });
    run_to_end(&lp, LIMIT, "the end");
}

/// What `ZmqPoll::start` and `start_with_timeout` refuse, and which refusal
/// wins: closed first, then a direction the socket type can never have
/// (ENOTSUP), then the rest (a fatal error, an empty mask, a zero timeout);
/// a refused start leaves the handle as it was. On libzmq and on the mock
/// socket.
mod poll_refusals {
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
}
