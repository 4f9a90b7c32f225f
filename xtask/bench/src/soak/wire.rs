//! The soak workload's messages and sockets: sequence-numbered frames, the
//! in-order round a flow checks them against, and binding/connecting over
//! `tcp://127.0.0.1:*` (port read back) or `inproc://`.

use std::cell::Cell;
use std::error::Error;
use std::ops::Range;

use uzmq::zmq;

use super::tally::Tally;

/// What workload set-up returns: zmq, uzmq and our own errors alike.
pub type SetupResult<T> = Result<T, Box<dyn Error>>;

/// Bytes of each frame: the 8-byte sequence number and some payload, so
/// that a leak per message would show quickly.
const FRAME_LEN: usize = 64;

/// A frame carrying `seq` (little endian) in its first 8 bytes.
pub fn frame(seq: u64) -> Vec<u8> {
    let mut bytes = vec![0x5a; FRAME_LEN];
    bytes[..8].copy_from_slice(&seq.to_le_bytes());
    bytes
}

/// The sequence number a frame made by [`frame`] carries; `None` for a
/// frame of another length.
pub fn seq_of(bytes: &[u8]) -> Option<u64> {
    if bytes.len() != FRAME_LEN {
        return None;
    }
    let head: [u8; 8] = bytes[..8].try_into().ok()?;
    Some(u64::from_le_bytes(head))
}

/// The transports the flows run over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `tcp://127.0.0.1:*`, the port read back after the bind.
    Tcp,
    /// `inproc://`, a name unique to the run.
    Inproc,
}

impl Transport {
    /// `tcp` or `inproc`, for names in messages.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Inproc => "inproc",
        }
    }
}

thread_local! {
    static INPROC_NAMES: Cell<u64> = const { Cell::new(0) };
}

/// A socket of `kind` with `ZMQ_LINGER` 0: a soak closes sockets all the
/// time, and none of them may keep the context (or an fd) waiting.
pub fn socket(ctx: &zmq::Context, kind: zmq::SocketType) -> SetupResult<zmq::Socket> {
    let socket = ctx.socket(kind)?;
    socket.set_linger(0)?;
    Ok(socket)
}

/// Binds `socket` over `transport`; returns the endpoint to connect to (for
/// tcp the one libzmq picked, read back with `ZMQ_LAST_ENDPOINT`).
pub fn bind(socket: &zmq::Socket, transport: Transport, tag: &str) -> SetupResult<String> {
    match transport {
        Transport::Tcp => {
            socket.bind("tcp://127.0.0.1:*")?;
            socket
                .get_last_endpoint()?
                .map_err(|_| "ZMQ_LAST_ENDPOINT is not UTF-8".into())
        }
        Transport::Inproc => {
            let n = INPROC_NAMES.with(|names| {
                names.set(names.get() + 1);
                names.get()
            });
            let endpoint = format!("inproc://soak-{tag}-{n}");
            socket.bind(&endpoint)?;
            Ok(endpoint)
        }
    }
}

/// One flow's exact count check: messages are numbered from 0 without gap,
/// sent in rounds, and must arrive in order, each once, none beyond the
/// round. A new round starts only when the last one fully arrived, so what
/// is in flight stays bounded.
#[derive(Debug, Default)]
pub struct Rounds {
    next_send: u64,
    next_recv: u64,
    end: u64,
}

impl Rounds {
    /// Everything sent so far has arrived.
    pub fn idle(&self) -> bool {
        self.next_recv == self.end
    }

    /// Starts a round of `n` messages when idle; returns the sequence
    /// numbers to send (empty when the last round is still in flight).
    pub fn begin(&mut self, n: u64) -> Range<u64> {
        if !self.idle() {
            return 0..0;
        }
        self.end += n;
        self.next_send..self.end
    }

    /// The next sequence number of the round not yet sent, if any.
    pub fn to_send(&self) -> Option<u64> {
        (self.next_send < self.end).then_some(self.next_send)
    }

    /// Records that every number up to `seq` was sent.
    pub fn sent(&mut self, seq: u64) {
        self.next_send = self.next_send.max(seq + 1);
    }

    /// Checks a received frame against the round; a failure goes to
    /// `tally` under `flow`'s name, and the count resynchronises on it.
    pub fn received(&mut self, bytes: &[u8], tally: &Tally, flow: &str) {
        tally.message();
        let Some(seq) = seq_of(bytes) else {
            tally.fail(format!("{flow}: a frame of {} bytes", bytes.len()));
            return;
        };
        if seq != self.next_recv {
            tally.fail(format!(
                "{flow}: got message {seq}, expected {}",
                self.next_recv
            ));
        }
        if seq >= self.end {
            tally.fail(format!(
                "{flow}: message {seq} is beyond the round (sent {})",
                self.end
            ));
        }
        self.next_recv = seq + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_number() {
        assert_eq!(seq_of(&frame(7)), Some(7));
        assert_eq!(seq_of(&frame(u64::MAX)), Some(u64::MAX));
        assert_eq!(seq_of(b"short"), None);
    }

    #[test]
    fn rounds_check_order_and_bounds() {
        let tally = Tally::default();
        let mut r = Rounds::default();
        assert_eq!(r.begin(3), 0..3);
        assert_eq!(r.begin(3), 0..0, "a round in flight blocks the next");
        r.sent(2);
        assert_eq!(r.to_send(), None);
        for seq in 0..3 {
            r.received(&frame(seq), &tally, "t");
        }
        assert!(r.idle());
        assert_eq!(tally.failure_count(), 0);
        assert_eq!(r.begin(2), 3..5);
        r.received(&frame(4), &tally, "t");
        assert_eq!(tally.failure_count(), 1, "a gap is a failure");
        r.received(&frame(9), &tally, "t");
        assert_eq!(tally.failure_count(), 3, "a gap beyond the round is two");
        assert_eq!(tally.messages(), 5);
    }
}
