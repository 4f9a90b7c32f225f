//! `cargo xtask demo`: an echo server and its client on one loop in one
//! process over tcp loopback, then a one-way stream, with the rates seen.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use uzmq::{Loop, RunMode, Zmq, zmq};

const ROUND_TRIPS: usize = 20_000;
const STREAM_MESSAGES: usize = 500_000;

fn main() -> uzmq::Result<()> {
    let ctx = zmq::Context::new();
    let lp = Loop::new()?;

    println!("1. REP echo server: a Zmq handle bound to tcp://127.0.0.1:* (a free port)");
    let server = Zmq::new(&lp, ctx.socket(zmq::REP)?)?;
    server.socket().bind("tcp://127.0.0.1:*")?;
    let endpoint = last_endpoint(server.socket())?;
    server.start_read(|h, request| {
        // Echo: the reply is queued from the read callback and goes out
        // before the handle reads again.
        h.write_multipart(request.expect("request"))
            .expect("queue reply");
    })?;

    println!("2. REQ client on the same loop connects to {endpoint}, {ROUND_TRIPS} round trips");
    let client = Zmq::new(&lp, ctx.socket(zmq::REQ)?)?;
    client.socket().connect(&endpoint)?;
    let done = Rc::new(Cell::new(0usize));
    let seen = done.clone();
    client.write("ping")?;
    client.start_read(move |h, reply| {
        assert_eq!(&reply.expect("reply")[0][..], b"ping");
        seen.set(seen.get() + 1);
        if seen.get() < ROUND_TRIPS {
            h.write("ping").expect("queue request");
        } else {
            h.event_loop().expect("loop").stop();
        }
    })?;
    let start = Instant::now();
    lp.run(RunMode::Default)?;
    let rtt = start.elapsed();
    println!(
        "   {} round trips in {:.3} s: {:.0} round trips/s, {:.1} us each",
        done.get(),
        rtt.as_secs_f64(),
        done.get() as f64 / rtt.as_secs_f64(),
        rtt.as_secs_f64() * 1e6 / done.get() as f64
    );
    client.close();
    server.close();

    println!("3. PUSH -> PULL: {STREAM_MESSAGES} messages of 64 bytes, all queued at once");
    let pull = Zmq::new(&lp, ctx.socket(zmq::PULL)?)?;
    pull.socket().bind("tcp://127.0.0.1:*")?;
    let endpoint = last_endpoint(pull.socket())?;
    let push = Zmq::new(&lp, ctx.socket(zmq::PUSH)?)?;
    push.socket().connect(&endpoint)?;
    let payload = [7u8; 64];
    for _ in 0..STREAM_MESSAGES {
        push.write(&payload[..])?;
    }
    let received = Rc::new(Cell::new(0usize));
    let count = received.clone();
    pull.start_read(move |h, msg| {
        assert_eq!(msg.expect("message")[0].len(), 64);
        count.set(count.get() + 1);
        if count.get() == STREAM_MESSAGES {
            h.close();
        }
    })?;
    let start = Instant::now();
    lp.run(RunMode::Default)?;
    let took = start.elapsed();
    println!(
        "   {} messages in {:.3} s: {:.0} messages/s",
        received.get(),
        took.as_secs_f64(),
        received.get() as f64 / took.as_secs_f64()
    );
    push.close();
    lp.run(RunMode::Default)?;
    println!("4. done: every handle closed, the loop ran dry");
    Ok(())
}

fn last_endpoint(socket: &zmq::Socket) -> uzmq::Result<String> {
    Ok(socket
        .get_last_endpoint()?
        .expect("libzmq endpoints are ASCII"))
}
