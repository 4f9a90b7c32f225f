//! A channel from other threads into one stream handle's write queue, and
//! [`SenderHandle`], its sending end.
//!
//! Capacity counts messages handed over and not yet taken by libzmq (or
//! failed, or dropped): a message leaves the count only when its write
//! completes, so producers never run more than `capacity` messages ahead
//! of libzmq. The loop takes whatever was handed over into the write queue
//! when the handle's turn runs, tagged so that its completion releases one
//! unit of capacity.
//!
//! Memory ordering and lifetime: the channel's state is behind its `Mutex`
//! (producers push, the loop takes and releases under it); blocked senders
//! wait on the `Condvar` of that mutex, so a release or a refusal made
//! under the lock wakes every waiter that could go on (no wake-up lost
//! between a sender's check and its wait). The channel lives in an `Arc`
//! held by every sender, by the handle while it is open, and by each of its
//! messages in the write queue.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::remote::{Door, Work};
use crate::{Error, Multipart, Reactor, Result};

/// A message handed over: one frame (most of them, with no `Vec` to
/// allocate on one thread and free on another) or several.
pub(crate) enum Handed {
    One(zmq::Message),
    Many(Multipart),
}

struct State {
    /// Handed over, not yet taken into the write queue.
    handed: VecDeque<Handed>,
    /// Handed over and not yet taken by libzmq, failed or dropped.
    outstanding: usize,
    capacity: usize,
    /// Set once: every call fails with it from then on.
    refusal: Option<Error>,
    /// Whether any `SenderHandle` is left.
    senders: bool,
    /// The loop has been told to look and has not looked yet.
    poked: bool,
    /// Senders blocked for capacity.
    waiting: usize,
}

/// What the loop found when it looked at a channel.
pub(crate) struct Taken {
    /// Whether a sender is left.
    pub(crate) senders: bool,
}

/// One channel into one handle.
pub(crate) struct Channel<R: Reactor> {
    st: Mutex<State>,
    space: Condvar,
    door: Arc<Door<R>>,
    /// Writes of this channel completed since the loop last released their
    /// capacity: counted on the loop's thread only, and released in one go
    /// at the end of the handle's step (one lock, one wake-up per batch).
    done: AtomicUsize,
}

impl<R: Reactor> Channel<R> {
    pub(crate) fn new(capacity: usize, door: Arc<Door<R>>) -> Arc<Channel<R>> {
        Arc::new(Channel {
            st: Mutex::new(State {
                handed: VecDeque::new(),
                outstanding: 0,
                capacity,
                refusal: None,
                senders: true,
                poked: false,
                waiting: 0,
            }),
            space: Condvar::new(),
            door,
            done: AtomicUsize::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics with the lock held; the state stays consistent anyway.
        self.st.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `parts` over; with `block`, waits for capacity.
    fn push(self: &Arc<Self>, parts: Handed, block: bool) -> Result<()> {
        let mut st = self.lock();
        loop {
            if let Some(e) = st.refusal {
                return Err(e);
            }
            if st.outstanding < st.capacity {
                break;
            }
            if !block {
                return Err(Error::QueueFull);
            }
            st.waiting += 1;
            st = self.space.wait(st).unwrap_or_else(PoisonError::into_inner);
            st.waiting -= 1;
        }
        st.handed.push_back(parts);
        st.outstanding += 1;
        let poke = !std::mem::replace(&mut st.poked, true);
        drop(st);
        if poke {
            self.poke();
        }
        Ok(())
    }

    /// Tells the loop to look at this channel. When the loop is gone there
    /// is nobody to tell: the handle's end refuses the channel then.
    fn poke(self: &Arc<Self>) {
        if let Err(refused) = self.door.push(Work::Channel(self.clone())) {
            drop(refused);
        }
    }

    /// The last sender is gone: the loop must know (it no longer waits).
    fn senders_gone(self: &Arc<Self>) {
        let poke = {
            let mut st = self.lock();
            st.senders = false;
            st.refusal.is_none() && !std::mem::replace(&mut st.poked, true)
        };
        if poke {
            self.poke();
        }
    }

    /// The loop's look: hands what was handed over to `into`, in order.
    pub(crate) fn take(&self, mut into: impl FnMut(Handed)) -> Taken {
        let (handed, senders) = {
            let mut st = self.lock();
            st.poked = false;
            (std::mem::take(&mut st.handed), st.senders)
        };
        // Outside the lock: producers go on meanwhile.
        handed.into_iter().for_each(&mut into);
        Taken { senders }
    }

    /// One of this channel's writes is done (taken, failed or dropped);
    /// its capacity comes back at [`release_done`](Self::release_done).
    pub(crate) fn note_done(&self) {
        // Only the loop's thread counts and releases: no ordering needed
        // beyond the channel lock taken by the release.
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Releases the capacity of the writes done since the last call.
    pub(crate) fn release_done(&self) {
        let n = self.done.swap(0, Ordering::Relaxed);
        if n > 0 {
            self.release(n);
        }
    }

    /// `n` messages left libzmq's way (taken, failed or dropped).
    fn release(&self, n: usize) {
        let mut st = self.lock();
        st.outstanding = st.outstanding.saturating_sub(n);
        if st.waiting > 0 {
            self.space.notify_all();
        }
    }

    /// Refuses every call from now on with `e` (the first refusal stays),
    /// dropping what was handed over and not taken, and wakes every blocked
    /// sender.
    pub(crate) fn refuse(&self, e: Error) {
        let dropped = {
            let mut st = self.lock();
            st.refusal.get_or_insert(e);
            st.outstanding = 0;
            std::mem::take(&mut st.handed)
        };
        self.space.notify_all();
        drop(dropped);
    }

    fn refusal(&self) -> Option<Error> {
        self.lock().refusal
    }
}

/// The sending end of a channel into a stream handle's write queue:
/// `Clone + Send + Sync`, its clones share the channel.
pub struct SenderHandle<R: Reactor> {
    end: Arc<SenderEnd<R>>,
}

/// Shared by a sender's clones; its drop is the last sender going.
struct SenderEnd<R: Reactor> {
    channel: Arc<Channel<R>>,
}

impl<R: Reactor> Drop for SenderEnd<R> {
    fn drop(&mut self) {
        self.channel.senders_gone();
    }
}

impl<R: Reactor> SenderHandle<R> {
    pub(crate) fn new(channel: Arc<Channel<R>>) -> SenderHandle<R> {
        SenderHandle {
            end: Arc::new(SenderEnd { channel }),
        }
    }

    /// Hands a message over, blocking while the channel is at capacity.
    /// `Err(Closed)` once the handle closed (or its loop went), the error
    /// that stopped it after a fatal one; zero parts is `Err(EINVAL)`.
    pub fn send(&self, parts: Multipart) -> Result<()> {
        check_parts(&parts)?;
        self.end.channel.push(Handed::Many(parts), true)
    }

    /// [`send`](Self::send) of a one-frame message.
    pub fn send_one(&self, msg: zmq::Message) -> Result<()> {
        self.end.channel.push(Handed::One(msg), true)
    }

    /// [`try_send`](Self::try_send) of a one-frame message.
    pub fn try_send_one(&self, msg: zmq::Message) -> Result<()> {
        self.end.channel.push(Handed::One(msg), false)
    }

    /// As [`send`](Self::send), without blocking: `Err(QueueFull)` at
    /// capacity (the message is dropped).
    pub fn try_send(&self, parts: Multipart) -> Result<()> {
        check_parts(&parts)?;
        self.end.channel.push(Handed::Many(parts), false)
    }

    /// Whether the handle closed (or its loop went, or it failed for good).
    pub fn is_closed(&self) -> bool {
        self.end.channel.refusal().is_some()
    }
}

fn check_parts(parts: &Multipart) -> Result<()> {
    if parts.is_empty() {
        Err(Error::Zmq(zmq::Error::EINVAL))
    } else {
        Ok(())
    }
}

impl<R: Reactor> Clone for SenderHandle<R> {
    fn clone(&self) -> Self {
        SenderHandle {
            end: self.end.clone(),
        }
    }
}

impl<R: Reactor> fmt::Debug for SenderHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.end.channel.lock();
        f.debug_struct("Sender")
            .field("outstanding", &st.outstanding)
            .field("capacity", &st.capacity)
            .field("blocked", &st.waiting)
            .field("closed", &st.refusal.is_some())
            .finish()
    }
}
