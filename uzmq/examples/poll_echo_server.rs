//! REP echo server on a `ZmqPoll` poll handle: the callback says the socket
//! is readable, the server receives and replies itself. Usage:
//! `poll_echo_server [ENDPOINT]` (default tcp://127.0.0.1:5555); runs until
//! SIGINT (Ctrl-C) or SIGTERM, then closes the handle and exits 0.

use std::cell::Cell;
use std::rc::Rc;

use uzmq::{Events, Loop, RunMode, Signal, ZmqPoll, zmq};

fn main() -> uzmq::Result<()> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tcp://127.0.0.1:5555".into());
    let ctx = zmq::Context::new();
    let lp = Loop::new()?;
    let server = ZmqPoll::new(&lp, ctx.socket(zmq::REP)?)?;
    server.socket().bind(&endpoint)?;
    println!("echo server (ZmqPoll) on {endpoint}; Ctrl-C to stop");
    server.start(Events::READABLE, |h, _events, err| {
        if let Some(e) = err {
            eprintln!("socket failed: {e}");
            return h.close();
        }
        let socket = h.socket();
        match socket.recv_multipart(zmq::DONTWAIT) {
            Ok(request) => {
                if let Err(e) = socket.send_multipart(request, zmq::DONTWAIT) {
                    eprintln!("reply refused: {e}");
                }
            }
            Err(e) => eprintln!("receive failed: {e}"),
        }
    })?;
    let handle = server.clone();
    on_sigint_or_sigterm(&lp, move || handle.close())?;
    lp.run(RunMode::Default)?;
    Ok(())
}

/// SIGINT and SIGTERM (the same numbers on every POSIX system).
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

/// Runs `stop` once, from the loop, on the first SIGINT or SIGTERM, and
/// closes both signal handles, so that once `stop` has wound the handles
/// down nothing is active and `Loop::run` returns. Returns the signal
/// handles, for an end that comes otherwise to close them.
fn on_sigint_or_sigterm(lp: &Loop, stop: impl FnOnce() + 'static) -> uzmq::Result<[Signal; 2]> {
    let signals = [Signal::new(lp)?, Signal::new(lp)?];
    let stop = Rc::new(Cell::new(Some(stop)));
    for (signal, signum) in signals.iter().zip([SIGINT, SIGTERM]) {
        let (stop, both) = (stop.clone(), signals.clone());
        signal.start_oneshot(signum, move |_, signum| {
            eprintln!("signal {signum}: shutting down");
            if let Some(stop) = stop.take() {
                stop();
            }
            for s in &both {
                s.close();
            }
        })?;
    }
    Ok(signals)
}
