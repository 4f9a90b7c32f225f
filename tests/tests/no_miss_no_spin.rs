//! Nothing missed, nothing spins, on libuv and libzmq: thousands of round trips where every write happens inside a read (or poll) callback (the classic edge-trigger hang of libzmq's `ZMQ_FD`), and idle handles that keep the loop asleep. The same rule on the mock backend: `prop_no_miss_no_spin.rs`.

use std::cell::Cell;
use std::rc::Rc;

use tests::real::{LIMIT, Transport, run_to_end, run_until, seq, seq_of, socket};
use uzmq::{Error, Events, Loop, Zmq, ZmqPoll, zmq};

const ROUND_TRIPS: u64 = 5_000;

/// Client `a` sends 0; `b` echoes every message from its read callback; `a`
/// checks the echo and sends the next number from its read callback.
fn stream_ping_pong(a_kind: zmq::SocketType, b_kind: zmq::SocketType, transport: Transport) {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let b = Zmq::new(&lp, socket(&ctx, b_kind)).expect("server handle");
    let endpoint = transport.bind(b.socket(), "ping-pong");
    b.start_read(|h, msg| {
        h.write_multipart(msg.expect("ping"))
            .expect("queue the pong");
    })
    .expect("server start_read");

    let a = Zmq::new(&lp, socket(&ctx, a_kind)).expect("client handle");
    a.socket().connect(&endpoint).expect("connect");
    let done = Rc::new(Cell::new(0u64));
    let count = done.clone();
    a.start_read(move |h, msg| {
        let n = seq_of(&msg.expect("pong")[0]);
        assert_eq!(n, count.get(), "pong out of order");
        count.set(n + 1);
        if n + 1 < ROUND_TRIPS {
            h.write(seq(n + 1)).expect("queue the next ping");
        }
    })
    .expect("client start_read");
    a.write(seq(0)).expect("first ping");

    let what = format!("{ROUND_TRIPS} round trips {a_kind:?}->{b_kind:?} over {transport:?}");
    run_until(&lp, LIMIT, &what, || done.get() == ROUND_TRIPS);
    a.close();
    b.close();
    run_to_end(&lp, LIMIT, "the handles to close");
}

#[test]
fn req_rep_stream_inproc() {
    stream_ping_pong(zmq::REQ, zmq::REP, Transport::Inproc);
}

#[test]
fn req_rep_stream_tcp() {
    stream_ping_pong(zmq::REQ, zmq::REP, Transport::Tcp);
}

#[test]
fn pair_stream_tcp() {
    stream_ping_pong(zmq::PAIR, zmq::PAIR, Transport::Tcp);
}

#[test]
fn pair_stream_inproc() {
    stream_ping_pong(zmq::PAIR, zmq::PAIR, Transport::Inproc);
}

#[test]
fn dealer_dealer_stream_tcp() {
    stream_ping_pong(zmq::DEALER, zmq::DEALER, Transport::Tcp);
}

#[test]
fn dealer_router_stream_tcp() {
    // The ROUTER's echo keeps the identity frame first: it routes back.
    stream_ping_pong(zmq::DEALER, zmq::ROUTER, Transport::Tcp);
}

/// A REP `ZmqPoll` server that receives and replies from its callback
/// (one request per callback: level triggering brings the next).
fn poll_echo_server(
    lp: &Loop,
    ctx: &zmq::Context,
    kind: zmq::SocketType,
    transport: Transport,
) -> (ZmqPoll, String) {
    let server = ZmqPoll::new(lp, socket(ctx, kind)).expect("server poll handle");
    let endpoint = transport.bind(server.socket(), "poll-ping-pong");
    server
        .start(Events::READABLE, |h, ev, err| {
            assert!(err.is_none(), "server poll error {err:?}");
            assert_eq!(ev, Events::READABLE);
            let request = h
                .socket()
                .recv_multipart(zmq::DONTWAIT)
                .expect("READABLE: a request");
            h.socket()
                .send_multipart(request, zmq::DONTWAIT)
                .expect("reply");
        })
        .expect("server start");
    (server, endpoint)
}

/// REQ/REP on two `ZmqPoll` handles: the client receives the reply and
/// sends the next request from its READABLE callback.
fn poll_ping_pong(transport: Transport) {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let (server, endpoint) = poll_echo_server(&lp, &ctx, zmq::REP, transport);
    let client = ZmqPoll::new(&lp, socket(&ctx, zmq::REQ)).expect("client poll handle");
    client.socket().connect(&endpoint).expect("connect");
    client.socket().send(seq(0), 0).expect("first request");
    let done = Rc::new(Cell::new(0u64));
    let count = done.clone();
    client
        .start(Events::READABLE, move |h, ev, err| {
            assert!(err.is_none(), "client poll error {err:?}");
            assert_eq!(ev, Events::READABLE);
            let reply = h
                .socket()
                .recv_bytes(zmq::DONTWAIT)
                .expect("READABLE: a reply");
            let n = seq_of(&reply);
            assert_eq!(n, count.get(), "reply out of order");
            count.set(n + 1);
            if n + 1 < ROUND_TRIPS {
                h.socket()
                    .send(seq(n + 1), zmq::DONTWAIT)
                    .expect("next request");
            } else {
                h.stop().expect("stop the client");
            }
        })
        .expect("client start");
    let what = format!("{ROUND_TRIPS} ZmqPoll round trips over {transport:?}");
    run_until(&lp, LIMIT, &what, || done.get() == ROUND_TRIPS);
    assert!(!client.is_active(), "the client stopped itself");
    client.close();
    server.close();
    run_to_end(&lp, LIMIT, "the poll handles to close");
}

#[test]
fn req_rep_poll_inproc() {
    poll_ping_pong(Transport::Inproc);
}

#[test]
fn req_rep_poll_tcp() {
    poll_ping_pong(Transport::Tcp);
}

/// A poll callback, boxed.
type PollCb = dyn FnMut(&ZmqPoll, Events, Option<Error>);

struct Client {
    sent: Cell<u64>,
    received: Cell<u64>,
}

/// The callback of a client that flips its own mask from inside the
/// callback: WRITABLE → send a request, switch to READABLE; READABLE →
/// receive the reply, switch back to WRITABLE (or stop when done).
fn flip_flop(state: Rc<Client>) -> Box<PollCb> {
    Box::new(move |h, ev, err| {
        assert!(err.is_none(), "client poll error {err:?}");
        if ev == Events::WRITABLE {
            assert_eq!(
                state.sent.get(),
                state.received.get(),
                "WRITABLE while a reply is due"
            );
            h.socket()
                .send(seq(state.sent.get()), zmq::DONTWAIT)
                .expect("WRITABLE: send");
            state.sent.set(state.sent.get() + 1);
            h.start(Events::READABLE, flip_flop(state.clone()))
                .expect("switch to READABLE");
        } else {
            assert_eq!(ev, Events::READABLE, "only the requested events");
            let reply = h
                .socket()
                .recv_bytes(zmq::DONTWAIT)
                .expect("READABLE: a reply");
            assert_eq!(seq_of(&reply), state.received.get(), "reply out of order");
            state.received.set(state.received.get() + 1);
            if state.received.get() == ROUND_TRIPS {
                h.stop().expect("stop");
            } else {
                h.start(Events::WRITABLE, flip_flop(state.clone()))
                    .expect("switch to WRITABLE");
            }
        }
    })
}

/// A DEALER `ZmqPoll` client that waits for WRITABLE before each request
/// and for READABLE before each reply, changing its mask (and callback)
/// from inside its callback, against a ROUTER `ZmqPoll` echo.
#[test]
fn poll_mask_switching_from_callbacks_tcp() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let (server, endpoint) = poll_echo_server(&lp, &ctx, zmq::ROUTER, Transport::Tcp);
    let client = ZmqPoll::new(&lp, socket(&ctx, zmq::DEALER)).expect("client poll handle");
    client.socket().connect(&endpoint).expect("connect");
    let state = Rc::new(Client {
        sent: Cell::new(0),
        received: Cell::new(0),
    });
    client
        .start(Events::WRITABLE, flip_flop(state.clone()))
        .expect("client start");
    run_until(&lp, LIMIT, "5000 mask-switching round trips", || {
        state.received.get() == ROUND_TRIPS
    });
    assert_eq!(state.sent.get(), ROUND_TRIPS);
    client.close();
    server.close();
    run_to_end(&lp, LIMIT, "the poll handles to close");
}

/// One `Zmq` (PAIR) and one `ZmqPoll` (PAIR) talking: the stream writes
/// from its read callback, the poll handle replies from its callback.
#[test]
fn stream_against_poll_pair_inproc() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let polled = ZmqPoll::new(&lp, socket(&ctx, zmq::PAIR)).expect("poll handle");
    let endpoint = Transport::Inproc.bind(polled.socket(), "stream-poll");
    polled
        .start(Events::READABLE, |h, _, err| {
            assert!(err.is_none());
            // Drain what is there: level triggering must not be relied on
            // for correctness, and draining must not make the handle sleep.
            while let Ok(msg) = h.socket().recv_bytes(zmq::DONTWAIT) {
                h.socket().send(msg, zmq::DONTWAIT).expect("echo");
            }
        })
        .expect("poll start");
    let stream = Zmq::new(&lp, socket(&ctx, zmq::PAIR)).expect("stream handle");
    stream.socket().connect(&endpoint).expect("connect");
    let done = Rc::new(Cell::new(0u64));
    let count = done.clone();
    stream
        .start_read(move |h, msg| {
            let n = seq_of(&msg.expect("echo")[0]);
            assert_eq!(n, count.get());
            count.set(n + 1);
            if n + 1 < ROUND_TRIPS {
                h.write(seq(n + 1)).expect("next");
            }
        })
        .expect("start_read");
    stream.write(seq(0)).expect("first");
    run_until(&lp, LIMIT, "5000 stream/poll round trips", || {
        done.get() == ROUND_TRIPS
    });
    stream.close();
    polled.close();
    run_to_end(&lp, LIMIT, "the handles to close");
}

/// Nothing spins: handles with nothing to do (reading idle sockets, a poll
/// on an idle socket, writes blocked with no peer) leave the loop blocked
/// in the kernel, so 50 ms of `RunMode::Once` take only a few iterations.
#[test]
fn idle_handles_do_not_spin() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let reader = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL");
    Transport::Tcp.bind(reader.socket(), "idle");
    reader
        .start_read(|_, _| panic!("no message expected"))
        .expect("start_read");
    let polled = ZmqPoll::new(&lp, socket(&ctx, zmq::SUB)).expect("poll");
    Transport::Inproc.bind(polled.socket(), "idle-poll");
    polled
        .start(Events::READABLE, |_, _, _| panic!("not readable"))
        .expect("start");
    let blocked = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH");
    Transport::Inproc.bind(blocked.socket(), "idle-push");
    for i in 0..10 {
        blocked.write(seq(i)).expect("queue (no peer: blocked)");
    }
    let iterations = tests::real::run_for(&lp, std::time::Duration::from_millis(50));
    assert!(
        iterations <= 10,
        "{iterations} loop iterations in 50 ms with nothing to do: something spins"
    );
    assert!(reader.is_active() && polled.is_active() && blocked.is_active());
    assert_eq!(blocked.write_queue_size(), 10);
    reader.close();
    polled.close();
    blocked.close();
    run_to_end(&lp, LIMIT, "the closes");
}
