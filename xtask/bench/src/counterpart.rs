//! `uzmq-counterpart`: the plain blocking zmq socket at the other end of
//! each workload. It connects to `tcp://127.0.0.1:P` (the measured side
//! binds) and prints one JSON line on stdout, like `uzmq-peer`.
//!
//! ```text
//! uzmq-counterpart w1 --port P --n N --size S [--hwm H] [--timeout-s T]   PUSH: send N messages
//!   -> {"workload":"w1","role":"counterpart","sent":n}
//! uzmq-counterpart w2 --port P --n N [--hwm H] [--timeout-s T]            PULL: receive N, timed first to last
//!   -> {"workload":"w2","role":"counterpart","received":n,"bytes":b,"elapsed_s":t,"msgs_per_s":(n-1)/t}
//! uzmq-counterpart w3 --port P --n R [--size 64] [--warmup W] [--timeout-s T]   REQ: R round trips
//!   -> {"workload":"w3","role":"counterpart","round_trips":r,"measured":r-w,"mean_us":..,"p50_us":..,"p99_us":..}
//! uzmq-counterpart w4 --port P --idle-s I                                 PUSH: connect, stay silent I seconds
//!   -> {"workload":"w4","role":"counterpart"}
//! ```
//!
//! Exit status: 0 when done, 1 on failure or timeout, 2 on a usage error.

use std::env;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use crate::args::Args;
use crate::json::Value;
use crate::peer::{DEFAULT_HWM, DEFAULT_TIMEOUT_S, RecvCount};
use crate::{endpoint, millis_i32, secs, stats};

/// How long one blocking call waits before the deadline is checked again.
const SLICE_MS: i32 = 100;

/// Runs the `uzmq-counterpart` command line and returns its exit status.
pub fn main() -> ExitCode {
    let (line, code) = run_cli(env::args().skip(1));
    println!("{line}");
    ExitCode::from(code)
}

/// The command line as a function: the JSON line and the exit status.
pub fn run_cli<I, S>(words: I) -> (Value, u8)
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let result = Args::parse(words).and_then(|mut args| {
        let command = args.command.clone().unwrap_or_default();
        let job = parse(&command, &mut args)?;
        args.finish()?;
        Ok((command, job))
    });
    let (command, job) = match result {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("uzmq-counterpart: {e}");
            return (Value::object().with("complete", false).with("error", e), 2);
        }
    };
    let out = match job {
        Job::Push {
            port,
            n,
            size,
            hwm,
            timeout,
        } => push(port, n, size, hwm, timeout),
        Job::Pull {
            port,
            n,
            hwm,
            timeout,
        } => pull(port, n, hwm, timeout),
        Job::Req {
            port,
            n,
            size,
            warmup,
            timeout,
        } => req(port, n, size, warmup, timeout),
        Job::Silent { port, idle } => silent(port, idle),
    };
    match out {
        Ok((json, complete)) => {
            let json = json.with("complete", complete);
            (json, if complete { 0 } else { 1 })
        }
        Err(e) => {
            eprintln!("uzmq-counterpart: {command}: {e}");
            let json = Value::object()
                .with("workload", command.as_str())
                .with("role", "counterpart")
                .with("complete", false)
                .with("error", e.to_string());
            (json, 1)
        }
    }
}

enum Job {
    Push {
        port: u16,
        n: u64,
        size: usize,
        hwm: i32,
        timeout: Duration,
    },
    Pull {
        port: u16,
        n: u64,
        hwm: i32,
        timeout: Duration,
    },
    Req {
        port: u16,
        n: u64,
        size: usize,
        warmup: u64,
        timeout: Duration,
    },
    Silent {
        port: u16,
        idle: Duration,
    },
}

fn parse(command: &str, args: &mut Args) -> Result<Job, String> {
    let timeout = |args: &mut Args| args.take_or("timeout-s", DEFAULT_TIMEOUT_S).map(secs);
    Ok(match command {
        "w1" => Job::Push {
            port: args.take("port")?,
            n: args.take("n")?,
            size: args.take("size")?,
            hwm: args.take_or("hwm", DEFAULT_HWM)?,
            timeout: timeout(args)?,
        },
        "w2" => {
            // --size is accepted for symmetry with the peer and not needed.
            let _: Option<usize> = args.take_opt("size")?;
            Job::Pull {
                port: args.take("port")?,
                n: args.take("n")?,
                hwm: args.take_or("hwm", DEFAULT_HWM)?,
                timeout: timeout(args)?,
            }
        }
        "w3" => Job::Req {
            port: args.take("port")?,
            n: args.take("n")?,
            size: args.take_or("size", 64)?,
            warmup: args.take_or("warmup", 0)?,
            timeout: timeout(args)?,
        },
        "w4" => Job::Silent {
            port: args.take("port")?,
            idle: secs(args.take("idle-s")?),
        },
        "" => return Err("no command (w1, w2, w3 or w4)".into()),
        other => return Err(format!("unknown command `{other}`")),
    })
}

type Done = Result<(Value, bool), zmq::Error>;

/// Connects to the peer, retrying every 10 ms (not libzmq's 100 ms) while
/// the peer has not bound yet, so start-up costs little.
fn connect(socket: &zmq::Socket, port: u16) -> Result<(), zmq::Error> {
    socket.set_reconnect_ivl(10)?;
    socket.connect(&endpoint(port))
}

/// W1's sender: PUSH, `n` messages of `size` bytes, then close with linger.
fn push(port: u16, n: u64, size: usize, hwm: i32, timeout: Duration) -> Done {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PUSH)?;
    socket.set_sndhwm(hwm)?;
    socket.set_linger(millis_i32(timeout))?;
    socket.set_sndtimeo(SLICE_MS)?;
    connect(&socket, port)?;
    let started = Instant::now();
    let deadline = started + timeout;
    let payload = vec![0x5au8; size];
    let mut sent = 0;
    while sent < n {
        match socket.send(&payload[..], 0) {
            Ok(()) => sent += 1,
            Err(zmq::Error::EAGAIN) if Instant::now() < deadline => {}
            Err(zmq::Error::EAGAIN) => break,
            Err(e) => return Err(e),
        }
    }
    let accepted_s = started.elapsed().as_secs_f64();
    drop(socket);
    drop(ctx); // waits, up to the linger, for the messages to go out
    let json = Value::object()
        .with("workload", "w1")
        .with("role", "counterpart")
        .with("sent", sent)
        .with("accepted_s", accepted_s);
    Ok((json, sent == n))
}

/// W2's receiver: PULL, `n` messages, timed from the first to the last.
fn pull(port: u16, n: u64, hwm: i32, timeout: Duration) -> Done {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PULL)?;
    socket.set_rcvhwm(hwm)?;
    socket.set_linger(0)?;
    socket.set_rcvtimeo(SLICE_MS)?;
    connect(&socket, port)?;
    let deadline = Instant::now() + timeout;
    let mut count = RecvCount::new(n);
    let mut frame = zmq::Message::new();
    while !count.done() {
        match socket.recv(&mut frame, 0) {
            Ok(()) => {
                count.frame(frame.len(), frame.get_more());
            }
            Err(zmq::Error::EAGAIN) if Instant::now() < deadline => {}
            Err(zmq::Error::EAGAIN) => break,
            Err(e) => return Err(e),
        }
    }
    let json = count.json("w2").with("role", "counterpart");
    Ok((json, count.done()))
}

/// W3's client: REQ, `n` round trips of `size` bytes, each timed; the
/// first `warmup` are left out of the statistics.
fn req(port: u16, n: u64, size: usize, warmup: u64, timeout: Duration) -> Done {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::REQ)?;
    socket.set_linger(0)?;
    socket.set_rcvtimeo(SLICE_MS)?;
    connect(&socket, port)?;
    let deadline = Instant::now() + timeout;
    let payload = vec![0x33u8; size];
    let mut reply = zmq::Message::new();
    let mut rtt_us = Vec::with_capacity(n as usize);
    let mut done = 0;
    'trips: while done < n {
        let t0 = Instant::now();
        socket.send(&payload[..], 0)?;
        loop {
            match socket.recv(&mut reply, 0) {
                Ok(()) => break,
                Err(zmq::Error::EAGAIN) if Instant::now() < deadline => {}
                Err(zmq::Error::EAGAIN) => break 'trips,
                Err(e) => return Err(e),
            }
        }
        let rtt = t0.elapsed();
        if reply.len() != size {
            eprintln!(
                "uzmq-counterpart: w3: reply of {} bytes, sent {size}",
                reply.len()
            );
        }
        if done >= warmup {
            rtt_us.push(rtt.as_secs_f64() * 1e6);
        }
        done += 1;
    }
    let sorted = stats::sorted(&rtt_us);
    let json = Value::object()
        .with("workload", "w3")
        .with("role", "counterpart")
        .with("round_trips", done)
        .with("measured", rtt_us.len())
        .with("mean_us", stats::mean(&rtt_us))
        .with("p50_us", stats::percentile_sorted(&sorted, 50.0))
        .with("p99_us", stats::percentile_sorted(&sorted, 99.0))
        .with("min_us", sorted.first().copied())
        .with("max_us", sorted.last().copied());
    Ok((json, done == n))
}

/// W4's peer: connects a PUSH and sends nothing for `idle`.
fn silent(port: u16, idle: Duration) -> Done {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PUSH)?;
    socket.set_linger(0)?;
    connect(&socket, port)?;
    thread::sleep(idle);
    let json = Value::object()
        .with("workload", "w4")
        .with("role", "counterpart");
    Ok((json, true))
}
