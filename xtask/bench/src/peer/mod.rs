//! The `uzmq-peer` command-line contract, for
//! uzmq ([`uzmq_side`] for the callback handles, [`async_side`] for
//! `--handle async`, [`producers`] for W6), for the floor of a libuv loop
//! with no handle ([`floor`], W3 only) and for the raw libzmq baseline
//! ([`raw`]).
//!
//! ```text
//! uzmq-peer info                                            -> {"name":"uzmq","speed":"fast","desc":"..."}
//! uzmq-peer w1 --port P --n N --size S --hwm H --timeout-s T -> {"workload":"w1","received":n,"bytes":b,"elapsed_s":t,"msgs_per_s":(n-1)/t}
//! uzmq-peer w2 --port P --n N --size S --hwm H --timeout-s T -> {"workload":"w2","sent":n}
//! uzmq-peer w3 --port P --n N --timeout-s T                  -> {"workload":"w3","served":n}
//! uzmq-peer w4 --port P --idle-s I [--settle-s 0.5]         -> {"workload":"w4","cpu_s":c,"wall_s":w}
//! uzmq-peer w7 --n N [--sockets 1000] [--senders 2] [--size 64] [--hwm H] [--timeout-s T]
//!                                                           -> {"workload":"w7","received":n,"bytes":b,"elapsed_s":t,"msgs_per_s":(n-1)/t,"sockets":k,"senders":s}
//! uzmq-peer w8mem [--idle-handles 10000]                    -> {"workload":"w8mem","sockets":k,"socket_bytes":..,"handle_bytes":..}
//! uzmq-peer w6 --port P --n N --size S [--producers 4] [--capacity 1000] [--hwm H] [--timeout-s T]
//!                                                           -> {"workload":"w6","sent":n,"producers":p,...}
//! w3 and w4 also take --idle-handles K (W8: K idle handles, raw: sockets, beside the measured one)
//! common options: --handle poll|stream|frames|async|sender|floor (default stream; sender for w6), --impl uzmq|raw
//! ```
//!
//! `--handle async` runs W1-W5 (without idle handles) as tasks awaiting
//! `Zmq::recv()` and `Zmq::send()`; `--handle sender` runs only W6, whose
//! producer threads hand messages to the loop through one `Sender`;
//! `--handle floor` runs only W3 (without idle handles), served from a bare
//! fd watch of the libuv backend with no uzmq handle: the least a loop
//! costs per round trip.
//!
//! The measured side always binds `tcp://127.0.0.1:P`. Exactly one JSON line
//! goes to stdout per call (the fields above first, then `impl`, `handle`,
//! `complete`, workload extras, and `cpu_s`, the CPU seconds of the whole
//! process in the measured window of W1-W3 and W7-W8, see [`crate::window`]);
//! everything else goes to stderr. Exit
//! status: 0 when the workload completed, 1 when it failed or timed out (the
//! JSON then has `"complete":false` and, on failure, `"error"`), 2 on a usage
//! error, 3 when the port was already in use (so a driver picks another).

pub mod async_side;
pub mod fan_in;
pub mod floor;
pub mod idle;
pub mod producers;
pub mod raw;
pub mod uzmq_side;

use std::env;
use std::fmt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::args::Args;
use crate::json::Value;
use crate::secs;

/// Which implementation runs the measured side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    /// Through uzmq's handles on a libuv loop.
    Uzmq,
    /// Plain blocking libzmq calls, no loop: the ceiling.
    Raw,
}

impl Impl {
    /// `uzmq` or `raw`.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Uzmq => "uzmq",
            Impl::Raw => "raw",
        }
    }
}

/// Which uzmq handle the measured side uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleKind {
    /// `Zmq`: `start_read` / `write`.
    Stream,
    /// `ZmqPoll`: recv/send with `DONTWAIT` from the poll callback.
    Poll,
    /// `Zmq` read with `start_read_frames` (frames lent and reused); as
    /// `Stream` for everything but receiving.
    Frames,
}

impl HandleKind {
    /// `stream` or `poll`.
    pub fn name(self) -> &'static str {
        match self {
            HandleKind::Stream => "stream",
            HandleKind::Poll => "poll",
            HandleKind::Frames => "frames",
        }
    }
}

/// What the uzmq side is written with: a callback handle, futures, a
/// `Sender` fed from other threads, or no handle at all (the floor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handle {
    /// `Zmq` or `ZmqPoll` with callbacks.
    Callback(HandleKind),
    /// `Zmq::recv()` / `Zmq::send()` awaited in a task (`spawn_local`).
    Async,
    /// `Zmq::sender()`: other threads hand messages to the loop (W6 only).
    Sender,
    /// No handle: a bare fd watch of uzmq's libuv backend serves W3's REP
    /// ([`floor`]; W3 without idle handles only).
    Floor,
}

impl Handle {
    /// `stream`, `poll`, `frames`, `async`, `sender` or `floor`: the
    /// `--handle` value.
    pub fn name(self) -> &'static str {
        match self {
            Handle::Callback(kind) => kind.name(),
            Handle::Async => "async",
            Handle::Sender => "sender",
            Handle::Floor => "floor",
        }
    }
}

/// Parameters of W1 (receive) and W2 (send).
#[derive(Debug, Clone)]
pub struct Flow {
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    /// Messages to move.
    pub n: u64,
    /// Bytes per message.
    pub size: usize,
    /// `ZMQ_RCVHWM` (W1) or `ZMQ_SNDHWM` (W2).
    pub hwm: i32,
    /// Give up after this long (the JSON then says `"complete":false`).
    pub timeout: Duration,
}

/// Parameters of W3 (REP echo).
#[derive(Debug, Clone)]
pub struct Echo {
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    /// Requests to serve.
    pub n: u64,
    /// Give up after this long.
    pub timeout: Duration,
    /// Idle handles (raw: sockets) open beside the measured one (W8).
    pub idle_handles: usize,
}

/// Parameters of W4 (idle CPU).
#[derive(Debug, Clone)]
pub struct Idle {
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    /// How long the loop runs with no traffic, measured.
    pub idle: Duration,
    /// How long it runs before the measured window (start-up, the
    /// counterpart's connection).
    pub settle: Duration,
    /// Idle handles (raw: sockets) open beside the measured one (W8).
    pub idle_handles: usize,
}

/// What a workload run produced: the JSON fields after `workload`, and
/// whether it did all it was asked.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Fields of the JSON line (an object).
    pub json: Value,
    /// The whole job was done before the timeout, with no error.
    pub complete: bool,
    /// CPU seconds of the whole process inside the measured window
    /// ([`crate::window`]), for the workloads that have one; printed as
    /// `cpu_s` after `complete`.
    pub cpu_s: Option<f64>,
}

/// Why a workload could not run.
#[derive(Debug)]
pub enum Failure {
    /// `bind` found the port taken (the driver retries on another).
    PortInUse(String),
    /// Anything else.
    Other(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::PortInUse(m) | Failure::Other(m) => f.write_str(m),
        }
    }
}

impl From<zmq::Error> for Failure {
    fn from(e: zmq::Error) -> Failure {
        Failure::Other(format!("zmq: {e}"))
    }
}

impl From<uzmq::Error> for Failure {
    fn from(e: uzmq::Error) -> Failure {
        Failure::Other(format!("uzmq: {e}"))
    }
}

/// W2's messages, made before the measured window by every variant alike
/// (uzmq's `Zmq` must have them all queued before its loop runs), so that
/// the window measures the send path only, not allocation and copying.
#[derive(Debug)]
pub struct Prepared {
    payload: Vec<u8>,
    /// In reverse order: the next message to send is the last.
    msgs: Vec<zmq::Message>,
    total: u64,
}

impl Prepared {
    /// `n` messages of `size` bytes.
    pub fn new(n: u64, size: usize) -> Prepared {
        let payload = vec![0xa5u8; size];
        let msgs = (0..n).map(|_| zmq::Message::from(&payload[..])).collect();
        Prepared {
            payload,
            msgs,
            total: n,
        }
    }

    /// All messages, in sending order, for queueing them at once.
    pub fn take_all(self) -> Vec<zmq::Message> {
        let mut msgs = self.msgs;
        msgs.reverse();
        msgs
    }

    /// Messages sent so far.
    pub fn sent(&self) -> u64 {
        self.total - self.msgs.len() as u64
    }

    /// Whether every message was sent.
    pub fn done(&self) -> bool {
        self.msgs.is_empty()
    }

    /// Sends the next message with `flags`. `Ok(false)` on `EAGAIN`: the
    /// `zmq` crate drops a refused message, so a fresh copy (same bytes)
    /// takes its place, to be sent next time.
    #[inline]
    pub fn send_next(&mut self, socket: &zmq::Socket, flags: i32) -> Result<bool, zmq::Error> {
        let Some(msg) = self.msgs.pop() else {
            return Ok(true);
        };
        match socket.send(msg, flags) {
            Ok(()) => Ok(true),
            Err(zmq::Error::EAGAIN) => {
                self.msgs.push(zmq::Message::from(&self.payload[..]));
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

/// Binds `socket` on `tcp://127.0.0.1:port`; a taken port is [`Failure::PortInUse`].
pub fn bind(socket: &zmq::Socket, port: u16) -> Result<(), Failure> {
    let endpoint = crate::endpoint(port);
    match socket.bind(&endpoint) {
        Ok(()) => Ok(()),
        Err(zmq::Error::EADDRINUSE) => {
            Err(Failure::PortInUse(format!("{endpoint}: address in use")))
        }
        Err(e) => Err(Failure::Other(format!("bind {endpoint}: {e}"))),
    }
}

/// Counts received messages and bytes, and times the first and the last of
/// the `target` messages (W1 on the peer, W2 on the counterpart). Calls
/// `Instant::now()` twice per run only, never per message.
#[derive(Debug, Clone)]
pub struct RecvCount {
    target: u64,
    /// Whole messages received.
    pub received: u64,
    /// Bytes received (all frames).
    pub bytes: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl RecvCount {
    /// A counter that is done after `target` messages.
    pub fn new(target: u64) -> RecvCount {
        RecvCount {
            target,
            received: 0,
            bytes: 0,
            first: None,
            last: None,
        }
    }

    /// One frame of `len` bytes arrived (`more`: others of its message
    /// follow). True once the target is reached.
    #[inline]
    pub fn frame(&mut self, len: usize, more: bool) -> bool {
        self.bytes += len as u64;
        if !more {
            self.received += 1;
            if self.received == 1 {
                self.first = Some(Instant::now());
            }
            if self.received == self.target {
                self.last = Some(Instant::now());
            }
        }
        self.done()
    }

    /// Whether all `target` messages arrived.
    pub fn done(&self) -> bool {
        self.received >= self.target
    }

    /// `received`, `bytes`, `elapsed_s` (first to last message; to now when
    /// incomplete) and `msgs_per_s` = (received - 1) / elapsed.
    pub fn json(&self, workload: &str) -> Value {
        let elapsed = match (self.first, self.last) {
            (Some(first), Some(last)) => Some(last - first),
            (Some(first), None) => Some(first.elapsed()),
            _ => None,
        }
        .map(|d| d.as_secs_f64());
        let rate = elapsed
            .filter(|t| *t > 0.0 && self.received > 1)
            .map(|t| (self.received - 1) as f64 / t);
        Value::object()
            .with("workload", workload)
            .with("received", self.received)
            .with("bytes", self.bytes)
            .with("elapsed_s", elapsed)
            .with("msgs_per_s", rate)
    }
}

/// Runs the `uzmq-peer` command line (`default_impl` when `--impl` is not
/// given: `uzmq-peer` is uzmq, `raw-peer` is raw) and returns its exit status.
pub fn main(default_impl: Impl) -> ExitCode {
    let (line, code) = run_cli(default_impl, env::args().skip(1));
    println!("{line}");
    ExitCode::from(code)
}

/// The command line as a function: the JSON line and the exit status.
pub fn run_cli<I, S>(default_impl: Impl, words: I) -> (Value, u8)
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut args = match Args::parse(words) {
        Ok(args) => args,
        Err(e) => return usage(None, e),
    };
    let command = args.command.clone().unwrap_or_default();
    let parsed = parse_common(&mut args, default_impl, &command)
        .and_then(|(imp, handle)| parse_job(&command, &mut args).map(|job| (imp, handle, job)))
        .and_then(|job| args.finish().map(|()| job));
    let (imp, handle, job) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return usage(Some(&command), e),
    };
    let workload = command.as_str();
    let result = match (&job, imp, handle) {
        (Job::Info, _, _) => return (info(imp), 0),
        (Job::W1(p), Impl::Uzmq, Handle::Callback(kind)) => uzmq_side::w1(kind, p),
        (Job::W2(p), Impl::Uzmq, Handle::Callback(kind)) => uzmq_side::w2(kind, p),
        (Job::W3(p), Impl::Uzmq, Handle::Callback(kind)) => uzmq_side::w3(kind, p),
        (Job::W4(p), Impl::Uzmq, Handle::Callback(kind)) => uzmq_side::w4(kind, p),
        (Job::W1(p), Impl::Uzmq, Handle::Async) => async_side::w1(p),
        (Job::W2(p), Impl::Uzmq, Handle::Async) => async_side::w2(p),
        (Job::W3(p), Impl::Uzmq, Handle::Async) if p.idle_handles == 0 => async_side::w3(p),
        (Job::W4(p), Impl::Uzmq, Handle::Async) if p.idle_handles == 0 => async_side::w4(p),
        (Job::W6(p), Impl::Uzmq, Handle::Sender) => producers::uzmq(p),
        (Job::W3(p), Impl::Uzmq, Handle::Floor) if p.idle_handles == 0 => floor::w3(p),
        (Job::W1(p), Impl::Raw, _) => raw::w1(p),
        (Job::W2(p), Impl::Raw, _) => raw::w2(p),
        (Job::W3(p), Impl::Raw, _) => raw::w3(p),
        (Job::W4(p), Impl::Raw, _) => raw::w4(p),
        (Job::W6(p), Impl::Raw, _) => producers::raw(p),
        (Job::W7(p), Impl::Uzmq, Handle::Callback(kind)) => fan_in::uzmq(kind, p),
        (Job::W7(p), Impl::Raw, _) => fan_in::raw(p),
        (Job::W8Mem(k), Impl::Uzmq, Handle::Callback(kind)) => idle::memory(Some(kind), *k),
        (Job::W8Mem(k), Impl::Raw, _) => idle::memory(None, *k),
        (_, Impl::Uzmq, _) => {
            return usage(
                Some(&command),
                format!(
                    "{command} does not run with --handle {} (async: w1-w5 without idle handles; sender: w6 only; floor: w3 without idle handles only)",
                    handle.name()
                ),
            );
        }
    };
    let handle_name = match imp {
        Impl::Uzmq => Value::from(handle.name()),
        Impl::Raw => Value::NULL,
    };
    match result {
        Ok(outcome) => {
            let json = outcome
                .json
                .with("impl", imp.name())
                .with("handle", handle_name)
                .with("complete", outcome.complete);
            let json = match outcome.cpu_s {
                Some(cpu_s) => json.with("cpu_s", cpu_s),
                None => json,
            };
            if !outcome.complete {
                eprintln!("{}-peer: {workload}: incomplete (timeout)", imp.name());
            }
            (json, if outcome.complete { 0 } else { 1 })
        }
        Err(failure) => {
            eprintln!("{}-peer: {workload}: {failure}", imp.name());
            let port_in_use = matches!(failure, Failure::PortInUse(_));
            let json = Value::object()
                .with("workload", workload)
                .with("impl", imp.name())
                .with("handle", handle_name)
                .with("complete", false)
                .with("error", failure.to_string())
                .with("port_in_use", port_in_use);
            (json, if port_in_use { 3 } else { 1 })
        }
    }
}

enum Job {
    Info,
    W1(Flow),
    W2(Flow),
    W3(Echo),
    W4(Idle),
    W6(producers::Producers),
    W7(fan_in::FanIn),
    W8Mem(usize),
}

const USAGE: &str = "usage: uzmq-peer info | w1|w2 --port P --n N --size S [--hwm H] [--timeout-s T] | w3 --port P --n N [--timeout-s T] [--idle-handles K] | w4 --port P --idle-s I [--settle-s S] [--idle-handles K] | w7 --n N [--sockets K] [--senders S] [--size B] [--hwm H] [--timeout-s T] | w6 --port P --n N --size S [--producers 4] [--capacity C] [--hwm H] [--timeout-s T] | w8mem [--idle-handles K]; options --handle poll|stream|frames|async|sender|floor, --impl uzmq|raw";

/// Default `--hwm`: libzmq's own default.
pub const DEFAULT_HWM: i32 = 1000;

/// Default `--capacity` of W6: the `Sender`'s channel (uzmq) and the
/// `sync_channel` (raw) hold this many messages, libzmq's default HWM.
pub const DEFAULT_CAPACITY: usize = 1000;

/// Default `--settle-s` of W4: the loop runs this long before the measured
/// idle window opens.
pub const DEFAULT_SETTLE_S: f64 = 0.5;

/// Default `--timeout-s`.
pub const DEFAULT_TIMEOUT_S: f64 = 60.0;

fn usage(command: Option<&str>, error: String) -> (Value, u8) {
    eprintln!("{error}\n{USAGE}");
    let json = Value::object()
        .with("workload", command)
        .with("complete", false)
        .with("error", error);
    (json, 2)
}

fn parse_common(
    args: &mut Args,
    default_impl: Impl,
    command: &str,
) -> Result<(Impl, Handle), String> {
    let imp = match args.take_opt::<String>("impl")?.as_deref() {
        None => default_impl,
        Some("uzmq") => Impl::Uzmq,
        Some("raw") => Impl::Raw,
        Some(other) => return Err(format!("--impl {other}: expected uzmq or raw")),
    };
    let handle = match args.take_opt::<String>("handle")?.as_deref() {
        // W6 has one uzmq variant: the producers' `Sender`.
        None if command == "w6" => Handle::Sender,
        None | Some("stream") => Handle::Callback(HandleKind::Stream),
        Some("frames") => Handle::Callback(HandleKind::Frames),
        Some("poll") => Handle::Callback(HandleKind::Poll),
        Some("async") => Handle::Async,
        Some("sender") => Handle::Sender,
        Some("floor") => Handle::Floor,
        Some(other) => {
            return Err(format!(
                "--handle {other}: expected poll, stream, frames, async, sender or floor"
            ));
        }
    };
    Ok((imp, handle))
}

fn parse_job(command: &str, args: &mut Args) -> Result<Job, String> {
    let at_least_one = |n: u64| {
        if n == 0 {
            Err("--n must be at least 1".to_string())
        } else {
            Ok(n)
        }
    };
    Ok(match command {
        "info" => Job::Info,
        "w1" | "w2" => {
            let flow = Flow {
                port: args.take("port")?,
                n: at_least_one(args.take("n")?)?,
                size: args.take("size")?,
                hwm: args.take_or("hwm", DEFAULT_HWM)?,
                timeout: secs(args.take_or("timeout-s", DEFAULT_TIMEOUT_S)?),
            };
            if command == "w1" {
                Job::W1(flow)
            } else {
                Job::W2(flow)
            }
        }
        "w3" => Job::W3(Echo {
            port: args.take("port")?,
            n: at_least_one(args.take("n")?)?,
            timeout: secs(args.take_or("timeout-s", DEFAULT_TIMEOUT_S)?),
            idle_handles: args.take_or("idle-handles", 0)?,
        }),
        "w4" => Job::W4(Idle {
            port: args.take("port")?,
            idle: secs(args.take("idle-s")?),
            settle: secs(args.take_or("settle-s", DEFAULT_SETTLE_S)?),
            idle_handles: args.take_or("idle-handles", 0)?,
        }),
        "w7" => {
            // The driver passes a port to every peer; W7 needs none.
            let _: Option<u16> = args.take_opt("port")?;
            let senders: usize = args.take_or("senders", 2)?;
            Job::W7(fan_in::FanIn {
                n: at_least_one(args.take("n")?)?,
                size: args.take_or("size", 64)?,
                sockets: args.take_or::<usize>("sockets", 1000)?.max(1),
                senders: senders.max(1),
                hwm: args.take_or("hwm", DEFAULT_HWM)?,
                timeout: secs(args.take_or("timeout-s", DEFAULT_TIMEOUT_S)?),
            })
        }
        "w6" => Job::W6(producers::Producers {
            port: args.take("port")?,
            n: at_least_one(args.take("n")?)?,
            size: args.take("size")?,
            producers: args.take_or::<usize>("producers", 4)?.max(1),
            capacity: args.take_or::<usize>("capacity", DEFAULT_CAPACITY)?.max(1),
            hwm: args.take_or("hwm", DEFAULT_HWM)?,
            timeout: secs(args.take_or("timeout-s", DEFAULT_TIMEOUT_S)?),
        }),
        "w8mem" => {
            let _: Option<u16> = args.take_opt("port")?;
            Job::W8Mem(args.take_or("idle-handles", 10_000)?)
        }
        "" => return Err("no command".into()),
        other => return Err(format!("unknown command `{other}`")),
    })
}

fn info(imp: Impl) -> Value {
    match imp {
        Impl::Uzmq => Value::object()
            .with("name", "uzmq")
            .with("speed", "fast")
            .with(
                "desc",
                "uzmq: ZeroMQ sockets on a libuv loop, through the Zmq stream handle (start_read/write, default), the ZmqPoll handle (--handle poll), Zmq's recv()/send() futures in a task (--handle async), or a Sender fed by producer threads (w6, --handle sender)",
            ),
        Impl::Raw => Value::object()
            .with("name", "raw-libzmq")
            .with("speed", "fast")
            .with(
                "desc",
                "the baseline: the same workloads with plain blocking libzmq calls and no loop (--handle is ignored)",
            ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_and_usage_errors() {
        let (v, code) = run_cli(Impl::Uzmq, ["info"]);
        assert_eq!(code, 0);
        assert_eq!(v.str("name"), Some("uzmq"));
        assert_eq!(v.str("speed"), Some("fast"));
        let (v, _) = run_cli(Impl::Raw, ["info"]);
        assert_eq!(v.str("name"), Some("raw-libzmq"));
        assert_eq!(run_cli(Impl::Uzmq, ["w1", "--port", "1"]).1, 2);
        assert_eq!(run_cli(Impl::Uzmq, ["w9"]).1, 2);
        assert_eq!(
            run_cli(Impl::Uzmq, ["w3", "--port", "1", "--n", "1", "--x", "1"]).1,
            2
        );
        assert_eq!(
            run_cli(
                Impl::Uzmq,
                ["w4", "--port", "1", "--idle-s", "1", "--handle", "epoll"]
            )
            .1,
            2
        );
        // Combinations the peer does not implement are usage errors.
        let refused = [
            vec![
                "w6", "--port", "1", "--n", "1", "--size", "8", "--handle", "stream",
            ],
            vec![
                "w1", "--port", "1", "--n", "1", "--size", "8", "--handle", "sender",
            ],
            vec!["w7", "--n", "1", "--handle", "async"],
            vec![
                "w3",
                "--port",
                "1",
                "--n",
                "1",
                "--idle-handles",
                "2",
                "--handle",
                "async",
            ],
            // The floor: W3 only, without idle handles.
            vec![
                "w1", "--port", "1", "--n", "1", "--size", "8", "--handle", "floor",
            ],
            vec![
                "w3",
                "--port",
                "1",
                "--n",
                "1",
                "--idle-handles",
                "2",
                "--handle",
                "floor",
            ],
        ];
        for words in refused {
            let (v, code) = run_cli(Impl::Uzmq, words.clone());
            assert_eq!(code, 2, "{words:?}: {v}");
            let handle = words[words.len() - 1];
            assert!(
                v.str("error")
                    .is_some_and(|e| e.contains(&format!("--handle {handle}"))),
                "{v}"
            );
        }
    }

    #[test]
    fn floor_times_out_when_nobody_asks() {
        // Accepted for W3 (refused elsewhere: see the test above); nobody
        // asks, the deadline ends the run.
        let port = crate::driver::child::free_port().unwrap().to_string();
        let words = [
            "w3",
            "--port",
            &port,
            "--n",
            "1",
            "--timeout-s",
            "0.05",
            "--handle",
            "floor",
        ];
        let (v, code) = run_cli(Impl::Uzmq, words);
        assert_eq!(code, 1, "{v}");
        assert_eq!(v.str("handle"), Some("floor"), "{v}");
        assert_eq!(v.num("served"), Some(0.0), "{v}");
        assert_eq!(v.bool("timed_out"), Some(true), "{v}");
        assert_eq!(v.bool("complete"), Some(false), "{v}");
    }

    #[test]
    fn floor_echoes_every_request() {
        let port = crate::driver::child::free_port().unwrap();
        // A REQ asks three times, once with a two-frame request.
        let client = std::thread::spawn(move || -> Result<(), zmq::Error> {
            let ctx = zmq::Context::new();
            let req = ctx.socket(zmq::REQ)?;
            req.set_linger(0)?;
            req.set_rcvtimeo(10_000)?;
            req.connect(&crate::endpoint(port))?;
            for i in 0..3u8 {
                let request: Vec<Vec<u8>> = if i == 0 {
                    vec![b"two".to_vec(), b"frames".to_vec()]
                } else {
                    vec![vec![i; 64]]
                };
                req.send_multipart(&request, 0)?;
                assert_eq!(req.recv_multipart(0)?, request);
            }
            Ok(())
        });
        let port = port.to_string();
        let words = [
            "w3",
            "--port",
            &port,
            "--n",
            "3",
            "--timeout-s",
            "10",
            "--handle",
            "floor",
        ];
        let (v, code) = run_cli(Impl::Uzmq, words);
        client.join().unwrap().unwrap();
        assert_eq!(code, 0, "{v}");
        assert_eq!(v.str("workload"), Some("w3"), "{v}");
        assert_eq!(v.num("served"), Some(3.0), "{v}");
        assert_eq!(v.str("impl"), Some("uzmq"), "{v}");
        assert_eq!(v.str("handle"), Some("floor"), "{v}");
        assert!(v.num("cpu_s").is_some(), "{v}");
    }

    #[test]
    fn recv_count_times_first_to_last() {
        let mut c = RecvCount::new(3);
        assert!(!c.frame(10, true));
        assert!(!c.frame(10, false));
        assert!(!c.frame(10, false));
        assert!(c.frame(10, false));
        let v = c.json("w1");
        assert_eq!(v.num("received"), Some(3.0));
        assert_eq!(v.num("bytes"), Some(40.0));
        assert!(v.num("elapsed_s").is_some());
    }
}
