//! A socket handle's watch on `ZMQ_FD`: started exactly while the handle
//! waits for something, so a handle with nothing to do keeps no loop alive.

use crate::{Error, Watch};

pub(crate) struct FdWatch<W: Watch> {
    watch: Option<W>,
    started: bool,
    /// A start libuv refused: the handle reports it from its next turn.
    error: Option<Error>,
}

impl<W: Watch> FdWatch<W> {
    pub(crate) fn new(watch: W) -> Self {
        FdWatch {
            watch: Some(watch),
            started: false,
            error: None,
        }
    }

    /// Starts or stops to match `wanted`. Returns false when a start failed
    /// (the error waits in [`take_error`](Self::take_error)).
    pub(crate) fn set(&mut self, wanted: bool) -> bool {
        if wanted == self.started {
            return true;
        }
        let Some(watch) = self.watch.as_mut() else {
            return true;
        };
        if wanted {
            match watch.start() {
                Ok(()) => self.started = true,
                Err(e) => {
                    self.error = Some(e);
                    return false;
                }
            }
        } else {
            watch.stop();
            self.started = false;
        }
        true
    }

    /// Whether the watch is started.
    pub(crate) fn is_started(&self) -> bool {
        self.started
    }

    pub(crate) fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// The watch, to be dropped (closed) outside any borrow of the handle.
    #[must_use]
    pub(crate) fn close(&mut self) -> Option<W> {
        self.started = false;
        self.watch.take()
    }
}
