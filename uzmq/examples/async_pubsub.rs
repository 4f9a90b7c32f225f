//! `publisher` and `subscriber` as async tasks on one loop, over
//! tcp://127.0.0.1 (a port the system picks): the publisher sends one
//! update per topic ('weather' and 'news') every 10 ms until the
//! subscriber, subscribed to 'weather' only, has COUNT updates. The first
//! updates may go out before the subscription reaches the publisher (PUB
//! drops what no subscriber wants): that is why the publisher keeps going
//! until told. A timer callback ends everything after 5 s at most. Usage:
//! `async_pubsub [COUNT]` (default 10). Prints the updates and exits
//! non-zero unless COUNT weather updates, and nothing else, arrived.

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use uzmq::{Error, Loop, RunMode, Timer, Zmq, zmq};

const DEADLINE: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    match run(count) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("async_pubsub: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(count: usize) -> uzmq::Result<bool> {
    let ctx = zmq::Context::new();
    let lp = Loop::new()?;
    let publisher = Zmq::new(&lp, ctx.socket(zmq::PUB)?)?;
    publisher.socket().bind("tcp://127.0.0.1:*")?;
    let endpoint = publisher
        .socket()
        .get_last_endpoint()?
        .map_err(|_| Error::Zmq(zmq::Error::EINVAL))?;
    let subscriber = Zmq::new(&lp, ctx.socket(zmq::SUB)?)?;
    subscriber.socket().connect(&endpoint)?;
    subscriber.socket().set_subscribe(b"weather")?;
    println!("publishing on {endpoint}, subscribed to 'weather'");

    // Set by the subscriber when it has its updates: the publisher stops.
    let done = Rc::new(Cell::new(false));
    let published = Rc::new(Cell::new(0u64));

    let (p, d, n) = (publisher.clone(), done.clone(), published.clone());
    lp.spawn_local(async move {
        let lp = p.event_loop().expect("the loop runs this task");
        while !d.get() && !p.is_closed() {
            Timer::sleep(&lp, Duration::from_millis(10)).await;
            let round = n.get() + 1;
            for topic in ["weather", "news"] {
                let body = format!("{topic} update {round}");
                if let Err(e) = p.send([topic, body.as_str()]).await {
                    eprintln!("publish failed: {e}");
                    return;
                }
            }
            n.set(round);
        }
        p.close();
    })?;

    // The deadline: a plain callback on the same loop.
    let deadline = Timer::new(&lp)?;
    let (p, s) = (publisher.clone(), subscriber.clone());
    deadline.start(DEADLINE, Duration::ZERO, move |_| {
        eprintln!("deadline: no end after {DEADLINE:?}, closing");
        p.close();
        s.close();
    })?;

    let seen = Rc::new(Cell::new(0));
    let wrong = Rc::new(Cell::new(0));
    let (s, d, t) = (subscriber.clone(), done.clone(), deadline.clone());
    let (seen_, wrong_) = (seen.clone(), wrong.clone());
    lp.spawn_local(async move {
        while seen_.get() < count {
            // Err(Closed) when the deadline closed the handle.
            let update = match s.recv().await {
                Ok(update) => update,
                Err(e) => {
                    eprintln!("receive failed: {e}");
                    break;
                }
            };
            let text: Vec<_> = update.iter().map(|p| String::from_utf8_lossy(p)).collect();
            println!("{}", text.join(": "));
            if text.first().map(|t| t.as_ref()) != Some("weather") {
                wrong_.set(wrong_.get() + 1);
            }
            seen_.set(seen_.get() + 1);
        }
        // The publisher stops at its next round; nothing else is left,
        // so `run` returns.
        d.set(true);
        s.close();
        t.close();
    })?;

    lp.run(RunMode::Default)?;
    println!(
        "published {} rounds, received {} weather updates ({} other)",
        published.get(),
        seen.get(),
        wrong.get()
    );
    Ok(seen.get() == count && wrong.get() == 0)
}
