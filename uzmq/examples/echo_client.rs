//! REQ client of `echo_server` on a `Zmq` stream handle: queues all its
//! requests at once (each waits for the previous reply), checks every
//! reply, exits. Usage: `echo_client [ENDPOINT] [COUNT]`.

use std::cell::Cell;
use std::rc::Rc;

use uzmq::{Loop, RunMode, Zmq, zmq};

fn main() -> uzmq::Result<()> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "tcp://127.0.0.1:5555".into());
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);
    let ctx = zmq::Context::new();
    let lp = Loop::new()?;
    let client = Zmq::new(&lp, ctx.socket(zmq::REQ)?)?;
    client.socket().connect(&endpoint)?;
    for i in 0..count {
        client.write(format!("hello {i}").as_str())?;
    }
    let received = Rc::new(Cell::new(0));
    let seen = received.clone();
    client.start_read(move |h, reply| {
        let i = seen.get();
        match reply {
            Ok(reply) => {
                let text = String::from_utf8_lossy(&reply[0]).into_owned();
                println!("reply {i}: {text}");
                assert_eq!(text, format!("hello {i}"), "replies come back in order");
            }
            Err(e) => eprintln!("receive failed: {e}"),
        }
        seen.set(i + 1);
        if i + 1 == count {
            h.close();
        }
    })?;
    lp.run(RunMode::Default)?;
    println!("{} of {count} replies", received.get());
    Ok(())
}
