//! Socket types and the REQ/REP turn-taking that libzmq enforces with EFSM.

/// The socket type a [`super::MockSocket`] models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MockKind {
    /// `ZMQ_PAIR`: sends and receives freely.
    Pair,
    /// `ZMQ_DEALER`: same as `Pair` in this one-peer model.
    Dealer,
    /// `ZMQ_PUSH`: send only.
    Push,
    /// `ZMQ_PULL`: receive only.
    Pull,
    /// `ZMQ_PUB`: send only; at the HWM messages are dropped silently, so it
    /// is always writable and never blocks.
    Pub,
    /// `ZMQ_SUB`: receive only (subscribed to everything).
    Sub,
    /// `ZMQ_ROUTER` with `ZMQ_ROUTER_MANDATORY`: one outbound pipe per peer
    /// ([`super::MockConfig::routes`], ids `[0]`, `[1]`, ...). A message's
    /// first frame names its peer and is not delivered; an unknown peer is
    /// EHOSTUNREACH. POLLOUT shows while *some* pipe has room, so a send to
    /// a peer at its HWM fails with EAGAIN although POLLOUT is set: whether
    /// a message can go depends on the message. Receives come from the one
    /// inbound pipe, frames as the peer delivered them.
    Router,
    /// `ZMQ_REQ`: send a request, then receive its reply, in turn.
    Req,
    /// `ZMQ_REP`: receive a request, then send its reply, in turn.
    Rep,
}

impl MockKind {
    /// Whether the type can send at all (false for PULL and SUB).
    pub fn can_send(self) -> bool {
        !matches!(self, MockKind::Pull | MockKind::Sub)
    }

    /// Whether the type can receive at all (false for PUSH and PUB).
    pub fn can_recv(self) -> bool {
        !matches!(self, MockKind::Push | MockKind::Pub)
    }
}

/// Whose turn it is: libzmq's `req_t::_receiving_reply` and
/// `rep_t::_sending_reply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Not a REQ or REP: no turns.
    Free,
    /// REQ that may send a request.
    ReqSending,
    /// REQ awaiting the reply to its request.
    ReqReceiving,
    /// REP that may receive a request.
    RepReceiving,
    /// REP that owes a reply.
    RepSending,
}

/// A whole message went through the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completed {
    /// Its last frame was sent.
    Sent,
    /// Its last frame was received.
    Received,
}

impl Turn {
    pub(crate) fn initial(kind: MockKind) -> Self {
        match kind {
            MockKind::Req => Turn::ReqSending,
            MockKind::Rep => Turn::RepReceiving,
            MockKind::Pair
            | MockKind::Dealer
            | MockKind::Router
            | MockKind::Push
            | MockKind::Pull
            | MockKind::Pub
            | MockKind::Sub => Turn::Free,
        }
    }

    /// Whether the pattern lets a frame be sent now (else libzmq says EFSM
    /// and `ZMQ_EVENTS` hides POLLOUT: `req_t::xhas_out`, `rep_t::xhas_out`).
    /// Turns change only on a message's last frame, so frames after the
    /// first are always allowed.
    pub(crate) fn may_send(self) -> bool {
        matches!(self, Turn::Free | Turn::ReqSending | Turn::RepSending)
    }

    /// Whether the pattern lets a frame be received now (else EFSM, and no
    /// POLLIN: `req_t::xhas_in`, `rep_t::xhas_in`).
    pub(crate) fn may_recv(self) -> bool {
        matches!(self, Turn::Free | Turn::ReqReceiving | Turn::RepReceiving)
    }

    /// The transition on a completed message.
    pub(crate) fn on(self, done: Completed) -> Self {
        match (self, done) {
            (Turn::ReqSending, Completed::Sent) => Turn::ReqReceiving,
            (Turn::ReqReceiving, Completed::Received) => Turn::ReqSending,
            (Turn::RepReceiving, Completed::Received) => Turn::RepSending,
            (Turn::RepSending, Completed::Sent) => Turn::RepReceiving,
            // Free has no turns; the other pairs are refused before any
            // frame moves (may_send/may_recv), so they leave the turn as is.
            (Turn::Free, _)
            | (Turn::ReqSending, Completed::Received)
            | (Turn::ReqReceiving, Completed::Sent)
            | (Turn::RepReceiving, Completed::Sent)
            | (Turn::RepSending, Completed::Received) => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn req_and_rep_alternate() {
        let mut req = Turn::initial(MockKind::Req);
        assert!(req.may_send() && !req.may_recv());
        req = req.on(Completed::Sent);
        assert!(!req.may_send() && req.may_recv());
        req = req.on(Completed::Received);
        assert!(req.may_send());

        let mut rep = Turn::initial(MockKind::Rep);
        assert!(!rep.may_send() && rep.may_recv());
        rep = rep.on(Completed::Received);
        assert!(rep.may_send() && !rep.may_recv());
        rep = rep.on(Completed::Sent);
        assert!(rep.may_recv());
    }

    #[test]
    fn kinds_know_their_directions() {
        assert!(MockKind::Push.can_send() && !MockKind::Push.can_recv());
        assert!(!MockKind::Sub.can_send() && MockKind::Sub.can_recv());
        assert!(MockKind::Pair.can_send() && MockKind::Pair.can_recv());
    }
}
