//! libzmq 4.3's socket monitor events, parsed from the two frames
//! `zmq_socket_monitor` sends: a pure function, total over any input.

/// What happened on a monitored socket (`ZMQ_EVENT_*`).
#[non_exhaustive]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum EventKind {
    /// A connection to a peer is up (`value`: its fd).
    Connected,
    /// A connect is under way (`value`: the errno, `EINPROGRESS`).
    ConnectDelayed,
    /// A reconnect is scheduled (`value`: the interval in ms).
    ConnectRetried,
    /// The socket listens on the endpoint (`value`: the fd).
    Listening,
    /// A bind failed (`value`: the errno).
    BindFailed,
    /// A connection was accepted (`value`: its fd).
    Accepted,
    /// Accepting a connection failed (`value`: the errno).
    AcceptFailed,
    /// A connection was closed (`value`: its fd).
    Closed,
    /// Closing a connection failed (`value`: the errno).
    CloseFailed,
    /// A peer went away (`value`: the fd).
    Disconnected,
    /// Monitoring stopped: always the last event; the monitor closes.
    MonitorStopped,
    /// A handshake failed with no detail (`value`: the errno).
    HandshakeFailedNoDetail,
    /// A handshake, security included, succeeded.
    HandshakeSucceeded,
    /// A handshake failed on the protocol (`value`: the ZMTP error code).
    HandshakeFailedProtocol,
    /// Authentication refused the peer (`value`: the ZAP status code, such
    /// as 400).
    HandshakeFailedAuth,
    /// An event number this version does not know, or a malformed event
    /// message (then the number read, or 0 when there was none).
    Unknown(u16),
}

impl EventKind {
    /// The kind of libzmq event number `n` (`ZMQ_EVENT_*`, one bit each).
    pub fn from_number(n: u16) -> EventKind {
        match n {
            0x0001 => EventKind::Connected,
            0x0002 => EventKind::ConnectDelayed,
            0x0004 => EventKind::ConnectRetried,
            0x0008 => EventKind::Listening,
            0x0010 => EventKind::BindFailed,
            0x0020 => EventKind::Accepted,
            0x0040 => EventKind::AcceptFailed,
            0x0080 => EventKind::Closed,
            0x0100 => EventKind::CloseFailed,
            0x0200 => EventKind::Disconnected,
            0x0400 => EventKind::MonitorStopped,
            0x0800 => EventKind::HandshakeFailedNoDetail,
            0x1000 => EventKind::HandshakeSucceeded,
            0x2000 => EventKind::HandshakeFailedProtocol,
            0x4000 => EventKind::HandshakeFailedAuth,
            other => EventKind::Unknown(other),
        }
    }
}

/// One event of a monitored socket.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SocketEvent {
    /// What happened.
    pub kind: EventKind,
    /// What libzmq attaches: an fd, an errno, a retry interval in ms, a
    /// ZMTP error code or a ZAP status code, depending on `kind`.
    pub value: u32,
    /// The endpoint it concerns (empty for `MonitorStopped`); bytes that
    /// are not UTF-8 are replaced.
    pub endpoint: String,
}

impl SocketEvent {
    /// Parses one monitor message: a 6-byte frame (event number `u16`,
    /// value `u32`, in the host's byte order as libzmq copies them) and the
    /// endpoint. Anything else, in number or size of frames, is
    /// `EventKind::Unknown` (with the number when the first frame has at
    /// least two bytes, else 0) and value 0; never a panic.
    pub fn parse<F: AsRef<[u8]>>(frames: &[F]) -> SocketEvent {
        let endpoint = frames
            .get(1)
            .map(|f| String::from_utf8_lossy(f.as_ref()).into_owned())
            .unwrap_or_default();
        let head = frames.first().map(AsRef::as_ref).unwrap_or_default();
        let number = head
            .get(..2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
            .unwrap_or(0);
        let well_formed = frames.len() == 2 && head.len() == 6;
        if !well_formed {
            return SocketEvent {
                kind: EventKind::Unknown(number),
                value: 0,
                endpoint,
            };
        }
        SocketEvent {
            kind: EventKind::from_number(number),
            value: u32::from_ne_bytes([head[2], head[3], head[4], head[5]]),
            endpoint,
        }
    }

    /// An event as libzmq would send it, for tests and for backends that
    /// make their own: the two frames [`parse`](Self::parse) reads.
    pub fn frames(number: u16, value: u32, endpoint: &str) -> [Vec<u8>; 2] {
        let mut head = Vec::with_capacity(6);
        head.extend_from_slice(&number.to_ne_bytes());
        head.extend_from_slice(&value.to_ne_bytes());
        [head, endpoint.as_bytes().to_vec()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_event_parses() {
        let ev = SocketEvent::parse(&SocketEvent::frames(0x4000, 400, "tcp://127.0.0.1:5"));
        assert_eq!(ev.kind, EventKind::HandshakeFailedAuth);
        assert_eq!(ev.value, 400);
        assert_eq!(ev.endpoint, "tcp://127.0.0.1:5");
    }

    #[test]
    fn malformed_events_are_unknown() {
        let none: [&[u8]; 0] = [];
        assert_eq!(SocketEvent::parse(&none).kind, EventKind::Unknown(0));
        let short: [&[u8]; 2] = [&[1], b"x"];
        assert_eq!(SocketEvent::parse(&short).kind, EventKind::Unknown(0));
        let [head, ep] = SocketEvent::frames(0x0001, 7, "e");
        let three = [head.clone(), ep.clone(), Vec::new()];
        assert_eq!(SocketEvent::parse(&three).kind, EventKind::Unknown(1));
        assert_eq!(SocketEvent::parse(&[head]).kind, EventKind::Unknown(1));
        let odd = SocketEvent::frames(0x0003, 7, "e");
        assert_eq!(SocketEvent::parse(&odd).kind, EventKind::Unknown(3));
    }
}
