//! No step without progress, on libuv and libzmq: sockets whose
//! `ZMQ_POLLOUT` means "some message can be sent", not "this one" (a ROUTER
//! with `ZMQ_ROUTER_MANDATORY` writing to a peer at its HWM while another
//! has room, an XPUB with `ZMQ_XPUB_NODROP` and a subscriber that does not
//! read, a STREAM whose TCP client does not read). The write waits at the
//! head of the queue while the loop keeps turning (a 1 ms timer keeps
//! ticking), goes out once the peer reads, and `run` returns afterwards.
//!
//! Each scenario runs its loop on a thread of its own, joined with a
//! bounded wait: a step that never returns would freeze the loop and its
//! own watchdog timer with it, so the test thread is the one to notice.

use std::cell::Cell;
use std::io::Read;
use std::net::TcpStream;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use tests::real::{
    Log, frames, inproc, limit, log, run_to_end, run_until, seq, seq_of, socket, spawn_peer,
};
use uzmq::{Loop, Timer, Zmq, zmq};

/// How many ticks of a 1 ms timer show that the loop keeps turning while a
/// write waits: a frozen loop gives none.
const TICKS: usize = 50;

/// A 1 ms repeating timer counting its ticks.
fn ticker(lp: &Loop) -> (Timer, Rc<Cell<usize>>) {
    let timer = Timer::new(lp).expect("timer");
    let ticks = Rc::new(Cell::new(0));
    let count = ticks.clone();
    timer
        .start(
            Duration::from_millis(1),
            Duration::from_millis(1),
            move |_| {
                count.set(count.get() + 1);
            },
        )
        .expect("start the ticker");
    (timer, ticks)
}

/// Runs `lp` until the ticker ticked [`TICKS`] more times.
fn keep_ticking(lp: &Loop, ticks: &Rc<Cell<usize>>, what: &str) {
    let target = ticks.get() + TICKS;
    run_until(lp, limit(), what, || ticks.get() >= target);
}

/// A reading handle that logs every message's frames.
fn reading(lp: &Loop, socket: zmq::Socket) -> (Zmq, Log<Vec<Vec<u8>>>) {
    let h = Zmq::new(lp, socket).expect("handle");
    let got = log();
    let sink = got.clone();
    h.start_read(move |_, msg| sink.borrow_mut().push(frames(&msg.expect("receive"))))
        .expect("start_read");
    (h, got)
}

#[test]
fn router_mandatory_write_for_a_full_peer_keeps_the_loop_turning() {
    const N: u64 = 20;
    spawn_peer("router loop", || {
        let ctx = zmq::Context::new();
        let lp = Loop::new().expect("loop");
        let router = socket(&ctx, zmq::ROUTER);
        router
            .set_router_mandatory(true)
            .expect("ZMQ_ROUTER_MANDATORY");
        router.set_sndhwm(2).expect("ZMQ_SNDHWM");
        let endpoint = inproc("router-mandatory");
        router.bind(&endpoint).expect("bind");
        let dealer = |id: &[u8]| {
            let d = socket(&ctx, zmq::DEALER);
            d.set_identity(id).expect("ZMQ_ROUTING_ID");
            d.set_rcvhwm(2).expect("ZMQ_RCVHWM");
            d.connect(&endpoint).expect("connect");
            d.send("hello", 0).expect("hello");
            d
        };
        let (fast, slow) = (dealer(b"fast"), dealer(b"slow"));
        let (h, hellos) = reading(&lp, router);
        run_until(&lp, limit(), "both hellos", || hellos.borrow().len() == 2);

        // More than the slow peer's pipe holds, then one for the fast peer
        // behind them: POLLOUT stays set (the fast pipe has room) while the
        // head message cannot go.
        for i in 0..N {
            h.write_multipart([b"slow".to_vec(), seq(i)])
                .expect("write");
        }
        h.write_multipart([&b"fast"[..], b"after"]).expect("write");
        let (timer, ticks) = ticker(&lp);
        keep_ticking(
            &lp,
            &ticks,
            "timer ticks while writes wait for the slow peer",
        );
        assert!(
            h.write_queue_size() > 1,
            "the slow peer's pipe is full, so writes wait"
        );
        assert_eq!(
            fast.recv_bytes(zmq::DONTWAIT),
            Err(zmq::Error::EAGAIN),
            "the fast peer's message is behind the waiting one"
        );

        // The slow peer reads: the waiting writes go, in order, then the
        // fast peer's.
        let got = log();
        let sink = got.clone();
        run_until(&lp, limit(), "the slow peer reads every message", || {
            while let Ok(body) = slow.recv_bytes(zmq::DONTWAIT) {
                sink.borrow_mut().push(seq_of(&body));
            }
            sink.borrow().len() == N as usize
        });
        assert_eq!(*got.borrow(), (0..N).collect::<Vec<_>>());
        let mut after = None;
        run_until(&lp, limit(), "the fast peer's message", || {
            after = fast.recv_bytes(zmq::DONTWAIT).ok();
            after.is_some()
        });
        assert_eq!(after.as_deref(), Some(&b"after"[..]));
        assert_eq!(h.write_queue_size(), 0);
        timer.close();
        h.close();
        run_to_end(&lp, limit(), "run to return once the handles closed");
    })
    .join(limit());
}

#[test]
fn xpub_nodrop_write_for_a_slow_subscriber_keeps_the_loop_turning() {
    const N: u64 = 20;
    spawn_peer("xpub loop", || {
        let ctx = zmq::Context::new();
        let lp = Loop::new().expect("loop");
        let mut xpub = socket(&ctx, zmq::XPUB);
        uzmq::set_int_option(&mut xpub, zmq_sys::ZMQ_XPUB_NODROP, 1).expect("ZMQ_XPUB_NODROP");
        xpub.set_sndhwm(2).expect("ZMQ_SNDHWM");
        let endpoint = inproc("xpub-nodrop");
        xpub.bind(&endpoint).expect("bind");
        let sub = socket(&ctx, zmq::SUB);
        sub.set_rcvhwm(2).expect("ZMQ_RCVHWM");
        sub.set_subscribe(b"").expect("subscribe");
        sub.connect(&endpoint).expect("connect");
        let (h, subscriptions) = reading(&lp, xpub);
        run_until(&lp, limit(), "the subscription", || {
            subscriptions.borrow().len() == 1
        });

        // An XPUB is always POLLOUT; with NODROP a full subscriber makes
        // the send fail with EAGAIN instead of dropping the message.
        for i in 0..N {
            h.write(seq(i)).expect("write");
        }
        let (timer, ticks) = ticker(&lp);
        keep_ticking(
            &lp,
            &ticks,
            "timer ticks while writes wait for the subscriber",
        );
        assert!(h.write_queue_size() > 0, "the subscriber's pipe is full");

        let got = log();
        let sink = got.clone();
        run_until(&lp, limit(), "the subscriber reads every message", || {
            while let Ok(body) = sub.recv_bytes(zmq::DONTWAIT) {
                sink.borrow_mut().push(seq_of(&body));
            }
            sink.borrow().len() == N as usize
        });
        assert_eq!(*got.borrow(), (0..N).collect::<Vec<_>>(), "none dropped");
        timer.close();
        h.close();
        run_to_end(&lp, limit(), "run to return once the handles closed");
    })
    .join(limit());
}

#[test]
fn stream_write_for_a_client_that_does_not_read_keeps_the_loop_turning() {
    // Enough to fill loopback's socket buffers on both ends (a few MiB
    // each) and libzmq's pipe, so the STREAM socket refuses while POLLOUT.
    const CHUNK: usize = 64 * 1024;
    const N: usize = 400;
    let (endpoint_tx, endpoint_rx) = mpsc::channel::<String>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let client = spawn_peer("stream client", move || {
        let endpoint = endpoint_rx.recv_timeout(limit()).expect("the endpoint");
        let addr = endpoint.trim_start_matches("tcp://").to_owned();
        let mut tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(limit())).expect("read timeout");
        go_rx.recv_timeout(limit()).expect("the go to read");
        let mut chunk = vec![0u8; CHUNK];
        for i in 0..N {
            tcp.read_exact(&mut chunk).expect("read a chunk");
            assert!(
                chunk.iter().all(|&b| b == fill(i)),
                "chunk {i} arrived whole and in order"
            );
        }
        done_tx.send(()).expect("tell the loop all arrived");
    });

    spawn_peer("stream loop", move || {
        let ctx = zmq::Context::new();
        let lp = Loop::new().expect("loop");
        let stream = socket(&ctx, zmq::STREAM);
        stream.set_sndhwm(1).expect("ZMQ_SNDHWM");
        stream.bind("tcp://127.0.0.1:*").expect("bind");
        let endpoint = stream
            .get_last_endpoint()
            .expect("ZMQ_LAST_ENDPOINT")
            .expect("utf-8 endpoint");
        let (h, events) = reading(&lp, stream);
        endpoint_tx.send(endpoint).expect("hand over the endpoint");
        run_until(&lp, limit(), "the client's connection", || {
            events.borrow().len() == 1
        });
        let id = events.borrow()[0][0].clone();

        for i in 0..N {
            h.write_multipart([id.clone(), vec![fill(i); CHUNK]])
                .expect("write");
        }
        let (timer, ticks) = ticker(&lp);
        keep_ticking(&lp, &ticks, "timer ticks while writes wait for the client");
        assert!(
            h.write_queue_size() > 0,
            "the client does not read: writes wait"
        );
        go_tx.send(()).expect("tell the client to read");
        // The socket stays open (and the ticker turning the loop) until the
        // client has it all: its ZMQ_LINGER is 0.
        let mut arrived = false;
        run_until(&lp, limit(), "every chunk at the client", || {
            arrived |= done_rx.try_recv().is_ok();
            arrived
        });
        assert_eq!(h.write_queue_size(), 0);
        timer.close();
        h.close();
        run_to_end(&lp, limit(), "run to return once the handles closed");
    })
    .join(limit());
    client.join(limit());
}

/// The byte chunk `i` of the STREAM scenario is filled with.
fn fill(i: usize) -> u8 {
    (i % 251) as u8
}
