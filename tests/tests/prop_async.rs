//! Property tests of async/await on the mock backend.
//!
//! `recv()` futures, polled by hand with counting wakers (as any executor
//! would poll them) while the peer delivers, the loop runs, the socket's
//! fd is signalled spuriously and futures are dropped at random points
//! (also in the iteration their message arrived):
//! - no message is lost or duplicated, and they arrive in order: a
//!   message leaves the socket only for a future that completes with it;
//! - several pending `recv()` are served in the order they were first
//!   polled;
//! - no lost wake-up: when the loop is quiet, no future waits while a
//!   message waits in the socket, and every future that could go on was
//!   woken (readiness that changed between a future's check and its
//!   waker's registration, with no further edge, included).
//!
//! Tasks on the loop's executor (`spawn_local`, `block_on`), each awaiting
//! sleeps, receives and its own wakes in a random order:
//! - a task is never polled after it completed, and every task completes;
//! - `block_on` returns exactly when its future completes: in the very
//!   iteration, with its output.

mod prop_support;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use prop_support::config;
use proptest::prelude::*;
use tests::mock_harness::{Lp, Msg, Stream, frame_refs, message, mock_seed, new_loop, to_bytes};
use uzmq_core::mock::{MockConfig, MockKind, MockPeer, MockPoint, MockProbe, mock_pair};
use uzmq_core::{Multipart, Recv, RunMode, StreamHandle, TimerHandle};

/// A waker that counts its wakes.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A `recv()` future under test, with its waker and when it was first polled.
struct Pending {
    fut: Recv<uzmq_core::mock::MockReactor, uzmq_core::mock::MockSocket>,
    wakes: Arc<Counter>,
    waker: Waker,
    /// The order of its first poll (`None`: never polled).
    first_poll: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    /// A new `recv()` future (not polled yet).
    New,
    /// Poll future `i % len`.
    Poll(usize),
    /// Poll every future whose waker was called since its last poll.
    PollWoken,
    /// Drop future `i % len`.
    Drop(usize),
    /// Drop a future that was woken (told of a message) before it polls.
    DropWoken,
    /// The peer delivers the next message (1-3 frames).
    Deliver(u8),
    Run(RunMode),
    /// A spurious signal on the socket's fd.
    Spurious,
}

struct World {
    lp: Lp,
    h: Stream,
    peer: MockPeer,
    probe: MockProbe,
    futures: Vec<Pending>,
    next_poll_order: u64,
    delivered: Vec<Vec<Vec<u8>>>,
    received: Vec<Vec<Vec<u8>>>,
    violations: Vec<String>,
}

impl World {
    fn new(seed: u64, rcvhwm: usize, batch: usize) -> World {
        let lp = new_loop(seed);
        let config = MockConfig {
            rcvhwm,
            ..MockConfig::default()
        };
        let (socket, peer) = mock_pair(MockKind::Pull, config, seed);
        let probe = socket.probe();
        let h = StreamHandle::new(&lp, socket).expect("a mock handle");
        h.set_read_batch(batch);
        World {
            lp,
            h,
            peer,
            probe,
            futures: Vec::new(),
            next_poll_order: 0,
            delivered: Vec::new(),
            received: Vec::new(),
            violations: Vec::new(),
        }
    }

    fn new_future(&mut self) {
        let wakes = Arc::new(Counter::default());
        self.futures.push(Pending {
            fut: self.h.recv(),
            waker: Waker::from(wakes.clone()),
            wakes,
            first_poll: None,
        });
    }

    fn poll(&mut self, i: usize) {
        let order = match self.futures[i].first_poll {
            Some(order) => order,
            None => {
                let order = self.next_poll_order;
                self.next_poll_order += 1;
                self.futures[i].first_poll = Some(order);
                order
            }
        };
        let f = &mut self.futures[i];
        f.wakes.0.store(0, Ordering::SeqCst);
        let mut cx = Context::from_waker(&f.waker);
        match Pin::new(&mut f.fut).poll(&mut cx) {
            Poll::Pending => {}
            Poll::Ready(Ok(msg)) => {
                // First-poll order: no live future polled before this one
                // still waits.
                let earlier = self
                    .futures
                    .iter()
                    .enumerate()
                    .any(|(j, g)| j != i && g.first_poll.is_some_and(|o| o < order));
                if earlier {
                    self.violations.push(format!(
                        "a recv() first polled as #{order} got a message while an earlier one waits"
                    ));
                }
                self.received.push(to_bytes(&msg));
                self.futures.remove(i);
            }
            Poll::Ready(Err(e)) => {
                self.violations.push(format!("recv() failed: {e}"));
                self.futures.remove(i);
            }
        }
    }

    fn poll_woken(&mut self) {
        // In first-poll order, as wakes would be queued; repeat while
        // polls wake others.
        for _ in 0..64 {
            let Some(i) = (0..self.futures.len())
                .filter(|&i| self.futures[i].wakes.0.load(Ordering::SeqCst) > 0)
                .min_by_key(|&i| self.futures[i].first_poll)
            else {
                return;
            };
            self.poll(i);
        }
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::New => self.new_future(),
            Step::Poll(i) if !self.futures.is_empty() => {
                let i = i % self.futures.len();
                self.poll(i);
            }
            Step::PollWoken => self.poll_woken(),
            Step::Drop(i) if !self.futures.is_empty() => {
                let i = i % self.futures.len();
                self.futures.remove(i);
            }
            Step::Poll(_) | Step::Drop(_) => {}
            Step::DropWoken => {
                if let Some(i) = (0..self.futures.len())
                    .find(|&i| self.futures[i].wakes.0.load(Ordering::SeqCst) > 0)
                {
                    self.futures.remove(i);
                }
            }
            Step::Deliver(frames) => {
                let msg = message('m', self.delivered.len(), usize::from(frames));
                if self.peer.send(&frame_refs(&msg)) {
                    self.delivered.push(msg);
                }
            }
            Step::Run(mode) => {
                self.lp.run(mode).expect("run");
            }
            Step::Spurious => self.peer.spurious_signal(),
        }
        self.check_order();
    }

    /// Exactly once, in order: what was received is a prefix of what was
    /// delivered.
    fn check_order(&mut self) {
        if !self.delivered.starts_with(&self.received) {
            self.violations.push(format!(
                "received {} messages, not a prefix of the {} delivered (lost, duplicated or reordered)",
                self.received.len(),
                self.delivered.len()
            ));
        }
    }

    /// Runs the loop and polls woken futures until nothing moves; then no
    /// live future may wait with a message in the socket that nobody was
    /// told of.
    fn settle(&mut self) {
        for _ in 0..200 {
            self.poll_woken();
            self.lp.run(RunMode::NoWait).expect("run");
            let woken = self
                .futures
                .iter()
                .any(|f| f.wakes.0.load(Ordering::SeqCst) > 0);
            if !woken && self.lp.reactor().is_quiescent() {
                break;
            }
        }
        let waiting = self.futures.iter().any(|f| f.first_poll.is_some());
        if waiting && self.probe.pending_inbound() > 0 {
            self.violations.push(format!(
                "quiet with {} message(s) in the socket while a polled recv() waits unwoken",
                self.probe.pending_inbound()
            ));
        }
    }

    /// The end: one more future collects what is left; all delivered
    /// messages must have been received, once each, in order.
    fn finish(&mut self) {
        self.settle();
        self.futures.clear();
        for _ in 0..(self.delivered.len() + 2) * 4 {
            if self.received.len() == self.delivered.len() {
                break;
            }
            if self.futures.is_empty() {
                self.new_future();
                self.poll(0);
            }
            self.settle();
        }
        self.check_order();
        if self.received.len() != self.delivered.len() {
            self.violations.push(format!(
                "{} delivered, {} received at the end",
                self.delivered.len(),
                self.received.len()
            ));
        }
    }
}

fn recv_schedule() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => Just(Step::New),
        5 => any::<usize>().prop_map(Step::Poll),
        5 => Just(Step::PollWoken),
        2 => any::<usize>().prop_map(Step::Drop),
        2 => Just(Step::DropWoken),
        5 => (1u8..=3).prop_map(Step::Deliver),
        5 => prop_oneof![Just(RunMode::NoWait), Just(RunMode::Once)].prop_map(Step::Run),
        1 => Just(Step::Spurious),
    ];
    prop::collection::vec(step, 0..=80)
}

/// A task's script: what it awaits, in order.
#[derive(Debug, Clone, Copy)]
enum Await {
    /// `Timer::sleep` of this many ms.
    Sleep(u8),
    /// Wakes itself and returns `Pending` once (a yield).
    Yield,
    /// A shared gate, opened by another task's `Open` (or at the end).
    Gate,
    /// Opens the gate.
    Open,
}

/// Yields once: wakes itself and returns `Pending`.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A gate tasks wait on until someone opens it.
#[derive(Default)]
struct Gate {
    open: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

impl Gate {
    fn open(&self) {
        self.open.set(true);
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }
}

struct GateWait(Rc<Gate>);

impl Future for GateWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.open.get() {
            Poll::Ready(())
        } else {
            self.0.waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Polls its future with a waker that notes a wake until the next poll,
/// so the test can see the loop go to sleep with it woken.
struct NoteWakes<F> {
    inner: Pin<Box<F>>,
    woken: Arc<Noted>,
}

/// A wake noted, forwarded to the real waker.
struct Noted {
    flag: std::sync::atomic::AtomicBool,
    real: std::sync::Mutex<Option<Waker>>,
}

impl Wake for Noted {
    fn wake(self: Arc<Self>) {
        self.flag.store(true, Ordering::SeqCst);
        if let Some(w) = self.real.lock().expect("waker").as_ref() {
            w.wake_by_ref();
        }
    }
}

impl<F: Future> Future for NoteWakes<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.woken.flag.store(false, Ordering::SeqCst);
        *self.woken.real.lock().expect("waker") = Some(cx.waker().clone());
        let waker = Waker::from(self.woken.clone());
        let mut inner_cx = Context::from_waker(&waker);
        self.inner.as_mut().poll(&mut inner_cx)
    }
}

/// Records a poll after completion.
struct Checked<F> {
    inner: Pin<Box<F>>,
    done: bool,
    late_polls: Rc<Cell<usize>>,
}

impl<F: Future> Future for Checked<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if self.done {
            self.late_polls.set(self.late_polls.get() + 1);
            return Poll::Pending;
        }
        let out = self.inner.as_mut().poll(cx);
        if out.is_ready() {
            self.done = true;
        }
        out
    }
}

fn script(lp: &Lp, steps: Vec<Await>, gate: Rc<Gate>) -> impl Future<Output = ()> + 'static {
    let lp = lp.clone();
    async move {
        for step in steps {
            match step {
                Await::Sleep(ms) => {
                    TimerHandle::sleep(&lp, Duration::from_millis(u64::from(ms))).await;
                }
                Await::Yield => YieldNow(false).await,
                Await::Gate => GateWait(gate.clone()).await,
                Await::Open => gate.open(),
            }
        }
    }
}

fn run_tasks(seed: u64, tasks: Vec<Vec<Await>>, main: Vec<Await>) -> Result<(), String> {
    let lp = new_loop(seed);
    let gate = Rc::new(Gate::default());
    let late_polls = Rc::new(Cell::new(0));
    let completed = Rc::new(Cell::new(0usize));
    let count = tasks.len();
    for steps in tasks {
        let done = completed.clone();
        let fut = script(&lp, steps, gate.clone());
        lp.spawn_local(Checked {
            inner: Box::pin(async move {
                fut.await;
                done.set(done.get() + 1);
            }),
            done: false,
            late_polls: late_polls.clone(),
        })
        .map_err(|e| format!("spawn_local: {e}"))?;
    }
    // The main future: its script, then it opens the gate (so no task
    // waits for ever) and waits for every task.
    let completed_at = Rc::new(Cell::new(None));
    let main_fut = {
        let (lp2, gate, completed, completed_at) = (
            lp.clone(),
            gate.clone(),
            completed.clone(),
            completed_at.clone(),
        );
        let fut = script(&lp, main, gate.clone());
        async move {
            fut.await;
            gate.open();
            while completed.get() < count {
                TimerHandle::sleep(&lp2, Duration::from_millis(1)).await;
            }
            completed_at.set(Some(lp2.reactor().iterations()));
            42u32
        }
    };
    let noted = Arc::new(Noted {
        flag: std::sync::atomic::AtomicBool::new(false),
        real: std::sync::Mutex::new(None),
    });
    let slept_woken = Rc::new(Cell::new(false));
    {
        let (noted, slept_woken) = (noted.clone(), slept_woken.clone());
        lp.reactor().set_foreign(move |point| {
            if point == MockPoint::Sleep && noted.flag.load(Ordering::SeqCst) {
                slept_woken.set(true);
            }
        });
    }
    let main_fut = NoteWakes {
        inner: Box::pin(main_fut),
        woken: noted,
    };
    let out = lp
        .block_on(main_fut)
        .map_err(|e| format!("block_on: {e}"))?;
    if slept_woken.get() {
        return Err("the loop went to sleep while block_on's future was woken".into());
    }
    let returned_at = lp.reactor().iterations();
    if out != 42 {
        return Err(format!("block_on returned {out}"));
    }
    match completed_at.get() {
        Some(at) if at == returned_at => {}
        other => {
            return Err(format!(
                "block_on's future completed in iteration {other:?}, block_on returned after {returned_at}"
            ));
        }
    }
    if late_polls.get() > 0 {
        return Err(format!("{} polls of completed tasks", late_polls.get()));
    }
    if completed.get() != count {
        return Err(format!("{} of {count} tasks completed", completed.get()));
    }
    Ok(())
}

/// A task's script; `gates`: whether it may wait on the gate (the main
/// future must not: it opens the gate for everyone in the end).
fn awaits(gates: bool) -> impl Strategy<Value = Vec<Await>> {
    let gate = if gates { Await::Gate } else { Await::Yield };
    let step = prop_oneof![
        (0u8..=5).prop_map(Await::Sleep),
        Just(Await::Yield),
        Just(gate),
        Just(Await::Open),
    ];
    prop::collection::vec(step, 0..=6)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn recv_futures_lose_nothing_in_first_poll_order(
        seed in any::<u64>(),
        rcvhwm in 1usize..=5,
        batch in 1usize..=4,
        steps in recv_schedule(),
    ) {
        let mut world = World::new(mock_seed(seed), rcvhwm, batch);
        for step in steps {
            world.step(step);
        }
        world.finish();
        prop_assert!(world.violations.is_empty(), "{}", world.violations.join("\n"));
    }

    #[test]
    fn tasks_run_to_completion_and_block_on_returns_with_its_future(
        seed in any::<u64>(),
        tasks in prop::collection::vec(awaits(true), 0..=5),
        main in awaits(false),
    ) {
        let result = run_tasks(mock_seed(seed), tasks, main);
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}

/// A `recv()` told of a message and dropped before it polled: the next in
/// line is told instead (found by a mutation the schedules rarely reach).
#[test]
fn a_told_recv_dropped_before_it_polls_passes_the_message_on() {
    let mut world = World::new(7, 5, 4);
    world.new_future();
    world.poll(0);
    world.new_future();
    world.poll(1);
    world.step(Step::Deliver(1));
    for _ in 0..3 {
        world.step(Step::Run(RunMode::NoWait));
    }
    assert!(
        world.futures[0].wakes.0.load(Ordering::SeqCst) > 0,
        "the first in line is told"
    );
    assert_eq!(world.futures[1].wakes.0.load(Ordering::SeqCst), 0);
    world.futures.remove(0);
    for _ in 0..3 {
        world.step(Step::Run(RunMode::NoWait));
    }
    assert!(
        world.futures[0].wakes.0.load(Ordering::SeqCst) > 0,
        "the next in line is told once the first is gone"
    );
    world.poll_woken();
    assert_eq!(world.received.len(), 1);
    assert!(world.violations.is_empty(), "{:?}", world.violations);
}

/// `block_on`'s future woken while it was polled is polled again before
/// the loop may sleep (found by a mutation).
#[test]
fn block_on_polls_again_a_future_that_woke_itself() {
    run_tasks(
        3,
        Vec::new(),
        vec![Await::Sleep(1), Await::Yield, Await::Yield],
    )
    .expect("block_on");
}

/// What a `send()` schedule does.
#[derive(Debug, Clone, Copy)]
enum SendStep {
    /// `send()` of the next message (polled once at once, as a task would).
    Send,
    /// `write_multipart()` of the next message.
    Write,
    /// Poll every pending `send()` future.
    PollAll,
    /// Drop pending future `i % len` (its message stays queued).
    Drop(usize),
    /// The peer receives what it can.
    PeerRecv,
    Run(RunMode),
}

fn send_schedule() -> impl Strategy<Value = Vec<SendStep>> {
    let step = prop_oneof![
        6 => Just(SendStep::Send),
        2 => Just(SendStep::Write),
        4 => Just(SendStep::PollAll),
        1 => any::<usize>().prop_map(SendStep::Drop),
        4 => Just(SendStep::PeerRecv),
        4 => prop_oneof![Just(RunMode::NoWait), Just(RunMode::Once)].prop_map(SendStep::Run),
    ];
    prop::collection::vec(step, 0..=80)
}

/// `send()` futures and plain writes on a PUSH handle: every message goes
/// out exactly once, in call order (a `send()` sent in the call never
/// overtakes a queued write), and a `send()` resolves `Ok` only once
/// libzmq has its message.
fn run_sends(seed: u64, sndhwm: usize, batch: usize, steps: Vec<SendStep>) -> Result<(), String> {
    let lp = new_loop(seed);
    let config = MockConfig {
        sndhwm,
        ..MockConfig::default()
    };
    let (socket, peer) = mock_pair(MockKind::Push, config, seed);
    let probe = socket.probe();
    let h = StreamHandle::new(&lp, socket).map_err(|e| e.to_string())?;
    h.set_read_batch(batch);
    let waker = Waker::from(Arc::new(Counter::default()));
    let mut cx = Context::from_waker(&waker);
    let mut pending: Vec<(usize, uzmq_core::Send)> = Vec::new();
    let (mut next, mut received) = (0usize, Vec::new());
    let peer_recv = |received: &mut Vec<usize>| {
        while let Some(msg) = peer.recv() {
            let n: usize = String::from_utf8_lossy(&msg[0]).parse().expect("a number");
            received.push(n);
        }
    };
    for step in steps {
        match step {
            SendStep::Send => {
                let mut fut = h.send([next.to_string().into_bytes()]);
                match Pin::new(&mut fut).poll(&mut cx) {
                    Poll::Ready(Ok(())) => {
                        if probe.pending_outbound() + peer.pending_outbound() == 0
                            && !received.contains(&next)
                        {
                            return Err(format!("send {next} resolved before libzmq had it"));
                        }
                    }
                    Poll::Ready(Err(e)) => return Err(format!("send {next}: {e}")),
                    Poll::Pending => pending.push((next, fut)),
                }
                next += 1;
            }
            SendStep::Write => {
                h.write_multipart([next.to_string().into_bytes()])
                    .map_err(|e| format!("write {next}: {e}"))?;
                next += 1;
            }
            SendStep::PollAll => {
                let mut still = Vec::new();
                for (n, mut fut) in pending.drain(..) {
                    match Pin::new(&mut fut).poll(&mut cx) {
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(e)) => return Err(format!("send {n}: {e}")),
                        Poll::Pending => still.push((n, fut)),
                    }
                }
                pending = still;
            }
            SendStep::Drop(i) if !pending.is_empty() => {
                let i = i % pending.len();
                drop(pending.remove(i));
            }
            SendStep::Drop(_) => {}
            SendStep::PeerRecv => peer_recv(&mut received),
            SendStep::Run(mode) => {
                lp.run(mode).map_err(|e| e.to_string())?;
            }
        }
        if received.iter().enumerate().any(|(i, &n)| i != n) {
            return Err(format!("out of order or duplicated: {received:?}"));
        }
    }
    // The end: the peer reads everything.
    for _ in 0..(next + 4) * 4 {
        peer_recv(&mut received);
        lp.run(RunMode::NoWait).map_err(|e| e.to_string())?;
        if received.len() == next {
            break;
        }
    }
    peer_recv(&mut received);
    if received != (0..next).collect::<Vec<_>>() {
        return Err(format!("{next} sent, received {received:?}"));
    }
    for (n, mut fut) in pending {
        if Pin::new(&mut fut).poll(&mut cx) != Poll::Ready(Ok(())) {
            return Err(format!(
                "send {n} did not resolve Ok once its message went out"
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn send_futures_keep_call_order_and_resolve_once_taken(
        seed in any::<u64>(),
        sndhwm in 1usize..=4,
        batch in 1usize..=4,
        steps in send_schedule(),
    ) {
        let result = run_sends(mock_seed(seed), sndhwm, batch, steps);
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}

/// What a PAIR schedule does: `send()`s and `recv()`s on one handle.
#[derive(Debug, Clone, Copy)]
enum PairStep {
    Send,
    /// The peer delivers a message to the handle.
    Deliver,
    /// A `recv()` polled once, kept if pending.
    Recv,
    /// Poll the pending `recv()`s whose waker was called.
    PollWoken,
    PeerRecv,
    Run(RunMode),
}

fn pair_schedule() -> impl Strategy<Value = Vec<PairStep>> {
    let step = prop_oneof![
        4 => Just(PairStep::Send),
        4 => Just(PairStep::Deliver),
        3 => Just(PairStep::Recv),
        4 => Just(PairStep::PollWoken),
        3 => Just(PairStep::PeerRecv),
        4 => prop_oneof![Just(RunMode::NoWait), Just(RunMode::Once)].prop_map(PairStep::Run),
    ];
    prop::collection::vec(step, 0..=80)
}

/// Sends straight to libzmq on a handle that also waits to receive: a
/// direct send may consume the fd's edge a waiting `recv()` needs, so the
/// handle must look again; nothing delivered may sit unnoticed.
fn run_pair(seed: u64, hwm: usize, steps: Vec<PairStep>) -> Result<(), String> {
    let lp = new_loop(seed);
    let config = MockConfig {
        sndhwm: hwm,
        rcvhwm: hwm,
        ..MockConfig::default()
    };
    let (socket, peer) = mock_pair(MockKind::Pair, config, seed);
    let probe = socket.probe();
    let h = StreamHandle::new(&lp, socket).map_err(|e| e.to_string())?;
    let mut readers: Vec<(Arc<Counter>, Recv<_, _>)> = Vec::new();
    let (mut sent, mut delivered, mut got, mut peer_got) = (0usize, 0usize, 0usize, 0usize);
    // Received messages, whose buffers the next sends refill and send
    // back (the handle then receives into them again).
    let spent: RefCell<Vec<Multipart>> = RefCell::default();
    let poll_reader = |wakes: &Arc<Counter>, fut: &mut Recv<_, _>, got: &mut usize| {
        wakes.0.store(0, Ordering::SeqCst);
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        match Pin::new(fut).poll(&mut cx) {
            Poll::Ready(Ok(m)) => {
                if to_bytes(&m) != [b"d".to_vec()] {
                    return Err(format!(
                        "recv got {:?}, not the one frame delivered",
                        to_bytes(&m)
                    ));
                }
                spent.borrow_mut().push(m);
                *got += 1;
                Ok(true)
            }
            Poll::Ready(Err(e)) => Err(format!("recv: {e}")),
            Poll::Pending => Ok(false),
        }
    };
    let mut cx_waker = Context::from_waker(std::task::Waker::noop());
    for step in steps {
        match step {
            PairStep::Send => {
                let mut fut = match spent.borrow_mut().pop() {
                    Some(mut parts) => {
                        parts.clear();
                        parts.push(zmq::Message::from("s"));
                        h.send(parts)
                    }
                    None => h.send([b"s".to_vec()]),
                };
                if let Poll::Ready(Err(e)) = Pin::new(&mut fut).poll(&mut cx_waker) {
                    return Err(format!("send: {e}"));
                }
                sent += 1;
            }
            PairStep::Deliver => {
                if peer.send(&[b"d"]) {
                    delivered += 1;
                }
            }
            PairStep::Recv => {
                let wakes = Arc::new(Counter::default());
                let mut fut = h.recv();
                if !poll_reader(&wakes, &mut fut, &mut got)? {
                    readers.push((wakes, fut));
                }
            }
            PairStep::PollWoken => {
                let mut still = Vec::new();
                for (wakes, mut fut) in readers.drain(..) {
                    if wakes.0.load(Ordering::SeqCst) == 0
                        || !poll_reader(&wakes, &mut fut, &mut got)?
                    {
                        still.push((wakes, fut));
                    }
                }
                readers = still;
            }
            PairStep::PeerRecv => {
                while let Some(msg) = peer.recv() {
                    if msg != [b"s".to_vec()] {
                        return Err(format!("the peer got {msg:?}, not the one frame sent"));
                    }
                    peer_got += 1;
                }
            }
            PairStep::Run(mode) => {
                lp.run(mode).map_err(|e| e.to_string())?;
            }
        }
    }
    // Quiet: run, poll the woken readers, and let the peer read.
    for _ in 0..400 {
        let mut still = Vec::new();
        for (wakes, mut fut) in readers.drain(..) {
            if wakes.0.load(Ordering::SeqCst) == 0 || !poll_reader(&wakes, &mut fut, &mut got)? {
                still.push((wakes, fut));
            }
        }
        readers = still;
        while peer.recv().is_some() {
            peer_got += 1;
        }
        lp.run(RunMode::NoWait).map_err(|e| e.to_string())?;
    }
    if !readers.is_empty() && probe.pending_inbound() > 0 {
        return Err(format!(
            "quiet with {} message(s) in the socket while {} recv() wait",
            probe.pending_inbound(),
            readers.len()
        ));
    }
    if readers.is_empty() && got + probe.pending_inbound() != delivered {
        return Err(format!("{delivered} delivered, {got} received"));
    }
    if peer_got != sent {
        return Err(format!("{sent} sent, the peer got {peer_got}"));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn direct_sends_on_a_reading_handle_miss_nothing(
        seed in any::<u64>(),
        hwm in 1usize..=4,
        steps in pair_schedule(),
    ) {
        let result = run_pair(mock_seed(seed), hwm, steps);
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}

/// A message arrives for a waiting `recv()`, and sends made straight in
/// the call then process the socket's commands (consuming the fd's edge):
/// the handle looks again and tells the reader (found by a mutation).
#[test]
fn a_direct_send_that_consumes_the_edge_leaves_no_reader_waiting() {
    let lp = new_loop(11);
    let config = MockConfig {
        send_throttle: 1,
        ..MockConfig::default()
    };
    let (socket, peer) = mock_pair(MockKind::Pair, config, 11);
    let h = StreamHandle::new(&lp, socket).expect("handle");
    let wakes = Arc::new(Counter::default());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = h.recv();
    assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    assert!(peer.send(&[b"hello"]));
    // Every send processes commands (`send_throttle: 1`).
    drop(h.send([b"out".to_vec()]));
    for _ in 0..5 {
        lp.run(RunMode::NoWait).expect("run");
    }
    assert!(
        wakes.0.load(Ordering::SeqCst) > 0,
        "the waiting recv() was never told of the message"
    );
    assert!(matches!(
        Pin::new(&mut fut).poll(&mut cx),
        Poll::Ready(Ok(_))
    ));
}

/// A task that receives, replies and awaits the next message ends its
/// batch with a receive that found nothing: libzmq processed every command
/// for it, so the handle sleeps on its fd with no look of its own (no
/// `ZMQ_EVENTS` read, no extra loop iteration) after the reply.
#[test]
fn a_task_whose_last_receive_found_nothing_sleeps_without_another_look() {
    let lp = new_loop(12);
    let (socket, peer) = mock_pair(MockKind::Pair, MockConfig::default(), 12);
    let probe = socket.probe();
    let h = StreamHandle::new(&lp, socket).expect("handle");
    let echo = h.clone();
    lp.spawn_local(async move {
        while let Ok(msg) = echo.recv().await {
            if echo.send(msg).await.is_err() {
                break;
            }
        }
    })
    .expect("spawn_local");
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    assert!(
        !lp.reactor().turn_armed(),
        "the waiting task keeps the turn armed"
    );
    for round in 0..3 {
        let before = probe.counts();
        assert!(peer.send(&[b"ping"]));
        for _ in 0..5 {
            lp.run(RunMode::NoWait).expect("run");
        }
        let after = probe.counts();
        assert_eq!(
            after.sends - before.sends,
            1,
            "round {round}: the reply went out"
        );
        assert_eq!(
            after.recvs - before.recvs,
            2,
            "round {round}: the request, then nothing"
        );
        assert_eq!(
            after.events - before.events,
            1,
            "round {round}: ZMQ_EVENTS read again after the task's last receive found nothing"
        );
        assert!(
            !lp.reactor().turn_armed(),
            "round {round}: a look is still queued"
        );
        assert_eq!(
            peer.recv().as_deref().map(frame_refs),
            Some(vec![&b"ping"[..]])
        );
    }
}

/// A receive that finds nothing is a look for reading only: writes queued
/// behind the high-water mark still get the step's events read, since
/// that receive may have processed the peer's `activate_write` (consuming
/// the fd's edge) with no edge to come.
#[test]
fn a_receive_that_found_nothing_leaves_queued_writes_their_look() {
    let lp = new_loop(13);
    let config = MockConfig {
        sndhwm: 1,
        ..MockConfig::default()
    };
    let (socket, peer) = mock_pair(MockKind::Pair, config, 13);
    let probe = socket.probe();
    let h = StreamHandle::new(&lp, socket).expect("handle");
    let mut noop = Context::from_waker(std::task::Waker::noop());
    // The first goes straight to libzmq, the second waits in the queue.
    for body in [&b"1"[..], b"2"] {
        let mut sent = h.send([body.to_vec()]);
        assert!(!matches!(
            Pin::new(&mut sent).poll(&mut noop),
            Poll::Ready(Err(_))
        ));
    }
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    assert_eq!(h.write_queue_size(), 1, "the second write waits for room");
    // The peer reads: its `activate_write` signals the handle's fd...
    assert_eq!(
        peer.recv().as_deref().map(frame_refs),
        Some(vec![&b"1"[..]])
    );
    // ...and a receive that finds nothing processes it.
    let mut fut = h.recv();
    assert!(Pin::new(&mut fut).poll(&mut noop).is_pending());
    assert!(
        !probe.is_signalled(),
        "the receive did not consume the signal: the test shows nothing"
    );
    for _ in 0..5 {
        lp.run(RunMode::NoWait).expect("run");
    }
    assert_eq!(
        peer.recv().as_deref().map(frame_refs),
        Some(vec![&b"2"[..]]),
        "the queued write stayed behind a receive's look"
    );
}

/// A task's send that consumes the fd's edge (it processes the command
/// announcing a message) ends its batch with its look still wanted: the
/// handle looks next iteration and the task waiting to receive gets it.
#[test]
fn a_look_deferred_by_a_task_s_send_reaches_a_reader_in_another_task() {
    let lp = new_loop(14);
    let config = MockConfig {
        send_throttle: 1,
        ..MockConfig::default()
    };
    let (socket, peer) = mock_pair(MockKind::Pair, config, 14);
    let h = StreamHandle::new(&lp, socket).expect("handle");
    let got: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let (reader, log) = (h.clone(), got.clone());
    lp.spawn_local(async move {
        if let Ok(msg) = reader.recv().await {
            log.borrow_mut().push(msg[0].to_vec());
        }
    })
    .expect("spawn_local");
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    // The message arrives while a task runs, and the task's send (every
    // send processes commands: `send_throttle: 1`) takes its signal before
    // the loop's poll phase sees it.
    let (sender, peer) = (h.clone(), Rc::new(peer));
    let delivers = peer.clone();
    lp.spawn_local(async move {
        assert!(delivers.send(&[b"hello"]));
        let _ = sender.send([b"out".to_vec()]).await;
    })
    .expect("spawn_local");
    for _ in 0..5 {
        lp.run(RunMode::NoWait).expect("run");
    }
    assert_eq!(
        *got.borrow(),
        vec![b"hello".to_vec()],
        "the waiting task never got the message"
    );
}

/// More tasks ready than one batch: the executor polls a read batch's worth
/// per iteration and queues itself again for the rest, so every task runs
/// and other handles still get their turn in between.
#[test]
fn ready_tasks_beyond_one_batch_run_in_the_next_iterations() {
    let lp = new_loop(15);
    let ran = Rc::new(Cell::new(0usize));
    let tasks = 2 * uzmq_core::DEFAULT_READ_BATCH + 500;
    for _ in 0..tasks {
        let ran = ran.clone();
        lp.spawn_local(async move { ran.set(ran.get() + 1) })
            .expect("spawn_local");
    }
    lp.run(RunMode::NoWait).expect("run");
    assert_eq!(
        ran.get(),
        uzmq_core::DEFAULT_READ_BATCH,
        "one batch per iteration"
    );
    for _ in 0..5 {
        lp.run(RunMode::NoWait).expect("run");
    }
    assert_eq!(ran.get(), tasks, "tasks left behind after the first batch");
}

/// No loop iteration in `at` (each event's iteration) holds more than
/// `max` events.
fn at_most_per_iteration(at: &[u64], max: usize, what: &str) {
    for iteration in at {
        let here = at.iter().filter(|&i| i == iteration).count();
        assert!(
            here <= max,
            "{here} {what} in iteration {iteration}, more than {max}"
        );
    }
}

/// A task that always finds a message receives at most a read batch of
/// them per loop iteration (its direct receives share the batch), so the
/// loop goes round, and it still gets every one.
#[test]
fn a_task_that_always_finds_a_message_lets_the_loop_go_round() {
    const BATCH: usize = 3;
    const N: usize = 10;
    let lp = new_loop(14);
    let (socket, peer) = mock_pair(MockKind::Pull, MockConfig::default(), 14);
    let h = StreamHandle::new(&lp, socket).expect("handle");
    h.set_read_batch(BATCH);
    for i in 0..N {
        assert!(peer.send(&[&[i as u8]]), "delivered");
    }
    // The loop iteration of each receive.
    let at: Rc<RefCell<Vec<u64>>> = Rc::default();
    let (log, reader, lp2) = (at.clone(), h.clone(), lp.clone());
    lp.spawn_local(async move {
        while reader.recv().await.is_ok() {
            log.borrow_mut().push(lp2.reactor().iterations());
        }
    })
    .expect("spawn_local");
    for _ in 0..4 * N {
        lp.run(RunMode::NoWait).expect("run");
    }
    let at = at.borrow();
    assert_eq!(at.len(), N, "every message received");
    at_most_per_iteration(&at, BATCH, "receives (the batch)");
    h.close();
}

/// A task waiting in `recv()` wakes with `Err(Closed)` when its handle is
/// closed from elsewhere.
#[test]
fn a_pending_recv_ends_with_closed_when_its_handle_closes() {
    let lp = new_loop(15);
    let (socket, _peer) = mock_pair(MockKind::Pull, MockConfig::default(), 15);
    let h = StreamHandle::new(&lp, socket).expect("handle");
    let got: Rc<RefCell<Option<Result<Msg, uzmq_core::Error>>>> = Rc::default();
    let (out, reader) = (got.clone(), h.clone());
    lp.spawn_local(async move {
        let r = reader.recv().await.map(|m| to_bytes(&m));
        *out.borrow_mut() = Some(r);
    })
    .expect("spawn_local");
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    assert!(got.borrow().is_none(), "nothing to receive yet");
    h.close();
    for _ in 0..3 {
        lp.run(RunMode::NoWait).expect("run");
    }
    assert_eq!(
        *got.borrow(),
        Some(Err(uzmq_core::Error::Closed)),
        "the pending recv() was woken with the close"
    );
}

/// A task that always finds the socket willing sends at most a read batch
/// straight to libzmq per loop iteration (its direct sends share the
/// batch); the next one waits in the queue for the turn, so the loop goes
/// round, and every message goes out in order.
#[test]
fn a_task_that_always_may_send_lets_the_loop_go_round() {
    const BATCH: usize = 3;
    const N: u8 = 10;
    let lp = new_loop(16);
    let (socket, peer) = mock_pair(MockKind::Push, MockConfig::default(), 16);
    let h = StreamHandle::new(&lp, socket).expect("handle");
    h.set_read_batch(BATCH);
    // The loop iteration in which each send resolved.
    let at: Rc<RefCell<Vec<u64>>> = Rc::default();
    let (log, writer, lp2) = (at.clone(), h.clone(), lp.clone());
    lp.spawn_local(async move {
        for i in 0..N {
            writer.send([vec![i]]).await.expect("sent");
            log.borrow_mut().push(lp2.reactor().iterations());
        }
    })
    .expect("spawn_local");
    for _ in 0..4 * usize::from(N) {
        lp.run(RunMode::NoWait).expect("run");
    }
    let at = at.borrow();
    assert_eq!(at.len(), usize::from(N), "every send resolved");
    at_most_per_iteration(
        &at,
        BATCH + 1,
        "sends (the batch straight to libzmq, and one from the queue)",
    );
    for i in 0..N {
        assert_eq!(peer.recv(), Some(vec![vec![i]]), "message {i} in order");
    }
}
