//! [`Recv`], the future of a stream handle's next whole message, on the
//! same state as the read callback: the handle's step tells the first
//! pending `Recv` when
//! `ZMQ_EVENTS` shows a message, and `Recv` then receives it itself, in
//! its own poll, so a message leaves the socket only for a future that
//! completes with it (dropping a pending `Recv` loses nothing).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Inner, StreamHandle};
use crate::{Error, Events, Multipart, Reactor, Result, Socket};

/// What one poll of a `Recv` decided, with the state borrowed.
enum Step {
    Done(Result<Multipart>),
    Wait,
    /// First in line: receive now. `told`: the step saw a message there
    /// with no socket call since.
    Receive {
        told: bool,
        partial: Multipart,
    },
}

/// The future of [`StreamHandle::recv`].
#[must_use = "futures do nothing unless polled"]
pub struct Recv<R: Reactor, S: Socket> {
    h: StreamHandle<R, S>,
    ticket: Option<u64>,
}

impl<R: Reactor, S: Socket> StreamHandle<R, S> {
    /// The next whole message. Pending `recv()`s of one handle are served
    /// in the order they were first polled; one polled while another
    /// waits ahead of it waits its turn. `Err(Closed)` on a closed handle
    /// (or when it closes while pending), `Err(Zmq(ENOTSUP))` on a socket
    /// type that cannot receive, `Err(Zmq(EBUSY))` while a read callback
    /// is set, the fatal error after one.
    pub fn recv(&self) -> Recv<R, S> {
        Recv {
            h: self.clone(),
            ticket: None,
        }
    }
}

impl<R: Reactor, S: Socket> Future for Recv<R, S> {
    type Output = Result<Multipart>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Multipart>> {
        let this = &mut *self;
        let inner = this.h.inner.clone();
        let (told, partial) = match inner.recv_step(&mut this.ticket, cx) {
            Step::Done(result) => {
                this.leave();
                return Poll::Ready(result);
            }
            Step::Wait => return Poll::Pending,
            Step::Receive { told, partial } => (told, partial),
        };
        match inner.recv_message(partial) {
            Ok(Some(msg)) => {
                if let Some(ticket) = this.ticket.take() {
                    inner.st.borrow_mut().readers.leave(ticket);
                }
                // The receive may have consumed the fd's edge: the handle
                // looks at the socket again next turn (and tells the next
                // in line), and settles its fd watch then.
                inner.recheck();
                Poll::Ready(Ok(msg))
            }
            Ok(None) => {
                // Nothing now: wait in line (the first poll of a lone
                // reader tried without joining).
                let (refused, looked) = {
                    let mut st = inner.st.borrow_mut();
                    st.readers.join(&mut this.ticket, cx.waker());
                    if told {
                        // Refused although `ZMQ_EVENTS` showed a message:
                        // wait for the fd, as the handle's own step does.
                        st.refused |= Events::READABLE;
                    }
                    // libzmq processed every command before it found
                    // nothing, so the next message raises the fd: this
                    // receive was the look that reading needs before the
                    // handle sleeps. Queued writes still need the step's
                    // (they wait for `ZMQ_POLLOUT`, which it may have
                    // changed unseen).
                    (told, st.queue.is_empty())
                };
                if looked {
                    inner.call_off_look();
                }
                inner.changed(!refused && !looked);
                Poll::Pending
            }
            Err(e) => {
                this.leave();
                inner.fail(&this.h, e);
                Poll::Ready(Err(e))
            }
        }
    }
}

impl<R: Reactor, S: Socket> Recv<R, S> {
    /// Out of the line (failed, or dropped); the next in line gets its
    /// turn when the handle next looks at the socket.
    fn leave(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            let was_first = self.h.inner.st.borrow_mut().readers.leave(ticket);
            self.h.inner.changed(was_first);
        }
    }
}

impl<R: Reactor, S: Socket> Drop for Recv<R, S> {
    fn drop(&mut self) {
        self.leave();
    }
}

impl<R: Reactor, S: Socket> Inner<R, S> {
    fn recv_step(&self, ticket: &mut Option<u64>, cx: &Context<'_>) -> Step {
        let mut st = match self.open_mut() {
            Ok(st) => st,
            Err(e) => return Step::Done(Err(e)),
        };
        if !self.kind.socket.can_recv() {
            return Step::Done(Err(Error::Zmq(zmq::Error::ENOTSUP)));
        }
        if let Err(e) = st.usable() {
            return Step::Done(Err(e));
        }
        if st.read_cb.is_set() {
            return Step::Done(Err(Error::Zmq(zmq::Error::EBUSY)));
        }
        if ticket.is_none() && !st.readers.is_waiting() && st.readers.budget > 0 {
            // A lone reader: try at once, and join the line only if there
            // is nothing (no line to keep on the hot path).
            st.readers.budget -= 1;
            let told = std::mem::take(&mut st.readers.told_readable);
            return Step::Receive {
                told,
                partial: st.receive_buffer(),
            };
        }
        let joined = ticket.is_none();
        let t = st.readers.join(ticket, cx.waker());
        if !st.readers.is_first(t) || st.readers.budget == 0 {
            drop(st);
            if joined {
                // Now active: the loop keeps the handle, and its step
                // looks at the socket (it also renews the budget).
                self.changed(true);
            }
            return Step::Wait;
        }
        st.readers.budget -= 1;
        let told = std::mem::take(&mut st.readers.told_readable);
        Step::Receive {
            told,
            partial: st.receive_buffer(),
        }
    }

    /// The step found a message for the first `recv()` in line: tells it.
    pub(super) fn tell_first_reader(&self) -> bool {
        let waker = {
            let mut st = self.st.borrow_mut();
            let waker = st.readers.first_waker();
            st.readers.told_readable = waker.is_some();
            waker
        };
        match waker {
            Some(waker) => {
                waker.wake();
                true
            }
            None => false,
        }
    }
}
