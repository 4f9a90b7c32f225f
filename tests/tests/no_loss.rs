//! No loss, no duplicates, order kept, on libuv and libzmq: the zmq socket patterns through `Zmq` handles on both ends, every message arrives once, in order, frames intact. The same rule on the mock backend: `prop_no_loss.rs`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tests::real::{LIMIT, Transport, frames, log, run_to_end, run_until, seq, seq_of, socket};
use uzmq::{Loop, Timer, Zmq, zmq};

/// REQ → REP echo: the REQ's queued writes each wait for the previous
/// reply; every reply arrives once, in order.
fn req_rep(transport: Transport) {
    const N: u64 = 300;
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let server = Zmq::new(&lp, socket(&ctx, zmq::REP)).expect("REP handle");
    let endpoint = transport.bind(server.socket(), "req-rep");
    server
        .start_read(|h, msg| {
            h.write_multipart(msg.expect("request"))
                .expect("queue the reply");
        })
        .expect("REP start_read");

    let client = Zmq::new(&lp, socket(&ctx, zmq::REQ)).expect("REQ handle");
    client.socket().connect(&endpoint).expect("connect");
    let done = log();
    for i in 0..N {
        let done = done.clone();
        client
            .write_with([seq(i)], move |_, r| done.borrow_mut().push((i, r)))
            .expect("queue a request");
    }
    let replies = log();
    let seen = replies.clone();
    client
        .start_read(move |_, msg| seen.borrow_mut().push(seq_of(&msg.expect("reply")[0])))
        .expect("REQ start_read");

    run_until(
        &lp,
        LIMIT,
        &format!("{N} REQ/REP replies over {transport:?}"),
        || replies.borrow().len() >= N as usize,
    );
    assert_eq!(
        *replies.borrow(),
        (0..N).collect::<Vec<_>>(),
        "replies in order, once each"
    );
    let done = done.borrow();
    assert_eq!(done.len(), N as usize, "one completion per request");
    for (k, (i, r)) in done.iter().enumerate() {
        assert_eq!(
            (*i, *r),
            (k as u64, Ok(())),
            "completions in order, all Ok (no EFSM)"
        );
    }
    assert_eq!(client.write_queue_size(), 0);
    client.close();
    server.close();
    run_to_end(&lp, LIMIT, "the REQ and REP handles to close");
}

#[test]
fn req_rep_inproc() {
    req_rep(Transport::Inproc);
}

#[test]
fn req_rep_tcp() {
    req_rep(Transport::Tcp);
}

/// PUSH → PULL: N sequence numbers then a sentinel; the reader sees exactly
/// 0..N, then the sentinel (no loss, no duplicate, order kept).
fn push_pull(transport: Transport) {
    const N: u64 = 5_000;
    const END: u64 = u64::MAX;
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let pull = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL handle");
    let endpoint = transport.bind(pull.socket(), "push-pull");
    let got = log();
    let seen = got.clone();
    pull.start_read(move |_, msg| {
        let msg = msg.expect("message");
        assert_eq!(msg.len(), 1, "one frame per message");
        seen.borrow_mut().push(seq_of(&msg[0]));
    })
    .expect("PULL start_read");

    let push = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH handle");
    push.socket().connect(&endpoint).expect("connect");
    for i in (0..N).chain([END]) {
        push.write(seq(i)).expect("queue a message");
    }
    run_until(
        &lp,
        LIMIT,
        &format!("{N} PUSH/PULL messages over {transport:?}"),
        || got.borrow().last() == Some(&END),
    );
    let expected: Vec<u64> = (0..N).chain([END]).collect();
    assert_eq!(*got.borrow(), expected, "every message once, in order");
    assert_eq!(push.write_queue_size(), 0);
    assert!(
        !push.is_active(),
        "a PUSH with nothing queued is not active"
    );
    pull.close();
    push.close();
    run_to_end(&lp, LIMIT, "the PUSH and PULL handles to close");
}

#[test]
fn push_pull_inproc() {
    push_pull(Transport::Inproc);
}

#[test]
fn push_pull_tcp() {
    push_pull(Transport::Tcp);
}

/// PUB → SUB with topics: only the subscribed topics arrive, in order.
///
/// Subscriptions reach the publisher asynchronously, so the test first
/// publishes a "hello" on each subscribed topic every millisecond until the
/// SUB got one of each; then every topic interleaved, then a sentinel.
fn pub_sub(transport: Transport) {
    const N: u64 = 1_000;
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let publisher = Zmq::new(&lp, socket(&ctx, zmq::PUB)).expect("PUB handle");
    // PUB drops what exceeds its high-water mark (zmq semantics): none
    // here. Set before bind: tcp connections take the options of bind time.
    publisher.socket().set_sndhwm(0).expect("ZMQ_SNDHWM");
    let endpoint = transport.bind(publisher.socket(), "pub-sub");
    let subscriber = Zmq::new(&lp, socket(&ctx, zmq::SUB)).expect("SUB handle");
    subscriber.socket().set_rcvhwm(0).expect("ZMQ_RCVHWM");
    subscriber
        .socket()
        .set_subscribe(b"a.")
        .expect("subscribe a.");
    subscriber
        .socket()
        .set_subscribe(b"c.")
        .expect("subscribe c.");
    subscriber.socket().connect(&endpoint).expect("connect");

    let got = log::<(Vec<u8>, Vec<u8>)>();
    let seen = got.clone();
    subscriber
        .start_read(move |_, msg| {
            let msg = frames(&msg.expect("message"));
            assert_eq!(msg.len(), 2, "topic and body: {msg:?}");
            seen.borrow_mut().push((msg[0].clone(), msg[1].clone()));
        })
        .expect("SUB start_read");

    let hello = |topic: &[u8]| {
        let topic = topic.to_vec();
        let got = got.clone();
        move || {
            got.borrow()
                .iter()
                .any(|(t, b)| *t == topic && b == b"hello")
        }
    };
    let (has_a, has_c) = (hello(b"a."), hello(b"c."));
    let handshake = Timer::new(&lp).expect("timer");
    let pubh = publisher.clone();
    handshake
        .start(Duration::ZERO, Duration::from_millis(1), move |_| {
            for topic in ["a.", "c."] {
                pubh.write_multipart([topic, "hello"])
                    .expect("publish hello");
            }
        })
        .expect("start the handshake timer");
    run_until(
        &lp,
        LIMIT,
        &format!("both subscriptions over {transport:?}"),
        || has_a() && has_c(),
    );
    handshake.close();

    for i in 0..N {
        for topic in ["a.", "b.", "c."] {
            publisher
                .write_multipart([topic.as_bytes().to_vec(), seq(i)])
                .expect("publish");
        }
    }
    publisher.write_multipart(["b.", "end"]).expect("publish");
    publisher
        .write_multipart(["c.", "end"])
        .expect("publish the sentinel");
    run_until(
        &lp,
        LIMIT,
        &format!("the sentinel over {transport:?}"),
        || got.borrow().last().is_some_and(|(_, b)| b == b"end"),
    );

    let after_handshake: Vec<(Vec<u8>, Vec<u8>)> = got
        .borrow()
        .iter()
        .filter(|(_, b)| b != b"hello")
        .cloned()
        .collect();
    let mut expected = Vec::new();
    for i in 0..N {
        expected.push((b"a.".to_vec(), seq(i)));
        expected.push((b"c.".to_vec(), seq(i)));
    }
    expected.push((b"c.".to_vec(), b"end".to_vec()));
    assert!(
        after_handshake.iter().all(|(t, _)| t != b"b."),
        "an unsubscribed topic arrived"
    );
    assert_eq!(
        after_handshake, expected,
        "subscribed topics, once each, in order"
    );
    // The hellos all came before the first sequence message (one pipe, in order).
    let first_seq = got
        .borrow()
        .iter()
        .position(|(_, b)| b != b"hello")
        .expect("data");
    assert!(got.borrow()[first_seq..].iter().all(|(_, b)| b != b"hello"));

    publisher.close();
    subscriber.close();
    run_to_end(&lp, LIMIT, "the PUB and SUB handles to close");
}

#[test]
fn pub_sub_inproc() {
    pub_sub(Transport::Inproc);
}

#[test]
fn pub_sub_tcp() {
    pub_sub(Transport::Tcp);
}

/// The frames of DEALER message `i`: 1 to 5 frames, empty ones and a large
/// one among them.
fn dealer_frames(dealer: u8, i: u64) -> Vec<Vec<u8>> {
    let mut parts = vec![[&[dealer][..], &seq(i)].concat()];
    match i % 5 {
        0 => {}
        1 => parts.push(Vec::new()),
        2 => parts.extend([b"two".to_vec(), Vec::new(), b"four".to_vec()]),
        3 => parts.push(vec![i as u8; 100_000]),
        _ => parts.extend([Vec::new(), b"x".to_vec(), vec![7; 300], Vec::new()]),
    }
    parts
}

/// Two DEALERs and a ROUTER: multipart messages arrive with every frame
/// intact, the ROUTER sees each DEALER's identity, and routes replies (the
/// frames reversed) back to the right DEALER, in order.
fn dealer_router(transport: Transport) {
    const N: u64 = 200;
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let router = Zmq::new(&lp, socket(&ctx, zmq::ROUTER)).expect("ROUTER handle");
    router
        .socket()
        .set_router_mandatory(true)
        .expect("ZMQ_ROUTER_MANDATORY");
    let endpoint = transport.bind(router.socket(), "dealer-router");
    let at_router = log::<Vec<Vec<u8>>>();
    let seen = at_router.clone();
    router
        .start_read(move |h, msg| {
            let msg = frames(&msg.expect("request"));
            seen.borrow_mut().push(msg.clone());
            let mut reply = vec![msg[0].clone()];
            reply.extend(msg[1..].iter().rev().cloned());
            h.write_multipart(reply).expect("queue the reply");
        })
        .expect("ROUTER start_read");

    let mut dealers = Vec::new();
    let mut replies = Vec::new();
    for id in [b'A', b'B'] {
        let dealer = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("DEALER handle");
        dealer
            .socket()
            .set_identity(&[b'D', id])
            .expect("ZMQ_IDENTITY");
        dealer.socket().connect(&endpoint).expect("connect");
        let got = log::<Vec<Vec<u8>>>();
        let seen = got.clone();
        dealer
            .start_read(move |_, msg| seen.borrow_mut().push(frames(&msg.expect("reply"))))
            .expect("DEALER start_read");
        dealers.push((id, dealer));
        replies.push(got);
    }
    for i in 0..N {
        for (id, dealer) in &dealers {
            dealer
                .write_multipart(dealer_frames(*id, i))
                .expect("queue a request");
        }
    }
    run_until(
        &lp,
        LIMIT,
        &format!("{N} replies to each DEALER over {transport:?}"),
        || replies.iter().all(|r| r.borrow().len() >= N as usize),
    );

    for ((id, _), got) in dealers.iter().zip(&replies) {
        let expected: Vec<Vec<Vec<u8>>> = (0..N)
            .map(|i| dealer_frames(*id, i).into_iter().rev().collect())
            .collect();
        assert!(
            *got.borrow() == expected,
            "DEALER {} got its replies intact, in order",
            *id as char
        );
        let at_router: Vec<Vec<Vec<u8>>> = at_router
            .borrow()
            .iter()
            .filter(|m| m[0] == [b'D', *id])
            .map(|m| m[1..].to_vec())
            .collect();
        let sent: Vec<Vec<Vec<u8>>> = (0..N).map(|i| dealer_frames(*id, i)).collect();
        assert!(
            at_router == sent,
            "the ROUTER got DEALER {}'s frames intact, in order",
            *id as char
        );
    }
    assert_eq!(
        at_router.borrow().len(),
        2 * N as usize,
        "no duplicates at the ROUTER"
    );

    router.close();
    for (_, dealer) in &dealers {
        dealer.close();
    }
    run_to_end(&lp, LIMIT, "the DEALER and ROUTER handles to close");
}

#[test]
fn dealer_router_inproc() {
    dealer_router(Transport::Inproc);
}

#[test]
fn dealer_router_tcp() {
    dealer_router(Transport::Tcp);
}

/// A PAIR handle reading while it writes: both directions at once on one
/// socket, each in order.
#[test]
fn pair_both_directions_at_once() {
    const N: u64 = 2_000;
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let a = Zmq::new(&lp, socket(&ctx, zmq::PAIR)).expect("PAIR a");
    let endpoint = Transport::Tcp.bind(a.socket(), "pair");
    let b = Zmq::new(&lp, socket(&ctx, zmq::PAIR)).expect("PAIR b");
    b.socket().connect(&endpoint).expect("connect");
    let (at_a, at_b) = (log(), log());
    for (h, got) in [(&a, &at_a), (&b, &at_b)] {
        let seen = got.clone();
        h.start_read(move |_, msg| seen.borrow_mut().push(seq_of(&msg.expect("message")[0])))
            .expect("start_read");
    }
    let completions = Rc::new(Cell::new(0u64));
    for i in 0..N {
        let c = completions.clone();
        a.write_with([seq(i)], move |_, r| {
            r.expect("a's write");
            c.set(c.get() + 1);
        })
        .expect("queue on a");
        b.write(seq(N + i)).expect("queue on b");
    }
    run_until(&lp, LIMIT, "both directions of the PAIR", || {
        at_a.borrow().len() >= N as usize && at_b.borrow().len() >= N as usize
    });
    assert_eq!(*at_b.borrow(), (0..N).collect::<Vec<_>>());
    assert_eq!(*at_a.borrow(), (N..2 * N).collect::<Vec<_>>());
    assert_eq!(completions.get(), N);
    a.close();
    b.close();
    run_to_end(&lp, LIMIT, "the PAIR handles to close");
}

/// `flush()` bypasses the loop: it hands what can be received to the read
/// callback and sends what libzmq takes, running the completions, before it
/// returns; it returns how many messages it sent plus handed over.
#[test]
fn flush_reads_and_writes_now() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let a = Zmq::new(&lp, socket(&ctx, zmq::PAIR)).expect("PAIR a");
    let endpoint = Transport::Inproc.bind(a.socket(), "flush");
    let b = socket(&ctx, zmq::PAIR);
    b.connect(&endpoint).expect("connect");
    for i in 0..5 {
        b.send(seq(i), 0).expect("send");
    }
    let got = log::<u64>();
    let g = got.clone();
    a.start_read(move |_, msg| g.borrow_mut().push(seq_of(&msg.expect("message")[0])))
        .expect("start_read");
    assert!(got.borrow().is_empty(), "no callback inside start_read");
    let done = Rc::new(Cell::new(0));
    for i in 0..3 {
        let d = done.clone();
        a.write_with([seq(100 + i)], move |_, r| {
            r.expect("write");
            d.set(d.get() + 1);
        })
        .expect("queue");
    }
    assert_eq!(a.flush().expect("flush"), 8, "3 sent + 5 handed over");
    assert_eq!(*got.borrow(), [0, 1, 2, 3, 4]);
    assert_eq!(done.get(), 3);
    assert_eq!(a.write_queue_size(), 0);
    for i in 0..3 {
        assert_eq!(
            seq_of(&b.recv_bytes(zmq::DONTWAIT).expect("sent by flush")),
            100 + i
        );
    }
    assert_eq!(a.flush().expect("flush"), 0, "nothing left either way");
    a.close();
    run_to_end(&lp, LIMIT, "the close");
}
