//! A REP server and a REQ client as async tasks on one loop, over
//! tcp://127.0.0.1 (a port the system picks): the client sends COUNT
//! requests, sleeping 10 ms before each, and checks every reply; the
//! server echoes until its handle closes. A timer callback on the same
//! loop is the deadline: it closes both handles if the exchange takes more
//! than 5 s. Usage: `async_echo [COUNT]` (default 10). Prints what it did
//! and exits non-zero unless every reply came back right.

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
            eprintln!("async_echo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(count: usize) -> uzmq::Result<bool> {
    let ctx = zmq::Context::new();
    let lp = Loop::new()?;
    let server = Zmq::new(&lp, ctx.socket(zmq::REP)?)?;
    server.socket().bind("tcp://127.0.0.1:*")?;
    let endpoint = server
        .socket()
        .get_last_endpoint()?
        .map_err(|_| Error::Zmq(zmq::Error::EINVAL))?;
    let client = Zmq::new(&lp, ctx.socket(zmq::REQ)?)?;
    client.socket().connect(&endpoint)?;
    println!("REP on {endpoint}, REQ connected");

    // The server: a task that answers each request with the request, until
    // its handle closes (then recv() is Err(Closed)).
    let served = Rc::new(Cell::new(0));
    let (h, s) = (server.clone(), served.clone());
    lp.spawn_local(async move {
        while let Ok(request) = h.recv().await {
            if let Err(e) = h.send(request).await {
                eprintln!("server: reply failed: {e}");
                return;
            }
            s.set(s.get() + 1);
        }
    })?;

    // The deadline, a plain callback on the same loop.
    let deadline = Timer::new(&lp)?;
    let (c, h) = (client.clone(), server.clone());
    deadline.start(DEADLINE, Duration::ZERO, move |_| {
        eprintln!("deadline: no end after {DEADLINE:?}, closing");
        c.close();
        h.close();
    })?;

    // The client: the future `block_on` runs the loop for.
    let checked = lp.block_on(async {
        let mut checked = 0;
        for i in 0..count {
            Timer::sleep(&lp, Duration::from_millis(10)).await;
            let request = format!("hello {i}");
            client.send([request.as_str()]).await?;
            let reply = client.recv().await?;
            let text = String::from_utf8_lossy(&reply[0]);
            println!("reply {i}: {text}");
            if text == request {
                checked += 1;
            } else {
                eprintln!("client: expected {request:?}");
            }
        }
        Ok::<usize, Error>(checked)
    })?;
    client.close();
    server.close();
    deadline.close();
    // The server task ends (its recv() is Err(Closed)), the closes complete.
    lp.run(RunMode::Default)?;
    let checked = checked?;
    println!(
        "server answered {}, client checked {checked} of {count}",
        served.get()
    );
    Ok(checked == count && served.get() == count)
}
