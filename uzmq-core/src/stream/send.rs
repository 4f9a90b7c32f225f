//! `send()`: a write whose completion is a future. When nothing is queued
//! and the socket may take it, the message goes to libzmq right in the
//! call, frame by frame, with no queue entry and no allocation, so a task
//! that awaits each send in turn goes at libzmq's pace; otherwise (or for
//! what libzmq does not take) it is queued like any write.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::completion::{Done, SendSlot, SlotRef};
use super::drive::Mode;
use super::{Inner, StreamHandle, emptied, frames};
use crate::{Error, Events, Io, Reactor, Result, Socket};

impl<R: Reactor, S: Socket> StreamHandle<R, S> {
    /// Queues a multipart message, as [`write_with`](Self::write_with),
    /// and returns a future that resolves when libzmq took it, or with its
    /// error (at once with the error of a refused call).
    pub fn send<I, M>(&self, parts: I) -> Send
    where
        I: IntoIterator<Item = M>,
        M: Into<zmq::Message>,
    {
        let mut parts = parts.into_iter();
        let Some(first) = parts.next() else {
            return self.send_queued(std::iter::empty());
        };
        let mut frame: zmq::Message = first.into();
        if !self.inner.may_send_now() {
            return self.send_queued(std::iter::once(frame).chain(parts.map(Into::into)));
        }
        loop {
            // The next frame is converted (user code) with no borrow held;
            // it tells whether this one is the last.
            let next: Option<zmq::Message> = parts.next().map(Into::into);
            match self
                .inner
                .kind
                .socket
                .send_frame(&mut frame, next.is_some())
            {
                Ok(Io::Done(())) => {
                    // libzmq took the content: the empty message left owns
                    // nothing (as in the write queue).
                    std::mem::forget(frame);
                    match next {
                        Some(next) => frame = next,
                        None => break,
                    }
                }
                Ok(Io::WouldBlock) => {
                    // Not taken (or, after the first frame, the rest of an
                    // atomic message): queued at the head, as any write;
                    // the turn reads the events first.
                    self.inner.recheck();
                    let rest = std::iter::once(frame).chain(next);
                    return self.send_queued(rest.chain(parts.map(Into::into)));
                }
                Err(e) => {
                    self.inner.recheck();
                    if e.is_fatal() {
                        self.inner.fail(self, e);
                    }
                    return Send::failed(e);
                }
            }
        }
        // The emptied `Vec` of a `Multipart`, collected in place, is the
        // next message's receive buffer (see `queue_write`).
        if self.inner.kind.socket.can_recv() {
            self.inner.keep_written(emptied::<I, M>(parts));
        }
        // The send may have consumed the fd's edge: look again next turn.
        self.inner.recheck();
        Send::done()
    }

    fn send_queued(&self, parts: impl Iterator<Item = zmq::Message>) -> Send {
        let slot = Rc::new(SendSlot::default());
        let done = Some(Done::Future(SlotRef::new(slot.clone())));
        match self.inner.queue_write(frames(parts), done) {
            Ok(()) => Send::pending(slot),
            Err(e) => Send::failed(e),
        }
    }
}

impl<R: Reactor, S: Socket> Inner<R, S> {
    /// Whether a `send()` may go straight to libzmq: an open handle whose
    /// writes flow, nothing queued ahead of it, sends not refused, and
    /// direct calls left before the next turn (they share the read batch:
    /// a task that always finds the socket willing still lets the loop go
    /// round). Uses one unit of that budget when it says yes.
    fn may_send_now(&self) -> bool {
        if self.kind.driving.get() || !self.kind.socket.can_send() {
            return false;
        }
        let Ok(mut st) = self.open_mut() else {
            return false;
        };
        let yes = st.usable().is_ok()
            && st.queue.is_empty()
            && st.may_send(Mode::Turn)
            && !st.refused.contains(Events::WRITABLE)
            && st.readers.budget > 0;
        if yes {
            st.readers.budget -= 1;
            st.readers.told_readable = false;
        }
        yes
    }
}

/// The future of [`StreamHandle::send`]: resolves when libzmq took the
/// message, or with its error. The message was queued at the call;
/// dropping the future does not unqueue it.
#[must_use = "the message is queued; the future tells when it went out"]
pub struct Send {
    state: SendState,
}

enum SendState {
    /// Sent in the call.
    Done,
    Queued(Rc<SendSlot>),
    Failed(Option<Error>),
}

impl Send {
    pub(super) fn pending(slot: Rc<SendSlot>) -> Send {
        Send {
            state: SendState::Queued(slot),
        }
    }

    pub(super) fn done() -> Send {
        Send {
            state: SendState::Done,
        }
    }

    pub(super) fn failed(e: Error) -> Send {
        Send {
            state: SendState::Failed(Some(e)),
        }
    }
}

impl Future for Send {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        match &mut self.state {
            SendState::Done => Poll::Ready(Ok(())),
            SendState::Queued(slot) => match slot.poll(cx.waker()) {
                Some(result) => Poll::Ready(result),
                None => Poll::Pending,
            },
            // Polled again after completion: the error once, then Closed.
            SendState::Failed(e) => Poll::Ready(Err(e.take().unwrap_or(Error::Closed))),
        }
    }
}
