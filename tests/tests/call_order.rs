//! Call-order tests with `mockall`: a stream handle (and a poll handle) on
//! the mock loop over a socket whose every call is an expectation, to check
//! the exact sequence of socket calls: after the last receive (the one that
//! would block) and after a send, `ZMQ_EVENTS` is read again before the
//! handle sleeps; a capped batch re-reads it next iteration; and with
//! nothing to do, no socket call happens at all. At the end, what a handle
//! gives back to the loop when it closes or goes, and the loop's hold on
//! an active handle whose clones are all gone.

use std::cell::RefCell;
use std::rc::Rc;

use mockall::Sequence;
use tests::mock_harness::{Msg, new_loop, to_bytes};
use uzmq_core::mock::{FakeFd, MockReactor};
use uzmq_core::{
    Error, Events, Io, PollHandle, RawFd, Reactor, Result, RunMode, Socket, StreamHandle, Watch,
};

/// The calls of [`uzmq_core::Socket`], as a trait `mockall` can mock.
#[mockall::automock]
pub trait SocketCalls {
    /// `Socket::fd`.
    fn fd(&self) -> Result<RawFd>;
    /// `Socket::events`.
    fn events(&self) -> Result<Events>;
    /// `Socket::send_frame`.
    fn send_frame(&self, frame: &mut zmq::Message, more: bool) -> Result<Io<()>>;
    /// `Socket::recv_frame`.
    fn recv_frame(&self, frame: &mut zmq::Message) -> Result<Io<bool>>;
    /// `Socket::is_signalled`.
    fn is_signalled(&self) -> bool;
    /// `Socket::can_send`.
    fn can_send(&self) -> bool;
    /// `Socket::can_recv`.
    fn can_recv(&self) -> bool;
}

/// A [`Socket`] forwarding every call to the shared mock, which the test
/// keeps to set expectations after the handle took the socket.
struct Adapter(Rc<RefCell<MockSocketCalls>>);

impl Socket for Adapter {
    fn fd(&self) -> Result<RawFd> {
        self.0.borrow().fd()
    }
    fn events(&self) -> Result<Events> {
        self.0.borrow().events()
    }
    fn send_frame(&self, frame: &mut zmq::Message, more: bool) -> Result<Io<()>> {
        self.0.borrow().send_frame(frame, more)
    }
    fn recv_frame(&self, frame: &mut zmq::Message) -> Result<Io<bool>> {
        self.0.borrow().recv_frame(frame)
    }
    fn is_signalled(&self) -> bool {
        self.0.borrow().is_signalled()
    }
    fn can_send(&self) -> bool {
        self.0.borrow().can_send()
    }
    fn can_recv(&self) -> bool {
        self.0.borrow().can_recv()
    }
}

type Stream = StreamHandle<MockReactor, Adapter>;
type Poll = PollHandle<MockReactor, Adapter>;

const R: Events = Events::READABLE;
const W: Events = Events::WRITABLE;
const NONE: Events = Events::empty();

/// A mocked socket with a fake fd: `fd()` expected once (the handle asks
/// for it when created); `can_send`/`can_recv` answer true whenever asked
/// (the type is read once in the real backend: not a libzmq call).
struct Rig {
    fd: Rc<FakeFd>,
    calls: Rc<RefCell<MockSocketCalls>>,
    seq: Sequence,
}

impl Rig {
    fn new() -> Rig {
        let fd = Rc::new(FakeFd::new());
        let mut calls = MockSocketCalls::new();
        let n = fd.fd();
        calls.expect_fd().times(1).returning(move || Ok(n));
        // Asked without consuming anything: the fake fd's level.
        let level = fd.clone();
        calls
            .expect_is_signalled()
            .returning_st(move || level.is_readable());
        calls.expect_can_send().returning(|| true);
        calls.expect_can_recv().returning(|| true);
        Rig {
            fd,
            calls: Rc::new(RefCell::new(calls)),
            seq: Sequence::new(),
        }
    }

    fn socket(&self) -> Adapter {
        Adapter(self.calls.clone())
    }

    /// Next in sequence: one `events()` returning `ev`; like libzmq's, it
    /// processes the mailbox and so consumes the fd's signal.
    fn events(&mut self, ev: Events) {
        let fd = self.fd.clone();
        self.calls
            .borrow_mut()
            .expect_events()
            .times(1)
            .in_sequence(&mut self.seq)
            .returning_st(move || {
                fd.set_readable(false);
                Ok(ev)
            });
    }

    /// Next in sequence: one `recv_frame()` handing over `data` (with
    /// `more`), or would-block with `None`.
    fn recv(&mut self, data: Option<(&'static str, bool)>) {
        self.calls
            .borrow_mut()
            .expect_recv_frame()
            .times(1)
            .in_sequence(&mut self.seq)
            .returning(move |frame: &mut zmq::Message| match data {
                Some((bytes, more)) => {
                    *frame = zmq::Message::from(bytes);
                    Ok(Io::Done(more))
                }
                None => Ok(Io::WouldBlock),
            });
    }

    /// Next in sequence: one `send_frame()` of `data` with `more`, taken
    /// (`true`) or refused with would-block.
    fn send(&mut self, data: &'static str, more: bool, taken: bool) {
        self.calls
            .borrow_mut()
            .expect_send_frame()
            .withf(move |frame: &zmq::Message, m: &bool| {
                &frame[..] == data.as_bytes() && *m == more
            })
            .times(1)
            .in_sequence(&mut self.seq)
            .returning(move |frame: &mut zmq::Message, _more: bool| {
                if taken {
                    *frame = zmq::Message::new();
                    Ok(Io::Done(()))
                } else {
                    Ok(Io::WouldBlock)
                }
            });
    }

    /// Every expectation so far was met; from now on the fd answers
    /// `is_signalled` with `signalled` whatever its level, and the caller
    /// sets the other expectations on what this returns (unordered).
    fn expect_only(&mut self, signalled: bool) -> std::cell::RefMut<'_, MockSocketCalls> {
        let mut calls = self.calls.borrow_mut();
        calls.checkpoint();
        calls.expect_can_send().returning(|| true);
        calls.expect_can_recv().returning(|| true);
        calls.expect_is_signalled().returning(move || signalled);
        calls
    }

    /// Every expectation so far was met; from now on, any call is a failure
    /// until new ones are set.
    fn verify(&mut self) {
        let mut calls = self.calls.borrow_mut();
        calls.checkpoint();
        // Asked without consuming anything: the fake fd's level.
        let level = self.fd.clone();
        calls
            .expect_is_signalled()
            .returning_st(move || level.is_readable());
        calls.expect_can_send().returning(|| true);
        calls.expect_can_recv().returning(|| true);
        self.seq = Sequence::new();
    }
}

/// A reading stream handle that has gone to sleep after its first look.
fn sleeping_reader(
    rig: &mut Rig,
    lp: &uzmq_core::EventLoop<MockReactor>,
) -> (Stream, Rc<RefCell<Vec<Msg>>>) {
    let h = Stream::new(lp, rig.socket()).expect("stream handle");
    rig.verify();
    let read: Rc<RefCell<Vec<Msg>>> = Rc::default();
    let log = read.clone();
    h.start_read(move |_h: &Stream, m| log.borrow_mut().push(to_bytes(&m.expect("a message"))))
        .expect("start_read");
    // start_read looks at the socket once (events may be pending with no
    // edge to come), finds nothing and sleeps.
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    (h, read)
}

#[test]
fn with_nothing_to_do_no_socket_call_happens() {
    let mut rig = Rig::new();
    let lp = new_loop(1);
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    // Stopped: nothing at all, even with the fd readable.
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    rig.fd.set_readable(true);
    lp.run(RunMode::NoWait).expect("run");
    rig.fd.set_readable(false);
    rig.verify();

    // Reading, after one look: asleep, no call while the fd stays quiet.
    h.start_read(|_h: &Stream, _m| {}).expect("start_read");
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    for _ in 0..5 {
        lp.run(RunMode::NoWait).expect("run");
        lp.run(RunMode::Once).expect("run");
    }
    assert!(
        !lp.reactor().turn_armed(),
        "an idle handle keeps the turn armed"
    );
    rig.verify();

    // A spurious signal: one events read, nothing else.
    rig.fd.set_readable(true);
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();

    // Stopped again: nothing.
    h.stop_read().expect("stop_read");
    rig.fd.set_readable(true);
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    rig.verify();
    assert_eq!(lp.reactor().active_watches(), 0);
}

#[test]
fn events_are_read_again_after_the_last_recv_before_sleeping() {
    let mut rig = Rig::new();
    let lp = new_loop(2);
    let (_h, read) = sleeping_reader(&mut rig, &lp);

    rig.fd.set_readable(true);
    rig.events(R);
    rig.recv(Some(("a", true)));
    rig.recv(Some(("b", false)));
    rig.recv(Some(("c", false)));
    rig.recv(None);
    // The would-block receive may have consumed an edge: look again.
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(
        *read.borrow(),
        vec![vec![b"a".to_vec(), b"b".to_vec()], vec![b"c".to_vec()]]
    );
    assert!(!lp.reactor().turn_armed());
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    rig.verify();
}

/// A read callback that only looks at the frames it is lent leaves them to
/// the handle, which receives the next batch into the same frames: here a
/// message of one frame comes into the frames of an earlier one of three
/// (a new buffer for it would be a smaller allocation elsewhere).
#[test]
fn frames_left_to_the_handle_are_received_into_again() {
    let mut rig = Rig::new();
    let lp = new_loop(30);
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    let frames_at: Rc<RefCell<Vec<*const zmq::Message>>> = Rc::default();
    let log = frames_at.clone();
    h.start_read_frames(move |_h: &Stream, m| {
        log.borrow_mut().push(m.expect("a message").as_ptr())
    })
    .expect("start_read_frames");
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    for frames in [
        &[("a", true), ("b", true), ("c", false)][..],
        &[("d", false)],
    ] {
        rig.fd.set_readable(true);
        rig.events(R);
        for &frame in frames {
            rig.recv(Some(frame));
        }
        rig.recv(None);
        rig.events(NONE);
        lp.run(RunMode::NoWait).expect("run");
        rig.verify();
    }
    let frames_at = frames_at.borrow();
    assert_eq!(frames_at.len(), 2, "two messages read");
    assert_eq!(
        frames_at[0], frames_at[1],
        "the second batch was received into new frames, not the handle's own"
    );
}

#[test]
fn events_still_showing_pollin_after_recv_mean_more_receives() {
    let mut rig = Rig::new();
    let lp = new_loop(3);
    let (_h, read) = sleeping_reader(&mut rig, &lp);

    rig.fd.set_readable(true);
    rig.events(R);
    rig.recv(Some(("a", false)));
    rig.recv(None);
    // A message arrived meanwhile, silently (no edge): only events tell.
    rig.events(R);
    rig.recv(Some(("b", false)));
    rig.recv(None);
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(
        *read.borrow(),
        vec![vec![b"a".to_vec()], vec![b"b".to_vec()]]
    );
}

/// A read callback that replaces itself (`start_read` from inside) gets no
/// message after the call, even within the batch it runs in: the next
/// message of the same batch goes to the new callback.
#[test]
fn a_callback_replaced_from_inside_gets_nothing_more_of_its_batch() {
    let mut rig = Rig::new();
    let lp = new_loop(12);
    let (h, old) = sleeping_reader(&mut rig, &lp);
    let new: Rc<RefCell<Vec<Msg>>> = Rc::default();
    let (log, new_log) = (old.clone(), new.clone());
    h.start_read(move |h: &Stream, m| {
        log.borrow_mut().push(to_bytes(&m.expect("a message")));
        let sink = new_log.clone();
        h.start_read(move |_h: &Stream, m| {
            sink.borrow_mut().push(to_bytes(&m.expect("a message")));
        })
        .expect("start_read from inside");
    })
    .expect("start_read");
    old.borrow_mut().clear();

    // The batch of the old callback ends with its replacement; the new one
    // starts from a fresh look at the socket.
    rig.events(R);
    rig.recv(Some(("a", false)));
    rig.events(R);
    rig.recv(Some(("b", false)));
    rig.recv(Some(("c", false)));
    rig.recv(None);
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(*old.borrow(), vec![vec![b"a".to_vec()]]);
    assert_eq!(
        *new.borrow(),
        vec![vec![b"b".to_vec()], vec![b"c".to_vec()]]
    );
}

#[test]
fn a_capped_batch_reads_events_first_next_iteration() {
    let mut rig = Rig::new();
    let lp = new_loop(4);
    let (h, read) = sleeping_reader(&mut rig, &lp);
    h.set_read_batch(1);

    rig.fd.set_readable(true);
    rig.events(R);
    rig.recv(Some(("a", false)));
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert!(
        lp.reactor().turn_armed(),
        "a capped handle must come back next iteration"
    );

    rig.events(R);
    rig.recv(Some(("b", false)));
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();

    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert!(!lp.reactor().turn_armed());
    assert_eq!(read.borrow().len(), 2);
}

#[test]
fn events_are_read_again_after_a_send_before_sleeping() {
    let mut rig = Rig::new();
    let lp = new_loop(5);
    let (h, _read) = sleeping_reader(&mut rig, &lp);

    let done = Rc::new(RefCell::new(Vec::new()));
    let log = done.clone();
    h.write_with(["x", "y"], move |_h: &Stream, r| log.borrow_mut().push(r))
        .expect("write");
    rig.events(W);
    rig.send("x", true, true);
    rig.send("y", false, true);
    // The send may have consumed an edge: look again before sleeping.
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(*done.borrow(), vec![Ok(())]);
    assert_eq!(h.write_queue_size(), 0);
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    rig.verify();
}

#[test]
fn a_refused_send_stays_queued_and_events_are_read_again() {
    let mut rig = Rig::new();
    let lp = new_loop(6);
    let (h, _read) = sleeping_reader(&mut rig, &lp);

    let done = Rc::new(RefCell::new(Vec::new()));
    let log = done.clone();
    h.write_with(["x"], move |_h: &Stream, r| log.borrow_mut().push(r))
        .expect("write");
    rig.events(W);
    rig.send("x", false, false);
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(h.write_queue_size(), 1, "EAGAIN keeps the message queued");
    assert!(done.borrow().is_empty());

    // The peer reads: an edge. The same message goes, then a last look.
    rig.fd.set_readable(true);
    rig.events(W);
    rig.send("x", false, true);
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(*done.borrow(), vec![Ok(())]);
}

/// POLLOUT is "some message can be sent", not "this one" (a ROUTER whose
/// peer for the head message is at its HWM): a send refused although
/// `ZMQ_EVENTS` showed POLLOUT is not tried again in the same step, nor in
/// later ones, until the fd is signalled; the step still ends on an events
/// read.
#[test]
fn a_send_refused_despite_pollout_waits_for_the_fd() {
    let mut rig = Rig::new();
    let lp = new_loop(8);
    let (h, _read) = sleeping_reader(&mut rig, &lp);

    h.write("x").expect("write");
    rig.events(W);
    rig.send("x", false, false);
    rig.events(W);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(h.write_queue_size(), 1);

    // Nothing signalled: turns (a new write) look, but do not send.
    h.write("y").expect("write");
    rig.events(W);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    rig.verify();

    // The fd is signalled (the peer read): one more try, which goes.
    rig.fd.set_readable(true);
    rig.events(W);
    rig.send("x", false, true);
    rig.send("y", false, true);
    rig.events(W);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(h.write_queue_size(), 0);
}

/// A handle that only writes sleeps right after its refused send: what
/// that send processed is in its answer, and any later command raises an
/// edge, so neither another events read nor a retry timer is needed.
#[test]
fn a_refused_writer_sleeps_on_its_refusal() {
    let mut rig = Rig::new();
    let lp = new_loop(10);
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    h.write("x").expect("write");
    rig.events(W);
    rig.send("x", false, false);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(lp.reactor().next_deadline(), None, "no retry timer");
    rig.fd.set_readable(true);
    rig.events(W);
    rig.send("x", false, true);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(h.write_queue_size(), 0);
}

/// The window libzmq leaves open: the command a refused write waits for
/// arrives after the handle asked the fd and before the events read it
/// makes for its reads, which consumes the command's edge. The fd stays
/// silent, and the retry timer tries the write again.
#[test]
fn a_signal_consumed_by_the_last_events_read_is_covered_by_the_retry_timer() {
    let mut rig = Rig::new();
    let lp = new_loop(11);
    let (h, _read) = sleeping_reader(&mut rig, &lp);
    h.write("x").expect("write");
    rig.events(W);
    rig.send("x", false, false);
    rig.events(W);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    rig.verify();
    assert!(lp.reactor().next_deadline().is_some(), "a retry is due");
    lp.reactor().advance(1);
    rig.events(W);
    rig.send("x", false, true);
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(h.write_queue_size(), 0);
    assert_eq!(
        lp.reactor().next_deadline(),
        None,
        "nothing refused: no timer"
    );
}

#[test]
fn an_idle_poll_handle_makes_no_socket_call() {
    let mut rig = Rig::new();
    let lp = new_loop(7);
    let h = Poll::new(&lp, rig.socket()).expect("poll handle");
    rig.verify();
    let calls = Rc::new(RefCell::new(Vec::new()));
    let log = calls.clone();
    h.start(R, move |_h: &Poll, ev, err| {
        log.borrow_mut().push((ev, err))
    })
    .expect("start");
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    for _ in 0..5 {
        lp.run(RunMode::NoWait).expect("run");
    }
    rig.verify();

    // Ready: called, then looked at again right after the callback (which
    // may have received, consuming the edge): not ready any more, so it
    // sleeps on the fd with no further turn.
    rig.fd.set_readable(true);
    rig.events(R);
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(*calls.borrow(), vec![(R, None)]);
    assert!(!lp.reactor().turn_armed());

    // Still ready after the callback: level-triggered, called again in the
    // next iteration (not in this one), then asleep once not ready.
    rig.fd.set_readable(true);
    rig.events(R);
    rig.events(R);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert!(
        lp.reactor().turn_armed(),
        "a still-ready handle must come back"
    );
    rig.events(R);
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(*calls.borrow(), vec![(R, None), (R, None), (R, None)]);
    assert!(!lp.reactor().turn_armed());
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    rig.verify();
}

// What a handle gives back to the loop: its fd watch and timers close with
// the handle (not with its last clone), a watch libuv refuses fails the
// handle from the loop, and a dropped handle leaves the loop's registry.

/// libuv allows one poll handle per fd (the mock refuses a second started
/// watch with EEXIST): the handle's refused watch start reaches the read
/// callback as the error, from the loop, and the handle stops for good
/// without a single socket call.
#[test]
fn a_watch_the_loop_refuses_fails_the_handle_from_the_loop() {
    let rig = Rig::new();
    let lp = new_loop(13);
    let mut other = lp
        .reactor()
        .watch(rig.fd.fd(), Box::new(|_| {}))
        .expect("another watch of the fd");
    other.start().expect("start it");
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    let got = Rc::new(RefCell::new(Vec::new()));
    let log = got.clone();
    h.start_read(move |_h: &Stream, m| log.borrow_mut().push(m.err()))
        .expect("start_read");
    assert!(got.borrow().is_empty(), "never inside the call");
    lp.run(RunMode::NoWait).expect("run");
    let eexist = Error::Uv {
        code: -17,
        name: "EEXIST",
    };
    assert_eq!(*got.borrow(), vec![Some(eexist)]);
    assert_eq!(h.start_read(|_h: &Stream, _| {}), Err(eexist));
}

/// Closing releases the fd watch at once, even while a clone of the handle
/// lives on: nothing of it keeps polling or keeps the loop alive.
#[test]
fn a_closed_stream_gives_its_watch_back_while_a_clone_lives() {
    let mut rig = Rig::new();
    let lp = new_loop(14);
    let (h, _read) = sleeping_reader(&mut rig, &lp);
    let r = lp.reactor();
    assert_eq!((r.open_watches(), r.active_watches()), (1, 1));
    let clone = h.clone();
    h.close();
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!((r.open_watches(), r.active_watches()), (0, 0));
    assert!(clone.is_closed());
}

/// The same for a poll handle with a timeout: watch and timer close with it.
#[test]
fn a_closed_poll_gives_its_watch_and_timer_back_while_a_clone_lives() {
    let mut rig = Rig::new();
    let lp = new_loop(15);
    let h = Poll::new(&lp, rig.socket()).expect("poll handle");
    rig.verify();
    h.start_with_timeout(
        R,
        std::time::Duration::from_millis(10),
        |_h: &Poll, _, _| {},
    )
    .expect("start");
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    let r = lp.reactor();
    assert_eq!((r.open_watches(), r.open_timers()), (1, 1));
    let clone = h.clone();
    h.close();
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(
        (r.open_watches(), r.open_timers(), r.active_timers()),
        (0, 0, 0)
    );
    assert!(clone.is_closed());
}

/// A callback that closes its own handle is dropped when it returns (not
/// put back in its emptied slot), so what it holds goes with it, even while
/// the handle lives on: a callback holding a clone of its handle would
/// otherwise keep both alive for good.
#[test]
fn a_callback_that_closes_its_poll_is_dropped_when_it_returns() {
    let mut rig = Rig::new();
    let lp = new_loop(20);
    let h = Poll::new(&lp, rig.socket()).expect("poll handle");
    rig.verify();
    let token = Rc::new(());
    let held = token.clone();
    h.start(R, move |h: &Poll, _, _| {
        let _held = &held;
        h.close();
    })
    .expect("start");
    rig.events(R);
    run_and_check_dropped(&mut rig, &lp, token, || h.is_closed());
}

/// The same for a stream handle's read callback.
#[test]
fn a_read_callback_that_closes_its_stream_is_dropped_when_it_returns() {
    let mut rig = Rig::new();
    let lp = new_loop(21);
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    let token = Rc::new(());
    let held = token.clone();
    h.start_read(move |h: &Stream, _| {
        let _held = &held;
        h.close();
    })
    .expect("start_read");
    rig.events(R);
    rig.recv(Some(("x", false)));
    run_and_check_dropped(&mut rig, &lp, token, || h.is_closed());
}

/// Runs the iteration in which a callback holding `token` closes its
/// handle, then checks that the handle closed (`closed`, asked after the
/// run) and that nothing but the test holds the token any more.
fn run_and_check_dropped(
    rig: &mut Rig,
    lp: &uzmq_core::EventLoop<MockReactor>,
    token: Rc<()>,
    closed: impl FnOnce() -> bool,
) {
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert!(closed(), "the callback closed its handle");
    assert_eq!(
        Rc::strong_count(&token),
        1,
        "the callback outlived its call"
    );
}

/// A poll callback that panics leaves the step midway, with no events read
/// after it: the panic leaves the loop, and the handle, not asleep on the
/// fd, looks again next iteration. Its socket then asks for looks again as
/// outside any callback.
#[test]
fn a_poll_callback_that_panics_is_looked_at_again() {
    let mut rig = Rig::new();
    let lp = new_loop(24);
    let h = Poll::new(&lp, rig.socket()).expect("poll handle");
    rig.verify();
    let calls = Rc::new(std::cell::Cell::new(0));
    let count = calls.clone();
    h.start(R, move |_h: &Poll, _, _| {
        count.set(count.get() + 1);
        if count.get() == 1 {
            panic!("poll boom");
        }
    })
    .expect("start");
    rig.fd.set_readable(true);
    rig.events(R);
    panics_then_looks_again(&mut rig, &lp, "poll boom");
    assert_eq!(calls.get(), 1);
    let _ = h.socket();
    assert!(
        lp.reactor().turn_armed(),
        "the socket used outside a callback asks for a look"
    );
    rig.events(R);
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(calls.get(), 2, "called again once ready");
}

/// The same for a stream handle's read callback: the panic leaves the
/// step midway, the handle looks again next iteration, and a write from
/// outside any step asks for a look of its own again.
#[test]
fn a_read_callback_that_panics_is_looked_at_again() {
    let mut rig = Rig::new();
    let lp = new_loop(25);
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    let calls = Rc::new(std::cell::Cell::new(0));
    let count = calls.clone();
    h.start_read(move |_h: &Stream, _| {
        count.set(count.get() + 1);
        if count.get() == 1 {
            panic!("read boom");
        }
    })
    .expect("start_read");
    rig.events(R);
    rig.recv(Some(("a", false)));
    panics_then_looks_again(&mut rig, &lp, "read boom");
    h.write("b").expect("write");
    assert!(
        lp.reactor().turn_armed(),
        "a write outside any step asks for a look"
    );
    rig.events(R | W);
    rig.send("b", false, true);
    rig.recv(Some(("c", false)));
    rig.recv(None);
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(calls.get(), 2, "called again once a message came");
}

/// Runs the iteration in which a callback panics with `message` (the
/// expectations up to the panic set by the caller): the panic leaves the
/// loop, and the handle looks again next iteration, where nothing is ready
/// any more and it goes to sleep on the fd.
fn panics_then_looks_again(rig: &mut Rig, lp: &uzmq_core::EventLoop<MockReactor>, message: &str) {
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lp.run(RunMode::NoWait)))
        .expect_err("the panic left the loop");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&message));
    rig.verify();
    assert!(
        lp.reactor().turn_armed(),
        "the handle must look again after its callback panicked"
    );
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert!(!lp.reactor().turn_armed(), "asleep on the fd");
}

/// A retry timer armed for a refused write closes with the handle.
#[test]
fn a_closed_stream_gives_its_retry_timer_back() {
    let mut rig = Rig::new();
    let lp = new_loop(16);
    let (h, _read) = sleeping_reader(&mut rig, &lp);
    h.write("x").expect("write");
    rig.events(W);
    rig.send("x", false, false);
    rig.events(W);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(lp.reactor().open_timers(), 1, "the retry timer");
    let clone = h.clone();
    h.close();
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(lp.reactor().open_timers(), 0);
    assert_eq!(lp.reactor().next_deadline(), None);
    drop(clone);
}

/// Every handle is known to its loop from its creation until its last
/// reference is gone; none is left behind.
#[test]
fn a_dropped_handle_leaves_the_loop_registry() {
    let lp = new_loop(17);
    let before = lp.registered_handles();
    for _ in 0..3 {
        let stream = Stream::new(&lp, Rig::new().socket()).expect("stream handle");
        let poll = Poll::new(&lp, Rig::new().socket()).expect("poll handle");
        assert_eq!(lp.registered_handles(), before + 2);
        drop((stream, poll));
        assert_eq!(lp.registered_handles(), before);
    }
}

/// The course both tests below share: `h`, just started on `rig`'s socket
/// by a callback that closes it, looks once and sleeps; its last clone is
/// dropped and the loop keeps it; the fd is signalled with one message
/// (`arrive` sets what the socket then answers after the events read); the
/// callback closes the handle, and the loop lets it go.
fn kept_until_it_closes_itself<H>(
    rig: &mut Rig,
    lp: &uzmq_core::EventLoop<MockReactor>,
    before: usize,
    h: H,
    arrive: impl FnOnce(&mut Rig),
) {
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    drop(h);
    assert_eq!(
        lp.registered_handles(),
        before + 1,
        "the loop keeps the active handle whose clones are gone"
    );
    rig.fd.set_readable(true);
    rig.events(R);
    arrive(rig);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    lp.run(RunMode::NoWait).expect("run");
    assert_eq!(
        lp.registered_handles(),
        before,
        "closed, and no clone left: the loop let it go"
    );
}

/// The loop keeps an active handle alive: a reader asleep on its fd goes
/// on reading after the user dropped every clone, and leaves the loop's
/// registry once it is closed (here from its own callback).
#[test]
fn a_sleeping_reader_with_no_clone_left_goes_on_reading() {
    let mut rig = Rig::new();
    let lp = new_loop(31);
    let before = lp.registered_handles();
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    let read: Rc<RefCell<Vec<Msg>>> = Rc::default();
    let log = read.clone();
    h.start_read(move |h: &Stream, m| {
        log.borrow_mut().push(to_bytes(&m.expect("a message")));
        h.close();
    })
    .expect("start_read");
    kept_until_it_closes_itself(&mut rig, &lp, before, h, |rig| {
        rig.recv(Some(("a", false)));
    });
    assert_eq!(*read.borrow(), vec![vec![b"a".to_vec()]]);
}

/// The same for a poll handle: started and asleep on its fd, it reports
/// after the user dropped every clone, and leaves the registry once it
/// closed itself.
#[test]
fn a_started_poll_handle_with_no_clone_left_goes_on_reporting() {
    let mut rig = Rig::new();
    let lp = new_loop(33);
    let before = lp.registered_handles();
    let h = Poll::new(&lp, rig.socket()).expect("poll handle");
    rig.verify();
    let reports = Rc::new(std::cell::Cell::new(0));
    let count = reports.clone();
    h.start(R, move |h: &Poll, ev, err| {
        assert_eq!((ev, err), (R, None));
        count.set(count.get() + 1);
        h.close();
    })
    .expect("start");
    // No socket call besides the events read: this callback only closes.
    kept_until_it_closes_itself(&mut rig, &lp, before, h, |_| {});
    assert_eq!(reports.get(), 1, "it reported once, then closed itself");
}

/// The end both tests below share: `h`, asleep on `rig`'s socket, is
/// closed by its user (not from its callback), the loop finishes the
/// close, and once its last clone is dropped it leaves the registry.
fn closed_by_its_user_then_let_go<H>(
    rig: &mut Rig,
    lp: &uzmq_core::EventLoop<MockReactor>,
    before: usize,
    h: H,
    close: impl FnOnce(&H),
) {
    close(&h);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    drop(h);
    assert_eq!(
        lp.registered_handles(),
        before,
        "closed, and its last clone gone: the loop let it go"
    );
}

/// A reading stream handle closed by its user is let go by the loop.
#[test]
fn a_stream_handle_closed_by_its_user_leaves_the_loop_with_its_last_clone() {
    let mut rig = Rig::new();
    let lp = new_loop(40);
    let before = lp.registered_handles();
    let (h, _read) = sleeping_reader(&mut rig, &lp);
    closed_by_its_user_then_let_go(&mut rig, &lp, before, h, Stream::close);
}

/// A stream handle that neither reads nor has anything queued, and no
/// sender, does not hold the loop: once its write went out,
/// `run(Default)` returns at once (also with the loop's door to other
/// threads made, through which a handle waiting for its senders holds it).
#[test]
fn an_idle_stream_handle_does_not_hold_the_loop() {
    let mut rig = Rig::new();
    let lp = new_loop(41);
    let _door = lp.remote();
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    h.write("x").expect("queued");
    rig.events(W);
    // Then it waits for nothing: no events read after the send.
    rig.send("x", false, true);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert!(!h.is_active());
    assert!(
        !lp.run(RunMode::Default).expect("run"),
        "run(Default) returned with something still alive"
    );
    rig.verify();
}

/// What a sender hands over joins the write queue in order, each call's
/// message whole; zero parts are refused; the sender knows when its handle
/// closed.
#[test]
fn a_sender_hands_its_messages_over_in_order() {
    let mut rig = Rig::new();
    let lp = new_loop(45);
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    let sender = h.sender(4).expect("sender");
    assert!(!sender.is_closed());
    assert!(format!("{sender:?}").contains("capacity: 4"), "{sender:?}");
    sender.try_send_one("a".into()).expect("handed over");
    sender.send_one("b".into()).expect("handed over");
    sender
        .send(vec!["c".into(), "d".into()])
        .expect("handed over");
    assert_eq!(
        sender.send(Vec::new()),
        Err(Error::Zmq(zmq::Error::EINVAL)),
        "zero parts"
    );
    rig.events(W);
    rig.send("a", false, true);
    rig.send("b", false, true);
    rig.send("c", true, true);
    rig.send("d", false, true);
    // The door's wake, then the handle's turn.
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    rig.verify();
    h.close();
    assert!(sender.is_closed());
}

/// A `sender()` channel whose senders are all dropped is let go by its
/// handle and forgotten by the loop, with nothing sent, whether or not the
/// handle held the loop for it.
#[test]
fn a_channel_whose_senders_are_gone_leaves_the_loop() {
    let mut rig = Rig::new();
    let lp = new_loop(44);
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    let sender = h.sender(2).expect("sender");
    let clone = sender.clone();
    assert_eq!(lp.open_channels(), 1);
    drop(sender);
    lp.run(RunMode::NoWait).expect("run");
    assert_eq!(lp.open_channels(), 1, "a clone of the sender lives");
    drop(clone);
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    rig.verify();
    assert_eq!(lp.open_channels(), 0, "the channel with no sender left");
    assert!(!h.is_active());
    // The same on a stopped handle, which a live sender does not hold the
    // loop for: the channel goes with nothing else changing.
    h.stop().expect("stop");
    drop(h.sender(1).expect("sender"));
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    rig.verify();
    assert_eq!(lp.open_channels(), 0, "the stopped handle's channel left");
}

/// Closing a handle with writes queued: a write's completion callback,
/// still to run, keeps it active until the loop ran it; a `send()`
/// future, which its task polls, does not.
#[test]
fn only_completion_callbacks_keep_a_closed_stream_active() {
    for callback in [true, false] {
        let mut rig = Rig::new();
        let lp = new_loop(42);
        let h = Stream::new(&lp, rig.socket()).expect("stream handle");
        rig.verify();
        // Queued, and never sent: the loop does not run before the close.
        h.write("first").expect("queued");
        let ran: Rc<RefCell<Vec<Result<()>>>> = Rc::default();
        let log = ran.clone();
        let mut sent = if callback {
            h.write_with(["x"], move |_h: &Stream, r| log.borrow_mut().push(r))
                .expect("queued");
            None
        } else {
            Some(Box::pin(h.send(["x"])))
        };
        h.close();
        assert_eq!(
            h.is_active(),
            callback,
            "closed with a queued write with a callback: {callback}"
        );
        lp.run(RunMode::NoWait).expect("run");
        assert!(!h.is_active(), "the close finished");
        if callback {
            assert_eq!(*ran.borrow(), vec![Err(Error::Closed)], "the callback ran");
        } else if let Some(sent) = &mut sent {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert_eq!(
                sent.as_mut().poll(&mut cx),
                std::task::Poll::Ready(Err(Error::Closed))
            );
        }
        rig.verify();
    }
}

/// A `send()` still queued when its loop goes resolves with `Err(Closed)`
/// (its message dropped with the loop's handles), instead of waiting for
/// ever.
#[test]
fn a_queued_send_ends_with_closed_when_its_loop_goes() {
    let mut rig = Rig::new();
    let lp = new_loop(43);
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    h.write("first").expect("queued");
    let mut sent = Box::pin(h.send(["x"]));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(
        sent.as_mut().poll(&mut cx).is_pending(),
        "queued behind the write"
    );
    drop(lp);
    assert_eq!(
        sent.as_mut().poll(&mut cx),
        std::task::Poll::Ready(Err(Error::Closed))
    );
}

/// A started poll handle closed by its user is let go by the loop.
#[test]
fn a_poll_handle_closed_by_its_user_leaves_the_loop_with_its_last_clone() {
    let mut rig = Rig::new();
    let lp = new_loop(34);
    let before = lp.registered_handles();
    let h = Poll::new(&lp, rig.socket()).expect("poll handle");
    rig.verify();
    h.start(R, |_h: &Poll, _, _| {}).expect("start");
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    closed_by_its_user_then_let_go(&mut rig, &lp, before, h, Poll::close);
}

/// A poll handle's timeout reports an empty set while nothing is ready,
/// each time it runs out, and not once the handle is stopped.
#[test]
fn a_poll_timeout_reports_nothing_ready_until_stopped() {
    let mut rig = Rig::new();
    let lp = new_loop(35);
    let h = Poll::new(&lp, rig.socket()).expect("poll handle");
    rig.verify();
    let reports = Rc::new(RefCell::new(Vec::new()));
    let log = reports.clone();
    h.start_with_timeout(
        R,
        std::time::Duration::from_millis(10),
        move |_h: &Poll, ev, err| log.borrow_mut().push((ev, err)),
    )
    .expect("start");
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    for round in 1..=2 {
        lp.reactor().advance(10);
        lp.run(RunMode::NoWait).expect("run");
        rig.verify();
        assert_eq!(*reports.borrow(), vec![(NONE, None); round], "timeouts");
    }
    h.stop().expect("stop");
    lp.reactor().advance(10);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(reports.borrow().len(), 2, "stopped: no timeout reported");
}

/// A poll handle whose socket state cannot be read reports the error once
/// and stops for good: not active, and no socket call after it.
#[test]
fn a_poll_handle_reports_a_failed_events_read_once_and_stops() {
    let mut rig = Rig::new();
    let lp = new_loop(36);
    let h = Poll::new(&lp, rig.socket()).expect("poll handle");
    rig.verify();
    let reports = Rc::new(RefCell::new(Vec::new()));
    let log = reports.clone();
    h.start(R, move |_h: &Poll, ev, err| {
        log.borrow_mut().push((ev, err))
    })
    .expect("start");
    let eterm = Error::Zmq(zmq::Error::ETERM);
    rig.calls
        .borrow_mut()
        .expect_events()
        .times(1)
        .in_sequence(&mut rig.seq)
        .returning(move || Err(eterm));
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(*reports.borrow(), vec![(NONE, Some(eterm))]);
    assert!(!h.is_active(), "failed for good: not active");
    rig.fd.set_readable(true);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(reports.borrow().len(), 1, "reported once");
}

/// When the loop goes, a poll handle whose clone the user still holds
/// drops its callback (uncalled) at once, not with the clone.
#[test]
fn a_poll_handle_drops_its_callback_when_its_loop_goes() {
    let mut rig = Rig::new();
    let lp = new_loop(37);
    let h = Poll::new(&lp, rig.socket()).expect("poll handle");
    rig.verify();
    let token = Rc::new(());
    let held = token.clone();
    h.start(R, move |_h: &Poll, _, _| {
        let _ = &held;
    })
    .expect("start");
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    drop(lp);
    assert_eq!(
        Rc::strong_count(&token),
        1,
        "the callback went with the loop"
    );
    assert!(h.is_closed());
}

/// A started timer goes on after the user dropped every clone (the loop
/// keeps it while it is active), fires, and once it is no longer active
/// the loop lets it go: it leaves the registry.
#[test]
fn a_started_timer_with_no_clone_left_still_fires() {
    let lp = new_loop(32);
    let before = lp.registered_handles();
    let fired = Rc::new(std::cell::Cell::new(0));
    let t = uzmq_core::TimerHandle::new(&lp).expect("timer");
    let count = fired.clone();
    t.start(
        std::time::Duration::from_millis(10),
        std::time::Duration::ZERO,
        move |_| count.set(count.get() + 1),
    )
    .expect("start");
    drop(t);
    assert_eq!(
        lp.registered_handles(),
        before + 1,
        "the loop keeps the started timer whose clones are gone"
    );
    lp.reactor().advance(10);
    lp.run(RunMode::NoWait).expect("run");
    assert_eq!(fired.get(), 1, "the timer fired once");
    assert_eq!(
        lp.registered_handles(),
        before,
        "fired and no longer active, with no clone left: the loop let it go"
    );
}

/// `Debug` says where a handle is.
#[test]
fn debug_output_names_the_state() {
    let rig = Rig::new();
    let lp = new_loop(18);
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    let shown = format!("{h:?}");
    assert!(shown.contains("closed: false"), "{shown}");
    h.close();
    assert!(format!("{h:?}").contains("closed: true"), "{h:?}");
    let p = Poll::new(&lp, Rig::new().socket()).expect("poll handle");
    p.close();
    assert!(format!("{p:?}").contains("closed: true"), "{p:?}");
    assert!(format!("{lp:?}").contains("EventLoop"), "{lp:?}");
}

/// The batch cap counts attempts, not successes: a socket that always
/// shows POLLOUT, always says its fd is signalled (commands keep coming)
/// and always refuses the send gets one batch of attempts per iteration,
/// and the loop moves on.
#[test]
fn refused_attempts_use_up_the_batch() {
    let mut rig = Rig::new();
    let lp = new_loop(19);
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    h.set_read_batch(3);
    h.write("x").expect("write");
    {
        let mut calls = rig.expect_only(true);
        calls.expect_events().times(3).returning(|| Ok(W));
        calls
            .expect_send_frame()
            .times(3)
            .returning(|_, _| Ok(Io::WouldBlock));
    }
    lp.run(RunMode::NoWait).expect("run");
    rig.calls.borrow_mut().checkpoint();
    assert!(
        lp.reactor().turn_armed(),
        "capped: it goes on next iteration"
    );
    assert_eq!(h.write_queue_size(), 1);
}

/// The same for receives: POLLIN shown, nothing to receive, the fd always
/// signalled: one batch of attempts per iteration.
#[test]
fn refused_receives_use_up_the_batch() {
    let mut rig = Rig::new();
    let lp = new_loop(22);
    let (h, read) = sleeping_reader(&mut rig, &lp);
    h.set_read_batch(3);
    {
        let mut calls = rig.expect_only(true);
        calls.expect_events().times(3).returning(|| Ok(R));
        calls
            .expect_recv_frame()
            .times(3)
            .returning(|_| Ok(Io::WouldBlock));
    }
    rig.fd.set_readable(true);
    lp.run(RunMode::NoWait).expect("run");
    rig.calls.borrow_mut().checkpoint();
    assert!(read.borrow().is_empty());
    assert!(
        lp.reactor().turn_armed(),
        "capped: it goes on next iteration"
    );
}

/// A `send()` from inside a read callback goes through the queue, as a
/// write does, and only the step sends it: right after the callback (no
/// events read needed to try), then once more when the events read shows
/// POLLOUT; libzmq refuses both, so it waits for the fd. A send straight
/// from the callback would be one attempt more.
#[test]
fn a_send_from_a_read_callback_is_sent_by_the_step() {
    let mut rig = Rig::new();
    let lp = new_loop(46);
    let (h, _read) = sleeping_reader(&mut rig, &lp);
    let sends = Rc::new(RefCell::new(Vec::new()));
    let keep = sends.clone();
    h.start_read(move |h: &Stream, _m| keep.borrow_mut().push(h.send(["x"])))
        .expect("start_read");
    {
        let mut calls = rig.expect_only(false);
        calls.expect_events().returning(|| Ok(R | W));
        let mut first = true;
        calls
            .expect_recv_frame()
            .returning_st(move |frame: &mut zmq::Message| {
                if std::mem::take(&mut first) {
                    *frame = zmq::Message::from("a");
                    Ok(Io::Done(false))
                } else {
                    Ok(Io::WouldBlock)
                }
            });
        calls
            .expect_send_frame()
            .times(2)
            .returning(|_, _| Ok(Io::WouldBlock));
    }
    rig.fd.set_readable(true);
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    rig.calls.borrow_mut().checkpoint();
    assert_eq!(sends.borrow().len(), 1, "one message read");
    assert_eq!(h.write_queue_size(), 1, "the send waits in the queue");
}

/// Counts its wakes.
struct Wakes(std::sync::atomic::AtomicUsize);

impl std::task::Wake for Wakes {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A waiting `recv()` that the step told of a message, and whose receive
/// then found none, waits for the fd as the step's own refused receives
/// do: a later step for a write is not a reason to tell it again.
#[test]
fn a_told_recv_that_found_nothing_waits_for_the_fd() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::task::{Context, Waker};

    let mut rig = Rig::new();
    let lp = new_loop(47);
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    let wakes = Arc::new(Wakes(Default::default()));
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    let mut recv = Box::pin(h.recv());
    // A lone reader tries at once, finds nothing and waits in line.
    rig.recv(None);
    assert!(recv.as_mut().poll(&mut cx).is_pending());
    rig.verify();
    // The step sees POLLIN and tells it.
    rig.fd.set_readable(true);
    rig.events(R);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "told once");
    // Its receive finds nothing after all.
    rig.recv(None);
    assert!(recv.as_mut().poll(&mut cx).is_pending());
    rig.verify();
    // A write makes a step; POLLIN still shows, the fd is quiet.
    h.write("x").expect("queued");
    rig.events(R | W);
    rig.send("x", false, true);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(
        wakes.0.load(Ordering::SeqCst),
        1,
        "told again without a new edge on the fd"
    );
}

/// Writes libzmq rejects (EHOSTUNREACH) leave the queue one by one, and
/// each rejection uses up the batch as a success would.
#[test]
fn failed_sends_use_up_the_batch() {
    let mut rig = Rig::new();
    let lp = new_loop(20);
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    h.set_read_batch(2);
    for _ in 0..5 {
        h.write("x").expect("write");
    }
    {
        let mut calls = rig.expect_only(false);
        calls.expect_events().times(1).returning(|| Ok(W));
        calls
            .expect_send_frame()
            .times(2)
            .returning(|_, _| Err(Error::Zmq(zmq::Error::EHOSTUNREACH)));
    }
    lp.run(RunMode::NoWait).expect("run");
    rig.calls.borrow_mut().checkpoint();
    assert_eq!(h.write_queue_size(), 3);
    assert!(
        lp.reactor().turn_armed(),
        "capped: it goes on next iteration"
    );
}

/// `socket()` of a stopped poll handle queues no look at the socket: there
/// is nothing it waits for.
#[test]
fn socket_access_on_a_stopped_poll_handle_queues_nothing() {
    let mut rig = Rig::new();
    let lp = new_loop(21);
    let h = Poll::new(&lp, rig.socket()).expect("poll handle");
    rig.verify();
    let _ = h.socket();
    assert!(!lp.reactor().turn_armed());
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
}

/// What the read callback writes goes out right after it, before the next
/// receive (a REP's reply precedes its next request), with no events read
/// in between; a callback that writes and then stops keeps the write
/// queued.
#[test]
fn a_reply_written_in_the_read_callback_goes_out_before_the_next_receive() {
    let mut rig = Rig::new();
    let lp = new_loop(23);
    let (h, _read) = sleeping_reader(&mut rig, &lp);
    h.start_read(|h: &Stream, m| {
        let m = m.expect("a message");
        h.write(m[0].to_vec()).expect("reply");
        if &m[0][..] == b"stop" {
            h.stop().expect("stop");
        }
    })
    .expect("start_read");
    rig.events(R);
    rig.recv(Some(("a", false)));
    rig.send("a", false, true);
    rig.recv(Some(("stop", false)));
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(h.write_queue_size(), 1, "stopped: the second reply waits");
}

/// A message whose first frames came and whose rest did not yet is kept,
/// and completed by the frames that come next.
#[test]
fn a_partly_received_message_is_completed_later() {
    let mut rig = Rig::new();
    let lp = new_loop(24);
    let (_h, read) = sleeping_reader(&mut rig, &lp);
    rig.fd.set_readable(true);
    rig.events(R);
    rig.recv(Some(("a", true)));
    // POLLIN shown, yet no whole message: the reads wait for the fd, and
    // the refused receive is the last call before sleeping.
    rig.recv(None);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert!(read.borrow().is_empty());
    rig.fd.set_readable(true);
    rig.events(R);
    rig.recv(Some(("b", false)));
    rig.recv(None);
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(*read.borrow(), vec![vec![b"a".to_vec(), b"b".to_vec()]]);
}

/// The retry timer backs off while nothing moves (1, 2, 4 ms ...), and a
/// refusal lifted by the fd stops it.
#[test]
fn the_retry_timer_backs_off_and_stops_when_the_fd_lifts_the_refusal() {
    let mut rig = Rig::new();
    let lp = new_loop(25);
    let (h, _read) = sleeping_reader(&mut rig, &lp);
    h.write("x").expect("write");
    let r = lp.reactor();
    let mut delays = Vec::new();
    rig.events(W);
    rig.send("x", false, false);
    rig.events(W);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    for _ in 0..3 {
        let due = r.next_deadline().expect("a retry is due") - lp.now();
        delays.push(due);
        r.advance(due);
        rig.events(W);
        rig.send("x", false, false);
        rig.events(W);
        lp.run(RunMode::NoWait).expect("run");
        rig.verify();
    }
    assert_eq!(delays, vec![1, 2, 4]);
    rig.fd.set_readable(true);
    rig.events(W);
    rig.send("x", false, true);
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(r.next_deadline(), None, "the write went: no retry left");
}

/// `flush()` from inside the read callback sends what is queued but reads
/// nothing (the callback is lent out): the batch goes on after it.
#[test]
fn flush_inside_the_read_callback_reads_nothing() {
    let mut rig = Rig::new();
    let lp = new_loop(26);
    let (h, _read) = sleeping_reader(&mut rig, &lp);
    let flushed = Rc::new(RefCell::new(Vec::new()));
    let log = flushed.clone();
    h.start_read(move |h: &Stream, _m| log.borrow_mut().push(h.flush()))
        .expect("start_read");
    rig.events(R);
    rig.recv(Some(("a", false)));
    rig.recv(Some(("b", false)));
    rig.recv(None);
    rig.events(NONE);
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(*flushed.borrow(), vec![Ok(0), Ok(0)]);
}

/// ETERM on a send stops the handle for good: that write and every one
/// queued behind it get the error, and later calls return it.
#[test]
fn eterm_on_a_send_fails_the_handle_for_good() {
    let mut rig = Rig::new();
    let lp = new_loop(27);
    let h = Stream::new(&lp, rig.socket()).expect("stream handle");
    rig.verify();
    let results = Rc::new(RefCell::new(Vec::new()));
    for body in ["x", "y"] {
        let log = results.clone();
        h.write_with([body], move |_h: &Stream, r| log.borrow_mut().push(r))
            .expect("write");
    }
    let eterm = Error::Zmq(zmq::Error::ETERM);
    rig.events(W);
    rig.calls
        .borrow_mut()
        .expect_send_frame()
        .times(1)
        .in_sequence(&mut rig.seq)
        .returning(move |_, _| Err(eterm));
    lp.run(RunMode::NoWait).expect("run");
    rig.verify();
    assert_eq!(*results.borrow(), vec![Err(eterm), Err(eterm)]);
    assert_eq!(h.write("z"), Err(eterm));
}

/// A stopped timer is due in nothing, and its `Debug` says it is closed
/// once it is; a signal watch closes with its handle while a clone lives.
#[test]
fn timers_and_signals_give_back_and_say_where_they_are() {
    let lp = new_loop(28);
    let t = uzmq_core::TimerHandle::new(&lp).expect("timer");
    t.start(
        std::time::Duration::from_millis(100),
        std::time::Duration::ZERO,
        |_| {},
    )
    .expect("start");
    assert!(t.due_in() > std::time::Duration::ZERO);
    t.stop().expect("stop");
    assert_eq!(t.due_in(), std::time::Duration::ZERO);
    t.close();
    assert!(format!("{t:?}").contains("closed: true"), "{t:?}");

    let s = uzmq_core::SignalHandle::new(&lp).expect("signal");
    s.start(10, |_, _| {}).expect("start");
    assert_eq!(lp.reactor().open_signals(), 1);
    let clone = s.clone();
    s.close();
    assert!(format!("{s:?}").contains("closed: true"), "{s:?}");
    lp.run(RunMode::NoWait).expect("run");
    assert_eq!(lp.reactor().open_signals(), 0);
    drop(clone);
}
