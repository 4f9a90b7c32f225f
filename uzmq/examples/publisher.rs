//! PUB on a `Zmq` stream handle: a repeating timer publishes one update
//! per topic every 100 ms. Usage: `publisher [ENDPOINT] [COUNT]` (default
//! tcp://127.0.0.1:5556, 100 rounds); exits after COUNT rounds, or on
//! SIGINT (Ctrl-C) or SIGTERM after a graceful shutdown (what is queued
//! still goes out), with status 0 either way.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use uzmq::{Loop, RunMode, Signal, Timer, Zmq, zmq};

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
