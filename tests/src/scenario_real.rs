//! The real side of [`crate::scenario`]: a libuv loop (`uzmq_uv::UvLoop`)
//! and libzmq sockets (`uzmq_zmq::ZmqSocket`) over `inproc://`, the peer a
//! plain zmq socket used with `DONTWAIT`. Settles run the loop without
//! blocking up to a deadline and fail with what they waited for.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use uzmq_core::{EventLoop, RunMode};
use uzmq_uv::UvLoop;
use uzmq_zmq::ZmqSocket;

use crate::scenario::{Backend, Msg, Pattern, Peer};

/// How long a real settle waits before it fails.
pub const REAL_SETTLE_LIMIT: Duration = Duration::from_secs(20);

/// The peer: a plain zmq socket, never blocking; `EAGAIN` and `EFSM`
/// both mean "not now", as for the mock peer.
pub struct RealPeer(zmq::Socket);

impl Peer for RealPeer {
    fn send(&self, msg: &[Vec<u8>]) -> bool {
        match self.0.send_multipart(msg, zmq::DONTWAIT) {
            Ok(()) => true,
            // Not now: backpressure, or a REQ/REP peer out of turn.
            Err(zmq::Error::EAGAIN | zmq::Error::EFSM) => false,
            Err(e) => panic!("real peer send: {e}"),
        }
    }

    fn recv(&self) -> Option<Msg> {
        match self.0.recv_multipart(zmq::DONTWAIT) {
            Ok(m) => Some(m),
            Err(zmq::Error::EAGAIN | zmq::Error::EFSM) => None,
            Err(e) => panic!("real peer recv: {e}"),
        }
    }
}

/// libuv + libzmq, one context per backend.
pub struct RealBackend {
    ctx: zmq::Context,
}

impl Default for RealBackend {
    fn default() -> Self {
        RealBackend {
            ctx: zmq::Context::new(),
        }
    }
}

fn socket(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).expect("zmq socket");
    // Nothing may keep the context's termination waiting.
    s.set_linger(0).expect("ZMQ_LINGER");
    s.set_sndhwm(2).expect("ZMQ_SNDHWM");
    s.set_rcvhwm(2).expect("ZMQ_RCVHWM");
    s
}

impl Backend for RealBackend {
    type R = UvLoop;
    type S = ZmqSocket;
    type P = RealPeer;

    fn name(&self) -> String {
        "real backend (libuv + libzmq over inproc)".into()
    }

    fn new_loop(&mut self) -> EventLoop<UvLoop> {
        EventLoop::new(UvLoop::new().expect("uv loop"))
    }

    fn connect(&mut self, pattern: Pattern) -> (ZmqSocket, RealPeer) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let (mine, theirs) = match pattern {
            Pattern::Pair => (zmq::PAIR, zmq::PAIR),
            Pattern::Pull => (zmq::PULL, zmq::PUSH),
            Pattern::Push => (zmq::PUSH, zmq::PULL),
            Pattern::Req => (zmq::REQ, zmq::REP),
            Pattern::Rep => (zmq::REP, zmq::REQ),
        };
        let endpoint = format!(
            "inproc://two-backends-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let handle_side = socket(&self.ctx, mine);
        handle_side.bind(&endpoint).expect("bind");
        let peer = socket(&self.ctx, theirs);
        peer.connect(&endpoint).expect("connect");
        (
            ZmqSocket::new(handle_side).expect("ZmqSocket"),
            RealPeer(peer),
        )
    }

    fn settle(
        &mut self,
        lp: &EventLoop<UvLoop>,
        what: &str,
        done: &mut dyn FnMut() -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + REAL_SETTLE_LIMIT;
        loop {
            if done() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{}: still waiting for {what} after {REAL_SETTLE_LIMIT:?}",
                    self.name()
                ));
            }
            lp.run(RunMode::NoWait)
                .map_err(|e| format!("{}: run: {e:?}", self.name()))?;
            std::thread::yield_now();
        }
    }
}
