//! `Sender` on the real backends: 4 threads x 100,000 messages through one
//! channel arrive exactly once and in each thread's order; capacity bounds
//! what is handed over and not yet taken by libzmq; a blocked `send` is
//! released by close (`Closed`) and by a fatal error (ETERM); a live
//! sender keeps `run(Default)` going unless the handle is stopped;
//! `shutdown` sends what was handed over before it; and which error wins
//! when several apply.

use std::sync::{Arc, Barrier};
use std::time::Instant;

use tests::real::{
    LIMIT, blocking_socket, inproc, limit, run_until, socket, spawn_peer, terminate_in_thread,
};
use uzmq::{Error, Loop, RunMode, Sender, Zmq, zmq};

/// A PUSH handle bound to a fresh inproc endpoint (nobody connected: libzmq
/// takes nothing), and the endpoint.
fn lonely_push(lp: &Loop, ctx: &zmq::Context, tag: &str) -> (Zmq, String) {
    let push = socket(ctx, zmq::PUSH);
    let endpoint = inproc(tag);
    push.bind(&endpoint).unwrap();
    (Zmq::new(lp, push).unwrap(), endpoint)
}

/// Waits, without sleeping, until some thread is blocked in `sender.send`
/// (the sender's `Debug` shows how many are).
fn wait_blocked(sender: &Sender) {
    let deadline = Instant::now() + limit();
    while !format!("{sender:?}").contains("blocked: 1") {
        assert!(Instant::now() < deadline, "no sender blocked: {sender:?}");
        std::thread::yield_now();
    }
}

#[test]
fn sender_is_send_sync_clone_debug() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Sender>();
}

#[test]
fn four_threads_hand_over_100_000_messages_each_exactly_once_in_order() {
    const THREADS: u32 = 4;
    let per_thread: u32 = if tests::real::under_valgrind() {
        1_000
    } else {
        100_000
    };
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let endpoint = inproc("four-senders");
    let pull = socket(&ctx, zmq::PULL);
    pull.bind(&endpoint).unwrap();
    let push = socket(&ctx, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    let writer = Zmq::new(&lp, push).unwrap();
    let sender = writer.sender(1_000).unwrap();
    drop(writer); // the live sender keeps it working
    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let sender = sender.clone();
            spawn_peer(&format!("producer {t}"), move || {
                for seq in 0..per_thread {
                    let mut body = t.to_le_bytes().to_vec();
                    body.extend_from_slice(&seq.to_le_bytes());
                    sender.send(body).expect("send");
                }
            })
        })
        .collect();
    drop(sender);

    let reader = Zmq::new(&lp, pull).unwrap();
    let next = std::rc::Rc::new(std::cell::RefCell::new(vec![0u32; THREADS as usize]));
    let total = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let (n, tot) = (next.clone(), total.clone());
    let expected = u64::from(THREADS * per_thread);
    reader
        .start_read(move |h, msg| {
            let msg = msg.expect("message");
            let t = u32::from_le_bytes(msg[0][0..4].try_into().unwrap()) as usize;
            let seq = u32::from_le_bytes(msg[0][4..8].try_into().unwrap());
            let mut next = n.borrow_mut();
            assert_eq!(seq, next[t], "thread {t}'s order");
            next[t] += 1;
            tot.set(tot.get() + 1);
            if tot.get() == expected {
                h.close();
            }
        })
        .unwrap();
    run_until(&lp, limit() * 3, "every message to arrive", || {
        total.get() == expected
    });
    for p in producers {
        p.join(LIMIT);
    }
    // Nothing left: the reader closed, the senders are gone.
    lp.run(RunMode::Default).unwrap();
    assert_eq!(total.get(), expected);
    assert!(next.borrow().iter().all(|&n| n == per_thread));
}

#[test]
fn capacity_counts_messages_until_libzmq_takes_them() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let (writer, endpoint) = lonely_push(&lp, &ctx, "capacity");
    let sender = writer.sender(3).unwrap();
    for i in 0..3 {
        sender.try_send(vec![i]).unwrap();
    }
    assert!(matches!(sender.try_send("x"), Err(Error::QueueFull)));
    // The loop moves them into the write queue, where they wait: still
    // handed over and not taken, so still counted.
    for _ in 0..5 {
        lp.run(RunMode::NoWait).unwrap();
    }
    assert_eq!(writer.write_queue_size(), 3);
    assert!(matches!(sender.try_send("x"), Err(Error::QueueFull)));

    // A peer takes them: capacity comes back.
    let pull = blocking_socket(&ctx, zmq::PULL);
    pull.connect(&endpoint).unwrap();
    let mut got = Vec::new();
    run_until(&lp, limit(), "the three to arrive", || {
        while let Ok(msg) = pull.recv_bytes(zmq::DONTWAIT) {
            got.push(msg);
        }
        got.len() == 3
    });
    assert_eq!(got, [vec![0], vec![1], vec![2]]);
    run_until(&lp, limit(), "capacity to come back", || {
        sender.try_send("again").is_ok()
    });
    let mut fourth = None;
    run_until(&lp, limit(), "the fourth to arrive", || {
        if fourth.is_none() {
            fourth = pull.recv_bytes(zmq::DONTWAIT).ok();
        }
        fourth.is_some()
    });
    assert_eq!(fourth.as_deref(), Some(&b"again"[..]));
    drop(sender);
    writer.close();
    lp.run(RunMode::Default).unwrap();
}

#[test]
fn a_blocked_send_returns_closed_when_the_handle_closes() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let (writer, _endpoint) = lonely_push(&lp, &ctx, "blocked-close");
    let sender = writer.sender(1).unwrap();
    sender.send("first").unwrap();
    let s = sender.clone();
    let blocked = spawn_peer("blocked sender", move || s.send("second"));
    wait_blocked(&sender);
    writer.close();
    assert!(matches!(blocked.join(LIMIT), Err(Error::Closed)));
    assert!(sender.is_closed());
    assert!(matches!(sender.try_send("x"), Err(Error::Closed)));
    assert!(matches!(sender.send("x"), Err(Error::Closed)));
    lp.run(RunMode::Default).unwrap();
}

#[test]
fn a_blocked_send_returns_the_fatal_error() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let (writer, _endpoint) = lonely_push(&lp, &ctx, "blocked-eterm");
    let sender = writer.sender(1).unwrap();
    sender.send("first").unwrap();
    // The loop queues it: the handle now watches its socket.
    run_until(&lp, limit(), "the message to be queued", || {
        writer.write_queue_size() == 1
    });
    let s = sender.clone();
    let blocked = spawn_peer("blocked sender", move || s.send("second"));
    wait_blocked(&sender);
    let term = terminate_in_thread(&ctx);
    run_until(&lp, limit(), "the handle to fail with ETERM", || {
        sender.is_closed()
    });
    assert!(matches!(
        blocked.join(LIMIT),
        Err(Error::Zmq(zmq::Error::ETERM))
    ));
    assert!(matches!(
        sender.try_send("x"),
        Err(Error::Zmq(zmq::Error::ETERM))
    ));
    assert!(matches!(
        writer.sender(1),
        Err(Error::Zmq(zmq::Error::ETERM))
    ));
    writer.close();
    drop(writer);
    lp.run(RunMode::Default).unwrap();
    term.join(LIMIT).unwrap();
}

#[test]
fn a_live_sender_keeps_run_default_going_unless_the_handle_is_stopped() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let endpoint = inproc("live-sender");
    let pull = blocking_socket(&ctx, zmq::PULL);
    pull.bind(&endpoint).unwrap();
    let push = socket(&ctx, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    let writer = Zmq::new(&lp, push).unwrap();

    // Stopped: the sender keeps nothing alive.
    let sender = writer.sender(4).unwrap();
    writer.stop().unwrap();
    assert!(!writer.is_active());
    assert!(!lp.run(RunMode::Default).unwrap());

    // Writing: `run` waits for the sender, until its last clone goes.
    writer.write("resume").unwrap();
    assert!(writer.is_active());
    let go = Arc::new(Barrier::new(2));
    let g = go.clone();
    let producer = spawn_peer("producer", move || {
        g.wait();
        for i in 0..10u8 {
            sender.send(vec![i]).unwrap();
        }
        // Dropped here: the loop no longer waits.
    });
    let reader = spawn_peer("reader", move || {
        let first = pull.recv_bytes(0).unwrap();
        let rest: Vec<Vec<u8>> = (0..10).map(|_| pull.recv_bytes(0).unwrap()).collect();
        (first, rest)
    });
    go.wait();
    let started = Instant::now();
    assert!(!lp.run(RunMode::Default).unwrap());
    assert!(started.elapsed() < limit(), "run(Default) took too long");
    producer.join(LIMIT);
    let (first, rest) = reader.join(LIMIT);
    assert_eq!(first, b"resume");
    assert_eq!(rest, (0..10u8).map(|i| vec![i]).collect::<Vec<_>>());
    assert!(!writer.is_active());
}

#[test]
fn shutdown_sends_what_was_handed_over_before_it_then_refuses() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let (writer, endpoint) = lonely_push(&lp, &ctx, "shutdown");
    let sender = writer.sender(10).unwrap();
    for i in 0..5u8 {
        sender.try_send(vec![i]).unwrap();
    }
    let result = std::rc::Rc::new(std::cell::Cell::new(None));
    let r = result.clone();
    writer.shutdown(move |_, res| r.set(Some(res)));
    assert!(matches!(sender.try_send("late"), Err(Error::Closed)));
    assert!(sender.is_closed());
    let pull = blocking_socket(&ctx, zmq::PULL);
    pull.connect(&endpoint).unwrap();
    run_until(&lp, limit(), "the shutdown to end", || {
        result.get().is_some()
    });
    assert!(matches!(result.get(), Some(Ok(()))));
    for i in 0..5u8 {
        assert_eq!(pull.recv_bytes(0).unwrap(), vec![i]);
    }
    lp.run(RunMode::Default).unwrap();
}

#[test]
fn the_loops_drop_refuses_every_sender() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let (writer, _endpoint) = lonely_push(&lp, &ctx, "loop-drop");
    let sender = writer.sender(1).unwrap();
    sender.send("first").unwrap();
    let s = sender.clone();
    let blocked = spawn_peer("blocked sender", move || s.send("second"));
    wait_blocked(&sender);
    drop(lp);
    assert!(matches!(blocked.join(LIMIT), Err(Error::Closed)));
    assert!(sender.is_closed());
    assert!(matches!(writer.sender(1), Err(Error::Closed)));
}

#[test]
fn closed_wins_then_enotsup_then_the_rest() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let pull = Zmq::new(&lp, socket(&ctx, zmq::PULL)).unwrap();
    assert!(matches!(
        pull.sender(0),
        Err(Error::Zmq(zmq::Error::ENOTSUP))
    ));
    assert!(matches!(
        pull.sender(1),
        Err(Error::Zmq(zmq::Error::ENOTSUP))
    ));
    let push = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).unwrap();
    assert!(matches!(
        push.sender(0),
        Err(Error::Zmq(zmq::Error::EINVAL))
    ));
    let sender = push.sender(1).unwrap();
    assert!(matches!(
        sender.send_multipart(Vec::<Vec<u8>>::new()),
        Err(Error::Zmq(zmq::Error::EINVAL))
    ));
    assert!(matches!(
        sender.try_send_multipart(Vec::<Vec<u8>>::new()),
        Err(Error::Zmq(zmq::Error::EINVAL))
    ));

    // A closed PUSH: Closed, not ENOTSUP, for reading too.
    push.close();
    assert!(matches!(push.start_read(|_, _| {}), Err(Error::Closed)));
    assert!(matches!(push.sender(1), Err(Error::Closed)));
    // A PULL whose loop is gone: Closed, not ENOTSUP, for writing.
    drop(lp);
    assert!(matches!(pull.write("x"), Err(Error::Closed)));
    assert!(matches!(pull.sender(1), Err(Error::Closed)));
}
