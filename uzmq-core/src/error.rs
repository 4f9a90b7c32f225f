//! The one error type of uzmq, shared by every backend and the facade.

/// Everything that can go wrong in uzmq.
///
/// Match it with `matches!`, for example
/// `matches!(e, Error::Zmq(zmq::Error::ETERM))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// libzmq refused (EFSM, ETERM, ENOTSUP, EINVAL, ...).
    #[error("zmq: {0}")]
    Zmq(zmq::Error),
    /// libuv refused; `name` is the libuv error name, like `"EBADF"`.
    #[error("libuv: {name} ({code})")]
    Uv {
        /// The negative libuv error code.
        code: i32,
        /// The libuv error name (`uv_err_name`).
        name: &'static str,
    },
    /// The handle, or its loop, is closed; also what a queued write's
    /// callback gets when its handle closes before libzmq took it.
    #[error("handle or loop is closed")]
    Closed,
    /// A write was refused because the handle's write queue is at the limit
    /// set with `set_write_queue_limit`.
    #[error("write queue is full")]
    QueueFull,
    /// `Loop::run` was called from inside a callback of that loop.
    #[error("the loop is already running (run called from inside one of its callbacks)")]
    Reentrant,
}

impl From<zmq::Error> for Error {
    fn from(e: zmq::Error) -> Self {
        Error::Zmq(e)
    }
}

impl Error {
    /// True for errors after which a socket can do nothing any more
    /// (its context was terminated, or it is not a socket), so the handle
    /// stops for good instead of moving on to the next write.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::Zmq(zmq::Error::ETERM) | Error::Zmq(zmq::Error::ENOTSOCK)
        )
    }
}

/// `Result` with uzmq's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
