//! Ownership and resources: the loop keeps active handles alive, handles outlive their loop only as closed shells, dropping a loop frees its handles and drops their callbacks uncalled, sockets are released once closed and unreferenced, create/close cycles do not grow memory, and other threads posting or sending while the loop runs or goes leave nothing behind. `cargo xtask leakcheck` runs this file under valgrind: keep it small.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tests::cross_thread::{posts_racing_with_drop, senders_from_threads};
use tests::real::{
    Drops, inproc, limit, log, open_fds, rss_kib, run_to_end, seq, seq_of, serial, settle, socket,
    spawn_peer, terminate_in_thread, under_valgrind,
};
use uzmq::{Error, Events, Loop, RunMode, Timer, Zmq, ZmqPoll, zmq};

/// Terminates `ctx` in another thread and requires it to finish: it does
/// only once every socket of the context was released (`zmq_close`).
fn assert_all_sockets_released(ctx: zmq::Context, what: &str) {
    let term = terminate_in_thread(&ctx);
    drop(ctx);
    assert!(
        term.wait(limit()),
        "the context termination did not finish within {:?}: {what} still holds a socket",
        limit()
    );
    term.join(limit()).expect("zmq_ctx_term");
}

/// A started `Zmq` whose every user clone was dropped keeps reading; its
/// callback closes it through the handle it is given; then the loop ends,
/// the callback is dropped and the socket released.
#[test]
fn active_handle_outlives_its_clones() {
    let _serial = serial();
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let endpoint = inproc("orphan");
    let h = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL");
    h.socket().bind(&endpoint).expect("bind");
    let got = log::<u64>();
    let drops = Drops::new();
    let (g, token) = (got.clone(), drops.token());
    h.start_read(move |h, msg| {
        let _ = &token;
        g.borrow_mut().push(seq_of(&msg.expect("message")[0]));
        if g.borrow().len() == 10 {
            h.close();
        }
    })
    .expect("start_read");
    drop(h);
    let push = socket(&ctx, zmq::PUSH);
    push.connect(&endpoint).expect("connect");
    for i in 0..10 {
        push.send(seq(i), 0).expect("send");
    }
    run_to_end(
        &lp,
        limit(),
        "the orphaned handle to read 10 messages and close",
    );
    assert_eq!(*got.borrow(), (0..10).collect::<Vec<_>>());
    assert_eq!(drops.live(), 0, "the read callback was dropped at close");
    drop(push);
    assert_all_sockets_released(ctx, "the orphaned handle");
}

/// Callbacks that capture a clone of their own handle (a cycle) close it
/// through that clone; the close drops the callback, which breaks the
/// cycle: the handles are freed and their sockets released.
#[test]
fn callbacks_capturing_their_own_handle() {
    let _serial = serial();
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let drops = Drops::new();
    let endpoint = inproc("self-capture");

    let reader = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL");
    reader.socket().bind(&endpoint).expect("bind");
    let (me, token) = (reader.clone(), drops.token());
    reader
        .start_read(move |_, msg| {
            let _ = &token;
            msg.expect("message");
            me.close();
        })
        .expect("start_read");

    let poll = ZmqPoll::new(&lp, socket(&ctx, zmq::PUB)).expect("poll");
    let (me, token) = (poll.clone(), drops.token());
    poll.start(Events::WRITABLE, move |_, _, _| {
        let _ = &token;
        me.close();
    })
    .expect("start");

    let timer = Timer::new(&lp).expect("timer");
    let (me, token) = (timer.clone(), drops.token());
    timer
        .start(Duration::ZERO, Duration::from_millis(1), move |_| {
            let _ = &token;
            me.close();
        })
        .expect("start");

    drop((reader, poll, timer));
    let push = socket(&ctx, zmq::PUSH);
    push.connect(&endpoint).expect("connect");
    push.send("x", 0).expect("send");
    run_to_end(&lp, limit(), "the self-closing handles");
    assert_eq!(drops.live(), 0, "callbacks dropped at close");
    drop(push);
    assert_all_sockets_released(ctx, "a self-capturing handle");
}

/// Once every `Loop` clone is gone, the handles still held are closed
/// shells: calls return `Err(Closed)` (before a socket-type refusal),
/// `event_loop()` errs, the getters work, and dropping them releases the
/// sockets.
#[test]
fn handles_after_their_loop_is_gone() {
    let _serial = serial();
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let z = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("DEALER");
    let pull = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL");
    let p = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).expect("poll");
    let t = Timer::new(&lp).expect("timer");
    z.start_read(|_, _| {}).expect("start_read");
    // (A loop dropped with the handle's turn still pending: see
    // `zmq_inactive_once_its_loop_is_gone_with_a_turn_pending`.)
    lp.run(RunMode::NoWait).expect("run");
    drop(lp);

    let drops = Drops::new();
    assert_eq!(z.write("x"), Err(Error::Closed));
    assert_eq!(z.write_multipart(["a", "b"]), Err(Error::Closed));
    let tk = drops.token();
    assert_eq!(
        z.write_with(["x"], move |_, _| drop(tk)),
        Err(Error::Closed)
    );
    let tk = drops.token();
    assert_eq!(
        z.start_read(move |_, _| {
            let _ = &tk;
        }),
        Err(Error::Closed)
    );
    assert_eq!(z.stop_read(), Err(Error::Closed));
    assert_eq!(z.stop(), Err(Error::Closed));
    assert_eq!(z.flush(), Err(Error::Closed));
    let tk = drops.token();
    z.close_with(move |_| drop(tk));
    let tk = drops.token();
    z.shutdown(move |_, _| drop(tk));
    assert!(matches!(z.event_loop(), Err(Error::Closed)));
    assert_eq!(
        (z.is_reading(), z.is_active(), z.is_closed()),
        (false, false, true)
    );
    assert_eq!(z.write_queue_size(), 0);
    assert_eq!(z.socket().get_socket_type().expect("type"), zmq::DEALER);
    assert_eq!(
        pull.write("x"),
        Err(Error::Closed),
        "on a handle whose loop is gone, Closed wins over ENOTSUP"
    );

    let tk = drops.token();
    assert_eq!(
        p.start(Events::READABLE, move |_, _, _| {
            let _ = &tk;
        }),
        Err(Error::Closed)
    );
    assert_eq!(p.stop(), Err(Error::Closed));
    let tk = drops.token();
    p.close_with(move |_| drop(tk));
    assert!(matches!(p.event_loop(), Err(Error::Closed)));
    assert_eq!((p.is_active(), p.is_closed()), (false, true));

    let tk = drops.token();
    assert_eq!(
        t.start(Duration::ZERO, Duration::ZERO, move |_| {
            let _ = &tk;
        }),
        Err(Error::Closed)
    );
    assert_eq!(t.stop(), Err(Error::Closed));
    let tk = drops.token();
    t.close_with(move |_| drop(tk));
    assert!(matches!(t.event_loop(), Err(Error::Closed)));
    assert_eq!((t.is_active(), t.is_closed()), (false, true));
    assert_eq!(
        drops.live(),
        0,
        "callbacks given to a loop-less handle are dropped"
    );

    drop((z, pull, p, t));
    assert_all_sockets_released(ctx, "a handle of a dropped loop");
}

/// A reading `Zmq` whose loop is dropped before it ran the handle's first
/// turn is closed, hence not active.
#[test]
fn zmq_inactive_once_its_loop_is_gone_with_a_turn_pending() {
    let _serial = serial();
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let z = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("DEALER");
    z.start_read(|_, _| {}).expect("start_read");
    drop(lp);
    assert_eq!(
        (z.is_reading(), z.is_active(), z.is_closed()),
        (false, false, true)
    );
}

/// A refused write drops its callback after the handle's state is
/// released: here that callback holds the last `Loop` clone, whose drop
/// closes the very handle being written to.
#[test]
fn refused_write_callback_holding_the_last_loop_clone() {
    let _serial = serial();
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let z = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("DEALER");
    z.set_write_queue_limit(Some(0));
    let r = z.write_with(["x"], move |_, _| {
        let _ = &lp;
    });
    assert_eq!(r, Err(Error::QueueFull));
    assert!(z.is_closed(), "the loop went with the refused callback");
    assert_eq!(z.write("y"), Err(Error::Closed));
}

/// Dropping a loop with handles in every state (reading, writes queued,
/// close pending, shutting down, poll started with and without timeout,
/// timers started and closing, some referenced only by the loop or by
/// their own callback) drops every callback uncalled and frees the handles.
#[test]
fn dropping_a_loop_frees_its_handles() {
    let _serial = serial();
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let drops = Drops::new();
    let called = Rc::new(Cell::new(0));
    let endpoint = inproc("loop-drop");

    // A reading PULL with messages waiting, referenced only by the loop.
    let reader = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL");
    reader.socket().bind(&endpoint).expect("bind");
    let (tk, c) = (drops.token(), called.clone());
    reader
        .start_read(move |_, _| {
            let _ = &tk;
            c.set(c.get() + 1);
        })
        .expect("start_read");
    drop(reader);
    let push = socket(&ctx, zmq::PUSH);
    push.connect(&endpoint).expect("connect");
    push.send("waiting", 0).expect("send");

    // Writes queued (no peer), with completions; one capturing its handle.
    // Their frames are larger than the 33 bytes libzmq keeps inside the
    // message itself, so a frame left unclosed is a leak valgrind sees.
    let writer = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH");
    writer
        .write_multipart([vec![b'a'; 100], vec![b'b'; 100]])
        .expect("queue");
    for _ in 0..3 {
        let (tk, c, me) = (drops.token(), called.clone(), writer.clone());
        writer
            .write_with([vec![b'q'; 100]], move |_, _| {
                let _ = (&tk, &me);
                c.set(c.get() + 1);
            })
            .expect("queue");
    }
    // A close pending (the loop never ran it), with writes to cancel.
    let closing = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("DEALER");
    let (tk, c) = (drops.token(), called.clone());
    closing
        .write_with(["x"], move |_, _| {
            let _ = &tk;
            c.set(c.get() + 1);
        })
        .expect("queue");
    let (tk, c) = (drops.token(), called.clone());
    closing.close_with(move |_| {
        let _ = &tk;
        c.set(c.get() + 1);
    });
    drop(closing);
    // Shutting down with writes queued (no peer).
    let shutting = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH");
    let (tk, c) = (drops.token(), called.clone());
    shutting
        .write_with([vec![b'y'; 100]], move |_, _| {
            let _ = &tk;
            c.set(c.get() + 1);
        })
        .expect("queue");
    let (tk, c) = (drops.token(), called.clone());
    shutting.shutdown(move |_, _| {
        let _ = &tk;
        c.set(c.get() + 1);
    });
    drop(shutting);
    // Poll handles: one idle with a timeout, one capturing itself.
    let idle = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).expect("poll");
    let (tk, c) = (drops.token(), called.clone());
    idle.start_with_timeout(Events::READABLE, Duration::from_secs(60), move |_, _, _| {
        let _ = &tk;
        c.set(c.get() + 1);
    })
    .expect("start");
    let selfish = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).expect("poll");
    let (tk, c, me) = (drops.token(), called.clone(), selfish.clone());
    selfish
        .start(Events::READABLE, move |_, _, _| {
            let _ = (&tk, &me);
            c.set(c.get() + 1);
        })
        .expect("start");
    drop((idle, selfish));
    // Timers: a repeating one, and one whose close is pending.
    let ticking = Timer::new(&lp).expect("timer");
    let (tk, c) = (drops.token(), called.clone());
    ticking
        .start(
            Duration::from_secs(60),
            Duration::from_secs(60),
            move |_| {
                let _ = &tk;
                c.set(c.get() + 1);
            },
        )
        .expect("start");
    let closing_timer = Timer::new(&lp).expect("timer");
    let (tk, c) = (drops.token(), called.clone());
    closing_timer.close_with(move |_| {
        let _ = &tk;
        c.set(c.get() + 1);
    });
    drop(closing_timer);

    let live = drops.live();
    assert_eq!(live, 12);
    assert!(lp.alive());
    drop(lp);
    assert_eq!(drops.live(), 0, "every callback was dropped with the loop");
    // `writer` and `ticking` are still held: closed shells.
    assert!(writer.is_closed() && ticking.is_closed());
    assert_eq!(writer.write("z"), Err(Error::Closed));
    assert_eq!(writer.write_queue_size(), 0);
    drop((writer, ticking));
    assert_eq!(called.get(), 0, "no callback was called");
    drop(push);
    assert_all_sockets_released(ctx, "a handle of a dropped loop");
}

/// One create/start/close cycle of each handle kind; the close callbacks
/// count into `closed`.
fn cycle(lp: &Loop, ctx: &zmq::Context, drops: &Drops, closed: &Rc<Cell<usize>>) {
    let z = Zmq::new(lp, socket(ctx, zmq::DEALER)).expect("DEALER");
    let tk = drops.token();
    z.start_read(move |_, _| {
        let _ = &tk;
    })
    .expect("start_read");
    let tk = drops.token();
    z.write_with(["x"], move |_, r| {
        assert_eq!(r, Err(Error::Closed));
        drop(tk);
    })
    .expect("queue");
    let p = ZmqPoll::new(lp, socket(ctx, zmq::PULL)).expect("poll");
    let tk = drops.token();
    p.start_with_timeout(Events::READABLE, Duration::from_secs(60), move |_, _, _| {
        let _ = &tk;
    })
    .expect("start");
    let t = Timer::new(lp).expect("timer");
    let tk = drops.token();
    t.start(Duration::from_secs(60), Duration::ZERO, move |_| {
        let _ = &tk;
    })
    .expect("start");
    for close in [
        Box::new({
            let c = closed.clone();
            move || z.close_with(move |_| c.set(c.get() + 1))
        }) as Box<dyn FnOnce()>,
        Box::new({
            let c = closed.clone();
            move || p.close_with(move |_| c.set(c.get() + 1))
        }),
        Box::new({
            let c = closed.clone();
            move || t.close_with(move |_| c.set(c.get() + 1))
        }),
    ] {
        close();
    }
}

/// Thousands of handles created, started and closed: every callback is
/// dropped, every close callback runs once, no file descriptor and no
/// socket is left behind, and resident memory does not grow past warm-up.
///
/// Each batch of cycles has a libzmq context of its own, terminated once
/// the batch's closes completed: a closed socket counts against its
/// context's 1,023-socket limit until libzmq's reaper thread destroys it,
/// which can fall a thousand sockets behind a loop that closes them this
/// fast, and the termination waits for exactly that.
#[test]
fn create_and_close_many_handles() {
    let _serial = serial();
    const BATCH: usize = 50;
    // Valgrind runs one thread at a time, slowly.
    let (warm_up, cycles) = if under_valgrind() {
        (BATCH, 6 * BATCH)
    } else {
        (4 * BATCH, 40 * BATCH)
    };
    // libuv opens process-wide fds with its first loop (the signal lock
    // pipe): count after one loop came and went.
    drop(Loop::new().expect("loop"));
    let fds_before = open_fds();
    let lp = Loop::new().expect("loop");
    let drops = Drops::new();
    let closed = Rc::new(Cell::new(0));
    let mut rss_after_warm_up = 0;
    for batch in 0..(warm_up + cycles) / BATCH {
        if batch * BATCH == warm_up {
            rss_after_warm_up = rss_kib();
        }
        let ctx = zmq::Context::new();
        for _ in 0..BATCH {
            cycle(&lp, &ctx, &drops, &closed);
        }
        assert!(
            !settle(&lp, 10),
            "the closes completed within a few iterations"
        );
        assert_eq!(drops.live(), 0, "callbacks of closed handles are dropped");
        assert_eq!(
            closed.get(),
            3 * BATCH * (batch + 1),
            "each close callback once"
        );
        assert_all_sockets_released(ctx, "a closed handle");
    }
    let growth = rss_kib().saturating_sub(rss_after_warm_up);
    eprintln!("resident memory growth over {cycles} cycles after warm-up: {growth} KiB");
    if !under_valgrind() {
        assert!(
            growth < 8 * 1024,
            "resident memory grew by {growth} KiB over {cycles} create/close cycles"
        );
    }
    drop(lp);
    // Also the loops: many created and dropped, each with a handle.
    for _ in 0..if under_valgrind() { 20 } else { 200 } {
        let lp = Loop::new().expect("loop");
        let t = Timer::new(&lp).expect("timer");
        t.start(Duration::from_secs(60), Duration::ZERO, |_| {})
            .expect("start");
        lp.run(RunMode::NoWait).expect("run");
    }
    assert_eq!(
        open_fds(),
        fds_before,
        "file descriptors leaked (sockets or loops)"
    );
}

/// The socket of a handle is released only once its close completed *and*
/// its last clone is gone: a context termination waits until both.
#[test]
fn socket_released_when_close_completes_and_last_clone_gone() {
    let _serial = serial();
    let short = Duration::from_millis(if under_valgrind() { 500 } else { 50 });

    // A clone outlives the close.
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let h = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL");
    let clone = h.clone();
    h.close();
    drop(h);
    run_to_end(&lp, limit(), "the close");
    let term = terminate_in_thread(&ctx);
    drop(ctx);
    assert!(
        !term.wait(short),
        "the socket was released while a clone was held"
    );
    assert!(clone.is_closed());
    drop(clone);
    assert!(
        term.wait(limit()),
        "the socket was not released after the last clone went"
    );
    term.join(limit()).expect("zmq_ctx_term");

    // No clone left, but the close has not completed: the loop holds it.
    let ctx = zmq::Context::new();
    let p = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).expect("poll");
    p.start(Events::READABLE, |_, _, _| {}).expect("start");
    p.close();
    drop(p);
    let term = terminate_in_thread(&ctx);
    drop(ctx);
    assert!(
        !term.wait(short),
        "the socket was released before the close completed"
    );
    run_to_end(&lp, limit(), "the close");
    assert!(
        term.wait(limit()),
        "the socket was not released after the close completed"
    );
    term.join(limit()).expect("zmq_ctx_term");
}

/// `Loop::default_loop()`: the same loop on one thread, another one on
/// another thread, living until its thread ends (then its handles go and
/// their sockets are released).
#[test]
fn default_loop_per_thread() {
    let _serial = serial();
    let ctx = zmq::Context::new();
    let ctx2 = ctx.clone();
    let peer = spawn_peer("default loop", move || {
        let a = Loop::default_loop().expect("default loop");
        let b = Loop::default_loop().expect("default loop");
        assert!(a == b, "one default loop per thread");
        assert!(
            a != Loop::new().expect("loop"),
            "a new loop is another loop"
        );
        let t = Timer::new(&a).expect("timer");
        t.start(Duration::from_secs(60), Duration::ZERO, |_| {})
            .expect("start");
        let other = spawn_peer("another thread", || {
            let theirs = Loop::default_loop().expect("default loop");
            // Nothing of the first thread's default loop shows on this one.
            !theirs.alive()
        });
        assert!(
            other.join(limit()),
            "another thread got another (idle) default loop"
        );
        assert!(b.alive(), "the timer is on this thread's default loop");
        // A reading handle on the default loop, all user references dropped:
        // it lives with the loop, until the thread ends.
        let h = Zmq::new(&a, socket(&ctx2, zmq::PULL)).expect("PULL");
        h.start_read(|_, _| {}).expect("start_read");
        drop((a, b, t, h));
        assert!(
            Loop::default_loop().expect("default loop").alive(),
            "still there"
        );
    });
    peer.join(limit());
    assert_all_sockets_released(ctx, "the default loop of a finished thread");
}

/// Posts from 4 threads and a blocked `Sender` racing with the loop's
/// drop, round after round: under valgrind, no function, message or async
/// handle outlives its loop, and nothing is touched after it is freed.
#[test]
fn posts_racing_with_the_loops_drop() {
    let _serial = serial();
    posts_racing_with_drop(if under_valgrind() { 10 } else { 100 }, 4);
}

/// 4 threads x 10,000 messages through a `Sender` each into one PUSH
/// handle, read on the same loop: every message arrives once, in order,
/// and the channels and their messages are freed.
#[test]
fn four_senders_of_ten_thousand_messages() {
    let _serial = serial();
    senders_from_threads(4, 10_000, 100, false);
}
