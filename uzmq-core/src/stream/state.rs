//! The stream handle's state: one enum says where the handle is, and each
//! question the handle asks of it ("which directions does it wait for",
//! "is it active", "may it send now", ...) is one exhaustive match over it,
//! so the table of what is allowed in which state reads in one place.
//!
//! | state           | reads | sends        | waits on fd   | active        | `start_read`, writes, `flush` |
//! |-----------------|-------|--------------|---------------|---------------|-------------------------------|
//! | `Open(Reading)` | yes   | yes          | yes           | yes           | ok                            |
//! | `Open(Writing)` | no    | yes          | writes queued | writes queued | ok                            |
//! | `Open(Paused)`  | no    | `flush` only | no            | no            | ok                            |
//! | `ShuttingDown`  | no    | yes          | writes queued | yes           | `Closed`                      |
//! | `Failed(e)`     | no    | no           | no            | no            | `e` (`stop`, `stop_read`: ok) |
//! | `Closed`        | no    | no           | no            | completions   | `Closed`                      |
//!
//! The shell's life (`Open`, `Closing`, `Closed`) is the handle's life for
//! the user; `Closed` here only says the stream is done (closing or
//! closed, or a shutdown that ended), leaving the completions of the
//! writes `close()` cancelled for the loop to run.

use crate::callback_slot::Slot;
use crate::fd_watch::FdWatch;
use crate::{Error, Events, Multipart, Reactor, Result, Socket};

use super::completion::Done;
use super::drive::Mode;
use super::feeds::Feeds;
use super::readers::Readers;
use super::retry::Retry;
use super::write_queue::WriteQueue;
use super::{Cancelled, ReadCb, ShutdownCb};

/// The largest emptied buffer, in frames, kept to receive into: more is
/// memory an idle handle would hold for a rare message.
const KEPT_BUFFER_FRAMES: usize = 16;

/// Which directions an open stream serves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Flow {
    /// Reading, and writes flow.
    Reading,
    /// Not reading; writes flow (the start, after `stop_read`, or after a
    /// write following `stop`).
    Writing,
    /// `stop()`: not reading, and queued writes wait for a new write or
    /// `start_read` (`flush` still sends them).
    Paused,
}

impl Flow {
    /// `stop_read`: reads end; writes go on as they were.
    pub(super) fn stop_read(self) -> Flow {
        match self {
            Flow::Reading | Flow::Writing => Flow::Writing,
            Flow::Paused => Flow::Paused,
        }
    }

    /// A write was queued: it resumes writing after `stop`.
    pub(super) fn write(self) -> Flow {
        match self {
            Flow::Reading => Flow::Reading,
            Flow::Writing | Flow::Paused => Flow::Writing,
        }
    }
}

/// Where a stream handle is.
pub(super) enum Stream<R: Reactor, S: Socket> {
    /// Usable.
    Open(Flow),
    /// `shutdown()`: sending what is queued, then done; closed to the user.
    /// `failed`: the socket had failed for good before (nothing is left to
    /// send, and no new failure is reported: `cb` gets `Ok(())`).
    ShuttingDown { cb: ShutdownCb<R, S>, failed: bool },
    /// The socket failed for good (ETERM): calls return the error.
    Failed(Error),
    /// Done: closing or closed (or a shutdown that ended); the loop runs
    /// the cancelled writes' completions before the close callback.
    Closed,
}

pub(super) struct State<R: Reactor, S: Socket> {
    pub(super) stream: Stream<R, S>,
    /// Directions libzmq refused although `ZMQ_EVENTS` showed them: they
    /// wait for the fd (or for anything else that may change the answer)
    /// instead of being tried again in the same step.
    pub(super) refused: Events,
    /// Tries a refused direction again if its signal may have been consumed.
    pub(super) retry: Retry<R::Timer>,
    pub(super) read_cb: Slot<ReadCb<R, S>>,
    pub(super) queue: WriteQueue<Done<R, S>>,
    /// Completions (and their results) the loop still has to run: queued
    /// writes cancelled by close.
    pub(super) cancelled: Vec<Cancelled<R, S>>,
    /// Frames of a message whose first frames came and the rest did not
    /// (libzmq delivers whole messages, so this stays empty in practice).
    pub(super) partial: Multipart,
    pub(super) watch: Option<FdWatch<R::Watch>>,
    pub(super) read_batch: usize,
    pub(super) queue_limit: Option<usize>,
    /// Channels from other threads (`sender()`).
    pub(super) feeds: Feeds<R>,
    /// Pending `recv()` futures.
    pub(super) readers: Readers,
    /// The read callback's receive buffer: frames lent to a
    /// `start_read_frames` callback stay here and are received into again;
    /// otherwise the emptied buffer of a message written back, if any.
    pub(super) rx: Multipart,
}

impl<R: Reactor, S: Socket> State<R, S> {
    /// The error a call gets, if it may not go ahead. The shell answers
    /// `Closed` for a closed or shutting-down handle before this is asked.
    pub(super) fn usable(&self) -> Result<()> {
        match &self.stream {
            Stream::Open(_) => Ok(()),
            Stream::Failed(e) => Err(*e),
            Stream::ShuttingDown { .. } | Stream::Closed => Err(Error::Closed),
        }
    }

    /// Whether read callbacks are to come.
    pub(super) fn is_reading(&self) -> bool {
        match &self.stream {
            Stream::Open(Flow::Reading) => true,
            Stream::Open(Flow::Writing | Flow::Paused)
            | Stream::ShuttingDown { .. }
            | Stream::Failed(_)
            | Stream::Closed => false,
        }
    }

    /// Whether the fd must be watched: there is something the handle
    /// waits for.
    pub(super) fn wants_watch(&self) -> bool {
        match &self.stream {
            Stream::Open(Flow::Reading) => true,
            Stream::Open(Flow::Writing) => !self.queue.is_empty() || self.readers.is_waiting(),
            Stream::ShuttingDown { failed: false, .. } => !self.queue.is_empty(),
            Stream::Open(Flow::Paused) => self.readers.is_waiting(),
            Stream::ShuttingDown { failed: true, .. } | Stream::Failed(_) | Stream::Closed => false,
        }
    }

    /// Reading, or writes queued and not stopped, or completion callbacks
    /// still to run, or shutting down: what keeps the loop going.
    pub(super) fn is_active(&self) -> bool {
        match &self.stream {
            Stream::Open(Flow::Reading) | Stream::ShuttingDown { .. } => true,
            Stream::Open(Flow::Writing) => {
                !self.queue.is_empty() || self.feeds.is_live() || self.readers.is_waiting()
            }
            Stream::Open(Flow::Paused) => self.readers.is_waiting(),
            Stream::Failed(_) => false,
            Stream::Closed => self
                .cancelled
                .iter()
                .any(|(done, _)| done.as_ref().is_some_and(Done::is_callback)),
        }
    }

    /// Whether the handle waits for its senders, which the loop cannot see
    /// (no fd, no timer): a live sender while writes flow.
    pub(super) fn holds_loop(&self) -> bool {
        match &self.stream {
            Stream::Open(Flow::Reading | Flow::Writing) => self.feeds.is_live(),
            Stream::Open(Flow::Paused)
            | Stream::ShuttingDown { .. }
            | Stream::Failed(_)
            | Stream::Closed => false,
        }
    }

    /// Whether a step in `mode` reads and writes, or `None` when the
    /// socket failed for good (the step leaves everything as it is).
    pub(super) fn directions(&self, mode: Mode) -> Option<(bool, bool)> {
        let writes = !self.queue.is_empty();
        // Pending `recv()` futures want to hear of a message in any flow.
        let awaited = self.readers.is_waiting();
        match &self.stream {
            Stream::Open(Flow::Reading) => Some((self.read_cb.is_set() || awaited, writes)),
            Stream::Open(Flow::Writing) => Some((awaited, writes)),
            Stream::ShuttingDown { failed: false, .. } => Some((false, writes)),
            Stream::Open(Flow::Paused) => Some((awaited, writes && mode == Mode::Flush)),
            Stream::ShuttingDown { failed: true, .. } | Stream::Failed(_) => None,
            Stream::Closed => Some((false, false)),
        }
    }

    /// Whether the head of the queue may be sent now.
    pub(super) fn may_send(&self, mode: Mode) -> bool {
        match &self.stream {
            Stream::Open(Flow::Reading | Flow::Writing)
            | Stream::ShuttingDown { failed: false, .. } => true,
            Stream::Open(Flow::Paused) => mode == Mode::Flush,
            Stream::ShuttingDown { failed: true, .. } | Stream::Failed(_) | Stream::Closed => false,
        }
    }

    /// Keeps the emptied buffer of a written message as the receive buffer
    /// when there is none, unless it is large: a handler that writes back
    /// what it read then receives into the buffer it wrote from.
    #[inline]
    pub(super) fn keep_buffer(&mut self, buffer: Multipart) {
        debug_assert!(buffer.is_empty(), "a buffer with frames in it");
        if self.rx.capacity() == 0 && buffer.capacity() <= KEPT_BUFFER_FRAMES {
            self.rx = buffer;
        }
    }

    /// What a receive outside the read callback receives into: the first
    /// frames of a message whose rest has not come, else the kept buffer
    /// (not frames lent to a `start_read_frames` callback), if any.
    pub(super) fn receive_buffer(&mut self) -> Multipart {
        if self.partial.is_empty() && self.rx.is_empty() {
            std::mem::take(&mut self.rx)
        } else {
            std::mem::take(&mut self.partial)
        }
    }

    /// Puts back what a receive that found nothing (more) was receiving
    /// into: the first frames of a message, or the empty kept buffer.
    pub(super) fn put_back(&mut self, parts: Multipart) {
        if !parts.is_empty() {
            self.partial = parts;
        } else if self.rx.capacity() == 0 {
            self.rx = parts;
        }
    }

    /// Whether the shutdown under way has sent everything.
    pub(super) fn shutdown_drained(&self) -> bool {
        match &self.stream {
            Stream::ShuttingDown { .. } => self.queue.is_empty(),
            Stream::Open(_) | Stream::Failed(_) | Stream::Closed => false,
        }
    }
}
