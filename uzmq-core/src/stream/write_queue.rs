//! The ordered write queue of a stream handle: frames flat in one deque,
//! each message's last frame carrying its optional completion callback, so
//! a one-frame message costs one push and one pop (and no allocation once
//! the deque is warm).

use std::collections::VecDeque;

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

/// What sending a frame ends (see `send_run`).
enum Ends {
    /// Nothing: more frames of its message follow.
    Nothing,
    /// A message with no completion.
    Plain,
    /// A message with a completion callback.
    Completed,
}

/// Where a queued frame sits in its message.
enum Place<C> {
    /// More frames of the message follow.
    More,
    /// The message's last frame, with the message's completion callback.
    Last(Option<C>),
}

pub(crate) struct WriteQueue<C> {
    /// Every queued frame, in order.
    frames: VecDeque<(zmq::Message, Place<C>)>,
    /// Messages queued (the `Last` entries in `frames`).
    messages: usize,
}

impl<C> Default for WriteQueue<C> {
    fn default() -> Self {
        WriteQueue {
            frames: VecDeque::new(),
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
                self.frames.push_back((frame, Place::More));
            }
        }
        if let Some(frame) = frames.next() {
            self.frames.push_back((frame, Place::Last(done)));
            self.messages += 1;
        }
    }

    /// Queues a one-frame message, the commonest, with no iterator to go
    /// through.
    #[inline]
    pub(crate) fn push_one(&mut self, frame: zmq::Message, done: Option<C>) {
        self.frames.push_back((frame, Place::Last(done)));
        self.messages += 1;
    }

    /// Sends head messages until `max` went, one with a completion went,
    /// the queue ran empty, or libzmq pushed back or refused. Returns how
    /// many went without a completion, and what ended the run, unless it
    /// was `max` or the empty queue. One loop over the frames, so the
    /// common message (no completion) costs no outcome built and matched.
    #[inline]
    pub(crate) fn send_run(
        &mut self,
        socket: &impl Socket,
        max: usize,
    ) -> (usize, Option<RunEnd<C>>) {
        let mut plain = 0;
        // `plain` only grows at a message's end, so a run never stops
        // inside a message for the cap.
        while plain < max {
            let Some((frame, place)) = self.frames.front_mut() else {
                break;
            };
            // What the frame ends, known before the send, so a frame with
            // no completion leaves the queue with no look at its entry.
            let ends = match place {
                Place::More => Ends::Nothing,
                Place::Last(None) => Ends::Plain,
                Place::Last(Some(_)) => Ends::Completed,
            };
            match socket.send_frame(frame, matches!(ends, Ends::Nothing)) {
                Ok(Io::Done(())) => match ends {
                    Ends::Nothing => self.forget_head(),
                    Ends::Plain => {
                        self.forget_head();
                        self.messages -= 1;
                        plain += 1;
                    }
                    Ends::Completed => {
                        self.messages -= 1;
                        return (plain, self.pop_sent().map(RunEnd::Sent));
                    }
                },
                Ok(Io::WouldBlock) => return (plain, Some(RunEnd::Blocked)),
                Err(e) => return (plain, Some(RunEnd::Failed(e, self.drop_head()))),
            }
        }
        (plain, None)
    }

    /// Takes the head frame off, sent and owning nothing: libzmq took its
    /// content and left an empty message (the `Socket` contract), and its
    /// place holds no callback. Closing it would be an FFI call per frame
    /// for nothing.
    #[inline]
    fn forget_head(&mut self) {
        std::mem::forget(self.frames.pop_front());
    }

    /// Takes the head frame off, sent (its message owns nothing, as for
    /// [`forget_head`](Self::forget_head)), and hands back its completion.
    fn pop_sent(&mut self) -> Option<C> {
        let (sent, place) = self.frames.pop_front()?;
        std::mem::forget(sent);
        match place {
            Place::Last(done) => done,
            Place::More => None,
        }
    }

    /// Drops the head message's frames; its callback.
    fn drop_head(&mut self) -> Option<C> {
        while let Some((_, place)) = self.frames.pop_front() {
            if let Place::Last(done) = place {
                self.messages -= 1;
                return done;
            }
        }
        None
    }

    /// Empties the queue, handing back every message's callback in order.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Option<C>> + use<C> {
        self.messages = 0;
        std::mem::take(&mut self.frames)
            .into_iter()
            .filter_map(|(_, place)| match place {
                Place::More => None,
                Place::Last(done) => Some(done),
            })
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
        assert!(q.frames.is_empty());
    }
}
