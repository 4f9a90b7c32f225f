//! What every part of the soak workload reports into: messages received,
//! handles churned, and the count checks that failed.

use std::cell::{Cell, RefCell};
use std::fmt::Display;

/// At most this many failure messages are kept (the rest are only counted),
/// so that a check failing on every message cannot grow memory itself.
const KEPT_FAILURES: usize = 20;

/// The shared counters of one soak run (one loop, one thread).
#[derive(Debug, Default)]
pub struct Tally {
    messages: Cell<u64>,
    churned: Cell<u64>,
    failures: RefCell<Vec<String>>,
    failure_count: Cell<u64>,
}

impl Tally {
    /// One message received by a socket of the workload.
    pub fn message(&self) {
        self.messages.set(self.messages.get() + 1);
    }

    /// One churned handle whose close completed (its close callback ran).
    pub fn churned(&self) {
        self.churned.set(self.churned.get() + 1);
    }

    /// A count check failed: `what` says which and how.
    pub fn fail(&self, what: impl Display) {
        self.failure_count.set(self.failure_count.get() + 1);
        let mut failures = self.failures.borrow_mut();
        if failures.len() < KEPT_FAILURES {
            failures.push(what.to_string());
        }
    }

    /// Messages received so far.
    pub fn messages(&self) -> u64 {
        self.messages.get()
    }

    /// Churned handles closed so far.
    pub fn churned_count(&self) -> u64 {
        self.churned.get()
    }

    /// How many checks failed (all of them, also those not kept).
    pub fn failure_count(&self) -> u64 {
        self.failure_count.get()
    }

    /// The first failure messages, in the order they happened.
    pub fn failures(&self) -> Vec<String> {
        self.failures.borrow().clone()
    }
}
