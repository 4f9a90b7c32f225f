//! Tests that the mock socket is adversarial exactly the libzmq way, alone
//! and watched by a [`MockReactor`].

use std::cell::Cell;
use std::rc::Rc;

use super::*;
use crate::{Error, Events, Io, Reactor, RunMode, Socket, Watch};

const R: Events = Events::READABLE;
const W: Events = Events::WRITABLE;
const NONE: Events = Events::empty();
const ETERM: Error = Error::Zmq(zmq::Error::ETERM);
const ENOTSUP: Error = Error::Zmq(zmq::Error::ENOTSUP);

/// No send processes commands unless a test asks for it.
fn lazy() -> MockConfig {
    MockConfig {
        send_throttle: 0,
        send_process_per_mille: 0,
        ..MockConfig::default()
    }
}

fn pair(kind: MockKind, config: MockConfig) -> (MockSocket, MockPeer) {
    mock_pair(kind, config, 0x5EED)
}

fn recv(s: &MockSocket) -> Io<(Vec<u8>, bool)> {
    let mut frame = zmq::Message::new();
    match s.recv_frame(&mut frame).unwrap() {
        Io::Done(more) => Io::Done((frame.to_vec(), more)),
        Io::WouldBlock => Io::WouldBlock,
    }
}

fn send(s: &MockSocket, data: &[u8], more: bool) -> Result<Io<()>, Error> {
    let mut frame = zmq::Message::from(data);
    let res = s.send_frame(&mut frame, more);
    match res {
        Ok(Io::Done(())) => assert!(frame.is_empty(), "a taken frame is moved out"),
        _ => assert_eq!(&frame[..], data, "a refused frame is left intact"),
    }
    res
}

/// Puts the socket's inbound reader to sleep: it finds the pipe empty.
fn sleep_reader(s: &MockSocket) {
    assert!(!s.events().unwrap().contains(R));
    s.with_model(|m| assert!(m.inbound.is_asleep()));
}

#[test]
fn a_fresh_pipe_takes_messages_with_no_edge() {
    let (s, peer) = pair(MockKind::Pull, lazy());
    assert!(peer.send(&[b"a"]));
    // libzmq's fresh pipe has an awake reader: no activate_read, no signal.
    assert!(!peer.is_signalled());
    assert!(s.probe().truly_readable());
    assert_eq!(s.events(), Ok(R));
    assert_eq!(recv(&s), Io::Done((b"a".to_vec(), false)));
}

#[test]
fn a_message_to_a_sleeping_reader_is_invisible_until_its_command_is_processed() {
    let (s, peer) = pair(MockKind::Pull, lazy());
    sleep_reader(&s);
    assert!(peer.send(&[b"a"]));
    assert!(
        peer.is_signalled(),
        "activate_read to a passive mailbox: the edge"
    );
    // In the pipe, but the pipe is inactive: a read that processes nothing sees nothing.
    s.with_model(|m| {
        assert_eq!(m.inbound.pending(), 1);
        assert!(!m.inbound.check_read());
        assert!(
            !m.inbound.is_asleep(),
            "an inactive pipe's reader stays awake"
        );
    });
    assert!(
        s.probe().truly_readable(),
        "what events() would say once it processes"
    );
    assert!(peer.is_signalled(), "the probe has no side effect");
    // Reading ZMQ_EVENTS processes the command and consumes the signal.
    assert_eq!(s.events(), Ok(R));
    assert!(!peer.is_signalled());
    assert_eq!(recv(&s), Io::Done((b"a".to_vec(), false)));
}

#[test]
fn a_second_message_to_an_awake_reader_arrives_silently() {
    let (s, peer) = pair(MockKind::Pull, lazy());
    sleep_reader(&s);
    assert!(peer.send(&[b"a"]));
    assert!(peer.send(&[b"b"]));
    // recv finds the pipe inactive, processes (consuming the edge), reads.
    assert_eq!(recv(&s), Io::Done((b"a".to_vec(), false)));
    assert!(!peer.is_signalled(), "the edge is gone...");
    assert!(s.probe().truly_readable(), "...while a message waits");
    assert!(peer.send(&[b"c"]));
    assert!(
        !peer.is_signalled(),
        "the reader is awake: no edge for c either"
    );
    assert_eq!(s.events(), Ok(R), "only ZMQ_EVENTS tells");
    assert_eq!(recv(&s), Io::Done((b"b".to_vec(), false)));
    assert_eq!(recv(&s), Io::Done((b"c".to_vec(), false)));
    // Empty now: the reader sleeps, and the next message is an edge again.
    assert_eq!(recv(&s), Io::WouldBlock);
    assert!(peer.send(&[b"d"]));
    assert!(peer.is_signalled());
}

#[test]
fn a_send_may_consume_the_signal() {
    let config = MockConfig {
        send_throttle: 1,
        ..lazy()
    };
    let (s, peer) = pair(MockKind::Pair, config);
    sleep_reader(&s);
    assert!(peer.send(&[b"in"]));
    assert!(peer.is_signalled());
    assert_eq!(send(&s, b"out", false), Ok(Io::Done(())));
    assert!(!peer.is_signalled(), "the send processed the command");
    assert!(
        s.probe().truly_readable(),
        "and the message waits with the fd silent"
    );
    assert_eq!(s.events(), Ok(R | W));
}

#[test]
fn a_recv_that_finds_nothing_may_consume_a_writable_edge() {
    let config = MockConfig {
        sndhwm: 2,
        ..lazy()
    };
    let (s, peer) = pair(MockKind::Pair, config);
    sleep_reader(&s);
    assert_eq!(send(&s, b"1", false), Ok(Io::Done(())));
    assert_eq!(send(&s, b"2", false), Ok(Io::Done(())));
    assert_eq!(s.events(), Ok(NONE), "at the HWM");
    assert!(peer.recv().is_some());
    assert!(
        peer.is_signalled(),
        "activate_write: the socket may write again"
    );
    assert_eq!(recv(&s), Io::WouldBlock, "nothing to receive...");
    assert!(
        !peer.is_signalled(),
        "...but it processed the command: edge gone"
    );
    assert!(
        s.probe().truly_writable(),
        "and POLLOUT is true with the fd silent"
    );
    assert_eq!(s.events(), Ok(W));
}

#[test]
fn recv_processes_commands_only_every_100_calls() {
    let (s, peer) = pair(
        MockKind::Pull,
        MockConfig {
            rcvhwm: 0,
            ..lazy()
        },
    );
    for _ in 0..200 {
        assert!(peer.send(&[b"x"]));
    }
    peer.terminate();
    assert!(peer.is_signalled());
    for _ in 0..99 {
        assert!(
            matches!(recv(&s), Io::Done(_)),
            "the socket does not know yet"
        );
    }
    assert!(!s.probe().is_terminated());
    let mut frame = zmq::Message::new();
    assert_eq!(s.recv_frame(&mut frame), Err(ETERM));
    assert!(s.probe().is_terminated());
}

#[test]
fn sends_process_commands_only_every_nth_call() {
    let config = MockConfig {
        send_throttle: 3,
        ..lazy()
    };
    let (s, peer) = pair(MockKind::Push, config);
    peer.terminate();
    assert_eq!(send(&s, b"1", false), Ok(Io::Done(())));
    assert_eq!(send(&s, b"2", false), Ok(Io::Done(())));
    assert_eq!(send(&s, b"3", false), Err(ETERM));
}

#[test]
fn the_writer_learns_of_reads_only_through_activate_write() {
    let config = MockConfig {
        sndhwm: 4, // low-water mark 2
        ..lazy()
    };
    let (s, peer) = pair(MockKind::Push, config);
    assert_eq!(s.events(), Ok(W));
    for i in 0..4u8 {
        assert_eq!(send(&s, &[i], false), Ok(Io::Done(())));
    }
    assert_eq!(send(&s, b"x", false), Ok(Io::WouldBlock));
    assert_eq!(s.events(), Ok(NONE));
    assert_eq!(peer.recv(), Some(vec![vec![0]]));
    assert!(!peer.is_signalled(), "one read is below the low-water mark");
    assert!(
        !s.probe().truly_writable(),
        "the writer still counts 4 unread"
    );
    assert_eq!(s.events(), Ok(NONE));
    assert_eq!(peer.recv(), Some(vec![vec![1]]));
    assert!(
        peer.is_signalled(),
        "activate_write(2) woke the writer's mailbox"
    );
    assert!(s.probe().truly_writable());
    // A send does not process it (throttled): still EAGAIN, edge kept.
    assert_eq!(send(&s, b"x", false), Ok(Io::WouldBlock));
    assert!(peer.is_signalled());
    assert_eq!(s.events(), Ok(W));
    assert_eq!(send(&s, b"4", false), Ok(Io::Done(())));
    assert_eq!(send(&s, b"5", false), Ok(Io::Done(())));
    assert_eq!(send(&s, b"6", false), Ok(Io::WouldBlock));
    s.with_model(|m| assert!(!m.outbound[0].is_active()));
    assert_eq!(peer.pending_outbound(), 4);
}

#[test]
fn rcvhwm_refuses_the_peer() {
    let (s, peer) = pair(
        MockKind::Pull,
        MockConfig {
            rcvhwm: 2,
            ..lazy()
        },
    );
    assert!(peer.send(&[b"1"]));
    assert!(peer.send(&[b"2"]));
    assert!(!peer.send(&[b"3"]));
    assert_eq!(peer.pending_inbound(), 2);
    assert!(matches!(recv(&s), Io::Done(_)));
    assert!(peer.send(&[b"3"]));
}

#[test]
fn multipart_messages_are_atomic() {
    let config = MockConfig {
        sndhwm: 1,
        ..lazy()
    };
    let (s, peer) = pair(MockKind::Pair, config);
    assert_eq!(send(&s, b"a", true), Ok(Io::Done(())));
    assert_eq!(send(&s, b"b", true), Ok(Io::Done(())));
    assert_eq!(
        peer.pending_outbound(),
        0,
        "incomplete messages do not reach the peer"
    );
    assert_eq!(peer.recv(), None);
    assert_eq!(s.events(), Ok(W), "mid-message the socket stays writable");
    assert_eq!(send(&s, b"c", false), Ok(Io::Done(())));
    // At the HWM now: only a new message's first frame is refused.
    assert_eq!(send(&s, b"d", true), Ok(Io::WouldBlock));
    assert_eq!(
        peer.recv(),
        Some(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()])
    );

    assert!(peer.send(&[b"x", b"y", b"z"]));
    assert_eq!(peer.pending_inbound(), 1);
    assert_eq!(recv(&s), Io::Done((b"x".to_vec(), true)));
    assert_eq!(s.events().unwrap() & R, R, "readable mid-message");
    assert_eq!(
        peer.pending_inbound(),
        1,
        "a partly received message is pending"
    );
    assert_eq!(recv(&s), Io::Done((b"y".to_vec(), true)));
    assert_eq!(recv(&s), Io::Done((b"z".to_vec(), false)));
    assert_eq!(peer.pending_inbound(), 0);
}

#[test]
fn req_takes_turns() {
    let (s, peer) = pair(MockKind::Req, lazy());
    assert_eq!(s.events(), Ok(W));
    assert_eq!(recv(&s), Io::WouldBlock, "EFSM: no request sent yet");
    assert_eq!(send(&s, b"q1", true), Ok(Io::Done(())));
    assert_eq!(send(&s, b"q2", false), Ok(Io::Done(())));
    assert_eq!(
        send(&s, b"again", false),
        Ok(Io::WouldBlock),
        "EFSM: awaiting reply"
    );
    assert_eq!(s.events(), Ok(NONE));
    assert_eq!(peer.recv(), Some(vec![b"q1".to_vec(), b"q2".to_vec()]));
    assert!(peer.send(&[b"reply"]));
    assert_eq!(s.events(), Ok(R), "the reply, and still no POLLOUT");
    assert_eq!(recv(&s), Io::Done((b"reply".to_vec(), false)));
    assert_eq!(s.events(), Ok(W));
    assert_eq!(send(&s, b"again", false), Ok(Io::Done(())));
}

#[test]
fn rep_takes_turns() {
    let (s, peer) = pair(MockKind::Rep, lazy());
    assert_eq!(s.events(), Ok(NONE));
    assert_eq!(
        send(&s, b"r", false),
        Ok(Io::WouldBlock),
        "EFSM: no request"
    );
    assert!(peer.send(&[b"q1"]));
    assert!(peer.send(&[b"q2"]));
    assert_eq!(s.events(), Ok(R));
    assert_eq!(recv(&s), Io::Done((b"q1".to_vec(), false)));
    assert_eq!(
        s.events(),
        Ok(W),
        "a reply is owed: no POLLIN though q2 waits"
    );
    assert_eq!(recv(&s), Io::WouldBlock);
    assert_eq!(send(&s, b"r1", false), Ok(Io::Done(())));
    assert_eq!(s.events(), Ok(R));
    assert_eq!(recv(&s), Io::Done((b"q2".to_vec(), false)));
}

#[test]
fn termination_is_known_only_once_processed() {
    let (s, peer) = pair(MockKind::Pair, lazy());
    assert!(peer.send(&[b"a"]));
    peer.terminate();
    assert!(peer.is_signalled());
    assert_eq!(s.probe().truly_events(), Err(ETERM));
    // Neither a lazy send nor a successful receive processes commands.
    assert_eq!(send(&s, b"x", false), Ok(Io::Done(())));
    assert!(matches!(recv(&s), Io::Done(_)));
    assert_eq!(s.fd(), Ok(s.probe().fd()));
    assert_eq!(s.events(), Err(ETERM));
    assert_eq!(s.events(), Err(ETERM));
    assert_eq!(send(&s, b"x", false), Err(ETERM));
    let mut frame = zmq::Message::new();
    assert_eq!(s.recv_frame(&mut frame), Err(ETERM));
    assert_eq!(s.fd(), Err(ETERM));
}

#[test]
fn types_refuse_the_direction_they_lack() {
    let (push, _p) = pair(MockKind::Push, lazy());
    let mut frame = zmq::Message::new();
    assert_eq!(push.recv_frame(&mut frame), Err(ENOTSUP));
    assert!(!push.can_recv() && push.can_send());
    let (pull, _q) = pair(MockKind::Pull, lazy());
    assert_eq!(send(&pull, b"x", false), Err(ENOTSUP));
    assert_eq!(pull.events(), Ok(NONE));
}

#[test]
fn pub_never_blocks_and_drops_at_the_hwm() {
    let config = MockConfig {
        sndhwm: 2,
        ..lazy()
    };
    let (s, peer) = pair(MockKind::Pub, config);
    for i in 0..5u8 {
        assert_eq!(send(&s, &[i], true), Ok(Io::Done(())));
        assert_eq!(send(&s, b"tail", false), Ok(Io::Done(())));
        assert_eq!(s.events(), Ok(W));
    }
    assert_eq!(peer.recv(), Some(vec![vec![0], b"tail".to_vec()]));
    assert_eq!(peer.recv(), Some(vec![vec![1], b"tail".to_vec()]));
    assert_eq!(peer.recv(), None, "the other three were dropped whole");
}

#[test]
fn spurious_signals_show_nothing() {
    let (s, peer) = pair(MockKind::Pair, lazy());
    peer.spurious_signal();
    assert!(peer.is_signalled());
    assert_eq!(s.events(), Ok(W));
    assert!(!peer.is_signalled());
    let noisy = MockConfig {
        spurious_signal_per_mille: 1000,
        ..lazy()
    };
    let (_s, peer) = pair(MockKind::Pair, noisy);
    assert_eq!(peer.recv(), None);
    assert!(
        peer.is_signalled(),
        "every peer action raises one at 1000 per mille"
    );
}

#[test]
fn the_probe_logs_ops_and_the_fd_closes_with_the_socket() {
    let (s, peer) = pair(
        MockKind::Pair,
        MockConfig {
            op_log_len: 2,
            ..lazy()
        },
    );
    let probe = s.probe();
    s.events().unwrap();
    send(&s, b"x", false).unwrap();
    recv(&s);
    assert_eq!(probe.ops(), [Op::Send, Op::Recv]);
    assert_eq!(probe.last_op(), Some(Op::Recv));
    assert_eq!(
        probe.counts(),
        OpCounts {
            events: 1,
            sends: 1,
            recvs: 1
        }
    );
    let fd = s.fd().unwrap();
    assert_eq!(fd_table::is_readable(fd), Some(false));
    assert!(peer.send(&[b"a"]) && recv(&s) == Io::Done((b"a".to_vec(), false)));
    drop(s);
    assert!(!fd_table::is_open(fd));
    assert!(probe.is_socket_dropped());
    assert_eq!(peer.probe().fd(), fd);
}

/// A random schedule of peer and socket actions: `truly_events` always
/// predicts `events`, and has no side effect.
#[test]
fn truly_events_predicts_events() {
    for seed in 0..40 {
        let mut rng = SeededRng::new(seed);
        let kinds = [
            MockKind::Pair,
            MockKind::Req,
            MockKind::Rep,
            MockKind::Pub,
            MockKind::Router,
        ];
        let kind = kinds[rng.below(5) as usize];
        let config = MockConfig {
            sndhwm: 1 + rng.below(4) as usize,
            rcvhwm: 1 + rng.below(4) as usize,
            send_throttle: rng.below(4) as u32,
            send_process_per_mille: rng.below(500) as u32,
            spurious_signal_per_mille: rng.below(300) as u32,
            op_log_len: 4,
            ..MockConfig::default()
        };
        let (s, peer) = mock_pair(kind, config, seed);
        for step in 0..300 {
            let ctx = format!("seed {seed} step {step} {kind:?}");
            match rng.below(8) {
                0 | 1 if kind.can_recv() => {
                    let parts: &[&[u8]] = if rng.chance(300) {
                        &[b"a", b"b"]
                    } else {
                        &[b"m"]
                    };
                    peer.send(parts);
                }
                2 | 3 => {
                    peer.recv_from(rng.below(2) as usize);
                }
                4 if kind == MockKind::Router => {
                    // Peer 0, peer 1, or one that does not exist.
                    let id = [rng.below(3) as u8];
                    if send(&s, &id, true) == Ok(Io::Done(())) {
                        let _ = send(&s, b"s", false);
                    }
                }
                4 => {
                    let _ = send(&s, b"s", rng.chance(200));
                }
                5 => {
                    let _ = s.recv_frame(&mut zmq::Message::new());
                }
                6 if rng.chance(20) => peer.terminate(),
                _ => {
                    let signalled = peer.is_signalled();
                    let predicted = s.probe().truly_events();
                    assert_eq!(peer.is_signalled(), signalled, "{ctx}");
                    assert_eq!(s.events(), predicted, "{ctx}");
                }
            }
        }
    }
}

/// The socket's fd under a [`MockReactor`] watch: an edge wakes it, reading
/// `ZMQ_EVENTS` clears it, and a callback that does not read stays called
/// (level-triggered).
#[test]
fn the_reactor_sees_the_socket_signal() {
    let r = MockReactor::new(9);
    let (s, peer) = pair(MockKind::Pull, lazy());
    let s = Rc::new(s);
    let calls = Rc::new(Cell::new(0));
    let read_events = Rc::new(Cell::new(true));
    let (s2, c, re) = (s.clone(), calls.clone(), read_events.clone());
    let mut w = r
        .watch(
            s.fd().unwrap(),
            Box::new(move |_| {
                c.set(c.get() + 1);
                if re.get() {
                    let _ = s2.events();
                }
            }),
        )
        .unwrap();
    w.start().unwrap();
    sleep_reader(&s);
    assert_eq!(
        r.run(RunMode::Default),
        Ok(true),
        "nothing to do: would block"
    );
    assert_eq!(calls.get(), 0);
    assert!(peer.send(&[b"a"]));
    assert!(!r.is_quiescent());
    assert_eq!(r.run(RunMode::Default), Ok(true));
    assert_eq!(calls.get(), 1, "one call, then the signal is consumed");
    assert!(r.is_quiescent());
    assert!(
        s.probe().truly_readable(),
        "the message waits with the fd silent"
    );

    read_events.set(false);
    peer.spurious_signal();
    for _ in 0..3 {
        r.run(RunMode::NoWait).unwrap();
    }
    assert_eq!(
        calls.get(),
        4,
        "level-triggered while nobody reads ZMQ_EVENTS"
    );
    assert_eq!(s.probe().last_op(), Some(Op::Events));
}

/// A ROUTER: POLLOUT while some peer's pipe has room, yet a message for a
/// peer at its HWM is refused with EAGAIN (the id frame stays the
/// caller's) until that peer reads; an unknown peer is EHOSTUNREACH.
#[test]
fn router_writability_depends_on_the_message() {
    let config = MockConfig {
        sndhwm: 2,
        ..lazy()
    };
    let (s, peer) = pair(MockKind::Router, config);
    let send_to = |id: u8, body: &[u8]| {
        let first = send(&s, &[id], true);
        if first == Ok(Io::Done(())) {
            assert_eq!(send(&s, body, false), Ok(Io::Done(())));
        }
        first
    };
    assert_eq!(send_to(1, b"a"), Ok(Io::Done(())));
    assert_eq!(send_to(1, b"b"), Ok(Io::Done(())));
    assert_eq!(send_to(1, b"c"), Ok(Io::WouldBlock), "peer 1 is at its HWM");
    assert_eq!(
        s.events(),
        Ok(Events::WRITABLE),
        "peer 0 has room: POLLOUT although the next message cannot go"
    );
    assert_eq!(send_to(1, b"c"), Ok(Io::WouldBlock));
    assert_eq!(send_to(0, b"x"), Ok(Io::Done(())));
    assert_eq!(send_to(7, b"?"), Err(Error::Zmq(zmq::Error::EHOSTUNREACH)));
    assert_eq!(peer.recv_from(0), Some(vec![b"x".to_vec()]));
    assert!(peer.is_signalled(), "peer 0 read a low-water mark: an edge");
    assert_eq!(s.events(), Ok(Events::WRITABLE));
    assert_eq!(send_to(1, b"c"), Ok(Io::WouldBlock), "not for peer 1");
    assert!(!peer.is_signalled(), "no edge before peer 1 reads");
    assert_eq!(peer.recv_from(1), Some(vec![b"a".to_vec()]));
    assert!(peer.is_signalled(), "peer 1 read a low-water mark: an edge");
    assert_eq!(s.events(), Ok(Events::WRITABLE));
    assert_eq!(send_to(1, b"c"), Ok(Io::Done(())));
    assert_eq!(peer.recv_from(1), Some(vec![b"b".to_vec()]));
    assert_eq!(peer.recv_from(1), Some(vec![b"c".to_vec()]));
    assert_eq!(peer.recv_from(2), None, "no such peer");
}
