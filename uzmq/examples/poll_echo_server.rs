//! REP echo server on a `ZmqPoll` poll handle: the callback says the socket
//! is readable, the server receives and replies itself. Usage:
//! `poll_echo_server [ENDPOINT]` (default tcp://127.0.0.1:5555); runs until
//! SIGINT (Ctrl-C) or SIGTERM, then closes the handle and exits 0.

mod shutdown;

use shutdown::on_sigint_or_sigterm;
use uzmq::{Events, Loop, RunMode, ZmqPoll, zmq};

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
