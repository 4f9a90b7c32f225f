//! `Zmq`'s async side: `recv` and `send` futures, and the `Stream` and
//! `Sink` adapters the async ecosystem's combinators work with.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use futures_sink::Sink;
use uzmq_core::{Error, Multipart, Recv, Result};
use uzmq_uv::UvLoop;
use uzmq_zmq::ZmqSocket;

use crate::Zmq;

impl Zmq {
    /// The next whole message. Cancel-safe: dropping a pending `recv()`
    /// loses nothing (a message leaves the socket only for a future that
    /// completes with it). Several pending `recv()` of one handle are
    /// served in the order they were first polled. A pending `recv()`
    /// keeps the handle active, as reading does. `Err(Zmq(EBUSY))` on a
    /// handle with a read callback (and [`start_read`](Self::start_read)
    /// is `Err(Zmq(EBUSY))` while `recv()`s are pending);
    /// `Err(Zmq(ENOTSUP))` on PUSH/PUB; `Err(Closed)` when the handle is,
    /// or becomes, closed.
    ///
    /// A task that sends the [`Multipart`] itself back
    /// ([`send`](Self::send) or a write: an echo, a forward) has the next
    /// `recv()` receive into that `Vec`, as a read callback does (see
    /// [`start_read`](Self::start_read)).
    ///
    /// ```
    /// use uzmq::{zmq, Loop, Zmq};
    ///
    /// let ctx = zmq::Context::new();
    /// let lp = Loop::new()?;
    /// let pull = ctx.socket(zmq::PULL)?;
    /// pull.bind("inproc://recv-doc")?;
    /// let push = ctx.socket(zmq::PUSH)?;
    /// push.connect("inproc://recv-doc")?;
    /// push.send_multipart(["a", "b"], 0)?;
    /// let h = Zmq::new(&lp, pull)?;
    /// let msg = lp.block_on(h.recv())??;
    /// assert_eq!(msg.len(), 2);
    /// # Ok::<(), uzmq::Error>(())
    /// ```
    pub fn recv(&self) -> impl Future<Output = Result<Multipart>> + use<> {
        self.0.recv()
    }

    /// Queues a multipart message at the call, as
    /// [`write_with`](Self::write_with) does (so writes keep call order),
    /// and resolves when libzmq took it, or with its error (at once with
    /// the error of a refused call: `Closed`, `ENOTSUP`, `EINVAL` for zero
    /// parts, `QueueFull`). Dropping the future does not unqueue the
    /// message. A pending `send()` keeps the handle active.
    ///
    /// ```
    /// use uzmq::{zmq, Loop, Zmq};
    ///
    /// let ctx = zmq::Context::new();
    /// let lp = Loop::new()?;
    /// let pull = ctx.socket(zmq::PULL)?;
    /// pull.bind("inproc://send-doc")?;
    /// let push = ctx.socket(zmq::PUSH)?;
    /// push.connect("inproc://send-doc")?;
    /// let h = Zmq::new(&lp, push)?;
    /// lp.block_on(h.send(["hello"]))??;
    /// assert_eq!(pull.recv_bytes(0)?, b"hello");
    /// # Ok::<(), uzmq::Error>(())
    /// ```
    pub fn send<I, M>(&self, parts: I) -> impl Future<Output = Result<()>> + use<I, M>
    where
        I: IntoIterator<Item = M>,
        M: Into<zmq::Message>,
    {
        self.0.send(parts)
    }

    /// The messages received, as a [`Stream`] (for `StreamExt` and
    /// friends), through [`recv`](Self::recv): each item is a message, or
    /// the error that ended the stream; the stream ends after an error, or
    /// when the handle closes.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    /// use futures_core::Stream;
    /// use uzmq::{zmq, Loop, Zmq};
    ///
    /// let ctx = zmq::Context::new();
    /// let lp = Loop::new()?;
    /// let pull = ctx.socket(zmq::PULL)?;
    /// pull.bind("inproc://messages-doc")?;
    /// let push = ctx.socket(zmq::PUSH)?;
    /// push.connect("inproc://messages-doc")?;
    /// push.send("one", 0)?;
    /// let mut messages = Zmq::new(&lp, pull)?.messages();
    /// let first = lp.block_on(poll_fn(|cx| Pin::new(&mut messages).poll_next(cx)))?;
    /// assert_eq!(&first.expect("an item")?[0][..], b"one");
    /// # Ok::<(), uzmq::Error>(())
    /// ```
    pub fn messages(&self) -> Messages {
        Messages {
            h: self.clone(),
            next: None,
            ended: false,
        }
    }

    /// A [`Sink`] of multipart messages into this handle's write queue
    /// (for `SinkExt` and friends): `start_send` queues, `poll_ready`
    /// waits while [`SINK_BUFFER`] of its messages are queued, `poll_flush`
    /// waits until libzmq took every one of them, and a write's error is
    /// returned by the next call. `poll_close` flushes; the handle stays
    /// open.
    pub fn sink(&self) -> ZmqSink {
        ZmqSink {
            h: self.clone(),
            state: Rc::default(),
        }
    }
}

/// How many of a [`ZmqSink`]'s messages may be queued before `poll_ready`
/// waits.
pub const SINK_BUFFER: usize = 1000;

/// The [`Stream`] of [`Zmq::messages`].
#[must_use = "streams do nothing unless polled"]
pub struct Messages {
    h: Zmq,
    next: Option<Recv<UvLoop, ZmqSocket>>,
    ended: bool,
}

impl Stream for Messages {
    type Item = Result<Multipart>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        let next = this.next.get_or_insert_with(|| this.h.0.recv());
        match Pin::new(next).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                this.next = None;
                match result {
                    Ok(msg) => Poll::Ready(Some(Ok(msg))),
                    Err(Error::Closed) => {
                        this.ended = true;
                        Poll::Ready(None)
                    }
                    Err(e) => {
                        this.ended = true;
                        Poll::Ready(Some(Err(e)))
                    }
                }
            }
        }
    }
}

/// What a [`ZmqSink`] shares with its writes' completions.
#[derive(Default)]
struct SinkState {
    queued: Cell<usize>,
    error: Cell<Option<Error>>,
    waker: RefCell<Option<Waker>>,
}

impl SinkState {
    fn done(&self, result: Result<()>) {
        self.queued.set(self.queued.get() - 1);
        if let Err(e) = result {
            // The first error is kept until a call returns it.
            let first = self.error.take().unwrap_or(e);
            self.error.set(Some(first));
        }
        let waker = self.waker.borrow_mut().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Ready once `until` holds (or with the error a write got).
    fn poll_until(&self, cx: &Context<'_>, until: impl Fn(usize) -> bool) -> Poll<Result<()>> {
        if let Some(e) = self.error.take() {
            return Poll::Ready(Err(e));
        }
        if until(self.queued.get()) {
            return Poll::Ready(Ok(()));
        }
        *self.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The [`Sink`] of [`Zmq::sink`].
#[must_use = "sinks do nothing unless polled"]
pub struct ZmqSink {
    h: Zmq,
    state: Rc<SinkState>,
}

impl Sink<Multipart> for ZmqSink {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.h.is_closed() {
            return Poll::Ready(Err(Error::Closed));
        }
        self.state.poll_until(cx, |queued| queued < SINK_BUFFER)
    }

    fn start_send(self: Pin<&mut Self>, item: Multipart) -> Result<()> {
        let state = self.state.clone();
        self.h
            .write_with(item, move |_, result| state.done(result))?;
        self.state.queued.set(self.state.queued.get() + 1);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.state.poll_until(cx, |queued| queued == 0)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.poll_flush(cx)
    }
}
