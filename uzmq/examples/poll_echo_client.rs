//! REQ client of `poll_echo_server` on a `ZmqPoll` poll handle: sends when
//! writable, receives when readable, COUNT round trips, then exits.
//! Usage: `poll_echo_client [ENDPOINT] [COUNT]`.

use uzmq::{Events, Loop, RunMode, ZmqPoll, zmq};

fn main() -> uzmq::Result<()> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "tcp://127.0.0.1:5555".into());
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);
    let ctx = zmq::Context::new();
    let lp = Loop::new()?;
    let client = ZmqPoll::new(&lp, ctx.socket(zmq::REQ)?)?;
    client.socket().connect(&endpoint)?;
    let mut done = 0;
    client.start(
        Events::READABLE | Events::WRITABLE,
        move |h, events, err| {
            if let Some(e) = err {
                eprintln!("socket failed: {e}");
                return h.close();
            }
            // A REQ socket is writable until it sent, then readable once the
            // reply is in: ZMQ_EVENTS tells which.
            if events.contains(Events::WRITABLE) {
                let request = format!("hello {done}");
                if let Err(e) = h.socket().send(request.as_str(), zmq::DONTWAIT) {
                    eprintln!("send failed: {e}");
                }
            } else if let Ok(reply) = h.socket().recv_string(zmq::DONTWAIT) {
                println!("reply {done}: {}", reply.unwrap_or_default());
                done += 1;
                if done == count {
                    h.close();
                }
            }
        },
    )?;
    lp.run(RunMode::Default)?;
    Ok(())
}
