//! PUB on a `Zmq` stream handle: a repeating timer publishes one update
//! per topic every 100 ms. Usage: `publisher [ENDPOINT] [COUNT]` (default
//! tcp://127.0.0.1:5556, 100 rounds); exits after COUNT rounds, or on
//! SIGINT (Ctrl-C) or SIGTERM after a graceful shutdown (what is queued
//! still goes out), with status 0 either way.

use std::time::Duration;

mod shutdown;

use shutdown::on_sigint_or_sigterm;
use uzmq::{Loop, RunMode, Timer, Zmq, zmq};

fn main() -> uzmq::Result<()> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "tcp://127.0.0.1:5556".into());
    let rounds: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100);
    let ctx = zmq::Context::new();
    let lp = Loop::new()?;
    let publisher = Zmq::new(&lp, ctx.socket(zmq::PUB)?)?;
    publisher.socket().bind(&endpoint)?;
    println!("publishing on {endpoint}, topics 'weather' and 'news'");
    let ticker = Timer::new(&lp)?;
    let (t, p) = (ticker.clone(), publisher.clone());
    let signals = on_sigint_or_sigterm(&lp, move || {
        t.close();
        p.shutdown(|_, result| println!("publisher done: {result:?}"));
    })?;
    let mut round = 0;
    ticker.start(
        Duration::from_millis(100),
        Duration::from_millis(100),
        move |t| {
            round += 1;
            for topic in ["weather", "news"] {
                let body = format!("{topic} update {round}");
                if let Err(e) = publisher.write_multipart([topic, body.as_str()]) {
                    eprintln!("publish refused: {e}");
                }
            }
            if round == rounds {
                t.close();
                publisher.shutdown(|_, result| println!("publisher done: {result:?}"));
                // Watching for signals would keep the loop alive.
                for s in &signals {
                    s.close();
                }
            }
        },
    )?;
    lp.run(RunMode::Default)?;
    Ok(())
}
