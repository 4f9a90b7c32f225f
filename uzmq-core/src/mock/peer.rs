//! [`MockPeer`]: the test's end of a mock socket's pipes (the remote socket
//! and the context), acting only through the pipes and the mailbox.

use std::cell::RefCell;
use std::rc::Rc;

use super::model::SocketModel;
use super::probe::MockProbe;

/// The other end of a [`super::MockSocket`]; see [`super::mock_pair`].
///
/// It does not enforce REQ/REP turns: playing the REP of a REQ socket (or
/// the other way round) is the test's job. A clone is the same peer (to
/// drive it from loop callbacks); dropping it changes nothing.
#[derive(Debug, Clone)]
pub struct MockPeer {
    model: Rc<RefCell<SocketModel>>,
}

impl MockPeer {
    pub(crate) fn new(model: Rc<RefCell<SocketModel>>) -> Self {
        MockPeer { model }
    }

    /// Delivers a whole message (one frame per part) into the socket's
    /// inbound pipe; `false`, taking nothing, while the pipe holds RCVHWM
    /// messages. If the socket's reader was asleep (it last found the pipe
    /// empty), an `activate_read` command goes to its mailbox; otherwise the
    /// message arrives silently, with no fd edge.
    ///
    /// # Panics
    ///
    /// With no part, or when the socket type cannot receive (PUSH, PUB).
    pub fn send(&self, parts: &[&[u8]]) -> bool {
        self.model.borrow_mut().peer_send(parts)
    }

    /// Reads the next whole message the socket sent; every low-water-mark
    /// reads (half the SNDHWM) this sends `activate_write` to the socket.
    /// For a ROUTER, this is the peer with id `[0]`.
    pub fn recv(&self) -> Option<Vec<Vec<u8>>> {
        self.recv_from(0)
    }

    /// As [`recv`](Self::recv), as the ROUTER's peer with id `[pipe]`
    /// (`None` for a pipe the socket does not have).
    pub fn recv_from(&self, pipe: usize) -> Option<Vec<Vec<u8>>> {
        self.model.borrow_mut().peer_recv(pipe)
    }

    /// Messages delivered and not fully received by the socket yet, visible
    /// to it or not (one partly received counts).
    pub fn pending_inbound(&self) -> usize {
        self.model.borrow().inbound.pending()
    }

    /// Whole messages the socket sent that this peer has not read (for a
    /// ROUTER, all its peers together).
    pub fn pending_outbound(&self) -> usize {
        self.model
            .borrow()
            .outbound
            .iter()
            .map(|p| p.pending())
            .sum()
    }

    /// Terminates the socket's context: a `Term` command goes to the
    /// mailbox. The socket fails with ETERM from the first operation that
    /// processes it on (until then it does not know).
    pub fn terminate(&self) {
        self.model.borrow_mut().peer_terminate();
    }

    /// Raises the socket's fd signal with no command behind it: readable
    /// with nothing new in `ZMQ_EVENTS`.
    pub fn spurious_signal(&self) {
        self.model.borrow_mut().mailbox.raise_spurious();
    }

    /// Whether the socket's fd is readable now.
    pub fn is_signalled(&self) -> bool {
        self.model.borrow().mailbox.is_signalled()
    }

    /// An inspector of the socket.
    pub fn probe(&self) -> MockProbe {
        MockProbe::new(self.model.clone())
    }
}
