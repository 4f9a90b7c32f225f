//! Reaching a loop from other threads: [`Remote`] posts functions to it,
//! through one door (`door.rs`) that the stream handle's channels share.

mod door;

use std::fmt;
use std::sync::Arc;

pub(crate) use door::{Door, Work};

use crate::{Error, EventLoop, Reactor, Result};

/// A door into a loop for other threads: `Clone + Send + Sync`.
///
/// Made by [`EventLoop::remote`]. What one thread posts runs in the order
/// it posted, on the loop's thread, from the loop's check phase; a post
/// wakes a sleeping loop. A `Remote` keeps nothing alive: once the loop is
/// gone, posts return `Err(Closed)`.
pub struct Remote<R: Reactor> {
    door: Arc<Door<R>>,
}

impl<R: Reactor> Remote<R> {
    pub(crate) fn new(door: Arc<Door<R>>) -> Remote<R> {
        Remote { door }
    }

    /// Runs `f` once, on the loop's thread, from the loop (never inside
    /// this call). `Err(Closed)` once the loop is gone; `f` is then
    /// dropped uncalled, before this returns.
    pub fn post(&self, f: impl FnOnce(&EventLoop<R>) + Send + 'static) -> Result<()> {
        self.door.push(Work::Call(Box::new(f))).map_err(|refused| {
            drop(refused);
            Error::Closed
        })
    }

    /// Whether the loop is gone.
    pub fn is_closed(&self) -> bool {
        self.door.is_closed()
    }
}

impl<R: Reactor> Clone for Remote<R> {
    fn clone(&self) -> Self {
        Remote {
            door: self.door.clone(),
        }
    }
}

impl<R: Reactor> fmt::Debug for Remote<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("closed", &self.is_closed())
            .finish()
    }
}
