//! SUB on a `Zmq` stream handle, subscribed to one topic of `publisher`.
//! Usage: `subscriber [ENDPOINT] [TOPIC] [COUNT]` (default
//! tcp://127.0.0.1:5556, weather, 10); exits after COUNT updates.

use uzmq::{Loop, RunMode, Zmq, zmq};

fn main() -> uzmq::Result<()> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "tcp://127.0.0.1:5556".into());
    let topic = args.next().unwrap_or_else(|| "weather".into());
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);
    let ctx = zmq::Context::new();
    let lp = Loop::new()?;
    let subscriber = Zmq::new(&lp, ctx.socket(zmq::SUB)?)?;
    subscriber.socket().connect(&endpoint)?;
    subscriber.socket().set_subscribe(topic.as_bytes())?;
    let mut seen = 0;
    subscriber.start_read(move |h, update| {
        match update {
            Ok(parts) => {
                let body = parts
                    .get(1)
                    .map(|p| String::from_utf8_lossy(p).into_owned());
                println!("{}", body.unwrap_or_default());
            }
            Err(e) => eprintln!("receive failed: {e}"),
        }
        seen += 1;
        if seen == count {
            h.close();
        }
    })?;
    lp.run(RunMode::Default)?;
    Ok(())
}
