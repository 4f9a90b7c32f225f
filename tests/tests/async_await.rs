//! async/await on the real backends (libuv + libzmq): `block_on` and
//! `spawn_local`, the `recv`/`send`/`ready`/`sleep` futures and the
//! `Stream`/`Sink` adapters. Their refusals (EBUSY, ENOTSUP, Closed,
//! Reentrant), a panic in a task resuming from `run` and `block_on`,
//! 100,000 messages each way, tasks and callbacks on one loop, wakes from
//! four other threads, cancel safety, first-poll order, and what keeps
//! `run(Default)` going.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_util::future::{Either, join3, select};
use futures_util::{SinkExt, StreamExt, stream};
use tests::real::{
    LIMIT, Transport, blocking_socket, inproc, limit, log, run_to_end, seq, seq_of, socket,
    spawn_peer,
};
use tests::real_async::{Counter, Mailbox, poll_once};
use uzmq::{Error, Events, Loop, Multipart, RunMode, Timer, Zmq, ZmqPoll, zmq};

const EBUSY: Error = Error::Zmq(zmq::Error::EBUSY);

/// libuv keeps loop time in whole milliseconds, truncated, read from a
/// clock that may be the coarse one: a deadline can be up to this much
/// before the same instant measured with `Instant`.
const UV_RESOLUTION: Duration = Duration::from_millis(2);

/// Runs `lp` until `fut` completes, or panics with "timed out ... waiting
/// for `what`" after [`limit`]: a lost wake-up fails, it does not hang.
fn block_on_bounded<F: Future>(lp: &Loop, what: &str, fut: F) -> F::Output {
    let fut = pin!(fut);
    let timeout = pin!(Timer::sleep(lp, limit()));
    match lp.block_on(select(fut, timeout)).expect("block_on") {
        Either::Left((out, _)) => out,
        Either::Right(_) => panic!("timed out after {:?} waiting for {what}", limit()),
    }
}

/// A PULL handle bound to a fresh `inproc://` name, and a PUSH socket
/// connected to it (off the loop).
fn pull_handle(ctx: &zmq::Context, lp: &Loop) -> (Zmq, zmq::Socket) {
    let pull = socket(ctx, zmq::PULL);
    let endpoint = Transport::Inproc.bind(&pull, "async-pull");
    let push = socket(ctx, zmq::PUSH);
    push.connect(&endpoint).expect("connect");
    (Zmq::new(lp, pull).expect("Zmq::new"), push)
}

/// The sequence number of a one-frame message made by [`seq`].
fn number(msg: &Multipart) -> u64 {
    assert_eq!(msg.len(), 1, "one frame");
    seq_of(&msg[0])
}

/// The message of a panic payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Bounds a `run(Default)` without keeping the loop alive (a watchdog
/// timer would): a thread posts `stop` to the loop if the run has not
/// ended by [`limit`].
struct Deadline {
    done: std::sync::mpsc::Sender<()>,
    peer: tests::real::Peer<bool>,
    what: String,
}

impl Deadline {
    fn start(lp: &Loop, what: &str) -> Deadline {
        let (done, ended) = std::sync::mpsc::channel::<()>();
        let remote = lp.remote();
        let peer = spawn_peer("deadline", move || {
            let timed_out = matches!(
                ended.recv_timeout(limit()),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout)
            );
            if timed_out {
                let _ = remote.post(|lp| lp.stop());
            }
            timed_out
        });
        Deadline {
            done,
            peer,
            what: what.to_owned(),
        }
    }

    /// Panics if the deadline had to stop the loop.
    fn check(self) {
        let _ = self.done.send(());
        let timed_out = self.peer.join(LIMIT);
        assert!(
            !timed_out,
            "timed out after {:?} waiting for {}",
            limit(),
            self.what
        );
    }
}

// ---- refusals -------------------------------------------------------------

#[test]
fn recv_with_a_read_callback_is_ebusy_and_start_read_while_recv_pends_too() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let (reading, _push) = pull_handle(&ctx, &lp);
    reading.start_read(|_, _| {}).unwrap();
    assert_eq!(lp.block_on(reading.recv()).unwrap(), Err(EBUSY));
    reading.close();

    // A pending recv(): start_read is refused until it is dropped.
    let (h, push) = pull_handle(&ctx, &lp);
    let mut pending = Box::pin(h.recv());
    let mut cx = Context::from_waker(Waker::noop());
    let first = pending.as_mut().poll(&mut cx);
    assert!(first.is_pending(), "nothing sent yet: {first:?}");
    assert_eq!(h.start_read(|_, _| {}).err(), Some(EBUSY));
    drop(pending);

    // Dropped, it took nothing: the callback gets the message.
    let got = log();
    let g = got.clone();
    h.start_read(move |h, msg| {
        g.borrow_mut().push(number(&msg.unwrap()));
        h.close();
    })
    .unwrap();
    push.send(seq(7), 0).unwrap();
    run_to_end(&lp, limit(), "the read callback");
    assert_eq!(*got.borrow(), [7]);
}

/// After `stop_read` (or `stop`) the handle has no read callback any more:
/// `recv()` is served, not refused with EBUSY.
#[test]
fn recv_after_stop_read_or_stop_is_served() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let (h, push) = pull_handle(&ctx, &lp);
    for (n, stop) in [Zmq::stop_read, Zmq::stop].into_iter().enumerate() {
        h.start_read(|_, msg| panic!("read callback after stop: {msg:?}"))
            .unwrap();
        stop(&h).unwrap();
        push.send(seq(n as u64), 0).unwrap();
        let got = block_on_bounded(&lp, "recv() after a stop", h.recv());
        assert_eq!(got.map(|m| number(&m)), Ok(n as u64));
    }
    h.close();
    run_to_end(&lp, limit(), "the close");
}

#[test]
fn recv_on_push_and_pub_is_enotsup() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    for kind in [zmq::PUSH, zmq::PUB] {
        let h = Zmq::new(&lp, socket(&ctx, kind)).unwrap();
        assert_eq!(
            lp.block_on(h.recv()).unwrap(),
            Err(Error::Zmq(zmq::Error::ENOTSUP)),
            "{kind:?}"
        );
        h.close();
    }
    run_to_end(&lp, limit(), "the closes");
}

#[test]
fn futures_of_a_closed_handle_are_closed() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let (h, _push) = pull_handle(&ctx, &lp);
    let writer = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).unwrap();
    let poll = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).unwrap();
    h.close();
    writer.close();
    poll.close();
    assert_eq!(lp.block_on(h.recv()).unwrap(), Err(Error::Closed));
    assert_eq!(lp.block_on(writer.send(["x"])).unwrap(), Err(Error::Closed));
    assert_eq!(
        lp.block_on(poll.ready(Events::READABLE)).unwrap(),
        Err(Error::Closed)
    );
    let mut messages = h.messages();
    assert!(
        lp.block_on(messages.next()).unwrap().is_none(),
        "the stream of a closed handle ends"
    );
    run_to_end(&lp, limit(), "the closes");
}

#[test]
fn pending_recv_send_and_ready_resolve_closed_when_their_handle_closes() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let (reader, _push) = pull_handle(&ctx, &lp);
    // A PUSH with no peer: libzmq takes nothing, the send() stays pending.
    let writer = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).unwrap();
    let poll = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).unwrap();
    let results: tests::real::Log<(&str, Result<(), Error>)> = log();
    let polled = Counter::new();
    {
        let (r, p, h) = (results.clone(), polled.clone(), reader.clone());
        lp.spawn_local(async move {
            let recv = h.recv();
            p.add();
            let out = recv.await.map(|_| ());
            r.borrow_mut().push(("recv", out));
        })
        .unwrap();
    }
    {
        let (r, p, h) = (results.clone(), polled.clone(), writer.clone());
        lp.spawn_local(async move {
            let send = h.send(["never taken"]);
            p.add();
            let out = send.await;
            r.borrow_mut().push(("send", out));
        })
        .unwrap();
    }
    {
        let (r, p, h) = (results.clone(), polled.clone(), poll.clone());
        lp.spawn_local(async move {
            let ready = h.ready(Events::READABLE);
            p.add();
            let out = ready.await.map(|_| ());
            r.borrow_mut().push(("ready", out));
        })
        .unwrap();
    }
    // Once all three are pending, a task closes the handles.
    {
        let p = polled.clone();
        let (reader, writer, poll) = (reader.clone(), writer.clone(), poll.clone());
        lp.spawn_local(async move {
            p.reach(3).await;
            // One more turn: each of the three futures has been polled.
            Timer::sleep(&reader.event_loop().unwrap(), Duration::ZERO).await;
            reader.close();
            writer.close();
            poll.close();
        })
        .unwrap();
    }
    run_to_end(&lp, limit(), "the pending futures to resolve");
    let mut results = results.borrow().clone();
    results.sort_by_key(|(what, _)| *what);
    assert_eq!(
        results,
        [
            ("ready", Err(Error::Closed)),
            ("recv", Err(Error::Closed)),
            ("send", Err(Error::Closed)),
        ]
    );
}

#[test]
fn block_on_and_run_inside_a_callback_a_task_or_block_on_are_reentrant() {
    let lp = Loop::new().unwrap();
    let seen: Rc<RefCell<Vec<(&str, bool)>>> = log();
    let reentrant = |r: Result<bool, Error>| r == Err(Error::Reentrant);

    let timer = Timer::new(&lp).unwrap();
    let s = seen.clone();
    timer
        .start(Duration::ZERO, Duration::ZERO, move |t| {
            let lp = t.event_loop().unwrap();
            let b = lp.block_on(async { true }).map(|_| true);
            s.borrow_mut().push(("callback block_on", reentrant(b)));
            let r = lp.run(RunMode::Default);
            s.borrow_mut().push(("callback run", reentrant(r)));
            t.close();
        })
        .unwrap();
    let (s, l) = (seen.clone(), lp.clone());
    lp.spawn_local(async move {
        let b = l.block_on(async { true }).map(|_| true);
        s.borrow_mut().push(("task block_on", reentrant(b)));
        let r = l.run(RunMode::Once);
        s.borrow_mut().push(("task run", reentrant(r)));
    })
    .unwrap();
    run_to_end(&lp, limit(), "the timer and the task");

    let inner = lp
        .block_on(async {
            let b = lp.block_on(async { true }).map(|_| true);
            (reentrant(b), reentrant(lp.run(RunMode::NoWait)))
        })
        .unwrap();
    seen.borrow_mut().push(("block_on block_on", inner.0));
    seen.borrow_mut().push(("block_on run", inner.1));

    let mut seen = seen.borrow().clone();
    seen.sort();
    let wrong: Vec<_> = seen.iter().filter(|(_, ok)| !ok).collect();
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(wrong.is_empty(), "not Err(Reentrant): {wrong:?}");
    // Outside, the loop runs again.
    assert_eq!(lp.block_on(async { 5 }), Ok(5));
}

#[test]
fn a_panic_in_a_task_resumes_from_run_and_the_loop_stays_usable() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    lp.spawn_local(async { panic!("task panic from run") })
        .unwrap();
    let out = catch_unwind(AssertUnwindSafe(|| lp.run(RunMode::Default)));
    let payload = out.expect_err("the task's panic resumes from run");
    assert_eq!(panic_text(&*payload), "task panic from run");

    // The loop, its executor and its handles still work.
    let (h, push) = pull_handle(&ctx, &lp);
    let got = Rc::new(Cell::new(None));
    let (g, r) = (got.clone(), h.clone());
    lp.spawn_local(async move {
        g.set(Some(number(&r.recv().await.unwrap())));
        r.close();
    })
    .unwrap();
    push.send(seq(1), 0).unwrap();
    run_to_end(&lp, limit(), "a task after the panic");
    assert_eq!(got.get(), Some(1));
}

#[test]
fn a_panic_in_a_task_resumes_from_block_on_and_the_loop_stays_usable() {
    let lp = Loop::new().unwrap();
    lp.spawn_local(async { panic!("task panic from block_on") })
        .unwrap();
    // Bounded: were the panic lost, the sleep would end the wait.
    let out = catch_unwind(AssertUnwindSafe(|| lp.block_on(Timer::sleep(&lp, LIMIT))));
    let payload = out.expect_err("the task's panic resumes from block_on");
    assert_eq!(panic_text(&*payload), "task panic from block_on");

    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    lp.spawn_local(async move { r.set(true) }).unwrap();
    assert_eq!(
        block_on_bounded(&lp, "a sleep after the panic", async {
            Timer::sleep(&lp, Duration::from_millis(1)).await;
            7
        }),
        7
    );
    assert!(ran.get(), "a task spawned after the panic ran");
}

// ---- volume ---------------------------------------------------------------

const VOLUME: u64 = 100_000;

#[test]
fn a_hundred_thousand_messages_through_recv_exact_and_in_order() {
    for transport in Transport::ALL {
        let ctx = zmq::Context::new();
        let lp = Loop::new().unwrap();
        let pull = socket(&ctx, zmq::PULL);
        let endpoint = transport.bind(&pull, "async-recv-volume");
        let h = Zmq::new(&lp, pull).unwrap();
        let push = blocking_socket(&ctx, zmq::PUSH);
        let peer = spawn_peer("pusher", move || {
            push.connect(&endpoint).expect("connect");
            for n in 0..VOLUME {
                push.send(seq(n), 0).expect("send (blocking, bounded)");
            }
            // Returned, not closed: with linger 0 a close would drop what
            // is still on its way.
            push
        });
        let wrong = block_on_bounded(&lp, "100,000 messages through recv()", async {
            for n in 0..VOLUME {
                let got = number(&h.recv().await.expect("recv"));
                if got != n {
                    return Some((n, got));
                }
            }
            None
        });
        assert_eq!(wrong, None, "{transport:?}: (expected, got)");
        drop(peer.join(LIMIT));
        assert_eq!(
            h.socket().recv_bytes(zmq::DONTWAIT).err(),
            Some(zmq::Error::EAGAIN),
            "{transport:?}: nothing more than was sent"
        );
        h.close();
        run_to_end(&lp, limit(), "the close");
    }
}

#[test]
fn a_hundred_thousand_messages_through_send_exact_and_in_order() {
    for transport in Transport::ALL {
        let ctx = zmq::Context::new();
        let lp = Loop::new().unwrap();
        let push = socket(&ctx, zmq::PUSH);
        let endpoint = transport.bind(&push, "async-send-volume");
        let h = Zmq::new(&lp, push).unwrap();
        let pull = blocking_socket(&ctx, zmq::PULL);
        let peer = spawn_peer("puller", move || {
            pull.connect(&endpoint).expect("connect");
            (0..VOLUME)
                .map(|_| seq_of(&pull.recv_bytes(0).expect("recv (blocking, bounded)")))
                .enumerate()
                .find(|&(n, got)| n as u64 != got)
        });
        block_on_bounded(&lp, "100,000 sends to complete", async {
            for n in 0..VOLUME {
                h.send([seq(n)]).await.expect("send");
            }
        });
        assert_eq!(peer.join(LIMIT), None, "{transport:?}: (expected, got)");
        assert_eq!(h.write_queue_size(), 0);
        h.close();
        run_to_end(&lp, limit(), "the close");
    }
}

// ---- tasks, callbacks and threads on one loop -----------------------------

/// A REP server on a read callback, a REQ client as a task, a repeating
/// timer whose ticks the client awaits now and then: all on one loop,
/// which `run(Default)` ends once the client closed everything.
#[test]
fn tasks_and_callbacks_interleave_on_one_loop() {
    const REQUESTS: u64 = 1_000;
    const PAUSE_EVERY: u64 = 100;
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let rep = socket(&ctx, zmq::REP);
    let endpoint = Transport::Tcp.bind(&rep, "async-rep");
    let server = Zmq::new(&lp, rep).unwrap();
    let served = Rc::new(Cell::new(0u64));
    let s = served.clone();
    server
        .start_read(move |h, request| {
            s.set(s.get() + 1);
            // The reply is the request, frame for frame.
            h.write_multipart(request.expect("request")).expect("reply");
        })
        .unwrap();
    let ticks = Counter::new();
    let timer = Timer::new(&lp).unwrap();
    let t = ticks.clone();
    timer
        .start(
            Duration::from_millis(1),
            Duration::from_millis(1),
            move |_| t.add(),
        )
        .unwrap();
    let req = socket(&ctx, zmq::REQ);
    req.connect(&endpoint).unwrap();
    let client = Zmq::new(&lp, req).unwrap();
    let replies = Rc::new(Cell::new(0u64));
    let (r, server_, timer_, ticks_) = (
        replies.clone(),
        server.clone(),
        timer.clone(),
        ticks.clone(),
    );
    lp.spawn_local(async move {
        for n in 0..REQUESTS {
            client.send([seq(n)]).await.expect("request");
            let reply = client.recv().await.expect("reply");
            assert_eq!(number(&reply), n, "the reply to request {n}");
            r.set(r.get() + 1);
            if n % PAUSE_EVERY == 0 {
                // A callback wakes the task: the timer's next tick.
                let now = ticks_.get();
                ticks_.reach(now + 1).await;
            }
        }
        client.close();
        server_.close();
        timer_.close();
    })
    .unwrap();
    run_to_end(&lp, limit(), "the client's requests");
    assert_eq!(replies.get(), REQUESTS);
    assert_eq!(served.get(), REQUESTS);
    assert!(
        ticks.get() >= REQUESTS / PAUSE_EVERY,
        "the client waited for each tick"
    );
}

/// Wakes from four other threads: two call the wakers of the tasks they
/// feed themselves, two `Remote::post` what completes them; and the
/// `block_on` future's own waker is called from all four.
#[test]
fn wakes_from_four_threads_reach_tasks_and_block_on() {
    const THREADS: usize = 4;
    const ITEMS: u32 = 2_000;
    let lp = Loop::new().unwrap();
    let loop_thread = std::thread::current().id();
    let finished = Counter::new();
    let boxes: Vec<Mailbox<u32>> = (0..THREADS).map(|_| Mailbox::new()).collect();
    for (t, mailbox) in boxes.iter().enumerate() {
        let (mailbox, finished) = (mailbox.clone(), finished.clone());
        lp.spawn_local(async move {
            for n in 0..ITEMS {
                assert_eq!(mailbox.next().await, n, "thread {t}'s items in order");
                assert_eq!(std::thread::current().id(), loop_thread);
            }
            finished.add();
        })
        .unwrap();
    }
    let shared: Mailbox<(usize, u32)> = Mailbox::new();
    let peers: Vec<_> = boxes
        .into_iter()
        .enumerate()
        .map(|(t, mailbox)| {
            let (remote, shared) = (lp.remote(), shared.clone());
            spawn_peer(&format!("waker {t}"), move || {
                for n in 0..ITEMS {
                    if t % 2 == 0 {
                        mailbox.push(n);
                    } else {
                        let mailbox = mailbox.clone();
                        remote.post(move |_| mailbox.push(n)).expect("post");
                    }
                    shared.push((t, n));
                }
            })
        })
        .collect();
    let seen = block_on_bounded(&lp, "every item from four threads", async {
        let mut next = [0u32; THREADS];
        for _ in 0..THREADS * ITEMS as usize {
            let (t, n) = shared.next().await;
            assert_eq!(n, next[t], "thread {t}'s order, seen by block_on");
            next[t] += 1;
        }
        finished.reach(THREADS as u64).await;
        next
    });
    assert_eq!(seen, [ITEMS; THREADS]);
    for peer in peers {
        peer.join(LIMIT);
    }
}

/// `Sender`s on four threads feed a PUSH handle; a task awaiting `recv()`
/// on the PULL handle of the same loop checks each producer's count and
/// order.
#[test]
fn senders_on_four_threads_feed_a_task_awaiting_recv() {
    const THREADS: u64 = 4;
    const EACH: u64 = 10_000;
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let pull = socket(&ctx, zmq::PULL);
    let endpoint = inproc("async-senders");
    pull.bind(&endpoint).unwrap();
    let push = socket(&ctx, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    let (reader, writer) = (Zmq::new(&lp, pull).unwrap(), Zmq::new(&lp, push).unwrap());
    let peers: Vec<_> = (0..THREADS)
        .map(|t| {
            let sender = writer.sender(100).unwrap();
            spawn_peer(&format!("sender {t}"), move || {
                for n in 0..EACH {
                    sender.send_multipart([seq(t), seq(n)]).expect("send");
                }
            })
        })
        .collect();
    let counts = Rc::new(RefCell::new([0u64; THREADS as usize]));
    let (c, r, w) = (counts.clone(), reader.clone(), writer.clone());
    lp.spawn_local(async move {
        for _ in 0..THREADS * EACH {
            let msg = r.recv().await.expect("recv");
            let (t, n) = (seq_of(&msg[0]) as usize, seq_of(&msg[1]));
            let mut counts = c.borrow_mut();
            assert_eq!(n, counts[t], "producer {t}'s order");
            counts[t] += 1;
        }
        r.close();
        w.close();
    })
    .unwrap();
    run_to_end(&lp, limit(), "every producer's messages");
    assert_eq!(*counts.borrow(), [EACH; THREADS as usize]);
    for peer in peers {
        peer.join(LIMIT);
    }
}

// ---- cancel safety and order ----------------------------------------------

/// A tiny deterministic generator for the drop points (xorshift).
struct Choices(u64);

impl Choices {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// While a peer thread sends, `recv()` futures are dropped unpolled,
/// after one poll, after one poll and a loop turn (in which a message may
/// have arrived for them), when a zero sleep wins a race, or while a
/// later one waits behind them; the futures that complete get every
/// message exactly once, in order.
#[test]
fn dropped_recv_futures_lose_nothing_while_messages_arrive() {
    const MESSAGES: u64 = 20_000;
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let pull = socket(&ctx, zmq::PULL);
    let endpoint = Transport::Tcp.bind(&pull, "async-cancel");
    let h = Zmq::new(&lp, pull).unwrap();
    let push = blocking_socket(&ctx, zmq::PUSH);
    let peer = spawn_peer("pusher", move || {
        push.connect(&endpoint).expect("connect");
        for n in 0..MESSAGES {
            push.send(seq(n), 0).expect("send (blocking, bounded)");
        }
        // Returned, not closed: with linger 0 a close would drop what is
        // still on its way.
        push
    });
    let mut choices = Choices(0x9e37_79b9_7f4a_7c15);
    let (got, dropped) = block_on_bounded(&lp, "every message despite the drops", async {
        let mut got = Vec::new();
        let mut dropped = 0u64;
        while (got.len() as u64) < MESSAGES {
            match choices.next(6) {
                0 => {
                    drop(h.recv());
                    dropped += 1;
                }
                1 => {
                    let mut recv = pin!(h.recv());
                    match poll_once(&mut recv).await {
                        Poll::Ready(msg) => got.push(number(&msg.expect("recv"))),
                        Poll::Pending => dropped += 1,
                    }
                }
                2 => {
                    let mut recv = pin!(h.recv());
                    if let Poll::Ready(msg) = poll_once(&mut recv).await {
                        got.push(number(&msg.expect("recv")));
                        continue;
                    }
                    // A loop turn: the handle may tell this future of a
                    // message, which it then never takes.
                    Timer::sleep(&lp, Duration::ZERO).await;
                    dropped += 1;
                }
                3 => match select(pin!(h.recv()), pin!(Timer::sleep(&lp, Duration::ZERO))).await {
                    Either::Left((msg, _)) => got.push(number(&msg.expect("recv"))),
                    Either::Right(_) => dropped += 1,
                },
                4 => {
                    // Two in line; the first goes, the second gets served.
                    // (Boxed: dropping a `pin!`ned future's `Pin<&mut _>`
                    // would not drop the future.)
                    let mut first = Box::pin(h.recv());
                    let mut second = pin!(h.recv());
                    if let Poll::Ready(msg) = poll_once(&mut first).await {
                        got.push(number(&msg.expect("recv")));
                        continue;
                    }
                    if let Poll::Ready(msg) = poll_once(&mut second).await {
                        panic!("the second in line was served first: {msg:?}");
                    }
                    Timer::sleep(&lp, Duration::ZERO).await;
                    drop(first);
                    dropped += 1;
                    got.push(number(&second.await.expect("recv")));
                }
                _ => got.push(number(&h.recv().await.expect("recv"))),
            }
        }
        (got, dropped)
    });
    drop(peer.join(LIMIT));
    assert!(dropped > 0, "some futures were dropped");
    let wrong = got.iter().enumerate().find(|&(n, &m)| n as u64 != m);
    assert_eq!(wrong, None, "(expected, got), after {} messages", got.len());
    assert_eq!(
        h.socket().recv_bytes(zmq::DONTWAIT).err(),
        Some(zmq::Error::EAGAIN),
        "nothing more than was sent"
    );
}

#[test]
fn pending_recv_futures_are_served_in_first_poll_order() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let (h, push) = pull_handle(&ctx, &lp);
    let got = block_on_bounded(&lp, "three messages for three futures", async {
        let (mut a, mut b, mut c) = (pin!(h.recv()), pin!(h.recv()), pin!(h.recv()));
        // First polled: b, then c, then a. Nothing is there yet.
        for f in [&mut b, &mut c, &mut a] {
            assert!(poll_once(f).await.is_pending(), "nothing sent yet");
        }
        for n in 0..3 {
            push.send(seq(n), 0).expect("send");
        }
        // `join3` polls a first: a still waits for its turn.
        let (a, b, c) = join3(a, b, c).await;
        [a, b, c].map(|m| number(&m.expect("recv")))
    });
    assert_eq!(got, [2, 0, 1], "a, b, c served in the order b, c, a");
}

// ---- ready and sleep -------------------------------------------------------

#[test]
fn ready_resolves_with_the_events_and_is_ebusy_on_a_started_handle() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let endpoint = inproc("async-ready");
    let (a, b) = (socket(&ctx, zmq::PAIR), socket(&ctx, zmq::PAIR));
    a.bind(&endpoint).unwrap();
    b.connect(&endpoint).unwrap();
    let (reader, writer) = (ZmqPoll::new(&lp, a).unwrap(), ZmqPoll::new(&lp, b).unwrap());

    let events = block_on_bounded(&lp, "a PAIR writable", writer.ready(Events::WRITABLE));
    assert_eq!(events, Ok(Events::WRITABLE));
    assert!(!writer.is_active(), "stopped again after its one report");

    // Pending until a task sends; then only the requested events that are
    // true (the reader is writable too, which was not asked).
    let sent = Rc::new(Cell::new(false));
    let (s, w) = (sent.clone(), writer.clone());
    lp.spawn_local(async move {
        Timer::sleep(&w.event_loop().unwrap(), Duration::from_millis(1)).await;
        w.socket().send("ping", zmq::DONTWAIT).expect("send");
        s.set(true);
    })
    .unwrap();
    let events = block_on_bounded(&lp, "a PAIR readable", reader.ready(Events::READABLE));
    assert!(
        sent.get(),
        "resolved before the message was sent: {events:?}"
    );
    assert_eq!(events, Ok(Events::READABLE));
    let both = Events::READABLE | Events::WRITABLE;
    assert_eq!(lp.block_on(reader.ready(both)).unwrap(), Ok(both));
    assert_eq!(reader.socket().recv_bytes(zmq::DONTWAIT).unwrap(), b"ping");

    // Started with a callback: EBUSY, and the callback's start stays.
    reader.start(Events::READABLE, |_, _, _| {}).unwrap();
    assert_eq!(
        lp.block_on(reader.ready(Events::READABLE)).unwrap(),
        Err(EBUSY)
    );
    assert!(reader.is_active());
    reader.stop().unwrap();
    assert_eq!(
        lp.block_on(reader.ready(Events::empty())).unwrap(),
        Err(Error::Zmq(zmq::Error::EINVAL))
    );
    reader.close();
    writer.close();
    run_to_end(&lp, limit(), "the closes");
}

/// No timing target: a lower bound, a correctness rule, also right after
/// blocking work outside the loop (the cached loop time is refreshed).
#[test]
fn sleep_resolves_no_earlier_than_its_duration() {
    let lp = Loop::new().unwrap();
    for ms in [0u64, 1, 20] {
        let d = Duration::from_millis(ms);
        let started = Instant::now();
        lp.block_on(Timer::sleep(&lp, d)).unwrap();
        let elapsed = started.elapsed();
        assert!(
            elapsed + UV_RESOLUTION >= d,
            "a {d:?} sleep ended after {elapsed:?}"
        );
    }
    lp.run(RunMode::NoWait).unwrap();
    // The work outside the loop that leaves its time stale.
    std::thread::sleep(Duration::from_millis(300));
    let d = Duration::from_millis(200);
    let started = Instant::now();
    let sleep = Timer::sleep(&lp, d);
    lp.block_on(sleep).unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed + UV_RESOLUTION >= d,
        "a {d:?} sleep after work outside the loop ended after {elapsed:?}"
    );
}

// ---- what keeps run(Default) going -----------------------------------------

#[test]
fn run_default_waits_for_a_pending_recv_and_sleep() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let (h, push) = pull_handle(&ctx, &lp);
    let got = Rc::new(Cell::new(None));
    let slept = Rc::new(Cell::new(false));
    let (g, r) = (got.clone(), h.clone());
    lp.spawn_local(async move {
        g.set(Some(number(&r.recv().await.expect("recv"))));
        r.close();
    })
    .unwrap();
    let (s, l) = (slept.clone(), lp.clone());
    lp.spawn_local(async move {
        Timer::sleep(&l, Duration::from_millis(5)).await;
        s.set(true);
    })
    .unwrap();
    let peer = spawn_peer("late sender", move || {
        push.send(seq(3), 0).expect("send");
        push
    });
    // Whenever the message comes, `run` returns only after the task got it.
    let deadline = Deadline::start(&lp, "run(Default) with a pending recv() and sleep()");
    assert!(!lp.run(RunMode::Default).unwrap());
    deadline.check();
    assert_eq!(got.get(), Some(3));
    assert!(slept.get());
    drop(peer.join(LIMIT));
}

#[test]
fn a_task_waiting_on_nothing_of_the_loop_does_not_keep_it_alive() {
    let lp = Loop::new().unwrap();
    let polled = Rc::new(Cell::new(0));
    let p = polled.clone();
    lp.spawn_local(async move {
        p.set(p.get() + 1);
        std::future::pending::<()>().await;
    })
    .unwrap();
    assert!(lp.alive(), "a task ready to be polled is work");
    assert!(!lp.run(RunMode::Default).unwrap());
    assert_eq!(polled.get(), 1, "polled once before run returned");
    assert!(!lp.alive(), "a task pending on nothing of the loop is not");
    // Likewise a task waiting for another thread.
    let mailbox: Mailbox<()> = Mailbox::new();
    let m = mailbox.clone();
    lp.spawn_local(async move { m.next().await }).unwrap();
    assert!(!lp.run(RunMode::Default).unwrap());
    assert!(!lp.alive());
}

// ---- Stream and Sink --------------------------------------------------------

#[test]
fn stream_and_sink_combinators_work() {
    const MESSAGES: u64 = 10_000;
    let ctx = zmq::Context::new();
    let lp = Loop::new().unwrap();
    let pull = socket(&ctx, zmq::PULL);
    let endpoint = Transport::Tcp.bind(&pull, "async-stream");
    let push = socket(&ctx, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    let (reader, writer) = (Zmq::new(&lp, pull).unwrap(), Zmq::new(&lp, push).unwrap());

    // `send_all` through the sink, `take`/`map`/`filter`/`collect` on the
    // stream, both on one loop.
    let mut sink = writer.sink();
    let sending = async {
        let mut items = stream::iter((0..MESSAGES).map(|n| Ok(vec![zmq::Message::from(seq(n))])));
        sink.send_all(&mut items).await?;
        sink.close().await
    };
    let receiving = reader
        .messages()
        .take(MESSAGES as usize)
        .map(|msg| number(&msg.expect("message")))
        .filter(|n| std::future::ready(n % 2 == 0))
        .collect::<Vec<u64>>();
    let (sent, evens) = block_on_bounded(&lp, "the sink and the stream", async {
        futures_util::future::join(sending, receiving).await
    });
    assert_eq!(sent, Ok(()));
    assert_eq!(evens, (0..MESSAGES).step_by(2).collect::<Vec<_>>());
    assert_eq!(writer.write_queue_size(), 0, "flushed");

    // `feed` + `flush`, then `next` item by item; the stream ends when the
    // handle closes.
    let mut messages = reader.messages();
    let got = block_on_bounded(&lp, "two fed messages", async {
        sink.feed(vec![zmq::Message::from("a")])
            .await
            .expect("feed");
        sink.feed(vec![zmq::Message::from("b")])
            .await
            .expect("feed");
        sink.flush().await.expect("flush");
        let mut got = Vec::new();
        for _ in 0..2 {
            let msg = messages.next().await.expect("an item").expect("message");
            got.push(msg[0].to_vec());
        }
        reader.close();
        (got, messages.next().await.is_none())
    });
    assert_eq!(got, (vec![b"a".to_vec(), b"b".to_vec()], true));

    // A sink on a closed handle refuses.
    writer.close();
    assert_eq!(
        lp.block_on(sink.send(vec![zmq::Message::from("late")]))
            .unwrap(),
        Err(Error::Closed)
    );
    run_to_end(&lp, limit(), "the closes");
}
