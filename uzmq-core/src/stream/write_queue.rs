//! The ordered write queue of a stream handle: frames flat in a vector
//! read from a cursor, each message's last frame carrying its optional
//! completion. The entries have no drop code, so a run of sent frames
//! leaves the queue for the cost of a cursor step each, and a one-frame
//! message costs one push and one step (and no allocation once warm).

use std::mem::ManuallyDrop;

use crate::{Error, Io, Socket};

/// What ended a run of sends (other than the cap or an empty queue).
pub(crate) enum RunEnd<C> {
    /// libzmq took all its frames; here is its completion callback.
    Sent(C),
    /// libzmq cannot take more now; the message stays at the head.
    Blocked,
    /// libzmq refused it; it left the queue with its callback.
    Failed(Error, Option<C>),
}

/// A queued frame. Once libzmq took it, the message left behind is empty
/// and owns nothing (the `Socket` contract), so a sent frame is left as it
/// is, without the FFI call that dropping a `zmq::Message` makes; one that
/// leaves the queue unsent is closed by hand.
type Frame = ManuallyDrop<zmq::Message>;

/// Where a queued frame sits in its message.
enum Place<C> {
    /// More frames of the message follow.
    More,
    /// The message's last frame, with the message's completion callback,
    /// if any, until the message leaves the queue (dropped by hand, as the
    /// frame is, so that an entry has no drop code).
    Last(ManuallyDrop<Option<C>>),
}

type Entry<C> = (Frame, Place<C>);

/// Closes an entry that leaves the queue unsent; its callback, if any.
fn take_unsent<C>((frame, place): Entry<C>) -> Option<Option<C>> {
    drop(ManuallyDrop::into_inner(frame));
    match place {
        Place::More => None,
        Place::Last(done) => Some(ManuallyDrop::into_inner(done)),
    }
}

pub(crate) struct WriteQueue<C> {
    /// The queue is `front[sent..]` then `back`, oldest first. Entries
    /// before `sent` left (sent, or closed) and own nothing. A write joins
    /// `front` while none of it left, else `back`, which becomes `front`
    /// once `front` is done: no entry ever moves, and neither vector grows
    /// past the longest queue. So `back` holds entries only while `front`
    /// holds some that have not left, and a message never spans the two.
    front: Vec<Entry<C>>,
    sent: usize,
    back: Vec<Entry<C>>,
    /// Messages queued (the `Last` entries in the queue).
    messages: usize,
}

impl<C> Default for WriteQueue<C> {
    fn default() -> Self {
        WriteQueue {
            front: Vec::new(),
            sent: 0,
            back: Vec::new(),
            messages: 0,
        }
    }
}

impl<C> WriteQueue<C> {
    /// Messages queued and not yet (wholly) taken by libzmq.
    pub(crate) fn len(&self) -> usize {
        self.messages
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.messages == 0
    }

    /// Why a message of `frames` frames cannot be queued now, if it cannot.
    pub(crate) fn refusal(&self, frames: usize, limit: Option<usize>) -> Option<Error> {
        if frames == 0 {
            Some(Error::Zmq(zmq::Error::EINVAL))
        } else if limit.is_some_and(|n| self.messages >= n) {
            Some(Error::QueueFull)
        } else {
            None
        }
    }

    /// Queues one message (at least one frame: see [`refusal`](Self::refusal);
    /// an empty iterator queues nothing). The frame count is `frames.len()`,
    /// which the std iterators the handle passes report exactly.
    #[inline]
    pub(crate) fn push(
        &mut self,
        mut frames: impl ExactSizeIterator<Item = zmq::Message>,
        done: Option<C>,
    ) {
        for _ in 1..frames.len() {
            if let Some(frame) = frames.next() {
                self.push_entry(frame, Place::More);
            }
        }
        if let Some(frame) = frames.next() {
            self.push_one(frame, done);
        }
    }

    /// Queues a one-frame message, the commonest, with no iterator to go
    /// through.
    #[inline]
    pub(crate) fn push_one(&mut self, frame: zmq::Message, done: Option<C>) {
        self.push_entry(frame, Place::Last(ManuallyDrop::new(done)));
        self.messages += 1;
    }

    #[inline]
    fn push_entry(&mut self, frame: zmq::Message, place: Place<C>) {
        let line = if self.sent == 0 {
            &mut self.front
        } else {
            &mut self.back
        };
        line.push((Frame::new(frame), place));
    }

    /// Sends head messages until `max` went, one with a completion went,
    /// the queue ran empty, or libzmq pushed back or refused. Returns how
    /// many went without a completion, and what ended the run, unless it
    /// was `max` or the empty queue. A frame libzmq took only moves the
    /// cursor, so the common message (one frame, no completion) costs a
    /// send and a few tests.
    #[inline]
    pub(crate) fn send_run(
        &mut self,
        socket: &impl Socket,
        max: usize,
    ) -> (usize, Option<RunEnd<C>>) {
        let mut plain = 0;
        // `plain` only grows at a message's end, so a run never stops
        // inside a message for the cap.
        let mut end = loop {
            if plain == max {
                break None;
            }
            let Some((frame, place)) = self.front.get_mut(self.sent) else {
                if self.back.is_empty() {
                    break None;
                }
                // On into `back`, which this moves to the front.
                self.front_done();
                continue;
            };
            match socket.send_frame(frame, matches!(place, Place::More)) {
                Ok(Io::Done(())) => {
                    // Counted at once, so that the queue stays true even
                    // if a later call unwinds.
                    self.sent += 1;
                    if let Place::Last(done) = place {
                        self.messages -= 1;
                        if done.is_none() {
                            plain += 1;
                        } else {
                            break Option::take(done).map(RunEnd::Sent);
                        }
                    }
                }
                Ok(Io::WouldBlock) => break Some(RunEnd::Blocked),
                Err(e) => break Some(RunEnd::Failed(e, None)),
            }
        };
        if let Some(RunEnd::Failed(_, done)) = &mut end {
            *done = self.drop_head();
        }
        if self.sent == self.front.len() {
            self.front_done();
        }
        (plain, end)
    }

    /// Every entry of `front` left: it starts over, and `back` takes its
    /// place.
    #[inline]
    fn front_done(&mut self) {
        self.front.clear();
        self.sent = 0;
        std::mem::swap(&mut self.front, &mut self.back);
    }

    /// Closes the head message's frames (those not sent); its callback.
    fn drop_head(&mut self) -> Option<C> {
        while let Some(entry) = self.front.get_mut(self.sent) {
            let left = (Frame::new(zmq::Message::new()), Place::More);
            self.sent += 1;
            if let Some(done) = take_unsent(std::mem::replace(entry, left)) {
                self.messages -= 1;
                return done;
            }
        }
        None
    }

    /// Empties the queue, handing back every message's callback in order.
    /// Every frame is closed before this returns.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Option<C>> + use<C> {
        let mut callbacks = Vec::with_capacity(std::mem::take(&mut self.messages));
        let sent = std::mem::take(&mut self.sent);
        // Taken, so that the vectors' memory goes too.
        let (mut front, back) = (
            std::mem::take(&mut self.front),
            std::mem::take(&mut self.back),
        );
        callbacks.extend(front.drain(sent..).chain(back).filter_map(take_unsent));
        callbacks.into_iter()
    }
}

impl<C> Drop for WriteQueue<C> {
    /// Closes the frames still queued and drops their callbacks.
    fn drop(&mut self) {
        drop(self.drain());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(s: &str) -> zmq::Message {
        zmq::Message::from(s.as_bytes())
    }

    #[test]
    fn counts_messages_not_frames_and_drains_callbacks_in_order() {
        let mut q = WriteQueue::default();
        q.push([msg("a"), msg("b")].into_iter(), Some(1));
        q.push(std::iter::once(msg("c")), None);
        q.push(std::iter::empty(), Some(9));
        assert_eq!(q.len(), 2);
        assert_eq!(q.refusal(1, Some(2)), Some(Error::QueueFull));
        assert_eq!(q.refusal(0, None), Some(Error::Zmq(zmq::Error::EINVAL)));
        assert_eq!(q.refusal(1, Some(3)), None);
        assert_eq!(q.drain().collect::<Vec<_>>(), [Some(1), None]);
        assert!(q.is_empty());
        assert!(q.front.is_empty() && q.back.is_empty());
    }

    /// The queue against the mock socket (which takes a frame's content,
    /// as libzmq does, and pushes back at its HWM).
    #[cfg(feature = "mock")]
    mod on_a_socket {
        use super::*;
        use crate::mock::{MockConfig, MockKind, MockPeer, MockSocket, mock_pair};

        fn peer(kind: MockKind, sndhwm: usize) -> (MockSocket, MockPeer) {
            let config = MockConfig {
                sndhwm,
                ..MockConfig::default()
            };
            mock_pair(kind, config, 0x5EED)
        }

        /// The peer got exactly these messages, in this order.
        fn assert_received(peer: &MockPeer, want: &[&[&[u8]]]) {
            let got: Vec<_> = std::iter::from_fn(|| peer.recv()).collect();
            let want: Vec<Vec<Vec<u8>>> = want
                .iter()
                .map(|m| m.iter().map(|f| f.to_vec()).collect())
                .collect();
            assert_eq!(got, want);
        }

        fn outcome(end: Option<RunEnd<u32>>) -> String {
            match end {
                None => "-".into(),
                Some(RunEnd::Sent(done)) => format!("sent {done}"),
                Some(RunEnd::Blocked) => "blocked".into(),
                Some(RunEnd::Failed(e, done)) => format!("failed {e:?} {done:?}"),
            }
        }

        #[test]
        fn each_completion_comes_with_its_own_message() {
            let (socket, peer) = peer(MockKind::Push, 0);
            let mut q = WriteQueue::default();
            q.push_one(msg("a"), None);
            q.push([msg("b1"), msg("b2")].into_iter(), Some(1));
            q.push_one(msg("c"), None);
            q.push_one(msg("d"), Some(2));
            let (plain, end) = q.send_run(&socket, 10);
            assert_eq!((plain, outcome(end)), (1, "sent 1".into()), "a, then b");
            assert_eq!(q.len(), 2);
            let (plain, end) = q.send_run(&socket, 10);
            assert_eq!((plain, outcome(end)), (1, "sent 2".into()), "c, then d");
            let (plain, end) = q.send_run(&socket, 10);
            assert_eq!((plain, outcome(end)), (0, "-".into()), "nothing left");
            assert!(q.is_empty());
            assert_received(&peer, &[&[b"a"], &[b"b1", b"b2"], &[b"c"], &[b"d"]]);
        }

        #[test]
        fn a_blocked_message_stays_at_the_head_and_a_failed_one_leaves() {
            let (socket, peer) = peer(MockKind::Router, 1);
            let mut q = WriteQueue::default();
            q.push([msg("\u{0}"), msg("x")].into_iter(), None);
            q.push([msg("\u{0}"), msg("y")].into_iter(), Some(5));
            q.push([msg("\u{9}"), msg("lost")].into_iter(), Some(6));
            let (plain, end) = q.send_run(&socket, 10);
            assert_eq!(
                (plain, outcome(end)),
                (1, "blocked".into()),
                "peer 0 at its HWM"
            );
            assert_eq!(q.len(), 2);
            assert_eq!(peer.recv_from(0), Some(vec![b"x".to_vec()]));
            // The events read processes the peer's `activate_write`.
            assert!(
                socket
                    .events()
                    .expect("events")
                    .contains(crate::Events::WRITABLE)
            );
            let (plain, end) = q.send_run(&socket, 10);
            assert_eq!((plain, outcome(end)), (0, "sent 5".into()), "room again");
            let (plain, end) = q.send_run(&socket, 10);
            let unreachable = format!("failed {:?} Some(6)", Error::Zmq(zmq::Error::EHOSTUNREACH));
            assert_eq!((plain, outcome(end)), (0, unreachable), "no peer 9");
            assert!(q.is_empty());
            assert!(q.front.is_empty() && q.back.is_empty());
            assert_eq!(peer.recv_from(0), Some(vec![b"y".to_vec()]));
        }

        #[test]
        fn writes_queued_behind_a_partly_sent_queue_go_in_the_same_run() {
            let (socket, peer) = peer(MockKind::Push, 0);
            let mut q: WriteQueue<u32> = WriteQueue::default();
            for m in ["a", "b", "c"] {
                q.push_one(msg(m), None);
            }
            assert_eq!(q.send_run(&socket, 1).0, 1, "a");
            // Written after a send: behind b and c.
            q.push([msg("d1"), msg("d2")].into_iter(), None);
            q.push_one(msg("e"), Some(7));
            let (plain, end) = q.send_run(&socket, 10);
            assert_eq!(
                (plain, outcome(end)),
                (3, "sent 7".into()),
                "b, c, d, then e"
            );
            assert!(q.is_empty());
            assert_received(
                &peer,
                &[&[b"a"], &[b"b"], &[b"c"], &[b"d1", b"d2"], &[b"e"]],
            );
        }

        #[test]
        fn a_steady_backlog_keeps_the_vector_small() {
            let (socket, peer) = peer(MockKind::Push, 0);
            let mut q: WriteQueue<u32> = WriteQueue::default();
            let mut received = 0;
            for i in 0..10_000 {
                q.push_one(zmq::Message::from(&u32::to_le_bytes(i)[..]), None);
                // Eight messages always queued: the vector never empties.
                if i >= 8 {
                    assert_eq!(q.send_run(&socket, 1).0, 1);
                    let got = peer.recv().expect("a message");
                    assert_eq!(got, [u32::to_le_bytes(received).to_vec()], "in order");
                    received += 1;
                }
            }
            assert_eq!(q.len(), 8);
            assert!(
                q.front.capacity() + q.back.capacity() <= 32,
                "the room of frames sent is used again: capacity {} + {} for 8 queued",
                q.front.capacity(),
                q.back.capacity()
            );
        }
    }
}
