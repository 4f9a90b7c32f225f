//! A libzmq context that holds more sockets than libzmq's default 1,023,
//! for a process with thousands of handles on its loops: the `zmq` crate
//! has no setter for `ZMQ_MAX_SOCKETS`.

use crate::raw::RawContext;

/// A libzmq context allowing up to `max_sockets` sockets at once.
///
/// Its sockets are ordinary `zmq::Socket`s, for [`ZmqSocket::new`] and
/// uzmq's handles, but unlike those of a `zmq::Context` they do not keep
/// the context alive. Dropping the context terminates it as
/// `zmq_ctx_term` does: the drop returns once every socket made from it
/// is closed, so close or drop its sockets first (on the thread that
/// drops the context, a socket still open means the drop waits for ever).
///
/// Each socket holds a file descriptor, so thousands of them also need
/// the process's open-file limit (`RLIMIT_NOFILE`) raised to match.
///
/// ```
/// # use uzmq_zmq::LargeContext;
/// let ctx = LargeContext::new(2)?;
/// let pull = ctx.socket(zmq::PULL)?;
/// let push = ctx.socket(zmq::PUSH)?;
/// // The limit holds: a third socket is refused.
/// assert_eq!(ctx.socket(zmq::PAIR).err(), Some(zmq::Error::EMFILE));
/// drop((pull, push));
/// # Ok::<(), zmq::Error>(())
/// ```
///
/// [`ZmqSocket::new`]: crate::ZmqSocket::new
pub struct LargeContext {
    raw: RawContext,
}

impl LargeContext {
    /// A new context allowing `max_sockets` sockets; `EINVAL` for 0 or for
    /// more than libzmq's `ZMQ_SOCKET_LIMIT` (65,535 on Linux).
    pub fn new(max_sockets: usize) -> Result<Self, zmq::Error> {
        let raw = RawContext::new()?;
        // libzmq itself takes any positive int, but sizes a table of
        // slots by it (plus a few) in an int: near i32::MAX that overflows
        // and its C++ exception aborts the process. Its own ceiling,
        // ZMQ_SOCKET_LIMIT, is the documented range.
        let ceiling = raw.get(zmq_sys::ZMQ_SOCKET_LIMIT)?;
        let limit = i32::try_from(max_sockets)
            .ok()
            .filter(|&n| n >= 1 && n <= ceiling)
            .ok_or(zmq::Error::EINVAL)?;
        raw.set(zmq_sys::ZMQ_MAX_SOCKETS, limit)?;
        Ok(LargeContext { raw })
    }

    /// A new socket of type `kind`; `EMFILE` once `max_sockets` of them
    /// are open.
    pub fn socket(&self, kind: zmq::SocketType) -> Result<zmq::Socket, zmq::Error> {
        self.raw.socket(kind)
    }
}

impl std::fmt::Debug for LargeContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LargeContext").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [zmq::SocketType; 12] = [
        zmq::PAIR,
        zmq::PUB,
        zmq::SUB,
        zmq::REQ,
        zmq::REP,
        zmq::DEALER,
        zmq::ROUTER,
        zmq::PULL,
        zmq::PUSH,
        zmq::XPUB,
        zmq::XSUB,
        zmq::STREAM,
    ];

    #[test]
    fn every_socket_type_is_made_as_asked() {
        let ctx = LargeContext::new(KINDS.len()).unwrap();
        let sockets: Vec<zmq::Socket> = KINDS.iter().map(|&k| ctx.socket(k).unwrap()).collect();
        for (socket, kind) in sockets.iter().zip(KINDS) {
            assert_eq!(socket.get_socket_type().unwrap(), kind);
        }
    }

    #[test]
    fn the_limit_is_the_one_set() {
        let ctx = LargeContext::new(3).unwrap();
        let open: Vec<zmq::Socket> = (0..3).map(|_| ctx.socket(zmq::PAIR).unwrap()).collect();
        assert_eq!(ctx.socket(zmq::PAIR).err(), Some(zmq::Error::EMFILE));
        drop(open);
    }

    #[test]
    fn its_sockets_talk_over_inproc() {
        let ctx = LargeContext::new(4).unwrap();
        let pull = ctx.socket(zmq::PULL).unwrap();
        pull.bind("inproc://large-context").unwrap();
        let push = ctx.socket(zmq::PUSH).unwrap();
        push.connect("inproc://large-context").unwrap();
        push.send("hello", 0).unwrap();
        assert_eq!(pull.recv_bytes(0).unwrap(), b"hello");
    }

    #[test]
    fn a_limit_past_libzmqs_ceiling_is_einval_and_the_ceiling_is_taken() {
        for refused in [0, 65_536, i32::MAX as usize, usize::MAX] {
            assert_eq!(
                LargeContext::new(refused).err(),
                Some(zmq::Error::EINVAL),
                "max_sockets {refused}"
            );
        }
        let ctx = LargeContext::new(65_535).unwrap();
        drop(ctx.socket(zmq::PAIR).unwrap());
    }
}
