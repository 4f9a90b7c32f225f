//! What completes a queued write: the user's callback, or, for a message
//! handed over through a channel, one unit of that channel's capacity.

use std::sync::Arc;

use super::channel::Channel;
use super::{StreamHandle, WriteCb};
use crate::{Reactor, Result, Socket};

pub(super) enum Done<R: Reactor, S: Socket> {
    /// `write_with`'s callback.
    Callback(WriteCb<R, S>),
    /// A channel's message: its capacity comes back.
    Channel(Arc<Channel<R>>),
}

impl<R: Reactor, S: Socket> Done<R, S> {
    /// The write is done (taken by libzmq, failed, or cancelled).
    pub(super) fn complete(self, h: &StreamHandle<R, S>, result: Result<()>) {
        match self {
            Done::Callback(cb) => cb(h, result),
            Done::Channel(channel) => channel.release(1),
        }
    }

    /// Whether user code is waiting for it (what keeps a closed handle active).
    pub(super) fn is_callback(&self) -> bool {
        matches!(self, Done::Callback(_))
    }
}
