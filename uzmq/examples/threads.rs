//! Four producer threads feed one PUSH handle through `Sender`s; a PULL
//! handle on the same loop counts what each producer sent, prints the
//! counts and exits non-zero unless every count is exact and in order.
//! Usage: `threads [MESSAGES_PER_PRODUCER]` (default 100,000).
//!
//! Each producer gets a `Sender` of its own (one `sender()` call each), not
//! a clone of a shared one: every channel has its own capacity, so a fast
//! producer cannot take the whole budget and stall the others, and a
//! channel's messages keep their order, which is what lets the reader check
//! each producer's sequence. (Clones of one `Sender` would work too: one
//! shared capacity, and each thread's messages still in its order.)
//!
//! Every producer ends with a `done` message carrying its count; it follows
//! the producer's last message on the same channel, so once the reader has
//! seen four of them it has everything that was sent, and it closes: the
//! program ends by itself whether or not a message went missing.

use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use uzmq::{Loop, RunMode, Sender, Timer, Zmq, zmq};

const PRODUCERS: usize = 4;
const DEFAULT_MESSAGES: u32 = 100_000;
/// Messages each channel may have handed over and not yet taken by libzmq.
const CAPACITY: usize = 1_000;
/// A bound on the whole run, so that a hang ends as a failure.
const LIMIT: Duration = Duration::from_secs(120);

/// The first frame of every message: a data message or the last one.
const DATA: &[u8] = b"data";
const DONE: &[u8] = b"done";

/// What the reader saw of one producer.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    /// Data messages received.
    count: u32,
    /// Data messages whose sequence number was not the next expected one.
    out_of_order: u32,
    /// The count the producer announced in its `done` message.
    announced: Option<u32>,
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("threads: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the producers and the reader; `Ok(false)` when a count is wrong.
fn run() -> uzmq::Result<bool> {
    let messages: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_MESSAGES);
    let ctx = zmq::Context::new();
    let lp = Loop::new()?;

    let reader = Zmq::new(&lp, ctx.socket(zmq::PULL)?)?;
    reader.socket().bind("inproc://threads-example")?;
    let writer = Zmq::new(&lp, ctx.socket(zmq::PUSH)?)?;
    writer.socket().connect("inproc://threads-example")?;

    // Senders are made on the loop's thread (a `Zmq` handle stays there);
    // each then moves to its producer thread.
    let senders = (0..PRODUCERS)
        .map(|_| writer.sender(CAPACITY))
        .collect::<uzmq::Result<Vec<Sender>>>()?;

    let seen = Rc::new(RefCell::new([Seen::default(); PRODUCERS]));
    let guard = Timer::new(&lp)?;
    // Closing the writer too makes blocked producers return `Err(Closed)`
    // when the run ends early (a read error, or the time limit).
    let finish = {
        let (r, w, g) = (reader.clone(), writer.clone(), guard.clone());
        move || {
            r.close();
            w.close();
            g.close();
        }
    };
    let s = seen.clone();
    let end = finish.clone();
    reader.start_read(move |_, msg| {
        let msg = match msg {
            Ok(msg) => msg,
            Err(err) => {
                eprintln!("read failed: {err}");
                end();
                return;
            }
        };
        let Some((kind, id, n)) = parse(&msg) else {
            eprintln!("unexpected message of {} frames", msg.len());
            return;
        };
        let mut seen = s.borrow_mut();
        let Some(producer) = seen.get_mut(id) else {
            eprintln!("unknown producer {id}");
            return;
        };
        if kind == DATA {
            if n != producer.count {
                producer.out_of_order += 1;
            }
            producer.count += 1;
        } else {
            producer.announced = Some(n);
        }
        if seen.iter().all(|p| p.announced.is_some()) {
            // Every producer's last message is in: nothing more will come.
            end();
        }
    })?;
    guard.start(LIMIT, Duration::ZERO, move |_| {
        eprintln!("not done after {LIMIT:?}: giving up");
        finish();
    })?;
    // The loop and the callbacks hold what they need.
    drop((reader, writer, guard));

    let start = Instant::now();
    let producers: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(id, sender)| thread::spawn(move || produce(id, messages, &sender)))
        .collect();
    println!("{PRODUCERS} producers x {messages} messages through one PUSH handle");
    lp.run(RunMode::Default)?;
    let elapsed = start.elapsed();

    let mut ok = true;
    for (id, producer) in producers.into_iter().enumerate() {
        let sent = match producer.join() {
            Ok(Ok(sent)) => sent,
            Ok(Err(err)) => {
                println!("producer {id}: send failed: {err}");
                ok = false;
                continue;
            }
            Err(_) => {
                println!("producer {id}: panicked");
                ok = false;
                continue;
            }
        };
        let p = seen.borrow()[id];
        let exact = sent == messages && p.count == sent && p.out_of_order == 0;
        let exact = exact && p.announced == Some(sent);
        println!(
            "producer {id}: sent {sent}, received {}, out of order {}: {}",
            p.count,
            p.out_of_order,
            if exact { "ok" } else { "WRONG" }
        );
        ok &= exact;
    }
    let total = PRODUCERS as f64 * f64::from(messages);
    println!(
        "{} messages in {:.2?} ({:.0} msg/s)",
        total,
        elapsed,
        total / elapsed.as_secs_f64()
    );
    Ok(ok)
}

/// One producer: `messages` data messages numbered from 0, then `done`
/// with the count; returns how many data messages it handed over.
fn produce(id: usize, messages: u32, sender: &Sender) -> uzmq::Result<u32> {
    let id_frame = u8::try_from(id).expect("few producers").to_le_bytes();
    for n in 0..messages {
        // `send` blocks while CAPACITY of this channel's messages are not
        // yet taken by libzmq: the producer cannot outrun the socket.
        sender.send_multipart([DATA, &id_frame, &n.to_le_bytes()])?;
    }
    sender.send_multipart([DONE, &id_frame, &messages.to_le_bytes()])?;
    Ok(messages)
}

/// `(kind, producer, number)` of a message made by [`produce`].
fn parse(msg: &[zmq::Message]) -> Option<(&[u8], usize, u32)> {
    let [kind, id, n] = msg else { return None };
    let kind: &[u8] = kind;
    if kind != DATA && kind != DONE {
        return None;
    }
    let id = usize::from(*id.first()?);
    let n = u32::from_le_bytes((&n[..]).try_into().ok()?);
    Some((kind, id, n))
}
