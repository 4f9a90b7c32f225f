//! Receive buffers: a read callback that writes back the `Multipart` it
//! was handed (an echo, a forward), or a task that sends back what
//! `recv()` gave it, has the next message received into that same buffer,
//! so it allocates no frame list per message; a large buffer is not kept;
//! frames lent to a `start_read_frames` callback never end up in a
//! `recv()`. On the mock backend, in one batch and from turn to turn, and
//! on libuv + libzmq. (Frames lent and received into again: `call_order.rs`.)
//!
//! The buffer a message came in is told by its capacity: a new one has
//! room for exactly one frame, a kept one for what it last held.

use std::cell::RefCell;
use std::rc::Rc;

use tests::mock_harness::{Lp, Msg, Stream, new_loop, settle, to_bytes};
use uzmq_core::Multipart;
use uzmq_core::mock::{MockConfig, MockKind, MockPeer, mock_pair};

/// A message's buffer: the data address and the capacity of its `Vec`.
type Buffer = (usize, usize);

/// The buffers of the messages a callback or task was handed.
type Seen = Rc<RefCell<Vec<Buffer>>>;

fn buffer(m: &Multipart) -> Buffer {
    (m.as_ptr() as usize, m.capacity())
}

/// Three messages, the first of three frames, each written back: all came
/// in the first one's buffer.
fn assert_one_buffer(what: &str, buffers: &[Buffer]) {
    assert_eq!(buffers.len(), 3, "{what}: three messages");
    assert!(
        buffers[0].1 >= 3,
        "{what}: the first buffer grew for three frames"
    );
    assert!(
        buffers[1..].iter().all(|b| *b == buffers[0]),
        "{what}: a message came in a new buffer, not the one written back: {buffers:?}"
    );
}

/// A handle on a mock socket of `kind` whose read callback notes each
/// message and its buffer, then writes the message back.
fn echo(lp: &Lp, kind: MockKind) -> (Stream, MockPeer, Seen) {
    let (socket, peer) = mock_pair(kind, MockConfig::default(), 7);
    let h = Stream::new(lp, socket).expect("stream handle");
    let seen: Seen = Rc::default();
    let log = seen.clone();
    h.start_read(move |h: &Stream, m| {
        let m = m.expect("a message");
        log.borrow_mut().push(buffer(&m));
        h.write_multipart(m).expect("the echo is queued");
    })
    .expect("start_read");
    (h, peer, seen)
}

/// The peer sends `msgs`, the loop settles, and every one came back.
fn round(lp: &Lp, peer: &MockPeer, msgs: &[&[&[u8]]]) {
    for msg in msgs {
        assert!(peer.send(msg), "the peer's send was taken");
    }
    settle(lp).expect("the loop settles");
    for msg in msgs {
        let back = peer.recv().expect("the echo arrived");
        assert_eq!(back, msg.iter().map(|f| f.to_vec()).collect::<Msg>());
    }
}

/// On a socket that does not alternate, the next message of the same
/// batch comes into the buffer the last one was written back from; on a
/// REP, the next request, in a later turn, does too.
#[test]
fn mock_a_message_written_back_is_the_buffer_of_the_next() {
    for kind in [MockKind::Pair, MockKind::Rep] {
        let lp = new_loop(1);
        let (_h, peer, seen) = echo(&lp, kind);
        // Three frames grow the first buffer past what a new one has.
        let first: &[&[u8]] = &[b"a", b"b", b"c"];
        if kind == MockKind::Rep {
            round(&lp, &peer, &[first]);
            round(&lp, &peer, &[&[b"d"]]);
            round(&lp, &peer, &[&[b"e"]]);
        } else {
            round(&lp, &peer, &[first, &[b"d"], &[b"e"]]);
        }
        assert_one_buffer(&format!("{kind:?}"), &seen.borrow());
    }
}

/// The same with `recv()` and `send()` in a task: a message sent back
/// (straight to libzmq) is the buffer the next `recv()` receives into,
/// also after a `recv()` that found nothing and waited.
#[test]
fn mock_a_message_sent_back_is_the_buffer_of_the_next_recv() {
    let lp = new_loop(4);
    let (socket, peer) = mock_pair(MockKind::Pair, MockConfig::default(), 7);
    let h = Stream::new(&lp, socket).expect("stream handle");
    let seen: Seen = Rc::default();
    let (log, echo) = (seen.clone(), h.clone());
    lp.spawn_local(async move {
        while let Ok(m) = echo.recv().await {
            log.borrow_mut().push(buffer(&m));
            echo.send(m).await.expect("the echo is sent");
        }
    })
    .expect("spawn_local");
    round(&lp, &peer, &[&[b"a", b"b", b"c"], &[b"d"]]);
    // The task waits in a `recv()` that found nothing.
    round(&lp, &peer, &[&[b"e"]]);
    assert_one_buffer("a task", &seen.borrow());
    h.close();
    settle(&lp).expect("the task ends with the handle");
}

/// A buffer with room for 16 frames is kept; a larger one is memory an
/// idle handle would hold, and the next message comes in a new buffer
/// with room for its one frame.
#[test]
fn mock_a_large_buffer_written_back_is_not_kept() {
    for (room, kept) in [(16, true), (17, false)] {
        let lp = new_loop(2);
        let (socket, peer) = mock_pair(MockKind::Rep, MockConfig::default(), 7);
        let h = Stream::new(&lp, socket).expect("stream handle");
        let rooms: Rc<RefCell<Vec<usize>>> = Rc::default();
        let log = rooms.clone();
        h.start_read(move |h: &Stream, m| {
            let m = m.expect("a message");
            log.borrow_mut().push(m.capacity());
            let mut reply = Vec::with_capacity(room);
            reply.extend(m);
            h.write_multipart(reply).expect("the reply is queued");
        })
        .expect("start_read");
        round(&lp, &peer, &[&[b"a"]]);
        round(&lp, &peer, &[&[b"b"]]);
        assert_eq!(
            rooms.borrow()[1],
            if kept { room } else { 1 },
            "after a reply in a buffer with room for {room} frames, the next request's buffer"
        );
    }
}

/// Frames lent to a read callback stay the handle's receive buffer when
/// a message is written, from the callback or from outside it, and a
/// `recv()` after `stop_read` does not take them for its buffer: it gets
/// its own message only.
#[test]
fn mock_frames_lent_to_a_callback_stay_and_never_reach_a_recv() {
    let lp = new_loop(3);
    let (socket, peer) = mock_pair(MockKind::Pair, MockConfig::default(), 7);
    let h = Stream::new(&lp, socket).expect("stream handle");
    let lent: Rc<RefCell<Vec<(Msg, usize)>>> = Rc::default();
    let log = lent.clone();
    h.start_read_frames(move |h: &Stream, m| {
        let m = m.expect("a message");
        log.borrow_mut()
            .push((m.iter().map(|f| f.to_vec()).collect(), m.as_ptr() as usize));
        h.write_multipart(vec![zmq::Message::from("w")])
            .expect("the write is queued");
    })
    .expect("start_read_frames");
    for msg in [&[b"a".as_slice(), b"b"][..], &[b"c"]] {
        assert!(peer.send(msg));
        settle(&lp).expect("the loop settles");
        h.write_multipart(vec![zmq::Message::from("v")])
            .expect("the write is queued");
    }
    let lent = lent.borrow();
    assert_eq!(lent[0].0, vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(lent[1].0, vec![b"c".to_vec()]);
    assert_eq!(
        lent[0].1, lent[1].1,
        "the second message was received into new frames, not the lent ones"
    );
    h.stop_read().expect("stop_read");
    assert!(peer.send(&[b"d"]));
    let got = lp.block_on(h.recv()).expect("the loop runs");
    assert_eq!(
        got.map(|m| to_bytes(&m)),
        Ok(vec![b"d".to_vec()]),
        "recv() after the lent frames"
    );
}

/// On libuv and libzmq: a REP handle that `serve` makes echo (noting each
/// request's buffer in the list it is given) answers three requests, the
/// first of three frames; all of them come in one buffer.
fn real_rep_echo(what: &str, serve: impl FnOnce(&uzmq::Loop, &uzmq::Zmq, Seen)) {
    use tests::real::{LIMIT, blocking_socket, inproc, run_until, socket};
    use uzmq::{Loop, Zmq, zmq};

    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let rep = socket(&ctx, zmq::REP);
    let endpoint = inproc(what);
    rep.bind(&endpoint).expect("bind");
    let h = Zmq::new(&lp, rep).expect("handle");
    let seen: Seen = Rc::default();
    serve(&lp, &h, seen.clone());
    let req = blocking_socket(&ctx, zmq::REQ);
    req.connect(&endpoint).expect("connect");
    let requests: [&[&[u8]]; 3] = [&[b"a", b"b", b"c"], &[b"d"], &[b"e"]];
    for (i, request) in requests.iter().enumerate() {
        req.send_multipart(request.iter().copied(), zmq::DONTWAIT)
            .expect("the request is sent");
        run_until(&lp, LIMIT, "the request read", || seen.borrow().len() > i);
        // The reply went to libzmq in the step (or the task's poll) that
        // read the request.
        let reply = req.recv_multipart(0).expect("the reply");
        assert_eq!(
            reply,
            request.iter().map(|f| f.to_vec()).collect::<Vec<_>>()
        );
    }
    assert_one_buffer(what, &seen.borrow());
    h.close();
}

/// A read callback's reply, written back: the next requests come in its
/// buffer.
#[test]
fn a_reply_written_back_is_the_buffer_of_the_next_request() {
    real_rep_echo("receive-buffers-callback", |_lp, h, seen| {
        h.start_read(move |h, m| {
            let m = m.expect("a request");
            seen.borrow_mut().push(buffer(&m));
            h.write_multipart(m).expect("the reply is queued");
        })
        .expect("start_read");
    });
}

/// A task's reply, sent back: the next `recv()`s receive into its buffer.
#[test]
fn a_reply_sent_back_is_the_buffer_of_the_next_recv() {
    real_rep_echo("receive-buffers-task", |lp, h, seen| {
        let echo = h.clone();
        lp.spawn_local(async move {
            while let Ok(m) = echo.recv().await {
                seen.borrow_mut().push(buffer(&m));
                echo.send(m).await.expect("the reply is sent");
            }
        })
        .expect("spawn_local");
    });
}
