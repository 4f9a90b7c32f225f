//! REP echo server on a `Zmq` stream handle: every request goes back as
//! its reply. Usage: `echo_server [ENDPOINT]` (default tcp://127.0.0.1:5555);
//! runs until SIGINT (Ctrl-C) or SIGTERM, then shuts down gracefully (a
//! reply already queued still goes out) and exits 0.

mod shutdown;

use shutdown::on_sigint_or_sigterm;
use uzmq::{Loop, RunMode, Zmq, zmq};

fn main() -> uzmq::Result<()> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tcp://127.0.0.1:5555".into());
    let ctx = zmq::Context::new();
    let lp = Loop::new()?;
    let server = Zmq::new(&lp, ctx.socket(zmq::REP)?)?;
    server.socket().bind(&endpoint)?;
    println!("echo server (Zmq) on {endpoint}; Ctrl-C to stop");
    server.start_read(|h, request| match request {
        Ok(request) => {
            if let Err(e) = h.write_multipart(request) {
                eprintln!("reply refused: {e}");
            }
        }
        Err(e) => {
            eprintln!("receive failed: {e}");
            h.close();
        }
    })?;
    let handle = server.clone();
    on_sigint_or_sigterm(&lp, move || {
        handle.shutdown(|_, result| eprintln!("server closed: {result:?}"));
    })?;
    lp.run(RunMode::Default)?;
    Ok(())
}
