//! The channels that feed a stream handle's write queue from other threads
//! (one per `sender()` call), as the loop side sees them.

use std::sync::Arc;

use super::channel::{Channel, Handed};
use super::completion::Done;
use super::write_queue::WriteQueue;
use crate::{Error, Reactor, Socket};

pub(super) struct Feeds<R: Reactor> {
    /// Channels with a sender left (or news not looked at yet).
    open: Vec<Arc<Channel<R>>>,
    /// Channels done with, for the loop to forget (outside the borrow).
    retired: Vec<Arc<Channel<R>>>,
    /// Whether the handle keeps the loop alive for its senders.
    pub(super) holding: bool,
}

impl<R: Reactor> Default for Feeds<R> {
    fn default() -> Self {
        Feeds {
            open: Vec::new(),
            retired: Vec::new(),
            holding: false,
        }
    }
}

impl<R: Reactor> Feeds<R> {
    pub(super) fn add(&mut self, channel: Arc<Channel<R>>) {
        self.open.push(channel);
    }

    /// Whether a sender is left: the handle waits for other threads.
    pub(super) fn is_live(&self) -> bool {
        !self.open.is_empty()
    }

    /// Moves what every channel handed over into `queue`, each message
    /// tagged to release its unit of capacity when done; retires the
    /// channels whose senders are all gone.
    #[inline]
    pub(super) fn take_into<S: Socket>(&mut self, queue: &mut WriteQueue<Done<R, S>>) {
        // Every step asks; most handles have no channel.
        if !self.open.is_empty() {
            self.take_from_open(queue);
        }
    }

    fn take_from_open<S: Socket>(&mut self, queue: &mut WriteQueue<Done<R, S>>) {
        let mut i = 0;
        while let Some(channel) = self.open.get(i) {
            let taken = channel.take(|handed| {
                let done = Some(Done::Channel(channel.clone()));
                match handed {
                    Handed::One(msg) => queue.push(std::iter::once(msg), done),
                    Handed::Many(parts) => queue.push(parts.into_iter(), done),
                }
            });
            if taken.senders {
                i += 1;
            } else {
                self.retired.push(self.open.swap_remove(i));
            }
        }
    }

    /// Gives back the capacity of the writes done in this step.
    #[inline]
    pub(super) fn release_done(&self) {
        for channel in &self.open {
            channel.release_done();
        }
    }

    /// Refuses every channel with `e` (close, a fatal error, shutdown) and
    /// wakes their blocked senders.
    pub(super) fn refuse_all(&mut self, e: Error) {
        for channel in self.open.drain(..) {
            channel.refuse(e);
            self.retired.push(channel);
        }
    }

    /// The channels the loop must forget.
    pub(super) fn take_retired(&mut self) -> Vec<Arc<Channel<R>>> {
        std::mem::take(&mut self.retired)
    }
}
