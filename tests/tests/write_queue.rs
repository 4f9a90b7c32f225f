//! The write queue under backpressure, on libuv and libzmq: with tiny high-water marks, 50,000 queued writes all arrive complete and in order, each completion runs once, in order, and the queue limit refuses writes without queuing them. The same rule on the mock backend: `prop_write_queue.rs`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tests::real::{
    Drops, LIMIT, Log, Transport, blocking_socket, log, run_to_end, run_until, seq, seq_of, socket,
    spawn_peer,
};
use uzmq::{Error, Loop, Timer, Zmq, zmq};

const N: u64 = 50_000;
const HWM: i32 = 10;

/// 50,000 writes queued at once on a PUSH with SNDHWM 10 towards a PULL
/// `Zmq` with RCVHWM 10, on one loop; the reader pauses (`stop_read`) for a
/// millisecond every 5,000 messages, so the writer hits the high-water mark.
fn queued_writes_under_hwm(transport: Transport) {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let pull = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL handle");
    pull.socket().set_rcvhwm(HWM).expect("ZMQ_RCVHWM");
    let endpoint = transport.bind(pull.socket(), "backpressure");
    let push = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH handle");
    push.socket().set_sndhwm(HWM).expect("ZMQ_SNDHWM");
    push.socket().connect(&endpoint).expect("connect");

    // Completions: in order, once each, and each sees the queue without
    // its own message (it runs right after libzmq took it).
    let completed = Rc::new(Cell::new(0u64));
    for i in 0..N {
        let (c, p) = (completed.clone(), push.clone());
        push.write_with([seq(i)], move |_, r| {
            assert_eq!(r, Ok(()), "write {i}");
            assert_eq!(c.get(), i, "completion {i} out of order (or twice)");
            assert_eq!(
                p.write_queue_size() as u64,
                N - 1 - i,
                "queue size at completion {i}"
            );
            c.set(i + 1);
        })
        .expect("queue a write");
    }
    assert_eq!(
        push.write_queue_size() as u64,
        N,
        "all queued, none sent yet (no callback inside write)"
    );
    assert_eq!(completed.get(), 0);

    let state = Rc::new(Reader {
        received: Cell::new(0),
        push: push.clone(),
        held_back: log(),
        resume: Timer::new(&lp).expect("timer"),
    });
    pull.start_read(reader(state.clone())).expect("start_read");
    let (received, held_back, resume) = (&state.received, &state.held_back, &state.resume);

    run_until(
        &lp,
        LIMIT,
        &format!("{N} messages through HWM {HWM} over {transport:?}"),
        || received.get() == N && completed.get() == N,
    );
    assert_eq!(push.write_queue_size(), 0);
    assert!(!push.is_active(), "nothing left to send");
    if transport == Transport::Inproc {
        // inproc has no kernel buffer: while the reader paused, the writer
        // held messages back (the high-water mark was hit, EAGAIN handled).
        assert!(
            held_back.borrow().iter().all(|&q| q > 0),
            "queue sizes at the pauses: {:?}",
            held_back.borrow()
        );
    }
    assert_eq!(
        held_back.borrow().len(),
        (N / 5_000 - 1) as usize,
        "every pause resumed"
    );
    resume.close();
    push.close();
    pull.close();
    run_to_end(&lp, LIMIT, "the handles to close");
}

/// A read callback, boxed.
type ReadCb = dyn FnMut(&Zmq, uzmq::Result<uzmq::Multipart>);

struct Reader {
    received: Cell<u64>,
    push: Zmq,
    held_back: Log<usize>,
    resume: Timer,
}

/// The PULL's read callback: checks the order; every 5,000 messages it
/// stops reading and starts a 1 ms timer that notes the writer's queue
/// size and starts reading again (with a new callback made here).
fn reader(st: Rc<Reader>) -> Box<ReadCb> {
    Box::new(move |h, msg| {
        let msg = msg.expect("message");
        assert_eq!(msg.len(), 1);
        assert_eq!(
            seq_of(&msg[0]),
            st.received.get(),
            "message out of order, lost or duplicated"
        );
        st.received.set(st.received.get() + 1);
        if st.received.get().is_multiple_of(5_000) && st.received.get() < N {
            h.stop_read().expect("pause reading");
            let (again, st2) = (h.clone(), st.clone());
            st.resume
                .start(Duration::from_millis(1), Duration::ZERO, move |_| {
                    st2.held_back.borrow_mut().push(st2.push.write_queue_size());
                    again.start_read(reader(st2.clone())).expect("read again");
                })
                .expect("start the resume timer");
        }
    })
}

#[test]
fn queued_writes_under_hwm_inproc() {
    queued_writes_under_hwm(Transport::Inproc);
}

#[test]
fn queued_writes_under_hwm_tcp() {
    queued_writes_under_hwm(Transport::Tcp);
}

/// The writer on the loop, a slow blocking reader in another thread (tcp,
/// RCVHWM 10): the queue drains to 0, the completions run in order, and the
/// reader gets every message, in order.
#[test]
fn queued_writes_to_a_blocking_reader_thread() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let push = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH handle");
    push.socket().set_sndhwm(HWM).expect("ZMQ_SNDHWM");
    let endpoint = Transport::Tcp.bind(push.socket(), "to-thread");
    let reader_socket = blocking_socket(&ctx, zmq::PULL);
    reader_socket.set_rcvhwm(HWM).expect("ZMQ_RCVHWM");
    reader_socket.connect(&endpoint).expect("connect");
    let reader = spawn_peer("blocking PULL", move || {
        for i in 0..N {
            let body = reader_socket.recv_bytes(0).expect("receive (timed out?)");
            assert_eq!(
                seq_of(&body),
                i,
                "the reader thread got a message out of order"
            );
        }
        // Nothing more: no duplicate after the last one.
        assert_eq!(
            reader_socket.recv_bytes(zmq::DONTWAIT),
            Err(zmq::Error::EAGAIN)
        );
    });

    let order = log::<u64>();
    for i in 0..N {
        let order = order.clone();
        push.write_with([seq(i)], move |_, r| {
            r.expect("write");
            order.borrow_mut().push(i);
        })
        .expect("queue");
    }
    let sizes = log::<usize>();
    let (s, p) = (sizes.clone(), push.clone());
    let sampler = Timer::new(&lp).expect("timer");
    sampler
        .start(Duration::ZERO, Duration::from_millis(1), move |_| {
            s.borrow_mut().push(p.write_queue_size())
        })
        .expect("start the sampler");
    run_until(&lp, LIMIT, "the write queue to drain", || {
        order.borrow().len() == N as usize
    });
    assert_eq!(push.write_queue_size(), 0);
    assert_eq!(
        *order.borrow(),
        (0..N).collect::<Vec<_>>(),
        "completions once each, in order"
    );
    assert!(
        sizes.borrow().windows(2).all(|w| w[1] <= w[0]),
        "the queue size never grew while draining"
    );
    sampler.close();
    // Keep the PUSH open (linger 0) until the reader has everything.
    reader.join(LIMIT);
    push.close();
    run_to_end(&lp, LIMIT, "the handles to close");
}

/// `set_write_queue_limit(Some(3))`: the fourth write of any kind is
/// `Err(QueueFull)`, queues nothing, and its callback is dropped uncalled;
/// once the queue drained, writes are accepted again; `None` lifts it.
#[test]
fn write_queue_limit_refuses_and_queues_nothing() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    // No peer yet: a PUSH with no connection takes nothing, so writes stay queued.
    let push = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH handle");
    let endpoint = Transport::Inproc.bind(push.socket(), "limit");
    push.set_write_queue_limit(Some(3));
    let calls = log::<(u64, Result<(), Error>)>();
    let drops = Drops::new();
    for i in 0..3 {
        let calls = calls.clone();
        push.write_with([seq(i)], move |_, r| calls.borrow_mut().push((i, r)))
            .expect("below the limit");
    }
    assert_eq!(push.write(seq(100)), Err(Error::QueueFull));
    assert_eq!(
        push.write_multipart([seq(101), seq(102)]),
        Err(Error::QueueFull)
    );
    let (token, c) = (drops.token(), calls.clone());
    assert_eq!(
        push.write_with([seq(103)], move |_, r| {
            let _token = &token;
            c.borrow_mut().push((103, r));
        }),
        Err(Error::QueueFull)
    );
    assert_eq!(drops.live(), 0, "the refused write's callback was dropped");
    assert_eq!(push.write_queue_size(), 3, "refused writes queued nothing");

    // A loop iteration with no peer changes nothing.
    lp.run(uzmq::RunMode::NoWait).expect("run");
    assert_eq!(push.write_queue_size(), 3);
    assert!(calls.borrow().is_empty());

    let pull = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL handle");
    pull.socket().connect(&endpoint).expect("connect");
    let got = log::<u64>();
    let g = got.clone();
    pull.start_read(move |_, msg| g.borrow_mut().push(seq_of(&msg.expect("message")[0])))
        .expect("start_read");
    run_until(&lp, LIMIT, "the three queued writes", || {
        got.borrow().len() == 3
    });
    assert_eq!(
        *got.borrow(),
        [0, 1, 2],
        "only the accepted writes were sent"
    );
    assert_eq!(*calls.borrow(), [(0, Ok(())), (1, Ok(())), (2, Ok(()))]);
    assert_eq!(push.write_queue_size(), 0);

    // Room again; then no limit at all.
    push.write(seq(3)).expect("room after draining");
    push.set_write_queue_limit(None);
    for i in 4..1_000 {
        push.write(seq(i)).expect("no limit");
    }
    push.set_write_queue_limit(Some(0));
    assert_eq!(
        push.write(seq(5_000)),
        Err(Error::QueueFull),
        "Some(0) refuses every write"
    );
    run_until(&lp, LIMIT, "the writes after the limit was lifted", || {
        got.borrow().len() == 1_000
    });
    assert_eq!(*got.borrow(), (0..1_000).collect::<Vec<_>>());
    assert_eq!(push.write_queue_size(), 0);
    push.close();
    pull.close();
    run_to_end(&lp, LIMIT, "the handles to close");
}
