//! [`MockSocket`], the [`Socket`] the handles drive, its [`MockConfig`], and
//! [`mock_pair`], which makes one with its [`MockPeer`].

use std::cell::RefCell;
use std::rc::Rc;

use super::fd_table;
use super::model::SocketModel;
use super::pattern::MockKind;
use super::peer::MockPeer;
use super::probe::MockProbe;
use crate::{Events, Io, RawFd, Result, Socket};

/// The knobs of a mock socket. Build with struct update syntax:
/// `MockConfig { sndhwm: 2, ..MockConfig::default() }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockConfig {
    /// `ZMQ_SNDHWM` in messages, socket -> peer (0: no limit, as in libzmq).
    pub sndhwm: usize,
    /// `ZMQ_RCVHWM` in messages, peer -> socket (0: no limit): the peer's
    /// [`MockPeer::send`] fails while this many wait in the socket.
    pub rcvhwm: usize,
    /// `send_frame` processes commands on every `send_throttle`-th call
    /// (0: never by count), modelling libzmq's TSC-throttled processing.
    pub send_throttle: u32,
    /// ...and also, on any other call, with this chance in 1000.
    pub send_process_per_mille: u32,
    /// [`MockKind::Router`] only: how many peers it routes to, each with its
    /// own outbound pipe (ids `[0]`, `[1]`, ...).
    pub routes: usize,
    /// Chance in 1000 that a peer action also raises a spurious signal.
    pub spurious_signal_per_mille: u32,
    /// The socket panics when called more than this many times within one
    /// loop iteration (`flush` calls between iterations count toward the
    /// last one): a step that loops without progress fails fast instead of
    /// hanging the test.
    pub max_ops_per_iteration: u64,
    /// How many of the last operations [`MockProbe::ops`] keeps.
    pub op_log_len: usize,
}

impl Default for MockConfig {
    /// libzmq's default HWMs (1000), commands processed on every 8th send
    /// plus 1 in 10 others, no spurious signals, two ROUTER peers, at most
    /// 100,000 operations per loop iteration, the last 64 ops logged.
    fn default() -> Self {
        MockConfig {
            sndhwm: 1000,
            rcvhwm: 1000,
            send_throttle: 8,
            send_process_per_mille: 100,
            routes: 2,
            max_ops_per_iteration: 100_000,
            spurious_signal_per_mille: 0,
            op_log_len: 64,
        }
    }
}

/// A connected mock socket of type `kind` and the peer at the other end of
/// its pipes; `seed` draws its random choices (throttling, spurious signals).
pub fn mock_pair(kind: MockKind, config: MockConfig, seed: u64) -> (MockSocket, MockPeer) {
    let model = Rc::new(RefCell::new(SocketModel::new(kind, config, seed)));
    let fd = model.borrow().fd;
    (
        MockSocket {
            model: model.clone(),
            kind,
            fd,
        },
        MockPeer::new(model),
    )
}

/// The socket end of [`mock_pair`]: a [`Socket`] modelling libzmq's edge
/// signalling adversarially (see the [module docs](super)).
///
/// Dropping it closes its fake fd.
#[derive(Debug)]
pub struct MockSocket {
    model: Rc<RefCell<SocketModel>>,
    kind: MockKind,
    fd: RawFd,
}

impl MockSocket {
    /// Its type.
    pub fn kind(&self) -> MockKind {
        self.kind
    }

    /// An inspector of this socket, valid after the socket moved into a
    /// handle or was dropped.
    pub fn probe(&self) -> MockProbe {
        MockProbe::new(self.model.clone())
    }

    /// The model itself, for white-box tests.
    #[cfg(test)]
    pub(crate) fn with_model<R>(&self, f: impl FnOnce(&mut SocketModel) -> R) -> R {
        f(&mut self.model.borrow_mut())
    }
}

// Every method borrows the model only for its own duration and calls
// nothing outside this module meanwhile.
impl Socket for MockSocket {
    /// The fake fd; `Err(ETERM)` once the socket processed termination.
    fn fd(&self) -> Result<RawFd> {
        self.model.borrow().fd()
    }

    fn events(&self) -> Result<Events> {
        self.model.borrow_mut().events()
    }

    fn send_frame(&self, frame: &mut zmq::Message, more: bool) -> Result<Io<()>> {
        self.model.borrow_mut().send_frame(frame, more)
    }

    fn recv_frame(&self, frame: &mut zmq::Message) -> Result<Io<bool>> {
        self.model.borrow_mut().recv_frame(frame)
    }

    fn is_signalled(&self) -> bool {
        self.model.borrow().mailbox.is_signalled()
    }

    fn can_send(&self) -> bool {
        self.kind.can_send()
    }

    fn can_recv(&self) -> bool {
        self.kind.can_recv()
    }

    fn alternates(&self) -> bool {
        matches!(self.kind, MockKind::Req | MockKind::Rep)
    }
}

impl Drop for MockSocket {
    fn drop(&mut self) {
        fd_table::unregister(self.fd);
        if let Ok(mut model) = self.model.try_borrow_mut() {
            model.socket_dropped = true;
        }
    }
}
