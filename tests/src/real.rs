//! Helpers of the integration tests on the real backends (libuv + libzmq):
//! loop runs bounded by a watchdog timer, unique endpoints, peer threads
//! joined with a bounded wait, drop counters, context termination, and
//! process-level resource probes.
//!
//! Nothing here sleeps to synchronise: a loop run ends on a condition, on
//! the loop going idle, or on the watchdog, which turns a hang into a panic
//! that says what was awaited.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use uzmq::{Loop, RunMode, Timer, zmq};

/// How long a test waits for any one thing before it fails. Generous: the
/// suite runs in debug mode, tests of one binary run in parallel on few
/// cores, and the `lifecycle` test also runs under valgrind (see [`limit`]).
pub const LIMIT: Duration = Duration::from_secs(20);

/// [`LIMIT`], times 10 when running under valgrind.
pub fn limit() -> Duration {
    if under_valgrind() { LIMIT * 10 } else { LIMIT }
}

/// Whether this process runs under valgrind (its preload library is in
/// `LD_PRELOAD`).
pub fn under_valgrind() -> bool {
    std::env::var("LD_PRELOAD").is_ok_and(|p| p.contains("vgpreload"))
}

/// A one-shot loop timer that stops the loop and flags a timeout when
/// `limit` passes. Closed when dropped (also on unwind).
pub struct Watchdog {
    timer: Timer,
    fired: Rc<Cell<bool>>,
    limit: Duration,
    deadline: Instant,
    what: String,
}

impl Watchdog {
    /// Starts a watchdog on `lp`; `what` says what the test waits for.
    pub fn start(lp: &Loop, limit: Duration, what: &str) -> Watchdog {
        let timer = Timer::new(lp).expect("create the watchdog timer");
        let dog = Watchdog {
            timer,
            fired: Rc::new(Cell::new(false)),
            limit,
            deadline: Instant::now() + limit,
            what: what.to_owned(),
        };
        dog.arm();
        dog
    }

    /// (Re)starts the timer for what is left of the time limit.
    fn arm(&self) {
        let fired = self.fired.clone();
        let left = self.deadline.saturating_duration_since(Instant::now());
        self.timer
            .start(left, Duration::ZERO, move |t| {
                fired.set(true);
                // Through the handle, not a captured clone: no Rc cycle.
                if let Ok(lp) = t.event_loop() {
                    lp.stop();
                }
            })
            .expect("start the watchdog timer");
    }

    /// Stops the timer without closing it (so the loop can go idle).
    fn pause(&self) {
        self.timer.stop().expect("stop the watchdog timer");
    }

    /// Whether the time limit has passed.
    pub fn fired(&self) -> bool {
        self.fired.get()
    }

    /// Panics with "timed out after ... waiting for ..." once the limit passed.
    pub fn check(&self) {
        if self.fired.get() {
            panic!("timed out after {:?} waiting for {}", self.limit, self.what);
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.timer.close();
    }
}

/// Runs `lp` one iteration at a time (`RunMode::Once`) until `done()` is
/// true; panics with "timed out after `limit` waiting for `what`" if it
/// takes longer. `done` is checked before the first iteration too.
pub fn run_until(lp: &Loop, limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let dog = Watchdog::start(lp, limit, what);
    while !done() {
        lp.run(RunMode::Once).expect("Loop::run(Once)");
        if !done() {
            dog.check();
        }
    }
}

/// Runs `lp` until nothing is left active or closing on it (what
/// `RunMode::Default` waits for), the watchdog aside; panics after `limit`.
pub fn run_to_end(lp: &Loop, limit: Duration, what: &str) {
    let dog = Watchdog::start(lp, limit, what);
    loop {
        dog.pause();
        if !lp.alive() {
            return;
        }
        dog.arm();
        lp.run(RunMode::Once).expect("Loop::run(Once)");
        dog.check();
    }
}

/// Runs `lp` with `RunMode::Default` under a watchdog, for tests in which a
/// callback stops the loop; returns what `run` returned. Panics when the
/// watchdog had to stop it.
pub fn run_until_stopped(lp: &Loop, limit: Duration, what: &str) -> bool {
    let dog = Watchdog::start(lp, limit, what);
    let alive = lp.run(RunMode::Default).expect("Loop::run(Default)");
    dog.check();
    alive
}

/// Runs `lp` for about `period` (wall clock), for the few checks that
/// something does *not* happen; returns how many iterations ran. Its timer
/// is closed before it returns.
pub fn run_for(lp: &Loop, period: Duration) -> usize {
    let timer = Timer::new(lp).expect("create the period timer");
    let over = Rc::new(Cell::new(false));
    let flag = over.clone();
    timer
        .start(period, Duration::ZERO, move |_| flag.set(true))
        .expect("start the period timer");
    let mut iterations = 0;
    while !over.get() {
        lp.run(RunMode::Once).expect("Loop::run(Once)");
        iterations += 1;
    }
    // One more iteration completes the timer's close, so that the loop is
    // not kept alive by it.
    timer.close();
    lp.run(RunMode::NoWait).expect("Loop::run(NoWait)");
    iterations + 1
}

/// Runs `RunMode::NoWait` iterations until `lp` is no longer alive, at most
/// `max` of them (for closes that complete on the next iteration); returns
/// whether it is still alive.
pub fn settle(lp: &Loop, max: usize) -> bool {
    for _ in 0..max {
        if !lp.alive() {
            return false;
        }
        lp.run(RunMode::NoWait).expect("Loop::run(NoWait)");
    }
    lp.alive()
}

static ENDPOINTS: AtomicUsize = AtomicUsize::new(0);

/// A fresh `inproc://` endpoint, unique in the process.
pub fn inproc(tag: &str) -> String {
    let n = ENDPOINTS.fetch_add(1, Ordering::Relaxed);
    format!("inproc://{tag}-{}-{n}", std::process::id())
}

/// The transports the pattern tests run over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `inproc://`, unique names.
    Inproc,
    /// `tcp://127.0.0.1:*`, the port read back from the socket.
    Tcp,
}

impl Transport {
    /// Both transports.
    pub const ALL: [Transport; 2] = [Transport::Inproc, Transport::Tcp];

    /// Binds `socket` to a fresh endpoint of this transport; returns the
    /// endpoint to connect to. Set socket options (high-water marks) before:
    /// tcp connections accepted later take the options of bind time.
    pub fn bind(self, socket: &zmq::Socket, tag: &str) -> String {
        match self {
            Transport::Inproc => {
                let endpoint = inproc(tag);
                socket.bind(&endpoint).expect("bind inproc");
                endpoint
            }
            Transport::Tcp => bind_tcp(socket),
        }
    }
}

/// Binds `socket` to `tcp://127.0.0.1:*`; returns the endpoint it got.
pub fn bind_tcp(socket: &zmq::Socket) -> String {
    socket
        .bind("tcp://127.0.0.1:*")
        .expect("bind tcp://127.0.0.1:*");
    socket
        .get_last_endpoint()
        .expect("ZMQ_LAST_ENDPOINT")
        .expect("utf-8 endpoint")
}

/// A socket with `ZMQ_LINGER` 0, so that no test's context termination can
/// wait on undelivered messages. Tests that need delivery after close set
/// the linger themselves.
pub fn socket(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).expect("create a zmq socket");
    s.set_linger(0).expect("ZMQ_LINGER");
    s
}

/// A socket for a blocking peer thread: as [`socket`], and its blocking
/// send/recv give up (EAGAIN) after [`LIMIT`] instead of hanging.
pub fn blocking_socket(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = socket(ctx, kind);
    let ms = i32::try_from(LIMIT.as_millis()).expect("limit in ms");
    s.set_rcvtimeo(ms).expect("ZMQ_RCVTIMEO");
    s.set_sndtimeo(ms).expect("ZMQ_SNDTIMEO");
    s
}

/// A thread of the test, joined with a bounded wait.
pub struct Peer<T> {
    name: String,
    done: mpsc::Receiver<()>,
    handle: Option<JoinHandle<T>>,
}

/// Starts `f` in a thread named `name`.
pub fn spawn_peer<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Peer<T> {
    let (tx, done) = mpsc::channel::<()>();
    let handle = thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            // Dropped when `f` returns or unwinds: the receiver sees it.
            let _tx = tx;
            f()
        })
        .expect("spawn a peer thread");
    Peer {
        name: name.to_owned(),
        done,
        handle: Some(handle),
    }
}

impl<T> Peer<T> {
    /// Waits up to `limit` for the thread to end; returns its result or
    /// resumes its panic; panics with a timeout message if it did not end.
    pub fn join(mut self, limit: Duration) -> T {
        if !self.wait(limit) {
            panic!(
                "timed out after {limit:?} waiting for peer thread `{}` to finish",
                self.name
            );
        }
        let handle = self.handle.take().expect("joined once");
        match handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Waits up to `limit` for the thread to end; returns whether it did.
    pub fn wait(&self, limit: Duration) -> bool {
        match self.done.recv_timeout(limit) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
            Err(RecvTimeoutError::Timeout) => false,
        }
    }
}

/// Context clones whose `zmq_ctx_term` ran ([`terminate_in_thread`]),
/// parked for ever: zmq 0.9.2 calls `zmq_ctx_term` again when the last
/// clone of a context drops, which after `destroy` would touch freed memory.
static TERMINATED: Mutex<Vec<zmq::Context>> = Mutex::new(Vec::new());

/// Terminates `ctx` (`zmq_ctx_term`, through `Context::destroy`) in another
/// thread. The termination blocks until every socket of the context is
/// closed, so the thread ending says they all were.
pub fn terminate_in_thread(ctx: &zmq::Context) -> Peer<zmq::Result<()>> {
    let mut ctx = ctx.clone();
    spawn_peer("zmq_ctx_term", move || {
        let result = ctx.destroy();
        TERMINATED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ctx);
        result
    })
}

/// Counts live tokens: give a callback a [`Token`] to move into its
/// closure, and `live()` tells how many such closures are not dropped yet.
#[derive(Clone, Debug, Default)]
pub struct Drops(Rc<Cell<usize>>);

/// Decrements its [`Drops`] when dropped.
#[derive(Debug)]
pub struct Token(Rc<Cell<usize>>);

impl Drops {
    /// A new counter at 0.
    pub fn new() -> Drops {
        Drops::default()
    }

    /// A token counted until it is dropped.
    pub fn token(&self) -> Token {
        self.0.set(self.0.get() + 1);
        Token(self.0.clone())
    }

    /// Tokens not dropped yet.
    pub fn live(&self) -> usize {
        self.0.get()
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// A shared, growable record of what callbacks saw.
pub type Log<T> = Rc<RefCell<Vec<T>>>;

/// An empty [`Log`].
pub fn log<T>() -> Log<T> {
    Rc::new(RefCell::new(Vec::new()))
}

/// A sequence number as a message body (8 bytes, little endian).
pub fn seq(n: u64) -> Vec<u8> {
    n.to_le_bytes().to_vec()
}

/// The sequence number in a message body made by [`seq`].
pub fn seq_of(body: &[u8]) -> u64 {
    u64::from_le_bytes(body.try_into().expect("an 8-byte sequence number"))
}

/// The frames of a message as byte vectors.
pub fn frames(msg: &[zmq::Message]) -> Vec<Vec<u8>> {
    msg.iter().map(|f| f.to_vec()).collect()
}

/// Resident memory of this process in KiB (`VmRSS` of /proc/self/status).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// How many file descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

static SERIAL: Mutex<()> = Mutex::new(());

/// Serialises the tests that measure process-wide resources (fds, RSS):
/// hold the guard for the whole test.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
