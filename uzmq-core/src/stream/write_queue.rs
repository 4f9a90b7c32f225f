//! The ordered write queue of a stream handle: frames flat in one deque (no
//! allocation per message once warm), one entry per message for its
//! optional completion callback.

use std::collections::VecDeque;

use crate::{Error, Io, Socket};

/// What happened to the message at the head of the queue.
pub(crate) enum HeadSend<C> {
    /// libzmq took all its frames; here is its completion callback.
    Sent(Option<C>),
    /// libzmq cannot take more now; the message stays at the head.
    Blocked,
    /// libzmq refused it; it left the queue with its callback.
    Failed(Error, Option<C>),
}

pub(crate) struct WriteQueue<C> {
    /// Every queued frame, with whether more frames of its message follow.
    frames: VecDeque<(zmq::Message, bool)>,
    /// One entry per queued message.
    completions: VecDeque<Option<C>>,
}

impl<C> Default for WriteQueue<C> {
    fn default() -> Self {
        WriteQueue {
            frames: VecDeque::new(),
            completions: VecDeque::new(),
        }
    }
}

impl<C> WriteQueue<C> {
    /// Messages queued and not yet (wholly) taken by libzmq.
    pub(crate) fn len(&self) -> usize {
        self.completions.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.completions.is_empty()
    }

    /// Why a message of `frames` frames cannot be queued now, if it cannot.
    pub(crate) fn refusal(&self, frames: usize, limit: Option<usize>) -> Option<Error> {
        if frames == 0 {
            Some(Error::Zmq(zmq::Error::EINVAL))
        } else if limit.is_some_and(|n| self.completions.len() >= n) {
            Some(Error::QueueFull)
        } else {
            None
        }
    }

    /// Queues one message (at least one frame: see [`refusal`](Self::refusal)).
    pub(crate) fn push(&mut self, frames: impl Iterator<Item = zmq::Message>, done: Option<C>) {
        self.frames.extend(frames.map(|frame| (frame, true)));
        if let Some(last) = self.frames.back_mut() {
            last.1 = false;
        }
        self.completions.push_back(done);
    }

    /// Sends the head message's frames until it is all taken or libzmq
    /// pushes back. A refused frame stays in place, intact.
    pub(crate) fn send_head(&mut self, socket: &impl Socket) -> Option<HeadSend<C>> {
        if self.completions.is_empty() {
            return None;
        }
        loop {
            let (frame, more) = self.frames.front_mut()?;
            let more = *more;
            match socket.send_frame(frame, more) {
                Ok(Io::Done(())) => {
                    if let Some((sent, _)) = self.frames.pop_front() {
                        // libzmq took the content and left an empty message
                        // (the Socket contract), which owns nothing: closing
                        // it would be an FFI call per frame for nothing.
                        std::mem::forget(sent);
                    }
                    if !more {
                        return Some(HeadSend::Sent(self.completions.pop_front().flatten()));
                    }
                }
                Ok(Io::WouldBlock) => return Some(HeadSend::Blocked),
                Err(e) => {
                    self.drop_head_frames();
                    return Some(HeadSend::Failed(e, self.completions.pop_front().flatten()));
                }
            }
        }
    }

    fn drop_head_frames(&mut self) {
        while let Some((_, more)) = self.frames.pop_front() {
            if !more {
                break;
            }
        }
    }

    /// Empties the queue, handing back every message's callback in order.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Option<C>> + use<C> {
        self.frames.clear();
        std::mem::take(&mut self.completions).into_iter()
    }
}
