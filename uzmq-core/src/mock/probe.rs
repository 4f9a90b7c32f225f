//! [`MockProbe`]: read-only inspection of a mock socket for property tests,
//! usable while the socket itself is owned by a handle.

use std::cell::RefCell;
use std::rc::Rc;

use super::model::SocketModel;
use super::pattern::MockKind;
use crate::{Events, RawFd, Result};

/// An operation on the [`crate::Socket`] side, as logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `events()` (a `ZMQ_EVENTS` read).
    Events,
    /// `send_frame()`, whatever its outcome.
    Send,
    /// `recv_frame()`, whatever its outcome.
    Recv,
}

/// How many operations of each kind the socket has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// `events()` calls.
    pub events: u64,
    /// `send_frame()` calls.
    pub sends: u64,
    /// `recv_frame()` calls.
    pub recvs: u64,
}

/// A cloneable, read-only view of a mock socket. No method has a side
/// effect on the model (none consumes a signal or processes a command).
#[derive(Debug, Clone)]
pub struct MockProbe {
    model: Rc<RefCell<SocketModel>>,
}

impl MockProbe {
    pub(crate) fn new(model: Rc<RefCell<SocketModel>>) -> Self {
        MockProbe { model }
    }

    /// The socket's type.
    pub fn kind(&self) -> MockKind {
        self.model.borrow().kind
    }

    /// The socket's fake fd number (closed once the socket is dropped).
    pub fn fd(&self) -> RawFd {
        self.model.borrow().fd
    }

    /// Operation counts so far.
    pub fn counts(&self) -> OpCounts {
        self.model.borrow().counts
    }

    /// The last operations, oldest first (at most `op_log_len`).
    pub fn ops(&self) -> Vec<Op> {
        self.model.borrow().log.iter().copied().collect()
    }

    /// The last operation, if any.
    pub fn last_op(&self) -> Option<Op> {
        self.model.borrow().log.back().copied()
    }

    /// What `events()` would return now, computed without its side effects:
    /// as if pending commands were processed. For "nothing missed" checks: a
    /// handle asleep while this shows what it asked for has missed work.
    pub fn truly_events(&self) -> Result<Events> {
        self.model.borrow().truly_events()
    }

    /// Whether `events()` would show READABLE now (false on error).
    pub fn truly_readable(&self) -> bool {
        self.truly_events()
            .is_ok_and(|e| e.contains(Events::READABLE))
    }

    /// Whether `events()` would show WRITABLE now (false on error).
    pub fn truly_writable(&self) -> bool {
        self.truly_events()
            .is_ok_and(|e| e.contains(Events::WRITABLE))
    }

    /// Whether the socket's fd is readable now.
    pub fn is_signalled(&self) -> bool {
        self.model.borrow().mailbox.is_signalled()
    }

    /// See [`super::MockPeer::pending_inbound`].
    pub fn pending_inbound(&self) -> usize {
        self.model.borrow().inbound.pending()
    }

    /// See [`super::MockPeer::pending_outbound`].
    pub fn pending_outbound(&self) -> usize {
        self.model
            .borrow()
            .outbound
            .iter()
            .map(|p| p.pending())
            .sum()
    }

    /// Whether the socket has processed its termination (its operations
    /// fail with ETERM).
    pub fn is_terminated(&self) -> bool {
        self.model.borrow().terminated
    }

    /// Whether the [`super::MockSocket`] was dropped (released).
    pub fn is_socket_dropped(&self) -> bool {
        self.model.borrow().socket_dropped
    }
}
