//! `Monitor` on the real backends: the events of a monitored socket in
//! libzmq's order, `MonitorStopped` last and exactly once (also when the
//! monitored handle closes while a clone of it is held), `close` stopping
//! callbacks at once, a busy loop with thousands of connections, and
//! thousands of monitors created and dropped. One loop, one thread.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use tests::real::{bind_tcp, limit, log, rss_kib, run_to_end, run_until, serial, socket};
use uzmq::{EventKind, Loop, Monitor, RunMode, SocketEvent, Timer, Zmq, ZmqPoll, zmq};

/// A monitor whose callback records every event (an error fails the test).
fn record(h: &Zmq, ctx: &zmq::Context) -> (Monitor, Rc<RefCell<Vec<SocketEvent>>>) {
    let seen = log();
    let log = seen.clone();
    let m = h
        .monitor(ctx, move |_, ev| {
            log.borrow_mut().push(ev.expect("an event"))
        })
        .expect("monitor");
    (m, seen)
}

fn kinds(seen: &RefCell<Vec<SocketEvent>>) -> Vec<EventKind> {
    seen.borrow().iter().map(|e| e.kind).collect()
}

fn count(seen: &RefCell<Vec<SocketEvent>>, kind: EventKind) -> usize {
    seen.borrow().iter().filter(|e| e.kind == kind).count()
}

#[test]
fn listening_comes_with_the_bound_endpoint_when_made_before_bind() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let server = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("handle");
    let (m, seen) = record(&server, &ctx);
    assert!(m.is_active(), "a monitor is active from its creation");
    let endpoint = bind_tcp(server.socket());
    run_until(&lp, limit(), "Listening", || {
        count(&seen, EventKind::Listening) == 1
    });
    let ev = seen.borrow()[0].clone();
    assert_eq!(ev.kind, EventKind::Listening);
    assert_eq!(ev.endpoint, endpoint);
    server.close();
    run_to_end(&lp, limit(), "the monitor to stop");
}

#[test]
fn a_peer_is_accepted_then_handshakes_then_disconnects() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let server = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("handle");
    let (_m, seen) = record(&server, &ctx);
    let endpoint = bind_tcp(server.socket());
    let client = socket(&ctx, zmq::PUSH);
    client.connect(&endpoint).expect("connect");
    run_until(&lp, limit(), "HandshakeSucceeded", || {
        count(&seen, EventKind::HandshakeSucceeded) == 1
    });
    drop(client);
    run_until(&lp, limit(), "Disconnected", || {
        count(&seen, EventKind::Disconnected) == 1
    });
    assert_eq!(
        kinds(&seen),
        [
            EventKind::Listening,
            EventKind::Accepted,
            EventKind::HandshakeSucceeded,
            EventKind::Disconnected
        ]
    );
    // Accepted and Disconnected carry the connection's fd;
    // HandshakeSucceeded carries 0 on this libzmq.
    let events = seen.borrow();
    assert_eq!(events[1].value, events[3].value, "{events:?}");
    drop(events);
    server.close();
    run_to_end(&lp, limit(), "the monitor to stop");
}

#[test]
fn thousands_of_connections_on_a_busy_loop_arrive_in_order_and_never_stall_the_peer() {
    const CYCLES: usize = 5_000;
    const BATCH: usize = 100;
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let server = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("handle");
    // The monitor checks the order as events arrive: an fd is accepted
    // before it disconnects (and only then may libzmq hand the same fd
    // number out again), and no more handshakes succeed than connections
    // were accepted, nor more connections leave than handshook.
    let open: Rc<RefCell<HashSet<u32>>> = Rc::default();
    let accepted = Rc::new(Cell::new(0));
    let (handshakes, disconnects) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let (conns, acc, hs, dc) = (
        open.clone(),
        accepted.clone(),
        handshakes.clone(),
        disconnects.clone(),
    );
    server
        .monitor(&ctx, move |_, ev| {
            let ev = ev.expect("an event");
            let mut conns = conns.borrow_mut();
            match ev.kind {
                EventKind::Listening | EventKind::MonitorStopped => {}
                EventKind::Accepted => {
                    assert!(conns.insert(ev.value), "fd {} accepted twice", ev.value);
                    acc.set(acc.get() + 1);
                }
                EventKind::HandshakeSucceeded => {
                    hs.set(hs.get() + 1);
                    assert!(hs.get() <= acc.get(), "a handshake before its accept");
                }
                EventKind::Disconnected => {
                    assert!(conns.remove(&ev.value), "fd {} left unaccepted", ev.value);
                    dc.set(dc.get() + 1);
                    assert!(dc.get() <= hs.get(), "a disconnect before its handshake");
                }
                other => panic!("unexpected event {other:?}: {ev:?}"),
            }
        })
        .expect("monitor");
    let endpoint = bind_tcp(server.socket());
    let received = Rc::new(Cell::new(0usize));
    let got = received.clone();
    server
        .start_read(move |_, msg| {
            msg.expect("a message");
            got.set(got.get() + 1);
        })
        .expect("read");
    // Keep the loop busy: a timer due on every iteration.
    let busy = Timer::new(&lp).expect("timer");
    let ticks = Rc::new(Cell::new(0u64));
    let t = ticks.clone();
    busy.start(Duration::ZERO, Duration::from_millis(1), move |_| {
        t.set(t.get() + 1)
    })
    .expect("start the busy timer");

    let mut done = 0;
    while done < CYCLES {
        let n = BATCH.min(CYCLES - done);
        let clients: Vec<_> = (0..n)
            .map(|_| {
                let c = socket(&ctx, zmq::PUSH);
                c.connect(&endpoint).expect("connect");
                c
            })
            .collect();
        run_until(&lp, limit(), "this batch's handshakes", || {
            handshakes.get() == done + n
        });
        for c in &clients {
            // The handshake is done, so the pipe is there: no blocking.
            c.send("x", zmq::DONTWAIT)
                .expect("the peer is never stalled");
        }
        run_until(&lp, limit(), "this batch's messages", || {
            received.get() == done + n
        });
        drop(clients);
        run_until(&lp, limit(), "this batch's disconnects", || {
            disconnects.get() == done + n
        });
        done += n;
    }
    assert!(open.borrow().is_empty());
    assert!(ticks.get() > 0, "the busy timer ran");
    busy.close();
    server.close();
    run_to_end(&lp, limit(), "the monitor to stop");
}

#[test]
fn closing_the_monitored_handle_delivers_queued_events_then_monitor_stopped_once() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let server = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("handle");
    let (m, seen) = record(&server, &ctx);
    let endpoint = bind_tcp(server.socket());
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let c = socket(&ctx, zmq::PUSH);
            c.set_sndtimeo(limit().as_millis() as i32)
                .expect("sndtimeo");
            // Queue nothing before the connection is up.
            c.set_immediate(true).expect("ZMQ_IMMEDIATE");
            c.connect(&endpoint).expect("connect");
            // Blocks until the connection is up, so its server side was
            // accepted; the loop has not run, so the events wait queued.
            c.send("x", 0).expect("send once connected");
            c
        })
        .collect();
    // `server` is still held: the close, not the socket's destruction,
    // must end the monitoring.
    server.close();
    run_to_end(&lp, limit(), "the monitor to stop");
    let kinds = kinds(&seen);
    assert_eq!(kinds.first(), Some(&EventKind::Listening));
    assert_eq!(kinds.last(), Some(&EventKind::MonitorStopped), "{kinds:?}");
    assert_eq!(count(&seen, EventKind::MonitorStopped), 1);
    assert_eq!(count(&seen, EventKind::Accepted), 3, "{kinds:?}");
    assert!(m.is_closed() && !m.is_active(), "it closed itself");
    drop(clients);
}

#[test]
fn a_poll_handle_closed_while_held_stops_its_monitor_once() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let poll = ZmqPoll::new(&lp, socket(&ctx, zmq::PULL)).expect("handle");
    let seen = log();
    let l = seen.clone();
    let m = poll
        .monitor(&ctx, move |_, ev| {
            l.borrow_mut().push(ev.expect("event").kind)
        })
        .expect("monitor");
    bind_tcp(poll.socket());
    let held = poll.clone();
    poll.close();
    run_to_end(&lp, limit(), "the monitor to stop");
    assert_eq!(
        *seen.borrow(),
        [EventKind::Listening, EventKind::MonitorStopped]
    );
    assert!(m.is_closed());
    assert!(held.monitor(&ctx, |_, _| {}).is_err(), "a closed handle");
}

#[test]
fn closing_the_monitor_stops_callbacks_at_once_and_the_socket_goes_on() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let server = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("handle");
    let (m, seen) = record(&server, &ctx);
    let endpoint = bind_tcp(server.socket()); // Listening is queued now
    let closed = Rc::new(Cell::new(false));
    let c = closed.clone();
    m.close_with(move |m| {
        assert!(m.is_closed());
        c.set(true);
    });
    assert!(m.is_closed() && !m.is_active());
    let received = Rc::new(Cell::new(false));
    let r = received.clone();
    server
        .start_read(move |h, msg| {
            msg.expect("a message");
            r.set(true);
            h.close();
        })
        .expect("read");
    let client = socket(&ctx, zmq::PUSH);
    client.connect(&endpoint).expect("connect");
    client.send("after", 0).expect("send");
    run_to_end(&lp, limit(), "the message after the monitor closed");
    assert!(received.get(), "the monitored socket is not stalled");
    assert!(closed.get(), "the close callback ran");
    assert!(
        seen.borrow().is_empty(),
        "no callback after close: {seen:?}"
    );
}

#[test]
fn a_second_monitor_replaces_the_first() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let server = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("handle");
    let (first, seen1) = record(&server, &ctx);
    let (second, seen2) = record(&server, &ctx);
    assert_ne!(first.endpoint(), second.endpoint());
    bind_tcp(server.socket());
    run_until(&lp, limit(), "the second monitor's Listening", || {
        count(&seen2, EventKind::Listening) == 1 && first.is_closed()
    });
    assert_eq!(kinds(&seen1), [EventKind::MonitorStopped]);
    first.close(); // closed already: must not switch the second one off
    server.close();
    run_to_end(&lp, limit(), "the second monitor to stop");
    assert_eq!(
        kinds(&seen2),
        [EventKind::Listening, EventKind::MonitorStopped]
    );
}

#[test]
fn dropping_the_loop_drops_the_monitor_callback_uncalled() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let server = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("handle");
    let (m, seen) = record(&server, &ctx);
    bind_tcp(server.socket());
    drop(lp);
    assert!(m.is_closed());
    assert!(m.event_loop().is_err());
    assert!(seen.borrow().is_empty());
    drop((server, m));
}

#[test]
fn ten_thousand_monitored_sockets_come_and_go_without_clash_or_growth() {
    const SOCKETS: usize = 10_000;
    const BATCH: usize = 100;
    let _serial = serial();
    let lp = Loop::new().expect("loop");
    let stopped = Rc::new(Cell::new(0usize));
    let mut endpoints = HashSet::new();
    let mut rss_after_warmup = 0;
    for batch in 0..SOCKETS / BATCH {
        // libzmq closes sockets in its reaper thread, after `zmq_close`
        // returned, and refuses new ones past its limit (1,023) meanwhile.
        // A context per batch waits for them in its termination; the
        // endpoints are checked unique across all batches.
        let ctx = zmq::Context::new();
        for _ in 0..BATCH {
            let h = Zmq::new(&lp, socket(&ctx, zmq::PAIR)).expect("handle");
            let s = stopped.clone();
            let m = h
                .monitor(&ctx, move |_, ev| {
                    if ev.expect("an event").kind == EventKind::MonitorStopped {
                        s.set(s.get() + 1);
                    }
                })
                .expect("monitor: no endpoint clash");
            assert!(endpoints.insert(m.endpoint().to_owned()), "endpoint reused");
            // Dropped without close: the socket's drop switches the
            // monitoring off, which stops its monitor.
        }
        let want = (batch + 1) * BATCH;
        run_until(&lp, limit(), "the batch's MonitorStopped", || {
            stopped.get() == want
        });
        run_to_end(&lp, limit(), "the batch's closes");
        drop(ctx);
        if batch == 9 {
            rss_after_warmup = rss_kib();
        }
    }
    let grown = rss_kib().saturating_sub(rss_after_warmup);
    assert!(
        grown < 8 * 1024,
        "resident memory grew by {grown} KiB over {SOCKETS} monitored sockets"
    );
    assert!(!lp.run(RunMode::NoWait).expect("run"));
}
