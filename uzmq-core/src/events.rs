//! Readiness bits, with libuv's values (`UV_READABLE`, `UV_WRITABLE`).

bitflags::bitflags! {
    /// What a zmq socket can do now, or what a handle is asked to watch.
    ///
    /// `READABLE` means a whole message can be received without blocking
    /// (`ZMQ_POLLIN`), `WRITABLE` that one can be sent (`ZMQ_POLLOUT`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Events: u32 {
        /// A whole message can be received now (`ZMQ_POLLIN`, value of `UV_READABLE`).
        const READABLE = 1;
        /// A message can be sent now (`ZMQ_POLLOUT`, value of `UV_WRITABLE`).
        const WRITABLE = 2;
    }
}
