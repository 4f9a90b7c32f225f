//! A peer process of the network fault test, run inside a network namespace (`ip netns exec NS netfault_peer ...`): a PUSH sending a numbered stream at a steady rate, or a PULL checking it, each on a uzmq `Loop`, each ending by itself by a deadline.
//!
//! ```text
//! netfault_peer send --bind tcp://192.0.2.1:* --count N --per-ms R --deadline-ms D
//! netfault_peer recv --connect tcp://192.0.2.1:PORT --until SEQ --deadline-ms D
//! ```
//!
//! The sender binds and prints `endpoint ...` first (the port the system
//! chose), then queues message `i` (a u64, 8 bytes little endian) once `i /
//! R` milliseconds have passed since its start, from a 1 ms timer, until N
//! were queued; it then sends what is queued, lets libzmq deliver what it
//! holds (until the deadline at most), and exits. The receiver
//! connects, checks that every number is the previous one plus one, and
//! exits once it saw SEQ. Both print their progress (see `tests::peer_line`)
//! every few tens of milliseconds, and a last line, marked `done=1`, when
//! they finish or their deadline (milliseconds from start) passes.
//!
//! Why the sender binds: the receiver is the process the test kills and
//! restarts, and a restarted connecting peer needs an endpoint that stays
//! put. The bound PUSH keeps its port for the whole run, and binding to port
//! `*` keeps ports from being fixed.
#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tests::peer_line::{Line, RecvReport, SendReport};
use uzmq::{Loop, RunMode, Timer, Zmq, zmq};

/// How often each role prints its progress.
const SEND_REPORT_EVERY: Duration = Duration::from_millis(100);
const RECV_REPORT_EVERY: Duration = Duration::from_millis(50);

/// Heartbeats (ZMTP PING/PONG) every second. A heartbeat timeout closes the
/// connection, and with it the messages in flight on it, so it must be
/// longer than every outage the test expects to survive without loss: the
/// link is down for 2 s, and TCP's retransmission timer, which doubles from
/// 200 ms while the link is down, may wait up to a few seconds more before
/// it tries again; netem adds 100 ms of delay and 5% loss, and the rate
/// limit drops packets for 5 s, but some get through. At 10 s, a peer
/// that is really gone without a FIN or RST (a powered-off host, a link
/// that never comes back) is still noticed, and its pipe freed, in seconds
/// rather than after TCP's own retry limit (about 15 minutes). A killed
/// process is noticed at once anyway: its kernel resets the connection.
const HEARTBEAT_IVL_MS: i32 = 1_000;
const HEARTBEAT_TIMEOUT_MS: i32 = 10_000;

/// The connecting side (the receiver) retries a failed or dropped
/// connection every 100 ms, without backing off (a maximum of 0), so that
/// the stream resumes soon after a fault ends. This is libzmq's default;
/// set here because the test relies on it.
const RECONNECT_IVL_MS: i32 = 100;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.split_first() {
        Some((role, rest)) if role == "send" => Opts::parse(rest).and_then(|o| send(&o)),
        Some((role, rest)) if role == "recv" => Opts::parse(rest).and_then(|o| recv(&o)),
        _ => Err("usage: netfault_peer send|recv --option value ...".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("netfault_peer: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The `--name value` options of both roles.
#[derive(Default)]
struct Opts {
    bind: Option<String>,
    connect: Option<String>,
    count: u64,
    per_ms: u64,
    until: u64,
    deadline_ms: u64,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let mut opts = Opts {
            per_ms: 1,
            deadline_ms: 30_000,
            ..Opts::default()
        };
        let mut it = args.iter();
        while let Some(name) = it.next() {
            let value = it
                .next()
                .ok_or_else(|| format!("option {name} needs a value"))?;
            let num = || {
                value
                    .parse::<u64>()
                    .map_err(|err| format!("{name} {value}: {err}"))
            };
            match name.as_str() {
                "--bind" => opts.bind = Some(value.clone()),
                "--connect" => opts.connect = Some(value.clone()),
                "--count" => opts.count = num()?,
                "--per-ms" => opts.per_ms = num()?.max(1),
                "--until" => opts.until = num()?,
                "--deadline-ms" => opts.deadline_ms = num()?,
                _ => return Err(format!("unknown option {name}")),
            }
        }
        Ok(opts)
    }
}

/// Options both sides set on their socket (see the constants for why).
fn tune(socket: &zmq::Socket) -> zmq::Result<()> {
    socket.set_heartbeat_ivl(HEARTBEAT_IVL_MS)?;
    socket.set_heartbeat_timeout(HEARTBEAT_TIMEOUT_MS)?;
    // What the peer is told to allow between two messages from us.
    socket.set_heartbeat_ttl(HEARTBEAT_TIMEOUT_MS)?;
    socket.set_reconnect_ivl(RECONNECT_IVL_MS)?;
    socket.set_reconnect_ivl_max(0)?;
    Ok(())
}

/// Prints `line` on stdout; Rust's stdout is line buffered, so the test
/// reads it at once. A closed stdout (the test is gone) must not make the
/// peer panic: its deadline still ends it.
fn report(line: &Line) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Closes every handle in `handles` (the loop then runs out of work).
fn close_all(zmq: &Zmq, timers: &[&Timer]) {
    zmq.close();
    for timer in timers {
        timer.close();
    }
}

/// The `send` role.
fn send(opts: &Opts) -> Result<(), String> {
    let bind = opts.bind.as_deref().ok_or("send needs --bind")?;
    let ctx = zmq::Context::new();
    let lp = Loop::new().map_err(|e| format!("loop: {e}"))?;
    let push = ctx.socket(zmq::PUSH).map_err(|e| format!("PUSH: {e}"))?;
    tune(&push).map_err(|e| format!("socket options: {e}"))?;
    // No lingering on the way out of an error or the deadline; once all
    // is sent, the shutdown callback lets it linger until the deadline.
    push.set_linger(0).map_err(|e| format!("ZMQ_LINGER: {e}"))?;
    push.bind(bind).map_err(|e| format!("bind {bind}: {e}"))?;
    let endpoint = push
        .get_last_endpoint()
        .map_err(|e| format!("ZMQ_LAST_ENDPOINT: {e}"))?
        .map_err(|_| "endpoint is not UTF-8")?;
    report(&Line::Endpoint(endpoint));

    let h = Zmq::new(&lp, push).map_err(|e| format!("Zmq::new: {e}"))?;
    let ticker = Timer::new(&lp).map_err(|e| format!("timer: {e}"))?;
    let reporter = Timer::new(&lp).map_err(|e| format!("timer: {e}"))?;
    let deadline = Timer::new(&lp).map_err(|e| format!("timer: {e}"))?;
    let queued = Rc::new(Cell::new(0_u64));
    let failure = Rc::new(RefCell::new(None::<String>));
    let state = move |h: &Zmq, queued: u64, done: bool| SendReport {
        done,
        queued,
        taken: queued - h.write_queue_size() as u64,
    };

    let start = lp.now();
    let ends = Instant::now() + Duration::from_millis(opts.deadline_ms);
    let (count, per_ms) = (opts.count, opts.per_ms);
    let (q, w, r, d, f) = (
        queued.clone(),
        h.clone(),
        reporter.clone(),
        deadline.clone(),
        failure.clone(),
    );
    // Every millisecond, queue what is due by now: the rate holds however
    // late the timer fires (a busy machine, a fault stalling the loop).
    let tick = move |t: &Timer| {
        let Ok(lp) = t.event_loop() else { return };
        let elapsed = lp.now().saturating_sub(start) + 1;
        let due = count.min(elapsed.saturating_mul(per_ms));
        while q.get() < due {
            if let Err(err) = w.write(q.get().to_le_bytes().to_vec()) {
                *f.borrow_mut() = Some(format!("write {}: {err}", q.get()));
                close_all(&w, &[t, &r, &d]);
                return;
            }
            q.set(q.get() + 1);
        }
        if q.get() == count {
            t.close();
            let (r, d, f) = (r.clone(), d.clone(), f.clone());
            let sent = q.get();
            // Sends what the handle still queues (a dead receiver makes
            // this wait: the deadline ends it then), then the last report.
            w.shutdown(move |h, result| {
                if let Err(err) = result {
                    *f.borrow_mut() = Some(format!("shutdown: {err}"));
                }
                // libzmq took everything, yet its pipe and the kernel may
                // still hold much of it (a slow link): closing the context
                // waits for it to go out until the deadline, not longer.
                let left = ends.saturating_duration_since(Instant::now());
                let linger = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
                if let Err(err) = h.socket().set_linger(linger) {
                    *f.borrow_mut() = Some(format!("ZMQ_LINGER: {err}"));
                }
                report(&Line::Sent(state(h, sent, true)));
                r.close();
                d.close();
            });
        }
    };
    ticker
        .start(Duration::from_millis(1), Duration::from_millis(1), tick)
        .map_err(|e| format!("ticker: {e}"))?;

    let (q, w) = (queued.clone(), h.clone());
    reporter
        .start(SEND_REPORT_EVERY, SEND_REPORT_EVERY, move |_| {
            report(&Line::Sent(state(&w, q.get(), false)))
        })
        .map_err(|e| format!("reporter: {e}"))?;

    let deadline_ms = opts.deadline_ms;
    let (q, w, t, r, f) = (
        queued.clone(),
        h.clone(),
        ticker.clone(),
        reporter.clone(),
        failure.clone(),
    );
    deadline
        .start(
            Duration::from_millis(deadline_ms),
            Duration::ZERO,
            move |d| {
                *f.borrow_mut() = Some(format!(
                    "deadline of {deadline_ms} ms passed with {} of {count} queued and {} not taken",
                    q.get(),
                    w.write_queue_size()
                ));
                report(&Line::Sent(state(&w, q.get(), true)));
                // Exit now: nothing lingers past the deadline.
                let _ = w.socket().set_linger(0);
                close_all(&w, &[&t, &r, d]);
            },
        )
        .map_err(|e| format!("deadline: {e}"))?;
    drop(h);

    lp.run(RunMode::Default).map_err(|e| format!("loop: {e}"))?;
    match failure.borrow_mut().take() {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// The `recv` role.
fn recv(opts: &Opts) -> Result<(), String> {
    let connect = opts.connect.as_deref().ok_or("recv needs --connect")?;
    let ctx = zmq::Context::new();
    let lp = Loop::new().map_err(|e| format!("loop: {e}"))?;
    let pull = ctx.socket(zmq::PULL).map_err(|e| format!("PULL: {e}"))?;
    tune(&pull).map_err(|e| format!("socket options: {e}"))?;
    pull.set_linger(0).map_err(|e| format!("ZMQ_LINGER: {e}"))?;
    pull.connect(connect)
        .map_err(|e| format!("connect {connect}: {e}"))?;

    let h = Zmq::new(&lp, pull).map_err(|e| format!("Zmq::new: {e}"))?;
    let reporter = Timer::new(&lp).map_err(|e| format!("timer: {e}"))?;
    let deadline = Timer::new(&lp).map_err(|e| format!("timer: {e}"))?;
    let seen = Rc::new(Cell::new(RecvReport::default()));
    let failure = Rc::new(RefCell::new(None::<String>));
    let until = opts.until;

    let (s, r, d, f) = (
        seen.clone(),
        reporter.clone(),
        deadline.clone(),
        failure.clone(),
    );
    h.start_read(move |h, msg| {
        let mut now = s.get();
        match msg {
            Ok(parts) => match parts.as_slice() {
                [body] if body.len() == 8 => {
                    let mut bytes = [0; 8];
                    bytes.copy_from_slice(body);
                    now.record(u64::from_le_bytes(bytes));
                }
                _ => now.bad += 1,
            },
            Err(err) => {
                *f.borrow_mut() = Some(format!("receive: {err}"));
                now.done = true;
            }
        }
        if now.last.is_some_and(|last| last >= until) {
            now.complete = true;
            now.done = true;
        }
        s.set(now);
        if now.done {
            report(&Line::Recv(now));
            close_all(h, &[&r, &d]);
        }
    })
    .map_err(|e| format!("start_read: {e}"))?;

    let (s, mut printed) = (seen.clone(), None);
    reporter
        .start(RECV_REPORT_EVERY, RECV_REPORT_EVERY, move |_| {
            let now = s.get();
            if printed != Some(now) {
                report(&Line::Recv(now));
                printed = Some(now);
            }
        })
        .map_err(|e| format!("reporter: {e}"))?;

    let (s, w, r, f) = (seen.clone(), h.clone(), reporter.clone(), failure.clone());
    let deadline_ms = opts.deadline_ms;
    deadline
        .start(
            Duration::from_millis(deadline_ms),
            Duration::ZERO,
            move |d| {
                let mut now = s.get();
                now.done = true;
                s.set(now);
                *f.borrow_mut() = Some(format!(
                    "deadline of {deadline_ms} ms passed before {until} arrived (last: {:?})",
                    now.last
                ));
                report(&Line::Recv(now));
                close_all(&w, &[&r, d]);
            },
        )
        .map_err(|e| format!("deadline: {e}"))?;
    drop(h);

    lp.run(RunMode::Default).map_err(|e| format!("loop: {e}"))?;
    match failure.borrow_mut().take() {
        Some(err) => Err(err),
        None => Ok(()),
    }
}
