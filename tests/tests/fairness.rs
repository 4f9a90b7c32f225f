//! Fairness: a flooded socket does not starve timers or other handles, and `set_read_batch(n)` bounds what one handle does per loop iteration.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tests::real::{LIMIT, inproc, log, run_to_end, run_until, seq, seq_of, socket};
use uzmq::{DEFAULT_READ_BATCH, Events, Loop, Timer, Zmq, ZmqPoll, zmq};

const FLOOD: usize = 100_000;

/// Queues `n` sequence numbers (from `first`) into a fresh inproc PULL
/// socket, with no high-water mark on either side, so that the whole flood
/// waits in the socket before the loop runs. Returns the PULL socket and
/// the PUSH socket (keep it alive: it owns its end of the pipe).
fn prequeued(ctx: &zmq::Context, first: u64, n: usize) -> (zmq::Socket, zmq::Socket) {
    let endpoint = inproc("flood");
    let pull = socket(ctx, zmq::PULL);
    pull.set_rcvhwm(0).expect("ZMQ_RCVHWM");
    pull.bind(&endpoint).expect("bind");
    let push = socket(ctx, zmq::PUSH);
    push.set_sndhwm(0).expect("ZMQ_SNDHWM");
    push.connect(&endpoint).expect("connect");
    for i in first..first + n as u64 {
        push.send(seq(i), zmq::DONTWAIT).expect("queue the flood");
    }
    (pull, push)
}

/// A handle that counts (and checks the order of) what it reads.
fn counting_reader(lp: &Loop, pull: zmq::Socket, first: u64) -> (Zmq, Rc<Cell<usize>>) {
    let h = Zmq::new(lp, pull).expect("PULL handle");
    let count = Rc::new(Cell::new(0usize));
    let c = count.clone();
    h.start_read(move |_, msg| {
        assert_eq!(
            seq_of(&msg.expect("message")[0]),
            first + c.get() as u64,
            "order"
        );
        c.set(c.get() + 1);
    })
    .expect("start_read");
    (h, count)
}

/// 100,000 messages waiting in one PULL: a 1 ms repeating timer keeps
/// ticking while they are read, and a second handle's one message is read
/// within the first batch or two, not after the flood.
#[test]
fn flood_does_not_starve_a_timer_or_another_handle() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let (flood_pull, _flood_push) = prequeued(&ctx, 0, FLOOD);
    let (other_pull, _other_push) = prequeued(&ctx, 0, 1);
    let (flood, count) = counting_reader(&lp, flood_pull, 0);

    let other = Zmq::new(&lp, other_pull).expect("other PULL handle");
    let other_at = Rc::new(Cell::new(None));
    let (at, c) = (other_at.clone(), count.clone());
    other
        .start_read(move |_, msg| {
            msg.expect("message");
            at.set(Some(c.get()));
        })
        .expect("start_read");

    let ticks = log::<usize>();
    let timer = Timer::new(&lp).expect("timer");
    let (t, c) = (ticks.clone(), count.clone());
    timer
        .start(
            Duration::from_millis(1),
            Duration::from_millis(1),
            move |_| t.borrow_mut().push(c.get()),
        )
        .expect("start the timer");

    run_until(&lp, LIMIT, "the flood to be read", || count.get() == FLOOD);
    let during: Vec<usize> = ticks
        .borrow()
        .iter()
        .copied()
        .filter(|&n| n > 0 && n < FLOOD)
        .collect();
    assert!(
        !during.is_empty(),
        "the timer never ticked while the flood was being read (ticks saw {:?})",
        ticks.borrow()
    );
    let other_at = other_at.get().expect("the other handle's message arrived");
    assert!(
        other_at <= 2 * DEFAULT_READ_BATCH,
        "the other handle waited for {other_at} flood messages (more than two batches)"
    );
    timer.close();
    flood.close();
    other.close();
    run_to_end(&lp, LIMIT, "the handles to close");
}

/// How many messages `reader` handed over between two consecutive loop
/// iterations, measured by a `ZmqPoll` on a PUB socket (always WRITABLE,
/// so its level-triggered callback runs once per iteration).
fn per_iteration_counts(batch: Option<usize>, n: usize) -> Vec<usize> {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let (pull, _push) = prequeued(&ctx, 0, n);
    let (reader, count) = counting_reader(&lp, pull, 0);
    if let Some(batch) = batch {
        reader.set_read_batch(batch);
    }
    let marker = ZmqPoll::new(&lp, socket(&ctx, zmq::PUB)).expect("marker handle");
    let marks = log::<usize>();
    let (m, c) = (marks.clone(), count.clone());
    marker
        .start(Events::WRITABLE, move |_, ev, err| {
            assert!(err.is_none() && ev == Events::WRITABLE);
            m.borrow_mut().push(c.get());
        })
        .expect("marker start");
    run_until(&lp, LIMIT, "the flood to be read", || count.get() == n);
    // One more iteration, so the last batch is followed by a mark.
    let last = marks.borrow().len();
    run_until(&lp, LIMIT, "one more marker callback", || {
        marks.borrow().len() > last
    });
    reader.close();
    marker.close();
    run_to_end(&lp, LIMIT, "the handles to close");
    let marks = marks.borrow();
    assert!(marks.len() >= 2, "the marker ran every iteration");
    marks.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn read_batch_bounds_messages_per_iteration() {
    const N: usize = 5_000;
    let per = per_iteration_counts(Some(7), N);
    let max = per.iter().copied().max().unwrap_or(0);
    assert!(
        max <= 7,
        "{max} messages in one iteration with set_read_batch(7)"
    );
    assert_eq!(
        max, 7,
        "with messages waiting, a whole batch is read per iteration"
    );
    assert!(
        per.len() >= N / 7,
        "{} iterations for {N} messages in batches of 7",
        per.len()
    );
}

#[test]
fn read_batch_zero_is_one() {
    let per = per_iteration_counts(Some(0), 300);
    assert_eq!(
        per.iter().copied().max(),
        Some(1),
        "set_read_batch(0) is taken as 1"
    );
}

#[test]
fn default_read_batch_bounds_messages_per_iteration() {
    let per = per_iteration_counts(None, 20_000);
    let max = per.iter().copied().max().unwrap_or(0);
    assert!(
        max <= DEFAULT_READ_BATCH,
        "{max} messages in one iteration; the default batch is {DEFAULT_READ_BATCH}"
    );
    assert_eq!(
        max, DEFAULT_READ_BATCH,
        "with messages waiting, a whole batch is read per iteration"
    );
}

/// Two flooded handles on one loop take turns: neither reads all of its
/// messages before the other got its first batch.
#[test]
fn two_floods_take_turns() {
    const N: usize = 30_000;
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let (pa, _sa) = prequeued(&ctx, 0, N);
    let (pb, _sb) = prequeued(&ctx, 0, N);
    let (a, ca) = counting_reader(&lp, pa, 0);
    let (b, cb) = counting_reader(&lp, pb, 0);
    a.set_read_batch(100);
    b.set_read_batch(100);
    let marks = log::<(usize, usize)>();
    let marker = ZmqPoll::new(&lp, socket(&ctx, zmq::PUB)).expect("marker");
    let (m, x, y) = (marks.clone(), ca.clone(), cb.clone());
    marker
        .start(Events::WRITABLE, move |_, _, _| {
            m.borrow_mut().push((x.get(), y.get()))
        })
        .expect("marker start");
    run_until(&lp, LIMIT, "both floods", || ca.get() == N && cb.get() == N);
    let marks = marks.borrow();
    for w in marks.windows(2) {
        let (da, db) = (w[1].0 - w[0].0, w[1].1 - w[0].1);
        assert!(
            da <= 100 && db <= 100,
            "one iteration read {da} + {db} (batch 100)"
        );
    }
    // Interleaved: at the mark where A is half done, B is well under way.
    let half = marks
        .iter()
        .find(|(x, _)| *x >= N / 2)
        .expect("a mark at half");
    assert!(
        half.1 >= N / 4,
        "B had {} of {N} when A had {}",
        half.1,
        half.0
    );
    a.close();
    b.close();
    marker.close();
    run_to_end(&lp, LIMIT, "the handles to close");
}

/// A PUSH `Zmq` with 100,000 queued writes (no high-water mark, so libzmq
/// takes them as fast as they come) does not starve a timer either, and
/// sends at most one batch per iteration.
#[test]
fn write_flood_does_not_starve_a_timer() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let endpoint = inproc("write-flood");
    let sink = socket(&ctx, zmq::PULL);
    sink.set_rcvhwm(0).expect("ZMQ_RCVHWM");
    sink.bind(&endpoint).expect("bind");
    let push = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH handle");
    push.socket().set_sndhwm(0).expect("ZMQ_SNDHWM");
    push.socket().connect(&endpoint).expect("connect");
    push.set_read_batch(500);
    for i in 0..FLOOD as u64 {
        push.write(seq(i)).expect("queue");
    }
    assert_eq!(push.write_queue_size(), FLOOD);

    let ticks = log::<usize>();
    let timer = Timer::new(&lp).expect("timer");
    let (t, p) = (ticks.clone(), push.clone());
    timer
        .start(
            Duration::from_millis(1),
            Duration::from_millis(1),
            move |_| t.borrow_mut().push(p.write_queue_size()),
        )
        .expect("start the timer");
    let marks = log::<usize>();
    let marker = ZmqPoll::new(&lp, socket(&ctx, zmq::PUB)).expect("marker");
    let (m, p) = (marks.clone(), push.clone());
    marker
        .start(Events::WRITABLE, move |_, _, _| {
            m.borrow_mut().push(p.write_queue_size())
        })
        .expect("marker start");

    run_until(&lp, LIMIT, "the write flood to drain", || {
        push.write_queue_size() == 0
    });
    assert!(
        ticks.borrow().iter().any(|&q| q > 0 && q < FLOOD),
        "the timer never ticked while the writes drained (ticks saw {:?})",
        ticks.borrow()
    );
    let max = marks
        .borrow()
        .windows(2)
        .map(|w| w[0] - w[1])
        .max()
        .unwrap_or(0);
    assert!(max <= 500, "{max} writes sent in one iteration (batch 500)");
    // Every message is in the sink, in order.
    for i in 0..FLOOD as u64 {
        assert_eq!(
            seq_of(
                &sink
                    .recv_bytes(zmq::DONTWAIT)
                    .expect("a message in the sink")
            ),
            i
        );
    }
    timer.close();
    marker.close();
    push.close();
    run_to_end(&lp, LIMIT, "the handles to close");
}
