//! Pending `recv()` futures of a stream handle, served in the order they
//! were first polled. A future takes its message from the socket itself,
//! inside its own poll, so a message leaves the socket only for a future
//! that completes with it; the handle's step only tells the first one in
//! line when `ZMQ_EVENTS` shows a message.

use std::collections::VecDeque;
use std::task::Waker;

use crate::DEFAULT_READ_BATCH;

pub(super) struct Readers {
    /// Waiting futures, by ticket, first polled first.
    line: VecDeque<(u64, Waker)>,
    next_ticket: u64,
    /// Receives futures may still make directly before the handle's next
    /// turn (the read batch: a task that always finds a message must
    /// still let the loop go round).
    pub(super) budget: usize,
    /// The step saw `ZMQ_EVENTS` show a message and told the first reader,
    /// with no socket call since: a receive that then finds nothing is a
    /// refusal (it waits for the fd), not a reason to look again.
    pub(super) told_readable: bool,
}

impl Default for Readers {
    fn default() -> Self {
        Readers {
            line: VecDeque::new(),
            next_ticket: 0,
            budget: DEFAULT_READ_BATCH,
            told_readable: false,
        }
    }
}

impl Readers {
    /// Whether any future waits.
    pub(super) fn is_waiting(&self) -> bool {
        !self.line.is_empty()
    }

    /// The ticket of a future polled for the first time (joining the
    /// line), or its waker updated.
    pub(super) fn join(&mut self, ticket: &mut Option<u64>, waker: &Waker) -> u64 {
        match *ticket {
            Some(t) => {
                if let Some((_, w)) = self.line.iter_mut().find(|(id, _)| *id == t) {
                    w.clone_from(waker);
                } else {
                    // Served or dropped from the line (a close woke it):
                    // back at the end.
                    self.line.push_back((t, waker.clone()));
                }
                t
            }
            None => {
                let t = self.next_ticket;
                self.next_ticket += 1;
                self.line.push_back((t, waker.clone()));
                *ticket = Some(t);
                t
            }
        }
    }

    /// Whether `ticket` is first in line.
    pub(super) fn is_first(&self, ticket: u64) -> bool {
        self.line.front().is_some_and(|(t, _)| *t == ticket)
    }

    /// Leaves the line (served, or dropped); whether it was first.
    pub(super) fn leave(&mut self, ticket: u64) -> bool {
        if self.is_first(ticket) {
            self.line.pop_front();
            return true;
        }
        self.line.retain(|(t, _)| *t != ticket);
        false
    }

    /// The first reader's waker, to tell it a message may be there.
    pub(super) fn first_waker(&self) -> Option<Waker> {
        self.line.front().map(|(_, w)| w.clone())
    }

    /// Every waiting reader's waker (the handle closed or failed: each
    /// will find out when polled).
    pub(super) fn take_all(&mut self) -> Wakers {
        Wakers(self.line.drain(..).map(|(_, w)| w).collect())
    }
}

/// Wakers woken when dropped: taken out of the state and dropped after
/// the borrow, so that waking (which may run a foreign executor's code)
/// happens with no borrow held.
#[derive(Default)]
pub(crate) struct Wakers(Vec<Waker>);

impl Drop for Wakers {
    fn drop(&mut self) {
        for waker in self.0.drain(..) {
            waker.wake();
        }
    }
}
